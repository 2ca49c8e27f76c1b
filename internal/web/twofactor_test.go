package web_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base32"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"clientst0r/internal/app"
	"clientst0r/internal/config"
	"clientst0r/internal/store"
	"clientst0r/internal/testutil"
	"clientst0r/internal/vault"
)

// tfCode is the TOTP code of secret at t, computed independently of the login code path.
func tfCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := vault.OTP{Secret: secret, Digits: 6, Period: 30, Algorithm: "SHA1"}.Code(at)
	if err != nil {
		t.Fatal(err)
	}
	return c.Code
}

var (
	tfSecretRE   = regexp.MustCompile(`<dt>Key</dt><dd><code>([A-Z2-7]+)</code>`)
	tfRecoveryRE = regexp.MustCompile(`(?s)<pre class="code" id="recovery-codes">(.*?)</pre>`)
)

// tfEnrol turns two-factor on from the signed-in browser and returns the secret and recovery codes.
func tfEnrol(t *testing.T, e *testutil.Env, b *browser) (string, []string) {
	t.Helper()
	s, body := b.do("GET", "/profile/two-factor", nil)
	m := tfSecretRE.FindStringSubmatch(body)
	if s != 200 || m == nil {
		t.Fatalf("two-factor page: %d at %s\n%s", s, b.last, body)
	}
	s, body = b.do("POST", "/profile/two-factor/confirm", url.Values{"code": {tfCode(t, m[1], e.Clock.Now())}})
	rc := tfRecoveryRE.FindStringSubmatch(body)
	if s != 200 || rc == nil {
		t.Fatalf("confirm: %d\n%s", s, body)
	}
	return m[1], strings.Fields(rc[1])
}

// tfLoginWithCode signs in with the password and then code, returning the final status and page.
func tfLoginWithCode(t *testing.T, b *browser, email, code string) (int, string) {
	t.Helper()
	if s, _ := b.login(email, testutil.Password); s != 200 || b.last != "/login/code" {
		t.Fatalf("password step: %d at %s", s, b.last)
	}
	return b.do("POST", "/login/code", url.Values{"code": {code}, "next": {"/profile/keys"}})
}

func tfAudit(t *testing.T, e *testutil.Env, action string, userID int64) int {
	t.Helper()
	var n int
	if err := e.DB.R.QueryRow(`SELECT count(*) FROM audit_log WHERE action = $1 AND object_id = $2`, action, userID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// tfRawRow reads every column of one row as bytes, the way a copy of the database would show it.
func tfRawRow(t *testing.T, e *testutil.Env, query string, args ...any) [][]byte {
	t.Helper()
	rows, err := e.DB.R.Query(query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]byte
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			switch x := v.(type) {
			case []byte:
				out = append(out, x)
			case nil:
			default:
				out = append(out, []byte(fmt.Sprint(x)))
			}
		}
	}
	return out
}

