package store_test

import (
	"sync"
	"testing"
	"time"

	"clientst0r/internal/store"
	"clientst0r/internal/testutil"
)

// TestTransitionDecidedOnceByConcurrentWriters: two nodes recording results for one monitor at once
// (as while it moves between them) send one monitor.down, not two.
func TestTransitionDecidedOnceByConcurrentWriters(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		org := e.Org("Acme")
		if _, err := e.Store.CreateWebhook(e.Sys, store.Webhook{Scoped: store.Scoped{OrgID: org.ID}, Name: "h", URL: "https://h.example",
			Events: []string{store.EventMonitorDown}, IsActive: true}); err != nil {
			t.Fatal(err)
		}
		m, err := e.Store.CreateMonitor(e.Sys, store.Monitor{Scoped: store.Scoped{OrgID: org.ID}, Name: "site", CheckType: "tcp",
			Host: "127.0.0.1", Port: ptr(9), IntervalSeconds: 60, FailureThreshold: 1, SuccessThreshold: 1, Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		for round := range 20 {
			if _, err := e.DB.W.Exec(`UPDATE monitors SET status = 'up', consecutive_failures = 0 WHERE id = $1`, m.ID); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for i := range 2 {
				wg.Go(func() {
					at := time.Date(2026, 3, 2, 9, round, i, 0, time.UTC)
					if err := e.Store.RecordMonitorResults(e.Sys, []store.CheckResult{{MonitorID: m.ID, CheckedAt: at, Error: "refused"}}); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			var n int
			e.DB.R.QueryRow(`SELECT count(*) FROM events WHERE event = 'monitor.down'`).Scan(&n)
			if n != round+1 {
				t.Fatalf("round %d: %d monitor.down events, want %d", round, n, round+1)
			}
		}
	})
}

func ptr[T any](v T) *T { return &v }
