-- +goose Up
-- Rate-limit counts shared by the nodes of one installation (the store's RateCounter behind
-- auth.Counter): one row per bucket (counter and key, e.g. "requests:k:12") and fixed window, counted
-- up with INSERT … ON CONFLICT DO UPDATE. UNLOGGED: a count is worth neither a WAL record nor a flush
-- per request, and a crash only forgets the windows in progress. The retention job deletes rows
-- past expires_at. Room is left on each page (fillfactor) so the increments stay HOT updates.
CREATE UNLOGGED TABLE rate_counters (
    bucket       TEXT NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    n            INTEGER NOT NULL,
    PRIMARY KEY (bucket, window_start)
) WITH (fillfactor = 70);

-- +goose Down
DROP TABLE rate_counters;
