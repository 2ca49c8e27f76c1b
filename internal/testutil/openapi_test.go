package testutil

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// recorder captures what validate reports instead of failing the test.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recorder) Helper() {}

// The validator must catch a response that strays from the document, or it proves nothing.
func TestValidatorCatchesDrift(t *testing.T) {
	e := NewEnv(t, Dialects()[0])
	req, _ := http.NewRequest("GET", e.Server.URL+"/api/organizations/1/", nil)
	good := `{"id":1,"url":"http://x/api/organizations/1/","name":"A","slug":"a","description":"","is_active":true,"require_two_factor":false,` +
		`"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}`
	cases := map[string]struct {
		status int
		body   string
		ok     bool
	}{
		"matching":        {200, good, true},
		"extra field":     {200, strings.Replace(good, `"id":1,`, `"id":1,"secret":"x",`, 1), false},
		"missing field":   {200, strings.Replace(good, `"slug":"a",`, ``, 1), false},
		"wrong type":      {200, strings.Replace(good, `"is_active":true`, `"is_active":"yes"`, 1), false},
		"undocumented":    {418, `{"detail":"teapot"}`, false},
		"documented 404":  {404, `{"detail":"Not found."}`, true},
		"malformed error": {404, `{"error":"nope"}`, false},
	}
	for name, c := range cases {
		rec := &recorder{TB: t}
		h := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
		e.validate(rec, req, &Resp{Status: c.status, Header: h, Body: []byte(c.body)})
		if (len(rec.errs) == 0) != c.ok {
			t.Errorf("%s: ok=%v, reported %v", name, c.ok, rec.errs)
		}
	}
}
