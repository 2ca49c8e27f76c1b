package monitor_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"clientst0r/internal/monitor"
	"clientst0r/internal/store"
	"clientst0r/internal/testutil"
)

func cfg(typ string, fields ...any) store.MonitorConfig {
	c := store.MonitorConfig{ID: 1, CheckType: typ, HTTPMethod: "GET", ExpectedStatus: "200-299", FollowRedirects: true,
		VerifyTLS: true, IntervalSeconds: 60, TimeoutSeconds: 2, SSLWarningDays: 14, Enabled: true}
	for i := 0; i+1 < len(fields); i += 2 {
		switch fields[i] {
		case "url":
			c.URL = fields[i+1].(string)
		case "host":
			c.Host = fields[i+1].(string)
		case "port":
			p := fields[i+1].(int)
			c.Port = &p
		case "status":
			c.ExpectedStatus = fields[i+1].(string)
		case "keyword":
			c.Keyword = fields[i+1].(string)
		case "redirects":
			c.FollowRedirects = fields[i+1].(bool)
		case "verify":
			c.VerifyTLS = fields[i+1].(bool)
		case "expect":
			c.ExpectedAddress = fields[i+1].(string)
		case "method":
			c.HTTPMethod = fields[i+1].(string)
		}
	}
	return c
}

// certificate makes a CA and a server certificate for 127.0.0.1 valid until notAfter.
func certificate(t *testing.T, notAfter time.Time) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, ca
}

func tlsServer(t *testing.T, cert tls.Certificate) *httptest.Server {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "secure ok") }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are the point of some cases
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func TestCheckers(t *testing.T) {
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/moved":
			http.Redirect(w, r, "/", http.StatusMovedPermanently)
		case "/broken":
			w.WriteHeader(503)
		case "/slow":
			time.Sleep(3 * time.Second)
		default:
			io.WriteString(w, "<html>Welcome to Acme</html>")
		}
	}))
	defer site.Close()
	good, goodCA := certificate(t, time.Now().Add(90*24*time.Hour))
	expiring, expiringCA := certificate(t, time.Now().Add(5*24*time.Hour+time.Hour))
	secure, soon := tlsServer(t, good), tlsServer(t, expiring)
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	open := site.Listener.Addr().(*net.TCPAddr).Port

	pool := x509.NewCertPool() // the CAs made here, and only them
	pool.AddCert(goodCA)
	pool.AddCert(expiringCA)
	c := monitor.NewChecker(pool, "test", time.Now)
	cases := []struct {
		name  string
		cfg   store.MonitorConfig
		up    bool
		error string
	}{
		{"http ok", cfg("http", "url", site.URL), true, ""},
		{"keyword found", cfg("http", "url", site.URL, "keyword", "Welcome to Acme"), true, ""},
		{"keyword missing", cfg("http", "url", site.URL, "keyword", "Out of stock"), false, `Keyword "Out of stock" not found`},
		{"status outside range", cfg("http", "url", site.URL+"/broken"), false, "Status 503 is not in 200-299."},
		{"status in a listed range", cfg("http", "url", site.URL+"/broken", "status", "200-299,500-503"), true, ""},
		{"redirect followed", cfg("http", "url", site.URL+"/moved"), true, ""},
		{"redirect not followed", cfg("http", "url", site.URL+"/moved", "redirects", false), false, "Status 301 is not in 200-299."},
		{"redirect expected", cfg("http", "url", site.URL+"/moved", "redirects", false, "status", "301"), true, ""},
		{"timeout", cfg("http", "url", site.URL+"/slow"), false, "No response within 2 s."},
		{"HEAD", cfg("http", "url", site.URL, "method", "HEAD"), true, ""},
		{"https trusted", cfg("http", "url", secure.URL), true, ""},
		{"https untrusted", cfg("http", "url", tlsServer(t, selfSigned(t)).URL), false, "certificate"},
		{"https untrusted, verification off", cfg("http", "url", tlsServer(t, selfSigned(t)).URL, "verify", false), true, ""},
		{"tcp open", cfg("tcp", "host", "127.0.0.1", "port", open), true, ""},
		{"tcp closed", cfg("tcp", "host", "127.0.0.1", "port", closedPort), false, "Connection failed"},
		{"ssl valid", cfg("ssl", "url", secure.URL), true, ""},
		{"ssl expiring in 5 days", cfg("ssl", "url", soon.URL), false, "expires in 5 days"},
		{"ssl by host and port", cfg("ssl", "host", "127.0.0.1", "port", soon.Listener.Addr().(*net.TCPAddr).Port), false, "expires in 5 days"},
		{"dns", cfg("dns", "host", "localhost"), true, ""},
		{"dns expected address", cfg("dns", "host", "localhost", "expect", "127.0.0.1"), true, ""},
		{"dns wrong address", cfg("dns", "host", "localhost", "expect", "10.9.8.7"), false, "not 10.9.8.7"},
		{"dns missing", cfg("dns", "host", "no-such-host.invalid"), false, "does not resolve"},
	}
	for _, tc := range cases {
		r := c.Check(context.Background(), tc.cfg)
		if r.Up != tc.up || !strings.Contains(r.Error, tc.error) || r.ResponseMS == nil || r.MonitorID != 1 {
			t.Errorf("%s: up=%v error=%q", tc.name, r.Up, r.Error)
		}
	}
	r := c.Check(context.Background(), cfg("ssl", "url", soon.URL))
	if r.SSLExpiresAt == nil || r.SSLExpiresAt.Sub(time.Now()) < 5*24*time.Hour {
		t.Errorf("ssl_expires_at %v", r.SSLExpiresAt)
	}
	// ICMP to loopback: up where the system lets this process ping, otherwise a clear reason.
	r = c.Check(context.Background(), cfg("icmp", "host", "127.0.0.1"))
	if !r.Up && !strings.Contains(r.Error, "ICMP is not permitted") {
		t.Errorf("icmp: %q", r.Error)
	}
}

