//! The store's contract, on SQLite and PostgreSQL alike.
mod common;
use common::{backends, open};
use serde_json::json;
use store::{now_ms, AuditEntry, Upserted};
use vum::Kind;

fn doc(id: &str, pc: &str, hours: i64) -> serde_json::Value {
    json!({"idWerkzoekende": id, "mobiliteit": {"bemiddelingspostcode": pc}, "werktijden": {"aantalWerkurenPerWeekMaximaal": hours}})
}

#[tokio::test]
async fn upserts_are_idempotent_and_versioned() {
    for b in backends().await {
        let s = open(&b).await;
        let now = now_ms();
        let batch = vec![
            ("a".to_string(), doc("a", "3011AB", 32)),
            ("b".to_string(), doc("b", "1012AB", 24)),
        ];
        assert_eq!(
            s.upsert_batch(Kind::Werkzoekende, &batch, now)
                .await
                .unwrap(),
            vec![Upserted::Inserted, Upserted::Inserted],
            "{}",
            b.name
        );
        // the same import again changes nothing
        assert_eq!(
            s.upsert_batch(Kind::Werkzoekende, &batch, now + 1)
                .await
                .unwrap(),
            vec![Upserted::Unchanged, Upserted::Unchanged],
            "{}",
            b.name
        );
        assert_eq!(
            s.changes_since(None, 0, 100).await.unwrap().len(),
            2,
            "{}",
            b.name
        );
        // key order does not make a document different
        let reordered: serde_json::Value = serde_json::from_str(r#"{"werktijden":{"aantalWerkurenPerWeekMaximaal":32},"mobiliteit":{"bemiddelingspostcode":"3011AB"},"idWerkzoekende":"a"}"#).unwrap();
        assert_eq!(
            s.upsert_batch(Kind::Werkzoekende, &[("a".into(), reordered)], now + 2)
                .await
                .unwrap(),
            vec![Upserted::Unchanged]
        );
        // a real change bumps the version and logs it
        assert_eq!(
            s.upsert_batch(
                Kind::Werkzoekende,
                &[("a".into(), doc("a", "3011AB", 40))],
                now + 3
            )
            .await
            .unwrap(),
            vec![Upserted::Updated]
        );
        let ch = s
            .changes_since(Some(Kind::Werkzoekende), 0, 100)
            .await
            .unwrap();
        assert_eq!(
            ch.iter()
                .map(|c| (c.vum_id.as_str(), c.version, c.deleted))
                .collect::<Vec<_>>(),
            vec![("a", 1, false), ("b", 1, false), ("a", 2, false)],
            "{}",
            b.name
        );
        assert!(
            ch.windows(2).all(|w| w[0].seq < w[1].seq),
            "monotonic cursor"
        );
        assert_eq!(
            s.get(Kind::Werkzoekende, "a", now + 3)
                .await
                .unwrap()
                .unwrap()["werktijden"]["aantalWerkurenPerWeekMaximaal"],
            40
        );
        // kinds are separate
        assert!(s.get(Kind::Vacature, "a", now).await.unwrap().is_none());
    }
}

/// A batch larger than one statement's part: new, changed and unchanged records mixed, each with
/// its outcome in order, its version, one change-log row per change, and the content stored.
#[tokio::test]
async fn a_large_mixed_batch_is_written_part_by_part_in_order() {
    for b in backends().await {
        let s = open(&b).await;
        let now = now_ms();
        let first: Vec<(String, serde_json::Value)> = (0..700)
            .map(|n| {
                (
                    format!("m{n}"),
                    doc(&format!("m{n}"), "3011AB", 10 + n % 30),
                )
            })
            .collect();
        let out = s
            .upsert_batch(Kind::Werkzoekende, &first, now)
            .await
            .unwrap();
        assert!(out.iter().all(|u| *u == Upserted::Inserted), "{}", b.name);
        // every third record changes, 300 are new, the rest are as they were
        let second: Vec<(String, serde_json::Value)> = (0..1000)
            .map(|n| {
                let id = format!("m{n}");
                let hours = if n % 3 == 0 { 40 } else { 10 + n % 30 };
                let d = doc(&id, "3011AB", hours);
                (id, d)
            })
            .collect();
        let out = s
            .upsert_batch(Kind::Werkzoekende, &second, now + 1)
            .await
            .unwrap();
        for (n, u) in out.iter().enumerate() {
            let want = if n >= 700 {
                Upserted::Inserted
            } else if n % 3 == 0 {
                Upserted::Updated
            } else {
                Upserted::Unchanged
            };
            assert_eq!(*u, want, "{}: record {n}", b.name);
        }
        let changes = s
            .changes_since(Some(Kind::Werkzoekende), 0, 10_000)
            .await
            .unwrap();
        let updated = out.iter().filter(|u| **u == Upserted::Updated).count();
        assert_eq!(changes.len(), 700 + 300 + updated, "{}", b.name);
        let later: Vec<(&str, i64)> = changes[700..]
            .iter()
            .map(|c| (c.vum_id.as_str(), c.version))
            .collect();
        let expected: Vec<(String, i64)> = out
            .iter()
            .enumerate()
            .filter_map(|(n, u)| match u {
                Upserted::Updated => Some((format!("m{n}"), 2)),
                Upserted::Inserted => Some((format!("m{n}"), 1)),
                _ => None,
            })
            .collect();
        let expected: Vec<(&str, i64)> = expected.iter().map(|(i, v)| (i.as_str(), *v)).collect();
        assert_eq!(
            later, expected,
            "{}: the change log in the batch's order",
            b.name
        );
        for n in [0usize, 3, 299, 699, 700, 999] {
            let id = format!("m{n}");
            let got = s.get(Kind::Werkzoekende, &id, now + 1).await.unwrap();
            assert_eq!(got.as_ref(), Some(&second[n].1), "{}: {id}", b.name);
        }
    }
}

#[tokio::test]
async fn tombstones_hide_records_and_enter_the_change_log() {
    for b in backends().await {
        let s = open(&b).await;
        let now = now_ms();
        s.upsert_batch(
            Kind::Werkzoekende,
            &[("a".into(), doc("a", "3011AB", 32))],
            now,
        )
        .await
        .unwrap();
        assert!(s
            .remove(Kind::Werkzoekende, "a", true, now + 1)
            .await
            .unwrap());
        assert!(
            !s.remove(Kind::Werkzoekende, "a", true, now + 2)
                .await
                .unwrap(),
            "second removal is a no-op"
        );
        assert!(
            s.get(Kind::Werkzoekende, "a", now + 2)
                .await
                .unwrap()
                .is_none(),
            "{}",
            b.name
        );
        let last = s.changes_since(None, 0, 10).await.unwrap().pop().unwrap();
        assert!(last.deleted && last.version == 2, "{last:?}");
        let st = s.status(Kind::Werkzoekende, now + 2).await.unwrap();
        assert_eq!((st.live, st.withdrawn), (0, 1));
        // re-importing with consent brings it back as a new version
        assert_eq!(
            s.upsert_batch(
                Kind::Werkzoekende,
                &[("a".into(), doc("a", "3011AB", 32))],
                now + 3
            )
            .await
            .unwrap(),
            vec![Upserted::Updated]
        );
        assert!(s
            .get(Kind::Werkzoekende, "a", now + 3)
            .await
            .unwrap()
            .is_some());
    }
}

#[tokio::test]
async fn records_not_refreshed_for_90_days_expire() {
    for b in backends().await {
        let s = open(&b).await;
        let day = 86_400_000;
        let t0 = now_ms() - 100 * day;
        s.upsert_batch(
            Kind::Werkzoekende,
            &[
                ("old".into(), doc("old", "3011AB", 32)),
                ("new".into(), doc("new", "3011AB", 32)),
            ],
            t0,
        )
        .await
        .unwrap();
        // 'new' is refreshed by a later import (unchanged content), 'old' is not
        s.upsert_batch(
            Kind::Werkzoekende,
            &[("new".into(), doc("new", "3011AB", 32))],
            t0 + 50 * day,
        )
        .await
        .unwrap();
        let now = t0 + 100 * day;
        assert!(
            s.get(Kind::Werkzoekende, "old", now)
                .await
                .unwrap()
                .is_none(),
            "{}",
            b.name
        );
        assert!(
            s.get(Kind::Werkzoekende, "new", now)
                .await
                .unwrap()
                .is_some(),
            "{}",
            b.name
        );
        assert_eq!(
            s.expired_ids(Kind::Werkzoekende, now).await.unwrap(),
            vec!["old".to_string()]
        );
        let st = s.status(Kind::Werkzoekende, now).await.unwrap();
        assert_eq!((st.live, st.expired), (1, 1));
    }
}

#[tokio::test]
async fn audit_log_is_hash_chained_append_only_and_tamper_evident() {
    for b in backends().await {
        let s = open(&b).await;
        let e = |n: i64| AuditEntry {
            actor: "00000001234567890000".into(),
            on_behalf_of: "00000001111111110000".into(),
            action: "select".into(),
            purpose: "bemiddeling".into(),
            transaction_id: format!("tx-{n}"),
            subject: "werkzoekende".into(),
            result_count: n,
        };
        let now = now_ms();
        for n in 1..=5 {
            assert_eq!(s.audit(&e(n), now + n).await.unwrap(), n);
        }
        assert_eq!(s.audit_verify().await.unwrap(), Ok(5), "{}", b.name);
        // the database itself refuses updates and deletes
        assert!(
            sqlx::query("UPDATE audit SET result_count = 99 WHERE seq = 3")
                .execute(s.pool())
                .await
                .is_err(),
            "{}: update allowed",
            b.name
        );
        assert!(
            sqlx::query("DELETE FROM audit WHERE seq = 5")
                .execute(s.pool())
                .await
                .is_err(),
            "{}: delete allowed",
            b.name
        );
        // someone who gets past the triggers is still caught by the chain
        match b.name {
            "sqlite" => {
                sqlx::query("DROP TRIGGER audit_no_update")
                    .execute(s.pool())
                    .await
                    .unwrap();
                sqlx::query("UPDATE audit SET result_count = 99 WHERE seq = 3")
                    .execute(s.pool())
                    .await
                    .unwrap();
            }
            _ => {
                sqlx::query("ALTER TABLE audit DISABLE TRIGGER audit_no_change")
                    .execute(s.pool())
                    .await
                    .unwrap();
                sqlx::query("UPDATE audit SET result_count = 99 WHERE seq = 3")
                    .execute(s.pool())
                    .await
                    .unwrap();
            }
        }
        assert_eq!(
            s.audit_verify().await.unwrap(),
            Err(store::ChainBreak::Altered { seq: 3 }),
            "{}",
            b.name
        );
    }
}

#[tokio::test]
async fn the_official_data_stores_and_reads_back_unchanged() {
    let docs = common::shared("vum/testdata/werkzoekenden-1000.json");
    let batch: Vec<(String, serde_json::Value)> = docs
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["idWerkzoekende"].as_str().unwrap().to_string(), d.clone()))
        .collect();
    for b in backends().await {
        let s = open(&b).await;
        let now = now_ms();
        let out = s
            .upsert_batch(Kind::Werkzoekende, &batch, now)
            .await
            .unwrap();
        assert!(out.iter().all(|o| *o == Upserted::Inserted));
        let ids: Vec<String> = batch.iter().map(|(id, _)| id.clone()).collect();
        let back = s.get_many(Kind::Werkzoekende, &ids, now).await.unwrap();
        assert_eq!(back.len(), 1000, "{}", b.name);
        for ((id, d), (id2, d2)) in batch.iter().zip(&back) {
            assert_eq!((id, d), (id2, d2), "{}", b.name);
        }
    }
}

