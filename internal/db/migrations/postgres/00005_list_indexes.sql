-- +goose Up
-- Filtered lists are ordered by name by default: these serve the filter and the first page together.
CREATE INDEX assets_asset_type_name ON assets (asset_type, name);
CREATE INDEX assets_status_name ON assets (status, name);
CREATE INDEX assets_manufacturer_name ON assets (manufacturer, name);
CREATE INDEX assets_source_name ON assets (source, name);
DROP INDEX assets_asset_type;
DROP INDEX assets_status;
DROP INDEX assets_manufacturer;
DROP INDEX assets_source;
CREATE INDEX passwords_type_title ON passwords (password_type, title);
DROP INDEX passwords_password_type;

-- +goose Down
CREATE INDEX passwords_password_type ON passwords (password_type);
DROP INDEX passwords_type_title;
CREATE INDEX assets_source ON assets (source);
CREATE INDEX assets_manufacturer ON assets (manufacturer);
CREATE INDEX assets_status ON assets (status);
CREATE INDEX assets_asset_type ON assets (asset_type);
DROP INDEX assets_source_name;
DROP INDEX assets_manufacturer_name;
DROP INDEX assets_status_name;
DROP INDEX assets_asset_type_name;
