-- +goose Up
-- pk gives SQLite's full-text index a row id that VACUUM keeps.
CREATE TABLE cves (
    pk               INTEGER PRIMARY KEY,
    id               TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    cvss_score       REAL,
    cvss_version     TEXT NOT NULL DEFAULT '',
    severity         TEXT NOT NULL DEFAULT '',
    published_at     TIMESTAMP,
    last_modified_at TIMESTAMP,
    stored_at        TIMESTAMP NOT NULL,
    search_text      TEXT GENERATED ALWAYS AS (lower(id || char(10) || description)) VIRTUAL
);
CREATE UNIQUE INDEX cves__id_key ON cves (id);
CREATE INDEX cves_last_modified_at ON cves (last_modified_at);

-- Findings are searched through their CVE: one index entry per CVE, not one per finding.
CREATE VIRTUAL TABLE cves_fts USING fts5(search_text, content='cves', content_rowid='pk', tokenize='trigram');
-- +goose StatementBegin
CREATE TRIGGER cves_fts_insert AFTER INSERT ON cves BEGIN
    INSERT INTO cves_fts (rowid, search_text) VALUES (new.pk, new.search_text);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER cves_fts_delete AFTER DELETE ON cves BEGIN
    INSERT INTO cves_fts (cves_fts, rowid, search_text) VALUES ('delete', old.pk, old.search_text);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER cves_fts_update AFTER UPDATE OF description ON cves BEGIN
    INSERT INTO cves_fts (cves_fts, rowid, search_text) VALUES ('delete', old.pk, old.search_text);
    INSERT INTO cves_fts (rowid, search_text) VALUES (new.pk, new.search_text);
END;
-- +goose StatementEnd

CREATE TABLE cve_matches (
    id                       INTEGER PRIMARY KEY,
    cve_id                   TEXT NOT NULL REFERENCES cves (id) ON DELETE CASCADE,
    criteria                 TEXT NOT NULL,
    vendor                   TEXT NOT NULL,
    product                  TEXT NOT NULL,
    wild                     BOOLEAN NOT NULL DEFAULT FALSE,
    version_start_including  TEXT NOT NULL DEFAULT '',
    version_start_excluding  TEXT NOT NULL DEFAULT '',
    version_end_including    TEXT NOT NULL DEFAULT '',
    version_end_excluding    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX cve_matches_cve_id ON cve_matches (cve_id);
CREATE INDEX cve_matches_product ON cve_matches (vendor, product);
CREATE INDEX cve_matches_wild ON cve_matches (cve_id) WHERE wild;

-- The vendor:product keys whose criteria changed since the last scan: assets known by them are
-- matched again, whichever process wrote the CVEs.
CREATE TABLE cve_changes (
    id      INTEGER PRIMARY KEY,
    vendor  TEXT NOT NULL,
    product TEXT NOT NULL
);

CREATE TABLE vulnerabilities (
    id              INTEGER PRIMARY KEY,
    organization_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    asset_id        INTEGER NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    cve_id          TEXT NOT NULL REFERENCES cves (id) ON DELETE CASCADE,
    severity        TEXT NOT NULL DEFAULT '',
    cvss_score      REAL,
    summary         TEXT NOT NULL DEFAULT '',
    matched         TEXT NOT NULL DEFAULT '',
    published_at    TIMESTAMP,
    status          TEXT NOT NULL DEFAULT 'open',
    first_seen_at   TIMESTAMP NOT NULL,
    resolved_at     TIMESTAMP,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX vulnerabilities__asset_cve_key ON vulnerabilities (asset_id, cve_id);
CREATE INDEX vulnerabilities_org_first_seen ON vulnerabilities (organization_id, first_seen_at);
CREATE INDEX vulnerabilities_status ON vulnerabilities (status, first_seen_at);
CREATE INDEX vulnerabilities_severity ON vulnerabilities (severity, first_seen_at);
CREATE INDEX vulnerabilities_cve_id ON vulnerabilities (cve_id);
CREATE INDEX vulnerabilities_first_seen_at ON vulnerabilities (first_seen_at);
CREATE INDEX vulnerabilities_published_at ON vulnerabilities (published_at);
CREATE INDEX vulnerabilities_cvss_score ON vulnerabilities (cvss_score);
CREATE INDEX vulnerabilities_resolved_at ON vulnerabilities (resolved_at);
CREATE INDEX vulnerabilities_updated_at ON vulnerabilities (updated_at);
CREATE INDEX vulnerabilities_created_at ON vulnerabilities (created_at);


CREATE TABLE vuln_scans (
    id                INTEGER PRIMARY KEY,
    organizations     TEXT NOT NULL DEFAULT '',
    requested_by      INTEGER REFERENCES users (id) ON DELETE SET NULL,
    fetch_cves        BOOLEAN NOT NULL DEFAULT FALSE,
    status            TEXT NOT NULL,
    created_at        TIMESTAMP NOT NULL,
    started_at        TIMESTAMP,
    finished_at       TIMESTAMP,
    cves_fetched      INTEGER NOT NULL DEFAULT 0,
    assets_total      INTEGER NOT NULL DEFAULT 0,
    assets_scanned    INTEGER NOT NULL DEFAULT 0,
    findings_opened   INTEGER NOT NULL DEFAULT 0,
    findings_resolved INTEGER NOT NULL DEFAULT 0,
    error             TEXT NOT NULL DEFAULT ''
);

-- Assets changed since their last vulnerability match are matched again.
ALTER TABLE assets ADD COLUMN vuln_scanned_at TIMESTAMP;
CREATE INDEX assets_vuln_pending ON assets (id) WHERE vuln_scanned_at IS NULL OR vuln_scanned_at < updated_at;

-- +goose Down
DROP INDEX assets_vuln_pending;
ALTER TABLE assets DROP COLUMN vuln_scanned_at;
DROP TABLE vuln_scans;
DROP TABLE vulnerabilities;
DROP TABLE cve_changes;
DROP TABLE cve_matches;
DROP TABLE cves_fts;
DROP TABLE cves;
