//! Scaling out: two replicas of one organisation's node on one PostgreSQL database answer
//! consistently. Records imported through one are selectable, and their details readable,
//! through the other at its next call: every selection first applies the change log to the
//! replica's in-memory index. Skipped without PostgreSQL unless MATCHGATE_REQUIRE_PG=1.
mod common;
use common::*;
use node::config::Grant;
use node::pb::{peer_client::PeerClient, GetRequest};
use sqlx::Connection;
use vum::Kind;

/// A fresh PostgreSQL database (dropped by the caller), or None when the server is not there.
async fn fresh_pg() -> Option<(String, String, String)> {
    let admin = std::env::var("MATCHGATE_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    match sqlx::PgConnection::connect(&admin).await {
        Ok(mut c) => {
            let db = format!("mg_replicas_{}", std::process::id());
            sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                .execute(&mut c)
                .await
                .unwrap();
            sqlx::query(&format!("CREATE DATABASE {db}"))
                .execute(&mut c)
                .await
                .unwrap();
            let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap();
            Some((format!("{base}/{db}"), admin, db))
        }
        Err(e) => {
            assert_ne!(
                std::env::var("MATCHGATE_REQUIRE_PG").as_deref(),
                Ok("1"),
                "PostgreSQL at {admin} is required: {e}"
            );
            eprintln!("SKIPPED: PostgreSQL at {admin} not reachable: {e}");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_postgresql_answer_consistently() {
    let Some((url, admin, db)) = fresh_pg().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    node::pki::write_dev_pki(d, &[("gemeente", GEMEENTE), ("uwv", UWV)]).unwrap();
    let grant = vec![Grant {
        via: GEMEENTE.into(),
        on_behalf_of: vec![GEMEENTE.into()],
        services: vec!["*".into()],
        suwi: false,
    }];
    // the same configuration twice (each on ports of its own), one database
    let replica = || {
        let mut c = config(d, "uwv", UWV, vec![], grant.clone(), true);
        c.database = url.clone();
        c
    };
    let a = node::run::start(replica()).await.unwrap();
    let b = node::run::start(replica()).await.unwrap();
    let client = |r: &node::run::Running| {
        let addr = r.peer_addr;
        async move {
            PeerClient::new(
                channel(d, addr, Some(("gemeente.pem", "gemeente.key")), "ca.pem")
                    .await
                    .unwrap(),
            )
        }
    };
    let (mut via_a, mut via_b) = (client(&a).await, client(&b).await);
    let select = |c: &mut PeerClient<tonic::transport::Channel>| {
        let mut c = c.clone();
        async move {
            c.select_werkzoekenden(req(query("3511AA", 300), GEMEENTE, GEMEENTE, UWV, false))
                .await
                .unwrap()
                .into_inner()
                .matches
                .into_iter()
                .map(|m| m.id_werkzoekende)
                .collect::<Vec<_>>()
        }
    };
    // both replicas started on an empty database
    assert!(select(&mut via_a).await.is_empty());
    assert!(select(&mut via_b).await.is_empty());

    // an import through replica A (what `matchgate push` and `ingest` do: the store, then the
    // change log)
    let docs = shared("vum/testdata/werkzoekenden-1000.json");
    let docs: Vec<(String, serde_json::Value)> = docs.as_array().unwrap()[..200]
        .iter()
        .map(|d| (d["idWerkzoekende"].as_str().unwrap().to_string(), d.clone()))
        .collect();
    a.state
        .store
        .upsert_batch(Kind::Werkzoekende, &docs, store::now_ms())
        .await
        .unwrap();

    // replica B's next selection sees it, as A's does
    let (from_a, from_b) = (select(&mut via_a).await, select(&mut via_b).await);
    assert!(!from_b.is_empty(), "replica B does not see A's import");
    let mut sorted = (from_a.clone(), from_b.clone());
    sorted.0.sort();
    sorted.1.sort();
    assert_eq!(sorted.0, sorted.1, "the replicas answer differently");

    // a detail through B of a record B's selection returned
    let id = from_b[0].clone();
    via_b
        .get_werkzoekende(req(GetRequest { id }, GEMEENTE, GEMEENTE, UWV, false))
        .await
        .expect("a detail through the replica that served the selection");

    // a withdrawal through B is gone from A's answers
    let withdrawn = from_a[0].clone();
    assert!(b
        .state
        .store
        .remove(Kind::Werkzoekende, &withdrawn, true, store::now_ms())
        .await
        .unwrap());
    assert!(!select(&mut via_a).await.contains(&withdrawn));

    a.stop().await;
    b.stop().await;
    if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .execute(&mut c)
            .await;
    }
}
