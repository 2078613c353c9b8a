//! The transparency figures between nodes (`Peer/Transparency`): only a caller with a grant for
//! the service "transparency" gets them, already suppressed by the source; a federation report
//! merges every peer's answer and names the peers that did not answer.
mod common;
use common::*;
use node::pb::{peer_client::PeerClient, TransparencyRequest};
use sqlx::Row;
use tonic::Code;
use transparency::publish::Published;

/// UWV holds 500 of the official profiles; what it publishes adds up to them, and no count of
/// 1 to 4 is shown.
#[tokio::test]
async fn a_granted_peer_gets_suppressed_counts_and_nothing_else() {
    let f = federation(None).await;
    let ch = channel(
        f.dir.path(),
        f.uwv.peer_addr,
        Some(("gemeente.pem", "gemeente.key")),
        "ca.pem",
    )
    .await
    .unwrap();
    let answer = PeerClient::new(ch)
        .transparency(req(TransparencyRequest {}, GEMEENTE, GEMEENTE, UWV, false))
        .await
        .unwrap()
        .into_inner();
    let p = Published::from_json(&answer.published_json).unwrap();
    assert_eq!(p.organisations.len(), 1);
    assert_eq!(p.organisations[0].oin, UWV);
    assert_eq!(p.national.shared.value(), Some(500));
    assert!(p.rows.len() > 20, "profiles all over the country");
    // what the store counts, per municipality, against what leaves the node
    let figures = f
        .uwv
        .state
        .store
        .transparency(p.organisations[0].clone(), store::now_ms())
        .await
        .unwrap();
    for row in &p.rows {
        let truth = figures
            .areas
            .iter()
            .find(|a| a.municipality == row.municipality_code)
            .unwrap()
            .tally
            .shared;
        match row.counts.shared.value() {
            Some(v) => assert_eq!(v, truth),
            None => assert!(row.counts.shared.is_suppressed()),
        }
        if (1..5).contains(&truth) {
            assert!(row.counts.shared.is_suppressed());
        }
    }
    assert!(p.rows.iter().any(|r| r.counts.shared.is_suppressed()));
    // the answer holds counts only: no id, no postcode of any profile
    let text = String::from_utf8(answer.published_json).unwrap();
    let docs = shared("vum/testdata/werkzoekenden-1000.json");
    for d in docs.as_array().unwrap().iter().take(500) {
        assert!(!text.contains(d["idWerkzoekende"].as_str().unwrap()));
        let pc = d["mobiliteit"]["bemiddelingspostcode"].as_str().unwrap();
        assert!(!text.contains(pc), "postcode {pc} in the answer");
    }
    f.gemeente.stop().await;
}

