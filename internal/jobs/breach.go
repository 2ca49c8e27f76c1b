package jobs

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"clientst0r/internal/store"
	"clientst0r/internal/vault"
)

// BreachScanner checks vault passwords against the breach corpus. A scan decrypts entries in
// chunks, sorts each chunk by hash prefix and asks the range API once per distinct prefix.
type BreachScanner struct {
	Store  *store.Store
	Client *vault.RangeClient // nil: checks are off
	// Parallel is how many range requests run at once.
	Parallel int
	// Chunk bounds the entries held in memory at once; prefixes repeat across chunks only beyond it.
	Chunk int
}

// ScanStats is what one scan did.
type ScanStats struct {
	Entries, Requests, Breached, Errors int
	Took                                time.Duration
}

type hashed struct {
	c      store.BreachCandidate
	prefix string
	suffix string
}

// Scan checks every entry with a password.
func (b *BreachScanner) Scan(ctx context.Context) (ScanStats, error) {
	var st ScanStats
	if b.Client == nil {
		return st, nil
	}
	start := time.Now()
	chunk := max(b.Chunk, 1000)
	var pending []hashed
	for after := int64(0); ; {
		cands, err := b.Store.BreachCandidates(ctx, after, 1000)
		if err != nil {
			return st, err
		}
		for _, c := range cands {
			h := vault.SHA1(c.Password)
			pending = append(pending, hashed{c, h[:5], h[5:]})
			after = c.ID
		}
		if len(pending) >= chunk || len(cands) == 0 {
			if err := b.check(ctx, pending, &st); err != nil {
				return st, err
			}
			pending = pending[:0]
		}
		if len(cands) == 0 {
			break
		}
	}
	st.Took = time.Since(start)
	return st, nil
}

// check looks up a set of entries, one request per distinct prefix, and records the results.
func (b *BreachScanner) check(ctx context.Context, entries []hashed, st *ScanStats) error {
	slices.SortFunc(entries, func(x, y hashed) int {
		if x.prefix < y.prefix {
			return -1
		}
		if x.prefix > y.prefix {
			return 1
		}
		return 0
	})
	var prefixes []string
	suffixes := map[string][]string{}
	for _, e := range entries {
		if len(prefixes) == 0 || prefixes[len(prefixes)-1] != e.prefix {
			prefixes = append(prefixes, e.prefix)
		}
		suffixes[e.prefix] = append(suffixes[e.prefix], e.suffix)
	}
	ranges := make(map[string]map[string]int, len(prefixes))
	var mu sync.Mutex
	sem := make(chan struct{}, max(b.Parallel, 1))
	var wg sync.WaitGroup
	for _, p := range prefixes {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			r, err := b.Client.Range(ctx, p, suffixes[p])
			if err != nil {
				r = nil // an error for every entry of this prefix: never "clean"
			}
			mu.Lock()
			ranges[p] = r
			mu.Unlock()
		}()
	}
	wg.Wait()
	st.Requests += len(prefixes)
	results := make([]store.BreachResult, 0, 500)
	for i, e := range entries {
		r := store.BreachResult{Candidate: e.c, Status: "clean"}
		switch found, ok := ranges[e.prefix]; {
		case found == nil || !ok:
			r.Status = "error"
			st.Errors++
		case found[e.suffix] > 0:
			r.Status, r.Count = "breached", found[e.suffix]
			st.Breached++
		}
		st.Entries++
		results = append(results, r)
		if len(results) == cap(results) || i == len(entries)-1 {
			if err := b.Store.RecordBreaches(ctx, results); err != nil {
				return err
			}
			results = results[:0]
		}
	}
	return ctx.Err()
}

// BreachScanArgs is the periodic scan of the whole vault.
type BreachScanArgs struct{}

// Kind names the job.
func (BreachScanArgs) Kind() string { return "vault.breach_scan" }

type breachScanWorker struct {
	river.WorkerDefaults[BreachScanArgs]
	scanner *BreachScanner
}

func (w *breachScanWorker) Timeout(*river.Job[BreachScanArgs]) time.Duration { return 6 * time.Hour }

func (w *breachScanWorker) Work(ctx context.Context, job *river.Job[BreachScanArgs]) error {
	_, err := w.scanner.Scan(ctx)
	return err
}

// breachCheckWorker checks one entry right after its password changed.
type breachCheckWorker struct {
	river.WorkerDefaults[store.BreachCheckArgs]
	scanner *BreachScanner
}

func (w *breachCheckWorker) Work(ctx context.Context, job *river.Job[store.BreachCheckArgs]) error {
	if w.scanner.Client == nil {
		return nil
	}
	c, ok, err := w.scanner.Store.BreachCandidate(ctx, job.Args.PasswordID)
	if err != nil || !ok {
		return err
	}
	h := vault.SHA1(c.Password)
	var st ScanStats
	return w.scanner.check(ctx, []hashed{{c, h[:5], h[5:]}}, &st)
}

// reencryptWorker moves secrets to the newest data key after a rotation.
type reencryptWorker struct {
	river.WorkerDefaults[store.ReencryptArgs]
	store *store.Store
}

func (w *reencryptWorker) Timeout(*river.Job[store.ReencryptArgs]) time.Duration {
	return 12 * time.Hour
}

func (w *reencryptWorker) Work(ctx context.Context, job *river.Job[store.ReencryptArgs]) error {
	_, err := w.store.Reencrypt(ctx, 500)
	return err
}
