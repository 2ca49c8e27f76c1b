package api

import (
	"net/http"
	"strconv"
	"time"

	"clientst0r/internal/list"
	"clientst0r/internal/store"
)

// Organization is the API shape of an organization.
type Organization struct {
	ID          int64  `json:"id"`
	URL         string `json:"url"`
	Name        string `json:"name"`
	Slug        string `json:"slug"`
	Description string `json:"description"`
	IsActive    bool   `json:"is_active"`
	// RequireTwoFactor makes members use two-factor sign-in in the web UI; API keys are unaffected.
	RequireTwoFactor bool      `json:"require_two_factor"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

func (h *Handler) organization(r *http.Request, o store.Organization) Organization {
	return Organization{ID: o.ID, URL: h.objectURL(r, "organizations", o.ID), Name: o.Name, Slug: o.Slug,
		Description: o.Description, IsActive: o.IsActive, RequireTwoFactor: o.RequireTwoFactor, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt}
}

// objectURL is the absolute URL of one object under the same API prefix as the request.
func (h *Handler) objectURL(r *http.Request, resource string, id int64) string {
	return h.absolute(r, apiPrefix(r)+resource+"/"+strconv.FormatInt(id, 10)+"/")
}

// apiPrefix is "/api/v1/" or "/api/", whichever the request came in on.
func apiPrefix(r *http.Request) string {
	if len(r.URL.Path) >= len("/api/v1") && r.URL.Path[:len("/api/v1")] == "/api/v1" {
		return "/api/v1/"
	}
	return "/api/"
}

func (h *Handler) listOrganizations(w http.ResponseWriter, r *http.Request) {
	serveList(h, w, r, &store.OrganizationSpec, func(q list.Query) ([]store.Organization, int, error) {
		return h.store.ListOrganizations(r.Context(), q)
	}, func(o store.Organization) Organization { return h.organization(r, o) })
}

func (h *Handler) getOrganization(w http.ResponseWriter, r *http.Request) {
	get(h, w, r, h.store.GetOrganization, h.organization)
}

// applyOrganization takes the writable fields from b. With replace (POST, PUT) fields left out
// return to their defaults.
func applyOrganization(b *body, o *store.Organization, replace bool) {
	if replace {
		*o = store.Organization{ID: o.ID, IsActive: true}
		b.require("name")
	}
	b.str("name", &o.Name)
	b.str("slug", &o.Slug)
	b.str("description", &o.Description)
	b.boolean("is_active", &o.IsActive)
	b.boolean("require_two_factor", &o.RequireTwoFactor)
	b.readOnly("id", "url", "created_at", "updated_at")
}

func (h *Handler) createOrganization(w http.ResponseWriter, r *http.Request) {
	create(h, w, r, applyOrganization, h.store.CreateOrganization, h.organization, "organizations",
		func(o store.Organization) int64 { return o.ID })
}

func (h *Handler) replaceOrganization(w http.ResponseWriter, r *http.Request) {
	update(h, w, r, true, applyOrganization, h.store.UpdateOrganization, h.organization)
}

func (h *Handler) patchOrganization(w http.ResponseWriter, r *http.Request) {
	update(h, w, r, false, applyOrganization, h.store.UpdateOrganization, h.organization)
}

func (h *Handler) deleteOrganization(w http.ResponseWriter, r *http.Request) {
	remove(h, w, r, h.store.DeleteOrganization)
}
