package vuln

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"clientst0r/internal/vuln/nvdtest"
)

func TestParseCPE(t *testing.T) {
	c, err := ParseCPE(`cpe:2.3:o:cisco:ios:15.2\(4\)e10:*:*:*:*:*:*:*`)
	if err != nil {
		t.Fatal(err)
	}
	if c.Part != "o" || c.Vendor != "cisco" || c.Product != "ios" || c.Version != `15.2\(4\)e10` || Unescape(c.Version) != "15.2(4)e10" {
		t.Fatalf("%+v", c)
	}
	if c.String() != `cpe:2.3:o:cisco:ios:15.2\(4\)e10:*:*:*:*:*:*:*` {
		t.Fatal(c.String())
	}
	c, err = ParseCPE(`cpe:2.3:a:vendor:name\:with\:colons:1.0:*:*:*:*:*:*:*`)
	if err != nil || Unescape(c.Product) != "name:with:colons" {
		t.Fatalf("%+v %v", c, err)
	}
	for _, bad := range []string{"", "cpe:/o:cisco:ios:15.2", "cpe:2.3:o:cisco:ios", "cpe:2.3:x:cisco:ios:1:*:*:*:*:*:*:*",
		"cpe:2.3:o:cisco::1:*:*:*:*:*:*:*", `cpe:2.3:o:cisco:ios:1:*:*:*:*:*:*:*\`, "cpe:2.3:o:cisco:ios:1:*:*:*:*:*:*:*:*"} {
		if _, err := ParseCPE(bad); !errors.Is(err, ErrCPE) {
			t.Errorf("ParseCPE(%q) = %v, want ErrCPE", bad, err)
		}
	}
}

func FuzzParseCPE(f *testing.F) {
	for _, s := range []string{`cpe:2.3:o:cisco:ios:15.2\(4\)e10:*:*:*:*:*:*:*`, "cpe:2.3:a:*:*:*:*:*:*:*:*:*:*",
		`cpe:2.3:h:hp:laserjet_pro_m404\*:-:*:*:*:*:*:*:*`, "cpe:2.3:o:x:y:1.?:*:*:*:*:*:*:*", `cpe:2.3:a:b:c\`} {
		f.Add(s, "1.2.3")
	}
	f.Fuzz(func(t *testing.T, s, value string) {
		c, err := ParseCPE(s)
		if err != nil {
			return
		}
		again, err := ParseCPE(c.String())
		if err != nil || again != c {
			t.Fatalf("%q: round trip gave %+v, %v", s, again, err)
		}
		// Matching never panics and a literal attribute matches its own plain value.
		_ = MatchAttr(c.Version, value)
		if !hasWildcard(c.Product) && c.Product != "-" && !MatchAttr(c.Product, Unescape(c.Product)) {
			t.Fatalf("%q does not match its own value %q", c.Product, Unescape(c.Product))
		}
		if Escape(Unescape(c.Product)) != c.Product && !hasWildcard(c.Product) {
			if !MatchAttr(Escape(Unescape(c.Product)), Unescape(c.Product)) {
				t.Fatalf("escaped %q does not match itself", c.Product)
			}
		}
	})
}

func crit(t *testing.T, cpe string, bounds ...string) *Criterion {
	t.Helper()
	c, err := ParseCPE(cpe)
	if err != nil {
		t.Fatal(err)
	}
	b := append(bounds, "", "", "", "")
	return &Criterion{CVE: "CVE-2024-0001", Criteria: cpe, CPE: c, StartIncluding: b[0], StartExcluding: b[1], EndIncluding: b[2], EndExcluding: b[3]}
}

func TestCriterionMatches(t *testing.T) {
	fortios := func(v string) Candidate { return Candidate{"o", "fortinet", "fortios", v} }
	any := "cpe:2.3:o:fortinet:fortios:*:*:*:*:*:*:*:*"
	for _, c := range []struct {
		name string
		m    *Criterion
		cand Candidate
		want bool
	}{
		{"start including, at start", crit(t, any, "7.2.0", "", "", "7.2.5"), fortios("7.2.0"), true},
		{"start including, below", crit(t, any, "7.2.0", "", "", "7.2.5"), fortios("7.0.12"), false},
		{"end excluding, at end", crit(t, any, "7.2.0", "", "", "7.2.5"), fortios("7.2.5"), false},
		{"end excluding, inside", crit(t, any, "7.2.0", "", "", "7.2.5"), fortios("7.2.4"), true},
		{"start excluding, at start", crit(t, any, "", "7.0.0", "7.0.9"), fortios("7.0.0"), false},
		{"start excluding, above", crit(t, any, "", "7.0.0", "7.0.9"), fortios("7.0.1"), true},
		{"end including, at end", crit(t, any, "", "7.0.0", "7.0.9"), fortios("7.0.9"), true},
		{"end including, above", crit(t, any, "", "7.0.0", "7.0.9"), fortios("7.0.10"), false},
		{"build suffix inside", crit(t, any, "", "", "", "7.2.5"), fortios("7.2.4-build1396"), true},
		{"a build is its release: end including", crit(t, any, "", "", "7.2.4", ""), fortios("7.2.4 build1396"), true},
		{"a build is its release: start excluding", crit(t, any, "", "7.2.4", "", ""), fortios("7.2.4-build1396"), false},
		{"a build is its release: end excluding", crit(t, any, "", "", "", "7.2.1"), fortios("7.2.1-69057"), false},
		{"a letter update is later: end including", crit(t, any, "", "", "1.1.1", ""), fortios("1.1.1w"), false},
		{"any version, no range", crit(t, any), fortios("1.0"), true},
		{"unknown version, ranged", crit(t, any, "", "", "", "7.2.5"), fortios(""), false},
		{"unknown version, unranged", crit(t, any), fortios(""), true},
		{"exact version", crit(t, "cpe:2.3:o:fortinet:fortios:7.2.4:*:*:*:*:*:*:*"), fortios("7.2.4"), true},
		{"exact version, other", crit(t, "cpe:2.3:o:fortinet:fortios:7.2.4:*:*:*:*:*:*:*"), fortios("7.2.40"), false},
		{"exact version, unknown", crit(t, "cpe:2.3:o:fortinet:fortios:7.2.4:*:*:*:*:*:*:*"), fortios(""), false},
		{"version with any update covers builds", crit(t, "cpe:2.3:o:synology:diskstation_manager:7.2.1:*:*:*:*:*:*:*"),
			Candidate{"o", "synology", "diskstation_manager", "7.2.1-69057"}, true},
		{"version and update", crit(t, "cpe:2.3:o:synology:diskstation_manager:7.2.1:69057:*:*:*:*:*:*"),
			Candidate{"o", "synology", "diskstation_manager", "7.2.1-69057"}, true},
		{"version and other update", crit(t, "cpe:2.3:o:synology:diskstation_manager:7.2.1:69057:*:*:*:*:*:*"),
			Candidate{"o", "synology", "diskstation_manager", "7.2.1-69057 update 3"}, false},
		{"escaped version", crit(t, `cpe:2.3:o:cisco:ios:15.2\(4\)e10:*:*:*:*:*:*:*`), Candidate{"o", "cisco", "ios", "15.2(4)E10"}, true},
		{"wildcard in version", crit(t, `cpe:2.3:o:cisco:ios:15.2\(4\)e*:*:*:*:*:*:*:*`), Candidate{"o", "cisco", "ios", "15.2(4)E10"}, true},
		{"wildcard in version, other train", crit(t, `cpe:2.3:o:cisco:ios:15.2\(4\)e*:*:*:*:*:*:*:*`), Candidate{"o", "cisco", "ios", "15.2(4)M1"}, false},
		{"wildcard product", crit(t, "cpe:2.3:h:hp:laserjet_pro_m4*:-:*:*:*:*:*:*:*"), Candidate{"h", "hp", "laserjet_pro_m404dn", ""}, true},
		{"single-character wildcard", crit(t, "cpe:2.3:h:hp:laserjet_pro_m40?:-:*:*:*:*:*:*:*"), Candidate{"h", "hp", "laserjet_pro_m404dn", ""}, false},
		{"any part", crit(t, "cpe:2.3:*:fortinet:fortios:*:*:*:*:*:*:*:*"), fortios("7.2.4"), true},
		{"other part", crit(t, "cpe:2.3:a:fortinet:fortios:*:*:*:*:*:*:*:*"), fortios("7.2.4"), false},
		{"other vendor", crit(t, "cpe:2.3:o:fortinet:fortios:*:*:*:*:*:*:*:*"), Candidate{"o", "sonicwall", "fortios", "1"}, false},
		{"target_hw x64 is unknown for the asset", crit(t, "cpe:2.3:o:microsoft:windows_10_22h2:*:*:*:*:*:*:x64:*", "", "", "", "10.0.19045.3570"),
			Candidate{"o", "microsoft", "windows_10_22h2", "10.0.19045.3448"}, true},
		{"windows fixed build", crit(t, "cpe:2.3:o:microsoft:windows_10_22h2:*:*:*:*:*:*:x64:*", "", "", "", "10.0.19045.3570"),
			Candidate{"o", "microsoft", "windows_10_22h2", "10.0.19045.3570"}, false},
	} {
		if got := c.m.Matches(c.cand); got != c.want {
			t.Errorf("%s: %s against %+v = %v, want %v", c.name, c.m.Criteria, c.cand, got, c.want)
		}
	}
}

func TestCandidates(t *testing.T) {
	keys := func(a Asset) []string {
		var out []string
		for _, c := range Candidates(a) {
			out = append(out, c.Part+":"+c.Key()+":"+c.Version)
		}
		return out
	}
	for _, c := range []struct {
		asset Asset
		want  []string
	}{
		{Asset{Manufacturer: "Dell Inc.", Model: "OptiPlex 7090", OSName: "Microsoft Windows 10 Pro", OSVersion: "10.0.19045.3570"},
			[]string{"o:microsoft:windows_10_22h2:10.0.19045.3570", "o:microsoft:windows_10:10.0.19045.3570", "h:dell:optiplex_7090:"}},
		{Asset{OSName: "Windows 11 Enterprise 23H2"}, []string{"o:microsoft:windows_11_23h2:", "o:microsoft:windows_11:"}},
		{Asset{OSName: "Windows Server 2019 Standard", OSVersion: "10.0.17763.5206"}, []string{"o:microsoft:windows_server_2019:10.0.17763.5206"}},
		{Asset{Manufacturer: "Cisco Systems, Inc.", Model: "C9300-48P", OSName: "IOS XE", OSVersion: "17.9.4a"},
			[]string{"o:cisco:ios_xe:17.9.4a", "h:cisco:c9300-48p:"}},
		{Asset{Manufacturer: "Cisco", OSName: "IOS", OSVersion: "15.2(4)E10"}, []string{"o:cisco:ios:15.2(4)e10"}},
		{Asset{Manufacturer: "Apple", OSName: "iOS", OSVersion: "17.4"}, []string{"o:apple:iphone_os:17.4"}},
		{Asset{Manufacturer: "Fortinet", Model: "FortiGate 60F", FirmwareVersion: "v7.2.4 build1396"},
			[]string{"o:fortinet:fortios:7.2.4 build1396", "o:fortinet:fortigate_60f_firmware:7.2.4 build1396", "h:fortinet:fortigate_60f:"}},
		{Asset{Manufacturer: "Ubiquiti Inc.", Model: "EdgeRouter X", OSName: "EdgeOS", OSVersion: "2.0.9"},
			[]string{"o:ui:edgeos:2.0.9", "o:ubiquiti:edgeos:2.0.9", "h:ui:edgerouter_x:", "h:ubiquiti:edgerouter_x:"}},
		{Asset{Manufacturer: "Hewlett Packard Enterprise", Model: "ProLiant DL380 Gen10", OSName: "iLO 5", FirmwareVersion: "2.72"},
			[]string{"o:hpe:integrated_lights-out_5_firmware:2.72", "o:hpe:proliant_dl380_gen10_firmware:2.72", "h:hpe:proliant_dl380_gen10:"}},
		{Asset{Manufacturer: "HP", Model: "LaserJet Pro M404dn", FirmwareVersion: "002.2149A"},
			[]string{"o:hp:laserjet_pro_m404dn_firmware:002.2149a", "h:hp:laserjet_pro_m404dn:"}},
		{Asset{Manufacturer: "Synology", Model: "DS920+", OSName: "DSM", OSVersion: "7.2.1-69057 Update 5"},
			[]string{"o:synology:diskstation_manager:7.2.1-69057 update 5", "h:synology:ds920+:"}},
		{Asset{Manufacturer: "Acme Widgets GmbH", OSName: "WidgetOS 3.1"}, []string{"o:acme_widgets:widgetos:3.1"}},
		{Asset{}, nil},
	} {
		if got := keys(c.asset); !slices.Equal(got, c.want) {
			t.Errorf("Candidates(%+v)\n got %q\nwant %q", c.asset, got, c.want)
		}
	}
}

func TestMatch(t *testing.T) {
	a := crit(t, "cpe:2.3:o:fortinet:fortios:*:*:*:*:*:*:*:*", "7.2.0", "", "", "7.2.5")
	b := crit(t, "cpe:2.3:o:fortinet:fortios:7.2.4:*:*:*:*:*:*:*") // the same CVE twice: one finding
	w := crit(t, "cpe:2.3:h:fortinet:fortigate_6*:-:*:*:*:*:*:*:*")
	w.CVE = "CVE-2024-0002"
	cands := Candidates(Asset{Manufacturer: "Fortinet", Model: "FortiGate 60F", FirmwareVersion: "v7.2.4"})
	got := Match(cands, map[string][]*Criterion{"fortinet:fortios": {a, b}}, []*Criterion{w})
	if len(got) != 2 || got[0].CVE != "CVE-2024-0001" || got[1].CVE != "CVE-2024-0002" {
		t.Fatalf("%+v", got)
	}
	if want := "cpe:2.3:o:fortinet:fortios:7.2.4 matches cpe:2.3:o:fortinet:fortios:*:*:*:*:*:*:*:* (versions >= 7.2.0, < 7.2.5)"; got[0].Matched != want {
		t.Fatalf("matched %q, want %q", got[0].Matched, want)
	}
}

func sampleCVEs() []nvdtest.CVE {
	day := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	return []nvdtest.CVE{
		{ID: "CVE-2025-0001", Description: "FortiOS heap overflow", Score: 9.8, Published: day, LastModified: day,
			Matches: []nvdtest.Match{nvdtest.Vulnerable("cpe:2.3:o:fortinet:fortios:*:*:*:*:*:*:*:*", "7.2.0", "", "", "7.2.5"),
				{Vulnerable: false, Criteria: "cpe:2.3:h:fortinet:fortigate:-:*:*:*:*:*:*:*"}}},
		{ID: "CVE-2025-0002", Description: "Old v2-only", V2Score: 9.3, Published: day, LastModified: day.Add(200 * 24 * time.Hour),
			Matches: []nvdtest.Match{nvdtest.Vulnerable("cpe:2.3:o:cisco:ios:15.2\\(4\\)e10:*:*:*:*:*:*:*", "", "", "", ""),
				nvdtest.Vulnerable("not a cpe", "", "", "", "")}},
		{ID: "CVE-2025-0003", Description: "Rejected", Rejected: true, Published: day, LastModified: day.Add(400 * 24 * time.Hour)},
	}
}

func TestDecodeFeed(t *testing.T) {
	dir := t.TempDir()
	cves := sampleCVEs()
	for _, name := range []string{"feed.json", "feed.json.gz"} {
		path := filepath.Join(dir, name)
		if err := nvdtest.WriteFeed(path, len(cves), func(i int) nvdtest.CVE { return cves[i] }); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		var got []CVE
		p, err := Decode(f, func(c CVE) error { got = append(got, c); return nil })
		f.Close()
		if err != nil || p.Read != 3 || p.TotalResults != 3 || len(got) != 3 {
			t.Fatalf("%s: %+v %v", name, p, err)
		}
		c := got[0]
		if c.ID != "CVE-2025-0001" || c.Description != "FortiOS heap overflow" || c.Score == nil || *c.Score != 9.8 ||
			c.Severity != "critical" || c.CVSSVersion != "3.1" || len(c.Criteria) != 1 || c.Criteria[0].StartIncluding != "7.2.0" ||
			c.Criteria[0].EndExcluding != "7.2.5" || !c.Published.Equal(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)) {
			t.Fatalf("%s: %+v", name, c)
		}
		if c := got[1]; c.Severity != "high" || c.CVSSVersion != "2.0" || len(c.Criteria) != 1 || c.SkippedCriteria != 1 {
			t.Fatalf("%s: v2 fallback: %+v", name, c)
		}
		if c := got[2]; !c.Rejected || c.Score != nil || c.Severity != "" {
			t.Fatalf("%s: rejected: %+v", name, c)
		}
	}
	for _, bad := range []string{`[]`, `{"vulnerabilities": 5}`, `{"format": "NVD_CVE"}`, `{"vulnerabilities": [{"cve": {"id": "CVE-1`} {
		if _, err := Decode(strings.NewReader(bad), func(CVE) error { return nil }); err == nil {
			t.Errorf("Decode(%q) accepted it", bad)
		}
	}
	p, err := Decode(strings.NewReader(`{"vulnerabilities": [{"cve": {"id": "nope"}}, {"cve": {"id": 7}}, {"cve": {"id": "CVE-2024-12345"}}]}`),
		func(CVE) error { return nil })
	if err != nil || p.Read != 3 || p.Invalid != 2 || len(p.Errors) != 2 {
		t.Fatalf("bad records: %+v %v", p, err)
	}
}

func TestClientPagesWindowsAndRetries(t *testing.T) {
	srv := nvdtest.New()
	defer srv.Close()
	srv.APIKey = "k3y"
	cves := sampleCVEs()
	for i := 4; i <= 7; i++ {
		c := cves[0]
		c.ID = "CVE-2025-000" + string(rune('0'+i))
		cves = append(cves, c)
	}
	srv.Set(cves...)
	srv.Refuse(1)
	c := &Client{BaseURL: srv.URL, APIKey: "k3y", HTTP: http.DefaultClient, Agent: "test", PageSize: 2, Window: time.Millisecond, Backoff: time.Millisecond}
	var got []string
	n, err := c.Changed(context.Background(), time.Time{}, time.Now(), func(c CVE) error { got = append(got, c.ID); return nil })
	if err != nil || n != 7 || len(got) != 7 {
		t.Fatalf("full fetch: %d %v %v", n, got, err)
	}
	reqs := srv.Requests()
	if len(reqs) != 5 || reqs[0].Get("startIndex") != "0" || reqs[1].Get("startIndex") != "0" || reqs[4].Get("startIndex") != "6" ||
		reqs[1].Has("lastModStartDate") {
		t.Fatalf("requests: %v", reqs)
	}

	// Incremental: 500 days are fetched in 120-day windows; only CVEs modified inside come back.
	since := time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC)
	got = nil
	if _, err := c.Changed(context.Background(), since, since.Add(500*24*time.Hour), func(c CVE) error { got = append(got, c.ID); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"CVE-2025-0002", "CVE-2025-0003"}) {
		t.Fatalf("incremental: %v", got)
	}
	var windows int
	for _, q := range srv.Requests()[5:] {
		from, _ := time.Parse("2006-01-02T15:04:05.000Z07:00", q.Get("lastModStartDate"))
		to, _ := time.Parse("2006-01-02T15:04:05.000Z07:00", q.Get("lastModEndDate"))
		if to.Sub(from) > MaxRange || from.Before(since) {
			t.Fatalf("window %v..%v", from, to)
		}
		windows++
	}
	if windows != 5 {
		t.Fatalf("%d windows for 500 days", windows)
	}

	c.APIKey = "wrong"
	if _, err := c.Changed(context.Background(), time.Time{}, time.Now(), func(CVE) error { return nil }); err == nil ||
		!strings.Contains(err.Error(), "Invalid apiKey") {
		t.Fatalf("wrong key: %v", err)
	}
}

// TestRateLimit: without a key at most 5 requests start in any 30 seconds, with one 50.
func TestRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, c := range []struct {
			key   string
			limit int
		}{{"", 5}, {"k", 50}} {
			cl := &Client{APIKey: c.key}
			start := time.Now()
			var at []time.Duration
			for range 2*c.limit + 1 {
				if err := cl.take(context.Background()); err != nil {
					t.Fatal(err)
				}
				at = append(at, time.Since(start))
			}
			if at[c.limit-1] != 0 || at[c.limit] != 30*time.Second || at[2*c.limit] != 60*time.Second {
				t.Fatalf("key %q: request times %v", c.key, at)
			}
		}
	})
}
