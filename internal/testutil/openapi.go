package testutil

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// The API's own OpenAPI document is loaded once per test binary and every JSON response an Env
// receives from /api/ is validated against it, so the document cannot drift from the behaviour.
var (
	specOnce   sync.Once
	specRouter routers.Router
	specErr    error
)

func (e *Env) apiRouter(t testing.TB) routers.Router {
	specOnce.Do(func() {
		res, err := http.Get(e.Server.URL + "/api/v1/schema/")
		if err != nil {
			specErr = err
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		doc, err := openapi3.NewLoader().LoadFromData(b)
		if err != nil {
			specErr = err
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			specErr = err
			return
		}
		// The document's server is relative (/api/v1); the router matches absolute URLs.
		doc.Servers = openapi3.Servers{{URL: "http://localhost/api/v1"}}
		specRouter, specErr = legacy.NewRouter(doc)
	})
	if specErr != nil {
		t.Fatalf("the API's OpenAPI document is invalid: %v", specErr)
	}
	return specRouter
}

// validate checks one response against the document: documented path, method and status, and a
// body that matches the schema exactly.
func (e *Env) validate(t testing.TB, req *http.Request, r *Resp) {
	t.Helper()
	if !strings.HasPrefix(req.URL.Path, "/api") || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") ||
		strings.HasPrefix(req.URL.Path, "/api/docs") {
		return
	}
	// The document describes /api/v1/…/ paths; /api/… and paths without the slash are the same operations.
	path := req.URL.Path
	if !strings.HasPrefix(path, "/api/v1") {
		path = "/api/v1" + strings.TrimPrefix(path, "/api")
	}
	if !strings.HasSuffix(path, "/") {
		path += "/"
	}
	u := *req.URL
	u.Path = path
	u.Host = "localhost"
	vreq := req.Clone(context.Background())
	vreq.URL = &u
	vreq.Host = "localhost"
	route, params, err := e.apiRouter(t).FindRoute(vreq)
	if err != nil {
		if r.Status == http.StatusNotFound || r.Status == http.StatusMethodNotAllowed {
			return // an undocumented path or method answered as it should
		}
		t.Errorf("%s %s: not in the OpenAPI document: %v", req.Method, req.URL.Path, err)
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
			QueryParams: url.Values{}},
		Status:  r.Status,
		Header:  r.Header,
		Body:    io.NopCloser(bytes.NewReader(r.Body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s → %d does not match the OpenAPI document:\n%v\nbody: %.500s", req.Method, req.URL.Path, r.Status, err, r.Body)
	}
}
