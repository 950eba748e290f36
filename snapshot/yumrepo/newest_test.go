package yumrepo_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/snapshot/rpmver"
	"github.com/fleetkit/fleetkit/snapshot/yumrepo"
)

func mk(name, arch, evr string) yumrepo.Package {
	e, err := rpmver.Parse(evr)
	if err != nil {
		panic(err)
	}
	return yumrepo.Package{Name: name, Arch: arch, EVR: e, Location: name + "-" + evr}
}

func TestNewest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []yumrepo.Package
		want []yumrepo.Package
	}{
		{"empty", nil, nil},
		{
			"epoch beats version",
			[]yumrepo.Package{mk("a", "x86_64", "1:1.0-1"), mk("a", "x86_64", "9.0-1")},
			[]yumrepo.Package{mk("a", "x86_64", "1:1.0-1")},
		},
		{
			"tilde sorts before release",
			[]yumrepo.Package{mk("k", "noarch", "1.0-1"), mk("k", "noarch", "1.0~rc1-1")},
			[]yumrepo.Package{mk("k", "noarch", "1.0-1")},
		},
		{
			"caret sorts after",
			[]yumrepo.Package{mk("k", "noarch", "1.0^git1-1"), mk("k", "noarch", "1.0-1")},
			[]yumrepo.Package{mk("k", "noarch", "1.0^git1-1")},
		},
		{
			"per arch, sorted by name then arch",
			[]yumrepo.Package{
				mk("zlib", "x86_64", "1.2-1"),
				mk("bash", "x86_64", "5.2-1"),
				mk("bash", "i686", "5.1-1"),
				mk("bash", "x86_64", "5.10-1"),
				mk("bash", "i686", "5.2-1"),
			},
			[]yumrepo.Package{mk("bash", "i686", "5.2-1"), mk("bash", "x86_64", "5.10-1"), mk("zlib", "x86_64", "1.2-1")},
		},
		{
			"equal EVRs keep the first",
			[]yumrepo.Package{
				{Name: "a", Arch: "noarch", EVR: rpmver.EVR{Version: "1"}, Location: "first"},
				{Name: "a", Arch: "noarch", EVR: rpmver.EVR{Version: "1"}, Location: "second"},
			},
			[]yumrepo.Package{{Name: "a", Arch: "noarch", EVR: rpmver.EVR{Version: "1"}, Location: "first"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, yumrepo.Newest(tc.in))
		})
	}
}
