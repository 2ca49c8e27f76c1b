package rmm_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"clientst0r/internal/rmm"
	"clientst0r/internal/rmm/automate/automatefake"
	"clientst0r/internal/rmm/datto/dattofake"
	"clientst0r/internal/rmm/ninjaone/ninjafake"
	"clientst0r/internal/rmm/rmmtest"
	"clientst0r/internal/rmm/syncro/syncrofake"
	"clientst0r/internal/store"
	"clientst0r/internal/testutil"
)

// scale matches testutil's RMMRateScale: the fakes' windows shrink as the clients' limits grow.
const scale = 50

// vendor starts a fake of one vendor and says how it names organizations.
type vendor struct {
	provider string
	start    func(devs []rmmtest.Device) rmmtest.Fake
	orgID    func(org int64) string
	alerts   bool
}

func numeric(n int64) string { return strconv.FormatInt(n, 10) }

var vendors = []vendor{
	{rmm.Automate, func(devs []rmmtest.Device) rmmtest.Fake {
		f := automatefake.New()
		f.SetDevices(devs)
		return f
	}, numeric, false},
	{rmm.Datto, func(devs []rmmtest.Device) rmmtest.Fake {
		return dattofake.New(dattofake.Options{TimeScale: scale}, devs)
	}, dattofake.SiteUID, true},
	{rmm.NinjaOne, func(devs []rmmtest.Device) rmmtest.Fake {
		return ninjafake.New(ninjafake.Options{}, devs)
	}, numeric, false},
	{rmm.Syncro, func(devs []rmmtest.Device) rmmtest.Fake {
		f := syncrofake.New(syncrofake.WithRateLimit(180, time.Minute/scale))
		f.SetDevices(devs)
		return f
	}, numeric, false},
}

// fixtures: two devices of vendor organization 1 (one has the serial of a manual asset), one of
// organization 2, one of an unmapped organization.
func fixtures(now time.Time) []rmmtest.Device {
	seen := now.Add(-5 * time.Minute).Truncate(time.Second)
	return []rmmtest.Device{
		{ID: 101, Org: 1, OrgName: "Acme Corp", Site: "Main Office", Name: "ACME-WS-01", Manufacturer: "Dell Inc.", Model: "OptiPlex 7010",
			Serial: "SN-LINK-1", MAC: "00:14:22:aa:bb:01", IP: "10.1.0.11", OSName: "Microsoft Windows 11 Pro", OSVersion: "10.0.22631",
			Kind: "workstation", Online: true, LastSeen: seen},
		{ID: 102, Org: 1, OrgName: "Acme Corp", Site: "Main Office", Name: "ACME-LT-02", Manufacturer: "Lenovo", Model: "ThinkPad T14",
			Serial: "SN-A2", MAC: "54:ee:75:aa:bb:02", IP: "10.1.0.12", OSName: "Microsoft Windows 10 Pro", OSVersion: "10.0.19045",
			Kind: "laptop", Online: true, LastSeen: seen},
		{ID: 201, Org: 2, OrgName: "Bravo Dental", Site: "Clinic", Name: "BRAVO-SRV-01", Manufacturer: "HP", Model: "ProLiant DL380 Gen10",
			Serial: "SN-B1", MAC: "3c:d9:2b:aa:bb:03", IP: "10.2.0.5", OSName: "Microsoft Windows Server 2019 Standard", OSVersion: "10.0.17763",
			Kind: "server", Online: true, LastSeen: seen},
		{ID: 301, Org: 3, OrgName: "Nobody Mapped", Site: "HQ", Name: "OTHER-01", Manufacturer: "HP", Model: "EliteDesk", Serial: "SN-X1",
			MAC: "3c:d9:2b:aa:bb:04", IP: "10.3.0.5", OSName: "Microsoft Windows 11 Pro", OSVersion: "10.0.22631", Kind: "workstation",
			Online: true, LastSeen: seen},
	}
}

