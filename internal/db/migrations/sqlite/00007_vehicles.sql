-- +goose Up
-- Service vehicles. next_service_due_* are kept by the store from the maintenance records, so the
-- service_overdue filter is a condition on the vehicle row.
CREATE TABLE vehicles (
    id                       INTEGER PRIMARY KEY,
    organization_id          INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name                     TEXT NOT NULL,
    vehicle_type             TEXT NOT NULL DEFAULT 'other',
    make                     TEXT NOT NULL DEFAULT '',
    model                    TEXT NOT NULL DEFAULT '',
    year                     INTEGER,
    color                    TEXT NOT NULL DEFAULT '',
    vin                      TEXT NOT NULL DEFAULT '',
    license_plate            TEXT NOT NULL DEFAULT '',
    status                   TEXT NOT NULL DEFAULT 'active',
    current_mileage          INTEGER NOT NULL DEFAULT 0,
    assigned_to              INTEGER REFERENCES users (id) ON DELETE SET NULL,
    insurance_provider       TEXT NOT NULL DEFAULT '',
    insurance_policy_number  TEXT NOT NULL DEFAULT '',
    insurance_expires_at     DATE,
    registration_expires_at  DATE,
    latitude                 REAL,
    longitude                REAL,
    location_updated_at      TIMESTAMP,
    purchase_date            DATE,
    purchase_price           REAL,
    notes                    TEXT NOT NULL DEFAULT '',
    next_service_due_date    DATE,
    next_service_due_mileage INTEGER,
    created_at               TIMESTAMP NOT NULL,
    updated_at               TIMESTAMP NOT NULL,
    search_text              TEXT GENERATED ALWAYS AS (lower(name || char(10) || make || char(10) || model || char(10) ||
                                 vin || char(10) || license_plate)) VIRTUAL
);
CREATE INDEX vehicles_org_name ON vehicles (organization_id, name);
CREATE INDEX vehicles_name ON vehicles (name);
CREATE INDEX vehicles_vehicle_type_name ON vehicles (vehicle_type, name);
CREATE INDEX vehicles_status_name ON vehicles (status, name);
CREATE INDEX vehicles_assigned_to_name ON vehicles (assigned_to, name);
CREATE UNIQUE INDEX vehicles__vin_key ON vehicles (organization_id, vin) WHERE vin <> '';
CREATE INDEX vehicles_insurance_expires_at ON vehicles (insurance_expires_at);
CREATE INDEX vehicles_registration_expires_at ON vehicles (registration_expires_at);
CREATE INDEX vehicles_purchase_date ON vehicles (purchase_date);
CREATE INDEX vehicles_next_service_due_date ON vehicles (next_service_due_date);
CREATE INDEX vehicles_updated_at ON vehicles (updated_at);
CREATE INDEX vehicles_created_at ON vehicles (created_at);

CREATE VIRTUAL TABLE vehicles_fts USING fts5(
    search_text, content='vehicles', content_rowid='id', tokenize='trigram'
);
-- +goose StatementBegin
CREATE TRIGGER vehicles_fts_insert AFTER INSERT ON vehicles BEGIN
    INSERT INTO vehicles_fts (rowid, search_text) VALUES (new.id, new.search_text);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER vehicles_fts_delete AFTER DELETE ON vehicles BEGIN
    INSERT INTO vehicles_fts (vehicles_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER vehicles_fts_update AFTER UPDATE OF name, make, model, vin, license_plate ON vehicles BEGIN
    INSERT INTO vehicles_fts (vehicles_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
    INSERT INTO vehicles_fts (rowid, search_text) VALUES (new.id, new.search_text);
END;
-- +goose StatementEnd

CREATE TABLE vehicle_maintenance (
    id                 INTEGER PRIMARY KEY,
    organization_id    INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    vehicle_id         INTEGER NOT NULL REFERENCES vehicles (id) ON DELETE CASCADE,
    maintenance_type   TEXT NOT NULL,
    service_date       DATE NOT NULL,
    mileage_at_service INTEGER,
    performed_by       TEXT NOT NULL DEFAULT '',
    cost               REAL,
    next_due_date      DATE,
    next_due_mileage   INTEGER,
    notes              TEXT NOT NULL DEFAULT '',
    created_at         TIMESTAMP NOT NULL
);
CREATE INDEX vehicle_maintenance_vehicle ON vehicle_maintenance (vehicle_id, service_date);
CREATE INDEX vehicle_maintenance_type ON vehicle_maintenance (vehicle_id, maintenance_type, service_date);
CREATE INDEX vehicle_maintenance_organization_id ON vehicle_maintenance (organization_id);

CREATE TABLE vehicle_fuel (
    id              INTEGER PRIMARY KEY,
    organization_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    vehicle_id      INTEGER NOT NULL REFERENCES vehicles (id) ON DELETE CASCADE,
    date            DATE NOT NULL,
    mileage         INTEGER NOT NULL,
    gallons         REAL NOT NULL,
    total_cost      REAL,
    station         TEXT NOT NULL DEFAULT '',
    mpg             REAL,
    created_at      TIMESTAMP NOT NULL
);
CREATE INDEX vehicle_fuel_vehicle ON vehicle_fuel (vehicle_id, date, mileage);
CREATE INDEX vehicle_fuel_organization_id ON vehicle_fuel (organization_id);

-- +goose Down
DROP TABLE vehicle_fuel;
DROP TABLE vehicle_maintenance;
DROP TABLE vehicles_fts;
DROP TABLE vehicles;
