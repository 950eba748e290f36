-- fleetkit pgstore schema, version 1.
--
-- Identifiers and hostnames use the "C" collation so that the database
-- orders them byte-wise, as Go does: batch IDs sort by creation time and
-- listings page by (batch_id, host) whatever the database's locale.
--
-- The state names are those of the lifecycle package (lifecycle.HostState,
-- lifecycle.BatchState, lifecycle.JobState); the store decides transitions
-- in Go and only records them here.

-- hosts: one row per host fleetkit has seen. A host without a row is ready.
-- batch_id names the batch holding a claimed or in-progress host; admission
-- claims hosts with row locks on this table only.
CREATE TABLE hosts (
    name       text COLLATE "C" PRIMARY KEY,
    state      text NOT NULL,
    reason     text NOT NULL DEFAULT '',
    batch_id   text COLLATE "C",
    updated_at timestamptz
);

-- batches: one row per admitted batch, with its job counts by state.
CREATE TABLE batches (
    id           text COLLATE "C" PRIMARY KEY,
    owner        text NOT NULL,
    action       text NOT NULL,
    hosts        text[] NOT NULL,
    snapshot     text NOT NULL DEFAULT '',
    params       jsonb,
    priority     integer NOT NULL,
    state        text NOT NULL,
    n_pending    integer NOT NULL,
    n_running    integer NOT NULL,
    n_succeeded  integer NOT NULL,
    n_failed     integer NOT NULL,
    n_cancelled  integer NOT NULL,
    cancelled_at timestamptz,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    finished_at  timestamptz
);

-- An owner's batches, newest first.
CREATE INDEX batches_owner_id ON batches (owner, id);

-- jobs: one row per host of a batch; position keeps submission order.
-- batch_id is deliberately not a foreign key: jobs are written only by
-- admit_batch, in the statement that writes their batch, and the per-row
-- check would cost some 15% of an admission.
CREATE TABLE jobs (
    batch_id         text COLLATE "C" NOT NULL,
    host             text COLLATE "C" NOT NULL,
    position         integer NOT NULL,
    action           text NOT NULL,
    priority         integer NOT NULL,
    datacenter       text NOT NULL DEFAULT '',
    sku              text NOT NULL DEFAULT '',
    state            text NOT NULL,
    attempts         integer NOT NULL DEFAULT 0,
    cancel_requested boolean NOT NULL DEFAULT false,
    error            text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL,
    started_at       timestamptz,
    finished_at      timestamptz,
    updated_at       timestamptz NOT NULL,
    PRIMARY KEY (batch_id, host)
);

-- A host's history (BatchFilter.Host, JobFilter.Host).
CREATE INDEX jobs_host_batch ON jobs (host, batch_id);

-- Unfinished jobs, for ActiveCounts: small, whatever the history's size.
-- The predicate names lifecycle.JobPending and lifecycle.JobRunning.
CREATE INDEX jobs_unfinished ON jobs (datacenter, action, state)
    WHERE state IN ('pending', 'running');

-- leases: store.Locker. A row outlives its lease so that the fencing token
-- keeps increasing; a released or lapsed lease is one whose expires has
-- passed.
CREATE TABLE leases (
    name    text PRIMARY KEY,
    holder  text NOT NULL,
    token   bigint NOT NULL,
    expires timestamptz NOT NULL
);

-- admit_batch admits a batch in one statement, so that an admission costs
-- one round trip and one commit. It claims every host of the batch with one
-- INSERT ... ON CONFLICT DO UPDATE ... WHERE the host is admissible: row
-- locks serialise competing claims on the same host only, and p_sorted is
-- in name order so that competing admissions lock shared hosts in one order
-- and cannot deadlock. When every host is claimed it records the batch and
-- its jobs and returns no row.
--
-- When some host is not claimed, it reads the hosts that refused the batch
-- (ON CONFLICT DO UPDATE locks even the rows it does not update, so these
-- are exactly the refusing rows), undoes everything by raising an exception
-- caught in this function (a subtransaction), and returns those hosts; a
-- single row with a NULL name means that no host explained the refusal.
--
-- The states are passed in from the lifecycle package's constants: the
-- state machine is decided in Go.
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
    p_job_state   text         -- state of a new job
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
            n_pending, n_running, n_succeeded, n_failed, n_cancelled, created_at, updated_at)
        VALUES (p_id, p_owner, p_action, p_hosts, p_snapshot, p_params, p_priority, p_batch_state,
            cardinality(p_hosts), 0, 0, 0, 0, p_at, p_at);

        INSERT INTO jobs (batch_id, host, position, action, priority, datacenter, sku, state,
            created_at, updated_at)
        SELECT p_id, j.host, j.position, p_action, p_priority, j.datacenter, j.sku, p_job_state,
            p_at, p_at
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
