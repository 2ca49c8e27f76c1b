// Package ninjafake is a fake NinjaOne API on 127.0.0.1 that speaks the real API (research §4, §8):
// the client-credentials token, /v2 and /api/v2 aliases, keyset pages over id order, organization
// and location lists, a pending device and nodes without os or system, {resultCode, errorMessage}
// errors and epoch seconds with fractions.
package ninjafake

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"clientst0r/internal/rmm/rmmtest"
)

// Options configure a fake; zero values take the real API's.
type Options struct {
	ClientID, ClientSecret string
	// ExpiresIn is the token life in seconds (NinjaOne: 3600).
	ExpiresIn int
}

// Server is a fake NinjaOne API; it implements rmmtest.Fake.
type Server struct {
	opts Options
	ts   *httptest.Server

	mu        sync.Mutex
	detailed  []item // by id; the pending device last
	basic     []item
	orgs      []item
	locations []item

	tokens         map[string]token
	tokenSeq       int
	expiredThrough int
	requests       int
	tokenRequests  int
	throttle       int
	throttled      int
	log            []string
}

type item struct {
	id   int64
	json []byte
}

type token struct {
	seq    int
	issued time.Time
}

var _ rmmtest.Fake = (*Server)(nil)

// New starts a fake serving devices.
func New(opts Options, devices []rmmtest.Device) *Server {
	opts.ClientID = cmp.Or(opts.ClientID, "ninja-client-id")
	opts.ClientSecret = cmp.Or(opts.ClientSecret, "ninja-client-secret")
	opts.ExpiresIn = cmp.Or(opts.ExpiresIn, 3600)
	s := &Server{opts: opts, tokens: map[string]token{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /ws/oauth/token", s.token)
	for _, prefix := range []string{"/v2", "/api/v2"} { // scripts use both; both answer
		s.list(mux, prefix+"/devices-detailed", func() []item { return s.detailed })
		s.list(mux, prefix+"/devices", func() []item { return s.basic })
		s.list(mux, prefix+"/organizations", func() []item { return s.orgs })
		s.list(mux, prefix+"/locations", func() []item { return s.locations })
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fail(w, http.StatusNotFound, "FAILURE", "Resource not found: "+r.URL.Path)
	})
	s.ts = httptest.NewServer(s.gate(mux))
	s.SetDevices(devices)
	return s
}

// URL is the base URL (the instance root).
func (s *Server) URL() string { return s.ts.URL }

// Credentials are the client_id and client_secret the fake accepts.
func (s *Server) Credentials() map[string]string {
	return map[string]string{"client_id": s.opts.ClientID, "client_secret": s.opts.ClientSecret}
}

// OrgExternalID is the OrgExternalID a client reports for rmmtest org org.
func (s *Server) OrgExternalID(org int64) string { return strconv.FormatInt(org, 10) }

// DeviceExternalID is the ExternalID a client reports for rmmtest device id.
func (s *Server) DeviceExternalID(id int64) string { return strconv.FormatInt(id, 10) }

// Close stops the server.
func (s *Server) Close() { s.ts.Close() }

// SetDevices replaces the devices. Each (org, site) pair is a location; the fake adds one PENDING
// device after the last, which a client must skip.
func (s *Server) SetDevices(devices []rmmtest.Device) {
	devices = slices.Clone(devices)
	slices.SortFunc(devices, func(a, b rmmtest.Device) int { return cmp.Compare(a.ID, b.ID) })
	type loc struct {
		org  int64
		name string
	}
	locIDs := map[loc]int64{}
	var orgs, locations []item
	seenOrg := map[int64]bool{}
	detailed := make([]item, 0, len(devices)+1)
	basic := make([]item, 0, len(devices)+1)
	add := func(d rmmtest.Device, approval string) {
		if !seenOrg[d.Org] {
			seenOrg[d.Org] = true
			b, _ := json.Marshal(map[string]any{"id": d.Org, "name": d.OrgName, "description": "", "nodeApprovalMode": "MANUAL",
				"tags": []string{}, "fields": map[string]any{}})
			orgs = append(orgs, item{d.Org, b})
		}
		site := cmp.Or(d.Site, "Main")
		id, ok := locIDs[loc{d.Org, site}]
		if !ok {
			id = int64(len(locIDs) + 1)
			locIDs[loc{d.Org, site}] = id
			b, _ := json.Marshal(map[string]any{"id": id, "name": site, "address": "1 George St, Sydney NSW 2000",
				"description": "", "organizationId": d.Org})
			locations = append(locations, item{id, b})
		}
		det, bas := render(d, id, site, approval)
		detailed, basic = append(detailed, item{d.ID, det}), append(basic, item{d.ID, bas})
	}
	for _, d := range devices {
		add(d, "APPROVED")
	}
	if len(devices) > 0 {
		last := devices[len(devices)-1]
		add(rmmtest.Device{ID: last.ID + 1, Org: devices[0].Org, OrgName: devices[0].OrgName, Site: devices[0].Site,
			Name: "NEW-PC-AWAITING", Manufacturer: "HP", Model: "EliteBook 840", Serial: "PENDING1", OSName: "Windows 11 Pro",
			Kind: "laptop", LastSeen: time.Now().UTC()}, "PENDING")
	}
	slices.SortFunc(orgs, func(a, b item) int { return cmp.Compare(a.id, b.id) })
	s.mu.Lock()
	defer s.mu.Unlock()
	s.detailed, s.basic, s.orgs, s.locations = detailed, basic, orgs, locations
}

// Requests counts every request served, token requests included.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// TokenRequests counts the token requests.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenRequests
}

