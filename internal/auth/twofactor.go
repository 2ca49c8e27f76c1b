package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"clientst0r/internal/apperr"
	"clientst0r/internal/vault"
)

// Two-factor sign-in uses TOTP with the parameters every authenticator app supports (RFC 6238:
// HMAC-SHA1, 30-second steps, 6 digits). A code is accepted one step either side of now, for clock
// drift, and each step only once.
const (
	TOTPIssuer = "ClientSt0r"
	TOTPPeriod = 30
	TOTPDigits = 6
	// TOTPSkew is how many steps before and after the current one are accepted.
	TOTPSkew = 1
	// RecoveryCodeCount is how many one-time recovery codes an enrolment gets.
	RecoveryCodeCount = 10
	// CodeWindow is the window of the per-account limit on wrong two-factor codes.
	CodeWindow = 15 * time.Minute
)

// ErrTwoFactorSetup answers an API request made with the session of a user who must enrol in
// two-factor first.
var ErrTwoFactorSetup = &apperr.Error{Kind: apperr.Forbidden,
	Detail: "Two-factor authentication is required for this account: set it up under Profile → Two-factor (/profile/two-factor)."}

// TOTPSecret is a base32 TOTP secret (no padding). It redacts itself in logs, fmt and JSON; Plain
// gives the value where it must be shown or sealed.
type TOTPSecret string

// Plain is the secret itself.
func (s TOTPSecret) Plain() string { return string(s) }

func (TOTPSecret) String() string               { return "[redacted]" }
func (TOTPSecret) Format(f fmt.State, _ rune)   { io.WriteString(f, "[redacted]") }
func (TOTPSecret) LogValue() slog.Value         { return slog.StringValue("[redacted]") }
func (TOTPSecret) MarshalJSON() ([]byte, error) { return []byte(`"[redacted]"`), nil }

// NewTOTPSecret returns a random 160-bit secret, the size RFC 4226 recommends.
func NewTOTPSecret() TOTPSecret {
	b := make([]byte, 20)
	rand.Read(b)
	return TOTPSecret(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// TOTPURI is the otpauth:// URI an authenticator app scans: issuer ClientSt0r, the account's email.
func TOTPURI(secret TOTPSecret, email string) string {
	v := url.Values{"secret": {secret.Plain()}, "issuer": {TOTPIssuer}, "algorithm": {"SHA1"},
		"digits": {fmt.Sprint(TOTPDigits)}, "period": {fmt.Sprint(TOTPPeriod)}}
	return "otpauth://totp/" + url.PathEscape(TOTPIssuer+":"+email) + "?" + v.Encode()
}

// TOTPStep is the time step t falls in.
func TOTPStep(t time.Time) int64 { return t.Unix() / TOTPPeriod }

// LooksLikeTOTPCode reports whether s (spaces allowed) is six digits, as opposed to a recovery code.
func LooksLikeTOTPCode(s string) bool {
	s = strings.ReplaceAll(strings.TrimSpace(s), " ", "")
	if len(s) != TOTPDigits {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// VerifyTOTP checks code against secret at now, TOTPSkew steps either side, and returns the step it
// matched. Steps at or before lastStep are refused, so a code used once does not work again; the
// caller stores the returned step as the new lastStep. Codes are computed by the vault's TOTP.
func VerifyTOTP(secret TOTPSecret, code string, now time.Time, lastStep int64) (int64, bool) {
	if !LooksLikeTOTPCode(code) {
		return 0, false
	}
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	o := vault.OTP{Secret: secret.Plain(), Digits: TOTPDigits, Period: TOTPPeriod, Algorithm: "SHA1"}
	cur := TOTPStep(now)
	for step := cur - TOTPSkew; step <= cur+TOTPSkew; step++ {
		if step <= lastStep {
			continue
		}
		c, err := o.Code(time.Unix(step*TOTPPeriod, 0))
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(c.Code), []byte(code)) == 1 {
			return step, true
		}
	}
	return 0, false
}

// recoveryAlphabet is lower-case base32: no 0/1/8/9 to confuse with o, l, b or g.
const recoveryAlphabet = "abcdefghijklmnopqrstuvwxyz234567"

// recoveryLen is the length of a recovery code without its hyphen: 50 random bits.
const recoveryLen = 10

// NewRecoveryCodes returns n one-time recovery codes shaped "abcde-fghij".
func NewRecoveryCodes(n int) []string {
	out := make([]string, n)
	b := make([]byte, recoveryLen)
	for i := range out {
		rand.Read(b)
		for j := range b {
			b[j] = recoveryAlphabet[b[j]&31]
		}
		out[i] = string(b[:recoveryLen/2]) + "-" + string(b[recoveryLen/2:])
	}
	return out
}

// NormalizeRecoveryCode reduces what a user typed to the stored form (lower case, no spaces or
// hyphens) and reports whether it can be a recovery code at all.
func NormalizeRecoveryCode(s string) (string, bool) {
	s = strings.ToLower(strings.NewReplacer(" ", "", "-", "", "\t", "").Replace(strings.TrimSpace(s)))
	if len(s) != recoveryLen {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(recoveryAlphabet, s[i]) < 0 {
			return "", false
		}
	}
	return s, true
}

func (a *Authenticator) codeLimit() int {
	if a.limits.CodeFailuresPerWindow > 0 {
		return a.limits.CodeFailuresPerWindow
	}
	return DefaultLimits.CodeFailuresPerWindow
}

// CodeAllowed reports whether another two-factor code (or recovery code, or re-authentication for a
// two-factor change) may be tried for the account now, and if not, how long to wait.
func (a *Authenticator) CodeAllowed(ctx context.Context, userID int64) (bool, time.Duration, error) {
	d, err := a.codes.Peek(ctx, fmt.Sprintf("code-user:%d", userID), a.codeLimit())
	if err != nil {
		return false, 0, err
	}
	if d.Remaining <= 0 {
		return false, d.Reset, nil
	}
	return true, 0, nil
}

// CodeFailed counts a wrong code against the account.
func (a *Authenticator) CodeFailed(ctx context.Context, userID int64) error {
	_, err := a.codes.Take(ctx, fmt.Sprintf("code-user:%d", userID), a.codeLimit())
	return err
}
