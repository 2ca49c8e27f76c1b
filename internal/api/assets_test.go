package api_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"clientst0r/internal/store"
	"clientst0r/internal/testutil"
)

// assetWorld is two organizations with a few assets each and callers of every kind.
type assetWorld struct {
	e                 *testutil.Env
	acme, bravo       store.Organization
	owner, ro, other  string // keys: Acme owner, Acme readonly, Bravo-only editor
	acmeIDs, bravoIDs []int64
}

func newAssetWorld(t *testing.T, e *testutil.Env) *assetWorld {
	w := &assetWorld{e: e, acme: e.Org("Acme"), bravo: e.Org("Bravo")}
	owner, ro, other := e.User("owner@acme.test", false), e.User("ro@acme.test", false), e.User("ed@bravo.test", false)
	e.Member(w.acme.ID, owner.Email, "owner")
	e.Member(w.acme.ID, ro.Email, "readonly")
	e.Member(w.bravo.ID, other.Email, "editor")
	w.owner, w.ro, w.other = e.Key(owner, store.NewKey{}), e.Key(ro, store.NewKey{}), e.Key(other, store.NewKey{})
	acme := []map[string]any{
		{"name": "core-sw-01", "asset_type": "switch", "manufacturer": "Cisco", "model": "C9300-48P", "serial_number": "FOC2233X0AB",
			"hostname": "acme-core-sw-01", "ip_address": "10.0.0.2", "mac_address": "00-1A-2B-3C-4D-5E", "tags": []string{"core", "network"},
			"purchase_date": "2022-03-01", "warranty_expiry": "2027-03-01"},
		{"name": "Front desk PC", "asset_type": "workstation", "manufacturer": "Dell", "model": "OptiPlex 7010", "serial_number": "7XK2M93",
			"hostname": "acme-ws-0042", "ip_address": "10.0.1.42", "mac_address": "a4bb.6d11.2233", "tags": []string{"reception"},
			"purchase_date": "2023-07-15", "warranty_expiry": "2026-07-15"},
		{"name": "Backup NAS", "asset_type": "nas", "status": "inactive", "manufacturer": "Synology", "model": "RS1221+",
			"hostname": "acme-nas-01", "ip_address": "2001:db8::10", "tags": []string{"backup", "core"}, "purchase_date": "2021-01-10"},
		{"name": "Old firewall", "asset_type": "firewall", "status": "retired", "manufacturer": "Fortinet", "model": "FortiGate 60E"},
	}
	for _, a := range acme {
		a["organization"] = w.acme.ID
		r := e.Do("POST", "/api/assets/", w.owner, a)
		if r.Status != 201 {
			t.Fatalf("seed %v: %d %s", a["name"], r.Status, r.Body)
		}
		w.acmeIDs = append(w.acmeIDs, int64(r.Map()["id"].(float64)))
		e.Clock.Advance(time.Minute)
	}
	for _, n := range []string{"Bravo core switch", "Bravo printer"} {
		r := e.Do("POST", "/api/assets/", w.other, map[string]any{"name": n, "asset_type": "switch", "manufacturer": "Cisco"})
		if r.Status != 201 {
			t.Fatalf("seed bravo: %d %s", r.Status, r.Body)
		}
		w.bravoIDs = append(w.bravoIDs, int64(r.Map()["id"].(float64)))
	}
	return w
}

func names(t *testing.T, r *testutil.Resp) []string {
	t.Helper()
	if r.Status != 200 {
		t.Fatalf("list: %d %s", r.Status, r.Body)
	}
	var out []string
	for _, o := range r.Map()["results"].([]any) {
		out = append(out, o.(map[string]any)["name"].(string))
	}
	return out
}

