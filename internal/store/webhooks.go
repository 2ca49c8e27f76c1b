package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
	"clientst0r/internal/list"
	"clientst0r/internal/vault"
)

// Webhook is a subscription of an organization's events by a receiver URL.
type Webhook struct {
	Scoped
	Name           string
	URL            string
	Events         []string
	IsActive       bool
	DisabledReason string
	// Secret is the plaintext signing secret, set only right after it was generated.
	Secret       string
	failingSince *time.Time
}

// WebhookSpec declares the webhooks list.
var WebhookSpec = list.Spec{
	DefaultOrder: "name",
	OrgScoped:    true,
	Fields: []list.Field{
		{Name: "id", Column: "w.id", Kind: list.Int, Order: true},
		{Name: "organization", Column: "w.organization_id", Kind: list.Int, Order: true},
		{Name: "name", Column: "w.name", Order: true},
		{Name: "url", Column: "w.url", Order: true},
		{Name: "is_active", Column: "w.is_active", Kind: list.Bool, Filter: true, Order: true},
		{Name: "event", Kind: list.Enum, Enum: EventNames, Filter: true, Where: "w.events LIKE '%\"' || ? || '\"%'"},
		{Name: "created_at", Column: "w.created_at", Kind: list.Time, Order: true, Range: true},
		{Name: "updated_at", Column: "w.updated_at", Kind: list.Time, Order: true, Range: true},
	},
}

var webhooks = &kind[Webhook, *Webhook]{
	table: "webhooks", alias: "w", object: "webhook", spec: &WebhookSpec,
	cols: []string{"name", "url", "events", "is_active", "disabled_reason", "failing_since"},
	values: func(w *Webhook) []any {
		ev, _ := json.Marshal(w.Events)
		return []any{w.Name, w.URL, string(ev), w.IsActive, w.DisabledReason, nullTime(w.failingSince)}
	},
	selectCols: "w.name, w.url, w.events, w.is_active, w.disabled_reason, w.failing_since",
	dest: func(w *Webhook) []any {
		return []any{&w.Name, &w.URL, (*jsonStrings)(&w.Events), &w.IsActive, &w.DisabledReason, &w.failingSince}
	},
	view: auth.WebhooksView, create: auth.WebhooksManage, edit: auth.WebhooksManage, remove: auth.WebhooksManage,
	prepare: prepareWebhook,
	fields: func(w *Webhook) map[string]any {
		return map[string]any{"name": w.Name, "url": w.URL, "events": strings.Join(w.Events, ","), "is_active": w.IsActive,
			"disabled_reason": w.DisabledReason}
	},
	repr:    func(w *Webhook) string { return w.Name },
	written: webhookWritten,
}

// jsonStrings reads a JSON array of strings from a text column.
type jsonStrings []string

func (j *jsonStrings) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("store: cannot read %T as a JSON list", src)
	}
	return json.Unmarshal(b, (*[]string)(j))
}

func prepareWebhook(ctx context.Context, q queryer, c *auth.Caller, w *Webhook) error {
	errs := apperr.FieldErrors{}
	w.Name = strings.TrimSpace(w.Name)
	if w.Name == "" || utf8.RuneCountInString(w.Name) > 100 {
		errs.Add("name", "Give the webhook a name of 1 to 100 characters.")
	}
	if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || len(w.URL) > 2000 {
		errs.Add("url", "Enter an absolute http or https URL (without credentials).")
	}
	seen := map[string]bool{}
	var events []string
	for _, e := range w.Events {
		if !slices.Contains(EventNames, e) {
			errs.Add("events", fmt.Sprintf("%q is not an event; choose from %s.", e, strings.Join(EventNames, ", ")))
		} else if !seen[e] {
			seen[e] = true
			events = append(events, e)
		}
	}
	if len(w.Events) == 0 {
		errs.Add("events", "Subscribe to at least one event.")
	}
	w.Events = events
	if w.IsActive {
		w.DisabledReason, w.failingSince = "", nil
	}
	return errs.Err()
}

