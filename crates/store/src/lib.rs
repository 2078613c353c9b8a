//! # store — the node's own VUM records
//!
//! One API over two backends through sqlx: an embedded SQLite file (default, WAL) and PostgreSQL.
//! Records are keyed by (kind, VUM id) with a content hash, version, timestamps, consent and a
//! tombstone; upserts are idempotent ('unchanged' when nothing changed). Every change is appended
//! to a change log with a monotonic cursor. The audit log is append-only and hash-chained. The
//! selection engine ([`engine`]) answers queries from an in-memory index fed by the change log.
//!
//! The [`Store`] methods live by job: opening, connections and SQL helpers in `conn.rs`, records
//! in `records.rs`, the change log and feed in `changes.rs`, the audit log in `audit.rs`.
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod attrs;
mod audit;
mod audit_sqlite;
mod changes;
mod conn;
pub mod engine;
pub mod exchange;
mod form;
mod records;
mod result_index;
pub mod service;
mod snapshot;
pub mod transparency;
mod value_serde;

pub use attrs::Attrs;
pub use form::StoredForm;
pub use records::{content_hash, encode_pb};

/// What a store operation can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// a database error (connecting, a query, a transaction)
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// the schema could not be brought up to date
    #[error("migrating the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// the database URL names neither SQLite nor PostgreSQL
    #[error("unsupported database URL '{0}': use sqlite://PATH or postgres://...")]
    Url(String),
    /// the directory of a new SQLite file could not be created
    #[error("database: creating {dir}: {source}")]
    CreateDir {
        /// the directory
        dir: std::path::PathBuf,
        /// why it could not be created
        source: std::io::Error,
    },
    /// a stored document (its VUM id, then the parse error) is not JSON
    #[error("stored document {0} is not JSON: {1}")]
    Corrupt(String, serde_json::Error),
    /// the audit writer could not commit an entry (its database error, as text: the writer
    /// answers every waiting caller of a batch)
    #[error("audit log: {0}")]
    Audit(String),
    /// the audit writer task is gone (the node is shutting down)
    #[error("audit log: the writer has stopped")]
    AuditWriterGone,
}

/// The database behind a [`Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// an embedded SQLite file (WAL)
    Sqlite,
    /// a PostgreSQL server
    Postgres,
}

/// The result of storing one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    /// the record was new
    Inserted,
    /// the record's content changed: a new version
    Updated,
    /// same content as stored: only the refresh time moved (expiry)
    Unchanged,
}

/// A change-log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// the change log's cursor: increases with every change
    pub seq: i64,
    /// the record's kind (its name)
    pub kind: String,
    /// the record's VUM id
    pub vum_id: String,
    /// the record's version after the change
    pub version: i64,
    /// the change removed the record (a tombstone)
    pub deleted: bool,
    /// when the change was made (ms since the Unix epoch)
    pub at_ms: i64,
}

/// One event of this node's vacancy feed ([`Store::feed_page_pb`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEntry {
    /// the change log's cursor of the event
    pub seq: i64,
    /// the record's VUM id
    pub vum_id: String,
    /// the event is a delete (tombstone)
    pub deleted: bool,
    /// the record's protobuf encoding while it is live; `None` for a delete or a record that is
    /// no longer live
    pub pb: Option<Vec<u8>>,
}

/// The match attributes of one live record ([`Store::attrs`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveAttrs {
    /// the record's VUM id
    pub vum_id: String,
    /// when the record was last stored or refreshed (ms since the Unix epoch)
    pub refreshed_ms: i64,
    /// its match attributes
    pub attrs: Attrs,
}

/// One audit entry; never holds profile content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// who acted (an OIN or a user)
    pub actor: String,
    /// on whose behalf
    pub on_behalf_of: String,
    /// what was done (`select`, `get`, ...)
    pub action: String,
    /// the stated purpose
    pub purpose: String,
    /// the caller's transaction id
    pub transaction_id: String,
    /// what it was about (a kind, or `kind:id`)
    pub subject: String,
    /// how many results it returned
    pub result_count: i64,
}

/// Where the audit log's hash chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainBreak {
    /// an entry is gone: `expected` is missing, the next one present is `next`
    #[error("entry {expected} is missing (next entry is {next})")]
    Missing {
        /// the sequence number that should have come next
        expected: i64,
        /// the sequence number found instead
        next: i64,
    },
    /// the entry's previous-hash is not the hash of the entry before it
    #[error("entry {seq}: its previous-hash does not match entry {}", seq - 1)]
    Unlinked {
        /// the entry's sequence number
        seq: i64,
    },
    /// the entry's content does not give its stored hash
    #[error("entry {seq}: content does not match its hash (altered)")]
    Altered {
        /// the entry's sequence number
        seq: i64,
    },
}

/// Counts for an operator ([`Store::status`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Status {
    /// live records: shared and refreshed within the expiry period
    pub live: i64,
    /// shared records not refreshed within the expiry period
    pub expired: i64,
    /// records whose consent was withdrawn
    pub withdrawn: i64,
    /// records deleted at the source
    pub deleted: i64,
    /// change-log entries of the kind
    pub changes: i64,
    /// audit-log entries (all kinds)
    pub audit_entries: i64,
}

/// Registrations are renewed every three months: a record not refreshed for this long stops
/// being shared.
pub const DEFAULT_EXPIRY_DAYS: i64 = 90;

/// A handle on the store: cheap to clone (clones share the pool, readers and audit writer).
#[derive(Clone)]
pub struct Store {
    pool: sqlx::AnyPool,
    backend: Backend,
    /// days a record stays live without being refreshed ([`DEFAULT_EXPIRY_DAYS`] unless set)
    pub expiry_days: i64,
    /// when set, audit entries go through one writer task that commits them in groups
    audit_tx: Option<tokio::sync::mpsc::Sender<audit::AuditJob>>,
    readers: std::sync::Arc<conn::Readers>,
    /// when result sets were last purged (ms; shared by clones)
    last_purge: std::sync::Arc<std::sync::atomic::AtomicI64>,
    /// the ids of result sets loaded so far, for detail lookups (shared by clones)
    results: std::sync::Arc<tokio::sync::Mutex<result_index::ResultIndex>>,
    /// one search at a time of the result sets let go from memory (shared by clones)
    result_scan: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// Now, in ms since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
