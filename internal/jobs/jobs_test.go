package jobs_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"clientst0r/internal/auth"
	"clientst0r/internal/jobs"
	"clientst0r/internal/store"
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
		// A finished delivery with its attempt, a month old: pruned, unlike the event of a pending one.
		var org, hook, event int64
		e.DB.W.QueryRow(`INSERT INTO organizations (name, slug, created_at, updated_at) VALUES ('O', 'o', $1, $1) RETURNING id`, e.Clock.Now()).Scan(&org)
		e.DB.W.QueryRow(`INSERT INTO webhooks (organization_id, name, url, events, created_at, updated_at) VALUES ($1, 'h', 'https://x', '[]', $2, $2) RETURNING id`, org, e.Clock.Now()).Scan(&hook)
		for i, status := range []string{"succeeded", "pending"} {
			e.DB.W.QueryRow(`INSERT INTO events (public_id, organization_id, event, payload, created_at) VALUES ($1, $2, 'asset.created', '{}', $3) RETURNING id`,
				fmt.Sprintf("evt_%d", i), org, e.Clock.Now().Add(-31*24*time.Hour)).Scan(&event)
			var d int64
			e.DB.W.QueryRow(`INSERT INTO webhook_deliveries (organization_id, webhook_id, event_id, event, status, created_at, updated_at)
				VALUES ($1, $2, $3, 'asset.created', $4, $5, $5) RETURNING id`, org, hook, event, status, e.Clock.Now().Add(-31*24*time.Hour)).Scan(&d)
			e.DB.W.Exec(`INSERT INTO webhook_attempts (delivery_id, attempted_at, duration_ms) VALUES ($1, $2, 5)`, d, e.Clock.Now().Add(-31*24*time.Hour))
		}
		e.Clock.Advance(11*time.Hour + time.Minute) // the first key is now just over 24 h old, the second 11 h

		// Monitor history: results are kept 7 days, hourly rollups 90 days.
		sys := auth.WithCaller(ctx, auth.System())
		port := 5432
		m, err := e.Store.CreateMonitor(sys, store.Monitor{Scoped: store.Scoped{OrgID: org}, Name: "db", CheckType: "tcp", Host: "db.o.test", Port: &port,
			IntervalSeconds: 60, TimeoutSeconds: 5})
		if err != nil {
			t.Fatal(err)
		}
		var results []store.CheckResult
		for _, age := range []time.Duration{100 * 24 * time.Hour, 10 * 24 * time.Hour, time.Hour} {
			results = append(results, store.CheckResult{MonitorID: m.ID, CheckedAt: e.Clock.Now().Add(-age), Up: true})
		}
		if err := e.Store.RecordMonitorResults(ctx, results); err != nil {
			t.Fatal(err)
		}
		var before, rollupsBefore int
		e.DB.R.QueryRow(`SELECT count(*) FROM monitor_results`).Scan(&before)
		e.DB.R.QueryRow(`SELECT count(*) FROM monitor_rollups`).Scan(&rollupsBefore)
		if before != 3 || rollupsBefore != 3 {
			t.Fatalf("recorded %d results and %d rollups, want 3 and 3", before, rollupsBefore)
		}

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
		var attempts, deliveries, events int
		e.DB.R.QueryRow(`SELECT count(*) FROM webhook_attempts`).Scan(&attempts)
		e.DB.R.QueryRow(`SELECT count(*) FROM webhook_deliveries`).Scan(&deliveries)
		e.DB.R.QueryRow(`SELECT count(*) FROM events`).Scan(&events)
		if attempts != 0 || deliveries != 1 || events != 1 {
			t.Fatalf("after retention: %d attempts, %d deliveries (the pending one stays), %d events", attempts, deliveries, events)
		}
		var kept, all, rollups int
		e.DB.R.QueryRow(`SELECT count(*) FROM monitor_results WHERE checked_at > $1`, e.Clock.Now().Add(-2*time.Hour)).Scan(&kept)
		e.DB.R.QueryRow(`SELECT count(*) FROM monitor_results`).Scan(&all)
		e.DB.R.QueryRow(`SELECT count(*) FROM monitor_rollups`).Scan(&rollups)
		if kept != 1 || all != 1 || rollups != 2 {
			t.Fatalf("after retention: %d monitor results (%d of the last hour, want only it), %d rollups (want the 10-day and 1-hour ones)",
				all, kept, rollups)
		}
	})
}
