package ninjaone

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"clientst0r/internal/rmm"
)

// pageSize is the keyset page: always sent, since integrations that relied on the default stopped
// at exactly one page.
const pageSize = 1000

type named struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// device is an item of /v2/devices-detailed. Only agent devices carry os and system, and references
// is optional, so every nested object is a pointer.
type device struct {
	ID             int64           `json:"id"`
	OrganizationID int64           `json:"organizationId"`
	LocationID     int64           `json:"locationId"`
	NodeClass      string          `json:"nodeClass"`
	ApprovalStatus string          `json:"approvalStatus"`
	Offline        *bool           `json:"offline"` // inverted: the list has no online flag
	DisplayName    string          `json:"displayName"`
	SystemName     string          `json:"systemName"`
	DNSName        string          `json:"dnsName"`
	NetbiosName    string          `json:"netbiosName"`
	LastContact    json.RawMessage `json:"lastContact"` // epoch seconds with a fraction
	IPAddresses    []string        `json:"ipAddresses"`
	MACAddresses   []string        `json:"macAddresses"`
	References     *struct {
		Organization *named `json:"organization"`
		Location     *named `json:"location"`
	} `json:"references"`
	OS *struct {
		Name        rmm.LooseString `json:"name"`
		BuildNumber rmm.LooseString `json:"buildNumber"`
		ReleaseID   rmm.LooseString `json:"releaseId"`
	} `json:"os"`
	System *struct {
		Manufacturer     rmm.LooseString `json:"manufacturer"`
		Model            rmm.LooseString `json:"model"`
		SerialNumber     rmm.LooseString `json:"serialNumber"`
		BiosSerialNumber rmm.LooseString `json:"biosSerialNumber"`
		ChassisType      rmm.LooseString `json:"chassisType"`
	} `json:"system"`
}

// Devices yields every approved device; pending (and staged or decommissioned) nodes are not
// managed yet or any more.
func (c *Client) Devices(ctx context.Context, yield func(rmm.Device) error) error {
	orgs, err := c.names(ctx, "/v2/organizations")
	if err != nil {
		return wrap(err)
	}
	locs, err := c.names(ctx, "/v2/locations")
	if err != nil {
		return wrap(err)
	}
	var yieldErr error
	err = c.keyset(ctx, "/v2/devices-detailed", func(raw json.RawMessage) (int64, error) {
		var d device
		if err := json.Unmarshal(raw, &d); err != nil {
			return 0, fmt.Errorf("device list: %w", err)
		}
		if d.ApprovalStatus != "" && !strings.EqualFold(d.ApprovalStatus, "APPROVED") {
			return d.ID, nil
		}
		yieldErr = yield(d.normalise(orgs, locs, raw))
		return d.ID, yieldErr
	})
	if yieldErr != nil {
		return yieldErr
	}
	return wrap(err)
}

// names reads a keyset-paged list of {id, name} (organizations, locations) into a map.
func (c *Client) names(ctx context.Context, path string) (map[int64]string, error) {
	out := map[int64]string{}
	err := c.keyset(ctx, path, func(raw json.RawMessage) (int64, error) {
		var n named
		if err := json.Unmarshal(raw, &n); err != nil {
			return 0, fmt.Errorf("%s: %w", path, err)
		}
		out[n.ID] = n.Name
		return n.ID, nil
	})
	return out, err
}

// keyset GETs path in pages of pageSize, each after the last id of the one before, until a page
// comes back short; fn decodes an item and returns its id.
func (c *Client) keyset(ctx context.Context, path string, fn func(json.RawMessage) (int64, error)) error {
	var after int64
	for first := true; ; first = false {
		q := url.Values{"pageSize": {strconv.Itoa(pageSize)}}
		if !first {
			q.Set("after", strconv.FormatInt(after, 10))
		}
		var items []json.RawMessage
		if err := c.get(ctx, path, q, &items); err != nil {
			return err
		}
		last := after
		for _, raw := range items {
			id, err := fn(raw)
			if err != nil {
				return err
			}
			last = id
		}
		if len(items) < pageSize {
			return nil
		}
		if !first && last <= after { // a server ignoring after would page forever
			return fmt.Errorf("%s: paging did not advance past id %d", path, after)
		}
		after = last
	}
}

