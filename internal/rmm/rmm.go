// Package rmm syncs devices from remote monitoring and management platforms. Each vendor has a
// client in its own package (automate, datto, ninjaone, syncro) that follows the vendor's real API
// and yields normalised Devices page by page; the sync engine here maps them to organizations and
// assets the same way for every vendor.
package rmm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The providers of SPEC §8; the values of an integration's provider and of an asset's source.
const (
	Automate = "connectwise_automate"
	Datto    = "datto_rmm"
	NinjaOne = "ninjaone"
	Syncro   = "syncro"
)

// Providers lists them in display order.
var Providers = []string{Automate, Datto, NinjaOne, Syncro}

// CredentialFields names each provider's credential fields; required ones first, optional ones
// marked with a trailing "?".
var CredentialFields = map[string][]string{
	Automate: {"username", "password", "client_id", "two_factor_code?"},
	Datto:    {"api_key", "api_secret"},
	NinjaOne: {"client_id", "client_secret"},
	Syncro:   {"api_token"},
}

// Device is one vendor device, normalised.
type Device struct {
	ExternalID string // the vendor's stable id, as a string
	Name       string
	Hostname   string
	// OrgExternalID is what organization_mapping maps: Automate client id, Datto site uid,
	// NinjaOne organization id, Syncro customer id.
	OrgExternalID string
	OrgName       string
	SiteName      string
	// Address is the site's postal address when the vendor exposes it (Automate locations).
	Address      string
	Manufacturer string
	Model        string
	Serial       string
	OSName       string
	OSVersion    string
	IPAddress    string   // the primary LAN address
	MACAddresses []string // any notation; the engine normalises them
	Online       *bool
	LastSeen     *time.Time
	// Kind is the vendor's device class mapped to an asset_type (workstation, laptop, server, …);
	// "" lets the engine choose.
	Kind      string
	Latitude  *float64
	Longitude *float64
	Raw       json.RawMessage
}

// Alert is a vendor alert (Datto).
type Alert struct {
	ExternalID       string
	DeviceExternalID string
	Priority         string
	Message          string
	Resolved         bool
	OpenedAt         *time.Time
	ResolvedAt       *time.Time
	Raw              json.RawMessage
}

// Provider is one vendor's client.
type Provider interface {
	// Test checks the connection and credentials with one cheap request.
	Test(ctx context.Context) error
	// Devices yields every device, page by page; it stops at the first error yield returns.
	Devices(ctx context.Context, yield func(Device) error) error
}

// AlertProvider is a Provider that also has alerts.
type AlertProvider interface {
	// Alerts yields the open alerts, then the alerts resolved since since.
	Alerts(ctx context.Context, since time.Time, yield func(Alert) error) error
}

// Config is what a client is built from.
type Config struct {
	BaseURL     string // scheme + host [+ port], no API path
	Credentials map[string]string
	// HTTP is the client to use: timeouts, no redirects, and the private-address guard.
	HTTP *http.Client
	// RateScale multiplies the vendor's request rate limit (tests speed it up); 0 means 1.
	RateScale float64
	// Now is the clock (token expiry, Syncro's online derivation); time.Now when nil.
	Now func() time.Time
}

// Errors a run reports to people; clients wrap them with the vendor's detail.
var (
	ErrAuth = errors.New("the RMM rejected the credentials")
)

// Factory builds a provider's client.
type Factory func(Config) (Provider, error)

var factories = map[string]Factory{}

// Register makes a provider's client available; each vendor package registers itself.
func Register(provider string, f Factory) { factories[provider] = f }

// New builds the client of a provider, after checking what every vendor needs: its credentials
// and an http(s) base URL (kept without a trailing slash). It fills in the clock, the rate scale
// and an HTTP client where cfg has none.
func New(provider string, cfg Config) (Provider, error) {
	f, ok := factories[provider]
	if !ok {
		return nil, fmt.Errorf("rmm: unknown provider %q", provider)
	}
	if missing := MissingCredentials(provider, cfg.Credentials); len(missing) > 0 {
		return nil, fmt.Errorf("%s: missing credentials: %s", provider, strings.Join(missing, ", "))
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	if u, err := url.Parse(cfg.BaseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%s: base URL %q is not an http(s) URL", provider, cfg.BaseURL)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RateScale <= 0 {
		cfg.RateScale = 1
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: time.Minute}
	}
	return f(cfg)
}

// MissingCredentials lists the required credential fields of a provider that are empty.
func MissingCredentials(provider string, creds map[string]string) []string {
	var out []string
	for _, f := range CredentialFields[provider] {
		if !strings.HasSuffix(f, "?") && strings.TrimSpace(creds[f]) == "" {
			out = append(out, f)
		}
	}
	return out
}
