package api

import (
	"context"
	"net/http"
)

// The generic write endpoints: every resource's create, update and delete are these three functions
// given the resource's field mapping, store method and API conversion.

// applyFunc copies a body's writable fields onto a stored value; with replace, fields left out
// return to their defaults and required fields must be present.
type applyFunc[S any] func(b *body, s *S, replace bool)

func create[S, T any](h *Handler, w http.ResponseWriter, r *http.Request, apply applyFunc[S],
	save func(context.Context, S) (S, error), convert func(*http.Request, S) T, resource string, id func(S) int64) {
	b, err := decodeBody(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var s S
	apply(b, &s, true)
	if err := b.err(); err != nil {
		h.fail(w, r, err)
		return
	}
	s, err = save(r.Context(), s)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Location", h.objectURL(r, resource, id(s)))
	h.writeJSON(w, r, http.StatusCreated, convert(r, s))
}

func update[S, T any](h *Handler, w http.ResponseWriter, r *http.Request, replace bool, apply applyFunc[S],
	save func(context.Context, int64, func(*S) error) (S, error), convert func(*http.Request, S) T) {
	id, err := pathID(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	b, err := decodeBody(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	s, err := save(r.Context(), id, func(s *S) error {
		apply(b, s, replace)
		return b.err()
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeJSON(w, r, http.StatusOK, convert(r, s))
}

func remove(h *Handler, w http.ResponseWriter, r *http.Request, del func(context.Context, int64) error) {
	id, err := pathID(r)
	if err == nil {
		err = del(r.Context(), id)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// get answers one object.
func get[S, T any](h *Handler, w http.ResponseWriter, r *http.Request, load func(context.Context, int64) (S, error),
	convert func(*http.Request, S) T) {
	id, err := pathID(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	s, err := load(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeJSON(w, r, http.StatusOK, convert(r, s))
}

// action runs an operation on one object that takes no body (rotate a secret, retry, test) and
// answers with its result.
func action[S, T any](h *Handler, w http.ResponseWriter, r *http.Request, status int, do func(context.Context, int64) (S, error),
	convert func(*http.Request, S) T) {
	id, err := pathID(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	s, err := do(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeJSON(w, r, status, convert(r, s))
}
