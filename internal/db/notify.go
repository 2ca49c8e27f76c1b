package db

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// NotifyChannel is the PostgreSQL channel on which nodes sharing a database tell each other about
// changes that invalidate what they keep in memory.
const NotifyChannel = "clientst0r_changes"

// heartbeatTopic marks a node's own heartbeat; its argument is "<node id>/<stamp>".
const heartbeatTopic = "hb"

// NotifierOptions tune a Notifier; zero values take the defaults.
type NotifierOptions struct {
	// Heartbeat is how often the node sends itself a heartbeat through the database (200 ms).
	Heartbeat time.Duration
	// Stale is how old the newest heartbeat heard back may be for the node to count as up to date
	// (1 s): the bound on how late a change made elsewhere reaches this node's caches.
	Stale time.Duration
	// Deaf is how long without hearing a heartbeat before the listener connection is replaced (5 s).
	Deaf time.Duration
	// Retry is the wait before connecting again after the listener connection was lost (1 s).
	Retry time.Duration
}

// Notifier connects the nodes of one PostgreSQL installation: a change is announced with
// NOTIFY (in the transaction that makes it, or right after for coalesced ones), and every node
// listens on a dedicated connection and runs the handlers registered for the topic.
//
// PostgreSQL delivers notifications in commit order. Each node sends itself a heartbeat every
// Heartbeat; once that heartbeat comes back, every change committed before it was sent has been
// handled. Fresh reports whether that happened within Stale, so a cache trusted only while Fresh
// lags the database by at most Stale. While the listener is down nothing is fresh, and when it
// connects again the reset handlers run (forget everything), since notifications were missed.
//
// A Notifier is for PostgreSQL only; a node on SQLite is alone and has none.
type Notifier struct {
	db    *DB
	log   *slog.Logger
	opts  NotifierOptions
	id    string    // this process, in heartbeats
	start time.Time // origin of heartbeat stamps (monotonic)

	mu       sync.Mutex
	handlers map[string][]func(arg string) error
	resets   []func() error
	pending  map[string]struct{} // coalesced payloads waiting to be sent
	wake     chan struct{}

	connected atomic.Bool
	heard     atomic.Int64  // stamp of the newest own heartbeat heard back on this connection; 0 none
	pid       atomic.Uint32 // backend process of the listener connection
	running   atomic.Bool
}

// NewNotifier returns a notifier over d, a PostgreSQL database. Register handlers, then Run it.
func NewNotifier(d *DB, log *slog.Logger, opts NotifierOptions) *Notifier {
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 200 * time.Millisecond
	}
	if opts.Stale <= 0 {
		opts.Stale = time.Second
	}
	if opts.Deaf <= 0 {
		opts.Deaf = 5 * time.Second
	}
	if opts.Retry <= 0 {
		opts.Retry = time.Second
	}
	b := make([]byte, 6)
	rand.Read(b)
	return &Notifier{db: d, log: log, opts: opts, id: hex.EncodeToString(b), start: time.Now(),
		handlers: map[string][]func(string) error{}, pending: map[string]struct{}{}, wake: make(chan struct{}, 1)}
}

// Handle runs fn for every notification of topic, with its argument, on the listener's goroutine,
// in commit order; its error is logged. Register before Run.
func (n *Notifier) Handle(topic string, fn func(arg string) error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.handlers[topic] = append(n.handlers[topic], fn)
}

// OnReset runs fn whenever notifications may have been missed: when the listener connects (again).
// Its error is logged. Register before Run.
func (n *Notifier) OnReset(fn func() error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.resets = append(n.resets, fn)
}

func payload(topic, arg string) string {
	if arg == "" {
		return topic
	}
	return topic + ":" + arg
}

// NotifyTx announces topic in tx: the nodes hear it when, and only if, tx commits.
func (n *Notifier) NotifyTx(ctx context.Context, tx *sql.Tx, topic, arg string) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, NotifyChannel, payload(topic, arg))
	return err
}

