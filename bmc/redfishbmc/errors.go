package redfishbmc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/stmcginnis/gofish/schemas"

	"github.com/fleetkit/fleetkit/bmc"
)

// statusError is a BMC's HTTP answer other than 2xx, reduced to what is
// safe to show: the status and the Redfish message, never the raw body
// (which some BMCs fill with the request they refused).
type statusError struct {
	status int
	text   string // Redfish message, already redacted and clipped
}

func (e *statusError) Error() string {
	s := fmt.Sprintf("HTTP %d %s", e.status, http.StatusText(e.status))
	if e.text != "" {
		s += ": " + e.text
	}
	return s
}

// maxMessage clips what a BMC says in an error: enough to act on, never a
// page of HTML.
const maxMessage = 240

// interpret maps an error of gofish (or of the HTTP client under it) to the
// sentinels of package bmc, like River's interpretError maps pgx.ErrNoRows:
//
//   - HTTP 401 and 403 wrap bmc.ErrAuth, 404 and 410 bmc.ErrNotFound,
//     405 and 501 bmc.ErrUnsupported;
//   - HTTP 429, 502, 503 and 504, and a connection the BMC closed without
//     answering, are marked bmc.Transient; timeouts, refused and reset
//     connections stay wrapped so bmc.IsTransient sees them;
//   - a TLS certificate the driver cannot verify says how to trust it.
//
// what names the operation and the object ("power state of
// https://bmc/redfish/v1/Systems/1"). Nothing of the request body, and
// never the password, reaches the message: the BMC's own text is rebuilt
// from its parsed Redfish error, clipped and redacted.
func (d *Driver) interpret(what string, err error) error {
	if err == nil {
		return nil
	}
	prefix := "redfishbmc: " + what
	// A collection gofish read member by member hides its failures in a
	// map; the worst of them decides.
	var ce *schemas.CollectionError
	if errors.As(err, &ce) && len(ce.Failures) > 0 {
		err = worstFailure(ce)
	}
	var se *schemas.Error
	if errors.As(err, &se) {
		if se.HTTPReturnedStatusCode == 0 { // gofish's own complaint, e.g. "no target provided"
			return fmt.Errorf("%s: %s", prefix, clip(d.redact(se.Message)))
		}
		st := &statusError{status: se.HTTPReturnedStatusCode, text: clip(d.redact(redfishMessage(se)))}
		switch st.status {
		case http.StatusUnauthorized:
			return fmt.Errorf("%s: %w: %w", prefix, bmc.ErrAuth, st)
		case http.StatusForbidden:
			return fmt.Errorf("%s: %w (the account lacks the privilege): %w", prefix, bmc.ErrAuth, st)
		case http.StatusNotFound, http.StatusGone:
			return fmt.Errorf("%s: %w: %w", prefix, bmc.ErrNotFound, st)
		case http.StatusMethodNotAllowed, http.StatusNotImplemented:
			return fmt.Errorf("%s: %w: %w", prefix, bmc.ErrUnsupported, st)
		case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return bmc.Transient(fmt.Errorf("%s: %w", prefix, st))
		}
		return fmt.Errorf("%s: %w", prefix, st)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", prefix, err)
	}
	var (
		unknownCA *x509.UnknownAuthorityError
		cve       *tls.CertificateVerificationError
		hostErr   x509.HostnameError
	)
	switch {
	case errors.As(err, &unknownCA) || errors.As(err, &cve) || errors.As(err, &hostErr):
		return fmt.Errorf("%s: the BMC's TLS certificate cannot be verified (trust its CA with Options.RootCAs): %w", prefix, d.redactErr(err))
	case isURLError(err) && errors.Is(err, io.EOF):
		// The BMC closed the connection without an answer: busy or
		// restarting, worth another try.
		return bmc.Transient(fmt.Errorf("%s: %w", prefix, d.redactErr(err)))
	}
	return fmt.Errorf("%s: %w", prefix, d.redactErr(err))
}

func isURLError(err error) bool {
	var ue *url.Error
	return errors.As(err, &ue)
}

// worstFailure picks the failure of a collection read that matters most:
// refused credentials, then a missing resource, then one worth retrying,
// then any; ties go to the first URI in order, so errors are stable.
func worstFailure(ce *schemas.CollectionError) error {
	links := make([]string, 0, len(ce.Failures))
	for l := range ce.Failures {
		links = append(links, l)
	}
	slices.Sort(links)
	rank := func(err error) int {
		var se *schemas.Error
		if errors.As(err, &se) {
			switch se.HTTPReturnedStatusCode {
			case http.StatusUnauthorized, http.StatusForbidden:
				return 0
			case http.StatusNotFound:
				return 1
			case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
				return 2
			}
		}
		if bmc.IsTransient(err) {
			return 2
		}
		return 3
	}
	best := ce.Failures[links[0]]
	for _, l := range links[1:] {
		if e := ce.Failures[l]; rank(e) < rank(best) {
			best = e
		}
	}
	return best
}

// redfishMessage rebuilds what a Redfish error says (code, message,
// extended messages) from the parsed error, never from the raw body. The
// caller redacts, then clips (in that order, so that no part of a secret
// survives at the cut).
func redfishMessage(se *schemas.Error) string {
	var parts []string
	if se.Code != "" {
		parts = append(parts, se.Code)
	}
	if m := strings.TrimSpace(se.Message); m != "" {
		parts = append(parts, m)
	}
	for _, x := range se.ExtendedInfos {
		if m := strings.TrimSpace(x.Message); m != "" && !slices.Contains(parts, m) {
			parts = append(parts, m)
		}
	}
	return strings.Join(parts, ": ")
}

// clip folds whitespace and keeps the first maxMessage bytes (on a rune
// boundary).
func clip(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= maxMessage {
		return s
	}
	cut := maxMessage
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

const redacted = "<redacted>"

// redact removes the password from s. The driver builds its messages
// without it; this is the belt to those braces.
func (d *Driver) redact(s string) string {
	if d.creds.Password == "" {
		return s
	}
	return strings.ReplaceAll(s, d.creds.Password, redacted)
}

// redactErr returns err unchanged when its message contains neither the
// password nor any of secrets, and otherwise an error with them replaced
// that still answers errors.Is as err does (bmc.IsTransient included) but
// no longer unwraps to it, so nothing can print the original.
func (d *Driver) redactErr(err error, secrets ...string) error {
	if d.creds.Password != "" {
		secrets = append(secrets, d.creds.Password)
	}
	msg := err.Error()
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, redacted)
		}
	}
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, orig: err}
}

type redactedError struct {
	msg  string
	orig error // for errors.Is only; never unwrapped
}

func (e *redactedError) Error() string { return e.msg }

// Is answers for the error it replaces.
func (e *redactedError) Is(target error) bool { return errors.Is(e.orig, target) }

// Timeout and Temporary make a redacted network error still a net.Error
// to bmc.IsTransient.
func (e *redactedError) Timeout() bool {
	var ne net.Error
	return errors.As(e.orig, &ne) && ne.Timeout()
}

// Temporary is Timeout; net.Error requires it.
func (e *redactedError) Temporary() bool { return e.Timeout() }

// httpStatus returns the HTTP status in err, 0 when there is none.
func httpStatus(err error) int {
	var st *statusError
	if errors.As(err, &st) {
		return st.status
	}
	return 0
}
