-- +goose Up
CREATE TABLE integrations (
    id                      INTEGER PRIMARY KEY,
    organization_id         INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name                    TEXT NOT NULL,
    provider                TEXT NOT NULL,
    base_url                TEXT NOT NULL,
    credentials             BLOB,
    sync_interval_minutes   INTEGER NOT NULL DEFAULT 60,
    enabled                 BOOLEAN NOT NULL DEFAULT TRUE,
    organization_mapping    TEXT NOT NULL DEFAULT '{}',
    default_organization_id INTEGER REFERENCES organizations (id) ON DELETE SET NULL,
    last_sync_at            TIMESTAMP,
    last_sync_status        TEXT NOT NULL DEFAULT '',
    created_at              TIMESTAMP NOT NULL,
    updated_at              TIMESTAMP NOT NULL
);
CREATE INDEX integrations_org_name ON integrations (organization_id, name);
CREATE INDEX integrations_name ON integrations (name);
CREATE INDEX integrations_provider_name ON integrations (provider, name);
CREATE INDEX integrations_enabled ON integrations (enabled, last_sync_at);
CREATE INDEX integrations_default_organization_id ON integrations (default_organization_id);

CREATE TABLE integration_runs (
    id              INTEGER PRIMARY KEY,
    integration_id  INTEGER NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    organization_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    status          TEXT NOT NULL,
    started_by      TEXT NOT NULL,
    dry_run         BOOLEAN NOT NULL DEFAULT FALSE,
    started_at      TIMESTAMP NOT NULL,
    finished_at     TIMESTAMP,
    devices_seen    INTEGER NOT NULL DEFAULT 0,
    devices_created INTEGER NOT NULL DEFAULT 0,
    devices_updated INTEGER NOT NULL DEFAULT 0,
    devices_retired INTEGER NOT NULL DEFAULT 0,
    devices_skipped INTEGER NOT NULL DEFAULT 0,
    error           TEXT NOT NULL DEFAULT '',
    summary         TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX integration_runs_integration ON integration_runs (integration_id, id);
CREATE UNIQUE INDEX integration_runs__running_key ON integration_runs (integration_id) WHERE status = 'running';

CREATE TABLE rmm_devices (
    id              INTEGER PRIMARY KEY,
    integration_id  INTEGER NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    organization_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    external_id     TEXT NOT NULL,
    asset_id        INTEGER REFERENCES assets (id) ON DELETE SET NULL,
    name            TEXT NOT NULL DEFAULT '',
    hostname        TEXT NOT NULL DEFAULT '',
    serial_number   TEXT NOT NULL DEFAULT '',
    mac_address     TEXT,
    ip_address      TEXT,
    os_name         TEXT NOT NULL DEFAULT '',
    org_external_id TEXT NOT NULL DEFAULT '',
    site_name       TEXT NOT NULL DEFAULT '',
    address         TEXT NOT NULL DEFAULT '',
    online          BOOLEAN,
    last_seen_at    TIMESTAMP,
    fingerprint     TEXT NOT NULL DEFAULT '',
    gone            BOOLEAN NOT NULL DEFAULT FALSE,
    raw             TEXT NOT NULL DEFAULT '{}',
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX rmm_devices__integration_external_key ON rmm_devices (integration_id, external_id);
CREATE INDEX rmm_devices_asset_id ON rmm_devices (asset_id);
CREATE INDEX rmm_devices_organization_id ON rmm_devices (organization_id);

CREATE TABLE rmm_alerts (
    id              INTEGER PRIMARY KEY,
    integration_id  INTEGER NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    organization_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    external_id     TEXT NOT NULL,
    device_id       INTEGER REFERENCES rmm_devices (id) ON DELETE SET NULL,
    asset_id        INTEGER REFERENCES assets (id) ON DELETE SET NULL,
    priority        TEXT NOT NULL DEFAULT '',
    message         TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL,
    opened_at       TIMESTAMP,
    resolved_at     TIMESTAMP,
    raw             TEXT NOT NULL DEFAULT '{}',
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX rmm_alerts__integration_external_key ON rmm_alerts (integration_id, external_id);
CREATE INDEX rmm_alerts_org_status ON rmm_alerts (organization_id, status, opened_at);
CREATE INDEX rmm_alerts_status ON rmm_alerts (status, opened_at);
CREATE INDEX rmm_alerts_asset_id ON rmm_alerts (asset_id);
CREATE INDEX rmm_alerts_device_id ON rmm_alerts (device_id);

-- +goose Down
DROP TABLE rmm_alerts;
DROP TABLE rmm_devices;
DROP TABLE integration_runs;
DROP TABLE integrations;
