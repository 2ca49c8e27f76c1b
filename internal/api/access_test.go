package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"clientst0r/internal/auth"
	"clientst0r/internal/store"
	"clientst0r/internal/testutil"
)

// orgIDs lists the ids in a list response.
func orgIDs(t *testing.T, r *testutil.Resp) []int64 {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("list: %d %s", r.Status, r.Body)
	}
	var out []int64
	for _, o := range r.Map()["results"].([]any) {
		out = append(out, int64(o.(map[string]any)["id"].(float64)))
	}
	slices.Sort(out)
	return out
}

func TestUnauthenticatedAnswers(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		u := e.User("a@example.com", false)
		revoked := e.Key(u, store.NewKey{})
		id := mustKeyID(t, e, revoked)
		e.Do("DELETE", fmt.Sprintf("/api/keys/%d/", id), revoked, nil)
		notProvided := `{"detail":"Authentication credentials were not provided."}`
		invalid := `{"detail":"Invalid API key."}`
		cases := []struct {
			name, path, auth, want string
		}{
			{"no header", "/api/organizations/", "", notProvided},
			{"no header v1", "/api/v1/organizations/", "", notProvided},
			{"no header root", "/api/", "", notProvided},
			{"other scheme", "/api/organizations/", "Token abc", notProvided},
			{"garbage", "/api/organizations/", "Bearer nonsense", invalid},
			{"empty bearer", "/api/keys/", "Bearer ", invalid},
			{"well formed, unknown", "/api/organizations/", "Bearer itdocs_live_" + strings.Repeat("A", 43), invalid},
			{"revoked", "/api/organizations/", "Bearer " + revoked, invalid},
		}
		for _, c := range cases {
			req, _ := http.NewRequest("GET", e.Server.URL+c.path, nil)
			if c.auth != "" {
				req.Header.Set("Authorization", c.auth)
			}
			r := e.Send(req)
			if r.Status != 401 || string(r.Body) != c.want || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s: %d %s WWW-Authenticate=%q", c.name, r.Status, r.Body, r.Header.Get("WWW-Authenticate"))
			}
			if r.Header.Get("X-Request-ID") == "" {
				t.Errorf("%s: no X-Request-ID", c.name)
			}
		}
	})
}

func mustKeyID(t *testing.T, e *testutil.Env, key string) int64 {
	t.Helper()
	r := e.Do("GET", "/api/keys/", key, nil)
	res := r.Map()["results"].([]any)
	for _, k := range res {
		m := k.(map[string]any)
		if strings.HasPrefix(key, m["prefix"].(string)) {
			return int64(m["id"].(float64))
		}
	}
	t.Fatalf("key not listed: %s", r.Body)
	return 0
}

func TestBadKeysThrottledPerAddress(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		bad := "itdocs_live_" + strings.Repeat("B", 43)
		for i := range 20 {
			if r := e.Do("GET", "/api/organizations/", bad, nil); r.Status != 401 {
				t.Fatalf("bad key %d: %d", i+1, r.Status)
			}
		}
		r := e.Do("GET", "/api/organizations/", bad, nil)
		if r.Status != 429 || r.Header.Get("Retry-After") == "" || !strings.Contains(string(r.Body), "Request was throttled. Expected available in") {
			t.Fatalf("21st bad key: %d %s Retry-After=%q", r.Status, r.Body, r.Header.Get("Retry-After"))
		}
		e.Clock.Advance(61 * time.Second)
		if r := e.Do("GET", "/api/organizations/", bad, nil); r.Status != 401 {
			t.Fatalf("after the window: %d", r.Status)
		}
	})
}

