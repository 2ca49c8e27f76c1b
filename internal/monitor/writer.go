package monitor

import (
	"context"
	"sync"
	"time"

	"clientst0r/internal/store"
)

// write stores results in transactions of up to BatchSize: whole batches as soon as they are
// ready, the rest every FlushEvery, everything when the workers are done. Receiving and storing
// are separate goroutines, so a slow transaction (a WAL checkpoint, another writer holding SQLite's
// one connection) does not hold up the workers and with them the start of checks: results wait in
// memory meanwhile, up to maxPending, and only then do the workers wait.
func (s *Scheduler) write() {
	var (
		mu       sync.Mutex
		pending  []store.CheckResult
		received bool // the workers are done and every result is in pending
	)
	ready := make(chan struct{}, 1) // a whole batch is pending, or receiving ended
	room := make(chan struct{}, 1)  // the storer took what was pending
	signal := func(c chan struct{}) {
		select {
		case c <- struct{}{}:
		default:
		}
	}
	go func() {
		for r := range s.results {
			mu.Lock()
			// The configured bound first: maxPending takes the scheduler's lock.
			for len(pending) >= s.opts.MaxPending && len(pending) >= s.maxPending() {
				mu.Unlock()
				<-room
				mu.Lock()
			}
			pending = append(pending, r)
			n := len(pending)
			mu.Unlock()
			if n >= s.opts.BatchSize {
				signal(ready)
			}
		}
		mu.Lock()
		received = true
		mu.Unlock()
		signal(ready)
	}()

	tick := time.NewTicker(s.opts.FlushEvery)
	defer tick.Stop()
	var spare []store.CheckResult
	for {
		all := false
		select {
		case <-ready:
		case <-tick.C:
			all = true
		}
		mu.Lock()
		n := len(pending)
		if !all && !received {
			n -= n % s.opts.BatchSize // whole batches now, the rest at the next tick
		}
		taken := pending[:n]
		pending = append(spare[:0], pending[n:]...)
		last := received && len(pending) == 0
		mu.Unlock()
		signal(room)
		for rest := taken; len(rest) > 0; {
			k := min(len(rest), s.opts.BatchSize)
			s.store(rest[:k])
			rest = rest[k:]
		}
		clear(taken)
		if spare = taken[:0]; cap(spare) > 4*s.opts.BatchSize {
			spare = nil // do not keep a backlog's worth of memory
		}
		if last {
			return
		}
	}
}

// maxPending is how many results may wait for the writer: Options.MaxPending, or by default one
// interval's worth and at least 100 batches.
func (s *Scheduler) maxPending() int {
	if s.fixedMaxPending {
		return s.opts.MaxPending
	}
	return max(s.opts.MaxPending, s.Len())
}

// store writes one batch in one transaction.
func (s *Scheduler) store(batch []store.CheckResult) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	err := s.rec.RecordMonitorResults(ctx, batch)
	s.stats.WriteNanos.Add(int64(time.Since(start)))
	s.stats.Writes.Add(1)
	if err != nil {
		s.stats.WriteErrors.Add(1)
		s.log.Error("monitor results not stored", "count", len(batch), "err", err)
		return
	}
	s.stats.Written.Add(int64(len(batch)))
}
