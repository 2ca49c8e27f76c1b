package web

import (
	"context"
	"net/http"
	"slices"
	"strconv"

	"clientst0r/internal/auth"
	"clientst0r/internal/list"
	"clientst0r/internal/store"
)

// The organization switcher: the organization a technician works in is kept in a cookie; list
// pages, the dashboard and search narrow to it unless a page's own filter says otherwise.
// Superusers may also choose All organizations (0); everyone else works in one at a time.

const orgCookie = "cs_org"

// switcherSize bounds the switcher's list; past it the organizations page finds the rest.
const switcherSize = 500

type orgContext struct {
	current int64 // 0: all organizations (superusers)
	name    string
	orgs    []store.Organization
	all     bool // the caller may choose All organizations
}

type orgKey struct{}

// withOrgs resolves the current organization for a signed-in request.
func (h *Handler) withOrgs(r *http.Request, c *auth.Caller) (*http.Request, error) {
	orgs, _, err := h.store.ListOrganizations(r.Context(), list.Query{Page: 1, PageSize: switcherSize,
		Order: []list.OrderBy{{Column: "o.name"}, {Column: "o.id"}}})
	if err != nil {
		return r, err
	}
	oc := &orgContext{orgs: orgs, all: c.AllOrgs()}
	if ck, err := r.Cookie(orgCookie); err == nil {
		if id, err := strconv.ParseInt(ck.Value, 10, 64); err == nil && c.Reaches(id) {
			oc.current = id
		}
	}
	if oc.current == 0 && !oc.all && len(orgs) > 0 {
		oc.current = orgs[0].ID
	}
	if i := slices.IndexFunc(orgs, func(o store.Organization) bool { return o.ID == oc.current }); i >= 0 {
		oc.name = orgs[i].Name
	} else if oc.current != 0 {
		if o, err := h.store.GetOrganization(r.Context(), oc.current); err == nil {
			oc.name = o.Name
			oc.orgs = append(oc.orgs, o) // beyond the switcher's first page: still shown as chosen
		}
	}
	return r.WithContext(context.WithValue(r.Context(), orgKey{}, oc)), nil
}

func orgsOf(ctx context.Context) *orgContext {
	if oc, ok := ctx.Value(orgKey{}).(*orgContext); ok {
		return oc
	}
	return &orgContext{}
}

// currentOrg is the organization pages narrow to (0: all).
func currentOrg(r *http.Request) int64 { return orgsOf(r.Context()).current }

// switchOrg remembers the chosen organization and returns to the page it was chosen on.
func (h *Handler) switchOrg(w http.ResponseWriter, r *http.Request) {
	c := auth.CallerFrom(r.Context())
	v := r.PostFormValue("organization")
	id, err := strconv.ParseInt(v, 10, 64)
	switch {
	case v == "all" && c.AllOrgs():
		id = 0
	case err != nil || !c.Reaches(id):
		http.Error(w, "No such organization.", http.StatusBadRequest)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: orgCookie, Value: strconv.FormatInt(id, 10), Path: "/", HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode, MaxAge: 365 * 24 * 3600})
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}
