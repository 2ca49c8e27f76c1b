package bench

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"clientst0r/internal/db"
	"clientst0r/internal/store"
)

// The vocabulary of seeded assets. Values look like an MSP's real inventory so that search, ordering
// and filters see realistic selectivity: most assets are workstations and laptops from a few makers,
// hostnames share per-client prefixes, and a minority carry tags, notes and RMM data.

// product is one model a maker sells; os/version are the operating system for computers and the
// firmware for everything else.
type product struct{ maker, model, os, version string }

var products = map[string][]product{
	"workstation": {
		{"Dell", "OptiPlex 7010", "Windows 11 Pro", "23H2"}, {"Dell", "OptiPlex 3080", "Windows 10 Pro", "22H2"},
		{"HP", "EliteDesk 800 G6", "Windows 11 Pro", "23H2"}, {"HP", "ProDesk 400 G7", "Windows 10 Pro", "22H2"},
		{"Lenovo", "ThinkCentre M70q Gen 3", "Windows 11 Pro", "22H2"}, {"Lenovo", "ThinkStation P360", "Windows 11 Pro", "23H2"},
	},
	"laptop": {
		{"Dell", "Latitude 5440", "Windows 11 Pro", "23H2"}, {"Dell", "Latitude 7420", "Windows 10 Pro", "22H2"},
		{"HP", "EliteBook 840 G8", "Windows 11 Pro", "22H2"}, {"Lenovo", "ThinkPad T14 Gen 3", "Windows 11 Pro", "23H2"},
		{"Lenovo", "ThinkPad X1 Carbon Gen 10", "Windows 11 Pro", "23H2"}, {"Apple", "MacBook Pro 14", "macOS", "14.4"},
	},
	"server": {
		{"Dell", "PowerEdge R650", "Windows Server 2022 Standard", "21H2"}, {"Dell", "PowerEdge R740", "VMware ESXi", "8.0 U2"},
		{"HP", "ProLiant DL380 Gen10", "Windows Server 2019 Standard", "1809"}, {"Lenovo", "ThinkSystem SR650", "Ubuntu Server", "22.04 LTS"},
	},
	"switch": {
		{"Cisco", "Catalyst 9200L-24P-4G", "", "17.9.4"}, {"Cisco", "Catalyst 1000-24T-4G-L", "", "15.2(7)E8"},
		{"Ubiquiti", "USW-Pro-24-PoE", "", "6.6.61"}, {"HP", "Aruba 2930F-24G", "", "WC.16.11.0016"},
		{"Netgear", "GS728TP", "", "6.0.8.42"},
	},
	"printer": {
		{"HP", "LaserJet Pro M404dn", "", "002_2310A"}, {"HP", "Color LaserJet Pro MFP M479fdw", "", "002_2306A"},
		{"Brother", "HL-L6200DW", "", "1.52"}, {"Canon", "imageRUNNER ADVANCE C5535i", "", "71.04"},
		{"Xerox", "VersaLink C405", "", "69.25.41"},
	},
	"firewall": {
		{"Fortinet", "FortiGate 60F", "", "7.2.8"}, {"Fortinet", "FortiGate 100F", "", "7.4.3"},
		{"SonicWall", "TZ470", "", "7.0.1-5145"}, {"Cisco", "Meraki MX68", "", "18.107.2"},
	},
	"wireless_ap": {
		{"Ubiquiti", "U6-Pro", "", "6.6.77"}, {"Ubiquiti", "U6-LR", "", "6.6.77"},
		{"Cisco", "Meraki MR36", "", "30.6"}, {"Fortinet", "FortiAP 231F", "", "7.2.3"},
	},
	"router": {{"Cisco", "ISR 1111-8P", "", "17.9.4a"}, {"Ubiquiti", "UniFi Dream Machine Pro", "", "3.2.12"}},
	"ups": {
		{"APC", "Smart-UPS 1500 SMT1500RM2U", "", "UPS 09.8"}, {"APC", "Back-UPS Pro 1500", "", "957.f3"},
		{"Eaton", "5PX 1500 Gen2", "", "3.0.4"},
	},
	"pdu":             {{"APC", "Switched Rack PDU AP7900B", "", "6.9.6"}},
	"phone":           {{"Yealink", "SIP-T54W", "", "96.86.0.45"}, {"Poly", "VVX 450", "", "6.4.3"}, {"Cisco", "IP Phone 8841", "", "14.2.1"}},
	"nas":             {{"Synology", "DS920+", "DSM", "7.2.1"}, {"QNAP", "TS-453D", "QTS", "5.1.4"}},
	"security_camera": {{"Axis", "P3265-LVE", "", "11.9.60"}, {"Hikvision", "DS-2CD2143G2-I", "", "5.7.15"}, {"Ubiquiti", "G4 Bullet", "", "4.69.55"}},
	"tablet":          {{"Apple", "iPad (10th generation)", "iPadOS", "17.4"}, {"Samsung", "Galaxy Tab S9", "Android", "14"}},
	"mobile":          {{"Apple", "iPhone 14", "iOS", "17.4"}, {"Samsung", "Galaxy S23", "Android", "14"}},
	"display":         {{"Dell", "P2422H", "", ""}, {"LG", "27UK850-W", "", ""}, {"Samsung", "S27R650", "", ""}},
	"thin_client":     {{"HP", "t640", "Windows 10 IoT Enterprise", "21H2"}, {"Dell", "Wyse 5070", "ThinOS", "9.1"}},
	"copier":          {{"Ricoh", "IM C3000", "", "1.12"}, {"Canon", "imageRUNNER ADVANCE DX C3826i", "", "73.01"}},
}

