package ninjaone_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"clientst0r/internal/rmm"
	_ "clientst0r/internal/rmm/ninjaone"
	"clientst0r/internal/rmm/ninjaone/ninjafake"
	"clientst0r/internal/rmm/rmmtest"
)

// scale shortens the client's backoff after a 429 from seconds to milliseconds.
const scale = 1000

var seen = time.Date(2026, 1, 9, 23, 15, 23, 0, time.UTC)

func fixtures(n int) []rmmtest.Device {
	kinds := []string{"workstation", "laptop", "server"}
	oses := []string{"Windows 11 Professional Edition", "Ubuntu 24.04 LTS", "macOS Sonoma"}
	out := make([]rmmtest.Device, n)
	for i := range out {
		id := int64(i + 1)
		org := id%5 + 1
		out[i] = rmmtest.Device{
			ID: id, Org: org, OrgName: fmt.Sprintf("Organization %d", org), Site: fmt.Sprintf("Office %d", id%3),
			Name: fmt.Sprintf("host-%05d", id), Manufacturer: "Lenovo", Model: "ThinkPad T14", Serial: fmt.Sprintf("PF%06d", id),
			MAC: fmt.Sprintf("00:1a:2b:%02x:%02x:%02x", id>>16&255, id>>8&255, id&255), IP: fmt.Sprintf("10.1.%d.%d", id>>8&255, id&255),
			OSName: oses[id%3], OSVersion: "22631", Kind: kinds[id%3], Online: id%2 == 0,
			LastSeen: seen.Add(time.Duration(id)*time.Minute + time.Duration(id%1000)*time.Millisecond),
		}
	}
	return out
}

func newFake(t *testing.T, opts ninjafake.Options, devices []rmmtest.Device) *ninjafake.Server {
	t.Helper()
	f := ninjafake.New(opts, devices)
	t.Cleanup(f.Close)
	return f
}

