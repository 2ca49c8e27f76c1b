-- +goose Up
-- The nodes serving one installation, by heartbeat: monitors are divided among those seen lately.
-- One node on SQLite has the table to itself.
CREATE TABLE node_heartbeats (
    node_id      TEXT PRIMARY KEY,
    started_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE node_heartbeats;