#[tokio::test]
async fn the_protobuf_form_is_served_and_rebuilt_from_the_json_of_older_rows() {
    use prost::Message;
    let vacs = common::shared("vum/testdata/vacatures-93.json");
    let batch: Vec<(String, serde_json::Value)> = vacs
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["idVacature"].as_str().unwrap().to_string(), d.clone()))
        .collect();
    let typed = |d: &serde_json::Value| -> vum_proto::vacatures::Vacature {
        serde_json::from_value(d.clone()).unwrap()
    };
    for b in backends().await {
        let s = open(&b).await;
        let now = now_ms();
        s.upsert_batch(Kind::Vacature, &batch, now).await.unwrap();
        s.remove(Kind::Vacature, &batch[0].0, false, now)
            .await
            .unwrap();
        // the detail in protobuf is the document's message
        let pb = s
            .get_pb(Kind::Vacature, &batch[1].0, now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            vum_proto::vacatures::Vacature::decode(pb.as_slice()).unwrap(),
            typed(&batch[1].1),
            "{}",
            b.name
        );
        // the feed: every change in order, the removed record as a tombstone (twice: its upsert
        // now reads as gone, and its delete)
        let page = s.feed_page_pb(Kind::Vacature, 0, 1000, now).await.unwrap();
        assert_eq!(page.len(), 94, "{}", b.name);
        assert!(page.windows(2).all(|w| w[0].seq < w[1].seq));
        assert_eq!(page.iter().filter(|p| p.pb.is_none()).count(), 2);
        for e in page.iter().filter(|p| p.pb.is_some()) {
            let d = &batch.iter().find(|(i, _)| *i == e.vum_id).unwrap().1;
            let v = vum_proto::vacatures::Vacature::decode(e.pb.as_ref().unwrap().as_slice());
            assert_eq!(v.unwrap(), typed(d), "{}", b.name);
        }
        // rows written before the protobuf column existed (JSON only) are encoded from their JSON
        for (id, d) in &batch[1..] {
            sqlx::query("UPDATE records SET doc = $1, pb = NULL, extra = NULL WHERE vum_id = $2")
                .bind(d.to_string())
                .bind(id.as_str())
                .execute(s.pool())
                .await
                .unwrap();
        }
        let again = s.feed_page_pb(Kind::Vacature, 0, 1000, now).await.unwrap();
        assert_eq!(again, page, "{}", b.name);
        assert_eq!(
            s.get_pb(Kind::Vacature, &batch[1].0, now).await.unwrap(),
            Some(pb),
            "{}",
            b.name
        );
    }
}

