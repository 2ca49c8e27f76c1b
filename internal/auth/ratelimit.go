package auth

import (
	"context"
	"sync"
	"time"
)

// Counter counts events per key in fixed windows and decides them against a limit. Limiter counts in
// this process, which is right for one node; nodes sharing a PostgreSQL database count in it (the
// store's RateCounter), so a limit holds across them.
type Counter interface {
	// Take counts one event against key and decides it; an event over the limit is refused and not
	// counted.
	Take(ctx context.Context, key string, limit int) (Decision, error)
	// Peek decides without counting.
	Peek(ctx context.Context, key string, limit int) (Decision, error)
}

// Counters are the authenticator's three counters.
type Counters struct {
	Requests Counter // per key or session user, per minute
	Failures Counter // bad keys and failed logins per address, failed logins per email, per minute
	Codes    Counter // wrong two-factor codes per account, per CodeWindow
}

// NewCounters builds the three counters with newCounter, which gets each one's name and window.
func NewCounters(newCounter func(name string, period time.Duration) Counter) Counters {
	return Counters{
		Requests: newCounter("requests", time.Minute),
		Failures: newCounter("failures", time.Minute),
		Codes:    newCounter("codes", CodeWindow),
	}
}

// MemoryCounters count in this process, each holding at most 100,000 keys; now is the clock.
func MemoryCounters(now func() time.Time) Counters {
	return NewCounters(func(_ string, period time.Duration) Counter { return NewLimiter(period, 100_000, now) })
}

// Limiter counts requests per key in fixed one-minute windows that start at a key's first request.
// Memory is bounded: expired windows are swept once the table grows past sweepAt, and when it is
// still full the new key is refused a window of its own (treated as fresh, not tracked).
type Limiter struct {
	mu      sync.Mutex
	windows map[string]*window
	period  time.Duration
	now     func() time.Time
	maxKeys int
}

type window struct {
	start time.Time
	count int
}

// Decision is the outcome of one Take or Peek.
type Decision struct {
	Allowed   bool
	Limit     int
	Remaining int
	// Reset is how long until the window ends and the full limit is available again.
	Reset time.Duration
}

// NewLimiter returns a limiter with windows of period, holding at most maxKeys keys.
func NewLimiter(period time.Duration, maxKeys int, now func() time.Time) *Limiter {
	return &Limiter{windows: make(map[string]*window), period: period, now: now, maxKeys: maxKeys}
}

// Take counts one request against key and decides it.
func (l *Limiter) Take(_ context.Context, key string, limit int) (Decision, error) {
	return l.decide(key, limit, 1), nil
}

// Peek decides without counting.
func (l *Limiter) Peek(_ context.Context, key string, limit int) (Decision, error) {
	return l.decide(key, limit, 0), nil
}

func (l *Limiter) decide(key string, limit, cost int) Decision {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.windows[key]
	if w == nil || now.Sub(w.start) >= l.period {
		if w == nil && len(l.windows) >= l.maxKeys {
			l.sweep(now)
		}
		if cost == 0 {
			return Decision{Allowed: true, Limit: limit, Remaining: limit, Reset: l.period}
		}
		if w == nil {
			if len(l.windows) >= l.maxKeys {
				return Decision{Allowed: true, Limit: limit, Remaining: limit - cost, Reset: l.period}
			}
			w = &window{}
			l.windows[key] = w
		}
		w.start, w.count = now, 0
	}
	reset := w.start.Add(l.period).Sub(now)
	if w.count+cost > limit {
		return Decision{Allowed: false, Limit: limit, Remaining: 0, Reset: reset}
	}
	w.count += cost
	return Decision{Allowed: true, Limit: limit, Remaining: limit - w.count, Reset: reset}
}

func (l *Limiter) sweep(now time.Time) {
	for k, w := range l.windows {
		if now.Sub(w.start) >= l.period {
			delete(l.windows, k)
		}
	}
}

// Seconds rounds a duration up to whole seconds, at least 1, for Retry-After and RateLimit-Reset.
func Seconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}
