package inventory

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Kind says where an object came from.
type Kind uint8

const (
	// KindFile is the contents of a file (followed through symlinks).
	KindFile Kind = 1
	// KindCommand is the output of a command, named by the command.
	KindCommand Kind = 2
)

// String returns "file" or "command".
func (k Kind) String() string {
	switch k {
	case KindFile:
		return "file"
	case KindCommand:
		return "command"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// FileStat is the metadata of a file object. Command outputs have none.
type FileStat struct {
	Mode    fs.FileMode
	Size    int64
	UID     uint32
	GID     uint32
	ModTime time.Time
}

// Counts are the character, line and word counts of an object's contents,
// as wc(1) counts them: lines are newline bytes, words are maximal runs of
// non-space characters, characters are UTF-8 code points.
type Counts struct {
	Lines int64
	Words int64
	Chars int64
}

// asciiSpace marks the ASCII bytes unicode.IsSpace accepts.
var asciiSpace = [utf8.RuneSelf]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

// CountText counts the lines, words and characters of b.
func CountText(b []byte) Counts {
	var c Counts
	inWord := false
	for i := 0; i < len(b); {
		if ch := b[i]; ch < utf8.RuneSelf {
			// ASCII fast path: most of what hosts publish.
			i++
			c.Chars++
			if asciiSpace[ch] {
				if ch == '\n' {
					c.Lines++
				}
				inWord = false
			} else if !inWord {
				inWord = true
				c.Words++
			}
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		i += size
		c.Chars++
		if unicode.IsSpace(r) {
			inWord = false
		} else if !inWord {
			inWord = true
			c.Words++
		}
	}
	return c
}

// Object is one published object of one host: a file or a command output,
// with its metadata.
type Object struct {
	// Host is the normalized hostname that published the object.
	Host string
	// Name is the object's name: an absolute file path ("/etc/sysctl.conf")
	// or a command name ("sysctl-a").
	Name string
	// Kind says whether Name is a file or a command.
	Kind Kind
	// Contents are the bytes of the file or output. They are nil when the
	// extraction did not ask for them, and for an Oversize object.
	Contents []byte
	// MD5 is the digest of the full contents.
	MD5 [md5.Size]byte
	// Stat is the file's metadata; nil for command outputs.
	Stat *FileStat
	// Counts are the contents' line, word and character counts.
	Counts Counts
	// Size is the length of the full contents in bytes.
	Size int64
	// Collected is when the host read the object.
	Collected time.Time
	// Oversize is set when the contents were larger than the publisher's
	// limit and were replaced by a marker: Contents is then empty and only
	// the metadata (MD5, Size, Counts, Stat) describe them.
	Oversize bool
}

// MD5Hex returns the digest as 32 lower-case hex digits.
func (o Object) MD5Hex() string { return hex.EncodeToString(o.MD5[:]) }

// Key names an object of a host.
type Key struct {
	Host string
	Name string
}

// String returns host#name, the form sysops-api keys have.
func (k Key) String() string { return k.Host + "#" + k.Name }

// Less orders keys by name, then host: the order in which a shard streams
// them.
func (k Key) Less(o Key) bool {
	if k.Name != o.Name {
		return k.Name < o.Name
	}
	return k.Host < o.Host
}

// MaxNameLength is the longest object name accepted, in bytes.
const MaxNameLength = 1024

// CheckName reports whether name is a valid object name: 1 to
// [MaxNameLength] bytes of valid UTF-8 with no control characters; a file
// name is absolute and clean.
func CheckName(name string, kind Kind) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty object name", ErrInvalid)
	case len(name) > MaxNameLength:
		return fmt.Errorf("%w: object name %.40q… is %d bytes, longer than %d", ErrInvalid, name, len(name), MaxNameLength)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: object name %q is not UTF-8", ErrInvalid, name)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return fmt.Errorf("%w: object name %q has a control character", ErrInvalid, name)
	}
	switch kind {
	case KindFile:
		if !strings.HasPrefix(name, "/") || path.Clean(name) != name {
			return fmt.Errorf("%w: file object name %q is not an absolute clean path", ErrInvalid, name)
		}
	case KindCommand:
		if strings.HasPrefix(name, "/") {
			return fmt.Errorf("%w: command object name %q starts with /", ErrInvalid, name)
		}
	default:
		return fmt.Errorf("%w: object %q has unknown kind %d", ErrInvalid, name, kind)
	}
	return nil
}

// Lines calls fn for each line of b, without its newline. A last line
// without a newline counts too.
func Lines(b []byte, fn func(line []byte) bool) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			fn(b)
			return
		}
		if !fn(b[:i]) {
			return
		}
		b = b[i+1:]
	}
}
