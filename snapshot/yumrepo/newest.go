package yumrepo

import (
	"cmp"
	"slices"

	"github.com/fleetkit/fleetkit/snapshot/rpmver"
)

// Newest returns the newest package of each (Name, Arch) pair in pkgs, by
// [rpmver.CompareEVR], sorted by Name and then Arch. When several packages
// of a pair have equal EVRs the first of them in pkgs is kept. pkgs is not
// modified; the result is a new slice, empty (nil) when pkgs is.
func Newest(pkgs []Package) []Package {
	type key struct{ name, arch string }
	best := make(map[key]int, len(pkgs))
	for i, p := range pkgs {
		k := key{p.Name, p.Arch}
		j, ok := best[k]
		if !ok || rpmver.CompareEVR(p.EVR, pkgs[j].EVR) > 0 {
			best[k] = i
		}
	}
	if len(best) == 0 {
		return nil
	}
	out := make([]Package, 0, len(best))
	for _, i := range best {
		out = append(out, pkgs[i])
	}
	slices.SortFunc(out, func(a, b Package) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Arch, b.Arch))
	})
	return out
}
