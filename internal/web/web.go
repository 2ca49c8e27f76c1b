// Package web is the server-rendered UI: sign-in, the organization overview and Profile → API Keys.
package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"clientst0r/internal/api"
	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
	"clientst0r/internal/store"
)

//go:embed templates static
var assets embed.FS

// Handler serves the web UI.
type Handler struct {
	store   *store.Store
	checker api.MonitorChecker
	rmm     IntegrationTester
	authn   *auth.Authenticator
	log     *slog.Logger
	version string
	baseURL string // "" derives links from the request
	pages   map[string]*template.Template
	mux     *http.ServeMux
}

// Config holds the UI's dependencies.
type Config struct {
	Store    *store.Store
	Monitors api.MonitorChecker
	RMM      IntegrationTester
	Authn    *auth.Authenticator
	Log      *slog.Logger
	Version  string
	BaseURL  string
}

var funcs = template.FuncMap{
	"trimOptional": func(s string) string { return strings.TrimSuffix(s, "?") },
	"deref":        func(b *bool) bool { return b != nil && *b },
	// num prints an optional number with prec decimals ("" for none).
	"num": func(prec int, x *float64) string {
		if x == nil {
			return ""
		}
		return strconv.FormatFloat(*x, 'f', prec, 64)
	},
	// sortBy links a column header to the list ordered by field, reversing the current order.
	"sortBy": sortBy,
	// dict builds a map for a sub-template from key, value pairs.
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[fmt.Sprint(kv[i])] = kv[i+1]
		}
		return m
	},
	"fmtTime": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			return v.UTC().Format("2006-01-02 15:04:05 UTC")
		case *time.Time:
			if v != nil {
				return v.UTC().Format("2006-01-02 15:04:05 UTC")
			}
		}
		return ""
	},
}

