package events

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"golang.org/x/time/rate"

	"clientst0r/internal/store"
)

// Timeout bounds one delivery attempt.
const Timeout = 15 * time.Second

// Schedule is the wait before each retry (SPEC §5): after the first failed attempt 5 s, then 5 min,
// … and after the tenth attempt the delivery has failed.
var Schedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour,
	10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour}

// NextDelay returns how long to wait after attempt number n (1-based) failed, with ±10 % jitter,
// and at least what the receiver asked for in Retry-After (up to a day). ok is false when no
// attempt is left.
func NextDelay(n int, retryAfter time.Duration, jitter float64) (d time.Duration, ok bool) {
	if n < 1 || n > len(Schedule) {
		return 0, false
	}
	d = time.Duration(float64(Schedule[n-1]) * (0.9 + 0.2*jitter))
	return max(d, min(retryAfter, 24*time.Hour)), true
}

// Per-webhook limits, so one slow or flooded receiver cannot hold every worker.
const (
	perWebhookConcurrency = 4
	perWebhookRate        = 50 // requests per second
)

// Worker makes one delivery attempt per job.
type Worker struct {
	river.WorkerDefaults[store.DeliverArgs]
	store     *store.Store
	client    *http.Client
	now       func() time.Time
	userAgent string

	mu    sync.Mutex
	slots map[int64]*endpoint
}

type endpoint struct {
	busy    chan struct{}
	limiter *rate.Limiter
}

// NewWorker returns the delivery worker.
func NewWorker(s *store.Store, client *http.Client, now func() time.Time, version string) *Worker {
	return &Worker{store: s, client: client, now: now, userAgent: "ClientSt0r-Webhooks/" + version, slots: map[int64]*endpoint{}}
}

// Timeout lets River cancel an attempt that outlives the HTTP timeout by much.
func (w *Worker) Timeout(*river.Job[store.DeliverArgs]) time.Duration { return 2 * Timeout }

func (w *Worker) endpoint(id int64) *endpoint {
	w.mu.Lock()
	defer w.mu.Unlock()
	e := w.slots[id]
	if e == nil {
		e = &endpoint{busy: make(chan struct{}, perWebhookConcurrency), limiter: rate.NewLimiter(perWebhookRate, perWebhookRate)}
		w.slots[id] = e
	}
	return e
}

// Work makes the attempt, records it, and schedules the next one if it failed.
func (w *Worker) Work(ctx context.Context, job *river.Job[store.DeliverArgs]) error {
	a, err := w.store.PrepareAttempt(ctx, job.Args.DeliveryID)
	if err != nil || a == nil {
		return err
	}
	if a.Status == "succeeded" || a.Status == "failed" {
		return nil // a duplicate job; retries set the delivery back to pending first
	}
	if !a.Active {
		return w.store.RecordAttempt(ctx, a, store.Outcome{Error: "The webhook is disabled."})
	}
	ep := w.endpoint(a.WebhookID)
	select {
	case ep.busy <- struct{}{}:
	default:
		return river.JobSnooze(250 * time.Millisecond)
	}
	defer func() { <-ep.busy }()
	if r := ep.limiter.Reserve(); r.Delay() > 0 {
		r.Cancel()
		return river.JobSnooze(r.Delay())
	}
	return w.store.RecordAttempt(ctx, a, w.attempt(ctx, a))
}

// attempt sends the signed event once and decides what happens next.
func (w *Worker) attempt(ctx context.Context, a *store.Attempt) store.Outcome {
	now := w.now()
	sig, err := Sign(a.Secrets, a.EventID, now.Unix(), a.Payload)
	if err != nil {
		return store.Outcome{Error: err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.URL, bytes.NewReader(a.Payload))
	if err != nil {
		return store.Outcome{Error: "Bad webhook URL: " + err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", w.userAgent)
	req.Header.Set("webhook-id", a.EventID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)

	start := time.Now()
	res, err := w.client.Do(req)
	o := store.Outcome{Duration: time.Since(start)}
	var retryAfter time.Duration
	if err != nil {
		o.Error = describe(err)
	} else {
		body, _ := io.ReadAll(io.LimitReader(res.Body, 1024))
		io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10)) // let the connection be reused
		res.Body.Close()
		status := res.StatusCode
		o.ResponseStatus, o.ResponseBody = &status, string(body)
		switch {
		case status >= 200 && status < 300:
			o.Succeeded = true
			return o
		case status == http.StatusGone:
			o.Gone, o.Error = true, "The receiver answered 410 Gone; the webhook is disabled."
			return o
		case status >= 300 && status < 400:
			o.Error = fmt.Sprintf("The receiver redirected (%d to %q); redirects are not followed.", status, res.Header.Get("Location"))
		default:
			o.Error = fmt.Sprintf("The receiver answered %d.", status)
		}
		retryAfter = parseRetryAfter(res.Header.Get("Retry-After"), now)
	}
	if d, ok := NextDelay(a.Attempts+1, retryAfter, rand.Float64()); ok {
		next := w.now().Add(d).UTC().Truncate(time.Microsecond)
		o.NextAttempt = &next
	}
	return o
}

func describe(err error) string {
	switch {
	case errors.Is(err, ErrPrivateTarget):
		return ErrPrivateTarget.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("No answer within %s.", Timeout)
	}
	return err.Error()
}

// parseRetryAfter reads seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
