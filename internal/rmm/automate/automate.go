// Package automate is the ConnectWise Automate client (research §2): a bearer token from
// POST /cwa/api/v1/apitoken sent with the mandatory ClientId header, computers paged 1-based with
// pageSize, the model from Computers/Chassis, and each location's postal address and "GPS" extra
// field.
package automate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"clientst0r/internal/rmm"
)

func init() { rmm.Register(rmm.Automate, New) }

// pageSize is the largest page the AutomateAPI module asks for; the server returns no totals, so a
// shorter page is the last one.
const pageSize = 1000

type client struct {
	cfg      rmm.Config
	api      *rmm.API
	tokenAPI *rmm.API // the same limiter and retries, without authorization (it fetches the token)
	root     string   // {base}/cwa/api/v1
	user     string
	password string
	clientID string
	twoFA    string

	mu  sync.Mutex
	tok token
}

// New builds the client; credentials username, password, client_id and optional two_factor_code.
func New(cfg rmm.Config) (rmm.Provider, error) {
	c := &client{
		cfg:      cfg,
		root:     cfg.BaseURL + "/cwa/api/v1",
		user:     strings.TrimSpace(cfg.Credentials["username"]),
		password: cfg.Credentials["password"],
		clientID: strings.TrimSpace(cfg.Credentials["client_id"]),
		twoFA:    strings.TrimSpace(cfg.Credentials["two_factor_code"]),
	}
	// No published limit: stay polite at about 5 requests a second (research §1).
	// Automate answers transient 500s (research §2.7): NewAPI's retries with backoff.
	c.api = rmm.NewAPI(cfg, 5, 5)
	tokenAPI := *c.api
	c.tokenAPI = &tokenAPI
	c.api.Authorize = c.authorize
	c.api.Reauthorize = c.dropToken
	return c, nil
}

// Test signs in and reads one computer, which also proves the user may list computers.
func (c *client) Test(ctx context.Context) error {
	var page []json.RawMessage
	q := "page=1&pageSize=1&orderBy=" + url.QueryEscape("Id asc")
	return c.wrap(c.get(ctx, "/Computers", q, &page))
}

// Devices pages through every computer in Id order, with one Chassis lookup per page (split only
// to keep URLs short) and each location read once per run.
func (c *client) Devices(ctx context.Context, yield func(rmm.Device) error) error {
	sites := map[string]*site{}
	seen := map[string]bool{}
	ch := &chassisReader{c: c}
	for page := 1; ; page++ {
		var raws []json.RawMessage
		q := fmt.Sprintf("page=%d&pageSize=%d&orderBy=%s", page, pageSize, url.QueryEscape("Id asc"))
		if err := c.get(ctx, "/Computers", q, &raws); err != nil {
			return c.wrap(err)
		}
		comps := make([]computer, 0, len(raws))
		ids := make([]string, 0, len(raws))
		fresh := 0
		for i, raw := range raws {
			var comp computer
			if err := rmm.DecodeLoose(raw, &comp); err != nil {
				return fmt.Errorf("automate: computer %d of page %d: %w", i+1, page, err)
			}
			comp.raw = raw
			comps = append(comps, comp)
			if comp.ID != "" {
				ids = append(ids, string(comp.ID))
				if !seen[string(comp.ID)] {
					fresh++
				}
			}
		}
		// A server that ignores page would answer the same full page forever.
		if len(raws) == pageSize && fresh == 0 {
			return fmt.Errorf("automate: page %d repeats computers already listed; the server ignores paging", page)
		}
		models, err := ch.read(ctx, ids)
		if err != nil {
			return c.wrap(err)
		}
		for _, comp := range comps {
			if comp.ID == "" || seen[string(comp.ID)] {
				continue
			}
			seen[string(comp.ID)] = true
			s, err := c.site(ctx, sites, comp.Location)
			if err != nil {
				return c.wrap(err)
			}
			if err := yield(comp.device(models[string(comp.ID)], s)); err != nil {
				return err
			}
		}
		if len(raws) < pageSize {
			return nil
		}
	}
}

