package api

import (
	"context"
	"net/http"
	"time"

	"clientst0r/internal/list"
	"clientst0r/internal/store"
	"clientst0r/internal/vault"
)

// Mask is what a set password reads as; writing it back leaves the password unchanged.
const Mask = "**********"

// Password is the API shape of a vault entry. Password is the mask, "" when none is set, or the
// plaintext with ?reveal=true. Notes appear on the entry itself, never in lists.
type Password struct {
	ID               int64      `json:"id" api:"ro"`
	Organization     int64      `json:"organization" api:"create-only"`
	OrganizationName string     `json:"organization_name" api:"ro"`
	Title            string     `json:"title" api:"req"`
	Username         string     `json:"username"`
	URL              string     `json:"url"`
	PasswordType     string     `json:"password_type"`
	Password         string     `json:"password"`
	OTPSecret        string     `json:"otp_secret,omitempty" api:"wo"`
	HasOTP           bool       `json:"has_otp" api:"ro"`
	Notes            *string    `json:"notes,omitempty"`
	Tags             []string   `json:"tags"`
	ExpiresAt        *time.Time `json:"expires_at"`
	IsExpired        bool       `json:"is_expired" api:"ro"`
	BreachStatus     string     `json:"breach_status" api:"ro"`
	BreachCount      int        `json:"breach_count" api:"ro"`
	BreachCheckedAt  *time.Time `json:"breach_checked_at" api:"ro"`
	Asset            *int64     `json:"asset"`
	CreatedBy        *int64     `json:"created_by" api:"ro"`
	CreatedAt        time.Time  `json:"created_at" api:"ro"`
	UpdatedAt        time.Time  `json:"updated_at" api:"ro"`
}

// Revealed is the answer of POST …/reveal/.
type Revealed struct {
	Password string `json:"password" api:"ro"`
}

// OTPCode is the answer of GET …/otp/.
type OTPCode struct {
	Code          string `json:"code" api:"ro"`
	TimeRemaining int    `json:"time_remaining" api:"ro"`
	Period        int    `json:"period" api:"ro"`
	Digits        int    `json:"digits" api:"ro"`
	Issuer        string `json:"issuer" api:"ro"`
}

func (h *Handler) password(p store.Password, plaintext *string, withNotes bool) Password {
	out := Password{ID: p.ID, Organization: p.OrgID, OrganizationName: p.OrgName, Title: p.Title, Username: p.Username, URL: p.URL,
		PasswordType: p.PasswordType, HasOTP: p.HasOTP, Tags: p.Tags, ExpiresAt: p.ExpiresAt, IsExpired: p.IsExpired(h.store.Now()),
		BreachStatus: p.BreachStatus, BreachCount: p.BreachCount, BreachCheckedAt: p.BreachChecked, Asset: p.AssetID,
		CreatedBy: p.CreatedBy, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
	if out.Tags == nil {
		out.Tags = []string{}
	}
	switch {
	case plaintext != nil:
		out.Password = *plaintext
	case p.HasPassword:
		out.Password = Mask
	}
	if withNotes {
		notes := p.Notes
		out.Notes = &notes
	}
	return out
}

func (h *Handler) passwordDetail(_ *http.Request, p store.Password) Password {
	return h.password(p, nil, true)
}

func applyPassword(b *body, p *store.Password, replace bool) {
	if replace { // back to defaults, except the read-only fields and the write-only secrets
		*p = store.Password{Scoped: p.Scoped, BreachStatus: p.BreachStatus, BreachCount: p.BreachCount,
			BreachChecked: p.BreachChecked, CreatedBy: p.CreatedBy, HasPassword: p.HasPassword, HasOTP: p.HasOTP}
		b.require("title")
	}
	b.org(&p.OrgID)
	b.str("title", &p.Title)
	b.str("username", &p.Username)
	b.str("url", &p.URL)
	b.str("password_type", &p.PasswordType)
	secret := func(name string, dst **string) {
		if !b.has(name) {
			return
		}
		v := ""
		if !b.isNull(name) {
			b.str(name, &v)
		}
		if v != Mask || name != "password" {
			*dst = &v
		}
	}
	secret("password", &p.SetPassword)
	secret("otp_secret", &p.SetOTP)
	b.str("notes", &p.Notes)
	b.strings("tags", &p.Tags)
	b.optTime("expires_at", &p.ExpiresAt)
	b.optID("asset", &p.AssetID)
	b.readOnly("id", "has_otp", "is_expired", "breach_status", "breach_count", "breach_checked_at", "created_by", "created_at", "updated_at")
}

func (h *Handler) listPasswords(w http.ResponseWriter, r *http.Request) {
	serveList(h, w, r, &store.PasswordSpec, func(q list.Query) ([]store.Password, int, error) {
		return h.store.ListPasswords(r.Context(), q)
	}, func(p store.Password) Password { return h.password(p, nil, false) })
}

// getPassword answers one entry; with ?reveal=true it includes the plaintext (audited first).
func (h *Handler) getPassword(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("reveal") != "true" {
		get(h, w, r, h.store.GetPassword, h.passwordDetail)
		return
	}
	id, err := pathID(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p, plain, err := h.store.RevealPassword(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	h.writeJSON(w, r, http.StatusOK, h.password(p, &plain, true))
}

func (h *Handler) revealPassword(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	action(h, w, r, http.StatusOK, func(ctx context.Context, id int64) (string, error) {
		_, plain, err := h.store.RevealPassword(ctx, id)
		return plain, err
	}, func(_ *http.Request, plain string) Revealed { return Revealed{Password: plain} })
}

func (h *Handler) passwordOTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	action(h, w, r, http.StatusOK, h.store.PasswordOTP, func(_ *http.Request, c vault.Code) OTPCode {
		return OTPCode{Code: c.Code, TimeRemaining: c.TimeRemaining, Period: c.Period, Digits: c.Digits, Issuer: c.Issuer}
	})
}

func (h *Handler) createPassword(w http.ResponseWriter, r *http.Request) {
	create(h, w, r, applyPassword, h.store.CreatePassword, h.passwordDetail, "passwords", func(p store.Password) int64 { return p.ID })
}

func (h *Handler) replacePassword(w http.ResponseWriter, r *http.Request) {
	update(h, w, r, true, applyPassword, h.store.UpdatePassword, h.passwordDetail)
}

func (h *Handler) patchPassword(w http.ResponseWriter, r *http.Request) {
	update(h, w, r, false, applyPassword, h.store.UpdatePassword, h.passwordDetail)
}

func (h *Handler) deletePassword(w http.ResponseWriter, r *http.Request) {
	remove(h, w, r, h.store.DeletePassword)
}
