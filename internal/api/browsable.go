package api

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"html/template"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"clientst0r/internal/list"
)

// The browsable API: a browser (or ?format=api) gets every /api/ response as a page showing the
// endpoint, the pretty-printed JSON with links, pagination, the list's filters and a form for
// writes. Forms post DRF-style overrides (_method, _content_type, _content), so they work without
// JavaScript; the session cookie authenticates them and cross-origin posts are refused.

//go:embed browsable.html
var browsableHTML string

var browsableTmpl = template.Must(template.New("browsable").Funcs(template.FuncMap{
	"split": func(s string) []string { return strings.Split(s, ", ") },
}).Parse(browsableHTML))

type pageInfoKey struct{}

// pageInfo is the endpoint a request matched and the other methods on the same path.
type pageInfo struct {
	ep   endpoint
	path []endpoint
}

// describe records which endpoint a request matched, for the browsable view.
func (h *Handler) describe(e endpoint, eps []endpoint, next http.HandlerFunc) http.HandlerFunc {
	info := &pageInfo{ep: e, path: eps}
	return func(w http.ResponseWriter, r *http.Request) {
		next(w, r.WithContext(context.WithValue(r.Context(), pageInfoKey{}, info)))
	}
}

// wantsHTML decides the format: ?format=json or ?format=api, else whether the client prefers HTML.
func wantsHTML(r *http.Request) bool {
	switch r.URL.Query().Get("format") {
	case "json":
		return false
	case "api":
		return true
	}
	accept := r.Header.Get("Accept")
	html := strings.Index(accept, "text/html")
	if html < 0 {
		return false
	}
	j := strings.Index(accept, "application/json")
	return j < 0 || html < j
}

// methodOverride turns a browsable form post into the request it stands for.
func methodOverride(r *http.Request) (*http.Request, error) {
	if r.Method != http.MethodPost {
		return r, nil
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		return r, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, 3*MaxBody))
	if err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(string(b))
	if err != nil || !form.Has("_content") {
		r.Body = io.NopCloser(bytes.NewReader(b))
		return r, nil
	}
	method := strings.ToUpper(form.Get("_method"))
	if method == "" {
		method = http.MethodPost
	}
	r2 := r.Clone(r.Context())
	r2.Method = method
	r2.Header.Set("Content-Type", form.Get("_content_type"))
	r2.Body = io.NopCloser(strings.NewReader(form.Get("_content")))
	r2.ContentLength = int64(len(form.Get("_content")))
	return r2, nil
}

var linkRE = regexp.MustCompile(`&#34;(https?://[^\s]*?)&#34;`)

