package web_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"clientst0r/internal/db"
	"clientst0r/internal/store"
	"clientst0r/internal/testutil"
)

// In a real browser the entry page shows the live TOTP code with its countdown.
func TestTOTPCountdownInABrowser(t *testing.T) {
	ctx := testutil.Browser(t)
	e := testutil.NewEnv(t, db.SQLite)
	org := e.Org("Acme")
	u := e.User("ed@acme.test", false)
	e.Member(org.ID, u.Email, "editor")
	p, err := e.Store.CreatePassword(authCtx(t, e, u), store.Password{Scoped: store.Scoped{OrgID: org.ID}, Title: "VPN", SetOTP: ptr("JBSWY3DPEHPK3PXP")})
	if err != nil {
		t.Fatal(err)
	}
	testutil.SignIn(t, ctx, e, u.Email, "/vault/"+itoa(p.ID))
	testutil.WaitText(t, ctx, "h1", "VPN")
	testutil.Do(t, ctx, chromedp.Click(`[data-otp-show]`))
	code := ""
	for deadline := time.Now().Add(20 * time.Second); !regexp.MustCompile(`^\d{6}$`).MatchString(code); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no TOTP code shown (last %q)", code)
		}
		code = testutil.WaitText(t, ctx, ".otp-code", "")
	}
	left := testutil.WaitText(t, ctx, ".otp-left", " s")
	if !regexp.MustCompile(`^\d+ s$`).MatchString(left) {
		t.Fatalf("countdown %q", left)
	}
}