func TestTwoFactorEnrolAndSignIn(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		org := e.Org("Acme Corp")
		u := e.User("tech@example.com", false)
		e.Member(org.ID, u.Email, "editor")
		b := newBrowser(t, e)
		b.login(u.Email, testutil.Password)

		// The page shows the secret as a QR code (inline SVG) and as text, with the otpauth URI.
		s, body := b.do("GET", "/profile/two-factor", nil)
		m := tfSecretRE.FindStringSubmatch(body)
		if s != 200 || m == nil || !strings.Contains(body, "<svg") || !strings.Contains(body, `class="qr"`) {
			t.Fatalf("two-factor page: %d\n%s", s, body)
		}
		secret := m[1]
		uri := "otpauth://totp/ClientSt0r:tech@example.com?algorithm=SHA1&digits=6&issuer=ClientSt0r&period=30&secret=" + secret
		if !strings.Contains(html.UnescapeString(body), uri) {
			t.Fatalf("the page lacks %s", uri)
		}
		if _, again := b.do("GET", "/profile/two-factor", nil); !strings.Contains(again, secret) {
			t.Fatal("reloading the page changed the unconfirmed secret")
		}

		// A wrong code does not turn it on.
		wrong := tfCode(t, secret, e.Clock.Now().Add(10*time.Minute))
		if s, body := b.do("POST", "/profile/two-factor/confirm", url.Values{"code": {wrong}}); s != 400 || !strings.Contains(body, "not correct") {
			t.Fatalf("wrong confirm code: %d", s)
		}
		var enabled sql.NullTime
		e.DB.R.QueryRow(`SELECT totp_enabled_at FROM users WHERE id = $1`, u.ID).Scan(&enabled)
		if enabled.Valid {
			t.Fatal("a wrong code turned two-factor on")
		}

		// The right one does, and shows ten recovery codes once.
		enrolCode := tfCode(t, secret, e.Clock.Now())
		s, body = b.do("POST", "/profile/two-factor/confirm", url.Values{"code": {enrolCode}})
		rc := tfRecoveryRE.FindStringSubmatch(body)
		if s != 200 || rc == nil || len(strings.Fields(rc[1])) != 10 {
			t.Fatalf("confirm: %d\n%s", s, body)
		}
		recovery := strings.Fields(rc[1])
		if _, again := b.do("GET", "/profile/two-factor", nil); strings.Contains(again, recovery[0]) || strings.Contains(again, secret) ||
			!strings.Contains(again, "10 unused recovery codes") {
			t.Fatal("recovery codes or secret shown again, or the count is missing")
		}
		if tfAudit(t, e, "2fa.enable", u.ID) != 1 {
			t.Fatal("enable not audited")
		}

		// Neither the secret nor the recovery codes are in the database in plaintext, nor in the logs.
		raw, _ := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
		cells := tfRawRow(t, e, `SELECT * FROM users WHERE id = $1`, u.ID)
		cells = append(cells, tfRawRow(t, e, `SELECT * FROM recovery_codes WHERE user_id = $1`, u.ID)...)
		for _, c := range cells {
			if bytes.Contains(bytes.ToUpper(c), []byte(secret)) || bytes.Contains(c, raw) {
				t.Fatalf("the TOTP secret is stored in plaintext: %q", c)
			}
			for _, r := range recovery {
				if bytes.Contains(c, []byte(r)) || bytes.Contains(c, []byte(strings.ReplaceAll(r, "-", ""))) {
					t.Fatalf("a recovery code is stored in plaintext: %q", c)
				}
			}
		}
		var ct []byte
		e.DB.R.QueryRow(`SELECT totp_secret_ct FROM users WHERE id = $1`, u.ID).Scan(&ct)
		if vault.KeyID(ct) == 0 {
			t.Fatal("the secret is not a vault ciphertext")
		}
		if strings.Contains(e.Logs.String(), secret) {
			t.Fatal("the secret was logged")
		}

		// Signing in now takes a code; the password alone opens no session.
		b.do("POST", "/logout", url.Values{})
		if s, _ := b.login(u.Email, testutil.Password); s != 200 || b.last != "/login/code" {
			t.Fatalf("password step: %d at %s", s, b.last)
		}
		if s, _ := b.do("GET", "/api/organizations/", nil); s != 401 {
			t.Fatalf("a pending login reached the API: %d", s)
		}
		if _, _ = b.do("GET", "/profile/keys", nil); b.last != "/login" {
			t.Fatalf("a pending login reached a page: %s", b.last)
		}
		// The code used to enrol does not work a second time.
		if s, body := b.do("POST", "/login/code", url.Values{"code": {enrolCode}}); s != 401 || !strings.Contains(body, "not correct") {
			t.Fatalf("reused code: %d", s)
		}
		e.Clock.Advance(30 * time.Second)
		code := tfCode(t, secret, e.Clock.Now())
		if s, _ := b.do("POST", "/login/code", url.Values{"code": {code}, "next": {"/profile/keys"}}); s != 200 || b.last != "/profile/keys" {
			t.Fatalf("code step: %d at %s", s, b.last)
		}
		// Nor does a fresh code once it has signed in.
		b.do("POST", "/logout", url.Values{})
		if s, _ := tfLoginWithCode(t, b, u.Email, code); s != 401 {
			t.Fatalf("code reused for a second sign-in: %d", s)
		}

		// A recovery code works in its place, once.
		if s, _ := b.do("POST", "/login/code", url.Values{"code": {strings.ToUpper(recovery[3])}, "next": {"/profile/keys"}}); s != 200 || b.last != "/profile/keys" {
			t.Fatalf("recovery code: %d at %s", s, b.last)
		}
		if _, page := b.do("GET", "/profile/two-factor", nil); !strings.Contains(page, "9 unused recovery codes") {
			t.Fatal("the used recovery code still counts")
		}
		b.do("POST", "/logout", url.Values{})
		if s, _ := tfLoginWithCode(t, b, u.Email, recovery[3]); s != 401 {
			t.Fatalf("recovery code used twice: %d", s)
		}
		if tfAudit(t, e, "2fa.recovery_used", u.ID) != 1 {
			t.Fatal("recovery code use not audited")
		}
		var logins, failures int
		e.DB.R.QueryRow(`SELECT count(*) FROM audit_log WHERE action = 'login' AND actor_id = $1`, u.ID).Scan(&logins)
		e.DB.R.QueryRow(`SELECT count(*) FROM audit_log WHERE action = 'login_failed' AND actor_id = $1 AND changes LIKE '%two_factor%'`, u.ID).Scan(&failures)
		if logins != 3 || failures != 3 {
			t.Fatalf("audit: %d logins, %d wrong codes", logins, failures)
		}

		// New recovery codes replace the old; the vault key rotation re-encrypts the secret.
		e.Clock.Advance(30 * time.Second)
		if s, _ := b.do("POST", "/login/code", url.Values{"code": {tfCode(t, secret, e.Clock.Now())}}); s != 200 {
			t.Fatalf("sign in: %d", s)
		}
		if s, _ := b.do("POST", "/profile/two-factor/recovery-codes", url.Values{"password": {"not my password"}}); s != 400 {
			t.Fatalf("regenerate with a wrong password: %d", s)
		}
		s, body = b.do("POST", "/profile/two-factor/recovery-codes", url.Values{"password": {testutil.Password}})
		fresh := tfRecoveryRE.FindStringSubmatch(body)
		if s != 200 || fresh == nil {
			t.Fatalf("regenerate: %d", s)
		}
		if _, err := e.Store.RotateKey(e.Sys); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Store.Reencrypt(context.Background(), 100); err != nil {
			t.Fatal(err)
		}
		var ct2 []byte
		e.DB.R.QueryRow(`SELECT totp_secret_ct FROM users WHERE id = $1`, u.ID).Scan(&ct2)
		if vault.KeyID(ct2) == vault.KeyID(ct) {
			t.Fatal("key rotation left the TOTP secret under the old key")
		}
		b.do("POST", "/logout", url.Values{})
		if s, _ := tfLoginWithCode(t, b, u.Email, recovery[0]); s != 401 {
			t.Fatalf("an old recovery code still works: %d", s)
		}
		if s, _ := b.do("POST", "/login/code", url.Values{"code": {strings.Fields(fresh[1])[0]}}); s != 200 || b.last != "/" {
			t.Fatalf("a new recovery code: %d at %s", s, b.last)
		}
	})
}

