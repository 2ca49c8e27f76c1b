// Package apperr is the small error vocabulary shared by the store, the API and the web UI.
// Lower layers return these kinds (wrapped with context); the HTTP layer maps each kind to one status
// and DRF-shaped body in one place.
package apperr

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Kind classifies an error for the caller; it decides the HTTP status.
type Kind int

const (
	Internal Kind = iota
	Invalid
	NotFound
	Conflict
	Unauthorized
	Forbidden
	Throttled
	TooLarge
	UnsupportedMedia
	Unavailable // a transient condition such as a database lock timeout; the client may retry
)

// Error carries a kind, a human message (DRF's "detail") and, for validation errors, per-field messages.
type Error struct {
	Kind   Kind
	Detail string
	Fields FieldErrors
	// RetryAfter is set on Throttled and Unavailable errors, in seconds.
	RetryAfter int
}

func (e *Error) Error() string {
	if len(e.Fields) > 0 {
		return "invalid: " + e.Fields.String()
	}
	return e.Detail
}

// FieldErrors maps a field name (or "non_field_errors") to its messages.
type FieldErrors map[string][]string

// Add appends a message for field.
func (f FieldErrors) Add(field, msg string) { f[field] = append(f[field], msg) }

// Err returns nil when there are no messages, else an Invalid error carrying them.
func (f FieldErrors) Err() error {
	if len(f) == 0 {
		return nil
	}
	return &Error{Kind: Invalid, Fields: f}
}

func (f FieldErrors) String() string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+strings.Join(f[k], " "))
	}
	return strings.Join(parts, "; ")
}

// Sentinel-style constructors. Messages follow DRF where DRF has one.

var (
	ErrNotFound  = &Error{Kind: NotFound, Detail: "Not found."}
	ErrForbidden = &Error{Kind: Forbidden, Detail: "You do not have permission to perform this action."}
)

// Field returns an Invalid error with one message on one field.
func Field(field, msg string) error {
	return &Error{Kind: Invalid, Fields: FieldErrors{field: {msg}}}
}

// Invalidf returns an Invalid error with a detail message and no fields.
func Invalidf(format string, args ...any) error {
	return &Error{Kind: Invalid, Detail: fmt.Sprintf(format, args...)}
}

// Conflictf returns a Conflict error.
func Conflictf(format string, args ...any) error {
	return &Error{Kind: Conflict, Detail: fmt.Sprintf(format, args...)}
}

// KindOf reports the kind of err; errors that are not *Error are Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// As returns the *Error inside err, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Is reports whether err is of kind k.
func Is(err error, k Kind) bool { return KindOf(err) == k }
