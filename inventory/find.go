package inventory

import "bytes"

// byteRank ranks bytes by how common they are in the text hosts publish
// (configuration, command output): higher is more common. Bytes not
// listed are rare.
var byteRank = func() [256]uint8 {
	var r [256]uint8
	for i := range r {
		r[i] = 10
	}
	for i := '0'; i <= '9'; i++ {
		r[i] = 150
	}
	for i := 'a'; i <= 'z'; i++ {
		r[i] = 60
	}
	for _, c := range "etaoinsrlcdu" {
		r[c] = 120
	}
	for _, c := range "phmfg" {
		r[c] = 80
	}
	for _, c := range " \n\t.=_-:/,0123" {
		r[c] = 200
	}
	return r
}()

// finder looks for a fixed string: it scans for the needle's rarest byte
// with bytes.IndexByte (vectorized) and checks the needle around each
// hit, which beats bytes.Index on text where the needle's first byte is
// everywhere (sysctl keys all start with the same few letters).
type finder struct {
	needle []byte
	rare   int // index in needle of its rarest byte
}

func newFinder(needle []byte) *finder {
	f := &finder{needle: needle}
	for i, c := range needle {
		if byteRank[c] < byteRank[needle[f.rare]] {
			f.rare = i
		}
	}
	return f
}

// index returns the index of the first needle in b, or -1.
func (f *finder) index(b []byte) int {
	n := len(f.needle)
	if n == 0 {
		return 0
	}
	c := f.needle[f.rare]
	for i := f.rare; i < len(b); {
		j := bytes.IndexByte(b[i:], c)
		if j < 0 {
			return -1
		}
		i += j
		start := i - f.rare
		if start+n <= len(b) && bytes.Equal(b[start:start+n], f.needle) {
			return start
		}
		i++
	}
	return -1
}