func TestAssetFieldsAndValidation(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		w := newAssetWorld(t, e)
		r := e.Do("GET", fmt.Sprintf("/api/v1/assets/%d/", w.acmeIDs[0]), w.owner, nil)
		a := r.Map()
		want := map[string]any{"name": "core-sw-01", "asset_type": "switch", "status": "active", "mac_address": "00:1a:2b:3c:4d:5e",
			"ip_address": "10.0.0.2", "organization_name": "Acme", "source": "manual", "online": nil, "last_seen_at": nil,
			"purchase_date": "2022-03-01", "warranty_expiry": "2027-03-01", "url": fmt.Sprintf("%s/api/v1/assets/%d/", e.Server.URL, w.acmeIDs[0])}
		for k, v := range want {
			if a[k] != v {
				t.Errorf("%s = %v, want %v", k, a[k], v)
			}
		}
		if tags := a["tags"].([]any); len(tags) != 2 || tags[0] != "core" || tags[1] != "network" {
			t.Errorf("tags %v", tags)
		}
		if a["created_by"] == nil {
			t.Error("created_by not set")
		}
		if r := e.Do("GET", fmt.Sprintf("/api/assets/%d/", w.acmeIDs[1]), w.owner, nil); r.Map()["mac_address"] != "a4:bb:6d:11:22:33" {
			t.Errorf("Cisco-dotted MAC normalised to %v", r.Map()["mac_address"])
		}
		if r := e.Do("GET", fmt.Sprintf("/api/assets/%d/", w.acmeIDs[2]), w.owner, nil); r.Map()["ip_address"] != "2001:db8::10" {
			t.Errorf("IPv6 kept as %v", r.Map()["ip_address"])
		}

		bad := []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"asset_type": "spaceship"}, "asset_type"},
			{map[string]any{"status": "lost"}, "status"},
			{map[string]any{"ip_address": "10.0.0.300"}, "ip_address"},
			{map[string]any{"ip_address": "fe80::1%eth0"}, "ip_address"},
			{map[string]any{"mac_address": "00:1a:2b:3c:4d"}, "mac_address"},
			{map[string]any{"mac_address": "zz:1a:2b:3c:4d:5e"}, "mac_address"},
			{map[string]any{"purchase_date": "2024-02-30"}, "purchase_date"},
			{map[string]any{"warranty_expiry": "next year"}, "warranty_expiry"},
			{map[string]any{"latitude": 91}, "latitude"},
			{map[string]any{"longitude": -181}, "longitude"},
			{map[string]any{"ram_gb": -1}, "ram_gb"},
			{map[string]any{"ram_gb": "lots"}, "ram_gb"},
			{map[string]any{"custom_fields": []int{1}}, "custom_fields"},
			{map[string]any{"tags": "core"}, "tags"},
			{map[string]any{"tags": []string{strings.Repeat("t", 51)}}, "tags"},
			{map[string]any{"name": strings.Repeat("n", 201)}, "name"},
			{map[string]any{"name": ""}, "name"},
			{map[string]any{"wheels": 4}, "wheels"},
		}
		for _, b := range bad {
			body := map[string]any{"name": "x", "organization": w.acme.ID}
			for k, v := range b.body {
				body[k] = v
			}
			r := e.Do("POST", "/api/assets/", w.owner, body)
			if r.Status != 400 || r.Map()[b.field] == nil {
				t.Errorf("%v: %d %s", b.body, r.Status, r.Body)
			}
		}
		// Blank IP and MAC mean none; read-only fields in a body are ignored.
		r = e.Do("POST", "/api/assets/", w.owner, map[string]any{"name": "blank", "organization": w.acme.ID, "ip_address": "",
			"mac_address": "", "source": "datto_rmm", "online": true, "created_by": 999, "id": 5})
		if m := r.Map(); r.Status != 201 || m["ip_address"] != nil || m["mac_address"] != nil || m["source"] != "manual" || m["online"] != nil || m["created_by"] == 999.0 {
			t.Errorf("blank/read-only: %d %s", r.Status, r.Body)
		}
		// organization: required when the caller reaches several, inferred when just one, refused when foreign.
		su := e.Key(e.User("root@x.test", true), store.NewKey{})
		if r := e.Do("POST", "/api/assets/", su, map[string]any{"name": "x"}); r.Status != 400 || string(r.Body) != `{"organization":["This field is required."]}` {
			t.Errorf("no organization: %d %s", r.Status, r.Body)
		}
		if r := e.Do("POST", "/api/assets/", w.owner, map[string]any{"name": "inferred"}); r.Status != 201 || r.Map()["organization"] != float64(w.acme.ID) {
			t.Errorf("inferred organization: %d %s", r.Status, r.Body)
		}
		if r := e.Do("POST", "/api/assets/", w.owner, map[string]any{"name": "x", "organization": w.bravo.ID}); r.Status != 400 || r.Map()["organization"] == nil {
			t.Errorf("foreign organization: %d %s", r.Status, r.Body)
		}
		if r := e.Do("PATCH", fmt.Sprintf("/api/assets/%d/", w.acmeIDs[0]), su, map[string]any{"organization": w.bravo.ID}); r.Status != 400 {
			t.Errorf("moving an asset: %d %s", r.Status, r.Body)
		}
	})
}

