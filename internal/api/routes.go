package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"clientst0r/internal/list"
	"clientst0r/internal/store"
)

// Prefixes under which every endpoint is served: the canonical versioned base and the current one.
var prefixes = []string{"/api/v1/", "/api/"}

// endpoint declares one operation. The same declarations mount the routes, build the OpenAPI
// document and describe each page of the browsable API, so the three cannot disagree.
type endpoint struct {
	method  string
	path    string // under the prefix, without slashes at either end: "assets/{id}"
	handler http.HandlerFunc
	summary string
	in      any        // request body type, nil for none
	out     any        // response type (the item type for lists), nil for an empty 204
	status  int        // success status
	list    *list.Spec // set for list endpoints
	public  bool       // no authentication
}

func (h *Handler) routes() {
	h.endpoints = []endpoint{
		{method: "GET", path: "", handler: h.root, summary: "List the API's resources", out: map[string]string{}},
		{method: "GET", path: "schema", handler: h.schema, summary: "This OpenAPI document", out: map[string]any{}, public: true},
	}
	h.crud("organizations", "organization", Organization{}, &store.OrganizationSpec, crudHandlers{
		h.listOrganizations, h.createOrganization, h.getOrganization, h.replaceOrganization, h.patchOrganization, h.deleteOrganization})
	h.crud("assets", "asset", Asset{}, &store.AssetSpec, crudHandlers{
		h.listAssets, h.createAsset, h.getAsset, h.replaceAsset, h.patchAsset, h.deleteAsset})
	h.crud("passwords", "vault entry", Password{}, &store.PasswordSpec, crudHandlers{
		h.listPasswords, h.createPassword, h.getPassword, h.replacePassword, h.patchPassword, h.deletePassword})
	h.endpoints = append(h.endpoints,
		endpoint{method: "POST", path: "passwords/{id}/reveal", handler: h.revealPassword, out: Revealed{}, status: 200,
			summary: "Reveal an entry's password (needs vault.reveal; audited)"},
		endpoint{method: "GET", path: "passwords/{id}/otp", handler: h.passwordOTP, out: OTPCode{}, status: 200,
			summary: "Get an entry's current TOTP code (needs vault.reveal; audited)"},
	)
	h.crud("vehicles", "vehicle", Vehicle{}, &store.VehicleSpec, crudHandlers{
		h.listVehicles, h.createVehicle, h.getVehicle, h.replaceVehicle, h.patchVehicle, h.deleteVehicle})
	h.endpoints = append(h.endpoints, h.vehicleLogEndpoints()...)
	h.crud("monitors", "monitor", Monitor{}, &store.MonitorSpec, crudHandlers{
		h.listMonitors, h.createMonitor, h.getMonitor, h.replaceMonitor, h.patchMonitor, h.deleteMonitor})
	h.endpoints = append(h.endpoints,
		endpoint{method: "GET", path: "monitors/{id}/results", handler: h.listMonitorResults, out: CheckResult{}, status: 200,
			list: &store.MonitorResultSpec, summary: "List a monitor's check history"},
		endpoint{method: "POST", path: "monitors/{id}/check", handler: h.checkMonitor, out: CheckResult{}, status: 200,
			summary: "Run a monitor's check now and return its result"},
	)
	h.crud("integrations", "integration", Integration{}, &store.IntegrationSpec, crudHandlers{
		h.listIntegrations, h.createIntegration, h.getIntegration, h.replaceIntegration, h.patchIntegration, h.deleteIntegration})
	h.endpoints = append(h.endpoints,
		endpoint{method: "POST", path: "integrations/{id}/sync", handler: h.syncIntegration, out: SyncRun{}, status: 202,
			summary: "Start a sync now (?dry_run=true reports what it would change)"},
		endpoint{method: "POST", path: "integrations/{id}/test", handler: h.testIntegration, out: ConnectionTest{}, status: 200,
			summary: "Test the connection and credentials"},
		endpoint{method: "GET", path: "integrations/{id}/runs", handler: h.listRuns, out: SyncRun{}, status: 200, list: &store.RunSpec,
			summary: "List an integration's sync runs"},
		endpoint{method: "GET", path: "integrations/{id}/devices", handler: h.listRMMDevices, out: RMMDevice{}, status: 200,
			list: &store.RMMDeviceSpec, summary: "List an integration's vendor devices and their assets"},
		endpoint{method: "GET", path: "rmm-alerts", handler: h.listRMMAlerts, out: RMMAlert{}, status: 200, list: &store.RMMAlertSpec,
			summary: "List RMM alerts (Datto)"},
	)
	h.crud("vulnerabilities", "vulnerability", Vulnerability{}, &store.VulnerabilitySpec, crudHandlers{
		list: h.listVulnerabilities, get: h.getVulnerability, patch: h.patchVulnerability})
	h.endpoints = append(h.endpoints, h.vulnerabilityEndpoints()...)
	h.crud("webhooks", "webhook", Webhook{}, &store.WebhookSpec, crudHandlers{
		h.listWebhooks, h.createWebhook, h.getWebhook, h.replaceWebhook, h.patchWebhook, h.deleteWebhook})
	h.endpoints = append(h.endpoints,
		endpoint{method: "POST", path: "webhooks/{id}/rotate-secret", handler: h.rotateWebhookSecret, out: Webhook{}, status: 200,
			summary: "Generate a new signing secret (shown once); the old one keeps signing for 24 hours"},
		endpoint{method: "POST", path: "webhooks/{id}/test", handler: h.testWebhook, out: Delivery{}, status: 201,
			summary: "Send a webhook.test event to this webhook"},
		endpoint{method: "GET", path: "webhooks/{id}/deliveries", handler: h.listDeliveries, out: Delivery{}, status: 200,
			list: &store.DeliverySpec, summary: "List a webhook's deliveries (the delivery log)"},
		endpoint{method: "GET", path: "webhook-deliveries/{id}", handler: h.getDelivery, out: Delivery{}, status: 200,
			summary: "Get a delivery"},
		endpoint{method: "POST", path: "webhook-deliveries/{id}/retry", handler: h.retryDelivery, out: Delivery{}, status: 202,
			summary: "Send a delivery again now, with the same event id"},
	)
	h.crud("keys", "API key", APIKey{}, &store.APIKeySpec, crudHandlers{
		list: h.listKeys, create: h.createKey, get: h.getKey, patch: h.patchKey, remove: h.revokeKey})
	h.crud("roles", "role", Role{}, &store.RoleSpec, crudHandlers{
		h.listRoles, h.createRole, h.getRole, h.replaceRole, h.patchRole, h.deleteRole})
	h.crud("audit", "audit entry", AuditEntry{}, &store.AuditSpec, crudHandlers{list: h.listAudit})
	h.mount()
}

