package inventory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"iter"
	"log/slog"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
)

// Fields select what an extraction returns besides the keys.
type Fields uint8

// Fields of an object. Any of them but FieldContents costs only the
// record's header.
const (
	FieldContents Fields = 1 << iota
	FieldMD5
	FieldStat
	FieldCounts
	FieldTime
	// FieldsMeta are all the metadata fields.
	FieldsMeta = FieldMD5 | FieldStat | FieldCounts | FieldTime
)

// Query selects and filters the objects of an extraction.
type Query struct {
	// Lookup picks the replica groups (scope, site, asking host).
	Lookup
	// Names is a glob ([Pattern]) over object names; empty matches all.
	Names string
	// Hosts is a glob over hostnames; empty matches all.
	Hosts string
	// Fields say what to return besides keys.
	Fields Fields
	// Grep keeps only the lines holding this substring (Result.Lines).
	// It fetches the contents without returning them unless Fields has
	// FieldContents.
	Grep string
	// GrepRegexp keeps only the lines matching this regular expression
	// (RE2 syntax); it may be combined with Grep (both must match).
	GrepRegexp string
	// AllowGaps turns a group with no live server from an error into a
	// reported gap (a Problem of kind ProblemGap).
	AllowGaps bool
}

func (q *Query) grepping() bool { return q.Grep != "" || q.GrepRegexp != "" }

func (q *Query) fetch() Fetch {
	switch {
	case q.Fields&FieldContents != 0 || q.grepping():
		return FetchAll
	case q.Fields&FieldsMeta != 0:
		return FetchHeader
	}
	return FetchNone
}

// Result is one object found by an extraction.
type Result struct {
	// Object holds the key and, as Query.Fields asked, the metadata and
	// contents.
	Object
	// Lines are the lines that matched Query.Grep / GrepRegexp, without
	// their newline; empty when none matched (the host is still
	// reported, so that "which hosts differ" sees it).
	Lines []string
	// Server is the address of the server the record came from.
	Server string
}

// ProblemKind classifies a Problem.
type ProblemKind uint8

const (
	// ProblemRecord is a record that could not be decoded.
	ProblemRecord ProblemKind = iota + 1
	// ProblemFailover is a server that failed during the extraction and
	// was replaced by another of its group; no result was lost.
	ProblemFailover
	// ProblemGap is a group with no live server, whose objects are
	// missing from the results (only with Query.AllowGaps).
	ProblemGap
)

// String names the kind.
func (k ProblemKind) String() string {
	switch k {
	case ProblemRecord:
		return "record"
	case ProblemFailover:
		return "failover"
	case ProblemGap:
		return "gap"
	}
	return fmt.Sprintf("problem(%d)", uint8(k))
}

// Problem is an error reported with the results of an extraction.
type Problem struct {
	Kind   ProblemKind
	Group  string
	Server string
	// Key is the record's key (ProblemRecord).
	Key Key
	// Replacement is the server that took over (ProblemFailover).
	Replacement string
	Err         error
}

// String describes the problem in one line.
func (p Problem) String() string {
	switch p.Kind {
	case ProblemRecord:
		return fmt.Sprintf("record %s on %s: %v", p.Key, p.Server, p.Err)
	case ProblemFailover:
		return fmt.Sprintf("group %s: server %s failed (%v); continued on %s", p.Group, p.Server, p.Err, p.Replacement)
	case ProblemGap:
		return fmt.Sprintf("group %s: no live server, its objects are missing: %v", p.Group, p.Err)
	}
	return fmt.Sprintf("%s: %v", p.Kind, p.Err)
}

// MaxRecordProblems bounds the record problems an Extraction keeps; the
// others are only counted.
const MaxRecordProblems = 1000

// ExtractorConfig configures an Extractor. The zero value means defaults.
type ExtractorConfig struct {
	// Workers is the number of goroutines decoding and filtering records;
	// default GOMAXPROCS.
	Workers int
	// Logger receives failovers and gaps; nil means none.
	Logger *slog.Logger
}

// Extractor answers queries across replica groups. It is safe for
// concurrent use.
type Extractor struct {
	dir  Directory
	pool *Pool
	cfg  ExtractorConfig
}

