package pgstore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/fleetkit/fleetkit/lifecycle"
)

// utcTime scans a nullable timestamptz into a time.Time: UTC, and zero for
// NULL (or an infinity).
type utcTime time.Time

// ScanTimestamptz implements pgtype.TimestamptzScanner.
func (t *utcTime) ScanTimestamptz(v pgtype.Timestamptz) error {
	if !v.Valid || v.InfinityModifier != pgtype.Finite {
		*t = utcTime{}
		return nil
	}
	*t = utcTime(v.Time.UTC())
	return nil
}

// scanBatch reads the batchColumns of one row.
func scanBatch(row pgx.Row) (*lifecycle.Batch, error) {
	var b lifecycle.Batch
	var params []byte
	err := row.Scan(&b.ID, &b.Owner, &b.Action, &b.Hosts, &b.Snapshot, &params, &b.Priority, &b.State,
		&b.Counts.Pending, &b.Counts.Running, &b.Counts.Succeeded, &b.Counts.Failed, &b.Counts.Cancelled,
		(*utcTime)(&b.CancelledAt), (*utcTime)(&b.CreatedAt), (*utcTime)(&b.UpdatedAt), (*utcTime)(&b.FinishedAt),
		(*utcTime)(&b.QueueAt))
	if err != nil {
		return nil, err
	}
	if b.QueueAt.IsZero() {
		b.QueueAt = b.CreatedAt
	}
	if params != nil {
		if err := json.Unmarshal(params, &b.Params); err != nil {
			return nil, fmt.Errorf("batch %s: decode params: %w", b.ID, err)
		}
	}
	return &b, nil
}

// scanJob reads the jobColumns of one row.
func scanJob(row pgx.Row) (lifecycle.Job, error) {
	var j lifecycle.Job
	err := row.Scan(&j.BatchID, &j.Host, &j.Action, &j.Priority, &j.Datacenter, &j.SKU, &j.State, &j.Attempts,
		&j.CancelRequested, &j.Error, (*utcTime)(&j.CreatedAt), (*utcTime)(&j.StartedAt),
		(*utcTime)(&j.FinishedAt), (*utcTime)(&j.UpdatedAt))
	return j, err
}

// scanHost reads the hostColumns of one row.
func scanHost(row pgx.Row) (lifecycle.Host, error) {
	var h lifecycle.Host
	err := row.Scan(&h.Name, &h.State, &h.Reason, &h.BatchID, (*utcTime)(&h.UpdatedAt))
	return h, err
}

// collect reads every row with scan.
func collect[T any](rows pgx.Rows, scan func(pgx.Row) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// encodeParams is a batch's Params as a jsonb parameter: NULL for a nil
// map, so that nil and empty maps both read back as they were written.
func encodeParams(p map[string]string) (any, error) {
	if p == nil {
		return nil, nil
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// leasedJob is a job with its lease (see queue.go).
type leasedJob struct {
	lifecycle.Job
	token   pgtype.Int8 // NULL: no lease
	worker  string
	expires time.Time
}

// scanLeasedJob reads the leasedJobColumns of one row.
func scanLeasedJob(row pgx.Row) (leasedJob, error) {
	var j leasedJob
	err := row.Scan(&j.BatchID, &j.Host, &j.Action, &j.Priority, &j.Datacenter, &j.SKU, &j.State, &j.Attempts,
		&j.CancelRequested, &j.Error, (*utcTime)(&j.CreatedAt), (*utcTime)(&j.StartedAt),
		(*utcTime)(&j.FinishedAt), (*utcTime)(&j.UpdatedAt), &j.token, &j.worker, (*utcTime)(&j.expires))
	return j, err
}

// holds reports whether the job is running under lease token.
func (j *leasedJob) holds(token int64) bool {
	return j.State == lifecycle.JobRunning && j.token.Valid && j.token.Int64 == token
}
