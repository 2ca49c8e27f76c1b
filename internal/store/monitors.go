package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
	"clientst0r/internal/list"
)

// CheckTypes are the monitor kinds of SPEC §7.
var CheckTypes = []string{"http", "tcp", "icmp", "ssl", "dns"}

// MonitorStatuses are the values of status.
var MonitorStatuses = []string{"pending", "up", "down", "paused"}

// MonitorConfig is what a check needs to know about its monitor.
type MonitorConfig struct {
	ID              int64
	OrgID           int64
	CheckType       string
	URL             string
	Host            string
	Port            *int
	HTTPMethod      string
	ExpectedStatus  string
	Keyword         string
	ExpectedAddress string
	FollowRedirects bool
	VerifyTLS       bool
	IntervalSeconds int
	TimeoutSeconds  int
	SSLWarningDays  int
	Enabled         bool
}

// Monitor is a WAN or website monitor with its current state.
type Monitor struct {
	Scoped
	Name             string
	CheckType        string
	URL              string
	Host             string
	Port             *int
	HTTPMethod       string
	ExpectedStatus   string
	Keyword          string
	ExpectedAddress  string
	FollowRedirects  bool
	VerifyTLS        bool
	IntervalSeconds  int
	TimeoutSeconds   int
	FailureThreshold int
	SuccessThreshold int
	SSLWarningDays   int
	Enabled          bool
	AssetID          *int64

	// State, written only by recorded check results.
	Status         string
	StatusSince    *time.Time
	LastCheckedAt  *time.Time
	LastResponseMS *int
	LastStatusCode *int
	LastError      string
	SSLExpiresAt   *time.Time
	// Uptime percentages from the hourly rollups; nil without checks in the window.
	Uptime24h, Uptime7d, Uptime30d *float64
}

// Config is the monitor's check configuration.
func (m *Monitor) Config() MonitorConfig {
	return MonitorConfig{ID: m.ID, OrgID: m.OrgID, CheckType: m.CheckType, URL: m.URL, Host: m.Host, Port: m.Port,
		HTTPMethod: m.HTTPMethod, ExpectedStatus: m.ExpectedStatus, Keyword: m.Keyword, ExpectedAddress: m.ExpectedAddress,
		FollowRedirects: m.FollowRedirects, VerifyTLS: m.VerifyTLS, IntervalSeconds: m.IntervalSeconds,
		TimeoutSeconds: m.TimeoutSeconds, SSLWarningDays: m.SSLWarningDays, Enabled: m.Enabled}
}

// Target is what the monitor watches, for people: the URL, or host[:port].
func (c MonitorConfig) Target() string {
	if c.URL != "" && (c.CheckType == "http" || c.CheckType == "ssl") {
		return c.URL
	}
	if c.Port != nil {
		return net.JoinHostPort(c.Host, strconv.Itoa(*c.Port))
	}
	return c.Host
}

// MonitorSpec declares the monitors list.
var MonitorSpec = list.Spec{
	DefaultOrder: "name",
	OrgScoped:    true,
	Searchable:   true,
	Fields: []list.Field{
		{Name: "id", Column: "m.id", Kind: list.Int, Order: true},
		{Name: "organization", Column: "m.organization_id", Kind: list.Int, Order: true},
		textField("name", "m.name", true, false),
		{Name: "check_type", Column: "m.check_type", Kind: list.Enum, Enum: CheckTypes, Filter: true, Order: true},
		textField("url", "m.url", true, false),
		textField("host", "m.host", true, false),
		{Name: "port", Column: "m.port", Kind: list.Int, Order: true, Nullable: true},
		{Name: "interval_seconds", Column: "m.interval_seconds", Kind: list.Int, Order: true},
		{Name: "enabled", Column: "m.enabled", Kind: list.Bool, Filter: true, Order: true},
		{Name: "status", Column: "m.status", Kind: list.Enum, Enum: MonitorStatuses, Filter: true, Order: true},
		{Name: "status_since", Column: "m.status_since", Kind: list.Time, Order: true, Nullable: true},
		{Name: "last_checked_at", Column: "m.last_checked_at", Kind: list.Time, Order: true, Nullable: true},
		{Name: "last_response_ms", Column: "m.last_response_ms", Kind: list.Int, Order: true, Nullable: true},
		{Name: "ssl_expires_at", Column: "m.ssl_expires_at", Kind: list.Time, Order: true, Range: true, Nullable: true},
		{Name: "asset", Column: "m.asset_id", Kind: list.Int, Filter: true, Order: true, Nullable: true},
		{Name: "created_at", Column: "m.created_at", Kind: list.Time, Order: true, Range: true},
		{Name: "updated_at", Column: "m.updated_at", Kind: list.Time, Order: true, Range: true},
	},
}