// newWebhookSecret is a Standard Webhooks secret: whsec_ and base64 of 24 random bytes.
func newWebhookSecret() string {
	b := make([]byte, 24)
	rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

func secretBinding(w *Webhook, column string) vault.Binding {
	return vault.Binding{Table: "webhooks", Column: column, Org: w.OrgID, Row: w.ID}
}

// webhookWritten seals a new webhook's secret once its row id exists (the ciphertext is bound to it).
func webhookWritten(ctx context.Context, tx *sql.Tx, s *Store, before, after *Webhook) error {
	if before != nil || after == nil {
		return nil
	}
	after.Secret = newWebhookSecret()
	ct := s.keyring.Seal([]byte(after.Secret), secretBinding(after, "secret"))
	_, err := tx.ExecContext(ctx, `UPDATE webhooks SET secret = $1 WHERE id = $2`, ct, after.ID)
	return err
}

// ListWebhooks pages the webhooks the caller may view.
func (s *Store) ListWebhooks(ctx context.Context, q list.Query) ([]Webhook, int, error) {
	return listScoped(ctx, s, webhooks, q)
}

// GetWebhook reads one webhook (without its secret).
func (s *Store) GetWebhook(ctx context.Context, id int64) (Webhook, error) {
	return webhooks.get(ctx, s, id)
}

// CreateWebhook creates a webhook and returns it with its secret, shown this once.
func (s *Store) CreateWebhook(ctx context.Context, w Webhook) (Webhook, error) {
	return createScoped(ctx, s, webhooks, w)
}

// UpdateWebhook changes a webhook.
func (s *Store) UpdateWebhook(ctx context.Context, id int64, change func(*Webhook) error) (Webhook, error) {
	return updateScoped(ctx, s, webhooks, id, change)
}

// DeleteWebhook deletes a webhook and its delivery log.
func (s *Store) DeleteWebhook(ctx context.Context, id int64) error {
	return deleteScoped(ctx, s, webhooks, id)
}

// SecretOverlap is how long a rotated-out secret keeps signing alongside the new one.
const SecretOverlap = 24 * time.Hour

// RotateWebhookSecret generates a new secret; for 24 hours deliveries carry signatures with both.
func (s *Store) RotateWebhookSecret(ctx context.Context, id int64) (Webhook, error) {
	c, err := caller(ctx)
	if err != nil {
		return Webhook{}, err
	}
	var out Webhook
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		w, err := getScoped(ctx, s, webhooks, tx, c, id, true)
		if err != nil {
			return err
		}
		if !c.Can(w.OrgID, auth.WebhooksManage) {
			return apperr.ErrForbidden
		}
		var current []byte
		if err := tx.QueryRowContext(ctx, `SELECT secret FROM webhooks WHERE id = $1`, id).Scan(&current); err != nil {
			return err
		}
		old, err := s.keyring.OpenCT(ctx, current, secretBinding(w, "secret"))
		if err != nil {
			return fmt.Errorf("store: open webhook secret: %w", err)
		}
		w.Secret = newWebhookSecret()
		now := s.Now()
		_, err = tx.ExecContext(ctx, `UPDATE webhooks SET secret = $1, previous_secret = $2, secret_rotated_at = $3, updated_at = $3
			WHERE id = $4`, s.keyring.Seal([]byte(w.Secret), secretBinding(w, "secret")),
			s.keyring.Seal(old, secretBinding(w, "previous_secret")), now, id)
		if err != nil {
			return err
		}
		w.UpdatedAt, out = now, *w
		return s.audit(ctx, tx, &w.OrgID, "webhook.rotate_secret", "webhook", &w.ID, w.Name, Changes{"secret": nil})
	})
	s.changed("webhooks")
	return out, wrap(err, "rotate webhook secret")
}

// TestWebhook sends a webhook.test event to one webhook, whatever it subscribes to, and returns the
// queued delivery.
func (s *Store) TestWebhook(ctx context.Context, id int64) (Delivery, error) {
	c, err := caller(ctx)
	if err != nil {
		return Delivery{}, err
	}
	var deliveryID int64
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		w, err := getScoped(ctx, s, webhooks, tx, c, id, false)
		if err != nil {
			return err
		}
		if !c.Can(w.OrgID, auth.WebhooksManage) {
			return apperr.ErrForbidden
		}
		ids, err := s.insertEvent(ctx, tx, EventOrg{w.OrgID, w.OrgName}, EventWebhookTest,
			map[string]any{"webhook_id": w.ID, "name": w.Name, "message": "This is a test delivery from ClientSt0r."}, []int64{w.ID})
		if err != nil {
			return err
		}
		deliveryID = ids[0]
		return nil
	})
	if err != nil {
		return Delivery{}, wrap(err, "test webhook")
	}
	return s.GetDelivery(ctx, deliveryID)
}