/// Group commits keep one chain, also while another handle on the same database appends
/// without group commit at the same time (on SQLite the group writer has its own connection).
#[tokio::test]
async fn group_committed_audit_entries_keep_one_unbroken_chain() {
    for b in backends().await {
        let s = open(&b).await.with_group_commit();
        let plain = open(&b).await;
        let tasks: Vec<_> = (0..250)
            .map(|n| {
                let s = if n % 5 == 0 { plain.clone() } else { s.clone() };
                tokio::spawn(async move {
                    let e = AuditEntry {
                        actor: "a".into(),
                        on_behalf_of: "b".into(),
                        action: "get".into(),
                        purpose: "p".into(),
                        transaction_id: format!("t{n}"),
                        subject: format!("id{n}"),
                        result_count: 1,
                    };
                    s.audit(&e, now_ms()).await.unwrap()
                })
            })
            .collect();
        let mut seqs = Vec::new();
        for t in tasks {
            seqs.push(t.await.unwrap());
        }
        seqs.sort_unstable();
        assert_eq!(
            seqs,
            (1..=250).collect::<Vec<i64>>(),
            "{}: every caller got its own place in the chain",
            b.name
        );
        assert_eq!(s.audit_verify().await.unwrap(), Ok(250), "{}", b.name);
    }
}

