package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"clientst0r/internal/vault"
)

// rfcSecret is RFC 6238's SHA-1 test key "12345678901234567890" in base32.
const rfcSecret = TOTPSecret("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")

func TestVerifyTOTPAgainstRFC6238(t *testing.T) {
	// RFC 6238 appendix B, SHA-1, reduced to 6 digits.
	for _, c := range []struct {
		unix int64
		code string
	}{{59, "287082"}, {1111111109, "081804"}, {1234567890, "005924"}, {2000000000, "279037"}} {
		step, ok := VerifyTOTP(rfcSecret, c.code, time.Unix(c.unix, 0), 0)
		if !ok || step != c.unix/30 {
			t.Errorf("t=%d code %s: step %d ok %v", c.unix, c.code, step, ok)
		}
	}
}

func TestVerifyTOTPWindowAndReplay(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 10, 0, time.UTC)
	o := vault.OTP{Secret: rfcSecret.Plain(), Digits: 6, Period: 30, Algorithm: "SHA1"}
	code := func(d time.Duration) string {
		c, err := o.Code(now.Add(d))
		if err != nil {
			t.Fatal(err)
		}
		return c.Code
	}
	cur := TOTPStep(now)
	for _, c := range []struct {
		name string
		code string
		last int64
		step int64
		ok   bool
	}{
		{"current", code(0), 0, cur, true},
		{"previous step", code(-30 * time.Second), 0, cur - 1, true},
		{"next step", code(30 * time.Second), 0, cur + 1, true},
		{"two steps old", code(-60 * time.Second), 0, 0, false},
		{"two steps ahead", code(60 * time.Second), 0, 0, false},
		{"already used", code(0), cur, 0, false},
		{"older than the last used", code(-30 * time.Second), cur, 0, false},
		{"newer than the last used", code(30 * time.Second), cur, cur + 1, true},
		{"spaces allowed", code(0)[:3] + " " + code(0)[3:], 0, cur, true},
		{"not digits", "12345a", 0, 0, false},
		{"too short", "12345", 0, 0, false},
	} {
		step, ok := VerifyTOTP(rfcSecret, c.code, now, c.last)
		if ok != c.ok || step != c.step {
			t.Errorf("%s: step %d ok %v, want %d %v", c.name, step, ok, c.step, c.ok)
		}
	}
}

func TestTOTPURIRoundTrips(t *testing.T) {
	s := NewTOTPSecret()
	if len(s.Plain()) != 32 {
		t.Fatalf("secret %d characters", len(s.Plain()))
	}
	uri := TOTPURI(s, "tech@example.com")
	if !strings.HasPrefix(uri, "otpauth://totp/ClientSt0r:tech@example.com?") {
		t.Fatalf("uri %s", uri)
	}
	o, err := vault.ParseOTP(uri)
	if err != nil || o.Secret != s.Plain() || o.Issuer != TOTPIssuer || o.Digits != 6 || o.Period != 30 || o.Algorithm != "SHA1" {
		t.Fatalf("parsed %+v %v", o, err)
	}
}

func TestTOTPSecretRedacts(t *testing.T) {
	s := NewTOTPSecret()
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "secret", s)
	j, _ := json.Marshal(map[string]any{"s": s})
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q", s, s, s, s, s), logs.String(), string(j),
		fmt.Sprintf("%+v", struct{ S TOTPSecret }{s})} {
		if strings.Contains(out, s.Plain()) {
			t.Errorf("secret printed: %s", out)
		}
	}
}

func TestRecoveryCodes(t *testing.T) {
	codes := NewRecoveryCodes(RecoveryCodeCount)
	seen := map[string]bool{}
	for _, c := range codes {
		n, ok := NormalizeRecoveryCode(strings.ToUpper(c))
		if len(c) != 11 || c[5] != '-' || !ok || n != strings.ReplaceAll(c, "-", "") || seen[n] {
			t.Fatalf("code %q normalizes to %q %v", c, n, ok)
		}
		seen[n] = true
		if LooksLikeTOTPCode(c) {
			t.Fatalf("%q looks like a TOTP code", c)
		}
	}
	for _, bad := range []string{"", "abcde-fghi", "abcde-fghij1", "abcde-fgh0j", "123456"} {
		if _, ok := NormalizeRecoveryCode(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestCodeLimiterPerAccount(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	ctx := context.Background()
	a := NewAuthenticator(nil, Limits{}, func() time.Time { return now })
	for range DefaultLimits.CodeFailuresPerWindow {
		if ok, _, _ := a.CodeAllowed(ctx, 7); !ok {
			t.Fatal("throttled too early")
		}
		a.CodeFailed(ctx, 7)
	}
	if ok, wait, err := a.CodeAllowed(ctx, 7); ok || wait != CodeWindow || err != nil {
		t.Fatalf("after the limit: %v %v %v", ok, wait, err)
	}
	if ok, _, _ := a.CodeAllowed(ctx, 8); !ok {
		t.Fatal("another account throttled")
	}
	now = now.Add(CodeWindow)
	if ok, _, _ := a.CodeAllowed(ctx, 7); !ok {
		t.Fatal("still throttled after the window")
	}
}
