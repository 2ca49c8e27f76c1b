package auth

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"clientst0r/internal/apperr"
)

// SessionCookie names the web session cookie.
const SessionCookie = "clientst0r_session"

// Lookup is what authentication needs from storage.
type Lookup interface {
	CallerForKey(ctx context.Context, plaintext string) (*Caller, error)
	CallerForSession(ctx context.Context, token string) (*Caller, error)
	TouchKey(ctx context.Context, keyID int64, ip string) error
}

// Limits holds the installation's rate-limit settings.
type Limits struct {
	// SessionRate is the per-minute limit for web sessions (keys carry their own).
	SessionRate int
	// BadKeysPerMinute is how many invalid keys one address may present per minute.
	BadKeysPerMinute int
	// LoginFailuresPerMinute is how many failed logins one address or one email may have per minute.
	LoginFailuresPerMinute int
	// CodeFailuresPerWindow is how many wrong two-factor codes one account may have per CodeWindow
	// (on top of the per-minute login limits); 0 means the default.
	CodeFailuresPerWindow int
}

// DefaultLimits are used when the configuration says nothing.
var DefaultLimits = Limits{SessionRate: 600, BadKeysPerMinute: 20, LoginFailuresPerMinute: 10, CodeFailuresPerWindow: 10}

// Authenticator turns a request into a Caller and applies rate limits.
type Authenticator struct {
	lookup   Lookup
	limits   Limits
	requests Counter // per key or per session user
	failures Counter // per address (bad keys, failed logins) and per email (failed logins)
	codes    Counter // wrong two-factor codes per account, over CodeWindow
}

// NewAuthenticator returns an authenticator counting in this process (one node); now is the clock.
func NewAuthenticator(lookup Lookup, limits Limits, now func() time.Time) *Authenticator {
	return NewAuthenticatorWith(lookup, limits, MemoryCounters(now))
}

// NewAuthenticatorWith returns an authenticator counting in counters (shared ones when several
// nodes serve one installation).
func NewAuthenticatorWith(lookup Lookup, limits Limits, counters Counters) *Authenticator {
	return &Authenticator{lookup: lookup, limits: limits, requests: counters.Requests, failures: counters.Failures, codes: counters.Codes}
}

// Errors with SPEC §3's wording.
var (
	ErrNoCredentials = &apperr.Error{Kind: apperr.Unauthorized, Detail: "Authentication credentials were not provided."}
	errInvalidKey    = &apperr.Error{Kind: apperr.Unauthorized, Detail: "Invalid API key."}
)

// Throttled builds the 429 error for a wait.
func Throttled(wait time.Duration) error {
	s := Seconds(wait)
	return &apperr.Error{Kind: apperr.Throttled, RetryAfter: s,
		Detail: fmt.Sprintf("Request was throttled. Expected available in %d seconds.", s)}
}

// Authenticate identifies the caller of r by Bearer key or session cookie. sessions says whether
// a session cookie is accepted on this path.
func (a *Authenticator) Authenticate(r *http.Request, sessions bool) (*Caller, error) {
	ip := ClientIP(r)
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return nil, ErrNoCredentials
		}
		if d, err := a.failures.Peek(r.Context(), "ip:"+ip, a.limits.BadKeysPerMinute); err != nil {
			return nil, err
		} else if d.Remaining <= 0 {
			return nil, Throttled(d.Reset)
		}
		token = strings.TrimSpace(token)
		var c *Caller
		var err error = errInvalidKey
		if LooksLikeAPIKey(token) {
			c, err = a.lookup.CallerForKey(r.Context(), token)
		}
		if err != nil {
			if apperr.Is(err, apperr.Unauthorized) {
				if _, err := a.failures.Take(r.Context(), "ip:"+ip, a.limits.BadKeysPerMinute); err != nil {
					return nil, err
				}
				return nil, errInvalidKey
			}
			return nil, err
		}
		if err := a.lookup.TouchKey(r.Context(), c.Key.ID, ip); err != nil {
			return nil, err
		}
		return c.ForRequest(ip, r.UserAgent()), nil
	}
	if sessions {
		if ck, err := r.Cookie(SessionCookie); err == nil && ck.Value != "" {
			c, err := a.lookup.CallerForSession(r.Context(), ck.Value)
			if err == nil {
				return c.ForRequest(ip, r.UserAgent()), nil
			}
			if !apperr.Is(err, apperr.Unauthorized) {
				return nil, err
			}
		}
	}
	return nil, ErrNoCredentials
}

// RateContext counts one request against the caller's limit: the key's, or the installation's for
// sessions.
func (a *Authenticator) RateContext(ctx context.Context, c *Caller) (Decision, error) {
	if c.Key != nil {
		return a.requests.Take(ctx, fmt.Sprintf("k:%d", c.Key.ID), c.Key.RateLimit)
	}
	return a.requests.Take(ctx, fmt.Sprintf("u:%d", c.User.ID), a.limits.SessionRate)
}

// Rate is RateContext outside any request.
func (a *Authenticator) Rate(c *Caller) (Decision, error) {
	return a.RateContext(context.Background(), c)
}

// LoginAllowed reports whether another login attempt from ip for email may be tried now, and if
// not, how long to wait.
func (a *Authenticator) LoginAllowed(ctx context.Context, ip, email string) (bool, time.Duration, error) {
	n := a.limits.LoginFailuresPerMinute
	for _, k := range []string{"login-ip:" + ip, "login-email:" + strings.ToLower(email)} {
		d, err := a.failures.Peek(ctx, k, n)
		if err != nil {
			return false, 0, err
		}
		if d.Remaining <= 0 {
			return false, d.Reset, nil
		}
	}
	return true, 0, nil
}

// LoginFailed counts a failed login against the address and the email.
func (a *Authenticator) LoginFailed(ctx context.Context, ip, email string) error {
	n := a.limits.LoginFailuresPerMinute
	if _, err := a.failures.Take(ctx, "login-ip:"+ip, n); err != nil {
		return err
	}
	_, err := a.failures.Take(ctx, "login-email:"+strings.ToLower(email), n)
	return err
}

// ClientIP is the peer address of the request. Forwarding headers are not trusted: they are the
// client's to forge.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
