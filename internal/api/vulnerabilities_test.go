package api_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"clientst0r/internal/store"
	"clientst0r/internal/testutil"
	"clientst0r/internal/vuln/nvdtest"
)

const anyFortiOS = "cpe:2.3:o:fortinet:fortios:*:*:*:*:*:*:*:*"

// nvdCVEs are the fake NVD's records, modified a day before the test clock starts.
func nvdCVEs(modified time.Time) []nvdtest.CVE {
	pub := modified.Add(-30 * 24 * time.Hour)
	cve := func(id, desc string, score float64, m ...nvdtest.Match) nvdtest.CVE {
		return nvdtest.CVE{ID: id, Description: desc, Score: score, Published: pub, LastModified: modified, Matches: m}
	}
	return []nvdtest.CVE{
		cve("CVE-2025-1001", "FortiOS SSL-VPN heap overflow", 9.8, nvdtest.Vulnerable(anyFortiOS, "7.2.0", "", "", "7.2.5")),
		cve("CVE-2025-1002", "FortiOS path traversal", 7.5, nvdtest.Vulnerable(anyFortiOS, "", "7.0.0", "7.2.4", "")),
		cve("CVE-2025-1003", "FortiOS 7.2.5 regression", 5.3, nvdtest.Vulnerable(anyFortiOS, "7.2.5", "", "", "7.4.0")),
		cve("CVE-2025-1008", "FortiOS after 7.2.4", 6.1, nvdtest.Vulnerable(anyFortiOS, "", "7.2.4", "", "")),
		cve("CVE-2025-1004", "Windows kernel elevation of privilege", 7.8,
			nvdtest.Vulnerable("cpe:2.3:o:microsoft:windows_10_22h2:*:*:*:*:*:*:x64:*", "", "", "", "10.0.19045.3570")),
		cve("CVE-2025-1005", "Cisco IOS SNMP", 8.6, nvdtest.Vulnerable(`cpe:2.3:o:cisco:ios:15.2\(4\)e10:*:*:*:*:*:*:*`, "", "", "", "")),
		cve("CVE-2025-1006", "LaserJet Pro firmware RCE", 9.1, nvdtest.Vulnerable("cpe:2.3:h:hp:laserjet_pro_m4*:-:*:*:*:*:*:*:*", "", "", "", "")),
		cve("CVE-2025-1007", "DSM 7.2.1 file station", 4.3, nvdtest.Vulnerable("cpe:2.3:o:synology:diskstation_manager:7.2.1:*:*:*:*:*:*:*", "", "", "", "")),
	}
}

type finding struct{ cve, asset string }

func findings(t *testing.T, e *testutil.Env, key, query string) []finding {
	t.Helper()
	r := e.Do("GET", "/api/vulnerabilities/?page_size=200&"+query, key, nil)
	if r.Status != 200 {
		t.Fatalf("list %s: %d %s", query, r.Status, r.Body)
	}
	var out []finding
	for _, x := range r.Map()["results"].([]any) {
		v := x.(map[string]any)
		out = append(out, finding{v["cve_id"].(string), v["asset_name"].(string)})
	}
	slices.SortFunc(out, func(a, b finding) int { return strings.Compare(a.cve+a.asset, b.cve+b.asset) })
	return out
}

func countEvents(t *testing.T, e *testutil.Env, event string) int {
	t.Helper()
	var n int
	if err := e.DB.R.QueryRow(`SELECT count(*) FROM events WHERE event = $1`, event).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitScan polls a scan until it has finished (or failed).
func waitScan(t *testing.T, e *testutil.Env, key string, id any) map[string]any {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		r := e.Do("GET", fmt.Sprintf("/api/vulnerabilities/scans/%v/", id), key, nil)
		if r.Status != 200 {
			t.Fatalf("scan %v: %d %s", id, r.Status, r.Body)
		}
		if m := r.Map(); m["status"] == "finished" || m["status"] == "failed" {
			return m
		}
	}
	t.Fatalf("scan %v did not finish", id)
	return nil
}

