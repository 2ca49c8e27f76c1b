package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"clientst0r/internal/apperr"
	"clientst0r/internal/list"
	"clientst0r/internal/store"
)

// keyForm is the create form's state, kept when the form comes back with an error.
type keyForm struct {
	Name      string
	OrgSet    map[int64]bool
	Role      string
	RateLimit int
	Expires   string
	CanReveal bool
}

func (h *Handler) keysPage(w http.ResponseWriter, r *http.Request) {
	h.renderKeys(w, r, http.StatusOK, map[string]any{"Form": keyForm{RateLimit: store.DefaultRateLimit, OrgSet: map[int64]bool{}}})
}

// renderKeys shows the key list, the create form and, right after creation, the new key.
func (h *Handler) renderKeys(w http.ResponseWriter, r *http.Request, status int, v map[string]any) {
	ctx := r.Context()
	keys, _, err := h.store.ListAPIKeys(ctx, list.Query{Page: 1, PageSize: list.MaxPageSize, Order: []list.OrderBy{{Column: "k.id", Desc: true}}})
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	orgs := orgsOf(ctx).orgs
	names := map[int64]string{}
	for _, o := range orgs {
		names[o.ID] = o.Name
	}
	for _, k := range keys {
		for _, id := range k.Orgs {
			if names[id] == "" {
				names[id] = fmt.Sprintf("#%d", id)
			}
		}
	}
	roles, err := h.store.RoleNames(ctx)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	v["Title"], v["Keys"], v["Orgs"], v["OrgNames"], v["Roles"] = "API Keys", keys, orgs, names, roles
	h.render(w, r, status, "keys", v)
}

func (h *Handler) createKey(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "Bad form.", http.StatusBadRequest)
		return
	}
	f := keyForm{Name: r.PostForm.Get("name"), Role: r.PostForm.Get("role"), Expires: r.PostForm.Get("expires"),
		CanReveal: r.PostForm.Get("can_reveal") != "", OrgSet: map[int64]bool{}}
	in := store.NewKey{Name: f.Name, Role: f.Role, CanReveal: f.CanReveal}
	var problems []string
	for _, s := range r.PostForm["organizations"] {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			problems = append(problems, "Unknown organization.")
			continue
		}
		f.OrgSet[id] = true
		in.Orgs = append(in.Orgs, id)
	}
	f.RateLimit = store.DefaultRateLimit
	if s := strings.TrimSpace(r.PostForm.Get("rate_limit")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			problems = append(problems, "The rate limit must be a whole number of at least 1.")
		}
		f.RateLimit, in.RateLimit = n, n
	}
	if f.Expires != "" {
		end, err := parseDay(f.Expires)
		if err != nil {
			problems = append(problems, "The expiry must be a date.")
		}
		in.ExpiresAt = &end
	}
	v := map[string]any{"Form": f}
	if len(problems) > 0 {
		v["Error"] = strings.Join(problems, " ")
		h.renderKeys(w, r, http.StatusBadRequest, v)
		return
	}
	k, plaintext, err := h.store.CreateAPIKey(r.Context(), in)
	if err != nil {
		e, ok := apperr.As(err)
		if !ok || e.Kind == apperr.Internal {
			h.serverError(w, r, err)
			return
		}
		v["Error"] = errorText(e)
		h.renderKeys(w, r, http.StatusBadRequest, v)
		return
	}
	v["Form"] = keyForm{RateLimit: store.DefaultRateLimit, OrgSet: map[int64]bool{}}
	v["NewKey"], v["NewKeyPlaintext"] = k, plaintext
	h.renderKeys(w, r, http.StatusCreated, v)
}

func (h *Handler) revokeKey(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err == nil {
		err = h.store.RevokeAPIKey(r.Context(), id)
	}
	if err != nil && !apperr.Is(err, apperr.NotFound) {
		h.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, "/profile/keys", http.StatusSeeOther)
}

// errorText turns an application error into one sentence for a page.
func errorText(e *apperr.Error) string {
	if len(e.Fields) == 0 {
		return e.Detail
	}
	return strings.ReplaceAll(e.Fields.String(), "_", " ")
}

// parseDay reads a date field as the end of that day (UTC): a key or entry "expiring on" a day is
// valid through it.
func parseDay(s string) (time.Time, error) {
	d, err := time.Parse(time.DateOnly, s)
	return d.Add(24 * time.Hour), err
}