func TestTwoFactorCodeStepThrottled(t *testing.T) {
	e := testutil.NewEnv(t, testutil.Dialects()[0])
	u := e.User("victim@example.com", false)
	b := newBrowser(t, e)
	b.login(u.Email, testutil.Password)
	secret, _ := tfEnrol(t, e, b)
	b.do("POST", "/logout", url.Values{})
	e.Clock.Advance(30 * time.Second)
	wrong := tfCode(t, secret, e.Clock.Now().Add(time.Hour))

	// A pending login allows a few codes, then the password is needed again.
	b.login(u.Email, testutil.Password)
	for i := range store.PendingLoginAttempts {
		if s, _ := b.do("POST", "/login/code", url.Values{"code": {wrong}}); s != 401 || b.last != "/login/code" {
			t.Fatalf("wrong code %d: %d at %s", i, s, b.last)
		}
	}
	if s, body := b.do("POST", "/login/code", url.Values{"code": {tfCode(t, secret, e.Clock.Now())}}); s != 401 ||
		!strings.Contains(body, "enter your password again") {
		t.Fatalf("after %d wrong codes: %d", store.PendingLoginAttempts, s)
	}
	// New pending logins do not reset the count: after ten wrong codes even the right one waits.
	b.login(u.Email, testutil.Password)
	for range store.PendingLoginAttempts - 1 {
		b.do("POST", "/login/code", url.Values{"code": {wrong}})
	}
	b.login(u.Email, testutil.Password)
	if s, _ := b.do("POST", "/login/code", url.Values{"code": {wrong}}); s != 401 {
		t.Fatalf("tenth wrong code: %d", s)
	}
	if s, body := b.do("POST", "/login/code", url.Values{"code": {tfCode(t, secret, e.Clock.Now())}}); s != 429 || !strings.Contains(body, "Too many") {
		t.Fatalf("right code after ten wrong ones: %d", s)
	}
	// The per-minute sign-in limit passes, the per-account code limit holds for its window.
	e.Clock.Advance(time.Minute + time.Second)
	if s, body := b.do("POST", "/login/code", url.Values{"code": {tfCode(t, secret, e.Clock.Now())}}); s != 429 || !strings.Contains(body, "wrong codes") {
		t.Fatalf("a minute later: %d", s)
	}
	e.Clock.Advance(15 * time.Minute)
	if s, _ := tfLoginWithCode(t, b, u.Email, tfCode(t, secret, e.Clock.Now())); s != 200 || b.last != "/profile/keys" {
		t.Fatalf("after the window: %d at %s", s, b.last)
	}
}

