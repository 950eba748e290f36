package fleetkit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Webhook request headers.
const (
	// WebhookSignatureHeader carries "sha256=" followed by the hex-encoded
	// HMAC-SHA256 of the request body under the shared secret.
	WebhookSignatureHeader = "X-Fleetkit-Signature"
	// WebhookUserAgent is the User-Agent of every webhook request.
	WebhookUserAgent = "fleetkit-webhook"
)

// webhookSignaturePrefix names the MAC algorithm in [WebhookSignatureHeader].
const webhookSignaturePrefix = "sha256="

// webhookDrainLimit bounds how much of a response body is read so the
// connection can be reused; the body itself is never used.
const webhookDrainLimit = 64 << 10

// WebhookOptions configures a [WebhookNotifier]. A zero field, like a nil
// pointer, means its default; negative durations or attempts are rejected.
type WebhookOptions struct {
	// Client sends the requests. Nil means a client on
	// http.DefaultTransport that does not follow redirects: a redirect is
	// reported as a failed delivery rather than re-sent elsewhere.
	Client *http.Client
	// Timeout bounds each attempt, from sending the request to reading
	// the response. Default 5s. The ctx given to Notify bounds all
	// attempts and the waits between them together.
	Timeout time.Duration
	// MaxAttempts is how many times one event is sent at most, the first
	// attempt included. Default 4.
	MaxAttempts int
	// InitialBackoff is the wait before the second attempt. Later waits
	// grow exponentially up to MaxBackoff, each randomised by ±50%.
	// Default 250ms.
	InitialBackoff time.Duration
	// MaxBackoff caps the wait between attempts. Default 5s.
	MaxBackoff time.Duration
}

// Defaults for [WebhookOptions].
const (
	DefaultWebhookTimeout        = 5 * time.Second
	DefaultWebhookMaxAttempts    = 4
	DefaultWebhookInitialBackoff = 250 * time.Millisecond
	DefaultWebhookMaxBackoff     = 5 * time.Second
)

// withDefaults returns a copy of o, which may be nil, with every zero field
// set to its default, or an error naming the first invalid field.
func (o *WebhookOptions) withDefaults() (WebhookOptions, error) {
	var c WebhookOptions
	if o != nil {
		c = *o
	}
	switch {
	case c.Timeout < 0:
		return c, fmt.Errorf("webhook options: negative Timeout %s", c.Timeout)
	case c.MaxAttempts < 0:
		return c, fmt.Errorf("webhook options: negative MaxAttempts %d", c.MaxAttempts)
	case c.InitialBackoff < 0:
		return c, fmt.Errorf("webhook options: negative InitialBackoff %s", c.InitialBackoff)
	case c.MaxBackoff < 0:
		return c, fmt.Errorf("webhook options: negative MaxBackoff %s", c.MaxBackoff)
	}
	if c.Client == nil {
		c.Client = &http.Client{
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultWebhookTimeout
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultWebhookMaxAttempts
	}
	if c.InitialBackoff == 0 {
		c.InitialBackoff = DefaultWebhookInitialBackoff
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = DefaultWebhookMaxBackoff
	}
	return c, nil
}

// WebhookNotifier is a [Notifier] that POSTs each [Event] as JSON to an
// HTTP endpoint, signed with a shared secret, and retries failed deliveries.
//
// Each request carries Content-Type application/json, User-Agent
// [WebhookUserAgent] and the header [WebhookSignatureHeader] with the value
// "sha256=<hex>", where <hex> is the HMAC-SHA256 of the exact request body
// under the secret. A receiver verifies a request by reading the raw body
// and calling [VerifyWebhookSignature] before decoding it; a receiver in
// another language recomputes the HMAC over the raw bytes and compares it
// in constant time.
//
// A 2xx response is a delivery. Network errors, attempts that time out and
// the statuses 408, 429 and 5xx are retried with jittered exponential
// backoff; any other status is a permanent failure.
//
// Neither the secret nor the URL's userinfo and query appear in errors or
// in String. A WebhookNotifier is safe for concurrent use.
type WebhookNotifier struct {
	url      string // as given, for requests
	redacted string // for errors and String
	secret   []byte
	opts     WebhookOptions
}

var _ Notifier = (*WebhookNotifier)(nil)

// NewWebhookNotifier returns a [WebhookNotifier] that posts to rawURL and
// signs with secret. rawURL must be an absolute http or https URL with a
// host, and secret must not be empty; NewWebhookNotifier keeps its own copy
// of secret. A nil opts means the defaults described on [WebhookOptions].
func NewWebhookNotifier(rawURL string, secret []byte, opts *WebhookOptions) (*WebhookNotifier, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("webhook URL: %w", stripURLError(err))
	}
	redacted := redactURL(u)
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("webhook URL %s: scheme %q not supported, want http or https", redacted, u.Scheme)
	case u.Hostname() == "":
		return nil, fmt.Errorf("webhook URL %s: no host", redacted)
	case len(secret) == 0:
		return nil, errors.New("webhook: empty secret")
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	return &WebhookNotifier{
		url:      rawURL,
		redacted: redacted,
		secret:   bytes.Clone(secret),
		opts:     o,
	}, nil
}

// String describes w by its URL with userinfo and query redacted.
func (w *WebhookNotifier) String() string { return "webhook " + w.redacted }

