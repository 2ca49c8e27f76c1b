package vuln

import (
	"regexp"
	"slices"
	"strings"
)

// Asset is what the matcher reads of an asset.
type Asset struct {
	Manufacturer, Model, OSName, OSVersion, FirmwareVersion string
}

// vendors maps the ways manufacturers are written (lower case, punctuation and company suffixes
// removed) to their NVD vendor names.
var vendors = map[string][]string{
	"microsoft": {"microsoft"}, "cisco": {"cisco"}, "cisco systems": {"cisco"}, "meraki": {"cisco"}, "cisco meraki": {"cisco"},
	"fortinet": {"fortinet"},
	"ubiquiti": {"ui", "ubiquiti"}, "ubiquiti networks": {"ui", "ubiquiti"}, "ui": {"ui", "ubiquiti"}, "unifi": {"ui", "ubiquiti"},
	"hp": {"hp"}, "hp inc": {"hp"}, "hewlett packard": {"hp", "hpe"}, "hewlettpackard": {"hp", "hpe"},
	"hpe": {"hpe"}, "hewlett packard enterprise": {"hpe"}, "aruba": {"arubanetworks", "hpe"}, "aruba networks": {"arubanetworks", "hpe"},
	"dell": {"dell"}, "dell technologies": {"dell"}, "dell emc": {"dell"}, "emc": {"dell"},
	"synology": {"synology"}, "qnap": {"qnap"}, "qnap systems": {"qnap"}, "netgear": {"netgear"},
	"tp link": {"tp-link"}, "tplink": {"tp-link"}, "d link": {"dlink"}, "dlink": {"dlink"},
	"sonicwall": {"sonicwall"}, "juniper": {"juniper"}, "juniper networks": {"juniper"},
	"palo alto networks": {"paloaltonetworks"}, "palo alto": {"paloaltonetworks"}, "mikrotik": {"mikrotik"},
	"vmware": {"vmware"}, "broadcom": {"broadcom", "vmware"}, "apple": {"apple"}, "lenovo": {"lenovo"},
	"asus": {"asus"}, "asustek computer": {"asus"}, "asustek": {"asus"}, "zyxel": {"zyxel"}, "watchguard": {"watchguard"},
	"watchguard technologies": {"watchguard"}, "sophos": {"sophos"}, "apc": {"apc", "schneider-electric"},
	"schneider electric": {"schneider-electric", "apc"}, "brother": {"brother"}, "canon": {"canon"}, "xerox": {"xerox"},
	"ricoh": {"ricoh"}, "lexmark": {"lexmark"}, "kyocera": {"kyocera"}, "supermicro": {"supermicro"},
	"super micro computer": {"supermicro"}, "intel": {"intel"}, "google": {"google"}, "samsung": {"samsung"},
	"grandstream": {"grandstream"}, "yealink": {"yealink"}, "polycom": {"polycom", "poly"}, "poly": {"poly", "polycom"},
	"hikvision": {"hikvision"}, "axis": {"axis"}, "axis communications": {"axis"}, "draytek": {"draytek"},
	"barracuda": {"barracuda"}, "barracuda networks": {"barracuda"}, "citrix": {"citrix"}, "f5": {"f5"}, "f5 networks": {"f5"},
	"ivanti": {"ivanti"}, "pulse secure": {"ivanti", "pulsesecure"}, "checkpoint": {"checkpoint"}, "check point": {"checkpoint"},
	"veeam": {"veeam"}, "proxmox": {"proxmox"}, "red hat": {"redhat"}, "canonical": {"canonical"},
}

var (
	companySuffix = regexp.MustCompile(`\b(inc|corp|corporation|co|company|ltd|limited|llc|gmbh|ag|sa|plc|technologies|technology)\b`)
	nonWord       = regexp.MustCompile(`[^a-z0-9]+`)
	versionInName = regexp.MustCompile(`\d+(?:\.\d+)+(?:[-.]?[a-z0-9]+)*`)
	windowsBuild  = regexp.MustCompile(`(?:^|[^\d])(10\.0\.(\d{5})(?:\.\d+)?|6\.[0-3]\.\d{4}(?:\.\d+)?)`)
	featureName   = regexp.MustCompile(`\b(\d{2}h\d|1507|1511|1607|1703|1709|1803|1809|1903|1909|2004)\b`)
)

