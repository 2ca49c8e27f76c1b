package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"clientst0r/internal/auth"
	"clientst0r/internal/db"
)

// RateCounter is an auth.Counter kept in the rate_counters table, so every node on the database
// counts against the same number: a key's limit holds however a load balancer spreads its requests.
// Windows are fixed and aligned to the clock (a one-minute window starts on the minute), so nodes
// agree on them without talking; their clocks must agree too (NTP). Each decision is one statement
// on one row; rows of ended windows are deleted by DeleteExpired.
type RateCounter struct {
	s      *Store
	name   string
	period time.Duration
	now    func() time.Time
}

// RateCounter returns the counter name with windows of period; now is the clock.
func (s *Store) RateCounter(name string, period time.Duration, now func() time.Time) *RateCounter {
	return &RateCounter{s: s, name: name, period: period, now: now}
}

var _ auth.Counter = (*RateCounter)(nil)

// window returns the start of the window now falls in and how long until it ends.
func (c *RateCounter) window() (time.Time, time.Duration) {
	now := c.now()
	start := now.Truncate(c.period)
	return db.Time(start), start.Add(c.period).Sub(now)
}

func (c *RateCounter) decide(n, limit int, reset time.Duration) auth.Decision {
	return auth.Decision{Allowed: n <= limit, Limit: limit, Remaining: max(limit-n, 0), Reset: reset}
}

// Take counts one event against key in the current window, unless the window is full: a refused
// event writes nothing.
func (c *RateCounter) Take(ctx context.Context, key string, limit int) (auth.Decision, error) {
	start, reset := c.window()
	var n int
	err := c.s.db.W.QueryRowContext(ctx, `INSERT INTO rate_counters (bucket, window_start, expires_at, n) VALUES ($1, $2, $3, 1)
		ON CONFLICT (bucket, window_start) DO UPDATE SET n = rate_counters.n + 1 WHERE rate_counters.n < $4
		RETURNING n`, c.name+":"+key, start, start.Add(c.period), limit).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) { // full: the update's condition failed
		return auth.Decision{Allowed: false, Limit: limit, Remaining: 0, Reset: reset}, nil
	}
	if err != nil {
		return auth.Decision{}, wrap(err, "rate limit")
	}
	return c.decide(n, limit, reset), nil
}

// Peek decides without counting.
func (c *RateCounter) Peek(ctx context.Context, key string, limit int) (auth.Decision, error) {
	start, reset := c.window()
	var n int
	err := c.s.r.QueryRowContext(ctx, `SELECT n FROM rate_counters WHERE bucket = $1 AND window_start = $2`,
		c.name+":"+key, start).Scan(&n)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return auth.Decision{}, wrap(err, "rate limit")
	}
	return c.decide(n, limit, reset), nil
}
