package api_test

import (
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"clientst0r/internal/db"
	"clientst0r/internal/testutil"
)

// A technician signs in, opens /api/assets/ in the browsable view, creates an asset with its form
// and finds it in the list.
func TestBrowsableAPIInARealBrowser(t *testing.T) {
	ctx := testutil.Browser(t)
	e := testutil.NewEnv(t, db.SQLite)
	org := e.Org("Acme Corp")
	u := e.User("tech@acme.test", false)
	e.Member(org.ID, u.Email, "editor")

	testutil.SignIn(t, ctx, e, u.Email, "/api/assets/")
	heading := testutil.WaitText(t, ctx, `h1`, "assets")
	testutil.Do(t, ctx, chromedp.SetValue(`textarea[aria-label="POST body"]`, `{"name": "Browser-made switch", "asset_type": "switch"}`),
		chromedp.Click(`form:has(textarea[aria-label="POST body"]) button[type=submit]`))
	status := testutil.WaitText(t, ctx, `.status`, "HTTP 201")
	testutil.Do(t, ctx, chromedp.Navigate(e.Server.URL+"/api/assets/?search=browser"))
	listText := testutil.WaitText(t, ctx, `pre.json`, `"count"`)
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
		testutil.Do(t, ctx, chromedp.Navigate(e.Server.URL+"/api/assets/"))
		if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
			os.WriteFile(dir+"/browsable-assets.png", png, 0o644)
		}
	}
}
