package bench

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"clientst0r/internal/db"
	"clientst0r/internal/testutil"
)

// TestHarness seeds a tiny installation, loads every standard endpoint briefly through the real
// handler and the baseline, and checks that nothing failed and that the creates were stored. It
// tests the harness, not the server's speed: no timings are asserted.
func TestHarness(t *testing.T) {
	ctx := context.Background()
	a, err := Open(ctx, Install{DataDir: t.TempDir()}, testutil.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	cfg := SeedConfig{Orgs: 2, Assets: 300, Users: 3, MemberOrgs: 1, Keys: 2, Seed: 1}
	s, err := Prepare(ctx, a, cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	if s.Reused || s.Assets != 300 || len(s.Orgs) != 2 || len(s.MemberOrgs) != 1 || len(s.SuperKeys) != 2 || len(s.MemberKeys) != 2 {
		t.Fatalf("seeded %+v", s)
	}
	if again, err := Prepare(ctx, a, cfg, false); err != nil || !again.Reused || again.Assets != 300 {
		t.Fatalf("reuse: %+v, %v", again, err)
	}

	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	ids, err := AssetIDs(ctx, a.DB, nil)
	if err != nil || len(ids) != 300 {
		t.Fatalf("asset ids: %d, %v", len(ids), err)
	}
	eps := StandardEndpoints(Scenario{Search: "dell ws-0", AssetIDs: ids, CreateOrgs: s.Orgs, Seed: 1})
	real := Target{URL: srv.URL, Keys: s.SuperKeys, Client: NewClient(2)}
	caps, err := Capture(ctx, real, eps)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"list", "search", "ordering", "filter"} {
		var v struct{ Count int }
		if err := json.Unmarshal(caps[name].Body, &v); err != nil || v.Count == 0 {
			t.Errorf("%s: count %d (%v): the seeded data should match", name, v.Count, err)
		}
	}

	for _, e := range eps {
		r := Run(ctx, real, e, 2, 120*time.Millisecond)
		if r.Requests == 0 || r.Errors != 0 || r.Latency.Count() != uint64(r.Requests) {
			t.Errorf("%s: %d requests, %d errors, %d latencies; first error: %s", e.Name, r.Requests, r.Errors, r.Latency.Count(), r.FirstError)
		}
		if e.Name == "create" {
			checkCreated(t, a.DB, real, 300+1+int(r.Requests)) // +1: the captured answer
		}
	}

	bsrv := httptest.NewServer(Baseline(caps))
	t.Cleanup(bsrv.Close)
	base := Target{URL: bsrv.URL, Keys: s.SuperKeys, Client: NewClient(2)}
	for _, e := range eps {
		if r := Run(ctx, base, e, 2, 30*time.Millisecond); r.Requests == 0 || r.Errors != 0 {
			t.Errorf("baseline %s: %d requests, %d errors; first error: %s", e.Name, r.Requests, r.Errors, r.FirstError)
		}
	}

	// The member's keys see only the member's organization, and every endpoint still answers.
	mine, err := AssetIDs(ctx, a.DB, s.MemberOrgs)
	if err != nil || len(mine) == 0 {
		t.Fatalf("member asset ids: %d, %v", len(mine), err)
	}
	member := Target{URL: srv.URL, Keys: s.MemberKeys, Client: real.Client}
	if _, err := Capture(ctx, member, StandardEndpoints(Scenario{Search: "ws-0", AssetIDs: mine, CreateOrgs: s.MemberOrgs})); err != nil {
		t.Error("member:", err)
	}
}

// checkCreated checks the asset count and that the newest asset reads back through the API as sent.
func checkCreated(t *testing.T, d *db.DB, tg Target, want int) {
	t.Helper()
	var n int
	var newest int64
	if err := d.R.QueryRow(`SELECT count(*), max(id) FROM assets`).Scan(&n, &newest); err != nil {
		t.Fatal(err)
	}
	if n != want {
		t.Errorf("%d assets after the creates, want %d", n, want)
	}
	path := "/api/assets/" + strconv.FormatInt(newest, 10) + "/"
	e := Endpoint{Name: "get", Method: "GET", Want: 200, Path: func(*rand.Rand) string { return path }}
	status, _, body, err := send(context.Background(), tg, e, tg.Keys[0], nil, true)
	var got struct{ Hostname string }
	json.Unmarshal(body, &got)
	if err != nil || status != http.StatusOK || !strings.HasPrefix(got.Hostname, "new-") {
		t.Errorf("GET %s: %d %v %.200s", path, status, err, body)
	}
}

func TestHistogram(t *testing.T) {
	var h Histogram
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {1, time.Millisecond}} {
		got := h.Quantile(c.q)
		if d := float64(got-c.want) / float64(c.want); d < -0.02 || d > 0.02 {
			t.Errorf("q%.2f = %v, want %v ± 2%%", c.q, got, c.want)
		}
	}
	for v := uint64(0); v < 1<<20; v += 997 {
		lo, w := bucketRange(bucket(v))
		if v < lo || v >= lo+w {
			t.Fatalf("%d is outside its bucket [%d, %d)", v, lo, lo+w)
		}
	}
}
