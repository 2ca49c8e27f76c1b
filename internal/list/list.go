// Package list is the one list machinery: a resource declares its fields once (what can be searched,
// filtered and ordered, and the SQL column behind each) and that declaration drives query parsing and
// validation here, the SQL in the store, and the parameters shown in the API's docs.
package list

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"clientst0r/internal/apperr"
)

// Kind is a field's value type as a filter sees it.
type Kind int

const (
	String Kind = iota
	Int
	Bool
	Enum
	Date // YYYY-MM-DD, compared as text
	Time // RFC 3339 or YYYY-MM-DD, normalised to UTC
)

// Field declares one field of a resource for lists.
type Field struct {
	Name     string // query parameter and JSON name
	Column   string // SQL expression; empty for fields that are only searched
	Kind     Kind
	Enum     []string
	Filter   bool // ?name=value, exact
	Range    bool // ?name__gte= and ?name__lte=
	Order    bool // may appear in ordering
	Nullable bool // ordering puts NULLs last ascending, first descending, on both databases
	Search   bool // one of the search fields (documentation; the SQL searches the row's search_text)
	// Where replaces "Column = ?" for filters that are not a plain comparison; each "?" is the value,
	// or the corresponding element of Args when set (for conditions that need the current time).
	Where string
	Args  func(value any, now time.Time) []any
}

// Spec declares a resource's list behaviour.
type Spec struct {
	Fields       []Field
	DefaultOrder string // e.g. "name" or "-timestamp"
	OrgScoped    bool   // accepts ?organization=
	Searchable   bool   // the table has search_text and a search index
}

// Limits on one request's work.
const (
	DefaultPageSize = 25
	MaxPageSize     = 200
	MaxTerms        = 10
	MaxTermLength   = 200
	// maxPage keeps offsets far from overflow; no real list has that many pages.
	maxPage = 1 << 40
)

// Cond is one validated filter.
type Cond struct {
	Field *Field
	Op    string // "=", ">=", "<="
	Value any
}

// OrderBy is one validated ordering term.
type OrderBy struct {
	Column   string
	Desc     bool
	Nullable bool
}

// Query is a validated list request.
type Query struct {
	Terms    []string
	Conds    []Cond
	Order    []OrderBy
	Page     int
	PageSize int
	Org      string // the raw ?organization= value, resolved by the store
}

// Offset is the row offset of the page.
func (q Query) Offset() int { return (q.Page - 1) * q.PageSize }

// ErrInvalidPage is DRF's answer to a page that does not exist.
var ErrInvalidPage = &apperr.Error{Kind: apperr.NotFound, Detail: "Invalid page."}

// Parse validates the query parameters of a list request against spec.
func Parse(spec *Spec, v url.Values) (Query, error) {
	q := Query{Page: 1, PageSize: DefaultPageSize}
	errs := apperr.FieldErrors{}
	for name, vals := range v {
		if slices.ContainsFunc(vals, func(s string) bool { return strings.ContainsRune(s, 0) }) {
			errs.Add(name, "Null characters are not allowed.")
		}
	}
	if len(errs) > 0 {
		return q, errs.Err()
	}

	if p := v.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > maxPage {
			return q, ErrInvalidPage
		}
		q.Page = n
	}
	if p := v.Get("page_size"); p != "" {
		n, err := strconv.Atoi(p)
		switch {
		case !isDigits(strings.TrimPrefix(p, "-")):
			errs.Add("page_size", "A valid integer is required.")
		case strings.HasPrefix(p, "-") || n < 1:
			errs.Add("page_size", "Ensure this value is greater than or equal to 1.")
		case err != nil || n > MaxPageSize: // too many digits for an int is far above the maximum too
			q.PageSize = MaxPageSize
		default:
			q.PageSize = n
		}
	}

	// A list without search ignores the parameter, as DRF does without a SearchFilter.
	if s := v.Get("search"); s != "" && spec.Searchable {
		terms := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || isSpace(r) })
		for _, t := range terms {
			if len(t) > MaxTermLength {
				errs.Add("search", fmt.Sprintf("Each term must be at most %d characters.", MaxTermLength))
				break
			}
			if !slices.Contains(q.Terms, t) {
				q.Terms = append(q.Terms, t)
			}
		}
		if len(q.Terms) > MaxTerms {
			errs.Add("search", fmt.Sprintf("At most %d search terms are allowed.", MaxTerms))
		}
	}

	order := v.Get("ordering")
	if order == "" {
		order = spec.DefaultOrder
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(order, ",") {
		part = strings.TrimSpace(part)
		desc := strings.HasPrefix(part, "-")
		name := strings.TrimPrefix(part, "-")
		if name == "" {
			continue
		}
		f := spec.field(name)
		if f == nil || !f.Order {
			errs.Add("ordering", fmt.Sprintf("Unknown field %q.", name))
			continue
		}
		if seen[f.Column] {
			continue
		}
		seen[f.Column] = true
		q.Order = append(q.Order, OrderBy{Column: f.Column, Desc: desc, Nullable: f.Nullable})
	}
	if id := spec.field("id"); id != nil && !seen[id.Column] {
		q.Order = append(q.Order, OrderBy{Column: id.Column})
	}

	for i := range spec.Fields {
		f := &spec.Fields[i]
		if f.Filter {
			if raw := v.Get(f.Name); raw != "" {
				q.addCond(f, f.Name, "=", raw, errs)
			}
		}
		if f.Range {
			if raw := v.Get(f.Name + "__gte"); raw != "" {
				q.addCond(f, f.Name+"__gte", ">=", raw, errs)
			}
			if raw := v.Get(f.Name + "__lte"); raw != "" {
				q.addCond(f, f.Name+"__lte", "<=", raw, errs)
			}
		}
	}
	if spec.OrgScoped {
		q.Org = v.Get("organization")
	}
	return q, errs.Err()
}

