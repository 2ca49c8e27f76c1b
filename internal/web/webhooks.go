package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
	"clientst0r/internal/list"
	"clientst0r/internal/store"
)

// Settings → Webhooks: the list with a create form, one webhook with its delivery log, and one
// delivery with its payload, attempts and a Retry button.

func (h *Handler) webhooksPage(w http.ResponseWriter, r *http.Request) {
	h.renderWebhooks(w, r, http.StatusOK, map[string]any{"Form": webhookForm{Events: map[string]bool{}}})
}

type webhookForm struct {
	Org    int64
	Name   string
	URL    string
	Events map[string]bool
	Active bool
}

func readWebhookForm(r *http.Request) (webhookForm, []string) {
	f := webhookForm{Name: r.PostForm.Get("name"), URL: r.PostForm.Get("url"), Events: map[string]bool{},
		Active: r.PostForm.Get("is_active") != ""}
	f.Org, _ = strconv.ParseInt(r.PostForm.Get("organization"), 10, 64)
	var events []string
	for _, e := range r.PostForm["events"] {
		f.Events[e] = true
		events = append(events, e)
	}
	return f, events
}

func (h *Handler) renderWebhooks(w http.ResponseWriter, r *http.Request, status int, v map[string]any) {
	ctx := r.Context()
	hooks, n, err := h.store.ListWebhooks(ctx, list.Query{Page: 1, PageSize: list.MaxPageSize,
		Order: []list.OrderBy{{Column: "o.name"}, {Column: "w.name"}, {Column: "w.id"}}})
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	manageable := h.orgsWith(r, auth.WebhooksManage)
	v["Title"], v["Hooks"], v["HookCount"], v["Orgs"], v["EventNames"] = "Webhooks", hooks, n, manageable, store.EventNames
	h.render(w, r, status, "webhooks", v)
}

func (h *Handler) createWebhook(w http.ResponseWriter, r *http.Request) {
	if !h.parseForm(w, r) {
		return
	}
	f, events := readWebhookForm(r)
	wh, err := h.store.CreateWebhook(r.Context(), store.Webhook{Scoped: store.Scoped{OrgID: f.Org}, Name: f.Name, URL: f.URL,
		Events: events, IsActive: true})
	if err != nil {
		if e, ok := apperr.As(err); ok && e.Kind != apperr.Internal {
			h.renderWebhooks(w, r, statusOf(e), map[string]any{"Form": f, "Error": errorText(e)})
			return
		}
		h.serverError(w, r, err)
		return
	}
	h.renderWebhook(w, r, http.StatusCreated, wh.ID, map[string]any{"Secret": wh.Secret})
}

// statusOf is the HTTP status of an application error shown on a page.
func statusOf(e *apperr.Error) int {
	switch e.Kind {
	case apperr.Forbidden:
		return http.StatusForbidden
	case apperr.NotFound:
		return http.StatusNotFound
	}
	return http.StatusBadRequest
}

func (h *Handler) parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "Bad form.", http.StatusBadRequest)
		return false
	}
	return true
}

func pathInt(r *http.Request, name string) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	return id, err == nil && id > 0
}

func (h *Handler) webhookPage(w http.ResponseWriter, r *http.Request) {
	id, ok := pathInt(r, "id")
	if !ok {
		http.NotFound(w, r)
		return
	}
	h.renderWebhook(w, r, http.StatusOK, id, map[string]any{})
}

// renderWebhook shows one webhook, its edit form and its delivery log (filtered by status/event).
func (h *Handler) renderWebhook(w http.ResponseWriter, r *http.Request, status int, id int64, v map[string]any) {
	ctx := r.Context()
	wh, err := h.store.GetWebhook(ctx, id)
	if err != nil {
		h.pageError(w, r, err)
		return
	}
	q := url.Values{}
	for _, k := range []string{"status", "event", "page"} {
		if val := r.URL.Query().Get(k); val != "" {
			q.Set(k, val)
		}
	}
	lq, err := list.Parse(&store.DeliverySpec, q)
	if err != nil {
		lq, _ = list.Parse(&store.DeliverySpec, url.Values{})
	}
	deliveries, n, err := h.store.ListDeliveries(ctx, id, lq)
	if err != nil && !apperr.Is(err, apperr.NotFound) {
		h.serverError(w, r, err)
		return
	}
	events := map[string]bool{}
	for _, e := range wh.Events {
		events[e] = true
	}
	v["Title"], v["Hook"], v["Deliveries"], v["DeliveryCount"] = wh.Name, wh, deliveries, n
	v["EventNames"], v["Statuses"], v["Filter"] = store.EventNames, store.DeliveryStatuses, q
	v["CanManage"] = auth.CallerFrom(ctx).Can(wh.OrgID, auth.WebhooksManage)
	if v["Form"] == nil {
		v["Form"] = webhookForm{Name: wh.Name, URL: wh.URL, Events: events, Active: wh.IsActive}
	}
	if lq.Page*lq.PageSize < n {
		next := url.Values{}
		for k := range q {
			next.Set(k, q.Get(k))
		}
		next.Set("page", strconv.Itoa(lq.Page+1))
		v["NextPage"] = "?" + next.Encode()
	}
	h.render(w, r, status, "webhook", v)
}

