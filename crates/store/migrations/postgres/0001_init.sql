-- matchgate store, PostgreSQL. Keep in step with ../sqlite/0001_init.sql (same tables, same meaning).
CREATE TABLE records (
    kind          TEXT    NOT NULL,
    vum_id        TEXT    NOT NULL,
    content_hash  TEXT    NOT NULL,
    version       BIGINT  NOT NULL,
    doc           TEXT,
    created_ms    BIGINT  NOT NULL,
    updated_ms    BIGINT  NOT NULL,
    refreshed_ms  BIGINT  NOT NULL,
    consent       BIGINT  NOT NULL,
    deleted       BIGINT  NOT NULL,
    pc4           BIGINT,
    max_reis      BIGINT,
    uren_min      BIGINT,
    uren_max      BIGINT,
    kantoor       BIGINT,
    onregelmatig  BIGINT,
    datum         TEXT,
    niveau        TEXT,
    beroepen      TEXT,
    rijbewijzen   TEXT,
    talen         TEXT,
    contracten    TEXT,
    -- VUM ids are keyed hashes over (kind, local id): unique across kinds, so the key is the id
    -- alone (a unique single-column key also keeps PostgreSQL's plans for id lists on the index)
    PRIMARY KEY (vum_id)
);
-- no secondary index on records: lookups go by primary key; selection runs on the engine's
-- in-memory PC4 index (crates/store/src/engine.rs), fed by the change log

CREATE TABLE changes (
    seq      BIGSERIAL PRIMARY KEY,
    kind     TEXT    NOT NULL,
    vum_id   TEXT    NOT NULL,
    version  BIGINT  NOT NULL,
    op       TEXT    NOT NULL,
    at_ms    BIGINT  NOT NULL
);
CREATE INDEX changes_kind_seq ON changes (kind, seq);
-- writers take this row lock so change-log sequence numbers become visible in order
CREATE TABLE change_writer (id BIGINT PRIMARY KEY);
INSERT INTO change_writer VALUES (1);

CREATE TABLE audit (
    seq             BIGINT  PRIMARY KEY,
    at_ms           BIGINT  NOT NULL,
    actor           TEXT    NOT NULL,
    on_behalf_of    TEXT    NOT NULL,
    action          TEXT    NOT NULL,
    purpose         TEXT    NOT NULL,
    transaction_id  TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    result_count    BIGINT  NOT NULL,
    prev_hash       TEXT    NOT NULL,
    hash            TEXT    NOT NULL
);
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit log is append-only'; END $$;
CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only();