// selfSigned is a certificate from a CA nobody trusts.
func selfSigned(t *testing.T) tls.Certificate {
	cert, _ := certificate(t, time.Now().Add(30*24*time.Hour))
	return cert
}

// A monitor over the API against a real target: down after failure_threshold failures with one
// monitor.down, up again after success_threshold successes with one monitor.up; disabling pauses.
func TestThresholdsAndEvents(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		var failing atomic.Bool
		target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if failing.Load() {
				w.WriteHeader(502)
				return
			}
			io.WriteString(w, "ok")
		}))
		defer target.Close()
		var mu sync.Mutex
		var events []map[string]any
		rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var body map[string]any
			json.NewDecoder(r.Body).Decode(&body)
			mu.Lock()
			events = append(events, body)
			mu.Unlock()
		}))
		defer rcv.Close()
		org := e.Org("Acme")
		u := e.User("ops@acme.test", false)
		e.Member(org.ID, u.Email, "editor")
		key := e.Key(u, store.NewKey{})
		admin := e.User("admin@acme.test", false)
		e.Member(org.ID, admin.Email, "admin")
		e.Do("POST", "/api/webhooks/", e.Key(admin, store.NewKey{}), map[string]any{"name": "pager", "url": rcv.URL, "events": []string{"monitor.down", "monitor.up"}})
		e.StartJobs()

		r := e.Do("POST", "/api/monitors/", key, map[string]any{"name": "Main Website", "check_type": "http", "url": target.URL,
			"failure_threshold": 3, "success_threshold": 2, "interval_seconds": 60})
		if r.Status != 201 || r.Map()["status"] != "pending" {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		id := int64(r.Map()["id"].(float64))
		check := func() map[string]any {
			t.Helper()
			e.Clock.Advance(time.Minute)
			r := e.Do("POST", fmt.Sprintf("/api/monitors/%d/check/", id), key, nil)
			if r.Status != 200 {
				t.Fatalf("check: %d %s", r.Status, r.Body)
			}
			return e.Do("GET", fmt.Sprintf("/api/monitors/%d/", id), key, nil).Map()
		}
		if m := check(); m["status"] != "up" || m["last_status_code"] != 200.0 {
			t.Fatalf("first result decides: %v", m)
		}
		failing.Store(true)
		for i := 1; i <= 2; i++ {
			if m := check(); m["status"] != "up" {
				t.Fatalf("down after %d failures with a threshold of 3", i)
			}
		}
		m := check()
		if m["status"] != "down" || m["last_error"] != "Status 502 is not in 200-299." || m["status_since"] == nil {
			t.Fatalf("after 3 failures: %v", m)
		}
		check() // still down: no second event
		failing.Store(false)
		if m := check(); m["status"] != "down" {
			t.Fatal("up after 1 success with a threshold of 2")
		}
		if m := check(); m["status"] != "up" {
			t.Fatalf("after 2 successes: %v", m)
		}
		waitEvents := func(n int) []map[string]any {
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				mu.Lock()
				got := append([]map[string]any(nil), events...)
				mu.Unlock()
				if len(got) >= n {
					return got
				}
			}
			t.Fatalf("fewer than %d events", n)
			return nil
		}
		got := waitEvents(2)
		time.Sleep(200 * time.Millisecond)
		mu.Lock()
		if len(events) != 2 {
			t.Fatalf("%d events, want exactly one down and one up", len(events))
		}
		mu.Unlock()
		if got[0]["event"] == "monitor.up" { // delivered in parallel: either may arrive first
			got[0], got[1] = got[1], got[0]
		}
		down, up := got[0]["data"].(map[string]any), got[1]["data"].(map[string]any)
		if got[0]["event"] != "monitor.down" || down["monitor_id"] != float64(id) || down["name"] != "Main Website" ||
			down["url"] != target.URL || down["error"] != "Status 502 is not in 200-299." || down["status_code"] != 502.0 || down["checked_at"] == nil {
			t.Fatalf("monitor.down %v", got[0])
		}
		if got[1]["event"] != "monitor.up" || up["down_seconds"] != 180.0 || up["status_code"] != 200.0 {
			t.Fatalf("monitor.up %v", got[1])
		}
		// History and uptime.
		res := e.Do("GET", fmt.Sprintf("/api/monitors/%d/results/?page_size=3", id), key, nil).Map()
		if res["count"] != 7.0 || res["results"].([]any)[0].(map[string]any)["status"] != "up" {
			t.Fatalf("results: %v", res)
		}
		if m := e.Do("GET", fmt.Sprintf("/api/monitors/%d/", id), key, nil).Map(); m["uptime_24h"] != 42.86 || m["uptime_30d"] != 42.86 {
			t.Fatalf("uptime of 3 up in 7: %v %v", m["uptime_24h"], m["uptime_30d"])
		}
		// Disabling pauses; enabling starts over.
		if m := e.Do("PATCH", fmt.Sprintf("/api/monitors/%d/", id), key, map[string]any{"enabled": false}).Map(); m["status"] != "paused" {
			t.Fatalf("disabled: %v", m["status"])
		}
		if m := e.Do("PATCH", fmt.Sprintf("/api/monitors/%d/", id), key, map[string]any{"enabled": true}).Map(); m["status"] != "pending" {
			t.Fatalf("re-enabled: %v", m["status"])
		}
	})
}

