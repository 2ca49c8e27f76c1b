package web_test

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"clientst0r/internal/list"
	"clientst0r/internal/store"
	"clientst0r/internal/testutil"
	"clientst0r/internal/vuln/nvdtest"
)

func TestVulnerabilityPages(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		acme, bravo := e.Org("Acme Corp"), e.Org("Bravo")
		owner, ro, other := e.User("owner@acme.test", false), e.User("ro@acme.test", false), e.User("ed@bravo.test", false)
		e.Member(acme.ID, owner.Email, "owner")
		e.Member(acme.ID, ro.Email, "readonly")
		e.Member(bravo.ID, other.Email, "owner")
		fw, err := e.Store.CreateAsset(e.Sys, store.Asset{Scoped: store.Scoped{OrgID: acme.ID}, Name: "edge-fw", AssetType: "firewall",
			Manufacturer: "Fortinet", Model: "FortiGate 60F", FirmwareVersion: "7.2.4"})
		if err != nil {
			t.Fatal(err)
		}
		day := e.Clock.Now().Add(-48 * time.Hour)
		var feed bytes.Buffer
		if err := nvdtest.Encode(&feed, nvdtest.CVE{ID: "CVE-2025-3001", Description: "FortiOS <script>alert(1)</script> overflow", Score: 9.8,
			Published: day, LastModified: day, Matches: []nvdtest.Match{nvdtest.Vulnerable("cpe:2.3:o:fortinet:fortios:*:*:*:*:*:*:*:*", "", "", "", "7.2.5")}}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.Store.ImportCVEs(e.Sys, &feed); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Store.ScanVulnerabilities(e.Sys, store.VulnScanOptions{}); err != nil {
			t.Fatal(err)
		}

		b := newBrowser(t, e)
		b.login(owner.Email, testutil.Password)
		s, body := b.do("GET", "/vulnerabilities", nil)
		if s != 200 || !strings.Contains(body, "CVE-2025-3001") || !strings.Contains(body, "edge-fw") || !strings.Contains(body, "sev-critical") ||
			strings.Contains(body, "<script>alert(1)") || !strings.Contains(body, `value="ignored"`) || !strings.Contains(body, "Scan now") {
			t.Fatalf("list: %d\n%s", s, body)
		}
		// The asset page lists the finding; Ignore there comes back to the asset page.
		page := fmt.Sprintf("/assets/%d", fw.ID)
		if s, body = b.do("GET", page, nil); s != 200 || !strings.Contains(body, "CVE-2025-3001") || !strings.Contains(body, "FortiGate 60F") {
			t.Fatalf("asset page: %d\n%s", s, body)
		}
		q, _ := list.Parse(&store.VulnerabilitySpec, url.Values{})
		vs, _, err := e.Store.ListVulnerabilities(e.Sys, q)
		if err != nil || len(vs) != 1 {
			t.Fatalf("findings: %v %v", vs, err)
		}
		s, body = b.do("POST", fmt.Sprintf("/vulnerabilities/%d/status", vs[0].ID), url.Values{"status": {"ignored"}, "back": {page}})
		if s != 200 || b.last != page || !strings.Contains(body, "vuln-ignored") {
			t.Fatalf("ignore: %d at %s", s, b.last)
		}
		if _, body = b.do("GET", "/vulnerabilities", nil); strings.Contains(body, "CVE-2025-3001") {
			t.Fatal("an ignored finding is listed among the open ones")
		}
		if _, body = b.do("GET", "/vulnerabilities?status=ignored", nil); !strings.Contains(body, "CVE-2025-3001") {
			t.Fatal("ignored filter")
		}
		// An off-site "back" is not followed.
		b.do("POST", fmt.Sprintf("/vulnerabilities/%d/status", vs[0].ID), url.Values{"status": {"open"}, "back": {"//evil.example/"}})
		if b.last != "/vulnerabilities" {
			t.Fatalf("redirected to %s", b.last)
		}
		// Scan now records a scan and shows its progress.
		if s, body = b.do("POST", "/vulnerabilities/scan", url.Values{}); s != 200 || b.last != "/vulnerabilities" ||
			!strings.Contains(body, "<strong>queued</strong>") {
			t.Fatalf("scan now: %d at %s", s, b.last)
		}

		// Readonly: sees the finding, no buttons; another organization sees nothing.
		rb := newBrowser(t, e)
		rb.login(ro.Email, testutil.Password)
		if _, body = rb.do("GET", "/vulnerabilities", nil); !strings.Contains(body, "CVE-2025-3001") || strings.Contains(body, `value="ignored"`) ||
			strings.Contains(body, "Scan now") {
			t.Fatalf("readonly list:\n%s", body)
		}
		if s, _ = rb.do("POST", fmt.Sprintf("/vulnerabilities/%d/status", vs[0].ID), url.Values{"status": {"ignored"}}); s != 403 {
			t.Fatalf("readonly status change: %d", s)
		}
		ob := newBrowser(t, e)
		ob.login(other.Email, testutil.Password)
		if _, body = ob.do("GET", "/vulnerabilities", nil); strings.Contains(body, "CVE-2025-3001") {
			t.Fatal("Bravo sees Acme's finding")
		}
		if s, _ = ob.do("GET", page, nil); s != 404 {
			t.Fatalf("Bravo opens Acme's asset: %d", s)
		}
	})
}
