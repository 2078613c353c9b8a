//! Crash safety: a `matchgate ingest` killed (SIGKILL) in the middle of a large import and then run
//! again ends in exactly the state of an uninterrupted run: same records, versions and hashes, and
//! the same change log entries, without gaps or duplicates.
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MAPPING: &str = r#"
kind = "werkzoekende"
[source]
format = "csv"
delimiter = ";"
[identity]
column = "id"
[consent]
column = "ok"
share = ["J"]
[fields."mobiliteit.bemiddelingspostcode"]
column = "pc"
[fields."werktijden.aantalWerkurenPerWeekMaximaal"]
column = "uren"
[fields."arbeidsmarktkwalificatie.rijbewijs[].codeSoortRijbewijs"]
column = "rb"
split = ","
"#;

fn export(path: &std::path::Path, rows: usize) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(f, "id;pc;uren;rb;ok").unwrap();
    let pcs = ["3011AB", "1012CD", "9711EF", "5611GH"];
    for i in 0..rows {
        writeln!(
            f,
            "L{i};{};{};{};{}",
            pcs[i % 4],
            8 + i % 30,
            if i % 3 == 0 { "B,BE" } else { "B" },
            if i % 10 == 7 { "N" } else { "J" }
        )
        .unwrap();
    }
}

fn ingest(db: &str, dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_matchgate"));
    c.args(["--database", db, "ingest", "--batch", "200", "--mapping"])
        .arg(dir.join("m.toml"))
        .arg(dir.join("export.csv"))
        .arg("--rejects")
        .arg(dir.join("rejects.csv"))
        .env("MATCHGATE_NODE_SECRET", "kill-test-secret-0123456789")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

async fn state(db: &str) -> (Vec<(String, String, i64, i64)>, Vec<(String, i64, String)>) {
    use sqlx::Row;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(db).await.unwrap();
    let recs =
        sqlx::query("SELECT vum_id, content_hash, version, deleted FROM records ORDER BY vum_id")
            .fetch_all(&pool)
            .await
            .unwrap();
    let changes = sqlx::query("SELECT vum_id, version, op FROM changes ORDER BY vum_id, version")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    (
        recs.iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect(),
        changes
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect(),
    )
}

async fn count(db: &str) -> i64 {
    use sqlx::Row;
    sqlx::any::install_default_drivers();
    match sqlx::AnyPool::connect(db).await {
        Ok(pool) => {
            let n = match sqlx::query("SELECT COUNT(*) FROM records")
                .fetch_one(&pool)
                .await
            {
                Ok(r) => r.get::<i64, _>(0),
                Err(_) => 0,
            };
            pool.close().await;
            n
        }
        Err(_) => 0,
    }
}

#[tokio::test]
async fn killed_ingest_rerun_equals_uninterrupted_ingest() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.toml"), MAPPING).unwrap();
    const ROWS: usize = 20_000;
    export(&dir.path().join("export.csv"), ROWS);
    let clean = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("clean.db").display()
    );
    let crash = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("crash.db").display()
    );

    assert!(ingest(&clean, dir.path()).status().unwrap().success());

    // start, wait until part of the import is in, then SIGKILL
    let mut child = ingest(&crash, dir.path()).spawn().unwrap();
    let start = Instant::now();
    let killed_at;
    loop {
        let n = count(&crash).await;
        if n >= 1_000 {
            child.kill().unwrap(); // SIGKILL on Unix
            killed_at = n;
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("ingest finished ({status}) before it could be killed; make the export larger");
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "ingest made no progress"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.wait().unwrap();
    let partial = count(&crash).await;
    assert!(
        partial > 0 && (partial as usize) < ROWS * 9 / 10,
        "killed mid-way: {partial} of {} records in (saw {killed_at})",
        ROWS * 9 / 10
    );

    // run again to completion
    assert!(ingest(&crash, dir.path()).status().unwrap().success());
    let (recs_a, changes_a) = state(&clean).await;
    let (recs_b, changes_b) = state(&crash).await;
    assert_eq!(recs_a.len(), ROWS * 9 / 10);
    assert_eq!(recs_a, recs_b, "records differ after kill + rerun");
    assert_eq!(
        changes_a, changes_b,
        "change log differs after kill + rerun (gaps or duplicates)"
    );
}
