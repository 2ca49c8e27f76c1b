package automatefake

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"clientst0r/internal/rmm/rmmtest"
)

// zoneless is how Automate writes times: server-local, no offset (the fake's server runs on UTC).
const zoneless = "2006-01-02T15:04:05"

// Location is an Automate location (site) as the fake serves it. GPS is the "lat,lon" text of its
// "GPS" extra data field; "" leaves the field out.
type Location struct {
	ID                                                int64
	ClientID                                          int64
	Name                                              string
	Address1, Address2, City, State, ZipCode, Country string
	GPS                                               string
}

type locKey struct {
	org  int64
	site string
}

// entry is one device with its JSON rendered once, so pages are cheap to serve.
type entry struct {
	d        rmmtest.Device
	loc      int64
	computer []byte
	chassis  []byte
}

// dataset is immutable once built; SetDevices swaps in a new one.
type dataset struct {
	entries []*entry // by ID
}

// SetDevices replaces the devices served. Locations are keyed by (Org, Site) and keep their ids
// and any SetLocation changes across calls. Every third computer's Id is rendered as a JSON string
// (the spec's type) and the others as numbers (what servers send).
func (s *Server) SetDevices(devs []rmmtest.Device) {
	devs = slices.Clone(devs)
	slices.SortFunc(devs, func(a, b rmmtest.Device) int { return cmp.Compare(a.ID, b.ID) })
	ds := &dataset{entries: make([]*entry, len(devs))}
	s.mu.Lock()
	for i, d := range devs {
		k := locKey{d.Org, d.Site}
		id, ok := s.locIDs[k]
		if !ok {
			id = int64(len(s.locIDs) + 1)
			s.locIDs[k] = id
			s.locations[id] = defaultLocation(id, d)
		}
		ds.entries[i] = &entry{d: d, loc: id}
	}
	s.mu.Unlock()
	for _, e := range ds.entries {
		e.computer, e.chassis = renderComputer(e), renderChassis(e.d)
	}
	s.mu.Lock()
	s.data = ds
	s.mu.Unlock()
}

func defaultLocation(id int64, d rmmtest.Device) *Location {
	return &Location{ID: id, ClientID: d.Org, Name: d.Site, Address1: fmt.Sprintf("%d George St", 100+id), Address2: "Level 2",
		City: "Sydney", State: "NSW", ZipCode: fmt.Sprintf("%04d", 2000+id%100), Country: "Australia",
		GPS: fmt.Sprintf("%.4f,%.4f", -33.8688-float64(id%50)/100, 151.2093+float64(id%50)/100)}
}

// LocationOf returns the location a device is served under.
func (s *Server) LocationOf(d rmmtest.Device) (Location, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.locIDs[locKey{d.Org, d.Site}]; ok {
		return *s.locations[id], true
	}
	return Location{}, false
}

// SetLocation replaces a location's details (by ID).
func (s *Server) SetLocation(l Location) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.locations[l.ID] = &l
}

func renderComputer(e *entry) []byte {
	d := e.d
	var id any = d.ID
	if d.ID%3 == 0 {
		id = strconv.FormatInt(d.ID, 10)
	}
	typ, status := "Workstation", "Offline"
	if d.Kind == "server" {
		typ = "Server"
	}
	if d.Online {
		status = "Online"
	}
	var last any
	if !d.LastSeen.IsZero() {
		last = d.LastSeen.UTC().Format(zoneless)
	}
	b, _ := json.Marshal(struct {
		ID                                    any `json:"Id"`
		ComputerName, FriendlyName            string
		Client                                idName
		Location                              idName
		Type, Status                          string
		OperatingSystemName                   string
		OperatingSystemVersion                string
		DomainName                            string
		LocalIPAddress, GatewayIPAddress      string
		MACAddress, SerialNumber, AssetTag    string
		BiosManufacturer, BiosFlash           string
		IsVirtualMachine, IsMaster            bool
		RemoteAgentLastContact, LastHeartbeat any
		DateAdded                             string
		WarrantyEndDate                       any
		UTCOffset, TotalMemory                int
	}{ID: id, ComputerName: d.Name, Client: idName{d.Org, d.OrgName}, Location: idName{e.loc, d.Site}, Type: typ, Status: status,
		OperatingSystemName: d.OSName, OperatingSystemVersion: d.OSVersion, DomainName: "CORP", LocalIPAddress: d.IP,
		GatewayIPAddress: gateway(d.IP), MACAddress: strings.ToUpper(d.MAC), SerialNumber: d.Serial,
		BiosManufacturer: d.Manufacturer, BiosFlash: "1.14.0", RemoteAgentLastContact: last, LastHeartbeat: last,
		DateAdded: "2024-03-02T10:11:12", TotalMemory: 16384})
	return b
}

type idName struct {
	ID   int64  `json:"Id"`
	Name string `json:"Name"`
}

func renderChassis(d rmmtest.Device) []byte {
	ct := "Desktop"
	switch d.Kind {
	case "laptop":
		ct = "Notebook"
	case "server":
		ct = "Rack Mount Chassis"
	}
	b, _ := json.Marshal(map[string]any{"ComputerId": d.ID, "Manufacturer": d.Manufacturer, "ProductName": d.Model,
		"SerialNumber": d.Serial, "UUID": fmt.Sprintf("4C4C4544-%04X-0000-0000-%012X", d.ID%0x10000, d.ID), "ChassisType": ct,
		"AssetTag": "", "MainBoardManufacturer": d.Manufacturer, "MainBoardProduct": "0ABC12", "LastUpdate": "2026-01-09T20:02:11"})
	return b
}

func gateway(ip string) string {
	if i := strings.LastIndexByte(ip, '.'); i > 0 {
		return ip[:i] + ".1"
	}
	return ""
}

