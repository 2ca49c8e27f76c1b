package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"clientst0r/internal/apperr"
	"clientst0r/internal/list"
	"clientst0r/internal/store"
)

// The dashboard of the current organization (or all of them), the organizations page and the
// global search.

func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	oc := orgsOf(r.Context())
	if len(oc.orgs) == 0 && !oc.all {
		h.render(w, r, http.StatusOK, "home", map[string]any{"Title": "Dashboard", "NoOrgs": true})
		return
	}
	d, err := h.store.Dashboard(r.Context(), oc.current)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	title := oc.name
	if oc.current == 0 {
		title = "All organizations"
	}
	open := 0
	for _, n := range d.Vulnerabilities {
		open += n
	}
	breached := 0
	if d.Breached != nil {
		breached = *d.Breached
	}
	h.render(w, r, http.StatusOK, "home", map[string]any{"Title": title, "D": d, "SeeVault": d.Breached != nil, "Breached": breached, "OpenVulns": open, "SeeVulns": d.Vulnerabilities != nil,
		"Severities": store.Severities})
}

func (h *Handler) orgList(w http.ResponseWriter, r *http.Request) {
	v := map[string]any{"Title": "Organizations"}
	lq := listFilters(r, &store.OrganizationSpec, v, "search", "ordering", "page")
	orgs, n, err := h.store.ListOrganizations(r.Context(), lq)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	v["Orgs"], v["Count"] = orgs, n
	pager(v, lq, n)
	h.render(w, r, http.StatusOK, "org_list", v)
}

// searchHit is one result of the global search.
type searchHit struct {
	Title, Detail, URL, Org string
}

// searchSection is one kind's results; More links to its list with the same search.
type searchSection struct {
	Name  string
	Hits  []searchHit
	Count int
	More  string
}

// search looks for the terms in assets, vault titles, vehicles and monitors of the current
// organization (or every reachable one), ten of each, through each list's own search index.
func (h *Handler) search(w http.ResponseWriter, r *http.Request) {
	term := strings.TrimSpace(r.URL.Query().Get("q"))
	v := map[string]any{"Title": "Search", "Q": term}
	if term == "" {
		h.render(w, r, http.StatusOK, "search", v)
		return
	}
	ctx := r.Context()
	query := func(spec *list.Spec) (list.Query, error) {
		q := url.Values{"search": {term}, "page_size": {"10"}}
		if org := currentOrg(r); org != 0 {
			q.Set("organization", itoa(org))
		}
		return list.Parse(spec, q)
	}
	var sections []searchSection
	add := func(name, path string, spec *list.Spec, run func(list.Query) ([]searchHit, int, error)) error {
		q, err := query(spec)
		if e, ok := apperr.As(err); ok {
			v["Error"] = errorText(e) // a term too long, too many terms
			return nil
		} else if err != nil {
			return err
		}
		hits, n, err := run(q)
		if apperr.Is(err, apperr.Forbidden) {
			return nil // no permission for this kind there: the section is left out
		}
		if err != nil {
			return err
		}
		sections = append(sections, searchSection{Name: name, Hits: hits, Count: n, More: path + "?search=" + url.QueryEscape(term)})
		return nil
	}
	err := add("Assets", "/assets", &store.AssetSpec, func(q list.Query) ([]searchHit, int, error) {
		as, n, err := h.store.ListAssets(ctx, q)
		hits := make([]searchHit, len(as))
		for i, a := range as {
			hits[i] = searchHit{a.Name, strings.Join(nonEmpty(a.AssetType, a.SerialNumber, a.Hostname, deref(a.IPAddress)), " · "), "/assets/" + itoa(a.ID), a.OrgName}
		}
		return hits, n, err
	})
	if err == nil {
		err = add("Vault", "/vault", &store.PasswordSpec, func(q list.Query) ([]searchHit, int, error) {
			ps, n, err := h.store.ListPasswords(ctx, q)
			hits := make([]searchHit, len(ps))
			for i, p := range ps {
				hits[i] = searchHit{p.Title, strings.Join(nonEmpty(p.Username, p.URL), " · "), "/vault/" + itoa(p.ID), p.OrgName}
			}
			return hits, n, err
		})
	}
	if err == nil {
		err = add("Vehicles", "/vehicles", &store.VehicleSpec, func(q list.Query) ([]searchHit, int, error) {
			vs, n, err := h.store.ListVehicles(ctx, q)
			hits := make([]searchHit, len(vs))
			for i, x := range vs {
				hits[i] = searchHit{x.Name, strings.Join(nonEmpty(x.Make, x.Model, x.LicensePlate, x.VIN), " · "), "/vehicles/" + itoa(x.ID), x.OrgName}
			}
			return hits, n, err
		})
	}
	if err == nil {
		err = add("Monitors", "/monitors", &store.MonitorSpec, func(q list.Query) ([]searchHit, int, error) {
			ms, n, err := h.store.ListMonitors(ctx, q)
			hits := make([]searchHit, len(ms))
			for i, m := range ms {
				hits[i] = searchHit{m.Name, strings.Join(nonEmpty(m.CheckType, m.URL, m.Host, m.Status), " · "), "/monitors/" + itoa(m.ID), m.OrgName}
			}
			return hits, n, err
		})
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	v["Sections"] = sections
	h.render(w, r, http.StatusOK, "search", v)
}

func nonEmpty(vals ...string) []string {
	var out []string
	for _, s := range vals {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
