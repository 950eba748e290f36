package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/fleetkit/fleetkit/inventory"
)

type printer struct {
	c *config
	w *bufio.Writer
}

func newPrinter(c *config, w io.Writer) *printer {
	return &printer{c: c, w: bufio.NewWriterSize(w, 64<<10)}
}

// resultJSON is one object in -json output.
type resultJSON struct {
	Host      string     `json:"host"`
	Name      string     `json:"name"`
	Kind      string     `json:"kind,omitempty"`
	Server    string     `json:"server,omitempty"`
	MD5       string     `json:"md5,omitempty"`
	Mode      string     `json:"mode,omitempty"`
	Size      *int64     `json:"size,omitempty"`
	UID       *uint32    `json:"uid,omitempty"`
	GID       *uint32    `json:"gid,omitempty"`
	ModTime   *time.Time `json:"mtime,omitempty"`
	Lines     *int64     `json:"lines,omitempty"`
	Words     *int64     `json:"words,omitempty"`
	Chars     *int64     `json:"chars,omitempty"`
	Collected *time.Time `json:"collected,omitempty"`
	Oversize  bool       `json:"oversize,omitempty"`
	Contents  *string    `json:"contents,omitempty"`
	Matches   []string   `json:"matches,omitempty"`
}

func (p *printer) print(ctx context.Context, x *inventory.Extraction) error {
	defer p.w.Flush()
	c := p.c
	grep := c.grep != "" || c.regexp != ""
	switch {
	case c.count:
		lines := inventory.CountLines(x.All(ctx), false)
		if c.json {
			return json.NewEncoder(p.w).Encode(lines)
		}
		for _, l := range lines {
			fmt.Fprintf(p.w, "%7d %s\n", l.Count, l.Line)
		}
		return nil
	case c.differ:
		cmp := inventory.Compare(x.All(ctx), grep)
		if c.json {
			return json.NewEncoder(p.w).Encode(map[string]any{"same": cmp.Same(), "total": cmp.Total, "values": cmp.Values})
		}
		if cmp.Total == 0 {
			fmt.Fprintln(p.w, "no object matched")
			return nil
		}
		if cmp.Same() {
			fmt.Fprintf(p.w, "all %d objects have the same value\n", cmp.Total)
		} else {
			fmt.Fprintf(p.w, "%d objects, %d different values:\n", cmp.Total, len(cmp.Values))
		}
		for i, v := range cmp.Values {
			val := v.Value
			if val == "" {
				val = "(no matching line)"
			}
			fmt.Fprintf(p.w, "%7d %s\n", len(v.Keys), val)
			if i > 0 {
				for _, k := range v.Keys {
					fmt.Fprintf(p.w, "        %s\n", k)
				}
			}
		}
		return nil
	}
	enc := json.NewEncoder(p.w)
	for r := range x.All(ctx) {
		if grep && len(r.Lines) == 0 && !c.listFiles {
			continue
		}
		if c.json {
			if err := enc.Encode(p.toJSON(r)); err != nil {
				return err
			}
			continue
		}
		p.text(r, grep)
	}
	return nil
}

func (p *printer) prefix(r *inventory.Result) string {
	if p.c.prefix {
		return r.Host + ": "
	}
	return ""
}

func (p *printer) text(r *inventory.Result, grep bool) {
	c := p.c
	key := r.Host + "#" + r.Name
	switch {
	case c.listFiles:
		fmt.Fprintln(p.w, key)
	case c.md5sum:
		fmt.Fprintf(p.w, "%s  %s\n", r.MD5Hex(), key)
	case c.stat:
		if r.Stat == nil {
			fmt.Fprintf(p.w, "%s: no file metadata (%s)\n", key, r.Kind)
			return
		}
		fmt.Fprintf(p.w, "%s %s size=%d uid=%d gid=%d mtime=%s\n", key, r.Stat.Mode, r.Stat.Size, r.Stat.UID, r.Stat.GID, r.Stat.ModTime.Format(time.RFC3339))
	case c.wordcount:
		fmt.Fprintf(p.w, "%8d %8d %8d %s\n", r.Counts.Lines, r.Counts.Words, r.Counts.Chars, key)
	case c.time:
		fmt.Fprintf(p.w, "%s %s\n", r.Collected.Format(time.RFC3339), key)
	case grep:
		for _, l := range r.Lines {
			fmt.Fprintf(p.w, "%s%s\n", p.prefix(r), l)
		}
	case c.contents:
		if r.Oversize {
			fmt.Fprintf(p.w, "%s(%s: %d bytes, over the size limit: not stored)\n", p.prefix(r), key, r.Size)
			return
		}
		if !c.prefix {
			_, _ = p.w.Write(r.Contents)
			return
		}
		inventory.Lines(r.Contents, func(line []byte) bool {
			fmt.Fprintf(p.w, "%s%s\n", p.prefix(r), line)
			return true
		})
	default:
		fmt.Fprintln(p.w, key)
	}
}

func (p *printer) toJSON(r *inventory.Result) resultJSON {
	c := p.c
	j := resultJSON{Host: r.Host, Name: r.Name, Server: r.Server, Matches: r.Lines, Oversize: r.Oversize}
	if r.Kind != 0 {
		j.Kind = r.Kind.String()
	}
	switch {
	case c.md5sum:
		j.MD5 = r.MD5Hex()
	case c.stat:
		if r.Stat != nil {
			j.Mode, j.Size, j.UID, j.GID, j.ModTime = r.Stat.Mode.String(), &r.Stat.Size, &r.Stat.UID, &r.Stat.GID, &r.Stat.ModTime
		}
	case c.wordcount:
		j.Lines, j.Words, j.Chars = &r.Counts.Lines, &r.Counts.Words, &r.Counts.Chars
	case c.time:
		j.Collected = &r.Collected
	case c.contents:
		s := string(r.Contents)
		j.Contents = &s
	}
	return j
}
