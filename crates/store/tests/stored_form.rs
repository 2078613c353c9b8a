//! One stored form per record (issue 16): the protobuf encoding, plus a JSON Patch only for what
//! protobuf cannot carry. Every official document comes back byte for byte in its JSON form, on
//! SQLite and PostgreSQL; the JSON is no longer stored beside it; rows written before keep working;
//! a damaged stored form is an error naming the record, not a panic.
mod common;
use common::{backends, open, shared};
use serde_json::Value;
use sqlx::Connection;
use store::{encode_pb, now_ms, StoreError, StoredForm};
use vum::Kind;

fn official() -> Vec<(Kind, String, Value)> {
    let mut out = Vec::new();
    for (kind, file, id) in [
        (
            Kind::Werkzoekende,
            "vum/testdata/werkzoekenden-1000.json",
            "idWerkzoekende",
        ),
        (
            Kind::Vacature,
            "vum/testdata/vacatures-93.json",
            "idVacature",
        ),
    ] {
        for d in shared(file).as_array().unwrap() {
            out.push((kind, d[id].as_str().unwrap().to_string(), d.clone()));
        }
    }
    assert_eq!(out.len(), 1093);
    out
}

/// The (id, document) pairs of one kind, as `upsert_batch` takes them.
fn of_kind(docs: &[(Kind, String, Value)], kind: Kind) -> Vec<(String, Value)> {
    docs.iter()
        .filter(|(k, _, _)| *k == kind)
        .map(|(_, id, d)| (id.clone(), d.clone()))
        .collect()
}

/// A selection's matches are made from the stored protobuf message (typed, `vum_proto`'s `From`
/// conversions) instead of the JSON projection: for every official document both give the same
/// match message.
#[test]
fn the_typed_match_form_equals_the_json_projection_for_every_official_document() {
    use prost::Message;
    use vum_proto::{vacatures as vac, werkzoekenden as wz};
    let mut n = 0;
    for (kind, id, doc) in official() {
        let pb = StoredForm::encode(kind, &doc).unwrap().pb;
        let projected = vum::matchform::to_match(kind, &doc);
        match kind {
            Kind::Werkzoekende => {
                let typed: wz::MpWerkzoekendeMatch =
                    wz::Werkzoekende::decode(pb.as_slice()).unwrap().into();
                let json: wz::MpWerkzoekendeMatch = serde_json::from_value(projected).unwrap();
                assert_eq!(typed, json, "{id}");
            }
            _ => {
                let typed: vac::MpVacatureMatch =
                    vac::Vacature::decode(pb.as_slice()).unwrap().into();
                let json: vac::MpVacatureMatch = serde_json::from_value(projected).unwrap();
                assert_eq!(typed, json, "{id}");
            }
        }
        n += 1;
    }
    assert_eq!(n, 1093);
}

/// A store of backend `b` holding every official document.
async fn with_official(b: &common::Backend) -> (store::Store, Vec<(Kind, String, Value)>, i64) {
    let (s, docs, now) = (open(b).await, official(), now_ms());
    for kind in [Kind::Werkzoekende, Kind::Vacature] {
        s.upsert_batch(kind, &of_kind(&docs, kind), now)
            .await
            .unwrap();
    }
    (s, docs, now)
}

#[test]
fn every_official_document_round_trips_through_its_stored_form() {
    let (mut patched, mut pb_bytes, mut extra_bytes, mut json_bytes) = (0, 0, 0, 0);
    for (kind, id, doc) in official() {
        let form = StoredForm::encode(kind, &doc).unwrap_or_else(|| panic!("{id}: no form"));
        let back = StoredForm::decode(kind, &id, &form.pb, form.extra.as_deref()).unwrap();
        assert_eq!(back.to_string(), doc.to_string(), "{id}: JSON form changed");
        pb_bytes += form.pb.len();
        json_bytes += doc.to_string().len();
        if let Some(e) = &form.extra {
            patched += 1;
            extra_bytes += e.len();
        }
    }
    // Not a test of speed: the figures for BENCHMARKS.md.
    eprintln!(
        "1093 documents: JSON {json_bytes} B, protobuf {pb_bytes} B, patches {extra_bytes} B on {patched} documents"
    );
    // The official test data has explicit empty values (null, "", []), so some patches exist:
    // the patch is what keeps them.
    assert!(patched > 0 && pb_bytes + extra_bytes < json_bytes);
}

