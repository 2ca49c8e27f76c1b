package api

import (
	"net/http"
	"time"

	"clientst0r/internal/list"
	"clientst0r/internal/store"
)

// Webhook is the API shape of a webhook. Secret is present only in the responses that create it.
type Webhook struct {
	ID               int64     `json:"id" api:"ro"`
	Organization     int64     `json:"organization" api:"create-only"`
	OrganizationName string    `json:"organization_name" api:"ro"`
	Name             string    `json:"name" api:"req"`
	URL              string    `json:"url" api:"req,uri"`
	Events           []string  `json:"events" api:"req"`
	IsActive         bool      `json:"is_active"`
	Secret           string    `json:"secret,omitempty" api:"ro"`
	DisabledReason   string    `json:"disabled_reason" api:"ro"`
	CreatedAt        time.Time `json:"created_at" api:"ro"`
	UpdatedAt        time.Time `json:"updated_at" api:"ro"`
}

// Delivery is the API shape of one entry of a webhook's delivery log.
type Delivery struct {
	ID             int64      `json:"id" api:"ro"`
	Webhook        int64      `json:"webhook" api:"ro"`
	Event          string     `json:"event" api:"ro"`
	EventID        string     `json:"event_id" api:"ro"`
	Status         string     `json:"status" api:"ro"`
	Attempts       int        `json:"attempts" api:"ro"`
	ResponseStatus *int       `json:"response_status" api:"ro"`
	ResponseBody   string     `json:"response_body" api:"ro"`
	DurationMS     *int       `json:"duration_ms" api:"ro"`
	Error          string     `json:"error" api:"ro"`
	NextAttemptAt  *time.Time `json:"next_attempt_at" api:"ro"`
	CreatedAt      time.Time  `json:"created_at" api:"ro"`
	DeliveredAt    *time.Time `json:"delivered_at" api:"ro"`
}

func (h *Handler) webhook(_ *http.Request, w store.Webhook) Webhook {
	events := w.Events
	if events == nil {
		events = []string{}
	}
	return Webhook{ID: w.ID, Organization: w.OrgID, OrganizationName: w.OrgName, Name: w.Name, URL: w.URL, Events: events,
		IsActive: w.IsActive, Secret: w.Secret, DisabledReason: w.DisabledReason, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
}

func (h *Handler) delivery(_ *http.Request, d store.Delivery) Delivery {
	return Delivery{ID: d.ID, Webhook: d.WebhookID, Event: d.Event, EventID: d.EventID, Status: d.Status, Attempts: d.Attempts,
		ResponseStatus: d.ResponseStatus, ResponseBody: d.ResponseBody, DurationMS: d.DurationMS, Error: d.Error,
		NextAttemptAt: d.NextAttemptAt, CreatedAt: d.CreatedAt, DeliveredAt: d.DeliveredAt}
}

func applyWebhook(b *body, w *store.Webhook, replace bool) {
	if replace {
		*w = store.Webhook{Scoped: w.Scoped, IsActive: true}
		b.require("name", "url", "events")
	}
	b.org(&w.OrgID)
	b.str("name", &w.Name)
	b.str("url", &w.URL)
	b.strings("events", &w.Events)
	b.boolean("is_active", &w.IsActive)
	b.readOnly("id", "secret", "disabled_reason", "created_at", "updated_at")
}

func (h *Handler) listWebhooks(w http.ResponseWriter, r *http.Request) {
	serveList(h, w, r, &store.WebhookSpec, func(q list.Query) ([]store.Webhook, int, error) {
		return h.store.ListWebhooks(r.Context(), q)
	}, func(wh store.Webhook) Webhook { return h.webhook(r, wh) })
}

func (h *Handler) getWebhook(w http.ResponseWriter, r *http.Request) {
	get(h, w, r, h.store.GetWebhook, h.webhook)
}

func (h *Handler) createWebhook(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	create(h, w, r, applyWebhook, h.store.CreateWebhook, h.webhook, "webhooks", func(wh store.Webhook) int64 { return wh.ID })
}

func (h *Handler) replaceWebhook(w http.ResponseWriter, r *http.Request) {
	update(h, w, r, true, applyWebhook, h.store.UpdateWebhook, h.webhook)
}

func (h *Handler) patchWebhook(w http.ResponseWriter, r *http.Request) {
	update(h, w, r, false, applyWebhook, h.store.UpdateWebhook, h.webhook)
}

func (h *Handler) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	remove(h, w, r, h.store.DeleteWebhook)
}

func (h *Handler) rotateWebhookSecret(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	action(h, w, r, http.StatusOK, h.store.RotateWebhookSecret, h.webhook)
}

func (h *Handler) testWebhook(w http.ResponseWriter, r *http.Request) {
	action(h, w, r, http.StatusCreated, h.store.TestWebhook, h.delivery)
}

func (h *Handler) listDeliveries(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	serveList(h, w, r, &store.DeliverySpec, func(q list.Query) ([]store.Delivery, int, error) {
		return h.store.ListDeliveries(r.Context(), id, q)
	}, func(d store.Delivery) Delivery { return h.delivery(r, d) })
}

func (h *Handler) getDelivery(w http.ResponseWriter, r *http.Request) {
	get(h, w, r, h.store.GetDelivery, h.delivery)
}

func (h *Handler) retryDelivery(w http.ResponseWriter, r *http.Request) {
	action(h, w, r, http.StatusAccepted, h.store.RetryDelivery, h.delivery)
}
