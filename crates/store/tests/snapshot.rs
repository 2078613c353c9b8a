//! The selection index's snapshot, on SQLite and PostgreSQL: a node starts from it and catches up
//! from the logs; a missing, damaged or stale snapshot is detected and the index rebuilt from the
//! records; and an import's refreshes of unchanged records reach a running index (expiry).
mod common;
use common::{backends, open, shared};
use serde_json::Value;
use std::collections::BTreeSet;
use store::engine::{Engine, Loaded};
use store::{now_ms, Store};
use vum::query::Selectie;
use vum::{Family, Kind};

const DAY: i64 = 86_400_000;

fn docs() -> Vec<(String, Value)> {
    shared("vum/testdata/werkzoekenden-1000.json")
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["idWerkzoekende"].as_str().unwrap().to_string(), d.clone()))
        .collect()
}

/// Every match of a few queries, sorted: what two indexes must agree on.
fn answers(e: &Engine, now: i64) -> Vec<BTreeSet<String>> {
    [
        r#"{"selectiegebied": {"postcode": "3511AA", "afstand": 400}}"#,
        r#"{"selectiegebied": {"postcode": "1012AB", "afstand": 60}, "werktijden.aantalWerkurenPerWeekMaximaal": {"$gte": 24}}"#,
        r#"{"selectiegebied": {"postcode": "9711AA", "afstand": 120}, "arbeidsmarktkwalificatie.rijbewijs.codeSoortRijbewijs": {"$all": ["B"]}}"#,
    ]
    .iter()
    .map(|q| {
        let q: Value = serde_json::from_str(q).unwrap();
        let s = Selectie::from_vraag_object(Family::Werkzoekenden, &q, "").unwrap();
        let r = e.select(&s, now, 90, 100_000).unwrap();
        assert!(!r.more);
        r.ids.into_iter().collect()
    })
    .collect()
}

async fn fresh(store: &Store) -> Engine {
    let mut e = Engine::new(Kind::Werkzoekende);
    for r in store.attrs(Kind::Werkzoekende, None).await.unwrap() {
        e.put(&r.vum_id, r.refreshed_ms, &r.attrs);
    }
    e
}

