package api

import (
	"context"
	"net/http"
	"time"

	"clientst0r/internal/list"
	"clientst0r/internal/store"
)

// Monitor is the API shape of a monitor with its status.
type Monitor struct {
	ID               int64      `json:"id" api:"ro"`
	Organization     int64      `json:"organization" api:"create-only"`
	OrganizationName string     `json:"organization_name" api:"ro"`
	Name             string     `json:"name" api:"req"`
	CheckType        string     `json:"check_type" api:"req"`
	URL              string     `json:"url"`
	Host             string     `json:"host"`
	Port             *int       `json:"port"`
	HTTPMethod       string     `json:"http_method"`
	ExpectedStatus   string     `json:"expected_status"`
	Keyword          string     `json:"keyword"`
	ExpectedAddress  string     `json:"expected_address"`
	FollowRedirects  bool       `json:"follow_redirects"`
	VerifyTLS        bool       `json:"verify_tls"`
	IntervalSeconds  int        `json:"interval_seconds"`
	TimeoutSeconds   int        `json:"timeout_seconds"`
	FailureThreshold int        `json:"failure_threshold"`
	SuccessThreshold int        `json:"success_threshold"`
	SSLWarningDays   int        `json:"ssl_warning_days"`
	Enabled          bool       `json:"enabled"`
	Asset            *int64     `json:"asset"`
	Status           string     `json:"status" api:"ro"`
	StatusSince      *time.Time `json:"status_since" api:"ro"`
	LastCheckedAt    *time.Time `json:"last_checked_at" api:"ro"`
	LastResponseMS   *int       `json:"last_response_ms" api:"ro"`
	LastStatusCode   *int       `json:"last_status_code" api:"ro"`
	LastError        string     `json:"last_error" api:"ro"`
	SSLExpiresAt     *time.Time `json:"ssl_expires_at" api:"ro"`
	Uptime24h        *float64   `json:"uptime_24h" api:"ro"`
	Uptime7d         *float64   `json:"uptime_7d" api:"ro"`
	Uptime30d        *float64   `json:"uptime_30d" api:"ro"`
	CreatedAt        time.Time  `json:"created_at" api:"ro"`
	UpdatedAt        time.Time  `json:"updated_at" api:"ro"`
}

// CheckResult is one entry of a monitor's history, and the answer of a manual check.
type CheckResult struct {
	CheckedAt  time.Time `json:"checked_at" api:"ro"`
	Status     string    `json:"status" api:"ro"`
	ResponseMS *int      `json:"response_ms" api:"ro"`
	StatusCode *int      `json:"status_code" api:"ro"`
	Error      string    `json:"error" api:"ro"`
}

// MonitorChecker runs a monitor's check now (the scheduler).
type MonitorChecker interface {
	CheckNow(ctx context.Context, cfg store.MonitorConfig) (store.CheckResult, error)
}

func (h *Handler) monitor(_ *http.Request, m store.Monitor) Monitor {
	return Monitor{ID: m.ID, Organization: m.OrgID, OrganizationName: m.OrgName, Name: m.Name, CheckType: m.CheckType, URL: m.URL,
		Host: m.Host, Port: m.Port, HTTPMethod: m.HTTPMethod, ExpectedStatus: m.ExpectedStatus, Keyword: m.Keyword,
		ExpectedAddress: m.ExpectedAddress, FollowRedirects: m.FollowRedirects, VerifyTLS: m.VerifyTLS,
		IntervalSeconds: m.IntervalSeconds, TimeoutSeconds: m.TimeoutSeconds, FailureThreshold: m.FailureThreshold,
		SuccessThreshold: m.SuccessThreshold, SSLWarningDays: m.SSLWarningDays, Enabled: m.Enabled, Asset: m.AssetID,
		Status: m.Status, StatusSince: m.StatusSince, LastCheckedAt: m.LastCheckedAt, LastResponseMS: m.LastResponseMS,
		LastStatusCode: m.LastStatusCode, LastError: m.LastError, SSLExpiresAt: m.SSLExpiresAt, Uptime24h: m.Uptime24h,
		Uptime7d: m.Uptime7d, Uptime30d: m.Uptime30d, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}
}