type assetRow struct {
	name, source, status, serial, osVersion, notes string
	org                                            int64
	online                                         *bool
}

func (a assetRow) String() string {
	online := "unknown"
	if a.online != nil {
		online = strconv.FormatBool(*a.online)
	}
	return fmt.Sprintf("%s %s %s %s %s %q %d %s", a.name, a.source, a.status, a.serial, a.osVersion, a.notes, a.org, online)
}

func assets(t *testing.T, e *testutil.Env) map[string]assetRow {
	t.Helper()
	rows, err := e.DB.R.Query(`SELECT name, source, status, serial_number, os_version, notes, organization_id, online FROM assets`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]assetRow{}
	for rows.Next() {
		var a assetRow
		if err := rows.Scan(&a.name, &a.source, &a.status, &a.serial, &a.osVersion, &a.notes, &a.org, &a.online); err != nil {
			t.Fatal(err)
		}
		out[a.serial] = a
	}
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

// sync starts a run through the API and waits for it to finish.
func sync(t *testing.T, e *testutil.Env, key string, integ int64) map[string]any {
	t.Helper()
	r := e.Do("POST", fmt.Sprintf("/api/integrations/%d/sync/", integ), key, nil)
	if r.Status != 202 {
		t.Fatalf("sync: %d %s", r.Status, r.Body)
	}
	id := r.Map()["id"]
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		runs := e.Do("GET", fmt.Sprintf("/api/integrations/%d/runs/?page_size=200", integ), key, nil).Map()["results"].([]any)
		for _, x := range runs {
			run := x.(map[string]any)
			if run["id"] == id && run["status"] != "running" {
				return run
			}
		}
	}
	t.Fatalf("run %v did not finish", id)
	return nil
}

func counts(run map[string]any) string {
	return fmt.Sprintf("seen %v created %v updated %v retired %v skipped %v", run["devices_seen"], run["devices_created"],
		run["devices_updated"], run["devices_retired"], run["devices_skipped"])
}

