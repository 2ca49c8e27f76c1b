// Package monitor runs the WAN and website checks: the checkers (http, tcp, icmp, ssl, dns), one
// scheduler per node built on a min-heap of next runs, a bounded worker pool and a batching writer.
package monitor

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	probing "github.com/prometheus-community/pro-bing"

	"clientst0r/internal/store"
)

// Checker runs one check of a monitor. Its HTTP transports are shared by every check.
type Checker struct {
	verify, insecure *http.Transport
	roots            *x509.CertPool // nil: the system's
	resolver         *net.Resolver
	userAgent        string
	now              func() time.Time
}

// NewChecker returns a checker; roots replaces the system's trusted roots when not nil (tests), now
// is the clock results are stamped with.
func NewChecker(roots *x509.CertPool, version string, now func() time.Time) *Checker {
	transport := func(insecure bool) *http.Transport {
		return &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          1024,
			MaxIdleConnsPerHost:   16,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			TLSClientConfig:       &tls.Config{RootCAs: roots, InsecureSkipVerify: insecure},
			ForceAttemptHTTP2:     true,
			ResponseHeaderTimeout: 60 * time.Second,
		}
	}
	return &Checker{verify: transport(false), insecure: transport(true), roots: roots, resolver: net.DefaultResolver,
		userAgent: "ClientSt0r-Monitor/" + version, now: now}
}

// Check runs the monitor's check once and reports the result.
func (c *Checker) Check(ctx context.Context, m store.MonitorConfig) store.CheckResult {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(m.TimeoutSeconds)*time.Second)
	defer cancel()
	start := time.Now()
	r := store.CheckResult{MonitorID: m.ID, CheckedAt: c.now()}
	var err error
	switch m.CheckType {
	case "http":
		err = c.http(ctx, m, &r)
	case "tcp":
		err = c.tcp(ctx, m)
	case "icmp":
		err = c.icmp(ctx, m)
	case "ssl":
		err = c.ssl(ctx, m, &r, r.CheckedAt)
	case "dns":
		err = c.dns(ctx, m)
	default:
		err = fmt.Errorf("unknown check type %q", m.CheckType)
	}
	ms := int(time.Since(start) / time.Millisecond)
	r.ResponseMS = &ms
	r.Up = err == nil
	if err != nil {
		r.Error = describe(ctx, err, m.TimeoutSeconds)
	}
	return r
}

func describe(ctx context.Context, err error, timeout int) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("No response within %d s.", timeout)
	}
	var ne *net.OpError
	if errors.As(err, &ne) && ne.Op == "dial" {
		return "Connection failed: " + ne.Err.Error()
	}
	return err.Error()
}

func (c *Checker) http(ctx context.Context, m store.MonitorConfig, r *store.CheckResult) error {
	t := c.verify
	if !m.VerifyTLS {
		t = c.insecure
	}
	client := &http.Client{Transport: t}
	if !m.FollowRedirects {
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	req, err := http.NewRequestWithContext(ctx, m.HTTPMethod, m.URL, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", c.userAgent)
	res, err := client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return err
	}
	defer res.Body.Close()
	code := res.StatusCode
	r.StatusCode = &code
	if res.TLS != nil && len(res.TLS.PeerCertificates) > 0 {
		exp := res.TLS.PeerCertificates[0].NotAfter.UTC()
		r.SSLExpiresAt = &exp
	}
	ranges, err := store.ParseStatusRanges(m.ExpectedStatus)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(ranges, func(rg [2]int) bool { return code >= rg[0] && code <= rg[1] }) {
		io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
		return fmt.Errorf("Status %d is not in %s.", code, m.ExpectedStatus)
	}
	if m.Keyword != "" {
		body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		if err != nil {
			return fmt.Errorf("Reading the body failed: %v", err)
		}
		if !bytes.Contains(body, []byte(m.Keyword)) {
			return fmt.Errorf("Keyword %q not found in the first 1 MiB of the body.", m.Keyword)
		}
		return nil
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	return nil
}

func (c *Checker) tcp(ctx context.Context, m store.MonitorConfig) error {
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", m.Target())
	if err != nil {
		return err
	}
	return conn.Close()
}

// icmp pings once: through an unprivileged ICMP socket where the system allows it, else a raw
// socket (root or CAP_NET_RAW), else a clear error on the monitor.
func (c *Checker) icmp(ctx context.Context, m store.MonitorConfig) error {
	var last error
	for _, privileged := range []bool{false, true} {
		p, err := probing.NewPinger(m.Host)
		if err != nil {
			return fmt.Errorf("Cannot resolve %s: %v", m.Host, err)
		}
		p.Count = 1
		p.Timeout = time.Duration(m.TimeoutSeconds) * time.Second
		p.SetPrivileged(privileged)
		if err := p.RunWithContext(ctx); err != nil {
			last = err
			if errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			continue
		}
		if p.Statistics().PacketsRecv == 0 {
			return fmt.Errorf("No echo reply from %s within %d s.", m.Host, m.TimeoutSeconds)
		}
		return nil
	}
	return fmt.Errorf("ICMP is not permitted on this server (%v): allow unprivileged ping with sysctl net.ipv4.ping_group_range or give the binary CAP_NET_RAW", last)
}

// ssl checks the certificate: valid (unless verify_tls is off) and not expiring within
// ssl_warning_days.
func (c *Checker) ssl(ctx context.Context, m store.MonitorConfig, r *store.CheckResult, now time.Time) error {
	host, port := m.Host, "443"
	if m.Port != nil {
		port = fmt.Sprint(*m.Port)
	}
	if m.URL != "" {
		u, err := url.Parse(m.URL)
		if err != nil {
			return err
		}
		host = u.Hostname()
		if u.Port() != "" {
			port = u.Port()
		}
	}
	d := tls.Dialer{Config: &tls.Config{ServerName: host, RootCAs: c.roots, InsecureSkipVerify: !m.VerifyTLS}}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		var verr *tls.CertificateVerificationError
		if errors.As(err, &verr) {
			return fmt.Errorf("The certificate is not valid: %v", verr.Err)
		}
		return err
	}
	defer conn.Close()
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return errors.New("The server sent no certificate.")
	}
	exp := certs[0].NotAfter.UTC()
	r.SSLExpiresAt = &exp
	left := exp.Sub(now)
	days := int(left / (24 * time.Hour))
	switch {
	case left <= 0:
		return fmt.Errorf("The certificate expired on %s.", exp.Format(time.DateOnly))
	case days < m.SSLWarningDays:
		return fmt.Errorf("The certificate expires in %d days (%s), within the %d-day warning.", days, exp.Format(time.DateOnly), m.SSLWarningDays)
	}
	return nil
}

func (c *Checker) dns(ctx context.Context, m store.MonitorConfig) error {
	addrs, err := c.resolver.LookupHost(ctx, m.Host)
	if err != nil {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			return fmt.Errorf("%s does not resolve.", m.Host)
		}
		return err
	}
	if m.ExpectedAddress == "" {
		return nil
	}
	want, _ := store.NormalizeIP(m.ExpectedAddress)
	for _, a := range addrs {
		if got, _ := store.NormalizeIP(a); got == want {
			return nil
		}
	}
	return fmt.Errorf("%s resolves to %s, not %s.", m.Host, strings.Join(addrs, ", "), want)
}