// get sends an authorized GET to {root}{path}?{query}.
func (c *client) get(ctx context.Context, path, query string, out any) error {
	u := c.root + path
	if query != "" {
		u += "?" + query
	}
	return c.api.GetJSON(ctx, u, out)
}

// wrap words an error for a technician; sign-in errors are already worded.
func (c *client) wrap(err error) error {
	var s signInError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &s):
		return fmt.Errorf("automate: %w", err)
	case errors.Is(err, rmm.ErrAuth):
		return fmt.Errorf("automate: a fresh token was refused too; check that client_id is the registered ClientId and the user may read computers: %w", err)
	case rmm.IsStatus(err, http.StatusForbidden):
		return fmt.Errorf("automate: %w: user %q lacks a permission the sync needs (403): %v", rmm.ErrAuth, c.user, err)
	}
	return fmt.Errorf("automate: %w", err)
}

// tolerable reports answers that mean "this server or user has no such data" rather than failure:
// older servers without an endpoint, or users without the permission for an optional detail.
func tolerable(err error) bool {
	return rmm.IsStatus(err, http.StatusNotFound) || rmm.IsStatus(err, http.StatusForbidden)
}

// chassisReader fetches models; it stops asking once the server shows it cannot answer.
type chassisReader struct {
	c        *client
	disabled bool
}

// maxCondition bounds the encoded condition: IIS rejects query strings over 2,048 bytes by default,
// and a 1,000-id list would exceed it, so long pages are split into a few requests.
const maxCondition = 1800

func (r *chassisReader) read(ctx context.Context, ids []string) (map[string]chassis, error) {
	out := make(map[string]chassis, len(ids))
	for len(ids) > 0 && !r.disabled {
		n, cond := conditionIn("ComputerId", ids, maxCondition)
		ids = ids[n:]
		var rows []json.RawMessage
		q := fmt.Sprintf("condition=%s&pageSize=%d", cond, pageSize)
		if err := r.c.get(ctx, "/Computers/Chassis", q, &rows); err != nil {
			if tolerable(err) {
				r.disabled = true
				break
			}
			return nil, err
		}
		for _, raw := range rows {
			var row chassis
			if rmm.DecodeLoose(raw, &row) == nil && row.ComputerID != "" {
				out[string(row.ComputerID)] = row
			}
		}
	}
	return out, nil
}

// conditionIn builds the encoded condition "field in (a,b,…)" from as many leading ids as fit in
// max bytes (at least one); commas stay literal (legal in a query) to fit more ids per request.
func conditionIn(field string, ids []string, max int) (int, string) {
	var b strings.Builder
	b.WriteString(url.QueryEscape(field + " in ("))
	n := 0
	for _, id := range ids {
		e := url.QueryEscape(id)
		if n > 0 && b.Len()+len(e)+2 > max {
			break
		}
		if n > 0 {
			b.WriteByte(',')
		}
		b.WriteString(e)
		n++
	}
	b.WriteString(url.QueryEscape(")"))
	return n, b.String()
}

// site reads a location once per run: postal address and coordinates from its "GPS" extra field.
func (c *client) site(ctx context.Context, cache map[string]*site, ref *idName) (*site, error) {
	if ref == nil || ref.ID == "" {
		return nil, nil
	}
	if s, ok := cache[string(ref.ID)]; ok {
		return s, nil
	}
	s := &site{}
	path := "/Locations/" + url.PathEscape(string(ref.ID))
	var loc map[string]json.RawMessage
	if err := c.get(ctx, path, "", &loc); err != nil && !tolerable(err) {
		return nil, err
	}
	s.address = postalAddress(loc)
	var fields []json.RawMessage
	if err := c.get(ctx, path+"/ExtraFields", "", &fields); err != nil && !tolerable(err) {
		return nil, err
	}
	for _, raw := range fields {
		var f extraField
		if rmm.DecodeLoose(raw, &f) == nil && strings.EqualFold(strings.TrimSpace(f.Title), "GPS") {
			if lat, lon, ok := parseGPS(f.value()); ok {
				s.lat, s.lon = &lat, &lon
				break
			}
		}
	}
	cache[string(ref.ID)] = s
	return s, nil
}
