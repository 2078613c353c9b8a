//! End to end on loopback with real TLS: three nodes, refusals for every identity problem, federated
//! selection with a peer down and a peer that never answers, detail routing and its limit, release
//! rules, and a vacancy feed consumer that stops and resumes.
mod common;
use common::*;
use node::pb::{
    local_client::LocalClient, peer_client::PeerClient, FederatedGetRequest, FeedRequest,
    GetRequest, NodeInfoRequest,
};
use std::time::{Duration, Instant};
use tonic::{Code, Request};
use vum::Kind;

#[tokio::test]
async fn identity_problems_are_refused_and_logged() {
    let f = federation(None).await;
    let d = f.dir.path();
    let addr = f.uwv.peer_addr;
    // no client certificate, a foreign CA, an expired certificate: the TLS handshake fails
    for (label, cert) in [
        ("no certificate", None),
        ("foreign CA", Some(("foreign.pem", "foreign.key"))),
        ("expired", Some(("expired.pem", "expired.key"))),
    ] {
        let result = match channel(d, addr, cert, "ca.pem").await {
            Err(e) => Err(e.to_string()),
            Ok(ch) => PeerClient::new(ch)
                .node_info(req(NodeInfoRequest {}, GEMEENTE, GEMEENTE, UWV, true))
                .await
                .map(|_| ())
                .map_err(|s| format!("{:?}", s.code())),
        };
        assert!(result.is_err(), "{label}: the call must be refused");
    }
    // the same expired certificate tried again and again: counted, not an audit entry each
    for _ in 0..6 {
        if let Ok(ch) = channel(d, addr, Some(("expired.pem", "expired.key")), "ca.pem").await {
            let r = PeerClient::new(ch)
                .node_info(req(NodeInfoRequest {}, GEMEENTE, GEMEENTE, UWV, true))
                .await;
            assert!(r.is_err(), "an expired certificate must be refused");
        }
    }
    // a valid certificate works
    let ch = channel(d, addr, Some(("gemeente.pem", "gemeente.key")), "ca.pem")
        .await
        .unwrap();
    let mut c = PeerClient::new(ch);
    let info = c
        .node_info(req(NodeInfoRequest {}, GEMEENTE, GEMEENTE, UWV, false))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.oin, UWV);
    // viaParty that is not the certificate's OIN
    let e = c
        .node_info(req(NodeInfoRequest {}, GEMEENTE, SW, UWV, true))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
    assert!(e.message().contains("does not match the certificate"));
    // toParty that is not this node, a missing header
    assert_eq!(
        c.node_info(req(NodeInfoRequest {}, GEMEENTE, GEMEENTE, SW, true))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    let e = c
        .node_info(Request::new(NodeInfoRequest {}))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("x-vum-viaparty"), "{}", e.message());
    // as a google.rpc.BadRequest field violation a client can read
    use tonic_types::StatusExt;
    let v = e.get_details_bad_request().expect("BadRequest details");
    assert_eq!(v.field_violations[0].field, "x-vum-viaparty");
    // a valid certificate of an organisation this node has neither as a peer nor in a grant:
    // refused at the TLS handshake
    let r = match channel(d, addr, Some(("stranger.pem", "stranger.key")), "ca.pem").await {
        Err(e) => Err(e.to_string()),
        Ok(ch) => PeerClient::new(ch)
            .node_info(req(NodeInfoRequest {}, STRANGER, STRANGER, UWV, false))
            .await
            .map(|_| ())
            .map_err(|s| format!("{:?}", s.code())),
    };
    assert!(r.is_err(), "an unconfigured peer got past the TLS layer");
    // acting for a controller the grant does not cover
    let e = c
        .node_info(req(NodeInfoRequest {}, SW, GEMEENTE, UWV, true))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    // every refusal is in the audit log: the four refused handshakes (written by the node's TLS
    // layer, asynchronously) and the four refused calls; and the chain holds
    use sqlx::Row;
    let mut rows = Vec::new();
    for _ in 0..50 {
        rows = sqlx::query("SELECT action, actor, subject FROM audit ORDER BY seq")
            .fetch_all(f.uwv.state.store.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r.get::<String, _>(0),
                    r.get::<String, _>(1),
                    r.get::<String, _>(2),
                )
            })
            .collect::<Vec<_>>();
        if rows
            .iter()
            .filter(|r| r.0 == "refused:tls-handshake")
            .count()
            >= 4
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let handshakes: Vec<_> = rows
        .iter()
        .filter(|r| r.0 == "refused:tls-handshake")
        .collect();
    assert!(
        (4..=6).contains(&handshakes.len()),
        "one entry per kind and address per second: {rows:?}"
    );
    // a refused certificate proves no identity: the actor is unknown, its OIN only claimed
    assert!(
        handshakes.iter().all(|r| r.1 == "unknown"),
        "{handshakes:?}"
    );
    assert!(
        handshakes
            .iter()
            .any(|r| r.2.starts_with("no client certificate, from 127.0.0.1")),
        "{handshakes:?}"
    );
    // the foreign and the expired certificate claim the gemeente's OIN
    assert!(
        handshakes.iter().any(|r| r.2.starts_with(&format!(
            "unknown issuer, claimed_oin {GEMEENTE}, from 127.0.0.1"
        ))),
        "{handshakes:?}"
    );
    assert!(
        handshakes
            .iter()
            .any(|r| r.2.starts_with(&format!("expired, claimed_oin {GEMEENTE}"))),
        "{handshakes:?}"
    );
    assert!(
        handshakes.iter().any(|r| r
            .2
            .starts_with(&format!("not admitted, claimed_oin {STRANGER}"))),
        "{handshakes:?}"
    );
    assert_eq!(
        rows.iter()
            .filter(|r| r.0.starts_with("refused:") && r.0 != "refused:tls-handshake")
            .count(),
        4,
        "{rows:?}"
    );
    assert_eq!(
        f.uwv.state.store.audit_verify().await.unwrap(),
        Ok(rows.len() as i64)
    );
    f.gemeente.stop().await;
}

