package api

import (
	"net/http"
	"strings"
)

// root lists the collections, in the order they are declared.
func (h *Handler) root(w http.ResponseWriter, r *http.Request) {
	out := map[string]string{}
	for _, e := range h.endpoints {
		if e.list != nil && !strings.Contains(e.path, "/") {
			out[e.path] = h.absolute(r, apiPrefix(r)+e.path+"/")
		}
	}
	h.writeJSON(w, r, http.StatusOK, out)
}
