// Package automatefake is a fake ConnectWise Automate server on 127.0.0.1 that speaks the real
// protocol (research §2 and §8): token sign-in with a mandatory ClientId header and a two-factor
// fixture user, refresh, expiring tokens, case-insensitive paths, flat and "options."-prefixed
// query names, a small condition language, Computers, Computers/Chassis, Clients, Locations and
// their ExtraFields, zone-less timestamps.
package automatefake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"clientst0r/internal/rmm/rmmtest"
)

// Fixture credentials. The integrator has no two-factor step; the technician has one.
const (
	ClientID         = "1a2b3c4d-0000-4000-8000-0123456789ab"
	Username         = "svc-integrator"
	Password         = "Integrator-Pa55!"
	TwoFactorUser    = "tech"
	TwoFactorPass    = "Tech-Pa55!"
	TwoFactorCode    = "123456"
	defaultPageSize  = 50
	maxPageSize      = 1000
	defaultLifetime  = time.Hour
	defaultAbsolute  = 8 * time.Hour
	requestLogLength = 1000
)

// Option configures the fake.
type Option func(*Server)

// WithClock sets the clock that issues and checks token expiry.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithTokenLifetime sets the sliding (ExpirationDate) and absolute (AbsoluteExpirationDate)
// lifetimes of issued tokens.
func WithTokenLifetime(sliding, absolute time.Duration) Option {
	return func(s *Server) { s.sliding, s.absolute = sliding, absolute }
}

// WithLatency delays every answer by d.
func WithLatency(d time.Duration) Option { return func(s *Server) { s.latency = d } }

// Request is one logged request.
type Request struct {
	Method, Path, Query string
	Authorization       string
	ClientID            string
	Status              int
}

// Server is the fake; it implements rmmtest.Fake.
type Server struct {
	srv               *httptest.Server
	now               func() time.Time
	sliding, absolute time.Duration
	latency           time.Duration
	requests          atomic.Int64

	mu        sync.Mutex
	data      *dataset
	locIDs    map[locKey]int64
	locations map[int64]*Location
	tokens    map[string]*issued
	throttle  int
	fail      int
	logins    int
	refreshes int
	log       []Request
}

type issued struct {
	user              string
	expires, absolute time.Time
	revoked           bool
}

var _ rmmtest.Fake = (*Server)(nil)

// New starts a fake with no devices.
func New(opts ...Option) *Server {
	s := &Server{now: time.Now, sliding: defaultLifetime, absolute: defaultAbsolute, data: &dataset{},
		locIDs: map[locKey]int64{}, locations: map[int64]*Location{}, tokens: map[string]*issued{}}
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the server root; the client appends /cwa/api/v1.
func (s *Server) URL() string { return s.srv.URL }

// Credentials are the integrator's: no two-factor step.
func (s *Server) Credentials() map[string]string {
	return map[string]string{"username": Username, "password": Password, "client_id": ClientID}
}

// TwoFactorCredentials are the technician's, who must send TwoFactorCode; no code is included.
func (s *Server) TwoFactorCredentials() map[string]string {
	return map[string]string{"username": TwoFactorUser, "password": TwoFactorPass, "client_id": ClientID}
}

// Requests counts every request, token requests included.
func (s *Server) Requests() int { return int(s.requests.Load()) }

// Throttle makes the next n requests answer 429 (Automate documents none; clients retry anyway).
func (s *Server) Throttle(n int) { s.mu.Lock(); s.throttle += n; s.mu.Unlock() }

// Fail makes the next n requests answer 500, as Automate does transiently.
func (s *Server) Fail(n int) { s.mu.Lock(); s.fail += n; s.mu.Unlock() }

// ExpireTokens makes every token issued so far answer 401, refresh included.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		t.revoked = true
	}
}

// Logins counts successful sign-ins.
func (s *Server) Logins() int { s.mu.Lock(); defer s.mu.Unlock(); return s.logins }

// Refreshes counts successful token refreshes.
func (s *Server) Refreshes() int { s.mu.Lock(); defer s.mu.Unlock(); return s.refreshes }

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
	path := strings.ToLower(strings.TrimSuffix(r.URL.Path, "/"))
	s.mu.Lock()
	throttled, failed := s.throttle > 0, false
	if throttled {
		s.throttle--
	} else if s.fail > 0 {
		s.fail, failed = s.fail-1, true
	}
	s.mu.Unlock()
	switch {
	case throttled:
		writeError(w, http.StatusTooManyRequests, "TooManyRequests", "Too many requests")
		return
	case failed:
		writeError(w, http.StatusInternalServerError, "InternalServerError", "An error has occurred.")
		return
	case !strings.HasPrefix(path, "/cwa/api/v1/"):
		writeError(w, http.StatusNotFound, "NotFound", "No HTTP resource was found that matches the request URI.")
		return
	}
	// Every call, sign-in included, needs the registered developer ClientId (since 2020 Patch 11).
	switch id := r.Header.Get("ClientId"); {
	case id == "":
		writeError(w, http.StatusUnauthorized, "Unauthorized", "The ClientId header is required.")
		return
	case !strings.EqualFold(id, ClientID):
		writeError(w, http.StatusUnauthorized, "Unauthorized", "The ClientId is not registered.")
		return
	}
	rest := strings.TrimPrefix(path, "/cwa/api/v1")
	switch {
	case rest == "/apitoken" && r.Method == http.MethodPost:
		s.signIn(w, r)
	case rest == "/apitoken/refresh" && r.Method == http.MethodPost:
		s.refresh(w, r)
	case r.Method != http.MethodGet:
		writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "The requested resource does not support this method.")
	case !s.authorized(r):
		writeError(w, http.StatusUnauthorized, "Unauthorized", "Authorization has been denied for this request.")
	default:
		s.get(w, r, rest)
	}
}