/// A detail read in its audit entry's transaction: the same bytes as a plain read, an entry that
/// says whether the record was released, for many callers at once sharing group commits, and
/// the same without group commit.
#[tokio::test]
async fn a_detail_is_read_in_the_transaction_that_audits_it() {
    for grouped in [true, false] {
        for b in backends().await {
            let s = open(&b).await;
            let s = if grouped { s.with_group_commit() } else { s };
            let now = now_ms();
            let docs = live_and_one_expired(&s, "w", 50, "stale", now).await;
            let entry = |id: &str| AuditEntry {
                actor: "00000001003214345000".into(),
                on_behalf_of: "00000001003214345000".into(),
                action: "get".into(),
                purpose: "bemiddeling".into(),
                transaction_id: format!("t-{id}"),
                subject: format!("werkzoekende:{id}"),
                // set by the store from what it found
                result_count: 7,
            };
            // 50 shared records, one expired and one unknown, asked at once
            let mut ids: Vec<String> = docs.iter().map(|(id, _)| id.clone()).collect();
            ids.push("stale".into());
            ids.push("nobody".into());
            let tasks: Vec<_> = ids
                .iter()
                .map(|id| {
                    let (s, id, e) = (s.clone(), id.clone(), entry(id));
                    tokio::spawn(async move {
                        s.get_pb_audited(Kind::Werkzoekende, &id, e, now)
                            .await
                            .unwrap()
                    })
                })
                .collect();
            for (id, t) in ids.iter().zip(tasks) {
                let got = t.await.unwrap();
                let plain = s.get_pb(Kind::Werkzoekende, id, now).await.unwrap();
                assert_eq!(got, plain, "{} grouped={grouped}: {id}", b.name);
                assert_eq!(got.is_some(), id.starts_with('w'), "{}: {id}", b.name);
            }
            let rows: Vec<(String, i64)> =
                sqlx::query_as("SELECT subject, result_count FROM audit ORDER BY seq")
                    .fetch_all(s.pool())
                    .await
                    .unwrap();
            assert_eq!(rows.len(), ids.len(), "{}: one entry per detail", b.name);
            for (subject, count) in rows {
                let found = !subject.ends_with(":stale") && !subject.ends_with(":nobody");
                assert_eq!(
                    count,
                    i64::from(found),
                    "{} grouped={grouped}: {subject}",
                    b.name
                );
            }
            assert_eq!(
                s.audit_verify().await.unwrap(),
                Ok(ids.len() as i64),
                "{}",
                b.name
            );
        }
    }
}

/// Result sets: a vumID leads to its peer record and counts against its set's details; a set
/// older than a day grants nothing, whether or not it has been deleted yet, and it is deleted when
/// a later set is written.
#[tokio::test]
async fn result_sets_grant_details_for_a_day_and_are_purged_after() {
    use store::exchange::{DetailGrant, ResultId, RESULT_SET_TTL_MS};
    for b in backends().await {
        let s = open(&b).await;
        let now = now_ms();
        let id = |n: u32| ResultId {
            vum_id: format!("v{n}"),
            peer_oin: "00000001003214345000".into(),
            source_id: format!("src{n}"),
        };
        s.remember_result_set(
            "old",
            Kind::Werkzoekende,
            &[id(1)],
            now - RESULT_SET_TTL_MS - 60_000,
        )
        .await
        .unwrap();
        s.remember_result_set("new", Kind::Werkzoekende, &[id(2), id(3)], now - 1000)
            .await
            .unwrap();
        // the old set is past the day: unknown, even if it were still stored
        assert!(
            matches!(
                s.use_detail("v1", Kind::Werkzoekende, 2).await.unwrap(),
                DetailGrant::Unknown
            ),
            "{}",
            b.name
        );
        match s.use_detail("v2", Kind::Werkzoekende, 2).await.unwrap() {
            DetailGrant::Granted(r) => {
                assert_eq!((r.source_id.as_str(), r.vraag_id.as_str()), ("src2", "new"))
            }
            other => panic!("{}: {other:?}", b.name),
        }
        assert!(matches!(
            s.use_detail("v3", Kind::Werkzoekende, 2).await.unwrap(),
            DetailGrant::Granted(_)
        ));
        assert!(
            matches!(s.use_detail("v2", Kind::Werkzoekende, 2).await.unwrap(), DetailGrant::Exhausted(v) if v == "new"),
            "{}: two details per set",
            b.name
        );
        // wrong kind: not this set's
        assert!(matches!(
            s.use_detail("v3", Kind::Vacature, 2).await.unwrap(),
            DetailGrant::Unknown
        ));
        // the first write purged nothing young; a write more than a minute later deleted the
        // old set (one row: its ids are packed)
        s.remember_result_set("later", Kind::Vacature, &[id(4)], now + 61_000)
            .await
            .unwrap();
        let left: Vec<(String,)> =
            sqlx::query_as("SELECT vraag_id FROM result_sets ORDER BY vraag_id")
                .fetch_all(s.pool())
                .await
                .unwrap();
        assert_eq!(
            left,
            vec![("later".to_string(),), ("new".to_string(),)],
            "{}",
            b.name
        );
    }
}

