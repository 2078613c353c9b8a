//! # store — the node's own VUM records
//!
//! One API over two backends through sqlx: an embedded SQLite file (default, WAL) and PostgreSQL.
//! Records are keyed by (kind, VUM id) with a content hash, version, timestamps, consent and a
//! tombstone; upserts are idempotent ('unchanged' when nothing changed). Every change is appended
//! to a change log with a monotonic cursor. The audit log is append-only and hash-chained. The
//! selection engine ([`engine`]) answers queries from an in-memory index fed by the change log.
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use std::time::Duration;
use vum::Kind;

mod attrs;
pub mod engine;
pub mod exchange;
pub mod service;

pub use attrs::Attrs;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migrating the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL '{0}': use sqlite://PATH or postgres://...")]
    Url(String),
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The result of storing one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    Inserted,
    Updated,
    /// same content as stored: only the refresh time moved (expiry)
    Unchanged,
}

/// A change-log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub seq: i64,
    pub kind: String,
    pub vum_id: String,
    pub version: i64,
    pub deleted: bool,
    pub at_ms: i64,
}

/// One audit entry; never holds profile content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub actor: String,
    pub on_behalf_of: String,
    pub action: String,
    pub purpose: String,
    pub transaction_id: String,
    pub subject: String,
    pub result_count: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Status {
    pub live: i64,
    pub expired: i64,
    pub withdrawn: i64,
    pub deleted: i64,
    pub changes: i64,
    pub audit_entries: i64,
}

/// Registrations are renewed every three months: a record not refreshed for this long stops
/// being shared.
pub const DEFAULT_EXPIRY_DAYS: i64 = 90;
const DAY_MS: i64 = 86_400_000;

type AuditJob = (
    AuditEntry,
    i64,
    tokio::sync::oneshot::Sender<Result<i64, String>>,
);

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    pub expiry_days: i64,
    /// when set, audit entries go through one writer task that commits them in groups
    audit_tx: Option<tokio::sync::mpsc::Sender<AuditJob>>,
    readers: std::sync::Arc<Readers>,
}

/// Connections kept out of the pool for the hot read paths (details, feed pages, selections'
/// documents). sqlx pings a pooled connection each time it goes back to the pool, a full round
/// trip per query; these are taken and put back without one. A connection whose query failed or
/// was cancelled is not put back.
struct Readers {
    idle: std::sync::Mutex<Vec<ReaderConn>>,
    permits: tokio::sync::Semaphore,
    /// SQLite: readers are native connections to this file, so that rows are not converted to
    /// `AnyRow` and a whole feed page can pass from SQLite's worker thread at once
    sqlite_url: Option<String>,
}

enum ReaderConn {
    Any(sqlx::AnyConnection),
    Sqlite(sqlx::SqliteConnection),
}

/// Reader connections: SQLite answers from one file (each connection has a worker thread; more
/// only add thread switches on a small machine); PostgreSQL waits on the network, so more overlap.
const READERS_SQLITE: usize = 2;
const READERS_POSTGRES: usize = 6;

/// Run the same code on whichever kind of reader connection it is (the query's database type is
/// inferred from the connection).
macro_rules! on_reader {
    ($reader:ident, $c:ident => $body:expr) => {
        match &mut $reader.conn {
            ReaderConn::Sqlite($c) => $body,
            ReaderConn::Any($c) => $body,
        }
    };
}

/// A reader connection on loan; [`Reader::done`] returns it.
struct Reader<'a> {
    readers: &'a Readers,
    conn: ReaderConn,
    _permit: tokio::sync::SemaphorePermit<'a>,
}

impl Reader<'_> {
    fn done(self) {
        self.readers
            .idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(self.conn);
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// SHA-256 of the document's canonical JSON (keys sorted, as serde_json's map is).
pub fn content_hash(doc: &Value) -> String {
    hex::encode(Sha256::digest(
        serde_json::to_vec(&canonical(doc)).unwrap_or_default(),
    ))
}

fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), canonical(&o[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        v => v.clone(),
    }
}

/// A change-log row whose first six columns are seq, kind, vum_id, version, op, at_ms.
fn change_of(r: &AnyRow) -> Result<Change, sqlx::Error> {
    Ok(Change {
        seq: r.try_get(0)?,
        kind: r.try_get(1)?,
        vum_id: r.try_get(2)?,
        version: r.try_get(3)?,
        deleted: r.try_get::<String, _>(4)? == "delete",
        at_ms: r.try_get(5)?,
    })
}

fn opt_i(r: &AnyRow, c: &str) -> Option<i64> {
    r.try_get::<Option<i64>, _>(c).ok().flatten()
}
fn opt_s(r: &AnyRow, c: &str) -> Option<String> {
    r.try_get::<Option<String>, _>(c).ok().flatten()
}