func TestKeyReachesOnlyItsUsersCurrentOrganizations(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		a, b, c := e.Org("Acme"), e.Org("Bravo"), e.Org("Charlie")
		u := e.User("tech@example.com", false)
		e.Member(a.ID, u.Email, "owner")
		e.Member(b.ID, u.Email, "readonly")
		all := e.Key(u, store.NewKey{})
		narrow := e.Key(u, store.NewKey{Orgs: []int64{b.ID}})

		if got := orgIDs(t, e.Do("GET", "/api/organizations/", all, nil)); !slices.Equal(got, []int64{a.ID, b.ID}) {
			t.Fatalf("all-organizations key sees %v", got)
		}
		if got := orgIDs(t, e.Do("GET", "/api/v1/organizations/", narrow, nil)); !slices.Equal(got, []int64{b.ID}) {
			t.Fatalf("narrowed key sees %v", got)
		}
		for _, path := range []string{fmt.Sprintf("/api/organizations/%d/", c.ID), fmt.Sprintf("/api/organizations/%d", c.ID)} {
			if r := e.Do("GET", path, all, nil); r.Status != 404 || string(r.Body) != `{"detail":"Not found."}` {
				t.Fatalf("another organization: %d %s", r.Status, r.Body)
			}
		}
		if r := e.Do("GET", fmt.Sprintf("/api/organizations/%d/", a.ID), narrow, nil); r.Status != 404 {
			t.Fatalf("narrowed key reads an organization outside its list: %d", r.Status)
		}

		// Membership removal takes effect on the next request, for both keys.
		if err := e.Store.RemoveMember(e.Sys, b.ID, u.Email); err != nil {
			t.Fatal(err)
		}
		if got := orgIDs(t, e.Do("GET", "/api/organizations/", all, nil)); !slices.Equal(got, []int64{a.ID}) {
			t.Fatalf("after removal the key sees %v", got)
		}
		if got := orgIDs(t, e.Do("GET", "/api/organizations/", narrow, nil)); len(got) != 0 {
			t.Fatalf("after removal the narrowed key sees %v", got)
		}
		if r := e.Do("GET", fmt.Sprintf("/api/organizations/%d/", b.ID), narrow, nil); r.Status != 404 {
			t.Fatalf("after removal: %d", r.Status)
		}
		// A new membership shows up at once for an all-organizations key, never for a narrowed one.
		e.Member(c.ID, u.Email, "editor")
		if got := orgIDs(t, e.Do("GET", "/api/organizations/", all, nil)); !slices.Equal(got, []int64{a.ID, c.ID}) {
			t.Fatalf("after a new membership the key sees %v", got)
		}
		if got := orgIDs(t, e.Do("GET", "/api/organizations/", narrow, nil)); len(got) != 0 {
			t.Fatalf("narrowed key must not grow: %v", got)
		}
	})
}

func TestKeyNeverExceedsItsUsersAccess(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		a, b := e.Org("Acme"), e.Org("Bravo")
		u := e.User("ro@example.com", false)
		e.Member(a.ID, u.Email, "readonly")
		e.Member(b.ID, u.Email, "admin")
		session := e.Key(u, store.NewKey{})

		// Asked through the API, a key above the user's access is refused with a reason per field.
		cases := []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"name": "x", "role": "owner", "organizations": []int64{a.ID}}, "role"},
			{map[string]any{"name": "x", "can_reveal": true, "organizations": []int64{a.ID}}, "can_reveal"},
			{map[string]any{"name": "x", "organizations": []int64{a.ID, 999999}}, "organizations"},
			{map[string]any{"name": "x", "role": "no-such-role"}, "role"},
		}
		for _, c := range cases {
			r := e.Do("POST", "/api/keys/", session, c.body)
			if r.Status != 400 || r.Map()[c.field] == nil {
				t.Errorf("%v: %d %s", c.body, r.Status, r.Body)
			}
		}
		// Within the user's access it is allowed, and the key's power is the intersection.
		r := e.Do("POST", "/api/keys/", session, map[string]any{"name": "capped", "role": "editor"})
		if r.Status != 201 {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		capped := r.Map()["key"].(string)
		// admin in Bravo grants audit.view; the editor cap withholds it; readonly in Acme never had it.
		if r := e.Do("GET", fmt.Sprintf("/api/audit/?organization=%d", b.ID), session, nil); r.Status != 200 {
			t.Fatalf("uncapped key reads Bravo's audit log: %d %s", r.Status, r.Body)
		}
		for _, org := range []int64{a.ID, b.ID} {
			if r := e.Do("GET", fmt.Sprintf("/api/audit/?organization=%d", org), capped, nil); r.Status != 403 {
				t.Fatalf("capped key reads audit of %d: %d %s", org, r.Status, r.Body)
			}
		}
		c, err := e.Store.CallerForKey(e.Sys, capped)
		if err != nil {
			t.Fatal(err)
		}
		ro, _ := e.Store.RoleByName(e.Sys, "readonly")
		ed, _ := e.Store.RoleByName(e.Sys, "editor")
		if c.PermsIn(a.ID) != ro.Perms || c.PermsIn(b.ID) != ed.Perms&^auth.Of(auth.VaultReveal) {
			t.Fatalf("effective permissions: Acme %v, Bravo %v", c.PermsIn(a.ID).Names(), c.PermsIn(b.ID).Names())
		}
		// A key cannot mint a key that escapes its own restrictions.
		r = e.Do("POST", "/api/keys/", capped, map[string]any{"name": "escape"})
		if r.Status != 201 || r.Map()["role"] != "editor" {
			t.Fatalf("key created by a capped key must inherit the cap: %d %s", r.Status, r.Body)
		}
		if r := e.Do("POST", "/api/keys/", capped, map[string]any{"name": "escape", "role": "admin"}); r.Status != 400 {
			t.Fatalf("capped key minted an admin key: %d %s", r.Status, r.Body)
		}
	})
}