// vendorNames returns the NVD vendor names for a manufacturer as written; a manufacturer not in
// the table is used as NVD would spell it.
func vendorNames(manufacturer string) []string {
	m := strings.TrimSpace(nonWord.ReplaceAllString(strings.ToLower(manufacturer), " "))
	if m == "" {
		return nil
	}
	if v, ok := vendors[m]; ok {
		return v
	}
	short := strings.Join(strings.Fields(companySuffix.ReplaceAllString(m, "")), " ")
	if v, ok := vendors[short]; ok {
		return v
	}
	if short == "" {
		short = m
	}
	return []string{strings.ReplaceAll(short, " ", "_")}
}

// productName is a product as NVD spells it: lower case, spaces as underscores.
func productName(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(s)), "_")
}

// osRule maps an operating system name (and, for names shared by vendors, the manufacturer) to CPEs.
type osRule struct {
	pattern *regexp.Regexp
	vendor  string // a vendor name the manufacturer must map to; "" for any
	cpes    []string
}

var osRules = []osRule{
	{regexp.MustCompile(`windows server 2025`), "", []string{"microsoft:windows_server_2025"}},
	{regexp.MustCompile(`windows server 2022`), "", []string{"microsoft:windows_server_2022"}},
	{regexp.MustCompile(`windows server 2019`), "", []string{"microsoft:windows_server_2019"}},
	{regexp.MustCompile(`windows server 2016`), "", []string{"microsoft:windows_server_2016"}},
	{regexp.MustCompile(`windows server 2012`), "", []string{"microsoft:windows_server_2012"}},
	{regexp.MustCompile(`windows server 2008`), "", []string{"microsoft:windows_server_2008"}},
	{regexp.MustCompile(`windows 11`), "", []string{"microsoft:windows_11"}},
	{regexp.MustCompile(`windows 10`), "", []string{"microsoft:windows_10"}},
	{regexp.MustCompile(`windows 8\.1`), "", []string{"microsoft:windows_8.1"}},
	{regexp.MustCompile(`windows 7`), "", []string{"microsoft:windows_7"}},
	{regexp.MustCompile(`\bios[ -]?xe\b`), "", []string{"cisco:ios_xe"}},
	{regexp.MustCompile(`\bios[ -]?xr\b`), "", []string{"cisco:ios_xr"}},
	{regexp.MustCompile(`\bnx[ -]?os\b`), "", []string{"cisco:nx-os"}},
	{regexp.MustCompile(`\basa\b|adaptive security appliance`), "cisco", []string{"cisco:adaptive_security_appliance_software"}},
	{regexp.MustCompile(`cisco ios\b`), "", []string{"cisco:ios"}},
	{regexp.MustCompile(`^ios\b`), "cisco", []string{"cisco:ios"}},
	{regexp.MustCompile(`^i(?:phone )?os\b`), "apple", []string{"apple:iphone_os"}},
	{regexp.MustCompile(`ipados`), "", []string{"apple:ipados"}},
	{regexp.MustCompile(`mac ?os|os x`), "", []string{"apple:macos", "apple:mac_os_x"}},
	{regexp.MustCompile(`fortios`), "", []string{"fortinet:fortios"}},
	{regexp.MustCompile(`pan[ -]?os`), "", []string{"paloaltonetworks:pan-os"}},
	{regexp.MustCompile(`junos`), "", []string{"juniper:junos"}},
	{regexp.MustCompile(`sonicos`), "", []string{"sonicwall:sonicos"}},
	{regexp.MustCompile(`routeros`), "", []string{"mikrotik:routeros"}},
	{regexp.MustCompile(`\bdsm\b|diskstation manager`), "", []string{"synology:diskstation_manager"}},
	{regexp.MustCompile(`quts hero`), "", []string{"qnap:quts_hero"}},
	{regexp.MustCompile(`\bqts\b`), "", []string{"qnap:qts"}},
	{regexp.MustCompile(`edge ?os`), "", []string{"ui:edgeos", "ubiquiti:edgeos"}},
	{regexp.MustCompile(`unifi os`), "", []string{"ui:unifi_os"}},
	{regexp.MustCompile(`arubaos[ -]?cx`), "", []string{"arubanetworks:arubaos-cx", "hpe:arubaos-cx"}},
	{regexp.MustCompile(`arubaos`), "", []string{"arubanetworks:arubaos", "hpe:arubaos"}},
	{regexp.MustCompile(`\bilo ?([4-7])\b`), "", []string{"hpe:integrated_lights-out_$1_firmware"}},
	{regexp.MustCompile(`idrac ?([6-9])\b`), "", []string{"dell:idrac$1_firmware"}},
	{regexp.MustCompile(`esxi`), "", []string{"vmware:esxi"}},
	{regexp.MustCompile(`ubuntu`), "", []string{"canonical:ubuntu_linux"}},
	{regexp.MustCompile(`debian`), "", []string{"debian:debian_linux"}},
	{regexp.MustCompile(`red hat enterprise linux|\brhel\b`), "", []string{"redhat:enterprise_linux"}},
	{regexp.MustCompile(`android`), "", []string{"google:android"}},
	{regexp.MustCompile(`chrome ?os`), "", []string{"google:chrome_os"}},
}

