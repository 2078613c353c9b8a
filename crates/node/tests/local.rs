//! The own-organisation side of a node, end to end on loopback with real TLS: pushing records,
//! federated vacancy selection, following a peer's vacancy feed with the cursor kept in the store
//! (through kills and restarts), the result-set registry across a restart, per-peer rate limits,
//! and gRPC reflection.
mod common;
use common::*;
use node::pb::{
    local_client::LocalClient, peer_client::PeerClient, push_request::Record, FederatedGetRequest,
    NodeInfoRequest, PeerVacaturesRequest, PushDelete, PushRequest, PushWerkzoekende,
    SyncFeedRequest,
};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;
use tonic::transport::Channel;
use tonic::Code;
use vum::Kind;
use vum_proto::{vacatures as vac, werkzoekenden as wz};

async fn local(f: &Federation, running: &node::run::Running) -> LocalClient<Channel> {
    LocalClient::new(
        channel(
            f.dir.path(),
            running.local_addr,
            Some(("gemeente-local.pem", "gemeente-local.key")),
            "ca.pem",
        )
        .await
        .unwrap(),
    )
}

fn werkzoekende(v: Value, consent: bool) -> PushRequest {
    PushRequest {
        record: Some(Record::Werkzoekende(PushWerkzoekende {
            werkzoekende: Some(serde_json::from_value::<wz::Werkzoekende>(v).unwrap()),
            consent,
        })),
    }
}

