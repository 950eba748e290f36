package yumrepo

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// maxTextLen bounds the text of one element (name, arch, checksum) kept
// while parsing.
const maxTextLen = 4096

// primaryParser reads primary.xml token by token.
type primaryParser struct {
	d    *xml.Decoder
	name string
}

// parsePrimary parses primary.xml from r, calling emit for each package of
// type "rpm" in document order; name is used in errors. It stops at the
// end of the root element, at the first error, or when ctx is done
// (checked before each package).
func parsePrimary(ctx context.Context, r io.Reader, name string, emit func(Package) error) error {
	p := &primaryParser{d: xml.NewDecoder(r), name: name}
	root, err := p.rootStart()
	if err != nil {
		return err
	}
	if root.Name.Local != "metadata" {
		return p.malformed("root element is <%s>, want <metadata>", root.Name.Local)
	}
	for {
		tok, err := p.token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return p.malformed("unexpected end of document inside <metadata>")
			}
			return err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil // </metadata>; the decoder checks it matches
		case xml.StartElement:
			if t.Name.Local != "package" || attr(t, "type") != "rpm" {
				if err := p.skip(); err != nil {
					return err
				}
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			pkg, err := p.pkg(t)
			if err != nil {
				return err
			}
			if err := emit(pkg); err != nil {
				return err
			}
		}
	}
}

// rootStart returns the first start element, skipping the prolog.
func (p *primaryParser) rootStart() (xml.StartElement, error) {
	for {
		tok, err := p.token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return xml.StartElement{}, p.malformed("no root element")
			}
			return xml.StartElement{}, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, nil
		case xml.CharData:
			if strings.TrimSpace(string(t)) != "" {
				return xml.StartElement{}, p.malformed("text before the root element")
			}
		}
	}
}

// token returns the next token; errors other than io.EOF are wrapped with
// the file name (syntax errors also with ErrMalformed; they name the line).
func (p *primaryParser) token() (xml.Token, error) {
	tok, err := p.d.Token()
	if err == nil || errors.Is(err, io.EOF) && tok == nil {
		return tok, err
	}
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return nil, fmt.Errorf("%w: %s: %w", ErrMalformed, p.name, err)
	}
	return nil, wrapf("read %s: %w", p.name, err)
}

func (p *primaryParser) skip() error {
	// Decoder.Skip reads tokens until the matching end element; its
	// errors need the same wrapping as token's.
	depth := 1
	for depth > 0 {
		tok, err := p.token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return p.malformed("unexpected end of document")
			}
			return err
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		}
	}
	return nil
}

func (p *primaryParser) line() int {
	line, _ := p.d.InputPos()
	return line
}

func (p *primaryParser) malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s:%d: %s", ErrMalformed, p.name, p.line(), fmt.Sprintf(format, args...))
}

// text returns the character data of the element just started, up to its
// end element, refusing nested elements.
func (p *primaryParser) text(elem string) (string, error) {
	var b strings.Builder
	for {
		tok, err := p.token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return "", p.malformed("unexpected end of document in <%s>", elem)
			}
			return "", err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if b.Len()+len(t) > maxTextLen {
				return "", p.malformed("<%s> longer than %d bytes", elem, maxTextLen)
			}
			b.Write(t)
		case xml.StartElement:
			return "", p.malformed("unexpected <%s> inside <%s>", t.Name.Local, elem)
		case xml.EndElement:
			return strings.TrimSpace(b.String()), nil
		}
	}
}

// pkg parses one <package type="rpm"> whose start element was just read.
func (p *primaryParser) pkg(start xml.StartElement) (Package, error) {
	startLine := p.line()
	var (
		pkg                   Package
		sawVersion, sawLocate bool
	)
	for {
		tok, err := p.token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return Package{}, p.malformed("unexpected end of document in <package>")
			}
			return Package{}, err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			switch {
			case pkg.Name == "":
				return Package{}, p.malformedAt(startLine, "package without a name")
			case pkg.Arch == "":
				return Package{}, p.malformedAt(startLine, "package %s without an arch", pkg.Name)
			case !sawVersion || pkg.EVR.Version == "":
				return Package{}, p.malformedAt(startLine, "package %s.%s without a version", pkg.Name, pkg.Arch)
			case !sawLocate:
				return Package{}, p.malformedAt(startLine, "package %s.%s without a location", pkg.Name, pkg.Arch)
			}
			return pkg, nil
		case xml.StartElement:
			if err := p.field(t, &pkg, &sawVersion, &sawLocate); err != nil {
				return Package{}, err
			}
		}
	}
}

func (p *primaryParser) malformedAt(line int, format string, args ...any) error {
	return fmt.Errorf("%w: %s:%d: %s", ErrMalformed, p.name, line, fmt.Sprintf(format, args...))
}

// field reads one child element of <package> into pkg.
func (p *primaryParser) field(t xml.StartElement, pkg *Package, sawVersion, sawLocate *bool) error {
	var err error
	switch t.Name.Local {
	case "name":
		pkg.Name, err = p.text("name")
		return err
	case "arch":
		pkg.Arch, err = p.text("arch")
		return err
	case "version":
		*sawVersion = true
		pkg.EVR.Version = attr(t, "ver")
		pkg.EVR.Release = attr(t, "rel")
		if e := attr(t, "epoch"); e != "" {
			n, err := strconv.Atoi(e)
			if err != nil || n < 0 {
				return p.malformed("bad epoch %q", e)
			}
			pkg.EVR.Epoch = n
		}
	case "checksum":
		pkg.Checksum.Type = attr(t, "type")
		pkg.Checksum.Value, err = p.text("checksum")
		return err
	case "size":
		if pkg.Size, err = p.int64Attr(t, "package"); err != nil {
			return err
		}
	case "time":
		if pkg.FileTime, err = p.int64Attr(t, "file"); err != nil {
			return err
		}
		if pkg.BuildTime, err = p.int64Attr(t, "build"); err != nil {
			return err
		}
	case "location":
		*sawLocate = true
		if b, ok := attrOK(t, "base"); ok {
			return fmt.Errorf("%s:%d: %w %q: xml:base points outside the repository", p.name, p.line(), ErrUnsafeHref, b)
		}
		pkg.Location = attr(t, "href")
		if err := checkHref(pkg.Location); err != nil {
			return fmt.Errorf("%s:%d: %w", p.name, p.line(), err)
		}
	}
	return p.skip()
}

func (p *primaryParser) int64Attr(t xml.StartElement, name string) (int64, error) {
	s := attr(t, name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, p.malformed("bad %s %s %q", t.Name.Local, name, s)
	}
	return n, nil
}

func attr(t xml.StartElement, local string) string {
	v, _ := attrOK(t, local)
	return v
}

func attrOK(t xml.StartElement, local string) (string, bool) {
	for _, a := range t.Attr {
		if a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}
