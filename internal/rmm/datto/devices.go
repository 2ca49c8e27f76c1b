package datto

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"clientst0r/internal/rmm"
)

// auditWorkers audits in flight at once: Datto answers slowly, and one at a time would leave the
// limiter's 8 requests per second unused; the limiter, not this number, bounds the rate.
const auditWorkers = 4

// device is an item of the device list; it has no hardware detail, which the audit adds.
type device struct {
	ID         int64  `json:"id"`
	UID        string `json:"uid"`
	SiteUID    string `json:"siteUid"`
	SiteName   string `json:"siteName"`
	DeviceType struct {
		Category string `json:"category"`
	} `json:"deviceType"`
	DeviceClass     string `json:"deviceClass"`
	Hostname        string `json:"hostname"`
	IntIPAddress    string `json:"intIpAddress"`
	OperatingSystem string `json:"operatingSystem"`
	Online          *bool  `json:"online"`
	Deleted         bool   `json:"deleted"`
	LastSeen        any    `json:"lastSeen"`      // epoch ms (the spec says date-time; ParseTime takes both)
	LastAuditDate   any    `json:"lastAuditDate"` // epoch ms; changes when a new audit exists

	raw json.RawMessage
	hw  rmm.AuditData
}

// Devices yields every device of the account that is not deleted, page by page.
func (c *Client) Devices(ctx context.Context, yield func(rmm.Device) error) error {
	if err := c.sizeLimiter(ctx); err != nil {
		return wrap(err)
	}
	size, err := c.pageMax(ctx, false)
	if err != nil {
		return wrap(err)
	}
	q := url.Values{"max": {strconv.Itoa(size)}}
	for k, v := range c.filter {
		q[k] = v
	}
	var yieldErr error
	err = c.eachPage(ctx, "/api/v2/account/devices", q, func(items []json.RawMessage) error {
		devs := make([]device, 0, len(items))
		for _, raw := range items {
			var d device
			if err := json.Unmarshal(raw, &d); err != nil {
				return fmt.Errorf("device list: %w", err)
			}
			if !d.Deleted {
				d.raw = raw
				devs = append(devs, d)
			}
		}
		if err := c.audit(ctx, devs); err != nil {
			return err
		}
		for i := range devs {
			if yieldErr = yield(devs[i].normalise()); yieldErr != nil {
				return yieldErr
			}
		}
		return nil
	})
	if yieldErr != nil {
		return yieldErr // the engine's own error, unwrapped
	}
	return wrap(err)
}

// audit fills in the hardware of devs: from the cache when the device's lastAuditDate is the one
// cached, else from GET /api/v2/audit/device/{uid}, a few at a time.
func (c *Client) audit(ctx context.Context, devs []device) error {
	var todo []int
	for i := range devs {
		d := &devs[i]
		stamp := d.auditStamp()
		if c.cache != nil {
			if s, hw, ok := c.cache.Get(d.UID); ok {
				d.hw = hw
				if s == stamp {
					continue
				}
			}
		}
		// No audit date: the agent never audited, so there is nothing to fetch. Printers and ESXi
		// hosts have audits of other shapes that hold none of these fields.
		if stamp != 0 && d.UID != "" && (d.DeviceClass == "" || d.DeviceClass == "device") {
			todo = append(todo, i)
		}
	}
	if len(todo) == 0 {
		return nil
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		failOnce sync.Once
		failed   error
		jobs     = make(chan int)
		found    = make([]bool, len(devs))
	)
	for range min(auditWorkers, len(todo)) {
		wg.Go(func() {
			for i := range jobs {
				hw, ok, err := c.fetchAudit(ctx, devs[i].UID)
				if err != nil {
					failOnce.Do(func() { failed = err; cancel() })
					continue
				}
				if ok { // each worker writes its own devices only
					devs[i].hw, found[i] = hw, true
				}
			}
		})
	}
send:
	for _, i := range todo {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break send
		}
	}
	close(jobs)
	wg.Wait()
	if failed != nil {
		return failed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.cache != nil {
		for _, i := range todo {
			if found[i] {
				c.cache.Put(devs[i].UID, devs[i].auditStamp(), devs[i].hw)
			}
		}
	}
	return nil
}

// auditDoc is the part of a device audit the sync uses.
type auditDoc struct {
	SystemInfo struct {
		Manufacturer string `json:"manufacturer"`
		Model        string `json:"model"`
	} `json:"systemInfo"`
	Bios struct {
		SerialNumber string `json:"serialNumber"`
	} `json:"bios"`
	Nics []struct {
		MacAddress string `json:"macAddress"`
	} `json:"nics"`
}

// fetchAudit reads a device's audit; ok is false when Datto has none (404): whatever was cached
// stays, and the next run asks again.
func (c *Client) fetchAudit(ctx context.Context, uid string) (hw rmm.AuditData, ok bool, err error) {
	var a auditDoc
	err = c.get(ctx, c.endpoint("/api/v2/audit/device/"+url.PathEscape(uid), nil), &a)
	switch {
	case rmm.IsStatus(err, http.StatusNotFound):
		return hw, false, nil
	case err != nil:
		return hw, false, fmt.Errorf("audit of device %s: %w", uid, err)
	}
	hw = rmm.AuditData{
		Manufacturer: strings.TrimSpace(a.SystemInfo.Manufacturer),
		Model:        strings.TrimSpace(a.SystemInfo.Model),
		Serial:       strings.TrimSpace(a.Bios.SerialNumber),
	}
	for _, n := range a.Nics {
		if m := strings.TrimSpace(n.MacAddress); m != "" && !slices.Contains(hw.MACAddresses, m) {
			hw.MACAddresses = append(hw.MACAddresses, m)
		}
	}
	return hw, true, nil
}

