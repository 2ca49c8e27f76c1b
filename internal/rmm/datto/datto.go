// Package datto is the Datto RMM client: OAuth password grant, the account-wide device list paged by
// nextPageUrl, per-device hardware audits fetched lazily, and open and resolved alerts, all inside
// the account's 600 requests per sliding minute.
package datto

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"clientst0r/internal/rmm"
)

func init() { rmm.Register(rmm.Datto, New) }

// The account's documented limit, used until /api/v2/system/request_rate says otherwise.
const (
	defaultWindowLimit = 600
	defaultWindow      = 60 * time.Second
)

// authHint is added to every credential failure: a key of another platform gets a plain 401.
const authHint = "check the API key and secret, that API access is enabled for the account, and that the base URL is " +
	"the account's platform (https://<platform>-api.centrastage.net: pinotage, merlot, concord, vidal, zinfandel or syrah)"

// Client is a Datto RMM client; it implements rmm.Provider, rmm.AlertProvider and rmm.AuditCaching.
type Client struct {
	cfg      rmm.Config
	base     *url.URL
	api      *rmm.API
	tokenAPI *rmm.API // the same limiter and retries, without bearer authorization
	tokens   *rmm.TokenSource

	filter url.Values     // device list filters (SetFilter)
	cache  rmm.AuditCache // nil: audit every device

	sizeOnce   sync.Once
	window     atomic.Int64 // the account's sliding window, scaled, in ns: how long a 429 waits
	lastStatus atomic.Int32 // the latest HTTP status, so the backoff can tell a 429 from a 5xx
}

var (
	_ rmm.Provider      = (*Client)(nil)
	_ rmm.AlertProvider = (*Client)(nil)
	_ rmm.AuditCaching  = (*Client)(nil)
)

// New builds a client from cfg (called through rmm.New, which fills Now and RateScale).
func New(cfg rmm.Config) (rmm.Provider, error) {
	base, err := url.Parse(cfg.BaseURL) // checked by rmm.New
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, base: base}

	hc := *cfg.HTTP // a copy keeps its redirect policy, timeout and guarded dialer
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	hc.Transport = observer{next: next, c: c}
	cfg.HTTP = &hc

	c.api = rmm.NewAPI(cfg, 1, 1) // limits set by setWindow
	scaled := c.api.Backoff
	c.api.Backoff = func(n int) time.Duration { return c.backoff(n, scaled) }
	c.setWindow(defaultWindowLimit, time.Duration(float64(defaultWindow)/cfg.RateScale))
	tokenAPI := *c.api
	c.tokenAPI = &tokenAPI
	c.tokens = &rmm.TokenSource{Fetch: c.fetchToken, Now: cfg.Now}
	c.api.Authorize = c.tokens.Authorize
	// The observer already dropped the token the 401 answered (only that one: audits run
	// concurrently and must not throw away a token another worker has just fetched). A non-nil
	// Reauthorize is what makes the API retry once.
	c.api.Reauthorize = func() {}
	return c, nil
}

// SetFilter restricts the device list with Datto's filters (filterId, hostname, deviceType,
// operatingSystem, siteName). They are re-sent on every page: nextPageUrl drops them.
func (c *Client) SetFilter(v url.Values) { c.filter = v }

// UseAuditCache makes the client fetch a device's audit only when its lastAuditDate changed.
func (c *Client) UseAuditCache(ac rmm.AuditCache) { c.cache = ac }

// Test fetches a token and the account's page size: two cheap requests.
func (c *Client) Test(ctx context.Context) error {
	_, err := c.pageMax(ctx, true)
	return wrap(err)
}

// setWindow sizes the limiter for limit requests per sliding window w: a steady 80 % of the limit
// plus a burst of 1/30 of it never exceeds 83 % in any window, which also stays under the 90 % at
// which Datto starts delaying answers, and leaves room for other users of the account.
func (c *Client) setWindow(limit int, w time.Duration) {
	c.api.Limiter.SetLimit(rate.Limit(0.8 * float64(limit) / w.Seconds()))
	c.api.Limiter.SetBurst(max(1, limit/30))
	c.window.Store(int64(w))
}

// sizeLimiter reads the account's rate limit once per client. Its window is in vendor seconds, so
// RateScale shrinks it the same way it speeds up the default.
func (c *Client) sizeLimiter(ctx context.Context) (err error) {
	c.sizeOnce.Do(func() {
		var rr struct {
			Window float64 `json:"slidingTimeWindowSizeSeconds"`
			Limit  float64 `json:"accountRateLimit"`
		}
		err = c.get(ctx, c.endpoint("/api/v2/system/request_rate", nil), &rr)
		if err != nil && !errors.Is(err, rmm.ErrAuth) && ctx.Err() == nil {
			err = nil // an older platform without the endpoint: keep 600 per minute
			return
		}
		if err == nil && rr.Window > 0 && rr.Limit >= 1 {
			c.setWindow(int(rr.Limit), time.Duration(rr.Window*float64(time.Second)/c.cfg.RateScale))
		}
	})
	return err
}

// backoff waits two windows after a 429, as the maintained clients' 120 s do: by then every request
// of the window that tripped the limit has slid out. Other retries use the scaled default.
func (c *Client) backoff(n int, otherwise func(int) time.Duration) time.Duration {
	if c.lastStatus.Load() == http.StatusTooManyRequests {
		w := time.Duration(c.window.Load())
		return 2*w + time.Duration(rand.Float64()*float64(w)/5)
	}
	return otherwise(n)
}

// pageMax is the account's page size for device lists (GET /api/v2/system/pagination); strict
// returns its errors, otherwise only credential errors count and 250 stands in.
func (c *Client) pageMax(ctx context.Context, strict bool) (int, error) {
	var p struct {
		Max int `json:"max"`
	}
	err := c.get(ctx, c.endpoint("/api/v2/system/pagination", nil), &p)
	if err != nil && (strict || errors.Is(err, rmm.ErrAuth) || ctx.Err() != nil) {
		return 0, err
	}
	if p.Max <= 0 {
		return 250, nil
	}
	return p.Max, nil
}

// endpoint is the absolute URL of an API path (escaped by the caller).
func (c *Client) endpoint(path string, q url.Values) string {
	s := strings.TrimSuffix(c.base.String(), "/") + path
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	return s
}

func (c *Client) get(ctx context.Context, rawURL string, out any) error {
	return c.api.GetJSON(ctx, rawURL, out)
}

// wrap words errors for the people reading a run's status.
func wrap(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, rmm.ErrAuth):
		return fmt.Errorf("datto: %w; %s", err, authHint)
	case rmm.IsStatus(err, http.StatusForbidden):
		return fmt.Errorf("datto: %w (Datto answers 403 both when the API user lacks access and during a temporary IP block "+
			"after the account exceeded its request rate limit)", err)
	}
	return fmt.Errorf("datto: %w", err)
}

// observer remembers the latest status for backoff and drops a token as soon as it gets a 401.
type observer struct {
	next http.RoundTripper
	c    *Client
}

func (o observer) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := o.next.RoundTrip(req)
	if err != nil {
		return res, err
	}
	o.c.lastStatus.Store(int32(res.StatusCode))
	if res.StatusCode == http.StatusUnauthorized {
		if tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer "); ok {
			o.c.tokens.Reject(tok)
		}
	}
	return res, nil
}
