package automate_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"clientst0r/internal/rmm"
	"clientst0r/internal/rmm/automate"
	"clientst0r/internal/rmm/automate/automatefake"
	"clientst0r/internal/rmm/rmmtest"
)

var epoch = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// fixtures spreads n devices over three clients and four locations, with every kind, both online
// states and ids that include multiples of three (rendered as JSON strings by the fake).
func fixtures(n int) []rmmtest.Device {
	orgs := []struct {
		id   int64
		name string
		site string
	}{{12, "Contoso Ltd", "Sydney HQ"}, {12, "Contoso Ltd", "Parramatta"}, {13, "Fabrikam", "Main"}, {14, "Northwind", "Depot"}}
	out := make([]rmmtest.Device, n)
	for i := range out {
		id := int64(1000 + 2*i)
		o := orgs[i%len(orgs)]
		kind := "workstation"
		switch {
		case i%10 == 0:
			kind = "server"
		case i%3 == 1:
			kind = "laptop"
		}
		out[i] = rmmtest.Device{ID: id, Org: o.id, OrgName: o.name, Site: o.site, Name: fmt.Sprintf("HOST-%05d", id),
			Manufacturer: "Dell Inc.", Model: fmt.Sprintf("Latitude %d", 5400+i%50), Serial: fmt.Sprintf("SN%06d", id),
			MAC: fmt.Sprintf("02:00:00:%02x:%02x:%02x", id>>16&0xff, id>>8&0xff, id&0xff), IP: fmt.Sprintf("10.%d.%d.%d", i/65536%256, i/256%256, i%256+1),
			OSName: "Microsoft Windows 11 Pro x64", OSVersion: "10.0.22631", Kind: kind, Online: i%2 == 0,
			LastSeen: epoch.Add(-time.Duration(i) * time.Minute)}
	}
	return out
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newClient(t *testing.T, f *automatefake.Server, creds map[string]string, now func() time.Time) rmm.Provider {
	t.Helper()
	if now == nil {
		now = func() time.Time { return epoch }
	}
	// RateScale speeds the limiter and the retry backoff alike, so retries take milliseconds.
	p, err := rmm.New(rmm.Automate, rmm.Config{BaseURL: f.URL() + "/", Credentials: creds,
		HTTP: &http.Client{Timeout: 10 * time.Second}, RateScale: 100, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newFake(t *testing.T, opts ...automatefake.Option) *automatefake.Server {
	f := automatefake.New(opts...)
	t.Cleanup(f.Close)
	return f
}

func collect(t *testing.T, p rmm.Provider, each func(n int)) ([]rmm.Device, error) {
	t.Helper()
	var out []rmm.Device
	err := p.Devices(context.Background(), func(d rmm.Device) error {
		out = append(out, d)
		if each != nil {
			each(len(out))
		}
		return nil
	})
	return out, err
}

func TestSignInSendsBearerAndClientID(t *testing.T) {
	f := newFake(t)
	f.SetDevices(fixtures(3))
	p := newClient(t, f, f.Credentials(), nil)
	if err := p.Test(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := p.Test(context.Background()); err != nil {
		t.Fatal(err)
	}
	if f.Logins() != 1 {
		t.Errorf("%d sign-ins for two tests; the token should be cached", f.Logins())
	}
	log := f.Log()
	if len(log) != 3 || log[0].Method != http.MethodPost || !strings.EqualFold(log[0].Path, "/cwa/api/v1/apitoken") {
		t.Fatalf("requests: %+v", log)
	}
	for _, r := range log {
		if r.ClientID != automatefake.ClientID {
			t.Errorf("%s %s without ClientId", r.Method, r.Path)
		}
	}
	for _, r := range log[1:] {
		if !strings.HasPrefix(r.Authorization, "Bearer eyJ") || !strings.Contains(r.Query, "pageSize=1") {
			t.Errorf("test request %+v", r)
		}
	}
}

func TestWrongCredentials(t *testing.T) {
	f := newFake(t)
	cases := map[string]struct {
		change   func(map[string]string)
		mentions string
	}{
		"password":  {func(c map[string]string) { c["password"] = "nope" }, "password"},
		"username":  {func(c map[string]string) { c["username"] = "someone" }, "username"},
		"client id": {func(c map[string]string) { c["client_id"] = "00000000-0000-0000-0000-000000000000" }, "ClientId"},
	}
	for name, c := range cases {
		creds := f.Credentials()
		c.change(creds)
		err := newClient(t, f, creds, nil).Test(context.Background())
		if !errors.Is(err, rmm.ErrAuth) || !strings.Contains(err.Error(), c.mentions) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if f.Logins() != 0 {
		t.Errorf("%d sign-ins succeeded", f.Logins())
	}
	if _, err := rmm.New(rmm.Automate, rmm.Config{BaseURL: f.URL(), Credentials: map[string]string{"username": "u", "password": "p"}}); err == nil ||
		!strings.Contains(err.Error(), "client_id") {
		t.Errorf("missing client_id: %v", err)
	}
}

// The fake enforces what the real server does since 2020 Patch 11: no ClientId, no answer.
func TestFakeRequiresClientID(t *testing.T) {
	f := newFake(t)
	body := fmt.Sprintf(`{"Username":%q,"Password":%q}`, automatefake.Username, automatefake.Password)
	res, err := http.Post(f.URL()+"/cwa/api/v1/APIToken", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("sign-in without ClientId: %d", res.StatusCode)
	}
	// A valid token is still refused on a data call without ClientId.
	p := newClient(t, f, f.Credentials(), nil)
	if err := p.Test(context.Background()); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, f.URL()+"/cwa/api/v1/computers?page=1", nil)
	req.Header.Set("Authorization", f.Log()[1].Authorization)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("computers without ClientId: %d", res.StatusCode)
	}
}

func TestTwoFactorRequired(t *testing.T) {
	f := newFake(t)
	creds := f.TwoFactorCredentials()
	err := newClient(t, f, creds, nil).Test(context.Background())
	if !errors.Is(err, rmm.ErrAuth) || !strings.Contains(err.Error(), "two-factor") || !strings.Contains(err.Error(), "Integrator") {
		t.Errorf("2FA user without a code: %v", err)
	}
	creds["two_factor_code"] = "000000"
	if err := newClient(t, f, creds, nil).Test(context.Background()); !errors.Is(err, rmm.ErrAuth) {
		t.Errorf("wrong code: %v", err)
	}
	creds["two_factor_code"] = automatefake.TwoFactorCode
	if err := newClient(t, f, creds, nil).Test(context.Background()); err != nil {
		t.Errorf("right code: %v", err)
	}
}

func TestDevicesPagesEveryComputerOnce(t *testing.T) {
	f := newFake(t)
	devs := fixtures(2345) // pages of 1,000, 1,000 and 345
	f.SetDevices(devs)
	// One location without coordinates.
	noGPS, _ := f.LocationOf(devs[3])
	noGPS.GPS = ""
	f.SetLocation(noGPS)
	got, err := collect(t, newClient(t, f, f.Credentials(), nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(devs) {
		t.Fatalf("%d devices, want %d", len(got), len(devs))
	}
	byID := map[string]rmm.Device{}
	for _, d := range got {
		if _, dup := byID[d.ExternalID]; dup {
			t.Fatalf("device %s twice", d.ExternalID)
		}
		byID[d.ExternalID] = d
	}
	for _, want := range devs {
		d, ok := byID[strconv.FormatInt(want.ID, 10)]
		if !ok {
			t.Fatalf("device %d missing", want.ID)
		}
		loc, _ := f.LocationOf(want)
		checkDevice(t, d, want, loc)
	}
	// Chassis is read per page (split into a few URL-sized requests), locations once per run.
	var pages, chassis, locations int
	for _, r := range f.Log() {
		switch p := strings.ToLower(r.Path); {
		case p == "/cwa/api/v1/computers":
			pages++
			if !strings.Contains(r.Query, "orderBy=Id+asc") || !strings.Contains(r.Query, "pageSize=1000") {
				t.Errorf("computers query %q", r.Query)
			}
		case p == "/cwa/api/v1/computers/chassis":
			chassis++
			if len(r.Query) > 2048 {
				t.Errorf("chassis query of %d bytes", len(r.Query))
			}
		case strings.HasPrefix(p, "/cwa/api/v1/locations/"):
			locations++
		}
	}
	if pages != 3 || chassis > 3*pages || locations != 2*4 {
		t.Errorf("%d pages, %d chassis requests, %d location requests", pages, chassis, locations)
	}
}

func checkDevice(t *testing.T, d rmm.Device, want rmmtest.Device, loc automatefake.Location) {
	t.Helper()
	kind := want.Kind
	if d.Name != want.Name || d.Hostname != want.Name || d.OrgExternalID != strconv.FormatInt(want.Org, 10) || d.OrgName != want.OrgName ||
		d.SiteName != want.Site || d.Manufacturer != want.Manufacturer || d.Model != want.Model || d.Serial != want.Serial ||
		d.OSName != want.OSName || d.OSVersion != want.OSVersion || d.IPAddress != want.IP || d.Kind != kind {
		t.Fatalf("device %d: %+v\nwant %+v", want.ID, d, want)
	}
	if len(d.MACAddresses) != 1 || !strings.EqualFold(d.MACAddresses[0], want.MAC) {
		t.Fatalf("device %d MACs %v, want %s", want.ID, d.MACAddresses, want.MAC)
	}
	if d.Online == nil || *d.Online != want.Online {
		t.Fatalf("device %d online %v, want %v", want.ID, d.Online, want.Online)
	}
	if d.LastSeen == nil || !d.LastSeen.Equal(want.LastSeen) || d.LastSeen.Location() != time.UTC {
		t.Fatalf("device %d last seen %v, want %v", want.ID, d.LastSeen, want.LastSeen)
	}
	wantAddr := fmt.Sprintf("%s, %s, %s %s %s, %s", loc.Address1, loc.Address2, loc.City, loc.State, loc.ZipCode, loc.Country)
	if d.Address != wantAddr {
		t.Fatalf("device %d address %q, want %q", want.ID, d.Address, wantAddr)
	}
	if loc.GPS == "" {
		if d.Latitude != nil || d.Longitude != nil {
			t.Fatalf("device %d has coordinates without a GPS field", want.ID)
		}
		return
	}
	lat, lon, _ := strings.Cut(loc.GPS, ",")
	wlat, _ := strconv.ParseFloat(lat, 64)
	wlon, _ := strconv.ParseFloat(lon, 64)
	if d.Latitude == nil || d.Longitude == nil || math.Abs(*d.Latitude-wlat) > 1e-9 || math.Abs(*d.Longitude-wlon) > 1e-9 {
		t.Fatalf("device %d coordinates %v,%v, want %s", want.ID, d.Latitude, d.Longitude, loc.GPS)
	}
	if len(d.Raw) == 0 || !strings.Contains(string(d.Raw), `"ComputerName"`) {
		t.Fatalf("device %d raw %s", want.ID, d.Raw)
	}
}

func TestThrottledAndFailingRequestsRetried(t *testing.T) {
	f := newFake(t)
	devs := fixtures(1200)
	f.SetDevices(devs)
	f.Throttle(2)
	p := newClient(t, f, f.Credentials(), nil)
	start := time.Now()
	got, err := collect(t, p, func(n int) {
		if n == 1000 {
			f.Fail(2) // Automate's transient 500s, mid-sync
			f.Throttle(1)
		}
	})
	if err != nil || len(got) != len(devs) {
		t.Fatalf("%d devices, %v", len(got), err)
	}
	var retried int
	for _, r := range f.Log() {
		if r.Status == http.StatusTooManyRequests || r.Status == http.StatusInternalServerError {
			retried++
		}
	}
	if retried != 5 {
		t.Errorf("%d refused requests, want 5", retried)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("retries took %v", d)
	}
}

func TestTokenExpiredMidSyncSignsInOnce(t *testing.T) {
	f := newFake(t)
	devs := fixtures(2100)
	f.SetDevices(devs)
	p := newClient(t, f, f.Credentials(), nil)
	got, err := collect(t, p, func(n int) {
		if n == 1000 {
			f.ExpireTokens()
		}
	})
	if err != nil || len(got) != len(devs) {
		t.Fatalf("%d devices, %v", len(got), err)
	}
	if f.Logins() != 2 {
		t.Errorf("%d sign-ins, want 2", f.Logins())
	}
	var refused int
	for _, r := range f.Log() {
		if r.Status == http.StatusUnauthorized {
			refused++
		}
	}
	if refused != 1 {
		t.Errorf("%d requests refused, want 1", refused)
	}
}

func TestTokenRefreshedBeforeExpiryAndRenewedAfterAbsolute(t *testing.T) {
	c := &clock{t: epoch}
	f := newFake(t, automatefake.WithClock(c.Now), automatefake.WithTokenLifetime(10*time.Minute, 30*time.Minute))
	f.SetDevices(fixtures(2))
	p := newClient(t, f, f.Credentials(), c.Now)
	step := func(d time.Duration, logins, refreshes int) {
		t.Helper()
		c.Advance(d)
		if err := p.Test(context.Background()); err != nil {
			t.Fatal(err)
		}
		if f.Logins() != logins || f.Refreshes() != refreshes {
			t.Fatalf("after %v: %d sign-ins, %d refreshes; want %d, %d", d, f.Logins(), f.Refreshes(), logins, refreshes)
		}
	}
	step(0, 1, 0)
	step(5*time.Minute, 1, 0)  // well inside the sliding lifetime
	step(4*time.Minute, 1, 1)  // at 9 of 10 minutes: refreshed first
	step(9*time.Minute, 1, 2)  // the refreshed token's own 80 %
	step(11*time.Minute, 2, 2) // 29 of 30 minutes: past the absolute margin, a new sign-in
}

func TestGPSParsing(t *testing.T) {
	good := map[string][2]float64{"-33.8688,151.2093": {-33.8688, 151.2093}, " 51.5 ; -0.12 ": {51.5, -0.12}, "90,180": {90, 180}}
	for in, want := range good {
		lat, lon, ok := automate.ParseGPS(in)
		if !ok || lat != want[0] || lon != want[1] {
			t.Errorf("%q: %v %v %v", in, lat, lon, ok)
		}
	}
	for _, in := range []string{"", "Sydney", "-33.8", "91,0", "0,181", "0,0", "NaN,1", "1,Inf", "1,2,3"} {
		if _, _, ok := automate.ParseGPS(in); ok {
			t.Errorf("%q accepted", in)
		}
	}
}

func FuzzParseGPS(f *testing.F) {
	for _, s := range []string{"-33.8688,151.2093", "51.5;-0.12", "", ",", "1e2,3", "0x1p-2,4", "-0,-0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lat, lon, ok := automate.ParseGPS(s)
		if ok && (math.IsNaN(lat) || math.IsNaN(lon) || lat < -90 || lat > 90 || lon < -180 || lon > 180) {
			t.Fatalf("%q gave %v,%v", s, lat, lon)
		}
	})
}
