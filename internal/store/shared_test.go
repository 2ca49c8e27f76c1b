package store_test

import (
	"context"
	"testing"
	"time"

	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
	"clientst0r/internal/db"
	"clientst0r/internal/store"
	"clientst0r/internal/testutil"
	"clientst0r/internal/vault"
)

var sys = auth.WithCaller(context.Background(), auth.System())

// newStore opens a store on the database at u; with a notifier when opts is given (PostgreSQL).
func newStore(t *testing.T, u string, opts *db.NotifierOptions) (*store.Store, *db.Notifier) {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	kr, err := vault.Open(ctx, d.W, testutil.MasterKey, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var n *db.Notifier
	if opts != nil {
		n = db.NewNotifier(d, testutil.Logger(t), *opts)
	}
	s := store.New(d, auth.DeriveSecrets(testutil.MasterKey), kr, store.Options{Notifier: n})
	if n != nil {
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); n.Run(runCtx) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	return s, n
}

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

func TestRateCounter(t *testing.T) {
	for _, dialect := range testutil.Dialects() {
		t.Run(string(dialect), func(t *testing.T) {
			u := testutil.NewDBURL(t, dialect)
			s, _ := newStore(t, u, nil)
			ctx := context.Background()
			now := time.Date(2020, 3, 2, 9, 0, 30, 0, time.UTC) // long past by the store's clock, which DeleteExpired uses
			clock := func() time.Time { return now }
			c := s.RateCounter("requests", time.Minute, clock)
			for i := 1; i <= 3; i++ {
				d, err := c.Take(ctx, "k:1", 3)
				if err != nil || !d.Allowed || d.Remaining != 3-i || d.Limit != 3 || d.Reset != 30*time.Second {
					t.Fatalf("take %d: %+v %v", i, d, err)
				}
			}
			// Another node's counter of the same name counts in the same row.
			other := s.RateCounter("requests", time.Minute, clock)
			if d, err := other.Take(ctx, "k:1", 3); err != nil || d.Allowed || d.Remaining != 0 || d.Reset != 30*time.Second {
				t.Fatalf("4th take: %+v %v", d, err)
			}
			if d, err := c.Peek(ctx, "k:1", 3); err != nil || d.Remaining != 0 {
				t.Fatalf("peek when full: %+v %v", d, err)
			}
			if d, err := c.Take(ctx, "k:2", 3); err != nil || !d.Allowed || d.Remaining != 2 {
				t.Fatalf("another key: %+v %v", d, err)
			}
			if d, err := s.RateCounter("failures", time.Minute, clock).Peek(ctx, "k:1", 3); err != nil || d.Remaining != 3 {
				t.Fatalf("another counter: %+v %v", d, err)
			}
			now = now.Add(30 * time.Second) // the next minute
			if d, err := c.Peek(ctx, "k:1", 3); err != nil || d.Remaining != 3 || d.Reset != time.Minute {
				t.Fatalf("peek in the next window: %+v %v", d, err)
			}
			if d, err := c.Take(ctx, "k:1", 3); err != nil || !d.Allowed || d.Remaining != 2 {
				t.Fatalf("take in the next window: %+v %v", d, err)
			}

			rows := func() (n int) {
				if err := s.DB().R.QueryRow(`SELECT count(*) FROM rate_counters`).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			if n := rows(); n != 3 {
				t.Fatalf("%d rows, want 3", n)
			}
			if _, _, err := s.DeleteExpired(ctx); err != nil { // the store's clock is now: every window ended
				t.Fatal(err)
			}
			if n := rows(); n != 0 {
				t.Fatalf("%d rows of ended windows left", n)
			}
		})
	}
}

// A node that lost its listener may have missed changes: it reads the database until it listens
// again, and then forgets what it cached meanwhile.
func TestLostListenerFallsBackToDatabase(t *testing.T) {
	u := testutil.NewDBURL(t, db.Postgres)
	a, _ := newStore(t, u, &db.NotifierOptions{})
	b, nb := newStore(t, u, &db.NotifierOptions{Retry: 2 * time.Second})

	usr, err := a.CreateUser(sys, store.User{Email: "script@example.com"}, testutil.Password)
	if err != nil {
		t.Fatal(err)
	}
	org, err := a.CreateOrganization(sys, store.Organization{Name: "Acme", IsActive: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.AddMember(sys, org.ID, usr.Email, "editor"); err != nil {
		t.Fatal(err)
	}
	key, plaintext, err := a.CreateAPIKey(sys, store.NewKey{UserID: usr.ID, Name: "script"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	valid := func() bool {
		_, err := b.CallerForKey(ctx, plaintext)
		if err != nil && !apperr.Is(err, apperr.Unauthorized) {
			t.Fatal(err)
		}
		return err == nil
	}
	eventually(t, "node B up to date", nb.Fresh)
	if !valid() {
		t.Fatal("key refused")
	}

	if _, err := b.DB().W.Exec(`SELECT pg_terminate_backend($1)`, int64(nb.ListenerPID())); err != nil {
		t.Fatal(err)
	}
	eventually(t, "loss noticed", func() bool { return !nb.Fresh() })
	if !valid() { // read from the database, and cached
		t.Fatal("key refused while the listener is down")
	}
	if err := a.RevokeAPIKey(sys, key.ID); err != nil { // B does not hear this
		t.Fatal(err)
	}
	if nb.Fresh() {
		t.Fatal("listener back too soon for this test; raise Retry")
	}
	if valid() {
		t.Fatal("revoked key accepted from the cache while the listener is down")
	}
	eventually(t, "listening again", nb.Fresh)
	if valid() {
		t.Fatal("revoked key accepted from the cache after the listener came back")
	}
}
