-- 0001_init: batches, their jobs, host states and leases.
--
-- Times are INTEGER microseconds since the Unix epoch, UTC; NULL is the zero
-- time. Hosts and params are JSON text; NULL is a nil slice or map.

-- hosts records every host fleetkit has seen. A host that has no row is
-- ready. batch_id is the batch holding a claimed or in-progress host, ''
-- otherwise.
CREATE TABLE hosts (
    name       TEXT    NOT NULL PRIMARY KEY,
    state      TEXT    NOT NULL,
    reason     TEXT    NOT NULL DEFAULT '',
    batch_id   TEXT    NOT NULL DEFAULT '',
    updated_at INTEGER
) WITHOUT ROWID;

-- batches holds one row per admitted batch. The job counts are kept in step
-- with the jobs by the same transactions that change the jobs.
CREATE TABLE batches (
    id           TEXT    NOT NULL PRIMARY KEY,
    owner        TEXT    NOT NULL,
    action       TEXT    NOT NULL,
    hosts        TEXT,
    snapshot     TEXT    NOT NULL DEFAULT '',
    params       TEXT,
    priority     INTEGER NOT NULL,
    state        TEXT    NOT NULL,
    pending      INTEGER NOT NULL DEFAULT 0,
    running      INTEGER NOT NULL DEFAULT 0,
    succeeded    INTEGER NOT NULL DEFAULT 0,
    failed       INTEGER NOT NULL DEFAULT 0,
    cancelled    INTEGER NOT NULL DEFAULT 0,
    cancelled_at INTEGER,
    created_at   INTEGER,
    updated_at   INTEGER,
    finished_at  INTEGER
);

CREATE INDEX batches_owner ON batches (owner, id);
CREATE INDEX batches_state ON batches (state);

-- jobs holds one row per host of a batch; position is the host's index in
-- the batch, so a batch's jobs come back in submission order.
CREATE TABLE jobs (
    batch_id         TEXT    NOT NULL REFERENCES batches (id),
    host             TEXT    NOT NULL,
    position         INTEGER NOT NULL,
    action           TEXT    NOT NULL,
    priority         INTEGER NOT NULL,
    datacenter       TEXT    NOT NULL DEFAULT '',
    sku              TEXT    NOT NULL DEFAULT '',
    state            TEXT    NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    error            TEXT    NOT NULL DEFAULT '',
    created_at       INTEGER,
    started_at       INTEGER,
    finished_at      INTEGER,
    updated_at       INTEGER,
    PRIMARY KEY (batch_id, host)
) WITHOUT ROWID;

-- A host's history (ListBatches by host, ListJobs by host).
CREATE INDEX jobs_host ON jobs (host, batch_id);
-- Statistics over ended jobs; unfinished jobs are not in the index.
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;

-- leases holds one row per lock name, never deleted, so that the fencing
-- token keeps increasing across releases. A released or never-held lease has
-- holder '' and expires NULL.
CREATE TABLE leases (
    name    TEXT    NOT NULL PRIMARY KEY,
    holder  TEXT    NOT NULL DEFAULT '',
    token   INTEGER NOT NULL,
    expires INTEGER
) WITHOUT ROWID;