func TestVulnerabilities(t *testing.T) {
	nvd := nvdtest.New()
	defer nvd.Close()
	testutil.EachEnvWith(t, testutil.EnvOptions{NVDURL: nvd.URL}, func(t *testing.T, e *testutil.Env) {
		nvd.Set(nvdCVEs(e.Clock.Now().Add(-24 * time.Hour))...)
		acme, bravo := e.Org("Acme"), e.Org("Bravo")
		key := func(email string, org int64, role string) string {
			u := e.User(email, false)
			e.Member(org, email, role)
			return e.Key(u, store.NewKey{})
		}
		owner, ro, other := key("owner@acme.test", acme.ID, "owner"), key("ro@acme.test", acme.ID, "readonly"), key("ed@bravo.test", bravo.ID, "owner")
		asset := func(k string, body map[string]any) int64 {
			t.Helper()
			r := e.Do("POST", "/api/assets/", k, body)
			if r.Status != 201 {
				t.Fatalf("create asset: %d %s", r.Status, r.Body)
			}
			return int64(r.Map()["id"].(float64))
		}
		fw := asset(owner, map[string]any{"name": "fw1", "asset_type": "firewall", "manufacturer": "Fortinet", "model": "FortiGate 60F",
			"firmware_version": "v7.2.4 build1396"})
		asset(owner, map[string]any{"name": "pc1", "asset_type": "desktop", "manufacturer": "Dell Inc.", "os_name": "Microsoft Windows 10 Pro",
			"os_version": "10.0.19045.3448"})
		asset(owner, map[string]any{"name": "pc2", "asset_type": "desktop", "os_name": "Windows 10 Pro", "os_version": "10.0.19045.3570"})
		asset(owner, map[string]any{"name": "sw1", "asset_type": "switch", "manufacturer": "Cisco Systems", "os_name": "IOS", "os_version": "15.2(4)E10"})
		asset(owner, map[string]any{"name": "prn1", "asset_type": "printer", "manufacturer": "HP", "model": "LaserJet Pro M404dn"})
		asset(owner, map[string]any{"name": "nas1", "asset_type": "nas", "manufacturer": "Synology", "model": "DS920+", "os_name": "DSM",
			"os_version": "7.2.1-69057 Update 5"})
		asset(owner, map[string]any{"name": "fw-old", "asset_type": "firewall", "status": "retired", "manufacturer": "Fortinet",
			"firmware_version": "7.2.4"})
		asset(other, map[string]any{"name": "bravo-fw", "asset_type": "firewall", "manufacturer": "Fortinet", "firmware_version": "7.2.3"})
		receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
		defer receiver.Close()
		for _, k := range []string{owner, other} {
			if r := e.Do("POST", "/api/webhooks/", k, map[string]any{"name": "SIEM", "url": receiver.URL, "events": []string{"vulnerability.found"}}); r.Status != 201 {
				t.Fatalf("webhook: %d %s", r.Status, r.Body)
			}
		}
		e.StartJobs()

		// A readonly member may not scan; the owner's scan fetches from NVD and covers Acme only.
		if r := e.Do("POST", "/api/vulnerabilities/scan/", ro, nil); r.Status != 403 {
			t.Fatalf("readonly scan: %d %s", r.Status, r.Body)
		}
		r := e.Do("POST", "/api/vulnerabilities/scan/", owner, nil)
		if r.Status != 202 || r.Map()["status"] != "queued" {
			t.Fatalf("scan: %d %s", r.Status, r.Body)
		}
		scan := waitScan(t, e, owner, r.Map()["id"])
		if scan["status"] != "finished" || scan["cves_fetched"].(float64) != 8 || scan["findings_opened"].(float64) != 6 ||
			fmt.Sprint(scan["organizations"]) != fmt.Sprintf("[%d]", acme.ID) {
			t.Fatalf("scan: %v", scan)
		}
		if r := e.Do("GET", fmt.Sprintf("/api/vulnerabilities/scans/%v/", scan["id"]), other, nil); r.Status != 404 {
			t.Fatalf("another organization's scan: %d", r.Status)
		}
		want := []finding{{"CVE-2025-1001", "fw1"}, {"CVE-2025-1002", "fw1"}, {"CVE-2025-1004", "pc1"}, {"CVE-2025-1005", "sw1"},
			{"CVE-2025-1006", "prn1"}, {"CVE-2025-1007", "nas1"}}
		if got := findings(t, e, owner, ""); !slices.Equal(got, want) {
			t.Fatalf("findings\n got %v\nwant %v", got, want)
		}
		if n := countEvents(t, e, store.EventVulnerabilityFound); n != 6 {
			t.Fatalf("%d vulnerability.found events, want 6", n)
		}
		var payload string
		e.DB.R.QueryRow(`SELECT payload FROM events WHERE event = 'vulnerability.found' AND payload LIKE '%CVE-2025-1001%'`).Scan(&payload)
		for _, part := range []string{`"cve_id":"CVE-2025-1001"`, `"severity":"critical"`, `"cvss_score":9.8`, `"asset_name":"fw1"`,
			fmt.Sprintf(`"asset_id":%d`, fw), `"summary":"FortiOS SSL-VPN heap overflow"`, `"vulnerability_id":`, `"name":"Acme"`} {
			if !strings.Contains(payload, part) {
				t.Fatalf("event payload lacks %s: %s", part, payload)
			}
		}

		// Filters, search, ordering and tenant isolation.
		if got := findings(t, e, owner, "severity=critical"); !slices.Equal(got, []finding{{"CVE-2025-1001", "fw1"}, {"CVE-2025-1006", "prn1"}}) {
			t.Fatalf("critical: %v", got)
		}
		if got := findings(t, e, owner, "search=heap+overflow"); !slices.Equal(got, []finding{{"CVE-2025-1001", "fw1"}}) {
			t.Fatalf("search: %v", got)
		}
		if got := findings(t, e, owner, fmt.Sprintf("asset=%d&cve_id=CVE-2025-1002", fw)); len(got) != 1 {
			t.Fatalf("asset and cve filter: %v", got)
		}
		if r := e.Do("GET", "/api/vulnerabilities/?severity=urgent", owner, nil); r.Status != 400 {
			t.Fatalf("bad severity: %d", r.Status)
		}
		list := e.Do("GET", "/api/vulnerabilities/?ordering=-cvss_score", owner, nil).Map()["results"].([]any)
		first := list[0].(map[string]any)
		if first["cve_id"] != "CVE-2025-1001" || !strings.Contains(first["matched"].(string), "(versions >= 7.2.0, < 7.2.5)") {
			t.Fatalf("first by score: %v", first)
		}
		if got := findings(t, e, other, ""); len(got) != 0 {
			t.Fatalf("Bravo sees %v before its own scan", got)
		}
		id := int64(first["id"].(float64))
		if r := e.Do("GET", fmt.Sprintf("/api/vulnerabilities/%d/", id), other, nil); r.Status != 404 {
			t.Fatalf("Bravo reads Acme's finding: %d", r.Status)
		}

		// Status changes: manage permission, allowed values, audit.
		path := fmt.Sprintf("/api/vulnerabilities/%d/", id)
		if r := e.Do("PATCH", path, ro, map[string]any{"status": "ignored"}); r.Status != 403 {
			t.Fatalf("readonly patch: %d", r.Status)
		}
		if r := e.Do("PATCH", path, owner, map[string]any{"status": "fixed"}); r.Status != 400 {
			t.Fatalf("bad status: %d %s", r.Status, r.Body)
		}
		if r := e.Do("PATCH", path, owner, map[string]any{"status": "ignored", "cve_id": "CVE-1999-0001"}); r.Status != 200 ||
			r.Map()["status"] != "ignored" || r.Map()["cve_id"] != "CVE-2025-1001" {
			t.Fatalf("ignore: %d %s", r.Status, r.Body)
		}
		if r := e.Do("PATCH", path, owner, map[string]any{"status": "open"}); r.Status != 200 {
			t.Fatalf("reopen: %d", r.Status)
		}
		if r := e.Do("PUT", path, owner, map[string]any{"status": "open"}); r.Status != 405 {
			t.Fatalf("PUT: %d", r.Status)
		}
		if r := e.Do("GET", fmt.Sprintf("/api/audit/?object_type=vulnerability&object_id=%d", id), owner, nil); r.Map()["count"].(float64) != 2 {
			t.Fatalf("audit: %s", r.Body)
		}

		// The periodic scan matches what Acme's scan left out (Bravo, whose assets share the changed
		// criteria); then a re-scan with nothing changed opens nothing, resolves nothing, sends nothing.
		counts, err := e.Store.ScanVulnerabilities(e.Sys, store.VulnScanOptions{})
		if err != nil || counts.Opened != 2 || counts.Resolved != 0 {
			t.Fatalf("periodic scan: %+v %v", counts, err)
		}
		if got := findings(t, e, other, ""); !slices.Equal(got, []finding{{"CVE-2025-1001", "bravo-fw"}, {"CVE-2025-1002", "bravo-fw"}}) {
			t.Fatalf("Bravo after the periodic scan: %v", got)
		}
		events := countEvents(t, e, store.EventVulnerabilityFound)
		counts, err = e.Store.ScanVulnerabilities(e.Sys, store.VulnScanOptions{Full: true})
		if err != nil || counts.Opened != 0 || counts.Resolved != 0 || countEvents(t, e, store.EventVulnerabilityFound) != events {
			t.Fatalf("unchanged full re-scan: %+v %v", counts, err)
		}

		// The firewall upgraded to 7.2.5: the two fixed findings resolve, two that start after 7.2.4 open.
		e.Clock.Advance(time.Second) // (the test clock stays within the first minute: no periodic scan runs)
		if r := e.Do("PATCH", fmt.Sprintf("/api/assets/%d/", fw), owner, map[string]any{"firmware_version": "7.2.5"}); r.Status != 200 {
			t.Fatalf("upgrade: %d", r.Status)
		}
		counts, err = e.Store.ScanVulnerabilities(e.Sys, store.VulnScanOptions{})
		if err != nil || counts.Opened != 2 || counts.Resolved != 2 {
			t.Fatalf("after the upgrade: %+v %v", counts, err)
		}
		if got := findings(t, e, owner, fmt.Sprintf("asset=%d&status=open", fw)); !slices.Equal(got, []finding{{"CVE-2025-1003", "fw1"}, {"CVE-2025-1008", "fw1"}}) {
			t.Fatalf("open on fw1: %v", got)
		}
		resolved := e.Do("GET", path, owner, nil).Map()
		if resolved["status"] != "resolved" || resolved["resolved_at"] == nil {
			t.Fatalf("fixed finding: %v", resolved)
		}
		if n := countEvents(t, e, store.EventVulnerabilityFound); n != events+2 {
			t.Fatalf("%d events after the upgrade, want %d", n, events+2)
		}

		// NVD revises CVE-2025-1005 to another IOS release: fetched incrementally, sw1's finding resolves.
		cves := nvdCVEs(e.Clock.Now().Add(-24 * time.Hour))
		cves[5].Matches = []nvdtest.Match{nvdtest.Vulnerable(`cpe:2.3:o:cisco:ios:15.2\(4\)e11:*:*:*:*:*:*:*`, "", "", "", "")}
		cves[5].LastModified = e.Clock.Now().Add(time.Second)
		e.Clock.Advance(10 * time.Second)
		nvd.Set(cves...)
		before := len(nvd.Requests())
		scan = waitScan(t, e, owner, e.Do("POST", "/api/vulnerabilities/scan/", owner, nil).Map()["id"])
		if scan["cves_fetched"].(float64) != 1 || scan["findings_resolved"].(float64) != 1 || scan["findings_opened"].(float64) != 0 {
			t.Fatalf("incremental scan: %v", scan)
		}
		if q := nvd.Requests()[before]; !q.Has("lastModStartDate") || !q.Has("lastModEndDate") {
			t.Fatalf("second fetch was not incremental: %v", q)
		}
		if got := findings(t, e, owner, "status=open&cve_id=CVE-2025-1005"); len(got) != 0 {
			t.Fatalf("revised CVE still open: %v", got)
		}

		// A feed file imported by another process: the next periodic scan matches its CVEs.
		feed := filepath.Join(t.TempDir(), "nvdcve-2.0-2025.json.gz")
		extra := nvdtest.CVE{ID: "CVE-2025-2001", Description: "Windows SMB", Score: 8.1, Published: e.Clock.Now(), LastModified: e.Clock.Now(),
			Matches: []nvdtest.Match{nvdtest.Vulnerable("cpe:2.3:o:microsoft:windows_10_22h2:*:*:*:*:*:*:*:*", "", "", "10.0.19045.3570", "")}}
		if err := nvdtest.WriteFeed(feed, 1, func(int) nvdtest.CVE { return extra }); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(feed)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, b, err := e.Store.ImportCVEs(e.Sys, f); err != nil || b.Changed != 1 {
			t.Fatalf("import: %v", err)
		}
		if counts, err = e.Store.ScanVulnerabilities(e.Sys, store.VulnScanOptions{}); err != nil || counts.Opened != 2 {
			t.Fatalf("after the import: %+v %v", counts, err)
		}
		if got := findings(t, e, owner, "cve_id=CVE-2025-2001"); !slices.Equal(got, []finding{{"CVE-2025-2001", "pc1"}, {"CVE-2025-2001", "pc2"}}) {
			t.Fatalf("imported CVE: %v", got)
		}
	})
}
