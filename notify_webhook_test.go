package fleetkit_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit"
)

const testWebhookSecret = "whsec-7f3a-do-not-leak"

// webhookReceiver is a TLS endpoint that verifies signatures the way a real
// receiver should and records what it accepted. It makes no assertions
// itself (they must run on the test goroutine); a request it rejects shows
// up as a failed delivery.
type webhookReceiver struct {
	*httptest.Server
	attempts atomic.Int32

	mu      sync.Mutex
	events  []fleetkit.Event
	headers http.Header
	body    []byte
}

// newWebhookReceiver starts a receiver. respond picks the status of the
// given attempt (1-based) after the request was verified; nil means 204.
func newWebhookReceiver(t *testing.T, respond func(attempt int, r *http.Request) int) *webhookReceiver {
	t.Helper()
	wr := &webhookReceiver{}
	wr.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attempt := int(wr.attempts.Add(1))
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		switch {
		case err != nil:
			http.Error(w, "read body", http.StatusBadRequest)
			return
		case r.Method != http.MethodPost:
			http.Error(w, "want POST", http.StatusMethodNotAllowed)
			return
		case !fleetkit.VerifyWebhookSignature([]byte(testWebhookSecret), body, r.Header.Get(fleetkit.WebhookSignatureHeader)):
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		status := http.StatusNoContent
		if respond != nil {
			status = respond(attempt, r)
		}
		if status/100 == 2 {
			var e fleetkit.Event
			if err := json.Unmarshal(body, &e); err != nil {
				http.Error(w, "bad JSON", http.StatusBadRequest)
				return
			}
			wr.mu.Lock()
			wr.events = append(wr.events, e)
			wr.headers, wr.body = r.Header.Clone(), body
			wr.mu.Unlock()
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "a body the client must drain")
	}))
	t.Cleanup(wr.Close)
	return wr
}

// Events returns the events the receiver accepted.
func (wr *webhookReceiver) Events() []fleetkit.Event {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	return append([]fleetkit.Event(nil), wr.events...)
}

// notifier returns a WebhookNotifier for rawURL that trusts the receiver's
// certificate and backs off briefly, with opts applied on top.
func (wr *webhookReceiver) notifier(t *testing.T, rawURL string, opts fleetkit.WebhookOptions) *fleetkit.WebhookNotifier {
	t.Helper()
	opts.Client = wr.Client()
	if opts.InitialBackoff == 0 {
		opts.InitialBackoff = time.Millisecond
	}
	if opts.MaxBackoff == 0 {
		opts.MaxBackoff = 5 * time.Millisecond
	}
	n, err := fleetkit.NewWebhookNotifier(rawURL, []byte(testWebhookSecret), &opts)
	require.NoError(t, err)
	return n
}

func TestWebhookNotifier_Contract(t *testing.T) {
	t.Parallel()
	runNotifierContract(t, func(t *testing.T) (fleetkit.Notifier, func() []fleetkit.Event) {
		wr := newWebhookReceiver(t, nil)
		return wr.notifier(t, wr.URL, fleetkit.WebhookOptions{}), wr.Events
	})
}

func TestWebhookNotifier_Request(t *testing.T) {
	t.Parallel()
	wr := newWebhookReceiver(t, nil)
	n := wr.notifier(t, wr.URL+"/hooks/fleet", fleetkit.WebhookOptions{})
	require.NoError(t, n.Notify(t.Context(), testEvent(1)))

	wr.mu.Lock()
	h, body := wr.headers, wr.body
	wr.mu.Unlock()
	require.Equal(t, "application/json", h.Get("Content-Type"))
	require.Equal(t, "fleetkit-webhook", h.Get("User-Agent"))

	mac := hmac.New(sha256.New, []byte(testWebhookSecret))
	mac.Write(body)
	require.Equal(t, "sha256="+hex.EncodeToString(mac.Sum(nil)), h.Get("X-Fleetkit-Signature"),
		"the documented algorithm, recomputed independently")
	require.JSONEq(t, `{"kind":"batch.accepted","subject":"batch-001","time":"2025-11-25T16:00:01.0000005Z",
		"attrs":{"owner":"ops","action":"reimage","n":"1"}}`, string(body))
}

func TestWebhookNotifier_RetriesTransientStatus(t *testing.T) {
	t.Parallel()
	for _, status := range []int{
		http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable,
		http.StatusGatewayTimeout, http.StatusRequestTimeout, http.StatusTooManyRequests,
	} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			wr := newWebhookReceiver(t, func(attempt int, _ *http.Request) int {
				if attempt <= 2 {
					return status
				}
				return http.StatusOK
			})
			n := wr.notifier(t, wr.URL, fleetkit.WebhookOptions{})
			require.NoError(t, n.Notify(t.Context(), testEvent(1)))
			require.EqualValues(t, 3, wr.attempts.Load())
			require.Len(t, wr.Events(), 1)
		})
	}
}

