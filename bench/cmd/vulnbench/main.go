// Command vulnbench measures vulnerability detection: it seeds (or reuses) an installation, writes a
// synthetic NVD 2.0 feed, imports it as `clientst0r cve import` does and matches every asset, and
// prints the time and peak memory of both. See bench/README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"

	"clientst0r/bench"
)

func main() {
	dataDir := flag.String("data", "", "SQLite data directory to seed or reuse (default: a temporary one)")
	dbURL := flag.String("db", "", "database URL instead of SQLite, e.g. postgres://user@host/db")
	assets := flag.Int("assets", 100_000, "assets to seed")
	orgs := flag.Int("orgs", 200, "organizations to seed")
	cves := flag.Int("cves", 20_000, "CVEs in the feed")
	relevant := flag.Float64("relevant", 0.06, "share of criteria naming products of the inventory (NVD's share for a typical MSP inventory is some 5%)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the import and the match to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "vulnbench:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if err := run(*dataDir, *dbURL, *assets, *orgs, *cves, *relevant); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "vulnbench:", err)
		os.Exit(1)
	}
}

func run(dataDir, dbURL string, assets, orgs, cves int, relevant float64) error {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, closeApp, err := bench.OpenScratch(ctx, dataDir, dbURL, false, log)
	if err != nil {
		return err
	}
	defer closeApp()
	s, err := bench.Prepare(ctx, a, bench.SeedConfig{Orgs: orgs, Assets: assets, Users: 2, MemberOrgs: 1, Keys: 1, Seed: 1,
		Progress: os.Stderr}, true)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%d assets in %d organizations (%s)\n", s.Assets, len(s.Orgs), a.DB.Dialect)
	dir, err := os.MkdirTemp("", "vulnbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	feed := filepath.Join(dir, "nvdcve-2.0-synthetic.json.gz")
	if err := bench.CVEFeed(feed, cves, relevant, 1); err != nil {
		return err
	}
	res, err := bench.RunVulns(ctx, a, feed, os.Stderr)
	if err != nil {
		return err
	}
	res.Print(os.Stdout)
	return nil
}
