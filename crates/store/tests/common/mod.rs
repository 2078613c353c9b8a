//! Test backends: every store test runs against a SQLite file and against PostgreSQL
//! (127.0.0.1:5432, database `test`, trust auth; override with MATCHGATE_TEST_PG). Without a
//! reachable PostgreSQL the PostgreSQL half is skipped with a visible message, unless
//! MATCHGATE_REQUIRE_PG=1 (which .ci/run sets), in which case it fails.
#![allow(dead_code)]
use sqlx::Connection;
use store::Store;

pub struct Backend {
    pub name: &'static str,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    drop_db: Option<(String, String)>,
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Some((admin, db)) = self.drop_db.take() {
            // dropped inside a test's runtime: clean up on a thread of our own
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                            .execute(&mut c)
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

pub fn pg_admin_url() -> String {
    std::env::var("MATCHGATE_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A fresh PostgreSQL database for one test, or None (skipped) when the server is not reachable.
pub async fn fresh_pg() -> Option<Backend> {
    let admin = pg_admin_url();
    match sqlx::PgConnection::connect(&admin).await {
        Ok(mut c) => {
            let db = format!("mg_test_{}", uuid_like());
            sqlx::query(&format!("CREATE DATABASE {db}"))
                .execute(&mut c)
                .await
                .expect("create test database");
            let base = admin
                .rsplit_once('/')
                .map(|(b, _)| b.to_string())
                .unwrap_or(admin.clone());
            Some(Backend {
                name: "postgres",
                url: format!("{base}/{db}"),
                _dir: None,
                drop_db: Some((admin, db)),
            })
        }
        Err(e) => {
            if std::env::var("MATCHGATE_REQUIRE_PG").as_deref() == Ok("1") {
                panic!("PostgreSQL at {admin} is required (MATCHGATE_REQUIRE_PG=1) but not reachable: {e}");
            }
            eprintln!("SKIPPED (PostgreSQL): {admin} not reachable: {e}. Set MATCHGATE_REQUIRE_PG=1 to make this a failure.");
            None
        }
    }
}

fn uuid_like() -> String {
    use rand::Rng;
    let mut r = rand::rng();
    (0..12)
        .map(|_| char::from(b'a' + r.random_range(0..26u8)))
        .collect()
}

pub fn fresh_sqlite() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    Backend {
        name: "sqlite",
        url,
        _dir: Some(dir),
        drop_db: None,
    }
}

/// Both backends (PostgreSQL only when reachable).
pub async fn backends() -> Vec<Backend> {
    let mut v = vec![fresh_sqlite()];
    v.extend(fresh_pg().await);
    v
}

pub async fn open(b: &Backend) -> Store {
    Store::open(&b.url)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", b.name))
}

pub fn shared(rel: &str) -> serde_json::Value {
    let base = std::env::var("MATCHGATE_SHARED")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared").to_string());
    let path = format!("{base}/{rel}");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
        .unwrap()
}
