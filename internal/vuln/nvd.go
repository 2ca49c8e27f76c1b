package vuln

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// CVE is one CVE record as stored: its scores and its vulnerable CPE criteria.
type CVE struct {
	ID           string
	Description  string
	Score        *float64
	CVSSVersion  string
	Severity     string // low, medium, high, critical; "" when not scored yet
	Published    *time.Time
	LastModified *time.Time
	Rejected     bool
	Criteria     []Criterion
	// SkippedCriteria counts match criteria that were not CPE 2.3 names.
	SkippedCriteria int
}

// NVD CVE API 2.0 JSON: the response of /rest/json/cves/2.0 and the 2.0 feed files share it.
type nvdItem struct {
	CVE nvdCVE `json:"cve"`
}

type nvdCVE struct {
	ID           string `json:"id"`
	Published    string `json:"published"`
	LastModified string `json:"lastModified"`
	VulnStatus   string `json:"vulnStatus"`
	Descriptions []struct {
		Lang  string `json:"lang"`
		Value string `json:"value"`
	} `json:"descriptions"`
	Metrics struct {
		V31 []nvdMetric `json:"cvssMetricV31"`
		V30 []nvdMetric `json:"cvssMetricV30"`
		V40 []nvdMetric `json:"cvssMetricV40"`
		V2  []nvdMetric `json:"cvssMetricV2"`
	} `json:"metrics"`
	Configurations []struct {
		Nodes []struct {
			Negate   bool `json:"negate"`
			CPEMatch []struct {
				Vulnerable            bool   `json:"vulnerable"`
				Criteria              string `json:"criteria"`
				VersionStartIncluding string `json:"versionStartIncluding"`
				VersionStartExcluding string `json:"versionStartExcluding"`
				VersionEndIncluding   string `json:"versionEndIncluding"`
				VersionEndExcluding   string `json:"versionEndExcluding"`
			} `json:"cpeMatch"`
		} `json:"nodes"`
	} `json:"configurations"`
}

type nvdMetric struct {
	Type     string `json:"type"`
	CVSSData struct {
		Version      string  `json:"version"`
		BaseScore    float64 `json:"baseScore"`
		BaseSeverity string  `json:"baseSeverity"`
	} `json:"cvssData"`
	BaseSeverity string `json:"baseSeverity"` // v2 keeps it outside cvssData
}

var cveID = regexp.MustCompile(`^CVE-\d{4}-\d{4,12}$`)

// Limits on what one record may hold, so a hostile or broken feed cannot exhaust memory or rows.
const (
	maxDescription = 4000
	maxCriteria    = 5000
	maxVersionLen  = 100
)

func (n *nvdCVE) convert() (CVE, error) {
	if !cveID.MatchString(n.ID) {
		return CVE{}, fmt.Errorf("%q is not a CVE id", n.ID)
	}
	c := CVE{ID: n.ID, Rejected: strings.EqualFold(n.VulnStatus, "Rejected")}
	var err error
	if c.Published, err = nvdTime(n.Published); err != nil {
		return CVE{}, fmt.Errorf("%s: published: %w", n.ID, err)
	}
	if c.LastModified, err = nvdTime(n.LastModified); err != nil {
		return CVE{}, fmt.Errorf("%s: lastModified: %w", n.ID, err)
	}
	for _, d := range n.Descriptions {
		if d.Lang == "en" || c.Description == "" {
			c.Description = d.Value
		}
	}
	c.Description = truncateRunes(strings.ToValidUTF8(c.Description, ""), maxDescription)
	for _, set := range []struct {
		version string
		m       []nvdMetric
	}{{"3.1", n.Metrics.V31}, {"3.0", n.Metrics.V30}, {"4.0", n.Metrics.V40}, {"2.0", n.Metrics.V2}} {
		if m := primary(set.m); m != nil {
			score := m.CVSSData.BaseScore
			if score < 0 || score > 10 {
				continue
			}
			c.Score, c.CVSSVersion = &score, set.version
			c.Severity = severity(score, set.version)
			break
		}
	}
	for _, cfg := range n.Configurations {
		for _, node := range cfg.Nodes {
			if node.Negate {
				continue
			}
			for _, m := range node.CPEMatch {
				if !m.Vulnerable {
					continue
				}
				cpe, err := ParseCPE(m.Criteria)
				bounds := []string{m.VersionStartIncluding, m.VersionStartExcluding, m.VersionEndIncluding, m.VersionEndExcluding}
				if err != nil || len(c.Criteria) >= maxCriteria || tooLong(bounds) {
					c.SkippedCriteria++
					continue
				}
				c.Criteria = append(c.Criteria, Criterion{CVE: c.ID, Criteria: cpe.String(), CPE: cpe,
					StartIncluding: bounds[0], StartExcluding: bounds[1], EndIncluding: bounds[2], EndExcluding: bounds[3]})
			}
		}
	}
	return c, nil
}

