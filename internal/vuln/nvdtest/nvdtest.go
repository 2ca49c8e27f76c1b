// Package nvdtest serves CVE records as the NVD CVE API 2.0 does, on 127.0.0.1, and writes them as
// NVD 2.0 feed files, for tests and benchmarks.
package nvdtest

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Match is one cpeMatch entry.
type Match struct {
	Vulnerable            bool   `json:"vulnerable"`
	Criteria              string `json:"criteria"`
	MatchCriteriaID       string `json:"matchCriteriaId,omitempty"`
	VersionStartIncluding string `json:"versionStartIncluding,omitempty"`
	VersionStartExcluding string `json:"versionStartExcluding,omitempty"`
	VersionEndIncluding   string `json:"versionEndIncluding,omitempty"`
	VersionEndExcluding   string `json:"versionEndExcluding,omitempty"`
}

// CVE is a record to serve; Build turns it into NVD's JSON.
type CVE struct {
	ID           string
	Description  string
	Score        float64 // CVSS v3.1 base score; 0 for none
	V2Score      float64 // a CVSS v2 score, served alongside or alone
	Published    time.Time
	LastModified time.Time
	Rejected     bool
	Matches      []Match
	// Platform adds a non-vulnerable "running on" node (an AND configuration).
	Platform []Match
}

// Vulnerable is a vulnerable match of criteria with a range given as start/end pairs, e.g.
// Vulnerable("cpe:2.3:o:fortinet:fortios:*:*:*:*:*:*:*:*", "", "", "7.2.0", "7.2.5") is versions
// from 7.2.0 (including) to 7.2.5 (excluding); the four bounds are start-including,
// start-excluding, end-including, end-excluding.
func Vulnerable(criteria, startIncl, startExcl, endIncl, endExcl string) Match {
	return Match{Vulnerable: true, Criteria: criteria, VersionStartIncluding: startIncl, VersionStartExcluding: startExcl,
		VersionEndIncluding: endIncl, VersionEndExcluding: endExcl}
}

const nvdLayout = "2006-01-02T15:04:05.000"

// Build is the record's {"cve": …} item in NVD 2.0 JSON.
func (c CVE) Build() map[string]any {
	metrics := map[string]any{}
	if c.Score > 0 {
		metrics["cvssMetricV31"] = []any{
			map[string]any{"source": "secondary@example.com", "type": "Secondary",
				"cvssData": map[string]any{"version": "3.1", "baseScore": 1.0, "baseSeverity": "LOW"}},
			map[string]any{"source": "nvd@nist.gov", "type": "Primary", "cvssData": map[string]any{
				"version": "3.1", "vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "baseScore": c.Score,
				"baseSeverity": "IGNORED-WE-DERIVE-IT"}, "exploitabilityScore": 3.9, "impactScore": 5.9},
		}
	}
	if c.V2Score > 0 {
		metrics["cvssMetricV2"] = []any{map[string]any{"source": "nvd@nist.gov", "type": "Primary",
			"cvssData": map[string]any{"version": "2.0", "baseScore": c.V2Score}, "baseSeverity": "HIGH"}}
	}
	status := "Analyzed"
	if c.Rejected {
		status = "Rejected"
	}
	var configs []any
	if len(c.Matches) > 0 {
		nodes := []any{map[string]any{"operator": "OR", "negate": false, "cpeMatch": c.Matches}}
		cfg := map[string]any{"nodes": nodes}
		if len(c.Platform) > 0 {
			cfg["operator"] = "AND"
			cfg["nodes"] = append(nodes, map[string]any{"operator": "OR", "negate": false, "cpeMatch": c.Platform})
		}
		configs = append(configs, cfg)
	}
	return map[string]any{"cve": map[string]any{
		"id": c.ID, "sourceIdentifier": "cve@mitre.org", "published": c.Published.UTC().Format(nvdLayout),
		"lastModified": c.LastModified.UTC().Format(nvdLayout), "vulnStatus": status,
		"descriptions": []any{map[string]any{"lang": "es", "value": "Descripción"}, map[string]any{"lang": "en", "value": c.Description}},
		"metrics":      metrics, "weaknesses": []any{}, "configurations": configs,
		"references": []any{map[string]any{"url": "https://example.com/advisory/" + c.ID, "source": "cve@mitre.org"}},
	}}
}

