package inventory

import (
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
)

// FormatVersion is the version of the record format [EncodeRecord] writes.
// It is the third byte of every record and part of every key
// ("fk1:…"), so that a later format can live beside this one.
const FormatVersion = 1

// MaxContentsSize is the largest contents a record may hold once
// decompressed. Publishers replace larger objects with a marker.
const MaxContentsSize = 64 << 20

// compressMin is the smallest contents worth compressing.
const compressMin = 128

// Record layout, version 1 (all integers varints, encoding/binary):
//
//	'F' 'K' version flags
//	uvarint headerLen, then headerLen bytes:
//	  md5[16]  varint collected (Unix ns)  uvarint size lines words chars
//	  if flagStat: uvarint mode  varint statSize  uvarint uid gid  varint mtime (Unix ns)
//	  if flagDict: 8 bytes big-endian: the Dict.ID the contents were compressed with
//	contents: the rest, zstd-compressed when flagZstd (against the dictionary
//	when flagDict)
//
// The metadata comes first and is length-prefixed, so a reader that wants
// no contents can fetch only the first [HeaderFetchSize] bytes.
const (
	flagCommand = 1 << iota
	flagOversize
	flagZstd
	flagStat
	flagDict
	flagsKnown = flagCommand | flagOversize | flagZstd | flagStat | flagDict
)

// HeaderFetchSize is how many leading bytes of a record hold its metadata
// in practice; [DecodeRecord] tells when a prefix was too short.
const HeaderFetchSize = 128

var (
	zstdOnce sync.Once
	zstdEnc  *zstd.Encoder
	zstdDec  *zstd.Decoder
)

func zstdCodecs() (*zstd.Encoder, *zstd.Decoder) {
	zstdOnce.Do(func() {
		var err error
		zstdEnc, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(4), zstd.WithZeroFrames(true), zstd.WithEncoderCRC(false))
		if err != nil {
			panic("inventory: zstd encoder: " + err.Error())
		}
		zstdDec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(MaxContentsSize+1<<20), zstd.WithDecoderLowmem(false))
		if err != nil {
			panic("inventory: zstd decoder: " + err.Error())
		}
	})
	return zstdEnc, zstdDec
}

// EncodeRecord appends the version-1 encoding of o (all but its Host and
// Name, which are in the key) to dst. Contents of [compressMin] bytes or
// more are compressed with zstd.
func EncodeRecord(dst []byte, o *Object) []byte {
	return EncodeRecordDict(dst, o, nil)
}

// EncodeRecordDict is EncodeRecord compressing against the dictionary d
// (nil for none). A reader needs the same dictionary: see DecodeRecordDict.
func EncodeRecordDict(dst []byte, o *Object, d *Dict) []byte {
	var flags byte
	if o.Kind == KindCommand {
		flags |= flagCommand
	}
	if o.Oversize {
		flags |= flagOversize
	}
	if o.Stat != nil {
		flags |= flagStat
	}
	contents := o.Contents
	if o.Oversize {
		contents = nil
	}
	if len(contents) >= compressMin {
		flags |= flagZstd
	}
	var enc *zstd.Encoder
	if d != nil && flags&flagZstd != 0 {
		var err error
		if enc, err = dictCache.encoder(d); err == nil {
			flags |= flagDict
		}
	}
	var hdr [16 + 10*12]byte
	h := append(hdr[:0], o.MD5[:]...)
	h = binary.AppendVarint(h, timeNanos(o.Collected))
	h = binary.AppendUvarint(h, uint64(o.Size))
	h = binary.AppendUvarint(h, uint64(o.Counts.Lines))
	h = binary.AppendUvarint(h, uint64(o.Counts.Words))
	h = binary.AppendUvarint(h, uint64(o.Counts.Chars))
	if o.Stat != nil {
		h = binary.AppendUvarint(h, uint64(o.Stat.Mode))
		h = binary.AppendVarint(h, o.Stat.Size)
		h = binary.AppendUvarint(h, uint64(o.Stat.UID))
		h = binary.AppendUvarint(h, uint64(o.Stat.GID))
		h = binary.AppendVarint(h, timeNanos(o.Stat.ModTime))
	}
	if flags&flagDict != 0 {
		h = binary.BigEndian.AppendUint64(h, d.ID)
	}
	dst = append(dst, 'F', 'K', FormatVersion, flags)
	dst = binary.AppendUvarint(dst, uint64(len(h)))
	dst = append(dst, h...)
	if enc != nil {
		return enc.EncodeAll(contents, dst)
	}
	if flags&flagZstd != 0 {
		enc, _ := zstdCodecs()
		return enc.EncodeAll(contents, dst)
	}
	return append(dst, contents...)
}

