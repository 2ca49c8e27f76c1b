package vuln

import (
	"fmt"
	"strings"
)

// Criterion is one vulnerable CPE match of a CVE: a CPE pattern and an optional version range.
type Criterion struct {
	CVE      string
	Criteria string // the formatted CPE as NVD gives it
	CPE      CPE
	// StartIncluding … EndExcluding bound the version when CPE.Version is "*"; "" is unbounded.
	StartIncluding, StartExcluding, EndIncluding, EndExcluding string
}

// Ranged reports whether the criterion bounds the version.
func (m *Criterion) Ranged() bool {
	return m.StartIncluding != "" || m.StartExcluding != "" || m.EndIncluding != "" || m.EndExcluding != ""
}

// Key is what the criterion is looked up by: its vendor and product.
func (m *Criterion) Key() string { return m.CPE.Vendor + ":" + m.CPE.Product }

// Candidate is one CPE an asset may be known by, in plain lower-case values. Version is "" when the
// asset does not say.
type Candidate struct {
	Part, Vendor, Product, Version string
}

// Key is what criteria for the candidate are looked up by.
func (c Candidate) Key() string { return c.Vendor + ":" + c.Product }

// String is the candidate as a CPE.
func (c Candidate) String() string {
	v := c.Version
	if v == "" {
		v = "*"
	} else {
		v = Escape(v)
	}
	return fmt.Sprintf("cpe:2.3:%s:%s:%s:%s", c.Part, Escape(c.Vendor), Escape(c.Product), v)
}

// Matches reports whether the candidate satisfies the criterion. Attributes an asset cannot tell
// (edition, language, target software …) are taken as matching. An asset whose version is unknown
// matches only criteria that hold for every version.
func (m *Criterion) Matches(c Candidate) bool {
	p := &m.CPE
	if !MatchAttr(p.Part, c.Part) || !MatchAttr(p.Vendor, c.Vendor) || !MatchAttr(p.Product, c.Product) {
		return false
	}
	anyVersion := p.Version == "*" || p.Version == "-"
	anyUpdate := p.Update == "*" || p.Update == "-"
	if c.Version == "" {
		return anyVersion && anyUpdate && !m.Ranged()
	}
	if !anyVersion {
		if hasWildcard(p.Version) {
			if !glob(p.Version, strings.ToLower(c.Version)) {
				return false
			}
		} else {
			want := Unescape(p.Version)
			if !anyUpdate {
				want += " " + Unescape(p.Update)
			}
			if !sameRelease(want, c.Version, anyUpdate) {
				return false
			}
		}
	}
	v := c.Version
	return (m.StartIncluding == "" || compareToBound(v, m.StartIncluding) >= 0) &&
		(m.StartExcluding == "" || compareToBound(v, m.StartExcluding) > 0) &&
		(m.EndIncluding == "" || compareToBound(v, m.EndIncluding) <= 0) &&
		(m.EndExcluding == "" || compareToBound(v, m.EndExcluding) < 0)
}

// compareToBound compares a version with a range bound, taking a build of the bound's release as
// that release: 7.2.4-build1396 and 7.2.1-69057 are 7.2.4 and 7.2.1 to bounds written 7.2.4 and
// 7.2.1, as vendors' advisories mean them. Letter updates (1.1.1w) stay later than the bound.
func compareToBound(v, bound string) int {
	tv, tb := tokens(v), tokens(bound)
	if len(tv) > len(tb) && equalTokens(tv[:len(tb)], tb) {
		if next := tv[len(tb)]; next.class == classBuild || next.class == classText && next.text == "build" {
			return 0
		}
	}
	return CompareVersions(v, bound)
}

func equalTokens(a, b []token) bool {
	for i := range a {
		if compareToken(a[i], b[i]) != 0 {
			return false
		}
	}
	return true
}

// sameRelease reports whether have is the version want, or with anyUpdate also a build or lettered
// update of it (7.2.1 covers 7.2.1-69057 and 1.1.1 covers 1.1.1w, not 7.2.10 or 7.2.1.5).
func sameRelease(want, have string, anyUpdate bool) bool {
	if CompareVersions(want, have) == 0 {
		return true
	}
	if !anyUpdate {
		return false
	}
	tw, th := tokens(want), tokens(have)
	return len(th) > len(tw) && equalTokens(th[:len(tw)], tw) && th[len(tw)].class != classNum
}

// Describe says what matched, for the finding's "matched" field.
func (m *Criterion) Describe(c Candidate) string {
	var r []string
	for _, b := range []struct{ op, v string }{{">=", m.StartIncluding}, {">", m.StartExcluding}, {"<=", m.EndIncluding}, {"<", m.EndExcluding}} {
		if b.v != "" {
			r = append(r, b.op+" "+b.v)
		}
	}
	s := c.String() + " matches " + m.Criteria
	if len(r) > 0 {
		s += " (versions " + strings.Join(r, ", ") + ")"
	}
	return s
}

// Finding is a CVE an asset matched, with the first criterion that matched it.
type Finding struct {
	CVE     string
	Matched string
}

// Match returns the CVEs whose criteria one of the candidates satisfies, one finding per CVE.
// byKey holds the criteria of each candidate key; wild are the criteria whose vendor or product
// holds a wildcard, tried against every candidate.
func Match(cands []Candidate, byKey map[string][]*Criterion, wild []*Criterion) []Finding {
	var out []Finding
	seen := map[string]bool{}
	try := func(m *Criterion, c Candidate) {
		if !seen[m.CVE] && m.Matches(c) {
			seen[m.CVE] = true
			out = append(out, Finding{CVE: m.CVE, Matched: m.Describe(c)})
		}
	}
	for _, c := range cands {
		for _, m := range byKey[c.Key()] {
			try(m, c)
		}
		for _, m := range wild {
			try(m, c)
		}
	}
	return out
}
