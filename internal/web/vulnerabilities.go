package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
	"clientst0r/internal/list"
	"clientst0r/internal/store"
)

// Vulnerability pages: the findings of the reachable organizations with filters, status changes
// (ignore, reopen, resolve) and Scan now; and the asset page, which shows an asset's findings and
// its RMM alerts.

func (h *Handler) vulnList(w http.ResponseWriter, r *http.Request) {
	v := map[string]any{"Title": "Vulnerabilities", "Statuses": store.VulnStatuses, "Severities": store.Severities}
	if r.URL.Query().Get("status") == "" && r.URL.Query().Get("all") == "" {
		// Open findings are what a technician works through; ?all=1 lists every status.
		r.URL.RawQuery = url.Values{"status": {"open"}}.Encode() + "&" + r.URL.RawQuery
	}
	lq := listFilters(r, &store.VulnerabilitySpec, v, "search", "severity", "status", "organization", "ordering", "page")
	vs, n, err := h.store.ListVulnerabilities(r.Context(), lq)
	if err != nil && !apperr.Is(err, apperr.Forbidden) {
		h.serverError(w, r, err)
		return
	}
	c := auth.CallerFrom(r.Context())
	all, orgs := c.Scope(auth.VulnerabilitiesManage)
	v["Vulns"], v["Count"], v["CanScan"], v["Back"] = vs, n, all || len(orgs) > 0, r.URL.RequestURI()
	v["CanManage"] = func(org int64) bool { return c.Can(org, auth.VulnerabilitiesManage) }
	if id, err := strconv.ParseInt(r.URL.Query().Get("scan"), 10, 64); err == nil {
		if scan, err := h.store.GetVulnScan(r.Context(), id); err == nil {
			v["Scan"] = scan
		}
	}
	morePages(v, lq, n)
	h.render(w, r, http.StatusOK, "vuln_list", v)
}

// vulnStatus sets a finding's status from its row's buttons and returns to where they were pressed.
func (h *Handler) vulnStatus(w http.ResponseWriter, r *http.Request) {
	id, ok := pathInt(r, "id")
	if !ok {
		http.NotFound(w, r)
		return
	}
	status := r.PostFormValue("status")
	if _, err := h.store.UpdateVulnerability(r.Context(), id, func(v *store.Vulnerability) error {
		v.Status = status
		return nil
	}); err != nil {
		h.pageError(w, r, err)
		return
	}
	http.Redirect(w, r, localPath(r.PostFormValue("back"), "/vulnerabilities"), http.StatusSeeOther)
}

func (h *Handler) vulnScan(w http.ResponseWriter, r *http.Request) {
	scan, err := h.store.RequestVulnScan(r.Context(), true)
	if err != nil {
		h.pageError(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/vulnerabilities?scan=%d", scan.ID), http.StatusSeeOther)
}

// localPath is back when it is a path on this site, else def: a form cannot send the browser away.
func localPath(back, def string) string {
	if u, err := url.Parse(back); err == nil && u.Scheme == "" && u.Host == "" && len(back) > 0 && back[0] == '/' &&
		(len(back) == 1 || back[1] != '/' && back[1] != '\\') {
		return back
	}
	return def
}

func (h *Handler) assetList(w http.ResponseWriter, r *http.Request) {
	v := map[string]any{"Title": "Assets", "Types": store.AssetTypes, "Statuses": store.AssetStatuses}
	lq := listFilters(r, &store.AssetSpec, v, "search", "asset_type", "status", "organization", "ordering", "page")
	as, n, err := h.store.ListAssets(r.Context(), lq)
	if err != nil && !apperr.Is(err, apperr.Forbidden) {
		h.serverError(w, r, err)
		return
	}
	v["Assets"], v["Count"] = as, n
	morePages(v, lq, n)
	h.render(w, r, http.StatusOK, "asset_list", v)
}

func (h *Handler) assetPage(w http.ResponseWriter, r *http.Request) {
	id, ok := pathInt(r, "id")
	if !ok {
		http.NotFound(w, r)
		return
	}
	ctx := r.Context()
	a, err := h.store.GetAsset(ctx, id)
	if err != nil {
		h.pageError(w, r, err)
		return
	}
	c := auth.CallerFrom(ctx)
	v := map[string]any{"Title": a.Name, "A": a, "Back": r.URL.Path}
	byAsset := url.Values{"asset": {strconv.FormatInt(id, 10)}, "page_size": {strconv.Itoa(list.MaxPageSize)}}
	if c.Can(a.OrgID, auth.VulnerabilitiesView) {
		q, err := list.Parse(&store.VulnerabilitySpec, withOrdering(byAsset, "-cvss_score"))
		if err == nil {
			var vs []store.Vulnerability
			vs, v["VulnCount"], err = h.store.ListVulnerabilities(ctx, q)
			v["Vulns"] = vs
		}
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		v["SeeVulns"], v["CanManage"] = true, func(int64) bool { return c.Can(a.OrgID, auth.VulnerabilitiesManage) }
	}
	if c.Can(a.OrgID, auth.IntegrationsView) {
		q, err := list.Parse(&store.RMMAlertSpec, withOrdering(byAsset, "-opened_at"))
		if err == nil {
			v["Alerts"], _, err = h.store.ListRMMAlerts(ctx, q)
		}
		if err != nil {
			h.serverError(w, r, err)
			return
		}
	}
	h.render(w, r, http.StatusOK, "asset", v)
}

func withOrdering(q url.Values, ordering string) url.Values {
	out := url.Values{"ordering": {ordering}}
	for k, v := range q {
		out[k] = v
	}
	return out
}
