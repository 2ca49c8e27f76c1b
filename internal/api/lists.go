package api

import (
	"net/http"
	"strconv"

	"clientst0r/internal/list"
)

// page is DRF's list envelope.
type page[T any] struct {
	Count    int     `json:"count"`
	Next     *string `json:"next"`
	Previous *string `json:"previous"`
	Results  []T     `json:"results"`
}

// serveList parses the list parameters against spec, fetches one page and answers with the envelope.
// Every list endpoint is this one function plus a fetch and a conversion.
func serveList[R, T any](h *Handler, w http.ResponseWriter, r *http.Request, spec *list.Spec,
	fetch func(list.Query) ([]R, int, error), convert func(R) T) {
	q, err := list.Parse(spec, r.URL.Query())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	rows, count, err := fetch(q)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p := page[T]{Count: count, Results: make([]T, 0, len(rows))}
	for _, row := range rows {
		p.Results = append(p.Results, convert(row))
	}
	if q.Page*q.PageSize < count {
		p.Next = h.pageURL(r, q.Page+1)
	}
	if q.Page > 1 {
		p.Previous = h.pageURL(r, q.Page-1)
	}
	h.writeJSON(w, r, http.StatusOK, p)
}

// pageURL is the absolute URL of the same request on another page, keeping every other parameter.
// Like DRF, the first page's URL has no page parameter.
func (h *Handler) pageURL(r *http.Request, n int) *string {
	v := r.URL.Query()
	if n == 1 {
		v.Del("page")
	} else {
		v.Set("page", strconv.Itoa(n))
	}
	u := h.absolute(r, r.URL.Path)
	if enc := v.Encode(); enc != "" {
		u += "?" + enc
	}
	return &u
}

// absolute turns a path into an absolute URL: on CLIENTST0R_BASE_URL when set, else on the
// request's own scheme and host.
func (h *Handler) absolute(r *http.Request, path string) string {
	if h.baseURL != "" {
		return h.baseURL + path
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + path
}