/// A result set is found by every handle on the database, not only the one that wrote it (a
/// node after a restart, a replica on the same PostgreSQL), with its detail count shared; the
/// newest set wins for an id in two; sets let go from memory for room are still found in the
/// store; and sets stored one row per id before packing still grant their details.
#[tokio::test]
async fn result_sets_are_found_after_a_restart_beyond_memory_and_from_before_packing() {
    use store::exchange::{DetailGrant, ResultId};
    for b in backends().await {
        let writer = open(&b).await;
        let now = now_ms();
        let ids = |peer: &str, from: u32, n: u32| -> Vec<ResultId> {
            (from..from + n)
                .map(|i| ResultId {
                    vum_id: format!("{i:040x}"),
                    peer_oin: peer.into(),
                    source_id: format!("{peer}-{i}"),
                })
                .collect()
        };
        let wide: Vec<ResultId> = (0..400u32)
            .flat_map(|p| ids(&format!("{p:020}"), p * 100, 100))
            .collect();
        writer
            .remember_result_set("wide", Kind::Werkzoekende, &wide, now - 3000)
            .await
            .unwrap();
        writer
            .remember_result_set("again", Kind::Werkzoekende, &ids("x", 150, 2), now - 2000)
            .await
            .unwrap();
        // the writer itself, then a second handle that never saw these sets being written
        let grant = |s: store::Store, n: u32| async move {
            s.use_detail(&format!("{n:040x}"), Kind::Werkzoekende, 10)
                .await
                .unwrap()
        };
        match grant(writer.clone(), 39_999).await {
            DetailGrant::Granted(r) => assert_eq!(
                (
                    r.peer_oin.as_str(),
                    r.source_id.as_str(),
                    r.vraag_id.as_str()
                ),
                ("00000000000000000399", "00000000000000000399-39999", "wide"),
                "{}",
                b.name
            ),
            other => panic!("{}: {other:?}", b.name),
        }
        let other = open(&b).await;
        match grant(other.clone(), 150).await {
            DetailGrant::Granted(r) => assert_eq!(
                (r.source_id.as_str(), r.vraag_id.as_str()),
                ("x-150", "again"),
                "{}: the newest set wins",
                b.name
            ),
            other => panic!("{}: {other:?}", b.name),
        }
        assert!(matches!(
            grant(other.clone(), 40_000).await,
            DetailGrant::Unknown
        ));
        // the count is the store's: nine more on the other handle, then the wide set is used up
        for n in 0..9 {
            assert!(matches!(
                grant(other.clone(), n).await,
                DetailGrant::Granted(_)
            ));
        }
        assert!(
            matches!(grant(writer.clone(), 9).await, DetailGrant::Exhausted(v) if v == "wide"),
            "{}",
            b.name
        );
        // a handle that holds 100 ids lets the wide set go and still finds it in the store
        let small = open(&b).await;
        small.hold_result_ids(100).await;
        small
            .remember_result_set("third", Kind::Vacature, &ids("y", 90_000, 5), now - 1000)
            .await
            .unwrap();
        assert!(
            matches!(grant(small.clone(), 151).await, DetailGrant::Granted(r) if r.vraag_id == "again")
        );
        assert!(
            matches!(grant(small.clone(), 12_345).await, DetailGrant::Exhausted(v) if v == "wide"),
            "{}",
            b.name
        );
        assert!(matches!(
            small
                .use_detail(&format!("{:040x}", 90_001), Kind::Vacature, 10)
                .await
                .unwrap(),
            DetailGrant::Granted(r) if r.source_id == "y-90001"
        ));
        // forty more sets of 10: the handle lets most of them go, and still finds an id of the
        // first of them, read from the store a few sets at a time, newest first
        for n in 0..40u32 {
            small
                .remember_result_set(
                    &format!("many{n}"),
                    Kind::Werkzoekende,
                    &ids("m", 100_000 + n * 10, 10),
                    now - 900,
                )
                .await
                .unwrap();
        }
        assert!(
            matches!(grant(small.clone(), 100_003).await, DetailGrant::Granted(r) if r.vraag_id == "many0")
        );
        assert!(
            matches!(grant(small.clone(), 100_399).await, DetailGrant::Granted(r) if r.vraag_id == "many39")
        );
        assert!(matches!(
            grant(small.clone(), 100_400).await,
            DetailGrant::Unknown
        ));
        // a set deleted by another handle's purge while this one still holds it: unknown, not
        // used up
        sqlx::query("DELETE FROM result_sets WHERE vraag_id = 'many39'")
            .execute(small.pool())
            .await
            .unwrap();
        assert!(
            matches!(grant(small.clone(), 100_398).await, DetailGrant::Unknown),
            "{}",
            b.name
        );
        // a set stored before packing: one row per id in result_ids
        sqlx::query(&format!(
            "INSERT INTO result_sets (vraag_id, kind, created_ms, details) VALUES ('before', 'werkzoekende', {}, 0)",
            now - 5000
        ))
        .execute(small.pool())
        .await
        .unwrap();
        sqlx::query(&format!(
            "INSERT INTO result_ids (vum_id, peer_oin, source_id, vraag_id, created_ms) VALUES ('old-id', 'z', 'z-1', 'before', {})",
            now - 5000
        ))
        .execute(small.pool())
        .await
        .unwrap();
        for s in [small, other] {
            match s
                .use_detail("old-id", Kind::Werkzoekende, 10)
                .await
                .unwrap()
            {
                DetailGrant::Granted(r) => assert_eq!(
                    (
                        r.peer_oin.as_str(),
                        r.source_id.as_str(),
                        r.vraag_id.as_str()
                    ),
                    ("z", "z-1", "before")
                ),
                other => panic!("{}: {other:?}", b.name),
            }
        }
    }
}

