package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
	"clientst0r/internal/list"
)

// AssetTypes are the values of asset_type (SPEC §4).
var AssetTypes = strings.Fields(`access_control appliance av_receiver backup_appliance badge_printer biometric_scanner
	bridge card_reader conference_phone console_server copier desktop digital_signage display door_controller dvr
	environmental_monitor fiber_panel firewall gateway generator handheld hvac iot_device kvm label_printer laptop
	lighting_control load_balancer mobile modem nas nvr other paging_system patch_panel pbx pda pdu phone plotter
	printer projector rack router san scanner security_camera sensor server switch tablet tape_drive terminal
	thermostat thin_client ups video_conferencing voip_gateway wireless_ap wireless_controller workstation`)

// AssetStatuses are the values of status.
var AssetStatuses = []string{"active", "inactive", "retired"}

// AssetSources are the values of source: manual, or the RMM provider that created the asset.
var AssetSources = []string{"manual", "connectwise_automate", "datto_rmm", "ninjaone", "syncro"}

// Asset is a piece of a client's equipment.
type Asset struct {
	Scoped
	Name            string
	AssetType       string
	Status          string
	AssetTag        string
	SerialNumber    string
	Manufacturer    string
	Model           string
	Hostname        string
	IPAddress       *string
	MACAddress      *string
	OSName          string
	OSVersion       string
	FirmwareVersion string
	CPU             string
	RAMGB           *float64
	Storage         string
	PurchaseDate    *Date
	WarrantyExpiry  *Date
	Latitude        *float64
	Longitude       *float64
	Notes           string
	CustomFields    JSONObject
	Tags            []string
	Source          string
	Online          *bool
	LastSeenAt      *time.Time
	CreatedBy       *int64
}

func textField(name, col string, search, filter bool) list.Field {
	return list.Field{Name: name, Column: col, Order: true, Search: search, Filter: filter}
}

// AssetSpec declares the assets list (SPEC §4: search, filters, every scalar field orderable).
var AssetSpec = list.Spec{
	DefaultOrder: "name",
	OrgScoped:    true,
	Searchable:   true,
	Fields: []list.Field{
		{Name: "id", Column: "a.id", Kind: list.Int, Order: true},
		{Name: "organization", Column: "a.organization_id", Kind: list.Int, Order: true},
		textField("name", "a.name", true, false),
		{Name: "asset_type", Column: "a.asset_type", Kind: list.Enum, Enum: AssetTypes, Filter: true, Order: true},
		{Name: "status", Column: "a.status", Kind: list.Enum, Enum: AssetStatuses, Filter: true, Order: true},
		textField("asset_tag", "a.asset_tag", true, false),
		textField("serial_number", "a.serial_number", true, false),
		textField("manufacturer", "a.manufacturer", true, true),
		textField("model", "a.model", true, false),
		textField("hostname", "a.hostname", true, false),
		{Name: "ip_address", Column: "a.ip_address", Order: true, Search: true, Nullable: true},
		{Name: "mac_address", Column: "a.mac_address", Order: true, Search: true, Nullable: true},
		textField("os_name", "a.os_name", false, false),
		textField("os_version", "a.os_version", false, false),
		textField("firmware_version", "a.firmware_version", false, false),
		textField("cpu", "a.cpu", false, false),
		{Name: "ram_gb", Column: "a.ram_gb", Order: true, Nullable: true},
		textField("storage", "a.storage", false, false),
		{Name: "purchase_date", Column: "a.purchase_date", Kind: list.Date, Order: true, Range: true, Nullable: true},
		{Name: "warranty_expiry", Column: "a.warranty_expiry", Kind: list.Date, Order: true, Range: true, Nullable: true},
		{Name: "latitude", Column: "a.latitude", Order: true, Nullable: true},
		{Name: "longitude", Column: "a.longitude", Order: true, Nullable: true},
		textField("notes", "a.notes", false, false),
		assetTags.filter("a"),
		{Name: "source", Column: "a.source", Kind: list.Enum, Enum: AssetSources, Filter: true, Order: true},
		{Name: "online", Column: "a.online", Kind: list.Bool, Filter: true, Order: true, Nullable: true},
		{Name: "last_seen_at", Column: "a.last_seen_at", Kind: list.Time, Order: true, Range: true, Nullable: true},
		{Name: "created_by", Column: "a.created_by", Kind: list.Int, Order: true, Nullable: true},
		{Name: "created_at", Column: "a.created_at", Kind: list.Time, Order: true, Range: true},
		{Name: "updated_at", Column: "a.updated_at", Kind: list.Time, Order: true, Range: true},
	},
}

