// Command loadtest runs the standard load scenario: seed (or reuse) an installation, serve it
// in-process, load each endpoint in turn, replay the same bytes from a bare net/http server as a
// baseline, and print a table. See bench/README.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"clientst0r/bench"
	"clientst0r/internal/config"
	"clientst0r/internal/store"
)

type options struct {
	dataDir, dbURL, url, key, as, search, endpoints string
	assets, orgs, users, memberOrgs, keys           int
	concurrency                                     int
	duration, warmup                                time.Duration
	skipSeed, seedOnly, baseline                    bool
	cpuProfile                                      string
	seed                                            uint64
}

func main() {
	var o options
	flag.StringVar(&o.dataDir, "data", "", "SQLite data directory to seed or reuse (default: a temporary one, removed at exit)")
	flag.StringVar(&o.dbURL, "db", "", "database URL instead of SQLite in -data, e.g. postgres://user@host/db")
	flag.IntVar(&o.assets, "assets", 100_000, "assets to seed")
	flag.IntVar(&o.orgs, "orgs", 200, "organizations to seed")
	flag.IntVar(&o.users, "users", 10, "accounts to seed (at least the admin and the technician)")
	flag.IntVar(&o.memberOrgs, "member-orgs", 5, "organizations the ordinary member (technician) belongs to")
	flag.IntVar(&o.keys, "keys", 4, "keys per account; workers rotate through them, each key having its own rate limit")
	flag.Uint64Var(&o.seed, "seed", 1, "random seed of the data")
	flag.BoolVar(&o.skipSeed, "skip-seed", false, "never seed: the installation must hold benchmark data already")
	flag.BoolVar(&o.seedOnly, "seed-only", false, "seed (or reuse), print the keys and exit")
	flag.IntVar(&o.concurrency, "concurrency", 32, "concurrent workers, each with its own connection")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measured time per endpoint")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured time per endpoint before its run")
	flag.StringVar(&o.endpoints, "endpoints", strings.Join(bench.EndpointNames, ","), "endpoints to run, comma-separated")
	flag.StringVar(&o.search, "search", "dell ws-01", "the search endpoint's terms (they occur in seeded data)")
	flag.StringVar(&o.as, "as", "superuser", "which seeded keys to load with: superuser or member")
	flag.StringVar(&o.key, "key", "", "API keys to load with, comma-separated, instead of the seeded ones")
	flag.StringVar(&o.url, "url", "", "load a server already running at this URL (needs -key; nothing is seeded or served here); "+
		"several comma-separated URLs are nodes of one installation, taken in turn by the workers")
	flag.BoolVar(&o.baseline, "baseline", true, "also run the in-memory baseline")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the real-server runs (server and load generator) to this file")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	eps, err := pick(o.endpoints)
	if err != nil {
		return err
	}
	var s *setup
	if o.url != "" {
		s, err = remote(ctx, o)
	} else {
		s, err = inProcess(ctx, o)
	}
	if err != nil {
		return err
	}
	defer s.close()
	if o.seedOnly {
		return nil
	}
	s.scenario.Search, s.scenario.Seed = o.search, o.seed
	var mix []bench.Endpoint
	for _, e := range bench.StandardEndpoints(s.scenario) {
		if slices.Contains(eps, e.Name) {
			mix = append(mix, e)
		}
	}

	// One real answer per endpoint: proof that each works before it is loaded, and the bytes the
	// baseline replays.
	caps, err := bench.Capture(ctx, s.target, mix)
	if err != nil {
		return err
	}
	for _, e := range mix {
		if e.Method == "GET" && e.Name != "detail" {
			fmt.Fprintf(os.Stderr, "%-8s %s → %d results\n", e.Name, e.Path(nil), count(caps[e.Name]))
		}
	}

	fmt.Fprintf(os.Stderr, "loading %s: concurrency %d, %s per endpoint after %s warm-up\n", s.what, o.concurrency, o.duration, o.warmup)
	stopProfile, err := startProfile(o.cpuProfile)
	if err != nil {
		return err
	}
	real := loadAll(ctx, s.target, mix, o)
	stopProfile()
	memServing, _ := bench.ReadMem()

	base := map[string]*bench.Result{}
	if o.baseline && ctx.Err() == nil {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: bench.Baseline(caps), ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		fmt.Fprintln(os.Stderr, "baseline: the same bytes from memory")
		bt := bench.Target{URL: "http://" + ln.Addr().String(), Keys: s.target.Keys, Client: bench.NewClient(o.concurrency)}
		for _, r := range loadAll(ctx, bt, mix, o) {
			base[r.Endpoint] = &r
		}
	}

	fmt.Printf("\nClientSt0r load test — %s; concurrency %d, %s per endpoint; GOMAXPROCS %d, %s\n\n",
		s.what, o.concurrency, o.duration, runtime.GOMAXPROCS(0), runtime.Version())
	bench.Report(os.Stdout, real, base)
	end, _ := bench.ReadMem()
	who := "server, load generator and baseline"
	if o.url != "" {
		who = "load generator and baseline only; the server is another process"
	}
	fmt.Printf("\nmemory of this process (%s): after the real-server runs %s; at the end %s\n", who, memServing, end)
	return ctx.Err()
}