// genericMakers make everything the catalog does not list.
var genericMakers = []string{"Dell", "HP", "Cisco", "Lenovo", "APC", "Ubiquiti", "Fortinet", "Logitech", "Samsung", "Axis"}

// typeWeights skew asset_type towards what an MSP's clients mostly have; every other type of
// store.AssetTypes gets otherWeight.
var typeWeights = map[string]float64{
	"workstation": 28, "laptop": 22, "server": 6, "switch": 6, "printer": 6, "phone": 5, "wireless_ap": 4,
	"desktop": 3, "firewall": 2, "ups": 2, "security_camera": 2, "tablet": 2, "mobile": 2, "display": 2,
	"router": 1.5, "nas": 1, "thin_client": 1, "copier": 1, "pdu": 1,
}

const otherWeight = 0.25

// hostAbbrev is the role part of a hostname (acme-ws-0042).
var hostAbbrev = map[string]string{
	"workstation": "ws", "laptop": "lt", "desktop": "pc", "server": "srv", "switch": "sw", "printer": "prn",
	"firewall": "fw", "wireless_ap": "ap", "router": "rtr", "phone": "ph", "security_camera": "cam",
	"tablet": "tab", "mobile": "mob", "display": "dsp", "thin_client": "tc", "copier": "cop",
}

// ouis are the first three octets of MAC addresses by maker, so MACs look like the vendor's.
var ouis = map[string]string{
	"Dell": "00:14:22", "HP": "3c:d9:2b", "Cisco": "00:1b:54", "Lenovo": "54:ee:75", "Ubiquiti": "24:5a:4c",
	"Fortinet": "00:09:0f", "APC": "00:c0:b7", "Apple": "a4:83:e7", "Synology": "00:11:32", "QNAP": "24:5e:be",
	"Axis": "00:40:8c", "Hikvision": "44:19:b6", "Yealink": "80:5e:c0", "Poly": "00:04:f2", "Brother": "00:80:77",
	"Canon": "00:1e:8f", "Xerox": "00:00:aa", "Samsung": "8c:77:12", "SonicWall": "00:17:c5", "Eaton": "00:20:85",
	"Netgear": "a0:40:a0", "Ricoh": "00:26:73", "LG": "10:68:3f", "Logitech": "00:04:5e",
}