func TestAssetPutVersusPatch(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		w := newAssetWorld(t, e)
		path := fmt.Sprintf("/api/assets/%d/", w.acmeIDs[1])
		before := e.Do("GET", path, w.owner, nil).Map()

		r := e.Do("PATCH", path, w.owner, map[string]any{"notes": "Keyboard replaced", "tags": []string{"reception", "loaner"}})
		m := r.Map()
		if r.Status != 200 || m["notes"] != "Keyboard replaced" || m["serial_number"] != before["serial_number"] || len(m["tags"].([]any)) != 2 {
			t.Fatalf("patch: %d %s", r.Status, r.Body)
		}
		if m["updated_at"] == before["updated_at"] {
			t.Fatal("updated_at unchanged")
		}
		// A client can PUT back what it read: nothing changes, no audit row.
		got := e.Do("GET", path, w.owner, nil).Map()
		var audits int
		e.DB.R.QueryRow(`SELECT count(*) FROM audit_log WHERE object_type = 'asset' AND object_id = $1`, w.acmeIDs[1]).Scan(&audits)
		e.Clock.Advance(time.Minute)
		if r := e.Do("PUT", path, w.owner, got); r.Status != 200 || r.Map()["updated_at"] != got["updated_at"] {
			t.Fatalf("put back: %d %s", r.Status, r.Body)
		}
		var after int
		e.DB.R.QueryRow(`SELECT count(*) FROM audit_log WHERE object_type = 'asset' AND object_id = $1`, w.acmeIDs[1]).Scan(&after)
		if after != audits {
			t.Fatalf("an update that changes nothing wrote %d audit rows", after-audits)
		}
		// PUT replaces: what is left out returns to its default.
		r = e.Do("PUT", path, w.owner, map[string]any{"name": "Front desk PC"})
		m = r.Map()
		if r.Status != 200 || m["serial_number"] != "" || m["ip_address"] != nil || m["asset_type"] != "other" || len(m["tags"].([]any)) != 0 ||
			m["purchase_date"] != nil || m["organization"] != float64(w.acme.ID) || m["created_by"] != before["created_by"] {
			t.Fatalf("put: %d %s", r.Status, r.Body)
		}
		if r := e.Do("PUT", path, w.owner, map[string]any{"notes": "no name"}); r.Status != 400 || string(r.Body) != `{"name":["This field is required."]}` {
			t.Fatalf("put without name: %d %s", r.Status, r.Body)
		}
		// The audit log has each change with its fields.
		var changes string
		e.DB.R.QueryRow(`SELECT changes FROM audit_log WHERE object_type = 'asset' AND object_id = $1 AND action = 'update' ORDER BY id DESC LIMIT 1`,
			w.acmeIDs[1]).Scan(&changes)
		for _, f := range []string{"serial_number", "ip_address", "asset_type", "tags"} {
			if !strings.Contains(changes, `"`+f+`"`) {
				t.Errorf("audit changes lack %s: %s", f, changes)
			}
		}
		if r := e.Do("DELETE", path, w.owner, nil); r.Status != 204 {
			t.Fatalf("delete: %d", r.Status)
		}
		var deleted int
		e.DB.R.QueryRow(`SELECT count(*) FROM audit_log WHERE object_type = 'asset' AND object_id = $1 AND action = 'delete'`, w.acmeIDs[1]).Scan(&deleted)
		var tags int
		e.DB.R.QueryRow(`SELECT count(*) FROM asset_tags WHERE asset_id = $1`, w.acmeIDs[1]).Scan(&tags)
		if deleted != 1 || tags != 0 {
			t.Fatalf("delete: audit %d, tags left %d", deleted, tags)
		}
	})
}

