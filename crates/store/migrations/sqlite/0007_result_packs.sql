-- Result sets packed (issue 16): a federated result set (and a source's record of what one
-- selection returned to a peer) is one row with its ids packed (protobuf, store::exchange::Pack),
-- not one row per id. The ids are looked up in memory, loaded from these rows in seq order.
-- result_ids keeps the sets written before this migration until they are purged.
-- Keep in step with the other backend.
ALTER TABLE result_sets ADD COLUMN seq INTEGER;       -- from result_seq: visible in order
ALTER TABLE result_sets ADD COLUMN ids BLOB;       -- the packed ids; NULL for a set in result_ids
CREATE INDEX result_sets_seq ON result_sets (seq);
-- the last seq handed out: never reused (a purge may delete every set), and its row lock
-- serialises the writers on PostgreSQL, so a reader never sees seq n+1 before n
CREATE TABLE result_seq (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    last        INTEGER NOT NULL
);
INSERT INTO result_seq (id, last) VALUES (1, 0);