#[tokio::test]
async fn the_store_keeps_one_form_and_gives_back_every_official_document_byte_for_byte() {
    for b in backends().await {
        let (s, docs, now) = with_official(&b).await;
        for (kind, id, doc) in &docs {
            let text = s.get_text(*kind, id, now).await.unwrap().unwrap();
            assert_eq!(text, doc.to_string(), "{}: {id}", b.name);
            assert_eq!(s.get(*kind, id, now).await.unwrap().as_ref(), Some(doc));
            assert_eq!(
                s.get_pb(*kind, id, now).await.unwrap(),
                encode_pb(*kind, doc),
                "{}: {id}",
                b.name
            );
        }
        let ids: Vec<String> = docs.iter().map(|(_, id, _)| id.clone()).collect();
        let many = s.get_many(Kind::Werkzoekende, &ids, now).await.unwrap();
        assert_eq!(many.len(), 1000);
        for ((id, got), (_, want_id, want)) in many.iter().zip(&docs) {
            assert_eq!((id, got), (want_id, want));
        }

        // the JSON itself is not stored: one form per record
        let mut c = sqlx::AnyConnection::connect(&b.url).await.unwrap();
        let (with_doc, with_pb): (i64, i64) =
            sqlx::query_as("SELECT COUNT(doc), COUNT(pb) FROM records WHERE deleted = 0")
                .fetch_one(&mut c)
                .await
                .unwrap();
        assert_eq!((with_doc, with_pb), (0, 1093), "{}", b.name);

        // the same documents again are unchanged (the content hash is the document's, not the form's)
        let again = of_kind(&docs, Kind::Vacature);
        let out = s.upsert_batch(Kind::Vacature, &again, now).await.unwrap();
        assert!(out.iter().all(|u| *u == store::Upserted::Unchanged));
    }
}

#[tokio::test]
async fn a_row_written_before_the_one_form_is_still_read_and_a_damaged_form_is_an_error() {
    for b in backends().await {
        let s = open(&b).await;
        let now = now_ms();
        let docs = official();
        let (_, id, doc) = docs[0].clone();
        let (_, id2, doc2) = docs[1].clone();
        s.upsert_batch(
            Kind::Werkzoekende,
            &[(id.clone(), doc.clone()), (id2.clone(), doc2.clone())],
            now,
        )
        .await
        .unwrap();
        let mut c = sqlx::AnyConnection::connect(&b.url).await.unwrap();
        // as migration 0003 left a row: JSON only
        sqlx::query("UPDATE records SET doc = $1, pb = NULL, extra = NULL WHERE vum_id = $2")
            .bind(doc.to_string())
            .bind(id.as_str())
            .execute(&mut c)
            .await
            .unwrap();
        assert_eq!(
            s.get_text(Kind::Werkzoekende, &id, now).await.unwrap(),
            Some(doc.to_string())
        );
        assert_eq!(
            s.get_pb(Kind::Werkzoekende, &id, now).await.unwrap(),
            encode_pb(Kind::Werkzoekende, &doc)
        );
        // a damaged protobuf: an error that names the record
        sqlx::query("UPDATE records SET pb = $1 WHERE vum_id = $2")
            .bind(vec![0xffu8, 0xff, 0xff])
            .bind(id2.as_str())
            .execute(&mut c)
            .await
            .unwrap();
        match s.get_text(Kind::Werkzoekende, &id2, now).await {
            Err(StoreError::Corrupt(which, _)) => assert_eq!(which, id2),
            other => panic!("{}: expected Corrupt, got {other:?}", b.name),
        }
    }
}

