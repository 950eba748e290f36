package inventory

import (
	"fmt"
	"regexp"
	"strings"
)

// Pattern is a glob over host or object names: * matches any run of
// characters (slashes included), ? one character, [abc] and [a-z] a class
// ([!…] or [^…] negates), \ escapes. It is the pattern language of Redis'
// SCAN MATCH, which the legacy reader hands patterns to.
type Pattern struct {
	raw    string
	re     *regexp.Regexp
	prefix string
	exact  bool
}

// CompilePattern compiles a glob. The empty string and "*" match
// everything.
func CompilePattern(glob string) (*Pattern, error) {
	var b strings.Builder
	b.WriteString(`^(?s:`)
	p := &Pattern{raw: glob}
	literal := true
	var prefix strings.Builder
	for i := 0; i < len(glob); i++ {
		c := glob[i]
		switch c {
		case '*':
			b.WriteString(`.*`)
			literal = false
		case '?':
			b.WriteString(`.`)
			literal = false
		case '[':
			j := i + 1
			if j < len(glob) && (glob[j] == '!' || glob[j] == '^') {
				j++
			}
			if j < len(glob) && glob[j] == ']' {
				j++
			}
			for j < len(glob) && glob[j] != ']' {
				j++
			}
			if j >= len(glob) {
				return nil, fmt.Errorf("%w: pattern %q: unclosed [", ErrInvalid, glob)
			}
			class := glob[i+1 : j]
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			class = strings.ReplaceAll(class, `\`, `\\`)
			b.WriteString("[" + class + "]")
			literal = false
			i = j
		case '\\':
			if i+1 < len(glob) {
				i++
				c = glob[i]
			}
			b.WriteString(regexp.QuoteMeta(string(c)))
			if literal {
				prefix.WriteByte(c)
			}
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
			if literal {
				prefix.WriteByte(c)
			}
		}
	}
	b.WriteString(`)$`)
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("%w: pattern %q: %v", ErrInvalid, glob, err)
	}
	p.re = re
	p.prefix = prefix.String()
	p.exact = literal
	if glob == "" {
		p.re = nil
	}
	return p, nil
}

// MustCompilePattern is CompilePattern that panics on a bad pattern, for
// patterns written in code.
func MustCompilePattern(glob string) *Pattern {
	p, err := CompilePattern(glob)
	if err != nil {
		panic(err)
	}
	return p
}

// Match reports whether s matches. A nil Pattern matches everything.
func (p *Pattern) Match(s string) bool {
	if p == nil || p.re == nil {
		return true
	}
	if p.exact {
		return s == p.prefix
	}
	if !strings.HasPrefix(s, p.prefix) {
		return false
	}
	return p.re.MatchString(s)
}

// Prefix returns the literal text every match starts with.
func (p *Pattern) Prefix() string {
	if p == nil {
		return ""
	}
	return p.prefix
}

// Exact returns the one string the pattern matches, if it has no
// wildcard.
func (p *Pattern) Exact() (string, bool) {
	if p == nil || p.re == nil {
		return "", false
	}
	return p.prefix, p.exact
}

// String returns the glob.
func (p *Pattern) String() string {
	if p == nil {
		return ""
	}
	return p.raw
}

// HasWildcard reports whether glob holds *, ? or [.
func HasWildcard(glob string) bool { return strings.ContainsAny(glob, `*?[\`) }