#[tokio::test]
async fn push_stores_good_records_and_reports_each_bad_one() {
    let f = federation(None).await;
    let mut c = local(&f, &f.gemeente).await;
    let docs = shared("vum/testdata/werkzoekenden-1000.json");
    let vacs = shared("vum/testdata/vacatures-93.json");
    let mut bad_postcode = docs[4].clone();
    bad_postcode["mobiliteit"]["bemiddelingspostcode"] = json!("12");
    let mut leaks = docs[5].clone();
    leaks["persoonlijkePresentatie"] = json!("Bel of mail: jan.jansen@example.nl");
    let stream = vec![
        werkzoekende(docs[0].clone(), true),
        werkzoekende(docs[1].clone(), true),
        werkzoekende(docs[2].clone(), true),
        werkzoekende(docs[3].clone(), false), // 3: no consent
        werkzoekende(bad_postcode, true),     // 4: breaks the standard
        werkzoekende(leaks, true),            // 5: an e-mail address in free text
        PushRequest {
            record: Some(Record::Vacature(
                serde_json::from_value::<vac::Vacature>(vacs[0].clone()).unwrap(),
            )),
        },
        PushRequest {
            record: Some(Record::Delete(PushDelete {
                kind: "werkzoekende".into(),
                id: docs[0]["idWerkzoekende"].as_str().unwrap().into(),
                withdrawn: true,
            })),
        },
        PushRequest {
            record: Some(Record::Delete(PushDelete {
                kind: "cv".into(), // 8: not a kind
                id: "x".into(),
                withdrawn: false,
            })),
        },
    ];
    let sum = c
        .push(tokio_stream::iter(stream.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (sum.received, sum.inserted, sum.updated, sum.deleted),
        (9, 4, 0, 1)
    );
    let rejected: Vec<(i64, Vec<(String, String)>)> = sum
        .rejected
        .iter()
        .map(|r| {
            (
                r.index,
                r.violations
                    .iter()
                    .map(|v| (v.field.clone(), v.rule.clone()))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(rejected.len(), 4, "{rejected:?}");
    assert_eq!(rejected[0].0, 3);
    assert_eq!(rejected[0].1[0].1, "push/toestemming");
    assert_eq!(rejected[1].0, 4);
    assert!(
        rejected[1]
            .1
            .iter()
            .any(|(field, _)| field == "/mobiliteit/bemiddelingspostcode"),
        "{rejected:?}"
    );
    assert_eq!(
        rejected[2],
        (
            5,
            vec![(
                "/persoonlijkePresentatie".into(),
                "privacy/vrije-tekst".into()
            )]
        )
    );
    assert_eq!(rejected[3].0, 8);

    // ids are keyed exactly as `matchgate ingest` keys them, so push and import meet
    let store = &f.gemeente.state.store;
    let mapping = translate::mapping::Mapping::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/translate/sonar/mapping.toml"),
    )
    .unwrap();
    let secret = std::fs::read(&f.gemeente.state.config.secret_file).unwrap();
    let translator = translate::Translator::new(mapping, &secret, vum::Validator::new());
    let local_id = docs[1]["idWerkzoekende"].as_str().unwrap();
    let id = translator.vum_id(local_id);
    assert_eq!(f.gemeente.state.record_id(Kind::Werkzoekende, local_id), id);
    let stored = store
        .get(Kind::Werkzoekende, &id, store::now_ms())
        .await
        .unwrap()
        .expect("pushed record stored");
    assert_eq!(
        stored["idWerkzoekende"],
        json!(id),
        "the local id does not leave"
    );
    // the deleted one is gone, the refused ones never arrived
    for i in [0, 3, 4, 5] {
        let id = f.gemeente.state.record_id(
            Kind::Werkzoekende,
            docs[i]["idWerkzoekende"].as_str().unwrap(),
        );
        assert!(store
            .get(Kind::Werkzoekende, &id, store::now_ms())
            .await
            .unwrap()
            .is_none());
    }
    // the same stream again changes nothing it stored before
    let again = c
        .push(tokio_stream::iter(stream))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((again.unchanged, again.deleted), (3, 1), "{again:?}");
    assert_eq!(again.rejected.len(), 4);
    f.gemeente.stop().await;
}

#[tokio::test]
async fn federated_vacancy_selection_and_details() {
    let f = federation(None).await;
    let mut c = local(&f, &f.gemeente).await;
    let q: vac::VacatureMatchesRequest = serde_json::from_value(
        json!({"vraagObject": {"selectiegebied": {"postcode": "3511AA", "afstand": 300}}}),
    )
    .unwrap();
    let r = c.federated_select_vacatures(q).await.unwrap().into_inner();
    let uwv = r.peers.iter().find(|p| p.name == "UWV").unwrap();
    assert_eq!(uwv.status, "ok");
    let resp = r.response.unwrap();
    assert!(!resp.matches.is_empty());
    assert_eq!(resp.matches.len() as i32, uwv.matches);
    let official: BTreeSet<String> = shared("vum/testdata/vacatures-93.json")
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["idVacature"].as_str().unwrap().to_string())
        .collect();
    assert!(resp.matches.iter().all(|m| !official.contains(&m.vum_id)));
    let d = c
        .federated_get_vacature(FederatedGetRequest {
            vum_id: resp.matches[0].vum_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(d.bron_id, UWV);
    assert!(official.contains(&d.vacature.unwrap().id_vacature));
    // a vacancy's vumID is not a jobseeker's
    let e = c
        .federated_get_werkzoekende(FederatedGetRequest {
            vum_id: resp.matches[0].vum_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    f.gemeente.stop().await;
}

#[tokio::test]
async fn feed_follower_keeps_its_cursor_through_kills_and_restarts() {
    let mut f = federation(None).await;
    let uwv_store = f.uwv.state.store.clone();
    let peer = f
        .gemeente
        .state
        .config
        .peers
        .iter()
        .find(|p| p.oin == UWV)
        .unwrap()
        .clone();
    let mut c = local(&f, &f.gemeente).await;
    // a first piece of 20
    let r = c
        .sync_feed(SyncFeedRequest {
            peer_oin: UWV.into(),
            limit: 20,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((r.from_cursor, r.events, r.upserts), (0, 20, 20));
    assert_eq!(
        f.gemeente.state.store.feed_cursor(UWV).await.unwrap(),
        r.cursor
    );
    // a pull killed part-way (the task is dropped wherever it is), while the source changes
    let st = f.gemeente.state.clone();
    let p2 = peer.clone();
    let killed = tokio::spawn(async move { st.sync_feed(&p2, 0).await });
    tokio::time::sleep(Duration::from_millis(3)).await;
    killed.abort();
    let _ = killed.await;
    let vacs = shared("vum/testdata/vacatures-93.json");
    let gone = vacs[50]["idVacature"].as_str().unwrap().to_string();
    uwv_store
        .remove(Kind::Vacature, &gone, false, store::now_ms())
        .await
        .unwrap();
    // the node restarts on the same store and resumes from the cursor it kept
    let cfg = f.gemeente.state.config.clone();
    f.gemeente.stop().await;
    f.gemeente = node::run::start(cfg).await.unwrap();
    let mut c2 = local(&f, &f.gemeente).await;
    let r = c2
        .sync_feed(SyncFeedRequest {
            peer_oin: UWV.into(),
            limit: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(r.from_cursor >= 20, "resumed from {}", r.from_cursor);
    let last = uwv_store.last_change_seq().await.unwrap();
    assert_eq!(r.cursor, last, "caught up with the source's change log");
    // nothing more to pull
    let r = c2
        .sync_feed(SyncFeedRequest {
            peer_oin: UWV.into(),
            limit: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((r.events, r.cursor), (0, last));
    // the mirror holds exactly the source's live vacancies: no gaps, no leftovers
    let mut s = c2
        .peer_vacatures(PeerVacaturesRequest {
            peer_oin: UWV.into(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut mirrored = BTreeSet::new();
    while let Some(v) = s.message().await.unwrap() {
        assert!(mirrored.insert(v.id.clone()), "duplicate {}", v.id);
        assert!(v.vacature.is_some());
    }
    let live: BTreeSet<String> = vacs
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["idVacature"].as_str().unwrap().to_string())
        .filter(|id| *id != gone)
        .collect();
    assert_eq!(mirrored, live);
    // an unknown peer is refused
    let e = c2
        .sync_feed(SyncFeedRequest {
            peer_oin: STRANGER.into(),
            limit: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    f.gemeente.stop().await;
}

#[tokio::test]
async fn result_sets_survive_a_restart_of_every_node_with_their_detail_count() {
    let mut f = federation(None).await;
    let mut c = local(&f, &f.gemeente).await;
    let r = c
        .federated_select_werkzoekenden(query("3511AA", 100))
        .await
        .unwrap()
        .into_inner()
        .response
        .unwrap();
    assert!(r.matches.len() > 11);
    for m in &r.matches[..9] {
        c.federated_get_werkzoekende(FederatedGetRequest {
            vum_id: m.vum_id.clone(),
        })
        .await
        .unwrap();
    }
    let cfg = f.gemeente.state.config.clone();
    f.gemeente.stop().await;
    f.gemeente = node::run::start(cfg).await.unwrap();
    // the sources restart too, on the same addresses: what they returned is found in their stores
    let mut uwv = f.uwv.state.config.clone();
    uwv.listen = f.uwv.peer_addr.to_string();
    f.uwv.stop().await;
    f.uwv = node::run::start(uwv).await.unwrap();
    let mut sw = f.sw.state.config.clone();
    sw.listen = f.sw.peer_addr.to_string();
    f.sw.stop().await;
    f.sw = node::run::start(sw).await.unwrap();
    let mut c = local(&f, &f.gemeente).await;
    let get = |i: usize| FederatedGetRequest {
        vum_id: r.matches[i].vum_id.clone(),
    };
    c.federated_get_werkzoekende(get(9)).await.unwrap();
    assert_eq!(
        c.federated_get_werkzoekende(get(10))
            .await
            .unwrap_err()
            .code(),
        Code::ResourceExhausted
    );
    let e = c
        .federated_get_werkzoekende(FederatedGetRequest {
            vum_id: "00".repeat(20),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    f.gemeente.stop().await;
}

#[tokio::test]
async fn a_peer_over_its_rate_limit_is_refused_with_retry_info() {
    let f = federation(None).await;
    let d = f.dir.path();
    let mut cfg = config(
        d,
        "stranger",
        STRANGER,
        vec![],
        vec![node::config::Grant {
            via: GEMEENTE.into(),
            on_behalf_of: vec![GEMEENTE.into()],
            services: vec!["*".into()],
            suwi: false,
        }],
        false,
    );
    cfg.limits.requests_per_second = 1.0;
    cfg.limits.burst = 3.0;
    let limited = node::run::start(cfg).await.unwrap();
    let mut c = PeerClient::new(
        channel(
            d,
            limited.peer_addr,
            Some(("gemeente.pem", "gemeente.key")),
            "ca.pem",
        )
        .await
        .unwrap(),
    );
    let mut codes = Vec::new();
    for _ in 0..10 {
        match c
            .node_info(req(NodeInfoRequest {}, GEMEENTE, GEMEENTE, STRANGER, false))
            .await
        {
            Ok(_) => codes.push(Code::Ok),
            Err(e) => {
                use tonic_types::StatusExt;
                assert!(e.get_details_retry_info().is_some());
                codes.push(e.code())
            }
        }
    }
    assert_eq!(&codes[..3], &[Code::Ok; 3], "{codes:?}");
    assert!(
        codes[3..].iter().all(|c| *c == Code::ResourceExhausted),
        "{codes:?}"
    );
    // the flood is logged, but not an entry per refused call
    use sqlx::Row;
    let rows =
        sqlx::query("SELECT subject, result_count FROM audit WHERE action = 'refused:node-info'")
            .fetch_all(limited.state.store.pool())
            .await
            .unwrap();
    assert!(!rows.is_empty() && rows.len() < 7, "{}", rows.len());
    assert!(rows.iter().all(|r| r.get::<String, _>(0) == "rate limit"));
    limited.stop().await;
    f.gemeente.stop().await;
}

#[tokio::test]
async fn reflection_lists_the_services_on_both_listeners() {
    use tonic_reflection::pb::v1::{
        server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
        ServerReflectionRequest,
    };
    let f = federation(None).await;
    let d = f.dir.path();
    for (addr, wanted, cert) in [
        (
            f.uwv.peer_addr,
            "matchgate.v1.Peer",
            ("gemeente.pem", "gemeente.key"),
        ),
        (
            f.gemeente.local_addr,
            "matchgate.v1.Local",
            ("gemeente-local.pem", "gemeente-local.key"),
        ),
    ] {
        let ch = channel(d, addr, Some(cert), "ca.pem").await.unwrap();
        let ask = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut s = ServerReflectionClient::new(ch)
            .server_reflection_info(tokio_stream::iter(vec![ask]))
            .await
            .unwrap()
            .into_inner();
        let r = s.message().await.unwrap().unwrap();
        let Some(MessageResponse::ListServicesResponse(list)) = r.message_response else {
            panic!("not a service list: {r:?}");
        };
        let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
        assert!(names.iter().any(|n| n == wanted), "{names:?}");
        assert!(
            names.iter().any(|n| n == "grpc.health.v1.Health"),
            "{names:?}"
        );
    }
    f.gemeente.stop().await;
}
