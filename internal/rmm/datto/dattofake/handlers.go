package dattofake

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"clientst0r/internal/rmm/rmmtest"
)

func (s *Server) requestRate(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	count := len(s.accepted)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"slidingTimeWindowSizeSeconds": s.opts.Window.Seconds() * s.opts.TimeScale,
		"accountUid":                   "fake-account", "accountCount": count, "accountRateLimit": s.opts.Limit,
		"accountCutOffRatio": 0.9, "accountWriteCount": 0, "accountWriteRateLimit": 100,
	})
}

// listDevices serves the account's devices; the filters are SQL LIKE in Datto, substrings here.
func (s *Server) listDevices(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	filters := map[string]func(d rmmtest.Device) string{
		"hostname":        func(d rmmtest.Device) string { return d.Name },
		"siteName":        siteName,
		"operatingSystem": func(d rmmtest.Device) string { return d.OSName },
	}
	s.mu.Lock()
	devices := s.devices
	s.mu.Unlock()
	items := make([][]byte, 0, len(devices))
next:
	for _, d := range devices {
		for name, field := range filters {
			if v := q.Get(name); v != "" && !strings.Contains(strings.ToLower(field(d.d)), strings.ToLower(v)) {
				continue next
			}
		}
		items = append(items, d.list)
	}
	s.writePage(w, r, "devices", items, s.opts.PageMax)
}

func (s *Server) deviceAudit(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	i, ok := s.byUID[r.PathValue("uid")]
	var audit []byte
	if ok {
		audit = s.devices[i].audit
	}
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Device not found"})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(audit)
}

func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) {
	state := r.PathValue("state")
	if state != "open" && state != "resolved" {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not found"})
		return
	}
	s.mu.Lock()
	items := s.open
	if state == "resolved" {
		items = s.resolved
	}
	s.mu.Unlock()
	s.writePage(w, r, "alerts", items, 100)
}

// writePage serves page (0-based) of max items under key with Datto's pageDetails; nextPageUrl is
// absolute and carries only max and page, as Datto's drops every filter.
func (s *Server) writePage(w http.ResponseWriter, r *http.Request, key string, items [][]byte, defMax int) {
	q := r.URL.Query()
	pageNo, err := strconv.Atoi(cmp.Or(q.Get("page"), "0"))
	size, err2 := strconv.Atoi(cmp.Or(q.Get("max"), strconv.Itoa(defMax)))
	if err != nil || err2 != nil || pageNo < 0 || size < 1 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "invalid page or max"})
		return
	}
	size = min(size, defMax)
	start := min(pageNo*size, len(items))
	end := min(start+size, len(items))
	host := cmp.Or(s.opts.NextPageHost, r.Host)
	link := func(p int) string { return fmt.Sprintf("http://%s%s?max=%d&page=%d", host, r.URL.Path, size, p) }
	var next, prev any
	if end < len(items) {
		next = link(pageNo + 1)
	}
	if pageNo > 0 {
		prev = link(pageNo - 1)
	}
	details, _ := json.Marshal(map[string]any{"count": end - start, "totalCount": len(items), "prevPageUrl": prev, "nextPageUrl": next})
	var b bytes.Buffer
	b.WriteString(`{"pageDetails":`)
	b.Write(details)
	b.WriteString(`,"` + key + `":[`)
	for i, it := range items[start:end] {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(it)
	}
	b.WriteString("]}")
	w.Header().Set("Content-Type", "application/json")
	w.Write(b.Bytes())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(v)
	w.Write(b)
}
