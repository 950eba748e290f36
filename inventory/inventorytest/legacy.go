package inventorytest

import (
	"bytes"
	"fmt"
	"io/fs"
	"os/exec"
	"strconv"

	"github.com/fleetkit/fleetkit/inventory"
)

// LegacyCommandStat is the text these fixtures store in the stat field of
// a command output, where sysops-api stores a fixed sentence.
const LegacyCommandStat = "Command output: no os.stat() information"

// Bzip2 compresses b with the bzip2 command (Debian's bzip2 package); Go's
// standard library only decompresses.
func Bzip2(b []byte) ([]byte, error) {
	cmd := exec.Command("bzip2", "-c", "-9")
	cmd.Stdin = bytes.NewReader(b)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("bzip2: %v: %s", err, bytes.TrimSpace(errb.Bytes()))
	}
	return out.Bytes(), nil
}

// LegacyTexts returns the five uncompressed fields sysops-api stores for
// o: contents, MD5 hex, Python's str(os.stat()) (or a sentence for command
// outputs), "(chars, lines, words)" and str(time.time()).
func LegacyTexts(o *inventory.Object) [inventory.LegacyFields][]byte {
	st := []byte(LegacyCommandStat)
	if o.Stat != nil {
		st = fmt.Appendf(nil, "posix.stat_result(st_mode=%d, st_ino=%d, st_dev=64768, st_nlink=1, st_uid=%d, st_gid=%d, st_size=%d, st_atime=%d, st_mtime=%d, st_ctime=%d)",
			UnixModeOf(o.Stat.Mode), 1000+len(o.Name), o.Stat.UID, o.Stat.GID, o.Stat.Size, o.Stat.ModTime.Unix(), o.Stat.ModTime.Unix(), o.Stat.ModTime.Unix())
	}
	secs := float64(o.Collected.UnixNano()) / 1e9
	return [inventory.LegacyFields][]byte{
		o.Contents,
		[]byte(o.MD5Hex()),
		st,
		fmt.Appendf(nil, "(%d, %d, %d)", o.Counts.Chars, o.Counts.Lines, o.Counts.Words),
		[]byte(strconv.FormatFloat(secs, 'f', 2, 64)),
	}
}

// EncodeLegacy returns the five bz2-compressed list elements sysops-api
// stores for o.
func EncodeLegacy(o *inventory.Object) ([][]byte, error) {
	texts := LegacyTexts(o)
	out := make([][]byte, len(texts))
	for i, t := range texts {
		z, err := Bzip2(t)
		if err != nil {
			return nil, err
		}
		out[i] = z
	}
	return out, nil
}

// UnixModeOf converts an fs.FileMode to a Unix st_mode, the inverse of
// inventory.UnixMode.
func UnixModeOf(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	switch {
	case m&fs.ModeDir != 0:
		u |= 0o040000
	case m&fs.ModeSymlink != 0:
		u |= 0o120000
	case m&fs.ModeCharDevice != 0:
		u |= 0o020000
	case m&fs.ModeDevice != 0:
		u |= 0o060000
	case m&fs.ModeNamedPipe != 0:
		u |= 0o010000
	case m&fs.ModeSocket != 0:
		u |= 0o140000
	default:
		u |= 0o100000
	}
	if m&fs.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		u |= 0o1000
	}
	return u
}
