-- +goose Up
CREATE TABLE app_meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE organizations (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    slug        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    is_active   BOOLEAN NOT NULL DEFAULT TRUE,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    search_text TEXT GENERATED ALWAYS AS (lower(name || char(10) || slug)) VIRTUAL
);
CREATE UNIQUE INDEX organizations__name_key ON organizations (lower(name));
CREATE UNIQUE INDEX organizations__slug_key ON organizations (slug);
CREATE INDEX organizations_created_at ON organizations (created_at);
CREATE INDEX organizations_updated_at ON organizations (updated_at);

CREATE VIRTUAL TABLE organizations_fts USING fts5(
    search_text, content='organizations', content_rowid='id', tokenize='trigram'
);
-- +goose StatementBegin
CREATE TRIGGER organizations_fts_insert AFTER INSERT ON organizations BEGIN
    INSERT INTO organizations_fts (rowid, search_text) VALUES (new.id, new.search_text);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER organizations_fts_delete AFTER DELETE ON organizations BEGIN
    INSERT INTO organizations_fts (organizations_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER organizations_fts_update AFTER UPDATE OF name, slug ON organizations BEGIN
    INSERT INTO organizations_fts (organizations_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
    INSERT INTO organizations_fts (rowid, search_text) VALUES (new.id, new.search_text);
END;
-- +goose StatementEnd

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL,
    name          TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL DEFAULT '',
    is_superuser  BOOLEAN NOT NULL DEFAULT FALSE,
    is_active     BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX users__email_key ON users (email);

CREATE TABLE roles (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    permissions TEXT NOT NULL DEFAULT '[]',
    builtin     BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX roles__name_key ON roles (name);
INSERT INTO roles (id, name, builtin, created_at, updated_at) VALUES
    (1, 'owner', TRUE, '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00'),
    (2, 'admin', TRUE, '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00'),
    (3, 'editor', TRUE, '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00'),
    (4, 'readonly', TRUE, '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00');

CREATE TABLE memberships (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    organization_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    role_id         INTEGER NOT NULL REFERENCES roles (id),
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX memberships__user_organization_key ON memberships (user_id, organization_id);
CREATE INDEX memberships_organization_id ON memberships (organization_id);
CREATE INDEX memberships_role_id ON memberships (role_id);

CREATE TABLE api_keys (
    id                INTEGER PRIMARY KEY,
    user_id           INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    prefix            TEXT NOT NULL,
    digest            TEXT NOT NULL,
    role_id           INTEGER REFERENCES roles (id),
    all_organizations BOOLEAN NOT NULL DEFAULT TRUE,
    can_reveal        BOOLEAN NOT NULL DEFAULT FALSE,
    rate_limit        INTEGER NOT NULL,
    expires_at        TIMESTAMP,
    revoked_at        TIMESTAMP,
    last_used_at      TIMESTAMP,
    last_used_ip      TEXT,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX api_keys__digest_key ON api_keys (digest);
CREATE INDEX api_keys_user_id ON api_keys (user_id);
CREATE INDEX api_keys_role_id ON api_keys (role_id);

CREATE TABLE api_key_organizations (
    api_key_id      INTEGER NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    organization_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    PRIMARY KEY (api_key_id, organization_id)
);
CREATE INDEX api_key_organizations_organization_id ON api_key_organizations (organization_id);

CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY,
    digest       TEXT NOT NULL,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    ip_address   TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX sessions__digest_key ON sessions (digest);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE audit_log (
    id              INTEGER PRIMARY KEY,
    timestamp       TIMESTAMP NOT NULL,
    actor_id        INTEGER,
    actor_email     TEXT NOT NULL DEFAULT '',
    api_key_prefix  TEXT NOT NULL DEFAULT '',
    ip_address      TEXT NOT NULL DEFAULT '',
    user_agent      TEXT NOT NULL DEFAULT '',
    organization_id INTEGER,
    action          TEXT NOT NULL,
    object_type     TEXT NOT NULL DEFAULT '',
    object_id       INTEGER,
    object_repr     TEXT NOT NULL DEFAULT '',
    changes         TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_organization_id ON audit_log (organization_id, timestamp);
CREATE INDEX audit_log_timestamp ON audit_log (timestamp);
CREATE INDEX audit_log_action ON audit_log (action);
CREATE INDEX audit_log_object ON audit_log (object_type, object_id);
CREATE INDEX audit_log_actor_id ON audit_log (actor_id);

CREATE TABLE idempotency_keys (
    id            INTEGER PRIMARY KEY,
    scope         TEXT NOT NULL,
    key           TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status_code   INTEGER NOT NULL DEFAULT 0,
    response_body TEXT NOT NULL DEFAULT '',
    location      TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX idempotency_keys__scope_key_key ON idempotency_keys (scope, key);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE audit_log;
DROP TABLE sessions;
DROP TABLE api_key_organizations;
DROP TABLE api_keys;
DROP TABLE memberships;
DROP TABLE roles;
DROP TABLE users;
DROP TABLE organizations_fts;
DROP TABLE organizations;
DROP TABLE app_meta;
