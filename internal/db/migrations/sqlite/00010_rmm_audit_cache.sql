-- +goose Up
-- Per-device hardware audits a vendor serves only one device at a time (Datto RMM), with the stamp
-- they were read at: a sync asks again only for devices whose stamp moved.
CREATE TABLE rmm_audits (
    integration_id INTEGER NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    external_id    TEXT NOT NULL,
    stamp          INTEGER NOT NULL,
    data           TEXT NOT NULL,
    PRIMARY KEY (integration_id, external_id)
);

-- +goose Down
DROP TABLE rmm_audits;