func tooLong(vs []string) bool {
	for _, v := range vs {
		if len(v) > maxVersionLen {
			return true
		}
	}
	return false
}

// primary prefers NVD's own ("Primary") score over those of other sources.
func primary(ms []nvdMetric) *nvdMetric {
	for i := range ms {
		if ms[i].Type == "Primary" {
			return &ms[i]
		}
	}
	if len(ms) > 0 {
		return &ms[0]
	}
	return nil
}

// severity is the qualitative rating of a score: CVSS v3 and v4 share their bands, v2 has no
// "critical" (its high starts at 7.0).
func severity(score float64, version string) string {
	switch {
	case score >= 9 && version != "2.0":
		return "critical"
	case score >= 7:
		return "high"
	case score >= 4:
		return "medium"
	}
	return "low"
}

// nvdTime reads NVD's timestamps: "2021-08-04T13:15:07.473", in UTC without a zone, or with one.
func nvdTime(s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			t = t.UTC()
			return &t, nil
		}
	}
	return nil, fmt.Errorf("%q is not a timestamp", s)
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// Page is what a response says about itself besides its CVEs.
type Page struct {
	ResultsPerPage, StartIndex, TotalResults int
	// Read counts the records read; Invalid those skipped as malformed, with the first few errors.
	Read, Invalid int
	Errors        []string
}

// ErrNotNVD is returned for JSON that is not NVD CVE API 2.0 data.
var ErrNotNVD = errors.New("not NVD CVE API 2.0 JSON (expected an object with a \"vulnerabilities\" list)")

// Decode streams an NVD CVE API 2.0 response or feed file (gzip-compressed or not) and hands each
// CVE to fn as it is read, so a feed of any size is never held in memory. A malformed record is
// counted and skipped; malformed JSON stops the read.
func Decode(r io.Reader, fn func(CVE) error) (Page, error) {
	var p Page
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return p, fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		r = zr
	} else {
		r = br
	}
	dec := json.NewDecoder(r)
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return p, ErrNotNVD
	}
	found := false
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return p, fmt.Errorf("read: %w", err)
		}
		key, _ := t.(string)
		switch key {
		case "resultsPerPage":
			err = dec.Decode(&p.ResultsPerPage)
		case "startIndex":
			err = dec.Decode(&p.StartIndex)
		case "totalResults":
			err = dec.Decode(&p.TotalResults)
		case "vulnerabilities":
			found = true
			err = decodeItems(dec, &p, fn)
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return p, err
		}
	}
	if !found {
		return p, ErrNotNVD
	}
	return p, nil
}

func decodeItems(dec *json.Decoder, p *Page, fn func(CVE) error) error {
	if t, err := dec.Token(); err != nil || t != json.Delim('[') {
		return ErrNotNVD
	}
	for dec.More() {
		var item nvdItem
		if err := dec.Decode(&item); err != nil {
			var typeErr *json.UnmarshalTypeError
			if !errors.As(err, &typeErr) {
				return fmt.Errorf("record %d: %w", p.Read+1, err)
			}
			p.invalid(fmt.Sprintf("record %d: %v", p.Read+1, err))
			p.Read++
			continue
		}
		p.Read++
		c, err := item.CVE.convert()
		if err != nil {
			p.invalid(err.Error())
			continue
		}
		if err := fn(c); err != nil {
			return err
		}
	}
	_, err := dec.Token()
	return err
}

func (p *Page) invalid(msg string) {
	p.Invalid++
	if len(p.Errors) < 10 {
		p.Errors = append(p.Errors, msg)
	}
}