// New returns the UI handler.
func New(cfg Config) *Handler {
	h := &Handler{store: cfg.Store, checker: cfg.Monitors, rmm: cfg.RMM, authn: cfg.Authn, log: cfg.Log, version: cfg.Version, baseURL: cfg.BaseURL, pages: map[string]*template.Template{},
		mux: http.NewServeMux()}
	for _, p := range []string{"login", "home", "keys", "webhooks", "webhook", "delivery", "vault_list", "vault_entry", "vault_form",
		"monitor_list", "monitor", "monitor_form", "integrations", "integration", "vehicle_list", "vehicle", "vehicle_form", "vuln_list", "asset_list", "asset", "asset_form", "org_list", "search", "users", "invite", "roles", "audit",
		"login_code", "twofactor", "profile"} {
		h.pages[p] = template.Must(template.New(p).Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/partials.html",
			"templates/"+p+".html"))
	}
	static, _ := fs.Sub(assets, "static")
	h.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	h.mux.HandleFunc("GET /login", h.loginPage)
	h.mux.HandleFunc("POST /login", h.login)
	h.mux.HandleFunc("POST /logout", h.logout)
	// Two-factor sign-in, Profile → Account (password, sessions) and Profile → Two-factor: login.go,
	// profile.go, twofactor.go. A session that must enrol reaches only the two-factor pages.
	h.mux.HandleFunc("GET /login/code", h.loginCodePage)
	h.mux.HandleFunc("POST /login/code", h.loginCode)
	h.mux.HandleFunc("GET /profile", h.session(h.profilePage))
	h.mux.HandleFunc("POST /profile/password", h.session(h.changePassword))
	h.mux.HandleFunc("POST /profile/sessions/revoke", h.session(h.revokeSessions))
	h.mux.HandleFunc("GET "+twoFactorPath, h.session(h.twoFactorPage))
	h.mux.HandleFunc("POST "+twoFactorPath+"/setup", h.session(h.twoFactorSetup))
	h.mux.HandleFunc("POST "+twoFactorPath+"/confirm", h.session(h.twoFactorConfirm))
	h.mux.HandleFunc("POST "+twoFactorPath+"/recovery-codes", h.session(h.twoFactorRecovery))
	h.mux.HandleFunc("POST "+twoFactorPath+"/disable", h.session(h.twoFactorDisable))
	h.mux.HandleFunc("GET /{$}", h.session(h.home))
	h.mux.HandleFunc("GET /profile/keys", h.session(h.keysPage))
	h.mux.HandleFunc("POST /profile/keys", h.session(h.createKey))
	h.mux.HandleFunc("POST /profile/keys/{id}/revoke", h.session(h.revokeKey))
	h.mux.HandleFunc("GET /vault", h.session(h.vaultList))
	h.mux.HandleFunc("GET /vault/new", h.session(h.vaultNew))
	h.mux.HandleFunc("POST /vault/new", h.session(h.vaultCreate))
	h.mux.HandleFunc("GET /vault/{id}", h.session(h.vaultEntry))
	h.mux.HandleFunc("POST /vault/{id}/reveal", h.session(h.vaultReveal))
	h.mux.HandleFunc("GET /vault/{id}/edit", h.session(h.vaultEdit))
	h.mux.HandleFunc("POST /vault/{id}/edit", h.session(h.vaultUpdate))
	h.mux.HandleFunc("POST /vault/{id}/delete", h.session(h.vaultDelete))
	h.mux.HandleFunc("GET /monitors", h.session(h.monitorList))
	h.mux.HandleFunc("GET /monitors/new", h.session(h.monitorNew))
	h.mux.HandleFunc("POST /monitors/new", h.session(h.monitorCreate))
	h.mux.HandleFunc("GET /monitors/{id}", h.session(h.monitorPage))
	h.mux.HandleFunc("POST /monitors/{id}/check", h.session(h.monitorCheck))
	h.mux.HandleFunc("GET /monitors/{id}/edit", h.session(h.monitorEdit))
	h.mux.HandleFunc("POST /monitors/{id}/edit", h.session(h.monitorUpdate))
	h.mux.HandleFunc("POST /monitors/{id}/delete", h.session(h.monitorDelete))
	h.mux.HandleFunc("GET /vehicles", h.session(h.vehicleList))
	h.mux.HandleFunc("GET /vehicles/new", h.session(h.vehicleNew))
	h.mux.HandleFunc("POST /vehicles/new", h.session(vehicleForm.createPost(h)))
	h.mux.HandleFunc("GET /vehicles/{id}", h.session(h.vehiclePage))
	h.mux.HandleFunc("GET /vehicles/{id}/edit", h.session(vehicleForm.editPage(h)))
	h.mux.HandleFunc("POST /vehicles/{id}/edit", h.session(vehicleForm.updatePost(h)))
	h.mux.HandleFunc("POST /vehicles/{id}/delete", h.session(h.vehicleDelete))
	h.mux.HandleFunc("POST /vehicles/{id}/{log}", h.session(h.vehicleAddEntry))
	h.mux.HandleFunc("POST /org", h.session(h.switchOrg))
	h.mux.HandleFunc("GET /organizations", h.session(h.orgList))
	h.mux.HandleFunc("GET /search", h.session(h.search))
	h.mux.HandleFunc("GET /settings/users", h.session(h.usersPage))
	h.mux.HandleFunc("POST /settings/users/{action}", h.session(h.usersAction))
	h.mux.HandleFunc("GET /settings/roles", h.session(h.rolesPage))
	h.mux.HandleFunc("POST /settings/roles", h.session(h.createRole))
	h.mux.HandleFunc("GET /audit", h.session(h.auditPage))
	h.mux.HandleFunc("GET /invite/{token}", h.invitePage)
	h.mux.HandleFunc("POST /invite/{token}", h.acceptInvite)
	h.mux.HandleFunc("GET /assets", h.session(h.assetList))
	h.mux.HandleFunc("GET /assets/new", h.session(h.assetNew))
	h.mux.HandleFunc("POST /assets/new", h.session(assetForm.createPost(h)))
	h.mux.HandleFunc("GET /assets/{id}", h.session(h.assetPage))
	h.mux.HandleFunc("GET /assets/{id}/edit", h.session(assetForm.editPage(h)))
	h.mux.HandleFunc("POST /assets/{id}/edit", h.session(assetForm.updatePost(h)))
	h.mux.HandleFunc("POST /assets/{id}/delete", h.session(h.assetDelete))
	h.mux.HandleFunc("GET /vulnerabilities", h.session(h.vulnList))
	h.mux.HandleFunc("POST /vulnerabilities/scan", h.session(h.vulnScan))
	h.mux.HandleFunc("POST /vulnerabilities/{id}/status", h.session(h.vulnStatus))
	h.mux.HandleFunc("GET /settings/integrations", h.session(h.integrationsPage))
	h.mux.HandleFunc("POST /settings/integrations", h.session(h.integrationCreate))
	h.mux.HandleFunc("GET /settings/integrations/{id}", h.session(h.integrationPage))
	h.mux.HandleFunc("POST /settings/integrations/{id}", h.session(h.integrationUpdate))
	h.mux.HandleFunc("POST /settings/integrations/{id}/{action}", h.session(h.integrationAction))
	h.mux.HandleFunc("GET /settings/webhooks", h.session(h.webhooksPage))
	h.mux.HandleFunc("POST /settings/webhooks", h.session(h.createWebhook))
	h.mux.HandleFunc("GET /settings/webhooks/{id}", h.session(h.webhookPage))
	h.mux.HandleFunc("POST /settings/webhooks/{id}", h.session(h.updateWebhook))
	h.mux.HandleFunc("POST /settings/webhooks/{id}/{action}", h.session(h.webhookAction))
	h.mux.HandleFunc("GET /settings/webhooks/deliveries/{id}", h.session(h.deliveryPage))
	h.mux.HandleFunc("POST /settings/webhooks/deliveries/{id}/retry", h.session(h.retryDelivery))
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "same-origin")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'")
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, page string, v map[string]any) {
	if c := auth.CallerFrom(r.Context()); c != nil {
		v["User"] = &c.User
		oc := orgsOf(r.Context())
		// Switching returns to this page, without its own organization filter or page number.
		here := r.URL.Query()
		here.Del("organization")
		here.Del("page")
		back := r.URL.Path
		if r.Method != http.MethodGet {
			back = "/"
		} else if len(here) > 0 {
			back += "?" + here.Encode()
		}
		v["Switcher"] = map[string]any{"Orgs": oc.orgs, "Current": oc.current, "All": oc.all, "Here": back}
	}
	var buf bytes.Buffer
	if err := h.pages[page].ExecuteTemplate(&buf, "layout", v); err != nil {
		h.log.Error("render", "page", page, "err", err)
		http.Error(w, "Internal server error.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// session requires a signed-in user; others are sent to the login page and back afterwards.
func (h *Handler) session(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := h.authn.Authenticate(r, true)
		if err != nil || c.Key != nil {
			if apperr.Is(err, apperr.Internal) && err != nil {
				h.log.Error("session", "err", err)
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if c.NeedsTwoFactor && !enrolmentPath(r.URL.Path) { // two-factor is required: enrol first
			http.Redirect(w, r, twoFactorPath, http.StatusSeeOther)
			return
		}
		r = r.WithContext(auth.WithCaller(r.Context(), c))
		if r, err = h.withOrgs(r, c); err != nil {
			h.serverError(w, r, err)
			return
		}
		next(w, r)
	}
}

func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

func (h *Handler) serverError(w http.ResponseWriter, r *http.Request, err error) {
	h.log.Error("web", "path", r.URL.Path, "err", err)
	http.Error(w, "Internal server error.", http.StatusInternalServerError)
}
