package monitor

import (
	"container/heap"
	"context"
	"hash/fnv"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"clientst0r/internal/store"
)

// Source gives the scheduler its monitors: every enabled one (ids nil) or the given ones.
type Source interface {
	MonitorConfigs(ctx context.Context, ids []int64) ([]store.MonitorConfig, error)
}

// Recorder stores results in batches.
type Recorder interface {
	RecordMonitorResults(ctx context.Context, results []store.CheckResult) error
}

// CheckFunc runs one check.
type CheckFunc func(ctx context.Context, m store.MonitorConfig) store.CheckResult

// Options size the scheduler.
type Options struct {
	Workers    int           // concurrent checks (default 256)
	BatchSize  int           // results per write (default 1000)
	FlushEvery time.Duration // longest a result waits to be written when the writer keeps up (default 1 s)
	// MaxPending is how many results may wait for the writer before the workers wait for it, and
	// so checks start late. The default is one interval's worth (as many as monitors are
	// scheduled), at least 100 batches: the writer may stall for an interval (another long
	// transaction on SQLite's one writer, such as the hourly retention prune) without delaying checks.
	MaxPending int
	// Owns reports whether this node checks a monitor (nodes sharing a database divide them, see
	// Partition); nil: every monitor.
	Owns func(id int64) bool
}

// Scheduler is the one per node: a min-heap of next runs, a bounded pool of workers, and one
// writer that stores results in batches. Not one goroutine per monitor.
type Scheduler struct {
	src   Source
	rec   Recorder
	check CheckFunc
	log   *slog.Logger
	opts  Options
	// fixedMaxPending: Options.MaxPending was given; otherwise it grows with the monitors.
	fixedMaxPending bool

	loadMu  sync.Mutex // one Reload at a time
	mu      sync.Mutex
	queue   runQueue
	byID    map[int64]*run
	loading map[int64]bool // monitors changed while Reload loads the list; nil otherwise
	wake    chan struct{}

	jobs    chan job
	results chan store.CheckResult

	stats Stats
}

// Stats counts what the scheduler did, for the load benchmark and /metrics.
type Stats struct {
	Started      atomic.Int64 // checks started
	OnTime       atomic.Int64 // started within a second of their due time
	MaxLateNanos atomic.Int64
	// Late counts starts by lateness: Late[i] those late by at most LateBounds[i] and more than
	// the bound before, the last one those later than every bound.
	Late [len(LateBounds) + 1]atomic.Int64
	// Skipped counts runs never started: a run found more than an interval late is started once
	// and the runs missed meanwhile are dropped rather than burst.
	Skipped atomic.Int64
	// WaitNanos is the time workers spent waiting to hand a result to the writer (its queue
	// full): a slow writer holds up checks.
	WaitNanos   atomic.Int64
	Writes      atomic.Int64 // result-writer transactions
	Written     atomic.Int64 // results stored
	WriteErrors atomic.Int64
	WriteNanos  atomic.Int64 // time spent in result-writer transactions
}

// LoadRetry is how long Run waits before reading the monitors again after a failure.
const LoadRetry = 5 * time.Second

// LateBounds are the upper bounds of the Late buckets.
var LateBounds = [...]time.Duration{10 * time.Millisecond, 100 * time.Millisecond, 500 * time.Millisecond, time.Second,
	5 * time.Second, 30 * time.Second}

type run struct {
	cfg   store.MonitorConfig
	next  time.Time
	index int
}

type job struct {
	cfg store.MonitorConfig
	due time.Time
}

// New returns a scheduler; Run starts it.
func New(src Source, rec Recorder, check CheckFunc, log *slog.Logger, opts Options) *Scheduler {
	if opts.Workers == 0 {
		opts.Workers = 256
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = 1000
	}
	if opts.FlushEvery == 0 {
		opts.FlushEvery = time.Second
	}
	fixed := opts.MaxPending != 0
	if !fixed {
		opts.MaxPending = 100 * opts.BatchSize
	}
	opts.MaxPending = max(opts.MaxPending, opts.BatchSize)
	return &Scheduler{src: src, rec: rec, check: check, log: log, opts: opts, fixedMaxPending: fixed, byID: map[int64]*run{},
		wake: make(chan struct{}, 1), jobs: make(chan job), results: make(chan store.CheckResult, 4*opts.BatchSize)}
}

// Stats returns the counters.
func (s *Scheduler) Stats() *Stats { return &s.stats }

// offset spreads first runs over the interval, stably per monitor, so monitors created together
// do not all fire in the same second.
func offset(id int64, interval time.Duration) time.Duration {
	h := fnv.New64a()
	h.Write([]byte(strconv.FormatInt(id, 10)))
	return time.Duration(h.Sum64() % uint64(interval))
}

// Run schedules every enabled monitor this node owns and checks them until ctx ends; it returns
// after the last results are written. While the monitors cannot be read (the database is away at
// start) it tries again every LoadRetry.
func (s *Scheduler) Run(ctx context.Context) error {
	for {
		err := s.Reload(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		s.log.Error("monitors not loaded; trying again", "in", LoadRetry, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(LoadRetry):
		}
	}

	var workers sync.WaitGroup
	for range s.opts.Workers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for j := range s.jobs {
				s.started(time.Since(j.due))
				r := s.check(ctx, j.cfg)
				r.Due = j.due
				select {
				case s.results <- r:
				default:
					start := time.Now()
					s.results <- r
					s.stats.WaitNanos.Add(int64(time.Since(start)))
				}
			}
		}()
	}
	written := make(chan struct{})
	go func() {
		defer close(written)
		s.write()
	}()

	s.dispatch(ctx)
	close(s.jobs)
	workers.Wait()
	close(s.results)
	<-written
	return nil
}

