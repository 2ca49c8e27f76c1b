package syncro

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"clientst0r/internal/rmm"
)

// onlineWithin is how recent the agent's last sync must be for the device to count as online:
// Syncro has no online flag (research §5.4).
const onlineWithin = 15 * time.Minute

// asset holds the customer_assets fields the sync maps. Fields are typed so one pass decodes
// them; a field of an unexpected type is skipped (json.UnmarshalTypeError) rather than dropping
// the asset.
type asset struct {
	ID          rmm.LooseString `json:"id"`
	Name        string          `json:"name"`
	CustomerID  rmm.LooseString `json:"customer_id"`
	AssetSerial rmm.LooseString `json:"asset_serial"`
	Properties  json.RawMessage `json:"properties"`
	Customer    *struct {
		ID               rmm.LooseString `json:"id"`
		BusinessThenName string          `json:"business_then_name"`
		BusinessName     string          `json:"business_name"`
		Fullname         string          `json:"fullname"`
		Firstname        string          `json:"firstname"`
		Lastname         string          `json:"lastname"`
	} `json:"customer"`
	RMMStore *struct {
		General *struct {
			Info json.RawMessage `json:"info"`
		} `json:"general"`
	} `json:"rmm_store"`
	Address *struct {
		Latitude  rmm.LooseString `json:"latitude"`
		Longitude rmm.LooseString `json:"longitude"`
	} `json:"address"`
}

// toDevice normalises one asset; now decides online.
func toDevice(raw json.RawMessage, now time.Time) (rmm.Device, error) {
	var a asset
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		return rmm.Device{}, errors.New("not a JSON object")
	}
	if err := rmm.DecodeLoose(raw, &a); err != nil {
		return rmm.Device{}, err
	}
	var props struct {
		Kabuto json.RawMessage `json:"kabuto_information"`
	}
	_ = rmm.DecodeLoose(a.Properties, &props)
	ag, ok := parseAgent(props.Kabuto)
	if !ok && a.RMMStore != nil && a.RMMStore.General != nil {
		ag, ok = parseAgent(a.RMMStore.General.Info)
	}
	d := rmm.Device{ExternalID: string(a.ID), Name: strings.TrimSpace(a.Name), Serial: string(a.AssetSerial),
		OrgExternalID: string(a.CustomerID), Raw: raw}
	if c := a.Customer; c != nil {
		if d.OrgExternalID == "" {
			d.OrgExternalID = string(c.ID)
		}
		d.OrgName = rmm.First(c.BusinessThenName, c.BusinessName, c.Fullname, strings.TrimSpace(c.Firstname+" "+c.Lastname))
	}
	if ok {
		d.Hostname, d.Manufacturer, d.Model = ag.name, ag.manufacturer, ag.model
		d.OSName, d.OSVersion, d.IPAddress, d.MACAddresses = ag.osName, ag.osVersion, ag.lanIP, ag.macs
		d.Name = rmm.First(d.Name, ag.name)
		d.Serial = rmm.First(d.Serial, ag.serial)
		d.Kind = ag.kind()
		if ag.lastSynced != nil {
			d.LastSeen = ag.lastSynced
			online := now.Sub(*ag.lastSynced) <= onlineWithin
			d.Online = &online
		}
	} else {
		// A manually created asset: only the admin's own custom fields, best effort.
		custom := object(a.Properties)
		d.Manufacturer = text(custom, "Make", "Manufacturer")
		d.Model = text(custom, "Model")
		d.Serial = rmm.First(d.Serial, text(custom, "Serial", "Serial Number", "Serial #"))
	}
	// The asset's own (geocoded) address, often null; not the customer's head office.
	if ad := a.Address; ad != nil {
		lat, err1 := strconv.ParseFloat(string(ad.Latitude), 64)
		lon, err2 := strconv.ParseFloat(string(ad.Longitude), 64)
		if err1 == nil && err2 == nil && lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180 && (lat != 0 || lon != 0) {
			d.Latitude, d.Longitude = &lat, &lon
		}
	}
	return d, nil
}

// agent is what the Syncro agent reports (kabuto_information, or the rmm_store copy).
type agent struct {
	lastSynced                           *time.Time
	name, manufacturer, model, serial    string
	formFactor, osName, osVersion, lanIP string
	macs                                 []string
}

// agentJSON is the kabuto shape; general fields may also sit at the top (a flat info string).
type agentJSON struct {
	LastSyncedAt rmm.LooseString `json:"last_synced_at"`
	General      *generalJSON    `json:"general"`
	OS           *struct {
		Name                  string          `json:"name"`
		Version               rmm.LooseString `json:"version"`
		Build                 rmm.LooseString `json:"build"`
		WindowsReleaseVersion rmm.LooseString `json:"windows_release_version"`
	} `json:"os"`
	NetworkAdapters []adapterJSON `json:"network_adapters"`
	generalJSON
}

