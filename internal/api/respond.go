package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"

	"clientst0r/internal/apperr"
)

// writeJSON answers with v as JSON. Every /api/ response goes through here or through fail, so the
// browsable view can take over for browsers in one place.
func (h *Handler) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeBody(w, r, status, b)
}

func (h *Handler) writeBody(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	if wantsHTML(r) {
		h.renderBrowsable(w, r, status, body)
		return
	}
	w.Header().Set("Vary", "Accept")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// statuses maps each error kind to its HTTP status.
var statuses = map[apperr.Kind]int{
	apperr.Internal:         http.StatusInternalServerError,
	apperr.Invalid:          http.StatusBadRequest,
	apperr.NotFound:         http.StatusNotFound,
	apperr.Conflict:         http.StatusConflict,
	apperr.Unauthorized:     http.StatusUnauthorized,
	apperr.Forbidden:        http.StatusForbidden,
	apperr.Throttled:        http.StatusTooManyRequests,
	apperr.TooLarge:         http.StatusRequestEntityTooLarge,
	apperr.UnsupportedMedia: http.StatusUnsupportedMediaType,
	apperr.Unavailable:      http.StatusServiceUnavailable,
}

// fail is the one error funnel: it maps the error's kind to a status and a DRF body, and logs only
// what the client cannot be blamed for.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	e, ok := apperr.As(err)
	if !ok || e.Kind == apperr.Internal {
		id := requestID(r.Context())
		h.log.Error("internal error", "request_id", id, "method", r.Method, "path", r.URL.Path, "err", err)
		h.writeJSON(w, r, http.StatusInternalServerError, map[string]string{"detail": "Internal server error.", "request_id": id})
		return
	}
	switch e.Kind {
	case apperr.Unauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="api"`)
	case apperr.Throttled, apperr.Unavailable:
		w.Header().Set("Retry-After", strconv.Itoa(max(e.RetryAfter, 1)))
	}
	var body any
	if len(e.Fields) > 0 {
		body = e.Fields
	} else {
		body = map[string]string{"detail": e.Detail}
	}
	h.writeJSON(w, r, statuses[e.Kind], body)
}

// logLevel keeps expected client errors out of the error log.
func logLevel(status int) slog.Level {
	if status >= 500 {
		return slog.LevelError
	}
	return slog.LevelInfo
}
