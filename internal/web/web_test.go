package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"clientst0r/internal/auth"
	"clientst0r/internal/store"
	"clientst0r/internal/testutil"
)

type browser struct {
	t    *testing.T
	e    *testutil.Env
	c    *http.Client
	last string
}

func newBrowser(t *testing.T, e *testutil.Env) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, e: e, c: &http.Client{Jar: jar}}
}

func (b *browser) do(method, path string, form url.Values, headers ...string) (int, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.e.Server.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	b.last = res.Request.URL.Path
	if res.StatusCode >= 500 {
		b.t.Errorf("%s %s: %d %s", method, path, res.StatusCode, out)
	}
	return res.StatusCode, string(out)
}

func (b *browser) login(email, password string) (int, string) {
	return b.do("POST", "/login", url.Values{"email": {email}, "password": {password}, "next": {"/profile/keys"}})
}

func TestLoginSessionAndKeysPage(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		org := e.Org("Acme Corp")
		u := e.User("tech@example.com", false)
		e.Member(org.ID, u.Email, "editor")
		b := newBrowser(t, e)

		// Signed out: pages send you to the login page, the API answers 401.
		if _, _ = b.do("GET", "/profile/keys", nil); b.last != "/login" {
			t.Fatalf("signed-out page landed on %s", b.last)
		}
		if s, _ := b.do("GET", "/api/organizations/", nil); s != 401 {
			t.Fatalf("API without session: %d", s)
		}
		if s, body := b.login(u.Email, "wrong password!"); s != 401 || !strings.Contains(body, "Invalid email or password.") {
			t.Fatalf("wrong password: %d", s)
		}
		s, body := b.login("TECH@example.com", testutil.Password)
		if s != 200 || b.last != "/profile/keys" || !strings.Contains(body, "tech@example.com") {
			t.Fatalf("login: %d at %s", s, b.last)
		}
		// The session authenticates the API, with the installation's default rate limit.
		req, _ := http.NewRequest("GET", e.Server.URL+"/api/organizations/", nil)
		res, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("RateLimit-Limit") != "600" {
			t.Fatalf("API with session: %d limit %q", res.StatusCode, res.Header.Get("RateLimit-Limit"))
		}
		// A cross-site form post with the session cookie is refused.
		if s, _ := b.do("POST", "/profile/keys", url.Values{"name": {"evil"}}, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"); s != 403 {
			t.Fatalf("cross-origin post: %d", s)
		}
		if s, _ := b.do("POST", "/api/keys/", nil, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"); s != 403 {
			t.Fatalf("cross-origin API write: %d", s)
		}

		// Create a key: shown once, with the organization and options chosen.
		s, body = b.do("POST", "/profile/keys", url.Values{"name": {"inventory export"}, "organizations": {itoa(org.ID)},
			"role": {"readonly"}, "rate_limit": {"120"}, "expires": {"2027-06-30"}})
		key := regexp.MustCompile(`value="(itdocs_live_[0-9A-Za-z]+)"`).FindStringSubmatch(body)
		if s != 201 || key == nil || !strings.Contains(body, "data-copy") {
			t.Fatalf("create key: %d\n%s", s, body)
		}
		if !strings.Contains(body, "Acme Corp") || !strings.Contains(body, "120/min") || !strings.Contains(body, "2027-07-01 00:00:00 UTC") {
			t.Fatalf("key row does not show its settings:\n%s", body)
		}
		if _, again := b.do("GET", "/profile/keys", nil); strings.Contains(again, key[1]) {
			t.Fatal("the key is shown a second time")
		}
		if r := e.Do("GET", "/api/organizations/", key[1], nil); r.Status != 200 || r.Header.Get("RateLimit-Limit") != "120" {
			t.Fatalf("new key: %d", r.Status)
		}
		// A key above the user's access is refused with a reason, and the form keeps its values.
		s, body = b.do("POST", "/profile/keys", url.Values{"name": {"too much"}, "role": {"owner"}})
		if s != 400 || !strings.Contains(body, "grants more than you hold") || !strings.Contains(body, `value="too much"`) {
			t.Fatalf("key above access: %d", s)
		}
		// Revoke it from the page.
		id := regexp.MustCompile(`/profile/keys/(\d+)/revoke`).FindStringSubmatch(body)
		if s, _ := b.do("POST", "/profile/keys/"+id[1]+"/revoke", url.Values{}); s != 200 || b.last != "/profile/keys" {
			t.Fatalf("revoke: %d %s", s, b.last)
		}
		if r := e.Do("GET", "/api/organizations/", key[1], nil); r.Status != 401 {
			t.Fatalf("revoked key: %d", r.Status)
		}
		// Sign out ends the session on the server.
		b.do("POST", "/logout", url.Values{})
		if s, _ := b.do("GET", "/api/organizations/", nil); s != 401 {
			t.Fatalf("after logout: %d", s)
		}
		var ok, failed int
		e.DB.R.QueryRow(`SELECT count(*) FROM audit_log WHERE action = 'login' AND actor_id = $1`, u.ID).Scan(&ok)
		e.DB.R.QueryRow(`SELECT count(*) FROM audit_log WHERE action = 'login_failed' AND actor_email = $1`, u.Email).Scan(&failed)
		if ok != 1 || failed != 1 {
			t.Fatalf("audit: %d logins, %d failures", ok, failed)
		}
	})
}