var assetCols = []string{"name", "asset_type", "status", "asset_tag", "serial_number", "manufacturer", "model", "hostname",
	"ip_address", "mac_address", "os_name", "os_version", "firmware_version", "cpu", "ram_gb", "storage", "purchase_date",
	"warranty_expiry", "latitude", "longitude", "notes", "custom_fields", "source", "online", "last_seen_at", "created_by"}

var assets = &kind[Asset, *Asset]{
	table: "assets", alias: "a", object: "asset", spec: &AssetSpec,
	cols: assetCols,
	values: func(a *Asset) []any {
		return []any{a.Name, a.AssetType, a.Status, a.AssetTag, a.SerialNumber, a.Manufacturer, a.Model, a.Hostname,
			a.IPAddress, a.MACAddress, a.OSName, a.OSVersion, a.FirmwareVersion, a.CPU, a.RAMGB, a.Storage, a.PurchaseDate,
			a.WarrantyExpiry, a.Latitude, a.Longitude, a.Notes, a.CustomFields, a.Source, a.Online, nullTime(a.LastSeenAt), a.CreatedBy}
	},
	selectCols: "a." + strings.Join(assetCols, ", a."),
	dest: func(a *Asset) []any {
		return []any{&a.Name, &a.AssetType, &a.Status, &a.AssetTag, &a.SerialNumber, &a.Manufacturer, &a.Model, &a.Hostname,
			&a.IPAddress, &a.MACAddress, &a.OSName, &a.OSVersion, &a.FirmwareVersion, &a.CPU, &a.RAMGB, &a.Storage, &a.PurchaseDate,
			&a.WarrantyExpiry, &a.Latitude, &a.Longitude, &a.Notes, &a.CustomFields, &a.Source, &a.Online, &a.LastSeenAt, &a.CreatedBy}
	},
	view: auth.AssetsView, create: auth.AssetsCreate, edit: auth.AssetsEdit, remove: auth.AssetsDelete,
	prepare: prepareAsset,
	fields:  assetFields,
	repr:    func(a *Asset) string { return a.Name },
	loadMany: func(ctx context.Context, q queryer, _ *Store, items []*Asset) error {
		return assetTags.load(ctx, q, items, func(a *Asset) *[]string { return &a.Tags })
	},
	written: assetWritten,
}

// ListAssets pages the assets the caller may view.
func (s *Store) ListAssets(ctx context.Context, q list.Query) ([]Asset, int, error) {
	return listScoped(ctx, s, assets, q)
}

// GetAsset reads one asset.
func (s *Store) GetAsset(ctx context.Context, id int64) (Asset, error) { return assets.get(ctx, s, id) }

// CreateAsset creates an asset in a.OrgID (or the caller's only organization).
func (s *Store) CreateAsset(ctx context.Context, a Asset) (Asset, error) {
	if c := auth.CallerFrom(ctx); c != nil {
		a.CreatedBy = c.ActorID()
	}
	if a.Source == "" {
		a.Source = "manual"
	}
	return createScoped(ctx, s, assets, a)
}

// UpdateAsset applies change and saves the asset if anything changed.
func (s *Store) UpdateAsset(ctx context.Context, id int64, change func(*Asset) error) (Asset, error) {
	return updateScoped(ctx, s, assets, id, change)
}