func TestAccessChangesTakeEffectOnTheNextRequest(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		a := e.Org("Acme")
		u := e.User("leaver@example.com", false)
		e.Member(a.ID, u.Email, "editor")
		revokeMe := e.Key(u, store.NewKey{})
		expiring := e.Key(u, store.NewKey{ExpiresAt: ptr(e.Clock.Now().Add(time.Hour))})
		deactivated := e.Key(u, store.NewKey{})

		for _, k := range []string{revokeMe, expiring, deactivated} {
			if r := e.Do("GET", "/api/organizations/", k, nil); r.Status != 200 {
				t.Fatalf("fresh key: %d", r.Status)
			}
		}
		id := mustKeyID(t, e, revokeMe)
		if r := e.Do("DELETE", fmt.Sprintf("/api/keys/%d/", id), revokeMe, nil); r.Status != 204 {
			t.Fatalf("revoke: %d %s", r.Status, r.Body)
		}
		if r := e.Do("GET", "/api/organizations/", revokeMe, nil); r.Status != 401 {
			t.Fatalf("revoked key still works: %d", r.Status)
		}
		e.Clock.Advance(59 * time.Minute)
		if r := e.Do("GET", "/api/organizations/", expiring, nil); r.Status != 200 {
			t.Fatalf("key before expiry: %d", r.Status)
		}
		e.Clock.Advance(time.Minute)
		if r := e.Do("GET", "/api/organizations/", expiring, nil); r.Status != 401 || string(r.Body) != `{"detail":"Invalid API key."}` {
			t.Fatalf("expired key: %d %s", r.Status, r.Body)
		}
		if r := e.Do("GET", "/api/organizations/", deactivated, nil); r.Status != 200 {
			t.Fatalf("before deactivation: %d", r.Status)
		}
		if err := e.Store.DeactivateUser(e.Sys, u.Email); err != nil {
			t.Fatal(err)
		}
		if r := e.Do("GET", "/api/organizations/", deactivated, nil); r.Status != 401 {
			t.Fatalf("deactivated user's key: %d", r.Status)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// writes lists every write endpoint with a body that would be valid for a caller allowed to make it.
func writes(org, role int64) []struct {
	method, path string
	body         any
} {
	return []struct {
		method, path string
		body         any
	}{
		{"POST", "/api/organizations/", map[string]any{"name": "New Org"}},
		{"PUT", fmt.Sprintf("/api/organizations/%d/", org), map[string]any{"name": "Renamed"}},
		{"PATCH", fmt.Sprintf("/api/v1/organizations/%d/", org), map[string]any{"description": "x"}},
		{"DELETE", fmt.Sprintf("/api/organizations/%d/", org), nil},
		{"POST", "/api/roles/", map[string]any{"name": "auditor", "permissions": []string{"audit.view"}}},
		{"PUT", fmt.Sprintf("/api/roles/%d/", role), map[string]any{"name": "auditor2", "permissions": []string{"audit.view"}}},
		{"PATCH", fmt.Sprintf("/api/roles/%d/", role), map[string]any{"description": "x"}},
		{"DELETE", fmt.Sprintf("/api/roles/%d/", role), nil},
	}
}

func TestReadonlyCallersGet403OnEveryWrite(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		a := e.Org("Acme")
		role, err := e.Store.CreateRole(e.Sys, store.Role{Role: roleWith("custom", "assets.view")})
		if err != nil {
			t.Fatal(err)
		}
		ro := e.User("ro@example.com", false)
		e.Member(a.ID, ro.Email, "readonly")
		owner := e.User("owner@example.com", false)
		e.Member(a.ID, owner.Email, "owner")
		su := e.User("root@example.com", true)
		callers := map[string]string{
			"readonly member":         e.Key(ro, store.NewKey{}),
			"owner (not a superuser)": e.Key(owner, store.NewKey{}),
			"superuser, readonly cap": e.Key(su, store.NewKey{Role: "readonly"}),
			"superuser, narrowed":     e.Key(su, store.NewKey{Orgs: []int64{a.ID}}),
		}
		for who, key := range callers {
			for _, w := range writes(a.ID, role.ID) {
				r := e.Do(w.method, w.path, key, w.body)
				if r.Status != 403 || string(r.Body) != `{"detail":"You do not have permission to perform this action."}` {
					t.Errorf("%s: %s %s: %d %s", who, w.method, w.path, r.Status, r.Body)
				}
			}
		}
		// The same writes succeed for a full superuser key, so the 403s above are about permission.
		full := e.Key(su, store.NewKey{})
		for _, w := range writes(a.ID, role.ID) {
			if r := e.Do(w.method, w.path, full, w.body); r.Status >= 300 {
				t.Errorf("superuser: %s %s: %d %s", w.method, w.path, r.Status, r.Body)
			}
		}
	})
}