func (q *Query) addCond(f *Field, param, op, raw string, errs apperr.FieldErrors) {
	val, msg := parseValue(f, raw)
	if msg != "" {
		errs.Add(param, msg)
		return
	}
	q.Conds = append(q.Conds, Cond{Field: f, Op: op, Value: val})
}

func parseValue(f *Field, raw string) (any, string) {
	switch f.Kind {
	case Int:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return nil, "Enter a whole number."
		}
		return n, ""
	case Bool:
		switch strings.ToLower(raw) {
		case "true", "1":
			return true, ""
		case "false", "0":
			return false, ""
		}
		return nil, "Enter true or false."
	case Enum:
		if !slices.Contains(f.Enum, raw) {
			return nil, fmt.Sprintf("Select a valid choice. %q is not one of the available choices.", raw)
		}
		return raw, ""
	case Date:
		if _, err := time.Parse(time.DateOnly, raw); err != nil {
			return nil, "Enter a valid date (YYYY-MM-DD)."
		}
		return raw, ""
	case Time:
		t, err := ParseTime(raw)
		if err != nil {
			return nil, "Enter a valid date/time (RFC 3339)."
		}
		return t, ""
	}
	if len(raw) > MaxTermLength {
		return nil, fmt.Sprintf("Ensure this value has at most %d characters.", MaxTermLength)
	}
	return raw, ""
}

// ParseTime accepts RFC 3339 (with or without fractional seconds) or a plain date (midnight UTC),
// and returns UTC truncated to microseconds, the precision the databases keep.
func ParseTime(raw string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		var derr error
		if t, derr = time.Parse(time.DateOnly, raw); derr != nil {
			return time.Time{}, err
		}
	}
	return t.UTC().Truncate(time.Microsecond), nil
}

func (s *Spec) field(name string) *Field {
	for i := range s.Fields {
		if s.Fields[i].Name == name {
			return &s.Fields[i]
		}
	}
	return nil
}

// FilterParams lists the accepted filter parameters, for documentation and the browsable API.
func (s *Spec) FilterParams() []string {
	var out []string
	if s.OrgScoped {
		out = append(out, "organization")
	}
	for _, f := range s.Fields {
		if f.Filter {
			out = append(out, f.Name)
		}
		if f.Range {
			out = append(out, f.Name+"__gte", f.Name+"__lte")
		}
	}
	return out
}

// SearchFields lists the fields the search parameter looks in.
func (s *Spec) SearchFields() []string {
	var out []string
	for _, f := range s.Fields {
		if f.Search {
			out = append(out, f.Name)
		}
	}
	return out
}

// OrderFields lists the fields accepted by ordering.
func (s *Spec) OrderFields() []string {
	var out []string
	for _, f := range s.Fields {
		if f.Order {
			out = append(out, f.Name)
		}
	}
	return out
}

func isSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f' || r == 0x85 || r == 0xA0 || r == 0x3000
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