func TestAssetFiltersSearchAndOrdering(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		w := newAssetWorld(t, e)
		list := func(q string) []string { return names(t, e.Do("GET", "/api/assets/?"+q, w.owner, nil)) }
		cases := []struct {
			query string
			want  []string
		}{
			{"ordering=name", []string{"Backup NAS", "Front desk PC", "Old firewall", "core-sw-01"}},
			{"asset_type=switch", []string{"core-sw-01"}},
			{"status=retired", []string{"Old firewall"}},
			{"manufacturer=Dell", []string{"Front desk PC"}},
			{"tag=core&ordering=-name", []string{"core-sw-01", "Backup NAS"}},
			{"source=manual&status=inactive", []string{"Backup NAS"}},
			{"purchase_date__gte=2022-01-01&ordering=purchase_date", []string{"core-sw-01", "Front desk PC"}},
			{"purchase_date__lte=2022-03-01&ordering=purchase_date", []string{"Backup NAS", "core-sw-01"}},
			{"warranty_expiry__lte=2026-12-31", []string{"Front desk PC"}},
			{"ordering=-purchase_date", []string{"Old firewall", "Front desk PC", "core-sw-01", "Backup NAS"}},
			{"ordering=purchase_date", []string{"Backup NAS", "core-sw-01", "Front desk PC", "Old firewall"}},
			// search: every term somewhere, any searchable field, case-insensitive substrings
			{"search=cisco", []string{"core-sw-01"}},
			{"search=ACME+ws", []string{"Front desk PC"}},
			{"search=acme,core", []string{"core-sw-01"}},
			{"search=10.0.", []string{"Front desk PC", "core-sw-01"}},
			{"search=db8", []string{"Backup NAS"}},
			{"search=4d:5e", []string{"core-sw-01"}},
			{"search=7xk2", []string{"Front desk PC"}},
			{"search=fortigate+old", []string{"Old firewall"}},
			{"search=ws", []string{"Front desk PC"}},
			{"search=nas+cisco", nil},
			{"search=50%25", nil},
		}
		for _, c := range cases {
			got := list(c.query)
			if c.query == "" || strings.HasPrefix(c.query, "search=") && !strings.Contains(c.query, "ordering") {
				slices.Sort(got)
				slices.Sort(c.want)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("?%s: %v, want %v", c.query, got, c.want)
			}
		}
		// updated_at__gte serves incremental sync: only what changed since.
		mark := e.Clock.Now()
		e.Clock.Advance(time.Second)
		e.Do("PATCH", fmt.Sprintf("/api/assets/%d/", w.acmeIDs[3]), w.owner, map[string]any{"notes": "decommissioned"})
		if got := list("updated_at__gte=" + url.QueryEscape(mark.Format(time.RFC3339Nano))); !slices.Equal(got, []string{"Old firewall"}) {
			t.Errorf("updated_at__gte: %v", got)
		}
		// Every scalar field is orderable, both ways, on both databases.
		for _, f := range store.AssetSpec.OrderFields() {
			for _, o := range []string{f, "-" + f} {
				if r := e.Do("GET", "/api/assets/?ordering="+o, w.owner, nil); r.Status != 200 || r.Map()["count"].(float64) != 4 {
					t.Errorf("ordering=%s: %d %s", o, r.Status, r.Body)
				}
			}
		}
		// Ties broken by id: with everything equal, pages follow creation order.
		var seen []string
		for p := 1; p <= 4; p++ {
			seen = append(seen, names(t, e.Do("GET", fmt.Sprintf("/api/assets/?ordering=source&page_size=1&page=%d", p), w.owner, nil))...)
		}
		if !slices.Equal(seen, []string{"core-sw-01", "Front desk PC", "Backup NAS", "Old firewall"}) {
			t.Errorf("ties: %v", seen)
		}
	})
}