#[tokio::test]
async fn federated_selection_survives_a_down_and_a_slow_peer_and_routes_details() {
    // a peer that accepts connections and never answers
    let slow = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let slow_addr = slow.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = slow.accept().await {
            held.push(s);
        }
    });
    let f = federation(Some(slow_addr)).await;
    let d = f.dir.path();
    let ch = channel(
        d,
        f.gemeente.local_addr,
        Some(("gemeente-local.pem", "gemeente-local.key")),
        "ca.pem",
    )
    .await
    .unwrap();
    let mut local = LocalClient::new(ch);
    let t = Instant::now();
    let r = local
        .federated_select_werkzoekenden(query("3511AA", 60))
        .await
        .unwrap()
        .into_inner();
    let took = t.elapsed();
    assert!(
        took < Duration::from_millis(2500),
        "returned after {took:?}; the deadline is 800 ms"
    );
    let status = |name: &str| r.peers.iter().find(|p| p.name == name).unwrap().clone();
    assert_eq!(status("UWV").status, "ok");
    assert_eq!(status("SW-bedrijf").status, "ok");
    assert!(
        status("down").status.starts_with("Unavailable")
            || status("down").status.starts_with("DeadlineExceeded"),
        "{:?}",
        status("down")
    );
    assert!(
        status("slow").status.starts_with("DeadlineExceeded")
            || status("slow").status.starts_with("Unavailable"),
        "{:?}",
        status("slow")
    );
    let resp = r.response.unwrap();
    assert_eq!(
        resp.matches.len() as i32,
        status("UWV").matches + status("SW-bedrijf").matches
    );
    assert!(resp.matches.len() > 10);
    // vumIDs do not reveal the sources' ids
    let source_ids: std::collections::HashSet<String> =
        shared("vum/testdata/werkzoekenden-1000.json")
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["idWerkzoekende"].as_str().unwrap().to_string())
            .collect();
    assert!(resp.matches.iter().all(|m| !source_ids.contains(&m.vum_id)
        && !source_ids.iter().any(|s| m.vum_id.contains(s.as_str()))));
    // details by vumID, routed to the owner; the gemeente is not a SUWI party: no LDR indication
    for (i, m) in resp.matches.iter().enumerate() {
        let r = local
            .federated_get_werkzoekende(FederatedGetRequest {
                vum_id: m.vum_id.clone(),
            })
            .await;
        if i < 10 {
            let detail = r.unwrap().into_inner();
            assert!(detail.bron_id == UWV || detail.bron_id == SW);
            let w = detail.werkzoekende.unwrap();
            assert!(
                w.indicatie_ldr_registratie.is_none(),
                "LDR indication released to a non-SUWI party"
            );
        } else {
            assert_eq!(
                r.unwrap_err().code(),
                Code::ResourceExhausted,
                "the 11th detail request of a result set"
            );
            break;
        }
    }
    // the source logged the calls under the gemeente's OIN, with the transaction id
    use sqlx::Row;
    let rows =
        sqlx::query("SELECT actor, on_behalf_of, action, transaction_id FROM audit ORDER BY seq")
            .fetch_all(f.uwv.state.store.pool())
            .await
            .unwrap();
    assert!(rows.iter().any(|r| r.get::<String, _>(0) == GEMEENTE
        && r.get::<String, _>(2) == "select"
        && r.get::<String, _>(3).len() == 36));
    f.gemeente.stop().await;
}

