package web_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"clientst0r/internal/store"
	"clientst0r/internal/testutil"
)

// TestListPagingSortingAndEmptyStates: list pages page with links that keep the filters, sort by
// their column headers in both directions, and say so when nothing matches.
func TestListPagingSortingAndEmptyStates(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		acme := e.Org("Acme Corp")
		u := e.User("tech@acme.test", false)
		e.Member(acme.ID, u.Email, "editor")
		for i := range 30 {
			if _, err := e.Store.CreateAsset(e.Sys, store.Asset{Scoped: store.Scoped{OrgID: acme.ID}, Name: fmt.Sprintf("ws-%02d", i),
				AssetType: "workstation", SerialNumber: fmt.Sprintf("SN%02d", i)}); err != nil {
				t.Fatal(err)
			}
		}
		b := newBrowser(t, e)
		b.login(u.Email, testutil.Password)
		_, body := b.do("GET", "/assets?asset_type=workstation", nil)
		if !strings.Contains(body, "Page 1 of 2") || !strings.Contains(body, `href="?asset_type=workstation&amp;page=2"`) ||
			!strings.Contains(body, "ws-00") || strings.Contains(body, "ws-29") {
			t.Fatalf("first page:\n%s", body)
		}
		// The name header sorts ascending; on a list sorted by it, it reverses.
		if !strings.Contains(body, `href="?asset_type=workstation&amp;ordering=name"`) {
			t.Fatal("sortable name header")
		}
		_, body = b.do("GET", "/assets?asset_type=workstation&ordering=-name&page=2", nil)
		if !strings.Contains(body, "Page 2 of 2") || !strings.Contains(body, `rel="prev"`) || !strings.Contains(body, "ws-00") ||
			strings.Contains(body, "ws-29") || !strings.Contains(body, `aria-sort="descending"`) || !strings.Contains(body, "ordering=name") {
			t.Fatalf("second page, reversed:\n%s", body)
		}
		if _, body = b.do("GET", "/assets?search=no-such-thing", nil); !strings.Contains(body, "No assets match.") {
			t.Fatalf("empty state:\n%s", body)
		}
		if _, body = b.do("GET", "/monitors", nil); !strings.Contains(body, "No monitors") {
			t.Fatalf("monitors empty state:\n%s", body)
		}
	})
}

// TestAssetForms: create, edit and delete an asset from the web; a refused form comes back as
// typed; readonly members get no buttons and no forms.
func TestAssetForms(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		acme := e.Org("Acme Corp")
		ed, ro := e.User("ed@acme.test", false), e.User("ro@acme.test", false)
		e.Member(acme.ID, ed.Email, "admin")
		e.Member(acme.ID, ro.Email, "readonly")
		b := newBrowser(t, e)
		b.login(ed.Email, testutil.Password)
		form := url.Values{"organization": {itoa(acme.ID)}, "name": {"Front desk PC"}, "asset_type": {"desktop"}, "status": {"active"},
			"serial_number": {"SN-FD-1"}, "ip_address": {"10.0.0.300"}, "tags": {"reception, vip"}, "ram_gb": {"16"}}
		s, body := b.do("POST", "/assets/new", form)
		if s != 400 || !strings.Contains(body, "ip_address") || !strings.Contains(body, `value="SN-FD-1"`) {
			t.Fatalf("bad IP: %d\n%s", s, body)
		}
		form.Set("ip_address", "10.0.0.30")
		s, body = b.do("POST", "/assets/new", form)
		page := b.last
		if s != 200 || !strings.HasPrefix(page, "/assets/") || !strings.Contains(body, "SN-FD-1") || !strings.Contains(body, "vip") ||
			!strings.Contains(body, "16.0 GB") {
			t.Fatalf("create: %d at %s\n%s", s, page, body)
		}
		form.Set("status", "retired")
		if s, body = b.do("POST", page+"/edit", form); s != 200 || !strings.Contains(body, "retired") {
			t.Fatalf("edit: %d\n%s", s, body)
		}
		rb := newBrowser(t, e)
		rb.login(ro.Email, testutil.Password)
		if _, body = rb.do("GET", page, nil); strings.Contains(body, "/edit") || strings.Contains(body, "Delete") {
			t.Fatalf("readonly sees write buttons:\n%s", body)
		}
		if _, body = rb.do("GET", "/assets", nil); strings.Contains(body, "New asset") {
			t.Fatal("readonly sees New asset")
		}
		if s, _ = rb.do("POST", page+"/delete", url.Values{}); s != 403 {
			t.Fatalf("readonly delete: %d", s)
		}
		if s, _ = b.do("POST", page+"/delete", url.Values{}); s != 200 || b.last != "/assets" {
			t.Fatalf("delete: %d at %s", s, b.last)
		}
	})
}
