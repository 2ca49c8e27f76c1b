-- +goose Up
-- An invitation to join an organization with a role, by a one-time link (its token is stored as a
-- digest, like session tokens).
CREATE TABLE invitations (
    id              INTEGER PRIMARY KEY,
    organization_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email           TEXT NOT NULL,
    role_id         INTEGER NOT NULL REFERENCES roles (id),
    digest          TEXT NOT NULL,
    created_by      INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at      TIMESTAMP NOT NULL,
    expires_at      TIMESTAMP NOT NULL,
    accepted_at     TIMESTAMP
);
CREATE UNIQUE INDEX invitations__digest_key ON invitations (digest);
CREATE INDEX invitations_organization_id ON invitations (organization_id);
CREATE INDEX invitations_role_id ON invitations (role_id);

-- The dashboard's certificate and sync-run lists, and the monitors list's ssl_expires_at range.
CREATE INDEX monitors_ssl_expires_at ON monitors (ssl_expires_at);
CREATE INDEX integration_runs_org_started ON integration_runs (organization_id, started_at);
CREATE INDEX integration_runs_started_at ON integration_runs (started_at);

-- +goose Down
DROP INDEX integration_runs_started_at;
DROP INDEX integration_runs_org_started;
DROP INDEX monitors_ssl_expires_at;
DROP TABLE invitations;
