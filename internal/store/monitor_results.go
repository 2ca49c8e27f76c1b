package store

import (
	"context"
	"database/sql"
	"time"

	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
	"clientst0r/internal/list"
)

// CheckResult is the outcome of one check.
type CheckResult struct {
	MonitorID    int64
	CheckedAt    time.Time
	Up           bool
	ResponseMS   *int
	StatusCode   *int
	Error        string
	SSLExpiresAt *time.Time
	// Due is when the check should have started (scheduler lateness); zero for manual checks.
	Due time.Time
}

// MonitorResultSpec declares a monitor's check history.
var MonitorResultSpec = list.Spec{
	DefaultOrder: "-checked_at",
	Fields: []list.Field{
		{Name: "id", Column: "r.id", Kind: list.Int, Order: true},
		{Name: "checked_at", Column: "r.checked_at", Kind: list.Time, Order: true, Range: true},
		{Name: "up", Column: "r.up", Kind: list.Bool, Filter: true, Order: true},
		{Name: "response_ms", Column: "r.response_ms", Kind: list.Int, Order: true, Nullable: true},
		{Name: "status_code", Column: "r.status_code", Kind: list.Int, Filter: true, Order: true, Nullable: true},
	},
}

// ListMonitorResults pages a monitor's check history.
func (s *Store) ListMonitorResults(ctx context.Context, monitorID int64, q list.Query) ([]CheckResult, int, error) {
	if _, err := s.GetMonitor(ctx, monitorID); err != nil {
		return nil, 0, err
	}
	l := listing{table: "monitor_results", alias: "r", from: "monitor_results r",
		columns: "r.monitor_id, r.checked_at, r.up, r.response_ms, r.status_code, r.error"}
	l.where.add("r.monitor_id = ?", monitorID)
	var out []CheckResult
	n, err := s.runList(ctx, &MonitorResultSpec, q, &l, func(r *sql.Rows) error {
		var c CheckResult
		err := r.Scan(&c.MonitorID, &c.CheckedAt, &c.Up, &c.ResponseMS, &c.StatusCode, &c.Error)
		c.CheckedAt = c.CheckedAt.UTC()
		out = append(out, c)
		return err
	})
	return out, n, err
}

// monitorState is what a transition needs to know about a monitor.
type monitorState struct {
	name, target, status string
	orgID                int64
	orgName              string
	since                *time.Time
	failures, successes  int
	failAt, succeedAt    int
	enabled              bool
}

// RecordMonitorResults stores a batch of results in one transaction: history, hourly rollups and
// each monitor's state, moving it down after failure_threshold consecutive failures and back up after
// success_threshold successes (the first result decides from pending), and emitting monitor.down and
// monitor.up once per transition. The result writer and manual checks call it; it needs no caller.
func (s *Store) RecordMonitorResults(ctx context.Context, results []CheckResult) error {
	if len(results) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(results))
	for _, r := range results {
		ids = append(ids, r.MonitorID)
	}
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		states, err := s.loadMonitorStates(ctx, tx, ids)
		if err != nil {
			return err
		}
		for _, r := range results {
			st := states[r.MonitorID]
			if st == nil {
				continue // deleted meanwhile
			}
			if err := s.recordResult(ctx, tx, r, st); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		s.changed("monitors")
	}
	return wrap(err, "record monitor results")
}

// loadMonitorStates reads and, on PostgreSQL, locks the monitors' states in id order: two nodes
// writing results for one monitor (while it moves between them) then take turns, and a transition
// is decided, and its event sent, once.
func (s *Store) loadMonitorStates(ctx context.Context, tx *sql.Tx, ids []int64) (map[int64]*monitorState, error) {
	var sel query
	sel.add(`SELECT m.id, m.name, m.check_type, m.url, m.host, m.port, m.status, m.status_since, m.consecutive_failures,
		m.consecutive_successes, m.failure_threshold, m.success_threshold, m.enabled, m.organization_id, o.name
		FROM monitors m JOIN organizations o ON o.id = m.organization_id WHERE `)
	sel.inList("m.id", ids)
	sel.add(" ORDER BY m.id" + s.forUpdateOf("m"))
	rows, err := tx.QueryContext(ctx, sel.String(), sel.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]*monitorState{}
	for rows.Next() {
		var (
			id int64
			st monitorState
			c  MonitorConfig
		)
		if err := rows.Scan(&id, &st.name, &c.CheckType, &c.URL, &c.Host, &c.Port, &st.status, &st.since, &st.failures,
			&st.successes, &st.failAt, &st.succeedAt, &st.enabled, &st.orgID, &st.orgName); err != nil {
			return nil, err
		}
		st.target = c.Target()
		out[id] = &st
	}
	return out, rows.Err()
}