// crudHandlers are a collection's standard operations; nil ones are not offered.
type crudHandlers struct {
	list, create, get, replace, patch, remove http.HandlerFunc
}

// crud declares a collection at path and its items at path/{id}.
func (h *Handler) crud(path, noun string, typ any, spec *list.Spec, c crudHandlers) {
	item := path + "/{id}"
	add := func(method, p string, fn http.HandlerFunc, summary string, in, out any, status int, l *list.Spec) {
		if fn != nil {
			h.endpoints = append(h.endpoints, endpoint{method: method, path: p, handler: fn, summary: summary, in: in, out: out, status: status, list: l})
		}
	}
	add("GET", path, c.list, "List "+plural(noun), nil, typ, 200, spec)
	add("POST", path, c.create, "Create "+article(noun)+" "+noun, typ, typ, 201, nil)
	add("GET", item, c.get, "Get "+article(noun)+" "+noun, nil, typ, 200, nil)
	add("PUT", item, c.replace, "Replace "+article(noun)+" "+noun, typ, typ, 200, nil)
	add("PATCH", item, c.patch, "Update some fields of "+article(noun)+" "+noun, typ, typ, 200, nil)
	add("DELETE", item, c.remove, "Delete "+article(noun)+" "+noun, nil, nil, 204, nil)
}

func plural(noun string) string {
	if strings.HasSuffix(noun, "y") {
		return noun[:len(noun)-1] + "ies"
	}
	return noun + "s"
}

func article(noun string) string {
	if strings.ContainsRune("aeiouAEIOU", rune(noun[0])) {
		return "an"
	}
	return "a"
}

// mount registers every endpoint under both prefixes, with and without the trailing slash, with a
// DRF 405 (and its Allow header) for the methods a path does not have.
func (h *Handler) mount() {
	byPath := map[string][]endpoint{}
	var paths []string
	for _, e := range h.endpoints {
		if byPath[e.path] == nil {
			paths = append(paths, e.path)
		}
		byPath[e.path] = append(byPath[e.path], e)
	}
	for _, path := range paths {
		eps := byPath[path]
		allow := allowed(eps)
		for _, prefix := range prefixes {
			for _, pattern := range patterns(prefix, path) {
				for _, e := range eps {
					fn := e.handler
					if !e.public {
						if e.method != http.MethodGet {
							fn = h.idempotent(fn)
						}
						fn = h.authed(fn)
					}
					h.mux.HandleFunc(e.method+" "+pattern, h.describe(e, eps, fn))
				}
				// The other methods are registered one by one rather than with a method-less
				// pattern, which would conflict with a sibling's {id} (vulnerabilities/scan).
				for _, m := range standardMethods {
					if !strings.Contains(", "+allow+", ", ", "+m+", ") || m == http.MethodOptions {
						h.mux.HandleFunc(m+" "+pattern, func(w http.ResponseWriter, r *http.Request) {
							w.Header().Set("Allow", allow)
							if r.Method == http.MethodOptions {
								w.WriteHeader(http.StatusNoContent)
								return
							}
							h.writeJSON(w, r, http.StatusMethodNotAllowed, map[string]string{"detail": fmt.Sprintf("Method %q not allowed.", r.Method)})
						})
					}
				}
			}
		}
	}
	for _, prefix := range prefixes {
		h.mux.HandleFunc(prefix, func(w http.ResponseWriter, r *http.Request) {
			h.writeJSON(w, r, http.StatusNotFound, map[string]string{"detail": "Not found."})
		})
	}
	h.mux.HandleFunc("GET /api/docs/{$}", h.docs)
	h.mux.HandleFunc("GET /api/docs", h.docs)
}

var standardMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodOptions, http.MethodTrace}

// patterns gives the ServeMux patterns for a path under a prefix: with the trailing slash (exact
// match) and without it.
func patterns(prefix, path string) []string {
	if path == "" {
		return []string{prefix + "{$}", strings.TrimSuffix(prefix, "/")}
	}
	return []string{prefix + path + "/{$}", prefix + path}
}

func allowed(eps []endpoint) string {
	var out []string
	for _, e := range eps {
		out = append(out, e.method)
		if e.method == http.MethodGet {
			out = append(out, http.MethodHead)
		}
	}
	out = append(out, http.MethodOptions)
	slices.Sort(out)
	return strings.Join(out, ", ")
}
