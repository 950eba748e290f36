package snapshot_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/internal/testenv"
	"github.com/fleetkit/fleetkit/snapshot"
	"github.com/fleetkit/fleetkit/snapshot/fsblob"
	"github.com/fleetkit/fleetkit/snapshot/yumrepo/yumrepotest"
)

// samples builds the real sample rpms once for this test binary.
var samples yumrepotest.SampleCache

func TestMain(m *testing.M) {
	code := m.Run()
	if err := samples.Close(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

// TestBuildCreaterepo builds snapshots from repositories of real rpms
// (rpmbuild) indexed by createrepo_c, in each compression: the newest
// build of each name is chosen by rpm's ordering (epochs, '~', '^', leading
// zeros, releases), every chosen rpm is stored byte for byte, and the
// snapshot verifies in full.
func TestBuildCreaterepo(t *testing.T) {
	t.Parallel()
	testenv.Tool(t, "rpmbuild", "rpm")
	testenv.Tool(t, "createrepo_c", "createrepo-c")
	want := make(map[string]string)
	for name, evr := range yumrepotest.SampleNewest {
		want[name+".noarch"] = evr
	}
	for _, c := range yumrepotest.Compressions {
		t.Run(string(c), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dir := t.TempDir()
			_, err := samples.WriteRepo(ctx, dir, c)
			require.NoError(t, err)
			blobs, err := fsblob.New(t.TempDir(), nil)
			require.NoError(t, err)
			p := buildParams(t, blobs, snapshot.RepoSource{Base: dir})
			p.Arch = "noarch"
			s, err := snapshot.Build(ctx, p)
			require.NoError(t, err)
			require.Equal(t, want, versions(&s.Manifest))
			requireSound(t, p, s)
			for _, pk := range s.Packages {
				b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(pk.Location)))
				require.NoError(t, err, pk.Location)
				require.Equal(t, snapshot.DigestOf(b), pk.Digest, pk.Location)
				require.Equal(t, int64(len(b)), pk.Size)
			}
			rep, err := snapshot.Verify(ctx, snapshot.VerifyParams{Blobs: blobs, Keys: p.Keys, Snapshots: []snapshot.Sealed{*s}, Full: true, Unexpected: true})
			require.NoError(t, err)
			require.True(t, rep.OK(), "%+v", rep.Problems)
			require.Equal(t, len(want), rep.Checked)
		})
	}
}
