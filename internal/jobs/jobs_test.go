package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"clientst0r/internal/jobs"
	"clientst0r/internal/testutil"
)

// The retention job runs through River on each database and removes what has expired, and only that.
func TestRetentionJobOnEachDatabase(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		ctx := context.Background()
		e.User("a@example.com", false)
		if _, _, err := e.Store.Login(ctx, "a@example.com", testutil.Password, "127.0.0.1", "test"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Store.ClaimIdempotencyKey(ctx, "u:1", "old", "h"); err != nil {
			t.Fatal(err)
		}
		e.Clock.Advance(13 * time.Hour) // past the session's lifetime, not yet the idempotency window
		if _, _, err := e.Store.Login(ctx, "a@example.com", testutil.Password, "127.0.0.1", "test"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Store.ClaimIdempotencyKey(ctx, "u:1", "new", "h"); err != nil {
			t.Fatal(err)
		}
		e.Clock.Advance(11*time.Hour + time.Minute) // the first key is now just over 24 h old, the second 11 h

		q, err := jobs.New(e.DB, e.Store, testutil.Logger(t), jobs.Options{RetentionEvery: 24 * time.Hour, Poll: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		done, cancel := q.Client().Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed)
		defer cancel()
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer q.Stop(ctx)
		if _, err := q.Client().Insert(ctx, jobs.RetentionArgs{}, nil); err != nil {
			t.Fatal(err)
		}
		select {
		case ev := <-done:
			if ev.Kind != river.EventKindJobCompleted || ev.Job.Kind != "retention" {
				t.Fatalf("job ended as %s: %v", ev.Kind, ev.Job.Errors)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("retention job did not run")
		}
		var sessions, keys int
		e.DB.R.QueryRow(`SELECT count(*) FROM sessions`).Scan(&sessions)
		e.DB.R.QueryRow(`SELECT count(*) FROM idempotency_keys WHERE key = 'new'`).Scan(&keys)
		var old int
		e.DB.R.QueryRow(`SELECT count(*) FROM idempotency_keys WHERE key = 'old'`).Scan(&old)
		if sessions != 1 || keys != 1 || old != 0 {
			t.Fatalf("after retention: %d sessions (want the unexpired one), new key %d, old key %d", sessions, keys, old)
		}
	})
}
