package automate

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"clientst0r/internal/rmm"
)

type idName struct {
	ID   rmm.LooseString `json:"Id"`
	Name string          `json:"Name"`
}

// computer holds the fields of LabTech.Models.Computer the sync maps (research §2.4).
type computer struct {
	ID                     rmm.LooseString `json:"Id"`
	ComputerName           string          `json:"ComputerName"`
	FriendlyName           string          `json:"FriendlyName"`
	Client                 *idName         `json:"Client"`
	Location               *idName         `json:"Location"`
	Type                   rmm.LooseString `json:"Type"`
	Status                 rmm.LooseString `json:"Status"`
	OperatingSystemName    string          `json:"OperatingSystemName"`
	OperatingSystemVersion string          `json:"OperatingSystemVersion"`
	LocalIPAddress         string          `json:"LocalIPAddress"`
	MACAddress             string          `json:"MACAddress"`
	SerialNumber           string          `json:"SerialNumber"`
	BiosManufacturer       string          `json:"BiosManufacturer"`
	RemoteAgentLastContact any             `json:"RemoteAgentLastContact"`
	LastHeartbeat          any             `json:"LastHeartbeat"`

	raw json.RawMessage
}

// chassis is LabTech.Models.ComputerChassis: the Computer has no model field, this has ProductName.
type chassis struct {
	ComputerID   rmm.LooseString `json:"ComputerId"`
	Manufacturer string          `json:"Manufacturer"`
	ProductName  string          `json:"ProductName"`
	SerialNumber string          `json:"SerialNumber"`
	ChassisType  rmm.LooseString `json:"ChassisType"`
}

// extraField is one entry of GET /Locations/{id}/ExtraFields.
type extraField struct {
	Title             string `json:"Title"`
	Value             any    `json:"Value"`
	TextFieldSettings *struct {
		Value any `json:"Value"`
	} `json:"TextFieldSettings"`
}

func (f extraField) value() string {
	if f.TextFieldSettings != nil {
		if s, ok := f.TextFieldSettings.Value.(string); ok {
			return s
		}
	}
	s, _ := f.Value.(string)
	return s
}

// site is what a device takes from its location.
type site struct {
	address  string
	lat, lon *float64
}

func (c computer) device(ch chassis, s *site) rmm.Device {
	d := rmm.Device{
		ExternalID:   string(c.ID),
		Name:         rmm.First(c.FriendlyName, c.ComputerName),
		Hostname:     strings.TrimSpace(c.ComputerName),
		Manufacturer: rmm.First(ch.Manufacturer, c.BiosManufacturer),
		Model:        strings.TrimSpace(ch.ProductName),
		Serial:       rmm.First(c.SerialNumber, ch.SerialNumber),
		OSName:       strings.TrimSpace(c.OperatingSystemName),
		OSVersion:    strings.TrimSpace(c.OperatingSystemVersion),
		IPAddress:    strings.TrimSpace(c.LocalIPAddress),
		Kind:         kind(string(c.Type), string(ch.ChassisType)),
		Raw:          c.raw,
	}
	if m := strings.TrimSpace(c.MACAddress); m != "" {
		d.MACAddresses = []string{m}
	}
	if c.Client != nil {
		d.OrgExternalID, d.OrgName = string(c.Client.ID), strings.TrimSpace(c.Client.Name)
	}
	if c.Location != nil {
		d.SiteName = strings.TrimSpace(c.Location.Name)
	}
	if st := strings.TrimSpace(string(c.Status)); st != "" {
		online := strings.EqualFold(st, "Online")
		d.Online = &online
	}
	// Zone-less server times are read as UTC (research §7); Status, not this, decides online.
	d.LastSeen = rmm.ParseTime(c.RemoteAgentLastContact)
	if d.LastSeen == nil {
		d.LastSeen = rmm.ParseTime(c.LastHeartbeat)
	}
	if s != nil {
		d.Address, d.Latitude, d.Longitude = s.address, s.lat, s.lon
	}
	return d
}

// kind maps Type (Workstation/Server) to an asset type; a portable chassis makes a workstation a
// laptop.
func kind(typ, chassisType string) string {
	if strings.EqualFold(strings.TrimSpace(typ), "Server") {
		return "server"
	}
	ct := strings.ToLower(chassisType)
	for _, p := range []string{"laptop", "notebook", "portable"} {
		if strings.Contains(ct, p) {
			return "laptop"
		}
	}
	return "workstation"
}

// postalAddress joins a location's address fields: "Address1, Address2, City State Zip, Country".
func postalAddress(loc map[string]json.RawMessage) string {
	get := func(names ...string) string {
		for k, v := range loc {
			for _, n := range names {
				if strings.EqualFold(k, n) {
					var s string
					if json.Unmarshal(v, &s) == nil && strings.TrimSpace(s) != "" {
						return strings.TrimSpace(s)
					}
				}
			}
		}
		return ""
	}
	line := strings.Join(nonEmpty(get("City"), get("State"), get("ZipCode", "Zip")), " ")
	return strings.Join(nonEmpty(get("Address1", "Address"), get("Address2"), line, get("Country")), ", ")
}

// parseGPS reads "lat,lon" in decimal degrees (a semicolon separator and spaces tolerated),
// rejecting values off the globe and the 0,0 placeholder.
func parseGPS(s string) (lat, lon float64, ok bool) {
	s = strings.TrimSpace(s)
	sep := strings.IndexAny(s, ",;")
	if sep < 0 {
		return 0, 0, false
	}
	a, b := strings.TrimSpace(s[:sep]), strings.TrimSpace(s[sep+1:])
	lat, err1 := strconv.ParseFloat(a, 64)
	lon, err2 := strconv.ParseFloat(b, 64)
	if err1 != nil || err2 != nil || math.IsNaN(lat) || math.IsNaN(lon) ||
		lat < -90 || lat > 90 || lon < -180 || lon > 180 || (lat == 0 && lon == 0) {
		return 0, 0, false
	}
	return lat, lon, true
}

func nonEmpty(vals ...string) []string {
	out := vals[:0:0]
	for _, v := range vals {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}
