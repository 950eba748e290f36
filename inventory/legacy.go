package inventory

import (
	"bytes"
	"compress/bzip2"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Legacy sysops-api cache layout, read by [DecodeLegacy] and
// redisshard.NewLegacy.
const (
	// LegacyDB is the Redis database number sysops-api writes to.
	LegacyDB = 1
	// LegacyCommandFile is the file name under which sysops-api stores
	// command outputs: key host#LegacyCommandFile@command.
	LegacyCommandFile = "/etc/hardware_identification.json"
	// LegacyFields is the length of a legacy record's Redis list.
	LegacyFields = 5
)

// ParseLegacyKey splits a sysops-api key host#path into its Key and kind.
// Command outputs (host#/etc/hardware_identification.json@cmd) are named
// by the command. ok is false for keys that are not object keys, such as
// the temporary host$uuid keys.
func ParseLegacyKey(s string) (k Key, kind Kind, ok bool) {
	host, p, found := strings.Cut(s, "#")
	if !found || host == "" || p == "" {
		return Key{}, 0, false
	}
	if cmd, isCmd := strings.CutPrefix(p, LegacyCommandFile+"@"); isCmd && cmd != "" {
		return Key{Host: host, Name: cmd}, KindCommand, true
	}
	return Key{Host: host, Name: p}, KindFile, true
}

// LegacyKey returns the sysops-api key of an object.
func LegacyKey(k Key, kind Kind) string {
	if kind == KindCommand {
		return k.Host + "#" + LegacyCommandFile + "@" + k.Name
	}
	return k.Host + "#" + k.Name
}

// DecodeLegacy decodes a sysops-api record: the five bz2-compressed list
// elements (contents, MD5 hex, Python os.stat text, "(chars, lines,
// words)" and the insertion time) of the key whose parsed form is k and
// kind. Contents are kept only when wantContents. Failures wrap
// [ErrMalformed].
func DecodeLegacy(k Key, kind Kind, fields [][]byte, wantContents bool, o *Object) error {
	if len(fields) != LegacyFields {
		return fmt.Errorf("%w: legacy record has %d list elements, want %d", ErrMalformed, len(fields), LegacyFields)
	}
	*o = Object{Host: k.Host, Name: k.Name, Kind: kind}
	if out, ok := bunzipAll(fields); ok {
		// The fast path decoded every field.
		return decodeLegacyTexts(out, kind, wantContents, o)
	}
	contents, err := bunzip(fields[0], MaxContentsSize)
	if err != nil {
		return fmt.Errorf("%w: contents: %v", ErrMalformed, err)
	}
	o.Size = int64(len(contents))
	if wantContents {
		o.Contents = contents
	}
	sum, err := bunzip(fields[1], 256)
	if err != nil {
		return fmt.Errorf("%w: md5: %v", ErrMalformed, err)
	}
	sum = bytes.TrimSpace(sum)
	if len(sum) != 2*len(o.MD5) {
		return fmt.Errorf("%w: md5 %q is not 32 hex digits", ErrMalformed, truncate(sum, 40))
	}
	if _, err := hex.Decode(o.MD5[:], sum); err != nil {
		return fmt.Errorf("%w: md5 %q is not hex", ErrMalformed, truncate(sum, 40))
	}
	st, err := bunzip(fields[2], 4096)
	if err != nil {
		return fmt.Errorf("%w: stat: %v", ErrMalformed, err)
	}
	if kind == KindFile {
		o.Stat = ParseLegacyStat(string(st))
	}
	wc, err := bunzip(fields[3], 256)
	if err != nil {
		return fmt.Errorf("%w: word count: %v", ErrMalformed, err)
	}
	nums := intTuple(string(wc))
	if len(nums) != 3 {
		return fmt.Errorf("%w: word count %q is not (chars, lines, words)", ErrMalformed, truncate(wc, 60))
	}
	o.Counts = Counts{Chars: nums[0], Lines: nums[1], Words: nums[2]}
	ts, err := bunzip(fields[4], 256)
	if err != nil {
		return fmt.Errorf("%w: time: %v", ErrMalformed, err)
	}
	if o.Collected, err = parseLegacyTime(string(ts)); err != nil {
		return fmt.Errorf("%w: time %q: %v", ErrMalformed, truncate(ts, 60), err)
	}
	return nil
}

// decodeLegacyTexts parses the five decompressed fields.
func decodeLegacyTexts(t [LegacyFields][]byte, kind Kind, wantContents bool, o *Object) error {
	o.Size = int64(len(t[0]))
	if wantContents {
		o.Contents = t[0]
	}
	sum := bytes.TrimSpace(t[1])
	if len(sum) != 2*len(o.MD5) {
		return fmt.Errorf("%w: md5 %q is not 32 hex digits", ErrMalformed, truncate(sum, 40))
	}
	if _, err := hex.Decode(o.MD5[:], sum); err != nil {
		return fmt.Errorf("%w: md5 %q is not hex", ErrMalformed, truncate(sum, 40))
	}
	if kind == KindFile {
		o.Stat = ParseLegacyStat(string(t[2]))
	}
	nums := intTuple(string(t[3]))
	if len(nums) != 3 {
		return fmt.Errorf("%w: word count %q is not (chars, lines, words)", ErrMalformed, truncate(t[3], 60))
	}
	o.Counts = Counts{Chars: nums[0], Lines: nums[1], Words: nums[2]}
	var err error
	if o.Collected, err = parseLegacyTime(string(t[4])); err != nil {
		return fmt.Errorf("%w: time %q: %v", ErrMalformed, truncate(t[4], 60), err)
	}
	return nil
}

// posReader is a bytes reader that tells how far it has been read.
type posReader struct {
	b []byte
	i int
}

func (r *posReader) ReadByte() (byte, error) {
	if r.i >= len(r.b) {
		return 0, io.EOF
	}
	c := r.b[r.i]
	r.i++
	return c, nil
}

func (r *posReader) Read(p []byte) (int, error) {
	if r.i >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.i:])
	r.i += n
	return n, nil
}

