package rmm

import (
	"context"
	"encoding/json"
	"sync"

	"clientst0r/internal/store"
)

// storedAudits is the AuditCache an engine gives a client: the integration's audits loaded from the
// database when the sync starts, and the ones the sync read saved when its listing completes.
type storedAudits struct {
	*MemoryAuditCache
	mu    sync.Mutex
	dirty map[string]bool
}

func loadAudits(ctx context.Context, s *store.Store, integration int64) (*storedAudits, error) {
	rows, err := s.RMMAudits(ctx, integration)
	if err != nil {
		return nil, err
	}
	c := &storedAudits{MemoryAuditCache: NewMemoryAuditCache(), dirty: map[string]bool{}}
	for _, r := range rows {
		var d AuditData
		if json.Unmarshal(r.Data, &d) == nil {
			c.MemoryAuditCache.Put(r.ExternalID, r.Stamp, d)
		}
	}
	return c, nil
}

func (c *storedAudits) Put(deviceID string, stamp int64, d AuditData) {
	c.MemoryAuditCache.Put(deviceID, stamp, d)
	c.mu.Lock()
	c.dirty[deviceID] = true
	c.mu.Unlock()
}

// save writes the audits read since loading.
func (c *storedAudits) save(ctx context.Context, s *store.Store, integration int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []store.RMMAudit
	for id := range c.dirty {
		stamp, d, _ := c.MemoryAuditCache.Get(id)
		b, err := json.Marshal(d)
		if err != nil {
			return err
		}
		out = append(out, store.RMMAudit{ExternalID: id, Stamp: stamp, Data: b})
	}
	if err := s.SaveRMMAudits(ctx, integration, out); err != nil {
		return err
	}
	clear(c.dirty)
	return nil
}