func TestMonitorValidationAndPermissions(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		org := e.Org("Acme")
		ro := e.User("ro@acme.test", false)
		ed := e.User("ed@acme.test", false)
		e.Member(org.ID, ro.Email, "readonly")
		e.Member(org.ID, ed.Email, "editor")
		roKey, edKey := e.Key(ro, store.NewKey{}), e.Key(ed, store.NewKey{})
		bad := []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"name": "x", "check_type": "smtp"}, "check_type"},
			{map[string]any{"name": "x", "check_type": "http", "url": "ftp://x"}, "url"},
			{map[string]any{"name": "x", "check_type": "tcp", "host": "db.acme.test"}, "port"},
			{map[string]any{"name": "x", "check_type": "tcp", "host": "db", "port": 70000}, "port"},
			{map[string]any{"name": "x", "check_type": "http", "url": "https://a.test", "interval_seconds": 5}, "interval_seconds"},
			{map[string]any{"name": "x", "check_type": "http", "url": "https://a.test", "expected_status": "2xx"}, "expected_status"},
			{map[string]any{"name": "x", "check_type": "http", "url": "https://a.test", "http_method": "POST"}, "http_method"},
			{map[string]any{"name": "x", "check_type": "dns", "host": "a.test", "expected_address": "nope"}, "expected_address"},
			{map[string]any{"name": "x", "check_type": "http", "url": "https://a.test", "timeout_seconds": 60, "interval_seconds": 30}, "timeout_seconds"},
		}
		for _, b := range bad {
			if r := e.Do("POST", "/api/monitors/", edKey, b.body); r.Status != 400 || r.Map()[b.field] == nil {
				t.Errorf("%v: %d %s", b.body, r.Status, r.Body)
			}
		}
		r := e.Do("POST", "/api/monitors/", edKey, map[string]any{"name": "db", "check_type": "tcp", "host": "127.0.0.1", "port": 1})
		id := int64(r.Map()["id"].(float64))
		if r.Map()["interval_seconds"] != 60.0 || r.Map()["timeout_seconds"] != 10.0 || r.Map()["failure_threshold"] != 3.0 ||
			r.Map()["success_threshold"] != 2.0 || r.Map()["ssl_warning_days"] != 14.0 {
			t.Fatalf("defaults: %s", r.Body)
		}
		for _, w := range []struct {
			method, path string
			body         any
		}{
			{"POST", "/api/monitors/", map[string]any{"name": "x", "check_type": "tcp", "host": "h", "port": 1}},
			{"PATCH", fmt.Sprintf("/api/monitors/%d/", id), map[string]any{"name": "y"}},
			{"DELETE", fmt.Sprintf("/api/monitors/%d/", id), nil},
			{"POST", fmt.Sprintf("/api/monitors/%d/check/", id), nil},
		} {
			if r := e.Do(w.method, w.path, roKey, w.body); r.Status != 403 {
				t.Errorf("readonly %s %s: %d", w.method, w.path, r.Status)
			}
		}
		out := e.User("x@other.test", false)
		e.Member(e.Org("Other").ID, out.Email, "owner")
		outKey := e.Key(out, store.NewKey{})
		for _, p := range []string{fmt.Sprintf("/api/monitors/%d/", id), fmt.Sprintf("/api/monitors/%d/results/", id)} {
			if r := e.Do("GET", p, outKey, nil); r.Status != 404 {
				t.Errorf("other organization %s: %d", p, r.Status)
			}
		}
	})
}
