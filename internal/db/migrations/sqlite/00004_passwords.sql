-- +goose Up
CREATE TABLE passwords (
    id                  INTEGER PRIMARY KEY,
    organization_id     INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    title               TEXT NOT NULL,
    username            TEXT NOT NULL DEFAULT '',
    url                 TEXT NOT NULL DEFAULT '',
    password_type       TEXT NOT NULL DEFAULT 'website',
    password_ct         BLOB,
    otp_ct              BLOB,
    has_otp             BOOLEAN NOT NULL DEFAULT FALSE,
    notes_ct            BLOB,
    expires_at          TIMESTAMP,
    breach_status       TEXT NOT NULL DEFAULT 'unchecked',
    breach_count        INTEGER NOT NULL DEFAULT 0,
    breach_checked_at   TIMESTAMP,
    breach_notified     TEXT NOT NULL DEFAULT '',
    asset_id            INTEGER REFERENCES assets (id) ON DELETE SET NULL,
    created_by          INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL,
    search_text         TEXT GENERATED ALWAYS AS (lower(title || char(10) || username || char(10) || url)) VIRTUAL
);
CREATE INDEX passwords_org_title ON passwords (organization_id, title);
CREATE INDEX passwords_title ON passwords (title);
CREATE INDEX passwords_password_type ON passwords (password_type);
CREATE INDEX passwords_has_otp ON passwords (has_otp);
CREATE INDEX passwords_expires_at ON passwords (expires_at);
CREATE INDEX passwords_breach_status ON passwords (breach_status);
CREATE INDEX passwords_asset_id ON passwords (asset_id);
CREATE INDEX passwords_updated_at ON passwords (updated_at);
CREATE INDEX passwords_created_at ON passwords (created_at);

CREATE VIRTUAL TABLE passwords_fts USING fts5(
    search_text, content='passwords', content_rowid='id', tokenize='trigram'
);
-- +goose StatementBegin
CREATE TRIGGER passwords_fts_insert AFTER INSERT ON passwords BEGIN
    INSERT INTO passwords_fts (rowid, search_text) VALUES (new.id, new.search_text);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER passwords_fts_delete AFTER DELETE ON passwords BEGIN
    INSERT INTO passwords_fts (passwords_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER passwords_fts_update AFTER UPDATE OF title, username, url ON passwords BEGIN
    INSERT INTO passwords_fts (passwords_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
    INSERT INTO passwords_fts (rowid, search_text) VALUES (new.id, new.search_text);
END;
-- +goose StatementEnd

CREATE TABLE password_tags (
    password_id INTEGER NOT NULL REFERENCES passwords (id) ON DELETE CASCADE,
    tag         TEXT NOT NULL,
    PRIMARY KEY (password_id, tag)
);
CREATE INDEX password_tags_tag ON password_tags (tag, password_id);

-- +goose Down
DROP TABLE password_tags;
DROP TABLE passwords_fts;
DROP TABLE passwords;