// RecordDictID returns the ID of the dictionary a record (or a prefix of
// HeaderFetchSize bytes) was compressed with; ok is false when it uses
// none or cannot be read.
func RecordDictID(b []byte) (id uint64, ok bool) {
	var o Object
	h, err := decodeHeader(Key{}, b, true, &o)
	if err != nil || h.dict == 0 {
		return 0, false
	}
	return h.dict, true
}

func timeNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func nanosTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// errShortHeader is returned by DecodeRecord when headerOnly is set and b
// ends inside the metadata: fetch the whole record.
var errShortHeader = fmt.Errorf("%w: record prefix shorter than its header", ErrMalformed)

// IsShortHeader reports whether err says that a record prefix handed to
// [DecodeRecord] with headerOnly ended inside the metadata.
func IsShortHeader(err error) bool { return errors.Is(err, errShortHeader) }

// DecodeRecord decodes a version-1 record of key k into o. With
// headerOnly, b may be a prefix of the record and o.Contents is left nil;
// otherwise the contents are decompressed into a new slice (kept only when
// wantContents). Every failure wraps [ErrMalformed] (or is
// [IsShortHeader]); a failure leaves o in an unspecified state. A record
// compressed with a dictionary needs DecodeRecordDict.
func DecodeRecord(k Key, b []byte, headerOnly, wantContents bool, o *Object) error {
	return DecodeRecordDict(k, b, nil, headerOnly, wantContents, o)
}

// DecodeRecordDict is DecodeRecord for records that may be compressed
// with the dictionary d (which may be nil for those that are not).
func DecodeRecordDict(k Key, b []byte, d *Dict, headerOnly, wantContents bool, o *Object) error {
	h, err := decodeHeader(k, b, headerOnly, o)
	if err != nil || headerOnly || o.Oversize {
		return err
	}
	contents, err := h.contents(o, d, nil)
	if err != nil {
		return err
	}
	if wantContents {
		if h.flags&flagZstd == 0 {
			contents = append([]byte(nil), contents...)
		}
		o.Contents = contents
	}
	return nil
}

// header is what decodeHeader learnt about a record's layout.
type header struct {
	flags byte
	dict  uint64
	rest  []byte // the stored contents
}

// decodeHeader decodes the metadata of record b into o.
func decodeHeader(k Key, b []byte, headerOnly bool, o *Object) (header, error) {
	if len(b) < 5 || b[0] != 'F' || b[1] != 'K' {
		return header{}, fmt.Errorf("%w: not a fleetkit record", ErrMalformed)
	}
	if b[2] != FormatVersion {
		return header{}, fmt.Errorf("%w: format version %d, this reader knows %d", ErrMalformed, b[2], FormatVersion)
	}
	flags := b[3]
	if flags&^flagsKnown != 0 {
		return header{}, fmt.Errorf("%w: unknown flags %#x", ErrMalformed, flags)
	}
	if flags&flagDict != 0 && flags&flagZstd == 0 {
		return header{}, fmt.Errorf("%w: dictionary without compression", ErrMalformed)
	}
	hlen, n := binary.Uvarint(b[4:])
	if n <= 0 || hlen > 1024 {
		return header{}, fmt.Errorf("%w: bad header length", ErrMalformed)
	}
	start := 4 + n
	if uint64(len(b)-start) < hlen {
		if headerOnly {
			return header{}, errShortHeader
		}
		return header{}, fmt.Errorf("%w: truncated header", ErrMalformed)
	}
	hb := b[start : start+int(hlen)]
	h := header{flags: flags, rest: b[start+int(hlen):]}
	*o = Object{Host: k.Host, Name: k.Name, Kind: KindFile, Oversize: flags&flagOversize != 0}
	if flags&flagCommand != 0 {
		o.Kind = KindCommand
	}
	r := hdrReader{b: hb}
	copy(o.MD5[:], r.bytes(md5.Size))
	o.Collected = nanosTime(r.varint())
	o.Size = r.int63()
	o.Counts.Lines = r.int63()
	o.Counts.Words = r.int63()
	o.Counts.Chars = r.int63()
	if flags&flagStat != 0 {
		st := &FileStat{}
		mode := r.uvarint()
		if mode > 1<<32-1 {
			r.err = true
		}
		st.Mode = fs.FileMode(uint32(mode))
		st.Size = r.varint()
		st.UID = r.uint32()
		st.GID = r.uint32()
		st.ModTime = nanosTime(r.varint())
		o.Stat = st
	}
	if flags&flagDict != 0 {
		if id := r.bytes(8); id != nil {
			h.dict = binary.BigEndian.Uint64(id)
		}
	}
	if r.err || len(r.b) != 0 {
		return header{}, fmt.Errorf("%w: bad header", ErrMalformed)
	}
	if o.Size > MaxContentsSize && !o.Oversize {
		return header{}, fmt.Errorf("%w: contents size %d over the limit %d", ErrMalformed, o.Size, MaxContentsSize)
	}
	if o.Oversize && !headerOnly && len(h.rest) != 0 {
		return header{}, fmt.Errorf("%w: oversize marker with contents", ErrMalformed)
	}
	return h, nil
}

