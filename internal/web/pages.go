package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"clientst0r/internal/apperr"
	"clientst0r/internal/list"
)

// Helpers shared by the resource pages: list filters and paging, saving forms, deletion.

// listFilters keeps the named parameters of a list page's request (v["Query"]) and parses them
// against the list's declaration; an invalid filter is reported in v["Error"] and the page falls
// back to the unfiltered list.
func listFilters(r *http.Request, spec *list.Spec, v map[string]any, keys ...string) list.Query {
	q := url.Values{}
	for _, k := range keys {
		if s := r.URL.Query().Get(k); s != "" {
			q.Set(k, s)
		}
	}
	v["Query"] = q
	lq, err := list.Parse(spec, q)
	if err != nil {
		v["Error"] = "Invalid filter."
		lq, _ = list.Parse(spec, url.Values{})
	}
	return lq
}

// morePages links the next page in v["NextPage"], keeping the filters, when there is one.
func morePages(v map[string]any, lq list.Query, count int) {
	if lq.Page*lq.PageSize >= count {
		return
	}
	next := url.Values{}
	for k, vals := range v["Query"].(url.Values) {
		next[k] = vals
	}
	next.Set("page", strconv.Itoa(lq.Page+1))
	v["NextPage"] = "?" + next.Encode()
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
