package vault

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"hash"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// rfcTOTP is an independent implementation written from RFC 4226 §5.3 and RFC 6238 §4.
func rfcTOTP(key []byte, t time.Time, period int64, digits int, h func() hash.Hash) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(t.Unix()/period))
	m := hmac.New(h, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

var algs = map[string]func() hash.Hash{"SHA1": sha1.New, "SHA256": sha256.New, "SHA512": sha512.New}

// The test vectors of RFC 6238 Appendix B (8 digits, 30 s).
func TestRFC6238Vectors(t *testing.T) {
	seeds := map[string]string{
		"SHA1":   "12345678901234567890",
		"SHA256": "12345678901234567890123456789012",
		"SHA512": "1234567890123456789012345678901234567890123456789012345678901234",
	}
	vectors := []struct {
		unix  int64
		codes map[string]string
	}{
		{59, map[string]string{"SHA1": "94287082", "SHA256": "46119246", "SHA512": "90693936"}},
		{1111111109, map[string]string{"SHA1": "07081804", "SHA256": "68084774", "SHA512": "25091201"}},
		{1111111111, map[string]string{"SHA1": "14050471", "SHA256": "67062674", "SHA512": "99943326"}},
		{1234567890, map[string]string{"SHA1": "89005924", "SHA256": "91819424", "SHA512": "93441116"}},
		{2000000000, map[string]string{"SHA1": "69279037", "SHA256": "90698825", "SHA512": "38618901"}},
		{20000000000, map[string]string{"SHA1": "65353130", "SHA256": "77737706", "SHA512": "47863826"}},
	}
	for alg, seed := range seeds {
		secret := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte(seed))
		o, err := ParseOTP(fmt.Sprintf("otpauth://totp/ACME:ops@acme.test?secret=%s&algorithm=%s&digits=8&period=30&issuer=ACME", secret, alg))
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vectors {
			c, err := o.Code(time.Unix(v.unix, 0))
			if err != nil || c.Code != v.codes[alg] {
				t.Errorf("%s at %d: %q (%v), want %s", alg, v.unix, c.Code, err, v.codes[alg])
			}
			if got := rfcTOTP([]byte(seed), time.Unix(v.unix, 0), 30, 8, algs[alg]); got != v.codes[alg] {
				t.Fatalf("the reference implementation is wrong: %s", got)
			}
		}
	}
}

// Random secrets, times, digits, periods and algorithms agree with the reference implementation.
func TestCodesMatchReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		key := make([]byte, 10+r.IntN(30))
		for j := range key {
			key[j] = byte(r.Uint32())
		}
		alg := []string{"SHA1", "SHA256", "SHA512"}[i%3]
		digits := []int{6, 8}[i%2]
		period := []int{30, 60}[(i/2)%2]
		secret := base32.StdEncoding.EncodeToString(key)
		o, err := ParseOTP(fmt.Sprintf("otpauth://totp/x?secret=%s&algorithm=%s&digits=%d&period=%d", strings.TrimRight(secret, "="), alg, digits, period))
		if err != nil {
			t.Fatal(err)
		}
		at := time.Unix(r.Int64N(4_000_000_000), 0)
		c, err := o.Code(at)
		if err != nil {
			t.Fatal(err)
		}
		if want := rfcTOTP(key, at, int64(period), digits, algs[alg]); c.Code != want {
			t.Fatalf("%s/%d/%ds at %d: %s, want %s", alg, digits, period, at.Unix(), c.Code, want)
		}
		if c.TimeRemaining < 1 || c.TimeRemaining > period || c.Period != period || c.Digits != digits {
			t.Fatalf("%+v", c)
		}
	}
}

func TestParseOTP(t *testing.T) {
	o, err := ParseOTP("jbsw y3dp ehpk 3pxp")
	if err != nil || o.Secret != "JBSWY3DPEHPK3PXP" || o.Digits != 6 || o.Period != 30 || o.Algorithm != "SHA1" {
		t.Fatalf("plain base32: %+v %v", o, err)
	}
	o, err = ParseOTP("otpauth://totp/Example%20Co:alice@example.com?secret=JBSWY3DPEHPK3PXP&digits=8&period=60&algorithm=SHA512")
	if err != nil || o.Digits != 8 || o.Period != 60 || o.Algorithm != "SHA512" || o.Issuer != "Example Co" {
		t.Fatalf("URI: %+v %v", o, err)
	}
	for _, bad := range []string{"", "not base32!", "otpauth://hotp/x?secret=JBSWY3DPEHPK3PXP&counter=1",
		"otpauth://totp/x?digits=6", "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=5",
		"otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&algorithm=MD5", "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&period=0"} {
		if _, err := ParseOTP(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseOTP(f *testing.F) {
	for _, s := range []string{"JBSWY3DPEHPK3PXP", "otpauth://totp/a:b?secret=JBSWY3DPEHPK3PXP&digits=8&period=60&algorithm=SHA256&issuer=a",
		"otpauth://totp/?secret=", "otpauth://%zz", "====", "otpauth://totp/x?secret=A&period=99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		o, err := ParseOTP(in)
		if err != nil {
			return
		}
		if o.Digits < 6 || o.Digits > 8 || o.Period < 1 || o.Period > 600 || algs[o.Algorithm] == nil {
			t.Fatalf("accepted parameters out of range: %+v", o)
		}
		if _, err := o.Code(time.Unix(1_700_000_000, 0)); err != nil {
			t.Fatalf("accepted %q but cannot make a code: %v", in, err)
		}
	})
}