func TestAssetPagesAndOrganizationParameter(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		w := newAssetWorld(t, e)
		su := e.Key(e.User("root@x.test", true), store.NewKey{})
		for i := range 205 {
			e.Do("POST", "/api/assets/", su, map[string]any{"name": fmt.Sprintf("bulk-%03d", i), "organization": w.bravo.ID})
		}
		sizes := []struct {
			query       string
			status, len int
			next        bool
		}{
			{"page_size=1", 200, 1, true},
			{"page_size=200", 200, 200, true},
			{"page_size=500", 200, 200, true},
			{"page_size=200&page=2", 200, 11, false},
			{"", 200, 25, true},
			{"page=9", 200, 11, false},
			{"page=10", 404, 0, false},
			{"page=0", 404, 0, false},
			{"page=x", 404, 0, false},
			{"page_size=0", 400, 0, false},
			{"page_size=x", 400, 0, false},
		}
		for _, c := range sizes {
			r := e.Do("GET", "/api/assets/?"+c.query, su, nil)
			if r.Status != c.status {
				t.Errorf("?%s: %d %s", c.query, r.Status, r.Body)
				continue
			}
			if c.status != 200 {
				continue
			}
			m := r.Map()
			if len(m["results"].([]any)) != c.len || m["count"].(float64) != 211 || (m["next"] != nil) != c.next {
				t.Errorf("?%s: %d results, count %v, next %v", c.query, len(m["results"].([]any)), m["count"], m["next"])
			}
		}
		for ref, want := range map[string]float64{fmt.Sprint(w.acme.ID): 4, w.acme.Slug: 4, w.bravo.Slug: 207} {
			if r := e.Do("GET", "/api/assets/?organization="+ref, su, nil); r.Status != 200 || r.Map()["count"] != want {
				t.Errorf("?organization=%s: %d %s", ref, r.Status, r.Body[:min(len(r.Body), 100)])
			}
		}
		for _, ref := range []string{w.bravo.Slug, fmt.Sprint(w.bravo.ID), "nope", "99999"} {
			if r := e.Do("GET", "/api/assets/?organization="+ref, w.owner, nil); r.Status != 403 {
				t.Errorf("owner of Acme asks for organization %s: %d", ref, r.Status)
			}
		}
	})
}

func TestAssetTenantIsolationForEveryMethod(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		w := newAssetWorld(t, e)
		// Bravo's editor sees none of Acme's assets, by any method.
		if got := names(t, e.Do("GET", "/api/assets/?ordering=name", w.other, nil)); !slices.Equal(got, []string{"Bravo core switch", "Bravo printer"}) {
			t.Fatalf("Bravo sees %v", got)
		}
		for _, id := range w.acmeIDs {
			for _, m := range []struct {
				method string
				body   any
			}{{"GET", nil}, {"PUT", map[string]any{"name": "x"}}, {"PATCH", map[string]any{"name": "x"}}, {"DELETE", nil}} {
				if r := e.Do(m.method, fmt.Sprintf("/api/assets/%d/", id), w.other, m.body); r.Status != 404 || string(r.Body) != `{"detail":"Not found."}` {
					t.Errorf("%s Acme asset %d as Bravo: %d %s", m.method, id, r.Status, r.Body)
				}
			}
		}
		// Acme's readonly member reads but cannot write.
		if r := e.Do("GET", fmt.Sprintf("/api/assets/%d/", w.acmeIDs[0]), w.ro, nil); r.Status != 200 {
			t.Fatalf("readonly read: %d", r.Status)
		}
		for _, m := range []struct {
			method, path string
			body         any
		}{
			{"POST", "/api/assets/", map[string]any{"name": "x"}},
			{"PUT", fmt.Sprintf("/api/assets/%d/", w.acmeIDs[0]), map[string]any{"name": "x"}},
			{"PATCH", fmt.Sprintf("/api/assets/%d/", w.acmeIDs[0]), map[string]any{"name": "x"}},
			{"DELETE", fmt.Sprintf("/api/assets/%d/", w.acmeIDs[0]), nil},
		} {
			if r := e.Do(m.method, m.path, w.ro, m.body); r.Status != 403 {
				t.Errorf("readonly %s %s: %d %s", m.method, m.path, r.Status, r.Body)
			}
		}
		// An editor may edit but not delete.
		ed := e.User("ed@acme.test", false)
		e.Member(w.acme.ID, ed.Email, "editor")
		edKey := e.Key(ed, store.NewKey{})
		if r := e.Do("PATCH", fmt.Sprintf("/api/assets/%d/", w.acmeIDs[0]), edKey, map[string]any{"notes": "x"}); r.Status != 200 {
			t.Errorf("editor patch: %d", r.Status)
		}
		if r := e.Do("DELETE", fmt.Sprintf("/api/assets/%d/", w.acmeIDs[0]), edKey, nil); r.Status != 403 {
			t.Errorf("editor delete: %d", r.Status)
		}
		// Nothing of Bravo's changed.
		for _, id := range w.bravoIDs {
			if r := e.Do("GET", fmt.Sprintf("/api/assets/%d/", id), w.other, nil); r.Status != 200 || strings.HasPrefix(r.Map()["name"].(string), "x") {
				t.Errorf("Bravo asset %d: %d %s", id, r.Status, r.Body)
			}
		}
	})
}
