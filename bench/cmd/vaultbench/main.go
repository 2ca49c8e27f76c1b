// Command vaultbench measures the password vault: reveal latency under concurrent load (each
// reveal writes its audit row before it answers) and a full breach scan against a fake range
// service on 127.0.0.1. See bench/README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"clientst0r/bench"
)

func main() {
	var cfg bench.VaultConfig
	var dataDir, dbURL string
	flag.StringVar(&dataDir, "data", "", "SQLite data directory to seed or reuse (default: a temporary one, removed at exit)")
	flag.StringVar(&dbURL, "db", "", "PostgreSQL URL instead of SQLite, e.g. postgres://postgres@127.0.0.1:5432/bench?sslmode=disable")
	flag.IntVar(&cfg.Entries, "entries", 100_000, "vault entries to seed (when the benchmark organization has none)")
	flag.IntVar(&cfg.Distinct, "distinct", 0, "distinct password values (default 60% of -entries)")
	flag.IntVar(&cfg.Concurrency, "concurrency", 16, "concurrent reveal workers, each on its own connection")
	flag.DurationVar(&cfg.Duration, "duration", 10*time.Second, "measured reveal load")
	flag.DurationVar(&cfg.Warmup, "warmup", 2*time.Second, "unmeasured reveal load before it")
	flag.IntVar(&cfg.Keys, "keys", 4, "API keys (can_reveal) the workers rotate through")
	flag.IntVar(&cfg.Parallel, "parallel", 8, "concurrent range requests of the scan (the job queue's setting)")
	flag.IntVar(&cfg.Chunk, "chunk", 200_000, "entries the scan holds at once (the job queue's setting)")
	flag.Uint64Var(&cfg.Seed, "seed", 1, "random seed of the data")
	flag.Parse()
	cfg.Progress = os.Stderr
	if err := run(dataDir, dbURL, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "vaultbench:", err)
		os.Exit(1)
	}
}

func run(dataDir, dbURL string, cfg bench.VaultConfig) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, closeApp, err := bench.OpenScratch(ctx, dataDir, dbURL, false, log)
	if err != nil {
		return err
	}
	defer closeApp()
	r, err := bench.RunVault(ctx, a, cfg)
	if err != nil {
		return err
	}
	seeded := "reused"
	if r.Seeded {
		seeded = fmt.Sprintf("seeded in %s", r.SeedTook.Round(100*time.Millisecond))
	}
	fmt.Printf("\nClientSt0r vault benchmark — %s, %d entries (%s); reveal concurrency %d for %s; scan parallel %d; GOMAXPROCS %d, %s\n\n",
		a.DB.Dialect, r.Entries, seeded, cfg.Concurrency, cfg.Duration, cfg.Parallel, runtime.GOMAXPROCS(0), runtime.Version())
	bench.ReportVault(os.Stdout, r)
	if len(r.Problems) > 0 {
		return fmt.Errorf("%d problems", len(r.Problems))
	}
	return nil
}