var monitorConfigCols = []string{"name", "check_type", "url", "host", "port", "http_method", "expected_status", "keyword",
	"expected_address", "follow_redirects", "verify_tls", "interval_seconds", "timeout_seconds", "failure_threshold",
	"success_threshold", "ssl_warning_days", "enabled", "asset_id", "status", "status_since"}

var monitors = &kind[Monitor, *Monitor]{
	table: "monitors", alias: "m", object: "monitor", spec: &MonitorSpec,
	cols: monitorConfigCols,
	values: func(m *Monitor) []any {
		return []any{m.Name, m.CheckType, m.URL, m.Host, m.Port, m.HTTPMethod, m.ExpectedStatus, m.Keyword, m.ExpectedAddress,
			m.FollowRedirects, m.VerifyTLS, m.IntervalSeconds, m.TimeoutSeconds, m.FailureThreshold, m.SuccessThreshold,
			m.SSLWarningDays, m.Enabled, m.AssetID, m.Status, nullTime(m.StatusSince)}
	},
	selectCols: "m." + strings.Join(monitorConfigCols, ", m.") +
		", m.last_checked_at, m.last_response_ms, m.last_status_code, m.last_error, m.ssl_expires_at",
	dest: func(m *Monitor) []any {
		return []any{&m.Name, &m.CheckType, &m.URL, &m.Host, &m.Port, &m.HTTPMethod, &m.ExpectedStatus, &m.Keyword,
			&m.ExpectedAddress, &m.FollowRedirects, &m.VerifyTLS, &m.IntervalSeconds, &m.TimeoutSeconds, &m.FailureThreshold,
			&m.SuccessThreshold, &m.SSLWarningDays, &m.Enabled, &m.AssetID, &m.Status, &m.StatusSince,
			&m.LastCheckedAt, &m.LastResponseMS, &m.LastStatusCode, &m.LastError, &m.SSLExpiresAt}
	},
	view: auth.MonitorsView, create: auth.MonitorsCreate, edit: auth.MonitorsEdit, remove: auth.MonitorsDelete,
	prepare: prepareMonitor,
	fields: func(m *Monitor) map[string]any {
		c := m.Config()
		port := ""
		if m.Port != nil {
			port = strconv.Itoa(*m.Port)
		}
		asset := ""
		if m.AssetID != nil {
			asset = strconv.FormatInt(*m.AssetID, 10)
		}
		return map[string]any{"name": m.Name, "check_type": c.CheckType, "url": c.URL, "host": c.Host, "port": port,
			"http_method": c.HTTPMethod, "expected_status": c.ExpectedStatus, "keyword": c.Keyword, "expected_address": c.ExpectedAddress,
			"follow_redirects": c.FollowRedirects, "verify_tls": c.VerifyTLS, "interval_seconds": c.IntervalSeconds,
			"timeout_seconds": c.TimeoutSeconds, "failure_threshold": m.FailureThreshold, "success_threshold": m.SuccessThreshold,
			"ssl_warning_days": c.SSLWarningDays, "enabled": c.Enabled, "asset": asset}
	},
	repr:     func(m *Monitor) string { return m.Name },
	loadMany: loadUptime,
}

// ParseStatusRanges reads expected_status: comma-separated codes and ranges, e.g. "200-299,301".
func ParseStatusRanges(s string) ([][2]int, error) {
	var out [][2]int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.Atoi(strings.TrimSpace(lo))
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.Atoi(strings.TrimSpace(hi))
		}
		if err1 != nil || err2 != nil || a < 100 || b > 599 || a > b {
			return nil, fmt.Errorf("%q is not a status code or range like 200-299", part)
		}
		out = append(out, [2]int{a, b})
	}
	return out, nil
}

