-- matchgate store (sqlite): what the exchange keeps across restarts. Keep in step with the other backend.

-- peers' vacancy feeds this node follows: the cursor and the mirror change in one transaction
CREATE TABLE feed_cursors (
    peer_oin    TEXT    PRIMARY KEY,
    last_seq    INTEGER NOT NULL,                 -- the peer's last change-log seq applied here
    updated_ms  INTEGER NOT NULL
);
CREATE TABLE peer_vacatures (
    peer_oin    TEXT    NOT NULL,
    vum_id      TEXT    NOT NULL,
    seq         INTEGER NOT NULL,                 -- the peer's change that wrote this version
    doc         TEXT    NOT NULL,             -- the VUM vacature as the peer released it
    PRIMARY KEY (peer_oin, vum_id)
);

-- federated result sets handed to own users: which vumID stands for which peer's id (never shown
-- to the user), and how many details were asked per result set (at most 10)
CREATE TABLE result_sets (
    vraag_id    TEXT    PRIMARY KEY,
    kind        TEXT    NOT NULL,
    created_ms  INTEGER NOT NULL,
    details     INTEGER NOT NULL
);
CREATE INDEX result_sets_created ON result_sets (created_ms);
CREATE TABLE result_ids (
    vum_id      TEXT    PRIMARY KEY,          -- HMAC(node secret, peer OIN, source id)
    peer_oin    TEXT    NOT NULL,
    source_id   TEXT    NOT NULL,
    vraag_id    TEXT    NOT NULL,             -- the latest result set it was in
    created_ms  INTEGER NOT NULL
);
CREATE INDEX result_ids_created ON result_ids (created_ms);
