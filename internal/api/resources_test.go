package api_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"clientst0r/internal/auth"
	"clientst0r/internal/store"
	"clientst0r/internal/testutil"
)

func TestOrganizationsCRUD(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		su := e.Key(e.User("root@example.com", true), store.NewKey{})

		r := e.Do("POST", "/api/organizations/", su, map[string]any{"name": "Acme Corp", "description": "Anvils", "id": 999, "created_at": "x"})
		if r.Status != 201 {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		o := r.Map()
		id := int64(o["id"].(float64))
		if id == 999 || o["slug"] != "acme-corp" || o["is_active"] != true || o["description"] != "Anvils" {
			t.Fatalf("created %v (read-only fields must be ignored, slug derived)", o)
		}
		if loc := r.Header.Get("Location"); loc != fmt.Sprintf("%s/api/organizations/%d/", e.Server.URL, id) || o["url"] != loc {
			t.Fatalf("Location %q url %v", loc, o["url"])
		}
		if r := e.Do("POST", "/api/organizations/", su, map[string]any{"name": "ACME CORP"}); r.Status != 400 || !strings.Contains(string(r.Body), `"name":["organization with this name already exists."]`) {
			t.Fatalf("duplicate name (case-insensitive): %d %s", r.Status, r.Body)
		}
		if r := e.Do("POST", "/api/organizations/", su, map[string]any{"name": "Other", "slug": "acme-corp"}); r.Status != 400 || !strings.Contains(string(r.Body), `"slug":["organization with this slug already exists."]`) {
			t.Fatalf("duplicate slug: %d %s", r.Status, r.Body)
		}

		path := fmt.Sprintf("/api/v1/organizations/%d/", id)
		// PATCH changes only what is sent.
		r = e.Do("PATCH", path, su, map[string]any{"is_active": false})
		if m := r.Map(); r.Status != 200 || m["is_active"] != false || m["description"] != "Anvils" || m["name"] != "Acme Corp" {
			t.Fatalf("patch: %d %s", r.Status, r.Body)
		}
		// PUT replaces: fields left out return to their defaults; required ones must be present.
		if r := e.Do("PUT", path, su, map[string]any{"description": "x"}); r.Status != 400 || string(r.Body) != `{"name":["This field is required."]}` {
			t.Fatalf("put without name: %d %s", r.Status, r.Body)
		}
		r = e.Do("PUT", path, su, map[string]any{"name": "Acme Industries"})
		if m := r.Map(); r.Status != 200 || m["description"] != "" || m["is_active"] != true || m["slug"] != "acme-industries" {
			t.Fatalf("put: %d %s", r.Status, r.Body)
		}
		// The same path without the trailing slash, on both prefixes.
		if r := e.Do("GET", strings.TrimSuffix(path, "/"), su, nil); r.Status != 200 || r.Map()["name"] != "Acme Industries" {
			t.Fatalf("no trailing slash: %d", r.Status)
		}
		if r := e.Do("GET", fmt.Sprintf("/api/organizations/%d", id), su, nil); r.Status != 200 {
			t.Fatalf("/api/ without slash: %d", r.Status)
		}
		if r := e.Do("DELETE", path, su, nil); r.Status != 204 || len(r.Body) != 0 {
			t.Fatalf("delete: %d %s", r.Status, r.Body)
		}
		if r := e.Do("GET", path, su, nil); r.Status != 404 {
			t.Fatalf("deleted organization: %d", r.Status)
		}
		// Every change is in the audit log with what changed.
		r = e.Do("GET", fmt.Sprintf("/api/audit/?object_type=organization&object_id=%d&ordering=id", id), su, nil)
		var actions []string
		for _, row := range r.Map()["results"].([]any) {
			m := row.(map[string]any)
			actions = append(actions, m["action"].(string))
			if m["action"] == "update" && m["changes"].(map[string]any)["is_active"] == nil && m["changes"].(map[string]any)["name"] == nil {
				t.Errorf("update row without the changed field: %v", m)
			}
		}
		if !slices.Equal(actions, []string{"create", "update", "update", "delete"}) {
			t.Fatalf("audit actions %v", actions)
		}
	})
}