// Notify POSTs e and retries as described on [WebhookNotifier] until it is
// delivered, MaxAttempts attempts were made, a permanent failure occurs or
// ctx ends. The error then names the event's kind and subject, the
// redacted URL, the number of attempts and the last status or error, and
// wraps ctx.Err() when ctx ended.
func (w *WebhookNotifier) Notify(ctx context.Context, e Event) error {
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("webhook %s: encode event %q for %q: %w", w.redacted, e.Kind, e.Subject, err)
	}
	signature := webhookSignaturePrefix + hex.EncodeToString(webhookMAC(w.secret, body))

	var (
		attempts int
		lastErr  error
	)
	deliver := func() error {
		if err := ctx.Err(); err != nil {
			return backoff.Permanent(err)
		}
		attempts++
		lastErr = w.post(ctx, body, signature)
		if lastErr != nil && (ctx.Err() != nil || !retryableWebhookError(lastErr)) {
			return backoff.Permanent(lastErr)
		}
		return lastErr
	}
	err = backoff.Retry(deliver, w.backOff(ctx))
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil && lastErr != nil && !errors.Is(lastErr, ctxErr) {
		// ctx ended between attempts, or during one that still got an
		// answer: report both.
		err = fmt.Errorf("%w (last attempt: %w)", ctxErr, lastErr)
	}
	return fmt.Errorf("webhook %s: event %q for %q not delivered after %d %s: %w",
		w.redacted, e.Kind, e.Subject, attempts, plural(attempts, "attempt", "attempts"), err)
}

// backOff returns the retry policy of one Notify call. ExponentialBackOff
// is stateful, so each call gets its own.
func (w *WebhookNotifier) backOff(ctx context.Context) backoff.BackOff {
	exp := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(w.opts.InitialBackoff),
		backoff.WithMaxInterval(w.opts.MaxBackoff),
		backoff.WithMaxElapsedTime(0), // bounded by MaxAttempts and ctx instead
	)
	return backoff.WithContext(backoff.WithMaxRetries(exp, uint64(w.opts.MaxAttempts-1)), ctx)
}

// post makes one delivery attempt. Its errors never repeat the URL.
func (w *WebhookNotifier) post(ctx context.Context, body []byte, signature string) error {
	attemptCtx, cancel := context.WithTimeout(ctx, w.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(attemptCtx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return stripURLError(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", WebhookUserAgent)
	req.Header.Set(WebhookSignatureHeader, signature)

	resp, err := w.opts.Client.Do(req)
	if err != nil {
		err = stripURLError(err)
		if ctx.Err() == nil && attemptCtx.Err() != nil {
			err = fmt.Errorf("no response within %s: %w", w.opts.Timeout, err)
		}
		return err
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, webhookDrainLimit))
		_ = resp.Body.Close()
	}()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &webhookStatusError{code: resp.StatusCode}
	}
	return nil
}

// webhookStatusError is a response whose status is not 2xx.
type webhookStatusError struct{ code int }

func (e *webhookStatusError) Error() string {
	return fmt.Sprintf("HTTP %d %s", e.code, http.StatusText(e.code))
}

// retryableWebhookError reports whether a failed attempt is worth
// repeating: any error without a response, or a 408, 429 or 5xx status.
func retryableWebhookError(err error) bool {
	var se *webhookStatusError
	if !errors.As(err, &se) {
		return true
	}
	return se.code >= 500 || se.code == http.StatusRequestTimeout || se.code == http.StatusTooManyRequests
}

// VerifyWebhookSignature reports whether header, the value of
// [WebhookSignatureHeader] on a request, is the signature of body under
// secret. body must be the raw request body, read before any decoding. The
// comparison takes constant time. An empty secret verifies nothing.
//
// A receiver typically does:
//
//	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
//	if err != nil || !fleetkit.VerifyWebhookSignature(secret, body, r.Header.Get(fleetkit.WebhookSignatureHeader)) {
//		http.Error(w, "bad signature", http.StatusUnauthorized)
//		return
//	}
//	var e fleetkit.Event
//	err = json.Unmarshal(body, &e)
func VerifyWebhookSignature(secret, body []byte, header string) bool {
	hexMAC, ok := strings.CutPrefix(header, webhookSignaturePrefix)
	if !ok || len(secret) == 0 {
		return false
	}
	got, err := hex.DecodeString(hexMAC)
	if err != nil {
		return false
	}
	return hmac.Equal(got, webhookMAC(secret, body))
}

// webhookMAC is the HMAC-SHA256 of body under secret.
func webhookMAC(secret, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return m.Sum(nil)
}

// redactURL returns u as a string with any userinfo and query replaced by
// "xxxxx" and the fragment dropped, so that tokens embedded in a webhook
// URL stay out of errors and logs.
func redactURL(u *url.URL) string {
	r := *u
	if r.User != nil {
		r.User = url.User("xxxxx")
	}
	if r.RawQuery != "" || r.ForceQuery {
		r.RawQuery = "xxxxx"
	}
	r.Fragment, r.RawFragment = "", ""
	return r.String()
}

// stripURLError unwraps a *url.Error, whose message repeats the URL with
// its query and, from url.Parse, its userinfo.
func stripURLError(err error) error {
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// plural returns one when n is 1 and many otherwise.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