async fn figures(s: &store::Store, now: i64) -> transparency::figures::NodeFigures {
    let org = transparency::figures::Organisation {
        oin: "00000001001234567000".into(),
        name: "g".into(),
    };
    s.transparency(org, now).await.unwrap()
}

/// The transparency figures on both backends: the state per municipality (shared, expired,
/// withdrawn, completeness, freshness) and the runs kept per import.
#[tokio::test]
async fn transparency_figures_per_municipality() {
    const DAY: i64 = 86_400_000;
    for b in backends().await {
        let s = open(&b).await;
        let now = now_ms();
        let mut with_education = doc("e", "7811AB", 20);
        with_education["arbeidsmarktkwalificatie"] =
            json!({"opleiding": [{"codeNiveauOpleiding": 4}]});
        let fresh = vec![
            ("a".to_string(), doc("a", "3011AB", 32)), // Rotterdam
            ("b".to_string(), doc("b", "3012AB", 24)), // Rotterdam
            ("e".to_string(), with_education),         // Emmen
            ("w".to_string(), doc("w", "7812AB", 8)),  // Emmen, withdrawn below
        ];
        s.upsert_batch(Kind::Werkzoekende, &fresh, now)
            .await
            .unwrap();
        // refreshed 40 and 100 days ago: 31-60 days old, and expired
        s.upsert_batch(
            Kind::Werkzoekende,
            &[("o".into(), doc("o", "3013AB", 12))],
            now - 40 * DAY,
        )
        .await
        .unwrap();
        s.upsert_batch(
            Kind::Werkzoekende,
            &[("x".into(), doc("x", "3014AB", 12))],
            now - 100 * DAY,
        )
        .await
        .unwrap();
        assert!(s.remove(Kind::Werkzoekende, "w", true, now).await.unwrap());
        let mut counts = std::collections::BTreeMap::new();
        counts.insert(
            "GM0599".to_string(),
            store::transparency::RunCounts {
                offered: 7,
                accepted: 4,
                no_consent: 2,
                rejected: 1,
                rejected_by_rule: [("schema/maximum".to_string(), 1)].into(),
                ..Default::default()
            },
        );
        s.record_run(Kind::Werkzoekende, "ingest", now, &counts)
            .await
            .unwrap();
        let f = figures(&s, now).await;
        let area = |m: &str| {
            f.areas
                .iter()
                .find(|a| a.municipality == m)
                .unwrap()
                .clone()
        };
        let (r, e) = (area("GM0599"), area("GM0114"));
        assert_eq!(
            (
                r.tally.shared,
                r.tally.expired,
                r.tally.no_consent,
                r.tally.rejected
            ),
            (3, 1, 2, 1),
            "{}",
            b.name
        );
        assert_eq!(r.tally.rejected_by_rule["schema/maximum"], 1);
        assert_eq!(r.quality.fresh_days, [2, 0, 1, 0], "{}", b.name);
        assert_eq!((r.quality.with_hours, r.quality.with_education), (3, 0));
        assert_eq!((e.tally.shared, e.tally.withdrawn), (1, 1), "{}", b.name);
        assert_eq!(e.quality.with_education, 1, "{}", b.name);
        assert_eq!(f.runs.len(), 1);
        assert_eq!(f.runs[0].areas["GM0599"].shared_after, 3);
        assert_eq!(f.runs[0].areas["GM0599"].offered, 7);

        // a push's run counts what is shared in the selection index: the same figures as the
        // aggregate over the records (expired, withdrawn and no-pc4 records left out alike)
        let (engine, _) = store::engine::Engine::load_from(&s, Kind::Werkzoekende)
            .await
            .unwrap();
        let shared = engine.live_per_pc4(now, s.expiry_days);
        s.record_run_counted(Kind::Werkzoekende, "push", now, &counts, &shared)
            .await
            .unwrap();
        let f = figures(&s, now).await;
        assert_eq!(f.runs.len(), 2);
        for m in ["GM0599", "GM0114"] {
            assert_eq!(
                f.runs[1].areas[m].shared_after,
                f.runs[0].areas.get(m).map_or(0, |a| a.shared_after),
                "{} {m}",
                b.name
            );
        }
        assert_eq!(f.runs[1].areas["GM0114"].shared_after, 1);
    }
}

