package fleetkit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/fleetkit/fleetkit"
)

func ExampleNormalizeHostname() {
	for _, in := range []string{"Node7.Rack3.Example.COM.", "1u-storage", "node_7", "-node7"} {
		h, err := fleetkit.NormalizeHostname(in)
		if err != nil {
			fmt.Println(errors.Is(err, fleetkit.ErrInvalidHostname), err)
			continue
		}
		fmt.Println(h)
	}
	// Output:
	// node7.rack3.example.com
	// 1u-storage
	// true invalid hostname "node_7": character '_' not allowed (letters, digits, hyphens and dots only)
	// true invalid hostname "-node7": label "-node7" starts or ends with a hyphen
}

func ExampleRecorder() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var r fleetkit.Recorder

	// The code under test notifies from another goroutine.
	go func() {
		_ = r.Notify(ctx, fleetkit.Event{Kind: "batch.accepted", Subject: "b-1"})
		_ = r.Notify(ctx, fleetkit.Event{Kind: "host.failed", Subject: "node7"})
		_ = r.Notify(ctx, fleetkit.Event{Kind: "batch.done", Subject: "b-1"})
	}()

	// WaitFor blocks until the event arrives or ctx ends.
	if _, err := r.WaitFor(ctx, "batch.done", 1); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Kinds())
	// Output: [batch.accepted host.failed batch.done]
}

func ExampleFanOut() {
	var audit fleetkit.Recorder
	chat := fleetkit.NotifierFunc(func(context.Context, fleetkit.Event) error {
		return errors.New("chat is down")
	})
	n := fleetkit.NewFanOut(&audit, chat)

	err := n.Notify(context.Background(), fleetkit.Event{Kind: "host.failed", Subject: "node7"})
	fmt.Println(err)
	fmt.Println(audit.Kinds())
	// Output:
	// notifier 1: chat is down
	// [host.failed]
}

func ExampleVerifyWebhookSignature() {
	secret := []byte("shared-secret")

	// The receiving end: verify the raw body before trusting it.
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil || !fleetkit.VerifyWebhookSignature(secret, body, r.Header.Get(fleetkit.WebhookSignatureHeader)) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var e fleetkit.Event
		if err := json.Unmarshal(body, &e); err != nil {
			http.Error(w, "bad event", http.StatusBadRequest)
			return
		}
		fmt.Printf("received %s for %s, owner %s\n", e.Kind, e.Subject, e.Attrs["owner"])
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()

	// The sending end.
	n, err := fleetkit.NewWebhookNotifier(receiver.URL+"/hooks/fleet", secret, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	err = n.Notify(context.Background(), fleetkit.Event{
		Kind:    "batch.accepted",
		Subject: "b-1",
		Attrs:   map[string]string{"owner": "ops"},
	})
	fmt.Println("delivered:", err == nil)
	// Output:
	// received batch.accepted for b-1, owner ops
	// delivered: true
}

func ExampleNewLogNotifier() {
	// A handler without the record time, so the output is stable.
	h := slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	})
	n := fleetkit.NewLogNotifier(slog.New(h), &fleetkit.LogNotifierOptions{Level: slog.LevelWarn})

	_ = n.Notify(context.Background(), fleetkit.Event{
		Kind:    "host.failed",
		Subject: "node7",
		Time:    time.Date(2025, 11, 25, 16, 0, 0, 0, time.UTC),
		Attrs:   map[string]string{"reason": "disk wipe timed out", "batch": "b-1"},
	})
	// Output:
	// level=WARN msg="fleetkit event" kind=host.failed subject=node7 event_time=2025-11-25T16:00:00.000Z attrs.batch=b-1 attrs.reason="disk wipe timed out"
}
