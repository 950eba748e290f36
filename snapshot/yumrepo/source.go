package yumrepo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// source opens files relative to a repository root.
type source interface {
	// open opens rel, a checked slash-separated relative path. It returns
	// an error wrapping fs.ErrNotExist when the file does not exist.
	open(ctx context.Context, rel string) (io.ReadCloser, error)
	// name returns how errors refer to rel (a path or redacted URL).
	name(rel string) string
}

func newSource(base string, client *http.Client) (source, error) {
	if !strings.Contains(base, "://") {
		if base == "" {
			return nil, wrapf("open: empty repository base")
		}
		return dirSource{root: base}, nil
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, wrapf("open: parse base URL: %w", err)
	}
	switch strings.ToLower(u.Scheme) {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, wrapf("open %s: file URL with a remote host", u.Redacted())
		}
		if u.Path == "" {
			return nil, wrapf("open %s: file URL without a path", u.Redacted())
		}
		return dirSource{root: filepath.FromSlash(u.Path)}, nil
	case "http", "https":
		if u.Host == "" {
			return nil, wrapf("open %s: URL without a host", u.Redacted())
		}
		u.RawQuery, u.Fragment, u.RawFragment = "", "", ""
		return httpSource{base: u, client: client}, nil
	default:
		return nil, wrapf("open %s: unsupported URL scheme %q", u.Redacted(), u.Scheme)
	}
}

type dirSource struct{ root string }

func (s dirSource) name(rel string) string {
	return filepath.Join(s.root, filepath.FromSlash(rel))
}

func (s dirSource) open(ctx context.Context, rel string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(s.name(rel))
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && fi.IsDir() {
		err = fmt.Errorf("%s is a directory", s.name(rel))
	}
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

type httpSource struct {
	base   *url.URL
	client *http.Client
}

func (s httpSource) url(rel string) *url.URL {
	u := *s.base
	u.Path = strings.TrimRight(u.Path, "/") + "/" + rel
	u.RawPath = ""
	return &u
}

func (s httpSource) name(rel string) string { return s.url(rel).Redacted() }

func (s httpSource) open(ctx context.Context, rel string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url(rel).String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		// The *url.Error names the URL, possibly with a password; keep
		// only the cause, callers add the redacted name.
		var ue *url.Error
		if errors.As(err, &ue) {
			return nil, ue.Err
		}
		return nil, err
	}
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("HTTP %s: %w", resp.Status, fs.ErrNotExist)
	}
	if resp.StatusCode/100 != 2 {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	return resp.Body, nil
}

// ctxReader fails reads once ctx is done, so slow local reads and long
// decompressions stop promptly.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// limitReader returns errTooLarge once more than n bytes have been read.
type limitReader struct {
	r    io.Reader
	n    int64 // bytes still allowed
	name string
	max  int64
}

func newLimitReader(r io.Reader, max int64, name string) *limitReader {
	return &limitReader{r: r, n: max, name: name, max: max}
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n < 0 {
		return 0, l.err()
	}
	if int64(len(p)) > l.n+1 {
		p = p[:l.n+1]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if l.n < 0 {
		return n - 1, l.err()
	}
	return n, err
}

func (l *limitReader) err() error {
	return fmt.Errorf("%w: %s exceeds %d bytes", ErrTooLarge, l.name, l.max)
}
