// Package syncro is the Syncro (SyncroMSP) client (research §5): a static API token in the
// Authorization header, customer_assets paged 1-based at a fixed 25 per page until
// meta.total_pages, within the 180 requests a minute Syncro allows per IP address.
package syncro

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"clientst0r/internal/rmm"
)

func init() { rmm.Register(rmm.Syncro, New) }

// perPage is Syncro's fixed asset page size; only used when a server omits meta.total_pages.
const perPage = 25

type client struct {
	cfg   rmm.Config
	api   *rmm.API
	root  string // {base}/api/v1
	token string
}

// New builds the client; credential api_token.
func New(cfg rmm.Config) (rmm.Provider, error) {
	c := &client{cfg: cfg, root: cfg.BaseURL + "/api/v1", token: strings.TrimSpace(cfg.Credentials["api_token"])}
	// 180 a minute per IP is a window, not a bucket: 2.5/s with a burst of 5 stays at or under
	// 155 in any minute.
	c.api = rmm.NewAPI(cfg, 2.5, 5)
	// Another integration on the same egress IP can still use the window up; seven retries wait
	// about two minutes in all, longer than one window. Tests shrink the waits with the scale.
	c.api.Retries = 7
	// The token is static (no expiry, no refresh): a 401 is final.
	c.api.Authorize = func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+c.token) // never ?api_key=: URLs reach logs
		return nil
	}
	return c, nil
}

// page is the customer_assets envelope.
type page struct {
	Assets []json.RawMessage `json:"assets"`
	Meta   struct {
		TotalPages int `json:"total_pages"`
	} `json:"meta"`
}

// Test reads the first page of assets, which needs the permission the sync needs.
func (c *client) Test(ctx context.Context) error {
	var p page
	return c.wrap(c.get(ctx, 1, &p))
}

// Devices pages through every asset while page <= meta.total_pages, skipping an asset already
// yielded when inserts shift the pages under the sync.
func (c *client) Devices(ctx context.Context, yield func(rmm.Device) error) error {
	seen := map[string]bool{}
	for n := 1; ; n++ {
		var p page
		if err := c.get(ctx, n, &p); err != nil {
			return c.wrap(err)
		}
		now := c.cfg.Now()
		for i, raw := range p.Assets {
			d, err := toDevice(raw, now)
			if err != nil {
				return fmt.Errorf("syncro: asset %d of page %d: %w", i+1, n, err)
			}
			if d.ExternalID == "" || seen[d.ExternalID] {
				continue
			}
			seen[d.ExternalID] = true
			if err := yield(d); err != nil {
				return err
			}
		}
		switch {
		case len(p.Assets) == 0:
			return nil
		case p.Meta.TotalPages > 0 && n >= p.Meta.TotalPages:
			return nil
		case p.Meta.TotalPages == 0 && len(p.Assets) < perPage:
			return nil
		}
	}
}

func (c *client) get(ctx context.Context, n int, out any) error {
	u := c.root + "/customer_assets?page=" + strconv.Itoa(n)
	return c.api.GetJSON(ctx, u, out)
}

func (c *client) wrap(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, rmm.ErrAuth):
		return fmt.Errorf("syncro: the API token was refused; check that it is current and has the Assets - List/Search permission: %w", err)
	case rmm.IsStatus(err, http.StatusForbidden):
		return fmt.Errorf("syncro: %w: the API token lacks the Assets - List/Search permission (403): %v", rmm.ErrAuth, err)
	case rmm.IsStatus(err, http.StatusTooManyRequests):
		return fmt.Errorf("syncro: still rate limited after retrying; Syncro allows 180 requests a minute per IP address, shared with other integrations on this address: %w", err)
	}
	return fmt.Errorf("syncro: %w", err)
}