// NewExtractor returns an Extractor resolving scopes with dir and reaching
// servers through pool. cfg may be nil.
func NewExtractor(dir Directory, pool *Pool, cfg *ExtractorConfig) *Extractor {
	e := &Extractor{dir: dir, pool: pool}
	if cfg != nil {
		e.cfg = *cfg
	}
	if e.cfg.Workers <= 0 {
		e.cfg.Workers = runtime.GOMAXPROCS(0)
	}
	return e
}

type pickedGroup struct {
	g      Group
	server string
	shard  Shard
}

// Extraction is a prepared extraction: its groups are resolved and a live
// server of each picked. Iterate All once to stream the results.
type Extraction struct {
	e        *Extractor
	q        Query
	names    *Pattern
	hosts    *Pattern
	re       *regexp.Regexp
	grep     *finder
	groups   []pickedGroup
	records  atomic.Int64
	bytes    atomic.Int64
	started  atomic.Bool
	mu       sync.Mutex
	problems []Problem
	nrecord  int // record problems kept
	dropped  int
	err      error
}

// Extract checks q, resolves its groups and picks a live server in each:
// a group with no live server is an error wrapping ErrNoServer naming it,
// or, with q.AllowGaps, a ProblemGap. Bad input returns an error wrapping
// ErrInvalid.
func (e *Extractor) Extract(ctx context.Context, q *Query) (*Extraction, error) {
	x := &Extraction{e: e, q: *q}
	var err error
	if x.names, err = CompilePattern(q.Names); err != nil {
		return nil, fmt.Errorf("extract: object names: %w", err)
	}
	if x.hosts, err = CompilePattern(q.Hosts); err != nil {
		return nil, fmt.Errorf("extract: hosts: %w", err)
	}
	if q.GrepRegexp != "" {
		if x.re, err = regexp.Compile(q.GrepRegexp); err != nil {
			return nil, fmt.Errorf("extract: %w: grep regexp: %v", ErrInvalid, err)
		}
	}
	if strings.ContainsRune(q.Grep, '\n') {
		return nil, fmt.Errorf("extract: %w: grep text holds a newline (lines are matched one at a time)", ErrInvalid)
	}
	if q.Grep != "" {
		x.grep = newFinder([]byte(q.Grep))
	}
	groups, err := e.dir.Resolve(ctx, q.Lookup)
	if err != nil {
		return nil, fmt.Errorf("extract: resolve scope %s: %w", q.Scope, err)
	}
	picked := make([]pickedGroup, len(groups))
	errs := make([]error, len(groups))
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			addr, s, err := e.pool.Pick(ctx, g, nil)
			picked[i] = pickedGroup{g: g, server: addr, shard: s}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err == nil {
			x.groups = append(x.groups, picked[i])
			continue
		}
		if !q.AllowGaps || ctx.Err() != nil {
			return nil, fmt.Errorf("extract: %w", err)
		}
		x.addProblem(Problem{Kind: ProblemGap, Group: groups[i].Name, Err: err})
	}
	return x, nil
}

// Servers returns the servers picked, one per group, before any failover.
func (x *Extraction) Servers() []string {
	out := make([]string, len(x.groups))
	for i, g := range x.groups {
		out[i] = g.server
	}
	return out
}

// Progress returns the records and record bytes received so far; safe to
// call during iteration.
func (x *Extraction) Progress() (records, bytes int64) { return x.records.Load(), x.bytes.Load() }

// Problems returns the problems met so far: gaps, failovers and undecodable
// records (at most MaxRecordProblems of those; Dropped counts the rest).
func (x *Extraction) Problems() []Problem {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]Problem(nil), x.problems...)
}

// Dropped returns how many record problems were counted but not kept.
func (x *Extraction) Dropped() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.dropped
}

// Err returns the error that ended the iteration early: a group whose
// every server failed (without AllowGaps), or the context's error.
func (x *Extraction) Err() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.err
}

func (x *Extraction) addProblem(p Problem) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if p.Kind == ProblemRecord {
		if x.nrecord >= MaxRecordProblems {
			x.dropped++
			return
		}
		x.nrecord++
	}
	x.problems = append(x.problems, p)
	if l := x.e.cfg.Logger; l != nil && p.Kind != ProblemRecord {
		l.Warn("inventory extract: "+p.Kind.String(), slog.String("problem", p.String()))
	}
}

func (x *Extraction) fail(err error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.err == nil {
		x.err = err
	}
}

type rawBatch struct {
	server string
	recs   []RawRecord
}

