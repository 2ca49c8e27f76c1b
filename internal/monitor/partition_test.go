package monitor

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"clientst0r/internal/store"
)

// TestOwnerSpreadsAndMovesLittle: monitors spread evenly over the nodes, and when a node leaves
// only its own monitors move.
func TestOwnerSpreadsAndMovesLittle(t *testing.T) {
	three := []string{"a1", "b2", "c3"}
	two := []string{"a1", "c3"}
	count := map[string]int{}
	for id := int64(1); id <= 3000; id++ {
		before := Owner(three, id)
		count[before]++
		after := Owner(two, id)
		if before != "b2" && after != before {
			t.Fatalf("monitor %d moved from %s to %s though its node stayed", id, before, after)
		}
		if after == "b2" {
			t.Fatalf("monitor %d still on the node that left", id)
		}
	}
	for _, n := range three {
		if count[n] < 850 || count[n] > 1150 {
			t.Fatalf("uneven spread: %v", count)
		}
	}
	if Owner([]string{"only"}, 7) != "only" {
		t.Fatal("a single node owns everything")
	}
}

// memHeartbeats is an in-memory heartbeat table; a crashed node's heartbeats no longer arrive.
type memHeartbeats struct {
	mu      sync.Mutex
	seen    map[string]time.Time
	crashed map[string]bool
}

func (m *memHeartbeats) Heartbeat(_ context.Context, node string, _ time.Time, live time.Duration) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.crashed[node] {
		return nil, errors.New("crashed")
	}
	m.seen[node] = time.Now()
	var nodes []string
	for n, at := range m.seen {
		if time.Since(at) <= live {
			nodes = append(nodes, n)
		}
	}
	slices.Sort(nodes)
	return nodes, nil
}

func (m *memHeartbeats) LeaveNodes(_ context.Context, node string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.crashed[node] {
		delete(m.seen, node)
	}
	return nil
}

// TestNodesDivideMonitorsAndTakeOverFromACrashedOne runs three nodes' schedulers over one set of
// monitors: each monitor is checked by one node, a monitor created on one node is checked by its
// owner, and when a node stops without leaving, its monitors move to the others within its
// heartbeat's lifetime plus an interval.
func TestNodesDivideMonitorsAndTakeOverFromACrashedOne(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeStore{cfgs: map[int64]store.MonitorConfig{}}
		for id := int64(1); id <= 300; id++ {
			f.cfgs[id] = store.MonitorConfig{ID: id, IntervalSeconds: 60, TimeoutSeconds: 5, Enabled: true}
		}
		hb := &memHeartbeats{seen: map[string]time.Time{}, crashed: map[string]bool{}}
		var mu sync.Mutex
		checkedBy := map[int64]map[string]int{} // monitor → node → checks
		type node struct {
			part   *Partition
			sched  *Scheduler
			cancel context.CancelFunc
			done   chan struct{}
		}
		var nodes []*node
		for range 3 {
			n := &node{part: NewPartition(hb, quiet()), done: make(chan struct{})}
			self := n.part.Node()
			check := func(ctx context.Context, m store.MonitorConfig) store.CheckResult {
				mu.Lock()
				if checkedBy[m.ID] == nil {
					checkedBy[m.ID] = map[string]int{}
				}
				checkedBy[m.ID][self]++
				mu.Unlock()
				return store.CheckResult{MonitorID: m.ID, CheckedAt: time.Now(), Up: true}
			}
			n.sched = New(f, f, check, quiet(), Options{Workers: 4, Owns: n.part.Owns})
			nodes = append(nodes, n)
		}
		for _, n := range nodes {
			n.part.Join(t.Context())
		}
		for _, n := range nodes {
			ctx, cancel := context.WithCancel(t.Context())
			n.cancel = cancel
			go func() {
				defer close(n.done)
				go n.part.Run(ctx, func() { n.sched.Reload(ctx) })
				n.sched.Run(ctx)
			}()
		}
		// The first nodes to join saw fewer nodes; by the next heartbeat all agree.
		time.Sleep(HeartbeatEvery + time.Second)
		mu.Lock()
		clear(checkedBy)
		mu.Unlock()

		// A monitor created through the first node; the store announces it to every node.
		f.mu.Lock()
		f.cfgs[301] = store.MonitorConfig{ID: 301, IntervalSeconds: 60, TimeoutSeconds: 5, Enabled: true}
		f.mu.Unlock()
		for _, n := range nodes {
			n.sched.Changed(t.Context(), 301)
		}
		time.Sleep(2*time.Minute - time.Millisecond)
		take := func() map[int64]map[string]int {
			mu.Lock()
			defer mu.Unlock()
			out := checkedBy
			checkedBy = map[int64]map[string]int{}
			return out
		}
		got := take()
		total := 0
		for id := int64(1); id <= 301; id++ {
			if len(got[id]) != 1 {
				t.Fatalf("monitor %d checked by %d nodes in 2 minutes, want 1: %v", id, len(got[id]), got[id])
			}
			for _, c := range got[id] {
				total += c
			}
		}
		if total != 2*301 {
			t.Fatalf("%d checks in 2 minutes of 301 monitors every 60 s, want %d", total, 2*301)
		}
		shares := 0
		for _, n := range nodes {
			if k := n.sched.Len(); k < 70 || k > 130 {
				t.Fatalf("a node schedules %d of 301 monitors", k)
			}
			shares += n.sched.Len()
		}
		if shares != 301 {
			t.Fatalf("the nodes schedule %d monitors together, want 301", shares)
		}

		// The second node crashes: no leave, its heartbeat ages out.
		dead := nodes[1]
		hb.mu.Lock()
		hb.crashed[dead.part.Node()] = true
		hb.mu.Unlock()
		dead.cancel()
		<-dead.done
		take()
		time.Sleep(HeartbeatLive + HeartbeatEvery + time.Second)
		take()
		time.Sleep(time.Minute)
		got = take()
		for id := int64(1); id <= 301; id++ {
			if len(got[id]) != 1 || got[id][dead.part.Node()] != 0 {
				t.Fatalf("monitor %d after the crash: checked by %v, want one surviving node", id, got[id])
			}
		}
		for _, n := range []*node{nodes[0], nodes[2]} {
			n.cancel()
			<-n.done
		}
	})
}
