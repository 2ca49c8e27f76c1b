package api_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"clientst0r/internal/store"
	"clientst0r/internal/testutil"
)

// Bad input gets a 4xx with a DRF body, never a 500 (Env.Send fails the test on any 5xx).
func TestBadBodies(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		key := e.Key(e.User("root@example.com", true), store.NewKey{})
		org := e.Org("Acme")
		big := `{"name": "` + strings.Repeat("x", 2<<20) + `"}`
		cases := []struct {
			name, method, path, ctype string
			body                      string
			status                    int
			want                      string
		}{
			{"malformed", "POST", "/api/organizations/", "application/json", `{"name":`, 400, `"detail":"JSON parse error - `},
			{"not an object", "POST", "/api/organizations/", "application/json", `["a"]`, 400, `"detail":"JSON parse error - `},
			{"null", "POST", "/api/organizations/", "application/json", `null`, 400, `"detail":"JSON parse error - the body must be a JSON object."`},
			{"empty", "POST", "/api/organizations/", "application/json", ``, 400, `"detail":"JSON parse error - the body is empty."`},
			{"trailing data", "POST", "/api/organizations/", "application/json", `{"name":"a"} {}`, 400, `unexpected data after the object`},
			{"wrong type", "POST", "/api/organizations/", "application/json", `{"name": 5, "is_active": "yes"}`, 400, `{"is_active":["Must be a valid boolean."],"name":["Not a valid string."]}`},
			{"NUL in a string", "POST", "/api/organizations/", "application/json", `{"name": "a\u0000b"}`, 400, `{"name":["Null characters are not allowed."]}`},
			{"null name", "POST", "/api/organizations/", "application/json", `{"name": null}`, 400, `{"name":["This field may not be null."]}`},
			{"unknown field", "POST", "/api/organizations/", "application/json", `{"name": "x", "colour": "red"}`, 400, `{"colour":["Unknown field."]}`},
			{"missing required", "POST", "/api/organizations/", "application/json", `{"slug": "x"}`, 400, `{"name":["This field is required."]}`},
			{"blank required", "POST", "/api/organizations/", "application/json", `{"name": "  "}`, 400, `{"name":["This field may not be blank."]}`},
			{"bad slug", "POST", "/api/organizations/", "application/json", `{"name": "x", "slug": "Not A Slug"}`, 400, `"slug":[`},
			{"2 MiB", "POST", "/api/organizations/", "application/json", big, 413, `{"detail":"Request body is too large (the limit is 1 MiB)."}`},
			{"2 MiB PATCH", "PATCH", fmt.Sprintf("/api/organizations/%d/", org.ID), "application/json", big, 413, `too large`},
			{"text/plain", "POST", "/api/organizations/", "text/plain", `{"name":"x"}`, 415, `{"detail":"Unsupported media type \"text/plain\" in request."}`},
			{"form", "PATCH", fmt.Sprintf("/api/organizations/%d/", org.ID), "application/x-www-form-urlencoded", `name=x`, 415, `Unsupported media type`},
			{"bad content type", "POST", "/api/organizations/", ";;;", `{}`, 415, `Unsupported media type`},
			{"key: wrong types", "POST", "/api/keys/", "application/json", `{"name": "k", "rate_limit": "fast", "organizations": "all", "expires_at": "tomorrow", "can_reveal": 1}`, 400,
				`{"can_reveal":["Must be a valid boolean."],"expires_at":["Datetime has wrong format. Use RFC 3339, e.g. 2025-11-15T14:32:00Z."],"organizations":["Expected a list of integer ids or null."],"rate_limit":["A valid integer is required."]}`},
			{"key: float limit", "POST", "/api/keys/", "application/json", `{"name": "k", "rate_limit": 1.5}`, 400, `{"rate_limit":["A valid integer is required."]}`},
			{"key: huge limit", "POST", "/api/keys/", "application/json", `{"name": "k", "rate_limit": 99999999999999999999}`, 400, `"rate_limit"`},
			{"key: zero limit", "POST", "/api/keys/", "application/json", `{"name": "k", "rate_limit": 0}`, 400, `"rate_limit"`},
			{"key: past expiry", "POST", "/api/keys/", "application/json", `{"name": "k", "expires_at": "2001-01-01T00:00:00Z"}`, 400, `{"expires_at":["The expiry must be in the future."]}`},
			{"key: fixed field", "PATCH", "/api/keys/1/", "application/json", `{"role": "readonly"}`, 400, `"role":["This field cannot be changed`},
			{"role: unknown permission", "POST", "/api/roles/", "application/json", `{"name": "r", "permissions": ["assets.fly"]}`, 400, `{"permissions":["unknown permission \"assets.fly\"."]}`},
			{"role: built-in name", "POST", "/api/roles/", "application/json", `{"name": "owner", "permissions": ["assets.view"]}`, 400, `"name":["\"owner\" is a built-in role."]`},
			{"role: built-in is read-only", "PATCH", "/api/roles/1/", "application/json", `{"description": "x"}`, 400, `{"detail":"Built-in roles cannot be changed."}`},
		}
		for _, c := range cases {
			req, _ := http.NewRequest(c.method, e.Server.URL+c.path, bytes.NewBufferString(c.body))
			req.Header.Set("Content-Type", c.ctype)
			req.Header.Set("Authorization", "Bearer "+key)
			r := e.Send(req)
			if r.Status != c.status || !strings.Contains(string(r.Body), c.want) {
				t.Errorf("%s: %d %s\nwant %d containing %s", c.name, r.Status, r.Body, c.status, c.want)
			}
		}
	})
}

