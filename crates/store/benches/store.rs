//! Store and selection at scale, on SQLite and (when reachable) PostgreSQL:
//!   * ingest: 1,000,000 generated profiles stored with `upsert_batch` (1000 per transaction),
//!     against the baseline of a bare multi-row INSERT of the same (id, document) rows into a scratch
//!     table on the same database, in the same run;
//!   * index load time;
//!   * selection: p50/p99 over a realistic mix of 1000 queries, full path (engine, fetch of at most
//!     100 documents, projection to the typed match form, audit entry), against the baseline of
//!     fetching 100 random documents by primary key;
//!   * database size.
//!
//! Run: `cargo bench -p store --bench store` (BENCH_PROFILES=n for another size; MATCHGATE_TEST_PG
//! for another PostgreSQL). Reported in BENCHMARKS.md.
// the allocator the `matchgate` binary (which runs `matchgate ingest` and the node) runs with
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::time::Instant;
use store::engine::Engine;
use store::service::{self, Caller};
use store::{now_ms, Store};
use vum::query::Selectie;
use vum::{Family, Kind};

fn profiles(n: usize, pcs: &[u16]) -> impl Iterator<Item = (String, Value)> + '_ {
    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    let beroepen: Vec<String> = (0..500)
        .map(|i| {
            format!(
                "https://linkeddata.competentnl.nl/uwv/id/occupation/{:010X}",
                i * 7919
            )
        })
        .collect();
    let licences = ["B", "BE", "C", "CE", "AM", "D"];
    (0..n).map(move |i| {
        let pc = pcs[rng.random_range(0..pcs.len())];
        let min = rng.random_range(4..32u32);
        let nb = rng.random_range(1..4);
        let nl = rng.random_range(0..3);
        let chosen: Vec<&str> = licences.choose_multiple(&mut rng, nl).copied().collect();
        let doc = json!({
            "idWerkzoekende": format!("wz{i:08}"),
            "mobiliteit": {"bemiddelingspostcode": format!("{pc}AB"), "maximaleReisafstand": rng.random_range(5..120)},
            "bemiddelingsberoep": (0..nb).map(|_| json!({"codeBeroepsnaam": beroepen[rng.random_range(0..beroepen.len())]})).collect::<Vec<_>>(),
            "werktijden": {"aantalWerkurenPerWeekMinimaal": min, "aantalWerkurenPerWeekMaximaal": min + rng.random_range(0..16), "indicatieKantoortijden": rng.random_range(0..3)},
            "contractvorm": [{"codeTypeArbeidscontract": if rng.random_bool(0.5) { "O" } else { "B" }}],
            "flexibiliteit": {"datumAanvangBeschikbaarVoorWerk": format!("2026-{:02}-{:02}", rng.random_range(1..13), rng.random_range(1..29)), "indicatieOnregelmatigWerkOfPloegendienst": rng.random_range(0..3)},
            "arbeidsmarktkwalificatie": {
                "rijbewijs": chosen.iter().map(|l| json!({"codeSoortRijbewijs": l})).collect::<Vec<_>>(),
                "taalbeheersing": [{"codeTaal": "nld", "codeNiveauTaalbeheersingMondeling": rng.random_range(1..5), "codeNiveauTaalbeheersingSchriftelijk": rng.random_range(1..5)}],
                "opleiding": [{"codeNiveauOpleiding": rng.random_range(1..7), "indicatieDiploma": 1}]
            },
            "emailadres": [format!("persoon{i}@example.nl")],
            "indicatieBeschikbaarheidContactgegevens": 1
        });
        (format!("wz{i:08}"), doc)
    })
}

