package rmm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"clientst0r/internal/auth"
	"clientst0r/internal/store"
)

// Engine runs syncs: the same mapping for every vendor (SPEC §8).
type Engine struct {
	Store *store.Store
	// HTTP is the client for vendor APIs (timeouts, no redirects, private-address guard).
	HTTP *http.Client
	// RateScale scales vendors' rate limits (tests); 0 is 1.
	RateScale float64
	Now       func() time.Time
	Log       *slog.Logger
	// PageSize is how many devices are applied per transaction.
	PageSize int
}

// Client builds the vendor client of an integration with its stored credentials.
func (e *Engine) Client(ctx context.Context, integ store.Integration) (Provider, error) {
	creds, err := e.Store.IntegrationCredentials(ctx, integ)
	if err != nil {
		return nil, err
	}
	if missing := MissingCredentials(integ.Provider, creds); len(missing) > 0 {
		return nil, fmt.Errorf("the integration has no %s", strings.Join(missing, ", "))
	}
	return New(integ.Provider, Config{BaseURL: integ.BaseURL, Credentials: creds, HTTP: e.HTTP, RateScale: e.RateScale, Now: e.Now})
}

// Test checks an integration's connection and credentials.
func (e *Engine) Test(ctx context.Context, integ store.Integration) error {
	p, err := e.Client(ctx, integ)
	if err != nil {
		return err
	}
	return describe(p.Test(ctx))
}

// describe turns vendor errors into what a technician can act on.
func describe(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrAuth):
		return fmt.Errorf("%w: check the credentials, and the platform or region in the base URL", err)
	}
	return err
}

// Run executes one recorded run: streams the vendor's devices page by page onto assets, retires
// devices the vendor no longer lists (only after a complete listing), syncs alerts where the vendor
// has them, and records the outcome. A failed run changes nothing it had not already applied, and
// never retires anything.
func (e *Engine) Run(ctx context.Context, runID int64) error {
	run, err := e.Store.Run(ctx, runID)
	if err != nil {
		return err
	}
	if run.Status != "running" {
		return nil // a retried job for a finished run
	}
	integ, err := e.Store.IntegrationForSync(ctx, run.IntegrationID)
	if err != nil {
		return e.Store.FinishRun(ctx, run, err)
	}
	err = e.sync(ctx, &run, integ)
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("the sync was interrupted: %w", err)
	}
	return e.Store.FinishRun(context.WithoutCancel(ctx), run, describe(err))
}

