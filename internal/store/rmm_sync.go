package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
	"clientst0r/internal/list"
)

// SyncDevice is a vendor device as the sync engine hands it over: normalised and sanitised.
type SyncDevice struct {
	ExternalID    string
	Name          string
	Hostname      string
	OrgExternalID string
	SiteName      string
	Address       string
	Manufacturer  string
	Model         string
	Serial        string
	OSName        string
	OSVersion     string
	IPAddress     *string
	MAC           *string
	Online        *bool
	LastSeen      *time.Time
	AssetType     string
	Latitude      *float64
	Longitude     *float64
	Raw           []byte
}

// fingerprint changes whenever anything the sync writes changes.
func (d SyncDevice) fingerprint(org int64) string {
	b, _ := json.Marshal([]any{org, d.Name, d.Hostname, d.OrgExternalID, d.SiteName, d.Address, d.Manufacturer, d.Model, d.Serial,
		d.OSName, d.OSVersion, d.IPAddress, d.MAC, d.Online, d.LastSeen, d.AssetType, d.Latitude, d.Longitude})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// PlaceholderSerial reports serial numbers that vendors' firmware ships unset; they never match.
func PlaceholderSerial(s string) bool {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) < 4 || strings.Trim(s, "0") == "" {
		return true
	}
	for _, p := range []string{"to be filled", "default string", "system serial number", "not specified", "not applicable",
		"none", "n/a", "invalid", "123456789", "chassis serial number", "o.e.m.", "oem", "unknown", "serial"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// SyncCounts is what a batch did.
type SyncCounts struct {
	Created, Updated, Skipped int
	Summary                   []string
}

type knownDevice struct {
	id          int64
	org         int64
	asset       *int64
	fingerprint string
	gone        bool
}

// ApplyDevices maps one page of an integration's devices onto assets in one transaction: upsert the
// device record, then link it to an asset of its organization (the one it was linked to, else by
// serial, MAC, hostname) and update only the RMM-owned fields, or create an asset. Devices whose
// vendor data did not change are skipped without a write. A dry run reports without writing.
func (s *Store) ApplyDevices(ctx context.Context, run SyncRun, integ Integration, devices []SyncDevice) (SyncCounts, error) {
	var counts SyncCounts
	c := auth.Service("integration: " + integ.Name)
	ctx = auth.WithCaller(ctx, c)
	known, err := s.knownDevices(ctx, integ.ID, devices)
	if err != nil {
		return counts, err
	}
	apply := func(tx *sql.Tx) error {
		for _, d := range devices {
			org, mapped := integ.Mapping[d.OrgExternalID]
			if !mapped && integ.DefaultOrgID != nil {
				org, mapped = *integ.DefaultOrgID, true
			}
			if !mapped {
				counts.Skipped++
				continue
			}
			fp := d.fingerprint(org)
			k, exists := known[d.ExternalID]
			if exists && k.fingerprint == fp && !k.gone && k.asset != nil {
				continue
			}
			created, updated, asset, line, err := s.applyDevice(ctx, tx, c, integ, run.DryRun, org, d, k, exists)
			if err != nil {
				return fmt.Errorf("device %s (%s): %w", d.ExternalID, d.Name, err)
			}
			if created {
				counts.Created++
			}
			if updated {
				counts.Updated++
			}
			if line != "" && len(counts.Summary) < 200 {
				counts.Summary = append(counts.Summary, line)
			}
			if run.DryRun {
				continue
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO rmm_devices (integration_id, organization_id, external_id, asset_id, name, hostname,
				serial_number, mac_address, ip_address, os_name, org_external_id, site_name, address, online, last_seen_at, fingerprint,
				gone, raw, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, FALSE, $17, $18, $18)
				ON CONFLICT (integration_id, external_id) DO UPDATE SET organization_id = excluded.organization_id,
				asset_id = excluded.asset_id, name = excluded.name, hostname = excluded.hostname, serial_number = excluded.serial_number,
				mac_address = excluded.mac_address, ip_address = excluded.ip_address, os_name = excluded.os_name,
				org_external_id = excluded.org_external_id, site_name = excluded.site_name, address = excluded.address,
				online = excluded.online, last_seen_at = excluded.last_seen_at, fingerprint = excluded.fingerprint, gone = FALSE,
				raw = excluded.raw, updated_at = excluded.updated_at`,
				integ.ID, org, d.ExternalID, asset, truncate(d.Name, 200), truncate(d.Hostname, 200), truncate(d.Serial, 200), d.MAC, d.IPAddress,
				truncate(d.OSName, 200), d.OrgExternalID, truncate(d.SiteName, 200), truncate(d.Address, 500), d.Online, nullTime(d.LastSeen),
				fp, string(rawOrEmpty(d.Raw)), s.Now()); err != nil {
				return err
			}
		}
		return nil
	}
	if run.DryRun {
		return counts, apply(nil)
	}
	err = s.db.Tx(ctx, apply)
	s.changed("assets")
	return counts, wrap(err, "apply devices")
}

func rawOrEmpty(b []byte) []byte {
	if len(b) == 0 || len(b) > 256<<10 {
		return []byte("{}")
	}
	return b
}

// knownDevices loads the stored records of a page of devices with one query.
func (s *Store) knownDevices(ctx context.Context, integration int64, devices []SyncDevice) (map[string]knownDevice, error) {
	out := map[string]knownDevice{}
	if len(devices) == 0 {
		return out, nil
	}
	var q query
	q.add(`SELECT external_id, id, organization_id, asset_id, fingerprint, gone FROM rmm_devices WHERE integration_id = ? AND external_id IN (`, integration)
	for i, d := range devices {
		if i > 0 {
			q.add(", ")
		}
		q.add("?", d.ExternalID)
	}
	q.add(")")
	rows, err := s.r.QueryContext(ctx, q.String(), q.args...)
	if err != nil {
		return nil, wrap(err, "known devices")
	}
	defer rows.Close()
	for rows.Next() {
		var ext string
		var k knownDevice
		if err := rows.Scan(&ext, &k.id, &k.org, &k.asset, &k.fingerprint, &k.gone); err != nil {
			return nil, wrap(err, "known devices")
		}
		out[ext] = k
	}
	return out, wrap(rows.Err(), "known devices")
}

// applyDevice links one device to an asset, creating or updating it. tx is nil in a dry run.
func (s *Store) applyDevice(ctx context.Context, tx *sql.Tx, c *auth.Caller, integ Integration, dry bool, org int64, d SyncDevice,
	k knownDevice, exists bool) (created, updated bool, asset *int64, line string, err error) {
	var q queryer = s.r
	if tx != nil {
		q = tx
	}
	var target int64
	if exists && k.asset != nil && k.org == org {
		target = *k.asset
	} else if target, err = matchAsset(ctx, q, org, d); err != nil {
		return
	}
	rmmFields := func(a *Asset) {
		a.Hostname, a.IPAddress, a.MACAddress = d.Hostname, d.IPAddress, d.MAC
		a.OSName, a.OSVersion, a.Online, a.LastSeenAt = d.OSName, d.OSVersion, d.Online, d.LastSeen
		if d.Serial != "" {
			a.SerialNumber = d.Serial
		}
		if d.Manufacturer != "" {
			a.Manufacturer = d.Manufacturer
		}
		if d.Model != "" {
			a.Model = d.Model
		}
		if d.Latitude != nil && d.Longitude != nil {
			a.Latitude, a.Longitude = d.Latitude, d.Longitude
		}
		if exists && k.gone && a.Status == "inactive" {
			a.Status = "active" // the device is back
		}
	}
	if target != 0 {
		if dry {
			before, err := getScoped(ctx, s, assets, q, c, target, false)
			if err != nil {
				return false, false, nil, "", err
			}
			after := *before
			rmmFields(&after)
			if ch := diff(assetFields(before), assetFields(&after)); len(ch) > 0 {
				return false, true, &target, fmt.Sprintf("update asset %d (%s): %s", target, before.Name, changedNames(ch)), nil
			}
			return false, false, &target, "", nil
		}
		_, changed, err := updateIn(ctx, tx, s, assets, c, target, func(a *Asset) error {
			rmmFields(a)
			return nil
		})
		return false, changed, &target, "", err
	}
	a := Asset{Scoped: Scoped{OrgID: org}, Name: cmpOrString(d.Name, d.Hostname), AssetType: d.AssetType, Source: integ.Provider, Status: "active"}
	if a.Name == "" {
		a.Name = d.ExternalID
	}
	rmmFields(&a)
	if dry {
		return true, false, nil, fmt.Sprintf("create asset %q in organization %d", a.Name, org), nil
	}
	if err := insertIn(ctx, tx, s, assets, c, &a); err != nil {
		return false, false, nil, "", err
	}
	return true, false, &a.ID, "", nil
}

func changedNames(ch Changes) string {
	var names []string
	for k := range ch {
		names = append(names, k)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// matchAsset finds the asset a new device stands for in its organization: by serial number
// (placeholders excluded), then MAC address, then host name. 0 when none matches.
func matchAsset(ctx context.Context, q queryer, org int64, d SyncDevice) (int64, error) {
	try := func(sqlText string, v any) (int64, error) {
		var id int64
		err := q.QueryRowContext(ctx, sqlText, org, v).Scan(&id)
		if err == sql.ErrNoRows {
			return 0, nil
		}
		return id, err
	}
	if d.Serial != "" && !PlaceholderSerial(d.Serial) {
		if id, err := try(`SELECT id FROM assets WHERE organization_id = $1 AND serial_number = $2 ORDER BY id LIMIT 1`, d.Serial); id != 0 || err != nil {
			return id, err
		}
	}
	if d.MAC != nil {
		if id, err := try(`SELECT id FROM assets WHERE organization_id = $1 AND mac_address = $2 ORDER BY id LIMIT 1`, *d.MAC); id != 0 || err != nil {
			return id, err
		}
	}
	if d.Hostname != "" {
		return try(`SELECT id FROM assets WHERE organization_id = $1 AND lower(hostname) = lower($2) ORDER BY id LIMIT 1`, d.Hostname)
	}
	return 0, nil
}

// RetireVanished marks the integration's devices that the vendor no longer lists as gone and their
// assets inactive (never deleted). seen holds the external ids of this run. It walks the stored
// devices in batches, so a large tenant is never loaded at once.
func (s *Store) RetireVanished(ctx context.Context, run SyncRun, integ Integration, seen map[string]bool) (int, []string, error) {
	c := auth.Service("integration: " + integ.Name)
	ctx = auth.WithCaller(ctx, c)
	retired := 0
	var summary []string
	for after := int64(0); ; {
		rows, err := s.r.QueryContext(ctx, `SELECT id, external_id, asset_id, name FROM rmm_devices
			WHERE integration_id = $1 AND NOT gone AND id > $2 ORDER BY id LIMIT 1000`, integ.ID, after)
		if err != nil {
			return retired, summary, wrap(err, "vanished devices")
		}
		type gone struct {
			id    int64
			asset *int64
			name  string
		}
		var batch []gone
		n := 0
		for rows.Next() {
			var g gone
			var ext string
			if err := rows.Scan(&g.id, &ext, &g.asset, &g.name); err != nil {
				rows.Close()
				return retired, summary, wrap(err, "vanished devices")
			}
			n, after = n+1, g.id
			if !seen[ext] {
				batch = append(batch, g)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return retired, summary, wrap(err, "vanished devices")
		}
		retired += len(batch)
		for _, g := range batch {
			if len(summary) < 200 {
				summary = append(summary, fmt.Sprintf("retire device %q", g.name))
			}
		}
		if !run.DryRun && len(batch) > 0 {
			err := s.db.Tx(ctx, func(tx *sql.Tx) error {
				for _, g := range batch {
					if _, err := tx.ExecContext(ctx, `UPDATE rmm_devices SET gone = TRUE, online = FALSE, updated_at = $1 WHERE id = $2`, s.Now(), g.id); err != nil {
						return err
					}
					if g.asset == nil {
						continue
					}
					_, _, err := updateIn(ctx, tx, s, assets, c, *g.asset, func(a *Asset) error {
						if a.Status == "active" {
							a.Status = "inactive"
						}
						f := false
						a.Online = &f
						return nil
					})
					if err != nil && !apperr.Is(err, apperr.NotFound) {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return retired, summary, wrap(err, "retire devices")
			}
			s.changed("assets")
		}
		if n < 1000 {
			return retired, summary, nil
		}
	}
}

// RMMDevice is a device record as listed.
type RMMDevice struct {
	ID            int64
	OrgID         int64
	ExternalID    string
	AssetID       *int64
	Name          string
	Hostname      string
	Serial        string
	MAC           *string
	IP            *string
	OSName        string
	SiteName      string
	Address       string
	Online        *bool
	LastSeenAt    *time.Time
	Gone          bool
	UpdatedAt     time.Time
	OrgExternalID string
}

// RMMDeviceSpec declares an integration's device list.
var RMMDeviceSpec = list.Spec{
	DefaultOrder: "name",
	Fields: []list.Field{
		{Name: "id", Column: "d.id", Kind: list.Int, Order: true},
		{Name: "name", Column: "d.name", Order: true},
		{Name: "hostname", Column: "d.hostname", Order: true},
		{Name: "online", Column: "d.online", Kind: list.Bool, Filter: true, Order: true, Nullable: true},
		{Name: "gone", Column: "d.gone", Kind: list.Bool, Filter: true, Order: true},
		{Name: "asset", Column: "d.asset_id", Kind: list.Int, Filter: true, Order: true, Nullable: true},
		{Name: "last_seen_at", Column: "d.last_seen_at", Kind: list.Time, Order: true, Nullable: true},
	},
}

// ListRMMDevices pages an integration's device records in the organizations the caller may view.
func (s *Store) ListRMMDevices(ctx context.Context, integrationID int64, q list.Query) ([]RMMDevice, int, error) {
	if _, err := s.GetIntegration(ctx, integrationID); err != nil {
		return nil, 0, err
	}
	c, _ := caller(ctx)
	l := listing{table: "rmm_devices", alias: "d", from: "rmm_devices d", columns: `d.id, d.organization_id, d.external_id, d.asset_id,
		d.name, d.hostname, d.serial_number, d.mac_address, d.ip_address, d.os_name, d.site_name, d.address, d.online, d.last_seen_at,
		d.gone, d.updated_at, d.org_external_id`}
	l.where.add("d.integration_id = ? AND ", integrationID)
	if all, orgs := c.Scope(auth.IntegrationsView); all {
		l.where.add("TRUE")
	} else {
		l.where.inList("d.organization_id", orgs)
	}
	var out []RMMDevice
	n, err := s.runList(ctx, &RMMDeviceSpec, q, &l, func(r *sql.Rows) error {
		var d RMMDevice
		err := r.Scan(&d.ID, &d.OrgID, &d.ExternalID, &d.AssetID, &d.Name, &d.Hostname, &d.Serial, &d.MAC, &d.IP, &d.OSName, &d.SiteName,
			&d.Address, &d.Online, &d.LastSeenAt, &d.Gone, &d.UpdatedAt, &d.OrgExternalID)
		d.UpdatedAt = d.UpdatedAt.UTC()
		out = append(out, d)
		return err
	})
	return out, n, err
}
