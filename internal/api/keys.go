package api

import (
	"net/http"
	"time"

	"clientst0r/internal/list"
	"clientst0r/internal/store"
)

// APIKey is the API shape of a key. Key is set only in the response that creates it.
type APIKey struct {
	ID            int64      `json:"id"`
	URL           string     `json:"url"`
	Name          string     `json:"name"`
	Prefix        string     `json:"prefix"`
	Key           string     `json:"key,omitempty"`
	Role          *string    `json:"role"`
	Organizations []int64    `json:"organizations"`
	CanReveal     bool       `json:"can_reveal"`
	RateLimit     int        `json:"rate_limit"`
	ExpiresAt     *time.Time `json:"expires_at"`
	LastUsedAt    *time.Time `json:"last_used_at"`
	LastUsedIP    *string    `json:"last_used_ip"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
}

func (h *Handler) apiKey(r *http.Request, k store.APIKey) APIKey {
	out := APIKey{ID: k.ID, URL: h.objectURL(r, "keys", k.ID), Name: k.Name, Prefix: k.Prefix, Organizations: k.Orgs,
		CanReveal: k.CanReveal, RateLimit: k.RateLimit, ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt,
		CreatedAt: k.CreatedAt, UpdatedAt: k.UpdatedAt}
	if k.Role != "" {
		out.Role = &k.Role
	}
	if k.LastUsedIP != "" {
		out.LastUsedIP = &k.LastUsedIP
	}
	return out
}

var keyReadOnly = []string{"id", "url", "prefix", "key", "last_used_at", "last_used_ip", "created_at", "updated_at"}

func (h *Handler) listKeys(w http.ResponseWriter, r *http.Request) {
	serveList(h, w, r, &store.APIKeySpec, func(q list.Query) ([]store.APIKey, int, error) {
		return h.store.ListAPIKeys(r.Context(), q)
	}, func(k store.APIKey) APIKey { return h.apiKey(r, k) })
}

func (h *Handler) getKey(w http.ResponseWriter, r *http.Request) {
	get(h, w, r, h.store.GetAPIKey, h.apiKey)
}

func (h *Handler) createKey(w http.ResponseWriter, r *http.Request) {
	b, err := decodeBody(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var in store.NewKey
	b.require("name")
	b.str("name", &in.Name)
	if b.has("role") && !b.isNull("role") {
		b.str("role", &in.Role)
	}
	b.optIDs("organizations", &in.Orgs)
	b.boolean("can_reveal", &in.CanReveal)
	if b.integer("rate_limit", &in.RateLimit) && in.RateLimit == 0 {
		b.errs.Add("rate_limit", "Ensure this value is greater than or equal to 1.")
	}
	b.optTime("expires_at", &in.ExpiresAt)
	b.readOnly(keyReadOnly...)
	if err := b.err(); err != nil {
		h.fail(w, r, err)
		return
	}
	k, plaintext, err := h.store.CreateAPIKey(r.Context(), in)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := h.apiKey(r, k)
	out.Key = plaintext
	w.Header().Set("Location", out.URL)
	w.Header().Set("Cache-Control", "no-store")
	h.writeJSON(w, r, http.StatusCreated, out)
}

// patchKey changes name and rate_limit; the access a key grants is fixed when it is created.
func (h *Handler) patchKey(w http.ResponseWriter, r *http.Request) {
	update(h, w, r, false, func(b *body, k *store.APIKey, _ bool) {
		b.str("name", &k.Name)
		b.integer("rate_limit", &k.RateLimit)
		for _, f := range []string{"role", "organizations", "can_reveal", "expires_at"} {
			if b.has(f) {
				b.errs.Add(f, "This field cannot be changed after the key is created; create a new key instead.")
			}
		}
		b.readOnly(keyReadOnly...)
	}, h.store.UpdateAPIKey, h.apiKey)
}

func (h *Handler) revokeKey(w http.ResponseWriter, r *http.Request) {
	remove(h, w, r, h.store.RevokeAPIKey)
}
