package syncro_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"clientst0r/internal/rmm"
	"clientst0r/internal/rmm/rmmtest"
	"clientst0r/internal/rmm/syncro"
	"clientst0r/internal/rmm/syncro/syncrofake"
)

var epoch = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

const scale = 100

// fixtures returns n agent devices (even positions online: synced within the last 9 minutes;
// odd ones 30+ minutes ago) over three customers, one of them a consumer without a business
// name, then one manually created asset (zero LastSeen).
func fixtures(n int) []rmmtest.Device {
	orgs := []struct {
		id   int64
		name string
	}{{31383993, "Contoso Ltd"}, {31383994, "Fabrikam"}, {31383995, ""}}
	out := make([]rmmtest.Device, 0, n+1)
	for i := range n {
		id := int64(6799000 + i)
		o := orgs[i%len(orgs)]
		kind, last := "workstation", epoch.Add(-time.Duration(i%10)*time.Minute)
		switch {
		case i%10 == 0:
			kind = "server"
		case i%3 == 1:
			kind = "laptop"
		}
		if i%2 == 1 {
			last = epoch.Add(-time.Duration(30+i) * time.Minute)
		}
		out = append(out, rmmtest.Device{ID: id, Org: o.id, OrgName: o.name, Name: fmt.Sprintf("PC-%d", id),
			Manufacturer: "Dell Inc.", Model: "Latitude 5440", Serial: fmt.Sprintf("SN%d", id),
			MAC: fmt.Sprintf("00:1a:2b:%02x:%02x:%02x", id>>16&0xff, id>>8&0xff, id&0xff), IP: fmt.Sprintf("10.20.%d.%d", i/250, i%250+1),
			OSName: "Microsoft Windows 11 Pro", OSVersion: "22631", Kind: kind, Online: i%2 == 0, LastSeen: last})
	}
	return append(out, rmmtest.Device{ID: 7999999, Org: orgs[0].id, OrgName: orgs[0].name, Name: "Reception printer",
		Manufacturer: "HP", Model: "LaserJet M404", Serial: "PHB1234567", IP: "10.20.9.9"})
}

func newFake(t *testing.T, opts ...syncrofake.Option) *syncrofake.Server {
	f := syncrofake.New(opts...)
	t.Cleanup(f.Close)
	return f
}

