package web_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"clientst0r/internal/auth"
	"clientst0r/internal/store"
	"clientst0r/internal/testutil"
)

// TestSwitcherDashboardAndSearch: the organization switcher narrows lists, the dashboard and
// search; only superusers get All organizations; nothing of another organization shows.
func TestSwitcherDashboardAndSearch(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		acme, bravo, other := e.Org("Acme Corp"), e.Org("Bravo Dental"), e.Org("Zeta Outsider")
		tech := e.User("tech@msp.test", false)
		e.Member(acme.ID, tech.Email, "editor")
		e.Member(bravo.ID, tech.Email, "readonly")
		admin := e.User("admin@msp.test", true)
		for _, a := range []struct {
			org         int64
			name, sn    string
			typ, status string
		}{{acme.ID, "acme-ws-01", "SN-ACME-1", "workstation", "active"}, {acme.ID, "acme-fw", "SN-ACME-2", "firewall", "retired"},
			{bravo.ID, "bravo-ws-01", "SN-BRAVO-1", "workstation", "active"}, {other.ID, "zeta-ws-01", "SN-ZETA-1", "workstation", "active"}} {
			if _, err := e.Store.CreateAsset(e.Sys, store.Asset{Scoped: store.Scoped{OrgID: a.org}, Name: a.name, SerialNumber: a.sn,
				AssetType: a.typ, Status: a.status}); err != nil {
				t.Fatal(err)
			}
		}
		b := newBrowser(t, e)
		b.login(tech.Email, testutil.Password)

		// A member works in one organization at a time: the first by name until they switch.
		_, body := b.do("GET", "/", nil)
		if !strings.Contains(body, "<h1>Acme Corp</h1>") || strings.Contains(body, "All organizations") ||
			!strings.Contains(body, `<span class="n">2</span>assets`) || strings.Contains(body, "Zeta Outsider") {
			t.Fatalf("dashboard:\n%s", body)
		}
		if _, body = b.do("GET", "/assets", nil); !strings.Contains(body, "acme-ws-01") || strings.Contains(body, "bravo-ws-01") {
			t.Fatalf("assets of Acme:\n%s", body)
		}
		if s, _ := b.do("POST", "/org", url.Values{"organization": {itoa(bravo.ID)}, "next": {"/assets"}}); s != 200 || b.last != "/assets" {
			t.Fatalf("switch: %d at %s", s, b.last)
		}
		if _, body = b.do("GET", "/assets", nil); strings.Contains(body, "acme-ws-01") || !strings.Contains(body, "bravo-ws-01") {
			t.Fatalf("assets of Bravo:\n%s", body)
		}
		// An organization one is not in cannot be chosen, nor All organizations.
		for _, v := range []string{itoa(other.ID), "all", "nope"} {
			if s, _ := b.do("POST", "/org", url.Values{"organization": {v}}); s != 400 {
				t.Fatalf("switch to %s: %d", v, s)
			}
		}
		// Search covers the current organization only.
		if _, body = b.do("GET", "/search?q=SN-", nil); !strings.Contains(body, "bravo-ws-01") || strings.Contains(body, "acme-ws-01") ||
			strings.Contains(body, "zeta-ws-01") {
			t.Fatalf("search in Bravo:\n%s", body)
		}

		// A superuser can look at everything at once.
		ab := newBrowser(t, e)
		ab.login(admin.Email, testutil.Password)
		if _, body = ab.do("GET", "/", nil); !strings.Contains(body, "<h1>All organizations</h1>") || !strings.Contains(body, `<span class="n">4</span>assets`) {
			t.Fatalf("superuser dashboard:\n%s", body)
		}
		if _, body = ab.do("GET", "/search?q=ws-01", nil); !strings.Contains(body, "acme-ws-01") || !strings.Contains(body, "zeta-ws-01") ||
			!strings.Contains(body, "Assets <span class=\"muted\">(3)</span>") {
			t.Fatalf("superuser search:\n%s", body)
		}
		ab.do("POST", "/org", url.Values{"organization": {itoa(other.ID)}, "next": {"/"}})
		if _, body = ab.do("GET", "/", nil); !strings.Contains(body, "<h1>Zeta Outsider</h1>") || !strings.Contains(body, `<span class="n">1</span>assets`) {
			t.Fatalf("superuser in Zeta:\n%s", body)
		}
	})
}

