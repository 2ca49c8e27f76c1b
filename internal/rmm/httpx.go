package rmm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// API is the HTTP machinery every vendor client shares: a request-rate limiter, retries with
// exponential backoff and jitter on 429 and 5xx (honouring Retry-After), and one re-authentication
// on 401 before giving up.
type API struct {
	HTTP    *http.Client
	Limiter *rate.Limiter
	// Authorize adds credentials to a request (a bearer token, API headers); it may fetch a token.
	Authorize func(ctx context.Context, req *http.Request) error
	// Reauthorize drops a cached token after a 401 so the next Authorize fetches a new one.
	Reauthorize func()
	// Backoff is the wait before retry n (1-based) when the server gives no Retry-After.
	Backoff func(n int) time.Duration
	// Retries bounds the retries of one request.
	Retries int
	// Sleep waits (tests replace it); it returns early when ctx ends.
	Sleep func(ctx context.Context, d time.Duration) error
}

// StatusError is a non-2xx answer that was not retried away.
type StatusError struct {
	Status int
	Body   string
	URL    string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s answered %d: %.200s", e.URL, e.Status, e.Body)
}

// DefaultBackoff doubles from one second, capped at a minute, with ±20 % jitter.
func DefaultBackoff(n int) time.Duration {
	d := time.Second << min(n-1, 6)
	d = min(d, time.Minute)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// SleepContext waits d or until ctx ends.
func SleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// NewAPI returns the machinery with a limiter of perSecond requests (burst burst), scaled, and
// DefaultBackoff shrunk by the same scale (tests against fakes stay fast; production keeps
// second-scale waits).
func NewAPI(cfg Config, perSecond float64, burst int) *API {
	return &API{
		HTTP: cfg.HTTP,
		// Only the rate scales: a burst scaled with it could exceed a vendor's window limit.
		Limiter: rate.NewLimiter(rate.Limit(perSecond*cfg.RateScale), max(1, burst)),
		Backoff: func(n int) time.Duration { return time.Duration(float64(DefaultBackoff(n)) / cfg.RateScale) },
		Retries: 5,
		Sleep:   SleepContext,
	}
}

// GetJSON GETs url asking for JSON and decodes the answer into out, through Do.
func (a *API) GetJSON(ctx context.Context, url string, out any) error {
	return a.Do(ctx, func() (*http.Request, error) {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err == nil {
			req.Header.Set("Accept", "application/json")
		}
		return req, err
	}, out)
}

// Do sends the request newReq builds (called again for each retry, since bodies are consumed) and
// decodes a 2xx JSON answer into out (nil: discard). Limits, retries and re-authentication apply.
func (a *API) Do(ctx context.Context, newReq func() (*http.Request, error), out any) error {
	reauthorized := false
	for attempt := 1; ; attempt++ {
		if err := a.Limiter.Wait(ctx); err != nil {
			return err
		}
		req, err := newReq()
		if err != nil {
			return err
		}
		req = req.WithContext(ctx)
		if a.Authorize != nil {
			if err := a.Authorize(ctx, req); err != nil {
				return err
			}
		}
		res, err := a.HTTP.Do(req)
		if err != nil {
			if ctx.Err() != nil || attempt > a.Retries {
				return fmt.Errorf("%s %s: %w", req.Method, req.URL.Redacted(), err)
			}
			if err := a.Sleep(ctx, a.Backoff(attempt)); err != nil {
				return err
			}
			continue
		}
		body, readErr := io.ReadAll(io.LimitReader(res.Body, 64<<20))
		res.Body.Close()
		switch {
		case readErr != nil:
			return fmt.Errorf("%s %s: %w", req.Method, req.URL.Redacted(), readErr)
		case res.StatusCode >= 200 && res.StatusCode < 300:
			if out == nil || len(body) == 0 {
				return nil
			}
			if err := json.Unmarshal(body, out); err != nil {
				return fmt.Errorf("%s %s: unexpected answer: %w", req.Method, req.URL.Redacted(), err)
			}
			return nil
		case res.StatusCode == http.StatusUnauthorized && a.Reauthorize != nil && !reauthorized:
			a.Reauthorize() // an expired token: one fresh one, then the answer stands
			reauthorized = true
			continue
		case res.StatusCode == http.StatusUnauthorized:
			// The vendor's own words tell a wrong client id from a wrong password.
			if msg := strings.TrimSpace(string(body)); msg != "" {
				return fmt.Errorf("%w (%s answered 401: %.200s)", ErrAuth, req.URL.Redacted(), msg)
			}
			return fmt.Errorf("%w (%s answered 401)", ErrAuth, req.URL.Redacted())
		case retryable(res.StatusCode) && attempt <= a.Retries:
			wait := retryAfter(res.Header.Get("Retry-After"))
			if wait == 0 {
				wait = a.Backoff(attempt)
			}
			if err := a.Sleep(ctx, wait); err != nil {
				return err
			}
			continue
		default:
			return &StatusError{Status: res.StatusCode, Body: string(body), URL: req.URL.Redacted()}
		}
	}
}

func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusConflict || status >= 500
}

func retryAfter(v string) time.Duration {
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return min(time.Duration(s)*time.Second, 5*time.Minute)
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(time.Until(t), 0), 5*time.Minute)
	}
	return 0
}

// IsStatus reports whether err is a StatusError with that status.
func IsStatus(err error, status int) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status == status
}