fn query_mix(n: usize, pcs: &[u16]) -> Vec<Selectie> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    (0..n)
        .map(|_| {
            let pc = pcs[rng.random_range(0..pcs.len())];
            let mut q = serde_json::Map::new();
            let afstand = [5, 10, 25, 25, 50, 100][rng.random_range(0..6)];
            q.insert("selectiegebied".into(), json!({"postcode": format!("{pc}AB"), "afstand": afstand}));
            if rng.random_bool(0.6) {
                let h = rng.random_range(8..36);
                q.insert("werktijden.aantalWerkurenPerWeekMaximaal".into(), json!({"$gte": h}));
                q.insert("werktijden.aantalWerkurenPerWeekMinimaal".into(), json!({"$lte": h + 8}));
            }
            if rng.random_bool(0.4) {
                let codes: Vec<Value> = (0..2).map(|_| json!({"beroep.codeBeroepsnaam": {"$eq": format!("https://linkeddata.competentnl.nl/uwv/id/occupation/{:010X}", rng.random_range(0..500) * 7919)}})).collect();
                q.insert("bemiddelingsberoep".into(), json!({"$elemMatch": {"$or": codes}}));
            }
            if rng.random_bool(0.3) {
                q.insert("arbeidsmarktkwalificatie.rijbewijs".into(), json!({"$all": [{"$elemMatch": {"codeSoortRijbewijs": {"$eq": "B"}}}]}));
            }
            if rng.random_bool(0.2) {
                q.insert("arbeidsmarktkwalificatie.taalbeheersing".into(), json!({"$all": [{"$elemMatch": {"codeTaal": {"$eq": "nld"}, "codeNiveauTaalbeheersingMondeling": {"$gte": 3}}}]}));
            }
            if rng.random_bool(0.2) {
                q.insert("contractvorm".into(), json!({"$elemMatch": {"$or": [{"codeTypeArbeidscontract": {"$eq": "O"}}]}}));
            }
            Selectie::from_vraag_object(Family::Werkzoekenden, &Value::Object(q), "").unwrap()
        })
        .collect()
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

async fn db_size(store: &Store, sqlite_path: Option<&std::path::Path>) -> f64 {
    use sqlx::Row;
    match sqlite_path {
        Some(_) => {
            // the pages in use: the file keeps the dropped baseline table's pages on its free list
            let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(store.pool())
                .await;
            let mut pages = [0i64; 3];
            for (i, p) in ["page_count", "freelist_count", "page_size"]
                .iter()
                .enumerate()
            {
                pages[i] = sqlx::query(&format!("PRAGMA {p}"))
                    .fetch_one(store.pool())
                    .await
                    .map(|r| r.get::<i64, _>(0))
                    .unwrap_or(0);
            }
            ((pages[0] - pages[1]) * pages[2]) as f64 / 1e6
        }
        None => {
            sqlx::query("SELECT pg_database_size(current_database())")
                .fetch_one(store.pool())
                .await
                .map(|r| r.get::<i64, _>(0))
                .unwrap_or(0) as f64
                / 1e6
        }
    }
}

