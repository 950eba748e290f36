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