// All streams the results as they arrive, in no particular order, each
// key once. Memory is bounded by what the caller keeps, plus a few
// batches in flight and, when several groups are read, 8 bytes per key
// returned (to drop a host found in two groups). Stopping the loop early
// stops the extraction. All may be called once; check Err afterwards.
func (x *Extraction) All(ctx context.Context) iter.Seq[*Result] {
	return func(yield func(*Result) bool) {
		if x.started.Swap(true) {
			x.fail(errors.New("extract: All called twice"))
			return
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		workers := x.e.cfg.Workers
		rawCh := make(chan rawBatch, 2*workers)
		outCh := make(chan []*Result, 2*workers)
		var fetchers, decoders sync.WaitGroup
		for _, pg := range x.groups {
			fetchers.Add(1)
			go func() {
				defer fetchers.Done()
				x.fetchGroup(ctx, cancel, pg, rawCh)
			}()
		}
		for range workers {
			decoders.Add(1)
			go func() {
				defer decoders.Done()
				x.decode(ctx, rawCh, outCh)
			}()
		}
		go func() {
			fetchers.Wait()
			close(rawCh)
			decoders.Wait()
			close(outCh)
		}()
		var seen map[uint64]struct{}
		var seed maphash.Seed
		if len(x.groups) > 1 {
			seen = map[uint64]struct{}{}
			seed = maphash.MakeSeed()
		}
		stopped := false
		for batch := range outCh {
			if stopped {
				continue
			}
			for _, r := range batch {
				if seen != nil {
					h := maphash.String(seed, r.Host+"#"+r.Name)
					if _, dup := seen[h]; dup {
						continue
					}
					seen[h] = struct{}{}
				}
				if !yield(r) {
					stopped = true
					cancel()
					break
				}
			}
		}
		if !stopped {
			if err := ctx.Err(); err != nil {
				x.fail(fmt.Errorf("extract: %w", err))
			}
		}
	}
}

// fetchGroup scans one group, replacing a failing server by another of
// the group and resuming after the last key received.
func (x *Extraction) fetchGroup(ctx context.Context, cancel context.CancelFunc, pg pickedGroup, out chan<- rawBatch) {
	server, shard := pg.server, pg.shard
	skip := map[string]bool{}
	var after Key
	var seen map[Key]struct{}
	for {
		_, unordered := shard.(UnorderedShard)
		if unordered && seen == nil {
			seen = map[Key]struct{}{}
		}
		p := &ScanParams{Names: x.names, Hosts: x.hosts, Fetch: x.q.fetch(), After: after}
		srv := server
		err := shard.Scan(ctx, p, func(b []RawRecord) error {
			if unordered {
				kept := b[:0]
				for _, r := range b {
					if _, dup := seen[r.Key]; !dup {
						seen[r.Key] = struct{}{}
						kept = append(kept, r)
					}
				}
				b = kept
			}
			if len(b) == 0 {
				return nil
			}
			select {
			case out <- rawBatch{server: srv, recs: b}:
			case <-ctx.Done():
				return ctx.Err()
			}
			if !unordered {
				after = b[len(b)-1].Key
			}
			return nil
		})
		if err == nil || ctx.Err() != nil {
			return
		}
		skip[server] = true
		next, nextShard, perr := x.e.pool.Pick(ctx, pg.g, skip)
		if perr != nil {
			if ctx.Err() != nil {
				return
			}
			gapErr := fmt.Errorf("server %s failed mid-extract (%v) and %w", server, err, perr)
			if x.q.AllowGaps {
				x.addProblem(Problem{Kind: ProblemGap, Group: pg.g.Name, Server: server, Err: gapErr})
				return
			}
			x.fail(fmt.Errorf("extract: group %q: %w", pg.g.Name, gapErr))
			cancel()
			return
		}
		x.addProblem(Problem{Kind: ProblemFailover, Group: pg.g.Name, Server: server, Replacement: next, Err: err})
		server, shard = next, nextShard
	}
}

func (x *Extraction) decode(ctx context.Context, in <-chan rawBatch, out chan<- []*Result) {
	fetch := x.q.fetch()
	wantContents := x.q.Fields&FieldContents != 0
	var buf []byte // decompressed contents, reused from record to record
	for rb := range in {
		if ctx.Err() != nil {
			continue // stopped: drain without work so that the fetchers never block
		}
		res := make([]*Result, 0, len(rb.recs))
		var nbytes int64
		// Legacy records of a batch decompress together when they can
		// (see bunzipStreams).
		var legacy [][LegacyFields][]byte
		if fetch != FetchNone && len(rb.recs) > 0 && rb.recs[0].Legacy != nil {
			legacy, _ = decodeLegacyBatch(rb.recs)
		}
		for i := range rb.recs {
			r := &rb.recs[i]
			if legacy != nil {
				o := &Result{Server: rb.server, Object: Object{Host: r.Key.Host, Name: r.Key.Name, Kind: r.Kind}}
				for _, f := range r.Legacy {
					nbytes += int64(len(f))
				}
				err := decodeLegacyTexts(legacy[i], r.Kind, fetch == FetchAll, &o.Object)
				if err == nil {
					err = x.finish(r, o, o.Contents, wantContents)
				}
				if err != nil {
					x.addProblem(Problem{Kind: ProblemRecord, Server: rb.server, Key: r.Key, Err: &RecordError{Server: rb.server, Key: r.Key, Err: err}})
					continue
				}
				res = append(res, o)
				continue
			}
			nbytes += int64(len(r.Value))
			for _, f := range r.Legacy {
				nbytes += int64(len(f))
			}
			o := &Result{Server: rb.server}
			var err error
			if buf, err = x.decodeOne(r, fetch, wantContents, o, buf); err != nil {
				x.addProblem(Problem{Kind: ProblemRecord, Server: rb.server, Key: r.Key, Err: &RecordError{Server: rb.server, Key: r.Key, Err: err}})
				continue
			}
			res = append(res, o)
		}
		x.records.Add(int64(len(rb.recs)))
		x.bytes.Add(nbytes)
		if len(res) == 0 {
			continue
		}
		select {
		case out <- res:
		case <-ctx.Done():
			// Keep draining in so that the fetchers never block.
		}
	}
}

// decodeOne decodes r into o, filtering its lines when the query greps.
// buf is scratch space for decompressed contents; the (possibly grown)
// buffer is returned for the next record.
func (x *Extraction) decodeOne(r *RawRecord, fetch Fetch, wantContents bool, o *Result, buf []byte) ([]byte, error) {
	if fetch == FetchNone {
		o.Object = Object{Host: r.Key.Host, Name: r.Key.Name, Kind: r.Kind}
		return buf, nil
	}
	var contents []byte
	switch {
	case r.Legacy != nil:
		if err := DecodeLegacy(r.Key, r.Kind, r.Legacy, fetch == FetchAll, &o.Object); err != nil {
			return buf, err
		}
		contents = o.Contents
	case fetch == FetchHeader:
		if err := DecodeRecord(r.Key, r.Value, true, false, &o.Object); err != nil {
			if IsShortHeader(err) {
				return buf, fmt.Errorf("%w: header longer than %d bytes", ErrMalformed, HeaderFetchSize)
			}
			return buf, err
		}
	default:
		c, compressed, err := decodeContents(r.Key, r.Value, r.Dict, &o.Object, buf)
		if err != nil {
			return buf, err
		}
		contents = c
		if compressed {
			buf = c // keep the (possibly new) buffer for the next record
		}
	}
	return buf, x.finish(r, o, contents, wantContents)
}

// finish filters the lines of a decoded record and keeps its contents
// when asked.
func (x *Extraction) finish(r *RawRecord, o *Result, contents []byte, wantContents bool) error {
	if x.q.grepping() {
		o.Lines = x.grepLines(contents)
	}
	o.Contents = nil
	if wantContents {
		if r.Legacy == nil {
			contents = bytes.Clone(contents) // never hand out the scratch buffer or the raw record
		}
		o.Contents = contents
	}
	return nil
}

// grepLines returns the lines of b that hold x.grep and match x.re.
func (x *Extraction) grepLines(b []byte) []string {
	var out []string
	if x.grep != nil {
		// Jump from match to match instead of testing every line.
		for len(b) > 0 {
			i := x.grep.index(b)
			if i < 0 {
				break
			}
			start := bytes.LastIndexByte(b[:i], '\n') + 1
			end := bytes.IndexByte(b[i:], '\n')
			if end < 0 {
				end = len(b)
			} else {
				end += i
			}
			line := b[start:end]
			if x.re == nil || x.re.Match(line) {
				out = append(out, string(line))
			}
			if end >= len(b) {
				break
			}
			b = b[end+1:]
		}
		return out
	}
	Lines(b, func(line []byte) bool {
		if x.re.Match(line) {
			out = append(out, string(line))
		}
		return true
	})
	return out
}