// TestUsersRolesInvitationsAndAudit walks Settings → Users: invite by link (accepted once), add an
// existing account, change a role, refuse granting more than one holds, remove; custom roles; the
// audit log page with its filters.
func TestUsersRolesInvitationsAndAudit(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		acme := e.Org("Acme Corp")
		owner, ro := e.User("owner@acme.test", false), e.User("ro@acme.test", false)
		e.Member(acme.ID, owner.Email, "owner")
		e.Member(acme.ID, ro.Email, "readonly")
		existing := e.User("contractor@elsewhere.test", false)
		b := newBrowser(t, e)
		b.login(owner.Email, testutil.Password)

		s, body := b.do("GET", "/settings/users", nil)
		if s != 200 || !strings.Contains(body, "ro@acme.test") || !strings.Contains(body, "Invite") {
			t.Fatalf("users page: %d\n%s", s, body)
		}
		// A new address gets a link, shown once.
		s, body = b.do("POST", "/settings/users/invite", url.Values{"email": {"New.Hire@Acme.test"}, "role": {"editor"}})
		link := regexp.MustCompile(`value="(http://[^"]+/invite/[^"]+)"`).FindStringSubmatch(body)
		if s != 200 || link == nil || !strings.Contains(body, "new.hire@acme.test") {
			t.Fatalf("invite: %d\n%s", s, body)
		}
		path := strings.TrimPrefix(link[1], e.Server.URL)
		// The invitee, without a session, creates the account; the link then stops working.
		guest := newBrowser(t, e)
		if s, body = guest.do("GET", path, nil); s != 200 || !strings.Contains(body, "Join Acme Corp") || !strings.Contains(body, "editor") {
			t.Fatalf("invitation page: %d\n%s", s, body)
		}
		if s, body = guest.do("POST", path, url.Values{"name": {"New Hire"}, "password": {"short"}, "password2": {"short"}}); s != 400 ||
			!strings.Contains(body, "at least 10") {
			t.Fatalf("short password: %d", s)
		}
		if s, _ = guest.do("POST", path, url.Values{"name": {"New Hire"}, "password": {"a long enough password"}, "password2": {"a long enough password"}}); s != 200 || guest.last != "/login" {
			t.Fatalf("accept: %d at %s", s, guest.last)
		}
		if s, _ = guest.do("GET", path, nil); s != 404 {
			t.Fatalf("used link: %d", s)
		}
		guest.login("new.hire@acme.test", "a long enough password")
		if _, body = guest.do("GET", "/", nil); !strings.Contains(body, "<h1>Acme Corp</h1>") {
			t.Fatalf("the new member's dashboard:\n%s", body)
		}
		// An existing account is added at once.
		if _, body = b.do("POST", "/settings/users/invite", url.Values{"email": {existing.Email}, "role": {"readonly"}}); !strings.Contains(body, "is now a member") {
			t.Fatalf("existing account:\n%s", body)
		}
		// Role change, and removal.
		if _, body = b.do("POST", "/settings/users/role", url.Values{"email": {ro.Email}, "role": {"editor"}}); !strings.Contains(body, "ro@acme.test is now editor") {
			t.Fatalf("role change:\n%s", body)
		}
		if _, body = b.do("POST", "/settings/users/remove", url.Values{"email": {existing.Email}}); !strings.Contains(body, "was removed") {
			t.Fatalf("remove:\n%s", body)
		}

		// A manager with members.manage but not everything cannot hand out, or take away, more than it holds.
		if _, err := e.Store.CreateRole(e.Sys, store.Role{Role: auth.Role{Name: "manager", Perms: auth.Of(auth.MembersManage, auth.AssetsView)}}); err != nil {
			t.Fatal(err)
		}
		mgr := e.User("mgr@acme.test", false)
		e.Member(acme.ID, mgr.Email, "manager")
		mb := newBrowser(t, e)
		mb.login(mgr.Email, testutil.Password)
		if s, body = mb.do("POST", "/settings/users/role", url.Values{"email": {ro.Email}, "role": {"owner"}}); s != 400 ||
			!strings.Contains(body, "permissions you do not have") {
			t.Fatalf("escalation: %d\n%s", s, body)
		}
		if s, body = mb.do("POST", "/settings/users/remove", url.Values{"email": {owner.Email}}); s != 400 || !strings.Contains(body, "an owner must") {
			t.Fatalf("removing the owner: %d", s)
		}
		if s, _ = mb.do("POST", "/settings/users/invite", url.Values{"email": {"x@y.test"}, "role": {"admin"}}); s != 400 {
			t.Fatalf("inviting as admin: %d", s)
		}
		// Readonly members cannot see the page.
		rb := newBrowser(t, e)
		rb.login("new.hire@acme.test", "a long enough password")
		if s, _ = rb.do("GET", "/settings/users", nil); s != 403 {
			t.Fatalf("users page for an editor: %d", s)
		}

		// The owner requires two-factor sign-in (a manager may not); members without it are sent to enrol.
		if s, _ = mb.do("POST", "/settings/users/two-factor", url.Values{"require": {"on"}}); s != 403 {
			t.Fatalf("a manager requiring two-factor: %d", s)
		}
		if _, body = b.do("POST", "/settings/users/two-factor", url.Values{"require": {"on"}}); !strings.Contains(body, "must now sign in with a two-factor code") ||
			!strings.Contains(body, `name="require" checked`) {
			t.Fatalf("require two-factor:\n%s", body)
		}
		if _, _ = guest.do("GET", "/assets", nil); guest.last != "/profile/two-factor" {
			t.Fatalf("an unenrolled member landed on %s", guest.last)
		}
		// The owner is held to it as well; the command line turns it off again for the rest of the walk.
		if _, _ = b.do("GET", "/settings/roles", nil); b.last != "/profile/two-factor" {
			t.Fatalf("the unenrolled owner landed on %s", b.last)
		}
		if err := e.Store.SetTwoFactorRequired(e.Sys, acme.ID, false); err != nil {
			t.Fatal(err)
		}

		// Custom roles: superusers create them.
		if _, body = b.do("GET", "/settings/roles", nil); !strings.Contains(body, "manager") || strings.Contains(body, "New custom role") {
			t.Fatalf("roles page for an owner:\n%s", body)
		}
		su := e.User("root@msp.test", true)
		sb := newBrowser(t, e)
		sb.login(su.Email, testutil.Password)
		if s, body = sb.do("POST", "/settings/roles", url.Values{"name": {"auditor"}, "permissions": {"audit.view", "assets.view"}}); s != 200 ||
			!strings.Contains(body, "auditor") {
			t.Fatalf("create role: %d\n%s", s, body)
		}
		if s, body = sb.do("POST", "/settings/roles", url.Values{"name": {"bad"}, "permissions": {"assets.fly"}}); s != 400 || !strings.Contains(body, "assets.fly") {
			t.Fatalf("bad permission: %d", s)
		}

		// The audit log shows who did what, filtered.
		if _, body = b.do("GET", "/audit?action=invitation.accept", nil); !strings.Contains(body, "new.hire@acme.test") || strings.Contains(body, "member.remove") {
			t.Fatalf("audit filter:\n%s", body)
		}
		if _, body = b.do("GET", "/audit?action=member.update", nil); !strings.Contains(body, "role: readonly → editor") {
			t.Fatalf("audit changes:\n%s", body)
		}
	})
}