// DeleteAsset deletes an asset.
func (s *Store) DeleteAsset(ctx context.Context, id int64) error {
	return deleteScoped(ctx, s, assets, id)
}

// Limits on asset fields.
const (
	maxShort       = 200
	maxNotes       = 100_000
	maxTags        = 50
	maxTagLength   = 50
	maxCustomBytes = 64 << 10
)

func prepareAsset(ctx context.Context, q queryer, c *auth.Caller, a *Asset) error {
	errs := apperr.FieldErrors{}
	a.Name = strings.TrimSpace(a.Name)
	if a.Name == "" {
		errs.Add("name", "This field may not be blank.")
	}
	if a.AssetType == "" {
		a.AssetType = "other"
	}
	if !slices.Contains(AssetTypes, a.AssetType) {
		errs.Add("asset_type", fmt.Sprintf("%q is not a valid choice.", a.AssetType))
	}
	if a.Status == "" {
		a.Status = "active"
	}
	if !slices.Contains(AssetStatuses, a.Status) {
		errs.Add("status", fmt.Sprintf("%q is not a valid choice.", a.Status))
	}
	if !slices.Contains(AssetSources, a.Source) {
		errs.Add("source", fmt.Sprintf("%q is not a valid choice.", a.Source))
	}
	for name, v := range map[string]*string{"name": &a.Name, "asset_tag": &a.AssetTag, "serial_number": &a.SerialNumber,
		"manufacturer": &a.Manufacturer, "model": &a.Model, "hostname": &a.Hostname, "os_name": &a.OSName,
		"os_version": &a.OSVersion, "firmware_version": &a.FirmwareVersion, "cpu": &a.CPU, "storage": &a.Storage} {
		if name != "name" {
			*v = strings.TrimSpace(*v)
		}
		if utf8.RuneCountInString(*v) > maxShort {
			errs.Add(name, fmt.Sprintf("Ensure this field has no more than %d characters.", maxShort))
		}
	}
	if len(a.Notes) > maxNotes {
		errs.Add("notes", fmt.Sprintf("Ensure this field has no more than %d characters.", maxNotes))
	}
	if a.IPAddress != nil {
		if ip, ok := NormalizeIP(*a.IPAddress); !ok {
			errs.Add("ip_address", "Enter a valid IPv4 or IPv6 address.")
		} else if ip == "" {
			a.IPAddress = nil
		} else {
			a.IPAddress = &ip
		}
	}
	if a.MACAddress != nil {
		if mac, ok := NormalizeMAC(*a.MACAddress); !ok {
			errs.Add("mac_address", "Enter a valid MAC address, such as aa:bb:cc:dd:ee:ff.")
		} else if mac == "" {
			a.MACAddress = nil
		} else {
			a.MACAddress = &mac
		}
	}
	checkRange(errs, "ram_gb", a.RAMGB, 0, 1e9)
	checkRange(errs, "latitude", a.Latitude, -90, 90)
	checkRange(errs, "longitude", a.Longitude, -180, 180)
	if tags, err := NormalizeTags(a.Tags); err != nil {
		errs.Add("tags", err.Error())
	} else {
		a.Tags = tags
	}
	if a.CustomFields == nil {
		a.CustomFields = JSONObject{}
	}
	if b, _ := json.Marshal(a.CustomFields); len(b) > maxCustomBytes {
		errs.Add("custom_fields", fmt.Sprintf("Custom fields may take at most %d KiB.", maxCustomBytes>>10))
	}
	return errs.Err()
}

func checkRange(errs apperr.FieldErrors, name string, v *float64, lo, hi float64) {
	if v != nil && (math.IsNaN(*v) || *v < lo || *v > hi) {
		errs.Add(name, fmt.Sprintf("Ensure this value is between %g and %g.", lo, hi))
	}
}

