package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"clientst0r/internal/db"
	"clientst0r/internal/rmm/ninjaone/ninjafake"
	"clientst0r/internal/rmm/rmmtest"
	"clientst0r/internal/store"
	"clientst0r/internal/testutil"
)

// TestTechniciansDayInABrowser walks a technician's day in Chromium: sign in with a TOTP code,
// switch organization, find an asset by serial, reveal a password and read its TOTP code (both
// audited), see a monitor go down, create a webhook and retry its failed delivery, run an RMM sync
// against a local fake; then a readonly member sees no write buttons and cannot reveal, and a user
// of another organization sees nothing of it. Screenshots of the main pages go to the folder in
// CLIENTST0R_SCREENSHOTS (default: clientst0r-screenshots in the temporary directory), which the
// test logs.
func TestTechniciansDayInABrowser(t *testing.T) {
	ctx := testutil.Browser(t)
	e := testutil.NewEnv(t, db.SQLite)
	shots := screenshotDir(t)

	acme, bravo, zeta := e.Org("Acme Corp"), e.Org("Bravo Dental"), e.Org("Zeta Outsider")
	tech, ro, outsider := e.User("tech@msp.test", false), e.User("ro@acme.test", false), e.User("someone@zeta.test", false)
	e.Member(acme.ID, tech.Email, "owner")
	e.Member(bravo.ID, tech.Email, "editor")
	e.Member(acme.ID, ro.Email, "readonly")
	e.Member(zeta.ID, outsider.Email, "owner")
	asset, err := e.Store.CreateAsset(e.Sys, store.Asset{Scoped: store.Scoped{OrgID: acme.ID}, Name: "reception-pc", AssetType: "desktop",
		SerialNumber: "5CG1234XYZ", Manufacturer: "HP", Model: "EliteDesk 800 G6", OSName: "Windows 11 Pro"})
	if err != nil {
		t.Fatal(err)
	}
	entry, err := e.Store.CreatePassword(e.Sys, store.Password{Scoped: store.Scoped{OrgID: acme.ID}, Title: "Firewall admin",
		Username: "admin", SetPassword: ptr("Tr0ub4dor&3-fw"), SetOTP: ptr("JBSWY3DPEHPK3PXP")})
	if err != nil {
		t.Fatal(err)
	}
	var targetDown atomic.Bool
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if targetDown.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer target.Close()
	mon, err := e.Store.CreateMonitor(e.Sys, store.Monitor{Scoped: store.Scoped{OrgID: acme.ID}, Name: "Acme website", CheckType: "http",
		URL: target.URL, IntervalSeconds: 300, FailureThreshold: 1, SuccessThreshold: 1, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	var receiverFails atomic.Bool
	receiverFails.Store(true)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if receiverFails.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()
	ninja := ninjafake.New(ninjafake.Options{}, []rmmtest.Device{{ID: 7, Org: 1, OrgName: "Acme", Site: "HQ", Name: "ACME-SRV-01",
		Manufacturer: "Dell Inc.", Model: "PowerEdge R650", Serial: "DELLSRV01", MAC: "00:14:22:01:02:03", IP: "10.0.0.5",
		OSName: "Windows Server 2022", OSVersion: "10.0.20348", Kind: "server", Online: true, LastSeen: e.Clock.Now()}})
	defer ninja.Close()
	e.StartJobs()

	// The technician has two-factor on (enrolled over plain HTTP before the browser walk).
	hb := newBrowser(t, e)
	hb.login(tech.Email, testutil.Password)
	secret, _ := tfEnrol(t, e, hb)
	e.Clock.Advance(30 * time.Second) // the enrolment code's step is spent

	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	goTo := func(path, sel, want string) string {
		t.Helper()
		navigate(t, ctx, e.Server.URL+path)
		return testutil.WaitText(t, ctx, sel, want)
	}

	// 1. Sign in: password, then the code.
	testutil.Do(t, ctx, chromedp.Navigate(e.Server.URL+"/login"))
	shot("01-login")
	testutil.Do(t, ctx, chromedp.SendKeys(`input[name=email]`, tech.Email), chromedp.SendKeys(`input[name=password]`, testutil.Password),
		chromedp.Submit(`input[name=password]`))
	testutil.WaitText(t, ctx, "h1", "Two-factor code")
	testutil.Do(t, ctx, chromedp.SendKeys(`input[name=code]`, tfCode(t, secret, e.Clock.Now())), chromedp.Submit(`input[name=code]`))
	testutil.WaitText(t, ctx, "h1", "Acme Corp")
	shot("02-dashboard")

	// 2. Switch to Bravo and back with the switcher.
	switchTo := func(org store.Organization) {
		t.Helper()
		testutil.Do(t, ctx, chromedp.SetValue(`#org-switch`, itoa(org.ID)), chromedp.Submit(`#org-switch`))
		testutil.WaitText(t, ctx, "h1", org.Name)
	}
	switchTo(bravo)
	switchTo(acme)

	// 3. Find the asset by its serial through the global search.
	testutil.Do(t, ctx, chromedp.SendKeys(`#gsearch`, "5CG1234"), chromedp.Submit(`#gsearch`))
	testutil.WaitText(t, ctx, "ul.hits", "reception-pc")
	shot("03-search")
	testutil.Do(t, ctx, chromedp.Click(`ul.hits a`))
	testutil.WaitText(t, ctx, "h1", "reception-pc")
	shot("04-asset")
	goTo("/assets", "h1", "Assets")
	shot("05-assets")

	// 4. Reveal the password and read the TOTP code; both are in the audit log.
	goTo(fmt.Sprintf("/vault/%d", entry.ID), "h1", "Firewall admin")
	testutil.Do(t, ctx, chromedp.Click(`form[action$="/reveal"] button`))
	testutil.WaitText(t, ctx, "main", "This reveal is in the audit log.")
	if v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#secret').value`)); err != nil || v != "Tr0ub4dor&3-fw" {
		t.Fatalf("revealed %q (%v)", v, err)
	}
	testutil.Do(t, ctx, chromedp.Click(`[data-otp-show]`))
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if code := testutil.WaitText(t, ctx, ".otp-code", ""); regexp.MustCompile(`^\d{6}$`).MatchString(code) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no TOTP code shown")
		}
	}
	shot("06-vault-entry")
	for _, action := range []string{"reveal", "otp"} {
		var n int
		e.DB.R.QueryRow(`SELECT count(*) FROM audit_log WHERE action = $1 AND object_id = $2 AND actor_email = $3`, action, entry.ID, tech.Email).Scan(&n)
		if n == 0 {
			t.Fatalf("no %s row in the audit log", action)
		}
	}

	// 5. The website goes down: Check now shows it.
	targetDown.Store(true)
	goTo(fmt.Sprintf("/monitors/%d", mon.ID), "h1", "Acme website")
	testutil.Do(t, ctx, chromedp.Click(`form[action$="/check"] button`))
	testutil.WaitText(t, ctx, "h1", "down")
	shot("07-monitor-down")

	// 6. A webhook, its failed delivery and the retry that succeeds.
	goTo("/settings/webhooks", "h1", "Webhooks")
	testutil.Do(t, ctx, chromedp.SetValue(`form[action="/settings/webhooks"] select[name=organization]`, itoa(acme.ID)),
		chromedp.SendKeys(`form[action="/settings/webhooks"] input[name=name]`, "PSA tickets"),
		chromedp.SendKeys(`form[action="/settings/webhooks"] input[name=url]`, receiver.URL),
		chromedp.Click(`input[name=events][value="asset.created"]`),
		chromedp.Submit(`form[action="/settings/webhooks"] input[name=name]`))
	testutil.WaitText(t, ctx, "main", "PSA tickets")
	var hookID int64
	if err := e.DB.R.QueryRow(`SELECT id FROM webhooks WHERE name = 'PSA tickets'`).Scan(&hookID); err != nil {
		t.Fatal(err)
	}
	hookPage := fmt.Sprintf("%s/settings/webhooks/%d", e.Server.URL, hookID)
	key := e.Key(tech, store.NewKey{})
	if r := e.Do("POST", "/api/assets/", key, map[string]any{"organization": acme.ID, "name": "new-laptop", "asset_type": "laptop"}); r.Status != 201 {
		t.Fatalf("asset: %d %s", r.Status, r.Body)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		navigate(t, ctx, hookPage)
		if s := testutil.WaitText(t, ctx, "main", "PSA tickets"); strings.Contains(s, "retrying") || strings.Contains(s, "failed") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the failed delivery never showed")
		}
	}
	shot("08-delivery-log")
	receiverFails.Store(false)
	clickAndLoad(t, ctx, `form[action$="/retry"] button`)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		navigate(t, ctx, hookPage)
		if s := testutil.WaitText(t, ctx, "main", "PSA tickets"); strings.Contains(s, "succeeded") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the retried delivery never succeeded")
		}
	}

	// 7. An RMM integration against the local NinjaOne fake, synced now.
	goTo("/settings/integrations", "h1", "Integrations")
	form := `form[action="/settings/integrations"]`
	testutil.Do(t, ctx, chromedp.SetValue(form+` select[name=organization]`, itoa(acme.ID)),
		chromedp.SendKeys(form+` input[name=name]`, "NinjaOne"),
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('[data-provider]'); s.value = 'ninjaone';
			s.dispatchEvent(new Event('change', {bubbles: true})); })()`),
		chromedp.SendKeys(form+` input[name=base_url]`, ninja.URL()),
		chromedp.SendKeys(`fieldset[data-credentials=ninjaone] input[name=cred_client_id]`, ninja.Credentials()["client_id"]),
		chromedp.SendKeys(`fieldset[data-credentials=ninjaone] input[name=cred_client_secret]`, ninja.Credentials()["client_secret"]),
		chromedp.SendKeys(form+` textarea[name=mapping]`, "1 = "+acme.Slug),
		chromedp.Submit(form+` input[name=name]`))
	testutil.WaitText(t, ctx, "h1", "NinjaOne")
	clickAndLoad(t, ctx, `form[action$="/sync"] button`)
	integPage := location(t, ctx)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		navigate(t, ctx, strings.TrimSuffix(integPage, "/sync"))
		if s := testutil.WaitText(t, ctx, "main", "NinjaOne"); strings.Contains(s, "succeeded") && strings.Contains(s, "ACME-SRV-01") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sync never finished")
		}
	}
	shot("09-integration")
	goTo("/vulnerabilities", "h1", "Vulnerabilities")
	shot("10-vulnerabilities")
	goTo("/settings/users", "h1", "Users")
	shot("11-users")
	goTo("/audit", "h1", "Audit log")
	shot("12-audit")
	testutil.Do(t, ctx, chromedp.EmulateViewport(390, 844)) // a phone
	goTo("/assets", "h1", "Assets")
	shot("14-phone-assets")
	goTo("/", "h1", "Acme Corp")
	shot("15-phone-dashboard")
	testutil.Do(t, ctx, chromedp.EmulateViewport(1280, 900))
	testutil.Do(t, ctx, chromedp.Click(`form.logout button`))
	testutil.WaitText(t, ctx, "h1", "Sign in")

	// 8. A readonly member: no write buttons, no reveal.
	testutil.SignIn(t, ctx, e, ro.Email, url.QueryEscape(fmt.Sprintf("/vault/%d", entry.ID)))
	page := testutil.WaitText(t, ctx, "main", "Firewall admin")
	buttons := count(t, ctx, `form[action$="/reveal"], [data-otp-show], a[href$="/edit"], form[action$="/delete"]`)
	if buttons != 0 || strings.Contains(page, "Tr0ub4dor") || count(t, ctx, "#secret") != 0 {
		t.Fatalf("readonly vault page offers %d write or reveal controls", buttons)
	}
	goTo(fmt.Sprintf("/assets/%d", asset.ID), "h1", "reception-pc")
	buttons = count(t, ctx, `a[href$="/edit"], form[action$="/delete"]`)
	if buttons != 0 {
		t.Fatalf("readonly asset page offers %d write controls", buttons)
	}
	shot("13-readonly-asset")
	testutil.Do(t, ctx, chromedp.Click(`form.logout button`))
	testutil.WaitText(t, ctx, "h1", "Sign in")

	// 9. Someone of another organization sees nothing of Acme.
	testutil.SignIn(t, ctx, e, outsider.Email, "/")
	home := testutil.WaitText(t, ctx, "h1", "Zeta Outsider")
	if s := goTo("/search?q=reception", "main", "Search"); strings.Contains(s, "reception-pc") || strings.Contains(home, "Acme") {
		t.Fatal("the outsider finds Acme's asset")
	}
	if s := goTo(fmt.Sprintf("/assets/%d", asset.ID), "body", ""); strings.Contains(s, "reception-pc") {
		t.Fatal("the outsider opens Acme's asset")
	}
	if s := goTo("/vault", "main", "Vault"); strings.Contains(s, "Firewall admin") {
		t.Fatal("the outsider lists Acme's vault")
	}
	t.Logf("screenshots of the main pages: %s", shots)
}

// screenshotDir is the folder the browser test writes its screenshots to, emptied first.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("CLIENTST0R_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "clientst0r-screenshots")
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// navigate loads url, trying again when a form's navigation still in flight aborts it.
func navigate(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	var err error
	for range 10 {
		if _, err = chromedp.Run(ctx, chromedp.Navigate(url)); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal(err)
}

// clickAndLoad clicks a form's button and waits for the page its answer loads: navigating before
// that would abort the request.
func clickAndLoad(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	testutil.Do(t, ctx, chromedp.Evaluate[chromedp.Void](`document.documentElement.dataset.before = 'click'`), chromedp.Click(sel))
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		old, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.dataset.before === 'click'`))
		if err == nil && !old {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("clicking %s loaded no page", sel)
		}
	}
}

func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	u, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// count is how many elements match a CSS selector on the page.
func count(t *testing.T, ctx context.Context, sel string) int {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}
