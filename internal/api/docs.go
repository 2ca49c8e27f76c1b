package api

import (
	_ "embed"
	"html/template"
	"net/http"
	"reflect"
	"sort"
	"strings"
)

//go:embed docs.html
var docsHTML string

var docsTmpl = template.Must(template.New("docs").Funcs(template.FuncMap{
	"lower": strings.ToLower,
}).Parse(docsHTML))

// docOp is one operation as the docs page shows it.
type docOp struct {
	Method, Path, Summary string
	Params                []docParam
	Fields                []docField
	Status                int
}

type docParam struct{ Name, Desc string }

type docField struct {
	Name, Type, Notes string
}

// docs renders the API reference from the same declarations as the OpenAPI document.
func (h *Handler) docs(w http.ResponseWriter, r *http.Request) {
	g := &schemaGen{components: map[string]schema{}}
	var ops []docOp
	for _, e := range h.endpoints {
		op := docOp{Method: e.method, Path: "/api/v1/" + e.path, Summary: e.summary, Status: e.status}
		if e.path != "" {
			op.Path += "/"
		}
		if e.list != nil {
			for _, p := range listParams(e.list) {
				op.Params = append(op.Params, docParam{p["name"].(string), p["description"].(string)})
			}
		}
		if e.in != nil {
			obj := g.object(reflect.TypeOf(e.in), e.list, request(e.method))
			required := map[string]bool{}
			if req, ok := obj["required"].([]string); ok {
				for _, n := range req {
					required[n] = true
				}
			}
			for _, name := range sortedKeys(obj["properties"].(schema)) {
				s := obj["properties"].(schema)[name].(schema)
				f := docField{Name: name, Type: describeType(s)}
				var notes []string
				if required[name] {
					notes = append(notes, "required")
				}
				if enum, ok := s["enum"].([]string); ok {
					notes = append(notes, "one of: "+strings.Join(enum, ", "))
				}
				f.Notes = strings.Join(notes, "; ")
				op.Fields = append(op.Fields, f)
			}
		}
		ops = append(ops, op)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := docsTmpl.Execute(w, map[string]any{"Ops": ops}); err != nil {
		h.log.Error("docs page", "err", err)
	}
}

func describeType(s schema) string {
	t, _ := s["type"].(string)
	if f, ok := s["format"].(string); ok {
		t += " (" + f + ")"
	}
	if t == "array" {
		if items, ok := s["items"].(schema); ok {
			t = "array of " + describeType(items)
		}
	}
	if n, _ := s["nullable"].(bool); n {
		t += " or null"
	}
	return t
}

func sortedKeys(m schema) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