#[tokio::test]
async fn a_snapshot_is_used_caught_up_and_rebuilt_when_missing_damaged_or_stale() {
    for b in backends().await {
        let s = open(&b).await;
        let (docs, now) = (docs(), now_ms());
        s.upsert_batch(Kind::Werkzoekende, &docs[..800], now)
            .await
            .unwrap();
        // missing: built from the records, and saved
        let (e, how) = Engine::load_from(&s, Kind::Werkzoekende).await.unwrap();
        assert_eq!(
            how,
            Loaded::Rebuilt {
                reason: "no snapshot"
            },
            "{}",
            b.name
        );
        assert_eq!(e.len(), 800);
        // present: used; after more changes (inserts, an update, deletes) it catches up
        s.upsert_batch(Kind::Werkzoekende, &docs[800..], now)
            .await
            .unwrap();
        let mut changed = docs[0].1.clone();
        changed["mobiliteit"]["bemiddelingspostcode"] = "9711AA".into();
        s.upsert_batch(Kind::Werkzoekende, &[(docs[0].0.clone(), changed)], now)
            .await
            .unwrap();
        for (id, _) in &docs[10..20] {
            s.remove(Kind::Werkzoekende, id, true, now).await.unwrap();
        }
        let (e, how) = Engine::load_from(&s, Kind::Werkzoekende).await.unwrap();
        assert!(
            matches!(how, Loaded::Snapshot { applied } if applied >= 211),
            "{}: {how:?}",
            b.name
        );
        assert_eq!(e.len(), 990);
        let want = answers(&fresh(&s).await, now);
        assert_eq!(answers(&e, now), want, "{}", b.name);
        e.save(&s).await.unwrap();
        let (again, how) = Engine::load_from(&s, Kind::Werkzoekende).await.unwrap();
        assert_eq!(how, Loaded::Snapshot { applied: 0 });
        assert_eq!(answers(&again, now), want);

        // damaged: a flipped byte fails the checksum
        sqlx::query("UPDATE engine_snapshots SET checksum = '00'")
            .execute(s.pool())
            .await
            .unwrap();
        let (e, how) = Engine::load_from(&s, Kind::Werkzoekende).await.unwrap();
        assert_eq!(
            how,
            Loaded::Rebuilt {
                reason: "damaged snapshot (checksum)"
            }
        );
        assert_eq!(answers(&e, now), want);
        // damaged: bytes with a matching checksum that do not decode
        let garbage = b"MGIX\x01\x00\x00\x00\x0cwerkzoekende\xff\xff\xff\xff".to_vec();
        let sql = match s.backend() {
            store::Backend::Sqlite => "UPDATE engine_snapshots SET data = ?, checksum = ?",
            store::Backend::Postgres => "UPDATE engine_snapshots SET data = $1, checksum = $2",
        };
        sqlx::query(sql)
            .bind(garbage.clone())
            .bind(hex_sha256(&garbage))
            .execute(s.pool())
            .await
            .unwrap();
        let (e, how) = Engine::load_from(&s, Kind::Werkzoekende).await.unwrap();
        assert_eq!(
            how,
            Loaded::Rebuilt {
                reason: "damaged snapshot (does not decode)"
            }
        );
        assert_eq!(answers(&e, now), want);
        // stale: a cursor that is not a change of this database's log
        sqlx::query("UPDATE engine_snapshots SET change_tag = 'another-history:1'")
            .execute(s.pool())
            .await
            .unwrap();
        let (e, how) = Engine::load_from(&s, Kind::Werkzoekende).await.unwrap();
        assert_eq!(
            how,
            Loaded::Rebuilt {
                reason: "stale snapshot (not of this database's logs)"
            }
        );
        assert_eq!(answers(&e, now), want);
        sqlx::query("UPDATE engine_snapshots SET change_seq = change_seq + 1000000")
            .execute(s.pool())
            .await
            .unwrap();
        let (_, how) = Engine::load_from(&s, Kind::Werkzoekende).await.unwrap();
        assert!(matches!(how, Loaded::Rebuilt { .. }), "{how:?}");
        // too old
        sqlx::query("UPDATE engine_snapshots SET made_ms = 0")
            .execute(s.pool())
            .await
            .unwrap();
        let (_, how) = Engine::load_from(&s, Kind::Werkzoekende).await.unwrap();
        assert_eq!(
            how,
            Loaded::Rebuilt {
                reason: "snapshot too old"
            }
        );
        // and every rebuild saved a good snapshot again
        let (_, how) = Engine::load_from(&s, Kind::Werkzoekende).await.unwrap();
        assert_eq!(how, Loaded::Snapshot { applied: 0 });
    }
}

/// An import that finds a record unchanged moves only its refresh time; a running index (and
/// one started from a snapshot) must see that, or it expires a record the import confirmed.
#[tokio::test]
async fn refreshes_of_unchanged_records_reach_the_index() {
    for b in backends().await {
        let s = open(&b).await;
        let docs = docs();
        let t0 = now_ms() - 80 * DAY;
        s.upsert_batch(Kind::Werkzoekende, &docs[..100], t0)
            .await
            .unwrap();
        let mut running = Engine::load(&s, Kind::Werkzoekende).await.unwrap();
        // 80 days later the same export again: unchanged, refreshed
        let t1 = now_ms();
        s.upsert_batch(Kind::Werkzoekende, &docs[..100], t1)
            .await
            .unwrap();
        running.catch_up(&s).await.unwrap();
        // 20 days on, the first import is 100 days old, the refresh 20
        let later = t1 + 20 * DAY;
        let wide = |e: &Engine| answers(e, later)[0].len();
        let all_in_area = answers(&fresh(&s).await, later)[0].len();
        assert!(all_in_area > 5, "{all_in_area}");
        assert_eq!(wide(&running), all_in_area, "{}: the running index", b.name);
        let (started, _) = Engine::load_from(&s, Kind::Werkzoekende).await.unwrap();
        assert_eq!(wide(&started), all_in_area, "{}: from the snapshot", b.name);
    }
}

fn hex_sha256(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}