type generalJSON struct {
	Name         string          `json:"name"`
	Hostname     string          `json:"hostname"`
	Manufacturer string          `json:"manufacturer"`
	Model        string          `json:"model"`
	SerialNumber rmm.LooseString `json:"serial_number"`
	FormFactor   string          `json:"form_factor"`
	OSName       string          `json:"os_name"`
	MAC          json.RawMessage `json:"mac"` // a list, or one string
}

type adapterJSON struct {
	Name            string `json:"name"`
	Description     string `json:"description"`
	Type            string `json:"type"`
	PhysicalAddress string `json:"physical_address"`
	IPv4            string `json:"ipv4"`
}

// parseAgent reads agent data given as an object or as a JSON string holding one (the
// rmm_store.general.info form), in the kabuto shape {last_synced_at, general, os,
// network_adapters} or as a flat general section. ok is false when there is nothing usable.
func parseAgent(raw json.RawMessage) (agent, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return agent{}, false
		}
		raw = bytes.TrimSpace([]byte(s))
	}
	var j agentJSON
	if len(raw) == 0 || raw[0] != '{' || rmm.DecodeLoose(raw, &j) != nil {
		return agent{}, false
	}
	g := j.generalJSON
	if j.General != nil {
		g = *j.General
	}
	ag := agent{lastSynced: rmm.ParseTime(string(j.LastSyncedAt)), name: rmm.First(g.Name, g.Hostname),
		manufacturer: strings.TrimSpace(g.Manufacturer), model: strings.TrimSpace(g.Model), serial: string(g.SerialNumber),
		formFactor: g.FormFactor, osName: strings.TrimSpace(g.OSName)}
	if os := j.OS; os != nil {
		ag.osName = rmm.First(os.Name, ag.osName)
		ag.osVersion = rmm.First(string(os.Version), string(os.Build), string(os.WindowsReleaseVersion))
	}
	ag.macs = macs(g.MAC, j.NetworkAdapters)
	ag.lanIP = lanIP(j.NetworkAdapters)
	if ag.name == "" && ag.serial == "" && ag.lastSynced == nil && len(ag.macs) == 0 {
		return agent{}, false
	}
	return ag, true
}

func (a agent) kind() string {
	os, ff := strings.ToLower(a.osName), strings.ToLower(a.formFactor)
	switch {
	case strings.Contains(os, "server") || containsAny(ff, "rack", "server", "blade"):
		return "server"
	case containsAny(ff, "laptop", "notebook", "portable", "convertible", "detachable"):
		return "laptop"
	}
	return "workstation"
}

var macSeparators = strings.NewReplacer(":", "", "-", "", ".", "", " ", "")

// macs lists general.mac first, then physical adapters' addresses, bare hex as Syncro reports
// them, without duplicates; virtual adapters' addresses are shared across hosts (Hyper-V
// 00:15:5D…) and would make false matches.
func macs(general json.RawMessage, adapters []adapterJSON) []string {
	var list []string
	if json.Unmarshal(general, &list) != nil {
		var one string
		if json.Unmarshal(general, &one) == nil {
			list = []string{one}
		}
	}
	for _, ad := range adapters {
		if !ad.virtual() {
			list = append(list, ad.PhysicalAddress)
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, m := range list {
		key := strings.ToUpper(macSeparators.Replace(m))
		if key == "" || key == "000000000000" || seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, strings.TrimSpace(m))
	}
	return out
}

// lanIP is the first usable IPv4 on a physical adapter, else on a virtual one (a Hyper-V host's
// LAN address sits on its vEthernet switch). general.ip is the WAN address and is not used.
func lanIP(adapters []adapterJSON) string {
	for _, wantVirtual := range []bool{false, true} {
		for _, ad := range adapters {
			if ad.virtual() != wantVirtual {
				continue
			}
			for _, f := range strings.FieldsFunc(ad.IPv4, func(r rune) bool { return r == ',' || r == ' ' || r == ';' }) {
				ip, err := netip.ParseAddr(f)
				if err == nil && ip.Is4() && !ip.IsLinkLocalUnicast() && !ip.IsLoopback() && !ip.IsUnspecified() {
					return ip.String()
				}
			}
		}
	}
	return ""
}

func (ad adapterJSON) virtual() bool {
	s := strings.ToLower(ad.Type + " " + ad.Description + " " + ad.Name)
	return containsAny(s, "virtual", "hyper-v", "vmware", "vpn", "tap-", "tunnel", "loopback", "miniport", "docker", "wsl")
}

// object decodes a JSON object, or gives nil for anything else.
func object(raw json.RawMessage) map[string]json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	return m
}

// text returns the first of the keys (matched case-insensitively: custom fields vary in case)
// holding a string or number.
func text(m map[string]json.RawMessage, keys ...string) string {
	for _, k := range keys {
		v, ok := m[k]
		if !ok {
			for mk, mv := range m {
				if strings.EqualFold(mk, k) {
					v, ok = mv, true
					break
				}
			}
		}
		var s rmm.LooseString
		if ok && json.Unmarshal(v, &s) == nil && s != "" {
			return string(s)
		}
	}
	return ""
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