// pageError shows a 404 for what the caller may not see and a 403 for what they may not do.
func (h *Handler) pageError(w http.ResponseWriter, r *http.Request, err error) {
	if e, ok := apperr.As(err); ok && e.Kind != apperr.Internal {
		http.Error(w, e.Detail, statusOf(e))
		return
	}
	h.serverError(w, r, err)
}

func (h *Handler) updateWebhook(w http.ResponseWriter, r *http.Request) {
	id, ok := pathInt(r, "id")
	if !ok || !h.parseForm(w, r) {
		http.NotFound(w, r)
		return
	}
	f, events := readWebhookForm(r)
	_, err := h.store.UpdateWebhook(r.Context(), id, func(wh *store.Webhook) error {
		wh.Name, wh.URL, wh.Events, wh.IsActive = f.Name, f.URL, events, f.Active
		return nil
	})
	if err != nil {
		if e, ok := apperr.As(err); ok && e.Kind == apperr.Invalid {
			h.renderWebhook(w, r, http.StatusBadRequest, id, map[string]any{"Form": f, "Error": errorText(e)})
			return
		}
		h.pageError(w, r, err)
		return
	}
	http.Redirect(w, r, "/settings/webhooks/"+strconv.FormatInt(id, 10), http.StatusSeeOther)
}

func (h *Handler) webhookAction(w http.ResponseWriter, r *http.Request) {
	id, ok := pathInt(r, "id")
	if !ok {
		http.NotFound(w, r)
		return
	}
	ctx := r.Context()
	switch r.PathValue("action") {
	case "rotate":
		wh, err := h.store.RotateWebhookSecret(ctx, id)
		if err != nil {
			h.pageError(w, r, err)
			return
		}
		h.renderWebhook(w, r, http.StatusOK, id, map[string]any{"Secret": wh.Secret,
			"Flash": "New secret generated. The old one keeps signing for 24 hours, alongside it."})
	case "test":
		if _, err := h.store.TestWebhook(ctx, id); err != nil {
			h.pageError(w, r, err)
			return
		}
		http.Redirect(w, r, "/settings/webhooks/"+strconv.FormatInt(id, 10), http.StatusSeeOther)
	case "delete":
		if err := h.store.DeleteWebhook(ctx, id); err != nil {
			h.pageError(w, r, err)
			return
		}
		http.Redirect(w, r, "/settings/webhooks", http.StatusSeeOther)
	default:
		http.NotFound(w, r)
	}
}

func (h *Handler) deliveryPage(w http.ResponseWriter, r *http.Request) {
	id, ok := pathInt(r, "id")
	if !ok {
		http.NotFound(w, r)
		return
	}
	d, payload, attempts, err := h.store.DeliveryDetail(r.Context(), id)
	if err != nil {
		h.pageError(w, r, err)
		return
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, []byte(payload), "", "  ") != nil {
		pretty.WriteString(payload)
	}
	h.render(w, r, http.StatusOK, "delivery", map[string]any{"Title": "Delivery " + d.EventID, "D": d, "Payload": pretty.String(),
		"Attempts": attempts, "CanManage": auth.CallerFrom(r.Context()).Can(d.OrgID, auth.WebhooksManage)})
}

func (h *Handler) retryDelivery(w http.ResponseWriter, r *http.Request) {
	id, ok := pathInt(r, "id")
	if !ok {
		http.NotFound(w, r)
		return
	}
	d, err := h.store.RetryDelivery(r.Context(), id)
	if err != nil {
		h.pageError(w, r, err)
		return
	}
	back := "/settings/webhooks/" + strconv.FormatInt(d.WebhookID, 10)
	if ref := r.PostFormValue("back"); strings.HasPrefix(ref, "/settings/webhooks/") {
		back = ref
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}
