package events_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"clientst0r/internal/jobs"
	"clientst0r/internal/store"
	"clientst0r/internal/testutil"
)

// receiver is a real HTTP server on 127.0.0.1 that records what it is sent and answers with the
// statuses it is told to, in order (the last one repeats).
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	got      []received
	statuses []int
	header   http.Header
}

type received struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{statuses: statuses, header: http.Header{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{req.Header.Clone(), b})
		status := 200
		if len(r.statuses) > 0 {
			status = r.statuses[min(len(r.got), len(r.statuses))-1]
		}
		for k, v := range r.header {
			w.Header()[k] = v
		}
		r.mu.Unlock()
		if status >= 300 && status < 400 {
			w.Header().Set("Location", "http://127.0.0.1:1/elsewhere")
		}
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"received": true, "status": %d}`, status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// wait polls until the receiver has n requests.
func (r *receiver) wait(t *testing.T, n int) []received {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got := r.requests(); len(got) >= n {
			return got
		}
	}
	t.Fatalf("receiver got %d requests, want %d", len(r.requests()), n)
	return nil
}

// verify checks a Standard Webhooks signature the way a receiver would, written from the
// specification (https://www.standardwebhooks.com/): HMAC-SHA256 over "msg_id.timestamp.payload"
// with the base64-decoded part of the secret after "whsec_", base64-encoded, in a space-separated
// list of "v1,<signature>" entries.
func verify(secret string, h http.Header, body []byte) bool {
	key, err := base64.StdEncoding.DecodeString(secret[len("whsec_"):])
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(h.Get("webhook-id") + "." + h.Get("webhook-timestamp") + "." + string(body)))
	expected := mac.Sum(nil)
	for _, sig := range strings.Split(h.Get("webhook-signature"), " ") {
		version, value, ok := strings.Cut(sig, ",")
		decoded, err := base64.StdEncoding.DecodeString(value)
		if ok && version == "v1" && err == nil && hmac.Equal(decoded, expected) {
			return true
		}
	}
	return false
}

type setup struct {
	e     *testutil.Env
	org   store.Organization
	owner string
}

func newSetup(t *testing.T, e *testutil.Env) *setup {
	s := &setup{e: e, org: e.Org("Acme Corp")}
	u := e.User("owner@acme.test", false)
	e.Member(s.org.ID, u.Email, "owner")
	s.owner = e.Key(u, store.NewKey{})
	return s
}

func (s *setup) webhook(t *testing.T, url string, events ...string) (id int64, secret string) {
	t.Helper()
	r := s.e.Do("POST", "/api/webhooks/", s.owner, map[string]any{"name": "receiver", "url": url, "events": events})
	if r.Status != 201 {
		t.Fatalf("create webhook: %d %s", r.Status, r.Body)
	}
	return int64(r.Map()["id"].(float64)), r.Map()["secret"].(string)
}

func (s *setup) delivery(t *testing.T, webhook int64) map[string]any {
	t.Helper()
	r := s.e.Do("GET", fmt.Sprintf("/api/webhooks/%d/deliveries/", webhook), s.owner, nil)
	res := r.Map()["results"].([]any)
	if len(res) == 0 {
		t.Fatalf("no deliveries: %s", r.Body)
	}
	return res[0].(map[string]any)
}

func TestAssetEventsAreSignedAndDelivered(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		s := newSetup(t, e)
		rcv := newReceiver(t)
		other := newReceiver(t)
		id, secret := s.setupHooks(t, rcv, other)
		e.StartJobs()

		r := e.Do("POST", "/api/assets/", s.owner, map[string]any{"name": "core-sw-01", "asset_type": "switch", "serial_number": "FOC123"})
		asset := r.Map()
		path := fmt.Sprintf("/api/assets/%d/", int64(asset["id"].(float64)))
		e.Do("PATCH", path, s.owner, map[string]any{"name": "core-sw-01"}) // changes nothing: no event
		e.Do("PATCH", path, s.owner, map[string]any{"status": "retired"})
		e.Do("DELETE", path, s.owner, nil)

		got := rcv.wait(t, 3)
		time.Sleep(200 * time.Millisecond)
		if got = rcv.requests(); len(got) != 3 {
			t.Fatalf("%d deliveries, want 3 (an update that changes nothing sends nothing)", len(got))
		}
		byEvent := map[string]map[string]any{}
		for _, g := range got {
			if !verify(secret, g.header, g.body) {
				t.Errorf("signature does not verify: %v", g.header)
			}
			var body map[string]any
			if err := json.Unmarshal(g.body, &body); err != nil {
				t.Fatal(err)
			}
			if g.header.Get("webhook-id") != body["id"] || !strings.HasPrefix(body["id"].(string), "evt_") {
				t.Errorf("webhook-id %q, body id %v", g.header.Get("webhook-id"), body["id"])
			}
			if ts, err := strconv.ParseInt(g.header.Get("webhook-timestamp"), 10, 64); err != nil || ts != e.Clock.Now().Unix() {
				t.Errorf("webhook-timestamp %q", g.header.Get("webhook-timestamp"))
			}
			if g.header.Get("Content-Type") != "application/json" || g.header.Get("User-Agent") != "ClientSt0r-Webhooks/test" {
				t.Errorf("headers %v", g.header)
			}
			if _, err := time.Parse(time.RFC3339, body["timestamp"].(string)); err != nil || !strings.HasSuffix(body["timestamp"].(string), "Z") {
				t.Errorf("timestamp %v", body["timestamp"])
			}
			if org := body["organization"].(map[string]any); org["id"] != float64(s.org.ID) || org["name"] != "Acme Corp" {
				t.Errorf("organization %v", org)
			}
			byEvent[body["event"].(string)] = body["data"].(map[string]any)
		}
		created, updated, deleted := byEvent["asset.created"], byEvent["asset.updated"], byEvent["asset.deleted"]
		if created["name"] != "core-sw-01" || created["serial_number"] != "FOC123" || created["organization_name"] != "Acme Corp" ||
			created["tags"] == nil || created["url"] != path[:len("/api/")]+"v1/"+path[len("/api/"):] {
			t.Errorf("asset.created data %v", created)
		}
		if updated["status"] != "retired" {
			t.Errorf("asset.updated data %v", updated)
		}
		if len(deleted) != 4 || deleted["name"] != "core-sw-01" || deleted["asset_type"] != "switch" || deleted["serial_number"] != "FOC123" {
			t.Errorf("asset.deleted data %v", deleted)
		}
		if n := len(other.requests()); n != 0 {
			t.Errorf("the receiver subscribed to monitor events only got %d deliveries", n)
		}
		// The receiver has answered; the worker records the attempt right after.
		d := waitStatus(t, s, id, "succeeded", 1)
		if d["response_status"] != 200.0 || d["delivered_at"] == nil ||
			!strings.Contains(d["response_body"].(string), "received") {
			t.Errorf("delivery log %v", d)
		}
	})
}

// setupHooks makes the receiver's webhook and a second one that subscribes to other events.
func (s *setup) setupHooks(t *testing.T, rcv, other *receiver) (int64, string) {
	id, secret := s.webhook(t, rcv.URL+"/hook", "asset.created", "asset.updated", "asset.deleted")
	s.webhook(t, other.URL, "monitor.down")
	return id, secret
}

func TestRetriesGrowThenSucceed(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		s := newSetup(t, e)
		rcv := newReceiver(t, 500, 503, 200)
		id, _ := s.webhook(t, rcv.URL, "asset.created")
		e.StartJobs()
		e.Do("POST", "/api/assets/", s.owner, map[string]any{"name": "flaky"})

		rcv.wait(t, 1)
		d := waitStatus(t, s, id, "retrying", 1)
		first := e.Clock.Now()
		wait1 := nextIn(t, d, first)
		if wait1 < 4500*time.Millisecond || wait1 > 5500*time.Millisecond {
			t.Fatalf("first retry in %v, want about 5 s", wait1)
		}
		e.Clock.Advance(wait1 - time.Second)
		time.Sleep(300 * time.Millisecond)
		if n := len(rcv.requests()); n != 1 {
			t.Fatalf("retried %d times before it was due", n-1)
		}
		e.Clock.Advance(time.Second)
		rcv.wait(t, 2)
		d = waitStatus(t, s, id, "retrying", 2)
		wait2 := nextIn(t, d, e.Clock.Now())
		if wait2 < 270*time.Second || wait2 > 330*time.Second {
			t.Fatalf("second retry in %v, want about 5 min", wait2)
		}
		e.Clock.Advance(wait2)
		got := rcv.wait(t, 3)
		d = waitStatus(t, s, id, "succeeded", 3)
		if d["response_status"] != 200.0 {
			t.Fatalf("final delivery %v", d)
		}
		for _, g := range got[1:] {
			if g.header.Get("webhook-id") != got[0].header.Get("webhook-id") {
				t.Fatal("a retry must carry the same webhook-id")
			}
		}
		var attempts int
		e.DB.R.QueryRow(`SELECT count(*) FROM webhook_attempts`).Scan(&attempts)
		if attempts != 3 {
			t.Fatalf("%d attempts logged", attempts)
		}
	})
}

func nextIn(t *testing.T, d map[string]any, now time.Time) time.Duration {
	t.Helper()
	next, err := time.Parse(time.RFC3339Nano, d["next_attempt_at"].(string))
	if err != nil {
		t.Fatalf("next_attempt_at %v", d["next_attempt_at"])
	}
	return next.Sub(now)
}

// waitStatus polls the delivery log until the webhook's latest delivery has the status and attempts.
func waitStatus(t *testing.T, s *setup, webhook int64, status string, attempts int) map[string]any {
	t.Helper()
	var d map[string]any
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		d = s.delivery(t, webhook)
		if d["status"] == status && d["attempts"] == float64(attempts) {
			return d
		}
	}
	t.Fatalf("delivery never reached %s after %d attempts: %v", status, attempts, d)
	return nil
}

func TestGoneDisablesAndRedirectsAreNotFollowed(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		s := newSetup(t, e)
		gone := newReceiver(t, 410)
		redirect := newReceiver(t, 302)
		goneID, _ := s.webhook(t, gone.URL, "asset.created")
		redirID, _ := s.webhook(t, redirect.URL, "asset.created")
		e.StartJobs()
		e.Do("POST", "/api/assets/", s.owner, map[string]any{"name": "one"})

		waitStatus(t, s, goneID, "failed", 1)
		w := e.Do("GET", fmt.Sprintf("/api/webhooks/%d/", goneID), s.owner, nil).Map()
		if w["is_active"] != false || !strings.Contains(w["disabled_reason"].(string), "410") {
			t.Fatalf("after 410: %v", w)
		}
		d := waitStatus(t, s, redirID, "retrying", 1)
		if d["response_status"] != 302.0 || !strings.Contains(d["error"].(string), "redirects are not followed") {
			t.Fatalf("redirect: %v", d)
		}
		// The disabled webhook gets nothing more.
		e.Do("POST", "/api/assets/", s.owner, map[string]any{"name": "two"})
		redirect.wait(t, 1)
		time.Sleep(300 * time.Millisecond)
		if n := len(gone.requests()); n != 1 {
			t.Fatalf("disabled webhook got %d deliveries", n)
		}
		// Re-enabling clears the reason.
		w = e.Do("PATCH", fmt.Sprintf("/api/webhooks/%d/", goneID), s.owner, map[string]any{"is_active": true}).Map()
		if w["is_active"] != true || w["disabled_reason"] != "" {
			t.Fatalf("re-enabled: %v", w)
		}
	})
}

func TestPrivateAddressesRefusedWithoutTheSetting(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		s := newSetup(t, e)
		rcv := newReceiver(t)
		port := rcv.URL[strings.LastIndexByte(rcv.URL, ':'):]
		byIP, _ := s.webhook(t, rcv.URL, "asset.created")
		byName, _ := s.webhook(t, "http://localhost"+port+"/", "asset.created") // resolves to loopback when connecting
		q, err := jobs.New(e.DB, e.Store, testutil.Logger(t), jobs.Options{Now: e.Clock.Now, Poll: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer q.Stop(context.Background())
		e.Do("POST", "/api/assets/", s.owner, map[string]any{"name": "one"})
		for _, id := range []int64{byIP, byName} {
			d := waitStatus(t, s, id, "retrying", 1)
			if d["response_status"] != nil || !strings.Contains(d["error"].(string), "private") {
				t.Errorf("webhook %d: %v", id, d)
			}
		}
		if n := len(rcv.requests()); n != 0 {
			t.Fatalf("the private receiver was reached %d times", n)
		}
	})
}

func TestRetryTestAndSecretRotation(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		s := newSetup(t, e)
		rcv := newReceiver(t)
		id, secret := s.webhook(t, rcv.URL, "monitor.down")
		e.StartJobs()

		// The test action sends webhook.test whatever the subscription.
		r := e.Do("POST", fmt.Sprintf("/api/webhooks/%d/test/", id), s.owner, nil)
		if r.Status != 201 || r.Map()["event"] != "webhook.test" || r.Map()["status"] != "pending" {
			t.Fatalf("test: %d %s", r.Status, r.Body)
		}
		deliveryID := int64(r.Map()["id"].(float64))
		first := rcv.wait(t, 1)[0]
		if !verify(secret, first.header, first.body) || !strings.Contains(string(first.body), `"event":"webhook.test"`) {
			t.Fatalf("test delivery: %s", first.body)
		}
		waitStatus(t, s, id, "succeeded", 1)
		// A manual retry sends it again with the same webhook-id.
		if r := e.Do("POST", fmt.Sprintf("/api/webhook-deliveries/%d/retry/", deliveryID), s.owner, nil); r.Status != 202 {
			t.Fatalf("retry: %d %s", r.Status, r.Body)
		}
		again := rcv.wait(t, 2)[1]
		if again.header.Get("webhook-id") != first.header.Get("webhook-id") || string(again.body) != string(first.body) {
			t.Fatal("retry changed the event")
		}
		waitStatus(t, s, id, "succeeded", 2)

		// Rotation: the new secret is shown once; for 24 hours both secrets sign.
		r = e.Do("POST", fmt.Sprintf("/api/webhooks/%d/rotate-secret/", id), s.owner, nil)
		newSecret, _ := r.Map()["secret"].(string)
		if r.Status != 200 || !strings.HasPrefix(newSecret, "whsec_") || newSecret == secret {
			t.Fatalf("rotate: %d %s", r.Status, r.Body)
		}
		if r := e.Do("GET", fmt.Sprintf("/api/webhooks/%d/", id), s.owner, nil); strings.Contains(string(r.Body), "whsec_") {
			t.Fatal("GET shows the secret")
		}
		e.Do("POST", fmt.Sprintf("/api/webhooks/%d/test/", id), s.owner, nil)
		during := rcv.wait(t, 3)[2]
		if !verify(secret, during.header, during.body) || !verify(newSecret, during.header, during.body) ||
			len(strings.Split(during.header.Get("webhook-signature"), " ")) != 2 {
			t.Fatalf("during the overlap both secrets must sign: %q", during.header.Get("webhook-signature"))
		}
		e.Clock.Advance(24*time.Hour + time.Second)
		e.Do("POST", fmt.Sprintf("/api/webhooks/%d/test/", id), s.owner, nil)
		after := rcv.wait(t, 4)[3]
		if verify(secret, after.header, after.body) || !verify(newSecret, after.header, after.body) {
			t.Fatal("after 24 h only the new secret signs")
		}
		// The secrets are encrypted at rest.
		var raw []byte
		e.DB.R.QueryRow(`SELECT secret FROM webhooks WHERE id = $1`, id).Scan(&raw)
		if strings.Contains(string(raw), strings.TrimPrefix(newSecret, "whsec_")) || len(raw) < 40 {
			t.Fatal("the secret is stored in the clear")
		}
	})
}

func TestFailingForFiveDaysDisables(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		s := newSetup(t, e)
		rcv := newReceiver(t, 500)
		id, _ := s.webhook(t, rcv.URL, "asset.created")
		e.StartJobs()
		e.Do("POST", "/api/assets/", s.owner, map[string]any{"name": "one"})
		waitStatus(t, s, id, "retrying", 1)
		e.Clock.Advance(4 * 24 * time.Hour)
		e.Do("POST", "/api/assets/", s.owner, map[string]any{"name": "two"})
		rcv.wait(t, 3) // the first delivery's due retry and the new delivery
		if w := e.Do("GET", fmt.Sprintf("/api/webhooks/%d/", id), s.owner, nil).Map(); w["is_active"] != true {
			t.Fatalf("disabled after 4 days: %v", w)
		}
		e.Clock.Advance(24 * time.Hour)
		e.Do("POST", "/api/assets/", s.owner, map[string]any{"name": "three"})
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if w := e.Do("GET", fmt.Sprintf("/api/webhooks/%d/", id), s.owner, nil).Map(); w["is_active"] == false {
				if !strings.Contains(w["disabled_reason"].(string), "5 days") {
					t.Fatalf("reason %q", w["disabled_reason"])
				}
				return
			}
		}
		t.Fatal("not disabled after 5 days of failures")
	})
}

// Events committed while no worker runs (the process died after the commit) are delivered once a
// worker starts again; an event recorded in a transaction that rolls back is never sent.
func TestCommittedEventsSurviveARestart(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		s := newSetup(t, e)
		rcv := newReceiver(t)
		s.webhook(t, rcv.URL, "asset.created", "vault.breach")
		for i := range 5 {
			e.Do("POST", "/api/assets/", s.owner, map[string]any{"name": fmt.Sprintf("made while down %d", i)})
		}
		err := e.DB.Tx(context.Background(), func(tx *sql.Tx) error {
			if err := e.Store.RecordEvent(context.Background(), tx, store.EventOrg{ID: s.org.ID, Name: s.org.Name}, store.EventVaultBreach,
				map[string]any{"password_id": 1}); err != nil {
				return err
			}
			return fmt.Errorf("the change failed after its event was recorded")
		})
		if err == nil {
			t.Fatal("the transaction should have failed")
		}
		time.Sleep(300 * time.Millisecond)
		if n := len(rcv.requests()); n != 0 {
			t.Fatalf("%d deliveries without a worker", n)
		}
		e.StartJobs() // the restart
		// Five at once exceed one receiver's concurrency: the extra ones are snoozed a moment, so
		// the test clock has to move for them.
		for deadline := time.Now().Add(20 * time.Second); len(rcv.requests()) < 5 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			e.Clock.Advance(100 * time.Millisecond)
		}
		time.Sleep(500 * time.Millisecond)
		got := rcv.requests()
		names := map[string]bool{}
		for _, g := range got {
			if strings.Contains(string(g.body), "vault.breach") {
				t.Fatal("an event of a rolled-back change was delivered")
			}
			var body struct {
				Data struct{ Name string } `json:"data"`
			}
			json.Unmarshal(g.body, &body)
			names[body.Data.Name] = true
		}
		if len(got) != 5 || len(names) != 5 {
			t.Fatalf("after the restart %d deliveries of %d events", len(got), len(names))
		}
	})
}

func TestWebhookPermissionsAndTenancy(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		s := newSetup(t, e)
		id, _ := s.webhook(t, "https://hooks.example.com/x", "asset.created")
		ed := e.User("ed@acme.test", false)
		e.Member(s.org.ID, ed.Email, "editor")
		edKey := e.Key(ed, store.NewKey{})
		outsider := e.User("out@other.test", false)
		e.Member(e.Org("Other").ID, outsider.Email, "owner")
		outKey := e.Key(outsider, store.NewKey{})
		if r := e.Do("GET", fmt.Sprintf("/api/webhooks/%d/", id), edKey, nil); r.Status != 200 {
			t.Fatalf("editor reads: %d", r.Status)
		}
		for _, w := range []struct {
			method, path string
			body         any
		}{
			{"POST", "/api/webhooks/", map[string]any{"name": "x", "url": "https://x.example", "events": []string{"asset.created"}}},
			{"PATCH", fmt.Sprintf("/api/webhooks/%d/", id), map[string]any{"name": "y"}},
			{"DELETE", fmt.Sprintf("/api/webhooks/%d/", id), nil},
			{"POST", fmt.Sprintf("/api/webhooks/%d/rotate-secret/", id), nil},
			{"POST", fmt.Sprintf("/api/webhooks/%d/test/", id), nil},
		} {
			if r := e.Do(w.method, w.path, edKey, w.body); r.Status != 403 {
				t.Errorf("editor %s %s: %d %s", w.method, w.path, r.Status, r.Body)
			}
			if w.path != "/api/webhooks/" {
				if r := e.Do(w.method, w.path, outKey, w.body); r.Status != 404 {
					t.Errorf("outsider %s %s: %d", w.method, w.path, r.Status)
				}
			}
		}
		if r := e.Do("GET", fmt.Sprintf("/api/webhooks/%d/deliveries/", id), outKey, nil); r.Status != 404 {
			t.Errorf("outsider reads the delivery log: %d", r.Status)
		}
		bad := []map[string]any{
			{"name": "x", "url": "ftp://x.example", "events": []string{"asset.created"}},
			{"name": "x", "url": "https://x.example", "events": []string{}},
			{"name": "x", "url": "https://x.example", "events": []string{"asset.exploded"}},
			{"name": "x", "url": "https://user:pw@x.example", "events": []string{"asset.created"}},
		}
		for _, b := range bad {
			if r := e.Do("POST", "/api/webhooks/", s.owner, b); r.Status != 400 {
				t.Errorf("%v: %d %s", b, r.Status, r.Body)
			}
		}
	})
}

// A receiver that hangs holds at most its own few workers: another webhook's deliveries go on.
func TestSlowReceiverDoesNotStarveOthers(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		s := newSetup(t, e)
		release := make(chan struct{})
		var inFlight, most atomic.Int64
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			<-release
		}))
		defer slow.Close()
		defer close(release) // before the queue stops (a cleanup), so the hung deliveries end
		fast := newReceiver(t)
		s.webhook(t, slow.URL, "asset.created")
		s.webhook(t, fast.URL, "asset.created")
		e.StartJobs()

		// More events than the queue has workers (32): without a per-webhook limit the hung
		// deliveries would take every worker.
		const events = 40
		for i := range events {
			if r := e.Do("POST", "/api/assets/", s.owner, map[string]any{"name": fmt.Sprintf("pc-%02d", i), "asset_type": "workstation"}); r.Status != 201 {
				t.Fatalf("create: %d %s", r.Status, r.Body)
			}
		}
		// A delivery that finds its webhook busy is put back for 250 ms of the queue's (fake) clock.
		for deadline := time.Now().Add(20 * time.Second); len(fast.requests()) < events; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the other receiver got %d of %d deliveries while one hung", len(fast.requests()), events)
			}
			e.Clock.Advance(100 * time.Millisecond)
		}
		if n := most.Load(); n < 1 || n > 4 {
			t.Fatalf("the hung receiver had %d deliveries in flight at once, want 1 to 4 (the per-webhook limit)", n)
		}
	})
}
