// Package syncrofake is a fake Syncro server on 127.0.0.1 that speaks the real protocol
// (research §5 and §8): a static API token accepted as "Bearer x", bare "x" or ?api_key=x;
// customer_assets at 25 a page with meta; the 180-requests-a-minute limit per client IP answered
// with 429; times with a +10:00 offset.
//
// Rendering rules for rmmtest.Device fixtures: a device with a zero LastSeen has no agent and is
// served as a manually created asset (name, serial and free-form custom fields, no
// kabuto_information); the second agent device in ID order carries its agent data only in
// rmm_store.general.info as a JSON string; agent devices with odd IDs also report a Hyper-V virtual
// adapter with a link-local address ahead of the real one.
package syncrofake

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"clientst0r/internal/rmm/rmmtest"
)

// Token is the API token the fake accepts.
const Token = "s1ncr0-T3st-4pi-t0ken"

// PerPage is Syncro's fixed page size for customer_assets.
const PerPage = 25

const requestLogLength = 1000

// Option configures the fake.
type Option func(*Server)

// WithRateLimit sets the per-IP limit: n requests per window (Syncro: 180 a minute). Tests shrink
// the window by the same factor as the client's rmm.Config.RateScale.
func WithRateLimit(n int, window time.Duration) Option {
	return func(s *Server) { s.limit, s.window = n, window }
}

// WithLatency delays every answer by d.
func WithLatency(d time.Duration) Option { return func(s *Server) { s.latency = d } }

// Request is one logged request.
type Request struct {
	Method, Path, Query string
	Authorization       string
	Status              int
}

// Server is the fake; it implements rmmtest.Fake.
type Server struct {
	srv      *httptest.Server
	limit    int
	window   time.Duration
	latency  time.Duration
	requests atomic.Int64

	mu       sync.Mutex
	data     *dataset
	throttle int
	fail     int
	revoked  bool
	windows  map[string]*ipWindow
	log      []Request
}

type ipWindow struct {
	start time.Time
	count int
}

var _ rmmtest.Fake = (*Server)(nil)

// New starts a fake with no devices.
func New(opts ...Option) *Server {
	s := &Server{limit: 180, window: time.Minute, data: &dataset{}, windows: map[string]*ipWindow{}}
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the server root; the client appends /api/v1.
func (s *Server) URL() string { return s.srv.URL }

// Credentials holds the API token.
func (s *Server) Credentials() map[string]string { return map[string]string{"api_token": Token} }

// Requests counts every request served.
func (s *Server) Requests() int { return int(s.requests.Load()) }

// Throttle makes the next n requests answer 429.
func (s *Server) Throttle(n int) { s.mu.Lock(); s.throttle += n; s.mu.Unlock() }

// Fail makes the next n requests answer 500.
func (s *Server) Fail(n int) { s.mu.Lock(); s.fail += n; s.mu.Unlock() }

// ExpireTokens does nothing: Syncro issues no tokens, and its API tokens do not expire. Revoke
// is the Syncro way to lose access.
func (s *Server) ExpireTokens() {}

// Revoke makes the API token answer 401 from now on, as when an admin deletes it.
func (s *Server) Revoke() { s.mu.Lock(); s.revoked = true; s.mu.Unlock() }

// Log returns the last requests served (at most 1,000), oldest first.
func (s *Server) Log() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	time.Sleep(s.latency)
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	defer s.record(r, rec)
	w = rec
	throttled, failed := s.faults()
	switch {
	case throttled:
		writeError(w, http.StatusTooManyRequests, "Too many requests")
	case failed:
		writeError(w, http.StatusInternalServerError, "Internal server error")
	case !s.allow(r):
		writeError(w, http.StatusTooManyRequests, "Rate limit exceeded: 180 requests per minute")
	case !s.authorized(r):
		writeError(w, http.StatusUnauthorized, "Not authorized")
	case r.Method != http.MethodGet:
		writeError(w, http.StatusMethodNotAllowed, "Method not allowed")
	default:
		s.get(w, r)
	}
}

// faults takes one forced 429 (first) or 500 if any are pending.
func (s *Server) faults() (throttled, failed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.throttle > 0:
		s.throttle--
		return true, false
	case s.fail > 0:
		s.fail--
		return false, true
	}
	return false, false
}

// allow counts the request in its IP's fixed window; refused requests do not count.
func (s *Server) allow(r *http.Request) bool {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	win := s.windows[ip]
	if win == nil || now.Sub(win.start) >= s.window {
		win = &ipWindow{start: now}
		s.windows[ip] = win
	}
	if win.count >= s.limit {
		return false
	}
	win.count++
	return true
}

// authorized accepts the forms scripts use: "Bearer x", the bare token, and ?api_key=x.
func (s *Server) authorized(r *http.Request) bool {
	tok := strings.TrimSpace(r.Header.Get("Authorization"))
	if len(tok) > 7 && strings.EqualFold(tok[:7], "Bearer ") {
		tok = strings.TrimSpace(tok[7:])
	}
	if tok == "" {
		tok = r.URL.Query().Get("api_key")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return tok == Token && !s.revoked
}

func (s *Server) record(r *http.Request, rec *recorder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.log) == requestLogLength {
		s.log = append(s.log[:0], s.log[1:]...)
	}
	s.log = append(s.log, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		Authorization: r.Header.Get("Authorization"), Status: rec.status})
}

type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) { r.status = code; r.ResponseWriter.WriteHeader(code) }
