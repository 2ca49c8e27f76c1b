package api_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"clientst0r/internal/db"
	"clientst0r/internal/testutil"
)

// browser starts headless Chromium for a test, or skips it when Chromium is not installed.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (apt-get install chromium); .ci/run installs it")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	ctx, cancelC := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelC(); cancelB(); cancelA() })
	return ctx
}

// A technician signs in, opens /api/assets/ in the browsable view, creates an asset with its form
// and finds it in the list.
func TestBrowsableAPIInARealBrowser(t *testing.T) {
	ctx := browser(t)
	e := testutil.NewEnv(t, db.SQLite)
	org := e.Org("Acme Corp")
	u := e.User("tech@acme.test", false)
	e.Member(org.ID, u.Email, "editor")

	step := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatal(err)
		}
	}
	// waitText polls until sel shows text containing want: right after a navigation a query can
	// attach to the page being left and never return, so each try gets its own short deadline.
	waitText := func(sel, want string) string {
		t.Helper()
		var last string
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			try, cancel := context.WithTimeout(ctx, time.Second)
			s, err := chromedp.Run(try, chromedp.Text(sel))
			cancel()
			if err == nil && strings.Contains(s, want) {
				return s
			}
			last = s
		}
		t.Fatalf("%s never showed %q; last: %q", sel, want, last)
		return ""
	}
	step(chromedp.Navigate(e.Server.URL+"/login?next=/api/assets/"),
		chromedp.SendKeys(`input[name=email]`, u.Email),
		chromedp.SendKeys(`input[name=password]`, testutil.Password),
		chromedp.Submit(`input[name=password]`))
	heading := waitText(`h1`, "assets")
	step(chromedp.SetValue(`textarea[aria-label="POST body"]`, `{"name": "Browser-made switch", "asset_type": "switch"}`),
		chromedp.Click(`form:has(textarea[aria-label="POST body"]) button[type=submit]`))
	status := waitText(`.status`, "HTTP 201")
	step(chromedp.Navigate(e.Server.URL + "/api/assets/?search=browser"))
	listText := waitText(`pre.json`, `"count"`)
	if heading != "List assets" {
		t.Errorf("heading %q", heading)
	}
	if !strings.Contains(status, "201") {
		t.Errorf("create answered %q", status)
	}
	if !strings.Contains(listText, `"Browser-made switch"`) || !strings.Contains(listText, `"count": 1`) {
		t.Errorf("list after create:\n%s", listText)
	}
	if dir := os.Getenv("CLIENTST0R_SCREENSHOTS"); dir != "" {
		step(chromedp.Navigate(e.Server.URL + "/api/assets/"))
		if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
			os.WriteFile(dir+"/browsable-assets.png", png, 0o644)
		}
	}
}