func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	// .NET binding is case-insensitive: accept Username and username alike.
	var raw map[string]any
	if err := json.NewDecoder(r.Body).Decode(&raw); err != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", "The request body is not valid JSON.")
		return
	}
	field := func(name string) string {
		for k, v := range raw {
			if strings.EqualFold(k, name) {
				s, _ := v.(string)
				return s
			}
		}
		return ""
	}
	user, pass, code := field("Username"), field("Password"), field("TwoFactorPasscode")
	switch {
	case strings.EqualFold(user, Username) && pass == Password:
	case strings.EqualFold(user, TwoFactorUser) && pass == TwoFactorPass && code == "":
		writeJSON(w, map[string]any{"AccessToken": nil, "TokenType": nil, "ExpirationDate": nil, "AbsoluteExpirationDate": nil,
			"UserId": "43", "InternalUserName": TwoFactorUser, "IsTwoFactorRequired": true, "IsInternalTwoFactorRequired": false,
			"SSOAccessToken": nil})
		return
	case strings.EqualFold(user, TwoFactorUser) && pass == TwoFactorPass && code == TwoFactorCode:
	case strings.EqualFold(user, TwoFactorUser) && pass == TwoFactorPass:
		writeError(w, http.StatusUnauthorized, "Unauthorized", "The two-factor passcode is invalid.")
		return
	default:
		writeError(w, http.StatusUnauthorized, "Unauthorized", "Invalid username or password.")
		return
	}
	now := s.now()
	s.mu.Lock()
	s.logins++
	s.mu.Unlock()
	s.issue(w, user, now.Add(s.absolute))
}

func (s *Server) refresh(w http.ResponseWriter, r *http.Request) {
	var old string
	if err := json.NewDecoder(r.Body).Decode(&old); err != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", "The body must be the current token as a JSON string.")
		return
	}
	s.mu.Lock()
	t := s.valid(old)
	if t != nil {
		s.refreshes++
	}
	s.mu.Unlock()
	if t == nil {
		writeError(w, http.StatusUnauthorized, "Unauthorized", "The token is invalid or expired.")
		return
	}
	s.issue(w, t.user, t.absolute)
}

// issue answers a TokenResult for a new token; the sliding expiry never passes the absolute one.
func (s *Server) issue(w http.ResponseWriter, user string, absolute time.Time) {
	now := s.now().UTC()
	exp := now.Add(s.sliding)
	if exp.After(absolute) {
		exp = absolute
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := "eyJ" + hex.EncodeToString(b)
	s.mu.Lock()
	s.tokens[tok] = &issued{user: user, expires: exp, absolute: absolute}
	s.mu.Unlock()
	writeJSON(w, map[string]any{"AccessToken": tok, "TokenType": "Bearer",
		"ExpirationDate": exp.Format(time.RFC3339), "AbsoluteExpirationDate": absolute.UTC().Format(time.RFC3339),
		"UserId": "42", "InternalUserName": user, "IsTwoFactorRequired": false, "IsInternalTwoFactorRequired": false,
		"SSOAccessToken": nil})
}

// valid returns the token's record if it may still be used; s.mu is held.
func (s *Server) valid(tok string) *issued {
	t := s.tokens[tok]
	if t == nil || t.revoked {
		return nil
	}
	if now := s.now(); !now.Before(t.expires) || !now.Before(t.absolute) {
		return nil
	}
	return t
}

func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "Bearer ") {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.valid(strings.TrimSpace(h[7:])) != nil
}

func (s *Server) record(r *http.Request, rec *recorder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.log) == requestLogLength {
		s.log = append(s.log[:0], s.log[1:]...)
	}
	s.log = append(s.log, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		Authorization: r.Header.Get("Authorization"), ClientID: r.Header.Get("ClientId"), Status: rec.status})
}

type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) { r.status = code; r.ResponseWriter.WriteHeader(code) }

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers in the body shape the AutomateAPI module parses: {"code","message"}.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"code": code, "message": msg})
}
