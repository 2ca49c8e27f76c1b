// Package config reads the CLIENTST0R_* environment into a typed, validated configuration. Every
// mistake is reported on its own line, all at once, before anything starts.
package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"clientst0r/internal/db"
)

// Config is the whole configuration of SPEC §1.
type Config struct {
	Addr                string
	DataDir             string
	DatabaseURL         string
	Dialect             db.Dialect
	MasterKey           []byte // nil: read or generate <DataDir>/master.key (SQLite only)
	BaseURL             string // no trailing slash; "" derives from the request
	AllowPrivateTargets bool
	HIBPURL             string // "" when off
	NVDURL              string // "" when off
	NVDAPIKey           string // optional; raises NVD's rate limit from 5 to 50 requests per 30 s
	// RequireTwoFactor makes every account use TOTP two-factor to sign in to the web UI (an
	// organization can require it of its own members). API keys are not affected.
	RequireTwoFactor bool
}

// Load reads the configuration through getenv (os.Getenv in production).
func Load(getenv func(string) string) (Config, error) {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("CLIENTST0R_%s: %s", name, fmt.Sprintf(format, args...)))
	}
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv("CLIENTST0R_" + name)); v != "" {
			return v
		}
		return def
	}

	c := Config{Addr: get("ADDR", "127.0.0.1:8080"), DataDir: get("DATA_DIR", "./data")}
	if host, port, err := net.SplitHostPort(c.Addr); err != nil {
		bad("ADDR", "%q is not host:port (for example 127.0.0.1:8080 or :8080)", c.Addr)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		bad("ADDR", "port %q is not a number from 0 to 65535", port)
	} else if host != "" && net.ParseIP(host) == nil && !validHostname(host) {
		bad("ADDR", "host %q is neither an IP address nor a host name", host)
	}

	c.DatabaseURL = get("DATABASE_URL", "sqlite://"+filepath.Join(c.DataDir, "clientst0r.db"))
	dialect, _, err := db.ParseURL(c.DatabaseURL)
	if err != nil {
		bad("DATABASE_URL", "%v", err)
	}
	c.Dialect = dialect

	if mk := get("MASTER_KEY", ""); mk != "" {
		key, err := decodeKey(mk)
		if err != nil {
			bad("MASTER_KEY", "%v", err)
		}
		c.MasterKey = key
	} else if dialect == db.Postgres {
		bad("MASTER_KEY", "required on PostgreSQL (base64 of 32 random bytes, e.g. from `openssl rand -base64 32`); every node must share it")
	}

	if b := get("BASE_URL", ""); b != "" {
		u, err := url.Parse(b)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			bad("BASE_URL", "%q is not an absolute http(s) URL without query, like https://docs.example.com", b)
		}
		c.BaseURL = strings.TrimSuffix(b, "/")
	}

	c.AllowPrivateTargets = boolean(get("ALLOW_PRIVATE_TARGETS", "false"), "ALLOW_PRIVATE_TARGETS", bad)
	c.RequireTwoFactor = boolean(get("REQUIRE_2FA", "false"), "REQUIRE_2FA", bad)

	c.HIBPURL = serviceURL(get("HIBP_URL", "https://api.pwnedpasswords.com"), "HIBP_URL", bad)
	c.NVDURL = serviceURL(get("NVD_URL", "https://services.nvd.nist.gov"), "NVD_URL", bad)
	c.NVDAPIKey = get("NVD_API_KEY", "")
	return c, errors.Join(errs...)
}

func boolean(v, name string, bad func(string, string, ...any)) bool {
	switch v = strings.ToLower(v); v {
	case "true", "1", "yes":
		return true
	case "false", "0", "no":
		return false
	}
	bad(name, "%q is not true or false", v)
	return false
}

func serviceURL(v, name string, bad func(string, string, ...any)) string {
	if strings.EqualFold(v, "off") {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad(name, "%q is not an http(s) URL or \"off\"", v)
		return ""
	}
	return strings.TrimSuffix(v, "/")
}

// decodeKey accepts standard or URL-safe base64, padded or not, of exactly 32 bytes.
func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) != 32 {
				return nil, fmt.Errorf("decodes to %d bytes; it must be 32", len(k))
			}
			return k, nil
		}
	}
	return nil, errors.New("is not base64")
}

// DecodeKey exposes the master key format to the key file reader.
func DecodeKey(s string) ([]byte, error) { return decodeKey(strings.TrimSpace(s)) }

func validHostname(h string) bool {
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}
