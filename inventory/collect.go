package inventory

import (
	"context"
	"crypto/md5"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// CollectParams say where a host's objects are.
type CollectParams struct {
	// Dir is a directory of symlinks (followed) and files; each is one
	// file object named by the absolute path of its target. Optional.
	Dir string
	// Commands is a JSON file holding an object of command name → output;
	// each is one command object. Optional.
	Commands string
	// MaxObjectSize is the largest contents read; a larger file becomes an
	// Oversize object. 0 means DefaultMaxObjectSize.
	MaxObjectSize int64
	// Now is the clock for the collection time; nil means time.Now.
	Now func() time.Time
}

// Collect reads a host's objects. A file that cannot be read is skipped
// and its error returned in problems; a bad commands file or directory is
// an error.
func Collect(ctx context.Context, p *CollectParams) (objs []Object, problems []error, err error) {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	limit := p.MaxObjectSize
	if limit <= 0 {
		limit = DefaultMaxObjectSize
	}
	seen := map[string]bool{}
	if p.Dir != "" {
		entries, err := os.ReadDir(p.Dir)
		if err != nil {
			return nil, nil, fmt.Errorf("collect: read directory: %w", err)
		}
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
			o, err := collectFile(filepath.Join(p.Dir, e.Name()), limit, now)
			if err != nil {
				problems = append(problems, err)
				continue
			}
			if seen[o.Name] {
				continue // two links to one file
			}
			seen[o.Name] = true
			objs = append(objs, o)
		}
	}
	if p.Commands != "" {
		data, err := os.ReadFile(p.Commands)
		if err != nil {
			return nil, nil, fmt.Errorf("collect: read commands: %w", err)
		}
		var cmds map[string]string
		if err := json.Unmarshal(data, &cmds); err != nil {
			return nil, nil, fmt.Errorf("collect: commands file %s: %w: not a JSON object of name → output: %v", filepath.Base(p.Commands), ErrInvalid, err)
		}
		t := now()
		for name, out := range cmds {
			if err := CheckName(name, KindCommand); err != nil {
				return nil, nil, fmt.Errorf("collect: commands file %s: %w", filepath.Base(p.Commands), err)
			}
			objs = append(objs, NewObject(name, KindCommand, []byte(out), nil, t))
		}
	}
	SortObjects(objs)
	return objs, problems, nil
}

// NewObject returns an object with its digest and counts computed.
func NewObject(name string, kind Kind, contents []byte, st *FileStat, collected time.Time) Object {
	return Object{Name: name, Kind: kind, Contents: contents, MD5: md5.Sum(contents), Stat: st,
		Counts: CountText(contents), Size: int64(len(contents)), Collected: collected}
}

func collectFile(link string, limit int64, now func() time.Time) (Object, error) {
	target, err := filepath.EvalSymlinks(link)
	if err != nil {
		return Object{}, fmt.Errorf("collect %s: %w", link, err)
	}
	target, err = filepath.Abs(target)
	if err != nil {
		return Object{}, fmt.Errorf("collect %s: %w", link, err)
	}
	f, err := os.Open(target)
	if err != nil {
		return Object{}, fmt.Errorf("collect %s: %w", target, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Object{}, fmt.Errorf("collect %s: %w", target, err)
	}
	if !fi.Mode().IsRegular() {
		return Object{}, fmt.Errorf("collect %s: not a regular file", target)
	}
	st := statOf(fi)
	t := now()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return Object{}, fmt.Errorf("collect %s: %w", target, err)
	}
	if int64(len(data)) <= limit {
		return NewObject(target, KindFile, data, st, t), nil
	}
	// Too large: keep the digest and size of the whole file.
	h := md5.New()
	h.Write(data)
	n, err := io.Copy(h, f)
	if err != nil {
		return Object{}, fmt.Errorf("collect %s: %w", target, err)
	}
	o := Object{Name: target, Kind: KindFile, Stat: st, Size: int64(len(data)) + n, Collected: t, Oversize: true}
	copy(o.MD5[:], h.Sum(nil))
	return o, nil
}

func statOf(fi os.FileInfo) *FileStat {
	st := &FileStat{Mode: fi.Mode(), Size: fi.Size(), ModTime: fi.ModTime().UTC()}
	st.UID, st.GID = ownerOf(fi)
	return st
}
