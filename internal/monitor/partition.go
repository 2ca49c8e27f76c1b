package monitor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"hash/fnv"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Heartbeats is where nodes announce themselves and learn who else is alive.
type Heartbeats interface {
	Heartbeat(ctx context.Context, node string, started time.Time, live time.Duration) ([]string, error)
	LeaveNodes(ctx context.Context, node string) error
}

// Partition divides monitors among the live nodes of one installation by rendezvous hashing: a
// monitor belongs to the node whose hash with it is highest, so when a node joins or leaves only
// the monitors it wins or held move. Each node sends a heartbeat every Every; nodes silent for Live
// are taken as gone.
type Partition struct {
	hb        Heartbeats
	log       *slog.Logger
	every     time.Duration
	live      time.Duration
	self      string
	started   time.Time
	mu        sync.RWMutex
	nodes     []string
	lastHeard time.Time
}

// Heartbeat timing: a stopped node's monitors move within Live plus Every.
const (
	HeartbeatEvery = 5 * time.Second
	HeartbeatLive  = 15 * time.Second
	ReloadEvery    = time.Minute
)

// NewPartition makes a node with a fresh id; until its first heartbeat it owns everything.
func NewPartition(hb Heartbeats, log *slog.Logger) *Partition {
	b := make([]byte, 8)
	rand.Read(b)
	return &Partition{hb: hb, log: log, every: HeartbeatEvery, live: HeartbeatLive, self: hex.EncodeToString(b), started: time.Now()}
}

// Node is this node's id.
func (p *Partition) Node() string { return p.self }

// Nodes are the live nodes as last seen.
func (p *Partition) Nodes() []string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return slices.Clone(p.nodes)
}

// Owns reports whether this node checks the monitor.
func (p *Partition) Owns(id int64) bool {
	p.mu.RLock()
	nodes := p.nodes
	p.mu.RUnlock()
	if len(nodes) <= 1 {
		return true
	}
	return Owner(nodes, id) == p.self
}

// Owner is the node among nodes that monitor id belongs to.
func Owner(nodes []string, id int64) string {
	var best string
	var top uint64
	key := strconv.FormatInt(id, 10)
	for _, n := range nodes {
		h := fnv.New64a()
		h.Write([]byte(n))
		h.Write([]byte{0})
		h.Write([]byte(key))
		if v := mix(h.Sum64()); best == "" || v > top || v == top && n > best {
			best, top = n, v
		}
	}
	return best
}

// mix spreads FNV's bits (MurmurHash3's finalizer): FNV alone ranks near-identical keys alike.
func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// beat sends one heartbeat and reports whether the set of live nodes changed. A node that cannot
// reach the database keeps its last view, unless it has heard nothing for Live: then it takes every
// monitor, as the others will have taken its share (better checked twice than not at all).
func (p *Partition) beat(ctx context.Context) bool {
	nodes, err := p.hb.Heartbeat(ctx, p.self, p.started, p.live)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.log.Warn("monitor heartbeat", "err", err)
		if time.Since(p.lastHeard) < p.live || len(p.nodes) <= 1 {
			return false
		}
		nodes = nil
	} else {
		p.lastHeard = time.Now()
		if !slices.Contains(nodes, p.self) {
			nodes = append(nodes, p.self)
			slices.Sort(nodes)
		}
	}
	if slices.Equal(nodes, p.nodes) {
		return false
	}
	p.nodes = nodes
	return true
}

// Join sends the first heartbeat, so that the node knows its share before its scheduler starts.
func (p *Partition) Join(ctx context.Context) { p.beat(ctx) }

// Run sends heartbeats until ctx ends, then leaves so that the others take over at once. It calls
// reload after each change of the live nodes, and every ReloadEvery in case a monitor change
// announced by another node was missed.
func (p *Partition) Run(ctx context.Context, reload func()) {
	t := time.NewTicker(p.every)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			leave, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			if err := p.hb.LeaveNodes(leave, p.self); err != nil {
				p.log.Warn("monitor heartbeat: leave", "err", err)
			}
			cancel()
			return
		case <-t.C:
		}
		if p.beat(ctx) || time.Since(last) >= ReloadEvery {
			reload()
			last = time.Now()
		}
	}
}
