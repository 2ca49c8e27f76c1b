package ninjafake

import (
	"cmp"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"clientst0r/internal/rmm/rmmtest"
)

type named struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

type deviceJSON struct {
	ID             int64          `json:"id"`
	UID            string         `json:"uid"`
	ParentDeviceID *int64         `json:"parentDeviceId"`
	OrganizationID int64          `json:"organizationId"`
	LocationID     int64          `json:"locationId"`
	NodeClass      string         `json:"nodeClass"`
	NodeRoleID     int            `json:"nodeRoleId"`
	RolePolicyID   int            `json:"rolePolicyId"`
	PolicyID       *int           `json:"policyId"`
	ApprovalStatus string         `json:"approvalStatus"`
	Offline        bool           `json:"offline"`
	DisplayName    string         `json:"displayName"`
	SystemName     string         `json:"systemName"`
	DNSName        string         `json:"dnsName,omitempty"`
	NetbiosName    string         `json:"netbiosName,omitempty"`
	Created        json.Number    `json:"created"`
	LastContact    *json.Number   `json:"lastContact"`
	LastUpdate     *json.Number   `json:"lastUpdate"`
	Tags           []string       `json:"tags"`
	Fields         map[string]any `json:"fields"`
	Maintenance    *struct {
		Status *string `json:"status"`
		Start  *int64  `json:"start"`
		End    *int64  `json:"end"`
	} `json:"maintenance,omitempty"`
	References *struct {
		Organization named `json:"organization"`
		Location     named `json:"location"`
	} `json:"references,omitempty"`
	// devices-detailed only
	IPAddresses      []string `json:"ipAddresses,omitempty"`
	MACAddresses     []string `json:"macAddresses,omitempty"`
	PublicIP         string   `json:"publicIP,omitempty"`
	LastLoggedInUser string   `json:"lastLoggedInUser,omitempty"`
	DeviceType       string   `json:"deviceType,omitempty"`
	OS               *osJSON  `json:"os,omitempty"`
	System           *sysJSON `json:"system,omitempty"`
}

type osJSON struct {
	Manufacturer string      `json:"manufacturer"`
	Name         string      `json:"name"`
	Architecture string      `json:"architecture"`
	LastBootTime json.Number `json:"lastBootTime"`
	BuildNumber  string      `json:"buildNumber,omitempty"`
	ReleaseID    string      `json:"releaseId,omitempty"`
	Locale       string      `json:"locale"`
	Language     string      `json:"language"`
	NeedsReboot  bool        `json:"needsReboot"`
}

type sysJSON struct {
	Name                string `json:"name"`
	Manufacturer        string `json:"manufacturer"`
	Model               string `json:"model"`
	BiosSerialNumber    string `json:"biosSerialNumber"`
	SerialNumber        string `json:"serialNumber,omitempty"`
	Domain              string `json:"domain"`
	DomainRole          string `json:"domainRole"`
	NumberOfProcessors  int    `json:"numberOfProcessors"`
	TotalPhysicalMemory int64  `json:"totalPhysicalMemory"`
	VirtualMachine      bool   `json:"virtualMachine"`
	ChassisType         string `json:"chassisType"`
}

// seconds renders a time as NinjaOne does: epoch seconds with a fraction.
func seconds(t time.Time) json.Number {
	return json.Number(fmt.Sprintf("%d.%03d", t.Unix(), t.Nanosecond()/1e6))
}

// nonAgent reports whether a fixture has nothing an agent would report: it is served as a node
// without os and system (an unmanaged device, or a VM host for a server).
func nonAgent(d rmmtest.Device) bool {
	return d.OSName == "" && d.Manufacturer == "" && d.Model == "" && d.Serial == ""
}