func checkResult(r store.CheckResult) CheckResult {
	status := "down"
	if r.Up {
		status = "up"
	}
	return CheckResult{CheckedAt: r.CheckedAt.UTC(), Status: status, ResponseMS: r.ResponseMS, StatusCode: r.StatusCode, Error: r.Error}
}

func applyMonitor(b *body, m *store.Monitor, replace bool) {
	if replace { // back to defaults, keeping the state that checks write
		*m = store.Monitor{Scoped: m.Scoped, Enabled: true, FollowRedirects: true, VerifyTLS: true, Status: m.Status,
			StatusSince: m.StatusSince, LastCheckedAt: m.LastCheckedAt, LastResponseMS: m.LastResponseMS,
			LastStatusCode: m.LastStatusCode, LastError: m.LastError, SSLExpiresAt: m.SSLExpiresAt}
		b.require("name", "check_type")
	}
	b.org(&m.OrgID)
	b.str("name", &m.Name)
	b.str("check_type", &m.CheckType)
	b.str("url", &m.URL)
	b.str("host", &m.Host)
	if b.has("port") {
		m.Port = nil
		if !b.isNull("port") {
			var p int
			if b.integer("port", &p) {
				m.Port = &p
			}
		}
	}
	b.str("http_method", &m.HTTPMethod)
	b.str("expected_status", &m.ExpectedStatus)
	b.str("keyword", &m.Keyword)
	b.str("expected_address", &m.ExpectedAddress)
	b.boolean("follow_redirects", &m.FollowRedirects)
	b.boolean("verify_tls", &m.VerifyTLS)
	b.integer("interval_seconds", &m.IntervalSeconds)
	b.integer("timeout_seconds", &m.TimeoutSeconds)
	b.integer("failure_threshold", &m.FailureThreshold)
	b.integer("success_threshold", &m.SuccessThreshold)
	b.integer("ssl_warning_days", &m.SSLWarningDays)
	b.boolean("enabled", &m.Enabled)
	b.optID("asset", &m.AssetID)
	b.readOnly("id", "status", "status_since", "last_checked_at", "last_response_ms", "last_status_code", "last_error",
		"ssl_expires_at", "uptime_24h", "uptime_7d", "uptime_30d", "created_at", "updated_at")
}

func (h *Handler) listMonitors(w http.ResponseWriter, r *http.Request) {
	serveList(h, w, r, &store.MonitorSpec, func(q list.Query) ([]store.Monitor, int, error) {
		return h.store.ListMonitors(r.Context(), q)
	}, func(m store.Monitor) Monitor { return h.monitor(r, m) })
}

func (h *Handler) getMonitor(w http.ResponseWriter, r *http.Request) {
	get(h, w, r, h.store.GetMonitor, h.monitor)
}

func (h *Handler) createMonitor(w http.ResponseWriter, r *http.Request) {
	create(h, w, r, applyMonitor, h.store.CreateMonitor, h.monitor, "monitors", func(m store.Monitor) int64 { return m.ID })
}

func (h *Handler) replaceMonitor(w http.ResponseWriter, r *http.Request) {
	update(h, w, r, true, applyMonitor, h.store.UpdateMonitor, h.monitor)
}

func (h *Handler) patchMonitor(w http.ResponseWriter, r *http.Request) {
	update(h, w, r, false, applyMonitor, h.store.UpdateMonitor, h.monitor)
}

func (h *Handler) deleteMonitor(w http.ResponseWriter, r *http.Request) {
	remove(h, w, r, h.store.DeleteMonitor)
}

func (h *Handler) listMonitorResults(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	serveList(h, w, r, &store.MonitorResultSpec, func(q list.Query) ([]store.CheckResult, int, error) {
		return h.store.ListMonitorResults(r.Context(), id, q)
	}, checkResult)
}

// checkMonitor runs one check now and answers with its result (recorded like any other).
func (h *Handler) checkMonitor(w http.ResponseWriter, r *http.Request) {
	action(h, w, r, http.StatusOK, func(ctx context.Context, id int64) (store.CheckResult, error) {
		cfg, err := h.store.CanCheck(ctx, id)
		if err != nil {
			return store.CheckResult{}, err
		}
		return h.checker.CheckNow(ctx, cfg)
	}, func(_ *http.Request, res store.CheckResult) CheckResult { return checkResult(res) })
}
