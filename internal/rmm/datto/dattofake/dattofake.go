// Package dattofake is a fake Datto RMM API on 127.0.0.1 that speaks the real API (research §3,
// §8): the OAuth password grant with the public client, 0-based pages with an absolute nextPageUrl
// that drops filters, device audits, open and resolved alerts with polymorphic contexts, epoch-ms
// dates and the account's sliding-window rate limit with 429s and an IP block.
package dattofake

import (
	"cmp"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"clientst0r/internal/rmm/rmmtest"
)

// Options configure a fake; zero values take the real API's.
type Options struct {
	APIKey, APISecret string
	// ExpiresIn is the token life in seconds (Datto: 100 h).
	ExpiresIn int
	// PageMax is the account's page size from /api/v2/system/pagination.
	PageMax int
	// Limit requests are allowed in any sliding Window (Datto: 600 per 60 s, account-wide).
	Limit  int
	Window time.Duration
	// TimeScale runs the fake's clock that much faster: Window defaults to 60 s / TimeScale, and
	// /api/v2/system/request_rate reports the window in unscaled seconds (Window × TimeScale) as
	// the real server reports 60. Pair it with a client RateScale of the same value.
	TimeScale float64
	// NextPageHost, when set, is the host written into nextPageUrl instead of the request's.
	NextPageHost string
}

// Server is a fake Datto RMM API; it implements rmmtest.Fake.
type Server struct {
	opts Options
	ts   *httptest.Server

	mu       sync.Mutex
	devices  []fakeDevice // by id; the deleted device last
	byUID    map[string]int
	stamps   map[int64]auditStamp // kept across SetDevices so unchanged hardware keeps its lastAuditDate
	sites    [][]byte
	open     [][]byte // newest first
	resolved [][]byte // newest resolution first
	alerts   []rmmtest.Alert

	tokens         map[string]token
	tokenSeq       int
	expiredThrough int
	requests       int
	tokenRequests  int
	throttle       int
	throttled      int
	accepted       []time.Time // requests inside the sliding window
	rejected       []time.Time
	blockedUntil   time.Time
	log            []string
}

type fakeDevice struct {
	d     rmmtest.Device
	list  []byte
	audit []byte
}

type auditStamp struct {
	hardware string
	stamp    int64
}

type token struct {
	seq    int
	issued time.Time
}

var _ rmmtest.Fake = (*Server)(nil)

// New starts a fake serving devices.
func New(opts Options, devices []rmmtest.Device) *Server {
	opts.APIKey = cmp.Or(opts.APIKey, "DATTOKEY1234")
	opts.APISecret = cmp.Or(opts.APISecret, "dattosecret5678")
	opts.ExpiresIn = cmp.Or(opts.ExpiresIn, 359999)
	opts.PageMax = cmp.Or(opts.PageMax, 250)
	opts.Limit = cmp.Or(opts.Limit, 600)
	if opts.TimeScale <= 0 {
		opts.TimeScale = 1
	}
	if opts.Window <= 0 {
		opts.Window = time.Duration(float64(60*time.Second) / opts.TimeScale)
	}
	s := &Server{opts: opts, stamps: map[int64]auditStamp{}, tokens: map[string]token{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /auth/oauth/token", s.token)
	mux.HandleFunc("GET /api/v2/system/pagination", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]int{"max": s.opts.PageMax})
	})
	mux.HandleFunc("GET /api/v2/system/request_rate", s.requestRate)
	mux.HandleFunc("GET /api/v2/account/devices", s.listDevices)
	mux.HandleFunc("GET /api/v2/account/sites", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		sites := s.sites
		s.mu.Unlock()
		s.writePage(w, r, "sites", sites, s.opts.PageMax)
	})
	mux.HandleFunc("GET /api/v2/audit/device/{uid}", s.deviceAudit)
	mux.HandleFunc("GET /api/v2/account/alerts/{state}", s.listAlerts)
	s.ts = httptest.NewServer(s.gate(mux))
	s.SetDevices(devices)
	return s
}

// URL is the base URL (the platform's API root).
func (s *Server) URL() string { return s.ts.URL }