/// A detail read in its audit transaction, of a row stored before the protobuf column whose JSON
/// is damaged: that caller gets an error naming the record and an entry saying nothing was
/// released; the details queued with it are answered as usual.
#[tokio::test]
async fn a_damaged_old_row_fails_only_its_own_detail_in_a_group_commit() {
    for b in backends().await {
        let s = open(&b).await.with_group_commit();
        let now = now_ms();
        let (docs, bad, mut c) =
            twenty_with_one_damaged(&b, &s, now, 0, "doc = '{not json', pb = NULL, extra = NULL")
                .await;
        details_fail_only_for(&s, &docs[..20], &bad, now, b.name).await;
        let counts: Vec<(String, i64)> =
            sqlx::query_as("SELECT subject, result_count FROM audit ORDER BY seq")
                .fetch_all(&mut c)
                .await
                .unwrap();
        assert_eq!(counts.len(), 20, "{}", b.name);
        for (subject, n) in counts {
            assert_eq!(n, i64::from(subject != bad), "{}: {subject}", b.name);
        }
        // a selection that would return the damaged row fails as a whole: its entry releases
        // nothing and no result set is written for it
        let ids: Vec<String> = docs[..20].iter().map(|(id, _)| id.clone()).collect();
        selection_releases_nothing(&s, &mut c, &ids, "selection", &bad, b.name).await;
        // the same for a stored protobuf that does not decode: known before the commit
        let broken = docs[5].0.clone();
        sqlx::query("UPDATE records SET pb = $1 WHERE vum_id = $2")
            .bind(vec![0xffu8, 0xff, 0xff])
            .bind(broken.as_str())
            .execute(&mut c)
            .await
            .unwrap();
        let ids: Vec<String> = ids.into_iter().filter(|id| *id != bad).collect();
        selection_releases_nothing(&s, &mut c, &ids, "selection-2", &broken, b.name).await;
    }
}

/// The details of `docs` asked at once (sharing group commits): the damaged record `bad` fails
/// with an error naming it, every other one is its document's protobuf encoding.
async fn details_fail_only_for(
    s: &store::Store,
    docs: &[(String, Value)],
    bad: &str,
    now: i64,
    backend: &str,
) {
    let tasks: Vec<_> = docs
        .iter()
        .map(|(id, _)| {
            let (s, id) = (s.clone(), id.clone());
            tokio::spawn(async move {
                let e = store::AuditEntry {
                    actor: "a".into(),
                    on_behalf_of: "b".into(),
                    action: "get".into(),
                    purpose: "p".into(),
                    transaction_id: "t".into(),
                    subject: id.clone(),
                    result_count: 0,
                };
                s.get_pb_audited(Kind::Werkzoekende, &id, e, now).await
            })
        })
        .collect();
    for ((id, doc), t) in docs.iter().zip(tasks) {
        match t.await.unwrap() {
            Err(StoreError::Corrupt(which, _)) if *id == bad => assert_eq!(which, bad),
            Ok(Some(pb)) if *id != bad => {
                assert_eq!(Some(pb), encode_pb(Kind::Werkzoekende, doc), "{backend}")
            }
            other => panic!("{backend}: {id}: {other:?}"),
        }
    }
}

/// The first twenty official werkzoekenden stored in `s` at `now`, then the one at `at` damaged
/// behind the store's back (`set`: the SQL of an `UPDATE records SET`): the documents, the
/// damaged one's id, and the connection that damaged it.
async fn twenty_with_one_damaged(
    b: &common::Backend,
    s: &store::Store,
    now: i64,
    at: usize,
    set: &str,
) -> (Vec<(String, Value)>, String, sqlx::AnyConnection) {
    let docs = of_kind(&official(), Kind::Werkzoekende);
    s.upsert_batch(Kind::Werkzoekende, &docs[..20], now)
        .await
        .unwrap();
    let bad = docs[at].0.clone();
    let mut c = sqlx::AnyConnection::connect(&b.url).await.unwrap();
    sqlx::query(&format!("UPDATE records SET {set} WHERE vum_id = $1"))
        .bind(bad.as_str())
        .execute(&mut c)
        .await
        .unwrap();
    (docs, bad, c)
}

