package vuln

import (
	"errors"
	"fmt"
	"strings"
)

// CPE is a CPE 2.3 formatted string split into its eleven attributes, each kept in the formatted
// form (backslash escapes intact) so that "*" (any), "-" (not applicable), embedded wildcards and
// escaped characters keep their meaning.
type CPE struct {
	Part, Vendor, Product, Version, Update, Edition, Language, SWEdition, TargetSW, TargetHW, Other string
}

// ErrCPE is wrapped by every parse error.
var ErrCPE = errors.New("not a CPE 2.3 name")

// ParseCPE reads "cpe:2.3:part:vendor:product:version:update:edition:language:sw_edition:target_sw:
// target_hw:other". Colons inside a value are escaped with a backslash.
func ParseCPE(s string) (CPE, error) {
	const prefix = "cpe:2.3:"
	if len(s) > 1024 {
		return CPE{}, fmt.Errorf("%w: longer than 1024 characters", ErrCPE)
	}
	if !strings.HasPrefix(strings.ToLower(s), prefix) {
		return CPE{}, fmt.Errorf("%w: %q does not start with %s", ErrCPE, s, prefix)
	}
	var parts []string
	rest, start := s[len(prefix):], 0
	for i := 0; i < len(rest); i++ {
		switch rest[i] {
		case '\\':
			if i+1 == len(rest) {
				return CPE{}, fmt.Errorf("%w: %q ends in a lone backslash", ErrCPE, s)
			}
			i++
		case ':':
			parts = append(parts, rest[start:i])
			start = i + 1
		}
	}
	parts = append(parts, rest[start:])
	if len(parts) != 11 {
		return CPE{}, fmt.Errorf("%w: %q has %d attributes, not 11", ErrCPE, s, len(parts))
	}
	for i, p := range parts {
		if p == "" {
			return CPE{}, fmt.Errorf("%w: %q has an empty attribute", ErrCPE, s)
		}
		parts[i] = strings.ToLower(p)
	}
	c := CPE{parts[0], parts[1], parts[2], parts[3], parts[4], parts[5], parts[6], parts[7], parts[8], parts[9], parts[10]}
	switch c.Part {
	case "a", "o", "h", "*":
	default:
		return CPE{}, fmt.Errorf("%w: part %q is not a, o, h or *", ErrCPE, c.Part)
	}
	return c, nil
}

// String is the formatted string again.
func (c CPE) String() string {
	return "cpe:2.3:" + strings.Join([]string{c.Part, c.Vendor, c.Product, c.Version, c.Update, c.Edition, c.Language,
		c.SWEdition, c.TargetSW, c.TargetHW, c.Other}, ":")
}

// Wild reports whether the vendor or product holds a wildcard, so it cannot be looked up by name.
func (c CPE) Wild() bool { return hasWildcard(c.Vendor) || hasWildcard(c.Product) }

func hasWildcard(v string) bool {
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '*', '?':
			return true
		}
	}
	return false
}

// Unescape turns a formatted attribute into its plain value: "15.2\(4\)e10" is "15.2(4)e10".
func Unescape(v string) string {
	if !strings.Contains(v, `\`) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// Escape turns a plain value into an attribute value: punctuation other than "-", "." and "_" is
// quoted, as the CPE 2.3 formatted binding requires.
func Escape(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(isDigit(c) || isLetter(c) || c >= 'A' && c <= 'Z' || c == '-' || c == '.' || c == '_' || c >= 0x80) {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// MatchAttr compares a formatted attribute of a match criterion with a plain value: "*" matches
// anything, "-" only "-" or an unknown value, unescaped "*" and "?" inside a value match any run
// of characters and any one character.
func MatchAttr(pattern, value string) bool {
	switch {
	case pattern == "*" || value == "*":
		return true
	case pattern == "-":
		return value == "-" || value == ""
	}
	return glob(pattern, strings.ToLower(value))
}

// glob matches value against pattern, backtracking over at most one "*" at a time, so it is linear
// in practice and quadratic at worst.
func glob(p, v string) bool {
	pi, vi := 0, 0
	star, mark := -1, 0
	for vi < len(v) {
		if pi < len(p) {
			switch c := p[pi]; {
			case c == '*':
				star, mark = pi, vi
				pi++
				continue
			case c == '?':
				pi++
				vi++
				continue
			case c == '\\' && pi+1 < len(p) && p[pi+1] == v[vi]:
				pi += 2
				vi++
				continue
			case c != '\\' && c == v[vi]:
				pi++
				vi++
				continue
			}
		}
		if star < 0 {
			return false
		}
		mark++
		pi, vi = star+1, mark
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
