package syncrofake

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"clientst0r/internal/rmm/rmmtest"
)

// aest is the tenant's zone: Syncro writes times with the tenant's offset.
var aest = time.FixedZone("AEST", 10*3600)

const timeLayout = "2006-01-02T15:04:05.000-07:00"

type entry struct {
	d     rmmtest.Device
	asset []byte
}

// dataset is immutable once built; SetDevices swaps in a new one.
type dataset struct {
	entries   []*entry // by ID
	customers [][]byte // by id
}

// SetDevices replaces the devices served (see the package comment for how they are rendered).
func (s *Server) SetDevices(devs []rmmtest.Device) {
	devs = slices.Clone(devs)
	slices.SortFunc(devs, func(a, b rmmtest.Device) int { return cmp.Compare(a.ID, b.ID) })
	ds := &dataset{entries: make([]*entry, len(devs))}
	agents, orgs := 0, map[int64]bool{}
	for i, d := range devs {
		infoOnly := false
		if !d.LastSeen.IsZero() {
			agents++
			infoOnly = agents == 2
		}
		ds.entries[i] = &entry{d: d, asset: renderAsset(d, infoOnly)}
		if !orgs[d.Org] {
			orgs[d.Org] = true
			b, _ := json.Marshal(customer(d))
			ds.customers = append(ds.customers, b)
		}
	}
	s.mu.Lock()
	s.data = ds
	s.mu.Unlock()
}

// customerJSON is the customer embedded in an asset (and listed by /customers).
type customerJSON struct {
	ID               int64   `json:"id"`
	BusinessName     *string `json:"business_name"`
	Firstname        string  `json:"firstname"`
	Lastname         string  `json:"lastname"`
	Fullname         string  `json:"fullname"`
	BusinessThenName string  `json:"business_then_name"`
	Email            string  `json:"email"`
	Address          string  `json:"address"`
	City             string  `json:"city"`
	State            string  `json:"state"`
	Zip              string  `json:"zip"`
	Latitude         float64 `json:"latitude"`
	Longitude        float64 `json:"longitude"`
}

func customer(d rmmtest.Device) customerJSON {
	// A consumer customer (no business name) is named by its person, as business_then_name does.
	c := customerJSON{ID: d.Org, Firstname: "Pat", Lastname: "Example", Fullname: "Pat Example", BusinessThenName: "Pat Example",
		Email: fmt.Sprintf("it@%d.example", d.Org), Address: "1 George St", City: "Sydney", State: "NSW", Zip: "2000",
		Latitude: -33.8688, Longitude: 151.2093}
	if d.OrgName != "" {
		name := d.OrgName
		c.BusinessName, c.BusinessThenName = &name, name
	}
	return c
}

// assetJSON is a customer_assets item; structs (not maps) keep rendering 20,000 devices fast.
type assetJSON struct {
	ID              int64        `json:"id"`
	Name            string       `json:"name"`
	CustomerID      int64        `json:"customer_id"`
	ContactID       any          `json:"contact_id"`
	AssetType       string       `json:"asset_type"`
	AssetSerial     string       `json:"asset_serial"`
	ExternalRMMLink any          `json:"external_rmm_link"`
	CreatedAt       string       `json:"created_at"`
	UpdatedAt       string       `json:"updated_at"`
	SNMPEnabled     bool         `json:"snmp_enabled"`
	HasLiveChat     bool         `json:"has_live_chat"`
	RMMLinks        []any        `json:"rmm_links"`
	Properties      any          `json:"properties"`
	Customer        customerJSON `json:"customer"`
	RMMStore        *rmmStore    `json:"rmm_store"`
	Address         any          `json:"address"`
}

type rmmStore struct {
	ID             int64             `json:"id"`
	AssetID        int64             `json:"asset_id"`
	AccountID      int64             `json:"account_id"`
	Triggers       map[string]string `json:"triggers"` // "true"/"false" strings, as Syncro sends
	WindowsUpdates struct{}          `json:"windows_updates"`
	Emsisoft       struct{}          `json:"emsisoft"`
	General        map[string]string `json:"general"`
	OverrideMins   any               `json:"override_alert_agent_offline_mins"`
}

type kabutoJSON struct {
	LastSyncedAt    string        `json:"last_synced_at"`
	LastUser        string        `json:"last_user"`
	General         generalJSON   `json:"general"`
	OS              osJSON        `json:"os"`
	NetworkAdapters []adapterJSON `json:"network_adapters"`
	SystemPartition struct {
		SizeGB      int `json:"size_gb"`
		FreeGB      int `json:"free_gb"`
		FreePercent int `json:"free_percent"`
	} `json:"system_partition"`
	CPU []any `json:"cpu"`
	RAM []any `json:"ram"`
	HDD []any `json:"hdd"`
}

type generalJSON struct {
	Name         string   `json:"name"`
	Manufacturer string   `json:"manufacturer"`
	Model        string   `json:"model"`
	SerialNumber string   `json:"serial_number"`
	FormFactor   string   `json:"form_factor"`
	Domain       string   `json:"domain"`
	IP           string   `json:"ip"` // the WAN address
	MAC          []string `json:"mac"`
}

type osJSON struct {
	Name                  string `json:"name"`
	Build                 string `json:"build"`
	WindowsReleaseVersion string `json:"windows_release_version"`
	OSArchitecture        string `json:"os_architecture"`
	LastBootTime          string `json:"last_boot_time"`
	PendingReboot         bool   `json:"pending_reboot"`
}

type adapterJSON struct {
	Name            string `json:"name"`
	Description     string `json:"description"`
	Type            string `json:"type"`
	PhysicalAddress string `json:"physical_address"`
	IPv4            string `json:"ipv4"`
	Subnet          string `json:"subnet,omitempty"`
	IPv6            string `json:"ipv6,omitempty"`
}

