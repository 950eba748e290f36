package progress

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRender(t *testing.T) {
	require.Equal(t, "[>                             ] 0/200  failed 0  elapsed 3s",
		Render(State{Total: 200}, "hosts", 3*time.Second))
	require.Equal(t, "[===============>              ] 100/200  failed 7  50.0 hosts/s  ETA 2s",
		Render(State{Done: 100, Failed: 7, Total: 200}, "hosts", 2*time.Second))
	require.Equal(t, "[==============================] 200/200  failed 0  100.0 blobs/s  ETA 0s",
		Render(State{Done: 200, Total: 200}, "blobs", 2*time.Second))
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func TestBar(t *testing.T) {
	var buf syncBuffer
	b := Start(&buf, 4, "files")
	b.Update(State{Done: 4, Total: 4})
	b.Stop()
	out := buf.b.String()
	require.Contains(t, out, "0/4")
	require.Contains(t, out, "4/4")
	require.True(t, strings.HasSuffix(out, "\r\x1b[K"), "the line is cleared")
}

func TestIsTerminal(t *testing.T) {
	require.False(t, IsTerminal(&bytes.Buffer{}))
	f, err := os.CreateTemp(t.TempDir(), "x")
	require.NoError(t, err)
	defer f.Close()
	require.False(t, IsTerminal(f), "a file is no terminal")
}