// Throttled counts the 429s served.
func (s *Server) Throttled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.throttled
}

// Log is every request's method and URI, in order.
func (s *Server) Log() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// Throttle makes the next n API requests (not token requests) answer 429.
func (s *Server) Throttle(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle = n
}

// ExpireTokens makes every token issued so far answer 401.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expiredThrough = s.tokenSeq
}

// gate counts and logs requests, applies forced 429s and bearer auth.
func (s *Server) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		isToken := r.URL.Path == "/ws/oauth/token"
		s.mu.Lock()
		s.requests++
		if len(s.log) < 1_000_000 {
			s.log = append(s.log, r.Method+" "+r.URL.RequestURI())
		}
		if isToken {
			s.tokenRequests++
			s.mu.Unlock()
			next.ServeHTTP(w, r)
			return
		}
		throttled := s.throttle > 0
		if throttled {
			s.throttle--
			s.throttled++
		}
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		t, ok := s.tokens[tok]
		valid := ok && t.seq > s.expiredThrough && time.Since(t.issued) < time.Duration(s.opts.ExpiresIn)*time.Second
		s.mu.Unlock()
		switch {
		case throttled:
			fail(w, http.StatusTooManyRequests, "TOO_MANY_REQUESTS", "Rate limit exceeded")
		case !valid:
			fail(w, http.StatusUnauthorized, "UNAUTHORIZED", "Invalid or expired access token")
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// token is the client-credentials grant; the sync needs the monitoring scope.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") || r.ParseForm() != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "form body expected"})
		return
	}
	f := r.PostForm
	switch {
	case f.Get("grant_type") != "client_credentials":
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	case f.Get("client_id") != s.opts.ClientID || f.Get("client_secret") != s.opts.ClientSecret:
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": "Bad client credentials"})
		return
	case !slices.Contains(strings.Fields(f.Get("scope")), "monitoring"):
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_scope", "error_description": "monitoring scope required"})
		return
	}
	b := make([]byte, 16)
	rand.Read(b)
	s.mu.Lock()
	s.tokenSeq++
	tok := fmt.Sprintf("ninja%d.%s", s.tokenSeq, hex.EncodeToString(b))
	s.tokens[tok] = token{seq: s.tokenSeq, issued: time.Now()}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "Bearer",
		"expires_in": s.opts.ExpiresIn, "scope": f.Get("scope")})
}

// list serves a keyset-paged array: items with an id above after, pageSize of them (1000 when
// absent, so a client that does not page sees a truncated list, as with the real API).
func (s *Server) list(mux *http.ServeMux, path string, items func() []item) {
	mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		size, err := strconv.Atoi(cmp.Or(q.Get("pageSize"), "1000"))
		after, err2 := strconv.ParseInt(cmp.Or(q.Get("after"), "0"), 10, 64)
		if err != nil || err2 != nil || size < 1 {
			fail(w, http.StatusBadRequest, "BAD_REQUEST", "invalid pageSize or after")
			return
		}
		s.mu.Lock()
		all := items()
		s.mu.Unlock()
		start, _ := slices.BinarySearchFunc(all, after+1, func(it item, id int64) int { return cmp.Compare(it.id, id) })
		end := min(start+size, len(all))
		var b bytes.Buffer
		b.WriteByte('[')
		for i, it := range all[start:end] {
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(it.json)
		}
		b.WriteByte(']')
		w.Header().Set("Content-Type", "application/json")
		w.Write(b.Bytes())
	})
}

func fail(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"resultCode": code, "errorMessage": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(v)
	w.Write(b)
}