async fn run(name: &str, url: &str, sqlite_path: Option<&std::path::Path>, n: usize) {
    let store = Store::open(url).await.unwrap();
    let mut pcs: Vec<u16> = vum::refdata::pc4_table().keys().copied().collect();
    pcs.sort_unstable();
    let now = now_ms();

    // baseline: bare multi-row INSERT of (id, doc) into a scratch table, same batches
    sqlx::query("CREATE TABLE scratch (id TEXT PRIMARY KEY, doc TEXT NOT NULL)")
        .execute(store.pool())
        .await
        .unwrap();
    let sample_n = n.min(200_000);
    let t = Instant::now();
    let mut batch: Vec<(String, String)> = Vec::with_capacity(1000);
    let flush = |b: Vec<(String, String)>| {
        let store = store.clone();
        async move {
            let mut tx = store.pool().begin().await.unwrap();
            for chunk in b.chunks(500) {
                let mut q = String::from("INSERT INTO scratch (id, doc) VALUES ");
                for (i, _) in chunk.iter().enumerate() {
                    if i > 0 {
                        q.push_str(", ");
                    }
                    match store.backend() {
                        store::Backend::Sqlite => q.push_str("(?, ?)"),
                        store::Backend::Postgres => {
                            q.push_str(&format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
                        }
                    }
                }
                let mut query = sqlx::query(&q);
                for (id, d) in chunk {
                    query = query.bind(id.as_str()).bind(d.as_str());
                }
                query.execute(&mut *tx).await.unwrap();
            }
            tx.commit().await.unwrap();
        }
    };
    for (id, doc) in profiles(sample_n, &pcs) {
        batch.push((id, doc.to_string()));
        if batch.len() == 1000 {
            flush(std::mem::take(&mut batch)).await;
        }
    }
    flush(batch).await;
    let base_rate = sample_n as f64 / t.elapsed().as_secs_f64();
    sqlx::query("DROP TABLE scratch")
        .execute(store.pool())
        .await
        .unwrap();

    let t = Instant::now();
    let mut batch = Vec::with_capacity(1000);
    for (id, doc) in profiles(n, &pcs) {
        batch.push((id, doc));
        if batch.len() == 1000 {
            store
                .upsert_batch(Kind::Werkzoekende, &batch, now)
                .await
                .unwrap();
            batch.clear();
        }
    }
    store
        .upsert_batch(Kind::Werkzoekende, &batch, now)
        .await
        .unwrap();
    let ingest = t.elapsed().as_secs_f64();

    // the index built from the records' match columns (no snapshot yet; it is saved too)
    let t = Instant::now();
    let (engine, how) = Engine::load_from(&store, Kind::Werkzoekende).await.unwrap();
    let load = t.elapsed().as_secs_f64();
    assert!(matches!(how, store::engine::Loaded::Rebuilt { .. }));
    let snapshot_bytes = engine.encode().len();
    // a start: the index from its snapshot, then the first selection; against reading the
    // same rows' ids in one query (medians of 3)
    let first_query = query_mix(1, &pcs).remove(0);
    let (mut starts, mut id_reads) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let t = Instant::now();
        let (e, how) = Engine::load_from(&store, Kind::Werkzoekende).await.unwrap();
        let _ = e.select(&first_query, now, 90, 100).unwrap();
        starts.push(t.elapsed().as_secs_f64());
        assert!(
            matches!(how, store::engine::Loaded::Snapshot { .. }),
            "{how:?}"
        );
        let t = Instant::now();
        let ids: Vec<String> = sqlx::query_scalar(match store.backend() {
            store::Backend::Sqlite => "SELECT vum_id FROM records WHERE kind = ?",
            store::Backend::Postgres => "SELECT vum_id FROM records WHERE kind = $1",
        })
        .bind("werkzoekende")
        .fetch_all(store.pool())
        .await
        .unwrap();
        id_reads.push(t.elapsed().as_secs_f64());
        assert_eq!(ids.len(), n);
    }

    let queries = query_mix(1000, &pcs);
    let caller = Caller {
        actor: "bench".into(),
        on_behalf_of: "bench".into(),
        purpose: "bench".into(),
        transaction_id: "bench".into(),
    };
    // warm-up
    for q in queries.iter().take(50) {
        let _ = service::select(&store, &engine, Kind::Werkzoekende, q, 100, &caller, now).await;
    }
    let (mut full, mut eng, mut matched, mut returned) = (Vec::new(), Vec::new(), 0usize, 0usize);
    for q in &queries {
        let t = Instant::now();
        let sel = engine.select(q, now, 90, 100).unwrap();
        eng.push(t.elapsed().as_secs_f64() * 1e3);
        matched += usize::from(sel.more);
        let t = Instant::now();
        let r = service::select(&store, &engine, Kind::Werkzoekende, q, 100, &caller, now)
            .await
            .unwrap();
        full.push(t.elapsed().as_secs_f64() * 1e3);
        returned += r.len();
    }
    // baseline: fetch 100 random documents by primary key
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let mut base = Vec::new();
    for _ in 0..1000 {
        let ids: Vec<String> = rand::seq::index::sample(&mut rng, n, 100)
            .iter()
            .map(|i| format!("wz{i:08}"))
            .collect();
        let t = Instant::now();
        let docs = store.get_many(Kind::Werkzoekende, &ids, now).await.unwrap();
        base.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(docs.len(), 100);
    }
    // the transparency report (matchgate report): the aggregate over every record, suppression
    // and the HTML page, against a bare count of the same rows; medians of 3
    let org = transparency::figures::Organisation {
        oin: "00000001001234567000".into(),
        name: "bench".into(),
    };
    let (mut rep, mut figs, mut cnt) = (Vec::new(), Vec::new(), Vec::new());
    let mut rows = 0;
    for _ in 0..3 {
        let t = Instant::now();
        let c: i64 = sqlx::query_scalar(&match store.backend() {
            store::Backend::Sqlite => "SELECT COUNT(*) FROM records WHERE kind = ?".to_string(),
            store::Backend::Postgres => "SELECT COUNT(*) FROM records WHERE kind = $1".to_string(),
        })
        .bind("werkzoekende")
        .fetch_one(store.pool())
        .await
        .unwrap();
        cnt.push(t.elapsed().as_secs_f64());
        assert_eq!(c as usize, n);
        let t = Instant::now();
        let f = store.transparency(org.clone(), now).await.unwrap();
        figs.push(t.elapsed().as_secs_f64());
        let p = transparency::publish::publish(&f, transparency::geo::Geography::get());
        let r = transparency::merge::merge(vec![p], vec![], None);
        let html = transparency::render::html(&r);
        rep.push(t.elapsed().as_secs_f64());
        rows = r.rows.len();
        assert!(html.len() > 1000);
    }
    let size = db_size(&store, sqlite_path).await;
    println!("== {name}: {n} profiles");
    let (rep, figs, cnt) = (pct(&mut rep, 0.5), pct(&mut figs, 0.5), pct(&mut cnt, 0.5));
    println!("report  figures (aggregate)     {figs:.2}s");
    println!("report  figures + publish + HTML {rep:.2}s ({rows} rows)");
    println!("report  baseline COUNT(*)       {cnt:.2}s");
    println!("report  ratio report / count    {:.2}", rep / cnt);
    println!(
        "ingest  upsert_batch            {:>9.0} rows/s  ({:.1}s)",
        n as f64 / ingest,
        ingest
    );
    println!(
        "ingest  baseline bare INSERT    {:>9.0} rows/s  (first {sample_n} rows)",
        base_rate
    );
    println!(
        "ingest  ratio upsert / bare     {:.2}",
        (n as f64 / ingest) / base_rate
    );
    println!(
        "index   built from the records  {:.2}s ({} records, snapshot {:.0} MB)",
        load,
        engine.len(),
        snapshot_bytes as f64 / 1e6
    );
    let (start, ids) = (pct(&mut starts, 0.5), pct(&mut id_reads, 0.5));
    println!(
        "start   snapshot + 1st select   {start:.2}s   (target < 3 s: {})",
        if start < 3.0 { "met" } else { "NOT met" }
    );
    println!("start   baseline: read the ids  {ids:.2}s");
    println!("start   ratio start / ids       {:.2}", start / ids);
    let (f50, f99) = (pct(&mut full, 0.5), pct(&mut full, 0.99));
    let (e50, e99) = (pct(&mut eng, 0.5), pct(&mut eng, 0.99));
    let (b50, b99) = (pct(&mut base, 0.5), pct(&mut base, 0.99));
    println!("select  full path               p50 {f50:>7.2} ms  p99 {f99:>7.2} ms  ({} of 1000 queries had more than 100 matches; mean {:.0} returned)", matched, returned as f64 / 1000.0);
    println!("select  engine only             p50 {e50:>7.2} ms  p99 {e99:>7.2} ms");
    println!("select  baseline 100 docs by PK p50 {b50:>7.2} ms  p99 {b99:>7.2} ms");
    println!(
        "select  ratio full / baseline   p50 {:.2}  p99 {:.2}   (target p99 < 50 ms: {})",
        f50 / b50,
        f99 / b99,
        if f99 < 50.0 { "met" } else { "NOT met" }
    );
    println!("size    database                {size:.0} MB");
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("BENCH_PROFILES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.db");
    run(
        "sqlite",
        &format!("sqlite://{}", path.display()),
        Some(&path),
        n,
    )
    .await;
    let admin = std::env::var("MATCHGATE_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    use sqlx::Connection;
    match sqlx::PgConnection::connect(&admin).await {
        Ok(mut c) => {
            let _ = sqlx::query("DROP DATABASE IF EXISTS mg_bench WITH (FORCE)")
                .execute(&mut c)
                .await;
            sqlx::query("CREATE DATABASE mg_bench")
                .execute(&mut c)
                .await
                .unwrap();
            let base = admin
                .rsplit_once('/')
                .map(|(b, _)| b.to_string())
                .unwrap_or(admin.clone());
            run("postgres", &format!("{base}/mg_bench"), None, n).await;
            if std::env::var("BENCH_KEEP_PG").is_err() {
                let _ = sqlx::query("DROP DATABASE IF EXISTS mg_bench WITH (FORCE)")
                    .execute(&mut c)
                    .await;
            }
        }
        Err(e) => println!("== postgres: not measured, {admin} not reachable: {e}"),
    }
}