func prepareMonitor(ctx context.Context, q queryer, c *auth.Caller, m *Monitor) error {
	errs := apperr.FieldErrors{}
	m.Name = strings.TrimSpace(m.Name)
	if m.Name == "" || utf8.RuneCountInString(m.Name) > maxShort {
		errs.Add("name", fmt.Sprintf("Give the monitor a name of 1 to %d characters.", maxShort))
	}
	if !slices.Contains(CheckTypes, m.CheckType) {
		errs.Add("check_type", fmt.Sprintf("Choose one of %s.", strings.Join(CheckTypes, ", ")))
	}
	m.HTTPMethod = strings.ToUpper(cmpOrString(m.HTTPMethod, "GET"))
	if m.HTTPMethod != "GET" && m.HTTPMethod != "HEAD" {
		errs.Add("http_method", "Use GET or HEAD.")
	}
	m.ExpectedStatus = cmpOrString(strings.ReplaceAll(m.ExpectedStatus, " ", ""), "200-299")
	if _, err := ParseStatusRanges(m.ExpectedStatus); err != nil {
		errs.Add("expected_status", err.Error()+".")
	}
	switch m.CheckType {
	case "http", "ssl":
		u, err := url.Parse(m.URL)
		okScheme := u != nil && (u.Scheme == "https" || (m.CheckType == "http" && u.Scheme == "http"))
		if err != nil || !okScheme || u.Host == "" || len(m.URL) > 2000 {
			if m.CheckType == "ssl" && m.URL == "" && m.Host != "" {
				break // ssl may name host and port instead
			}
			errs.Add("url", "Enter an absolute "+map[string]string{"http": "http or https", "ssl": "https"}[m.CheckType]+" URL.")
		}
	case "tcp", "icmp", "dns":
		if m.Host == "" || len(m.Host) > 253 || strings.ContainsAny(m.Host, " /\\") {
			errs.Add("host", "Enter a host name or IP address.")
		}
		if m.CheckType == "tcp" && m.Port == nil {
			errs.Add("port", "A TCP check needs a port.")
		}
	}
	if m.Port != nil && (*m.Port < 1 || *m.Port > 65535) {
		errs.Add("port", "Ensure this value is between 1 and 65535.")
	}
	if m.ExpectedAddress != "" {
		if _, ok := NormalizeIP(m.ExpectedAddress); !ok {
			errs.Add("expected_address", "Enter an IPv4 or IPv6 address.")
		}
	}
	m.IntervalSeconds = cmpOrInt(m.IntervalSeconds, 60)
	m.TimeoutSeconds = cmpOrInt(m.TimeoutSeconds, 10)
	m.FailureThreshold = cmpOrInt(m.FailureThreshold, 3)
	m.SuccessThreshold = cmpOrInt(m.SuccessThreshold, 2)
	m.SSLWarningDays = cmpOrInt(m.SSLWarningDays, 14)
	checkInt(errs, "interval_seconds", m.IntervalSeconds, 10, 86400)
	checkInt(errs, "timeout_seconds", m.TimeoutSeconds, 1, 60)
	if m.TimeoutSeconds >= m.IntervalSeconds {
		errs.Add("timeout_seconds", "The timeout must be shorter than the interval.")
	}
	checkInt(errs, "failure_threshold", m.FailureThreshold, 1, 100)
	checkInt(errs, "success_threshold", m.SuccessThreshold, 1, 100)
	checkInt(errs, "ssl_warning_days", m.SSLWarningDays, 0, 365)
	if len(m.Keyword) > 1000 {
		errs.Add("keyword", "Ensure this field has no more than 1000 characters.")
	}
	if err := checkAsset(ctx, q, c, m.OrgID, m.AssetID, errs); err != nil {
		return err
	}
	// Pausing and resuming are status changes made by the owner of the monitor, not by checks.
	switch {
	case !m.Enabled && m.Status != "paused":
		m.Status, m.StatusSince = "paused", nil
	case m.Enabled && (m.Status == "paused" || m.Status == ""):
		m.Status, m.StatusSince = "pending", nil
	}
	return errs.Err()
}

// checkAsset validates an optional link to an asset of the same organization.
func checkAsset(ctx context.Context, q queryer, c *auth.Caller, org int64, asset *int64, errs apperr.FieldErrors) error {
	if asset == nil {
		return nil
	}
	var assetOrg int64
	err := q.QueryRowContext(ctx, `SELECT organization_id FROM assets WHERE id = $1`, *asset).Scan(&assetOrg)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if assetOrg != org || !c.Can(assetOrg, auth.AssetsView) {
		errs.Add("asset", fmt.Sprintf("Invalid pk \"%d\" - object does not exist.", *asset))
	}
	return nil
}

func checkInt(errs apperr.FieldErrors, name string, v, lo, hi int) {
	if v < lo || v > hi {
		errs.Add(name, fmt.Sprintf("Ensure this value is between %d and %d.", lo, hi))
	}
}

