-- fleetkit pgstore schema, version 2: the snapshot catalogue
-- (snapshot.Store).
--
-- The state names are those of package snapshot; the store decides
-- transitions in Go and only records them here.

-- snapshots: one row per snapshot, never deleted (a purged snapshot keeps
-- its record and manifest for audit). manifest is the canonical encoding,
-- NULL until sealed; seal_key_id and seal_mac its seal.
CREATE TABLE snapshots (
    id          text COLLATE "C" PRIMARY KEY,
    os_release  text NOT NULL,
    parent      text NOT NULL DEFAULT '',
    state       text NOT NULL,
    pinned      boolean NOT NULL DEFAULT false,
    manifest    bytea,
    seal_key_id text NOT NULL DEFAULT '',
    seal_mac    bytea,
    total_bytes bigint NOT NULL DEFAULT 0,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL,
    sealed_at   timestamptz,
    released_at timestamptz,
    state_at    timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE INDEX snapshots_state ON snapshots (state, id);
CREATE INDEX snapshots_os_release ON snapshots (os_release, id);

-- A sealed manifest and its seal never change, whatever writes the table.
CREATE FUNCTION snapshots_sealed_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.manifest IS NOT NULL AND (NEW.manifest IS DISTINCT FROM OLD.manifest
        OR NEW.seal_key_id IS DISTINCT FROM OLD.seal_key_id
        OR NEW.seal_mac IS DISTINCT FROM OLD.seal_mac) THEN
        RAISE EXCEPTION 'sealed snapshot % is immutable', OLD.id;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER snapshots_sealed_immutable BEFORE UPDATE ON snapshots
FOR EACH ROW EXECUTE FUNCTION snapshots_sealed_immutable();

-- snapshot_events: each snapshot's history, in order of seq.
CREATE TABLE snapshot_events (
    snapshot_id text COLLATE "C" NOT NULL REFERENCES snapshots (id),
    seq         integer NOT NULL,
    at          timestamptz NOT NULL,
    by_whom     text NOT NULL,
    from_state  text NOT NULL,
    to_state    text NOT NULL,
    pinned      boolean NOT NULL,
    reason      text NOT NULL DEFAULT '',
    PRIMARY KEY (snapshot_id, seq)
);

-- snapshot_blobs: the distinct blobs (32-byte SHA-256 digests) each sealed
-- manifest references, for mark-and-sweep.
CREATE TABLE snapshot_blobs (
    snapshot_id text COLLATE "C" NOT NULL REFERENCES snapshots (id),
    digest      bytea NOT NULL,
    size        bigint NOT NULL,
    PRIMARY KEY (snapshot_id, digest)
);