func renderAsset(d rmmtest.Device, infoOnly bool) []byte {
	a := assetJSON{ID: d.ID, Name: d.Name, CustomerID: d.Org, AssetSerial: d.Serial, CreatedAt: "2024-05-10T08:26:04.743+10:00",
		UpdatedAt: "2026-01-10T09:01:12.119+10:00", RMMLinks: []any{}, Customer: customer(d)}
	switch {
	case d.LastSeen.IsZero():
		// Manual asset: the admin's own custom fields, in their own key case.
		a.AssetType = "Network Device"
		a.Properties = map[string]string{"Make": d.Manufacturer, "Model": d.Model, "LAN IP(s)": d.IP, "notes": "added by hand"}
	case infoOnly:
		a.AssetType = "Syncro Device"
		info, _ := json.Marshal(kabuto(d))
		a.Properties = struct{}{}
		a.RMMStore = store(d, map[string]string{"info": string(info)})
	default:
		a.AssetType = "Syncro Device"
		a.Properties = map[string]kabutoJSON{"kabuto_information": kabuto(d)}
		a.RMMStore = store(d, map[string]string{})
	}
	b, _ := json.Marshal(a)
	return b
}

func store(d rmmtest.Device, general map[string]string) *rmmStore {
	return &rmmStore{ID: d.ID + 1, AssetID: d.ID, AccountID: 1, General: general,
		Triggers: map[string]string{"agent_offline_triggered": strconv.FormatBool(!d.Online), "low_hd_space_triggered": "false"}}
}

var macSeparators = strings.NewReplacer(":", "", "-", "")

func kabuto(d rmmtest.Device) kabutoJSON {
	mac := strings.ToUpper(macSeparators.Replace(d.MAC)) // bare hex
	form := "Desktop"
	switch d.Kind {
	case "laptop":
		form = "Laptop"
	case "server":
		form = "Rack Mount Chassis"
	}
	adapters := []adapterJSON{{Name: "Ethernet", Description: "Intel(R) Ethernet Connection", Type: "ethernet",
		PhysicalAddress: mac, IPv4: d.IP, Subnet: "255.255.255.0", IPv6: "fe80::1c2d:3e4f"}}
	if d.ID%2 == 1 {
		adapters = append([]adapterJSON{{Name: "vEthernet (Default Switch)", Description: "Hyper-V Virtual Ethernet Adapter",
			Type: "virtual", PhysicalAddress: fmt.Sprintf("00155D%06X", d.ID&0xffffff), IPv4: "169.254.12.34"}}, adapters...)
	}
	k := kabutoJSON{LastSyncedAt: d.LastSeen.In(aest).Format(timeLayout), LastUser: "CORP\\jdoe",
		General: generalJSON{Name: d.Name, Manufacturer: d.Manufacturer, Model: d.Model, SerialNumber: d.Serial, FormFactor: form,
			Domain: "CORP", IP: fmt.Sprintf("203.0.113.%d", d.ID%250+1), MAC: []string{mac}},
		OS: osJSON{Name: d.OSName, Build: d.OSVersion, WindowsReleaseVersion: "23H2", OSArchitecture: "64-bit",
			LastBootTime: d.LastSeen.Add(-72 * time.Hour).In(aest).Format(timeLayout)},
		NetworkAdapters: adapters, CPU: []any{}, RAM: []any{}, HDD: []any{}}
	k.SystemPartition.SizeGB, k.SystemPartition.FreeGB, k.SystemPartition.FreePercent = 476, 212, 44
	return k
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	ds := s.data
	s.mu.Unlock()
	q := r.URL.Query()
	path := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case path == "/api/v1/customer_assets":
		entries := ds.entries
		if c := q.Get("customer_id"); c != "" {
			entries = nil
			for _, e := range ds.entries {
				if strconv.FormatInt(e.d.Org, 10) == c {
					entries = append(entries, e)
				}
			}
		}
		page := pageOf(q.Get("page"))
		lo, hi := min((page-1)*PerPage, len(entries)), min(page*PerPage, len(entries))
		items := make([][]byte, 0, hi-lo)
		for _, e := range entries[lo:hi] {
			items = append(items, e.asset)
		}
		writePage(w, "assets", items, len(entries), page)
	case strings.HasPrefix(path, "/api/v1/customer_assets/"):
		id := strings.TrimPrefix(path, "/api/v1/customer_assets/")
		for _, e := range ds.entries {
			if strconv.FormatInt(e.d.ID, 10) == id {
				writeRaw(w, append(append([]byte(`{"asset":`), e.asset...), '}'))
				return
			}
		}
		writeError(w, http.StatusNotFound, "Not found")
	case path == "/api/v1/customers":
		page := pageOf(q.Get("page"))
		lo, hi := min((page-1)*PerPage, len(ds.customers)), min(page*PerPage, len(ds.customers))
		writePage(w, "customers", ds.customers[lo:hi], len(ds.customers), page)
	default:
		writeError(w, http.StatusNotFound, "Not found")
	}
}

func pageOf(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// writePage answers {"<key>": [...], "meta": {...}} with Syncro's meta fields.
func writePage(w http.ResponseWriter, key string, items [][]byte, total, page int) {
	b := []byte(`{"` + key + `":[`)
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, it...)
	}
	b = append(b, fmt.Sprintf(`],"meta":{"total_pages":%d,"total_entries":%d,"per_page":%d,"page":%d}}`,
		max(1, (total+PerPage-1)/PerPage), total, PerPage, page)...)
	writeRaw(w, b)
}

func writeRaw(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"error": msg})
	_, _ = w.Write(b)
}