func TestListConventions(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		su := e.Key(e.User("root@example.com", true), store.NewKey{})
		for _, n := range []string{"alpha north", "alpha south", "beta north", "gamma", "delta", "epsilon"} {
			e.Org(n)
			e.Clock.Advance(time.Second)
		}
		names := func(r *testutil.Resp) []string {
			var out []string
			for _, o := range r.Map()["results"].([]any) {
				out = append(out, o.(map[string]any)["name"].(string))
			}
			return out
		}
		r := e.Do("GET", "/api/organizations/?page_size=2&ordering=-name&search=a", su, nil)
		m := r.Map()
		if m["count"].(float64) != 5 || !slices.Equal(names(r), []string{"gamma", "delta"}) || m["previous"] != nil {
			t.Fatalf("page 1: %s", r.Body)
		}
		next := m["next"].(string)
		if !strings.HasPrefix(next, e.Server.URL+"/api/organizations/?") || !strings.Contains(next, "page=2") ||
			!strings.Contains(next, "ordering=-name") || !strings.Contains(next, "search=a") || !strings.Contains(next, "page_size=2") {
			t.Fatalf("next %q must keep every other parameter", next)
		}
		r = e.Do("GET", strings.TrimPrefix(next, e.Server.URL), su, nil)
		if !slices.Equal(names(r), []string{"beta north", "alpha south"}) || r.Map()["previous"] == nil || strings.Contains(r.Map()["previous"].(string), "page=") {
			t.Fatalf("page 2: %s", r.Body)
		}
		// Several terms: each must occur somewhere (case-insensitive, substring, commas too).
		if got := names(e.Do("GET", "/api/organizations/?search=ALPHA,nor&ordering=name", su, nil)); !slices.Equal(got, []string{"alpha north"}) {
			t.Fatalf("two terms: %v", got)
		}
		if got := names(e.Do("GET", "/api/organizations/?search=th+al&ordering=name", su, nil)); !slices.Equal(got, []string{"alpha north", "alpha south"}) {
			t.Fatalf("short terms: %v", got)
		}
		if got := names(e.Do("GET", "/api/organizations/?search=lph+sou", su, nil)); !slices.Equal(got, []string{"alpha south"}) {
			t.Fatalf("substring: %v", got)
		}
		// Filters and date ranges.
		r = e.Do("GET", "/api/organizations/?slug=gamma", su, nil)
		if got := names(r); !slices.Equal(got, []string{"gamma"}) {
			t.Fatalf("filter: %v", got)
		}
		created := r.Map()["results"].([]any)[0].(map[string]any)["created_at"].(string)
		if got := names(e.Do("GET", "/api/organizations/?ordering=created_at&created_at__gte="+created, su, nil)); !slices.Equal(got, []string{"gamma", "delta", "epsilon"}) {
			t.Fatalf("created_at__gte: %v", got)
		}
		if got := names(e.Do("GET", "/api/organizations/?ordering=-created_at&created_at__lte="+created, su, nil)); !slices.Equal(got, []string{"gamma", "beta north", "alpha south", "alpha north"}) {
			t.Fatalf("created_at__lte: %v", got)
		}
		// Ties are broken by id, so pages are stable.
		var seen []string
		for p := 1; p <= 6; p++ {
			r := e.Do("GET", fmt.Sprintf("/api/organizations/?ordering=is_active&page_size=1&page=%d", p), su, nil)
			seen = append(seen, names(r)...)
		}
		if !slices.Equal(seen, []string{"alpha north", "alpha south", "beta north", "gamma", "delta", "epsilon"}) {
			t.Fatalf("tie-break by id: %v", seen)
		}
		// page_size clamps at 200, and the envelope is complete even when empty.
		if r := e.Do("GET", "/api/organizations/?search=zzz", su, nil); string(r.Body) != `{"count":0,"next":null,"previous":null,"results":[]}` {
			t.Fatalf("empty page: %s", r.Body)
		}
	})
}

