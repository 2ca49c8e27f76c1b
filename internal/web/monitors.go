package web

import (
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
	"clientst0r/internal/list"
	"clientst0r/internal/store"
)

// Monitor pages: the list with status, a monitor with its response-time chart and recent results,
// and the create/edit form. Manual checks go through the same scheduler as the API's.

func (h *Handler) monitorList(w http.ResponseWriter, r *http.Request) {
	v := map[string]any{"Title": "Monitors", "Statuses": store.MonitorStatuses, "Types": store.CheckTypes}
	lq := listFilters(r, &store.MonitorSpec, v, "search", "status", "check_type", "organization", "page")
	ms, n, err := h.store.ListMonitors(r.Context(), lq)
	if err != nil && !apperr.Is(err, apperr.Forbidden) {
		h.serverError(w, r, err)
		return
	}
	v["Monitors"], v["Count"] = ms, n
	pager(v, lq, n)
	h.render(w, r, http.StatusOK, "monitor_list", v)
}

func (h *Handler) monitorPage(w http.ResponseWriter, r *http.Request) {
	id, ok := pathInt(r, "id")
	if !ok {
		http.NotFound(w, r)
		return
	}
	h.renderMonitor(w, r, http.StatusOK, id, map[string]any{})
}

func (h *Handler) renderMonitor(w http.ResponseWriter, r *http.Request, status int, id int64, v map[string]any) {
	ctx := r.Context()
	m, err := h.store.GetMonitor(ctx, id)
	if err != nil {
		h.pageError(w, r, err)
		return
	}
	results, _, err := h.store.ListMonitorResults(ctx, id, list.Query{Page: 1, PageSize: 100,
		Order: []list.OrderBy{{Column: "r.checked_at", Desc: true}, {Column: "r.id", Desc: true}}})
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	c := auth.CallerFrom(ctx)
	v["Title"], v["M"], v["Results"], v["Chart"] = m.Name, m, results, responseChart(results)
	v["Target"], v["CanEdit"], v["CanDelete"] = m.Config().Target(), c.Can(m.OrgID, auth.MonitorsEdit), c.Can(m.OrgID, auth.MonitorsDelete)
	h.render(w, r, status, "monitor", v)
}

// responseChart draws response times (oldest left) as an inline SVG; failed checks are red dots.
func responseChart(results []store.CheckResult) template.HTML {
	if len(results) < 2 {
		return ""
	}
	const w, h = 720.0, 120.0
	pts := slices.Clone(results)
	slices.Reverse(pts)
	maxMS := 1
	for _, r := range pts {
		if r.ResponseMS != nil && *r.ResponseMS > maxMS {
			maxMS = *r.ResponseMS
		}
	}
	var line, dots strings.Builder
	for i, r := range pts {
		x := float64(i) / float64(len(pts)-1) * w
		ms := 0
		if r.ResponseMS != nil {
			ms = *r.ResponseMS
		}
		y := h - float64(ms)/float64(maxMS)*(h-10) - 5
		fmt.Fprintf(&line, "%.1f,%.1f ", x, y)
		if !r.Up {
			fmt.Fprintf(&dots, `<circle cx="%.1f" cy="%.1f" r="3" fill="#b3261e"><title>%s</title></circle>`, x, y,
				template.HTMLEscapeString(r.CheckedAt.Format("2006-01-02 15:04:05")+" "+r.Error))
		}
	}
	return template.HTML(fmt.Sprintf(`<svg class="chart" viewBox="0 0 %.0f %.0f" preserveAspectRatio="none" role="img" aria-label="Response times of the last %d checks, up to %d ms">`+
		`<polyline fill="none" stroke="#1f5fbf" stroke-width="1.5" points="%s"/>%s</svg><div class="chart-scale"><span>%d ms</span><span>0</span></div>`,
		w, h, len(pts), maxMS, line.String(), dots.String(), maxMS))
}

func (h *Handler) monitorCheck(w http.ResponseWriter, r *http.Request) {
	id, ok := pathInt(r, "id")
	if !ok {
		http.NotFound(w, r)
		return
	}
	cfg, err := h.store.CanCheck(r.Context(), id)
	if err != nil {
		h.pageError(w, r, err)
		return
	}
	res, err := h.checker.CheckNow(r.Context(), cfg)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	flash := "Checked now: up."
	if !res.Up {
		flash = "Checked now: down — " + res.Error
	}
	h.renderMonitor(w, r, http.StatusOK, id, map[string]any{"Flash": flash})
}

// monitorForm is the create/edit form's state.
type monitorForm struct {
	store.Monitor
	Port string
}

func (h *Handler) monitorNew(w http.ResponseWriter, r *http.Request) {
	h.renderMonitorForm(w, r, http.StatusOK, monitorForm{Monitor: store.Monitor{CheckType: "http", HTTPMethod: "GET", ExpectedStatus: "200-299",
		FollowRedirects: true, VerifyTLS: true, Enabled: true, IntervalSeconds: 60, TimeoutSeconds: 10, FailureThreshold: 3,
		SuccessThreshold: 2, SSLWarningDays: 14}}, "")
}