// renderBrowsable shows a JSON response as a page.
func (h *Handler) renderBrowsable(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	var pretty bytes.Buffer
	if len(body) > 0 && json.Indent(&pretty, body, "", "  ") != nil {
		pretty.Reset()
		pretty.Write(body)
	}
	escaped := template.HTMLEscapeString(pretty.String())
	linked := linkRE.ReplaceAllString(escaped, `&#34;<a href="$1">$1</a>&#34;`)

	v := map[string]any{
		"Status":     status,
		"StatusText": http.StatusText(status),
		"Method":     r.Method,
		"Request":    r.URL.Path + queryString(r.URL.RawQuery),
		"JSON":       template.HTML(linked),
		"Headers":    shownHeaders(w.Header()),
		"Crumbs":     crumbs(r.URL.Path),
		"SignIn":     status == http.StatusUnauthorized,
		"Next":       r.URL.RequestURI(),
		"JSONURL":    withFormat(r.URL, "json"),
	}
	info, _ := r.Context().Value(pageInfoKey{}).(*pageInfo)
	if info != nil {
		v["Title"] = info.ep.summary
		v["Allow"] = allowed(info.path)
		var doc map[string]any
		json.Unmarshal(body, &doc)
		if info.ep.list != nil && r.Method == http.MethodGet {
			v["Filters"] = filterForm(info.ep.list, r.URL.Query())
			v["Search"] = info.ep.list.Searchable
			v["SearchValue"] = r.URL.Query().Get("search")
			v["Org"] = info.ep.list.OrgScoped
			v["OrgValue"] = r.URL.Query().Get("organization")
			v["Orderings"] = orderOptions(info.ep.list, r.URL.Query().Get("ordering"))
			v["PageSize"] = r.URL.Query().Get("page_size")
			v["Next"], v["Previous"] = linkOf(doc, "next"), linkOf(doc, "previous")
		}
		v["Forms"] = writeForms(info, doc)
	} else {
		v["Title"] = http.StatusText(status)
	}
	var out bytes.Buffer
	if err := browsableTmpl.Execute(&out, v); err != nil {
		h.log.Error("browsable view", "err", err)
		http.Error(w, "Internal server error.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(out.Len()))
	w.Header().Set("Vary", "Accept")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(out.Bytes())
	}
}

func queryString(q string) string {
	if q == "" {
		return ""
	}
	return "?" + q
}

func withFormat(u *url.URL, f string) string {
	q := u.Query()
	q.Set("format", f)
	return u.Path + "?" + q.Encode()
}

func linkOf(doc map[string]any, key string) string {
	s, _ := doc[key].(string)
	return s
}

type header struct{ Name, Value string }

func shownHeaders(h http.Header) []header {
	var out []header
	for _, n := range []string{"Allow", "Location", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Retry-After", "X-Request-ID"} {
		if v := h.Get(n); v != "" {
			out = append(out, header{n, v})
		}
	}
	return out
}

type crumb struct{ Name, URL string }

func crumbs(path string) []crumb {
	var out []crumb
	acc := ""
	for _, part := range strings.Split(strings.Trim(path, "/"), "/") {
		acc += "/" + part
		out = append(out, crumb{part, acc + "/"})
	}
	return out
}

type filterInput struct {
	Name    string
	Value   string
	Choices []string // a select when set
	Type    string   // input type otherwise
}

func filterForm(s *list.Spec, q url.Values) []filterInput {
	var out []filterInput
	add := func(name string, f list.Field) {
		in := filterInput{Name: name, Value: q.Get(name), Type: "text"}
		switch f.Kind {
		case list.Enum:
			in.Choices = f.Enum
		case list.Bool:
			in.Choices = []string{"true", "false"}
		case list.Date:
			in.Type = "date"
		case list.Int:
			in.Type = "number"
		}
		out = append(out, in)
	}
	for _, f := range s.Fields {
		if f.Filter {
			add(f.Name, f)
		}
		if f.Range {
			add(f.Name+"__gte", f)
			add(f.Name+"__lte", f)
		}
	}
	return out
}

type option struct {
	Value, Label string
	Selected     bool
}

func orderOptions(s *list.Spec, current string) []option {
	out := []option{{Value: "", Label: "default (" + s.DefaultOrder + ")", Selected: current == ""}}
	for _, f := range s.OrderFields() {
		for _, v := range []string{f, "-" + f} {
			label := f + " ↑"
			if v[0] == '-' {
				label = f + " ↓"
			}
			out = append(out, option{Value: v, Label: label, Selected: v == current})
		}
	}
	return out
}

type writeForm struct {
	Method  string
	Content string
	Danger  bool
}

// writeForms offers the path's write methods, prefilled with the object being shown (its writable
// fields) or, on a collection, with the fields a new object needs.
func writeForms(info *pageInfo, doc map[string]any) []writeForm {
	var out []writeForm
	for _, e := range info.path {
		switch e.method {
		case http.MethodPost, http.MethodPut, http.MethodPatch:
			content := "{}"
			if e.in != nil {
				content = formContent(e, doc)
			}
			out = append(out, writeForm{Method: e.method, Content: content})
		case http.MethodDelete:
			out = append(out, writeForm{Method: e.method, Danger: true})
		}
	}
	slices.SortStableFunc(out, func(a, b writeForm) int { return strings.Compare(formOrder(a.Method), formOrder(b.Method)) })
	return out
}

func formOrder(m string) string {
	return map[string]string{"POST": "1", "PUT": "2", "PATCH": "3", "DELETE": "4"}[m]
}

// formContent builds the JSON a form starts with: the shown object's writable fields for PUT and
// PATCH, the required fields for POST.
func formContent(e endpoint, doc map[string]any) string {
	t := reflect.TypeOf(e.in)
	fields := map[string]any{}
	for i := 0; i < t.NumField(); i++ {
		name, opts, _ := parseTag(t.Field(i))
		if name == "" || opts["ro"] {
			continue
		}
		if e.method == http.MethodPost {
			if opts["req"] {
				fields[name] = ""
			}
			continue
		}
		if v, ok := doc[name]; ok && !opts["create-only"] {
			fields[name] = v
		}
	}
	b, _ := json.MarshalIndent(fields, "", "  ")
	return string(b)
}
