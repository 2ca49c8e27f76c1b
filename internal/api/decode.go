package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"clientst0r/internal/apperr"
	"clientst0r/internal/list"
	"clientst0r/internal/store"
)

// MaxBody is the largest request body accepted.
const MaxBody = 1 << 20

var (
	errTooLarge = &apperr.Error{Kind: apperr.TooLarge, Detail: "Request body is too large (the limit is 1 MiB)."}
	errNotJSON  = &apperr.Error{Kind: apperr.Invalid, Detail: "JSON parse error - the body must be a JSON object."}
)

// readBody reads a size-limited body.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, errTooLarge
	}
	if err != nil {
		return nil, apperr.Invalidf("Could not read the request body.")
	}
	return b, nil
}

// body is a decoded JSON object whose fields are taken one by one, so PATCH knows which were sent,
// each type error is reported on its field, read-only fields are ignored and unknown ones refused.
type body struct {
	raw  map[string]json.RawMessage
	errs apperr.FieldErrors
	seen map[string]bool
}

// decodeBody checks the content type and size and parses a JSON object.
func decodeBody(w http.ResponseWriter, r *http.Request) (*body, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return nil, &apperr.Error{Kind: apperr.UnsupportedMedia, Detail: fmt.Sprintf("Unsupported media type %q in request.", ct)}
		}
	}
	b, err := readBody(w, r)
	if err != nil {
		return nil, err
	}
	return parseBody(b)
}

func parseBody(b []byte) (*body, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	var raw map[string]json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, apperr.Invalidf("JSON parse error - the body is empty.")
		}
		return nil, apperr.Invalidf("JSON parse error - %s", err.Error())
	}
	if raw == nil {
		return nil, errNotJSON
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, apperr.Invalidf("JSON parse error - unexpected data after the object.")
	}
	return &body{raw: raw, errs: apperr.FieldErrors{}, seen: map[string]bool{}}, nil
}

// has reports whether the field was sent, and marks it as known.
func (b *body) has(name string) bool {
	b.seen[name] = true
	_, ok := b.raw[name]
	return ok
}

func (b *body) isNull(name string) bool { return bytes.Equal(b.raw[name], []byte("null")) }

// decode unmarshals a sent field into dst; a type mismatch is a field error with msg.
func (b *body) decode(name string, dst any, msg string) bool {
	if !b.has(name) {
		return false
	}
	if err := json.Unmarshal(b.raw[name], dst); err != nil {
		b.errs.Add(name, msg)
		return false
	}
	return true
}

// str takes a string field; null and NUL characters are refused.
func (b *body) str(name string, dst *string) {
	if b.has(name) && b.isNull(name) {
		b.errs.Add(name, "This field may not be null.")
		return
	}
	if b.decode(name, dst, "Not a valid string.") && strings.ContainsRune(*dst, 0) {
		b.errs.Add(name, "Null characters are not allowed.")
	}
}

// boolean takes a true/false field.
func (b *body) boolean(name string, dst *bool) {
	if b.has(name) && b.isNull(name) {
		b.errs.Add(name, "This field may not be null.")
		return
	}
	b.decode(name, dst, "Must be a valid boolean.")
}

// integer takes a whole-number field and reports whether one was taken.
func (b *body) integer(name string, dst *int) bool {
	if b.has(name) && b.isNull(name) {
		b.errs.Add(name, "This field may not be null.")
		return false
	}
	return b.decode(name, dst, "A valid integer is required.")
}

// optTime takes an RFC 3339 timestamp or null.
func (b *body) optTime(name string, dst **time.Time) {
	if !b.has(name) {
		return
	}
	if b.isNull(name) {
		*dst = nil
		return
	}
	var s string
	if !b.decode(name, &s, "Datetime has wrong format. Use RFC 3339, e.g. 2025-11-15T14:32:00Z.") {
		return
	}
	t, err := list.ParseTime(s)
	if err != nil {
		b.errs.Add(name, "Datetime has wrong format. Use RFC 3339, e.g. 2025-11-15T14:32:00Z.")
		return
	}
	*dst = &t
}

// optIDs takes a list of ids or null.
func (b *body) optIDs(name string, dst *[]int64) {
	if !b.has(name) {
		return
	}
	if b.isNull(name) {
		*dst = nil
		return
	}
	var ids []int64
	if b.decode(name, &ids, "Expected a list of integer ids or null.") {
		if ids == nil {
			ids = []int64{}
		}
		*dst = ids
	}
}

// strings takes a list of strings.
func (b *body) strings(name string, dst *[]string) {
	if b.has(name) && b.isNull(name) {
		b.errs.Add(name, "This field may not be null.")
		return
	}
	if b.decode(name, dst, "Expected a list of strings.") && slices.ContainsFunc(*dst, func(s string) bool { return strings.ContainsRune(s, 0) }) {
		b.errs.Add(name, "Null characters are not allowed.")
	}
}

// readOnly marks fields that may be sent (a client PUTting back what it read) but are ignored.
func (b *body) readOnly(names ...string) {
	for _, n := range names {
		b.seen[n] = true
	}
}

// require adds "This field is required." for each missing field.
func (b *body) require(names ...string) {
	for _, n := range names {
		if _, ok := b.raw[n]; !ok {
			b.errs.Add(n, "This field is required.")
		}
	}
}

// err reports type errors and unknown fields; call it after taking every field.
func (b *body) err() error {
	var unknown []string
	for k := range b.raw {
		if !b.seen[k] {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		b.errs.Add(k, "Unknown field.")
	}
	return b.errs.Err()
}

// optStr takes a string or null.
func (b *body) optStr(name string, dst **string) {
	if !b.has(name) {
		return
	}
	if b.isNull(name) {
		*dst = nil
		return
	}
	var s string
	b.str(name, &s)
	*dst = &s
}

// optFloat takes a number or null.
func (b *body) optFloat(name string, dst **float64) {
	if !b.has(name) {
		return
	}
	if b.isNull(name) {
		*dst = nil
		return
	}
	var f float64
	if b.decode(name, &f, "A valid number is required.") {
		*dst = &f
	}
}

// optDate takes a YYYY-MM-DD date or null.
func (b *body) optDate(name string, dst **store.Date) {
	if !b.has(name) {
		return
	}
	if b.isNull(name) {
		*dst = nil
		return
	}
	var s string
	if !b.decode(name, &s, "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.") {
		return
	}
	d, err := store.ParseDate(s)
	if err != nil {
		b.errs.Add(name, "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.")
		return
	}
	*dst = &d
}

// object takes a JSON object (null is an empty object).
func (b *body) object(name string, dst *store.JSONObject) {
	if !b.has(name) {
		return
	}
	if b.isNull(name) {
		*dst = store.JSONObject{}
		return
	}
	var m map[string]any
	if b.decode(name, &m, "Expected a JSON object.") {
		*dst = m
	}
}

// org takes the organization of a new record; on updates it may only repeat the current one.
func (b *body) org(dst *int64) {
	var id int64
	if b.has("organization") && !b.isNull("organization") && b.decode("organization", &id, "Expected an organization id.") {
		*dst = id
	}
	b.readOnly("organization_name")
}

// optID takes an id or null.
func (b *body) optID(name string, dst **int64) {
	if !b.has(name) {
		return
	}
	*dst = nil
	if b.isNull(name) {
		return
	}
	var id int64
	if b.decode(name, &id, "Expected an id or null.") {
		*dst = &id
	}
}