// bunzipAll decompresses the five fields of a legacy record with one bz2
// reader (see bunzipStreams).
func bunzipAll(fields [][]byte) (out [LegacyFields][]byte, ok bool) {
	if len(fields) != LegacyFields {
		return out, false
	}
	res, ok := bunzipStreams(fields, legacyLimits(1))
	if !ok {
		return out, false
	}
	copy(out[:], res)
	return out, true
}

// legacyLimits returns the size limits of the fields of n records.
func legacyLimits(n int) []int {
	l := make([]int, 0, n*LegacyFields)
	for range n {
		l = append(l, MaxContentsSize, 4096, 4096, 4096, 4096)
	}
	return l
}

// bunzipStreams decompresses several bz2 streams with one reader instead
// of one each: compress/bzip2 allocates and clears a 3.6 MB block buffer
// per reader, which dominated the cost of legacy records (five streams
// each, four of them tiny). The streams are read as one multi-stream
// input; each Read of compress/bzip2 returns data of a single block, and a
// block's data comes out only after the block was read whole (its
// stream's trailer, at least 10 bytes, still unread), so the input
// position tells which stream the data belongs to. ok is false on any
// problem (or a stream over its limit); callers then decode the streams
// one by one, which reports the problem precisely.
func bunzipStreams(streams [][]byte, limits []int) (out [][]byte, ok bool) {
	ends := make([]int, len(streams))
	total := 0
	for i, f := range streams {
		if len(f) < 14 || string(f[:3]) != "BZh" {
			return nil, false // not bz2, or too short to hold the trailer the rule relies on
		}
		total += len(f)
		ends[i] = total
	}
	all := make([]byte, 0, total)
	for _, f := range streams {
		all = append(all, f...)
	}
	src := &posReader{b: all}
	zr := bzip2.NewReader(src)
	out = make([][]byte, len(streams))
	buf := make([]byte, 32<<10)
	cur := 0
	for {
		n, err := zr.Read(buf)
		if n > 0 {
			for cur < len(streams)-1 && src.i > ends[cur] {
				cur++
			}
			if len(out[cur])+n > limits[cur] {
				return nil, false
			}
			out[cur] = append(out[cur], buf[:n]...)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, false
		}
	}
	if src.i != len(all) {
		return nil, false
	}
	return out, true
}

