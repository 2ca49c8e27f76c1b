package store

import (
	"context"
	"database/sql"
	"time"

	"clientst0r/internal/auth"
	"clientst0r/internal/list"
)

// SyncAlert is a vendor alert as the sync engine hands it over.
type SyncAlert struct {
	ExternalID       string
	DeviceExternalID string
	Priority         string
	Message          string
	Resolved         bool
	OpenedAt         *time.Time
	ResolvedAt       *time.Time
	Raw              []byte
}

// RMMAlert is an alert as listed.
type RMMAlert struct {
	ID            int64
	OrgID         int64
	IntegrationID int64
	ExternalID    string
	DeviceID      *int64
	DeviceName    *string
	AssetID       *int64
	AssetName     *string
	Priority      string
	Message       string
	Status        string
	OpenedAt      *time.Time
	ResolvedAt    *time.Time
}

// AlertPriorities are Datto's priorities.
var AlertPriorities = []string{"Critical", "High", "Moderate", "Low", "Information", "Unknown"}

// ApplyAlerts stores a page of alerts: upserted by vendor id, tied to the device's organization and
// asset. Alerts of devices the sync does not know (unmapped organizations) are skipped.
func (s *Store) ApplyAlerts(ctx context.Context, integ Integration, alerts []SyncAlert) error {
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		now := s.Now()
		for _, a := range alerts {
			var device, org int64
			var asset *int64
			err := tx.QueryRowContext(ctx, `SELECT id, organization_id, asset_id FROM rmm_devices WHERE integration_id = $1 AND external_id = $2`,
				integ.ID, a.DeviceExternalID).Scan(&device, &org, &asset)
			if err == sql.ErrNoRows {
				continue
			} else if err != nil {
				return err
			}
			status := "open"
			if a.Resolved {
				status = "resolved"
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO rmm_alerts (integration_id, organization_id, external_id, device_id, asset_id, priority,
				message, status, opened_at, resolved_at, raw, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
				ON CONFLICT (integration_id, external_id) DO UPDATE SET organization_id = excluded.organization_id, device_id = excluded.device_id,
				asset_id = excluded.asset_id, priority = excluded.priority, message = excluded.message, status = excluded.status,
				opened_at = excluded.opened_at, resolved_at = excluded.resolved_at, raw = excluded.raw, updated_at = excluded.updated_at`,
				integ.ID, org, a.ExternalID, device, asset, truncate(a.Priority, 50), clean(a.Message, 2000), status, nullTime(a.OpenedAt),
				nullTime(a.ResolvedAt), string(rawOrEmpty(a.Raw)), now); err != nil {
				return err
			}
		}
		return nil
	})
	return wrap(err, "apply alerts")
}

// ResolveMissingAlerts resolves the integration's open alerts the vendor no longer lists as open.
func (s *Store) ResolveMissingAlerts(ctx context.Context, integ Integration, open map[string]bool) error {
	rows, err := s.r.QueryContext(ctx, `SELECT external_id FROM rmm_alerts WHERE integration_id = $1 AND status = 'open'`, integ.ID)
	if err != nil {
		return wrap(err, "open alerts")
	}
	var stale []string
	for rows.Next() {
		var ext string
		if err := rows.Scan(&ext); err != nil {
			rows.Close()
			return wrap(err, "open alerts")
		}
		if !open[ext] {
			stale = append(stale, ext)
		}
	}
	rows.Close()
	if len(stale) == 0 {
		return wrap(rows.Err(), "open alerts")
	}
	return wrap(s.db.Tx(ctx, func(tx *sql.Tx) error {
		for _, ext := range stale {
			if _, err := tx.ExecContext(ctx, `UPDATE rmm_alerts SET status = 'resolved', resolved_at = COALESCE(resolved_at, $1), updated_at = $1
				WHERE integration_id = $2 AND external_id = $3`, s.Now(), integ.ID, ext); err != nil {
				return err
			}
		}
		return nil
	}), "resolve alerts")
}

// RMMAlertSpec declares /api/rmm-alerts/.
var RMMAlertSpec = list.Spec{
	DefaultOrder: "-opened_at",
	OrgScoped:    true,
	Fields: []list.Field{
		{Name: "id", Column: "x.id", Kind: list.Int, Order: true},
		{Name: "status", Column: "x.status", Kind: list.Enum, Enum: []string{"open", "resolved"}, Filter: true, Order: true},
		{Name: "priority", Column: "x.priority", Kind: list.Enum, Enum: AlertPriorities, Filter: true, Order: true},
		{Name: "asset", Column: "x.asset_id", Kind: list.Int, Filter: true, Order: true, Nullable: true},
		{Name: "integration", Column: "x.integration_id", Kind: list.Int, Filter: true, Order: true},
		{Name: "opened_at", Column: "x.opened_at", Kind: list.Time, Order: true, Range: true, Nullable: true},
		{Name: "resolved_at", Column: "x.resolved_at", Kind: list.Time, Order: true, Nullable: true},
	},
}

// ListRMMAlerts pages the alerts of the organizations where the caller may view integrations.
func (s *Store) ListRMMAlerts(ctx context.Context, q list.Query) ([]RMMAlert, int, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, 0, err
	}
	l := listing{table: "rmm_alerts", alias: "x", from: `rmm_alerts x LEFT JOIN rmm_devices d ON d.id = x.device_id
		LEFT JOIN assets a ON a.id = x.asset_id`, countFrom: "rmm_alerts x",
		columns: `x.id, x.organization_id, x.integration_id, x.external_id, x.device_id, d.name, x.asset_id, a.name, x.priority, x.message,
		x.status, x.opened_at, x.resolved_at`}
	if err := s.orgScope(ctx, c, auth.IntegrationsView, "x.organization_id", q.Org, &l.where); err != nil {
		return nil, 0, err
	}
	var out []RMMAlert
	n, err := s.runList(ctx, &RMMAlertSpec, q, &l, func(r *sql.Rows) error {
		var a RMMAlert
		err := r.Scan(&a.ID, &a.OrgID, &a.IntegrationID, &a.ExternalID, &a.DeviceID, &a.DeviceName, &a.AssetID, &a.AssetName, &a.Priority,
			&a.Message, &a.Status, &a.OpenedAt, &a.ResolvedAt)
		out = append(out, a)
		return err
	})
	return out, n, err
}
