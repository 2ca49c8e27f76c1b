package store

import (
	"context"
	"database/sql"
	"slices"
	"time"

	"clientst0r/internal/auth"
)

// Dashboard is what the home page shows for one organization or all the caller reaches. A section
// is nil when the caller may not see that resource there.
type Dashboard struct {
	Assets          *AssetCounts
	Monitors        *MonitorHealth
	Vulnerabilities map[string]int // open findings by severity ("" unscored)
	Breached        *int           // vault entries whose password is in the breach corpus
	Runs            []DashboardRun
}

// AssetCounts counts assets by status and type.
type AssetCounts struct {
	Total    int
	ByStatus map[string]int
	ByType   []Count
}

// Count is one group's size.
type Count struct {
	Name string
	N    int
}

// MonitorHealth lists the monitors that need a look.
type MonitorHealth struct {
	Total    int
	Down     []Monitor
	Expiring []Monitor // certificates expiring within 30 days
}

// DashboardRun is a recent sync run with its integration's name.
type DashboardRun struct {
	SyncRun
	Integration string
}

// scopeFor renders the organizations where the caller has p, narrowed to org when not 0; ok is
// false when that leaves none.
func scopeFor(c *auth.Caller, p auth.Perm, org int64, col string) (*query, bool) {
	q := &query{}
	if org != 0 {
		if !c.Can(org, p) {
			return nil, false
		}
		q.add(col+" = ?", org)
		return q, true
	}
	all, orgs := c.Scope(p)
	switch {
	case all:
		q.add("TRUE")
	case len(orgs) == 0:
		return nil, false
	default:
		q.inList(col, orgs)
	}
	return q, true
}

// Dashboard gathers the home page's figures for org (0: every organization the caller reaches).
func (s *Store) Dashboard(ctx context.Context, org int64) (Dashboard, error) {
	var d Dashboard
	c, err := caller(ctx)
	if err != nil {
		return d, err
	}
	// within renders "SELECT … WHERE <scope> AND <rest>" with rest's own arguments.
	within := func(w *query, sel, rest string, args ...any) *query {
		return (&query{args: slices.Clone(w.args)}).add(sel+" WHERE "+w.String()+" "+rest, args...)
	}
	if w, ok := scopeFor(c, auth.AssetsView, org, "organization_id"); ok {
		a := &AssetCounts{ByStatus: map[string]int{}}
		err := eachRow(ctx, s.r, within(w, `SELECT status, count(*) FROM assets`, `GROUP BY status`), func(r *sql.Rows) error {
			var st string
			var n int
			err := r.Scan(&st, &n)
			a.ByStatus[st], a.Total = n, a.Total+n
			return err
		})
		if err == nil {
			err = eachRow(ctx, s.r, within(w, `SELECT asset_type, count(*) FROM assets`, `GROUP BY asset_type ORDER BY count(*) DESC, asset_type LIMIT 8`),
				func(r *sql.Rows) error {
					var n Count
					err := r.Scan(&n.Name, &n.N)
					a.ByType = append(a.ByType, n)
					return err
				})
		}
		if err != nil {
			return d, wrap(err, "dashboard assets")
		}
		d.Assets = a
	}
	if w, ok := scopeFor(c, auth.MonitorsView, org, "m.organization_id"); ok {
		h := &MonitorHealth{}
		err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM monitors m WHERE `+w.String(), w.args...).Scan(&h.Total)
		sel := `SELECT ` + monitors.columns() + ` FROM ` + monitors.from()
		for _, part := range []struct {
			q    *query
			into *[]Monitor
		}{
			{within(w, sel, `AND m.status = 'down' ORDER BY m.status_since LIMIT 10`), &h.Down},
			{within(w, sel, `AND m.ssl_expires_at < ? ORDER BY m.ssl_expires_at LIMIT 10`, s.Now().Add(30*24*time.Hour)), &h.Expiring},
		} {
			if err != nil {
				break
			}
			err = eachRow(ctx, s.r, part.q, func(r *sql.Rows) error {
				m, err := monitors.scanRow(r)
				if err == nil {
					*part.into = append(*part.into, *m)
				}
				return err
			})
		}
		if err != nil {
			return d, wrap(err, "dashboard monitors")
		}
		d.Monitors = h
	}
	if w, ok := scopeFor(c, auth.VulnerabilitiesView, org, "organization_id"); ok {
		d.Vulnerabilities = map[string]int{}
		if err := eachRow(ctx, s.r, within(w, `SELECT severity, count(*) FROM vulnerabilities`, `AND status = 'open' GROUP BY severity`),
			func(r *sql.Rows) error {
				var sev string
				var n int
				err := r.Scan(&sev, &n)
				d.Vulnerabilities[sev] = n
				return err
			}); err != nil {
			return d, wrap(err, "dashboard vulnerabilities")
		}
	}
	if w, ok := scopeFor(c, auth.VaultView, org, "organization_id"); ok {
		var n int
		q := within(w, `SELECT count(*) FROM passwords`, `AND breach_status = 'breached'`)
		if err := s.r.QueryRowContext(ctx, q.String(), q.args...).Scan(&n); err != nil {
			return d, wrap(err, "dashboard vault")
		}
		d.Breached = &n
	}
	if w, ok := scopeFor(c, auth.IntegrationsView, org, "r.organization_id"); ok {
		q := within(w, `SELECT r.id, r.integration_id, r.organization_id, r.status, r.started_by, r.dry_run, r.started_at, r.finished_at,
			r.devices_seen, r.devices_created, r.devices_updated, r.devices_retired, r.devices_skipped, r.error, i.name
			FROM integration_runs r JOIN integrations i ON i.id = r.integration_id`, `ORDER BY r.started_at DESC LIMIT 5`)
		if err := eachRow(ctx, s.r, q, func(rows *sql.Rows) error {
			var x DashboardRun
			err := rows.Scan(&x.ID, &x.IntegrationID, &x.OrgID, &x.Status, &x.StartedBy, &x.DryRun, &x.StartedAt, &x.FinishedAt,
				&x.Seen, &x.Created, &x.Updated, &x.Retired, &x.Skipped, &x.Error, &x.Integration)
			d.Runs = append(d.Runs, x)
			return err
		}); err != nil {
			return d, wrap(err, "dashboard runs")
		}
	}
	return d, nil
}
