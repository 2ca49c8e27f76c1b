package vault

import (
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// OTP is a TOTP secret with its parameters (RFC 6238), as sealed in the vault.
type OTP struct {
	Secret    string `json:"secret"` // base32, upper case, no padding
	Digits    int    `json:"digits"`
	Period    int    `json:"period"`
	Algorithm string `json:"algorithm"` // SHA1, SHA256, SHA512
	Issuer    string `json:"issuer"`
}

// ParseOTP accepts a base32 secret (spaces and padding allowed) or an otpauth://totp/ URI whose
// digits, period, algorithm and issuer are honoured.
func ParseOTP(in string) (OTP, error) {
	in = strings.TrimSpace(in)
	o := OTP{Digits: 6, Period: 30, Algorithm: "SHA1"}
	if strings.HasPrefix(strings.ToLower(in), "otpauth://") {
		u, err := url.Parse(in)
		if err != nil {
			return o, errors.New("not a valid otpauth:// URI")
		}
		if !strings.EqualFold(u.Host, "totp") {
			return o, errors.New("only otpauth://totp/ URIs are supported (HOTP counters are not)")
		}
		q := u.Query()
		in = q.Get("secret")
		if in == "" {
			return o, errors.New("the otpauth URI has no secret")
		}
		if d := q.Get("digits"); d != "" {
			n, err := strconv.Atoi(d)
			if err != nil || n < 6 || n > 8 {
				return o, errors.New("digits must be 6, 7 or 8")
			}
			o.Digits = n
		}
		if p := q.Get("period"); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 600 {
				return o, errors.New("period must be 1 to 600 seconds")
			}
			o.Period = n
		}
		if a := strings.ToUpper(strings.ReplaceAll(q.Get("algorithm"), "-", "")); a != "" {
			if a != "SHA1" && a != "SHA256" && a != "SHA512" {
				return o, errors.New("algorithm must be SHA1, SHA256 or SHA512")
			}
			o.Algorithm = a
		}
		o.Issuer = q.Get("issuer")
		if label := strings.TrimPrefix(u.Path, "/"); o.Issuer == "" && strings.Contains(label, ":") {
			o.Issuer = strings.TrimSpace(label[:strings.Index(label, ":")])
		}
		if len(o.Issuer) > 200 {
			o.Issuer = o.Issuer[:200]
		}
	}
	secret := strings.ToUpper(strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '=' {
			return -1
		}
		return r
	}, in))
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil || len(key) == 0 {
		return o, errors.New("the TOTP secret is not valid base32")
	}
	if len(key) > 128 {
		return o, errors.New("the TOTP secret is too long")
	}
	o.Secret = secret
	return o, nil
}

// Marshal and UnmarshalOTP move an OTP in and out of its sealed form.
func (o OTP) Marshal() []byte {
	b, _ := json.Marshal(o)
	return b
}

// UnmarshalOTP reads a sealed OTP.
func UnmarshalOTP(b []byte) (OTP, error) {
	var o OTP
	err := json.Unmarshal(b, &o)
	return o, err
}

// Code is one TOTP code and how long it stays valid.
type Code struct {
	Code          string
	TimeRemaining int
	Period        int
	Digits        int
	Issuer        string
}

// Code computes the TOTP code at t.
func (o OTP) Code(t time.Time) (Code, error) {
	alg := map[string]otp.Algorithm{"SHA1": otp.AlgorithmSHA1, "SHA256": otp.AlgorithmSHA256, "SHA512": otp.AlgorithmSHA512}[o.Algorithm]
	code, err := totp.GenerateCodeCustom(o.Secret, t, totp.ValidateOpts{Period: uint(o.Period), Digits: otp.Digits(o.Digits), Algorithm: alg})
	if err != nil {
		return Code{}, fmt.Errorf("vault: totp: %w", err)
	}
	return Code{Code: code, TimeRemaining: o.Period - int(t.Unix()%int64(o.Period)), Period: o.Period, Digits: o.Digits, Issuer: o.Issuer}, nil
}
