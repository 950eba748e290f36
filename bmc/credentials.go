package bmc

import (
	"context"
	"fmt"
)

// Credentials log in to a BMC. Their String and GoString never show the
// password, so they are safe in logs and errors by accident too.
type Credentials struct {
	Username string
	Password string
}

// String shows the user name only.
func (c Credentials) String() string { return fmt.Sprintf("user %q (password redacted)", c.Username) }

// GoString shows the user name only, for %#v.
func (c Credentials) GoString() string {
	return fmt.Sprintf("bmc.Credentials{Username: %q, Password: <redacted>}", c.Username)
}

// Format makes every verb (%v, %+v, %s, %q) print String.
func (c Credentials) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, c.GoString())
		return
	}
	fmt.Fprint(f, c.String())
}

// CredentialSource gives the credentials of a host's BMC: a vault, a
// per-rack scheme, one default. It must be safe for concurrent use.
type CredentialSource interface {
	Credentials(ctx context.Context, host string) (Credentials, error)
}

// StaticCredentials is a CredentialSource from fixed values: a host's own
// credentials, else its rack's, else the default. It is safe for
// concurrent use once built.
type StaticCredentials struct {
	// Default is used for hosts with no entry of their own or of their rack.
	Default Credentials
	// ByHost holds per-host credentials, keyed by hostname.
	ByHost map[string]Credentials
	// ByRack holds per-rack credentials, keyed by rack name.
	ByRack map[string]Credentials
	// Rack returns a host's rack name; nil disables ByRack.
	Rack func(host string) string
}

// Credentials returns host's credentials. It fails when neither the host,
// its rack nor the default has any (an empty Default user name).
func (s *StaticCredentials) Credentials(_ context.Context, host string) (Credentials, error) {
	if c, ok := s.ByHost[host]; ok {
		return c, nil
	}
	if s.Rack != nil {
		if c, ok := s.ByRack[s.Rack(host)]; ok {
			return c, nil
		}
	}
	if s.Default.Username == "" {
		return Credentials{}, fmt.Errorf("bmc: no credentials for host %s", host)
	}
	return s.Default, nil
}