func TestLoginThrottling(t *testing.T) {
	e := testutil.NewEnv(t, testutil.Dialects()[0])
	e.User("victim@example.com", false)
	b := newBrowser(t, e)
	for range auth.DefaultLimits.LoginFailuresPerMinute {
		if s, _ := b.login("victim@example.com", "guess guess guess"); s != 401 {
			t.Fatalf("failed login: %d", s)
		}
	}
	s, body := b.login("victim@example.com", testutil.Password)
	if s != 429 || !strings.Contains(body, "Too many failed sign-ins") {
		t.Fatalf("after too many failures even the right password waits: %d", s)
	}
}

func TestOpenRedirectRefused(t *testing.T) {
	e := testutil.NewEnv(t, testutil.Dialects()[0])
	e.User("a@example.com", false)
	b := newBrowser(t, e)
	for _, next := range []string{"https://evil.example/", "//evil.example/x", "/\\evil.example"} {
		b.do("POST", "/login", url.Values{"email": {"a@example.com"}, "password": {testutil.Password}, "next": {next}})
		if b.last != "/" {
			t.Errorf("next=%q led to %s", next, b.last)
		}
	}
}

func TestWebhookSettingsAndDeliveryLog(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		org := e.Org("Acme Corp")
		u := e.User("owner@acme.test", false)
		e.Member(org.ID, u.Email, "owner")
		var mu sync.Mutex
		var hits []string
		rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			hits = append(hits, r.Header.Get("webhook-id"))
			mu.Unlock()
			w.WriteHeader(500)
			io.WriteString(w, "receiver is down for maintenance")
		}))
		defer rcv.Close()
		e.StartJobs()
		b := newBrowser(t, e)
		b.login(u.Email, testutil.Password)

		s, body := b.do("POST", "/settings/webhooks", url.Values{"organization": {itoa(org.ID)}, "name": {"PSA sync"},
			"url": {rcv.URL}, "events": {"asset.created", "asset.deleted"}})
		secret := regexp.MustCompile(`value="(whsec_[^"]+)"`).FindStringSubmatch(body)
		if s != 201 || secret == nil || !strings.Contains(body, "Delivery Log") {
			t.Fatalf("create: %d", s)
		}
		hookPath := regexp.MustCompile(`action="(/settings/webhooks/\d+)/test"`).FindStringSubmatch(body)[1]
		if _, again := b.do("GET", hookPath, nil); strings.Contains(again, secret[1]) {
			t.Fatal("the secret is shown twice")
		}
		if s, body := b.do("POST", "/settings/webhooks", url.Values{"organization": {itoa(org.ID)}, "name": {"bad"},
			"url": {"ftp://x"}, "events": {"asset.created"}}); s != 400 || !strings.Contains(body, "url:") {
			t.Fatalf("bad URL: %d", s)
		}

		b.do("POST", hookPath+"/test", url.Values{})
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if _, body = b.do("GET", hookPath+"?status=retrying", nil); strings.Contains(body, "receiver answered 500") {
				break
			}
		}
		if !strings.Contains(body, "webhook.test") || !strings.Contains(body, "The receiver answered 500.") {
			t.Fatalf("delivery log does not show the failed test:\n%s", body)
		}
		if _, none := b.do("GET", hookPath+"?status=succeeded", nil); strings.Contains(none, "webhook.test</td>") {
			t.Fatal("the status filter does not filter")
		}
		detail := regexp.MustCompile(`href="(/settings/webhooks/deliveries/\d+)"`).FindStringSubmatch(body)[1]
		if _, d := b.do("GET", detail, nil); !strings.Contains(d, "receiver is down for maintenance") || !strings.Contains(d, "&#34;event&#34;: &#34;webhook.test&#34;") {
			t.Fatalf("delivery detail:\n%s", d)
		}
		b.do("POST", detail+"/retry", url.Values{"back": {detail}})
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			mu.Lock()
			n := len(hits)
			mu.Unlock()
			if n == 2 {
				break
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if len(hits) != 2 || hits[0] != hits[1] {
			t.Fatalf("retry from the log: %v", hits)
		}
	})
}