/// The VUM-voorziening's certificate has a grant at UWV for selections and details only: the
/// figures are refused, and the refusal is audited.
#[tokio::test]
async fn a_peer_without_the_grant_gets_nothing() {
    let f = federation(None).await;
    let ch = channel(
        f.dir.path(),
        f.uwv.peer_addr,
        Some(("vum.pem", "vum.key")),
        "ca.pem",
    )
    .await
    .unwrap();
    let e = PeerClient::new(ch)
        .transparency(req(TransparencyRequest {}, VUM, VUM, UWV, false))
        .await
        .expect_err("no grant for transparency");
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
    let rows: Vec<(String, String)> = sqlx::query("SELECT action, actor FROM audit ORDER BY seq")
        .fetch_all(f.uwv.state.store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert!(
        rows.iter()
            .any(|(a, actor)| a == "refused:transparency" && actor == VUM),
        "{rows:?}"
    );
    f.gemeente.stop().await;
}

/// The gemeente's report over its peers: UWV's and the SW-bedrijf's figures merged with its
/// own (none), the unreachable peer named as missing.
#[tokio::test]
async fn a_federation_report_merges_the_peers_and_names_the_missing() {
    let f = federation(None).await;
    let own = f.gemeente.state.published_transparency().await.unwrap();
    let report = node::report::federation_report(&f.gemeente.state.config, own, None)
        .await
        .unwrap();
    let mut oins: Vec<&str> = report
        .organisations
        .iter()
        .map(|o| o.oin.as_str())
        .collect();
    oins.sort();
    assert_eq!(oins, [GEMEENTE, UWV, SW]);
    assert_eq!(report.national.shared.value(), Some(1000));
    assert_eq!(report.missing.len(), 1, "{:?}", report.missing);
    assert_eq!(report.missing[0].oin, "00000004000000000000");
    // one region only
    let utrecht = node::report::federation_report(
        &f.gemeente.state.config,
        f.gemeente.state.published_transparency().await.unwrap(),
        Some("AM13"),
    )
    .await
    .unwrap();
    assert!(!utrecht.rows.is_empty());
    assert!(utrecht.rows.iter().all(|r| r.region_code == "AM13"));
    f.gemeente.stop().await;
}

/// A push is a run of the figures: each werkzoekende counted in the municipality of its
/// postcode as accepted, without consent or rejected (by rule); a withdrawal shows as withdrawn.
#[tokio::test]
async fn a_push_counts_per_municipality() {
    use node::pb::{
        local_client::LocalClient, push_request::Record, PushDelete, PushRequest, PushWerkzoekende,
    };
    let f = federation(None).await;
    let mut c = LocalClient::new(
        channel(
            f.dir.path(),
            f.gemeente.local_addr,
            Some(("gemeente-local.pem", "gemeente-local.key")),
            "ca.pem",
        )
        .await
        .unwrap(),
    );
    let docs = shared("vum/testdata/werkzoekenden-1000.json");
    let with_postcode = |i: usize, pc: &str| {
        let mut d = docs[i].clone();
        d["mobiliteit"]["bemiddelingspostcode"] = serde_json::json!(pc);
        d
    };
    let push = |v: serde_json::Value, consent: bool| PushRequest {
        record: Some(Record::Werkzoekende(PushWerkzoekende {
            werkzoekende: Some(serde_json::from_value(v).unwrap()),
            consent,
        })),
    };
    let mut too_many_hours = with_postcode(3, "7811AB");
    too_many_hours["werktijden"] = serde_json::json!({"aantalWerkurenPerWeekMaximaal": 250});
    let stream = vec![
        push(with_postcode(0, "7811AB"), true),  // Emmen
        push(with_postcode(1, "7812CD"), true),  // Emmen
        push(with_postcode(2, "7821EF"), false), // Emmen, no consent
        push(too_many_hours, true),              // Emmen, rejected
        push(with_postcode(4, "3511AA"), true),  // Utrecht
        PushRequest {
            record: Some(Record::Delete(PushDelete {
                kind: "werkzoekende".into(),
                id: docs[4]["idWerkzoekende"].as_str().unwrap().into(),
                withdrawn: true,
            })),
        },
    ];
    let sum = c
        .push(tokio_stream::iter(stream))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((sum.inserted, sum.deleted, sum.rejected.len()), (3, 1, 2));
    let runs = f.gemeente.state.store.runs().await.unwrap();
    assert_eq!(runs.len(), 1);
    let (_, run, counts) = &runs[0];
    assert_eq!(run.origin, "push");
    let emmen = &counts["GM0114"];
    assert_eq!(
        (
            emmen.offered,
            emmen.accepted,
            emmen.no_consent,
            emmen.rejected
        ),
        (4, 2, 1, 1)
    );
    assert_eq!(emmen.rejected_by_rule.values().sum::<u64>(), 1);
    assert_eq!(
        (counts["GM0344"].offered, counts["GM0344"].accepted),
        (1, 1)
    );
    assert_eq!(run.areas["GM0114"].shared_after, 2);
    let figures = f
        .gemeente
        .state
        .store
        .transparency(
            transparency::figures::Organisation {
                oin: GEMEENTE.into(),
                name: "gemeente".into(),
            },
            store::now_ms(),
        )
        .await
        .unwrap();
    let area = |m: &str| {
        figures
            .areas
            .iter()
            .find(|a| a.municipality == m)
            .unwrap()
            .tally
            .clone()
    };
    let (e, u) = (area("GM0114"), area("GM0344"));
    assert_eq!((e.shared, e.no_consent, e.rejected), (2, 1, 1));
    assert_eq!(
        (u.shared, u.withdrawn),
        (0, 1),
        "the withdrawal keeps its municipality"
    );
    f.gemeente.stop().await;
}
