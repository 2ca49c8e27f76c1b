// Command rmmbench measures RMM syncs against the local fake vendors: a full sync of 20,000 NinjaOne
// devices and of 5,000 Datto devices (Datto's 600 requests/min scaled), then an unchanged re-sync
// of each: time, requests, peak memory. See bench/README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"clientst0r/bench"
	"clientst0r/internal/rmm"
)

func main() {
	dataDir := flag.String("data", "", "SQLite data directory (default: a temporary one)")
	dbURL := flag.String("db", "", "database URL instead of SQLite, e.g. postgres://user@host/db")
	ninja := flag.Int("ninjaone", 20_000, "NinjaOne devices (0: skip)")
	datto := flag.Int("datto", 5_000, "Datto devices (0: skip)")
	orgs := flag.Int("orgs", 50, "vendor organizations, each mapped to its own organization")
	scale := flag.Float64("scale", 20, "speed-up of the vendors' rate limits and the fakes' windows")
	flag.Parse()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, closeApp, err := bench.OpenScratch(ctx, *dataDir, *dbURL, true, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rmmbench:", err)
		os.Exit(1)
	}
	defer closeApp()
	for _, c := range []bench.RMMConfig{{Provider: rmm.NinjaOne, Devices: *ninja}, {Provider: rmm.Datto, Devices: *datto}} {
		if c.Devices == 0 {
			continue
		}
		c.Orgs, c.Scale, c.Seed = *orgs, *scale, 1
		res, err := bench.RunRMM(ctx, a, c, os.Stderr)
		if err != nil {
			closeApp()
			fmt.Fprintln(os.Stderr, "rmmbench:", err)
			os.Exit(1)
		}
		res.Print(os.Stdout)
	}
}
