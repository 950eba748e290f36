-- fleetkit pgstore schema, version 3: the job queue (lifecycle.QueueStore).
--
-- A batch's queue_at places its jobs in the queue (lifecycle.Batch.QueueAt);
-- each job copies it, so that the pending jobs are read in queue order from
-- one index. A running job claimed by a worker holds a lease: its fencing
-- token (from the sequence job_lease_tokens, so tokens grow across every
-- node), the worker's name and the lease's expiry; every other job has
-- lease_token NULL. retry_at is when a pending job given back for a retry
-- may be claimed again (NULL: at once).

ALTER TABLE batches ADD COLUMN queue_at timestamptz;
UPDATE batches SET queue_at = created_at;
ALTER TABLE batches ALTER COLUMN queue_at SET NOT NULL;

ALTER TABLE jobs
    ADD COLUMN queue_at      timestamptz,
    ADD COLUMN lease_token   bigint,
    ADD COLUMN worker        text NOT NULL DEFAULT '',
    ADD COLUMN lease_expires timestamptz,
    ADD COLUMN retry_at      timestamptz;
UPDATE jobs AS j SET queue_at = b.queue_at FROM batches AS b WHERE b.id = j.batch_id;
ALTER TABLE jobs ALTER COLUMN queue_at SET NOT NULL;

-- The queue: pending jobs in claim order. The literal is lifecycle.JobPending.
CREATE INDEX jobs_queue ON jobs (queue_at, batch_id, position) WHERE state = 'pending';
-- Running jobs by lease expiry, for rescue. The literal is lifecycle.JobRunning.
CREATE INDEX jobs_leases ON jobs (lease_expires) WHERE state = 'running';

CREATE SEQUENCE job_lease_tokens AS bigint;

-- job_steps: the steps of each job's attempts, in order (seq).
CREATE TABLE job_steps (
    batch_id    text COLLATE "C" NOT NULL,
    host        text COLLATE "C" NOT NULL,
    seq         bigint GENERATED ALWAYS AS IDENTITY,
    name        text NOT NULL,
    attempt     integer NOT NULL,
    started_at  timestamptz,
    finished_at timestamptz,
    outcome     text NOT NULL,
    error       text NOT NULL DEFAULT '',
    PRIMARY KEY (batch_id, host, seq)
);

-- admit_batch as in version 1, with the batch's queue time (p_queue_at),
-- recorded on the batch and copied to its jobs.
DROP FUNCTION admit_batch(text, text, text, text[], text[], text[], text[], text, jsonb, integer,
    timestamptz, text[], text, text, text);

CREATE FUNCTION admit_batch(
    p_id          text,
    p_owner       text,
    p_action      text,
    p_hosts       text[],      -- submission order
    p_sorted      text[],      -- the same hosts in name order
    p_datacenters text[],      -- per host, in submission order
    p_skus        text[],      -- per host, in submission order
    p_snapshot    text,
    p_params      jsonb,
    p_priority    integer,
    p_at          timestamptz,
    p_admissible  text[],      -- host states a batch may claim
    p_claimed     text,        -- host state of a claimed host
    p_batch_state text,        -- state of a new batch
    p_job_state   text,        -- state of a new job
    p_queue_at    timestamptz  -- the batch's place in the queue
) RETURNS TABLE (name text, state text, reason text, batch_id text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    n         integer;
    r_name    text[];
    r_state   text[];
    r_reason  text[];
    r_batch   text[];
BEGIN
    BEGIN
        WITH claimed AS (
            INSERT INTO hosts AS h (name, state, reason, batch_id, updated_at)
            SELECT x, p_claimed, '', p_id, p_at FROM unnest(p_sorted) AS x
            ON CONFLICT ON CONSTRAINT hosts_pkey DO UPDATE
                SET state = excluded.state, reason = '', batch_id = excluded.batch_id,
                    updated_at = excluded.updated_at
                WHERE h.state = ANY (p_admissible)
            RETURNING 1
        )
        SELECT count(*) INTO n FROM claimed;

        IF n < cardinality(p_sorted) THEN
            SELECT array_agg(h.name ORDER BY h.name), array_agg(h.state ORDER BY h.name),
                   array_agg(h.reason ORDER BY h.name), array_agg(coalesce(h.batch_id, '') ORDER BY h.name)
              INTO r_name, r_state, r_reason, r_batch
              FROM hosts AS h
             WHERE h.name = ANY (p_sorted) AND h.batch_id IS DISTINCT FROM p_id;
            RAISE EXCEPTION USING ERRCODE = 'FKRFS', MESSAGE = 'admission refused';
        END IF;

        INSERT INTO batches (id, owner, action, hosts, snapshot, params, priority, state,
            n_pending, n_running, n_succeeded, n_failed, n_cancelled, created_at, updated_at, queue_at)
        VALUES (p_id, p_owner, p_action, p_hosts, p_snapshot, p_params, p_priority, p_batch_state,
            cardinality(p_hosts), 0, 0, 0, 0, p_at, p_at, p_queue_at);

        INSERT INTO jobs (batch_id, host, position, action, priority, datacenter, sku, state,
            created_at, updated_at, queue_at)
        SELECT p_id, j.host, j.position, p_action, p_priority, j.datacenter, j.sku, p_job_state,
            p_at, p_at, p_queue_at
        FROM unnest(p_hosts, p_datacenters, p_skus) WITH ORDINALITY AS j(host, datacenter, sku, position);
    EXCEPTION WHEN SQLSTATE 'FKRFS' THEN
        IF r_name IS NULL THEN
            RETURN QUERY SELECT NULL::text, NULL::text, NULL::text, NULL::text;
        ELSE
            RETURN QUERY SELECT * FROM unnest(r_name, r_state, r_reason, r_batch);
        END IF;
    END;
END
$$;
