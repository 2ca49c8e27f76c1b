package api

import (
	"net/http"
	"strconv"
	"time"

	"clientst0r/internal/list"
	"clientst0r/internal/store"
)

// Asset is the API shape of an asset.
type Asset struct {
	ID               int64          `json:"id" api:"ro"`
	URL              string         `json:"url" api:"ro,uri"`
	Organization     int64          `json:"organization" api:"create-only"`
	OrganizationName string         `json:"organization_name" api:"ro"`
	Name             string         `json:"name" api:"req"`
	AssetType        string         `json:"asset_type"`
	Status           string         `json:"status"`
	AssetTag         string         `json:"asset_tag"`
	SerialNumber     string         `json:"serial_number"`
	Manufacturer     string         `json:"manufacturer"`
	Model            string         `json:"model"`
	Hostname         string         `json:"hostname"`
	IPAddress        *string        `json:"ip_address" api:"ip"`
	MACAddress       *string        `json:"mac_address"`
	OSName           string         `json:"os_name"`
	OSVersion        string         `json:"os_version"`
	FirmwareVersion  string         `json:"firmware_version"`
	CPU              string         `json:"cpu"`
	RAMGB            *float64       `json:"ram_gb"`
	Storage          string         `json:"storage"`
	PurchaseDate     *string        `json:"purchase_date" api:"date"`
	WarrantyExpiry   *string        `json:"warranty_expiry" api:"date"`
	Latitude         *float64       `json:"latitude"`
	Longitude        *float64       `json:"longitude"`
	Notes            string         `json:"notes"`
	CustomFields     map[string]any `json:"custom_fields"`
	Tags             []string       `json:"tags"`
	Source           string         `json:"source" api:"ro"`
	Online           *bool          `json:"online" api:"ro"`
	LastSeenAt       *time.Time     `json:"last_seen_at" api:"ro"`
	CreatedBy        *int64         `json:"created_by" api:"ro"`
	CreatedAt        time.Time      `json:"created_at" api:"ro"`
	UpdatedAt        time.Time      `json:"updated_at" api:"ro"`
}

func datePtr(d *store.Date) *string {
	if d == nil {
		return nil
	}
	s := string(*d)
	return &s
}

// AssetJSON converts a stored asset to its API shape; webhooks send the same shape.
func AssetJSON(a store.Asset, url string) Asset {
	tags := a.Tags
	if tags == nil {
		tags = []string{}
	}
	custom := map[string]any(a.CustomFields)
	if custom == nil {
		custom = map[string]any{}
	}
	return Asset{ID: a.ID, URL: url, Organization: a.OrgID, OrganizationName: a.OrgName, Name: a.Name,
		AssetType: a.AssetType, Status: a.Status, AssetTag: a.AssetTag, SerialNumber: a.SerialNumber,
		Manufacturer: a.Manufacturer, Model: a.Model, Hostname: a.Hostname, IPAddress: a.IPAddress, MACAddress: a.MACAddress,
		OSName: a.OSName, OSVersion: a.OSVersion, FirmwareVersion: a.FirmwareVersion, CPU: a.CPU, RAMGB: a.RAMGB,
		Storage: a.Storage, PurchaseDate: datePtr(a.PurchaseDate), WarrantyExpiry: datePtr(a.WarrantyExpiry),
		Latitude: a.Latitude, Longitude: a.Longitude, Notes: a.Notes, CustomFields: custom, Tags: tags, Source: a.Source,
		Online: a.Online, LastSeenAt: a.LastSeenAt, CreatedBy: a.CreatedBy, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
}

// AssetEvent renders assets for webhook bodies: the API's shape, with URLs on baseURL (relative
// when no base URL is configured, as there is no request to take the host from).
func AssetEvent(baseURL string) func(store.Asset) any {
	return func(a store.Asset) any {
		return AssetJSON(a, baseURL+"/api/v1/assets/"+strconv.FormatInt(a.ID, 10)+"/")
	}
}

func (h *Handler) asset(r *http.Request, a store.Asset) Asset {
	return AssetJSON(a, h.objectURL(r, "assets", a.ID))
}

func applyAsset(b *body, a *store.Asset, replace bool) {
	if replace { // back to defaults, except what the API never writes
		*a = store.Asset{Scoped: a.Scoped, Source: a.Source, Online: a.Online, LastSeenAt: a.LastSeenAt, CreatedBy: a.CreatedBy}
		b.require("name")
	}
	b.org(&a.OrgID)
	b.str("name", &a.Name)
	b.str("asset_type", &a.AssetType)
	b.str("status", &a.Status)
	b.str("asset_tag", &a.AssetTag)
	b.str("serial_number", &a.SerialNumber)
	b.str("manufacturer", &a.Manufacturer)
	b.str("model", &a.Model)
	b.str("hostname", &a.Hostname)
	b.optStr("ip_address", &a.IPAddress)
	b.optStr("mac_address", &a.MACAddress)
	b.str("os_name", &a.OSName)
	b.str("os_version", &a.OSVersion)
	b.str("firmware_version", &a.FirmwareVersion)
	b.str("cpu", &a.CPU)
	b.optFloat("ram_gb", &a.RAMGB)
	b.str("storage", &a.Storage)
	b.optDate("purchase_date", &a.PurchaseDate)
	b.optDate("warranty_expiry", &a.WarrantyExpiry)
	b.optFloat("latitude", &a.Latitude)
	b.optFloat("longitude", &a.Longitude)
	b.str("notes", &a.Notes)
	b.object("custom_fields", &a.CustomFields)
	b.strings("tags", &a.Tags)
	b.readOnly("id", "url", "source", "online", "last_seen_at", "created_by", "created_at", "updated_at")
}

func (h *Handler) listAssets(w http.ResponseWriter, r *http.Request) {
	serveList(h, w, r, &store.AssetSpec, func(q list.Query) ([]store.Asset, int, error) {
		return h.store.ListAssets(r.Context(), q)
	}, func(a store.Asset) Asset { return h.asset(r, a) })
}

func (h *Handler) getAsset(w http.ResponseWriter, r *http.Request) {
	get(h, w, r, h.store.GetAsset, h.asset)
}

func (h *Handler) createAsset(w http.ResponseWriter, r *http.Request) {
	create(h, w, r, applyAsset, h.store.CreateAsset, h.asset, "assets", func(a store.Asset) int64 { return a.ID })
}

func (h *Handler) replaceAsset(w http.ResponseWriter, r *http.Request) {
	update(h, w, r, true, applyAsset, h.store.UpdateAsset, h.asset)
}

func (h *Handler) patchAsset(w http.ResponseWriter, r *http.Request) {
	update(h, w, r, false, applyAsset, h.store.UpdateAsset, h.asset)
}

func (h *Handler) deleteAsset(w http.ResponseWriter, r *http.Request) {
	remove(h, w, r, h.store.DeleteAsset)
}
