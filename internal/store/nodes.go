package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"
)

// What the nodes sharing a PostgreSQL database tell each other (db.Notifier), so that what one node
// keeps in memory follows changes made through another:
//
//   - topicAuth: users, memberships, roles, keys, sessions or two-factor requirements changed; sent
//     in the changing transaction. Cached callers are forgotten.
//   - topicCount: a listed table changed (its name, or "*" for all); sent right after the commit,
//     coalesced. Cached counts of the table are forgotten.
//   - topicKeyring: a data key was added; sent in the transaction that queues the re-encryption.
//     The keyring is read again, so new secrets are sealed with the new key.
//   - topicMonitor: a monitor was created, changed or deleted (its id); sent right after the
//     commit. The scheduler follows it (the node that owns it checks it); it also reloads every
//     minute, which covers a notice missed.
//
// A node trusts its cached callers only while its notifier is Fresh (it has heard every change
// committed more than a second ago); otherwise it reads the database. When its listener connects
// again after a loss, it forgets every cache and reads the keyring again.
const (
	topicAuth    = "auth"
	topicCount   = "count"
	topicKeyring = "keyring"
	topicMonitor = "monitor"
)

// listen registers the store's handlers with the notifier.
func (s *Store) listen() {
	n := s.nodes
	n.Handle(topicAuth, func(string) error { s.authChanged(); return nil })
	n.Handle(topicCount, func(table string) error { s.forgetCounts(table); return nil })
	n.Handle(topicKeyring, func(string) error { return s.refreshKeyring() })
	n.Handle(topicMonitor, func(arg string) error {
		id, err := strconv.ParseInt(arg, 10, 64)
		if err != nil {
			return fmt.Errorf("store: monitor notice %q: %w", arg, err)
		}
		s.runMonitorHook(id)
		return nil
	})
	n.OnReset(func() error {
		s.authChanged()
		s.forgetCounts("*")
		return s.refreshKeyring()
	})
}

// cacheTrusted reports whether cached callers may be used: always on a single node; with several,
// while this node is up to date with the others' changes.
func (s *Store) cacheTrusted() bool { return s.nodes == nil || s.nodes.Fresh() }

// announceAuth tells the other nodes, in tx, that access changed: when tx commits they forget their
// cached callers, as authChanged does on this node after the commit.
func (s *Store) announceAuth(ctx context.Context, tx *sql.Tx) error {
	if s.nodes == nil {
		return nil
	}
	return s.nodes.NotifyTx(ctx, tx, topicAuth, "")
}

// forgetCounts invalidates the cached counts of table, or of every table for "*".
func (s *Store) forgetCounts(table string) {
	if table == "*" {
		s.gens.Range(func(_, g any) bool { g.(*atomic.Uint64).Add(1); return true })
		return
	}
	s.tableGen(table).Add(1)
}

// refreshKeyring reads the data keys again after another node (or the command line) added one.
func (s *Store) refreshKeyring() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.keyring.Refresh(ctx); err != nil {
		return fmt.Errorf("store: refresh keyring: %w", err)
	}
	return nil
}