// TestEngineAgainstEachVendor runs the sync engine through the API against each vendor's fake:
// mapping, serial matching onto a manual asset, RMM-owned fields only, events only for real
// changes, vanished devices made inactive, recovery from 429 and an expired token, wrong
// credentials reported on the run, and Datto's alerts.
func TestEngineAgainstEachVendor(t *testing.T) {
	for _, v := range vendors {
		t.Run(v.provider, func(t *testing.T) {
			testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
				acme, bravo := e.Org("Acme"), e.Org("Bravo")
				admin := e.User("admin@msp.test", true)
				key := e.Key(admin, store.NewKey{})
				devs := fixtures(e.Clock.Now())
				fake := v.start(devs)
				defer fake.Close()
				receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
				defer receiver.Close()
				for _, org := range []int64{acme.ID, bravo.ID} {
					if r := e.Do("POST", "/api/webhooks/", key, map[string]any{"organization": org, "name": "PSA", "url": receiver.URL,
						"events": []string{"asset.created", "asset.updated"}}); r.Status != 201 {
						t.Fatalf("webhook: %d %s", r.Status, r.Body)
					}
				}
				manual := e.Do("POST", "/api/assets/", key, map[string]any{"organization": acme.ID, "name": "Reception PC",
					"asset_type": "desktop", "serial_number": "SN-LINK-1", "notes": "bought 2023", "asset_tag": "ACME-0001"})
				if manual.Status != 201 {
					t.Fatalf("manual asset: %d %s", manual.Status, manual.Body)
				}
				r := e.Do("POST", "/api/integrations/", key, map[string]any{"organization": acme.ID, "name": v.provider, "provider": v.provider,
					"base_url": fake.URL(), "credentials": fake.Credentials(), "sync_interval_minutes": 60, "enabled": true,
					"organization_mapping": map[string]int64{v.orgID(1): acme.ID, v.orgID(2): bravo.ID}})
				if r.Status != 201 {
					t.Fatalf("integration: %d %s", r.Status, r.Body)
				}
				integ := int64(r.Map()["id"].(float64))
				if r := e.Do("POST", fmt.Sprintf("/api/integrations/%d/test/", integ), key, nil); r.Map()["ok"] != true {
					t.Fatalf("connection test: %s", r.Body)
				}
				e.StartJobs()

				// First sync: one asset linked by serial, two created, the unmapped organization skipped.
				created := countEvents(t, e, store.EventAssetCreated)
				run := sync(t, e, key, integ)
				if run["status"] != "succeeded" || counts(run) != "seen 4 created 2 updated 1 retired 0 skipped 1" {
					t.Fatalf("first sync: %v %s", run["error"], counts(run))
				}
				got := assets(t, e)
				if len(got) != 3 {
					t.Fatalf("assets after the first sync: %v", got)
				}
				link, a2, b1 := got["SN-LINK-1"], got["SN-A2"], got["SN-B1"]
				if link.name != "Reception PC" || link.notes != "bought 2023" || link.org != acme.ID || link.osVersion != "10.0.22631" ||
					link.online == nil || !*link.online {
					t.Fatalf("linked manual asset: %+v", link)
				}
				if a2.org != acme.ID || a2.source != v.provider || a2.status != "active" || b1.org != bravo.ID {
					t.Fatalf("created assets: %+v %+v", a2, b1)
				}
				if n := countEvents(t, e, store.EventAssetCreated) - created; n != 2 {
					t.Fatalf("%d asset.created events, want 2", n)
				}

				// An unchanged second sync writes nothing and sends nothing; Datto's per-device audits
				// are not asked for again (their stamps are stored with the integration).
				updated := countEvents(t, e, store.EventAssetUpdated)
				audits := func() int {
					if d, ok := fake.(*dattofake.Server); ok {
						return d.Count("/api/v2/audit/device/")
					}
					return 0
				}
				auditsBefore := audits()
				if v.provider == rmm.Datto && auditsBefore != 4 {
					t.Fatalf("%d audits in the first sync, want 4", auditsBefore)
				}
				run = sync(t, e, key, integ)
				if audits() != auditsBefore {
					t.Fatalf("the unchanged sync audited %d devices again", audits()-auditsBefore)
				}
				if run["status"] != "succeeded" || counts(run) != "seen 4 created 0 updated 0 retired 0 skipped 1" ||
					countEvents(t, e, store.EventAssetUpdated) != updated {
					t.Fatalf("unchanged sync: %v %s", run["error"], counts(run))
				}

				// A changed device updates only RMM-owned fields: the technician's notes stay. The vendor
				// throttles and the token expires on the way; the sync gets through.
				var a2ID int64
				e.DB.R.QueryRow(`SELECT id FROM assets WHERE serial_number = 'SN-A2'`).Scan(&a2ID)
				e.Clock.Advance(time.Second)
				if r := e.Do("PATCH", fmt.Sprintf("/api/assets/%d/", a2ID), key, map[string]any{"notes": "spare battery in drawer"}); r.Status != 200 {
					t.Fatalf("edit: %d", r.Status)
				}
				devs[1].OSVersion = "10.0.19045.4291"
				fake.SetDevices(devs)
				fake.Throttle(2)
				fake.ExpireTokens()
				updated = countEvents(t, e, store.EventAssetUpdated)
				run = sync(t, e, key, integ)
				if run["status"] != "succeeded" || counts(run) != "seen 4 created 0 updated 1 retired 0 skipped 1" {
					t.Fatalf("changed device: %v %s", run["error"], counts(run))
				}
				if a := assets(t, e)["SN-A2"]; a.osVersion != "10.0.19045.4291" || a.notes != "spare battery in drawer" {
					t.Fatalf("after the change: %+v", a)
				}
				if n := countEvents(t, e, store.EventAssetUpdated) - updated; n != 1 {
					t.Fatalf("%d asset.updated events for one changed device", n)
				}

				// A device the vendor no longer lists is marked inactive, not deleted.
				fake.SetDevices(slices.Delete(slices.Clone(devs), 2, 3))
				run = sync(t, e, key, integ)
				if run["status"] != "succeeded" || run["devices_retired"] != 1.0 {
					t.Fatalf("vanished device: %v %s", run["error"], counts(run))
				}
				if a := assets(t, e)["SN-B1"]; a.status != "inactive" {
					t.Fatalf("vanished device's asset: %+v", a)
				}

				if v.alerts {
					testDattoAlerts(t, e, key, integ, fake.(*dattofake.Server), a2ID)
				}

				// Wrong credentials: the run fails with a reason a technician can act on; nothing changes.
				wrong := map[string]string{}
				for k := range fake.Credentials() {
					wrong[k] = "wrong-" + k
				}
				if r := e.Do("PATCH", fmt.Sprintf("/api/integrations/%d/", integ), key, map[string]any{"credentials": wrong}); r.Status != 200 {
					t.Fatalf("patch credentials: %d %s", r.Status, r.Body)
				}
				before := assets(t, e)
				run = sync(t, e, key, integ)
				if run["status"] != "failed" || !strings.Contains(strings.ToLower(run["error"].(string)), "credential") {
					t.Fatalf("wrong credentials: %v: %v", run["status"], run["error"])
				}
				if after := assets(t, e); fmt.Sprint(after) != fmt.Sprint(before) {
					t.Fatal("a failed sync changed assets")
				}
			})
		})
	}
}

