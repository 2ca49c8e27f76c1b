// Package rmmtest defines the vendor-neutral fixtures the fake vendor servers serve, so the sync
// engine's tests and the benchmarks drive all four vendors the same way. Each vendor package has a
// fake (automate/automatefake, datto/dattofake, …) that speaks the real API on 127.0.0.1.
package rmmtest

import "time"

// Device is a device as a test describes it; each fake renders it in its vendor's JSON.
type Device struct {
	ID           int64 // unique per fake; rendered as the vendor's id (and uid where the vendor has one)
	Org          int64 // vendor client / site / organization / customer id
	OrgName      string
	Site         string // site or location name
	Name         string // host name
	Manufacturer string
	Model        string
	Serial       string
	MAC          string // aa:bb:cc:dd:ee:ff; rendered in the vendor's notation
	IP           string
	OSName       string
	OSVersion    string
	Kind         string // workstation, laptop or server
	Online       bool
	LastSeen     time.Time
}

// Alert is a Datto alert as a test describes it.
type Alert struct {
	UID        string
	DeviceID   int64
	Priority   string // Critical, High, Moderate, Low, Information
	Message    string
	Resolved   bool
	At         time.Time
	ResolvedAt time.Time
}

// Fake is a fake vendor server.
type Fake interface {
	// URL is the base URL to configure an integration with (scheme and host, no API path).
	URL() string
	// Credentials are credentials the fake accepts.
	Credentials() map[string]string
	// SetDevices replaces the devices the fake serves.
	SetDevices([]Device)
	// Requests counts every request served, token requests included.
	Requests() int
	// Throttle makes the next n API requests answer 429 before the fake serves normally again.
	Throttle(n int)
	// ExpireTokens makes every token issued so far invalid (401), as after an expiry mid-sync.
	ExpireTokens()
	Close()
}
