package automate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"clientst0r/internal/rmm"
)

// token is the cached access token and when to stop using it as is.
type token struct {
	value     string
	refreshAt time.Time // refresh proactively from here (80 % of the sliding lifetime)
	expires   time.Time // sliding expiry (ExpirationDate)
	absolute  time.Time // hard stop (AbsoluteExpirationDate); zero when unknown
}

// tokenResult is Automate's TokenResult.
type tokenResult struct {
	AccessToken            string `json:"AccessToken"`
	ExpirationDate         any    `json:"ExpirationDate"`
	AbsoluteExpirationDate any    `json:"AbsoluteExpirationDate"`
	IsTwoFactorRequired    bool   `json:"IsTwoFactorRequired"`
}

// defaultLifetime is assumed when the server's expiry is missing or already past by our clock (a
// zone-less server-local time read as UTC can be hours off); a 401 still triggers a new sign-in.
const defaultLifetime = time.Hour

// absoluteMargin keeps a refresh from starting too close to the hard stop.
const absoluteMargin = time.Minute

// signInError is a failed token request, worded for a technician; it wraps rmm.ErrAuth when the
// credentials were refused.
type signInError struct{ error }

func (e signInError) Unwrap() error { return e.error }

// authorize sets the bearer token and ClientId on an API request, signing in or refreshing first
// when the cached token is missing or near its expiry.
func (c *client) authorize(ctx context.Context, req *http.Request) error {
	tok, err := c.currentToken(ctx)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("ClientId", c.clientID)
	return nil
}

// dropToken forgets the token after a 401 so the next request signs in again (a refresh would be
// refused for a token the server already rejects).
func (c *client) dropToken() {
	c.mu.Lock()
	c.tok = token{}
	c.mu.Unlock()
}

// currentToken returns the cached token, refreshed once 80 % of its sliding lifetime has passed,
// or a new sign-in when there is none, it has expired, or its absolute end is near.
func (c *client) currentToken(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Now()
	t := c.tok
	switch {
	case t.value == "":
	case !t.absolute.IsZero() && !now.Before(t.absolute.Add(-absoluteMargin)):
		// Past the hard stop: only a new sign-in helps.
	case now.Before(t.refreshAt):
		return t.value, nil
	case now.Before(t.expires):
		if err := c.refresh(ctx, now); err == nil {
			return c.tok.value, nil
		} else if ctx.Err() != nil {
			return "", err
		}
		// A refused refresh falls back to signing in.
	}
	if err := c.signIn(ctx, now); err != nil {
		c.tok = token{}
		return "", err
	}
	return c.tok.value, nil
}

// signIn posts the credentials to /apitoken.
func (c *client) signIn(ctx context.Context, now time.Time) error {
	body, err := json.Marshal(struct {
		Username          string `json:"Username"`
		Password          string `json:"Password"`
		TwoFactorPasscode string `json:"TwoFactorPasscode,omitempty"`
	}{c.user, c.password, c.twoFA})
	if err != nil {
		return err
	}
	var res tokenResult
	if err := c.postToken(ctx, "/apitoken", "", body, &res); err != nil {
		switch {
		case errors.Is(err, rmm.ErrAuth):
			return signInError{fmt.Errorf("sign-in as %q was refused: check the username, the password and that client_id is a registered ConnectWise ClientId: %w", c.user, err)}
		case rmm.IsStatus(err, http.StatusBadRequest), rmm.IsStatus(err, http.StatusForbidden):
			return signInError{fmt.Errorf("%w: sign-in as %q was refused: %v", rmm.ErrAuth, c.user, err)}
		}
		return signInError{fmt.Errorf("sign-in as %q: %w", c.user, err)}
	}
	if res.AccessToken == "" {
		switch {
		case res.IsTwoFactorRequired && c.twoFA != "":
			return signInError{fmt.Errorf("%w: user %q needs two-factor authentication and the stored two_factor_code was not accepted (codes expire); use an Automate Integrator login, which has no two-factor step, for syncing", rmm.ErrAuth, c.user)}
		case res.IsTwoFactorRequired:
			return signInError{fmt.Errorf("%w: user %q needs two-factor authentication, which a scheduled sync cannot answer; use an Automate Integrator login (System > Integrator Usernames), which has no two-factor step", rmm.ErrAuth, c.user)}
		}
		return signInError{fmt.Errorf("%w: sign-in as %q returned no access token", rmm.ErrAuth, c.user)}
	}
	c.keep(res, now)
	return nil
}

// refresh trades the current token for a new one (POST /apitoken/refresh with the token as a JSON
// string), which extends the sliding expiry up to the absolute one.
func (c *client) refresh(ctx context.Context, now time.Time) error {
	body, err := json.Marshal(c.tok.value)
	if err != nil {
		return err
	}
	var res tokenResult
	if err := c.postToken(ctx, "/apitoken/refresh", c.tok.value, body, &res); err != nil {
		return err
	}
	if res.AccessToken == "" {
		return errors.New("automate: token refresh returned no access token")
	}
	abs := c.tok.absolute
	c.keep(res, now)
	if c.tok.absolute.IsZero() {
		c.tok.absolute = abs
	}
	return nil
}

// postToken posts to a token endpoint with ClientId, and with the current bearer for a refresh
// ("same headers" as other calls).
func (c *client) postToken(ctx context.Context, path, bearer string, body []byte, out *tokenResult) error {
	u := c.root + path
	return c.tokenAPI.Do(ctx, func() (*http.Request, error) {
		req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("ClientId", c.clientID)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		return req, nil
	}, out)
}

// keep caches a token, trusting the server's expiry only when it lies in our future.
func (c *client) keep(res tokenResult, now time.Time) {
	exp := now.Add(defaultLifetime)
	if t := rmm.ParseTime(res.ExpirationDate); t != nil && t.After(now) {
		exp = *t
	}
	var abs time.Time
	if t := rmm.ParseTime(res.AbsoluteExpirationDate); t != nil && t.After(now) {
		abs = *t
	}
	c.tok = token{value: res.AccessToken, expires: exp, absolute: abs,
		refreshAt: now.Add(exp.Sub(now) * 4 / 5)}
}
