package datto

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"clientst0r/internal/rmm"
)

// alertPageSize is the alerts' own page size: /system/pagination does not cover alerts.
const alertPageSize = "100"

// alert is the part of a Datto alert the sync maps. alertContext is polymorphic on "@class" and
// Datto adds classes over time, so it is read only for its class name and otherwise kept in Raw.
type alert struct {
	AlertUID     string `json:"alertUid"`
	Priority     string `json:"priority"`
	Diagnostics  string `json:"diagnostics"`
	Resolved     bool   `json:"resolved"`
	ResolvedOn   any    `json:"resolvedOn"` // epoch ms or null
	Timestamp    any    `json:"timestamp"`  // epoch ms
	AlertContext struct {
		Class string `json:"@class"`
	} `json:"alertContext"`
	AlertSourceInfo struct {
		DeviceUID string `json:"deviceUid"`
	} `json:"alertSourceInfo"`
}

// Alerts yields every open alert, then resolved alerts down to since. The resolved list grows
// without bound and comes newest first, so it is read only until a whole page is older than since.
func (c *Client) Alerts(ctx context.Context, since time.Time, yield func(rmm.Alert) error) error {
	if err := c.sizeLimiter(ctx); err != nil {
		return wrap(err)
	}
	var yieldErr error
	each := func(items []json.RawMessage, resolved bool) error {
		recent := 0
		for _, raw := range items {
			var a alert
			if err := json.Unmarshal(raw, &a); err != nil {
				return fmt.Errorf("alert list: %w", err)
			}
			n := a.normalise(raw)
			if resolved && !since.IsZero() {
				at := n.ResolvedAt
				if at == nil {
					at = n.OpenedAt
				}
				if at != nil && at.Before(since) {
					continue
				}
			}
			recent++
			if yieldErr = yield(n); yieldErr != nil {
				return yieldErr
			}
		}
		if resolved && recent == 0 && !since.IsZero() {
			return errStop
		}
		return nil
	}
	q := url.Values{"max": {alertPageSize}}
	err := c.eachPage(ctx, "/api/v2/account/alerts/open", q, func(items []json.RawMessage) error {
		return each(items, false)
	})
	if err == nil {
		err = c.eachPage(ctx, "/api/v2/account/alerts/resolved", q, func(items []json.RawMessage) error {
			return each(items, true)
		})
	}
	if yieldErr != nil {
		return yieldErr
	}
	return wrap(err)
}

func (a *alert) normalise(raw json.RawMessage) rmm.Alert {
	msg := strings.TrimSpace(a.Diagnostics)
	if msg == "" {
		msg = a.AlertContext.Class // better than nothing in a list of alerts
	}
	out := rmm.Alert{
		ExternalID:       a.AlertUID,
		DeviceExternalID: a.AlertSourceInfo.DeviceUID,
		Priority:         a.Priority,
		Message:          msg,
		Resolved:         a.Resolved,
		OpenedAt:         rmm.ParseTime(a.Timestamp),
		Raw:              raw,
	}
	if a.Resolved {
		out.ResolvedAt = rmm.ParseTime(a.ResolvedOn)
	}
	return out
}
