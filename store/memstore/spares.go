package memstore

import "unsafe"

// spares is memory that the critical section of CreateBatch uses to grow
// the store: index pages, host record chunks, text chunks. Allocating such
// a block under the lock, and faulting in its fresh memory pages there,
// would hold up every other caller, so a CreateBatch allocates and writes
// what runs short before it takes the lock, and hands it over under the
// lock. Store.low says what runs short. When the critical section finds a
// spare missing all the same, it allocates one itself.
type spares struct {
	pages []*indexPage
	hosts []hostRec // a chunk for hostTable
	text  []byte    // a chunk for textArena, empty
}

// Bits of Store.low.
const (
	lowPages   = 1 << iota // fewer than sparePages index pages
	lowHosts               // no host chunk
	lowText                // no text chunk
	lowPending = 1 << 31   // a CreateBatch is allocating what is missing
)

// sparePages is how many index pages are kept ready; a split takes two.
const sparePages = 8

// memPage is the size of the smallest memory page: writing one byte in
// every memPage bytes faults a block in.
const memPage = 4096

// low returns the low* bits of what sp is short of.
func (sp *spares) low() uint32 {
	var m uint32
	if len(sp.pages) < sparePages {
		m |= lowPages
	}
	if sp.hosts == nil {
		m |= lowHosts
	}
	if sp.text == nil {
		m |= lowText
	}
	return m
}

// makeSpares allocates, and faults in, what the low* bits of m say is
// missing.
func makeSpares(m uint32) *spares {
	sp := &spares{}
	if m&lowPages != 0 {
		for range sparePages {
			sp.pages = append(sp.pages, newPage())
		}
	}
	if m&lowHosts != 0 {
		sp.hosts = make([]hostRec, hostChunkLen)
		for k := 0; k < len(sp.hosts); k += memPage / int(unsafe.Sizeof(hostRec{})) {
			sp.hosts[k].state = 0
		}
	}
	if m&lowText != 0 {
		b := make([]byte, textChunkLen)
		for k := 0; k < len(b); k += memPage {
			b[k] = 0
		}
		sp.text = b[:0]
	}
	return sp
}

func newPage() *indexPage {
	p := new(indexPage)
	for k := 0; k < pageSlots; k += memPage / 8 {
		p.slots[k] = 0
	}
	return p
}

// add moves into sp what it lacks of fresh.
func (sp *spares) add(fresh *spares) {
	for _, p := range fresh.pages {
		if len(sp.pages) < 2*sparePages {
			sp.pages = append(sp.pages, p)
		}
	}
	if sp.hosts == nil {
		sp.hosts = fresh.hosts
	}
	if sp.text == nil {
		sp.text = fresh.text
	}
}

// page returns an empty index page.
func (sp *spares) page() *indexPage {
	n := len(sp.pages)
	if n == 0 {
		return new(indexPage)
	}
	p := sp.pages[n-1]
	sp.pages[n-1] = nil
	sp.pages = sp.pages[:n-1]
	return p
}

// hostChunk returns a chunk of zero host records.
func (sp *spares) hostChunk() []hostRec {
	c := sp.hosts
	if c == nil {
		return make([]hostRec, hostChunkLen)
	}
	sp.hosts = nil
	return c
}

// textChunk returns an empty text chunk.
func (sp *spares) textChunk() []byte {
	c := sp.text
	if c == nil {
		return make([]byte, 0, textChunkLen)
	}
	sp.text = nil
	return c
}
