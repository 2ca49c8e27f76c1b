package api

import (
	"context"
	"net/http"
	"time"

	"clientst0r/internal/list"
	"clientst0r/internal/store"
)

// Integration is the API shape of an RMM integration. Credentials are write-only.
type Integration struct {
	ID                  int64             `json:"id" api:"ro"`
	Organization        int64             `json:"organization" api:"create-only"`
	OrganizationName    string            `json:"organization_name" api:"ro"`
	Name                string            `json:"name" api:"req"`
	Provider            string            `json:"provider" api:"req"`
	BaseURL             string            `json:"base_url" api:"req,uri"`
	Credentials         map[string]string `json:"credentials,omitempty" api:"wo"`
	HasCredentials      bool              `json:"has_credentials" api:"ro"`
	SyncIntervalMinutes int               `json:"sync_interval_minutes"`
	Enabled             bool              `json:"enabled"`
	OrganizationMapping map[string]int64  `json:"organization_mapping"`
	DefaultOrganization *int64            `json:"default_organization"`
	LastSyncAt          *time.Time        `json:"last_sync_at" api:"ro"`
	LastSyncStatus      string            `json:"last_sync_status" api:"ro"`
	CreatedAt           time.Time         `json:"created_at" api:"ro"`
	UpdatedAt           time.Time         `json:"updated_at" api:"ro"`
}

// SyncRun is the API shape of a run.
type SyncRun struct {
	ID          int64      `json:"id" api:"ro"`
	Integration int64      `json:"integration" api:"ro"`
	Status      string     `json:"status" api:"ro"`
	StartedBy   string     `json:"started_by" api:"ro"`
	DryRun      bool       `json:"dry_run" api:"ro"`
	StartedAt   time.Time  `json:"started_at" api:"ro"`
	FinishedAt  *time.Time `json:"finished_at" api:"ro"`
	Seen        int        `json:"devices_seen" api:"ro"`
	Created     int        `json:"devices_created" api:"ro"`
	Updated     int        `json:"devices_updated" api:"ro"`
	Retired     int        `json:"devices_retired" api:"ro"`
	Skipped     int        `json:"devices_skipped" api:"ro"`
	Error       string     `json:"error" api:"ro"`
	Changes     []string   `json:"changes" api:"ro"`
}

// RMMDevice is a vendor device record with its linked asset.
type RMMDevice struct {
	ID           int64      `json:"id" api:"ro"`
	Organization int64      `json:"organization" api:"ro"`
	ExternalID   string     `json:"external_id" api:"ro"`
	VendorOrgID  string     `json:"vendor_organization_id" api:"ro"`
	Asset        *int64     `json:"asset" api:"ro"`
	Name         string     `json:"name" api:"ro"`
	Hostname     string     `json:"hostname" api:"ro"`
	SerialNumber string     `json:"serial_number" api:"ro"`
	MACAddress   *string    `json:"mac_address" api:"ro"`
	IPAddress    *string    `json:"ip_address" api:"ro"`
	OSName       string     `json:"os_name" api:"ro"`
	Site         string     `json:"site" api:"ro"`
	Address      string     `json:"address" api:"ro"`
	Online       *bool      `json:"online" api:"ro"`
	LastSeenAt   *time.Time `json:"last_seen_at" api:"ro"`
	Gone         bool       `json:"gone" api:"ro"`
	UpdatedAt    time.Time  `json:"updated_at" api:"ro"`
}

// RMMAlert is the API shape of a vendor alert.
type RMMAlert struct {
	ID           int64      `json:"id" api:"ro"`
	Organization int64      `json:"organization" api:"ro"`
	Integration  int64      `json:"integration" api:"ro"`
	ExternalID   string     `json:"external_id" api:"ro"`
	Device       *int64     `json:"device" api:"ro"`
	DeviceName   *string    `json:"device_name" api:"ro"`
	Asset        *int64     `json:"asset" api:"ro"`
	AssetName    *string    `json:"asset_name" api:"ro"`
	Priority     string     `json:"priority" api:"ro"`
	Message      string     `json:"message" api:"ro"`
	Status       string     `json:"status" api:"ro"`
	OpenedAt     *time.Time `json:"opened_at" api:"ro"`
	ResolvedAt   *time.Time `json:"resolved_at" api:"ro"`
}

// ConnectionTest is the answer of …/test/.
type ConnectionTest struct {
	OK    bool   `json:"ok" api:"ro"`
	Error string `json:"error" api:"ro"`
}

// IntegrationTester checks an integration's connection (the sync engine).
type IntegrationTester interface {
	Test(ctx context.Context, integ store.Integration) error
}

func (h *Handler) integration(_ *http.Request, i store.Integration) Integration {
	m := i.Mapping
	if m == nil {
		m = map[string]int64{}
	}
	return Integration{ID: i.ID, Organization: i.OrgID, OrganizationName: i.OrgName, Name: i.Name, Provider: i.Provider, BaseURL: i.BaseURL,
		HasCredentials: i.HasCredentials, SyncIntervalMinutes: i.SyncIntervalMinutes, Enabled: i.Enabled, OrganizationMapping: m,
		DefaultOrganization: i.DefaultOrgID, LastSyncAt: i.LastSyncAt, LastSyncStatus: i.LastSyncStatus, CreatedAt: i.CreatedAt, UpdatedAt: i.UpdatedAt}
}

func syncRun(_ *http.Request, r store.SyncRun) SyncRun {
	changes := r.Summary
	if changes == nil {
		changes = []string{}
	}
	return SyncRun{ID: r.ID, Integration: r.IntegrationID, Status: r.Status, StartedBy: r.StartedBy, DryRun: r.DryRun, StartedAt: r.StartedAt,
		FinishedAt: r.FinishedAt, Seen: r.Seen, Created: r.Created, Updated: r.Updated, Retired: r.Retired, Skipped: r.Skipped,
		Error: r.Error, Changes: changes}
}