func TestTwoFactorRequiredByOrganization(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		acme, other := e.Org("Acme Corp"), e.Org("Other Co")
		admin := e.User("root@example.com", true)
		adminKey := e.Key(admin, store.NewKey{})
		u := e.User("tech@acme.test", false)
		e.Member(acme.ID, u.Email, "editor")
		bystander := e.User("someone@other.test", false)
		e.Member(other.ID, bystander.Email, "editor")
		userKey := e.Key(u, store.NewKey{})

		b := newBrowser(t, e)
		if _, _ = b.login(u.Email, testutil.Password); b.last != "/profile/keys" {
			t.Fatalf("before the requirement: %s", b.last)
		}
		// The organization starts requiring two-factor (API, and the field reads back).
		r := e.Do("PATCH", fmt.Sprintf("/api/v1/organizations/%d/", acme.ID), adminKey, map[string]any{"require_two_factor": true})
		if r.Status != 200 || r.Map()["require_two_factor"] != true {
			t.Fatalf("patch: %d %s", r.Status, r.Body)
		}
		if r := e.Do("GET", "/api/v1/organizations/?require_two_factor=true", adminKey, nil); r.Status != 200 || r.Map()["count"] != 1.0 {
			t.Fatalf("filter: %d %s", r.Status, r.Body)
		}
		// The existing session can do nothing but enrol.
		for _, p := range []string{"/profile/keys", "/assets", "/vault", "/"} {
			if _, _ = b.do("GET", p, nil); b.last != "/profile/two-factor" {
				t.Fatalf("%s led to %s", p, b.last)
			}
		}
		if s, body := b.do("GET", "/api/organizations/", nil, "Accept", "application/json"); s != 403 || !strings.Contains(body, "Two-factor authentication is required") {
			t.Fatalf("API with the session: %d %s", s, body)
		}
		if s, _ := b.do("POST", "/profile/keys", url.Values{"name": {"sneaky"}}); s != 200 || b.last != "/profile/two-factor" {
			t.Fatalf("create a key while restricted: %d at %s", s, b.last)
		}
		// API keys are unaffected.
		if r := e.Do("GET", "/api/v1/organizations/", userKey, nil); r.Status != 200 {
			t.Fatalf("API key: %d", r.Status)
		}
		// After the password a new sign-in lands on the enrol page too.
		b.do("POST", "/logout", url.Values{})
		s, body := b.login(u.Email, testutil.Password)
		if s != 200 || b.last != "/profile/two-factor" || !strings.Contains(body, "required for your account") {
			t.Fatalf("sign-in while required: %d at %s", s, b.last)
		}
		tfEnrol(t, e, b)
		if s, _ := b.do("GET", "/assets", nil); s != 200 || b.last != "/assets" {
			t.Fatalf("after enrolling: %d at %s", s, b.last)
		}
		// Members of other organizations are not asked; superusers reach every organization, so are.
		o := newBrowser(t, e)
		if _, _ = o.login(bystander.Email, testutil.Password); o.last != "/profile/keys" {
			t.Fatalf("member of another organization: %s", o.last)
		}
		su := newBrowser(t, e)
		if _, _ = su.login(admin.Email, testutil.Password); su.last != "/profile/two-factor" {
			t.Fatalf("superuser: %s", su.last)
		}
	})
}