// dispatch pops due runs and hands them to the workers, sleeping until the next one is due.
func (s *Scheduler) dispatch(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.mu.Lock()
		var next *run
		if len(s.queue) > 0 {
			next = s.queue[0]
		}
		now := time.Now()
		if next != nil && !next.next.After(now) {
			due := next.next
			interval := time.Duration(next.cfg.IntervalSeconds) * time.Second
			// Keep the phase; after a long stall, skip the missed runs rather than bursting.
			next.next = due.Add(interval)
			if next.next.Before(now) {
				s.stats.Skipped.Add(int64(now.Sub(due) / interval))
				next.next = now.Add(interval)
			}
			heap.Fix(&s.queue, next.index)
			cfg := next.cfg
			s.mu.Unlock()
			select {
			case s.jobs <- job{cfg: cfg, due: due}:
			case <-ctx.Done():
				return
			}
			continue
		}
		wait := time.Hour
		if next != nil {
			wait = next.next.Sub(now)
		}
		s.mu.Unlock()
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-s.wake:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		case <-ctx.Done():
			return
		}
	}
}

// started counts a check as it starts, with how late it is against its due time.
func (s *Scheduler) started(late time.Duration) {
	s.stats.Started.Add(1)
	if late <= time.Second {
		s.stats.OnTime.Add(1)
	}
	i := 0
	for i < len(LateBounds) && late > LateBounds[i] {
		i++
	}
	s.stats.Late[i].Add(1)
	for {
		old := s.stats.MaxLateNanos.Load()
		if int64(late) <= old || s.stats.MaxLateNanos.CompareAndSwap(old, int64(late)) {
			return
		}
	}
}

// Changed makes the scheduler follow a monitor created, changed or deleted through the API: it
// reloads its configuration, runs a new or re-enabled monitor at once, and drops a deleted or
// disabled one.
func (s *Scheduler) Changed(ctx context.Context, id int64) {
	var cfgs []store.MonitorConfig
	if s.owns(id) { // another node's monitor needs no reading: it is only dropped if held here
		var err error
		if cfgs, err = s.src.MonitorConfigs(ctx, []int64{id}); err != nil {
			s.log.Error("monitor change not applied", "monitor", id, "err", err)
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loading != nil {
		s.loading[id] = true
	}
	r := s.byID[id]
	switch {
	case len(cfgs) == 0 || !cfgs[0].Enabled || !s.owns(id):
		if r != nil {
			s.remove(r)
		}
	case r == nil:
		s.add(cfgs[0], time.Now())
	default:
		s.update(r, cfgs[0])
	}
	s.poke()
}

// Reload reads every enabled monitor and brings the schedule in line: the monitors this node owns
// and does not run yet start within an interval, those it no longer owns or that are gone stop,
// changed ones take their new configuration. Nodes sharing a database call it when the live nodes
// change and now and then, in case a change announced by another node was missed.
func (s *Scheduler) Reload(ctx context.Context) error {
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	s.mu.Lock()
	s.loading = map[int64]bool{}
	s.mu.Unlock()
	cfgs, err := s.src.MonitorConfigs(ctx, nil)
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := s.loading
	s.loading = nil
	if err != nil {
		return err
	}
	// A monitor changed through Changed while the list loaded is as Changed left it: the list may
	// be older.
	keep := make(map[int64]bool, len(cfgs))
	for _, c := range cfgs {
		if changed[c.ID] || !s.owns(c.ID) {
			continue
		}
		keep[c.ID] = true
		if r := s.byID[c.ID]; r != nil {
			s.update(r, c)
			continue
		}
		interval := time.Duration(c.IntervalSeconds) * time.Second
		s.add(c, now.Add(offset(c.ID, interval)))
	}
	for id, r := range s.byID {
		if !keep[id] && !changed[id] {
			s.remove(r)
		}
	}
	s.poke()
	return nil
}

func (s *Scheduler) owns(id int64) bool { return s.opts.Owns == nil || s.opts.Owns(id) }

// update gives a scheduled monitor its new configuration; a new interval starts at once.
func (s *Scheduler) update(r *run, c store.MonitorConfig) {
	changedInterval := r.cfg.IntervalSeconds != c.IntervalSeconds
	r.cfg = c
	if changedInterval {
		r.next = time.Now()
		heap.Fix(&s.queue, r.index)
	}
}

func (s *Scheduler) remove(r *run) {
	heap.Remove(&s.queue, r.index)
	delete(s.byID, r.cfg.ID)
}

// poke wakes the dispatcher to look at the head of the queue again.
func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Scheduler) add(c store.MonitorConfig, next time.Time) {
	r := &run{cfg: c, next: next}
	heap.Push(&s.queue, r)
	s.byID[c.ID] = r
}

// Len is how many monitors are scheduled.
func (s *Scheduler) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// CheckNow runs a check at once, outside the schedule, records it and returns it.
func (s *Scheduler) CheckNow(ctx context.Context, cfg store.MonitorConfig) (store.CheckResult, error) {
	r := s.check(ctx, cfg)
	return r, s.rec.RecordMonitorResults(ctx, []store.CheckResult{r})
}

// runQueue is a min-heap of runs by next time.
type runQueue []*run

func (q runQueue) Len() int           { return len(q) }
func (q runQueue) Less(i, j int) bool { return q[i].next.Before(q[j].next) }
func (q runQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *runQueue) Push(x any) {
	r := x.(*run)
	r.index = len(*q)
	*q = append(*q, r)
}
func (q *runQueue) Pop() any {
	old := *q
	r := old[len(old)-1]
	*q = old[:len(old)-1]
	return r
}
