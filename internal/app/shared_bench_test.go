package app_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"clientst0r/internal/app"
	"clientst0r/internal/auth"
	"clientst0r/internal/db"
	"clientst0r/internal/store"
	"clientst0r/internal/testutil"
)

// BenchmarkSharedRateLimit measures what rate limiting adds to an API request with the caller
// cached, counting in memory (one node) and in PostgreSQL (several nodes): the bad-key check of
// the address (a Peek), the cached key lookup and the key's count (a Take). The clock moves on a
// minute every 20,000 requests so every request is counted, as under a limit that is not reached.
// Run: CLIENTST0R_TEST_POSTGRES_URL=… go test -run XXX -bench SharedRateLimit -benchmem ./internal/app/
func BenchmarkSharedRateLimit(b *testing.B) {
	e := testutil.NewEnv(b, db.Postgres)
	u := e.User("bench@example.com", false)
	e.Member(e.Org("Acme").ID, u.Email, "editor")
	key := e.Key(u, store.NewKey{RateLimit: store.MaxRateLimit})
	var ticks atomic.Int64
	base := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	now := func() time.Time { return base.Add(time.Duration(ticks.Load()/20_000) * time.Minute) }
	limits := auth.Limits{SessionRate: 600, BadKeysPerMinute: 20, LoginFailuresPerMinute: 10}
	for _, c := range []struct {
		name     string
		counters auth.Counters
	}{
		{"memory", auth.MemoryCounters(now)},
		{"postgres", app.RateCounters(e.Store, now)},
	} {
		a := auth.NewAuthenticatorWith(e.Store, limits, c.counters)
		request := func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/api/assets/", nil)
			req.Header.Set("Authorization", "Bearer "+key)
			caller, err := a.Authenticate(req, true)
			if err != nil {
				b.Fatal(err)
			}
			if d, err := a.RateContext(req.Context(), caller); err != nil || !d.Allowed {
				b.Fatalf("%+v %v", d, err)
			}
			ticks.Add(1)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				request(b)
			}
		})
		b.Run(c.name+"/parallel", func(b *testing.B) { // one key from many connections: one row
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					request(b)
				}
			})
		})
	}
}
