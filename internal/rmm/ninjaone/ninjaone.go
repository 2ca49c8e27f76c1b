// Package ninjaone is the NinjaOne client: OAuth client credentials with the read-only monitoring
// scope, devices-detailed paged by id (keyset), organization and location names from their lists.
package ninjaone

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"clientst0r/internal/rmm"
)

func init() { rmm.Register(rmm.NinjaOne, New) }

// authHint is added to credential failures: valid credentials of another region get a plain 401.
const authHint = "check the client id and secret of the API services application, that it has the monitoring scope, " +
	"and that the base URL is the instance of the account's region (https://app.ninjarmm.com, us2, eu, ca, oc or fed)"

// Client is a NinjaOne client; it implements rmm.Provider.
type Client struct {
	cfg    rmm.Config
	base   string
	api    *rmm.API
	tokens rmm.TokenSource
}

var _ rmm.Provider = (*Client)(nil)

// New builds a client from cfg (called through rmm.New, which fills Now and RateScale).
func New(cfg rmm.Config) (rmm.Provider, error) {
	c := &Client{cfg: cfg, base: cfg.BaseURL}
	// NinjaOne publishes no limit; a few requests per second keeps clear of its 429s.
	c.api = rmm.NewAPI(cfg, 5, 10)
	c.tokens.Now = cfg.Now
	c.tokens.Fetch = c.fetchToken
	c.api.Authorize = c.tokens.Authorize
	c.api.Reauthorize = c.tokens.Drop // requests are sequential: the cached token is the one refused
	return c, nil
}

// Test fetches a token and one organization.
func (c *Client) Test(ctx context.Context) error {
	return wrap(c.get(ctx, "/v2/organizations", url.Values{"pageSize": {"1"}}, nil))
}

func (c *Client) get(ctx context.Context, path string, q url.Values, out any) error {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return c.api.GetJSON(ctx, u, out)
}

// fetchToken runs the client-credentials grant for the read-only monitoring scope.
func (c *Client) fetchToken(ctx context.Context) (string, time.Duration, error) {
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {c.cfg.Credentials["client_id"]},
		"client_secret": {c.cfg.Credentials["client_secret"]},
		"scope":         {"monitoring"},
	}.Encode()
	api := *c.api
	api.Authorize, api.Reauthorize = nil, nil // a 401 here is a wrong client, not an expired token
	return rmm.OAuthToken(ctx, &api, func() (*http.Request, error) {
		req, err := http.NewRequest(http.MethodPost, c.base+"/ws/oauth/token", strings.NewReader(form))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		return req, nil
	}, time.Hour)
}

// wrap words errors for people, with NinjaOne's {resultCode, errorMessage} when the body has them.
func wrap(err error) error {
	var se *rmm.StatusError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, rmm.ErrAuth):
		return fmt.Errorf("ninjaone: %w; %s", err, authHint)
	case !errors.As(err, &se):
		return fmt.Errorf("ninjaone: %w", err)
	}
	var body struct {
		ResultCode   string `json:"resultCode"`
		ErrorMessage string `json:"errorMessage"`
		Error        string `json:"error"` // some answers carry only this
	}
	_ = json.Unmarshal([]byte(se.Body), &body)
	msg := strings.Join(strings.Fields(body.ResultCode+" "+body.ErrorMessage+" "+body.Error), " ")
	switch {
	case se.Status == http.StatusForbidden:
		return fmt.Errorf("ninjaone: the API application lacks the scope or access this needs (%s): %w", msg, err)
	case msg != "":
		return fmt.Errorf("ninjaone: %s: %w", msg, err)
	}
	return fmt.Errorf("ninjaone: %w", err)
}