func TestKeysAPI(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		a := e.Org("Acme")
		u := e.User("tech@example.com", false)
		e.Member(a.ID, u.Email, "admin")
		key := e.Key(u, store.NewKey{Name: "bootstrap", CanReveal: true})
		other := e.Key(e.User("other@example.com", false), store.NewKey{})

		r := e.Do("POST", "/api/keys/", key, map[string]any{"name": "backup script", "organizations": []int64{a.ID},
			"role": "readonly", "can_reveal": true, "rate_limit": 120, "expires_at": "2027-01-01T00:00:00Z"})
		if r.Status != 201 || r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		m := r.Map()
		plaintext := m["key"].(string)
		if !strings.HasPrefix(plaintext, "itdocs_live_") || !strings.HasPrefix(plaintext, m["prefix"].(string)) ||
			m["role"] != "readonly" || m["can_reveal"] != true || m["rate_limit"].(float64) != 120 || m["expires_at"] != "2027-01-01T00:00:00Z" {
			t.Fatalf("created %v", m)
		}
		id := int64(m["id"].(float64))
		// The plaintext is shown once: never in the list or detail, and never stored.
		for _, path := range []string{"/api/keys/", fmt.Sprintf("/api/keys/%d/", id)} {
			if r := e.Do("GET", path, key, nil); strings.Contains(string(r.Body), plaintext) || strings.Contains(string(r.Body), `"key"`) {
				t.Fatalf("%s shows the key: %s", path, r.Body)
			}
		}
		var stored int
		e.DB.R.QueryRow(`SELECT count(*) FROM api_keys WHERE digest = $1 OR prefix = $1`, plaintext).Scan(&stored)
		if stored != 0 {
			t.Fatal("plaintext stored")
		}
		// Only one's own keys are visible.
		if r := e.Do("GET", fmt.Sprintf("/api/keys/%d/", id), other, nil); r.Status != 404 {
			t.Fatalf("another user's key: %d", r.Status)
		}
		if r := e.Do("GET", "/api/keys/", other, nil); r.Map()["count"].(float64) != 1 {
			t.Fatalf("another user's list: %s", r.Body)
		}
		// Name and rate limit can change; the change is audited.
		r = e.Do("PATCH", fmt.Sprintf("/api/keys/%d/", id), key, map[string]any{"name": "backup", "rate_limit": 30})
		if r.Status != 200 || r.Map()["name"] != "backup" || r.Map()["rate_limit"].(float64) != 30 {
			t.Fatalf("patch: %d %s", r.Status, r.Body)
		}
		if r := e.Do("GET", "/api/organizations/", plaintext, nil); r.Header.Get("RateLimit-Limit") != "30" {
			t.Fatalf("new rate limit not applied on the next request: %q", r.Header.Get("RateLimit-Limit"))
		}
		// last_used_* is written at most once a minute.
		k, _ := e.Store.GetAPIKey(authAs(t, e, plaintext), id)
		if k.LastUsedAt == nil || k.LastUsedIP != "127.0.0.1" {
			t.Fatalf("last use not recorded: %+v", k)
		}
		first := *k.LastUsedAt
		e.Clock.Advance(30 * time.Second)
		e.Do("GET", "/api/organizations/", plaintext, nil)
		k, _ = e.Store.GetAPIKey(authAs(t, e, plaintext), id)
		if !k.LastUsedAt.Equal(first) {
			t.Fatalf("last_used_at rewritten within the minute: %v then %v", first, k.LastUsedAt)
		}
		e.Clock.Advance(31 * time.Second)
		e.Do("GET", "/api/organizations/", plaintext, nil)
		k, _ = e.Store.GetAPIKey(authAs(t, e, plaintext), id)
		if !k.LastUsedAt.After(first) {
			t.Fatalf("last_used_at not updated after a minute")
		}
		// Revocation via the API; the audit log records creation and revocation.
		if r := e.Do("DELETE", fmt.Sprintf("/api/keys/%d/", id), key, nil); r.Status != 204 {
			t.Fatalf("revoke: %d", r.Status)
		}
		if r := e.Do("GET", fmt.Sprintf("/api/keys/%d/", id), key, nil); r.Status != 404 {
			t.Fatalf("revoked key detail: %d", r.Status)
		}
		var n int
		e.DB.R.QueryRow(`SELECT count(*) FROM audit_log WHERE object_type = 'apikey' AND object_id = $1 AND action IN ('apikey.create', 'apikey.revoke')`, id).Scan(&n)
		if n != 2 {
			t.Fatalf("audit rows for key: %d", n)
		}
	})
}

// authAs returns a context acting as the key's caller.
func authAs(t *testing.T, e *testutil.Env, key string) context.Context {
	t.Helper()
	c, err := e.Store.CallerForKey(e.Sys, key)
	if err != nil {
		t.Fatal(err)
	}
	return auth.WithCaller(context.Background(), c)
}

