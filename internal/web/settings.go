package web

import (
	"net/http"
	"net/url"
	"strings"

	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
	"clientst0r/internal/store"
)

// Settings → Users (members of the current organization: invite, change role, remove), custom
// roles, the invitation link's page, and the audit log.

func (h *Handler) usersPage(w http.ResponseWriter, r *http.Request) {
	h.renderUsers(w, r, http.StatusOK, map[string]any{})
}

func (h *Handler) renderUsers(w http.ResponseWriter, r *http.Request, status int, v map[string]any) {
	ctx := r.Context()
	org := currentOrg(r)
	v["Title"] = "Users"
	if org == 0 {
		v["PickOrg"] = true
		h.render(w, r, status, "users", v)
		return
	}
	members, err := h.store.ListMembers(ctx, org)
	if apperr.Is(err, apperr.Forbidden) {
		h.pageError(w, r, err)
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	invites, err := h.store.ListInvitations(ctx, org)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	roles, err := h.store.RoleNames(ctx)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	o, err := h.store.GetOrganization(ctx, org)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	c := auth.CallerFrom(ctx)
	v["Members"], v["Invitations"], v["Roles"], v["OrgName"] = members, invites, roles, o.Name
	v["Me"], v["Require2FA"], v["CanSettings"] = c.User.ID, o.RequireTwoFactor, c.Can(org, auth.OrgSettings)
	h.render(w, r, status, "users", v)
}

// usersAction handles the page's forms: invite, role (change) and remove.
func (h *Handler) usersAction(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	org := currentOrg(r)
	email, role := strings.TrimSpace(r.PostFormValue("email")), r.PostFormValue("role")
	v := map[string]any{}
	var err error
	switch r.PathValue("action") {
	case "invite":
		var token string
		var added bool
		token, added, err = h.store.Invite(ctx, org, email, role)
		switch {
		case err != nil:
			v["Form"] = r.PostForm
		case added:
			v["Flash"] = email + " already had an account and is now a member as " + role + "."
		default:
			v["InviteLink"] = h.inviteURL(r, token)
			v["InviteEmail"] = email
		}
	case "role":
		_, err = h.store.AddMember(ctx, org, email, role)
		if err == nil {
			v["Flash"] = email + " is now " + role + "."
		}
	case "remove":
		err = h.store.RemoveMember(ctx, org, email)
		if err == nil {
			v["Flash"] = email + " was removed from this organization."
		}
	case "two-factor":
		on := r.PostFormValue("require") == "on"
		err = h.store.SetTwoFactorRequired(ctx, org, on)
		if err == nil && on {
			v["Flash"] = "Members must now sign in with a two-factor code; those without one set it up at their next page."
		} else if err == nil {
			v["Flash"] = "Two-factor sign-in is no longer required here."
		}
	default:
		http.NotFound(w, r)
		return
	}
	if e, ok := apperr.As(err); ok && e.Kind == apperr.Invalid {
		v["Error"] = errorText(e)
		h.renderUsers(w, r, http.StatusBadRequest, v)
		return
	} else if err != nil {
		h.pageError(w, r, err)
		return
	}
	h.renderUsers(w, r, http.StatusOK, v)
}

// inviteURL is the absolute link of an invitation.
func (h *Handler) inviteURL(r *http.Request, token string) string {
	base := h.baseURL
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	return base + "/invite/" + url.PathEscape(token)
}

// invitePage shows an invitation and the form to create the account; it needs no session.
func (h *Handler) invitePage(w http.ResponseWriter, r *http.Request) {
	inv, err := h.store.InvitationByToken(r.Context(), r.PathValue("token"))
	if err != nil {
		h.pageError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "invite", map[string]any{"Title": "Join " + inv.OrgName, "Inv": inv})
}

func (h *Handler) acceptInvite(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	token := r.PathValue("token")
	inv, err := h.store.InvitationByToken(r.Context(), token)
	if err != nil {
		h.pageError(w, r, err)
		return
	}
	if r.PostFormValue("password") != r.PostFormValue("password2") {
		h.render(w, r, http.StatusBadRequest, "invite", map[string]any{"Title": "Join " + inv.OrgName, "Inv": inv,
			"Name": r.PostFormValue("name"), "Error": "The two passwords differ."})
		return
	}
	_, err = h.store.AcceptInvitation(r.Context(), token, r.PostFormValue("name"), r.PostFormValue("password"))
	if e, ok := apperr.As(err); ok && e.Kind == apperr.Invalid {
		h.render(w, r, http.StatusBadRequest, "invite", map[string]any{"Title": "Join " + inv.OrgName, "Inv": inv,
			"Name": r.PostFormValue("name"), "Error": errorText(e)})
		return
	} else if err != nil {
		h.pageError(w, r, err)
		return
	}
	// The new account signs in like any other (with two-factor where it is required).
	http.Redirect(w, r, "/login?next=%2F", http.StatusSeeOther)
}

func (h *Handler) rolesPage(w http.ResponseWriter, r *http.Request) {
	h.renderRoles(w, r, http.StatusOK, map[string]any{})
}

func (h *Handler) renderRoles(w http.ResponseWriter, r *http.Request, status int, v map[string]any) {
	roles, _, err := h.store.ListRoles(r.Context(), historyQuery(&store.RoleSpec))
	if err != nil {
		h.pageError(w, r, err)
		return
	}
	v["Title"], v["Roles"], v["Perms"] = "Roles", roles, auth.AllPermNames()
	v["CanCreate"] = auth.CallerFrom(r.Context()).User.IsSuperuser
	if v["Form"] == nil {
		v["Form"] = url.Values{}
	}
	h.render(w, r, status, "roles", v)
}

func (h *Handler) createRole(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	perms, err := auth.ParsePerms(r.PostForm["permissions"])
	if err != nil {
		err = apperr.Field("permissions", err.Error())
	} else {
		_, err = h.store.CreateRole(r.Context(), store.Role{Role: auth.Role{Name: strings.TrimSpace(r.PostFormValue("name")),
			Description: strings.TrimSpace(r.PostFormValue("description")), Perms: perms}})
	}
	if problem, again := h.saved(w, r, err, "/settings/roles"); again {
		h.renderRoles(w, r, http.StatusBadRequest, map[string]any{"Error": problem, "Form": r.PostForm})
	}
}

func (h *Handler) auditPage(w http.ResponseWriter, r *http.Request) {
	v := map[string]any{"Title": "Audit log"}
	lq := listFilters(r, &store.AuditSpec, v, "action", "object_type", "object_id", "actor", "timestamp__gte", "timestamp__lte",
		"organization", "page")
	entries, n, err := h.store.ListAudit(r.Context(), lq)
	if err != nil && !apperr.Is(err, apperr.Forbidden) {
		h.serverError(w, r, err)
		return
	}
	if apperr.Is(err, apperr.Forbidden) {
		v["Error"] = "You need the audit.view permission in this organization to read its audit log."
	}
	v["Entries"], v["Count"] = entries, n
	pager(v, lq, n)
	h.render(w, r, http.StatusOK, "audit", v)
}