func TestWebhookNotifier_NoRetryOnClientError(t *testing.T) {
	t.Parallel()
	for _, status := range []int{
		http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden,
		http.StatusNotFound, http.StatusGone, http.StatusUnprocessableEntity,
	} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			wr := newWebhookReceiver(t, func(int, *http.Request) int { return status })
			n := wr.notifier(t, wr.URL, fleetkit.WebhookOptions{})
			err := n.Notify(t.Context(), testEvent(1))
			require.ErrorContains(t, err, fmt.Sprintf("after 1 attempt: HTTP %d %s", status, http.StatusText(status)))
			require.EqualValues(t, 1, wr.attempts.Load())
		})
	}
}

func TestWebhookNotifier_BadSignatureRejected(t *testing.T) {
	t.Parallel()
	wr := newWebhookReceiver(t, nil)
	n, err := fleetkit.NewWebhookNotifier(wr.URL, []byte("not the receiver's secret"), &fleetkit.WebhookOptions{Client: wr.Client()})
	require.NoError(t, err)
	require.ErrorContains(t, n.Notify(t.Context(), testEvent(1)), "HTTP 401")
	require.Empty(t, wr.Events())
}

func TestWebhookNotifier_GivesUp(t *testing.T) {
	t.Parallel()
	wr := newWebhookReceiver(t, func(int, *http.Request) int { return http.StatusServiceUnavailable })
	u, err := url.Parse(wr.URL)
	require.NoError(t, err)
	u.User = url.UserPassword("hookuser", "hunter2")
	u.Path = "/hooks/fleet"
	u.RawQuery = "token=tok-123"
	n := wr.notifier(t, u.String(), fleetkit.WebhookOptions{MaxAttempts: 3})

	e := testEvent(1)
	e.Attrs["reason"] = "body-only-detail"
	err = n.Notify(t.Context(), e)
	require.Error(t, err)
	require.EqualValues(t, 3, wr.attempts.Load())
	msg := err.Error()
	for _, want := range []string{
		`"batch.accepted"`, `"batch-001"`, "after 3 attempts", "HTTP 503 Service Unavailable",
		"https://xxxxx@" + u.Host + "/hooks/fleet?xxxxx",
	} {
		require.Contains(t, msg, want)
	}
	for _, leak := range []string{testWebhookSecret, "hunter2", "hookuser", "tok-123", "body-only-detail", "reimage"} {
		require.NotContains(t, msg, leak)
	}
}

func TestWebhookNotifier_RetriesNetworkError(t *testing.T) {
	t.Parallel()
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close() // nothing listens there any more
	n, err := fleetkit.NewWebhookNotifier(gone.URL+"?token=tok-123", []byte(testWebhookSecret), &fleetkit.WebhookOptions{
		MaxAttempts: 2, InitialBackoff: time.Millisecond,
	})
	require.NoError(t, err)
	err = n.Notify(t.Context(), testEvent(1))
	require.ErrorContains(t, err, "after 2 attempts")
	require.ErrorContains(t, err, "connection refused")
	require.NotContains(t, err.Error(), "tok-123")
}

func TestWebhookNotifier_AttemptTimeout(t *testing.T) {
	t.Parallel()
	wr := newWebhookReceiver(t, func(attempt int, r *http.Request) int {
		if attempt == 1 {
			<-r.Context().Done() // hang until the client gives up
		}
		return http.StatusOK
	})
	n := wr.notifier(t, wr.URL, fleetkit.WebhookOptions{Timeout: 50 * time.Millisecond})
	require.NoError(t, n.Notify(t.Context(), testEvent(1)))
	require.EqualValues(t, 2, wr.attempts.Load())

	n = wr.notifier(t, wr.URL, fleetkit.WebhookOptions{Timeout: 50 * time.Millisecond, MaxAttempts: 1})
	wr.attempts.Store(0)
	err := n.Notify(t.Context(), testEvent(2))
	require.ErrorContains(t, err, "after 1 attempt: no response within 50ms")
}

