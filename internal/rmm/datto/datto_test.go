package datto_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"clientst0r/internal/rmm"
	"clientst0r/internal/rmm/datto"
	"clientst0r/internal/rmm/datto/dattofake"
	"clientst0r/internal/rmm/rmmtest"
)

// scale runs the fake's rate-limit window 1000 times faster (600 per 60 ms) and the client to match.
const scale = 1000

var seen = time.Date(2026, 1, 9, 23, 15, 23, 0, time.UTC)

func fixtures(n int) []rmmtest.Device {
	kinds := []string{"workstation", "laptop", "server"}
	out := make([]rmmtest.Device, n)
	for i := range out {
		id := int64(i + 1)
		org := id%7 + 1
		out[i] = rmmtest.Device{
			ID: id, Org: org, OrgName: fmt.Sprintf("Customer %d", org), Site: "HQ",
			Name: fmt.Sprintf("HOST-%05d", id), Manufacturer: "Dell Inc.", Model: fmt.Sprintf("Latitude %d", 5400+id%10),
			Serial: fmt.Sprintf("SN%06d", id), MAC: fmt.Sprintf("00:1a:2b:%02x:%02x:%02x", id>>16&255, id>>8&255, id&255),
			IP: fmt.Sprintf("10.%d.%d.%d", org, id>>8&255, id&255), OSName: "Microsoft Windows 11 Pro 23H2", OSVersion: "10.0.22631",
			Kind: kinds[id%3], Online: id%2 == 0, LastSeen: seen.Add(time.Duration(id)*time.Minute + time.Duration(id%1000)*time.Millisecond),
		}
	}
	return out
}

func newFake(t *testing.T, opts dattofake.Options, devices []rmmtest.Device) *dattofake.Server {
	t.Helper()
	if opts.TimeScale == 0 {
		opts.TimeScale = scale
	}
	f := dattofake.New(opts, devices)
	t.Cleanup(f.Close)
	return f
}

func newClient(t *testing.T, f *dattofake.Server, rateScale float64, creds map[string]string) *datto.Client {
	t.Helper()
	if creds == nil {
		creds = f.Credentials()
	}
	p, err := rmm.New(rmm.Datto, rmm.Config{BaseURL: f.URL() + "/", Credentials: creds,
		HTTP: &http.Client{Timeout: 10 * time.Second}, RateScale: rateScale})
	if err != nil {
		t.Fatal(err)
	}
	return p.(*datto.Client)
}

