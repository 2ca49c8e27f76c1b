package api

import "net/http"

// resources are the collections listed at the API root, in the order a reader meets them.
var resources = []string{"organizations", "assets", "keys", "roles", "audit"}

func (h *Handler) root(w http.ResponseWriter, r *http.Request) {
	out := make(map[string]string, len(resources))
	for _, res := range resources {
		out[res] = h.absolute(r, apiPrefix(r)+res+"/")
	}
	h.writeJSON(w, r, http.StatusOK, out)
}
