package rmm

import (
	"slices"
	"sync"
)

// AuditData is hardware detail a vendor serves only per device: Datto RMM's device list has no
// serial, make, model or MAC, which cost one audit request per device.
type AuditData struct {
	Manufacturer string
	Model        string
	Serial       string
	MACAddresses []string
}

// AuditCache keeps each device's audit data between runs together with the vendor's audit stamp it
// was read at (Datto's lastAuditDate, epoch ms). A client asks for a device's audit again only when
// the stamp in the device list differs from the cached one, so a steady-state sync of 5,000 Datto
// devices costs a few dozen requests instead of 5,000 against the account's 600 per minute. Clients
// call it from one goroutine at a time. The engine persists it (the device record already holds
// serial, make, model and MACs; only the stamp needs storing beside them).
type AuditCache interface {
	Get(deviceID string) (stamp int64, d AuditData, ok bool)
	Put(deviceID string, stamp int64, d AuditData)
}

// AuditCaching is a Provider that can use an AuditCache; the engine offers it one right after New.
// Without one the client fetches every device's audit on every run.
type AuditCaching interface {
	UseAuditCache(AuditCache)
}

// MemoryAuditCache is an AuditCache in memory, safe for concurrent use: for tests, benchmarks, and
// an engine that keeps one per integration for the life of the process.
type MemoryAuditCache struct {
	mu sync.Mutex
	m  map[string]memoryAudit
}

type memoryAudit struct {
	stamp int64
	data  AuditData
}

// NewMemoryAuditCache returns an empty cache.
func NewMemoryAuditCache() *MemoryAuditCache {
	return &MemoryAuditCache{m: map[string]memoryAudit{}}
}

// Get returns the cached audit of a device.
func (c *MemoryAuditCache) Get(deviceID string) (int64, AuditData, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[deviceID]
	e.data.MACAddresses = slices.Clone(e.data.MACAddresses) // callers may keep or change the slice
	return e.stamp, e.data, ok
}

// Put stores the audit of a device read at stamp.
func (c *MemoryAuditCache) Put(deviceID string, stamp int64, d AuditData) {
	d.MACAddresses = slices.Clone(d.MACAddresses)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[deviceID] = memoryAudit{stamp, d}
}

// Len is the number of devices cached.
func (c *MemoryAuditCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
