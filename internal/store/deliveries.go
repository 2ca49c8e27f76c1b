package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
	"clientst0r/internal/list"
)

// Delivery is one event sent to one webhook, with the state of its attempts.
type Delivery struct {
	ID             int64
	OrgID          int64
	WebhookID      int64
	Event          string
	EventID        string
	Status         string // pending, retrying, succeeded, failed
	Attempts       int
	ResponseStatus *int
	ResponseBody   string
	DurationMS     *int
	Error          string
	NextAttemptAt  *time.Time
	CreatedAt      time.Time
	DeliveredAt    *time.Time
}

// DeliveryStatuses are the values of a delivery's status.
var DeliveryStatuses = []string{"pending", "retrying", "succeeded", "failed"}

// DeliverySpec declares a webhook's delivery log.
var DeliverySpec = list.Spec{
	DefaultOrder: "-id",
	Fields: []list.Field{
		{Name: "id", Column: "d.id", Kind: list.Int, Order: true},
		{Name: "event", Column: "d.event", Kind: list.Enum, Enum: append(EventNames, EventWebhookTest), Filter: true, Order: true},
		{Name: "status", Column: "d.status", Kind: list.Enum, Enum: DeliveryStatuses, Filter: true, Order: true},
		{Name: "attempts", Column: "d.attempts", Kind: list.Int, Order: true},
		{Name: "response_status", Column: "d.response_status", Kind: list.Int, Filter: true, Order: true, Nullable: true},
		{Name: "next_attempt_at", Column: "d.next_attempt_at", Kind: list.Time, Order: true, Nullable: true},
		{Name: "created_at", Column: "d.created_at", Kind: list.Time, Order: true, Range: true},
		{Name: "delivered_at", Column: "d.delivered_at", Kind: list.Time, Order: true, Nullable: true},
	},
}

const deliveryColumns = `d.id, d.organization_id, d.webhook_id, d.event, e.public_id, d.status, d.attempts, d.response_status,
	d.response_body, d.duration_ms, d.error, d.next_attempt_at, d.created_at, d.delivered_at`

const deliveryFrom = `webhook_deliveries d JOIN events e ON e.id = d.event_id`

func scanDelivery(r rowScanner) (Delivery, error) {
	var d Delivery
	err := r.Scan(&d.ID, &d.OrgID, &d.WebhookID, &d.Event, &d.EventID, &d.Status, &d.Attempts, &d.ResponseStatus,
		&d.ResponseBody, &d.DurationMS, &d.Error, &d.NextAttemptAt, &d.CreatedAt, &d.DeliveredAt)
	d.CreatedAt = d.CreatedAt.UTC()
	for _, t := range []*time.Time{d.NextAttemptAt, d.DeliveredAt} {
		if t != nil {
			*t = t.UTC()
		}
	}
	return d, err
}

// ListDeliveries pages a webhook's delivery log.
func (s *Store) ListDeliveries(ctx context.Context, webhookID int64, q list.Query) ([]Delivery, int, error) {
	if _, err := s.GetWebhook(ctx, webhookID); err != nil {
		return nil, 0, err
	}
	l := listing{table: "webhook_deliveries", alias: "d", from: deliveryFrom, columns: deliveryColumns}
	l.where.add("d.webhook_id = ?", webhookID)
	var out []Delivery
	n, err := s.runList(ctx, &DeliverySpec, q, &l, func(r *sql.Rows) error {
		d, err := scanDelivery(r)
		out = append(out, d)
		return err
	})
	return out, n, err
}

// GetDelivery reads one delivery of a webhook the caller may view.
func (s *Store) GetDelivery(ctx context.Context, id int64) (Delivery, error) {
	c, err := caller(ctx)
	if err != nil {
		return Delivery{}, err
	}
	d, err := scanDelivery(s.r.QueryRowContext(ctx, `SELECT `+deliveryColumns+` FROM `+deliveryFrom+` WHERE d.id = $1`, id))
	if err != nil {
		return d, notFound(err, "get delivery")
	}
	if !c.Can(d.OrgID, auth.WebhooksView) {
		return Delivery{}, apperr.ErrNotFound
	}
	return d, nil
}

