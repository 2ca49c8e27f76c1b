package web

import (
	"net/http"
	"strconv"
	"strings"

	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
	"clientst0r/internal/store"
)

// The vault pages: the list (search and filters through the API's list machinery), an entry with
// reveal and copy, a live TOTP code, the breach badge, and create/edit forms.

func (h *Handler) vaultList(w http.ResponseWriter, r *http.Request) {
	v := map[string]any{"Title": "Vault", "Types": store.PasswordTypes, "BreachStatuses": store.BreachStatuses}
	lq := listFilters(r, &store.PasswordSpec, v, "search", "organization", "password_type", "breach_status", "page")
	entries, n, err := h.store.ListPasswords(r.Context(), lq)
	if err != nil && !apperr.Is(err, apperr.NotFound) && !apperr.Is(err, apperr.Forbidden) {
		h.serverError(w, r, err)
		return
	}
	v["Entries"], v["Count"], v["Now"] = entries, n, h.store.Now()
	pager(v, lq, n)
	h.render(w, r, http.StatusOK, "vault_list", v)
}

func (h *Handler) vaultEntry(w http.ResponseWriter, r *http.Request) {
	id, ok := pathInt(r, "id")
	if !ok {
		http.NotFound(w, r)
		return
	}
	h.renderEntry(w, r, http.StatusOK, id, map[string]any{})
}

func (h *Handler) renderEntry(w http.ResponseWriter, r *http.Request, status int, id int64, v map[string]any) {
	p, err := h.store.GetPassword(r.Context(), id)
	if err != nil {
		h.pageError(w, r, err)
		return
	}
	c := auth.CallerFrom(r.Context())
	v["Title"], v["P"], v["Expired"] = p.Title, p, p.IsExpired(h.store.Now())
	v["CanReveal"], v["CanEdit"], v["CanDelete"] = c.Can(p.OrgID, auth.VaultReveal), c.Can(p.OrgID, auth.VaultEdit), c.Can(p.OrgID, auth.VaultDelete)
	w.Header().Set("Cache-Control", "no-store")
	h.render(w, r, status, "vault_entry", v)
}

// vaultReveal shows the plaintext once, after the reveal is on record.
func (h *Handler) vaultReveal(w http.ResponseWriter, r *http.Request) {
	id, ok := pathInt(r, "id")
	if !ok {
		http.NotFound(w, r)
		return
	}
	_, plain, err := h.store.RevealPassword(r.Context(), id)
	if err != nil {
		h.pageError(w, r, err)
		return
	}
	h.renderEntry(w, r, http.StatusOK, id, map[string]any{"Revealed": plain, "Shown": true})
}

// entryForm is the create/edit form's state.
type entryForm struct {
	Org          int64
	Title        string
	Username     string
	URL          string
	PasswordType string
	Tags         string
	Notes        string
	Expires      string
}

func (h *Handler) vaultNew(w http.ResponseWriter, r *http.Request) {
	h.renderForm(w, r, http.StatusOK, 0, entryForm{PasswordType: "website"}, "")
}

func (h *Handler) vaultEdit(w http.ResponseWriter, r *http.Request) {
	id, ok := pathInt(r, "id")
	if !ok {
		http.NotFound(w, r)
		return
	}
	p, err := h.store.GetPassword(r.Context(), id)
	if err != nil {
		h.pageError(w, r, err)
		return
	}
	f := entryForm{Org: p.OrgID, Title: p.Title, Username: p.Username, URL: p.URL, PasswordType: p.PasswordType,
		Tags: strings.Join(p.Tags, ", "), Notes: p.Notes}
	if p.ExpiresAt != nil {
		f.Expires = p.ExpiresAt.UTC().Format("2006-01-02")
	}
	h.renderForm(w, r, http.StatusOK, id, f, "")
}

func (h *Handler) renderForm(w http.ResponseWriter, r *http.Request, status int, id int64, f entryForm, problem string) {
	writable := h.orgsWith(r, auth.VaultCreate)
	title := "New vault entry"
	if id != 0 {
		title = "Edit " + f.Title
	}
	w.Header().Set("Cache-Control", "no-store")
	h.render(w, r, status, "vault_form", map[string]any{"Title": title, "ID": id, "Form": f, "Orgs": writable,
		"Types": store.PasswordTypes, "Error": problem})
}

// readEntryForm applies the form to an entry. The password and TOTP fields change the stored
// secret only when filled in (or when "clear" is ticked).
func readEntryForm(r *http.Request, p *store.Password) (entryForm, string) {
	f := entryForm{Title: r.PostForm.Get("title"), Username: r.PostForm.Get("username"), URL: r.PostForm.Get("url"),
		PasswordType: r.PostForm.Get("password_type"), Tags: r.PostForm.Get("tags"), Notes: r.PostForm.Get("notes"),
		Expires: r.PostForm.Get("expires")}
	f.Org, _ = strconv.ParseInt(r.PostForm.Get("organization"), 10, 64)
	p.Title, p.Username, p.URL, p.PasswordType, p.Notes = f.Title, f.Username, f.URL, f.PasswordType, f.Notes
	p.Tags = nil
	for _, t := range strings.Split(f.Tags, ",") {
		if t = strings.TrimSpace(t); t != "" {
			p.Tags = append(p.Tags, t)
		}
	}
	for field, dst := range map[string]**string{"password": &p.SetPassword, "otp_secret": &p.SetOTP} {
		if v := r.PostForm.Get(field); v != "" {
			*dst = &v
		} else if r.PostForm.Get("clear_"+field) != "" {
			empty := ""
			*dst = &empty
		}
	}
	p.ExpiresAt = nil
	if f.Expires != "" {
		t, err := parseDay(f.Expires)
		if err != nil {
			return f, "The expiry must be a date."
		}
		p.ExpiresAt = &t
	}
	return f, ""
}

func (h *Handler) vaultCreate(w http.ResponseWriter, r *http.Request) {
	if !h.parseForm(w, r) {
		return
	}
	var p store.Password
	f, problem := readEntryForm(r, &p)
	p.OrgID = f.Org
	if problem == "" {
		created, err := h.store.CreatePassword(r.Context(), p)
		if err == nil {
			http.Redirect(w, r, "/vault/"+strconv.FormatInt(created.ID, 10), http.StatusSeeOther)
			return
		}
		if e, ok := apperr.As(err); !ok || e.Kind == apperr.Internal {
			h.serverError(w, r, err)
			return
		} else {
			problem = errorText(e)
		}
	}
	h.renderForm(w, r, http.StatusBadRequest, 0, f, problem)
}

func (h *Handler) vaultUpdate(w http.ResponseWriter, r *http.Request) {
	id, ok := pathInt(r, "id")
	if !ok || !h.parseForm(w, r) {
		http.NotFound(w, r)
		return
	}
	var f entryForm
	var problem string
	_, err := h.store.UpdatePassword(r.Context(), id, func(p *store.Password) error {
		f, problem = readEntryForm(r, p)
		if problem != "" {
			return apperr.Invalidf("%s", problem)
		}
		return nil
	})
	if err == nil {
		http.Redirect(w, r, "/vault/"+strconv.FormatInt(id, 10), http.StatusSeeOther)
		return
	}
	if e, ok := apperr.As(err); ok && e.Kind == apperr.Invalid {
		h.renderForm(w, r, http.StatusBadRequest, id, f, errorText(e))
		return
	}
	h.pageError(w, r, err)
}

func (h *Handler) vaultDelete(w http.ResponseWriter, r *http.Request) {
	h.deleteRecord(w, r, h.store.DeletePassword, "/vault")
}
