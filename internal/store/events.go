package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// The events of SPEC §5. webhook.test is sent only by a webhook's test action.
const (
	EventAssetCreated       = "asset.created"
	EventAssetUpdated       = "asset.updated"
	EventAssetDeleted       = "asset.deleted"
	EventMonitorDown        = "monitor.down"
	EventMonitorUp          = "monitor.up"
	EventVulnerabilityFound = "vulnerability.found"
	EventVaultBreach        = "vault.breach"
	EventWebhookTest        = "webhook.test"
)

// EventNames are the events a webhook may subscribe to.
var EventNames = []string{EventAssetCreated, EventAssetUpdated, EventAssetDeleted, EventMonitorDown, EventMonitorUp,
	EventVulnerabilityFound, EventVaultBreach}

// JobArgs is a background job: River's job arguments, seen from the store.
type JobArgs interface{ Kind() string }

// Enqueuer inserts background jobs in the caller's transaction, so a job exists exactly when the
// change that asked for it commits.
type Enqueuer interface {
	InsertTx(ctx context.Context, tx *sql.Tx, args JobArgs, at time.Time) error
}

// SetEnqueuer connects the job queue. Until it is set, changes that would send webhooks fail.
func (s *Store) SetEnqueuer(e Enqueuer) { s.enqueuer = e }

// DeliverArgs is the job that makes one attempt of one webhook delivery.
type DeliverArgs struct {
	DeliveryID int64 `json:"delivery_id"`
}

// Kind names the job.
func (DeliverArgs) Kind() string { return "webhook.deliver" }

// BreachCheckArgs is the job that checks one vault entry's password against the breach corpus.
type BreachCheckArgs struct {
	PasswordID int64 `json:"password_id"`
}

// Kind names the job.
func (BreachCheckArgs) Kind() string { return "vault.breach_check" }

// EventBody is the JSON body every webhook receives (the page's shape, plus id).
type EventBody struct {
	ID           string   `json:"id"`
	Event        string   `json:"event"`
	Timestamp    string   `json:"timestamp"`
	Organization EventOrg `json:"organization"`
	Data         any      `json:"data"`
}

// EventOrg identifies the organization in an event body.
type EventOrg struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

func newEventID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return "evt_" + hex.EncodeToString(b)
}

// RecordEvent records an event in tx and queues one delivery for each active webhook of the
// organization subscribed to it. It is the one way events are emitted, from any path: API, web UI,
// RMM sync, monitors, vulnerability scans, breach checks.
func (s *Store) RecordEvent(ctx context.Context, tx *sql.Tx, org EventOrg, event string, data any) error {
	hooks, err := subscribedWebhooks(ctx, tx, org.ID, event)
	if err != nil || len(hooks) == 0 {
		return err
	}
	_, err = s.insertEvent(ctx, tx, org, event, data, hooks)
	return err
}

// insertEvent writes the event and a pending delivery with its first attempt job per webhook.
func (s *Store) insertEvent(ctx context.Context, tx *sql.Tx, org EventOrg, event string, data any, hooks []int64) ([]int64, error) {
	if s.enqueuer == nil {
		return nil, fmt.Errorf("store: no job queue to deliver %s", event)
	}
	now := s.Now()
	body := EventBody{ID: newEventID(), Event: event, Timestamp: now.Format(time.RFC3339), Organization: org, Data: data}
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("store: encode event: %w", err)
	}
	var eventID int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO events (public_id, organization_id, event, payload, created_at)
		VALUES ($1, $2, $3, $4, $5) RETURNING id`, body.ID, org.ID, event, string(payload), now).Scan(&eventID); err != nil {
		return nil, fmt.Errorf("store: record event: %w", err)
	}
	var ids []int64
	for _, hook := range hooks {
		var id int64
		if err := tx.QueryRowContext(ctx, `INSERT INTO webhook_deliveries (organization_id, webhook_id, event_id, event, status,
			next_attempt_at, created_at, updated_at) VALUES ($1, $2, $3, $4, 'pending', $5, $5, $5) RETURNING id`,
			org.ID, hook, eventID, event, now).Scan(&id); err != nil {
			return nil, fmt.Errorf("store: queue delivery: %w", err)
		}
		if err := s.enqueuer.InsertTx(ctx, tx, DeliverArgs{DeliveryID: id}, now); err != nil {
			return nil, fmt.Errorf("store: queue delivery job: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// subscribedWebhooks lists the active webhooks of org that subscribe to event.
func subscribedWebhooks(ctx context.Context, q queryer, org int64, event string) ([]int64, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, events FROM webhooks WHERE organization_id = $1 AND is_active`, org)
	if err != nil {
		return nil, fmt.Errorf("store: webhooks of organization %d: %w", org, err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		var events string
		if err := rows.Scan(&id, &events); err != nil {
			return nil, err
		}
		var names []string
		if err := json.Unmarshal([]byte(events), &names); err != nil {
			return nil, fmt.Errorf("store: events of webhook %d: %w", id, err)
		}
		if slices.Contains(names, event) {
			out = append(out, id)
		}
	}
	return out, rows.Err()
}
