//! Opening a store (SQLite or PostgreSQL, migrations), the reader connections of the hot read
//! paths, write transactions, and the SQL helpers: placeholder rewriting and chunked lists.
use crate::{Backend, Store, StoreError, DEFAULT_EXPIRY_DAYS};
use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;
use std::time::Duration;

/// Connections kept out of the pool for the hot read paths (details, feed pages, selections'
/// documents). sqlx pings a pooled connection each time it goes back to the pool, a full round
/// trip per query; these are taken and put back without one. A connection whose query failed or
/// was cancelled is not put back.
pub(crate) struct Readers {
    idle: std::sync::Mutex<Vec<ReaderConn>>,
    permits: tokio::sync::Semaphore,
    /// SQLite: readers are native connections to this file, so that rows are not converted to
    /// `AnyRow` and a whole feed page can pass from SQLite's worker thread at once
    sqlite_url: Option<String>,
}

pub(crate) enum ReaderConn {
    Any(sqlx::AnyConnection),
    Sqlite(sqlx::SqliteConnection),
}

/// Reader connections: SQLite answers from one file (each connection has a worker thread; more
/// only add thread switches on a small machine); PostgreSQL waits on the network, so more overlap.
const READERS_SQLITE: usize = 2;
const READERS_POSTGRES: usize = 6;

/// The file path of a `sqlite:` URL (`sqlite://path?options`; `sqlite:///abs/path` is absolute).
fn sqlite_path(url: &str) -> &str {
    url.trim_start_matches("sqlite:")
        .trim_start_matches("//")
        .split('?')
        .next()
        .unwrap_or_default()
}

/// Run the same code on whichever kind of reader connection it is (the query's database type is
/// inferred from the connection).
macro_rules! on_reader {
    ($reader:ident, $c:ident => $body:expr) => {
        match &mut $reader.conn {
            $crate::conn::ReaderConn::Sqlite($c) => $body,
            $crate::conn::ReaderConn::Any($c) => $body,
        }
    };
}
pub(crate) use on_reader;

/// A reader connection on loan; [`Reader::done`] returns it.
pub(crate) struct Reader<'a> {
    readers: &'a Readers,
    pub(crate) conn: ReaderConn,
    _permit: tokio::sync::SemaphorePermit<'a>,
}

impl Reader<'_> {
    /// Put the connection back for the next reader.
    pub(crate) fn done(self) {
        self.readers
            .idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(self.conn);
    }
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
                let path = sqlite_path(url);
                if let Some(dir) = std::path::Path::new(path).parent() {
                    if !path.is_empty() && !path.starts_with(':') && !dir.as_os_str().is_empty() {
                        std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                            dir: dir.to_path_buf(),
                            source,
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
            last_purge: std::sync::Arc::new(std::sync::atomic::AtomicI64::new(i64::MIN)),
            results: Default::default(),
            result_scan: Default::default(),
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

    /// The SQLite file this store is on, as sqlx reads the URL (percent-decoded); `None` on
    /// PostgreSQL and for an in-memory database, which another connection could not share.
    pub(crate) fn sqlite_file(&self) -> Option<std::path::PathBuf> {
        use sqlx::sqlite::SqliteConnectOptions;
        let url = self.readers.sqlite_url.as_deref()?;
        let opts: SqliteConnectOptions = url.parse().ok()?;
        let file = opts.get_filename();
        let name = file.to_string_lossy();
        let in_memory = name.is_empty()
            || name.starts_with(':')
            || name.starts_with("file:sqlx-in-memory")
            || url.contains("mode=memory");
        (!in_memory).then(|| file.to_path_buf())
    }

    /// Which database this store is on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection pool (for ad-hoc queries: tools, tests, benchmarks).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Borrow a reader connection (opening one when none is idle).
    pub(crate) async fn reader(&self) -> Result<Reader<'_>, StoreError> {
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
    pub(crate) fn sql(&self, q: &str) -> String {
        placeholders(self.backend, q)
    }

    /// `items` in chunks of at most `size`, each with its SQL: `sql` given `unit` once per item of
    /// the chunk, comma-separated (`?, ?, ?` for an `IN (...)` list, `(?, ?), (?, ?)` for the rows
    /// of a multi-row INSERT), with the placeholders for the backend.
    pub(crate) fn chunked<'a, T>(
        &self,
        items: &'a [T],
        size: usize,
        unit: &'a str,
        sql: impl Fn(&str) -> String + 'a,
    ) -> impl Iterator<Item = (&'a [T], String)> + 'a {
        let backend = self.backend;
        items.chunks(size).map(move |chunk| {
            let list = vec![unit; chunk.len()].join(", ");
            (chunk, placeholders(backend, &sql(&list)))
        })
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

    /// A write transaction that writes the change log: [`Store::begin_write`], and on PostgreSQL
    /// the change log's writer lock.
    pub(crate) async fn begin_writer(
        &self,
    ) -> Result<sqlx::Transaction<'_, sqlx::Any>, StoreError> {
        let mut tx = self.begin_write().await?;
        if self.backend == Backend::Postgres {
            // serialise writers so change-log sequence numbers become visible in order
            sqlx::query("SELECT id FROM change_writer WHERE id = 1 FOR UPDATE")
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx)
    }

    /// Refresh the planner's statistics after a large import (PostgreSQL: ANALYZE; SQLite: optimize).
    /// Also forgets refresh batches older than the expiry period and a month: a refresh that old
    /// leaves its record expired whether or not an index applies it.
    pub async fn optimize(&self) -> Result<(), StoreError> {
        let horizon = crate::now_ms() - (self.expiry_days.max(90) + 30) * 86_400_000;
        sqlx::query(&self.sql("DELETE FROM refreshes WHERE at_ms < ?"))
            .bind(horizon)
            .execute(&self.pool)
            .await?;
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
}

/// `q` with its `?` placeholders as the backend writes them: PostgreSQL numbers them (`$1, $2, ...`).
fn placeholders(backend: Backend, q: &str) -> String {
    match backend {
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
