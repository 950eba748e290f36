-- 0003_queue: the job queue (lifecycle.QueueStore).
--
-- A batch's queue_at places its jobs in the queue (lifecycle.Batch.QueueAt);
-- each job copies it, so that the pending jobs can be read in queue order
-- from one index. A running job claimed by a worker holds a lease: its
-- fencing token, the worker's name and the lease's expiry; every other job
-- has lease_token NULL. retry_at is when a pending job given back for a
-- retry may be claimed again (NULL: at once).

ALTER TABLE batches ADD COLUMN queue_at INTEGER;
UPDATE batches SET queue_at = created_at;

ALTER TABLE jobs ADD COLUMN queue_at INTEGER;
ALTER TABLE jobs ADD COLUMN lease_token INTEGER;
ALTER TABLE jobs ADD COLUMN worker TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN lease_expires INTEGER;
ALTER TABLE jobs ADD COLUMN retry_at INTEGER;
UPDATE jobs SET queue_at = (SELECT queue_at FROM batches WHERE batches.id = jobs.batch_id);

-- The queue: pending jobs in claim order.
CREATE INDEX jobs_queue ON jobs (queue_at, batch_id, position) WHERE state = 'pending';
-- Running jobs: their leases' expiry (rescue), and their count by
-- datacenter and action (concurrency caps), from the index alone.
CREATE INDEX jobs_running ON jobs (lease_expires, datacenter, action) WHERE state = 'running';

-- queue_tokens holds the last fencing token issued, so that tokens grow
-- across every process sharing the database.
CREATE TABLE queue_tokens (
    id   INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    last INTEGER NOT NULL
);
INSERT INTO queue_tokens (id, last) VALUES (1, 0);

-- job_steps records the steps of each job's attempts, in order (seq).
CREATE TABLE job_steps (
    batch_id    TEXT    NOT NULL,
    host        TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    attempt     INTEGER NOT NULL,
    started_at  INTEGER,
    finished_at INTEGER,
    outcome     TEXT    NOT NULL,
    error       TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (batch_id, host, seq)
) WITHOUT ROWID;
