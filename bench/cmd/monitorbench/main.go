// Command monitorbench measures WAN monitors at scale: N HTTP monitors created through the store,
// checked by the node's real scheduler against a target server on 127.0.0.1 (a child process),
// and prints the share of checks started within 1 s of their due time, checks/s, the CPU share and
// resident memory of this (the server's) process and the result writer's transactions/s. With
// -find-max it raises the count until the node no longer keeps up. See bench/README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"clientst0r/bench"
)

func main() {
	bench.ServeMonitorTargetIfChild()
	var cfg bench.MonitorBench
	var dataDir, dbURL string
	var findMax bool
	var maxMonitors, resolution int
	var keepAlive bool
	flag.StringVar(&dataDir, "data", "", "SQLite data directory to use (default: a temporary one, removed at exit)")
	flag.StringVar(&dbURL, "db", "", "PostgreSQL URL instead of SQLite, e.g. postgres://postgres@127.0.0.1:5432/bench?sslmode=disable")
	flag.IntVar(&cfg.Monitors, "monitors", 20_000, "HTTP monitors (with -find-max: the first count tried)")
	flag.IntVar(&cfg.Orgs, "orgs", 200, "organizations the monitors are spread over")
	flag.IntVar(&cfg.Interval, "interval", 60, "check interval of every monitor, seconds")
	warmup := flag.Duration("warmup", 0, "scheduler running before the window (default: one interval, so every monitor has run once)")
	flag.DurationVar(&cfg.Window, "window", 0, "measured window (default: 3 intervals; 1 interval with -find-max)")
	flag.BoolVar(&keepAlive, "keepalive", true, "the target keeps connections alive (false: a new connection per check, as monitors of different hosts need)")
	flag.BoolVar(&findMax, "find-max", false, "raise the count (doubling from -monitors, then bisecting) until the node no longer keeps up")
	flag.IntVar(&maxMonitors, "max-monitors", 1_000_000, "with -find-max: the highest count tried")
	flag.IntVar(&resolution, "resolution", 0, "with -find-max: stop bisecting when the gap is this small (default: a tenth of the last good count)")
	flag.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of the (last) window to this file")
	flag.BoolVar(&cfg.Prune, "prune", false, "add an hour of expired results and run the hourly retention prune 10 s into the window")
	flag.Parse()
	cfg.Warmup = *warmup
	if cfg.Warmup == 0 {
		cfg.Warmup = time.Duration(cfg.Interval) * time.Second
	}
	if cfg.Window == 0 {
		cfg.Window = 3 * time.Duration(cfg.Interval) * time.Second
		if findMax {
			cfg.Window = time.Duration(cfg.Interval) * time.Second
		}
	}
	cfg.Progress = os.Stderr
	if err := run(dataDir, dbURL, cfg, keepAlive, findMax, maxMonitors, resolution); err != nil {
		fmt.Fprintln(os.Stderr, "monitorbench:", err)
		os.Exit(1)
	}
}

func run(dataDir, dbURL string, cfg bench.MonitorBench, keepAlive, findMax bool, maxMonitors, resolution int) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	target, err := bench.StartMonitorTarget(keepAlive)
	if err != nil {
		return err
	}
	defer target.Close()
	a, closeApp, err := bench.OpenScratch(ctx, dataDir, dbURL, true, log)
	if err != nil {
		return err
	}
	defer closeApp()

	conn := "kept alive"
	if !keepAlive {
		conn = "a new connection per check"
	}
	fmt.Printf("ClientSt0r monitor benchmark — %s; HTTP monitors every %d s against %s (child process, %s); warm-up %s, window %s; "+
		"%d CPUs, GOMAXPROCS %d, %s\ncommand: %s\n\n", a.DB.Dialect, cfg.Interval, target.URL, conn, cfg.Warmup, cfg.Window,
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), strings.Join(os.Args, " "))

	step := func(n int) (bench.MonitorResult, error) {
		c := cfg
		c.Monitors = n
		created, deleted, took, err := bench.SeedMonitors(ctx, a, c, target.URL)
		if err != nil {
			return bench.MonitorResult{}, fmt.Errorf("seed %d monitors: %w", n, err)
		}
		fmt.Fprintf(os.Stderr, "%d monitors: %d created, %d deleted in %s\n", n, created, deleted, took.Round(time.Millisecond))
		if c.Prune {
			rows, took, err := bench.SeedExpiredHour(ctx, a, c)
			if err != nil {
				return bench.MonitorResult{}, fmt.Errorf("seed expired results: %w", err)
			}
			fmt.Fprintf(os.Stderr, "%d expired results added in %s\n", rows, took.Round(time.Millisecond))
		}
		return bench.RunMonitors(ctx, a, c, target)
	}

	if !findMax {
		r, err := step(cfg.Monitors)
		if err != nil {
			return err
		}
		bench.PrintMonitorHeader(os.Stdout)
		bench.PrintMonitorRow(os.Stdout, &r)
		fmt.Println()
		bench.PrintMonitorDetail(os.Stdout, &r)
		return nil
	}

	// Double until a count is not sustained, then bisect between the last good and the first bad.
	var rows []bench.MonitorResult
	good, bad := 0, 0
	for n := cfg.Monitors; n > 0; n = nextCount(good, bad, maxMonitors, resolution) {
		r, err := step(n)
		if err != nil {
			return err
		}
		rows = append(rows, r)
		fmt.Fprintf(os.Stderr, "  %d monitors: %.2f%% on time, %.0f checks/s, CPU %.0f%% of one core, sustained: %v\n", n,
			100*r.OnTimeShare(), float64(r.Started)/r.Window.Seconds(), 100*float64(r.CPU)/float64(r.Window), r.Sustained())
		if r.Sustained() {
			good = n
		} else {
			bad = n
		}
	}
	fmt.Println()
	bench.PrintMonitorHeader(os.Stdout)
	for i := range rows {
		bench.PrintMonitorRow(os.Stdout, &rows[i])
	}
	fmt.Println()
	switch {
	case good == 0:
		fmt.Printf("no count tried was sustained (smallest tried: %d)\n", rows[len(rows)-1].Monitors)
	case bad == 0:
		fmt.Printf("every count tried was sustained, up to %d (-max-monitors)\n", good)
	default:
		fmt.Printf("largest count sustained at %d s: %d monitors (%d was not)\n", cfg.Interval, good, bad)
	}
	return nil
}

// nextCount is the next count -find-max tries, 0 when done: double while every count was
// sustained, then bisect (rounded to thousands) until the gap is within resolution (default a
// tenth of the good count).
func nextCount(good, bad, maxMonitors, resolution int) int {
	if bad == 0 {
		if good >= maxMonitors {
			return 0
		}
		return min(2*good, maxMonitors)
	}
	if resolution == 0 {
		resolution = max(good/10, 1000)
	}
	if bad-good <= resolution {
		return 0
	}
	n := (good + bad) / 2
	if n >= 2000 {
		n = n / 1000 * 1000
	}
	if n <= good || n >= bad {
		return 0
	}
	return n
}