func TestTwoFactorRequiredByInstallation(t *testing.T) {
	testutil.EachEnvWith(t, testutil.EnvOptions{RequireTwoFactor: true}, func(t *testing.T, e *testutil.Env) {
		u := e.User("lonely@example.com", false)
		b := newBrowser(t, e)
		if _, body := b.login(u.Email, testutil.Password); b.last != "/profile/two-factor" || !strings.Contains(body, "required for your account") {
			t.Fatalf("sign-in: %s", b.last)
		}
		if _, _ = b.do("GET", "/profile", nil); b.last != "/profile/two-factor" {
			t.Fatalf("profile while required: %s", b.last)
		}
		// Starting over gives a new secret; the enrol page works and frees the session.
		_, first := b.do("GET", "/profile/two-factor", nil)
		b.do("POST", "/profile/two-factor/setup", url.Values{})
		if _, second := b.do("GET", "/profile/two-factor", nil); tfSecretRE.FindStringSubmatch(first)[1] == tfSecretRE.FindStringSubmatch(second)[1] {
			t.Fatal("start over kept the secret")
		}
		secret, _ := tfEnrol(t, e, b)
		if s, _ := b.do("GET", "/profile", nil); s != 200 || b.last != "/profile" {
			t.Fatalf("after enrolling: %d at %s", s, b.last)
		}
		// Turning it off (with a code) puts the account back to enrolling.
		e.Clock.Advance(30 * time.Second)
		if s, _ := b.do("POST", "/profile/two-factor/disable", url.Values{"code": {tfCode(t, secret, e.Clock.Now())}}); s != 200 {
			t.Fatalf("disable: %d", s)
		}
		if _, _ = b.do("GET", "/profile", nil); b.last != "/profile/two-factor" {
			t.Fatalf("after disabling: %s", b.last)
		}
	})
}

