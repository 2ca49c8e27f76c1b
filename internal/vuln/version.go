// Package vuln finds known vulnerabilities in the inventory: CVE data in the NVD CVE API 2.0 form
// (fetched or imported from feed files), CPE match criteria with version ranges, CPE candidates
// derived from each asset, and the comparison of vendors' version strings.
package vuln

import (
	"cmp"
	"strconv"
	"strings"
)

// CompareVersions orders two version strings the way vendors write them: dotted numbers
// (10.0.22631.3155), builds and suffixes (7.2.4-build1396, 15.2(4)E10, 6.4.12a, 2.0.0-rc1). Both are
// split into runs of digits and of letters; digit runs compare as numbers, letter runs
// case-insensitively. Dots and parentheses only separate; a dash, underscore, plus, tilde or space
// before a number starts a build number, which ranks below any further dotted part (7.2-64570 <
// 7.2.1-69057). A pre-release marker (alpha, beta, rc, pre, dev) sorts before the
// release it precedes; other letters sort after it (6.4.12a > 6.4.12) but before the next number
// (1.0a < 1.0.1); zeros that only pad (1.0.0, 2.0-rc1) are ignored. It returns -1, 0 or 1, and it
// is a total order: each string is reduced to a canonical token list on its own, and the lists
// compare lexicographically.
func CompareVersions(a, b string) int {
	ta, tb := tokens(a), tokens(b)
	for i := 0; i < len(ta) || i < len(tb); i++ {
		x, y := end, end
		if i < len(ta) {
			x = ta[i]
		}
		if i < len(tb) {
			y = tb[i]
		}
		if c := compareToken(x, y); c != 0 {
			return c
		}
	}
	return 0
}

// Token classes, in their order: a pre-release marker, the end of the version, a build separator,
// other letters, a number.
const (
	classPre = iota
	classEnd
	classBuild
	classText
	classNum
)

type token struct {
	class int
	num   uint64
	text  string
}

var end = token{class: classEnd}

func isBuildSep(c byte) bool { return c == '-' || c == '_' || c == '+' || c == '~' || c == ' ' }

func tokens(v string) []token {
	var out []token
	v = strings.ToLower(v)
	for i := 0; i < len(v); {
		j := i
		switch {
		case isDigit(v[i]):
			for j < len(v) && isDigit(v[j]) {
				j++
			}
			digits := strings.TrimLeft(v[i:j], "0")
			n, err := strconv.ParseUint(digits, 10, 64)
			switch {
			case digits == "":
				n = 0
			case err != nil:
				n = ^uint64(0) // absurdly long numbers compare as the largest
			}
			out = append(out, token{class: classNum, num: n})
		case isLetter(v[i]):
			for j < len(v) && isLetter(v[j]) {
				j++
			}
			t := token{class: classText, text: v[i:j]}
			if preRelease(t.text) {
				t.class = classPre
			}
			out = append(out, t)
		case isBuildSep(v[i]):
			out = append(out, token{class: classBuild})
			j++
		default:
			j++
		}
		i = j
	}
	return dropSeparators(dropPadding(out))
}

// dropSeparators keeps a build separator only where a number follows it, once.
func dropSeparators(ts []token) []token {
	out := ts[:0]
	for i, t := range ts {
		if t.class == classBuild && (i+1 == len(ts) || ts[i+1].class != classNum || len(out) == 0) {
			continue
		}
		out = append(out, t)
	}
	return out
}

// dropPadding removes runs of zeros followed by anything but a number: 1.0.0 is 1, 2.0-rc1 is
// 2-rc1, 1.0a is 1a, while 1.0.5 keeps its zero.
func dropPadding(ts []token) []token {
	out := ts[:0]
	for i := 0; i < len(ts); {
		j := i
		for j < len(ts) && ts[j].class == classNum && ts[j].num == 0 {
			j++
		}
		if j > i && (j == len(ts) || ts[j].class != classNum) {
			i = j
			continue
		}
		if j == i {
			j++
		}
		out = append(out, ts[i:j]...)
		i = j
	}
	return out
}

func isDigit(c byte) bool  { return '0' <= c && c <= '9' }
func isLetter(c byte) bool { return 'a' <= c && c <= 'z' }

func preRelease(s string) bool {
	switch s {
	case "alpha", "beta", "rc", "pre", "preview", "dev", "snapshot":
		return true
	}
	return false
}

func compareToken(a, b token) int {
	if a.class != b.class {
		return cmp.Compare(a.class, b.class)
	}
	switch a.class {
	case classNum:
		return cmp.Compare(a.num, b.num)
	case classEnd:
		return 0
	}
	return strings.Compare(a.text, b.text)
}
