package memstore

import (
	"context"
	"fmt"
	"hash/maphash"
	"slices"

	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/store"
)

// hostTable maps host names to dense indices (int32) and holds a record per
// host. Nothing in it is a pointer per host: names are copied into a text
// arena, records live in fixed-size chunks (which never move, so growth
// copies nothing), and the index maps the hash of a name to its record.
type hostTable struct {
	index   hashIndex
	chunks  [][]hostRec
	n       int32 // records in use
	names   textArena
	reasons map[int32]string // by host, for hosts whose hostRec.hasReason
}

// hostRec is what the store knows of one host.
type hostRec struct {
	name textRef
	// last is the host's newest job: the head of its history. While the
	// host is held, last is a job of the batch holding it.
	last      jobRef
	updated   stamp
	state     hostState
	hasReason bool
}

const (
	hostChunkBits = 12
	hostChunkLen  = 1 << hostChunkBits
)

func (t *hostTable) rec(i int32) *hostRec {
	return &t.chunks[i>>hostChunkBits][i&(hostChunkLen-1)]
}

func (t *hostTable) nameBytes(i int32) []byte { return t.names.bytes(t.rec(i).name) }

func (t *hostTable) name(i int32) string { return string(t.nameBytes(i)) }

// find returns the index of host name, whose hash is hash, or -1 when the
// table has never seen it.
func (t *hostTable) find(name string, hash uint64) int32 {
	for q := t.index.probe(hash); ; {
		i, ok := q.next()
		if !ok {
			return -1
		}
		if string(t.nameBytes(i)) == name {
			return i
		}
	}
}

// add adds host name, whose hash is hash and which find did not find, as
// ready and never seen, taking memory from sp; it returns the host's
// index.
func (t *hostTable) add(name string, hash uint64, sp *spares) int32 {
	i := t.n
	if int(i>>hostChunkBits) == len(t.chunks) {
		t.chunks = append(t.chunks, sp.hostChunk())
	}
	t.n++
	*t.rec(i) = hostRec{name: t.names.add(name, sp), last: noJob}
	t.index.insert(hash, i, sp)
	return i
}

// setReason sets the Reason of host i.
func (t *hostTable) setReason(i int32, reason string) {
	r := t.rec(i)
	r.hasReason = reason != ""
	if r.hasReason {
		t.reasons[i] = reason
	} else {
		delete(t.reasons, i)
	}
}

// hash returns the hash of a host name or batch ID for the store's
// indices. It needs no lock.
func (s *Store) hash(key string) uint64 { return maphash.String(s.seed, key) }

// findHost returns the index of host name, or -1.
func (s *Store) findHost(name string) int32 { return s.hosts.find(name, s.hash(name)) }

// host returns host i, named name, for a caller.
func (s *Store) host(i int32, name string) lifecycle.Host {
	r := s.hosts.rec(i)
	h := lifecycle.Host{Name: name, State: r.state.public(), UpdatedAt: r.updated.time()}
	if r.hasReason {
		h.Reason = s.hosts.reasons[i]
	}
	if h.State.Held() {
		h.BatchID = s.holder(i)
	}
	return h
}

// holder returns the ID of the batch holding host i, which is held.
func (s *Store) holder(i int32) string { return s.batches[s.hosts.rec(i).last.batch].id }

// Host implements lifecycle.Store.
func (s *Store) Host(ctx context.Context, name string) (lifecycle.Host, error) {
	if err := s.lock(ctx); err != nil {
		return lifecycle.Host{}, err
	}
	defer s.mu.Unlock()
	if i := s.findHost(name); i >= 0 {
		return s.host(i, name), nil
	}
	return lifecycle.Host{Name: name, State: lifecycle.HostReady}, nil
}

// SetHostState implements lifecycle.Store. A host name longer than
// maxName bytes is refused with an error wrapping store.ErrInvalid.
func (s *Store) SetHostState(ctx context.Context, t lifecycle.HostTransition) (lifecycle.Host, error) {
	if len(t.Host) > maxName {
		return lifecycle.Host{}, fmt.Errorf("memstore: set host state: %w: host name of %d bytes (at most %d)", store.ErrInvalid, len(t.Host), maxName)
	}
	if err := s.lock(ctx); err != nil {
		return lifecycle.Host{}, err
	}
	defer s.mu.Unlock()
	hash := s.hash(t.Host)
	i := s.hosts.find(t.Host, hash)
	cur := lifecycle.Host{Name: t.Host, State: lifecycle.HostReady}
	if i >= 0 {
		cur = s.host(i, t.Host)
	}
	next, changed, err := lifecycle.ApplyHostTransition(cur, t)
	if err != nil || !changed {
		return next, err
	}
	if i < 0 {
		i = s.hosts.add(t.Host, hash, &s.spares)
	}
	r := s.hosts.rec(i)
	r.state = hostStateOf(next.State)
	r.updated = stampOf(next.UpdatedAt)
	s.hosts.setReason(i, next.Reason)
	return next, nil
}

// history returns the seqs of the batches that hold or held host i, sorted
// by batch ID.
func (s *Store) history(i int32) []int32 {
	var seqs []int32
	for ref := s.hosts.rec(i).last; ref.batch >= 0; ref = s.batches[ref.batch].jobs[ref.job].prev {
		if n := len(seqs); n == 0 || seqs[n-1] != ref.batch { // a batch listing a host twice
			seqs = append(seqs, ref.batch)
		}
	}
	// Newest admission first; IDs almost always agree, so this sort is cheap.
	slices.Reverse(seqs)
	s.sortByID(seqs)
	return seqs
}

// textArena holds strings as bytes in large chunks, which hold no pointers
// and never move.
type textArena struct{ chunks [][]byte }

// textRef locates a string in a textArena.
type textRef struct {
	chunk  uint32
	off, n uint16
}

const (
	textChunkLen = 1 << 16
	// maxName is the longest host name the store keeps.
	maxName = textChunkLen - 1
)

// add copies s, at most maxName bytes long, into the arena, taking chunks
// from sp.
func (a *textArena) add(s string, sp *spares) textRef {
	last := len(a.chunks) - 1
	if last < 0 || len(a.chunks[last])+len(s) > cap(a.chunks[last]) {
		a.chunks = append(a.chunks, sp.textChunk())
		last++
	}
	c := a.chunks[last]
	a.chunks[last] = append(c, s...)
	return textRef{uint32(last), uint16(len(c)), uint16(len(s))}
}

func (a *textArena) bytes(r textRef) []byte {
	end := int(r.off) + int(r.n)
	return a.chunks[r.chunk][r.off:end:end]
}
