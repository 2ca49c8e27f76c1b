package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"clientst0r/internal/auth"
	"clientst0r/internal/list"
)

// AuditEntry is one row of the append-only audit log.
type AuditEntry struct {
	ID             int64
	Timestamp      time.Time
	ActorID        *int64
	ActorEmail     string
	APIKeyPrefix   string
	IPAddress      string
	UserAgent      string
	OrganizationID *int64
	Action         string
	ObjectType     string
	ObjectID       *int64
	ObjectRepr     string
	Changes        map[string]any
}

// Changes maps a changed field to [old, new]; secret fields map to nil so only their name is kept.
type Changes map[string]any

// AuditSpec declares the audit log's list behaviour.
var AuditSpec = list.Spec{
	DefaultOrder: "-timestamp",
	OrgScoped:    true,
	Fields: []list.Field{
		{Name: "id", Column: "l.id", Kind: list.Int, Order: true},
		{Name: "timestamp", Column: "l.timestamp", Kind: list.Time, Order: true, Range: true},
		{Name: "action", Column: "l.action", Filter: true, Order: true},
		{Name: "object_type", Column: "l.object_type", Filter: true, Order: true},
		{Name: "object_id", Column: "l.object_id", Kind: list.Int, Filter: true, Order: true, Nullable: true},
		{Name: "actor", Column: "l.actor_id", Kind: list.Int, Filter: true, Order: true, Nullable: true},
	},
}

// audit appends a row in tx, attributed to the caller in ctx.
func (s *Store) audit(ctx context.Context, tx *sql.Tx, org *int64, action, objectType string, objectID *int64, repr string, changes Changes) error {
	c := auth.CallerFrom(ctx)
	if c == nil {
		c = auth.System()
	}
	return s.auditAs(ctx, tx, c, org, action, objectType, objectID, repr, changes)
}

func (s *Store) auditAs(ctx context.Context, tx *sql.Tx, c *auth.Caller, org *int64, action, objectType string, objectID *int64, repr string, changes Changes) error {
	if changes == nil {
		changes = Changes{}
	}
	ch, err := json.Marshal(changes)
	if err != nil {
		return fmt.Errorf("store: audit changes: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO audit_log (timestamp, actor_id, actor_email, api_key_prefix, ip_address,
		user_agent, organization_id, action, object_type, object_id, object_repr, changes)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		s.Now(), c.ActorID(), clean(c.User.Email, 254), c.KeyPrefix(), c.IP, clean(c.UserAgent, 500), org, action, objectType,
		objectID, clean(repr, 200), string(ch))
	if err != nil {
		return fmt.Errorf("store: audit: %w", err)
	}
	return nil
}

// ListAudit pages the audit log: rows of the organizations where the caller has audit.view; rows
// that belong to no organization (logins, keys) only for superusers.
func (s *Store) ListAudit(ctx context.Context, q list.Query) ([]AuditEntry, int, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, 0, err
	}
	l := listing{table: "audit_log", alias: "l", from: "audit_log l",
		columns: `l.id, l.timestamp, l.actor_id, l.actor_email, l.api_key_prefix, l.ip_address, l.user_agent,
			l.organization_id, l.action, l.object_type, l.object_id, l.object_repr, l.changes`}
	if err := s.orgScope(ctx, c, auth.AuditView, "l.organization_id", q.Org, &l.where); err != nil {
		return nil, 0, err
	}
	var out []AuditEntry
	n, err := s.runList(ctx, &AuditSpec, q, &l, func(r *sql.Rows) error {
		var e AuditEntry
		var ch string
		var actor, org, obj sql.NullInt64
		if err := r.Scan(&e.ID, &e.Timestamp, &actor, &e.ActorEmail, &e.APIKeyPrefix, &e.IPAddress, &e.UserAgent,
			&org, &e.Action, &e.ObjectType, &obj, &e.ObjectRepr, &ch); err != nil {
			return err
		}
		e.Timestamp = e.Timestamp.UTC()
		e.ActorID, e.OrganizationID, e.ObjectID = int64Ptr(actor), int64Ptr(org), int64Ptr(obj)
		if err := json.Unmarshal([]byte(ch), &e.Changes); err != nil {
			return fmt.Errorf("changes of audit row %d: %w", e.ID, err)
		}
		out = append(out, e)
		return nil
	})
	return out, n, err
}

func int64Ptr(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	return &n.Int64
}

// clean bounds a client-supplied string for the log and drops NUL, which PostgreSQL text refuses.
func clean(s string, n int) string {
	return truncate(strings.ReplaceAll(s, "\x00", ""), n)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// secretFields are recorded in the audit log by name only, never by value.
var secretFields = map[string]bool{"password": true, "otp_secret": true, "notes": true, "secret": true, "credentials": true}

// diff records the fields whose values differ between before and after.
func diff(before, after map[string]any) Changes {
	ch := Changes{}
	for k, a := range after {
		b := before[k]
		if fmt.Sprint(a) != fmt.Sprint(b) {
			if secretFields[k] {
				ch[k] = nil
			} else {
				ch[k] = []any{b, a}
			}
		}
	}
	return ch
}
