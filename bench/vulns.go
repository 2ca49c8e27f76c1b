package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"clientst0r/internal/app"
	"clientst0r/internal/auth"
	"clientst0r/internal/store"
	"clientst0r/internal/vuln/nvdtest"
)

// The vulnerability benchmark: a synthetic NVD 2.0 feed whose CVEs concern, in part, the products
// the seeder's catalog puts in the inventory (the rest name products nobody here owns, as most of
// NVD does for an MSP), imported from a .json.gz file, then a full match of every asset.

// inventoryCPEs are vendor:product pairs the catalog's assets yield as candidates, with versions
// around the catalog's so that ranges include some assets and exclude others. As in NVD, operating
// systems are always bounded by version (Windows by build, which the catalog's assets do not
// report, so they match nothing) and hardware is not.
var inventoryCPEs = []struct {
	part, vendor, product string
	versions              []string
}{
	{"o", "microsoft", "windows_11_23h2", []string{"10.0.22631.0"}}, {"o", "microsoft", "windows_11_22h2", []string{"10.0.22621.0"}},
	{"o", "microsoft", "windows_10_22h2", []string{"10.0.19045.0"}}, {"o", "microsoft", "windows_server_2019", []string{"10.0.17763.0"}},
	{"o", "microsoft", "windows_server_2022", []string{"10.0.20348.0"}},
	{"o", "fortinet", "fortios", []string{"7.0.0", "7.2.0", "7.2.9", "7.4.0", "7.4.4"}},
	{"o", "cisco", "ios_xe", []string{"17.6.0", "17.9.5", "17.12.0"}}, {"o", "cisco", "ios", []string{"15.2(7)e8", "15.2(7)e9"}},
	{"o", "sonicwall", "sonicos", []string{"7.0.0", "7.0.1-5145", "7.1.1"}},
	{"o", "synology", "diskstation_manager", []string{"7.1", "7.2.1", "7.2.2"}}, {"o", "qnap", "qts", []string{"5.0.0", "5.1.5"}},
	{"o", "vmware", "esxi", []string{"7.0", "8.0", "8.0 u3"}}, {"o", "canonical", "ubuntu_linux", []string{"20.04", "22.04"}},
	{"o", "apple", "macos", []string{"13.0", "14.4.1", "14.5"}}, {"o", "apple", "iphone_os", []string{"16.0", "17.4.1"}},
	{"o", "apple", "ipados", []string{"17.4.1"}}, {"o", "google", "android", []string{"13.0", "14.0"}},
	{"o", "hp", "laserjet_pro_m404dn_firmware", []string{"002_2310a", "002_2400a"}},
	{"o", "ui", "usw-pro-24-poe_firmware", []string{"6.6.65"}}, {"h", "cisco", "isr_1111-8p", nil}, {"h", "hp", "laserjet_pro_m404dn", nil},
	{"o", "axis", "p3265-lve_firmware", []string{"11.10.0"}}, {"o", "hikvision", "ds-2cd2143g2-i_firmware", []string{"5.7.16"}},
}

// CVEFeed writes n synthetic CVEs to path (.json.gz), a share of them (relevant, 0–1) about the
// inventory; each has one to four criteria, most with version ranges.
func CVEFeed(path string, n int, relevant float64, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 2))
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	return nvdtest.WriteFeed(path, n, func(i int) nvdtest.CVE {
		day := base.Add(time.Duration(rng.IntN(365*24)) * time.Hour)
		c := nvdtest.CVE{ID: fmt.Sprintf("CVE-2025-%05d", i+1), Published: day, LastModified: day.Add(48 * time.Hour),
			Score: float64(10+rng.IntN(91)) / 10,
			Description: fmt.Sprintf("A flaw in the component handling request %d allows a remote attacker to cause a denial of service "+
				"or execute code via crafted input.", i)}
		for range 1 + rng.IntN(4) {
			if rng.Float64() < relevant {
				p := inventoryCPEs[rng.IntN(len(inventoryCPEs))]
				criteria := fmt.Sprintf("cpe:2.3:%s:%s:%s:*:*:*:*:*:*:*:*", p.part, p.vendor, p.product)
				if p.versions == nil {
					c.Matches = append(c.Matches, nvdtest.Vulnerable(criteria, "", "", "", ""))
					continue
				}
				lo := rng.IntN(len(p.versions))
				c.Matches = append(c.Matches, nvdtest.Vulnerable(criteria, p.versions[lo], "", "", fmt.Sprintf("%s.%d", p.versions[lo], 1+rng.IntN(20))))
				continue
			}
			vendor := fmt.Sprintf("vendor%d", rng.IntN(3000))
			c.Matches = append(c.Matches, nvdtest.Vulnerable(fmt.Sprintf("cpe:2.3:a:%s:product%d:*:*:*:*:*:*:*:*", vendor, rng.IntN(20)),
				"", "", "", fmt.Sprintf("%d.%d.%d", rng.IntN(10), rng.IntN(20), rng.IntN(50))))
		}
		return c
	})
}

