// Command webhookbench measures webhook fan-out: assets created through the API, each an
// asset.created event to every webhook, delivered by the job queue to a receiver on 127.0.0.1.
// It prints deliveries per second and the latency from commit to first attempt. See bench/README.md.
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
	var cfg bench.WebhookConfig
	var dataDir, dbURL string
	flag.StringVar(&dataDir, "data", "", "SQLite data directory to use (default: a temporary one, removed at exit)")
	flag.StringVar(&dbURL, "db", "", "PostgreSQL URL instead of SQLite, e.g. postgres://postgres@127.0.0.1:5432/bench?sslmode=disable")
	flag.IntVar(&cfg.Events, "events", 2000, "assets to create, each an asset.created event")
	flag.IntVar(&cfg.Webhooks, "webhooks", 10, "webhooks subscribed to asset.created (deliveries = events × webhooks)")
	flag.IntVar(&cfg.Concurrency, "concurrency", 8, "concurrent creators, each on its own connection")
	flag.Float64Var(&cfg.Rate, "rate", 0, "events per second to create at (0: as fast as the API answers)")
	flag.DurationVar(&cfg.Timeout, "timeout", 5*time.Minute, "how long to wait for the deliveries after the last create")
	flag.Uint64Var(&cfg.Seed, "seed", 1, "random seed of the asset bodies")
	flag.Parse()
	cfg.Progress = os.Stderr
	if err := run(dataDir, dbURL, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "webhookbench:", err)
		os.Exit(1)
	}
}

func run(dataDir, dbURL string, cfg bench.WebhookConfig) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// The receiver is on 127.0.0.1, which webhooks may reach only when private targets are allowed.
	a, closeApp, err := bench.OpenScratch(ctx, dataDir, dbURL, true, log)
	if err != nil {
		return err
	}
	defer closeApp()
	r, err := bench.RunWebhooks(ctx, a, cfg)
	if r != nil {
		fmt.Printf("\nClientSt0r webhook benchmark — %s; %d creators, %s; GOMAXPROCS %d, %s\n\n", a.DB.Dialect, cfg.Concurrency,
			pace(cfg.Rate), runtime.GOMAXPROCS(0), runtime.Version())
		bench.ReportWebhooks(os.Stdout, r)
	}
	if err != nil {
		return err
	}
	if r.Missing > 0 || r.Unexpected > 0 || r.CreateErrors > 0 {
		return fmt.Errorf("incomplete run")
	}
	return nil
}

func pace(rate float64) string {
	if rate <= 0 {
		return "creating as fast as the API answers"
	}
	return fmt.Sprintf("creating %.0f events/s", rate)
}
