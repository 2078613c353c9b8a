-- The selection index starts from a saved copy (engine_snapshots) and catches up from the logs.
-- refreshes: the records an import found unchanged (only refreshed_ms moved, no change-log row),
-- one row per batch, so a running index, and a saved one, learn of refreshes too (expiry).
-- Keep in step with the other backend.
CREATE TABLE refreshes (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    kind    TEXT    NOT NULL,
    at_ms   INTEGER NOT NULL,
    ids     TEXT    NOT NULL                  -- '\n'-joined VUM ids
);
CREATE INDEX refreshes_kind_seq ON refreshes (kind, seq);
CREATE TABLE engine_snapshots (
    kind         TEXT    PRIMARY KEY,
    change_seq   INTEGER NOT NULL,            -- the change log is applied up to here
    change_tag   TEXT    NOT NULL,            -- 'vum_id:version' of that change ('' at 0): a snapshot of another history is refused
    refresh_seq  INTEGER NOT NULL,            -- the refreshes are applied up to here
    made_ms      INTEGER NOT NULL,
    checksum     TEXT    NOT NULL,            -- SHA-256 of data, hex
    data         BLOB    NOT NULL
);
