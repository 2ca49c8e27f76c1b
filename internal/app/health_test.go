package app_test

import (
	"io"
	"net/http"
	"testing"

	"clientst0r/internal/testutil"
)

// TestHealth: load balancers see 200 while the node reaches its database and 503 once it cannot.
func TestHealth(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		get := func() (int, string) {
			res, err := http.Get(e.Server.URL + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			return res.StatusCode, string(b)
		}
		if s, body := get(); s != 200 || body != "ok\n" {
			t.Fatalf("healthy: %d %q", s, body)
		}
		e.DB.Close()
		if s, _ := get(); s != 503 {
			t.Fatalf("without its database: %d", s)
		}
	})
}