func TestBadQueryParameters(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		key := e.Key(e.User("root@example.com", true), store.NewKey{})
		e.Org("Acme")
		cases := []struct {
			query  string
			status int
			want   string
		}{
			{"page=0", 404, `{"detail":"Invalid page."}`},
			{"page=-1", 404, `{"detail":"Invalid page."}`},
			{"page=abc", 404, `{"detail":"Invalid page."}`},
			{"page=2", 404, `{"detail":"Invalid page."}`},
			{"page=99999999999999999999999", 404, `{"detail":"Invalid page."}`},
			{"page_size=0", 400, `{"page_size":["Ensure this value is greater than or equal to 1."]}`},
			{"page_size=-5", 400, `{"page_size":["Ensure this value is greater than or equal to 1."]}`},
			{"page_size=abc", 400, `{"page_size":["A valid integer is required."]}`},
			{"page_size=1.5", 400, `{"page_size":["A valid integer is required."]}`},
			{"page_size=500", 200, `"count":1`},
			{"page_size=999999999999999999999999", 200, `"count":1`},
			{"ordering=nope", 400, `{"ordering":["Unknown field \"nope\"."]}`},
			{"ordering=name,-x", 400, `{"ordering":["Unknown field \"x\"."]}`},
			{"ordering=,,-name,", 200, `"count":1`},
			{"is_active=maybe", 400, `{"is_active":["Enter true or false."]}`},
			{"created_at__gte=yesterday", 400, `{"created_at__gte":["Enter a valid date/time (RFC 3339)."]}`},
			{"created_at__lte=2026-13-01", 400, `created_at__lte`},
			{"search=a+b+c+d+e+f+g+h+i+j,k", 400, `{"search":["At most 10 search terms are allowed."]}`},
			{"search=" + strings.Repeat("a", 300), 400, `{"search":["Each term must be at most 200 characters."]}`},
			{"search=%27%22%25_%5C", 200, `"count":0`},
			{"search=%00", 400, `{"search":["Null characters are not allowed."]}`},
			{"slug=a%00b", 400, `{"slug":["Null characters are not allowed."]}`},
			{"unknown_param=1", 200, `"count":1`},
		}
		for _, c := range cases {
			r := e.Do("GET", "/api/organizations/?"+c.query, key, nil)
			if r.Status != c.status || !strings.Contains(string(r.Body), c.want) {
				t.Errorf("?%s: %d %s\nwant %d containing %s", c.query, r.Status, r.Body, c.status, c.want)
			}
		}
		for _, path := range []string{"/api/organizations/abc/", "/api/organizations/0/", "/api/organizations/-1/",
			"/api/organizations/99999999999999999999999/", "/api/nothing-here/", "/api/v1/organizations/1/extra/"} {
			if r := e.Do("GET", path, key, nil); r.Status != 404 || string(r.Body) != `{"detail":"Not found."}` {
				t.Errorf("%s: %d %s", path, r.Status, r.Body)
			}
		}
		r := e.Do("DELETE", "/api/organizations/", key, nil)
		if r.Status != 405 || string(r.Body) != `{"detail":"Method \"DELETE\" not allowed."}` || r.Header.Get("Allow") != "GET, HEAD, OPTIONS, POST" {
			t.Errorf("405: %d %s Allow=%q", r.Status, r.Body, r.Header.Get("Allow"))
		}
		if r := e.Do("POST", "/api/audit", key, "{}"); r.Status != 405 || r.Header.Get("Allow") != "GET, HEAD, OPTIONS" {
			t.Errorf("405 without slash: %d Allow=%q", r.Status, r.Header.Get("Allow"))
		}
	})
}

func TestRequestIDs(t *testing.T) {
	e := testutil.NewEnv(t, testutil.Dialects()[0])
	r := e.Do("GET", "/api/", "", nil, "X-Request-ID", "trace-123")
	if r.Header.Get("X-Request-ID") != "trace-123" {
		t.Fatalf("client's id not echoed: %q", r.Header.Get("X-Request-ID"))
	}
	r = e.Do("GET", "/api/", "", nil, "X-Request-ID", "bad id with spaces")
	if id := r.Header.Get("X-Request-ID"); id == "" || strings.Contains(id, " ") {
		t.Fatalf("unsafe id kept: %q", id)
	}
	a, b := e.Do("GET", "/api/", "", nil), e.Do("GET", "/api/", "", nil)
	if a.Header.Get("X-Request-ID") == b.Header.Get("X-Request-ID") {
		t.Fatal("request ids repeat")
	}
}
