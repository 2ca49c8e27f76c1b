package vuln

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Client fetches CVEs from the NVD CVE API 2.0, within its public rate limits: 5 requests in a
// rolling 30 seconds without an API key, 50 with one.
type Client struct {
	BaseURL string // https://services.nvd.nist.gov
	APIKey  string
	HTTP    *http.Client
	Agent   string
	// Window is the rate limit's rolling window (30 s) and Backoff the first wait after a refused
	// or failed request (6 s, doubling); tests shorten both.
	Window, Backoff time.Duration
	PageSize        int // 2000, NVD's largest

	mu   sync.Mutex
	sent []time.Time
}

// MaxRange is the longest last-modified window NVD answers in one query.
const MaxRange = 120 * 24 * time.Hour

const maxPageBytes = 256 << 20

// Changed hands every CVE modified in [since, until) to fn, page by page, in windows of at most
// 120 days; a zero since fetches everything. It returns the number of CVEs read.
func (c *Client) Changed(ctx context.Context, since, until time.Time, fn func(CVE) error) (int, error) {
	total := 0
	for {
		q := url.Values{}
		next := until
		if !since.IsZero() {
			if next.Sub(since) > MaxRange {
				next = since.Add(MaxRange)
			}
			q.Set("lastModStartDate", nvdDate(since))
			q.Set("lastModEndDate", nvdDate(next))
		}
		n, err := c.window(ctx, q, fn)
		total += n
		if err != nil || since.IsZero() || !next.Before(until) {
			return total, err
		}
		since = next
	}
}

// nvdDate is the extended ISO-8601 form NVD asks for.
func nvdDate(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000") + "+00:00" }

func (c *Client) window(ctx context.Context, q url.Values, fn func(CVE) error) (int, error) {
	size := c.PageSize
	if size <= 0 {
		size = 2000
	}
	q.Set("resultsPerPage", strconv.Itoa(size))
	read := 0
	for start := 0; ; {
		q.Set("startIndex", strconv.Itoa(start))
		p, err := c.page(ctx, q, fn)
		read += p.Read
		if err != nil {
			return read, err
		}
		if p.Read == 0 || start+p.Read >= p.TotalResults {
			return read, nil
		}
		start += p.Read
	}
}

// page fetches one page, retrying refusals (NVD answers 403 or 429 when over its limit) and
// server errors with a doubling wait, or the one Retry-After asks for.
func (c *Client) page(ctx context.Context, q url.Values, fn func(CVE) error) (Page, error) {
	wait := c.Backoff
	if wait <= 0 {
		wait = 6 * time.Second
	}
	var last error
	for attempt := 0; attempt < 5; attempt++ {
		if attempt > 0 {
			if err := sleep(ctx, wait); err != nil {
				return Page{}, err
			}
			wait *= 2
		}
		if err := c.take(ctx); err != nil {
			return Page{}, err
		}
		p, retryAfter, err := c.get(ctx, q, fn)
		if err == nil {
			return p, nil
		}
		last = err
		if p.Read > 0 || !retryable(err) {
			return p, err // records already handed over are not fetched twice
		}
		if retryAfter > 0 {
			wait = retryAfter
		}
	}
	return Page{}, last
}

type statusError struct {
	status int
	body   string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("NVD answered %d: %s", e.status, e.body)
}

func retryable(err error) bool {
	if se, ok := err.(*statusError); ok {
		return se.status == 403 || se.status == 429 || se.status >= 500
	}
	return true // the network
}

func (c *Client) get(ctx context.Context, q url.Values, fn func(CVE) error) (Page, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimRight(c.BaseURL, "/")+"/rest/json/cves/2.0?"+q.Encode(), nil)
	if err != nil {
		return Page{}, 0, err
	}
	if c.APIKey != "" {
		req.Header.Set("apiKey", c.APIKey)
	}
	req.Header.Set("User-Agent", c.Agent)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return Page{}, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg := resp.Header.Get("message") // NVD explains refusals in this header
		if msg == "" {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			msg = strings.TrimSpace(string(b))
		}
		return Page{}, retryAfter(resp.Header.Get("Retry-After")), &statusError{resp.StatusCode, msg}
	}
	p, err := Decode(io.LimitReader(resp.Body, maxPageBytes), fn)
	return p, 0, err
}

func retryAfter(v string) time.Duration {
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 && n <= 3600 {
		return time.Duration(n) * time.Second
	}
	return 0
}

// take waits until a request fits in the rolling window.
func (c *Client) take(ctx context.Context) error {
	limit := 5
	if c.APIKey != "" {
		limit = 50
	}
	window := c.Window
	if window <= 0 {
		window = 30 * time.Second
	}
	for {
		c.mu.Lock()
		now := time.Now()
		for len(c.sent) > 0 && now.Sub(c.sent[0]) >= window {
			c.sent = c.sent[1:]
		}
		if len(c.sent) < limit {
			c.sent = append(c.sent, now)
			c.mu.Unlock()
			return nil
		}
		wait := c.sent[0].Add(window).Sub(now)
		c.mu.Unlock()
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