// Credentials are the api_key and api_secret the fake accepts.
func (s *Server) Credentials() map[string]string {
	return map[string]string{"api_key": s.opts.APIKey, "api_secret": s.opts.APISecret}
}

// OrgExternalID is the OrgExternalID a client reports for rmmtest org org (the site uid).
func (s *Server) OrgExternalID(org int64) string { return SiteUID(org) }

// DeviceExternalID is the ExternalID a client reports for rmmtest device id (the device uid).
func (s *Server) DeviceExternalID(id int64) string { return DeviceUID(id) }

// Close stops the server.
func (s *Server) Close() { s.ts.Close() }

// SetDevices replaces the devices. A device whose manufacturer, model, serial and MAC are unchanged
// keeps its lastAuditDate; otherwise it gets a newer one, as after a new audit.
func (s *Server) SetDevices(devices []rmmtest.Device) {
	devices = slices.Clone(devices)
	slices.SortFunc(devices, func(a, b rmmtest.Device) int { return cmp.Compare(a.ID, b.ID) })
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]fakeDevice, 0, len(devices)+1)
	byUID := make(map[string]int, len(devices)+1)
	perSite := map[int64]int{}
	var siteOrder []rmmtest.Device
	for _, d := range devices {
		hw := strings.Join([]string{d.Manufacturer, d.Model, d.Serial, d.MAC}, "\x00")
		st, ok := s.stamps[d.ID]
		if !ok {
			st = auditStamp{hw, auditEpoch + d.ID%100000*1000}
		} else if st.hardware != hw {
			st = auditStamp{hw, max(st.stamp+60000, time.Now().UnixMilli())}
		}
		s.stamps[d.ID] = st
		byUID[DeviceUID(d.ID)] = len(out)
		out = append(out, fakeDevice{d: d, list: renderDevice(d, st.stamp, false), audit: renderAudit(d)})
		if perSite[d.Org]++; perSite[d.Org] == 1 {
			siteOrder = append(siteOrder, d)
		}
	}
	gone := rmmtest.Device{ID: deletedID, Org: 1, OrgName: "Deleted Devices", Name: "OLD-PC-01", Kind: "workstation",
		OSName: "Microsoft Windows 10 Pro", LastSeen: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)}
	if len(devices) > 0 {
		gone.Org, gone.OrgName = devices[0].Org, siteName(devices[0])
	}
	out = append(out, fakeDevice{d: gone, list: renderDevice(gone, 0, true)})
	s.devices, s.byUID = out, byUID
	s.sites = s.sites[:0:0]
	for _, d := range siteOrder {
		s.sites = append(s.sites, renderSite(d.Org, siteName(d), perSite[d.Org]))
	}
	s.renderAlertsLocked()
}

// SetAlerts replaces the alerts.
func (s *Server) SetAlerts(alerts []rmmtest.Alert) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.alerts = slices.Clone(alerts)
	s.renderAlertsLocked()
}

func (s *Server) renderAlertsLocked() {
	type item struct {
		at time.Time
		b  []byte
	}
	var open, resolved []item
	for i, a := range s.alerts {
		var dev *rmmtest.Device
		if j, ok := s.byUID[DeviceUID(a.DeviceID)]; ok {
			dev = &s.devices[j].d
		}
		if b := renderAlert(i, a, dev); a.Resolved {
			resolved = append(resolved, item{a.ResolvedAt, b})
		} else {
			open = append(open, item{a.At, b})
		}
	}
	// Newest first: a client reads resolved alerts only down to its last sync.
	newestFirst := func(x, y item) int { return y.at.Compare(x.at) }
	slices.SortStableFunc(open, newestFirst)
	slices.SortStableFunc(resolved, newestFirst)
	s.open, s.resolved = make([][]byte, len(open)), make([][]byte, len(resolved))
	for i, it := range open {
		s.open[i] = it.b
	}
	for i, it := range resolved {
		s.resolved[i] = it.b
	}
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

// Throttled counts the 429s served, forced or from the rate limit.
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

// Count is how many requests went to paths starting with prefix.
func (s *Server) Count(prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, l := range s.log {
		if _, uri, _ := strings.Cut(l, " "); strings.HasPrefix(uri, prefix) {
			n++
		}
	}
	return n
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
