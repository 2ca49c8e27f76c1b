package dattofake

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"clientst0r/internal/rmm/rmmtest"
)

// DeviceUID is the uid the fake gives the device with rmmtest id id (Datto's stable device key).
func DeviceUID(id int64) string { return fmt.Sprintf("d0000000-0000-4000-8000-%012x", id) }

// SiteUID is the uid of the site of rmmtest org id org: the OrgExternalID the client reports.
func SiteUID(org int64) string { return fmt.Sprintf("5e000000-0000-4000-8000-%012x", org) }

// deletedID is the id of the deleted device every device list carries: a client must skip it.
const deletedID = 1 << 40

// auditEpoch is the first lastAuditDate the fake hands out.
var auditEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()

type listDevice struct {
	ID         int64  `json:"id"`
	UID        string `json:"uid"`
	SiteID     int64  `json:"siteId"`
	SiteUID    string `json:"siteUid"`
	SiteName   string `json:"siteName"`
	DeviceType struct {
		Category string `json:"category"`
		Type     string `json:"type"`
	} `json:"deviceType"`
	DeviceClass      string  `json:"deviceClass"`
	Hostname         string  `json:"hostname"`
	Description      string  `json:"description"`
	IntIPAddress     string  `json:"intIpAddress"`
	ExtIPAddress     string  `json:"extIpAddress"`
	OperatingSystem  string  `json:"operatingSystem"`
	A64Bit           bool    `json:"a64Bit"`
	Domain           string  `json:"domain"`
	LastLoggedInUser string  `json:"lastLoggedInUser"`
	CagVersion       string  `json:"cagVersion"`
	Online           bool    `json:"online"`
	Suspended        bool    `json:"suspended"`
	Deleted          bool    `json:"deleted"`
	RebootRequired   bool    `json:"rebootRequired"`
	LastSeen         *int64  `json:"lastSeen"`
	LastReboot       *int64  `json:"lastReboot"`
	LastAuditDate    *int64  `json:"lastAuditDate"`
	CreationDate     int64   `json:"creationDate"`
	WarrantyDate     *string `json:"warrantyDate"`
	PortalURL        string  `json:"portalUrl"`
	Antivirus        struct {
		Product string `json:"antivirusProduct"`
		Status  string `json:"antivirusStatus"`
	} `json:"antivirus"`
	PatchManagement struct {
		Status    string `json:"patchStatus"`
		Pending   int    `json:"patchesApprovedPending"`
		NotApprov int    `json:"patchesNotApproved"`
		Installed int    `json:"patchesInstalled"`
	} `json:"patchManagement"`
	UDF map[string]*string `json:"udf"`
}

// siteName is the Datto site of a fixture: the customer, as Datto models it.
func siteName(d rmmtest.Device) string {
	if d.OrgName != "" {
		return d.OrgName
	}
	return d.Site
}

func renderDevice(d rmmtest.Device, auditStamp int64, deleted bool) []byte {
	var v listDevice
	v.ID, v.UID = d.ID, DeviceUID(d.ID)
	v.SiteID, v.SiteUID, v.SiteName = d.Org, SiteUID(d.Org), siteName(d)
	switch d.Kind {
	case "laptop":
		v.DeviceType.Category, v.DeviceType.Type = "Laptop", "Laptop"
	case "server":
		v.DeviceType.Category, v.DeviceType.Type = "Server", "Server"
	default:
		v.DeviceType.Category, v.DeviceType.Type = "Desktop", "Desktop"
	}
	v.DeviceClass = "device"
	v.Hostname, v.IntIPAddress, v.ExtIPAddress = d.Name, d.IP, "203.0.113.10"
	v.OperatingSystem = d.OSName
	if d.OSVersion != "" {
		v.OperatingSystem += " (" + d.OSVersion + ")"
	}
	v.A64Bit, v.Domain, v.LastLoggedInUser, v.CagVersion = true, "CONTOSO", `CONTOSO\jdoe`, "4.4.2241.2241"
	v.Online, v.Deleted = d.Online, deleted
	if !d.LastSeen.IsZero() {
		ms := d.LastSeen.UnixMilli()
		v.LastSeen, v.LastReboot = &ms, &ms
	}
	if auditStamp != 0 {
		v.LastAuditDate = &auditStamp
	}
	v.CreationDate = 1700000000000
	v.PortalURL = fmt.Sprintf("https://merlot.rmm.datto.com/device/%d", d.ID)
	v.Antivirus.Product, v.Antivirus.Status = "Windows Defender", "RunningAndUpToDate"
	v.PatchManagement.Status, v.PatchManagement.Installed = "FullyPatched", 152
	v.UDF = make(map[string]*string, 30)
	for i := 1; i <= 30; i++ {
		v.UDF[fmt.Sprintf("udf%d", i)] = nil
	}
	tag := fmt.Sprintf("Asset %04d", d.ID)
	v.UDF["udf1"] = &tag
	b, _ := json.Marshal(v)
	return b
}

