// Package store is the one store for both databases. Every method reads the caller from the context
// and filters by the organizations the caller may act on, so no handler can forget tenancy.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
	"clientst0r/internal/db"
	"clientst0r/internal/vault"
)

// Store reads and writes everything the application keeps.
type Store struct {
	db        *db.DB
	r         *stmtCache // reads, through cached prepared statements
	now       func() time.Time
	secrets   auth.Secrets
	keyring   *vault.Keyring
	enqueuer  Enqueuer
	assetJSON func(Asset) any
	// requireTwoFactor is the installation-wide two-factor requirement (CLIENTST0R_REQUIRE_2FA).
	requireTwoFactor bool

	// authGen changes whenever a user, membership, role, key or session changes; cached callers
	// from an older generation are rebuilt, so access changes apply on the next request.
	authGen     atomic.Uint64
	callerCache callerCache
	touched     sync.Map // key id → time of the last last_used write

	monitorHook atomic.Pointer[func(id int64)] // the scheduler's ear for monitor changes

	// nodes connects this node to the others sharing a PostgreSQL database (nodes.go); nil alone.
	nodes *db.Notifier

	gens    sync.Map // table → *atomic.Uint64, bumped on every change (count cache)
	countMu sync.Mutex
	counts  map[string]countEntry
}

// Options configure a Store.
type Options struct {
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// AssetJSON renders an asset as the API returns it, for webhook bodies.
	AssetJSON func(Asset) any
	// RequireTwoFactor makes every account use two-factor sign-in in the web UI.
	RequireTwoFactor bool
	// Notifier connects the store to the other nodes on the same PostgreSQL database: it announces
	// changes that invalidate caches and the keyring, and the store registers its handlers with it.
	// nil for a node alone (SQLite).
	Notifier *db.Notifier
}

// New returns a store over d. secrets digest API keys and session tokens; keyring seals secrets.
func New(d *db.DB, secrets auth.Secrets, keyring *vault.Keyring, opts Options) *Store {
	s := &Store{db: d, now: opts.Now, secrets: secrets, keyring: keyring, assetJSON: opts.AssetJSON, counts: map[string]countEntry{},
		r: newStmtCache(d.R), requireTwoFactor: opts.RequireTwoFactor, nodes: opts.Notifier}
	if s.nodes != nil {
		s.listen()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.assetJSON == nil {
		s.assetJSON = func(a Asset) any { return a }
	}
	return s
}

// DB exposes the database to the job queue and the command line (backup).
func (s *Store) DB() *db.DB { return s.db }

// Now is the store's clock, UTC and truncated to the precision both databases keep.
func (s *Store) Now() time.Time { return db.Time(s.now()) }

// Secrets returns the token digest keys.
func (s *Store) Secrets() auth.Secrets { return s.secrets }

func caller(ctx context.Context) (*auth.Caller, error) {
	c := auth.CallerFrom(ctx)
	if c == nil {
		return nil, errors.New("store: no caller in context")
	}
	return c, nil
}

// query accumulates SQL and its arguments, numbering placeholders $1, $2, … as they are added.
type query struct {
	b    strings.Builder
	args []any
}

// add appends s, replacing each "?" with the next argument's placeholder.
func (q *query) add(s string, args ...any) *query {
	for {
		i := strings.IndexByte(s, '?')
		if i < 0 || len(args) == 0 {
			break
		}
		q.b.WriteString(s[:i])
		q.b.WriteString(q.arg(args[0]))
		s, args = s[i+1:], args[1:]
	}
	q.b.WriteString(s)
	return q
}

func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	return "$" + strconv.Itoa(len(q.args))
}

func (q *query) String() string { return q.b.String() }

// inList renders "col IN ($1, $2, …)", or FALSE for an empty list.
func (q *query) inList(col string, ids []int64) *query {
	if len(ids) == 0 {
		q.b.WriteString("FALSE")
		return q
	}
	q.b.WriteString(col + " IN (")
	for i, id := range ids {
		if i > 0 {
			q.b.WriteString(", ")
		}
		q.b.WriteString(q.arg(id))
	}
	q.b.WriteString(")")
	return q
}

// inStrings renders " IN ($1, $2, …)" of vals, or " IN (NULL)" (true of nothing) for none.
func (q *query) inStrings(vals []string) *query {
	if len(vals) == 0 {
		q.b.WriteString(" IN (NULL)")
		return q
	}
	q.b.WriteString(" IN (")
	for i, v := range vals {
		if i > 0 {
			q.b.WriteString(", ")
		}
		q.b.WriteString(q.arg(v))
	}
	q.b.WriteString(")")
	return q
}

// rowScanner is what *sql.Row and *sql.Rows have in common.
type rowScanner interface{ Scan(dest ...any) error }

// notFound turns sql.ErrNoRows into the API's 404 and wraps everything else.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return apperr.ErrNotFound
	}
	return fmt.Errorf("store: %s: %w", what, err)
}

// nullTime converts an optional time for a query argument.
func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return db.Time(*t)
}

func timePtr(n sql.NullTime) *time.Time {
	if !n.Valid {
		return nil
	}
	t := n.Time.UTC()
	return &t
}

// wrap adds context to unexpected errors and passes the application's own errors through untouched.
func wrap(err error, what string) error {
	if err == nil {
		return nil
	}
	if _, ok := apperr.As(err); ok {
		return err
	}
	if db.IsBusy(err) {
		return &apperr.Error{Kind: apperr.Unavailable, RetryAfter: 1, Detail: "The database is busy; try again shortly."}
	}
	return fmt.Errorf("store: %s: %w", what, err)
}

// forUpdate locks the selected row on PostgreSQL; SQLite's single writer already serialises writes.
func (s *Store) forUpdate() string {
	if s.db.Dialect == db.Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// forUpdateOf locks only the named table's row in a join.
func (s *Store) forUpdateOf(alias string) string {
	if s.db.Dialect == db.Postgres {
		return " FOR UPDATE OF " + alias
	}
	return ""
}
