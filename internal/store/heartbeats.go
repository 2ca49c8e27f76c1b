package store

import (
	"context"
	"database/sql"
	"time"
)

// Heartbeat records that a node is alive and returns the nodes seen within live, itself included,
// sorted by id.
func (s *Store) Heartbeat(ctx context.Context, node string, started time.Time, live time.Duration) ([]string, error) {
	now := s.Now()
	var nodes []string
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO node_heartbeats (node_id, started_at, last_seen_at) VALUES ($1, $2, $3)
			ON CONFLICT (node_id) DO UPDATE SET last_seen_at = excluded.last_seen_at`, node, started, now); err != nil {
			return err
		}
		// Nodes gone for a day leave the table.
		if _, err := tx.ExecContext(ctx, `DELETE FROM node_heartbeats WHERE last_seen_at < $1`, now.Add(-24*time.Hour)); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT node_id FROM node_heartbeats WHERE last_seen_at >= $1 ORDER BY node_id`, now.Add(-live))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			nodes = append(nodes, id)
		}
		return rows.Err()
	})
	return nodes, wrap(err, "heartbeat")
}

// LeaveNodes removes a stopping node at once, so the others take its work over without waiting for
// its heartbeat to age.
func (s *Store) LeaveNodes(ctx context.Context, node string) error {
	return wrap(s.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM node_heartbeats WHERE node_id = $1`, node)
		return err
	}), "leave")
}