// fieldValue is a device's value of a condition field; ok is false for unknown fields.
func fieldValue(e *entry, field string) (string, bool) {
	d := e.d
	switch field {
	case "id", "computerid":
		return strconv.FormatInt(d.ID, 10), true
	case "client.id", "clientid":
		return strconv.FormatInt(d.Org, 10), true
	case "client.name":
		return d.OrgName, true
	case "location.id", "locationid":
		return strconv.FormatInt(e.loc, 10), true
	case "location.name":
		return d.Site, true
	case "computername":
		return d.Name, true
	case "serialnumber":
		return d.Serial, true
	case "status":
		if d.Online {
			return "Online", true
		}
		return "Offline", true
	case "type":
		if d.Kind == "server" {
			return "Server", true
		}
		return "Workstation", true
	}
	return "", false
}

// query reads flat and "options."-prefixed parameter names alike, case-insensitively.
func query(r *http.Request) map[string]string {
	out := map[string]string{}
	for k, v := range r.URL.Query() {
		out[strings.TrimPrefix(strings.ToLower(k), "options.")] = v[0]
	}
	return out
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, rest string) {
	s.mu.Lock()
	ds := s.data
	s.mu.Unlock()
	q := query(r)
	parts := strings.Split(strings.Trim(rest, "/"), "/")
	switch {
	case rest == "/apitoken":
		writeJSON(w, map[string]any{"UserId": "42", "InternalUserName": Username, "IsSuperUser": false})
	case rest == "/computers":
		s.list(w, q, ds, func(e *entry) []byte { return e.computer })
	case rest == "/computers/chassis":
		s.list(w, q, ds, func(e *entry) []byte { return e.chassis })
	case len(parts) == 2 && parts[0] == "computers":
		for _, e := range ds.entries {
			if strconv.FormatInt(e.d.ID, 10) == parts[1] {
				writeRaw(w, e.computer)
				return
			}
		}
		writeError(w, http.StatusNotFound, "NotFound", "Computer not found.")
	case rest == "/clients":
		seen := map[int64]bool{}
		out := []idName{}
		for _, e := range ds.entries {
			if !seen[e.d.Org] {
				seen[e.d.Org] = true
				out = append(out, idName{e.d.Org, e.d.OrgName})
			}
		}
		writeJSON(w, out)
	case rest == "/locations":
		s.mu.Lock()
		out := make([]map[string]any, 0, len(s.locations))
		for id := int64(1); id <= int64(len(s.locIDs)); id++ {
			out = append(out, renderLocation(s.locations[id]))
		}
		s.mu.Unlock()
		writeJSON(w, out)
	case len(parts) >= 2 && parts[0] == "locations":
		id, _ := strconv.ParseInt(parts[1], 10, 64)
		s.mu.Lock()
		l := s.locations[id]
		s.mu.Unlock()
		switch {
		case l == nil:
			writeError(w, http.StatusNotFound, "NotFound", "Location not found.")
		case len(parts) == 2:
			writeJSON(w, renderLocation(l))
		case len(parts) == 3 && parts[2] == "extrafields":
			writeJSON(w, renderExtraFields(l))
		default:
			writeError(w, http.StatusNotFound, "NotFound", "No HTTP resource was found that matches the request URI.")
		}
	default:
		writeError(w, http.StatusNotFound, "NotFound", "No HTTP resource was found that matches the request URI.")
	}
}

// list serves a filtered page of a collection in Id order as a bare JSON array.
func (s *Server) list(w http.ResponseWriter, q map[string]string, ds *dataset, render func(*entry) []byte) {
	match := func(*entry) bool { return true }
	if c := q["condition"]; c != "" {
		pred, err := parseCondition(c)
		switch {
		case errors.Is(err, errDateCondition):
			writeError(w, http.StatusInternalServerError, "InternalServerError", "An error has occurred.")
			return
		case err != nil:
			writeError(w, http.StatusBadRequest, "BadRequest", "Invalid condition: "+err.Error())
			return
		}
		match = pred
	}
	page, size := atoi(q["page"], 1), atoi(q["pagesize"], defaultPageSize)
	page, size = max(page, 1), min(max(size, 1), maxPageSize)
	skip := (page - 1) * size
	var b []byte
	b = append(b, '[')
	n := 0
	for _, e := range ds.entries {
		if n == size {
			break
		}
		if !match(e) {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, render(e)...)
		n++
	}
	writeRaw(w, append(b, ']'))
}

func renderLocation(l *Location) map[string]any {
	return map[string]any{"Id": l.ID, "Name": l.Name, "ClientId": l.ClientID, "Address1": l.Address1, "Address2": l.Address2,
		"City": l.City, "State": l.State, "ZipCode": l.ZipCode, "Country": l.Country, "Phone": "", "Fax": "",
		"Client": idName{l.ClientID, ""}}
}

// renderExtraFields returns the location's extra data fields: the "GPS" text field when set, and
// an unrelated one the client must ignore.
func renderExtraFields(l *Location) []map[string]any {
	field := func(def int, title, value string) map[string]any {
		return map[string]any{"TargetId": l.ID, "ExtraFieldDefinitionId": def, "Title": title, "Section": "Site",
			"TextFieldSettings": map[string]any{"Value": value, "IsMasked": false, "DefaultValue": ""},
			"CheckboxSettings":  nil, "DropdownSettings": nil, "IsReadOnly": false}
	}
	out := []map[string]any{field(87, "Site Contact", "Front desk")}
	if l.GPS != "" {
		out = append(out, field(88, "GPS", l.GPS))
	}
	return out
}

func writeRaw(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(b)
}

func atoi(s string, def int) int {
	if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
		return n
	}
	return def
}