// decodeLegacyBatch decodes records of a legacy batch whose fields all
// decompress with one reader; it returns false for every record when they
// do not (the caller then decodes them one by one).
func decodeLegacyBatch(recs []RawRecord) ([][LegacyFields][]byte, bool) {
	var streams [][]byte
	for _, r := range recs {
		if len(r.Legacy) != LegacyFields {
			return nil, false
		}
		streams = append(streams, r.Legacy...)
	}
	out, ok := bunzipStreams(streams, legacyLimits(len(recs)))
	if !ok {
		return nil, false
	}
	texts := make([][LegacyFields][]byte, len(recs))
	for i := range recs {
		copy(texts[i][:], out[i*LegacyFields:])
	}
	return texts, true
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// bunzip decompresses one bz2 stream of at most limit bytes.
func bunzip(b []byte, limit int64) ([]byte, error) {
	if len(b) < 4 || string(b[:3]) != "BZh" {
		return nil, fmt.Errorf("not bz2 data")
	}
	buf := bytes.NewBuffer(make([]byte, 0, 4*len(b)))
	n, err := io.Copy(buf, io.LimitReader(bzip2.NewReader(bytes.NewReader(b)), limit+1))
	if err != nil {
		return nil, fmt.Errorf("bz2: %v", err)
	}
	if n > limit {
		return nil, fmt.Errorf("more than %d bytes once decompressed", limit)
	}
	return buf.Bytes(), nil
}

var (
	statNameRE = regexp.MustCompile(`(st_[a-z]+)=(-?\d+(?:\.\d+)?)`)
)

// intTuple reads "(1, 2L, 3)" as its integers.
func intTuple(s string) []int64 {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "(") || !strings.HasSuffix(s, ")") {
		return nil
	}
	var out []int64
	for _, f := range strings.Split(s[1:len(s)-1], ",") {
		f = strings.TrimSuffix(strings.TrimSpace(f), "L")
		if f == "" {
			continue
		}
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil
		}
		out = append(out, v)
	}
	return out
}

// ParseLegacyStat reads Python's str(os.stat(path)): either the named form
// "posix.stat_result(st_mode=33188, …, st_mtime=…)" or the older tuple
// "(33188, ino, dev, nlink, uid, gid, size, atime, mtime, ctime)". It
// returns nil for text that is neither (such as the sentence sysops-api
// stores for command outputs).
func ParseLegacyStat(s string) *FileStat {
	vals := map[string]int64{}
	if m := statNameRE.FindAllStringSubmatch(s, -1); len(m) > 0 {
		for _, kv := range m {
			f, err := strconv.ParseFloat(kv[2], 64)
			if err != nil {
				return nil
			}
			vals[kv[1]] = int64(f)
		}
	} else if t := intTuple(s); len(t) == 10 {
		for i, name := range []string{"st_mode", "st_ino", "st_dev", "st_nlink", "st_uid", "st_gid", "st_size", "st_atime", "st_mtime", "st_ctime"} {
			vals[name] = t[i]
		}
	} else {
		return nil
	}
	mode, ok := vals["st_mode"]
	if !ok || mode < 0 || mode > 1<<32-1 {
		return nil
	}
	st := &FileStat{Mode: UnixMode(uint32(mode)), Size: vals["st_size"]}
	if v := vals["st_uid"]; v >= 0 && v <= 1<<32-1 {
		st.UID = uint32(v)
	}
	if v := vals["st_gid"]; v >= 0 && v <= 1<<32-1 {
		st.GID = uint32(v)
	}
	if v, ok := vals["st_mtime"]; ok {
		st.ModTime = time.Unix(v, 0).UTC()
	}
	return st
}

// UnixMode converts a Unix st_mode to an fs.FileMode.
func UnixMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & 0o170000 {
	case 0o040000:
		mode |= fs.ModeDir
	case 0o120000:
		mode |= fs.ModeSymlink
	case 0o020000:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case 0o060000:
		mode |= fs.ModeDevice
	case 0o010000:
		mode |= fs.ModeNamedPipe
	case 0o140000:
		mode |= fs.ModeSocket
	}
	if m&0o4000 != 0 {
		mode |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

// parseLegacyTime reads Python's str(time.time()) ("1385000000.12") or
// str(datetime) ("2013-11-20 10:00:00.123456", taken as UTC).
func parseLegacyTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f < 0 || f > 1<<40 {
			return time.Time{}, fmt.Errorf("out of range")
		}
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05.999999", "2006-01-02 15:04:05", "Mon Jan _2 15:04:05 2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("neither Unix seconds nor a date")
}
