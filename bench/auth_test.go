package bench

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"clientst0r/internal/auth"
	"clientst0r/internal/store"
	"clientst0r/internal/testutil"
)

// BenchmarkAuthenticate measures what authentication adds to every API request once the caller is
// cached: parsing the header, the key's HMAC, the cache lookup, the last-use check and the rate
// limit. Run: go test -bench Authenticate -benchmem ./bench/
func BenchmarkAuthenticate(b *testing.B) {
	for _, dialect := range testutil.Dialects() {
		b.Run(string(dialect), func(b *testing.B) {
			e := testutil.NewEnv(b, dialect)
			u := e.User("bench@example.com", false)
			for i := range 20 {
				o := e.Org("Org " + string(rune('A'+i)))
				e.Member(o.ID, u.Email, "editor")
			}
			key := e.Key(u, store.NewKey{RateLimit: store.MaxRateLimit})
			a := auth.NewAuthenticator(e.Store, auth.Limits{SessionRate: 600, BadKeysPerMinute: 20, LoginFailuresPerMinute: 10},
				func() time.Time { return time.Unix(0, 0) }) // one window for the whole run: never throttled
			req := httptest.NewRequest(http.MethodGet, "/api/assets/", nil)
			req.Header.Set("Authorization", "Bearer "+key)
			if _, err := a.Authenticate(req, true); err != nil { // warm the cache
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				c, err := a.Authenticate(req, true)
				if err != nil {
					b.Fatal(err)
				}
				a.Rate(c)
			}
		})
	}
}
