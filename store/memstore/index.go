package memstore

import "sync/atomic"

// hashIndex maps 64-bit hashes to int32 values (host and batch indices);
// values may share a hash, and the caller compares keys. It is extendible
// hashing: a directory, addressed by the top bits of the hash, of
// fixed-size pages with linear probing. A full page splits in two, so
// growth never moves more than one page; every entry keeps the top 32 bits
// of its hash (its tag), from which it is placed again, so growth never
// reads a key. Nothing in it is a pointer but the directory's.
//
// Only the holder of the Store's mutex changes it and looks values up.
// Anyone may call touch, for which the directory and the slots of
// published pages are read and written atomically.
type hashIndex struct {
	dir   atomic.Pointer[directory] // nil until the first insert
	pages []pageInfo                // by page id
}

// directory is immutable but for its entries, which splits repoint;
// doubling it publishes a new one.
type directory struct {
	pages []atomic.Pointer[indexPage]
	ids   []int32 // of pages, in hashIndex.pages; only under the lock
	depth uint32  // bits of the tag that address pages and ids
}

// pageInfo describes a page; it is kept apart from the page so that
// neither touch nor an insert has to load a second cache line.
type pageInfo struct {
	n     int32  // entries
	depth uint32 // bits of the tag that all its entries share
}

const (
	pageSlots   = 1024 // 8 KiB
	pageMaxLoad = pageSlots * 3 / 4
)

// indexPage holds the entries whose tags start with the same bits. An
// entry is tag<<32 | value+1; 0 is an empty slot.
type indexPage struct{ slots [pageSlots]uint64 }

// slot returns the index in d.pages and d.ids of the page for tag.
func (d *directory) slot(tag uint32) uint32 {
	return tag >> (32 - d.depth) // a shift by 32 gives 0
}

// touch loads the slot where a lookup or insert of hash h starts, so that
// the lookup made later under the lock finds it in the CPU cache. It needs
// no lock; its result means nothing.
func (x *hashIndex) touch(h uint64) uint64 {
	d := x.dir.Load()
	if d == nil {
		return 0
	}
	tag := uint32(h >> 32)
	return atomic.LoadUint64(&d.pages[d.slot(tag)].Load().slots[tag%pageSlots])
}

// probe is a lookup in progress: it yields the values stored under one
// tag, in no useful order.
type probe struct {
	p   *indexPage
	tag uint32
	k   uint32
}

// probe starts a lookup of hash h.
func (x *hashIndex) probe(h uint64) probe {
	d := x.dir.Load()
	if d == nil {
		return probe{}
	}
	tag := uint32(h >> 32)
	return probe{p: d.pages[d.slot(tag)].Load(), tag: tag, k: tag}
}

// next returns the next value stored under the probe's tag; false when
// there are no more.
func (q *probe) next() (int32, bool) {
	if q.p == nil {
		return 0, false
	}
	for {
		e := q.p.slots[q.k%pageSlots] // only the lock holder writes slots
		q.k++
		switch {
		case e == 0:
			return 0, false
		case uint32(e>>32) == q.tag:
			return int32(uint32(e)) - 1, true
		}
	}
}

// insert adds value v under hash h, taking new pages from sp.
func (x *hashIndex) insert(h uint64, v int32, sp *spares) {
	tag := uint32(h >> 32)
	d := x.dir.Load()
	if d == nil {
		d = &directory{pages: make([]atomic.Pointer[indexPage], 1), ids: make([]int32, 1)}
		d.pages[0].Store(sp.page())
		x.pages = append(x.pages, pageInfo{})
		x.dir.Store(d)
	}
	k := d.slot(tag)
	if x.pages[d.ids[k]].n >= pageMaxLoad {
		d = x.split(d, k, tag, sp)
		k = d.slot(tag)
	}
	p := d.pages[k].Load()
	atomic.StoreUint64(&p.slots[p.free(tag)], entry(tag, v)) // p is published
	x.pages[d.ids[k]].n++
}

func entry(tag uint32, v int32) uint64 { return uint64(tag)<<32 | uint64(uint32(v)+1) }

// free returns the index of the slot where an entry with tag goes.
func (p *indexPage) free(tag uint32) uint32 {
	for k := tag; ; k++ {
		if p.slots[k%pageSlots] == 0 {
			return k % pageSlots
		}
	}
}

// split replaces page k of d, which tag addresses, by two new pages that
// tell its entries apart by one more bit of their tags, and returns the
// directory, doubled if it had to be. (A page cannot split when all its
// entries share a 32-bit tag; with pageMaxLoad entries and a random seed,
// that does not happen.)
func (x *hashIndex) split(d *directory, k uint32, tag uint32, sp *spares) *directory {
	p, id := d.pages[k].Load(), d.ids[k]
	depth := x.pages[id].depth
	if depth == d.depth {
		dd := &directory{pages: make([]atomic.Pointer[indexPage], 2*len(d.pages)), ids: make([]int32, 2*len(d.ids)), depth: d.depth + 1}
		for j := range dd.pages {
			dd.pages[j].Store(d.pages[j/2].Load())
			dd.ids[j] = d.ids[j/2]
		}
		x.dir.Store(dd)
		d = dd
	}
	// lo takes p's id, hi a new one.
	lo, hi := sp.page(), sp.page()
	hiID := int32(len(x.pages))
	x.pages[id] = pageInfo{depth: depth + 1}
	x.pages = append(x.pages, pageInfo{depth: depth + 1})
	bit := uint32(1) << (31 - depth)
	for _, en := range p.slots[:] {
		if en == 0 {
			continue
		}
		q, qid := lo, id
		if uint32(en>>32)&bit != 0 {
			q, qid = hi, hiID
		}
		q.slots[q.free(uint32(en>>32))] = en // not yet published
		x.pages[qid].n++
	}
	// p filled a run of 1<<(d.depth-depth) directory entries: the first
	// half now goes to lo, the second to hi.
	n := 1 << (d.depth - depth)
	start := int(tag>>(32-d.depth)) &^ (n - 1)
	for j := range n {
		if j < n/2 {
			d.pages[start+j].Store(lo)
		} else {
			d.pages[start+j].Store(hi)
			d.ids[start+j] = hiID
		}
	}
	return d
}