/// A selection over `ids` fails on the damaged record `bad`: its audit entry (transaction
/// `transaction`) counts nothing released and no result set is written.
async fn selection_releases_nothing(
    s: &store::Store,
    c: &mut sqlx::AnyConnection,
    ids: &[String],
    transaction: &str,
    bad: &str,
    backend: &str,
) {
    let served = ids
        .iter()
        .map(|id| store::exchange::ResultId {
            vum_id: format!("served-{transaction}-{id}"),
            peer_oin: "b".into(),
            source_id: id.clone(),
        })
        .collect();
    let e = store::AuditEntry {
        actor: "a".into(),
        on_behalf_of: "b".into(),
        action: "select".into(),
        purpose: "p".into(),
        transaction_id: transaction.into(),
        subject: "werkzoekende".into(),
        result_count: 0,
    };
    let now = now_ms();
    let set = Some((format!("set-{transaction}"), served));
    match s
        .get_many_pb_audited(Kind::Werkzoekende, ids, e, now, set)
        .await
    {
        Err(StoreError::Corrupt(which, _)) => assert_eq!(which, bad, "{backend}"),
        other => panic!("{backend}: {other:?}"),
    }
    let (n, sets): (i64, i64) = sqlx::query_as(&format!(
        "SELECT (SELECT result_count FROM audit WHERE transaction_id = '{transaction}'), (SELECT COUNT(*) FROM result_sets)"
    ))
    .fetch_one(c)
    .await
    .unwrap();
    assert_eq!((n, sets), (0, 0), "{backend}: {transaction}");
}

#[test]
fn the_content_hash_is_the_sha256_of_the_sorted_compact_text() {
    use sha2::{Digest, Sha256};
    // stored hashes decide whether a re-import is a change: the definition must never move
    let doc: Value = serde_json::from_str(r#"{"b": 1, "a": [{"d": "é", "c": null}]}"#).unwrap();
    let want = hex::encode(Sha256::digest(
        "{\"a\":[{\"c\":null,\"d\":\"é\"}],\"b\":1}".as_bytes(),
    ));
    assert_eq!(store::content_hash(&doc), want);
}

#[tokio::test]
async fn rows_written_before_the_one_form_are_compacted_without_a_change() {
    for b in backends().await {
        let (s, docs, now) = with_official(&b).await;
        // every row as a store before migration 0006 wrote it: the JSON and its protobuf
        let mut c = sqlx::AnyConnection::connect(&b.url).await.unwrap();
        for (kind, id, doc) in &docs {
            sqlx::query("UPDATE records SET doc = $1, pb = $2, extra = NULL WHERE vum_id = $3")
                .bind(doc.to_string())
                .bind(encode_pb(*kind, doc))
                .bind(id.as_str())
                .execute(&mut c)
                .await
                .unwrap();
        }
        let changes_before = s.changes_since(None, 0, 100_000).await.unwrap().len();
        let (mut after, mut total) = (String::new(), 0);
        loop {
            let (n, next) = s.compact_forms(&after, 100).await.unwrap();
            total += n;
            match next {
                Some(next) => after = next,
                None => break,
            }
        }
        assert_eq!(total, 1093, "{}", b.name);
        let (with_doc, with_extra): (i64, i64) =
            sqlx::query_as("SELECT COUNT(doc), COUNT(extra) FROM records")
                .fetch_one(&mut c)
                .await
                .unwrap();
        assert_eq!((with_doc, with_extra), (0, 570), "{}", b.name);
        for (kind, id, doc) in &docs {
            let text = s.get_text(*kind, id, now).await.unwrap().unwrap();
            assert_eq!(text, doc.to_string(), "{}: {id}", b.name);
        }
        // no version moved and nothing entered the change log (the feed has nothing to send)
        assert_eq!(
            s.changes_since(None, 0, 100_000).await.unwrap().len(),
            changes_before
        );
        let again = of_kind(&docs, Kind::Werkzoekende);
        let out = s
            .upsert_batch(Kind::Werkzoekende, &again, now)
            .await
            .unwrap();
        assert!(out.iter().all(|u| *u == store::Upserted::Unchanged));
        // done: a second pass finds nothing
        assert_eq!(s.compact_forms("", 100).await.unwrap().0, 0);
    }
}

/// SQLite types by value: a record whose protobuf column holds text (a damaged or hand-edited
/// file) fails its own detail, and the details grouped with it in the same commit are still
/// released.
#[tokio::test]
async fn a_column_of_the_wrong_type_fails_only_its_own_detail() {
    let b = backends()
        .await
        .into_iter()
        .find(|b| b.name == "sqlite")
        .expect("the SQLite backend");
    let s = open(&b).await.with_group_commit();
    let now = now_ms();
    let (docs, bad, _) = twenty_with_one_damaged(&b, &s, now, 3, "pb = 'not a blob'").await;
    details_fail_only_for(&s, &docs[..20], &bad, now, b.name).await;
    assert_eq!(s.audit_verify().await.unwrap(), Ok(20));
}
