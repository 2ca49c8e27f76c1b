package testutil

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"clientst0r/internal/api"
	"clientst0r/internal/app"
	"clientst0r/internal/auth"
	"clientst0r/internal/config"
	"clientst0r/internal/db"
	"clientst0r/internal/jobs"
	"clientst0r/internal/monitor"
	"clientst0r/internal/store"
	"clientst0r/internal/vault"
)

// MasterKey is the master key every test installation uses.
var MasterKey = []byte("test master key, 32 bytes long!!")

// Clock is a settable clock shared by the store and the rate limiter.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts at a fixed, realistic time.
func NewClock() *Clock { return &Clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)} }

// Now reads the clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Env is a running installation for one test: a fresh database, the store, the real HTTP handler
// on a loopback server, and helpers to create what a scenario needs.
type Env struct {
	t      testing.TB
	DB     *db.DB
	Store  *store.Store
	Clock  *Clock
	Server *httptest.Server
	Queue  *jobs.Queue
	Sched  *monitor.Scheduler
	Logs   *LogBuffer
	// Sys is a context acting as the command line (superuser powers).
	Sys context.Context
}

// Logger writes errors to the test's log, so a failing test shows what went wrong on the server.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelError}))
}

// LogBuffer keeps everything an Env logged, at every level, for tests that check what logs hold.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns the log so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// EnvOptions vary an installation.
type EnvOptions struct {
	// HIBPURL turns breach checks on against this range API.
	HIBPURL string
	// Roots are the trusted roots of TLS monitor checks (certificates made in the test).
	Roots *x509.CertPool
	// NVDURL turns CVE fetching on against this CVE API 2.0, with its rate-limit window shortened.
	NVDURL string
	// RequireTwoFactor is the installation-wide two-factor requirement (CLIENTST0R_REQUIRE_2FA).
	RequireTwoFactor bool
}

// NewEnv starts an installation on a fresh database of the dialect.
func NewEnv(t testing.TB, dialect db.Dialect) *Env { return NewEnvWith(t, dialect, EnvOptions{}) }

// NewEnvWith starts an installation with options.
func NewEnvWith(t testing.TB, dialect db.Dialect, opts EnvOptions) *Env {
	t.Helper()
	logs := &LogBuffer{}
	log := slog.New(slog.NewMultiHandler(
		slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelError}),
		slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	d := NewDB(t, dialect)
	clock := NewClock()
	keyring, err := vault.Open(context.Background(), d.W, MasterKey, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	s := store.New(d, auth.DeriveSecrets(MasterKey), keyring, store.Options{Now: clock.Now, AssetJSON: api.AssetEvent(""),
		RequireTwoFactor: opts.RequireTwoFactor})
	q, err := jobs.New(d, s, log, jobs.Options{Now: clock.Now, AllowPrivateTargets: true, Poll: 20 * time.Millisecond, Version: "test",
		HIBPURL: opts.HIBPURL, RMMRateScale: 50, NVDURL: opts.NVDURL, NVDWindow: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	sched := app.NewScheduler(s, log, opts.Roots, clock.Now, nil)
	srv := httptest.NewServer(app.NewHandler(s, sched, q.RMM, config.Config{RequireTwoFactor: opts.RequireTwoFactor}, log, clock.Now))
	t.Cleanup(srv.Close)
	return &Env{t: t, DB: d, Store: s, Clock: clock, Server: srv, Queue: q, Sched: sched, Logs: logs,
		Sys: auth.WithCaller(context.Background(), auth.System())}
}

// StartJobs runs the job queue (webhook deliveries, retention) until the test ends.
func (e *Env) StartJobs() {
	e.t.Helper()
	if err := e.Queue.Start(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Queue.Stop(ctx)
	})
}

// EachEnv runs fn once per configured database with a fresh installation.
func EachEnv(t *testing.T, fn func(t *testing.T, e *Env)) { EachEnvWith(t, EnvOptions{}, fn) }

// EachEnvWith is EachEnv with options.
func EachEnvWith(t *testing.T, opts EnvOptions, fn func(t *testing.T, e *Env)) {
	t.Helper()
	for _, dialect := range Dialects() {
		t.Run(string(dialect), func(t *testing.T) { fn(t, NewEnvWith(t, dialect, opts)) })
	}
}

// Org creates an organization.
func (e *Env) Org(name string) store.Organization {
	e.t.Helper()
	o, err := e.Store.CreateOrganization(e.Sys, store.Organization{Name: name, IsActive: true})
	if err != nil {
		e.t.Fatalf("create organization %q: %v", name, err)
	}
	return o
}

// Password is the password of every user Env creates.
const Password = "correct horse battery staple"

// User creates an account.
func (e *Env) User(email string, superuser bool) store.User {
	e.t.Helper()
	u, err := e.Store.CreateUser(e.Sys, store.User{Email: email, IsSuperuser: superuser}, Password)
	if err != nil {
		e.t.Fatalf("create user %q: %v", email, err)
	}
	return u
}

// Member gives email a role in org.
func (e *Env) Member(org int64, email, role string) {
	e.t.Helper()
	if _, err := e.Store.AddMember(e.Sys, org, email, role); err != nil {
		e.t.Fatalf("add %s to %d as %s: %v", email, org, role, err)
	}
}

// Key creates a key for the user and returns its plaintext.
func (e *Env) Key(u store.User, k store.NewKey) string {
	e.t.Helper()
	k.UserID = u.ID
	if k.Name == "" {
		k.Name = "test key"
	}
	_, plaintext, err := e.Store.CreateAPIKey(e.Sys, k)
	if err != nil {
		e.t.Fatalf("create key for %s: %v", u.Email, err)
	}
	return plaintext
}

// Resp is a response read in full.
type Resp struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic value.
func (r *Resp) JSON() any {
	var v any
	json.Unmarshal(r.Body, &v)
	return v
}

// Map decodes a JSON object body.
func (r *Resp) Map() map[string]any {
	m, _ := r.JSON().(map[string]any)
	return m
}

// Do sends a request with an optional Bearer key. body may be nil, a string/[]byte sent as is, or a
// value encoded as JSON.
func (e *Env) Do(method, path, key string, body any, headers ...string) *Resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.Server.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return e.Send(req)
}

// Send sends a prepared request.
func (e *Env) Send(req *http.Request) *Resp {
	e.t.Helper()
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	r := &Resp{Status: res.StatusCode, Header: res.Header, Body: b}
	e.validate(e.t, req, r)
	if res.StatusCode >= 500 {
		e.t.Errorf("%s %s: server error %d: %s", req.Method, req.URL.Path, res.StatusCode, b)
	}
	return r
}
