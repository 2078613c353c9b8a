-- matchgate store, SQLite. Keep in step with ../postgres/0001_init.sql (same tables, same meaning).
CREATE TABLE records (
    kind          TEXT    NOT NULL,             -- 'werkzoekende' | 'vacature'
    vum_id        TEXT    NOT NULL,             -- the record's VUM id (keyed hash of the local id)
    content_hash  TEXT    NOT NULL,             -- SHA-256 of the canonical document
    version       INTEGER NOT NULL,             -- +1 on every change, including delete
    doc           TEXT,                         -- the VUM detail document; NULL once deleted
    created_ms    INTEGER NOT NULL,
    updated_ms    INTEGER NOT NULL,             -- last change
    refreshed_ms  INTEGER NOT NULL,             -- last time an import confirmed it (expiry)
    consent       INTEGER NOT NULL,             -- 1: may be shared; 0: consent withdrawn
    deleted       INTEGER NOT NULL,             -- tombstone
    -- match attributes, extracted from doc for the selection engine
    pc4           INTEGER,
    max_reis      INTEGER,
    uren_min      INTEGER,
    uren_max      INTEGER,
    kantoor       INTEGER,
    onregelmatig  INTEGER,
    datum         TEXT,                         -- datumAanvangBeschikbaarVoorWerk / datumAanvangWerkzaamheden
    niveau        TEXT,                         -- vacature: codeWerkEnDenkniveauMinimaal
    beroepen      TEXT,                         -- '\n'-joined codeBeroepsnaam URIs
    rijbewijzen   TEXT,                         -- '\n'-joined codes
    talen         TEXT,                         -- '\n'-joined 'taal:mondeling:schriftelijk'
    contracten    TEXT,                         -- '\n'-joined codeTypeArbeidscontract
    -- VUM ids are keyed hashes over (kind, local id): unique across kinds, so the key is the id
    -- alone (a unique single-column key also keeps PostgreSQL's plans for id lists on the index)
    PRIMARY KEY (vum_id)
);
-- no secondary index on records: lookups go by primary key; selection runs on the engine's
-- in-memory PC4 index (crates/store/src/engine.rs), fed by the change log

-- the change log: a monotonic cursor over every change (the vacancy feed reads it)
CREATE TABLE changes (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    kind     TEXT    NOT NULL,
    vum_id   TEXT    NOT NULL,
    version  INTEGER NOT NULL,
    op       TEXT    NOT NULL,                  -- 'upsert' | 'delete'
    at_ms    INTEGER NOT NULL
);
CREATE INDEX changes_kind_seq ON changes (kind, seq);

-- append-only, hash-chained audit log: ids and counts, never profile content
CREATE TABLE audit (
    seq             INTEGER PRIMARY KEY,
    at_ms           INTEGER NOT NULL,
    actor           TEXT    NOT NULL,           -- who asked (OIN or local user)
    on_behalf_of    TEXT    NOT NULL,           -- for whom (controller OIN)
    action          TEXT    NOT NULL,           -- select | get | feed | ingest ...
    purpose         TEXT    NOT NULL,           -- why
    transaction_id  TEXT    NOT NULL,
    subject         TEXT    NOT NULL,           -- what: kind, or a vum id
    result_count    INTEGER NOT NULL,
    prev_hash       TEXT    NOT NULL,
    hash            TEXT    NOT NULL
);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