func TestTwoFactorDisableEndsOtherSessions(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		u := e.User("tech@example.com", false)
		b1, b2 := newBrowser(t, e), newBrowser(t, e)
		b1.login(u.Email, testutil.Password)
		secret, _ := tfEnrol(t, e, b1)
		e.Clock.Advance(30 * time.Second)
		if s, _ := tfLoginWithCode(t, b2, u.Email, tfCode(t, secret, e.Clock.Now())); s != 200 {
			t.Fatalf("second browser: %d", s)
		}
		if s, _ := b1.do("POST", "/profile/two-factor/disable", url.Values{"password": {"wrong password"}}); s != 400 {
			t.Fatalf("disable with a wrong password: %d", s)
		}
		if s, _ := b1.do("POST", "/profile/two-factor/disable", url.Values{"password": {testutil.Password}}); s != 200 || b1.last != "/profile/two-factor" {
			t.Fatalf("disable: %d at %s", s, b1.last)
		}
		if _, _ = b1.do("GET", "/profile", nil); b1.last != "/profile" {
			t.Fatal("disabling signed out this session")
		}
		if _, _ = b2.do("GET", "/profile", nil); b2.last != "/login" {
			t.Fatalf("the other session survived: %s", b2.last)
		}
		if tfAudit(t, e, "2fa.disable", u.ID) != 1 {
			t.Fatal("disable not audited")
		}
		// Sign-in is password-only again.
		if _, _ = b2.login(u.Email, testutil.Password); b2.last != "/profile/keys" {
			t.Fatalf("sign-in after disabling: %s", b2.last)
		}
	})
}

func TestSessionIdleAndAbsoluteExpiry(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		u := e.User("tech@example.com", false)
		b := newBrowser(t, e)
		b.login(u.Email, testutil.Password)
		// In use: every 11 hours keeps it alive, up to the absolute lifetime.
		elapsed := time.Duration(0)
		for elapsed+11*time.Hour < store.SessionMaxLifetime {
			e.Clock.Advance(11 * time.Hour)
			elapsed += 11 * time.Hour
			if s, _ := b.do("GET", "/profile", nil); s != 200 || b.last != "/profile" {
				t.Fatalf("after %s in use: %d at %s", elapsed, s, b.last)
			}
		}
		e.Clock.Advance(store.SessionMaxLifetime - elapsed)
		if _, _ = b.do("GET", "/profile", nil); b.last != "/login" {
			t.Fatalf("past the absolute lifetime: %s", b.last)
		}

		// Idle: 12 hours without use ends it.
		b.login(u.Email, testutil.Password)
		e.Clock.Advance(store.SessionIdleTimeout - time.Minute)
		if _, _ = b.do("GET", "/profile", nil); b.last != "/profile" {
			t.Fatalf("just before the idle timeout: %s", b.last)
		}
		e.Clock.Advance(store.SessionIdleTimeout)
		if _, _ = b.do("GET", "/profile", nil); b.last != "/login" {
			t.Fatalf("idle: %s", b.last)
		}
		if s, _ := b.do("GET", "/api/organizations/", nil); s != 401 {
			t.Fatalf("idle session on the API: %d", s)
		}
		// The retention job removes both.
		var n int
		e.DB.R.QueryRow(`SELECT count(*) FROM sessions WHERE user_id = $1`, u.ID).Scan(&n)
		if deleted, _, err := e.Store.DeleteExpired(context.Background()); err != nil || n != 2 || deleted != 2 {
			t.Fatalf("retention: %d of %d sessions, %v", deleted, n, err)
		}
	})
}

func TestSignOutEverywhere(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		u, other := e.User("tech@example.com", false), e.User("other@example.com", false)
		b1, b2, b3 := newBrowser(t, e), newBrowser(t, e), newBrowser(t, e)
		b1.login(u.Email, testutil.Password)
		b2.login(u.Email, testutil.Password)
		b3.login(other.Email, testutil.Password)
		s, body := b1.do("GET", "/profile", nil)
		if s != 200 || strings.Count(body, "<tr>") != 3 || strings.Count(body, "this browser") != 1 || !strings.Contains(body, "Sign out everywhere") {
			t.Fatalf("profile: %d\n%s", s, body)
		}
		if _, _ = b1.do("POST", "/profile/sessions/revoke", url.Values{}); b1.last != "/login" {
			t.Fatalf("after signing out everywhere: %s", b1.last)
		}
		for i, b := range []*browser{b1, b2} {
			if _, _ = b.do("GET", "/profile", nil); b.last != "/login" {
				t.Fatalf("browser %d still signed in", i+1)
			}
		}
		if _, _ = b3.do("GET", "/profile", nil); b3.last != "/profile" {
			t.Fatal("another account was signed out")
		}
		if tfAudit(t, e, "logout_everywhere", u.ID) != 1 {
			t.Fatal("not audited")
		}
	})
}