func (h *Handler) monitorEdit(w http.ResponseWriter, r *http.Request) {
	id, ok := pathInt(r, "id")
	if !ok {
		http.NotFound(w, r)
		return
	}
	m, err := h.store.GetMonitor(r.Context(), id)
	if err != nil {
		h.pageError(w, r, err)
		return
	}
	f := monitorForm{Monitor: m}
	if m.Port != nil {
		f.Port = strconv.Itoa(*m.Port)
	}
	h.renderMonitorForm(w, r, http.StatusOK, f, "")
}

func (h *Handler) renderMonitorForm(w http.ResponseWriter, r *http.Request, status int, f monitorForm, problem string) {
	orgs := h.orgsWith(r, auth.MonitorsCreate)
	title := "New monitor"
	if f.ID != 0 {
		title = "Edit " + f.Name
	}
	h.render(w, r, status, "monitor_form", map[string]any{"Title": title, "F": f, "Orgs": orgs, "Types": store.CheckTypes, "Error": problem})
}

// orgsWith lists the organizations where the caller holds perm, for the forms' organization
// choice: those of the switcher, which the session already read.
func (h *Handler) orgsWith(r *http.Request, perm auth.Perm) []store.Organization {
	c := auth.CallerFrom(r.Context())
	return slices.DeleteFunc(slices.Clone(orgsOf(r.Context()).orgs), func(o store.Organization) bool { return !c.Can(o.ID, perm) })
}

// readMonitorForm applies the posted form to m.
func readMonitorForm(r *http.Request, m *store.Monitor) (monitorForm, string) {
	f := r.PostForm
	atoi := func(name string) int { n, _ := strconv.Atoi(f.Get(name)); return n }
	m.Name, m.CheckType, m.URL, m.Host = f.Get("name"), f.Get("check_type"), f.Get("url"), f.Get("host")
	m.HTTPMethod, m.ExpectedStatus, m.Keyword, m.ExpectedAddress = f.Get("http_method"), f.Get("expected_status"), f.Get("keyword"), f.Get("expected_address")
	m.FollowRedirects, m.VerifyTLS, m.Enabled = f.Get("follow_redirects") != "", f.Get("verify_tls") != "", f.Get("enabled") != ""
	m.IntervalSeconds, m.TimeoutSeconds, m.FailureThreshold = atoi("interval_seconds"), atoi("timeout_seconds"), atoi("failure_threshold")
	m.SuccessThreshold, m.SSLWarningDays = atoi("success_threshold"), atoi("ssl_warning_days")
	form := monitorForm{Port: f.Get("port")}
	m.Port = nil
	if form.Port != "" {
		p, err := strconv.Atoi(form.Port)
		if err != nil {
			form.Monitor = *m
			return form, "The port must be a number."
		}
		m.Port = &p
	}
	form.Monitor = *m
	return form, ""
}

func (h *Handler) monitorCreate(w http.ResponseWriter, r *http.Request) {
	if !h.parseForm(w, r) {
		return
	}
	var m store.Monitor
	m.OrgID, _ = strconv.ParseInt(r.PostForm.Get("organization"), 10, 64)
	f, problem := readMonitorForm(r, &m)
	if problem == "" {
		created, err := h.store.CreateMonitor(r.Context(), m)
		if err == nil {
			http.Redirect(w, r, "/monitors/"+strconv.FormatInt(created.ID, 10), http.StatusSeeOther)
			return
		}
		e, ok := apperr.As(err)
		if !ok || e.Kind == apperr.Internal {
			h.serverError(w, r, err)
			return
		}
		problem = errorText(e)
	}
	h.renderMonitorForm(w, r, http.StatusBadRequest, f, problem)
}

func (h *Handler) monitorUpdate(w http.ResponseWriter, r *http.Request) {
	id, ok := pathInt(r, "id")
	if !ok || !h.parseForm(w, r) {
		http.NotFound(w, r)
		return
	}
	var f monitorForm
	var problem string
	_, err := h.store.UpdateMonitor(r.Context(), id, func(m *store.Monitor) error {
		if f, problem = readMonitorForm(r, m); problem != "" {
			return apperr.Invalidf("%s", problem)
		}
		return nil
	})
	if err == nil {
		http.Redirect(w, r, "/monitors/"+strconv.FormatInt(id, 10), http.StatusSeeOther)
		return
	}
	if e, ok := apperr.As(err); ok && e.Kind == apperr.Invalid {
		f.ID = id
		h.renderMonitorForm(w, r, http.StatusBadRequest, f, errorText(e))
		return
	}
	h.pageError(w, r, err)
}

func (h *Handler) monitorDelete(w http.ResponseWriter, r *http.Request) {
	h.deleteRecord(w, r, h.store.DeleteMonitor, "/monitors")
}
