package bench

import (
	"context"
	"testing"
	"time"

	"clientst0r/internal/testutil"
)

// The scenario commands at tiny sizes: everything must work and add up; no timings are asserted.

func TestVaultScenario(t *testing.T) {
	ctx := context.Background()
	a, closeApp, err := OpenScratch(ctx, t.TempDir(), "", false, testutil.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeApp)
	cfg := VaultConfig{Entries: 300, Concurrency: 4, Duration: time.Second, Keys: 2, Parallel: 4, Chunk: 200_000, Seed: 1}
	r, err := RunVault(ctx, a, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Seeded || r.Entries != 300 || r.Distinct != 180 || r.Reveal.Requests == 0 || r.Checked == 0 || r.Audited < r.Reveal.Requests {
		t.Errorf("seeded %v, %d entries, %d distinct, %d reveals, %d checked, %d audited", r.Seeded, r.Entries, r.Distinct,
			r.Reveal.Requests, r.Checked, r.Audited)
	}
	// Seed 1 gives breached values (the count is fixed by the seed); the scan must find them all.
	if r.WantBreached == 0 || r.Scan.Entries != 300 || r.Scan.Requests != r.Prefixes || r.Server.Requests != r.Prefixes {
		t.Errorf("scan %+v, server %+v; %d prefixes, %d breached wanted", r.Scan, r.Server, r.Prefixes, r.WantBreached)
	}
	for _, p := range r.Problems {
		t.Error(p)
	}

	// Again on the same installation: the entries are reused, fresh keys reveal them.
	cfg.Duration = 200 * time.Millisecond
	again, err := RunVault(ctx, a, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if again.Seeded || again.Entries != 300 || again.Reveal.Requests == 0 || again.Scan.Breached != r.WantBreached {
		t.Errorf("reused: seeded %v, %d entries, %d reveals, scan %+v", again.Seeded, again.Entries, again.Reveal.Requests, again.Scan)
	}
	for _, p := range again.Problems {
		t.Error("reused:", p)
	}
}

func TestWebhookScenario(t *testing.T) {
	ctx := context.Background()
	a, closeApp, err := OpenScratch(ctx, t.TempDir(), "", true, testutil.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeApp)
	r, err := RunWebhooks(ctx, a, WebhookConfig{Events: 20, Webhooks: 2, Concurrency: 4, Timeout: 20 * time.Second, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Created != 20 || r.CreateErrors != 0 || r.Deliveries != 40 || r.Missing != 0 || r.Unexpected != 0 ||
		r.Latency.Count() != 40 || r.Attempts < 40 || r.Took <= 0 {
		t.Errorf("%+v (first error: %s)", r, r.FirstError)
	}
	// The webhooks are gone afterwards, so a reused installation sends nothing to a dead receiver.
	var n int
	if err := a.DB.R.QueryRow(`SELECT count(*) FROM webhooks`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d webhooks left (%v)", n, err)
	}
}