func applyIntegration(b *body, i *store.Integration, replace bool) {
	if replace { // back to defaults; write-only credentials left out keep their stored value
		*i = store.Integration{Scoped: i.Scoped, Enabled: true, HasCredentials: i.HasCredentials, LastSyncAt: i.LastSyncAt,
			LastSyncStatus: i.LastSyncStatus}
		b.require("name", "provider", "base_url")
	}
	b.org(&i.OrgID)
	b.str("name", &i.Name)
	b.str("provider", &i.Provider)
	b.str("base_url", &i.BaseURL)
	if b.has("credentials") && !b.isNull("credentials") {
		var creds map[string]string
		if b.decode("credentials", &creds, "Expected an object of strings.") {
			i.SetCredentials = creds
		}
	}
	b.integer("sync_interval_minutes", &i.SyncIntervalMinutes)
	b.boolean("enabled", &i.Enabled)
	if b.has("organization_mapping") {
		i.Mapping = map[string]int64{}
		if !b.isNull("organization_mapping") {
			var m map[string]int64
			if b.decode("organization_mapping", &m, "Expected an object mapping vendor ids to organization ids.") {
				i.Mapping = m
			}
		}
	}
	b.optID("default_organization", &i.DefaultOrgID)
	b.readOnly("id", "has_credentials", "last_sync_at", "last_sync_status", "created_at", "updated_at")
}

func (h *Handler) listIntegrations(w http.ResponseWriter, r *http.Request) {
	serveList(h, w, r, &store.IntegrationSpec, func(q list.Query) ([]store.Integration, int, error) {
		return h.store.ListIntegrations(r.Context(), q)
	}, func(i store.Integration) Integration { return h.integration(r, i) })
}

func (h *Handler) getIntegration(w http.ResponseWriter, r *http.Request) {
	get(h, w, r, h.store.GetIntegration, h.integration)
}

func (h *Handler) createIntegration(w http.ResponseWriter, r *http.Request) {
	create(h, w, r, applyIntegration, h.store.CreateIntegration, h.integration, "integrations", func(i store.Integration) int64 { return i.ID })
}

func (h *Handler) replaceIntegration(w http.ResponseWriter, r *http.Request) {
	update(h, w, r, true, applyIntegration, h.store.UpdateIntegration, h.integration)
}

func (h *Handler) patchIntegration(w http.ResponseWriter, r *http.Request) {
	update(h, w, r, false, applyIntegration, h.store.UpdateIntegration, h.integration)
}

func (h *Handler) deleteIntegration(w http.ResponseWriter, r *http.Request) {
	remove(h, w, r, h.store.DeleteIntegration)
}

// syncIntegration starts a sync now: 202 with the run; ?dry_run=true reports without changing.
func (h *Handler) syncIntegration(w http.ResponseWriter, r *http.Request) {
	dry := r.URL.Query().Get("dry_run") == "true"
	action(h, w, r, http.StatusAccepted, func(ctx context.Context, id int64) (store.SyncRun, error) {
		return h.store.StartSync(ctx, id, dry, "manual")
	}, syncRun)
}

func (h *Handler) testIntegration(w http.ResponseWriter, r *http.Request) {
	action(h, w, r, http.StatusOK, func(ctx context.Context, id int64) (ConnectionTest, error) {
		i, err := h.store.GetIntegration(ctx, id)
		if err != nil {
			return ConnectionTest{}, err
		}
		if err := h.rmm.Test(ctx, i); err != nil {
			return ConnectionTest{Error: err.Error()}, nil
		}
		return ConnectionTest{OK: true}, nil
	}, func(_ *http.Request, t ConnectionTest) ConnectionTest { return t })
}

func (h *Handler) listRuns(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	serveList(h, w, r, &store.RunSpec, func(q list.Query) ([]store.SyncRun, int, error) {
		return h.store.ListRuns(r.Context(), id, q)
	}, func(run store.SyncRun) SyncRun { return syncRun(r, run) })
}

func (h *Handler) listRMMDevices(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	serveList(h, w, r, &store.RMMDeviceSpec, func(q list.Query) ([]store.RMMDevice, int, error) {
		return h.store.ListRMMDevices(r.Context(), id, q)
	}, func(d store.RMMDevice) RMMDevice {
		return RMMDevice{ID: d.ID, Organization: d.OrgID, ExternalID: d.ExternalID, VendorOrgID: d.OrgExternalID, Asset: d.AssetID, Name: d.Name,
			Hostname: d.Hostname, SerialNumber: d.Serial, MACAddress: d.MAC, IPAddress: d.IP, OSName: d.OSName, Site: d.SiteName,
			Address: d.Address, Online: d.Online, LastSeenAt: d.LastSeenAt, Gone: d.Gone, UpdatedAt: d.UpdatedAt}
	})
}

func (h *Handler) listRMMAlerts(w http.ResponseWriter, r *http.Request) {
	serveList(h, w, r, &store.RMMAlertSpec, func(q list.Query) ([]store.RMMAlert, int, error) {
		return h.store.ListRMMAlerts(r.Context(), q)
	}, func(a store.RMMAlert) RMMAlert {
		return RMMAlert{ID: a.ID, Organization: a.OrgID, Integration: a.IntegrationID, ExternalID: a.ExternalID, Device: a.DeviceID,
			DeviceName: a.DeviceName, Asset: a.AssetID, AssetName: a.AssetName, Priority: a.Priority, Message: a.Message, Status: a.Status,
			OpenedAt: a.OpenedAt, ResolvedAt: a.ResolvedAt}
	})
}
