package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
	"clientst0r/internal/list"
	"clientst0r/internal/store"
)

// Settings → Integrations → RMM: the integrations, one per provider with its credentials form,
// test-connection button and mapping editor, Sync now, the runs with their counts and errors, and
// the vendor devices with their linked assets.

// IntegrationTester checks a connection (the sync engine).
type IntegrationTester interface {
	Test(ctx context.Context, integ store.Integration) error
}

func (h *Handler) integrationsPage(w http.ResponseWriter, r *http.Request) {
	h.renderIntegrations(w, r, http.StatusOK, map[string]any{"Form": integrationForm{Provider: "ninjaone", Interval: 60}})
}

func (h *Handler) renderIntegrations(w http.ResponseWriter, r *http.Request, status int, v map[string]any) {
	integs, _, err := h.store.ListIntegrations(r.Context(), list.Query{Page: 1, PageSize: list.MaxPageSize,
		Order: []list.OrderBy{{Column: "i.name"}, {Column: "i.id"}}})
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	orgs := h.orgsWith(r, auth.IntegrationsManage)
	v["Title"], v["Integrations"], v["Orgs"], v["Providers"], v["Fields"] = "RMM integrations", integs, orgs, store.ProviderNames, store.IntegrationProviders
	h.render(w, r, status, "integrations", v)
}

// integrationForm is the create/edit form's state.
type integrationForm struct {
	Org      int64
	Name     string
	Provider string
	BaseURL  string
	Interval int
	Enabled  bool
	Mapping  string // "vendor id = organization" lines
	Default  int64
}

// parseMapping reads the mapping editor: one "vendor id = organization id or slug" per line.
func (h *Handler) parseMapping(ctx context.Context, text string) (map[string]int64, string) {
	m := map[string]int64{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ext, ref, ok := strings.Cut(line, "=")
		if !ok {
			return nil, "Mapping lines look like: vendor id = organization id or slug."
		}
		o, err := h.store.OrganizationByRef(ctx, strings.TrimSpace(ref))
		if err != nil || !auth.CallerFrom(ctx).Reaches(o.ID) {
			return nil, "Unknown organization " + strings.TrimSpace(ref) + " in the mapping."
		}
		m[strings.TrimSpace(ext)] = o.ID
	}
	return m, ""
}

