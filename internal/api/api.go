// Package api is the JSON API under /api/ and /api/v1/: routes, one file per resource, the shared
// list, body and error conventions, authentication, rate limits and idempotent replays.
package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
	"clientst0r/internal/store"
)

// Handler serves the API.
type Handler struct {
	store   *store.Store
	authn   *auth.Authenticator
	log     *slog.Logger
	baseURL string // "" derives absolute URLs from the request
	checker MonitorChecker
	rmm     IntegrationTester
	mux     *http.ServeMux
	// endpoints are the declarations of routes.go; openapi is the document generated from them.
	endpoints []endpoint
	openapi   []byte
}

// Config holds the API's dependencies.
type Config struct {
	Store   *store.Store
	Authn   *auth.Authenticator
	Log     *slog.Logger
	BaseURL string
	Version string
	// Monitors runs manual checks.
	Monitors MonitorChecker
	// RMM tests integration connections.
	RMM IntegrationTester
}

// New returns the API handler.
func New(cfg Config) *Handler {
	h := &Handler{store: cfg.Store, authn: cfg.Authn, log: cfg.Log, baseURL: cfg.BaseURL, checker: cfg.Monitors, rmm: cfg.RMM,
		mux: http.NewServeMux()}
	h.routes()
	doc, err := openAPI(h.endpoints, cfg.Version)
	if err != nil {
		panic(err) // the document is built from static declarations
	}
	h.openapi = doc
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r, err := methodOverride(r)
	if err != nil {
		h.fail(w, r, apperr.Invalidf("Could not read the form."))
		return
	}
	h.mux.ServeHTTP(w, r)
}

type ctxKey int

const requestIDKey ctxKey = iota

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// RequestID gives every request an id (the client's X-Request-ID when it is sane), echoes it, logs
// the request when it ends and turns a panic into a 500 with that id.
func RequestID(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if !saneID(id) {
			b := make([]byte, 8)
			rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-ID", id)
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey, id))
		sw := &statusWriter{ResponseWriter: w}
		start := time.Now()
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.Error("panic", "request_id", id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if sw.status == 0 {
					sw.Header().Set("Content-Type", "application/json; charset=utf-8")
					sw.WriteHeader(http.StatusInternalServerError)
					fmt.Fprintf(sw, `{"detail":"Internal server error.","request_id":%q}`, id)
				}
			}
			log.Log(r.Context(), logLevel(sw.status), "request", "request_id", id, "method", r.Method, "path", r.URL.Path,
				"status", sw.status, "bytes", sw.bytes, "duration_ms", time.Since(start).Milliseconds(), "remote", auth.ClientIP(r))
		}()
		next.ServeHTTP(sw, r)
	})
}

func saneID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// authed wraps an endpoint that needs a caller: it authenticates (key or session), applies the
// rate limit with its headers, and puts the caller in the context for the store.
func (h *Handler) authed(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := h.authn.Authenticate(r, true)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if c.NeedsTwoFactor { // a session that must enrol in two-factor first (never a key)
			h.fail(w, r, auth.ErrTwoFactorSetup)
			return
		}
		d, err := h.authn.RateContext(r.Context(), c)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		hdr := w.Header()
		hdr.Set("RateLimit-Limit", strconv.Itoa(d.Limit))
		hdr.Set("RateLimit-Remaining", strconv.Itoa(d.Remaining))
		hdr.Set("RateLimit-Reset", strconv.Itoa(auth.Seconds(d.Reset)))
		if !d.Allowed {
			h.fail(w, r, auth.Throttled(d.Reset))
			return
		}
		next(w, r.WithContext(auth.WithCaller(r.Context(), c)))
	}
}

// pathID parses the {id} path value; anything but a positive integer is a 404, as for a missing row.
func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, apperr.ErrNotFound
	}
	return id, nil
}
