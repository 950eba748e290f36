package inventory_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/inventory"
)

func TestPattern(t *testing.T) {
	t.Parallel()
	cases := []struct {
		glob   string
		match  []string
		miss   []string
		prefix string
	}{
		{"", []string{"", "anything/at/all"}, nil, ""},
		{"*", []string{"", "a/b"}, nil, ""},
		{"sysctl-a", []string{"sysctl-a"}, []string{"sysctl-ab", "xsysctl-a"}, "sysctl-a"},
		{"/etc/*", []string{"/etc/hosts", "/etc/ssh/sshd_config"}, []string{"/var/etc/x"}, "/etc/"},
		{"web?.dc1", []string{"web1.dc1"}, []string{"web12.dc1", "web.dc1"}, "web"},
		{"web[0-4]*", []string{"web3x"}, []string{"web5"}, "web"},
		{"web[!0-4]", []string{"web5"}, []string{"web3"}, "web"},
		{`a\*b`, []string{"a*b"}, []string{"axb"}, "a*b"},
		{"*.(x)+", []string{"y.(x)+"}, []string{"y.xx"}, ""},
	}
	for _, c := range cases {
		p, err := inventory.CompilePattern(c.glob)
		require.NoError(t, err, c.glob)
		for _, s := range c.match {
			require.True(t, p.Match(s), "%q should match %q", c.glob, s)
		}
		for _, s := range c.miss {
			require.False(t, p.Match(s), "%q should not match %q", c.glob, s)
		}
		require.Equal(t, c.prefix, p.Prefix(), c.glob)
		require.Equal(t, c.glob, p.String())
	}
	_, err := inventory.CompilePattern("web[12")
	require.ErrorIs(t, err, inventory.ErrInvalid)
	var nilP *inventory.Pattern
	require.True(t, nilP.Match("x"))
}

func FuzzFinder(f *testing.F) {
	f.Add([]byte("net.core.netdev_budget = 300\nnet.core.netdev_budget_usecs = 8000\n"), []byte("netdev_budget"))
	f.Add([]byte("aaaaab"), []byte("ab"))
	f.Add([]byte(""), []byte("x"))
	f.Fuzz(func(t *testing.T, hay, needle []byte) {
		require.Equal(t, bytes.Index(hay, needle), inventory.IndexForTest(hay, needle))
	})
}