// RetryDelivery sends a delivery again now, with the same event id.
func (s *Store) RetryDelivery(ctx context.Context, id int64) (Delivery, error) {
	d, err := s.GetDelivery(ctx, id)
	if err != nil {
		return d, err
	}
	if c := auth.CallerFrom(ctx); !c.Can(d.OrgID, auth.WebhooksManage) {
		return d, apperr.ErrForbidden
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		now := s.Now()
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $1, updated_at = $1
			WHERE id = $2`, now, id); err != nil {
			return err
		}
		if err := s.enqueuer.InsertTx(ctx, tx, DeliverArgs{DeliveryID: id}, now); err != nil {
			return err
		}
		return s.audit(ctx, tx, &d.OrgID, "webhook.retry", "webhook_delivery", &d.ID, d.Event+" "+d.EventID, nil)
	})
	if err != nil {
		return d, wrap(err, "retry delivery")
	}
	return s.GetDelivery(ctx, id)
}

// Attempt is what the delivery worker needs for one attempt.
type Attempt struct {
	DeliveryID int64
	Status     string
	Attempts   int
	WebhookID  int64
	URL        string
	Active     bool
	EventID    string
	Payload    []byte
	// Secrets sign the body: the current one, and the previous one during a rotation's overlap.
	Secrets []string
}

// PrepareAttempt loads a delivery for an attempt. It needs no caller: the job queue runs it.
func (s *Store) PrepareAttempt(ctx context.Context, deliveryID int64) (*Attempt, error) {
	a := &Attempt{DeliveryID: deliveryID}
	var (
		org          int64
		payload      string
		secret, prev []byte
		rotated      *time.Time
	)
	err := s.r.QueryRowContext(ctx, `SELECT d.status, d.attempts, w.id, w.organization_id, w.url, w.is_active, w.secret,
		w.previous_secret, w.secret_rotated_at, e.public_id, e.payload
		FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id JOIN events e ON e.id = d.event_id WHERE d.id = $1`,
		deliveryID).Scan(&a.Status, &a.Attempts, &a.WebhookID, &org, &a.URL, &a.Active, &secret, &prev, &rotated, &a.EventID, &payload)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil // deleted with its webhook: nothing to do
	}
	if err != nil {
		return nil, wrap(err, "prepare attempt")
	}
	a.Payload = []byte(payload)
	w := &Webhook{Scoped: Scoped{ID: a.WebhookID, OrgID: org}}
	cur, err := s.keyring.OpenCT(ctx, secret, secretBinding(w, "secret"))
	if err != nil {
		return nil, fmt.Errorf("store: webhook %d secret: %w", a.WebhookID, err)
	}
	a.Secrets = []string{string(cur)}
	if prev != nil && rotated != nil && s.Now().Sub(*rotated) < SecretOverlap {
		old, err := s.keyring.OpenCT(ctx, prev, secretBinding(w, "previous_secret"))
		if err != nil {
			return nil, fmt.Errorf("store: webhook %d previous secret: %w", a.WebhookID, err)
		}
		a.Secrets = append(a.Secrets, string(old))
	}
	return a, nil
}

// Outcome is the result of one attempt and what happens next.
type Outcome struct {
	ResponseStatus *int
	ResponseBody   string
	Duration       time.Duration
	Error          string
	Succeeded      bool
	// Gone disables the webhook (the receiver answered 410).
	Gone bool
	// NextAttempt schedules a retry; nil after a failure means the delivery has failed for good.
	NextAttempt *time.Time
}

// FailingDisableAfter is how long a webhook may fail every delivery before it is disabled.
const FailingDisableAfter = 5 * 24 * time.Hour

// RecordAttempt logs an attempt and moves the delivery (and, when needed, its webhook) on: retry
// scheduled in the same transaction, success, or failure for good.
func (s *Store) RecordAttempt(ctx context.Context, a *Attempt, o Outcome) error {
	now := s.Now()
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var ms *int
		if o.Duration > 0 || o.ResponseStatus != nil {
			v := int(o.Duration / time.Millisecond)
			ms = &v
		}
		body := truncate(o.ResponseBody, 1024)
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_attempts (delivery_id, attempted_at, response_status, response_body,
			duration_ms, error) VALUES ($1, $2, $3, $4, $5, $6)`, a.DeliveryID, now, o.ResponseStatus, body, durationMS(ms), clean(o.Error, 1000)); err != nil {
			return err
		}
		status, delivered, next := "failed", (*time.Time)(nil), o.NextAttempt
		switch {
		case o.Succeeded:
			status, delivered, next = "succeeded", &now, nil
		case o.NextAttempt != nil:
			status = "retrying"
		}
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1, response_status = $2,
			response_body = $3, duration_ms = $4, error = $5, next_attempt_at = $6, delivered_at = COALESCE($7, delivered_at),
			updated_at = $8 WHERE id = $9`, status, o.ResponseStatus, body, ms, clean(o.Error, 1000), nullTime(next),
			nullTime(delivered), now, a.DeliveryID); err != nil {
			return err
		}
		if next != nil {
			if err := s.enqueuer.InsertTx(ctx, tx, DeliverArgs{DeliveryID: a.DeliveryID}, *next); err != nil {
				return err
			}
		}
		return s.webhookHealth(ctx, tx, a.WebhookID, o, now)
	})
	s.changed("webhooks")
	return wrap(err, "record attempt")
}

func durationMS(ms *int) int {
	if ms == nil {
		return 0
	}
	return *ms
}

// webhookHealth clears the failure clock on success, and disables a webhook that answered 410 or
// has failed every delivery for FailingDisableAfter.
func (s *Store) webhookHealth(ctx context.Context, tx *sql.Tx, id int64, o Outcome, now time.Time) error {
	if o.Succeeded {
		_, err := tx.ExecContext(ctx, `UPDATE webhooks SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL`, id)
		return err
	}
	var since *time.Time
	if err := tx.QueryRowContext(ctx, `SELECT failing_since FROM webhooks WHERE id = $1`, id).Scan(&since); err != nil {
		return notFound(err, "webhook health")
	}
	reason := ""
	switch {
	case o.Gone:
		reason = "Disabled on " + now.Format(time.RFC3339) + ": the receiver answered 410 Gone."
	case since != nil && now.Sub(*since) >= FailingDisableAfter:
		reason = fmt.Sprintf("Disabled on %s: every delivery failed for 5 days (last error: %s).", now.Format(time.RFC3339), truncate(o.Error, 200))
	}
	if reason != "" {
		_, err := tx.ExecContext(ctx, `UPDATE webhooks SET is_active = FALSE, disabled_reason = $1, updated_at = $2 WHERE id = $3`, reason, now, id)
		return err
	}
	if since == nil {
		_, err := tx.ExecContext(ctx, `UPDATE webhooks SET failing_since = $1 WHERE id = $2`, now, id)
		return err
	}
	return nil
}

// PruneDeliveries deletes attempts older than keep, finished deliveries older than keep and events
// no delivery refers to any more. The retention job runs it.
func (s *Store) PruneDeliveries(ctx context.Context, keep time.Duration) (int64, error) {
	cutoff := s.Now().Add(-keep)
	var n int64
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{
			`DELETE FROM webhook_attempts WHERE attempted_at < $1`,
			`DELETE FROM webhook_deliveries WHERE created_at < $1 AND status IN ('succeeded', 'failed')`,
			`DELETE FROM events WHERE created_at < $1 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = events.id)`,
		} {
			res, err := tx.ExecContext(ctx, q, cutoff)
			if err != nil {
				return err
			}
			k, _ := res.RowsAffected()
			n += k
		}
		return nil
	})
	return n, wrap(err, "prune deliveries")
}

// AttemptLog is one logged attempt of a delivery.
type AttemptLog struct {
	AttemptedAt    time.Time
	ResponseStatus *int
	ResponseBody   string
	DurationMS     int
	Error          string
}

// DeliveryDetail returns the event body a delivery sends and every attempt made, newest first.
func (s *Store) DeliveryDetail(ctx context.Context, id int64) (Delivery, string, []AttemptLog, error) {
	d, err := s.GetDelivery(ctx, id)
	if err != nil {
		return d, "", nil, err
	}
	var payload string
	if err := s.r.QueryRowContext(ctx, `SELECT e.payload FROM webhook_deliveries d JOIN events e ON e.id = d.event_id WHERE d.id = $1`,
		id).Scan(&payload); err != nil {
		return d, "", nil, notFound(err, "delivery payload")
	}
	rows, err := s.r.QueryContext(ctx, `SELECT attempted_at, response_status, response_body, duration_ms, error
		FROM webhook_attempts WHERE delivery_id = $1 ORDER BY id DESC LIMIT 50`, id)
	if err != nil {
		return d, "", nil, wrap(err, "attempts")
	}
	defer rows.Close()
	var out []AttemptLog
	for rows.Next() {
		var a AttemptLog
		if err := rows.Scan(&a.AttemptedAt, &a.ResponseStatus, &a.ResponseBody, &a.DurationMS, &a.Error); err != nil {
			return d, "", nil, wrap(err, "attempts")
		}
		a.AttemptedAt = a.AttemptedAt.UTC()
		out = append(out, a)
	}
	return d, payload, out, wrap(rows.Err(), "attempts")
}

// RequeueUnfinished queues again the work a copied installation had pending: deliveries not yet
// made (at their next attempt time) and a re-encryption pass, which does nothing when no secret
// waits for the current key. The job queue's own tables are not copied between databases.
func (s *Store) RequeueUnfinished(ctx context.Context) (int, error) {
	n := 0
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, next_attempt_at FROM webhook_deliveries WHERE status IN ('pending', 'retrying')`)
		if err != nil {
			return err
		}
		type due struct {
			id int64
			at sql.NullTime
		}
		var todo []due
		for rows.Next() {
			var d due
			if err := rows.Scan(&d.id, &d.at); err != nil {
				rows.Close()
				return err
			}
			todo = append(todo, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, d := range todo {
			if err := s.enqueuer.InsertTx(ctx, tx, DeliverArgs{DeliveryID: d.id}, d.at.Time); err != nil {
				return err
			}
		}
		n = len(todo)
		return s.enqueuer.InsertTx(ctx, tx, ReencryptArgs{}, time.Time{})
	})
	return n, wrap(err, "requeue unfinished work")
}