var (
	orgFirst = strings.Split("Acme,Globex,Initech,Umbrella,Stark,Wayne,Wonka,Hooli,Vandelay,Soylent,Cyberdyne,Tyrell,"+
		"Northwind,Contoso,Fabrikam,Litware,Adatum,Tailspin,Wingtip,Proseware,Woodgrove,Lucerne,Coho,Alpine,Summit,"+
		"Riverside,Lakeside,Harbor,Pinecrest,Redwood,Oakridge,Maple,Cedar,Evergreen,Silverline,Brightpath,Keystone,"+
		"Bluewater,Ironwood,Granite", ",")
	orgSecond = strings.Split("Dental,Law,Logistics,Manufacturing,Medical,Accounting,Realty,Engineering,Construction,"+
		"Insurance,Veterinary,Architects,Foods,Clinic,Partners,Holdings,Consulting,Schools,Credit Union,Pharmacy", ",")
	sites       = []string{"Main Office", "Warehouse", "Branch", "Reception", "Server Room", "Floor 2", "Shop Floor", "Annex"}
	departments = []string{"Finance", "Operations", "Sales", "HR", "IT", "Front Desk", "Management", "Engineering"}
	people      = []string{"j.smith", "m.garcia", "a.nguyen", "k.patel", "s.kim", "l.rossi", "d.brown", "e.muller", "r.silva", "t.cohen"}
	tagWords    = []string{"critical", "finance", "reception", "remote", "loaner", "warehouse", "vip", "byod", "pci", "hipaa",
		"backup", "monitored", "hr", "lab", "conference-room"}
	noteTexts = []string{"Replaced PSU under warranty.", "Scheduled for refresh next quarter.", "Shared by front desk staff.",
		"Battery health below 80%.", "Do not reboot during business hours.", "Config backed up to the NAS nightly."}
	rmmSources = []string{"ninjaone", "ninjaone", "datto_rmm", "datto_rmm", "connectwise_automate", "syncro"}
)

// orgName returns the i-th organization name; names repeat only after every pair is used, then get a number.
func orgName(i int) string {
	n := len(orgFirst) * len(orgSecond)
	j := (i * 7919) % n // a stride coprime with n spreads neighbours over different first words
	name := orgFirst[j/len(orgSecond)] + " " + orgSecond[j%len(orgSecond)]
	if i >= n {
		name += fmt.Sprintf(" %d", i/n+1)
	}
	return name
}

// hostPrefix is a client's hostname prefix: the first word of its slug (acme, northwind).
func hostPrefix(slug string) string {
	p, _, _ := strings.Cut(slug, "-")
	return p
}

// picker draws asset types by weight.
type picker struct {
	types []string
	cum   []float64
}

func newPicker() picker {
	var p picker
	total := 0.0
	for _, t := range store.AssetTypes {
		w, ok := typeWeights[t]
		if !ok {
			w = otherWeight
		}
		total += w
		p.types, p.cum = append(p.types, t), append(p.cum, total)
	}
	return p
}

func (p picker) pick(rng *rand.Rand) string {
	x := rng.Float64() * p.cum[len(p.cum)-1]
	i, _ := slices.BinarySearch(p.cum, x)
	return p.types[min(i, len(p.types)-1)]
}

var types = newPicker()