// setup is what a run loads: the server, the data the requests may use, a description of both,
// and how to stop what was started.
type setup struct {
	target   bench.Target
	scenario bench.Scenario
	what     string
	close    func()
}

// remote loads a server running elsewhere; its assets and organizations are found through the API.
func remote(ctx context.Context, o options) (*setup, error) {
	if o.key == "" {
		return nil, errors.New("-url needs -key")
	}
	s := &setup{what: "server at " + o.url, close: func() {}}
	var nodes []string
	for _, u := range strings.Split(o.url, ",") {
		nodes = append(nodes, strings.TrimSuffix(strings.TrimSpace(u), "/"))
	}
	s.target = bench.Target{URL: nodes[0], Nodes: nodes, Keys: strings.Split(o.key, ","), Client: bench.NewClient(o.concurrency)}
	var err error
	s.scenario.AssetIDs, s.scenario.CreateOrgs, err = bench.Discover(ctx, s.target)
	return s, err
}

// inProcess opens (and seeds) the installation and serves it on a loopback port.
func inProcess(ctx context.Context, o options) (_ *setup, err error) {
	var cleanup []func()
	s := &setup{close: func() {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
	}}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if o.dataDir == "" && o.dbURL == "" {
		dir, err := os.MkdirTemp("", "clientst0r-bench-")
		if err != nil {
			return nil, err
		}
		cleanup = append(cleanup, func() { os.RemoveAll(dir) })
		o.dataDir = dir
	}
	in := bench.Install{DataDir: o.dataDir, DatabaseURL: o.dbURL}
	if k := os.Getenv("CLIENTST0R_MASTER_KEY"); k != "" {
		if in.MasterKey, err = config.DecodeKey(k); err != nil {
			return nil, fmt.Errorf("CLIENTST0R_MASTER_KEY %v", err)
		}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := bench.Open(ctx, in, log)
	if err != nil {
		return nil, err
	}
	cleanup = append(cleanup, func() { a.Close() })

	fmt.Fprintf(os.Stderr, "installation: %s\n", strings.Join(nonEmpty(o.dbURL, o.dataDir), " "))
	seeded, err := bench.Prepare(ctx, a, bench.SeedConfig{Orgs: o.orgs, Assets: o.assets, Users: o.users,
		MemberOrgs: o.memberOrgs, Keys: o.keys, Seed: o.seed, Progress: os.Stderr}, !o.skipSeed)
	if err != nil {
		return nil, err
	}
	if seeded.Reused {
		fmt.Fprintf(os.Stderr, "reusing seeded data: %d assets in %d organizations\n", seeded.Assets, len(seeded.Orgs))
	} else {
		fmt.Fprintf(os.Stderr, "seeded %d assets in %d organizations in %s (%.0f assets/s)\n", seeded.Assets, len(seeded.Orgs),
			seeded.Took.Round(100*time.Millisecond), float64(seeded.Assets)/seeded.Took.Seconds())
	}
	fmt.Fprintf(os.Stderr, "superuser keys (%s, rate limit %d/min each): %s\n", bench.AdminEmail, store.MaxRateLimit, strings.Join(seeded.SuperKeys, " "))
	fmt.Fprintf(os.Stderr, "member keys (%s, editor in organizations %v): %s\n", bench.MemberEmail, seeded.MemberOrgs, strings.Join(seeded.MemberKeys, " "))
	if o.seedOnly {
		return s, nil
	}

	// The seeder's garbage is not the server's: return it to the OS and restart the peak.
	runtime.GC()
	debug.FreeOSMemory()
	if err := bench.ResetPeak(); err != nil {
		fmt.Fprintln(os.Stderr, "cannot reset VmHWM; the peak below includes seeding:", err)
	}
	if m, err := bench.ReadMem(); err == nil {
		fmt.Fprintf(os.Stderr, "memory before serving: %s\n", m)
	}

	var orgs []int64 // whose assets detail requests read; nil: all
	s.target.Keys, s.scenario.CreateOrgs = seeded.SuperKeys, seeded.Orgs
	switch o.as {
	case "superuser":
	case "member":
		s.target.Keys, orgs, s.scenario.CreateOrgs = seeded.MemberKeys, seeded.MemberOrgs, seeded.MemberOrgs
	default:
		return nil, fmt.Errorf("-as %q: want superuser or member", o.as)
	}
	if o.key != "" {
		s.target.Keys = strings.Split(o.key, ",")
	}
	if s.scenario.AssetIDs, err = bench.AssetIDs(ctx, a.DB, orgs); err != nil {
		return nil, err
	}

	// The job queue runs as in app.Serve, so the background work of a live server (the event
	// outbox, River's maintenance) is part of what is measured.
	if err := a.Queue.Start(ctx); err != nil {
		return nil, fmt.Errorf("start job queue: %w", err)
	}
	cleanup = append(cleanup, func() { a.Queue.Stop(context.Background()) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	// The server's own settings (app.Serve), so connection handling is the production one.
	srv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	go srv.Serve(ln)
	cleanup = append(cleanup, func() { srv.Close() })
	s.target.URL, s.target.Client = "http://"+ln.Addr().String(), bench.NewClient(o.concurrency)
	s.what = fmt.Sprintf("%s, %d assets in %d organizations, %s keys", a.DB.Dialect, seeded.Assets, len(seeded.Orgs), o.as)
	return s, nil
}

// loadAll warms up and runs each endpoint in turn, reporting progress on stderr.
func loadAll(ctx context.Context, t bench.Target, mix []bench.Endpoint, o options) []bench.Result {
	var out []bench.Result
	for _, e := range mix {
		if ctx.Err() != nil {
			break
		}
		if o.warmup > 0 {
			bench.Run(ctx, t, e, o.concurrency, o.warmup)
		}
		r := bench.Run(ctx, t, e, o.concurrency, o.duration)
		fmt.Fprintf(os.Stderr, "  %-8s %8.0f req/s  p50 %-8v p99 %-8v errors %d\n", e.Name, r.Rate(),
			r.Latency.Quantile(0.5).Round(time.Microsecond), r.Latency.Quantile(0.99).Round(time.Microsecond), r.Errors)
		out = append(out, r)
	}
	return out
}

func pick(list string) ([]string, error) {
	var out []string
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		if !slices.Contains(bench.EndpointNames, n) {
			return nil, fmt.Errorf("-endpoints: unknown %q (known: %s)", n, strings.Join(bench.EndpointNames, ", "))
		}
		out = append(out, n)
	}
	return out, nil
}

// count reads the DRF envelope's count from a captured list answer.
func count(c bench.Captured) int {
	var v struct{ Count int }
	json.Unmarshal(c.Body, &v)
	return v.Count
}

func nonEmpty(xs ...string) []string {
	return slices.DeleteFunc(xs, func(s string) bool { return s == "" })
}

// startProfile profiles the process until the returned function is called ("" does nothing).
func startProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