func TestVaultPages(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		org := e.Org("Acme Corp")
		ed, ro := e.User("ed@acme.test", false), e.User("ro@acme.test", false)
		e.Member(org.ID, ed.Email, "editor")
		e.Member(org.ID, ro.Email, "readonly")
		b := newBrowser(t, e)
		b.login(ed.Email, testutil.Password)

		s, body := b.do("POST", "/vault/new", url.Values{"organization": {itoa(org.ID)}, "title": {"Core switch"}, "username": {"admin"},
			"password": {"S3cret!S3cret!"}, "otp_secret": {"JBSWY3DPEHPK3PXP"}, "password_type": {"network_device"}, "tags": {"network, core"},
			"notes": {"console on port 9"}})
		entry := b.last
		if s != 200 || !strings.HasPrefix(entry, "/vault/") || !strings.Contains(body, "console on port 9") || strings.Contains(body, "S3cret!") {
			t.Fatalf("create: %d at %s", s, entry)
		}
		if !strings.Contains(body, `data-otp-url="/api`) || !strings.Contains(body, "Reveal") {
			t.Fatal("entry page lacks reveal or the TOTP control")
		}
		if _, body = b.do("POST", entry+"/reveal", url.Values{}); !strings.Contains(body, `value="S3cret!S3cret!"`) || !strings.Contains(body, "audit log") {
			t.Fatal("reveal did not show the password")
		}
		var reveals int
		e.DB.R.QueryRow(`SELECT count(*) FROM audit_log WHERE action = 'reveal'`).Scan(&reveals)
		if reveals != 1 {
			t.Fatalf("%d reveal audit rows", reveals)
		}
		// Editing without touching the password keeps it.
		b.do("POST", entry+"/edit", url.Values{"title": {"Core switch 1"}, "password_type": {"network_device"}, "tags": {"core"}})
		if _, body = b.do("POST", entry+"/reveal", url.Values{}); !strings.Contains(body, `value="S3cret!S3cret!"`) || !strings.Contains(body, "Core switch 1") {
			t.Fatal("edit lost the password or the title")
		}
		if _, body = b.do("GET", "/vault?search=core", nil); !strings.Contains(body, "Core switch 1") || !strings.Contains(body, "unchecked") {
			t.Fatal("list")
		}
		if s, body = b.do("POST", "/vault/new", url.Values{"organization": {itoa(org.ID)}, "title": {"bad"}, "otp_secret": {"!!"}}); s != 400 || !strings.Contains(body, "otp secret") {
			t.Fatalf("bad TOTP: %d", s)
		}

		// A readonly member sees the entry, but no Reveal, and cannot reveal by posting.
		rb := newBrowser(t, e)
		rb.login(ro.Email, testutil.Password)
		if _, body = rb.do("GET", entry, nil); strings.Contains(body, ">Reveal<") || !strings.Contains(body, "Core switch 1") {
			t.Fatal("readonly entry page")
		}
		if s, body = rb.do("POST", entry+"/reveal", url.Values{}); s != 403 || strings.Contains(body, "S3cret") {
			t.Fatalf("readonly reveal: %d", s)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// authCtx acts as a user with the access of their memberships.
func authCtx(t *testing.T, e *testutil.Env, u store.User) context.Context {
	t.Helper()
	key := e.Key(u, store.NewKey{})
	c, err := e.Store.CallerForKey(e.Sys, key)
	if err != nil {
		t.Fatal(err)
	}
	return auth.WithCaller(context.Background(), c)
}

func TestMonitorPages(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "fine") }))
		defer target.Close()
		org := e.Org("Acme Corp")
		u := e.User("ops@acme.test", false)
		e.Member(org.ID, u.Email, "editor")
		b := newBrowser(t, e)
		b.login(u.Email, testutil.Password)
		s, body := b.do("POST", "/monitors/new", url.Values{"organization": {itoa(org.ID)}, "name": {"Main site"}, "check_type": {"http"},
			"url": {target.URL}, "http_method": {"GET"}, "expected_status": {"200-299"}, "interval_seconds": {"60"}, "timeout_seconds": {"5"},
			"failure_threshold": {"3"}, "success_threshold": {"2"}, "ssl_warning_days": {"14"}, "enabled": {"1"}, "follow_redirects": {"1"}})
		page := b.last
		if s != 200 || !strings.HasPrefix(page, "/monitors/") || !strings.Contains(body, "pending") {
			t.Fatalf("create: %d at %s", s, page)
		}
		for range 3 {
			e.Clock.Advance(time.Minute)
			b.do("POST", page+"/check", url.Values{})
		}
		_, body = b.do("GET", page, nil)
		if !strings.Contains(body, `mon-up">up`) || !strings.Contains(body, "<svg class=\"chart\"") || !strings.Contains(body, "100 %") {
			t.Fatalf("monitor page after checks:\n%s", body)
		}
		if _, body = b.do("GET", "/monitors?status=up", nil); !strings.Contains(body, "Main site") {
			t.Fatal("list filter")
		}
		if s, body = b.do("POST", page+"/edit", url.Values{"name": {"Main site"}, "check_type": {"http"}, "url": {"ftp://x"},
			"interval_seconds": {"60"}, "timeout_seconds": {"5"}}); s != 400 || !strings.Contains(body, "url:") {
			t.Fatalf("bad edit: %d", s)
		}
	})
}
func itoa(n int64) string { return strconv.FormatInt(n, 10) }