func formatMapping(m map[string]int64) string {
	var lines []string
	for ext, org := range m {
		lines = append(lines, ext+" = "+strconv.FormatInt(org, 10))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// readIntegrationForm applies the form to i; credential fields replace the stored ones only when
// at least one is filled in.
func (h *Handler) readIntegrationForm(r *http.Request, i *store.Integration) (integrationForm, string) {
	f := r.PostForm
	form := integrationForm{Name: f.Get("name"), Provider: f.Get("provider"), BaseURL: f.Get("base_url"), Mapping: f.Get("mapping"),
		Enabled: f.Get("enabled") != ""}
	form.Org, _ = strconv.ParseInt(f.Get("organization"), 10, 64)
	form.Interval, _ = strconv.Atoi(f.Get("sync_interval_minutes"))
	form.Default, _ = strconv.ParseInt(f.Get("default_organization"), 10, 64)
	i.Name, i.BaseURL, i.SyncIntervalMinutes, i.Enabled = form.Name, form.BaseURL, form.Interval, form.Enabled
	if form.Provider != "" {
		i.Provider = form.Provider
	}
	i.DefaultOrgID = nil
	if form.Default != 0 {
		i.DefaultOrgID = &form.Default
	}
	creds := map[string]string{}
	for _, field := range store.IntegrationProviders[i.Provider] {
		name := strings.TrimSuffix(field, "?")
		if v := strings.TrimSpace(f.Get("cred_" + name)); v != "" {
			creds[name] = v
		}
	}
	if len(creds) > 0 {
		i.SetCredentials = creds
	}
	m, problem := h.parseMapping(r.Context(), form.Mapping)
	i.Mapping = m
	return form, problem
}

func (h *Handler) integrationCreate(w http.ResponseWriter, r *http.Request) {
	if !h.parseForm(w, r) {
		return
	}
	var i store.Integration
	form, problem := h.readIntegrationForm(r, &i)
	i.OrgID = form.Org
	if problem == "" {
		created, err := h.store.CreateIntegration(r.Context(), i)
		if err == nil {
			http.Redirect(w, r, "/settings/integrations/"+strconv.FormatInt(created.ID, 10), http.StatusSeeOther)
			return
		}
		e, ok := apperr.As(err)
		if !ok || e.Kind == apperr.Internal {
			h.serverError(w, r, err)
			return
		}
		problem = errorText(e)
	}
	h.renderIntegrations(w, r, http.StatusBadRequest, map[string]any{"Form": form, "Error": problem})
}

func (h *Handler) integrationPage(w http.ResponseWriter, r *http.Request) {
	id, ok := pathInt(r, "id")
	if !ok {
		http.NotFound(w, r)
		return
	}
	h.renderIntegration(w, r, http.StatusOK, id, map[string]any{})
}

func (h *Handler) renderIntegration(w http.ResponseWriter, r *http.Request, status int, id int64, v map[string]any) {
	ctx := r.Context()
	i, err := h.store.GetIntegration(ctx, id)
	if err != nil {
		h.pageError(w, r, err)
		return
	}
	runs, _, err := h.store.ListRuns(ctx, id, list.Query{Page: 1, PageSize: 20, Order: []list.OrderBy{{Column: "r.id", Desc: true}}})
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	q := url.Values{}
	if s := r.URL.Query().Get("search"); s != "" {
		q.Set("search", s)
	}
	devices, n, err := h.store.ListRMMDevices(ctx, id, list.Query{Page: 1, PageSize: 100, Order: []list.OrderBy{{Column: "d.name"}, {Column: "d.id"}}})
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	orgs := h.orgsWith(r, auth.IntegrationsManage)
	c := auth.CallerFrom(ctx)
	if v["Form"] == nil {
		f := integrationForm{Name: i.Name, Provider: i.Provider, BaseURL: i.BaseURL, Interval: i.SyncIntervalMinutes, Enabled: i.Enabled,
			Mapping: formatMapping(i.Mapping)}
		if i.DefaultOrgID != nil {
			f.Default = *i.DefaultOrgID
		}
		v["Form"] = f
	}
	v["Title"], v["I"], v["Runs"], v["Devices"], v["DeviceCount"], v["Orgs"] = i.Name, i, runs, devices, n, orgs
	v["Fields"] = store.IntegrationProviders[i.Provider]
	v["CanManage"], v["CanSync"] = c.Can(i.OrgID, auth.IntegrationsManage), c.Can(i.OrgID, auth.IntegrationsSync)
	h.render(w, r, status, "integration", v)
}

func (h *Handler) integrationUpdate(w http.ResponseWriter, r *http.Request) {
	id, ok := pathInt(r, "id")
	if !ok || !h.parseForm(w, r) {
		http.NotFound(w, r)
		return
	}
	var form integrationForm
	var problem string
	_, err := h.store.UpdateIntegration(r.Context(), id, func(i *store.Integration) error {
		if form, problem = h.readIntegrationForm(r, i); problem != "" {
			return apperr.Invalidf("%s", problem)
		}
		return nil
	})
	if err == nil {
		http.Redirect(w, r, "/settings/integrations/"+strconv.FormatInt(id, 10), http.StatusSeeOther)
		return
	}
	if e, ok := apperr.As(err); ok && e.Kind == apperr.Invalid {
		h.renderIntegration(w, r, http.StatusBadRequest, id, map[string]any{"Form": form, "Error": errorText(e)})
		return
	}
	h.pageError(w, r, err)
}

func (h *Handler) integrationAction(w http.ResponseWriter, r *http.Request) {
	id, ok := pathInt(r, "id")
	if !ok {
		http.NotFound(w, r)
		return
	}
	ctx := r.Context()
	switch r.PathValue("action") {
	case "test":
		i, err := h.store.GetIntegration(ctx, id)
		if err != nil {
			h.pageError(w, r, err)
			return
		}
		v := map[string]any{"Flash": "Connection works: the vendor accepted the credentials."}
		if err := h.rmm.Test(ctx, i); err != nil {
			v = map[string]any{"Error": "Connection test failed: " + err.Error()}
		}
		h.renderIntegration(w, r, http.StatusOK, id, v)
	case "sync", "dry-run":
		if _, err := h.store.StartSync(ctx, id, r.PathValue("action") == "dry-run", "manual"); err != nil {
			if apperr.Is(err, apperr.Conflict) {
				h.renderIntegration(w, r, http.StatusConflict, id, map[string]any{"Error": "A sync is already running."})
				return
			}
			h.pageError(w, r, err)
			return
		}
		h.renderIntegration(w, r, http.StatusAccepted, id, map[string]any{"Flash": "Sync started; refresh to see its progress."})
	case "delete":
		if err := h.store.DeleteIntegration(ctx, id); err != nil {
			h.pageError(w, r, err)
			return
		}
		http.Redirect(w, r, "/settings/integrations", http.StatusSeeOther)
	default:
		http.NotFound(w, r)
	}
}