// VulnResult is what the benchmark measured.
type VulnResult struct {
	CVEs, Assets                 int
	FeedBytes                    int64
	Import                       time.Duration
	ImportPeak, ImportHeapPeak   int64
	Match                        time.Duration
	MatchPeak, MatchHeapPeak     int64
	Rematch                      time.Duration // a full match again with nothing changed
	RematchOpened                int
	Opened, AssetsScanned        int
	FindingsTotal, CriteriaTotal int
}

// heapPeak samples the Go heap's live objects every period until stop is called, returning the
// peak: the process's resident peak also holds the database's page cache and the runtime's free
// memory. runtime/metrics reads without stopping the world, so sampling does not disturb timings.
func heapPeak(period time.Duration) (stop func() int64) {
	quit, done := make(chan struct{}), make(chan int64)
	go func() {
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		var peak uint64
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-quit:
				done <- int64(peak)
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 { close(quit); return <-done }
}

// phase runs fn and measures its time, the process's resident peak and the Go heap's peak.
func phase(fn func() error) (took time.Duration, rssPeak, heap int64, err error) {
	runtime.GC()
	debug.FreeOSMemory()
	peakOK := ResetPeak() == nil
	stop := heapPeak(10 * time.Millisecond)
	start := time.Now()
	err = fn()
	took = time.Since(start)
	heap = stop()
	if m, merr := ReadMem(); merr == nil && peakOK {
		rssPeak = m.Peak
	}
	return took, rssPeak, heap, err
}

// RunVulns imports the feed at path and matches every asset of the installation.
func RunVulns(ctx context.Context, a *app.App, path string, logw io.Writer) (VulnResult, error) {
	sys := auth.WithCaller(ctx, auth.System())
	var res VulnResult
	if fi, err := os.Stat(path); err == nil {
		res.FeedBytes = fi.Size()
	}
	var err error
	res.Import, res.ImportPeak, res.ImportHeapPeak, err = phase(func() error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		p, _, err := a.Store.ImportCVEs(sys, f)
		res.CVEs = p.Read
		return err
	})
	if err != nil {
		return res, fmt.Errorf("import: %w", err)
	}
	fmt.Fprintf(logw, "imported %d CVEs in %s\n", res.CVEs, res.Import.Round(time.Millisecond))
	var counts store.VulnScanCounts
	res.Match, res.MatchPeak, res.MatchHeapPeak, err = phase(func() error {
		counts, err = a.Store.ScanVulnerabilities(sys, store.VulnScanOptions{Full: true})
		return err
	})
	if err != nil {
		return res, fmt.Errorf("match: %w", err)
	}
	res.Opened, res.AssetsScanned = counts.Opened, counts.AssetsScanned
	start := time.Now()
	again, err := a.Store.ScanVulnerabilities(sys, store.VulnScanOptions{Full: true})
	if err != nil {
		return res, fmt.Errorf("match again: %w", err)
	}
	res.Rematch, res.RematchOpened = time.Since(start), again.Opened+again.Resolved
	for q, dst := range map[string]*int{`SELECT count(*) FROM assets`: &res.Assets, `SELECT count(*) FROM vulnerabilities`: &res.FindingsTotal,
		`SELECT count(*) FROM cve_matches`: &res.CriteriaTotal} {
		if err := a.DB.R.QueryRowContext(ctx, q).Scan(dst); err != nil {
			return res, err
		}
	}
	return res, nil
}

// Print writes the result as a table.
func (r VulnResult) Print(w io.Writer) {
	mib := func(b int64) string {
		if b == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
	}
	fmt.Fprintf(w, "feed: %d CVEs, %d criteria stored, %.1f MiB gzip\n", r.CVEs, r.CriteriaTotal, float64(r.FeedBytes)/(1<<20))
	fmt.Fprintf(w, "%-22s %10s %16s %14s\n", "phase", "time", "peak RSS (VmHWM)", "peak Go heap")
	fmt.Fprintf(w, "%-22s %10s %16s %14s\n", "import feed", r.Import.Round(time.Millisecond), mib(r.ImportPeak), mib(r.ImportHeapPeak))
	fmt.Fprintf(w, "%-22s %10s %16s %14s\n", fmt.Sprintf("match %d assets", r.Assets), r.Match.Round(time.Millisecond), mib(r.MatchPeak),
		mib(r.MatchHeapPeak))
	fmt.Fprintf(w, "%-22s %10s\n", "match again, unchanged", r.Rematch.Round(time.Millisecond))
	fmt.Fprintf(w, "findings opened by the match: %d (total stored: %d); opened or resolved by the unchanged match: %d\n",
		r.Opened, r.FindingsTotal, r.RematchOpened)
}
