package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
	"clientst0r/internal/list"
	"clientst0r/internal/store"
)

// Helpers shared by the resource pages: list filters and paging, saving forms, deletion.

// listFilters keeps the named parameters of a list page's request (v["Query"]) and parses them
// against the list's declaration; an invalid filter is reported in v["Error"] and the page falls
// back to the unfiltered list.
func listFilters(r *http.Request, spec *list.Spec, v map[string]any, keys ...string) list.Query {
	q := url.Values{}
	for _, k := range append(slices.Clone(keys), "ordering", "page") { // every list sorts and pages
		if s := r.URL.Query().Get(k); s != "" {
			q.Set(k, s)
		}
	}
	v["Query"] = q
	parse := q
	if org := currentOrg(r); org != 0 && q.Get("organization") == "" && slices.Contains(keys, "organization") {
		parse = url.Values{}
		for k, vals := range q {
			parse[k] = vals
		}
		parse.Set("organization", strconv.FormatInt(org, 10)) // the switcher's choice
	}
	lq, err := list.Parse(spec, parse)
	if err != nil {
		v["Error"] = "Invalid filter."
		lq, _ = list.Parse(spec, url.Values{})
	}
	return lq
}

// pager sets v["Pager"]: the page, the number of pages and links to the neighbours, keeping the
// filters.
func pager(v map[string]any, lq list.Query, count int) {
	pages := max(1, (count+lq.PageSize-1)/lq.PageSize)
	link := func(page int) string {
		q := url.Values{}
		for k, vals := range v["Query"].(url.Values) {
			q[k] = vals
		}
		q.Del("page")
		if page > 1 {
			q.Set("page", strconv.Itoa(page))
		}
		if len(q) == 0 {
			return "?"
		}
		return "?" + q.Encode()
	}
	p := map[string]any{"Page": lq.Page, "Pages": pages}
	if lq.Page > 1 {
		p["Prev"] = link(lq.Page - 1)
	}
	if lq.Page < pages {
		p["Next"] = link(lq.Page + 1)
	}
	v["Pager"] = p
}

// sortLink is a sortable column header's target and its current direction.
type sortLink struct {
	URL  string
	Mark string // " ▲", " ▼" or ""
	Aria string // aria-sort value
}

// sortBy links to the list ordered by field, or reversed when it is ordered by it already.
func sortBy(query url.Values, field string) sortLink {
	q := url.Values{}
	for k, vals := range query {
		q[k] = vals
	}
	q.Del("page")
	l := sortLink{Aria: "none"}
	switch query.Get("ordering") {
	case field:
		q.Set("ordering", "-"+field)
		l.Mark, l.Aria = " ▲", "ascending"
	case "-" + field:
		q.Set("ordering", field)
		l.Mark, l.Aria = " ▼", "descending"
	default:
		q.Set("ordering", field)
	}
	l.URL = "?" + q.Encode()
	return l
}

// deleteRecord answers a delete form: the record goes (404/403 as the store decides) and the browser
// is sent to the list at back.
func (h *Handler) deleteRecord(w http.ResponseWriter, r *http.Request, del func(context.Context, int64) error, back string) {
	id, ok := pathInt(r, "id")
	if !ok {
		http.NotFound(w, r)
		return
	}
	if err := del(r.Context(), id); err != nil {
		h.pageError(w, r, err)
		return
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// saved answers a form's save: on success the browser goes to page. A refused form (invalid input)
// is left to the caller to show again with the problem (again is true); other errors are answered
// here as the page's error.
func (h *Handler) saved(w http.ResponseWriter, r *http.Request, err error, page string) (problem string, again bool) {
	if err == nil {
		http.Redirect(w, r, page, http.StatusSeeOther)
		return "", false
	}
	if e, ok := apperr.As(err); ok && e.Kind == apperr.Invalid {
		return errorText(e), true
	}
	h.pageError(w, r, err)
	return "", false
}

// recordForm is an organization's record edited through a form page (assets, vehicles): its edit
// page, create and update share their checks and answers.
type recordForm[T any] struct {
	path     string // the records' pages: path/{id}
	editPerm auth.Perm
	scoped   func(*T) *store.Scoped
	get      func(*store.Store, context.Context, int64) (T, error)
	create   func(*store.Store, context.Context, T) (T, error)
	update   func(*store.Store, context.Context, int64, func(*T) error) (T, error)
	values   func(T) url.Values                    // a record as form values
	read     func(url.Values, *T) (problem string) // form values into a record
	render   func(h *Handler, w http.ResponseWriter, r *http.Request, status int, id, org int64, form url.Values, problem string)
}

// editPage shows a record's form filled in.
func (f recordForm[T]) editPage(h *Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathInt(r, "id")
		if !ok {
			http.NotFound(w, r)
			return
		}
		rec, err := f.get(h.store, r.Context(), id)
		org := f.scoped(&rec).OrgID
		if err == nil && !auth.CallerFrom(r.Context()).Can(org, f.editPerm) {
			err = apperr.ErrForbidden
		}
		if err != nil {
			h.pageError(w, r, err)
			return
		}
		f.render(h, w, r, http.StatusOK, id, org, f.values(rec), "")
	}
}

// createPost creates a record from the new-record form, in the organization it names.
func (f recordForm[T]) createPost(h *Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !h.parseForm(w, r) {
			return
		}
		var rec T
		sc := f.scoped(&rec)
		sc.OrgID, _ = strconv.ParseInt(r.PostForm.Get("organization"), 10, 64)
		problem := f.read(r.PostForm, &rec)
		if problem == "" {
			created, err := f.create(h.store, r.Context(), rec)
			var again bool
			if problem, again = h.saved(w, r, err, f.path+"/"+itoa(f.scoped(&created).ID)); !again {
				return
			}
		}
		f.render(h, w, r, http.StatusBadRequest, 0, sc.OrgID, r.PostForm, problem)
	}
}

// updatePost applies the edit form to the record.
func (f recordForm[T]) updatePost(h *Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathInt(r, "id")
		if !ok || !h.parseForm(w, r) {
			http.NotFound(w, r)
			return
		}
		var org int64
		_, err := f.update(h.store, r.Context(), id, func(rec *T) error {
			org = f.scoped(rec).OrgID
			if problem := f.read(r.PostForm, rec); problem != "" {
				return apperr.Invalidf("%s", problem)
			}
			return nil
		})
		if problem, again := h.saved(w, r, err, f.path+"/"+itoa(id)); again {
			f.render(h, w, r, http.StatusBadRequest, id, org, r.PostForm, problem)
		}
	}
}
