package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Prefixes under which every endpoint is served: the canonical versioned base and the current one.
var prefixes = []string{"/api/v1/", "/api/"}

func (h *Handler) routes() {
	rt := router{h: h, paths: map[string]map[string]http.HandlerFunc{}}

	rt.handle("GET", "", h.root)

	rt.handle("GET", "organizations", h.listOrganizations)
	rt.handle("POST", "organizations", h.createOrganization)
	rt.handle("GET", "organizations/{id}", h.getOrganization)
	rt.handle("PUT", "organizations/{id}", h.replaceOrganization)
	rt.handle("PATCH", "organizations/{id}", h.patchOrganization)
	rt.handle("DELETE", "organizations/{id}", h.deleteOrganization)

	rt.handle("GET", "assets", h.listAssets)
	rt.handle("POST", "assets", h.createAsset)
	rt.handle("GET", "assets/{id}", h.getAsset)
	rt.handle("PUT", "assets/{id}", h.replaceAsset)
	rt.handle("PATCH", "assets/{id}", h.patchAsset)
	rt.handle("DELETE", "assets/{id}", h.deleteAsset)

	rt.handle("GET", "keys", h.listKeys)
	rt.handle("POST", "keys", h.createKey)
	rt.handle("GET", "keys/{id}", h.getKey)
	rt.handle("PATCH", "keys/{id}", h.patchKey)
	rt.handle("DELETE", "keys/{id}", h.revokeKey)

	rt.handle("GET", "roles", h.listRoles)
	rt.handle("POST", "roles", h.createRole)
	rt.handle("GET", "roles/{id}", h.getRole)
	rt.handle("PUT", "roles/{id}", h.replaceRole)
	rt.handle("PATCH", "roles/{id}", h.patchRole)
	rt.handle("DELETE", "roles/{id}", h.deleteRole)

	rt.handle("GET", "audit", h.listAudit)

	rt.mount()
}

// router collects endpoints by path so each path is mounted once per prefix and per trailing-slash
// form, with a DRF 405 (and its Allow header) for the methods it does not have.
type router struct {
	h     *Handler
	paths map[string]map[string]http.HandlerFunc
	order []string
}

// handle registers an authenticated endpoint. Writes also honour Idempotency-Key.
func (rt *router) handle(method, path string, fn http.HandlerFunc) {
	if method != http.MethodGet {
		fn = rt.h.idempotent(fn)
	}
	rt.public(method, path, rt.h.authed(fn))
}

// public registers an endpoint that needs no caller.
func (rt *router) public(method, path string, fn http.HandlerFunc) {
	if rt.paths[path] == nil {
		rt.paths[path] = map[string]http.HandlerFunc{}
		rt.order = append(rt.order, path)
	}
	rt.paths[path][method] = fn
}

func (rt *router) mount() {
	for _, path := range rt.order {
		methods := rt.paths[path]
		allow := allowed(methods)
		for _, prefix := range prefixes {
			for _, pattern := range patterns(prefix, path) {
				for m, fn := range methods {
					rt.h.mux.HandleFunc(m+" "+pattern, fn)
				}
				rt.h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Allow", allow)
					if r.Method == http.MethodOptions {
						w.WriteHeader(http.StatusNoContent)
						return
					}
					rt.h.writeJSON(w, r, http.StatusMethodNotAllowed, map[string]string{"detail": fmt.Sprintf("Method %q not allowed.", r.Method)})
				})
			}
		}
	}
	for _, prefix := range prefixes {
		rt.h.mux.HandleFunc(prefix, func(w http.ResponseWriter, r *http.Request) {
			rt.h.writeJSON(w, r, http.StatusNotFound, map[string]string{"detail": "Not found."})
		})
	}
}

// patterns gives the ServeMux patterns for a path under a prefix: with the trailing slash (exact
// match) and without it.
func patterns(prefix, path string) []string {
	if path == "" {
		return []string{prefix + "{$}", strings.TrimSuffix(prefix, "/")}
	}
	return []string{prefix + path + "/{$}", prefix + path}
}

func allowed(methods map[string]http.HandlerFunc) string {
	var out []string
	for m := range methods {
		out = append(out, m)
		if m == http.MethodGet {
			out = append(out, http.MethodHead)
		}
	}
	out = append(out, http.MethodOptions)
	slices.Sort(out)
	return strings.Join(out, ", ")
}