func newClient(t *testing.T, f *ninjafake.Server, creds map[string]string, now func() time.Time) rmm.Provider {
	t.Helper()
	if creds == nil {
		creds = f.Credentials()
	}
	p, err := rmm.New(rmm.NinjaOne, rmm.Config{BaseURL: f.URL(), Credentials: creds,
		HTTP: &http.Client{Timeout: 10 * time.Second}, RateScale: scale, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func collect(t *testing.T, p rmm.Provider) map[string]rmm.Device {
	t.Helper()
	got := map[string]rmm.Device{}
	err := p.Devices(context.Background(), func(d rmm.Device) error {
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
	f := newFake(t, ninjafake.Options{}, fixtures(3))
	if err := newClient(t, f, nil, nil).Test(context.Background()); err != nil {
		t.Fatal(err)
	}
	if log := f.Log(); !slices.Equal(log, []string{"POST /ws/oauth/token", "GET /v2/organizations?pageSize=1"}) {
		t.Errorf("requests %q", log)
	}
	creds := f.Credentials()
	creds["client_secret"] = "wrong"
	err := newClient(t, f, creds, nil).Test(context.Background())
	if !errors.Is(err, rmm.ErrAuth) || !strings.Contains(err.Error(), "region") {
		t.Fatalf("wrong secret: %v", err)
	}
}

func TestDevicesAllPagesNormalised(t *testing.T) {
	fx := fixtures(2500)
	// Nodes no agent reports on: no os, no system, no references.
	fx[9] = rmmtest.Device{ID: 10, Org: 3, OrgName: "Organization 3", Site: "Office 1", Name: "core-switch", IP: "10.9.0.1",
		MAC: "00:1a:2b:00:00:0a", Kind: "workstation", Online: true, LastSeen: seen}
	fx[10] = rmmtest.Device{ID: 11, Org: 2, OrgName: "Organization 2", Site: "Office 2", Name: "esx-01", Kind: "server", LastSeen: seen}
	f := newFake(t, ninjafake.Options{}, fx)
	got := collect(t, newClient(t, f, nil, nil))
	if len(got) != len(fx) {
		t.Fatalf("%d devices, want %d (the pending one skipped)", len(got), len(fx))
	}
	for _, want := range fx[11:] {
		d := got[strconv.FormatInt(want.ID, 10)]
		if d.Name != want.Name || !strings.EqualFold(d.Hostname, want.Name) || d.OrgExternalID != strconv.FormatInt(want.Org, 10) ||
			d.OrgName != want.OrgName || d.SiteName != want.Site || d.IPAddress != want.IP ||
			d.OSName != want.OSName || d.OSVersion != want.OSVersion || d.Kind != want.Kind {
			t.Fatalf("device %d: %+v", want.ID, d)
		}
		if d.Manufacturer != want.Manufacturer || d.Model != want.Model || d.Serial != want.Serial ||
			!slices.Equal(d.MACAddresses, []string{strings.ToUpper(want.MAC)}) {
			t.Fatalf("device %d hardware: %q %q %q %q", want.ID, d.Manufacturer, d.Model, d.Serial, d.MACAddresses)
		}
		if d.Online == nil || *d.Online != want.Online || d.LastSeen == nil || !d.LastSeen.Equal(want.LastSeen) ||
			d.LastSeen.Location() != time.UTC {
			t.Fatalf("device %d: online %v last seen %v, want %v %v", want.ID, d.Online, d.LastSeen, want.Online, want.LastSeen)
		}
	}
	sw, esx := got["10"], got["11"]
	if sw.OSName != "" || sw.Serial != "" || sw.Kind != "" || sw.OrgName != "Organization 3" || sw.SiteName != "Office 1" ||
		sw.IPAddress != "10.9.0.1" || sw.Online == nil || !*sw.Online {
		t.Errorf("unmanaged node: %+v", sw)
	}
	if esx.Kind != "server" || esx.OrgName != "Organization 2" || esx.Online == nil || *esx.Online {
		t.Errorf("VM host: %+v", esx)
	}
	var pages []string
	for _, l := range f.Log() {
		if strings.Contains(l, "devices-detailed") {
			pages = append(pages, l)
		}
	}
	want := []string{"GET /v2/devices-detailed?pageSize=1000", "GET /v2/devices-detailed?after=1000&pageSize=1000",
		"GET /v2/devices-detailed?after=2000&pageSize=1000"}
	if !slices.Equal(pages, want) {
		t.Errorf("pages %q", pages)
	}
}

// A page exactly pageSize long is followed by one more, empty, request.
func TestExactPageFollowedByEmptyPage(t *testing.T) {
	fx := fixtures(999) // plus the pending device: exactly 1000
	f := newFake(t, ninjafake.Options{}, fx)
	if got := collect(t, newClient(t, f, nil, nil)); len(got) != 999 {
		t.Fatalf("%d devices", len(got))
	}
	if !slices.Contains(f.Log(), "GET /v2/devices-detailed?after=1000&pageSize=1000") {
		t.Errorf("no request after the full page: %q", f.Log())
	}
}

func TestFakeAnswersAPIPrefixAndVendorErrors(t *testing.T) {
	f := newFake(t, ninjafake.Options{}, fixtures(3))
	get := func(path, tok string) (int, string) {
		req, _ := http.NewRequest("GET", f.URL()+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get("/api/v2/devices-detailed", "bogus"); code != 401 || !strings.Contains(body, `"resultCode"`) {
		t.Errorf("bad token: %d %s", code, body)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"monitoring"}}
	for k, v := range f.Credentials() {
		form.Set(k, v)
	}
	res, err := http.PostForm(f.URL()+"/ws/oauth/token", form)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	if tok.AccessToken == "" || tok.ExpiresIn != 3600 {
		t.Fatalf("token %+v", tok)
	}
	code, body := get("/api/v2/devices-detailed?pageSize=2", tok.AccessToken)
	if code != 200 || strings.Count(body, `"nodeClass"`) != 2 || !strings.Contains(body, `"system"`) {
		t.Errorf("/api/v2 alias: %d %.200s", code, body)
	}
	if code, body := get("/v2/devices?pageSize=2", tok.AccessToken); code != 200 || strings.Contains(body, `"system"`) {
		t.Errorf("basic device list: %d %.200s", code, body)
	}
	if code, body := get("/v2/devices-detailed?pageSize=x", tok.AccessToken); code != 400 || !strings.Contains(body, `"errorMessage"`) {
		t.Errorf("bad pageSize: %d %s", code, body)
	}
	// The client's errors carry the vendor's errorMessage.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ws/oauth/token" {
			w.Write([]byte(`{"access_token":"t","token_type":"Bearer","expires_in":3600}`))
			return
		}
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"resultCode":"FAILURE","errorMessage":"Organization not found"}`))
	}))
	defer srv.Close()
	p, _ := rmm.New(rmm.NinjaOne, rmm.Config{BaseURL: srv.URL, Credentials: f.Credentials(), HTTP: http.DefaultClient})
	if err := p.Test(context.Background()); err == nil || !strings.Contains(err.Error(), "FAILURE Organization not found") {
		t.Errorf("error without the vendor's message: %v", err)
	}
}

func TestThrottledRequestsRetried(t *testing.T) {
	fx := fixtures(1200)
	f := newFake(t, ninjafake.Options{}, fx)
	f.Throttle(3)
	if got := collect(t, newClient(t, f, nil, nil)); len(got) != len(fx) {
		t.Fatalf("%d devices", len(got))
	}
	if f.Throttled() != 3 {
		t.Errorf("%d 429s served", f.Throttled())
	}
}

func TestTokenExpiredMidSyncOneReauthentication(t *testing.T) {
	fx := fixtures(2100)
	f := newFake(t, ninjafake.Options{}, fx)
	n := 0
	err := newClient(t, f, nil, nil).Devices(context.Background(), func(d rmm.Device) error {
		if n++; n == 500 {
			f.ExpireTokens()
		}
		return nil
	})
	if err != nil || n != len(fx) {
		t.Fatalf("%d devices: %v", n, err)
	}
	if f.TokenRequests() != 2 {
		t.Errorf("%d token requests, want 2", f.TokenRequests())
	}
}

func TestTokenRenewedBeforeExpiry(t *testing.T) {
	f := newFake(t, ninjafake.Options{}, fixtures(1))
	now := seen
	p := newClient(t, f, nil, func() time.Time { return now })
	for _, step := range []time.Duration{0, 40 * time.Minute, 10 * time.Minute} {
		now = now.Add(step)
		if err := p.Test(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if f.TokenRequests() != 2 { // at 50 minutes the hour's token is past 80 % of its life
		t.Errorf("%d token requests, want 2", f.TokenRequests())
	}
}

// BenchmarkDevices20000 is the benchmark's NinjaOne tenant: 21 device pages and the two lists.
func BenchmarkDevices20000(b *testing.B) {
	f := ninjafake.New(ninjafake.Options{}, fixtures(20000))
	defer f.Close()
	p, _ := rmm.New(rmm.NinjaOne, rmm.Config{BaseURL: f.URL(), Credentials: f.Credentials(), HTTP: http.DefaultClient, RateScale: scale})
	for b.Loop() {
		n := 0
		if err := p.Devices(context.Background(), func(rmm.Device) error { n++; return nil }); err != nil || n != 20000 {
			b.Fatal(n, err)
		}
	}
}