func collect(t *testing.T, c *datto.Client) map[string]rmm.Device {
	t.Helper()
	got := map[string]rmm.Device{}
	err := c.Devices(context.Background(), func(d rmm.Device) error {
		if _, dup := got[d.ExternalID]; dup {
			t.Errorf("device %s yielded twice", d.ExternalID)
		}
		got[d.ExternalID] = d
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestConnectionTest(t *testing.T) {
	f := newFake(t, dattofake.Options{}, fixtures(3))
	if err := newClient(t, f, scale, nil).Test(context.Background()); err != nil {
		t.Fatal(err)
	}
	if log := f.Log(); !slices.Equal(log, []string{"POST /auth/oauth/token", "GET /api/v2/system/pagination"}) {
		t.Errorf("requests %q", log)
	}

	creds := f.Credentials()
	creds["api_secret"] = "wrong"
	err := newClient(t, f, scale, creds).Test(context.Background())
	if !errors.Is(err, rmm.ErrAuth) || !strings.Contains(err.Error(), "platform") {
		t.Fatalf("wrong secret: %v", err)
	}
}

func TestFakeTokenEndpointChecksPublicClient(t *testing.T) {
	f := newFake(t, dattofake.Options{}, nil)
	form := url.Values{"grant_type": {"password"}, "username": {f.Credentials()["api_key"]}, "password": {f.Credentials()["api_secret"]}}
	for name, c := range map[string]struct {
		user, pass string
		want       int
	}{"no basic": {"", "", 401}, "wrong client": {"other", "public", 401}, "public client": {"public-client", "public", 200}} {
		req, _ := http.NewRequest("POST", f.URL()+"/auth/oauth/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if c.user != "" {
			req.SetBasicAuth(c.user, c.pass)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != c.want {
			t.Errorf("%s: %d, want %d", name, res.StatusCode, c.want)
		}
	}
}

func TestDevicesAllPagesNormalised(t *testing.T) {
	fx := fixtures(620)
	f := newFake(t, dattofake.Options{}, fx)
	got := collect(t, newClient(t, f, scale, nil))
	if len(got) != len(fx) {
		t.Fatalf("%d devices, want %d (the deleted one skipped)", len(got), len(fx))
	}
	wantKind := map[string]string{"workstation": "workstation", "laptop": "laptop", "server": "server"}
	for _, want := range fx {
		d, ok := got[dattofake.DeviceUID(want.ID)]
		if !ok {
			t.Fatalf("device %d missing", want.ID)
		}
		if d.Hostname != want.Name || d.Name != want.Name || d.OrgExternalID != dattofake.SiteUID(want.Org) ||
			d.OrgName != want.OrgName || d.SiteName != want.OrgName || d.IPAddress != want.IP ||
			d.OSName != want.OSName || d.OSVersion != want.OSVersion || d.Kind != wantKind[want.Kind] {
			t.Fatalf("device %d: %+v", want.ID, d)
		}
		if d.Manufacturer != want.Manufacturer || d.Model != want.Model || d.Serial != want.Serial ||
			!slices.Equal(d.MACAddresses, []string{strings.ToUpper(want.MAC)}) {
			t.Fatalf("device %d audit: %q %q %q %q", want.ID, d.Manufacturer, d.Model, d.Serial, d.MACAddresses)
		}
		if d.Online == nil || *d.Online != want.Online || d.LastSeen == nil || !d.LastSeen.Equal(want.LastSeen) ||
			d.LastSeen.Location() != time.UTC {
			t.Fatalf("device %d: online %v last seen %v, want %v %v", want.ID, d.Online, d.LastSeen, want.Online, want.LastSeen)
		}
		if len(d.Raw) == 0 {
			t.Fatalf("device %d has no raw record", want.ID)
		}
	}
	if n := f.Count("/api/v2/account/devices"); n != 3 {
		t.Errorf("%d device pages, want 3 of 250", n)
	}
	if !slices.Contains(f.Log(), "GET /api/v2/account/devices?max=250&page=0") {
		t.Errorf("first page not requested as page=0&max=250: %q", f.Log()[:5])
	}
	if n := f.Count("/api/v2/audit/device/"); n != len(fx) {
		t.Errorf("%d audits without a cache, want %d", n, len(fx))
	}
}

func TestFilterReappendedOnEveryPage(t *testing.T) {
	fx := fixtures(620)
	f := newFake(t, dattofake.Options{PageMax: 25}, fx)
	c := newClient(t, f, scale, nil)
	c.SetFilter(url.Values{"siteName": {"Customer 3"}})
	got := collect(t, c)
	want := 0
	for _, d := range fx {
		if d.OrgName == "Customer 3" {
			want++
		}
	}
	if len(got) != want {
		t.Fatalf("%d devices, want the %d of Customer 3", len(got), want)
	}
	for _, d := range got {
		if d.OrgName != "Customer 3" {
			t.Fatalf("filter lost on a later page: %s of %s", d.ExternalID, d.OrgName)
		}
	}
	pages := 0
	for _, l := range f.Log() {
		if strings.Contains(l, "/account/devices") {
			pages++
			if !strings.Contains(l, "siteName=Customer+3") {
				t.Errorf("page without the filter: %s", l)
			}
		}
	}
	if pages < 3 {
		t.Errorf("%d pages: the filter test needs several", pages)
	}
}

func TestForeignNextPageURLNotFollowed(t *testing.T) {
	fx := fixtures(60)
	f := newFake(t, dattofake.Options{PageMax: 25, NextPageHost: "collector.invalid:8443"}, fx)
	if got := collect(t, newClient(t, f, scale, nil)); len(got) != len(fx) {
		t.Fatalf("%d devices, want %d", len(got), len(fx))
	}
}

func TestAuditOnlyWhenLastAuditDateChanges(t *testing.T) {
	fx := fixtures(300)
	f := newFake(t, dattofake.Options{}, fx)
	cache := rmm.NewMemoryAuditCache()
	run := func() map[string]rmm.Device {
		c := newClient(t, f, scale, nil) // a new client per run, as the engine builds them
		c.UseAuditCache(cache)
		return collect(t, c)
	}
	run()
	if n := f.Count("/api/v2/audit/"); n != 300 || cache.Len() != 300 {
		t.Fatalf("first run: %d audits, %d cached", n, cache.Len())
	}

	got := run()
	if n := f.Count("/api/v2/audit/"); n != 300 {
		t.Fatalf("unchanged second run fetched %d more audits", n-300)
	}
	if d := got[dattofake.DeviceUID(7)]; d.Serial != "SN000007" || len(d.MACAddresses) != 1 {
		t.Fatalf("cached hardware lost: %+v", d)
	}

	fx[6].Serial = "REPLACED-BOARD"
	f.SetDevices(fx)
	got = run()
	if n := f.Count("/api/v2/audit/"); n != 301 {
		t.Fatalf("one changed device cost %d audits", n-300)
	}
	if d := got[dattofake.DeviceUID(7)]; d.Serial != "REPLACED-BOARD" {
		t.Fatalf("new audit not read: %q", d.Serial)
	}
}

func TestAlertsOpenAndResolvedSince(t *testing.T) {
	f := newFake(t, dattofake.Options{}, fixtures(20))
	var alerts []rmmtest.Alert
	prios := []string{"Critical", "High", "Moderate", "Low", "Information"}
	for i := range 530 {
		a := rmmtest.Alert{UID: fmt.Sprintf("alert-%04d", i), DeviceID: int64(i%20 + 1), Priority: prios[i%5],
			Message: fmt.Sprintf("Volume C: free space %d%%", i%10), At: seen.Add(-time.Duration(i) * time.Hour)}
		if i >= 130 { // 400 resolved, one an hour, newest first
			a.Resolved, a.ResolvedAt = true, seen.Add(-time.Duration(i-130)*time.Hour+30*time.Minute)
		}
		alerts = append(alerts, a)
	}
	f.SetAlerts(alerts)
	since := seen.Add(-150 * time.Hour) // only the resolutions of alerts 130..280 are as new

	got := map[string]rmm.Alert{}
	err := newClient(t, f, scale, nil).Alerts(context.Background(), since, func(a rmm.Alert) error {
		got[a.ExternalID] = a
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	open, resolved := 0, 0
	for _, a := range got {
		if a.Resolved {
			resolved++
			if a.ResolvedAt == nil || a.ResolvedAt.Before(since) {
				t.Errorf("%s resolved %v, before since", a.ExternalID, a.ResolvedAt)
			}
		} else {
			open++
		}
	}
	if open != 130 || resolved != 151 {
		t.Fatalf("%d open, %d resolved; want 130 and 151", open, resolved)
	}
	a := got["alert-0003"] // its context is of a class no client knows
	if a.Priority != "Low" || a.Message != "Volume C: free space 3%" || a.DeviceExternalID != dattofake.DeviceUID(4) ||
		a.OpenedAt == nil || !a.OpenedAt.Equal(seen.Add(-3*time.Hour)) || !strings.Contains(string(a.Raw), "quantum") {
		t.Errorf("alert-0003: %+v", a)
	}
	r := got["alert-0140"]
	if !r.Resolved || r.ResolvedAt == nil || !r.ResolvedAt.Equal(seen.Add(-10*time.Hour+30*time.Minute)) {
		t.Errorf("alert-0140: %+v", r)
	}
	if n := f.Count("/api/v2/account/alerts/resolved"); n != 3 {
		t.Errorf("%d of 4 resolved pages read, want 3 (the third is all older than since)", n)
	}
}

func TestThrottledRequestsRetried(t *testing.T) {
	fx := fixtures(40)
	f := newFake(t, dattofake.Options{}, fx)
	c := newClient(t, f, scale, nil)
	if err := c.Test(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.Throttle(3)
	if got := collect(t, c); len(got) != len(fx) {
		t.Fatalf("%d devices", len(got))
	}
	if f.Throttled() != 3 {
		t.Errorf("%d 429s served", f.Throttled())
	}
}

func TestTokenExpiredMidSyncOneReauthentication(t *testing.T) {
	fx := fixtures(600)
	f := newFake(t, dattofake.Options{}, fx)
	n := 0
	err := newClient(t, f, scale, nil).Devices(context.Background(), func(d rmm.Device) error {
		if n++; n == 100 {
			f.ExpireTokens() // the next page and its concurrent audits all get 401
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(fx) {
		t.Fatalf("%d devices", n)
	}
	if f.TokenRequests() != 2 {
		t.Errorf("%d token requests, want 2", f.TokenRequests())
	}
}

func TestTokenRenewedBeforeExpiry(t *testing.T) {
	f := newFake(t, dattofake.Options{ExpiresIn: 3600}, fixtures(1))
	now := seen
	p, err := rmm.New(rmm.Datto, rmm.Config{BaseURL: f.URL(), Credentials: f.Credentials(), HTTP: http.DefaultClient,
		RateScale: scale, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []time.Duration{0, 40 * time.Minute, 10 * time.Minute} {
		now = now.Add(step)
		if err := p.Test(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if f.TokenRequests() != 2 { // at 50 minutes the hour-long token is past 80 % of its life
		t.Errorf("%d token requests, want 2", f.TokenRequests())
	}
}

// A client ten thousand times too fast trips the limit until the fake blocks it with a 403, which the
// error explains instead of calling it a permission problem.
func TestIPBlockExplained(t *testing.T) {
	f := newFake(t, dattofake.Options{Limit: 5}, fixtures(50))
	err := newClient(t, f, scale*10000, nil).Devices(context.Background(), func(rmm.Device) error { return nil })
	if !rmm.IsStatus(err, http.StatusForbidden) || !strings.Contains(err.Error(), "IP block") {
		t.Fatalf("%v", err)
	}
}

// The account's 600 requests per sliding minute, scaled to 60 per 250 ms: a sync of 500 devices
// (about 505 requests, eight windows' worth) never trips it.
func TestRateLimitRespected(t *testing.T) {
	fx := fixtures(500)
	f := newFake(t, dattofake.Options{Limit: 60, TimeScale: 240}, fx)
	start := time.Now()
	got := collect(t, newClient(t, f, 240, nil))
	if len(got) != len(fx) || got[dattofake.DeviceUID(500)].Serial != "SN000500" {
		t.Fatalf("%d devices", len(got))
	}
	if f.Throttled() != 0 {
		t.Errorf("the client tripped the limit %d times", f.Throttled())
	}
	if el := time.Since(start); el < 1500*time.Millisecond {
		t.Errorf("%v for %d requests: the limiter did not hold the client to 80 %% of 240/s", el, f.Requests())
	}
}

// BenchmarkDevices5000 is the benchmark's Datto account, the fake's window and the client scaled
// alike (600 per 60 ms): the first run audits every device, the next ones only changed devices.
func BenchmarkDevices5000(b *testing.B) {
	f := dattofake.New(dattofake.Options{TimeScale: scale}, fixtures(5000))
	defer f.Close()
	cache := rmm.NewMemoryAuditCache()
	for b.Loop() {
		p, _ := rmm.New(rmm.Datto, rmm.Config{BaseURL: f.URL(), Credentials: f.Credentials(), HTTP: http.DefaultClient, RateScale: scale})
		p.(*datto.Client).UseAuditCache(cache)
		n := 0
		if err := p.Devices(context.Background(), func(rmm.Device) error { n++; return nil }); err != nil || n != 5000 {
			b.Fatal(n, err)
		}
	}
	b.ReportMetric(float64(f.Requests())/float64(b.N), "requests/op")
}

func BenchmarkDevices5000Uncached(b *testing.B) {
	f := dattofake.New(dattofake.Options{TimeScale: scale}, fixtures(5000))
	defer f.Close()
	for b.Loop() {
		p, _ := rmm.New(rmm.Datto, rmm.Config{BaseURL: f.URL(), Credentials: f.Credentials(), HTTP: http.DefaultClient, RateScale: scale})
		n := 0
		if err := p.Devices(context.Background(), func(rmm.Device) error { n++; return nil }); err != nil || n != 5000 {
			b.Fatal(n, err)
		}
	}
	b.ReportMetric(float64(f.Requests())/float64(b.N), "requests/op")
}
