-- +goose Up
-- Rate-limit counts shared by the nodes of one PostgreSQL installation (see the PostgreSQL
-- migration). Unused on SQLite, where the one node counts in memory (auth.Limiter); the table is
-- here so both schemas match.
CREATE TABLE rate_counters (
    bucket       TEXT NOT NULL,
    window_start TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL,
    n            INTEGER NOT NULL,
    PRIMARY KEY (bucket, window_start)
);

-- +goose Down
DROP TABLE rate_counters;