func renderAudit(d rmmtest.Device) []byte {
	nics := []map[string]any{}
	if d.MAC != "" {
		nics = append(nics, map[string]any{"instance": "Intel(R) Ethernet Connection", "ipv4": d.IP,
			"ipv6": "fe80::1c2d:3e4f", "macAddress": strings.ToUpper(d.MAC), "type": "Ethernet"})
	}
	b, _ := json.Marshal(map[string]any{
		"portalUrl": fmt.Sprintf("https://merlot.rmm.datto.com/device/%d", d.ID),
		"systemInfo": map[string]any{"manufacturer": d.Manufacturer, "model": d.Model, "totalPhysicalMemory": 17179869184,
			"username": `CONTOSO\jdoe`, "dotNetVersion": "4.8.1", "totalCpuCores": 8},
		"bios":         map[string]any{"instance": "BIOS", "releaseDate": 1690000000000, "serialNumber": d.Serial, "smBiosVersion": "3.4"},
		"baseBoard":    map[string]any{"manufacturer": d.Manufacturer, "product": "0XYZ12"},
		"nics":         nics,
		"logicalDisks": []any{}, "processors": []any{}, "physicalMemory": []any{}, "displays": []any{},
		"videoBoards": []any{}, "attachedDevices": []any{}, "mobileInfo": []any{}, "snmpInfo": nil,
	})
	return b
}

func renderSite(org int64, name string, n int) []byte {
	b, _ := json.Marshal(map[string]any{
		"id": org, "uid": SiteUID(org), "accountUid": "fake-account", "name": name, "description": "", "notes": "",
		"onDemand": false, "devicesStatus": map[string]int{"numberOfDevices": n, "numberOfOnlineDevices": n, "numberOfOfflineDevices": 0},
		"autotaskCompanyId": nil, "autotaskCompanyName": nil, "portalUrl": fmt.Sprintf("https://merlot.rmm.datto.com/site/%d", org),
	})
	return b
}

// alertContexts rotate over the alerts: known classes with their own fields, and one class no client
// knows, which must not break parsing.
var alertContexts = []string{
	`{"@class":"perf_disk_usage_ctx","diskName":"C:","totalVolume":476.0,"freeSpace":7.0,"unitOfMeasure":"PERCENT","diskNameDesignation":"SINGLE_VOLUME"}`,
	`{"@class":"online_offline_status_ctx","status":"OFFLINE"}`,
	`{"@class":"eventlog_ctx","logName":"System","code":41,"type":"Error","source":"Kernel-Power","description":"The system rebooted without cleanly shutting down"}`,
	`{"@class":"quantum_entanglement_ctx","qubits":[{"id":1,"state":"superposed"}],"threshold":null,"nested":{"deeper":{"x":1}}}`,
}

type alertJSON struct {
	AlertUID         string           `json:"alertUid"`
	Priority         string           `json:"priority"`
	Diagnostics      string           `json:"diagnostics"`
	Resolved         bool             `json:"resolved"`
	ResolvedBy       *string          `json:"resolvedBy"`
	ResolvedOn       *int64           `json:"resolvedOn"`
	Muted            bool             `json:"muted"`
	TicketNumber     *string          `json:"ticketNumber"`
	Timestamp        int64            `json:"timestamp"`
	AutoresolveMins  *int             `json:"autoresolveMins"`
	AlertMonitorInfo map[string]bool  `json:"alertMonitorInfo"`
	AlertContext     json.RawMessage  `json:"alertContext"`
	AlertSourceInfo  map[string]any   `json:"alertSourceInfo"`
	ResponseActions  []map[string]any `json:"responseActions"`
}

func renderAlert(i int, a rmmtest.Alert, dev *rmmtest.Device) []byte {
	v := alertJSON{
		AlertUID: a.UID, Priority: a.Priority, Diagnostics: a.Message, Resolved: a.Resolved,
		Timestamp:        a.At.UnixMilli(),
		AlertMonitorInfo: map[string]bool{"sendsEmails": true, "createsTicket": false},
		AlertContext:     json.RawMessage(alertContexts[i%len(alertContexts)]),
		AlertSourceInfo:  map[string]any{"deviceUid": DeviceUID(a.DeviceID), "deviceName": nil, "siteUid": nil, "siteName": nil},
		ResponseActions: []map[string]any{{"actionTime": a.At.UnixMilli() + 5000, "actionType": "EMAIL_SENT",
			"description": "Email sent to noc@example.com", "actionReference": nil, "actionReferenceInt": nil}},
	}
	if dev != nil {
		v.AlertSourceInfo["deviceName"] = dev.Name
		v.AlertSourceInfo["siteUid"] = SiteUID(dev.Org)
		v.AlertSourceInfo["siteName"] = siteName(*dev)
	}
	if a.Resolved {
		on, by := a.ResolvedAt.UnixMilli(), "jdoe"
		v.ResolvedOn, v.ResolvedBy = &on, &by
	}
	b, _ := json.Marshal(v)
	return b
}