func oneOf[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

// client is what asset generation needs to know about an organization.
type client struct {
	ID     int64
	Index  int // 0-based position, for the 10.<index>.x.x address plan
	Prefix string
}

// newAsset returns a realistic asset for the i-th asset of org c. now anchors every date; creator
// is the created_by of manually entered assets.
func newAsset(rng *rand.Rand, c client, i int, now time.Time, creator *int64) store.Asset {
	typ := types.pick(rng)
	var p product
	if ps, ok := products[typ]; ok {
		p = oneOf(rng, ps)
	} else if ps, ok := products[alias(typ)]; ok {
		p = oneOf(rng, ps)
	} else {
		p = product{maker: oneOf(rng, genericMakers), model: fmt.Sprintf("%s %c%d", title(typ), 'A'+rune(rng.IntN(26)), 100+rng.IntN(900))}
	}
	abbr, ok := hostAbbrev[typ]
	if !ok {
		abbr = strings.ReplaceAll(typ, "_", "")[:3]
	}
	a := store.Asset{
		AssetType: typ, Manufacturer: p.maker, Model: p.model, CustomFields: store.JSONObject{},
		Hostname:     fmt.Sprintf("%s-%s-%04d", c.Prefix, abbr, i),
		AssetTag:     fmt.Sprintf("%s-%05d", strings.ToUpper(c.Prefix[:min(4, len(c.Prefix))]), i),
		SerialNumber: serial(rng, p.maker),
		Status:       weighted(rng, []string{"active", "inactive", "retired"}, []int{85, 9, 6}),
		Source:       "manual",
	}
	a.OrgID = c.ID
	computer := isComputer(typ)
	if computer {
		a.Name = strings.ToUpper(a.Hostname)
		a.OSName, a.OSVersion = p.os, p.version
		a.CPU, a.RAMGB, a.Storage = hardware(rng, typ, p.maker)
		a.CustomFields["department"] = oneOf(rng, departments)
		if typ == "laptop" || typ == "workstation" {
			a.CustomFields["assigned_to"] = oneOf(rng, people)
		}
	} else {
		a.Name = fmt.Sprintf("%s %s %02d", oneOf(rng, sites), title(typ), 1+i%40)
		a.OSName, a.FirmwareVersion = p.os, p.version
		if typ == "switch" || typ == "firewall" || typ == "router" || typ == "ups" || typ == "pdu" || typ == "nas" {
			a.CustomFields["rack"] = fmt.Sprintf("R%d", 1+rng.IntN(4))
			a.CustomFields["u_position"] = 1 + rng.IntN(42)
		}
	}
	if typ != "display" && typ != "tablet" && typ != "mobile" && !(typ == "laptop" && rng.IntN(4) == 0) {
		ip := fmt.Sprintf("10.%d.%d.%d", c.Index%256, (i/250)%256, 2+i%250)
		a.IPAddress = &ip
	}
	if typ != "display" {
		oui, ok := ouis[p.maker]
		if !ok {
			oui = "02:00:5e" // locally administered
		}
		mac := fmt.Sprintf("%s:%02x:%02x:%02x", oui, rng.IntN(256), rng.IntN(256), rng.IntN(256))
		a.MACAddress = &mac
	}
	// Bought 30 days to 8 years ago; warranties of 3 years, 5 for servers and network gear.
	bought := now.AddDate(0, 0, -30-rng.IntN(8*365))
	years := 3
	if typ == "server" || typ == "switch" || typ == "firewall" || typ == "ups" {
		years = 5
	}
	pd, we := store.Date(bought.Format(time.DateOnly)), store.Date(bought.AddDate(years, 0, 0).Format(time.DateOnly))
	a.PurchaseDate, a.WarrantyExpiry = &pd, &we
	a.CreatedAt = db.Time(bought.Add(time.Duration(rng.IntN(30*24)) * time.Hour))
	if a.CreatedAt.After(now) {
		a.CreatedAt = db.Time(now)
	}
	a.UpdatedAt = db.Time(a.CreatedAt.Add(time.Duration(rng.Float64() * float64(now.Sub(a.CreatedAt)))))
	if computer && rng.IntN(100) < 35 {
		a.Source = oneOf(rng, rmmSources)
		online := rng.IntN(10) < 8
		seen := db.Time(now.Add(-time.Duration(rng.IntN(72*3600)) * time.Second))
		a.Online, a.LastSeenAt = &online, &seen
	} else {
		a.CreatedBy = creator
	}
	if rng.IntN(10) < 6 {
		for range 1 + rng.IntN(3) {
			if t := oneOf(rng, tagWords); !slices.Contains(a.Tags, t) {
				a.Tags = append(a.Tags, t)
			}
		}
		slices.Sort(a.Tags)
	}
	if rng.IntN(10) == 0 {
		a.Notes = oneOf(rng, noteTexts)
	}
	return a
}

// alias maps types without their own catalog entry to one that fits.
func alias(typ string) string {
	switch typ {
	case "desktop":
		return "workstation"
	case "wireless_controller", "gateway", "modem", "load_balancer":
		return "router"
	case "label_printer", "badge_printer", "plotter", "scanner":
		return "printer"
	case "nvr", "dvr":
		return "security_camera"
	case "san", "backup_appliance":
		return "nas"
	}
	return ""
}

func isComputer(typ string) bool {
	switch typ {
	case "workstation", "laptop", "desktop", "server", "thin_client", "tablet", "mobile":
		return true
	}
	return false
}

func hardware(rng *rand.Rand, typ, maker string) (cpu string, ram *float64, storage string) {
	gb := func(xs ...float64) *float64 { v := oneOf(rng, xs); return &v }
	switch {
	case typ == "server":
		return oneOf(rng, []string{"Intel Xeon Silver 4314", "Intel Xeon Gold 6338", "AMD EPYC 7313"}), gb(64, 128, 256, 512),
			oneOf(rng, []string{"2x 480 GB SSD RAID1 + 4x 2.4 TB SAS RAID10", "2x 960 GB SSD RAID1", "8x 1.92 TB SSD RAID6"})
	case maker == "Apple":
		return "Apple M2 Pro", gb(16, 32), oneOf(rng, []string{"512 GB SSD", "1 TB SSD"})
	case typ == "laptop":
		return oneOf(rng, []string{"Intel Core i5-1345U", "Intel Core i7-1265U", "AMD Ryzen 7 PRO 6850U"}), gb(8, 16, 32),
			oneOf(rng, []string{"256 GB NVMe SSD", "512 GB NVMe SSD", "1 TB NVMe SSD"})
	case typ == "tablet" || typ == "mobile":
		return "", nil, oneOf(rng, []string{"128 GB", "256 GB"})
	default:
		return oneOf(rng, []string{"Intel Core i5-12500", "Intel Core i7-12700", "AMD Ryzen 5 PRO 5650G"}), gb(8, 16, 32),
			oneOf(rng, []string{"256 GB NVMe SSD", "512 GB NVMe SSD", "1 TB SATA SSD"})
	}
}

// serial returns a serial number in the maker's usual shape (Dell service tags, HP CND…, Cisco FOC…).
func serial(rng *rand.Rand, maker string) string {
	const alnum = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
	rnd := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alnum[rng.IntN(len(alnum))]
		}
		return string(b)
	}
	switch maker {
	case "Dell":
		return rnd(7)
	case "HP":
		return "CND" + rnd(7)
	case "Cisco":
		return fmt.Sprintf("FOC%04d%s", 2000+rng.IntN(600), rnd(4))
	case "Lenovo":
		return "PF" + rnd(6)
	case "Apple":
		return "C02" + rnd(9)
	}
	return rnd(12)
}

func weighted(rng *rand.Rand, xs []string, ws []int) string {
	total := 0
	for _, w := range ws {
		total += w
	}
	n := rng.IntN(total)
	for i, w := range ws {
		if n < w {
			return xs[i]
		}
		n -= w
	}
	return xs[len(xs)-1]
}

// titles are the names of types that title would spell wrongly.
var titles = map[string]string{"ups": "UPS", "nas": "NAS", "pdu": "PDU", "wireless_ap": "Access Point", "kvm": "KVM",
	"pbx": "PBX", "pda": "PDA", "san": "SAN", "nvr": "NVR", "dvr": "DVR", "iot_device": "IoT Device", "hvac": "HVAC"}

// title turns security_camera into "Security Camera" for asset names.
func title(typ string) string {
	if t, ok := titles[typ]; ok {
		return t
	}
	words := strings.Split(typ, "_")
	for i, w := range words {
		words[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	return strings.Join(words, " ")
}