// testDattoAlerts: open and resolved alerts are stored against the device's asset, and an alert the
// vendor stops listing as open is resolved.
func testDattoAlerts(t *testing.T, e *testutil.Env, key string, integ int64, fake *dattofake.Server, asset int64) {
	t.Helper()
	at := e.Clock.Now().Add(-time.Hour)
	fake.SetAlerts([]rmmtest.Alert{
		{UID: "a-open", DeviceID: 102, Priority: "High", Message: "Disk C: 95% full", At: at},
		{UID: "a-done", DeviceID: 102, Priority: "Moderate", Message: "Service restarted", Resolved: true, At: at, ResolvedAt: at.Add(time.Minute)},
	})
	if run := sync(t, e, key, integ); run["status"] != "succeeded" {
		t.Fatalf("sync with alerts: %v", run["error"])
	}
	list := func() map[string]string {
		out := map[string]string{}
		for _, x := range e.Do("GET", fmt.Sprintf("/api/rmm-alerts/?asset=%d", asset), key, nil).Map()["results"].([]any) {
			a := x.(map[string]any)
			out[a["message"].(string)] = a["status"].(string) + " " + a["priority"].(string)
		}
		return out
	}
	if got := list(); got["Disk C: 95% full"] != "open High" || got["Service restarted"] != "resolved Moderate" {
		t.Fatalf("alerts: %v", got)
	}
	// The asset's page shows them.
	jar, _ := cookiejar.New(nil)
	web := &http.Client{Jar: jar}
	if _, err := web.PostForm(e.Server.URL+"/login", url.Values{"email": {"admin@msp.test"}, "password": {testutil.Password}}); err != nil {
		t.Fatal(err)
	}
	res, err := web.Get(fmt.Sprintf("%s/assets/%d", e.Server.URL, asset))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(page), "RMM alerts") || !strings.Contains(string(page), "Disk C: 95% full") {
		t.Fatalf("asset page without its alerts (%d):\n%s", res.StatusCode, page)
	}
	fake.SetAlerts(nil)
	if run := sync(t, e, key, integ); run["status"] != "succeeded" {
		t.Fatalf("sync without alerts: %v", run["error"])
	}
	if got := list(); got["Disk C: 95% full"] != "resolved High" {
		t.Fatalf("alert the vendor no longer lists: %v", got)
	}
}