// firmwareOS is the operating system a vendor's devices run when the asset names none.
var firmwareOS = map[string]string{
	"fortinet": "fortios", "synology": "diskstation_manager", "sonicwall": "sonicos", "mikrotik": "routeros",
	"paloaltonetworks": "pan-os", "juniper": "junos", "qnap": "qts", "watchguard": "fireware",
}

// windowsReleases maps Windows 10 and 11 build numbers to the feature release NVD names products by
// (windows_10_22h2, windows_11_23h2).
var windowsReleases = map[string]string{
	"10240": "1507", "10586": "1511", "14393": "1607", "15063": "1703", "16299": "1709", "17134": "1803",
	"17763": "1809", "18362": "1903", "18363": "1909", "19041": "2004", "19042": "20h2", "19043": "21h1",
	"19044": "21h2", "19045": "22h2", "22000": "21h2", "22621": "22h2", "22631": "23h2", "26100": "24h2", "26200": "25h2",
}

// Candidates derives the CPEs an asset may be known by from its manufacturer, model, operating
// system and firmware: the operating system through the rules above (with the Windows feature
// release from its build), the vendor's own operating system or "<model>_firmware" for the firmware
// version, and the model as hardware.
func Candidates(a Asset) []Candidate {
	var out []Candidate
	add := func(part, vendor, product, version string) {
		c := Candidate{Part: part, Vendor: vendor, Product: product, Version: versionOnly(version)}
		if vendor != "" && product != "" && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	makers := vendorNames(a.Manufacturer)
	osName := strings.ToLower(strings.TrimSpace(a.OSName))
	osVersion := strings.TrimSpace(a.OSVersion)
	if osVersion == "" {
		osVersion = versionInName.FindString(osName)
	}
	if osName != "" {
		matched := false
		for _, r := range osRules {
			m := r.pattern.FindStringSubmatch(osName)
			if m == nil || (r.vendor != "" && !slices.Contains(makers, r.vendor)) {
				continue
			}
			matched = true
			for _, cpe := range r.cpes {
				vendor, product, _ := strings.Cut(cpe, ":")
				if len(m) > 1 {
					product = strings.ReplaceAll(product, "$1", m[1])
				}
				version := osVersion
				switch {
				case vendor == "microsoft":
					version = addWindowsRelease(add, product, osName+" "+strings.ToLower(osVersion), osVersion)
				case version == "" && strings.HasSuffix(product, "_firmware"):
					version = a.FirmwareVersion
				}
				add("o", vendor, product, version)
			}
			break
		}
		if !matched {
			name := strings.TrimSpace(versionInName.ReplaceAllString(osName, ""))
			for _, v := range makers {
				add("o", v, productName(name), osVersion)
			}
		}
	}
	for _, v := range makers {
		if fw := strings.TrimSpace(a.FirmwareVersion); fw != "" {
			if p, ok := firmwareOS[v]; ok && osName == "" {
				add("o", v, p, fw)
			}
			if a.Model != "" {
				add("o", v, productName(a.Model)+"_firmware", fw)
			}
		}
		if a.Model != "" {
			add("h", v, productName(a.Model), "")
		}
	}
	return out
}

// versionOnly drops what comes before a version's first digit ("v7.2.4", "DSM 7.2").
func versionOnly(v string) string {
	if i := strings.IndexAny(v, "0123456789"); i > 0 {
		v = v[i:]
	}
	return strings.ToLower(strings.TrimSpace(v))
}

// addWindowsRelease adds Windows 10/11's per-release product (windows_10_22h2), from the build in
// the version or the release named in the text, and returns the build: Microsoft's CPEs are
// versioned by build (10.0.19045.3570), so anything else counts as unknown.
func addWindowsRelease(add func(part, vendor, product, version string), product, text, version string) string {
	release, build := "", ""
	if m := windowsBuild.FindStringSubmatch(version); m != nil {
		build = m[1]
		release = windowsReleases[m[2]]
	}
	if release == "" {
		release = featureName.FindString(text)
	}
	if release != "" && (product == "windows_10" || product == "windows_11") {
		add("o", "microsoft", product+"_"+release, build)
	}
	return build
}
