package api

import (
	"net/http"
	"time"

	"clientst0r/internal/auth"
	"clientst0r/internal/list"
	"clientst0r/internal/store"
)

// Role is the API shape of a role.
type Role struct {
	ID          int64     `json:"id"`
	URL         string    `json:"url"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Permissions []string  `json:"permissions"`
	Builtin     bool      `json:"builtin"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func (h *Handler) role(r *http.Request, ro store.Role) Role {
	return Role{ID: ro.ID, URL: h.objectURL(r, "roles", ro.ID), Name: ro.Name, Description: ro.Description,
		Permissions: ro.Perms.Names(), Builtin: ro.Builtin, CreatedAt: ro.CreatedAt, UpdatedAt: ro.UpdatedAt}
}

func applyRole(b *body, ro *store.Role, replace bool) {
	if replace {
		*ro = store.Role{Role: auth.Role{ID: ro.ID}}
		b.require("name", "permissions")
	}
	b.str("name", &ro.Name)
	b.str("description", &ro.Description)
	var names []string
	b.strings("permissions", &names)
	if b.has("permissions") && !b.isNull("permissions") {
		p, err := auth.ParsePerms(names)
		if err != nil {
			b.errs.Add("permissions", err.Error()+".")
		}
		ro.Perms = p
	}
	b.readOnly("id", "url", "builtin", "created_at", "updated_at")
}

func (h *Handler) listRoles(w http.ResponseWriter, r *http.Request) {
	serveList(h, w, r, &store.RoleSpec, func(q list.Query) ([]store.Role, int, error) {
		return h.store.ListRoles(r.Context(), q)
	}, func(ro store.Role) Role { return h.role(r, ro) })
}

func (h *Handler) getRole(w http.ResponseWriter, r *http.Request) {
	get(h, w, r, h.store.GetRole, h.role)
}

func (h *Handler) createRole(w http.ResponseWriter, r *http.Request) {
	create(h, w, r, applyRole, h.store.CreateRole, h.role, "roles", func(ro store.Role) int64 { return ro.ID })
}

func (h *Handler) replaceRole(w http.ResponseWriter, r *http.Request) {
	update(h, w, r, true, applyRole, h.store.UpdateRole, h.role)
}

func (h *Handler) patchRole(w http.ResponseWriter, r *http.Request) {
	update(h, w, r, false, applyRole, h.store.UpdateRole, h.role)
}

func (h *Handler) deleteRole(w http.ResponseWriter, r *http.Request) {
	remove(h, w, r, h.store.DeleteRole)
}
