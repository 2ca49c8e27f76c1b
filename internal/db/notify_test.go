package db_test

import (
	"context"
	"database/sql"
	"sync/atomic"
	"testing"
	"time"

	"clientst0r/internal/db"
	"clientst0r/internal/testutil"
)

// runNotifier starts n until the test ends.
func runNotifier(t *testing.T, n *db.Notifier) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); n.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10 s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestNotifierDeliversCommittedChanges(t *testing.T) {
	u := testutil.NewDBURL(t, db.Postgres)
	a, b := openDB(t, u), openDB(t, u)
	na := db.NewNotifier(a, testutil.Logger(t), db.NotifierOptions{})
	nb := db.NewNotifier(b, testutil.Logger(t), db.NotifierOptions{})
	got := make(chan string, 16)
	nb.Handle("thing", func(arg string) error { got <- arg; return nil })
	runNotifier(t, na)
	runNotifier(t, nb)
	eventually(t, "listener up to date", nb.Fresh)

	ctx := context.Background()
	tx, err := a.W.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := na.NotifyTx(ctx, tx, "thing", "rolled back"); err != nil {
		t.Fatal(err)
	}
	tx.Rollback()
	if err := a.Tx(ctx, func(tx *sql.Tx) error { return na.NotifyTx(ctx, tx, "thing", "committed") }); err != nil {
		t.Fatal(err)
	}
	select {
	case arg := <-got:
		if arg != "committed" {
			t.Fatalf("heard %q first", arg)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("committed change not heard")
	}

	na.Notify("thing", "coalesced")
	na.Notify("thing", "coalesced")
	select {
	case arg := <-got:
		if arg != "coalesced" {
			t.Fatalf("heard %q", arg)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("announcement after commit not heard")
	}
}

// A node whose listener connection dies is not fresh until it has listened again, and it forgets
// everything when it does.
func TestNotifierRecoversLostListener(t *testing.T) {
	u := testutil.NewDBURL(t, db.Postgres)
	d := openDB(t, u)
	n := db.NewNotifier(d, testutil.Logger(t), db.NotifierOptions{Retry: 300 * time.Millisecond})
	var resets atomic.Int32
	n.OnReset(func() error { resets.Add(1); return nil })
	runNotifier(t, n)
	eventually(t, "listener up to date", n.Fresh)
	if resets.Load() != 1 {
		t.Fatalf("%d resets on connecting, want 1", resets.Load())
	}
	pid := n.ListenerPID()
	if _, err := d.W.Exec(`SELECT pg_terminate_backend($1)`, int64(pid)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "loss noticed", func() bool { return !n.Fresh() })
	eventually(t, "listening again", n.Fresh)
	if n.ListenerPID() == pid || resets.Load() != 2 {
		t.Fatalf("listener pid %d (was %d), %d resets: want a new connection and a second reset", n.ListenerPID(), pid, resets.Load())
	}
}
