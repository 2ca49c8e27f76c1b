package api

import (
	"net/http"
	"time"

	"clientst0r/internal/list"
	"clientst0r/internal/store"
)

// AuditEntry is the API shape of an audit row.
type AuditEntry struct {
	ID           int64          `json:"id"`
	Timestamp    time.Time      `json:"timestamp"`
	Actor        *Actor         `json:"actor"`
	APIKey       *string        `json:"api_key"`
	IPAddress    string         `json:"ip_address"`
	UserAgent    string         `json:"user_agent"`
	Organization *int64         `json:"organization"`
	Action       string         `json:"action"`
	ObjectType   string         `json:"object_type"`
	ObjectID     *int64         `json:"object_id"`
	ObjectRepr   string         `json:"object_repr"`
	Changes      map[string]any `json:"changes"`
}

// Actor identifies who did something.
type Actor struct {
	ID    *int64 `json:"id"`
	Email string `json:"email"`
}

func auditEntry(e store.AuditEntry) AuditEntry {
	out := AuditEntry{ID: e.ID, Timestamp: e.Timestamp, IPAddress: e.IPAddress, UserAgent: e.UserAgent,
		Organization: e.OrganizationID, Action: e.Action, ObjectType: e.ObjectType, ObjectID: e.ObjectID,
		ObjectRepr: e.ObjectRepr, Changes: e.Changes}
	if e.ActorID != nil || e.ActorEmail != "" {
		out.Actor = &Actor{ID: e.ActorID, Email: e.ActorEmail}
	}
	if e.APIKeyPrefix != "" {
		out.APIKey = &e.APIKeyPrefix
	}
	return out
}

func (h *Handler) listAudit(w http.ResponseWriter, r *http.Request) {
	serveList(h, w, r, &store.AuditSpec, func(q list.Query) ([]store.AuditEntry, int, error) {
		return h.store.ListAudit(r.Context(), q)
	}, auditEntry)
}