impl Store {
    /// Open (and migrate) a store: `sqlite://path/to/file.db` (created if missing) or `postgres://...`.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::Url(url.into()));
        };
        // no ping before each use of a pooled connection: it doubled the round trips of every
        // query; a broken connection still fails its query and is replaced
        let mut sqlite_url = None;
        let opts = AnyPoolOptions::new()
            .acquire_timeout(Duration::from_secs(10))
            .test_before_acquire(false);
        let pool = match backend {
            Backend::Sqlite => {
                // the file's directory is created, as the file is (mode=rwc)
                let path = url
                    .trim_start_matches("sqlite:")
                    .trim_start_matches("//")
                    .split('?')
                    .next()
                    .unwrap_or_default();
                if let Some(dir) = std::path::Path::new(path).parent() {
                    if !path.is_empty() && !path.starts_with(':') && !dir.as_os_str().is_empty() {
                        std::fs::create_dir_all(dir).map_err(|e| {
                            StoreError::Db(sqlx::Error::Configuration(
                                format!("creating {}: {e}", dir.display()).into(),
                            ))
                        })?;
                    }
                }
                let url = if url.contains('?') {
                    url.to_string()
                } else {
                    format!("{url}?mode=rwc")
                };
                sqlite_url = Some(url.clone());
                opts.max_connections(4)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            sqlx::query("PRAGMA journal_mode=WAL")
                                .execute(&mut *conn)
                                .await?;
                            sqlx::query("PRAGMA synchronous=NORMAL")
                                .execute(&mut *conn)
                                .await?;
                            sqlx::query("PRAGMA busy_timeout=10000")
                                .execute(&mut *conn)
                                .await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await?
            }
            Backend::Postgres => opts.max_connections(8).connect(url).await?,
        };
        match backend {
            // Two processes opening one new file at once (a node and an operator's command) can
            // both see a migration as not yet applied; the one that loses finds the other's tables.
            // Running the migrator again then sees it applied.
            Backend::Sqlite => {
                let mut tries = 0;
                loop {
                    match sqlx::migrate!("./migrations/sqlite").run(&pool).await {
                        Ok(()) => break,
                        Err(e) if tries < 5 => {
                            tries += 1;
                            tracing::debug!(error = %e, tries, "migration raced another process; again");
                            tokio::time::sleep(std::time::Duration::from_millis(100 * tries)).await;
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&pool).await?,
        }
        Ok(Store {
            pool,
            backend,
            expiry_days: DEFAULT_EXPIRY_DAYS,
            audit_tx: None,
            readers: std::sync::Arc::new(Readers {
                idle: std::sync::Mutex::new(Vec::new()),
                permits: tokio::sync::Semaphore::new(match backend {
                    Backend::Sqlite => READERS_SQLITE,
                    Backend::Postgres => READERS_POSTGRES,
                }),
                sqlite_url,
            }),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Borrow a reader connection (opening one when none is idle).
    async fn reader(&self) -> Result<Reader<'_>, StoreError> {
        let permit = self
            .readers
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::Db(sqlx::Error::PoolClosed))?;
        let idle = self
            .readers
            .idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop();
        let conn = match (idle, &self.readers.sqlite_url) {
            (Some(c), _) => c,
            (None, Some(url)) => {
                use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
                use sqlx::ConnectOptions;
                let opts: SqliteConnectOptions = url.parse()?;
                ReaderConn::Sqlite(
                    opts.journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Normal)
                        .busy_timeout(Duration::from_secs(10))
                        // a feed page (1000 rows) without the worker thread waiting for the reader
                        .row_buffer_size(1024)
                        .connect()
                        .await?,
                )
            }
            (None, None) => ReaderConn::Any(self.pool.acquire().await?.detach()),
        };
        Ok(Reader {
            readers: &self.readers,
            conn,
            _permit: permit,
        })
    }

    /// Write SQL with `?` placeholders; PostgreSQL gets `$1, $2, ...`.
    fn sql(&self, q: &str) -> String {
        match self.backend {
            Backend::Sqlite => q.to_string(),
            Backend::Postgres => {
                let mut out = String::with_capacity(q.len() + 8);
                let mut n = 0;
                for c in q.chars() {
                    if c == '?' {
                        n += 1;
                        out.push('$');
                        out.push_str(&n.to_string());
                    } else {
                        out.push(c);
                    }
                }
                out
            }
        }
    }

    /// A write transaction. On SQLite it takes the write lock at BEGIN (IMMEDIATE): a deferred
    /// transaction that reads and then writes fails at once (SQLITE_BUSY_SNAPSHOT, no busy wait)
    /// when another writer committed in between.
    pub(crate) async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    async fn begin_writer(&self) -> Result<sqlx::Transaction<'_, sqlx::Any>, StoreError> {
        let mut tx = self.begin_write().await?;
        if self.backend == Backend::Postgres {
            // serialise writers so change-log sequence numbers become visible in order
            sqlx::query("SELECT id FROM change_writer WHERE id = 1 FOR UPDATE")
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx)
    }

    /// Store a batch of documents of one kind in one transaction. Idempotent: the same documents
    /// again give `Unchanged` and no change-log entries. A few statements per batch, not per record.
    pub async fn upsert_batch(
        &self,
        kind: Kind,
        docs: &[(String, Value)],
        now: i64,
    ) -> Result<Vec<Upserted>, StoreError> {
        let unique: std::collections::HashSet<&str> =
            docs.iter().map(|(id, _)| id.as_str()).collect();
        if unique.len() != docs.len() {
            // the same id twice in one batch: store them one after the other
            let mut out = Vec::with_capacity(docs.len());
            for d in docs {
                out.extend(Box::pin(self.upsert_batch(kind, std::slice::from_ref(d), now)).await?);
            }
            return Ok(out);
        }
        let mut tx = self.begin_writer().await?;
        let mut existing: std::collections::HashMap<String, (String, i64, i64, i64)> =
            std::collections::HashMap::new();
        for chunk in docs.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let q = self.sql(&format!("SELECT vum_id, content_hash, version, deleted, consent FROM records WHERE kind = ? AND vum_id IN ({marks})"));
            let mut query = sqlx::query(&q).persistent(false).bind(kind.name());
            for (id, _) in chunk {
                query = query.bind(id.as_str());
            }
            for r in query.fetch_all(&mut *tx).await? {
                existing.insert(
                    r.try_get(0)?,
                    (r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?),
                );
            }
        }
        let mut out = Vec::with_capacity(docs.len());
        let mut inserts: Vec<(&str, String, String, Option<Vec<u8>>, Attrs)> = Vec::new();
        let mut unchanged: Vec<&str> = Vec::new();
        let mut changes: Vec<(&str, i64)> = Vec::new();
        let update = self.sql(
            "UPDATE records SET content_hash = ?, version = ?, doc = ?, pb = ?, updated_ms = ?, refreshed_ms = ?, consent = 1, deleted = 0, \
             pc4 = ?, max_reis = ?, uren_min = ?, uren_max = ?, kantoor = ?, onregelmatig = ?, datum = ?, niveau = ?, beroepen = ?, \
             rijbewijzen = ?, talen = ?, contracten = ? WHERE kind = ? AND vum_id = ?",
        );
        for (id, doc) in docs {
            let hash = content_hash(doc);
            match existing.get(id.as_str()) {
                Some((h, _, deleted, consent)) if *h == hash && *deleted == 0 && *consent == 1 => {
                    unchanged.push(id);
                    out.push(Upserted::Unchanged);
                }
                Some((_, v, _, _)) => {
                    let q = sqlx::query(&update)
                        .bind(hash)
                        .bind(v + 1)
                        .bind(doc.to_string())
                        .bind(encode_pb(kind, doc))
                        .bind(now)
                        .bind(now);
                    bind_attrs(q, &Attrs::extract(kind, doc))
                        .bind(kind.name())
                        .bind(id.as_str())
                        .execute(&mut *tx)
                        .await?;
                    changes.push((id, v + 1));
                    out.push(Upserted::Updated);
                }
                None => {
                    inserts.push((
                        id,
                        hash,
                        doc.to_string(),
                        encode_pb(kind, doc),
                        Attrs::extract(kind, doc),
                    ));
                    changes.push((id, 1));
                    out.push(Upserted::Inserted);
                }
            }
        }
        for chunk in unchanged.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let q = self.sql(&format!(
                "UPDATE records SET refreshed_ms = ? WHERE kind = ? AND vum_id IN ({marks})"
            ));
            let mut query = sqlx::query(&q)
                .persistent(false)
                .bind(now)
                .bind(kind.name());
            for id in chunk {
                query = query.bind(*id);
            }
            query.execute(&mut *tx).await?;
        }
        const ROW: &str = "(?, ?, ?, 1, ?, ?, ?, ?, ?, 1, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
        for chunk in inserts.chunks(500) {
            let rows = vec![ROW; chunk.len()].join(", ");
            let q = self.sql(&format!(
                "INSERT INTO records (kind, vum_id, content_hash, version, doc, pb, created_ms, updated_ms, refreshed_ms, consent, deleted, \
                 pc4, max_reis, uren_min, uren_max, kantoor, onregelmatig, datum, niveau, beroepen, rijbewijzen, talen, contracten) VALUES {rows}"
            ));
            let mut query = sqlx::query(&q).persistent(false);
            for (id, hash, text, pb, a) in chunk {
                query = bind_attrs(
                    query
                        .bind(kind.name())
                        .bind(*id)
                        .bind(hash.as_str())
                        .bind(text.as_str())
                        .bind(pb.clone())
                        .bind(now)
                        .bind(now)
                        .bind(now),
                    a,
                );
            }
            query.execute(&mut *tx).await?;
        }
        for chunk in changes.chunks(1000) {
            let rows = vec!["(?, ?, ?, 'upsert', ?)"; chunk.len()].join(", ");
            let q = self.sql(&format!(
                "INSERT INTO changes (kind, vum_id, version, op, at_ms) VALUES {rows}"
            ));
            let mut query = sqlx::query(&q).persistent(false);
            for (id, v) in chunk {
                query = query.bind(kind.name()).bind(*id).bind(*v).bind(now);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Refresh the planner's statistics after a large import (PostgreSQL: ANALYZE; SQLite: optimize).
    pub async fn optimize(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Postgres => {
                sqlx::query("ANALYZE records").execute(&self.pool).await?;
                sqlx::query("ANALYZE changes").execute(&self.pool).await?;
            }
            Backend::Sqlite => {
                sqlx::query("PRAGMA optimize").execute(&self.pool).await?;
            }
        }
        Ok(())
    }

    /// Tombstone a record: consent withdrawn (`withdrawn`) or deleted at the source. Returns false
    /// when there was nothing live to remove.
    pub async fn remove(
        &self,
        kind: Kind,
        vum_id: &str,
        withdrawn: bool,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_writer().await?;
        let r = sqlx::query(
            &self.sql("SELECT version, deleted FROM records WHERE kind = ? AND vum_id = ?"),
        )
        .bind(kind.name())
        .bind(vum_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(r) = r else { return Ok(false) };
        let (v, deleted): (i64, i64) = (r.try_get(0)?, r.try_get(1)?);
        if deleted == 1 {
            return Ok(false);
        }
        sqlx::query(&self.sql(
            "UPDATE records SET doc = NULL, pb = NULL, version = ?, updated_ms = ?, deleted = 1, consent = ?, pc4 = NULL, beroepen = NULL, \
             rijbewijzen = NULL, talen = NULL, contracten = NULL WHERE kind = ? AND vum_id = ?",
        ))
        .bind(v + 1)
        .bind(now)
        .bind(if withdrawn { 0i64 } else { 1 })
        .bind(kind.name())
        .bind(vum_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(&self.sql(
            "INSERT INTO changes (kind, vum_id, version, op, at_ms) VALUES (?, ?, ?, 'delete', ?)",
        ))
        .bind(kind.name())
        .bind(vum_id)
        .bind(v + 1)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    fn live_since(&self, now: i64) -> i64 {
        now - self.expiry_days * DAY_MS
    }

    /// The detail document of a live, shared, unexpired record.
    pub async fn get(
        &self,
        kind: Kind,
        vum_id: &str,
        now: i64,
    ) -> Result<Option<Value>, StoreError> {
        match self.get_text(kind, vum_id, now).await? {
            Some(t) => serde_json::from_str(&t)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(vum_id.into(), e)),
            None => Ok(None),
        }
    }

    /// [`Store::get`] as the stored JSON text.
    pub async fn get_text(
        &self,
        kind: Kind,
        vum_id: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        let r = sqlx::query(&self.sql("SELECT doc FROM records WHERE kind = ? AND vum_id = ? AND deleted = 0 AND consent = 1 AND refreshed_ms >= ?"))
            .bind(kind.name())
            .bind(vum_id)
            .bind(self.live_since(now))
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.and_then(|r| opt_s(&r, "doc")))
    }

    /// Documents for many ids (in the order given; missing ones left out).
    pub async fn get_many(
        &self,
        kind: Kind,
        ids: &[String],
        now: i64,
    ) -> Result<Vec<(String, Value)>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(200) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let q = self.sql(&format!("SELECT vum_id, doc FROM records WHERE kind = ? AND deleted = 0 AND consent = 1 AND refreshed_ms >= ? AND vum_id IN ({marks})"));
            let since = self.live_since(now);
            let mut reader = self.reader().await?;
            let rows: Vec<(String, Option<String>)> = on_reader!(reader, c => {
                let mut query = sqlx::query_as(&q)
                    .persistent(false)
                    .bind(kind.name())
                    .bind(since);
                for id in chunk {
                    query = query.bind(id.as_str());
                }
                query.fetch_all(&mut *c).await?
            });
            reader.done();
            let mut found: std::collections::HashMap<String, String> = rows
                .into_iter()
                .filter_map(|(id, doc)| doc.map(|d| (id, d)))
                .collect();
            for id in chunk {
                if let Some(t) = found.remove(id) {
                    out.push((
                        id.clone(),
                        serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(id.clone(), e))?,
                    ));
                }
            }
        }
        Ok(out)
    }

    /// Change-log entries after `cursor`, oldest first.
    pub async fn changes_since(
        &self,
        kind: Option<Kind>,
        cursor: i64,
        limit: i64,
    ) -> Result<Vec<Change>, StoreError> {
        let rows = match kind {
            Some(k) => {
                sqlx::query(&self.sql("SELECT seq, kind, vum_id, version, op, at_ms FROM changes WHERE kind = ? AND seq > ? ORDER BY seq LIMIT ?"))
                    .bind(k.name())
                    .bind(cursor)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                sqlx::query(&self.sql("SELECT seq, kind, vum_id, version, op, at_ms FROM changes WHERE seq > ? ORDER BY seq LIMIT ?"))
                    .bind(cursor)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter().map(|r| Ok(change_of(r)?)).collect()
    }

    /// One page of the vacancy feed with each live record's protobuf encoding (`vum.v3` message
    /// of the kind): (seq, id, deleted, bytes). An upsert whose record is no longer live has no
    /// bytes. Rows stored before the protobuf column existed are encoded from their JSON.
    pub async fn feed_page_pb(
        &self,
        kind: Kind,
        cursor: i64,
        limit: i64,
        now: i64,
    ) -> Result<Vec<(i64, String, bool, Option<Vec<u8>>)>, StoreError> {
        let sql = self.sql(
            "SELECT c.seq, c.vum_id, c.op, r.pb, CASE WHEN r.pb IS NULL THEN r.doc END AS doc FROM changes c \
             LEFT JOIN records r ON r.vum_id = c.vum_id AND r.deleted = 0 AND r.consent = 1 AND r.refreshed_ms >= ? \
             WHERE c.kind = ? AND c.seq > ? ORDER BY c.seq LIMIT ?",
        );
        let since = self.live_since(now);
        let mut reader = self.reader().await?;
        let page = on_reader!(reader, c => sqlx::query(&sql)
            .bind(since)
            .bind(kind.name())
            .bind(cursor)
            .bind(limit)
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(|r| feed_row(kind, r))
            .collect::<Result<Vec<_>, _>>()?);
        reader.done();
        Ok(page)
    }

    /// [`Store::get`] as the protobuf encoding of the document.
    pub async fn get_pb(
        &self,
        kind: Kind,
        vum_id: &str,
        now: i64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let sql = self.sql("SELECT pb, CASE WHEN pb IS NULL THEN doc END AS doc FROM records WHERE kind = ? AND vum_id = ? AND deleted = 0 AND consent = 1 AND refreshed_ms >= ?");
        let since = self.live_since(now);
        let mut reader = self.reader().await?;
        let found: Option<(Option<Vec<u8>>, Option<String>)> = on_reader!(reader, c => sqlx::query_as(&sql)
            .bind(kind.name())
            .bind(vum_id)
            .bind(since)
            .fetch_optional(&mut *c)
            .await?);
        reader.done();
        match found {
            None | Some((None, None)) => Ok(None),
            Some((Some(b), _)) => Ok(Some(b)),
            Some((None, Some(t))) => Ok(Some(pb_of_text(kind, vum_id, &t)?)),
        }
    }

    pub async fn last_change_seq(&self) -> Result<i64, StoreError> {
        let r = sqlx::query("SELECT COALESCE(MAX(seq), 0) FROM changes")
            .fetch_one(&self.pool)
            .await?;
        Ok(r.try_get::<i64, _>(0)?)
    }

    /// Match attributes and refresh time of live records (all, or the given ids).
    pub async fn attrs(
        &self,
        kind: Kind,
        ids: Option<&[String]>,
    ) -> Result<Vec<(String, i64, Attrs)>, StoreError> {
        const COLS: &str = "vum_id, refreshed_ms, consent, pc4, max_reis, uren_min, uren_max, kantoor, onregelmatig, datum, niveau, beroepen, rijbewijzen, talen, contracten";
        let rows = match ids {
            None => {
                sqlx::query(&self.sql(&format!(
                    "SELECT {COLS} FROM records WHERE kind = ? AND deleted = 0 AND consent = 1"
                )))
                .bind(kind.name())
                .fetch_all(&self.pool)
                .await?
            }
            Some(ids) => {
                let mut all = Vec::new();
                for chunk in ids.chunks(200) {
                    let marks = vec!["?"; chunk.len()].join(", ");
                    let q = self.sql(&format!("SELECT {COLS} FROM records WHERE kind = ? AND deleted = 0 AND consent = 1 AND vum_id IN ({marks})"));
                    let mut query = sqlx::query(&q).persistent(false).bind(kind.name());
                    for id in chunk {
                        query = query.bind(id.as_str());
                    }
                    all.extend(query.fetch_all(&self.pool).await?);
                }
                all
            }
        };
        rows.iter()
            .map(|r| {
                let a = Attrs {
                    pc4: opt_i(r, "pc4"),
                    max_reis: opt_i(r, "max_reis"),
                    uren_min: opt_i(r, "uren_min"),
                    uren_max: opt_i(r, "uren_max"),
                    kantoor: opt_i(r, "kantoor"),
                    onregelmatig: opt_i(r, "onregelmatig"),
                    datum: opt_s(r, "datum"),
                    niveau: opt_s(r, "niveau"),
                    beroepen: Attrs::split(opt_s(r, "beroepen")),
                    rijbewijzen: Attrs::split(opt_s(r, "rijbewijzen")),
                    talen: Attrs::split_talen(opt_s(r, "talen")),
                    contracten: Attrs::split(opt_s(r, "contracten")),
                };
                Ok((
                    r.try_get::<String, _>("vum_id")?,
                    r.try_get::<i64, _>("refreshed_ms")?,
                    a,
                ))
            })
            .collect()
    }

    /// Counts for an operator: live, expired (not refreshed within the expiry period), withdrawn, deleted.
    pub async fn status(&self, kind: Kind, now: i64) -> Result<Status, StoreError> {
        let r = sqlx::query(&self.sql(
            "SELECT \
             COALESCE(SUM(CASE WHEN deleted = 0 AND consent = 1 AND refreshed_ms >= ? THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN deleted = 0 AND consent = 1 AND refreshed_ms < ? THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN deleted = 1 AND consent = 0 THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN deleted = 1 AND consent = 1 THEN 1 ELSE 0 END), 0) \
             FROM records WHERE kind = ?",
        ))
        .bind(self.live_since(now))
        .bind(self.live_since(now))
        .bind(kind.name())
        .fetch_one(&self.pool)
        .await?;
        let changes = sqlx::query(&self.sql("SELECT COUNT(*) FROM changes WHERE kind = ?"))
            .bind(kind.name())
            .fetch_one(&self.pool)
            .await?;
        let audit = sqlx::query("SELECT COUNT(*) FROM audit")
            .fetch_one(&self.pool)
            .await?;
        Ok(Status {
            live: r.try_get(0)?,
            expired: r.try_get(1)?,
            withdrawn: r.try_get(2)?,
            deleted: r.try_get(3)?,
            changes: changes.try_get(0)?,
            audit_entries: audit.try_get(0)?,
        })
    }

    /// Ids of records that expired (live but not refreshed within the expiry period).
    pub async fn expired_ids(&self, kind: Kind, now: i64) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(&self.sql("SELECT vum_id FROM records WHERE kind = ? AND deleted = 0 AND consent = 1 AND refreshed_ms < ? ORDER BY vum_id"))
            .bind(kind.name())
            .bind(self.live_since(now))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<String, _>(0)?))
            .collect()
    }

    /// Route audit appends through one writer task that commits whatever has queued up in a single
    /// transaction (group commit). Each caller still waits until its own entry is committed, so
    /// nothing is answered before it is logged; under load many entries share one commit.
    pub fn with_group_commit(mut self) -> Store {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<AuditJob>(4096);
        let writer = self.clone();
        tokio::spawn(async move {
            let mut conn: Option<sqlx::AnyConnection> = None;
            while let Some(first) = rx.recv().await {
                let mut jobs = vec![first];
                while jobs.len() < 512 {
                    match rx.try_recv() {
                        Ok(j) => jobs.push(j),
                        Err(_) => break,
                    }
                }
                let entries: Vec<(AuditEntry, i64)> =
                    jobs.iter().map(|(e, at, _)| (e.clone(), *at)).collect();
                // the writer keeps its own connection (no pool hand-over and ping per commit)
                let result = match conn.as_mut() {
                    Some(c) => writer.audit_batch_on(c, &entries).await,
                    None => match writer.pool.acquire().await {
                        Ok(c) => {
                            let c = conn.insert(c.detach());
                            writer.audit_batch_on(c, &entries).await
                        }
                        Err(e) => Err(e.into()),
                    },
                };
                if result.is_err() {
                    conn = None;
                }
                match result {
                    Ok(seqs) => {
                        for ((_, _, reply), seq) in jobs.into_iter().zip(seqs) {
                            let _ = reply.send(Ok(seq));
                        }
                    }
                    Err(e) => {
                        let msg = e.to_string();
                        for (_, _, reply) in jobs {
                            let _ = reply.send(Err(msg.clone()));
                        }
                    }
                }
            }
        });
        self.audit_tx = Some(tx);
        self
    }

    /// Append to the audit log. The chain: hash = SHA-256(prev_hash ‖ every field), so changing,
    /// removing or reordering an entry breaks every hash after it.
    pub async fn audit(&self, e: &AuditEntry, now: i64) -> Result<i64, StoreError> {
        if let Some(tx) = &self.audit_tx {
            let (reply, wait) = tokio::sync::oneshot::channel();
            if tx.send((e.clone(), now, reply)).await.is_ok() {
                return match wait.await {
                    Ok(Ok(seq)) => Ok(seq),
                    Ok(Err(msg)) => Err(StoreError::Audit(msg)),
                    Err(_) => Err(StoreError::AuditWriterGone),
                };
            }
        }
        Ok(self.audit_batch(&[(e.clone(), now)]).await?[0])
    }

    /// Append several entries at once: with group commit they share a commit instead of waiting
    /// for one each.
    pub async fn audit_all(&self, entries: &[AuditEntry], now: i64) -> Result<(), StoreError> {
        let Some(tx) = &self.audit_tx else {
            let batch: Vec<(AuditEntry, i64)> = entries.iter().map(|e| (e.clone(), now)).collect();
            return self.audit_batch(&batch).await.map(|_| ());
        };
        let mut waits = Vec::with_capacity(entries.len());
        for e in entries {
            let (reply, wait) = tokio::sync::oneshot::channel();
            tx.send((e.clone(), now, reply))
                .await
                .map_err(|_| StoreError::AuditWriterGone)?;
            waits.push(wait);
        }
        for w in waits {
            match w.await {
                Ok(Ok(_)) => {}
                Ok(Err(msg)) => return Err(StoreError::Audit(msg)),
                Err(_) => return Err(StoreError::AuditWriterGone),
            }
        }
        Ok(())
    }

    /// Append several entries in one transaction, chained in order.
    async fn audit_batch(&self, entries: &[(AuditEntry, i64)]) -> Result<Vec<i64>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        self.audit_batch_on(&mut conn, entries).await
    }

    /// [`Store::audit_batch`] on a given connection.
    async fn audit_batch_on(
        &self,
        conn: &mut sqlx::AnyConnection,
        entries: &[(AuditEntry, i64)],
    ) -> Result<Vec<i64>, StoreError> {
        use sqlx::Connection;
        let mut tx = if self.backend == Backend::Postgres {
            let mut tx = conn.begin().await?;
            sqlx::query("LOCK TABLE audit IN EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await?;
            tx
        } else {
            // SQLite's write lock from the start, before reading the chain's head
            conn.begin_with("BEGIN IMMEDIATE").await?
        };
        let last = sqlx::query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
        let (mut seq, mut prev) = match last {
            Some(r) => (r.try_get::<i64, _>(0)?, r.try_get::<String, _>(1)?),
            None => (0, "0".repeat(64)),
        };
        // one multi-row INSERT per 100 entries: a statement per entry costs a round trip each
        let mut out = Vec::with_capacity(entries.len());
        for chunk in entries.chunks(100) {
            let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
            let q = self.sql(&format!("INSERT INTO audit (seq, at_ms, actor, on_behalf_of, action, purpose, transaction_id, subject, result_count, prev_hash, hash) VALUES {rows}"));
            let mut query = sqlx::query(&q).persistent(chunk.len() == 1);
            let mut hashes = Vec::with_capacity(chunk.len());
            for (e, now) in chunk {
                seq += 1;
                let hash = audit_hash(seq, *now, e, &prev);
                hashes.push((
                    seq,
                    *now,
                    e,
                    std::mem::replace(&mut prev, hash.clone()),
                    hash,
                ));
                out.push(seq);
            }
            for (seq, now, e, prev_hash, hash) in hashes {
                query = query
                    .bind(seq)
                    .bind(now)
                    .bind(e.actor.as_str())
                    .bind(e.on_behalf_of.as_str())
                    .bind(e.action.as_str())
                    .bind(e.purpose.as_str())
                    .bind(e.transaction_id.as_str())
                    .bind(e.subject.as_str())
                    .bind(e.result_count)
                    .bind(prev_hash)
                    .bind(hash);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Walk the audit chain. Ok(number of entries) or the first entry that does not hold.
    /// Check the audit log's hash chain from the first entry to the last: the number of entries,
    /// or where the chain breaks.
    pub async fn audit_verify(&self) -> Result<Result<i64, ChainBreak>, StoreError> {
        let rows = sqlx::query("SELECT seq, at_ms, actor, on_behalf_of, action, purpose, transaction_id, subject, result_count, prev_hash, hash FROM audit ORDER BY seq")
            .fetch_all(&self.pool)
            .await?;
        let mut prev = "0".repeat(64);
        let mut expect_seq = 1;
        for r in &rows {
            let seq: i64 = r.try_get(0)?;
            let e = AuditEntry {
                actor: r.try_get(2)?,
                on_behalf_of: r.try_get(3)?,
                action: r.try_get(4)?,
                purpose: r.try_get(5)?,
                transaction_id: r.try_get(6)?,
                subject: r.try_get(7)?,
                result_count: r.try_get(8)?,
            };
            let (stored_prev, stored_hash): (String, String) = (r.try_get(9)?, r.try_get(10)?);
            if seq != expect_seq {
                return Ok(Err(ChainBreak::Missing {
                    expected: expect_seq,
                    next: seq,
                }));
            }
            if stored_prev != prev {
                return Ok(Err(ChainBreak::Unlinked { seq }));
            }
            if audit_hash(seq, r.try_get(1)?, &e, &prev) != stored_hash {
                return Ok(Err(ChainBreak::Altered { seq }));
            }
            prev = stored_hash;
            expect_seq += 1;
        }
        Ok(Ok(rows.len() as i64))
    }
}

/// Where the audit log's hash chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainBreak {
    /// an entry is gone: `expected` is missing, the next one present is `next`
    #[error("entry {expected} is missing (next entry is {next})")]
    Missing { expected: i64, next: i64 },
    /// the entry's previous-hash is not the hash of the entry before it
    #[error("entry {seq}: its previous-hash does not match entry {}", seq - 1)]
    Unlinked { seq: i64 },
    /// the entry's content does not give its stored hash
    #[error("entry {seq}: content does not match its hash (altered)")]
    Altered { seq: i64 },
}

fn audit_hash(seq: i64, at_ms: i64, e: &AuditEntry, prev: &str) -> String {
    let mut h = Sha256::new();
    for part in [
        prev,
        &seq.to_string(),
        &at_ms.to_string(),
        &e.actor,
        &e.on_behalf_of,
        &e.action,
        &e.purpose,
        &e.transaction_id,
        &e.subject,
        &e.result_count.to_string(),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// A feed row (seq, vum_id, op, pb, doc) of either driver: the record's protobuf encoding, or one
/// made from its JSON for rows written before the protobuf column existed.
fn feed_row<R: Row>(kind: Kind, r: &R) -> Result<(i64, String, bool, Option<Vec<u8>>), StoreError>
where
    usize: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Vec<u8>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let id: String = r.try_get(1)?;
    let pb = match r.try_get::<Option<Vec<u8>>, _>(3)? {
        Some(b) => Some(b),
        None => match r.try_get::<Option<String>, _>(4)? {
            Some(t) => Some(pb_of_text(kind, &id, &t)?),
            None => None,
        },
    };
    Ok((
        r.try_get(0)?,
        id,
        r.try_get::<String, _>(2)? == "delete",
        pb,
    ))
}

/// The protobuf encoding of a document of `kind` (None for kinds without a stored form, or a
/// document the message cannot hold, which validation prevents).
pub fn encode_pb(kind: Kind, doc: &Value) -> Option<Vec<u8>> {
    use prost::Message;
    use serde::Deserialize;
    match kind {
        Kind::Werkzoekende => vum_proto::werkzoekenden::Werkzoekende::deserialize(doc)
            .ok()
            .map(|m| m.encode_to_vec()),
        Kind::Vacature => vum_proto::vacatures::Vacature::deserialize(doc)
            .ok()
            .map(|m| m.encode_to_vec()),
        _ => None,
    }
}

fn pb_of_text(kind: Kind, id: &str, text: &str) -> Result<Vec<u8>, StoreError> {
    let doc: Value = serde_json::from_str(text).map_err(|e| StoreError::Corrupt(id.into(), e))?;
    encode_pb(kind, &doc).ok_or_else(|| {
        StoreError::Corrupt(
            id.into(),
            serde::de::Error::custom("the document does not fit its protobuf message"),
        )
    })
}

fn bind_attrs<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    a: &Attrs,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    q.bind(a.pc4)
        .bind(a.max_reis)
        .bind(a.uren_min)
        .bind(a.uren_max)
        .bind(a.kantoor)
        .bind(a.onregelmatig)
        .bind(a.datum.clone())
        .bind(a.niveau.clone())
        .bind(Attrs::join(&a.beroepen))
        .bind(Attrs::join(&a.rijbewijzen))
        .bind(Attrs::join_talen(&a.talen))
        .bind(Attrs::join(&a.contracten))
}
