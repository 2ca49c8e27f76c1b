package monitor

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"clientst0r/internal/store"
)

// fakeStore is an in-memory Source and Recorder, so the scheduler runs inside a synctest bubble
// with virtual time.
type fakeStore struct {
	mu      sync.Mutex
	cfgs    map[int64]store.MonitorConfig
	batches [][]store.CheckResult
}

func (f *fakeStore) MonitorConfigs(_ context.Context, ids []int64) ([]store.MonitorConfig, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.MonitorConfig
	for id, c := range f.cfgs {
		if (ids == nil && c.Enabled) || (len(ids) == 1 && ids[0] == id) {
			out = append(out, c)
		}
	}
	return out, nil
}

func (f *fakeStore) RecordMonitorResults(_ context.Context, rs []store.CheckResult) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.batches = append(f.batches, append([]store.CheckResult(nil), rs...))
	return nil
}

func (f *fakeStore) results() map[int64][]time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[int64][]time.Time{}
	for _, b := range f.batches {
		for _, r := range b {
			out[r.MonitorID] = append(out[r.MonitorID], r.CheckedAt)
		}
	}
	return out
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestSchedulerSpreadsRunsOnTimeAndBatchesWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeStore{cfgs: map[int64]store.MonitorConfig{}}
		for id := int64(1); id <= 200; id++ {
			f.cfgs[id] = store.MonitorConfig{ID: id, CheckType: "http", IntervalSeconds: 60, TimeoutSeconds: 10, Enabled: true}
		}
		check := func(ctx context.Context, m store.MonitorConfig) store.CheckResult {
			time.Sleep(50 * time.Millisecond) // a fast target
			return store.CheckResult{MonitorID: m.ID, CheckedAt: time.Now(), Up: true}
		}
		s := New(f, f, check, quiet(), Options{Workers: 16})
		ctx, cancel := context.WithCancel(t.Context())
		start := time.Now()
		done := make(chan error)
		go func() { done <- s.Run(ctx) }()
		time.Sleep(10*time.Minute - time.Millisecond)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}

		got := f.results()
		firstSecond := map[int64]bool{}
		for id := int64(1); id <= 200; id++ {
			runs := got[id]
			if len(runs) != 10 {
				t.Fatalf("monitor %d ran %d times in 10 minutes at a 60 s interval", id, len(runs))
			}
			for i := 1; i < len(runs); i++ {
				if gap := runs[i].Sub(runs[i-1]); gap != time.Minute {
					t.Fatalf("monitor %d: runs %v apart", id, gap)
				}
			}
			firstSecond[int64(runs[0].Sub(start)/time.Second)] = true
		}
		if len(firstSecond) < 40 {
			t.Fatalf("first runs fall in only %d distinct seconds of the minute: not spread", len(firstSecond))
		}
		st := s.Stats()
		if st.Started.Load() != 2000 || st.OnTime.Load() != 2000 || st.Written.Load() != 2000 {
			t.Fatalf("started %d, on time %d, written %d", st.Started.Load(), st.OnTime.Load(), st.Written.Load())
		}
		if w := st.Writes.Load(); w > 10*60+1 || w < 10 {
			t.Fatalf("%d writes for 2000 results: not batched by the second", w)
		}
	})
}

func TestSchedulerFollowsChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeStore{cfgs: map[int64]store.MonitorConfig{
			1: {ID: 1, IntervalSeconds: 60, TimeoutSeconds: 5, Enabled: true},
		}}
		check := func(ctx context.Context, m store.MonitorConfig) store.CheckResult {
			return store.CheckResult{MonitorID: m.ID, CheckedAt: time.Now(), Up: true}
		}
		s := New(f, f, check, quiet(), Options{Workers: 2})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- s.Run(ctx) }()
		synctest.Wait()

		// A new monitor runs at once; a disabled one stops; a shorter interval applies.
		created := time.Now()
		f.mu.Lock()
		f.cfgs[2] = store.MonitorConfig{ID: 2, IntervalSeconds: 30, TimeoutSeconds: 5, Enabled: true}
		f.mu.Unlock()
		s.Changed(ctx, 2)
		time.Sleep(2 * time.Minute)
		f.mu.Lock()
		c := f.cfgs[1]
		c.Enabled = false
		f.cfgs[1] = c
		f.mu.Unlock()
		s.Changed(ctx, 1)
		time.Sleep(5 * time.Minute)
		cancel()
		<-done

		got := f.results()
		if len(got[2]) < 14 || got[2][0].Sub(created) > time.Second {
			t.Fatalf("new monitor: %d runs, first after %v", len(got[2]), got[2][0].Sub(created))
		}
		for _, r := range got[1] {
			if r.After(created.Add(2*time.Minute + time.Second)) {
				t.Fatalf("a disabled monitor ran at %v", r.Sub(created))
			}
		}
		if s.Len() != 1 {
			t.Fatalf("%d monitors scheduled, want 1", s.Len())
		}
	})
}

func TestSchedulerCountsLateAndSkippedRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeStore{cfgs: map[int64]store.MonitorConfig{1: {ID: 1, IntervalSeconds: 60, TimeoutSeconds: 5, Enabled: true}}}
		calls := 0
		check := func(ctx context.Context, m store.MonitorConfig) store.CheckResult {
			if calls++; calls == 1 {
				time.Sleep(200 * time.Second) // the only worker is busy for more than three intervals
			}
			return store.CheckResult{MonitorID: m.ID, CheckedAt: time.Now(), Up: true}
		}
		s := New(f, f, check, quiet(), Options{Workers: 1})
		first := time.Now().Add(offset(1, time.Minute))
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- s.Run(ctx) }()
		// Runs due at +0 (on time, takes 200 s), +60 (popped at once, started at +200: 140 s late),
		// +120 (started at +200: 80 s late; +180 has passed too and is skipped), then +260 on time.
		time.Sleep(time.Until(first) + 270*time.Second)
		cancel()
		<-done

		st := s.Stats()
		if st.Started.Load() != 4 || st.OnTime.Load() != 2 || st.Skipped.Load() != 1 {
			t.Fatalf("started %d, on time %d, skipped %d; want 4, 2, 1", st.Started.Load(), st.OnTime.Load(), st.Skipped.Load())
		}
		if st.Late[0].Load() != 2 || st.Late[len(LateBounds)].Load() != 2 {
			var got []int64
			for i := range st.Late {
				got = append(got, st.Late[i].Load())
			}
			t.Fatalf("lateness buckets %v: want 2 in the first and 2 in the last", got)
		}
		if late := time.Duration(st.MaxLateNanos.Load()); late != 140*time.Second {
			t.Fatalf("max lateness %v, want 140s", late)
		}
		var dues []time.Duration
		for _, b := range f.batches {
			for _, r := range b {
				dues = append(dues, r.Due.Sub(first))
			}
		}
		want := []time.Duration{0, 60 * time.Second, 120 * time.Second, 260 * time.Second}
		if !slices.Equal(dues, want) {
			t.Fatalf("results due at %v after the first, want %v", dues, want)
		}
	})
}

// gatedSource holds the scheduler's first full load until released, returning the monitors as
// they were when the load began: a monitor changed meanwhile is newer in Changed's answer.
type gatedSource struct {
	*fakeStore
	gate chan struct{}
}

func (g gatedSource) MonitorConfigs(ctx context.Context, ids []int64) ([]store.MonitorConfig, error) {
	out, err := g.fakeStore.MonitorConfigs(ctx, ids)
	if ids == nil {
		<-g.gate
	}
	return out, err
}

func TestSchedulerRunKeepsChangesMadeBeforeAndWhileLoading(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeStore{cfgs: map[int64]store.MonitorConfig{}}
		for id := int64(1); id <= 3; id++ {
			f.cfgs[id] = store.MonitorConfig{ID: id, IntervalSeconds: 60, TimeoutSeconds: 5, Enabled: true}
		}
		src := gatedSource{f, make(chan struct{})}
		check := func(ctx context.Context, m store.MonitorConfig) store.CheckResult {
			return store.CheckResult{MonitorID: m.ID, CheckedAt: time.Now(), Up: true}
		}
		s := New(src, f, check, quiet(), Options{Workers: 2})
		ctx, cancel := context.WithCancel(t.Context())
		// Monitor 3 is created before the scheduler runs (Changed schedules it at once).
		s.Changed(ctx, 3)
		done := make(chan error)
		go func() { done <- s.Run(ctx) }()
		synctest.Wait() // Run is loading the list, which still has monitor 1
		f.mu.Lock()
		delete(f.cfgs, 1)
		f.mu.Unlock()
		s.Changed(ctx, 1)
		close(src.gate)
		time.Sleep(10*time.Minute - time.Millisecond)
		cancel()
		<-done

		got := f.results()
		if len(got[1]) != 0 {
			t.Fatalf("monitor 1, deleted while the list loaded, ran %d times", len(got[1]))
		}
		for _, id := range []int64{2, 3} {
			if len(got[id]) != 10 {
				t.Fatalf("monitor %d ran %d times in 10 minutes at a 60 s interval, want 10", id, len(got[id]))
			}
		}
		if s.Len() != 2 {
			t.Fatalf("%d monitors scheduled, want 2", s.Len())
		}
	})
}

// failingSource cannot read the monitor list the first times it is asked.
type failingSource struct {
	*fakeStore
	failures int
}

func (f *failingSource) MonitorConfigs(ctx context.Context, ids []int64) ([]store.MonitorConfig, error) {
	if ids == nil && f.failures > 0 {
		f.failures--
		return nil, errors.New("database unreachable")
	}
	return f.fakeStore.MonitorConfigs(ctx, ids)
}

func TestSchedulerRetriesAFailedLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeStore{cfgs: map[int64]store.MonitorConfig{1: {ID: 1, IntervalSeconds: 60, TimeoutSeconds: 5, Enabled: true}}}
		check := func(ctx context.Context, m store.MonitorConfig) store.CheckResult {
			return store.CheckResult{MonitorID: m.ID, CheckedAt: time.Now(), Up: true}
		}
		s := New(&failingSource{fakeStore: f, failures: 2}, f, check, quiet(), Options{Workers: 1})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- s.Run(ctx) }()
		time.Sleep(2*LoadRetry + 2*time.Minute)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if n := len(f.results()[1]); n != 2 {
			t.Fatalf("monitor checked %d times in the 2 minutes after two failed loads, want 2", n)
		}
	})
}