func newClient(t *testing.T, f *syncrofake.Server, token string) rmm.Provider {
	t.Helper()
	// RateScale speeds the limiter and the retry backoff alike, so retries take milliseconds.
	p, err := rmm.New(rmm.Syncro, rmm.Config{BaseURL: f.URL(), Credentials: map[string]string{"api_token": token},
		HTTP: &http.Client{Timeout: 10 * time.Second}, RateScale: scale, Now: func() time.Time { return epoch }})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func collect(p rmm.Provider, each func(n int)) ([]rmm.Device, error) {
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

func statuses(f *syncrofake.Server, code int) int {
	n := 0
	for _, r := range f.Log() {
		if r.Status == code {
			n++
		}
	}
	return n
}

// The fake accepts every form scripts use; the client sends only "Bearer", never ?api_key=.
func TestTokenForms(t *testing.T) {
	f := newFake(t)
	f.SetDevices(fixtures(3))
	cases := []struct {
		header, query string
		want          int
	}{
		{"Bearer " + syncrofake.Token, "", 200},
		{syncrofake.Token, "", 200},
		{"", "&api_key=" + syncrofake.Token, 200},
		{"", "", 401},
		{"Bearer nope", "", 401},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(http.MethodGet, f.URL()+"/api/v1/customer_assets?page=1"+c.query, nil)
		if c.header != "" {
			req.Header.Set("Authorization", c.header)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != c.want {
			t.Errorf("%q %q: %d, want %d", c.header, c.query, res.StatusCode, c.want)
		}
	}
	if err := newClient(t, f, syncrofake.Token).Test(context.Background()); err != nil {
		t.Fatal(err)
	}
	last := f.Log()[len(f.Log())-1]
	if last.Authorization != "Bearer "+syncrofake.Token || strings.Contains(last.Query, "api_key") || last.Query != "page=1" {
		t.Errorf("client request %+v", last)
	}
}

func TestWrongToken(t *testing.T) {
	f := newFake(t)
	err := newClient(t, f, "wrong").Test(context.Background())
	if !errors.Is(err, rmm.ErrAuth) || !strings.Contains(err.Error(), "API token") {
		t.Errorf("wrong token: %v", err)
	}
	if f.Requests() != 1 {
		t.Errorf("%d requests; a static token is not retried", f.Requests())
	}
	if _, err := rmm.New(rmm.Syncro, rmm.Config{BaseURL: f.URL()}); err == nil || !strings.Contains(err.Error(), "api_token") {
		t.Errorf("missing token: %v", err)
	}
}

func TestDevicesPagesEveryAssetOnce(t *testing.T) {
	f := newFake(t)
	devs := fixtures(61) // 62 assets: pages of 25, 25 and 12
	f.SetDevices(devs)
	got, err := collect(newClient(t, f, syncrofake.Token), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(devs) || f.Requests() != 3 {
		t.Fatalf("%d devices in %d requests, want %d in 3", len(got), f.Requests(), len(devs))
	}
	byID := map[string]rmm.Device{}
	for _, d := range got {
		if _, dup := byID[d.ExternalID]; dup {
			t.Fatalf("device %s twice", d.ExternalID)
		}
		byID[d.ExternalID] = d
	}
	for i, want := range devs {
		d, ok := byID[strconv.FormatInt(want.ID, 10)]
		if !ok {
			t.Fatalf("device %d missing", want.ID)
		}
		orgName := want.OrgName
		if orgName == "" {
			orgName = "Pat Example" // a consumer: business_then_name falls back to the person
		}
		if d.Name != want.Name || d.Serial != want.Serial || d.OrgExternalID != strconv.FormatInt(want.Org, 10) || d.OrgName != orgName ||
			d.Manufacturer != want.Manufacturer || d.Model != want.Model {
			t.Fatalf("device %d: %+v\nwant %+v", want.ID, d, want)
		}
		if want.LastSeen.IsZero() { // the manual asset
			if d.Online != nil || d.LastSeen != nil || d.Kind != "" || d.Hostname != "" || len(d.MACAddresses) != 0 || d.IPAddress != "" {
				t.Fatalf("manual asset: %+v", d)
			}
			continue
		}
		if d.Hostname != want.Name || d.OSName != want.OSName || d.OSVersion != want.OSVersion || d.Kind != want.Kind || d.IPAddress != want.IP {
			t.Fatalf("device %d: %+v\nwant %+v", want.ID, d, want)
		}
		bare := strings.ToUpper(strings.ReplaceAll(want.MAC, ":", ""))
		if len(d.MACAddresses) != 1 || d.MACAddresses[0] != bare {
			t.Fatalf("device %d MACs %v, want [%s] (virtual adapters dropped)", want.ID, d.MACAddresses, bare)
		}
		if d.Online == nil || *d.Online != want.Online {
			t.Fatalf("device %d online %v, want %v", want.ID, d.Online, want.Online)
		}
		if d.LastSeen == nil || !d.LastSeen.Equal(want.LastSeen) || d.LastSeen.Location() != time.UTC {
			t.Fatalf("device %d last seen %v, want %v", want.ID, d.LastSeen, want.LastSeen)
		}
		info := strings.Contains(string(d.Raw), `"info":"{`)
		if info != (i == 1) || info == strings.Contains(string(d.Raw), "kabuto_information") {
			t.Fatalf("device %d: only the second agent device should carry its data in rmm_store.general.info", want.ID)
		}
	}
}

func TestPerIPLimitRetried(t *testing.T) {
	f := newFake(t, syncrofake.WithRateLimit(4, 300*time.Millisecond))
	devs := fixtures(240) // 10 pages
	f.SetDevices(devs)
	got, err := collect(newClient(t, f, syncrofake.Token), nil)
	if err != nil || len(got) != len(devs) {
		t.Fatalf("%d devices, %v", len(got), err)
	}
	if statuses(f, http.StatusTooManyRequests) == 0 {
		t.Error("the limit never answered 429")
	}
}

// One client stays under 180 a minute on its own; when another integration on the same IP has
// used up the window, the client waits it out.
func TestMinuteLimit(t *testing.T) {
	f := newFake(t, syncrofake.WithRateLimit(180, time.Minute/scale))
	devs := fixtures(4999) // 200 pages: more than one window's worth
	f.SetDevices(devs)
	if got, err := collect(newClient(t, f, syncrofake.Token), nil); err != nil || len(got) != len(devs) {
		t.Fatalf("%d devices, %v", len(got), err)
	}
	if n := statuses(f, http.StatusTooManyRequests); n != 0 {
		t.Errorf("one client alone got %d 429s", n)
	}

	f = newFake(t, syncrofake.WithRateLimit(180, time.Minute/scale))
	devs = fixtures(499) // 20 pages
	f.SetDevices(devs)
	for range 175 {
		req, _ := http.NewRequest(http.MethodGet, f.URL()+"/api/v1/customer_assets?page=1", nil)
		req.Header.Set("Authorization", syncrofake.Token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	if got, err := collect(newClient(t, f, syncrofake.Token), nil); err != nil || len(got) != len(devs) {
		t.Fatalf("%d devices, %v", len(got), err)
	}
	if statuses(f, http.StatusTooManyRequests) == 0 {
		t.Error("the shared window never answered 429")
	}
}

func TestThrottledAndFailingRequestsRetried(t *testing.T) {
	f := newFake(t)
	devs := fixtures(60)
	f.SetDevices(devs)
	p := newClient(t, f, syncrofake.Token)
	f.Throttle(2)
	got, err := collect(p, func(n int) {
		if n == 30 {
			f.Throttle(1)
			f.Fail(1)
		}
	})
	if err != nil || len(got) != len(devs) {
		t.Fatalf("%d devices, %v", len(got), err)
	}
	if n, m := statuses(f, http.StatusTooManyRequests), statuses(f, http.StatusInternalServerError); n != 3 || m != 1 {
		t.Errorf("%d 429s and %d 500s, want 3 and 1", n, m)
	}
}

// Syncro tokens do not expire: ExpireTokens changes nothing, a revoked token ends the run at once.
func TestExpiryAndRevocation(t *testing.T) {
	f := newFake(t)
	devs := fixtures(60)
	f.SetDevices(devs)
	got, err := collect(newClient(t, f, syncrofake.Token), func(n int) {
		if n == 25 {
			f.ExpireTokens()
		}
	})
	if err != nil || len(got) != len(devs) {
		t.Fatalf("%d devices, %v", len(got), err)
	}
	before := f.Requests()
	_, err = collect(newClient(t, f, syncrofake.Token), func(n int) {
		if n == 25 {
			f.Revoke()
		}
	})
	if !errors.Is(err, rmm.ErrAuth) || !strings.Contains(err.Error(), "API token") {
		t.Errorf("revoked mid-sync: %v", err)
	}
	if n := f.Requests() - before; n != 2 {
		t.Errorf("%d requests, want 2 (one page, one refused)", n)
	}
}

// asset builds a customer_assets item around the given JSON members.
func asset(members string) []byte {
	return []byte(`{"id":6799648,"name":"CONTOSO-LT-042","customer_id":31383993,"asset_serial":null` + members + `}`)
}

func TestAssetMapping(t *testing.T) {
	kabuto := func(extra string) string {
		return `,"properties":{"kabuto_information":{"last_synced_at":"2026-03-02T18:50:00.000+10:00","general":{"name":"K-NAME",` +
			`"serial_number":"K-SN","manufacturer":"Dell Inc.","model":"Latitude","mac":"001A2B3C4D5E","ip":"203.0.113.10"},` +
			`"os":{"name":"Windows Server 2022","build":20348}` + extra + `}}`
	}
	cases := map[string]struct {
		members string
		check   func(rmm.Device) bool
	}{
		"business_name when business_then_name is missing": {`,"customer":{"id":1,"business_name":"Acme"}`,
			func(d rmm.Device) bool { return d.OrgName == "Acme" && d.OrgExternalID == "31383993" }},
		"fullname for consumers": {`,"customer":{"business_name":null,"fullname":"Jane Doe"}`,
			func(d rmm.Device) bool { return d.OrgName == "Jane Doe" }},
		"first and last name": {`,"customer":{"firstname":"Jane","lastname":"Doe"}`,
			func(d rmm.Device) bool { return d.OrgName == "Jane Doe" }},
		"customer.id without customer_id": {`,"customer_id":null,"customer":{"id":"77"}`,
			func(d rmm.Device) bool { return d.OrgExternalID == "77" }},
		"kabuto serial, numeric build, server by OS, WAN ip ignored": {kabuto(""),
			func(d rmm.Device) bool {
				return d.Serial == "K-SN" && d.OSVersion == "20348" && d.Kind == "server" && d.IPAddress == "" &&
					len(d.MACAddresses) == 1 && d.MACAddresses[0] == "001A2B3C4D5E" && d.Online != nil && *d.Online
			}},
		"kabuto preferred over general.info": {kabuto("") + `,"rmm_store":{"general":{"info":"{\"general\":{\"name\":\"INFO\"}}"}}`,
			func(d rmm.Device) bool { return d.Hostname == "K-NAME" }},
		"flat general.info": {`,"rmm_store":{"general":{"info":"{\"name\":\"FLAT\",\"serial_number\":\"F-SN\",\"form_factor\":\"Notebook\"}"}}`,
			func(d rmm.Device) bool {
				return d.Hostname == "FLAT" && d.Serial == "F-SN" && d.Kind == "laptop" && d.Online == nil
			}},
		"stale sync is offline": {`,"properties":{"kabuto_information":{"last_synced_at":"2026-03-02T18:40:00+10:00","general":{"name":"X"}}}`,
			func(d rmm.Device) bool {
				return d.Online != nil && !*d.Online && d.LastSeen.Equal(epoch.Add(-20*time.Minute))
			}},
		"Hyper-V host: LAN address on the virtual switch": {kabuto(`,"network_adapters":[{"type":"virtual","description":"Hyper-V Virtual Ethernet Adapter",` +
			`"ipv4":"10.1.1.5","physical_address":"00155D010203"},{"type":"ethernet","ipv4":"169.254.3.4","physical_address":"001A2B3C4D5F"}]`),
			func(d rmm.Device) bool {
				return d.IPAddress == "10.1.1.5" && strings.Join(d.MACAddresses, ",") == "001A2B3C4D5E,001A2B3C4D5F"
			}},
		"manual asset with custom fields": {`,"properties":{"make":"HP","MODEL":"LaserJet","Serial Number":"PHB1"}`,
			func(d rmm.Device) bool {
				return d.Manufacturer == "HP" && d.Model == "LaserJet" && d.Serial == "PHB1" && d.Kind == "" && d.Online == nil
			}},
		"properties not an object": {`,"properties":[1,2]`,
			func(d rmm.Device) bool { return d.Name == "CONTOSO-LT-042" && d.Hostname == "" }},
		"asset address coordinates as text": {`,"address":{"latitude":"-33.8688","longitude":151.2093}`,
			func(d rmm.Device) bool {
				return d.Latitude != nil && *d.Latitude == -33.8688 && *d.Longitude == 151.2093
			}},
		"null address coordinates": {`,"address":{"latitude":null,"longitude":null}`,
			func(d rmm.Device) bool { return d.Latitude == nil && d.Longitude == nil }},
	}
	for name, c := range cases {
		d, err := syncro.ToDevice(asset(c.members), epoch)
		if err != nil || d.ExternalID != "6799648" || !c.check(d) {
			t.Errorf("%s: %+v %v", name, d, err)
		}
	}
	if _, err := syncro.ToDevice([]byte(`[1]`), epoch); err == nil {
		t.Error("an array is not an asset")
	}
}

func FuzzParseAgent(f *testing.F) {
	for _, s := range []string{
		`{"general":{"name":"A","mac":["001A2B3C4D5E","001a2b3c4d5e"]},"network_adapters":[{"ipv4":"10.0.0.1, 169.254.1.1"}]}`,
		`"{\"name\":\"B\",\"serial_number\":7}"`, `{"last_synced_at":1767999323}`, `""`, `"\"nested\""`, `null`, `{"network_adapters":{}}`,
		`{"general":{"mac":"0"},"network_adapters":[{"type":"virtual","ipv4":"127.0.0.1"},{"ip":"::1"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ok, ip, macs := syncro.ParseAgent(b)
		if !ok && (ip != "" || len(macs) != 0) {
			t.Fatalf("nothing found, yet %q %v", ip, macs)
		}
		if ip != "" {
			a, err := netip.ParseAddr(ip)
			if err != nil || !a.Is4() || a.IsLinkLocalUnicast() || a.IsLoopback() || a.IsUnspecified() {
				t.Fatalf("LAN IP %q", ip)
			}
		}
		seen := map[string]bool{}
		for _, m := range macs {
			if m == "" || seen[strings.ToUpper(m)] {
				t.Fatalf("MACs %q", macs)
			}
			seen[strings.ToUpper(m)] = true
		}
	})
}

func FuzzToDevice(f *testing.F) {
	f.Add(asset(`,"properties":{"kabuto_information":{"last_synced_at":"2026-03-02T18:50:00+10:00","general":{"name":"X"}}}`))
	f.Add(asset(`,"rmm_store":{"general":{"info":"{\"general\":{}}"}},"address":{"latitude":"91","longitude":"0"}`))
	f.Add([]byte(`{"id":{},"customer":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := syncro.ToDevice(b, epoch)
		if err != nil {
			return
		}
		if (d.Online == nil) != (d.LastSeen == nil) {
			t.Fatalf("online %v without last seen %v", d.Online, d.LastSeen)
		}
		if d.Latitude != nil && (*d.Latitude < -90 || *d.Latitude > 90 || *d.Longitude < -180 || *d.Longitude > 180) {
			t.Fatalf("coordinates %v,%v", *d.Latitude, *d.Longitude)
		}
	})
}