func TestWebhookNotifier_ContextCanceled(t *testing.T) {
	t.Parallel()

	t.Run("BetweenAttempts", func(t *testing.T) {
		t.Parallel()
		firstAttempt := make(chan struct{})
		var once sync.Once
		wr := newWebhookReceiver(t, func(int, *http.Request) int {
			once.Do(func() { close(firstAttempt) })
			return http.StatusServiceUnavailable
		})
		n := wr.notifier(t, wr.URL, fleetkit.WebhookOptions{InitialBackoff: time.Hour, MaxBackoff: time.Hour})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- n.Notify(ctx, testEvent(1)) }()
		<-firstAttempt
		cancel()
		select {
		case err := <-done:
			require.ErrorIs(t, err, context.Canceled)
			require.ErrorContains(t, err, "after 1 attempt")
		case <-time.After(10 * time.Second):
			t.Fatal("Notify did not return after ctx was canceled")
		}
		require.EqualValues(t, 1, wr.attempts.Load())
	})

	t.Run("DuringAttempt", func(t *testing.T) {
		t.Parallel()
		wr := newWebhookReceiver(t, func(_ int, r *http.Request) int {
			<-r.Context().Done()
			return http.StatusOK
		})
		n := wr.notifier(t, wr.URL, fleetkit.WebhookOptions{})
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		err := n.Notify(ctx, testEvent(1))
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.EqualValues(t, 1, wr.attempts.Load(), "no retry once ctx has ended")
	})

	t.Run("Before", func(t *testing.T) {
		t.Parallel()
		wr := newWebhookReceiver(t, nil)
		n := wr.notifier(t, wr.URL, fleetkit.WebhookOptions{})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := n.Notify(ctx, testEvent(1))
		require.ErrorIs(t, err, context.Canceled)
		require.ErrorContains(t, err, "after 0 attempts")
		require.Zero(t, wr.attempts.Load())
	})
}

func TestNewWebhookNotifier_Rejects(t *testing.T) {
	t.Parallel()
	secret := []byte(testWebhookSecret)
	for _, tc := range []struct {
		name, url, wantMsg string
	}{
		{"empty", "", `scheme "" not supported`},
		{"relative", "/hooks/fleet", `scheme "" not supported`},
		{"ftp", "ftp://hooks.example.com/x", `scheme "ftp" not supported`},
		{"no host", "https:///hooks", "no host"},
		{"port only", "https://:8443/hooks", "no host"},
		{"opaque", "https:hooks.example.com", "no host"},
		{"unparsable with password", "https://user:hunter2@hooks example.com/", "invalid character"},
		{"bad port with password", "https://user:hunter2@hooks.example.com:port/", "invalid port"},
		{"bad scheme with token", "gopher://user:hunter2@hooks.example.com/?token=hunter2", `webhook URL gopher://xxxxx@hooks.example.com/?xxxxx: scheme "gopher"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n, err := fleetkit.NewWebhookNotifier(tc.url, secret, nil)
			require.Nil(t, n)
			require.ErrorContains(t, err, tc.wantMsg)
			require.NotContains(t, err.Error(), "hunter2")
		})
	}

	t.Run("empty secret", func(t *testing.T) {
		t.Parallel()
		_, err := fleetkit.NewWebhookNotifier("https://hooks.example.com/", nil, nil)
		require.ErrorContains(t, err, "empty secret")
	})
	for _, opts := range []fleetkit.WebhookOptions{
		{Timeout: -1}, {MaxAttempts: -1}, {InitialBackoff: -1}, {MaxBackoff: -1},
	} {
		t.Run(fmt.Sprintf("options %+v", opts), func(t *testing.T) {
			t.Parallel()
			_, err := fleetkit.NewWebhookNotifier("https://hooks.example.com/", secret, &opts)
			require.ErrorContains(t, err, "webhook options: negative")
		})
	}
}

func TestWebhookNotifier_String(t *testing.T) {
	t.Parallel()
	n, err := fleetkit.NewWebhookNotifier("https://bot:hunter2@hooks.example.com/fleet?token=abc#frag", []byte(testWebhookSecret), nil)
	require.NoError(t, err)
	require.Equal(t, "webhook https://xxxxx@hooks.example.com/fleet?xxxxx", n.String())
	require.Equal(t, n.String(), fmt.Sprint(n))
	require.NotContains(t, fmt.Sprintf("%v %+v", n, n), testWebhookSecret)
}

func TestVerifyWebhookSignature(t *testing.T) {
	t.Parallel()
	secret := []byte(testWebhookSecret)
	body := []byte(`{"kind":"batch.accepted"}`)
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	sum := hex.EncodeToString(mac.Sum(nil))

	for _, tc := range []struct {
		name   string
		secret []byte
		body   []byte
		header string
		want   bool
	}{
		{"valid", secret, body, "sha256=" + sum, true},
		{"upper-case hex", secret, body, "sha256=" + strings.ToUpper(sum), true},
		{"wrong secret", []byte("other"), body, "sha256=" + sum, false},
		{"tampered body", secret, []byte(`{"kind":"batch.rejected"}`), "sha256=" + sum, false},
		{"missing prefix", secret, body, sum, false},
		{"other algorithm", secret, body, "sha1=" + sum, false},
		{"truncated", secret, body, "sha256=" + sum[:32], false},
		{"not hex", secret, body, "sha256=" + strings.Repeat("zz", 32), false},
		{"empty header", secret, body, "", false},
		{"empty secret", nil, body, "sha256=" + sum, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, fleetkit.VerifyWebhookSignature(tc.secret, tc.body, tc.header))
		})
	}
}
