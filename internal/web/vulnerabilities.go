package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

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
	pager(v, lq, n)
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
	all, orgs := auth.CallerFrom(r.Context()).Scope(auth.AssetsCreate)
	v["Assets"], v["Count"], v["CanCreate"] = as, n, all || len(orgs) > 0
	pager(v, lq, n)
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
	v := map[string]any{"Title": a.Name, "A": a, "Back": r.URL.Path, "CanEdit": c.Can(a.OrgID, auth.AssetsEdit),
		"CanDelete": c.Can(a.OrgID, auth.AssetsDelete)}
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

// readAssetForm applies the posted form to a. Tags are one per comma; blank addresses are none.
func readAssetForm(f url.Values, a *store.Asset) string {
	fr := &formReader{f: f}
	a.Name, a.AssetType, a.Status, a.AssetTag, a.SerialNumber = f.Get("name"), f.Get("asset_type"), f.Get("status"), f.Get("asset_tag"), f.Get("serial_number")
	a.Manufacturer, a.Model, a.Hostname, a.OSName, a.OSVersion = f.Get("manufacturer"), f.Get("model"), f.Get("hostname"), f.Get("os_name"), f.Get("os_version")
	a.FirmwareVersion, a.CPU, a.Storage, a.Notes = f.Get("firmware_version"), f.Get("cpu"), f.Get("storage"), f.Get("notes")
	a.IPAddress, a.MACAddress = optText(f.Get("ip_address")), optText(f.Get("mac_address"))
	a.RAMGB, a.PurchaseDate, a.WarrantyExpiry = fr.optFloat("ram_gb"), fr.optDate("purchase_date"), fr.optDate("warranty_expiry")
	a.Tags = nonEmpty(strings.Split(f.Get("tags"), ",")...)
	return fr.err()
}

func optText(s string) *string {
	if s = strings.TrimSpace(s); s == "" {
		return nil
	}
	return &s
}

// assetValues is an asset as the form's values.
func assetValues(a store.Asset) url.Values {
	f := url.Values{}
	for k, s := range map[string]string{"name": a.Name, "asset_type": a.AssetType, "status": a.Status, "asset_tag": a.AssetTag,
		"serial_number": a.SerialNumber, "manufacturer": a.Manufacturer, "model": a.Model, "hostname": a.Hostname,
		"os_name": a.OSName, "os_version": a.OSVersion, "firmware_version": a.FirmwareVersion, "cpu": a.CPU, "storage": a.Storage,
		"notes": a.Notes, "ip_address": deref(a.IPAddress), "mac_address": deref(a.MACAddress), "tags": strings.Join(a.Tags, ", ")} {
		if s != "" {
			f.Set(k, s)
		}
	}
	if a.RAMGB != nil {
		f.Set("ram_gb", strconv.FormatFloat(*a.RAMGB, 'f', -1, 64))
	}
	for k, d := range map[string]*store.Date{"purchase_date": a.PurchaseDate, "warranty_expiry": a.WarrantyExpiry} {
		if d != nil {
			f.Set(k, string(*d))
		}
	}
	return f
}

func (h *Handler) renderAssetForm(w http.ResponseWriter, r *http.Request, status int, id, org int64, form url.Values, problem string) {
	perm := auth.AssetsCreate
	if id != 0 {
		perm = auth.AssetsEdit
	}
	orgs := h.orgsWith(r, perm)
	if org == 0 {
		org = currentOrg(r)
	}
	title := "New asset"
	if id != 0 {
		title = "Edit " + form.Get("name")
	}
	h.render(w, r, status, "asset_form", map[string]any{"Title": title, "ID": id, "Org": org, "Form": form, "Orgs": orgs,
		"Types": store.AssetTypes, "Statuses": store.AssetStatuses, "Error": problem})
}

func (h *Handler) assetNew(w http.ResponseWriter, r *http.Request) {
	h.renderAssetForm(w, r, http.StatusOK, 0, 0, url.Values{"asset_type": {"workstation"}, "status": {"active"}}, "")
}

// assetForm serves the asset edit page and the create and edit posts.
var assetForm = recordForm[store.Asset]{
	path: "/assets", editPerm: auth.AssetsEdit, scoped: func(a *store.Asset) *store.Scoped { return &a.Scoped },
	get: (*store.Store).GetAsset, create: (*store.Store).CreateAsset, update: (*store.Store).UpdateAsset,
	values: assetValues, read: readAssetForm, render: (*Handler).renderAssetForm,
}

func (h *Handler) assetDelete(w http.ResponseWriter, r *http.Request) {
	h.deleteRecord(w, r, h.store.DeleteAsset, "/assets")
}