func nodeClass(d rmmtest.Device) string {
	if nonAgent(d) {
		if d.Kind == "server" {
			return "VMWARE_VM_HOST"
		}
		return "UNMANAGED_DEVICE"
	}
	os := strings.ToLower(d.OSName)
	family := "WINDOWS"
	switch {
	case strings.Contains(os, "mac"):
		family = "MAC"
	case strings.Contains(os, "linux"), strings.Contains(os, "ubuntu"), strings.Contains(os, "debian"),
		strings.Contains(os, "red hat"), strings.Contains(os, "centos"):
		family = "LINUX"
	}
	switch {
	case d.Kind == "server":
		return family + "_SERVER"
	case family == "MAC":
		return "MAC"
	}
	return family + "_WORKSTATION"
}

// render gives a fixture's devices-detailed and devices JSON.
func render(d rmmtest.Device, locID int64, locName, approval string) (detailed, basic []byte) {
	v := deviceJSON{
		ID: d.ID, UID: fmt.Sprintf("6f1c2d3e-4a5b-4c6d-8e7f-%012x", d.ID), OrganizationID: d.Org, LocationID: locID,
		NodeClass: nodeClass(d), NodeRoleID: 4, RolePolicyID: 7, ApprovalStatus: approval, Offline: !d.Online,
		DisplayName: d.Name, SystemName: strings.ToUpper(d.Name), Created: "1700000000.123",
		Tags: []string{}, Fields: map[string]any{},
	}
	if !d.LastSeen.IsZero() {
		last, upd := seconds(d.LastSeen), seconds(d.LastSeen.Add(-2*time.Minute))
		v.LastContact, v.LastUpdate = &last, &upd
	}
	if d.ID%4 != 3 { // maintenance is sometimes missing
		v.Maintenance = &struct {
			Status *string `json:"status"`
			Start  *int64  `json:"start"`
			End    *int64  `json:"end"`
		}{}
	}
	if d.IP != "" {
		v.IPAddresses = []string{d.IP, "fe80::1c2d:3e4f:5a6b:7c8d"}
		if d.ID%2 == 1 { // APIPA and link-local first: the client must look past them
			v.IPAddresses = []string{"169.254.10.5", "fe80::1c2d:3e4f:5a6b:7c8d", d.IP}
		}
	}
	if d.MAC != "" {
		v.MACAddresses = []string{strings.ToUpper(d.MAC)}
	}
	if !nonAgent(d) {
		v.DNSName = strings.ToLower(d.Name) + ".contoso.local"
		v.NetbiosName = strings.ToUpper(d.Name)
		v.PublicIP, v.LastLoggedInUser, v.DeviceType = "203.0.113.10", `CONTOSO\jdoe`, "AGENT"
		if d.ID%2 == 0 { // references are optional; names must come from the lists anyway
			v.References = &struct {
				Organization named `json:"organization"`
				Location     named `json:"location"`
			}{named{d.Org, d.OrgName}, named{locID, locName}}
		}
		v.OS = &osJSON{Manufacturer: "Microsoft Corporation", Name: d.OSName, Architecture: "64-bit",
			LastBootTime: "1767700000.0", BuildNumber: d.OSVersion, Locale: "en-AU", Language: "en"}
		chassis := map[string]string{"laptop": "LAPTOP", "server": "RACK_MOUNT"}[d.Kind]
		v.System = &sysJSON{Name: strings.ToUpper(d.Name), Manufacturer: d.Manufacturer, Model: d.Model,
			BiosSerialNumber: d.Serial, SerialNumber: d.Serial, Domain: "contoso.local", DomainRole: "MemberWorkstation",
			NumberOfProcessors: 1, TotalPhysicalMemory: 17179869184, ChassisType: cmp.Or(chassis, "DESKTOP")}
		if d.ID%3 == 0 { // only the BIOS serial on some
			v.System.SerialNumber = ""
		}
	} else {
		v.DeviceType = "UNMANAGED"
		if d.Kind == "server" {
			v.DeviceType = "VMWARE"
		}
	}
	detailed, _ = json.Marshal(v)
	v.IPAddresses, v.MACAddresses, v.PublicIP, v.LastLoggedInUser, v.DeviceType, v.OS, v.System = nil, nil, "", "", "", nil, nil
	basic, _ = json.Marshal(v)
	return detailed, basic
}
