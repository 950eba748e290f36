package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/store"
)

// api serves lifecycle.Service over HTTP as JSON.
type api struct {
	svc   *lifecycle.Service
	q     lifecycle.QueueStore
	token string // bearer token required by /v1; empty: none
	log   *slog.Logger
}

// maxBody bounds a request body: a batch of 10,000 long hostnames fits.
const maxBody = 4 << 20

func (a *api) routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/batches", a.auth(a.submit))
	mux.HandleFunc("GET /v1/batches", a.auth(a.listBatches))
	mux.HandleFunc("GET /v1/batches/{id}", a.auth(a.batch))
	mux.HandleFunc("POST /v1/batches/{id}/cancel", a.auth(a.cancel))
	mux.HandleFunc("GET /v1/batches/{id}/jobs/{host}/steps", a.auth(a.steps))
	mux.HandleFunc("GET /v1/hosts/{name}", a.auth(a.host))
	mux.HandleFunc("PUT /v1/hosts/{name}/state", a.auth(a.setHost))
	mux.HandleFunc("GET /v1/datacenters", a.auth(a.datacenters))
	mux.HandleFunc("GET /v1/stats", a.auth(a.stats))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
}

// auth requires the bearer token, compared in constant time.
func (a *api) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.token != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(a.token)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="fleetd"`)
				writeError(w, http.StatusUnauthorized, errors.New("missing or wrong bearer token"))
				return
			}
		}
		h(w, r)
	}
}

// errorBody is every error's JSON.
type errorBody struct {
	Error string `json:"error"`
	// Conflicts lists overlapping hosts (409).
	Conflicts []lifecycle.Conflict `json:"conflicts,omitempty"`
	// Problems lists hosts refused and why (409, 422).
	Problems []lifecycle.HostProblem `json:"problems,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, errorBody{Error: err.Error()})
}

// fail answers err with the status its kind calls for.
func (a *api) fail(w http.ResponseWriter, r *http.Request, err error) {
	body := errorBody{Error: err.Error()}
	var overlap *lifecycle.OverlapError
	if errors.As(err, &overlap) {
		body.Conflicts = overlap.Conflicts
	}
	var he *lifecycle.HostsError
	if errors.As(err, &he) {
		body.Problems = he.Problems
	}
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, store.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, lifecycle.ErrInvalidBatch), errors.Is(err, store.ErrInvalid):
		status = http.StatusUnprocessableEntity
	case errors.Is(err, lifecycle.ErrOverlap), errors.Is(err, lifecycle.ErrInUse), errors.Is(err, lifecycle.ErrHostUnavailable),
		errors.Is(err, lifecycle.ErrConsoleCheck), errors.Is(err, lifecycle.ErrInvalidTransition):
		status = http.StatusConflict
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		status = http.StatusServiceUnavailable
	}
	if status == http.StatusInternalServerError {
		a.log.ErrorContext(r.Context(), "fleetd: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, status, body)
}

// decode reads a JSON body into v, refusing unknown fields and trailing
// data.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: request body: %v", store.ErrInvalid, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: request body: data after the JSON object", store.ErrInvalid)
	}
	return nil
}

// submitRequest is POST /v1/batches's body.
type submitRequest struct {
	Owner              string            `json:"owner"`
	Action             string            `json:"action"`
	Hosts              []string          `json:"hosts"`
	Snapshot           string            `json:"snapshot,omitempty"`
	Params             map[string]string `json:"params,omitempty"`
	Priority           *int              `json:"priority,omitempty"`
	CheckConsoles      bool              `json:"check_consoles,omitempty"`
	SkipFailedConsoles bool              `json:"skip_failed_consoles,omitempty"`
}

func (a *api) submit(w http.ResponseWriter, r *http.Request) {
	var req submitRequest
	if err := decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	res, err := a.svc.Submit(r.Context(), lifecycle.SubmitParams{
		Owner: req.Owner, Action: lifecycle.Action(req.Action), Hosts: req.Hosts, Snapshot: req.Snapshot,
		Params: req.Params, Priority: req.Priority, CheckConsoles: req.CheckConsoles, SkipFailedConsoles: req.SkipFailedConsoles,
	})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/batches/"+res.Batch.ID)
	writeJSON(w, http.StatusCreated, res)
}

func (a *api) listBatches(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := lifecycle.BatchFilter{Owner: q.Get("owner"), Host: q.Get("host"), Action: lifecycle.Action(q.Get("action")), Cursor: q.Get("cursor")}
	for _, s := range q["state"] {
		f.States = append(f.States, lifecycle.BatchState(s))
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			a.fail(w, r, fmt.Errorf("%w: limit %q is not a positive number", store.ErrInvalid, v))
			return
		}
		f.Limit = n
	}
	page, err := a.svc.ListBatches(r.Context(), f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func (a *api) batch(w http.ResponseWriter, r *http.Request) {
	b, err := a.svc.Batch(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, b)
}

func (a *api) cancel(w http.ResponseWriter, r *http.Request) {
	b, err := a.svc.Cancel(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, b)
}

func (a *api) steps(w http.ResponseWriter, r *http.Request) {
	steps, err := a.q.JobSteps(r.Context(), r.PathValue("id"), r.PathValue("host"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"steps": steps})
}

func (a *api) host(w http.ResponseWriter, r *http.Request) {
	h, err := a.svc.Host(r.Context(), r.PathValue("name"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h)
}

// hostStateRequest is PUT /v1/hosts/{name}/state's body.
type hostStateRequest struct {
	State  string `json:"state"`
	Reason string `json:"reason"`
}

func (a *api) setHost(w http.ResponseWriter, r *http.Request) {
	var req hostStateRequest
	if err := decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	h, err := a.svc.SetHostState(r.Context(), lifecycle.HostTransition{Host: r.PathValue("name"),
		To: lifecycle.HostState(req.State), Reason: req.Reason})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h)
}

func (a *api) datacenters(w http.ResponseWriter, r *http.Request) {
	loads, err := a.svc.ActiveByDatacenter(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"datacenters": loads})
}

func (a *api) stats(w http.ResponseWriter, r *http.Request) {
	p := lifecycle.StatsParams{Action: lifecycle.Action(r.URL.Query().Get("action"))}
	if v := r.URL.Query().Get("since"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			a.fail(w, r, fmt.Errorf("%w: since %q is not a positive duration (e.g. 24h)", store.ErrInvalid, v))
			return
		}
		p.Since = time.Now().Add(-d)
	}
	actions, err := a.svc.Stats(r.Context(), p)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	steps, err := a.svc.StepStats(r.Context(), p)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"actions": actions, "steps": steps})
}
