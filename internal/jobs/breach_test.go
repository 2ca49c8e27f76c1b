package jobs_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"clientst0r/internal/jobs"
	"clientst0r/internal/store"
	"clientst0r/internal/testutil"
	"clientst0r/internal/vault"
)

// fakeHIBP speaks the range API: "SUFFIX:COUNT" lines for a 5-character prefix, padded with
// count-0 lines when asked, as api.pwnedpasswords.com does.
type fakeHIBP struct {
	*httptest.Server
	mu       sync.Mutex
	breached map[string]int // upper-case SHA-1 → count
	requests map[string]int // prefix → requests
	padded   int
	fail     bool
}

func newFakeHIBP(t *testing.T, breached ...string) *fakeHIBP {
	f := &fakeHIBP{breached: map[string]int{}, requests: map[string]int{}}
	for i, pw := range breached {
		sum := sha1.Sum([]byte(pw))
		f.breached[strings.ToUpper(hex.EncodeToString(sum[:]))] = 1000 * (i + 1)
	}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		prefix := strings.TrimPrefix(r.URL.Path, "/range/")
		f.mu.Lock()
		f.requests[prefix]++
		fail := f.fail
		if r.Header.Get("Add-Padding") == "true" {
			f.padded++
		}
		f.mu.Unlock()
		if fail || len(prefix) != 5 {
			http.Error(w, "service unavailable", http.StatusServiceUnavailable)
			return
		}
		for h, n := range f.breached {
			if strings.HasPrefix(h, prefix) {
				fmt.Fprintf(w, "%s:%d\r\n", h[5:], n)
			}
		}
		for i := range 50 { // padding: random suffixes with count 0, one of them our own suffix
			fmt.Fprintf(w, "%035X:0\r\n", i)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeHIBP) total() (requests, distinct int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range f.requests {
		requests += n
	}
	return requests, len(f.requests)
}

func TestBreachChecksAfterEveryPasswordChange(t *testing.T) {
	hibp := newFakeHIBP(t, "password123", "letmein!")
	testutil.EachEnvWith(t, testutil.EnvOptions{HIBPURL: hibp.URL}, func(t *testing.T, e *testutil.Env) {
		org := e.Org("Acme")
		u := e.User("owner@acme.test", false)
		e.Member(org.ID, u.Email, "owner")
		key := e.Key(u, store.NewKey{})
		var mu sync.Mutex
		var bodies []string
		rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			bodies = append(bodies, string(b))
			mu.Unlock()
		}))
		defer rcv.Close()
		e.Do("POST", "/api/webhooks/", key, map[string]any{"name": "alerts", "url": rcv.URL, "events": []string{"vault.breach"}})
		e.StartJobs()

		status := func(id int64, want string) map[string]any {
			t.Helper()
			var m map[string]any
			for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if m = e.Do("GET", fmt.Sprintf("/api/passwords/%d/", id), key, nil).Map(); m["breach_status"] == want {
					return m
				}
			}
			t.Fatalf("entry %d never became %s: %v", id, want, m)
			return nil
		}
		clean := e.Do("POST", "/api/passwords/", key, map[string]any{"title": "strong", "username": "svc", "password": "k9#Vq!2pL0x-unbreached"})
		bad := e.Do("POST", "/api/passwords/", key, map[string]any{"title": "weak", "username": "bob", "url": "https://crm.acme.test", "password": "password123"})
		cleanID, badID := int64(clean.Map()["id"].(float64)), int64(bad.Map()["id"].(float64))
		status(cleanID, "clean")
		m := status(badID, "breached")
		if m["breach_count"] != 1000.0 || m["breach_checked_at"] == nil {
			t.Fatalf("breached entry: %v", m)
		}
		waitBodies := func(n int) []string {
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				mu.Lock()
				got := append([]string(nil), bodies...)
				mu.Unlock()
				if len(got) >= n {
					return got
				}
			}
			t.Fatalf("fewer than %d vault.breach deliveries", n)
			return nil
		}
		ev := waitBodies(1)[0]
		for _, want := range []string{`"event":"vault.breach"`, fmt.Sprintf(`"password_id":%d`, badID), `"title":"weak"`, `"username":"bob"`,
			`"url":"https://crm.acme.test"`, `"breach_count":1000`} {
			if !strings.Contains(ev, want) {
				t.Errorf("event lacks %s: %s", want, ev)
			}
		}
		if strings.Contains(ev, "password123") {
			t.Fatal("the event carries the password")
		}

		// The scheduled scan re-checks everything: no second event for the same value.
		scanner := &jobs.BreachScanner{Store: e.Store, Client: &vault.RangeClient{Base: hibp.URL, Client: http.DefaultClient}, Parallel: 4}
		if _, err := scanner.Scan(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		mu.Lock()
		n := len(bodies)
		mu.Unlock()
		if n != 1 {
			t.Fatalf("%d vault.breach events for one password value", n)
		}
		// Another breached value: a new event.
		e.Do("PATCH", fmt.Sprintf("/api/passwords/%d/", badID), key, map[string]any{"password": "letmein!"})
		status(badID, "breached")
		if got := waitBodies(2); !strings.Contains(got[1], `"breach_count":2000`) {
			t.Fatalf("second event: %s", got[1])
		}
		// The service failing gives "error", never "clean".
		hibp.mu.Lock()
		hibp.fail = true
		hibp.mu.Unlock()
		defer func() { hibp.mu.Lock(); hibp.fail = false; hibp.mu.Unlock() }()
		e.Do("PATCH", fmt.Sprintf("/api/passwords/%d/", cleanID), key, map[string]any{"password": "another-unbreached-one"})
		status(cleanID, "error")
		hibp.mu.Lock()
		padded := hibp.padded
		hibp.mu.Unlock()
		if padded == 0 {
			t.Fatal("requests did not ask for padding")
		}
	})
}

// A scan asks once per distinct prefix, however many entries share it.
func TestBreachScanOneRequestPerPrefix(t *testing.T) {
	hibp := newFakeHIBP(t, "summer2024")
	e := testutil.NewEnv(t, testutil.Dialects()[0])
	org := e.Org("Acme")
	u := e.User("owner@acme.test", false)
	e.Member(org.ID, u.Email, "owner")
	key := e.Key(u, store.NewKey{})
	prefixes := map[string]bool{}
	for i := range 60 {
		pw := fmt.Sprintf("shared-%d", i%15) // 15 distinct values over 60 entries
		if i%20 == 0 {
			pw = "summer2024"
		}
		prefixes[vault.SHA1(pw)[:5]] = true
		if r := e.Do("POST", "/api/passwords/", key, map[string]any{"title": fmt.Sprint(i), "password": pw}); r.Status != 201 {
			t.Fatal(r.Body)
		}
	}
	scanner := &jobs.BreachScanner{Store: e.Store, Client: &vault.RangeClient{Base: hibp.URL, Client: http.DefaultClient}, Parallel: 4, Chunk: 1000}
	st, err := scanner.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	requests, distinct := hibp.total()
	if st.Entries != 60 || st.Requests != len(prefixes) || requests != len(prefixes) || distinct != len(prefixes) || st.Breached != 3 {
		t.Fatalf("scan %+v; server saw %d requests for %d prefixes; want %d", st, requests, distinct, len(prefixes))
	}
}