/// A source's record of what a selection returned is written in the transaction of the
/// selection's audit entry, with and without group commit: each set grants its details at once,
/// an empty one is not written, and the chain verifies.
#[tokio::test]
async fn a_result_set_is_written_with_its_audit_entry() {
    use store::exchange::{DetailGrant, ResultId};
    for b in backends().await {
        for grouped in [false, true] {
            let plain = open(&b).await;
            let s = if grouped {
                plain.clone().with_group_commit()
            } else {
                plain
            };
            let now = now_ms();
            let calls = (0..30u32).map(|n| {
                let s = s.clone();
                let n = n + 30 * u32::from(grouped);
                async move {
                    let e = store::AuditEntry {
                        actor: format!("{n:020}"),
                        on_behalf_of: format!("{n:020}"),
                        action: "select".into(),
                        purpose: "vum".into(),
                        transaction_id: format!("t{n}"),
                        subject: "werkzoekende".into(),
                        result_count: 2,
                    };
                    let ids: Vec<ResultId> = (0..2 * (n % 3))
                        .map(|i| ResultId {
                            vum_id: format!("s{n}-{i}"),
                            peer_oin: format!("{n:020}"),
                            source_id: format!("r{n}-{i}"),
                        })
                        .collect();
                    s.audit_with_result_set(
                        &e,
                        now,
                        &format!("served:{n}"),
                        Kind::Werkzoekende,
                        &ids,
                    )
                    .await
                    .unwrap()
                }
            });
            let seqs = futures_join(calls).await;
            assert_eq!(seqs.len(), 30);
            for n in (0..30u32).map(|n| n + 30 * u32::from(grouped)) {
                let grant = s
                    .use_detail_since(&format!("s{n}-1"), Kind::Werkzoekende, 10, now - 1)
                    .await
                    .unwrap();
                match (n % 3, grant) {
                    (0, DetailGrant::Unknown) => {}
                    (_, DetailGrant::Granted(r)) => assert_eq!(
                        (r.source_id, r.vraag_id),
                        (format!("r{n}-1"), format!("served:{n}"))
                    ),
                    (_, other) => panic!("{} grouped={grouped} n={n}: {other:?}", b.name),
                }
            }
            let sets: Vec<(i64,)> = sqlx::query_as("SELECT COUNT(*) FROM result_sets")
                .fetch_all(s.pool())
                .await
                .unwrap();
            let round = 1 + i64::from(grouped);
            assert_eq!(
                sets[0].0,
                20 * round,
                "{}: the empty sets are not written",
                b.name
            );
            assert_eq!(
                s.audit_verify().await.unwrap(),
                Ok(30 * round),
                "{}",
                b.name
            );
        }
    }
}

