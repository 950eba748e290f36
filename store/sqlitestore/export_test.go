package sqlitestore

// GroupStats returns how many group commits the store's writer made and
// how many requests they held.
func GroupStats(s *Store) (groups, requests int64) {
	return s.w.groups.Load(), s.w.grouped.Load()
}