func TestPasswordChangeEndsOtherSessions(t *testing.T) {
	testutil.EachEnv(t, func(t *testing.T, e *testutil.Env) {
		u := e.User("tech@example.com", false)
		b1, b2 := newBrowser(t, e), newBrowser(t, e)
		b1.login(u.Email, testutil.Password)
		b2.login(u.Email, testutil.Password)
		const next = "a brand new passphrase"
		for _, c := range []struct {
			form url.Values
			want string
		}{
			{url.Values{"current_password": {"wrong one"}, "password": {next}, "password_confirm": {next}}, "current password"},
			{url.Values{"current_password": {testutil.Password}, "password": {next}, "password_confirm": {next + "!"}}, "differ"},
			{url.Values{"current_password": {testutil.Password}, "password": {"short"}, "password_confirm": {"short"}}, "password:"},
		} {
			if s, body := b1.do("POST", "/profile/password", c.form); s != 400 || !strings.Contains(body, c.want) {
				t.Fatalf("%v: %d", c.form, s)
			}
		}
		if _, _ = b2.do("GET", "/profile", nil); b2.last != "/profile" {
			t.Fatal("a refused change signed the other session out")
		}
		form := url.Values{"current_password": {testutil.Password}, "password": {next}, "password_confirm": {next}}
		if s, body := b1.do("POST", "/profile/password", form); s != 200 || !strings.Contains(body, "Password changed") {
			t.Fatalf("change: %d", s)
		}
		if _, _ = b1.do("GET", "/profile", nil); b1.last != "/profile" {
			t.Fatal("the changing session was signed out")
		}
		if _, _ = b2.do("GET", "/profile", nil); b2.last != "/login" {
			t.Fatal("the other session survived the password change")
		}
		if s, _ := b2.login(u.Email, testutil.Password); s != 401 {
			t.Fatalf("old password: %d", s)
		}
		if _, _ = b2.login(u.Email, next); b2.last != "/profile/keys" {
			t.Fatalf("new password: %s", b2.last)
		}
		if tfAudit(t, e, "password.change", u.ID) != 1 {
			t.Fatal("not audited")
		}
	})
}

func TestSessionCookieAttributes(t *testing.T) {
	e := testutil.NewEnv(t, testutil.Dialects()[0])
	u := e.User("tech@example.com", false)
	cookie := func(c *http.Client, base string) *http.Cookie {
		t.Helper()
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		res, err := c.PostForm(base+"/login", url.Values{"email": {u.Email}, "password": {testutil.Password}})
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		for _, ck := range res.Cookies() {
			if ck.Name == "clientst0r_session" {
				return ck
			}
		}
		t.Fatalf("no session cookie: %d", res.StatusCode)
		return nil
	}
	ck := cookie(&http.Client{}, e.Server.URL)
	if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure || ck.MaxAge != int(store.SessionMaxLifetime.Seconds()) {
		t.Fatalf("plain HTTP cookie: %+v", ck)
	}
	tlsSrv := httptest.NewTLSServer(app.NewHandler(e.Store, e.Sched, e.Queue.RMM, config.Config{}, testutil.Logger(t), e.Clock.Now))
	defer tlsSrv.Close()
	if ck := cookie(tlsSrv.Client(), tlsSrv.URL); !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode {
		t.Fatalf("HTTPS cookie: %+v", ck)
	}
	// Behind a TLS-terminating proxy the base URL says https.
	proxied := httptest.NewServer(app.NewHandler(e.Store, e.Sched, e.Queue.RMM, config.Config{BaseURL: "https://docs.example.com"},
		testutil.Logger(t), e.Clock.Now))
	defer proxied.Close()
	if ck := cookie(&http.Client{}, proxied.URL); !ck.Secure {
		t.Fatalf("cookie behind an https base URL: %+v", ck)
	}
}
