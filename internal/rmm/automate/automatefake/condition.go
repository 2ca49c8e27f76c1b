package automatefake

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The condition language of research §2.3, enough for the fields the fake serves: comparisons
// (=, eq, !=, >, >=, <, <=), in (…), like with %, contains, not before in/like/contains, and/or
// and parentheses; quoted strings, numbers, true/false.

// errDateCondition mimics servers that answer 500 to date comparisons on RemoteAgentLastContact.
var errDateCondition = errors.New("date conditions are not supported")

type predicate func(*entry) bool

func parseCondition(src string) (predicate, error) {
	toks, err := tokenize(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	pred, err := p.or()
	if err == nil && p.pos < len(p.toks) {
		err = fmt.Errorf("unexpected %q", p.toks[p.pos].text)
	}
	return pred, err
}

type token struct {
	text   string
	quoted bool
}

func tokenize(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')' || c == ',':
			out = append(out, token{text: string(c)})
			i++
		case c == '\'' || c == '"':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				return nil, errors.New("unterminated string")
			}
			out = append(out, token{text: s[i+1 : i+1+j], quoted: true})
			i += j + 2
		case strings.IndexByte("=!<>", c) >= 0:
			j := i + 1
			if j < len(s) && s[j] == '=' {
				j++
			}
			out = append(out, token{text: s[i:j]})
			i = j
		default:
			j := i
			for j < len(s) && strings.IndexByte(" \t\n\r(),'\"=!<>", s[j]) < 0 {
				j++
			}
			out = append(out, token{text: s[i:j]})
			i = j
		}
	}
	return out, nil
}

type parser struct {
	toks []token
	pos  int
}

func (p *parser) peek(word string) bool {
	return p.pos < len(p.toks) && !p.toks[p.pos].quoted && strings.EqualFold(p.toks[p.pos].text, word)
}

func (p *parser) next() (token, error) {
	if p.pos >= len(p.toks) {
		return token{}, errors.New("unexpected end of condition")
	}
	p.pos++
	return p.toks[p.pos-1], nil
}

func (p *parser) or() (predicate, error) {
	left, err := p.and()
	for err == nil && p.peek("or") {
		p.pos++
		var right predicate
		if right, err = p.and(); err == nil {
			l := left
			left = func(e *entry) bool { return l(e) || right(e) }
		}
	}
	return left, err
}

func (p *parser) and() (predicate, error) {
	left, err := p.factor()
	for err == nil && p.peek("and") {
		p.pos++
		var right predicate
		if right, err = p.factor(); err == nil {
			l := left
			left = func(e *entry) bool { return l(e) && right(e) }
		}
	}
	return left, err
}

func (p *parser) factor() (predicate, error) {
	if p.peek("(") {
		p.pos++
		pred, err := p.or()
		if err != nil {
			return nil, err
		}
		if !p.peek(")") {
			return nil, errors.New("missing )")
		}
		p.pos++
		return pred, nil
	}
	return p.comparison()
}

func (p *parser) comparison() (predicate, error) {
	f, err := p.next()
	if err != nil {
		return nil, err
	}
	field := strings.ToLower(f.text)
	if field == "remoteagentlastcontact" || field == "lastheartbeat" {
		return nil, errDateCondition
	}
	if _, ok := fieldValue(&entry{}, field); !ok {
		return nil, fmt.Errorf("unknown field %q", f.text)
	}
	negate := p.peek("not")
	if negate {
		p.pos++
	}
	op, err := p.next()
	if err != nil {
		return nil, err
	}
	var match func(string) bool
	switch o := strings.ToLower(op.text); {
	case o == "in":
		set, err := p.list()
		if err != nil {
			return nil, err
		}
		match = func(v string) bool { return set[strings.ToLower(v)] }
	case o == "like" || o == "contains":
		v, err := p.next()
		if err != nil {
			return nil, err
		}
		pattern := regexp.QuoteMeta(strings.ToLower(v.text))
		if o == "like" {
			pattern = "^" + strings.ReplaceAll(pattern, "%", ".*") + "$"
		}
		re := regexp.MustCompile(pattern)
		match = func(s string) bool { return re.MatchString(strings.ToLower(s)) }
	case negate:
		return nil, errors.New("not applies only to in, like and contains")
	default:
		v, err := p.next()
		if err != nil {
			return nil, err
		}
		if match, err = compare(o, v.text); err != nil {
			return nil, err
		}
	}
	return func(e *entry) bool {
		v, _ := fieldValue(e, field)
		return match(v) != negate
	}, nil
}

func (p *parser) list() (map[string]bool, error) {
	if !p.peek("(") {
		return nil, errors.New("in needs a list")
	}
	p.pos++
	set := map[string]bool{}
	for {
		v, err := p.next()
		if err != nil {
			return nil, err
		}
		set[strings.ToLower(v.text)] = true
		sep, err := p.next()
		if err != nil {
			return nil, err
		}
		if sep.text == ")" {
			return set, nil
		}
		if sep.text != "," {
			return nil, fmt.Errorf("unexpected %q in list", sep.text)
		}
	}
}

// compare matches numerically when both sides are numbers, else case-insensitively as text.
func compare(op, want string) (func(string) bool, error) {
	wn, werr := strconv.ParseFloat(want, 64)
	cmp := func(v string) int {
		if n, err := strconv.ParseFloat(v, 64); err == nil && werr == nil {
			switch {
			case n < wn:
				return -1
			case n > wn:
				return 1
			}
			return 0
		}
		return strings.Compare(strings.ToLower(v), strings.ToLower(want))
	}
	switch op {
	case "=", "eq":
		return func(v string) bool { return cmp(v) == 0 }, nil
	case "!=":
		return func(v string) bool { return cmp(v) != 0 }, nil
	case ">":
		return func(v string) bool { return cmp(v) > 0 }, nil
	case ">=":
		return func(v string) bool { return cmp(v) >= 0 }, nil
	case "<":
		return func(v string) bool { return cmp(v) < 0 }, nil
	case "<=":
		return func(v string) bool { return cmp(v) <= 0 }, nil
	}
	return nil, fmt.Errorf("unknown operator %q", op)
}
