package store

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migration is one versioned schema change, embedded in a backend. Backends
// apply the migrations newer than the version their database records, in
// order, each in its own transaction, when they open.
type Migration struct {
	// Version is the number the file name starts with (0001_init.sql is 1).
	Version int
	// Name is the file name.
	Name string
	// SQL is the file's contents.
	SQL string
}

// LoadMigrations reads the *.sql files in dir of fsys (typically an
// embed.FS), named NNNN_description.sql, and returns them sorted by version.
// It fails on a name without a version, on a duplicate version, and on a gap
// in the sequence starting at 1.
func LoadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("store: load migrations from %s: %w", dir, err)
	}
	var out []Migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("store: migration %s: name must start with a positive version and an underscore", e.Name())
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("store: read migration %s: %w", e.Name(), err)
		}
		out = append(out, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("store: migrations in %s: expected version %d, found %s", dir, i+1, m.Name)
		}
	}
	return out, nil
}

// Pending returns the migrations newer than version current. It fails when
// the database records a version newer than any migration known: the
// database was written by a newer fleetkit, and this one must not touch it.
func Pending(ms []Migration, current int) ([]Migration, error) {
	if current > len(ms) {
		return nil, fmt.Errorf("store: database schema version %d is newer than this program knows (%d); upgrade fleetkit", current, len(ms))
	}
	return ms[current:], nil
}