func (d *device) normalise(orgs, locs map[int64]string, raw json.RawMessage) rmm.Device {
	host := rmm.First(d.SystemName, d.NetbiosName, strings.Split(d.DNSName, ".")[0])
	out := rmm.Device{
		ExternalID:   strconv.FormatInt(d.ID, 10),
		Name:         rmm.First(d.DisplayName, host),
		Hostname:     host,
		OrgName:      orgs[d.OrganizationID],
		SiteName:     locs[d.LocationID],
		IPAddress:    lanAddress(d.IPAddresses),
		MACAddresses: d.MACAddresses,
		LastSeen:     epochSeconds(d.LastContact),
		Raw:          raw,
	}
	if d.OrganizationID != 0 {
		out.OrgExternalID = strconv.FormatInt(d.OrganizationID, 10)
	}
	if r := d.References; r != nil { // a device newer than the lists read at the start
		if out.OrgName == "" && r.Organization != nil {
			out.OrgName = r.Organization.Name
		}
		if out.SiteName == "" && r.Location != nil {
			out.SiteName = r.Location.Name
		}
	}
	if d.Offline != nil {
		online := !*d.Offline
		out.Online = &online
	}
	var chassis string
	if s := d.System; s != nil {
		out.Manufacturer, out.Model = string(s.Manufacturer), string(s.Model)
		out.Serial = rmm.First(string(s.SerialNumber), string(s.BiosSerialNumber))
		chassis = string(s.ChassisType)
	}
	if o := d.OS; o != nil {
		out.OSName, out.OSVersion = string(o.Name), rmm.First(string(o.BuildNumber), string(o.ReleaseID))
	}
	out.Kind = kind(d.NodeClass, chassis)
	return out
}

// kind maps nodeClass to an asset type; workstation classes with a laptop chassis are laptops.
func kind(nodeClass, chassis string) string {
	switch nodeClass {
	case "WINDOWS_SERVER", "LINUX_SERVER", "MAC_SERVER", "VMWARE_VM_HOST", "HYPERV_VMM_HOST", "NMS_SERVER":
		return "server"
	case "WINDOWS_WORKSTATION", "LINUX_WORKSTATION", "MAC":
		c := strings.ToUpper(chassis)
		if strings.Contains(c, "LAPTOP") || strings.Contains(c, "NOTEBOOK") || strings.Contains(c, "PORTABLE") {
			return "laptop"
		}
		return "workstation"
	case "ANDROID", "APPLE_IOS":
		return "mobile"
	case "APPLE_IPADOS":
		return "tablet"
	case "NMS_SWITCH":
		return "switch"
	case "NMS_ROUTER":
		return "router"
	case "NMS_FIREWALL":
		return "firewall"
	case "NMS_PRINTER":
		return "printer"
	case "NMS_WAP":
		return "wireless_ap"
	}
	return ""
}

// lanAddress is the first IPv4 address that is not link-local (APIPA) or loopback; a global IPv6
// address only when there is none.
func lanAddress(addrs []string) string {
	var v6 string
	for _, s := range addrs {
		ip, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			continue
		}
		ip = ip.Unmap()
		switch {
		case ip.Is4() && !ip.IsLinkLocalUnicast() && !ip.IsLoopback() && !ip.IsUnspecified():
			return ip.String()
		case v6 == "" && ip.Is6() && ip.IsGlobalUnicast():
			v6 = ip.String()
		}
	}
	return v6
}

// epochSeconds reads NinjaOne's epoch seconds. A decimal like 1767958523.456 is read digit by digit:
// through a float64 it would come out a microsecond early half the time.
func epochSeconds(raw json.RawMessage) *time.Time {
	s := strings.Trim(strings.TrimSpace(string(raw)), `"`)
	t := rmm.ParseTime(s) // decides what is a plausible time at all
	if t == nil {
		return nil
	}
	whole, frac, _ := strings.Cut(s, ".")
	sec, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || sec > 1e11 || strings.Trim(frac, "0123456789") != "" {
		return t // milliseconds or another form: ParseTime's reading stands
	}
	frac = (frac + "000000")[:6]
	us, _ := strconv.Atoi(frac)
	exact := time.Unix(sec, int64(us)*1000).UTC()
	return &exact
}