// NormalizeIP returns the canonical form of an IPv4 or IPv6 address ("" for blank).
func NormalizeIP(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", true
	}
	ip, err := netip.ParseAddr(s)
	if err != nil || ip.Zone() != "" {
		return "", false
	}
	return ip.Unmap().String(), true
}

// NormalizeMAC returns a 48-bit MAC address as aa:bb:cc:dd:ee:ff from any common notation
// (colons, hyphens, Cisco dots, bare hex); "" for blank.
func NormalizeMAC(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", true
	}
	if len(s) == 12 {
		s = s[0:2] + ":" + s[2:4] + ":" + s[4:6] + ":" + s[6:8] + ":" + s[8:10] + ":" + s[10:12]
	}
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return "", false
	}
	return hw.String(), true
}

// NormalizeTags trims, drops blanks and duplicates, and sorts.
func NormalizeTags(tags []string) ([]string, error) {
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		t = strings.TrimSpace(t)
		if t == "" || slices.Contains(out, t) {
			continue
		}
		if utf8.RuneCountInString(t) > maxTagLength {
			return nil, fmt.Errorf("Each tag may have at most %d characters.", maxTagLength)
		}
		out = append(out, t)
	}
	if len(out) > maxTags {
		return nil, fmt.Errorf("At most %d tags are allowed.", maxTags)
	}
	slices.Sort(out)
	return out, nil
}

func assetFields(a *Asset) map[string]any {
	deref := func(p any) any {
		switch v := p.(type) {
		case *string:
			if v != nil {
				return *v
			}
		case *float64:
			if v != nil {
				return *v
			}
		case *Date:
			if v != nil {
				return string(*v)
			}
		case *bool:
			if v != nil {
				return *v
			}
		case *time.Time:
			if v != nil {
				return v.UTC().Format(time.RFC3339Nano)
			}
		}
		return nil
	}
	custom, _ := json.Marshal(a.CustomFields)
	return map[string]any{
		"name": a.Name, "asset_type": a.AssetType, "status": a.Status, "asset_tag": a.AssetTag, "serial_number": a.SerialNumber,
		"manufacturer": a.Manufacturer, "model": a.Model, "hostname": a.Hostname, "ip_address": deref(a.IPAddress),
		"mac_address": deref(a.MACAddress), "os_name": a.OSName, "os_version": a.OSVersion, "firmware_version": a.FirmwareVersion,
		"cpu": a.CPU, "ram_gb": deref(a.RAMGB), "storage": a.Storage, "purchase_date": deref(a.PurchaseDate),
		"warranty_expiry": deref(a.WarrantyExpiry), "latitude": deref(a.Latitude), "longitude": deref(a.Longitude),
		"notes": a.Notes, "custom_fields": string(custom), "tags": strings.Join(a.Tags, ","), "source": a.Source,
		"online": deref(a.Online), "last_seen_at": deref(a.LastSeenAt),
	}
}

// assetWritten keeps the tag rows and emits the asset events. Every path that changes an asset
// (API, web UI, RMM sync) goes through the asset kind, so none can forget an event.
func assetWritten(ctx context.Context, tx *sql.Tx, s *Store, before, after *Asset) error {
	if err := assetTags.write(ctx, tx, before, after, func(a *Asset) []string { return a.Tags }); err != nil {
		return err
	}
	switch {
	case before == nil:
		return s.RecordEvent(ctx, tx, EventOrg{after.OrgID, after.OrgName}, EventAssetCreated, s.assetJSON(*after))
	case after == nil:
		return s.RecordEvent(ctx, tx, EventOrg{before.OrgID, before.OrgName}, EventAssetDeleted, map[string]any{
			"id": before.ID, "name": before.Name, "asset_type": before.AssetType, "serial_number": before.SerialNumber})
	default:
		return s.RecordEvent(ctx, tx, EventOrg{after.OrgID, after.OrgName}, EventAssetUpdated, s.assetJSON(*after))
	}
}
