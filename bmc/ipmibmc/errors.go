package ipmibmc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/fleetkit/fleetkit/bmc"
)

// classify maps a go-ipmi error to the sentinels of package bmc, keeping
// the original in the chain (and its text in the message).
//
// go-ipmi v0.9.1 flattens the errors of the RMCP+ handshake (Open Session,
// RAKP 1-4) into text ("connect20 failed after try all cipher suite ids
// ..., errs: %v"), so for those, its messages are matched: the RAKP
// authentication error, "RMCP+ status 0x..", and "IPMI LAN: ..." for
// exchanges that got no answer. The tests against go-ipmi's own BMC and
// OpenIPMI's ipmi_sim pin these.
func classify(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	ctxErr := ctx.Err()
	if dl, ok := ctx.Deadline(); ok && ctxErr == nil && !time.Now().Before(dl) {
		// go-ipmi reads until ctx's deadline, and its read can time out
		// a moment before ctx says it is done: that is ctx's deadline.
		ctxErr = context.DeadlineExceeded
	}
	if ctxErr != nil {
		if errors.Is(err, ctxErr) {
			return err
		}
		return fmt.Errorf("%w: %v", ctxErr, err)
	}
	switch {
	case errors.Is(err, bmc.ErrAuth), errors.Is(err, bmc.ErrUnsupported),
		errors.Is(err, bmc.ErrInvalidArgument), errors.Is(err, bmc.ErrNotOpen),
		errors.Is(err, bmc.ErrTransient):
		return err // classified already
	}
	msg := err.Error()

	if errors.Is(err, client.ErrRAKPAuthentication) || strings.Contains(msg, client.ErrRAKPAuthentication.Error()) {
		return fmt.Errorf("%w: the BMC's RAKP authentication code does not match ours: wrong password (or user): %w", bmc.ErrAuth, err)
	}
	if code, ok := rmcpStatus(err); ok {
		return classifyRmcpStatus(code, err)
	}
	if strings.Contains(msg, "RMCP+ Open Session failed") && strings.Contains(msg, types.ErrUnpackedDataTooShort.Error()) {
		// The BMC answered Open Session with an error status and no more
		// (OpenIPMI does), which go-ipmi cannot decode. The request asks
		// for nothing but a cipher suite and the highest role, so the
		// suite is by far the likeliest cause.
		return fmt.Errorf("%w: the BMC refused to open an RMCP+ session, most likely because it does not offer this cipher suite (see Options.CipherSuite; go-ipmi cannot decode its short answer): %w", bmc.ErrUnsupported, err)
	}
	if re, ok := types.IsResponseError(err); ok {
		return classifyCompletionCode(re.CompletionCode(), msg, err)
	}

	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound {
		return err // no such host: retrying will not help
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() ||
		strings.Contains(msg, "IPMI LAN: ") || // go-ipmi's wrapping of every failed UDP exchange
		strings.Contains(msg, "connection refused") {
		return bmc.Transient(fmt.Errorf("no answer from the BMC: %w", err))
	}
	return err
}

var rmcpStatusRE = regexp.MustCompile(`RMCP\+ status 0x([0-9a-fA-F]{1,2})`)

// rmcpStatus finds the RMCP+ status code of a failed handshake.
func rmcpStatus(err error) (types.RmcpStatusCode, bool) {
	var se *types.RmcpStatusError
	if errors.As(err, &se) {
		return se.StatusCode(), true
	}
	m := rmcpStatusRE.FindStringSubmatch(err.Error())
	if m == nil {
		return 0, false
	}
	n, perr := strconv.ParseUint(m[1], 16, 8)
	if perr != nil {
		return 0, false
	}
	return types.RmcpStatusCode(n), true
}

func classifyRmcpStatus(code types.RmcpStatusCode, err error) error {
	switch code {
	case types.RmcpStatusCodeInvalidRole, types.RmcpStatusCodeUnauthorizedRoleOfPriLevel,
		types.RmcpStatusCodeInvalidNameLength, types.RmcpStatusCodeUnauthorizedName,
		types.RmcpStatusCodeUnauthorizedGUID, types.RmcpStatusCodeInvalidIntegrityCheckValue:
		return fmt.Errorf("%w: %w", bmc.ErrAuth, err)
	case types.RmcpStatusCodeNoResToCreateSess, types.RmcpStatusCodeNoResToCreateSessAtRole:
		return bmc.Transient(fmt.Errorf("the BMC has no free session slot: %w", err))
	case types.RmcpStatusCodeInvalidAuthAlg, types.RmcpStatusCodeInvalidIntegrityAlg,
		types.RmcpStatusCodeNoMatchingAuthPayload, types.RmcpStatusCodeNoMatchingIntegrityPayload,
		types.RmcpStatusCodeInvalidConfidentAlg, types.RmcpStatusCodeNoCipherSuiteMatch:
		return fmt.Errorf("%w: the BMC does not offer this cipher suite (see Options.CipherSuite): %w", bmc.ErrUnsupported, err)
	}
	return err
}

// classifyCompletionCode maps the generic completion codes (IPMI v2.0
// table 5-2), and the command-specific ones of session setup, which the
// message (go-ipmi names the command) tells apart.
func classifyCompletionCode(cc types.CompletionCode, msg string, err error) error {
	switch cc {
	case types.CodeNodeBusy, types.CodeProcessTimeout, types.CodeCannotProvideResponse,
		types.CodeCannotExecuteDuplicatedRequest, types.CodeCannotProvideResponseSDRRInUpdate,
		types.CodeCannotProvideResponseFirmwareUpdate, types.CodeCannotProvideResponseBMCInitialize:
		return bmc.Transient(fmt.Errorf("the BMC is busy: %w", err))
	case types.CodeInvalidCommand, types.CodeInvalidCommandForLUN, types.CodeSubFnDisabled:
		return fmt.Errorf("%w: the BMC does not implement this command: %w", bmc.ErrUnsupported, err)
	case types.CodeInsufficientPrivilege:
		return fmt.Errorf("%w: insufficient privilege: %w", bmc.ErrAuth, err)
	}
	switch {
	case strings.Contains(msg, "SetSessionPrivilegeLevel") && (cc == 0x80 || cc == 0x81):
		return fmt.Errorf("%w: the user may not have administrator privilege on this channel: %w", bmc.ErrAuth, err)
	case strings.Contains(msg, "GetSessionChallenge") && (cc == 0x81 || cc == 0x82):
		return fmt.Errorf("%w: the BMC does not know the user: %w", bmc.ErrAuth, err)
	case strings.Contains(msg, "ActivateSession") && cc == 0x86:
		return fmt.Errorf("%w: the user may not have administrator privilege: %w", bmc.ErrAuth, err)
	case strings.Contains(msg, "ActivateSession") && cc >= 0x81 && cc <= 0x83:
		return bmc.Transient(fmt.Errorf("the BMC has no free session slot: %w", err))
	}
	return err
}

// completionCode returns the completion code of a failed command.
func completionCode(err error) (types.CompletionCode, bool) {
	re, ok := types.IsResponseError(err)
	if !ok {
		return 0, false
	}
	return re.CompletionCode(), true
}