// contents returns the record's contents: decompressed into buf (reused
// when large enough), or aliasing the record when stored uncompressed.
func (h header) contents(o *Object, d *Dict, buf []byte) ([]byte, error) {
	if o.Oversize {
		return nil, nil
	}
	if h.flags&flagZstd == 0 {
		if int64(len(h.rest)) != o.Size {
			return nil, fmt.Errorf("%w: contents are %d bytes, header says %d", ErrMalformed, len(h.rest), o.Size)
		}
		return h.rest, nil
	}
	_, dec := zstdCodecs()
	if h.dict != 0 {
		if d == nil || d.ID != h.dict {
			return nil, fmt.Errorf("%w: compressed with dictionary %016x, which the server does not have", ErrMalformed, h.dict)
		}
		var err error
		if dec, err = dictCache.decoder(d); err != nil {
			return nil, fmt.Errorf("%w: dictionary %016x: %v", ErrMalformed, h.dict, err)
		}
	}
	if int64(cap(buf)) < o.Size {
		buf = make([]byte, 0, o.Size)
	}
	c, err := dec.DecodeAll(h.rest, buf[:0])
	if err != nil {
		return nil, fmt.Errorf("%w: contents: %v", ErrMalformed, err)
	}
	if int64(len(c)) != o.Size {
		return nil, fmt.Errorf("%w: contents are %d bytes, header says %d", ErrMalformed, len(c), o.Size)
	}
	return c, nil
}

// decodeContents decodes the header of b into o and returns the
// contents, decompressed into buf (reused when large enough) or aliasing b
// when stored uncompressed; compressed says which.
func decodeContents(k Key, b []byte, d *Dict, o *Object, buf []byte) (contents []byte, compressed bool, err error) {
	h, err := decodeHeader(k, b, false, o)
	if err != nil {
		return nil, false, err
	}
	c, err := h.contents(o, d, buf)
	return c, h.flags&flagZstd != 0, err
}

type hdrReader struct {
	b   []byte
	err bool
}

func (r *hdrReader) bytes(n int) []byte {
	if len(r.b) < n {
		r.err = true
		r.b = nil
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *hdrReader) uvarint() uint64 { return readVarint(r, binary.Uvarint) }

func (r *hdrReader) varint() int64 { return readVarint(r, binary.Varint) }

// readVarint reads one varint with decode, marking r failed when none is
// there.
func readVarint[T uint64 | int64](r *hdrReader, decode func([]byte) (T, int)) T {
	v, n := decode(r.b)
	if n <= 0 {
		r.err = true
		r.b = nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *hdrReader) int63() int64 {
	v := r.uvarint()
	if v > 1<<62 {
		r.err = true
	}
	return int64(v)
}

func (r *hdrReader) uint32() uint32 {
	v := r.uvarint()
	if v > 1<<32-1 {
		r.err = true
	}
	return uint32(v)
}
