package yumrepo

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
)

const repomdPath = "repodata/repomd.xml"

// dataFile is one data entry of repomd.xml.
type dataFile struct {
	Href         string
	Checksum     Checksum
	OpenChecksum Checksum // zero when absent
}

type repomd struct {
	revision string
	primary  dataFile
}

type xmlChecksum struct {
	Type  string `xml:"type,attr"`
	Value string `xml:",chardata"`
}

type xmlRepomd struct {
	XMLName  xml.Name `xml:"repomd"`
	Revision string   `xml:"revision"`
	Data     []struct {
		Type         string       `xml:"type,attr"`
		Checksum     *xmlChecksum `xml:"checksum"`
		OpenChecksum *xmlChecksum `xml:"open-checksum"`
		Location     *struct {
			Href string  `xml:"href,attr"`
			Base *string `xml:"base,attr"`
		} `xml:"location"`
	} `xml:"data"`
}

func readRepomd(ctx context.Context, src source, limit int64) (repomd, error) {
	name := src.name(repomdPath)
	rc, err := src.open(ctx, repomdPath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return repomd{}, fmt.Errorf("%w: %s: %w", ErrNotRepo, name, err)
		}
		return repomd{}, wrapf("read %s: %w", name, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(newLimitReader(ctxReader{ctx, rc}, limit, name))
	if err != nil {
		return repomd{}, wrapf("read %s: %w", name, err)
	}
	return parseRepomd(data, name)
}

// parseRepomd parses repomd.xml content; name is used in errors.
func parseRepomd(data []byte, name string) (repomd, error) {
	var x xmlRepomd
	d := xml.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(&x); err != nil {
		if errors.Is(err, io.EOF) {
			return repomd{}, fmt.Errorf("%w: %s: empty document", ErrMalformed, name)
		}
		return repomd{}, fmt.Errorf("%w: %s: %w", ErrMalformed, name, err)
	}
	md := repomd{revision: strings.TrimSpace(x.Revision)}
	found := false
	for _, dt := range x.Data {
		if dt.Type != "primary" {
			continue
		}
		if found {
			return repomd{}, fmt.Errorf("%w: %s: more than one primary entry", ErrMalformed, name)
		}
		found = true
		if dt.Location == nil {
			return repomd{}, fmt.Errorf("%w: %s: primary entry without location", ErrMalformed, name)
		}
		if dt.Location.Base != nil {
			return repomd{}, fmt.Errorf("%s: primary location: %w %q: xml:base points outside the repository", name, ErrUnsafeHref, *dt.Location.Base)
		}
		if err := checkHref(dt.Location.Href); err != nil {
			return repomd{}, fmt.Errorf("%s: primary location: %w", name, err)
		}
		if dt.Checksum == nil || strings.TrimSpace(dt.Checksum.Value) == "" {
			return repomd{}, fmt.Errorf("%w: %s: primary entry without checksum", ErrMalformed, name)
		}
		md.primary = dataFile{
			Href:     dt.Location.Href,
			Checksum: Checksum{Type: dt.Checksum.Type, Value: strings.TrimSpace(dt.Checksum.Value)},
		}
		if _, err := newHash(md.primary.Checksum.Type); err != nil {
			return repomd{}, fmt.Errorf("%w: %s: primary checksum: %w", ErrMalformed, name, err)
		}
		if oc := dt.OpenChecksum; oc != nil && strings.TrimSpace(oc.Value) != "" {
			md.primary.OpenChecksum = Checksum{Type: oc.Type, Value: strings.TrimSpace(oc.Value)}
			if _, err := newHash(oc.Type); err != nil {
				return repomd{}, fmt.Errorf("%w: %s: primary open-checksum: %w", ErrMalformed, name, err)
			}
		}
	}
	if !found {
		return repomd{}, fmt.Errorf("%w: %s: no primary entry", ErrNotRepo, name)
	}
	return md, nil
}