// Notify announces topic right after the change committed, without making the change's transaction
// wait: announcements are coalesced and sent by Run, one round trip for all that queued meanwhile.
// It suits frequent changes whose staleness elsewhere is bounded anyway (cached counts).
func (n *Notifier) Notify(topic, arg string) {
	n.mu.Lock()
	n.pending[payload(topic, arg)] = struct{}{}
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// Fresh reports whether every change committed elsewhere more than Stale ago has been handled here:
// the listener is connected and has heard this node's own heartbeat, sent less than Stale ago.
func (n *Notifier) Fresh() bool {
	h := n.heard.Load()
	return n.connected.Load() && h > 0 && n.stamp()-h < int64(n.opts.Stale)
}

// ListenerPID is the PostgreSQL backend process of the listener connection (0 before it connects).
func (n *Notifier) ListenerPID() uint32 { return n.pid.Load() }

// stamp is the time since the notifier started, from the monotonic clock; never 0 once running.
func (n *Notifier) stamp() int64 { return int64(time.Since(n.start)) + 1 }

// Run listens, sends heartbeats and the coalesced announcements until ctx ends, connecting again
// whenever the listener connection is lost. Announcements queued when ctx ends are still sent.
func (n *Notifier) Run(ctx context.Context) {
	if !n.running.CompareAndSwap(false, true) {
		panic("db: Notifier.Run called twice")
	}
	var wg sync.WaitGroup
	wg.Go(func() { n.publish(ctx) })
	wg.Go(func() { n.heartbeats(ctx) })
	for {
		err := n.listen(ctx)
		n.connected.Store(false)
		n.heard.Store(0)
		if ctx.Err() != nil {
			break
		}
		n.log.Warn("change listener lost; caches are bypassed until it is back", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(n.opts.Retry):
		}
		if ctx.Err() != nil {
			break
		}
	}
	wg.Wait()
}

// listen connects, listens and handles notifications until the connection fails or ctx ends.
func (n *Notifier) listen(ctx context.Context) error {
	cfg, err := pgx.ParseConfig(n.db.url)
	if err != nil {
		return err
	}
	cfg.RuntimeParams["application_name"] = "clientst0r listener"
	connectCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.ConnectConfig(connectCtx, cfg)
	cancel()
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+NotifyChannel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	n.pid.Store(conn.PgConn().PID())
	// Whatever changed before LISTEN took effect was not heard: forget everything. Fresh stays
	// false until a heartbeat sent after this comes back.
	n.heard.Store(0)
	n.connected.Store(true)
	n.reset()
	lastHeard := time.Now()
	for {
		wait, cancel := context.WithTimeout(ctx, n.opts.Heartbeat)
		note, err := conn.WaitForNotification(wait)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			if !errors.Is(err, context.DeadlineExceeded) && !pgconn.Timeout(err) {
				return err
			}
			if time.Since(lastHeard) > n.opts.Deaf {
				return fmt.Errorf("no heartbeat heard for %v", n.opts.Deaf)
			}
			continue
		}
		if n.dispatch(note.Payload) {
			lastHeard = time.Now()
		}
	}
}

// dispatch runs the handlers of one notification; it reports whether it was this node's heartbeat.
func (n *Notifier) dispatch(p string) bool {
	topic, arg, _ := strings.Cut(p, ":")
	if topic == heartbeatTopic {
		id, stamp, _ := strings.Cut(arg, "/")
		if id != n.id {
			return false
		}
		if s, err := strconv.ParseInt(stamp, 10, 64); err == nil && s > n.heard.Load() {
			n.heard.Store(s)
		}
		return true
	}
	n.mu.Lock()
	hs := n.handlers[topic]
	n.mu.Unlock()
	for _, h := range hs {
		if err := h(arg); err != nil {
			n.log.Error("change listener: handle "+topic, "err", err)
		}
	}
	return false
}

func (n *Notifier) reset() {
	n.mu.Lock()
	rs := n.resets
	n.mu.Unlock()
	for _, r := range rs {
		if err := r(); err != nil {
			n.log.Error("change listener: reset", "err", err)
		}
	}
}

// heartbeats sends this node's heartbeat every Heartbeat, stamped with when it was sent.
func (n *Notifier) heartbeats(ctx context.Context) {
	t := time.NewTicker(n.opts.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !n.connected.Load() {
			continue
		}
		sendCtx, cancel := context.WithTimeout(ctx, n.opts.Stale)
		_, err := n.db.W.ExecContext(sendCtx, `SELECT pg_notify($1, $2)`, NotifyChannel,
			payload(heartbeatTopic, n.id+"/"+strconv.FormatInt(n.stamp(), 10)))
		cancel()
		if err != nil && ctx.Err() == nil {
			n.log.Warn("change listener: heartbeat", "err", err)
		}
	}
}

// publish sends the coalesced announcements: whatever queued while the previous batch was sent goes
// in the next, in one statement. It drains the queue once more when ctx ends.
func (n *Notifier) publish(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			n.flush(context.WithoutCancel(ctx))
			return
		case <-n.wake:
		}
		n.flush(ctx)
	}
}

func (n *Notifier) flush(ctx context.Context) {
	n.mu.Lock()
	batch := slices.Sorted(maps.Keys(n.pending))
	clear(n.pending)
	n.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	sendCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := n.db.W.ExecContext(sendCtx, `SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p`, NotifyChannel, batch); err != nil {
		n.log.Warn("change notifier: announce", "payloads", batch, "err", err)
	}
}