func (s *Store) recordResult(ctx context.Context, tx *sql.Tx, r CheckResult, st *monitorState) error {
	at := r.CheckedAt.UTC().Truncate(time.Microsecond)
	if _, err := tx.ExecContext(ctx, `INSERT INTO monitor_results (monitor_id, checked_at, up, response_ms, status_code, error)
		VALUES ($1, $2, $3, $4, $5, $6)`, r.MonitorID, at, r.Up, r.ResponseMS, r.StatusCode, clean(r.Error, 1000)); err != nil {
		return err
	}
	ms, up := 0, 0
	if r.ResponseMS != nil {
		ms = *r.ResponseMS
	}
	if r.Up {
		up = 1
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO monitor_rollups (monitor_id, hour, checks, up_checks, total_ms) VALUES ($1, $2, 1, $3, $4)
		ON CONFLICT (monitor_id, hour) DO UPDATE SET checks = monitor_rollups.checks + 1,
		up_checks = monitor_rollups.up_checks + excluded.up_checks, total_ms = monitor_rollups.total_ms + excluded.total_ms`,
		r.MonitorID, hourOf(at), up, ms); err != nil {
		return err
	}

	if r.Up {
		st.successes, st.failures = st.successes+1, 0
	} else {
		st.failures, st.successes = st.failures+1, 0
	}
	var event string
	previous := st.since
	switch {
	case !st.enabled: // paused: history only
	case st.status == "pending":
		st.status, st.since = map[bool]string{true: "up", false: "down"}[r.Up], &at
		if !r.Up {
			event = EventMonitorDown
		}
	case st.status == "up" && st.failures >= st.failAt:
		st.status, st.since, event = "down", &at, EventMonitorDown
	case st.status == "down" && st.successes >= st.succeedAt:
		st.status, st.since, event = "up", &at, EventMonitorUp
	}
	if _, err := tx.ExecContext(ctx, `UPDATE monitors SET status = $1, status_since = $2, consecutive_failures = $3,
		consecutive_successes = $4, last_checked_at = $5, last_response_ms = $6, last_status_code = $7, last_error = $8,
		ssl_expires_at = COALESCE($9, ssl_expires_at) WHERE id = $10`, st.status, nullTime(st.since), st.failures, st.successes,
		at, r.ResponseMS, r.StatusCode, clean(r.Error, 1000), nullTime(r.SSLExpiresAt), r.MonitorID); err != nil {
		return err
	}
	if event == "" {
		return nil
	}
	data := map[string]any{"monitor_id": r.MonitorID, "name": st.name, "url": st.target, "status_code": r.StatusCode,
		"checked_at": at.Format(time.RFC3339)}
	if event == EventMonitorDown {
		data["error"] = r.Error
	} else if previous != nil {
		data["down_seconds"] = int(at.Sub(*previous).Seconds())
	}
	return s.RecordEvent(ctx, tx, EventOrg{st.orgID, st.orgName}, event, data)
}

// CanCheck reports whether the caller may run a monitor's check now (monitors.edit).
func (s *Store) CanCheck(ctx context.Context, id int64) (MonitorConfig, error) {
	m, err := s.GetMonitor(ctx, id)
	if err != nil {
		return MonitorConfig{}, err
	}
	if !auth.CallerFrom(ctx).Can(m.OrgID, auth.MonitorsEdit) {
		return MonitorConfig{}, apperr.ErrForbidden
	}
	return m.Config(), nil
}

// PruneMonitorHistory deletes results older than keepResults and rollups older than keepRollups.
func (s *Store) PruneMonitorHistory(ctx context.Context, keepResults, keepRollups time.Duration) error {
	now := s.Now()
	return wrap(s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM monitor_results WHERE checked_at < $1`, now.Add(-keepResults)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM monitor_rollups WHERE hour < $1`, hourOf(now.Add(-keepRollups)))
		return err
	}), "prune monitor history")
}
