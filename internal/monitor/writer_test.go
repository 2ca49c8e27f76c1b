package monitor

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"clientst0r/internal/store"
)

// stallingStore is a recorder whose first write takes stall, as a WAL checkpoint or another
// writer holding SQLite's one connection would.
type stallingStore struct {
	*fakeStore
	stall  time.Duration
	called bool
}

func (s *stallingStore) RecordMonitorResults(ctx context.Context, rs []store.CheckResult) error {
	if !s.called {
		s.called = true
		time.Sleep(s.stall)
	}
	return s.fakeStore.RecordMonitorResults(ctx, rs)
}

// runStalled runs 600 monitors at a 60 s interval (10 checks/s) for 5 minutes over a recorder
// whose first write stalls.
func runStalled(t *testing.T, stall time.Duration, opts Options) (*Scheduler, *fakeStore) {
	f := &fakeStore{cfgs: map[int64]store.MonitorConfig{}}
	for id := int64(1); id <= 600; id++ {
		f.cfgs[id] = store.MonitorConfig{ID: id, IntervalSeconds: 60, TimeoutSeconds: 5, Enabled: true}
	}
	check := func(ctx context.Context, m store.MonitorConfig) store.CheckResult {
		time.Sleep(20 * time.Millisecond)
		return store.CheckResult{MonitorID: m.ID, CheckedAt: time.Now(), Up: true}
	}
	s := New(f, &stallingStore{fakeStore: f, stall: stall}, check, quiet(), opts)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	time.Sleep(5*time.Minute - time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return s, f
}

func TestWriterStallDoesNotHoldUpChecks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, f := runStalled(t, 90*time.Second, Options{Workers: 8, BatchSize: 50})
		st := s.Stats()
		if st.Started.Load() != 3000 || st.OnTime.Load() != 3000 || st.WaitNanos.Load() != 0 {
			t.Fatalf("started %d, on time %d, workers waited %v: a writer stall of 90 s with 900 results to hold must not delay checks",
				st.Started.Load(), st.OnTime.Load(), time.Duration(st.WaitNanos.Load()))
		}
		n := 0
		for _, b := range f.batches {
			if len(b) > 50 {
				t.Fatalf("a batch of %d results, over BatchSize", len(b))
			}
			n += len(b)
		}
		if n != 3000 || st.Written.Load() != 3000 {
			t.Fatalf("%d results stored (%d counted), want 3000", n, st.Written.Load())
		}
		// The backlog is written in whole batches, not one transaction per result.
		if w := st.Writes.Load(); w > 3000/50+5*60+1 {
			t.Fatalf("%d writes for 3000 results", w)
		}
	})
}

func TestWriterHoldsUpChecksPastMaxPending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, f := runStalled(t, 90*time.Second, Options{Workers: 8, BatchSize: 50, MaxPending: 100})
		st := s.Stats()
		// 900 results arrive during the stall; 100 may wait in memory, 200 in the channel and 8 in
		// the workers' hands: the rest start late.
		if st.WaitNanos.Load() == 0 || st.OnTime.Load() == st.Started.Load() {
			t.Fatalf("on time %d of %d, workers waited %v: past MaxPending the workers must wait", st.OnTime.Load(),
				st.Started.Load(), time.Duration(st.WaitNanos.Load()))
		}
		got := f.results()
		n := 0
		for _, rs := range got {
			n += len(rs)
		}
		if int64(n) != st.Started.Load() || st.Written.Load() != st.Started.Load() {
			t.Fatalf("%d results stored of %d started: none may be lost", n, st.Started.Load())
		}
	})
}

func TestWriterHoldsAnIntervalOfResultsByDefault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 100 batches of 2 are 200 results; a 50 s stall brings 500, fewer than the 600 monitors
		// scheduled, so by default they wait in memory.
		s, _ := runStalled(t, 50*time.Second, Options{Workers: 8, BatchSize: 2})
		st := s.Stats()
		if st.OnTime.Load() != st.Started.Load() || st.WaitNanos.Load() != 0 || st.Written.Load() != st.Started.Load() {
			t.Fatalf("on time %d of %d, %d written, workers waited %v", st.OnTime.Load(), st.Started.Load(), st.Written.Load(),
				time.Duration(st.WaitNanos.Load()))
		}
	})
}