func (e *Engine) sync(ctx context.Context, run *store.SyncRun, integ store.Integration) error {
	p, err := e.Client(ctx, integ)
	if err != nil {
		return err
	}
	var audits *storedAudits
	if ac, ok := p.(AuditCaching); ok {
		if audits, err = loadAudits(ctx, e.Store, integ.ID); err != nil {
			return err
		}
		ac.UseAuditCache(audits)
	}
	size := e.PageSize
	if size == 0 {
		size = 250
	}
	seen := map[string]bool{}
	batch := make([]store.SyncDevice, 0, size)
	flush := func() error {
		c, err := e.Store.ApplyDevices(ctx, *run, integ, batch)
		run.Created, run.Updated, run.Skipped = run.Created+c.Created, run.Updated+c.Updated, run.Skipped+c.Skipped
		run.Summary = append(run.Summary, c.Summary...)
		batch = batch[:0]
		return err
	}
	err = p.Devices(ctx, func(d Device) error {
		if d.ExternalID == "" || seen[d.ExternalID] {
			return nil
		}
		seen[d.ExternalID] = true
		run.Seen++
		batch = append(batch, normalise(d))
		if len(batch) == size {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if audits != nil { // what was read is kept even when the listing failed part way
		if serr := audits.save(context.WithoutCancel(ctx), e.Store, integ.ID); err == nil {
			err = serr
		}
	}
	if err != nil {
		return err
	}
	retired, lines, err := e.Store.RetireVanished(ctx, *run, integ, seen)
	run.Retired, run.Summary = retired, append(run.Summary, lines...)
	if err != nil {
		return err
	}
	if ap, ok := p.(AlertProvider); ok && !run.DryRun {
		return e.alerts(ctx, ap, integ)
	}
	return nil
}

// alerts stores the open alerts and those resolved since the last sync, and resolves the stored
// open alerts the vendor no longer lists.
func (e *Engine) alerts(ctx context.Context, p AlertProvider, integ store.Integration) error {
	since := e.now().Add(-30 * 24 * time.Hour)
	if integ.LastSyncAt != nil {
		since = integ.LastSyncAt.Add(-time.Hour)
	}
	open := map[string]bool{}
	var batch []store.SyncAlert
	err := p.Alerts(ctx, since, func(a Alert) error {
		if !a.Resolved {
			open[a.ExternalID] = true
		}
		batch = append(batch, store.SyncAlert{ExternalID: a.ExternalID, DeviceExternalID: a.DeviceExternalID, Priority: a.Priority,
			Message: a.Message, Resolved: a.Resolved, OpenedAt: a.OpenedAt, ResolvedAt: a.ResolvedAt, Raw: a.Raw})
		if len(batch) == 500 {
			err := e.Store.ApplyAlerts(ctx, integ, batch)
			batch = batch[:0]
			return err
		}
		return nil
	})
	if err == nil {
		err = e.Store.ApplyAlerts(ctx, integ, batch)
	}
	if err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	return e.Store.ResolveMissingAlerts(ctx, integ, open)
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// normalise turns a vendor device into what the store writes: valid addresses only (the first
// usable MAC and a non-link-local IP), bounded text, a known asset type.
func normalise(d Device) store.SyncDevice {
	out := store.SyncDevice{ExternalID: d.ExternalID, Name: clip(d.Name), Hostname: clip(d.Hostname), OrgExternalID: d.OrgExternalID,
		SiteName: clip(d.SiteName), Address: clip(d.Address), Manufacturer: clip(d.Manufacturer), Model: clip(d.Model),
		Serial: clip(d.Serial), OSName: clip(d.OSName), OSVersion: clip(d.OSVersion), Online: d.Online, LastSeen: d.LastSeen,
		AssetType: d.Kind, Latitude: d.Latitude, Longitude: d.Longitude, Raw: d.Raw}
	if !slices.Contains(store.AssetTypes, out.AssetType) {
		out.AssetType = "other"
	}
	if ip, err := netip.ParseAddr(strings.TrimSpace(d.IPAddress)); err == nil && !ip.IsLinkLocalUnicast() && !ip.IsUnspecified() && ip.Zone() == "" {
		s := ip.Unmap().String()
		out.IPAddress = &s
	}
	for _, m := range d.MACAddresses {
		if mac, ok := store.NormalizeMAC(m); ok && mac != "" && mac != "00:00:00:00:00:00" {
			out.MAC = &mac
			break
		}
	}
	if out.Latitude != nil && (*out.Latitude < -90 || *out.Latitude > 90) || out.Longitude != nil && (*out.Longitude < -180 || *out.Longitude > 180) {
		out.Latitude, out.Longitude = nil, nil
	}
	return out
}

func clip(s string) string {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\x00", ""))
	if r := []rune(s); len(r) > 200 {
		return string(r[:200])
	}
	return s
}

// Schedule starts the runs that are due and abandons runs a stopped process left behind.
func (e *Engine) Schedule(ctx context.Context) error {
	if err := e.Store.AbandonStaleRuns(ctx, 6*time.Hour); err != nil {
		return err
	}
	due, err := e.Store.DueIntegrations(ctx)
	if err != nil {
		return err
	}
	sys := auth.WithCaller(ctx, auth.Service("scheduler"))
	for _, id := range due {
		if _, err := e.Store.StartSync(sys, id, false, "schedule"); err != nil && !errors.Is(err, store.ErrSyncRunning) {
			e.Log.Error("scheduled sync not started", "integration", id, "err", err)
		}
	}
	return nil
}
