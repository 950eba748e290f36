package inventory

// IndexForTest exposes the substring search of Query.Grep to the tests.
func IndexForTest(hay, needle []byte) int { return newFinder(needle).index(hay) }

// BunzipFieldsForTest decodes the fields of a legacy record both ways:
// with one reader (ok reports whether that path worked) and one reader a
// field (nil where a field fails).
func BunzipFieldsForTest(fields [][]byte) (fast [LegacyFields][]byte, ok bool, slow [][]byte) {
	fast, ok = bunzipAll(fields)
	for _, f := range fields {
		b, err := bunzip(f, MaxContentsSize)
		if err != nil {
			b = nil
		}
		slow = append(slow, b)
	}
	return fast, ok, slow
}

// DecodeLegacyBatchForTest decodes the records of a legacy batch with one
// bz2 reader and returns their five decompressed fields.
func DecodeLegacyBatchForTest(fields [][][]byte) ([][LegacyFields][]byte, bool) {
	recs := make([]RawRecord, len(fields))
	for i, f := range fields {
		recs[i].Legacy = f
	}
	return decodeLegacyBatch(recs)
}
