package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"clientst0r/internal/list"
)

// The OpenAPI document is generated from the endpoint declarations in routes.go and the API types'
// struct tags, so it describes exactly what is mounted. Tags on API types (`api:"…"`):
//
//	ro           read-only: in responses, ignored in requests
//	wo           write-only: accepted in requests, never in responses
//	req          required when creating or replacing
//	create-only  writable on create, fixed afterwards
//	date, uri    string formats
//
// Enumerations come from the list declaration of the same resource.

type schema = map[string]any

// openAPI builds the document for the endpoints.
func openAPI(eps []endpoint, version string) ([]byte, error) {
	g := &schemaGen{components: map[string]schema{}}
	paths := map[string]schema{}
	for _, e := range eps {
		if e.path == "schema" {
			continue
		}
		p := "/"
		if e.path != "" {
			p = "/" + e.path + "/"
		}
		if paths[p] == nil {
			paths[p] = schema{}
		}
		paths[p][strings.ToLower(e.method)] = g.operation(e)
	}
	g.components["Error"] = schema{"type": "object", "required": []string{"detail"}, "additionalProperties": false,
		"properties": schema{"detail": schema{"type": "string"}, "request_id": schema{"type": "string"}}}
	g.components["ValidationError"] = schema{"type": "object", "description": "Messages per field, and non_field_errors.",
		"additionalProperties": schema{"type": "array", "items": schema{"type": "string"}}}
	doc := schema{
		"openapi": "3.0.3",
		"info": schema{"title": "ClientSt0r API", "version": version,
			"description": "DRF-style REST API. The same operations are served under /api/ (the current version)."},
		"servers": []schema{{"url": "/api/v1"}},
		"paths":   paths,
		"components": schema{
			"schemas": g.components,
			"securitySchemes": schema{
				"bearer":  schema{"type": "http", "scheme": "bearer", "description": "itdocs_live_… API key"},
				"session": schema{"type": "apiKey", "in": "cookie", "name": "clientst0r_session"},
			},
		},
		"security": []schema{{"bearer": []string{}}, {"session": []string{}}},
	}
	return json.MarshalIndent(doc, "", "  ")
}

type schemaGen struct {
	components map[string]schema
}

func ref(name string) schema { return schema{"$ref": "#/components/schemas/" + name} }

func errorResponse(desc, component string) schema {
	return schema{"description": desc, "content": schema{"application/json": schema{"schema": ref(component)}}}
}

func (g *schemaGen) operation(e endpoint) schema {
	op := schema{"summary": e.summary, "operationId": operationID(e)}
	if e.public {
		op["security"] = []schema{}
	}
	var params []schema
	if strings.Contains(e.path, "{id}") {
		params = append(params, schema{"name": "id", "in": "path", "required": true, "schema": schema{"type": "integer"}})
	}
	if e.list != nil {
		params = append(params, listParams(e.list)...)
	}
	if len(params) > 0 {
		op["parameters"] = params
	}
	if e.in != nil {
		name := typeName(e.in) + "Request"
		if e.method == http.MethodPatch {
			name = "Patched" + typeName(e.in) + "Request"
		}
		g.components[name] = g.object(reflect.TypeOf(e.in), e.list, request(e.method))
		op["requestBody"] = schema{"required": true, "content": schema{"application/json": schema{"schema": ref(name)}}}
	}
	responses := schema{
		"400": schema{"description": "Invalid input", "content": schema{"application/json": schema{"schema": schema{
			"oneOf": []schema{ref("Error"), ref("ValidationError")}}}}},
		"401": errorResponse("Not authenticated", "Error"),
		"403": errorResponse("Not allowed", "Error"),
		"404": errorResponse("Not found", "Error"),
		"405": errorResponse("Method not allowed", "Error"),
		"409": errorResponse("Conflict", "Error"),
		"413": errorResponse("Body too large", "Error"),
		"415": errorResponse("Not JSON", "Error"),
		"429": errorResponse("Throttled", "Error"),
		"500": errorResponse("Server error", "Error"),
		"503": errorResponse("Busy, retry", "Error"),
	}
	ok := schema{"description": "OK"}
	if e.out != nil {
		var body schema
		t := reflect.TypeOf(e.out)
		if t.Kind() == reflect.Struct {
			name := typeName(e.out)
			if _, done := g.components[name]; !done {
				g.components[name] = g.object(t, e.list, response)
			}
			body = ref(name)
		} else {
			body = g.typeSchema(t, "")
		}
		if e.list != nil {
			body = schema{"type": "object", "additionalProperties": false, "required": []string{"count", "next", "previous", "results"},
				"properties": schema{
					"count":    schema{"type": "integer"},
					"next":     schema{"type": "string", "format": "uri", "nullable": true},
					"previous": schema{"type": "string", "format": "uri", "nullable": true},
					"results":  schema{"type": "array", "items": body},
				}}
		}
		ok["content"] = schema{"application/json": schema{"schema": body}}
	}
	responses[strconv.Itoa(e.status)] = ok
	op["responses"] = responses
	return op
}

func operationID(e endpoint) string {
	words := strings.FieldsFunc(e.path, func(r rune) bool { return r == '/' || r == '{' || r == '}' || r == '-' })
	return strings.ToLower(e.method) + "_" + strings.Join(words, "_")
}