func envelope(items []any, start, total, perPage int) map[string]any {
	return map[string]any{"resultsPerPage": perPage, "startIndex": start, "totalResults": total, "format": "NVD_CVE",
		"version": "2.0", "timestamp": time.Now().UTC().Format(nvdLayout), "vulnerabilities": items}
}

// WriteFeed writes n CVEs as an NVD 2.0 feed file, gzip-compressed when the name ends in .gz.
func WriteFeed(path string, n int, cve func(i int) CVE) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	var w io.Writer = f
	var zw *gzip.Writer
	if strings.HasSuffix(path, ".gz") {
		zw = gzip.NewWriter(f)
		w = zw
	}
	err = writeFeed(w, n, cve)
	if zw != nil && err == nil {
		err = zw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Encode writes cves as a feed to w.
func Encode(w io.Writer, cves ...CVE) error {
	return writeFeed(w, len(cves), func(i int) CVE { return cves[i] })
}

// writeFeed writes record by record, the way the real feeds are large: the header, then each item.
func writeFeed(w io.Writer, n int, cve func(i int) CVE) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	fmt.Fprintf(bw, `{"resultsPerPage":%d,"startIndex":0,"totalResults":%d,"format":"NVD_CVE","version":"2.0","timestamp":%q,"vulnerabilities":[`,
		n, n, time.Now().UTC().Format(nvdLayout))
	enc := json.NewEncoder(bw)
	for i := 0; i < n; i++ {
		if i > 0 {
			bw.WriteString(",")
		}
		if err := enc.Encode(cve(i).Build()); err != nil {
			return err
		}
	}
	bw.WriteString("]}")
	return bw.Flush()
}

// Server is a fake NVD serving /rest/json/cves/2.0 with lastModStartDate/lastModEndDate filtering
// (both required together, at most 120 days apart), startIndex/resultsPerPage paging and the
// apiKey header.
type Server struct {
	*httptest.Server
	APIKey string // when set, requests must carry it

	mu       sync.Mutex
	cves     []CVE
	requests []url.Values
	refuse   int
}

// New starts a server on 127.0.0.1.
func New() *Server {
	s := &Server{}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Set replaces the CVEs served.
func (s *Server) Set(cves ...CVE) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cves = slices.Clone(cves)
}

// Refuse answers the next n requests with 403, as NVD does over its rate limit.
func (s *Server) Refuse(n int) {
	s.mu.Lock()
	s.refuse = n
	s.mu.Unlock()
}

// Requests are the query strings received, in order.
func (s *Server) Requests() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/rest/json/cves/2.0" {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	s.mu.Lock()
	s.requests = append(s.requests, q)
	refuse := s.refuse > 0
	if refuse {
		s.refuse--
	}
	cves := s.cves
	s.mu.Unlock()
	if refuse {
		w.Header().Set("message", "Request forbidden by administrative rules.")
		w.WriteHeader(http.StatusForbidden)
		return
	}
	if s.APIKey != "" && r.Header.Get("apiKey") != s.APIKey {
		w.Header().Set("message", "Invalid apiKey.")
		w.WriteHeader(http.StatusNotFound)
		return
	}
	var from, to time.Time
	if q.Has("lastModStartDate") != q.Has("lastModEndDate") {
		w.Header().Set("message", "Both lastModStartDate and lastModEndDate are required when either is present.")
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if q.Has("lastModStartDate") {
		var err1, err2 error
		from, err1 = time.Parse("2006-01-02T15:04:05.000Z07:00", q.Get("lastModStartDate"))
		to, err2 = time.Parse("2006-01-02T15:04:05.000Z07:00", q.Get("lastModEndDate"))
		if err1 != nil || err2 != nil || to.Sub(from) > 120*24*time.Hour || to.Before(from) {
			w.Header().Set("message", "Invalid lastModStartDate/lastModEndDate.")
			w.WriteHeader(http.StatusNotFound)
			return
		}
	}
	var match []any
	for _, c := range cves {
		if from.IsZero() || (!c.LastModified.Before(from) && !c.LastModified.After(to)) {
			match = append(match, c.Build())
		}
	}
	start, _ := strconv.Atoi(q.Get("startIndex"))
	per, err := strconv.Atoi(q.Get("resultsPerPage"))
	if err != nil || per <= 0 || per > 2000 {
		per = 2000
	}
	page := []any{}
	if start < len(match) {
		page = match[start:min(start+per, len(match))]
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(envelope(page, start, len(match), per))
}
