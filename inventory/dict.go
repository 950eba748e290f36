package inventory

import (
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Dictionary limits: contents outside [MinDictContents, MaxDictSize] are
// compressed without a dictionary.
const (
	MinDictContents = 1 << 10
	MaxDictSize     = 1 << 20
)

// Dict is a compression dictionary shared by the records of one object
// name: the contents of one host's object (a "raw content" zstd
// dictionary). Fleet-wide outputs are mostly the same lines, so a record
// compressed against another host's output keeps only what differs: about
// a hundred bytes for a 57 KB sysctl -a instead of 6 KB, and it
// decompresses several times faster.
type Dict struct {
	// ID is the fingerprint of Data (the first 8 bytes of its MD5),
	// written in every record compressed with it.
	ID uint64
	// Data is the dictionary's contents.
	Data []byte
}

// NewDict returns the dictionary made of data.
func NewDict(data []byte) *Dict {
	sum := md5.Sum(data)
	return &Dict{ID: binary.BigEndian.Uint64(sum[:8]), Data: data}
}

// Check reports whether d.ID is the fingerprint of d.Data, for dictionaries
// read from a server.
func (d *Dict) Check() error {
	if len(d.Data) == 0 || len(d.Data) > MaxDictSize {
		return fmt.Errorf("%w: dictionary %016x has %d bytes", ErrMalformed, d.ID, len(d.Data))
	}
	if NewDict(d.Data).ID != d.ID {
		return fmt.Errorf("%w: dictionary %016x does not match its contents", ErrMalformed, d.ID)
	}
	return nil
}

// zstdID is the dictionary ID written in zstd frames (never 0).
func (d *Dict) zstdID() uint32 { return uint32(d.ID) | 1 }

// dictCodecs caches one encoder and one decoder per dictionary. Few
// dictionaries exist (one per object name, give or take a race), so the
// cache is bounded loosely: past maxDictCodecs it is emptied.
type dictCodecs struct {
	mu   sync.Mutex
	encs map[uint64]*zstd.Encoder
	decs map[uint64]*zstd.Decoder
}

const maxDictCodecs = 256

var dictCache = &dictCodecs{encs: map[uint64]*zstd.Encoder{}, decs: map[uint64]*zstd.Decoder{}}

func (c *dictCodecs) encoder(d *Dict) (*zstd.Encoder, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.encs[d.ID]; ok {
		return e, nil
	}
	e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(2),
		zstd.WithZeroFrames(true), zstd.WithEncoderCRC(false), zstd.WithEncoderDictRaw(d.zstdID(), d.Data))
	if err != nil {
		return nil, err
	}
	if len(c.encs) >= maxDictCodecs {
		clear(c.encs)
	}
	c.encs[d.ID] = e
	return e, nil
}

func (c *dictCodecs) decoder(d *Dict) (*zstd.Decoder, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if dec, ok := c.decs[d.ID]; ok {
		return dec, nil
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(MaxContentsSize+1<<20),
		zstd.WithDecoderLowmem(false), zstd.WithDecoderDictRaw(d.zstdID(), d.Data))
	if err != nil {
		return nil, err
	}
	if len(c.decs) >= maxDictCodecs {
		for _, old := range c.decs {
			old.Close()
		}
		clear(c.decs)
	}
	c.decs[d.ID] = dec
	return dec, nil
}