func cmpOrString(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func cmpOrInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// uptimeWindows are the windows of the uptime fields.
var uptimeWindows = []time.Duration{24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour}

// loadUptime computes uptime percentages for a page of monitors from the hourly rollups, in one query.
func loadUptime(ctx context.Context, q queryer, s *Store, items []*Monitor) error {
	byID := make(map[int64]*Monitor, len(items))
	ids := make([]int64, len(items))
	for i, m := range items {
		byID[m.ID], ids[i] = m, m.ID
	}
	now := s.Now()
	var sel query
	sel.add(`SELECT monitor_id,
		SUM(CASE WHEN hour >= ? THEN up_checks ELSE 0 END), SUM(CASE WHEN hour >= ? THEN checks ELSE 0 END),
		SUM(CASE WHEN hour >= ? THEN up_checks ELSE 0 END), SUM(CASE WHEN hour >= ? THEN checks ELSE 0 END),
		SUM(up_checks), SUM(checks)
		FROM monitor_rollups WHERE hour >= ? AND `,
		hourOf(now.Add(-uptimeWindows[0])), hourOf(now.Add(-uptimeWindows[0])),
		hourOf(now.Add(-uptimeWindows[1])), hourOf(now.Add(-uptimeWindows[1])), hourOf(now.Add(-uptimeWindows[2])))
	sel.inList("monitor_id", ids)
	sel.add(" GROUP BY monitor_id")
	rows, err := q.QueryContext(ctx, sel.String(), sel.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var v [6]int64
		if err := rows.Scan(&id, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]); err != nil {
			return err
		}
		m := byID[id]
		m.Uptime24h, m.Uptime7d, m.Uptime30d = percent(v[0], v[1]), percent(v[2], v[3]), percent(v[4], v[5])
	}
	return rows.Err()
}

func percent(up, total int64) *float64 {
	if total == 0 {
		return nil
	}
	p := math.Round(float64(up)*10000/float64(total)) / 100
	return &p
}

// hourOf truncates to the hour, the rollups' bucket.
func hourOf(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }

// ListMonitors pages the monitors the caller may view, with their state and uptime.
func (s *Store) ListMonitors(ctx context.Context, q list.Query) ([]Monitor, int, error) {
	return listScoped(ctx, s, monitors, q)
}

// GetMonitor reads one monitor.
func (s *Store) GetMonitor(ctx context.Context, id int64) (Monitor, error) {
	return monitors.get(ctx, s, id)
}

// CreateMonitor creates a monitor; the scheduler picks it up at once.
func (s *Store) CreateMonitor(ctx context.Context, m Monitor) (Monitor, error) {
	m, err := createScoped(ctx, s, monitors, m)
	if err == nil {
		s.monitorChanged(m.ID)
	}
	return m, err
}

// UpdateMonitor changes a monitor; the scheduler follows at once.
func (s *Store) UpdateMonitor(ctx context.Context, id int64, change func(*Monitor) error) (Monitor, error) {
	m, err := updateScoped(ctx, s, monitors, id, change)
	if err == nil {
		s.monitorChanged(id)
	}
	return m, err
}

// DeleteMonitor deletes a monitor and its history.
func (s *Store) DeleteMonitor(ctx context.Context, id int64) error {
	err := deleteScoped(ctx, s, monitors, id)
	if err == nil {
		s.monitorChanged(id)
	}
	return err
}

// OnMonitorChange registers the scheduler's callback for monitors created, changed or deleted,
// here or (through the notifier) on another node sharing the database.
func (s *Store) OnMonitorChange(fn func(id int64)) { s.monitorHook.Store(&fn) }

// monitorChanged tells this node's scheduler at once and the other nodes' right after the commit.
func (s *Store) monitorChanged(id int64) {
	s.runMonitorHook(id)
	if s.nodes != nil {
		s.nodes.Notify(topicMonitor, strconv.FormatInt(id, 10))
	}
}

func (s *Store) runMonitorHook(id int64) {
	if fn := s.monitorHook.Load(); fn != nil {
		(*fn)(id)
	}
}

// MonitorConfigs returns the check configuration of the given monitors, or of every enabled
// monitor when ids is nil. The scheduler runs it; it needs no caller.
func (s *Store) MonitorConfigs(ctx context.Context, ids []int64) ([]MonitorConfig, error) {
	var sel query
	sel.add(`SELECT id, organization_id, check_type, url, host, port, http_method, expected_status, keyword, expected_address,
		follow_redirects, verify_tls, interval_seconds, timeout_seconds, ssl_warning_days, enabled FROM monitors WHERE `)
	if ids == nil {
		sel.add("enabled")
	} else {
		sel.inList("id", ids)
	}
	rows, err := s.r.QueryContext(ctx, sel.String(), sel.args...)
	if err != nil {
		return nil, wrap(err, "monitor configs")
	}
	defer rows.Close()
	var out []MonitorConfig
	for rows.Next() {
		var c MonitorConfig
		if err := rows.Scan(&c.ID, &c.OrgID, &c.CheckType, &c.URL, &c.Host, &c.Port, &c.HTTPMethod, &c.ExpectedStatus, &c.Keyword,
			&c.ExpectedAddress, &c.FollowRedirects, &c.VerifyTLS, &c.IntervalSeconds, &c.TimeoutSeconds, &c.SSLWarningDays, &c.Enabled); err != nil {
			return nil, wrap(err, "monitor configs")
		}
		out = append(out, c)
	}
	return out, wrap(rows.Err(), "monitor configs")
}
