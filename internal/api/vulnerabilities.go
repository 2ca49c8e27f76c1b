package api

import (
	"context"
	"net/http"
	"time"

	"clientst0r/internal/list"
	"clientst0r/internal/store"
)

// Vulnerability is the API shape of a finding (SPEC §4).
type Vulnerability struct {
	ID           int64      `json:"id" api:"ro"`
	URL          string     `json:"url" api:"ro,uri"`
	Organization int64      `json:"organization" api:"ro"`
	CVEID        string     `json:"cve_id" api:"ro"`
	Asset        int64      `json:"asset" api:"ro"`
	AssetName    string     `json:"asset_name" api:"ro"`
	Severity     *string    `json:"severity" api:"ro"`
	CVSSScore    *float64   `json:"cvss_score" api:"ro"`
	Summary      string     `json:"summary" api:"ro"`
	Matched      string     `json:"matched" api:"ro"`
	PublishedAt  *time.Time `json:"published_at" api:"ro"`
	Status       string     `json:"status"`
	FirstSeenAt  time.Time  `json:"first_seen_at" api:"ro"`
	ResolvedAt   *time.Time `json:"resolved_at" api:"ro"`
	CreatedAt    time.Time  `json:"created_at" api:"ro"`
	UpdatedAt    time.Time  `json:"updated_at" api:"ro"`
}

// VulnScan is the API shape of a requested scan and its progress.
type VulnScan struct {
	ID             int64      `json:"id" api:"ro"`
	URL            string     `json:"url" api:"ro,uri"`
	Organizations  []int64    `json:"organizations" api:"ro"`
	FetchCVEs      bool       `json:"fetch_cves" api:"ro"`
	Status         string     `json:"status" api:"ro"`
	CreatedAt      time.Time  `json:"created_at" api:"ro"`
	StartedAt      *time.Time `json:"started_at" api:"ro"`
	FinishedAt     *time.Time `json:"finished_at" api:"ro"`
	CVEsFetched    int        `json:"cves_fetched" api:"ro"`
	AssetsTotal    int        `json:"assets_total" api:"ro"`
	AssetsScanned  int        `json:"assets_scanned" api:"ro"`
	FindingsOpened int        `json:"findings_opened" api:"ro"`
	Resolved       int        `json:"findings_resolved" api:"ro"`
	Error          string     `json:"error" api:"ro"`
}

func (h *Handler) vulnerability(r *http.Request, v store.Vulnerability) Vulnerability {
	out := Vulnerability{ID: v.ID, URL: h.objectURL(r, "vulnerabilities", v.ID), Organization: v.OrgID, CVEID: v.CVEID, Asset: v.AssetID,
		AssetName: v.AssetName, CVSSScore: v.CVSSScore, Summary: v.Summary, Matched: v.Matched, PublishedAt: v.PublishedAt,
		Status: v.Status, FirstSeenAt: v.FirstSeenAt, ResolvedAt: v.ResolvedAt, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}
	if v.Severity != "" {
		out.Severity = &v.Severity
	}
	return out
}

func (h *Handler) vulnScan(r *http.Request, v store.VulnScan) VulnScan {
	orgs := v.Organizations
	if orgs == nil {
		orgs = []int64{}
	}
	return VulnScan{ID: v.ID, URL: h.objectURL(r, "vulnerabilities/scans", v.ID), Organizations: orgs, FetchCVEs: v.Fetch,
		Status: v.Status, CreatedAt: v.CreatedAt, StartedAt: v.StartedAt, FinishedAt: v.FinishedAt, CVEsFetched: v.CVEsFetched,
		AssetsTotal: v.AssetsTotal, AssetsScanned: v.AssetsScanned, FindingsOpened: v.Opened, Resolved: v.Resolved, Error: v.Error}
}

func (h *Handler) vulnerabilityEndpoints() []endpoint {
	return []endpoint{
		{method: "POST", path: "vulnerabilities/scan", handler: h.scanVulnerabilities, out: VulnScan{}, status: 202,
			summary: "Fetch new CVE data now (when a source is configured) and re-scan your organizations (needs vulnerabilities.manage)"},
		{method: "GET", path: "vulnerabilities/scans/{id}", handler: h.getVulnScan, out: VulnScan{}, status: 200,
			summary: "A scan's progress"},
	}
}

func (h *Handler) listVulnerabilities(w http.ResponseWriter, r *http.Request) {
	serveList(h, w, r, &store.VulnerabilitySpec, func(q list.Query) ([]store.Vulnerability, int, error) {
		return h.store.ListVulnerabilities(r.Context(), q)
	}, func(v store.Vulnerability) Vulnerability { return h.vulnerability(r, v) })
}

func (h *Handler) getVulnerability(w http.ResponseWriter, r *http.Request) {
	get(h, w, r, h.store.GetVulnerability, h.vulnerability)
}

func (h *Handler) patchVulnerability(w http.ResponseWriter, r *http.Request) {
	update(h, w, r, false, func(b *body, v *store.Vulnerability, _ bool) {
		b.readOnly("id", "url", "organization", "cve_id", "asset", "asset_name", "severity", "cvss_score", "summary", "matched",
			"published_at", "first_seen_at", "resolved_at", "created_at", "updated_at")
		b.str("status", &v.Status)
	}, h.store.UpdateVulnerability, h.vulnerability)
}

func (h *Handler) scanVulnerabilities(w http.ResponseWriter, r *http.Request) {
	scan, err := h.store.RequestVulnScan(r.Context(), true)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeJSON(w, r, http.StatusAccepted, h.vulnScan(r, scan))
}

func (h *Handler) getVulnScan(w http.ResponseWriter, r *http.Request) {
	get(h, w, r, func(ctx context.Context, id int64) (store.VulnScan, error) { return h.store.GetVulnScan(ctx, id) }, h.vulnScan)
}
