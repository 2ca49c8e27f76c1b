package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"

	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
	"clientst0r/internal/store"
)

// idempotent makes a write replayable: with an Idempotency-Key header, the same key and request
// within 24 h gets the first response again instead of doing the work twice. Keys are scoped to the
// API key (or the session's user), so two clients cannot collide.
func (h *Handler) idempotent(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		if key == "" {
			next(w, r)
			return
		}
		if len(key) > 255 {
			h.fail(w, r, apperr.Invalidf("Idempotency-Key must be at most 255 characters."))
			return
		}
		b, err := readBody(w, r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		c := auth.CallerFrom(r.Context())
		scope := fmt.Sprintf("u:%d", c.User.ID)
		if c.Key != nil {
			scope = fmt.Sprintf("k:%d", c.Key.ID)
		}
		sum := sha256.New()
		fmt.Fprintf(sum, "%s %s?%s\n", r.Method, r.URL.Path, r.URL.RawQuery)
		sum.Write(b)
		hash := hex.EncodeToString(sum.Sum(nil))

		saved, err := h.store.ClaimIdempotencyKey(r.Context(), scope, key, hash)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if saved != nil {
			if saved.Location != "" {
				w.Header().Set("Location", saved.Location)
			}
			w.Header().Set("Idempotent-Replayed", "true")
			h.writeBody(w, r, saved.Status, saved.Body)
			return
		}
		rec := &recorder{ResponseWriter: w}
		next(rec, r)
		resp := store.SavedResponse{Status: rec.status, Body: rec.body.Bytes(), Location: w.Header().Get("Location")}
		if err := h.store.CompleteIdempotencyKey(context.WithoutCancel(r.Context()), scope, key, resp); err != nil {
			h.log.Error("save idempotent response", "request_id", requestID(r.Context()), "err", err)
		}
	}
}

// recorder passes a response through while keeping a copy for replay.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}