#[tokio::test]
async fn feed_consumer_resumes_without_gaps_or_duplicates() {
    let f = federation(None).await;
    let d = f.dir.path();
    let ch = channel(
        d,
        f.uwv.peer_addr,
        Some(("gemeente.pem", "gemeente.key")),
        "ca.pem",
    )
    .await
    .unwrap();
    let mut c = PeerClient::new(ch);
    // a change while consuming: one vacancy deleted
    let first_id = shared("vum/testdata/vacatures-93.json")[0]["idVacature"]
        .as_str()
        .unwrap()
        .to_string();
    f.uwv
        .state
        .store
        .remove(Kind::Vacature, &first_id, false, store::now_ms())
        .await
        .unwrap();
    let mut cursor = 0;
    let mut seen = Vec::new();
    // consume in pieces of 20, "crashing" (dropping the stream) after each piece
    loop {
        let mut s = c
            .vacancy_feed(req(
                FeedRequest { cursor, limit: 20 },
                GEMEENTE,
                GEMEENTE,
                UWV,
                false,
            ))
            .await
            .unwrap()
            .into_inner();
        let mut got = 0;
        while let Some(ev) = s.message().await.unwrap() {
            assert!(ev.seq > cursor, "cursor went backwards");
            cursor = ev.seq;
            seen.push((ev.id.clone(), ev.deleted, ev.vacature.is_some()));
            got += 1;
        }
        if got == 0 {
            break;
        }
    }
    assert_eq!(seen.len(), 94, "93 upserts and 1 tombstone");
    let tomb: Vec<_> = seen.iter().filter(|(_, del, _)| *del).collect();
    assert_eq!(
        tomb.len(),
        2,
        "the deleted vacancy's upsert now reads as a tombstone, plus its delete"
    );
    assert!(tomb.iter().all(|(id, _, has)| *id == first_id && !has));
    let ids: std::collections::BTreeSet<&String> = seen.iter().map(|(id, _, _)| id).collect();
    assert_eq!(ids.len(), 93);
    // a vacancy's detail: a deleted one is gone
    let e = c
        .get_vacature(req(
            GetRequest { id: first_id },
            GEMEENTE,
            GEMEENTE,
            UWV,
            false,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    f.gemeente.stop().await;
}