async fn futures_join<F: std::future::Future<Output = i64> + Send + 'static>(
    calls: impl Iterator<Item = F>,
) -> Vec<i64> {
    let handles: Vec<_> = calls.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

/// `n` werkzoekenden `{prefix}0`.. stored live at `now` (their documents returned), and one more,
/// `expired`, last refreshed 100 days before (past the 90-day expiry).
async fn live_and_one_expired(
    s: &store::Store,
    prefix: &str,
    n: i64,
    expired: &str,
    now: i64,
) -> Vec<(String, serde_json::Value)> {
    let day = 86_400_000;
    let docs: Vec<(String, serde_json::Value)> = (0..n)
        .map(|i| {
            (
                format!("{prefix}{i}"),
                doc(&format!("{prefix}{i}"), "3011AB", 20 + i),
            )
        })
        .collect();
    s.upsert_batch(Kind::Werkzoekende, &docs, now)
        .await
        .unwrap();
    s.upsert_batch(
        Kind::Werkzoekende,
        &[(expired.into(), doc(expired, "3011AB", 32))],
        now - 100 * day,
    )
    .await
    .unwrap();
    docs
}

/// A selection's records are read in the transaction of its audit entry, with and without group
/// commit: those found come back in the order asked (an expired and an unknown one left out), the
/// entry counts them, and the result set written with it holds only them.
#[tokio::test]
async fn a_selections_records_are_read_with_its_audit_entry_and_set() {
    use store::exchange::{DetailGrant, ResultId};
    for grouped in [true, false] {
        for b in backends().await {
            let s = open(&b).await;
            let s = if grouped { s.with_group_commit() } else { s };
            let now = now_ms();
            live_and_one_expired(&s, "m", 30, "old", now).await;
            // asked in an order of the engine's choosing, with an expired and an unknown id
            let mut ids: Vec<String> = (0..30).rev().map(|n| format!("m{n}")).collect();
            ids.insert(3, "old".into());
            ids.insert(7, "nobody".into());
            let set: Vec<ResultId> = ids
                .iter()
                .map(|id| ResultId {
                    vum_id: format!("served-{id}"),
                    peer_oin: "00000001003214345000".into(),
                    source_id: id.clone(),
                })
                .collect();
            let entry = AuditEntry {
                actor: "00000001003214345000".into(),
                on_behalf_of: "00000001003214345000".into(),
                action: "select".into(),
                purpose: "bemiddeling".into(),
                transaction_id: format!("t-{grouped}"),
                subject: "werkzoekende".into(),
                result_count: 99,
            };
            let got = s
                .get_many_pb_audited(
                    Kind::Werkzoekende,
                    &ids,
                    entry.clone(),
                    now,
                    Some((format!("sel-{grouped}"), set)),
                )
                .await
                .unwrap();
            let want: Vec<String> = (0..30).rev().map(|n| format!("m{n}")).collect();
            let got_ids: Vec<&String> = got.iter().map(|(id, _)| id).collect();
            assert_eq!(
                got_ids,
                want.iter().collect::<Vec<_>>(),
                "{} grouped={grouped}",
                b.name
            );
            for (id, pb) in &got {
                let plain = s.get_pb(Kind::Werkzoekende, id, now).await.unwrap();
                assert_eq!(Some(pb), plain.as_ref(), "{}: {id}", b.name);
            }
            let count: (i64,) = sqlx::query_as(&format!(
                "SELECT result_count FROM audit WHERE transaction_id = 't-{grouped}'"
            ))
            .fetch_one(s.pool())
            .await
            .unwrap();
            assert_eq!(
                count.0, 30,
                "{}: the entry counts the records found",
                b.name
            );
            for (key, found) in [
                ("served-m4", true),
                ("served-old", false),
                ("served-nobody", false),
            ] {
                let grant = s
                    .use_detail_since(key, Kind::Werkzoekende, 10, now - 1)
                    .await
                    .unwrap();
                match (found, grant) {
                    (true, DetailGrant::Granted(r)) => assert_eq!(r.source_id, "m4"),
                    (false, DetailGrant::Unknown) => {}
                    (_, other) => panic!("{} grouped={grouped} {key}: {other:?}", b.name),
                }
            }
            // nothing found: the entry counts none and no set is written
            let none = s
                .get_many_pb_audited(
                    Kind::Werkzoekende,
                    &["nobody".to_string()],
                    entry,
                    now,
                    Some((
                        format!("empty-{grouped}"),
                        vec![ResultId {
                            vum_id: "served-x".into(),
                            peer_oin: "00000001003214345000".into(),
                            source_id: "nobody".into(),
                        }],
                    )),
                )
                .await
                .unwrap();
            assert!(none.is_empty());
            let sets: (i64,) = sqlx::query_as(&format!(
                "SELECT COUNT(*) FROM result_sets WHERE vraag_id = 'empty-{grouped}'"
            ))
            .fetch_one(s.pool())
            .await
            .unwrap();
            assert_eq!(sets.0, 0, "{}: an empty set is not written", b.name);
            assert_eq!(s.audit_verify().await.unwrap(), Ok(2), "{}", b.name);
        }
    }
}

/// The SQLite in this build is compiled as `.cargo/config.toml` says (`LIBSQLITE3_FLAGS`): no
/// process-wide page-cache group behind one mutex, no memory statistics behind another. Built
/// without that file (from outside the workspace), every connection of a node waits on the
/// others for each page it touches (BENCHMARKS.md, "Sixth round on issue 16").
#[tokio::test]
async fn sqlite_is_built_without_its_process_wide_mutexes() {
    use sqlx::Row;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("flags.db").display());
    let s = store::Store::open(&url).await.unwrap();
    let options: Vec<String> = sqlx::query("PRAGMA compile_options")
        .fetch_all(s.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect();
    assert!(
        options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
        "memory statistics are on: {options:?}"
    );
    assert!(
        !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
        "the page caches share one group: {options:?}"
    );
}
