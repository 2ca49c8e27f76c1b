package list

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"clientst0r/internal/apperr"
)

var testSpec = Spec{
	DefaultOrder: "name",
	OrgScoped:    true,
	Searchable:   true,
	Fields: []Field{
		{Name: "id", Column: "t.id", Kind: Int, Order: true},
		{Name: "name", Column: "t.name", Order: true, Search: true},
		{Name: "status", Column: "t.status", Kind: Enum, Enum: []string{"active", "retired"}, Filter: true, Order: true},
		{Name: "online", Column: "t.online", Kind: Bool, Filter: true},
		{Name: "owner", Column: "t.owner_id", Kind: Int, Filter: true},
		{Name: "purchase_date", Column: "t.purchase_date", Kind: Date, Range: true, Order: true, Nullable: true},
		{Name: "updated_at", Column: "t.updated_at", Kind: Time, Range: true, Order: true},
	},
}

func TestParse(t *testing.T) {
	q, err := Parse(&testSpec, url.Values{
		"search": {" switch, Core  rack "}, "ordering": {"-purchase_date,name"}, "page": {"3"}, "page_size": {"50"},
		"status": {"retired"}, "online": {"false"}, "owner": {"7"}, "purchase_date__gte": {"2024-01-01"},
		"updated_at__lte": {"2025-11-15T14:32:00.1234567+02:00"}, "organization": {"acme"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(q.Terms, "|") != "switch|Core|rack" || q.Page != 3 || q.PageSize != 50 || q.Offset() != 100 || q.Org != "acme" {
		t.Fatalf("%+v", q)
	}
	if len(q.Order) != 3 || q.Order[0] != (OrderBy{Column: "t.purchase_date", Desc: true, Nullable: true}) ||
		q.Order[1].Column != "t.name" || q.Order[2].Column != "t.id" {
		t.Fatalf("order %+v", q.Order)
	}
	got := map[string]any{}
	for _, c := range q.Conds {
		got[c.Field.Name+c.Op] = c.Value
	}
	if got["status="] != "retired" || got["online="] != false || got["owner="] != int64(7) || got["purchase_date>="] != "2024-01-01" {
		t.Fatalf("conds %v", got)
	}
	if ts, ok := got["updated_at<="].(time.Time); !ok || !ts.Equal(time.Date(2025, 11, 15, 12, 32, 0, 123456000, time.UTC)) || ts.Location() != time.UTC {
		t.Fatalf("time filter must be UTC, truncated to microseconds: %v", got["updated_at<="])
	}
}

func TestParseDefaultsAndClamps(t *testing.T) {
	q, err := Parse(&testSpec, url.Values{})
	if err != nil || q.Page != 1 || q.PageSize != 25 || len(q.Order) != 2 || q.Order[0].Column != "t.name" {
		t.Fatalf("%+v %v", q, err)
	}
	q, _ = Parse(&testSpec, url.Values{"page_size": {"500"}})
	if q.PageSize != 200 {
		t.Fatalf("page_size 500 → %d", q.PageSize)
	}
	q, _ = Parse(&testSpec, url.Values{"ordering": {"id"}})
	if len(q.Order) != 1 {
		t.Fatalf("id given: no second tie-breaker: %+v", q.Order)
	}
}

func TestParseErrorsNameTheField(t *testing.T) {
	cases := map[string]url.Values{
		"status":             {"status": {"lost"}},
		"online":             {"online": {"yes please"}},
		"owner":              {"owner": {"seven"}},
		"purchase_date__gte": {"purchase_date__gte": {"2024-02-30"}},
		"updated_at__lte":    {"updated_at__lte": {"noon"}},
		"ordering":           {"ordering": {"secret"}},
		"page_size":          {"page_size": {"0"}},
	}
	for field, v := range cases {
		_, err := Parse(&testSpec, v)
		e, ok := apperr.As(err)
		if !ok || e.Kind != apperr.Invalid || len(e.Fields[field]) == 0 {
			t.Errorf("%v: %v", v, err)
		}
	}
	if _, err := Parse(&testSpec, url.Values{"page": {"x"}}); err != ErrInvalidPage {
		t.Errorf("page=x: %v", err)
	}
}

// FuzzParse: no input panics, and whatever Parse accepts is within the limits the SQL relies on.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "search=a,b&ordering=-name", "page=0", "page_size=99999999999999999999", "ordering=,-,--name",
		"status=active&online=1&updated_at__gte=2025-01-01", "search=%00", "page=9223372036854775807&page_size=200"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := Parse(&testSpec, v)
		if err != nil {
			if _, ok := apperr.As(err); !ok {
				t.Fatalf("error of the wrong kind: %v", err)
			}
			return
		}
		if q.Page < 1 || q.PageSize < 1 || q.PageSize > MaxPageSize || q.Offset() < 0 {
			t.Fatalf("page %d size %d offset %d", q.Page, q.PageSize, q.Offset())
		}
		if len(q.Terms) > MaxTerms || len(q.Order) == 0 || q.Order[len(q.Order)-1].Column == "" {
			t.Fatalf("%+v", q)
		}
		for _, term := range q.Terms {
			if term == "" || strings.ContainsAny(term, ", \t\n") || len(term) > MaxTermLength || strings.ContainsRune(term, 0) {
				t.Fatalf("bad term %q", term)
			}
		}
		for _, o := range q.Order {
			if !strings.HasPrefix(o.Column, "t.") {
				t.Fatalf("ordering column not from the spec: %q", o.Column)
			}
		}
	})
}

// TestSearchIgnoredWithoutIndex: like DRF without a SearchFilter, a list that has no search ignores
// ?search= rather than failing.
func TestSearchIgnoredWithoutIndex(t *testing.T) {
	plain := testSpec
	plain.Searchable = false
	q, err := Parse(&plain, url.Values{"search": {"dell laptop"}})
	if err != nil || len(q.Terms) != 0 {
		t.Fatalf("%+v %v", q, err)
	}
	if q, err := Parse(&testSpec, url.Values{"search": {"dell laptop"}}); err != nil || len(q.Terms) != 2 {
		t.Fatalf("searchable: %+v %v", q, err)
	}
}
