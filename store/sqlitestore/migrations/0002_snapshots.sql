-- 0002_snapshots: the snapshot catalogue (snapshot.Store).
--
-- Times are INTEGER microseconds since the Unix epoch, UTC; NULL is the zero
-- time. The state names are those of package snapshot; the store decides
-- transitions in Go and only records them here.

-- snapshots holds one row per snapshot, never deleted (a purged snapshot
-- keeps its record and manifest for audit). manifest is the canonical
-- encoding, NULL until sealed; seal_key_id and seal_mac its seal. A rowid
-- table, unlike the others: a manifest runs to megabytes, and in a WITHOUT
-- ROWID table every key lookup (the foreign keys of the tables below
-- included) would read the whole row.
CREATE TABLE snapshots (
    id          TEXT    NOT NULL PRIMARY KEY,
    os_release  TEXT    NOT NULL,
    parent      TEXT    NOT NULL DEFAULT '',
    state       TEXT    NOT NULL,
    pinned      INTEGER NOT NULL DEFAULT 0,
    manifest    BLOB,
    seal_key_id TEXT    NOT NULL DEFAULT '',
    seal_mac    BLOB,
    total_bytes INTEGER NOT NULL DEFAULT 0,
    created_by  TEXT    NOT NULL,
    created_at  INTEGER,
    sealed_at   INTEGER,
    released_at INTEGER,
    state_at    INTEGER,
    updated_at  INTEGER
);

CREATE INDEX snapshots_state ON snapshots (state, id);
CREATE INDEX snapshots_os_release ON snapshots (os_release, id);

-- A sealed manifest and its seal never change, whatever writes the table.
CREATE TRIGGER snapshots_sealed_immutable
BEFORE UPDATE OF manifest, seal_key_id, seal_mac ON snapshots
WHEN OLD.manifest IS NOT NULL AND (NEW.manifest IS NOT OLD.manifest
    OR NEW.seal_key_id IS NOT OLD.seal_key_id OR NEW.seal_mac IS NOT OLD.seal_mac)
BEGIN
    SELECT RAISE(ABORT, 'sealed snapshot is immutable');
END;

-- snapshot_events is each snapshot's history, in order of seq.
CREATE TABLE snapshot_events (
    snapshot_id TEXT    NOT NULL REFERENCES snapshots (id),
    seq         INTEGER NOT NULL,
    at          INTEGER,
    by_whom     TEXT    NOT NULL,
    from_state  TEXT    NOT NULL,
    to_state    TEXT    NOT NULL,
    pinned      INTEGER NOT NULL,
    reason      TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (snapshot_id, seq)
) WITHOUT ROWID;

-- snapshot_blobs lists the distinct blobs (32-byte SHA-256 digests) each
-- sealed manifest references, for mark-and-sweep.
CREATE TABLE snapshot_blobs (
    snapshot_id TEXT    NOT NULL REFERENCES snapshots (id),
    digest      BLOB    NOT NULL,
    size        INTEGER NOT NULL,
    PRIMARY KEY (snapshot_id, digest)
) WITHOUT ROWID;
