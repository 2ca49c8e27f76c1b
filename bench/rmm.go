package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"clientst0r/internal/app"
	"clientst0r/internal/auth"
	"clientst0r/internal/rmm"
	"clientst0r/internal/rmm/datto/dattofake"
	"clientst0r/internal/rmm/ninjaone/ninjafake"
	"clientst0r/internal/rmm/rmmtest"
	"clientst0r/internal/store"
)

// The RMM benchmark: a full sync from a local fake vendor onto an installation, then an unchanged
// re-sync, through the same engine (rmm.Engine.Run) the job queue runs.

// RMMConfig sizes a run.
type RMMConfig struct {
	Provider string // rmm.NinjaOne or rmm.Datto
	Devices  int
	Orgs     int
	// Scale speeds up the vendor's rate limit and the fake's window together (Datto's 600/min
	// becomes 600/(60 s/Scale)), so a test-sized run takes seconds, not the real minutes.
	Scale float64
	Seed  uint64
}

// RMMResult is one provider's measurements.
type RMMResult struct {
	RMMConfig
	Full, Resync             RMMRun
	AssetsCreated, Assets    int
	ExpectedUnscaledFullTime time.Duration // Datto: what the requests cost at the real 600/min
}

// RMMRun is one sync's figures.
type RMMRun struct {
	Took              time.Duration
	Requests          int
	PeakRSS, PeakHeap int64
	Run               store.SyncRun
}

// rmmFake is what both fakes offer the benchmark.
type rmmFake interface {
	rmmtest.Fake
	OrgExternalID(org int64) string
}

func rmmDevices(n, orgs int, seed uint64) []rmmtest.Device {
	rng := rand.New(rand.NewPCG(seed, 3))
	now := time.Now().Add(-10 * time.Minute).Truncate(time.Second)
	out := make([]rmmtest.Device, n)
	for i := range out {
		org := int64(1 + i%orgs)
		p := products["workstation"][rng.IntN(len(products["workstation"]))]
		kind := "workstation"
		if i%10 == 0 {
			kind = "server"
		}
		out[i] = rmmtest.Device{ID: int64(i + 1), Org: org, OrgName: orgName(int(org)), Site: sites[i%len(sites)],
			Name: fmt.Sprintf("%s-%05d", hostPrefix(orgName(int(org))), i+1), Manufacturer: p.maker, Model: p.model,
			Serial: fmt.Sprintf("RMM%08d", i+1), MAC: fmt.Sprintf("02:00:%02x:%02x:%02x:%02x", byte(i>>24), byte(i>>16), byte(i>>8), byte(i)),
			IP: fmt.Sprintf("10.%d.%d.%d", org%250, (i/250)%250, 1+i%250), OSName: "Microsoft " + p.os, OSVersion: "10.0.22631." + fmt.Sprint(3000+rng.IntN(900)),
			Kind: kind, Online: rng.IntN(5) > 0, LastSeen: now}
	}
	return out
}

// RunRMM creates the organizations and the integration, then runs a full sync and a re-sync.
func RunRMM(ctx context.Context, a *app.App, cfg RMMConfig, logw io.Writer) (RMMResult, error) {
	res := RMMResult{RMMConfig: cfg}
	sys := auth.WithCaller(ctx, auth.System())
	devs := rmmDevices(cfg.Devices, cfg.Orgs, cfg.Seed)
	var fake rmmFake
	switch cfg.Provider {
	case rmm.NinjaOne:
		fake = ninjafake.New(ninjafake.Options{}, devs)
	case rmm.Datto:
		fake = dattofake.New(dattofake.Options{TimeScale: cfg.Scale}, devs)
	default:
		return res, fmt.Errorf("no benchmark fake for %q", cfg.Provider)
	}
	defer fake.Close()
	mapping := map[string]int64{}
	stamp := time.Now().UnixNano()
	for org := 1; org <= cfg.Orgs; org++ {
		o, err := a.Store.CreateOrganization(sys, store.Organization{Name: fmt.Sprintf("%s RMM %d-%d", cfg.Provider, stamp, org), IsActive: true})
		if err != nil {
			return res, err
		}
		mapping[fake.OrgExternalID(int64(org))] = o.ID
	}
	integ, err := a.Store.CreateIntegration(sys, store.Integration{Scoped: store.Scoped{OrgID: mapping[fake.OrgExternalID(1)]},
		Name: "bench " + cfg.Provider, Provider: cfg.Provider, BaseURL: fake.URL(), SyncIntervalMinutes: 1440, Enabled: true,
		Mapping: mapping, SetCredentials: fake.Credentials()})
	if err != nil {
		return res, err
	}
	engine := *a.Queue.RMM
	engine.RateScale = cfg.Scale
	var before int
	a.DB.R.QueryRowContext(ctx, `SELECT count(*) FROM assets`).Scan(&before)
	for _, r := range []*RMMRun{&res.Full, &res.Resync} {
		run, err := a.Store.StartSync(sys, integ.ID, false, "benchmark")
		if err != nil {
			return res, err
		}
		requests := fake.Requests()
		r.Took, r.PeakRSS, r.PeakHeap, err = phase(func() error { return engine.Run(sys, run.ID) })
		if err != nil {
			return res, err
		}
		r.Requests = fake.Requests() - requests
		if r.Run, err = a.Store.Run(sys, run.ID); err != nil {
			return res, err
		}
		if r.Run.Status != "succeeded" {
			return res, fmt.Errorf("%s sync %s: %s", cfg.Provider, r.Run.Status, r.Run.Error)
		}
		fmt.Fprintf(logw, "%s: %d devices synced in %s (%d requests)\n", cfg.Provider, r.Run.Seen, r.Took.Round(time.Millisecond), r.Requests)
	}
	a.DB.R.QueryRowContext(ctx, `SELECT count(*) FROM assets`).Scan(&res.Assets)
	res.AssetsCreated = res.Assets - before
	if cfg.Provider == rmm.Datto {
		res.ExpectedUnscaledFullTime = time.Duration(float64(res.Full.Requests) / 8 * float64(time.Second)) // 80 % of 600/min
	}
	return res, nil
}

// Print writes the result as a table.
func (r RMMResult) Print(w io.Writer) {
	mib := func(b int64) string {
		if b == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
	}
	fmt.Fprintf(w, "%s: %d devices in %d organizations, vendor rate limit ×%g\n", r.Provider, r.Devices, r.Orgs, r.Scale)
	fmt.Fprintf(w, "  %-10s %10s %9s %8s %8s %8s %16s %12s\n", "sync", "time", "requests", "created", "updated", "skipped", "peak RSS (VmHWM)", "peak Go heap")
	for _, x := range []struct {
		name string
		r    RMMRun
	}{{"full", r.Full}, {"unchanged", r.Resync}} {
		fmt.Fprintf(w, "  %-10s %10s %9d %8d %8d %8d %16s %12s\n", x.name, x.r.Took.Round(time.Millisecond), x.r.Requests, x.r.Run.Created,
			x.r.Run.Updated, x.r.Run.Skipped, mib(x.r.PeakRSS), mib(x.r.PeakHeap))
	}
	if r.ExpectedUnscaledFullTime > 0 {
		fmt.Fprintf(w, "  at Datto's real 600 requests/min the full sync's requests take %s; a re-sync's %s\n",
			r.ExpectedUnscaledFullTime.Round(time.Second), (time.Duration(r.Resync.Requests) * time.Second / 8).Round(time.Second))
	}
}
