-- +goose Up
CREATE TABLE assets (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    asset_type       TEXT NOT NULL DEFAULT 'other',
    status           TEXT NOT NULL DEFAULT 'active',
    asset_tag        TEXT NOT NULL DEFAULT '',
    serial_number    TEXT NOT NULL DEFAULT '',
    manufacturer     TEXT NOT NULL DEFAULT '',
    model            TEXT NOT NULL DEFAULT '',
    hostname         TEXT NOT NULL DEFAULT '',
    ip_address       TEXT,
    mac_address      TEXT,
    os_name          TEXT NOT NULL DEFAULT '',
    os_version       TEXT NOT NULL DEFAULT '',
    firmware_version TEXT NOT NULL DEFAULT '',
    cpu              TEXT NOT NULL DEFAULT '',
    ram_gb           REAL,
    storage          TEXT NOT NULL DEFAULT '',
    purchase_date    DATE,
    warranty_expiry  DATE,
    latitude         REAL,
    longitude        REAL,
    notes            TEXT NOT NULL DEFAULT '',
    custom_fields    TEXT NOT NULL DEFAULT '{}',
    source           TEXT NOT NULL DEFAULT 'manual',
    online           BOOLEAN,
    last_seen_at     TIMESTAMP,
    created_by       INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    search_text      TEXT GENERATED ALWAYS AS (lower(name || char(10) || asset_tag || char(10) || serial_number || char(10) ||
                         manufacturer || char(10) || model || char(10) || hostname || char(10) || coalesce(ip_address, '') ||
                         char(10) || coalesce(mac_address, ''))) VIRTUAL
);
CREATE INDEX assets_org_name ON assets (organization_id, name);
CREATE INDEX assets_name ON assets (name);
CREATE INDEX assets_org_updated_at ON assets (organization_id, updated_at);
CREATE INDEX assets_updated_at ON assets (updated_at);
CREATE INDEX assets_created_at ON assets (created_at);
CREATE INDEX assets_asset_type ON assets (asset_type);
CREATE INDEX assets_status ON assets (status);
CREATE INDEX assets_manufacturer ON assets (manufacturer);
CREATE INDEX assets_source ON assets (source);
CREATE INDEX assets_serial_number ON assets (serial_number);
CREATE INDEX assets_hostname ON assets (hostname);
CREATE INDEX assets_mac_address ON assets (mac_address);
CREATE INDEX assets_purchase_date ON assets (purchase_date);
CREATE INDEX assets_warranty_expiry ON assets (warranty_expiry);
CREATE INDEX assets_created_by ON assets (created_by);

CREATE VIRTUAL TABLE assets_fts USING fts5(
    search_text, content='assets', content_rowid='id', tokenize='trigram'
);
-- +goose StatementBegin
CREATE TRIGGER assets_fts_insert AFTER INSERT ON assets BEGIN
    INSERT INTO assets_fts (rowid, search_text) VALUES (new.id, new.search_text);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER assets_fts_delete AFTER DELETE ON assets BEGIN
    INSERT INTO assets_fts (assets_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER assets_fts_update AFTER UPDATE OF name, asset_tag, serial_number, manufacturer, model, hostname, ip_address, mac_address ON assets BEGIN
    INSERT INTO assets_fts (assets_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
    INSERT INTO assets_fts (rowid, search_text) VALUES (new.id, new.search_text);
END;
-- +goose StatementEnd

CREATE TABLE asset_tags (
    asset_id INTEGER NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    tag      TEXT NOT NULL,
    PRIMARY KEY (asset_id, tag)
);
CREATE INDEX asset_tags_tag ON asset_tags (tag, asset_id);

-- +goose Down
DROP TABLE asset_tags;
DROP TABLE assets_fts;
DROP TABLE assets;
