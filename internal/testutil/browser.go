package testutil

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Browser starts headless Chromium for a test, or skips it when Chromium is not installed.
func Browser(t *testing.T) context.Context {
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

// Do runs browser steps and fails the test on an error.
func Do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// WaitText polls until sel shows text containing want: right after a navigation a query can
// attach to the page being left and never return, so each try gets its own short deadline.
func WaitText(t *testing.T, ctx context.Context, sel, want string) string {
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

// SignIn signs a browser in through the login page and waits for next to show up.
func SignIn(t *testing.T, ctx context.Context, e *Env, email, next string) {
	t.Helper()
	Do(t, ctx, chromedp.Navigate(e.Server.URL+"/login?next="+next),
		chromedp.SendKeys(`input[name=email]`, email),
		chromedp.SendKeys(`input[name=password]`, Password),
		chromedp.Submit(`input[name=password]`))
}
