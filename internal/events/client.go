package events

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrPrivateTarget is the error for a connection to an address webhooks and integrations may not reach.
var ErrPrivateTarget = errors.New("refused to connect to a private, loopback, link-local or metadata address (CLIENTST0R_ALLOW_PRIVATE_TARGETS allows it)")

// blocked are ranges outbound requests may not reach unless private targets are allowed.
var blocked = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24",
		"192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4",
		"::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8", "64:ff9b::/96", "2001:db8::/32", "fd00:ec2::254/128",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// Private reports whether ip is one outbound requests must not reach.
func Private(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range blocked {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// guard checks the address actually being connected to, after DNS resolution, so a name that
// resolves to a private address (or changes to one after it was saved) is still refused.
func guard(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("events: unexpected address %q", address)
	}
	if Private(ip) {
		return ErrPrivateTarget
	}
	return nil
}

// NewClient is the HTTP client for webhooks and vendor APIs: a timeout, no redirects followed,
// and, unless allowPrivate, the private-address guard on every connection.
func NewClient(timeout time.Duration, allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = guard
	}
	transport := &http.Transport{
		Proxy:                 nil, // a proxy would connect on our behalf and bypass the guard
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: timeout,
	}
	return &http.Client{
		Timeout:   timeout,
		Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