func TestAnotherOrganizationsRecordIs404(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		a, other := e.Org("Acme"), e.Org("Other")
		u := e.User("owner@example.com", false)
		e.Member(a.ID, u.Email, "owner")
		su := e.User("root@example.com", true)
		for who, key := range map[string]string{"member": e.Key(u, store.NewKey{}), "narrowed superuser": e.Key(su, store.NewKey{Orgs: []int64{a.ID}})} {
			for _, w := range []struct {
				method string
				body   any
			}{{"GET", nil}, {"PUT", map[string]any{"name": "x"}}, {"PATCH", map[string]any{"name": "x"}}, {"DELETE", nil}} {
				for _, id := range []int64{other.ID, 987654} {
					r := e.Do(w.method, fmt.Sprintf("/api/organizations/%d/", id), key, w.body)
					if r.Status != 404 || string(r.Body) != `{"detail":"Not found."}` {
						t.Errorf("%s %s organization %d: %d %s", who, w.method, id, r.Status, r.Body)
					}
				}
			}
			if r := e.Do("GET", "/api/audit/?organization="+url.QueryEscape(other.Slug), key, nil); r.Status != 403 {
				t.Errorf("%s: ?organization= of another organization: %d", who, r.Status)
			}
		}
	})
}

func TestRateLimitPerKey(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		u := e.User("script@example.com", false)
		limited := e.Key(u, store.NewKey{RateLimit: 60})
		other := e.Key(u, store.NewKey{RateLimit: 60})
		for i := 1; i <= 60; i++ {
			r := e.Do("GET", "/api/organizations/", limited, nil)
			if r.Status != 200 || r.Header.Get("RateLimit-Limit") != "60" || r.Header.Get("RateLimit-Remaining") != strconv.Itoa(60-i) ||
				r.Header.Get("RateLimit-Reset") == "" {
				t.Fatalf("request %d: %d limit=%q remaining=%q", i, r.Status, r.Header.Get("RateLimit-Limit"), r.Header.Get("RateLimit-Remaining"))
			}
			e.Clock.Advance(500 * time.Millisecond)
		}
		r := e.Do("GET", "/api/organizations/", limited, nil)
		want := `{"detail":"Request was throttled. Expected available in 30 seconds."}`
		if r.Status != 429 || r.Header.Get("Retry-After") != "30" || string(r.Body) != want || r.Header.Get("RateLimit-Remaining") != "0" {
			t.Fatalf("61st request: %d Retry-After=%q %s", r.Status, r.Header.Get("Retry-After"), r.Body)
		}
		if r := e.Do("GET", "/api/organizations/", other, nil); r.Status != 200 || r.Header.Get("RateLimit-Remaining") != "59" {
			t.Fatalf("another key is affected: %d remaining=%q", r.Status, r.Header.Get("RateLimit-Remaining"))
		}
		e.Clock.Advance(30 * time.Second)
		if r := e.Do("GET", "/api/organizations/", limited, nil); r.Status != 200 {
			t.Fatalf("after Retry-After: %d", r.Status)
		}
	})
}

func roleWith(name string, perms ...string) auth.Role {
	p, err := auth.ParsePerms(perms)
	if err != nil {
		panic(err)
	}
	return auth.Role{Name: name, Perms: p}
}
