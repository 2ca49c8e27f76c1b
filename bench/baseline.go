package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
)

// The baseline: the same response bytes served from memory by a bare net/http handler, under the
// same load from the same process. It measures what this machine, Go's HTTP stack and the load
// generator can do at all, so the real figures can be read as a fraction of it.

// Captured is one real response, replayed by the baseline.
type Captured struct {
	Route       string // what the baseline matches requests against (see route)
	Status      int
	ContentType string
	Body        []byte
}

// Capture sends one request per endpoint to the real server and keeps the answers, keyed by
// endpoint name. An endpoint that does not answer its expected status is an error: the run would
// measure failures.
func Capture(ctx context.Context, t Target, eps []Endpoint) (map[string]Captured, error) {
	out := make(map[string]Captured, len(eps))
	rng := rand.New(rand.NewPCG(1, 2))
	key := ""
	if len(t.Keys) > 0 {
		key = t.Keys[0]
	}
	for _, e := range eps {
		path := e.Path(rng)
		fixed := e
		fixed.Path = func(*rand.Rand) string { return path }
		status, ct, body, err := send(ctx, t, fixed, key, rng, true)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name, err)
		}
		if status != e.Want {
			return nil, fmt.Errorf("%s: %s %s answered %d, want %d: %.300s", e.Name, e.Method, path, status, e.Want, body)
		}
		req, err := http.NewRequest(e.Method, "http://localhost"+path, nil)
		if err != nil {
			return nil, err
		}
		out[e.Name] = Captured{Route: route(req), Status: status, ContentType: ct, Body: body}
	}
	return out, nil
}

// route names the endpoint a request belongs to: the method, the path with numeric segments
// replaced by {id}, and the query.
func route(r *http.Request) string {
	segs := strings.Split(r.URL.Path, "/")
	for i, s := range segs {
		if _, err := strconv.ParseInt(s, 10, 64); err == nil {
			segs[i] = "{id}"
		}
	}
	k := r.Method + " " + strings.Join(segs, "/")
	if r.URL.RawQuery != "" {
		k += "?" + r.URL.RawQuery
	}
	return k
}

// Baseline answers each captured route with its bytes, after reading the request body as any
// server must; anything else is a 404.
func Baseline(caps map[string]Captured) http.Handler {
	byRoute := make(map[string]Captured, len(caps))
	for _, c := range caps {
		byRoute[c.Route] = c
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		c, ok := byRoute[route(r)]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", c.ContentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(c.Body)))
		w.WriteHeader(c.Status)
		w.Write(c.Body)
	})
}
