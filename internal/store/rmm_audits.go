package store

import (
	"context"
	"database/sql"
	"slices"
)

// RMMAudit is a device's hardware audit as a vendor client cached it (JSON of the client's shape).
type RMMAudit struct {
	ExternalID string
	Stamp      int64
	Data       []byte
}

// RMMAudits reads the integration's cached audits.
func (s *Store) RMMAudits(ctx context.Context, integration int64) ([]RMMAudit, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT external_id, stamp, data FROM rmm_audits WHERE integration_id = $1`, integration)
	if err != nil {
		return nil, wrap(err, "read audits")
	}
	defer rows.Close()
	var out []RMMAudit
	for rows.Next() {
		var a RMMAudit
		var data string
		if err := rows.Scan(&a.ExternalID, &a.Stamp, &data); err != nil {
			return nil, wrap(err, "read audits")
		}
		a.Data = []byte(data)
		out = append(out, a)
	}
	return out, wrap(rows.Err(), "read audits")
}

// SaveRMMAudits stores audits read by a sync, a few hundred per statement.
func (s *Store) SaveRMMAudits(ctx context.Context, integration int64, audits []RMMAudit) error {
	return wrap(s.db.Tx(ctx, func(tx *sql.Tx) error {
		for chunk := range slices.Chunk(audits, 200) {
			q := (&query{}).add(`INSERT INTO rmm_audits (integration_id, external_id, stamp, data) VALUES `)
			for i, a := range chunk {
				if i > 0 {
					q.add(", ")
				}
				q.add("(?, ?, ?, ?)", integration, a.ExternalID, a.Stamp, string(a.Data))
			}
			q.add(` ON CONFLICT (integration_id, external_id) DO UPDATE SET stamp = excluded.stamp, data = excluded.data`)
			if err := execQuery(ctx, tx, q); err != nil {
				return err
			}
		}
		return nil
	}), "save audits")
}
