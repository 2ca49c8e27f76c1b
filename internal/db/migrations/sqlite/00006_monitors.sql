-- +goose Up
CREATE TABLE monitors (
    id                    INTEGER PRIMARY KEY,
    organization_id       INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name                  TEXT NOT NULL,
    check_type            TEXT NOT NULL,
    url                   TEXT NOT NULL DEFAULT '',
    host                  TEXT NOT NULL DEFAULT '',
    port                  INTEGER,
    http_method           TEXT NOT NULL DEFAULT 'GET',
    expected_status       TEXT NOT NULL DEFAULT '200-299',
    keyword               TEXT NOT NULL DEFAULT '',
    expected_address      TEXT NOT NULL DEFAULT '',
    follow_redirects      BOOLEAN NOT NULL DEFAULT TRUE,
    verify_tls            BOOLEAN NOT NULL DEFAULT TRUE,
    interval_seconds      INTEGER NOT NULL DEFAULT 60,
    timeout_seconds       INTEGER NOT NULL DEFAULT 10,
    failure_threshold     INTEGER NOT NULL DEFAULT 3,
    success_threshold     INTEGER NOT NULL DEFAULT 2,
    ssl_warning_days      INTEGER NOT NULL DEFAULT 14,
    enabled               BOOLEAN NOT NULL DEFAULT TRUE,
    asset_id              INTEGER REFERENCES assets (id) ON DELETE SET NULL,
    status                TEXT NOT NULL DEFAULT 'pending',
    status_since          TIMESTAMP,
    consecutive_failures  INTEGER NOT NULL DEFAULT 0,
    consecutive_successes INTEGER NOT NULL DEFAULT 0,
    last_checked_at       TIMESTAMP,
    last_response_ms      INTEGER,
    last_status_code      INTEGER,
    last_error            TEXT NOT NULL DEFAULT '',
    ssl_expires_at        TIMESTAMP,
    created_at            TIMESTAMP NOT NULL,
    updated_at            TIMESTAMP NOT NULL,
    search_text           TEXT GENERATED ALWAYS AS (lower(name || char(10) || url || char(10) || host)) VIRTUAL
);
CREATE INDEX monitors_org_name ON monitors (organization_id, name);
CREATE INDEX monitors_name ON monitors (name);
CREATE INDEX monitors_check_type_name ON monitors (check_type, name);
CREATE INDEX monitors_status_name ON monitors (status, name);
CREATE INDEX monitors_enabled ON monitors (enabled);
CREATE INDEX monitors_asset_id ON monitors (asset_id);
CREATE INDEX monitors_updated_at ON monitors (updated_at);
CREATE INDEX monitors_created_at ON monitors (created_at);

CREATE VIRTUAL TABLE monitors_fts USING fts5(
    search_text, content='monitors', content_rowid='id', tokenize='trigram'
);
-- +goose StatementBegin
CREATE TRIGGER monitors_fts_insert AFTER INSERT ON monitors BEGIN
    INSERT INTO monitors_fts (rowid, search_text) VALUES (new.id, new.search_text);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER monitors_fts_delete AFTER DELETE ON monitors BEGIN
    INSERT INTO monitors_fts (monitors_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER monitors_fts_update AFTER UPDATE OF name, url, host ON monitors BEGIN
    INSERT INTO monitors_fts (monitors_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
    INSERT INTO monitors_fts (rowid, search_text) VALUES (new.id, new.search_text);
END;
-- +goose StatementEnd

CREATE TABLE monitor_results (
    id          INTEGER PRIMARY KEY,
    monitor_id  INTEGER NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    checked_at  TIMESTAMP NOT NULL,
    up          BOOLEAN NOT NULL,
    response_ms INTEGER,
    status_code INTEGER,
    error       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX monitor_results_monitor ON monitor_results (monitor_id, checked_at);
CREATE INDEX monitor_results_checked_at ON monitor_results (checked_at);

CREATE TABLE monitor_rollups (
    monitor_id  INTEGER NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    hour        TIMESTAMP NOT NULL,
    checks      INTEGER NOT NULL,
    up_checks   INTEGER NOT NULL,
    total_ms    INTEGER NOT NULL,
    PRIMARY KEY (monitor_id, hour)
);
CREATE INDEX monitor_rollups_hour ON monitor_rollups (hour);

-- +goose Down
DROP TABLE monitor_rollups;
DROP TABLE monitor_results;
DROP TABLE monitors_fts;
DROP TABLE monitors;