func TestRolesAPI(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		a := e.Org("Acme")
		su := e.Key(e.User("root@example.com", true), store.NewKey{})
		r := e.Do("GET", "/api/roles/", su, nil)
		if r.Map()["count"].(float64) != 4 {
			t.Fatalf("built-in roles: %s", r.Body)
		}
		first := r.Map()["results"].([]any)[0].(map[string]any)
		if first["name"] != "owner" || first["builtin"] != true || len(first["permissions"].([]any)) != 27 {
			t.Fatalf("owner role: %v", first)
		}
		r = e.Do("POST", "/api/roles/", su, map[string]any{"name": "auditor", "permissions": []string{"audit.view", "assets.view"}})
		if r.Status != 201 {
			t.Fatalf("create role: %d %s", r.Status, r.Body)
		}
		roleID := int64(r.Map()["id"].(float64))
		// The custom role is assignable and grants exactly its permissions.
		u := e.User("aud@example.com", false)
		e.Member(a.ID, u.Email, "auditor")
		key := e.Key(u, store.NewKey{})
		if r := e.Do("GET", fmt.Sprintf("/api/audit/?organization=%d", a.ID), key, nil); r.Status != 200 {
			t.Fatalf("auditor reads audit: %d", r.Status)
		}
		// Changing the role applies on the next request.
		if r := e.Do("PATCH", fmt.Sprintf("/api/roles/%d/", roleID), su, map[string]any{"permissions": []string{"assets.view"}}); r.Status != 200 {
			t.Fatalf("patch role: %d %s", r.Status, r.Body)
		}
		if r := e.Do("GET", fmt.Sprintf("/api/audit/?organization=%d", a.ID), key, nil); r.Status != 403 {
			t.Fatalf("after losing audit.view: %d", r.Status)
		}
		// A role in use cannot be deleted.
		if r := e.Do("DELETE", fmt.Sprintf("/api/roles/%d/", roleID), su, nil); r.Status != 409 {
			t.Fatalf("delete role in use: %d %s", r.Status, r.Body)
		}
		if err := e.Store.RemoveMember(e.Sys, a.ID, u.Email); err != nil {
			t.Fatal(err)
		}
		if r := e.Do("DELETE", fmt.Sprintf("/api/roles/%d/", roleID), su, nil); r.Status != 204 {
			t.Fatalf("delete role: %d %s", r.Status, r.Body)
		}
		if r := e.Do("DELETE", "/api/roles/1/", su, nil); r.Status != 400 {
			t.Fatalf("delete built-in: %d", r.Status)
		}
		if r := e.Do("GET", "/api/roles/", key, nil); r.Status != 403 {
			t.Fatalf("roles for a non-superuser: %d", r.Status)
		}
	})
}

func TestIdempotencyKey(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		su := e.Key(e.User("root@example.com", true), store.NewKey{})
		body := map[string]any{"name": "Once Only"}
		first := e.Do("POST", "/api/organizations/", su, body, "Idempotency-Key", "abc-1")
		again := e.Do("POST", "/api/organizations/", su, body, "Idempotency-Key", "abc-1")
		if first.Status != 201 || again.Status != 201 || string(first.Body) != string(again.Body) ||
			again.Header.Get("Location") != first.Header.Get("Location") || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay: %d %s / %d %s", first.Status, first.Body, again.Status, again.Body)
		}
		if r := e.Do("GET", "/api/organizations/?search=once", su, nil); r.Map()["count"].(float64) != 1 {
			t.Fatalf("created twice: %s", r.Body)
		}
		if r := e.Do("POST", "/api/organizations/", su, map[string]any{"name": "Different"}, "Idempotency-Key", "abc-1"); r.Status != 400 {
			t.Fatalf("same key, different body: %d %s", r.Status, r.Body)
		}
		// Another client's identical key is its own.
		other := e.Key(e.User("root2@example.com", true), store.NewKey{})
		if r := e.Do("POST", "/api/organizations/", other, map[string]any{"name": "Twice"}, "Idempotency-Key", "abc-1"); r.Status != 201 {
			t.Fatalf("other client: %d %s", r.Status, r.Body)
		}
		// After 24 hours the key is forgotten.
		e.Clock.Advance(25 * time.Hour)
		if r := e.Do("POST", "/api/organizations/", su, body, "Idempotency-Key", "abc-1"); r.Status != 400 || !strings.Contains(string(r.Body), "already exists") {
			t.Fatalf("after 24 h the request runs again: %d %s", r.Status, r.Body)
		}
		// Concurrent duplicates create one object.
		var wg sync.WaitGroup
		statuses := make([]int, 8)
		for i := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest("POST", e.Server.URL+"/api/organizations/", strings.NewReader(`{"name": "Racer"}`))
				req.Header.Set("Authorization", "Bearer "+su)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Idempotency-Key", "race")
				statuses[i] = e.Send(req).Status
			}()
		}
		wg.Wait()
		for _, s := range statuses {
			if s != 201 && s != 409 {
				t.Fatalf("concurrent statuses %v", statuses)
			}
		}
		if r := e.Do("GET", "/api/organizations/?search=racer", su, nil); r.Map()["count"].(float64) != 1 {
			t.Fatalf("concurrent duplicates created %s", r.Body)
		}
	})
}
