package jobs

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"clientst0r/internal/store"
	"clientst0r/internal/vuln"
)

// nvdFetchedUntil is the app_meta row holding the end of the last complete NVD fetch.
const nvdFetchedUntil = "nvd.fetched_until"

// vulnPeriodicOpts keeps one periodic scan of each sort queued or running at a time.
func vulnPeriodicOpts() *river.InsertOpts {
	return &river.InsertOpts{Queue: queueVuln, MaxAttempts: 3,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{rivertype.JobStateAvailable,
			rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled}}}
}

// vulnWorker fetches CVE data when asked and matches assets.
type vulnWorker struct {
	river.WorkerDefaults[store.VulnScanArgs]
	store *store.Store
	nvd   *vuln.Client // nil: fetching is off
}

// Timeout allows a first full download within NVD's public rate limit (some 130 pages of 2,000).
func (w *vulnWorker) Timeout(*river.Job[store.VulnScanArgs]) time.Duration { return 3 * time.Hour }

func (w *vulnWorker) Work(ctx context.Context, job *river.Job[store.VulnScanArgs]) error {
	a := job.Args
	var scan store.VulnScan
	if a.ScanID != 0 {
		var err error
		if scan, err = w.store.VulnScanFor(ctx, a.ScanID); err != nil {
			return err
		}
		scan.Status = "running"
		if err := w.store.UpdateVulnScan(ctx, scan); err != nil {
			return err
		}
	}
	err := w.run(ctx, a, &scan)
	if a.ScanID != 0 {
		scan.Status = "finished"
		if err != nil {
			scan.Status, scan.Error = "failed", err.Error()
		}
		if uerr := w.store.UpdateVulnScan(context.WithoutCancel(ctx), scan); uerr != nil {
			return errors.Join(err, uerr)
		}
		if err != nil {
			return river.JobCancel(err) // reported on the scan; the user asks again
		}
	}
	return err
}

func (w *vulnWorker) run(ctx context.Context, a store.VulnScanArgs, scan *store.VulnScan) error {
	if a.Fetch && w.nvd != nil {
		n, err := w.fetch(ctx)
		scan.CVEsFetched = n
		if err != nil {
			return err
		}
	}
	counts, err := w.store.ScanVulnerabilities(ctx, store.VulnScanOptions{Orgs: a.Orgs, Full: a.Full, Progress: func(c store.VulnScanCounts) {
		if a.ScanID != 0 {
			scan.VulnScanCounts = c
			_ = w.store.UpdateVulnScan(ctx, *scan) // progress only; the final update reports errors
		}
	}})
	scan.VulnScanCounts = counts
	return err
}

// fetch reads the CVEs modified since the last complete fetch (everything the first time) and
// saves them; the mark moves only when every window and page arrived.
func (w *vulnWorker) fetch(ctx context.Context) (int, error) {
	var since time.Time
	if v, err := w.store.Meta(ctx, nvdFetchedUntil); err != nil {
		return 0, err
	} else if v != "" {
		if since, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return 0, err
		}
	}
	until := w.store.Now()
	b := w.store.NewCVEBatch()
	n, err := w.nvd.Changed(ctx, since, until, func(c vuln.CVE) error { return b.Add(ctx, c) })
	if ferr := b.Flush(ctx); err == nil {
		err = ferr
	}
	if err != nil {
		return n, err
	}
	return n, w.store.SetMeta(ctx, nvdFetchedUntil, until.Format(time.RFC3339Nano))
}