// usage says which side of the wire a schema describes.
type usage int

const (
	response  usage = iota
	replacing       // POST and PUT: required fields apply
	patching        // PATCH: nothing is required
)

func request(method string) usage {
	if method == http.MethodPatch {
		return patching
	}
	return replacing
}

func typeName(v any) string { return reflect.TypeOf(v).Name() }

type tagOpts map[string]bool

func parseTag(f reflect.StructField) (name string, opts tagOpts, omitempty bool) {
	name, rest, _ := strings.Cut(f.Tag.Get("json"), ",")
	opts = tagOpts{}
	for _, o := range strings.Split(f.Tag.Get("api"), ",") {
		if o != "" {
			opts[o] = true
		}
	}
	return name, opts, strings.Contains(rest, "omitempty")
}

func (g *schemaGen) object(t reflect.Type, spec *list.Spec, use usage) schema {
	props := schema{}
	var required []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, omitempty := parseTag(f)
		if name == "" || name == "-" {
			continue
		}
		if use != response && opts["ro"] {
			continue
		}
		if use == response && opts["wo"] {
			continue
		}
		s := g.typeSchema(f.Type, name)
		switch {
		case opts["date"]:
			s["format"] = "date"
		case opts["uri"]:
			s["format"] = "uri"
		}
		if spec != nil {
			for _, lf := range spec.Fields {
				if lf.Name == name && lf.Kind == list.Enum {
					s["enum"] = lf.Enum
				}
			}
		}
		if opts["ro"] {
			s["readOnly"] = true
		}
		if opts["wo"] {
			s["writeOnly"] = true
		}
		props[name] = s
		if (use == response && !omitempty) || (use == replacing && opts["req"]) {
			required = append(required, name)
		}
	}
	out := schema{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		sort.Strings(required)
		out["required"] = required
	}
	return out
}

var timeType = reflect.TypeOf(time.Time{})

func (g *schemaGen) typeSchema(t reflect.Type, name string) schema {
	if t.Kind() == reflect.Pointer {
		s := g.typeSchema(t.Elem(), name)
		s["nullable"] = true
		return s
	}
	if t == timeType {
		return schema{"type": "string", "format": "date-time"}
	}
	switch t.Kind() {
	case reflect.String:
		return schema{"type": "string"}
	case reflect.Bool:
		return schema{"type": "boolean"}
	case reflect.Int, reflect.Int64, reflect.Int32:
		return schema{"type": "integer"}
	case reflect.Float64, reflect.Float32:
		return schema{"type": "number"}
	case reflect.Slice:
		// A nil slice encodes as null (the key's organization list means "all" then).
		return schema{"type": "array", "items": g.typeSchema(t.Elem(), ""), "nullable": true}
	case reflect.Map:
		if t.Elem().Kind() == reflect.String {
			return schema{"type": "object", "additionalProperties": schema{"type": "string"}}
		}
		return schema{"type": "object", "additionalProperties": true}
	case reflect.Struct:
		name := t.Name()
		if _, done := g.components[name]; !done {
			g.components[name] = schema{}
			g.components[name] = g.object(t, nil, response)
		}
		return ref(name)
	case reflect.Interface:
		return schema{}
	}
	return schema{}
}

// listParams documents the list parameters a spec accepts.
func listParams(s *list.Spec) []schema {
	q := func(name, desc string, sch schema) schema {
		return schema{"name": name, "in": "query", "required": false, "description": desc, "schema": sch}
	}
	params := []schema{
		q("page", "1-based page number.", schema{"type": "integer", "minimum": 1}),
		q("page_size", "Results per page: default 25, at most 200 (larger values are clamped).", schema{"type": "integer", "minimum": 1}),
		q("ordering", "Comma-separated fields, '-' for descending: "+strings.Join(s.OrderFields(), ", ")+".", schema{"type": "string"}),
	}
	if s.Searchable {
		params = append(params, q("search", "Terms split on spaces and commas; each must occur in one of: "+
			strings.Join(s.SearchFields(), ", ")+" (case-insensitive substring).", schema{"type": "string"}))
	}
	if s.OrgScoped {
		params = append(params, q("organization", "Only this organization (id or slug).", schema{"type": "string"}))
	}
	for _, f := range s.Fields {
		var sch schema
		switch f.Kind {
		case list.Int:
			sch = schema{"type": "integer"}
		case list.Bool:
			sch = schema{"type": "boolean"}
		case list.Enum:
			sch = schema{"type": "string", "enum": f.Enum}
		case list.Date:
			sch = schema{"type": "string", "format": "date"}
		case list.Time:
			sch = schema{"type": "string", "format": "date-time"}
		default:
			sch = schema{"type": "string"}
		}
		if f.Filter {
			params = append(params, q(f.Name, "Exact match.", sch))
		}
		if f.Range {
			params = append(params, q(f.Name+"__gte", "At or after.", sch), q(f.Name+"__lte", "At or before.", sch))
		}
	}
	return params
}

func (h *Handler) schema(w http.ResponseWriter, r *http.Request) {
	h.writeBody(w, r, http.StatusOK, h.openapi)
}