// auditStamp is lastAuditDate in epoch ms, 0 when the device was never audited.
func (d *device) auditStamp() int64 {
	if t := rmm.ParseTime(d.LastAuditDate); t != nil {
		return t.UnixMilli()
	}
	return 0
}

func (d *device) normalise() rmm.Device {
	id := d.UID
	if id == "" {
		id = strconv.FormatInt(d.ID, 10)
	}
	osName, osVersion := splitOS(d.OperatingSystem)
	ip, _, _ := strings.Cut(d.IntIPAddress, ",")
	return rmm.Device{
		ExternalID:    id,
		Name:          d.Hostname,
		Hostname:      d.Hostname,
		OrgExternalID: d.SiteUID, // a Datto site is the customer
		OrgName:       d.SiteName,
		SiteName:      d.SiteName,
		Manufacturer:  d.hw.Manufacturer,
		Model:         d.hw.Model,
		Serial:        d.hw.Serial,
		OSName:        osName,
		OSVersion:     osVersion,
		IPAddress:     strings.TrimSpace(ip),
		MACAddresses:  d.hw.MACAddresses,
		Online:        d.Online,
		LastSeen:      rmm.ParseTime(d.LastSeen),
		Kind:          kind(d.DeviceType.Category, d.DeviceClass),
		Raw:           d.raw,
	}
}

// splitOS splits "Microsoft Windows 11 Pro 23H2 (10.0.22631)" into name and version.
func splitOS(s string) (name, version string) {
	s = strings.TrimSpace(s)
	if i := strings.LastIndex(s, " ("); i > 0 && strings.HasSuffix(s, ")") {
		return s[:i], s[i+2 : len(s)-1]
	}
	return s, ""
}

// kind maps deviceType.category (and deviceClass for non-agent devices) to an asset type.
func kind(category, class string) string {
	switch strings.ToLower(strings.TrimSpace(category)) {
	case "laptop":
		return "laptop"
	case "server":
		return "server"
	case "desktop", "workstation":
		return "workstation"
	case "printer":
		return "printer"
	}
	switch class {
	case "printer":
		return "printer"
	case "esxihost":
		return "server"
	}
	return ""
}

// page is Datto's list envelope; items are under devices or alerts.
type page struct {
	PageDetails struct {
		NextPageURL *string `json:"nextPageUrl"`
	} `json:"pageDetails"`
	Devices []json.RawMessage `json:"devices"`
	Alerts  []json.RawMessage `json:"alerts"`
}

// errStop ends eachPage early without an error.
var errStop = errors.New("stop paging")

// eachPage GETs path from page 0 and follows pageDetails.nextPageUrl until it is null, calling fn
// with each page's items; fn returns errStop to end early.
func (c *Client) eachPage(ctx context.Context, path string, q url.Values, fn func([]json.RawMessage) error) error {
	q = cloneValues(q)
	q.Set("page", "0")
	next := c.endpoint(path, q)
	for n := 1; next != ""; n++ {
		var p page
		if err := c.get(ctx, next, &p); err != nil {
			return err
		}
		items := p.Devices
		if items == nil {
			items = p.Alerts
		}
		if err := fn(items); err != nil {
			if errors.Is(err, errStop) {
				return nil
			}
			return err
		}
		prev := next
		next = c.nextPage(p.PageDetails.NextPageURL, path, q, n)
		if len(items) == 0 || next == prev { // a server that pages forever
			return nil
		}
	}
	return nil
}

// nextPage is the URL of page n. Datto's nextPageUrl is absolute and drops the filters: it is used
// (filters re-added) only when it points at the configured host, so a misconfigured or hostile
// server cannot send the bearer token elsewhere; otherwise the page number is counted here.
func (c *Client) nextPage(raw *string, path string, q url.Values, n int) string {
	if raw == nil || strings.TrimSpace(*raw) == "" {
		return ""
	}
	if u, err := url.Parse(strings.TrimSpace(*raw)); err == nil && u.Scheme == c.base.Scheme && strings.EqualFold(u.Host, c.base.Host) {
		nq := u.Query()
		for k, v := range q {
			if _, ok := nq[k]; !ok && k != "page" {
				nq[k] = v
			}
		}
		if nq.Get("page") == "" {
			nq.Set("page", strconv.Itoa(n))
		}
		u.RawQuery = nq.Encode()
		return u.String()
	}
	nq := cloneValues(q)
	nq.Set("page", strconv.Itoa(n))
	return c.endpoint(path, nq)
}

func cloneValues(q url.Values) url.Values {
	out := make(url.Values, len(q)+1)
	for k, v := range q {
		out[k] = slices.Clone(v)
	}
	return out
}
