package inventory

import (
	"cmp"
	"context"
	"iter"
	"slices"
	"strings"
)

// LineCount is one distinct line and how often it occurred.
type LineCount struct {
	Line  string
	Count int
	// Hosts are the hosts whose objects held the line, sorted (only when
	// asked for).
	Hosts []string
}

// CountLines aggregates the matched lines of results like `sort | uniq
// -c`: each distinct line with its number of occurrences, most common
// first (ties by line). With keepHosts, each line also lists its hosts.
// Results without Lines contribute nothing.
func CountLines(results iter.Seq[*Result], keepHosts bool) []LineCount {
	counts := map[string]*LineCount{}
	for r := range results {
		for _, l := range r.Lines {
			lc := counts[l]
			if lc == nil {
				lc = &LineCount{Line: l}
				counts[l] = lc
			}
			lc.Count++
			if keepHosts && (len(lc.Hosts) == 0 || lc.Hosts[len(lc.Hosts)-1] != r.Host) {
				lc.Hosts = append(lc.Hosts, r.Host)
			}
		}
	}
	out := make([]LineCount, 0, len(counts))
	for _, lc := range counts {
		slices.Sort(lc.Hosts)
		lc.Hosts = slices.Compact(lc.Hosts)
		out = append(out, *lc)
	}
	slices.SortFunc(out, func(a, b LineCount) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return strings.Compare(a.Line, b.Line)
	})
	return out
}

// ValueHosts is one value of an object and the keys holding it.
type ValueHosts struct {
	Value string
	Keys  []Key
}

// Comparison groups the objects of an extraction by value: the matched
// lines when the query greps, else the MD5 digest.
type Comparison struct {
	// Values, most common first (ties by value).
	Values []ValueHosts
	// Total is the number of objects compared.
	Total int
}

// Same reports whether every object compared has the same value.
func (c *Comparison) Same() bool { return len(c.Values) <= 1 }

// Differing returns the keys whose value is not the most common one,
// sorted.
func (c *Comparison) Differing() []Key {
	var out []Key
	for _, v := range c.Values[min(1, len(c.Values)):] {
		out = append(out, v.Keys...)
	}
	slices.SortFunc(out, func(a, b Key) int { return cmp.Compare(a.String(), b.String()) })
	return out
}

// Compare groups results by value: the matched lines joined by newlines
// when grep is set, else the MD5 hex digest.
func Compare(results iter.Seq[*Result], grep bool) *Comparison {
	byValue := map[string][]Key{}
	c := &Comparison{}
	for r := range results {
		v := r.MD5Hex()
		if grep {
			v = strings.Join(r.Lines, "\n")
		}
		byValue[v] = append(byValue[v], Key{Host: r.Host, Name: r.Name})
		c.Total++
	}
	for v, keys := range byValue {
		slices.SortFunc(keys, func(a, b Key) int { return cmp.Compare(a.String(), b.String()) })
		c.Values = append(c.Values, ValueHosts{Value: v, Keys: keys})
	}
	slices.SortFunc(c.Values, func(a, b ValueHosts) int {
		if d := cmp.Compare(len(b.Keys), len(a.Keys)); d != 0 {
			return d
		}
		return strings.Compare(a.Value, b.Value)
	})
	return c
}

// Compare answers "does every host have the same value of X" in one call:
// it runs q (fetching the MD5 digest when q does not grep) and groups the
// objects by value. The extraction's problems are returned with it.
func (e *Extractor) Compare(ctx context.Context, q *Query) (*Comparison, []Problem, error) {
	qq := *q
	if !qq.grepping() {
		qq.Fields |= FieldMD5
	}
	x, err := e.Extract(ctx, &qq)
	if err != nil {
		return nil, nil, err
	}
	c := Compare(x.All(ctx), qq.grepping())
	return c, x.Problems(), x.Err()
}

// CountLines runs q, which should grep, and aggregates its matched lines
// (see the function CountLines). The extraction's problems are returned
// with it.
func (e *Extractor) CountLines(ctx context.Context, q *Query, keepHosts bool) ([]LineCount, []Problem, error) {
	x, err := e.Extract(ctx, q)
	if err != nil {
		return nil, nil, err
	}
	lc := CountLines(x.All(ctx), keepHosts)
	return lc, x.Problems(), x.Err()
}
