-- +goose Up
CREATE TABLE vault_keys (
    id         INTEGER PRIMARY KEY,
    wrapped    BLOB NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE events (
    id              INTEGER PRIMARY KEY,
    public_id       TEXT NOT NULL,
    organization_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    event           TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX events__public_id_key ON events (public_id);
CREATE INDEX events_organization_id ON events (organization_id);
CREATE INDEX events_created_at ON events (created_at);

CREATE TABLE webhooks (
    id                INTEGER PRIMARY KEY,
    organization_id   INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    url               TEXT NOT NULL,
    events            TEXT NOT NULL,
    is_active         BOOLEAN NOT NULL DEFAULT TRUE,
    secret            BLOB,
    previous_secret   BLOB,
    secret_rotated_at TIMESTAMP,
    disabled_reason   TEXT NOT NULL DEFAULT '',
    failing_since     TIMESTAMP,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);
CREATE INDEX webhooks_organization_id ON webhooks (organization_id, is_active);
CREATE INDEX webhooks_name ON webhooks (name);

CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY,
    organization_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    webhook_id      INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id        INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    event           TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    response_status INTEGER,
    response_body   TEXT NOT NULL DEFAULT '',
    duration_ms     INTEGER,
    error           TEXT NOT NULL DEFAULT '',
    next_attempt_at TIMESTAMP,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    delivered_at    TIMESTAMP
);
CREATE INDEX webhook_deliveries_webhook_id ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_event_id ON webhook_deliveries (event_id);
CREATE INDEX webhook_deliveries_organization_id ON webhook_deliveries (organization_id, id);
CREATE INDEX webhook_deliveries_status ON webhook_deliveries (status);
CREATE INDEX webhook_deliveries_created_at ON webhook_deliveries (created_at);

CREATE TABLE webhook_attempts (
    id              INTEGER PRIMARY KEY,
    delivery_id     INTEGER NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempted_at    TIMESTAMP NOT NULL,
    response_status INTEGER,
    response_body   TEXT NOT NULL DEFAULT '',
    duration_ms     INTEGER NOT NULL,
    error           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX webhook_attempts_delivery_id ON webhook_attempts (delivery_id);
CREATE INDEX webhook_attempts_attempted_at ON webhook_attempts (attempted_at);

-- +goose Down
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
DROP TABLE events;
DROP TABLE vault_keys;
