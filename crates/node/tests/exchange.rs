//! End to end on loopback with real TLS: three nodes, refusals for every identity problem, federated
//! selection with a peer down and a peer that never answers, detail routing and its limit, release
//! rules, and a vacancy feed consumer that stops and resumes.
use node::config::{Grant, LocalConfig, NodeConfig, PeerConfig, TlsConfig};
use node::parties;
use node::pb::{
    local_client::LocalClient, peer_client::PeerClient, FederatedGetRequest, FeedRequest,
    GetRequest, NodeInfoRequest,
};
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Code, Request};
use vum::Kind;

const GEMEENTE: &str = "00000001001234567000";
const UWV: &str = "00000001003214345000";
const SW: &str = "00000003123456780000";
const STRANGER: &str = "00000009999999999000";

fn shared(rel: &str) -> Value {
    let base = std::env::var("MATCHGATE_SHARED")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared").to_string());
    serde_json::from_str(&std::fs::read_to_string(format!("{base}/{rel}")).unwrap()).unwrap()
}

fn config(
    dir: &Path,
    name: &str,
    oin: &str,
    peers: Vec<PeerConfig>,
    grants: Vec<Grant>,
    suwi: bool,
) -> NodeConfig {
    std::fs::write(
        dir.join(format!("{name}.secret")),
        format!("{name}-secret-0123456789abcdef"),
    )
    .unwrap();
    NodeConfig {
        oin: oin.into(),
        name: name.into(),
        suwi,
        database: format!("sqlite://{}", dir.join(format!("{name}.db")).display()),
        secret_file: dir.join(format!("{name}.secret")),
        tls: TlsConfig {
            cert: dir.join(format!("{name}.pem")),
            key: dir.join(format!("{name}.key")),
            ca: dir.join("ca.pem"),
        },
        listen: "127.0.0.1:0".into(),
        local: LocalConfig {
            listen: "127.0.0.1:0".into(),
            ca: dir.join("ca.pem"),
        },
        peers,
        grants,
        peer_deadline_ms: 800,
    }
}

async fn channel(
    dir: &Path,
    addr: std::net::SocketAddr,
    cert: Option<(&str, &str)>,
    ca: &str,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(std::fs::read(dir.join(ca)).unwrap()))
        .domain_name("localhost");
    if let Some((c, k)) = cert {
        tls = tls.identity(Identity::from_pem(
            std::fs::read(dir.join(c)).unwrap(),
            std::fs::read(dir.join(k)).unwrap(),
        ));
    }
    Endpoint::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)?
        .connect_timeout(Duration::from_secs(3))
        .connect()
        .await
}

fn req<T>(msg: T, from: &str, via: &str, to: &str, suwi: bool) -> Request<T> {
    let mut r = Request::new(msg);
    parties::attach(
        &mut r,
        from,
        via,
        to,
        suwi,
        &uuid::Uuid::now_v7().to_string(),
    );
    r
}

fn query(pc: &str, km: i64) -> vum_proto::werkzoekenden::WerkzoekendeProfielMatchesRequest {
    serde_json::from_value(
        serde_json::json!({"vraagObject": {"selectiegebied": {"postcode": pc, "afstand": km}}}),
    )
    .unwrap()
}

struct Federation {
    dir: tempfile::TempDir,
    gemeente: node::run::Running,
    uwv: node::run::Running,
    /// kept running for the whole test (a source the federation searches)
    #[allow(dead_code)]
    sw: node::run::Running,
}

async fn federation(slow_peer: Option<std::net::SocketAddr>) -> Federation {
    let dir = tempfile::tempdir().unwrap();
    node::pki::write_dev_pki(
        dir.path(),
        &[
            ("gemeente", GEMEENTE),
            ("uwv", UWV),
            ("sw", SW),
            ("stranger", STRANGER),
        ],
    )
    .unwrap();
    let grant_gemeente = vec![Grant {
        via: GEMEENTE.into(),
        on_behalf_of: vec![GEMEENTE.into()],
        services: vec!["*".into()],
    }];
    let uwv = node::run::start(config(
        dir.path(),
        "uwv",
        UWV,
        vec![],
        grant_gemeente.clone(),
        true,
    ))
    .await
    .unwrap();
    let sw = node::run::start(config(dir.path(), "sw", SW, vec![], grant_gemeente, true))
        .await
        .unwrap();
    // stock the two sources with the official profiles, half each, and UWV with the vacancies
    let docs = shared("vum/testdata/werkzoekenden-1000.json");
    let docs: Vec<(String, Value)> = docs
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["idWerkzoekende"].as_str().unwrap().to_string(), d.clone()))
        .collect();
    uwv.state
        .store
        .upsert_batch(Kind::Werkzoekende, &docs[..500], store::now_ms())
        .await
        .unwrap();
    sw.state
        .store
        .upsert_batch(Kind::Werkzoekende, &docs[500..], store::now_ms())
        .await
        .unwrap();
    let vac = shared("vum/testdata/vacatures-93.json");
    let vac: Vec<(String, Value)> = vac
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["idVacature"].as_str().unwrap().to_string(), d.clone()))
        .collect();
    uwv.state
        .store
        .upsert_batch(Kind::Vacature, &vac, store::now_ms())
        .await
        .unwrap();
    let mut peers = vec![
        PeerConfig {
            oin: UWV.into(),
            name: "UWV".into(),
            endpoint: format!("https://{}", uwv.peer_addr),
        },
        PeerConfig {
            oin: SW.into(),
            name: "SW-bedrijf".into(),
            endpoint: format!("https://{}", sw.peer_addr),
        },
        PeerConfig {
            oin: "00000004000000000000".into(),
            name: "down".into(),
            endpoint: "https://127.0.0.1:1".into(),
        },
    ];
    if let Some(addr) = slow_peer {
        peers.push(PeerConfig {
            oin: "00000005000000000000".into(),
            name: "slow".into(),
            endpoint: format!("https://{addr}"),
        });
    }
    let gemeente = node::run::start(config(
        dir.path(),
        "gemeente",
        GEMEENTE,
        peers,
        vec![],
        false,
    ))
    .await
    .unwrap();
    Federation {
        dir,
        gemeente,
        uwv,
        sw,
    }
}

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
    // a valid certificate works
    let ch = channel(d, addr, Some(("gemeente.pem", "gemeente.key")), "ca.pem")
        .await
        .unwrap();
    let mut c = PeerClient::new(ch);
    let info = c
        .node_info(req(NodeInfoRequest {}, GEMEENTE, GEMEENTE, UWV, true))
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
    // a peer with a valid certificate but no grant
    let ch = channel(d, addr, Some(("stranger.pem", "stranger.key")), "ca.pem")
        .await
        .unwrap();
    let e = PeerClient::new(ch)
        .node_info(req(NodeInfoRequest {}, STRANGER, STRANGER, UWV, false))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    assert!(e.message().contains("no grant"));
    // acting for a controller the grant does not cover
    let e = c
        .node_info(req(NodeInfoRequest {}, SW, GEMEENTE, UWV, true))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    // every refusal that reached the node is in its audit log, and the chain holds
    use sqlx::Row;
    let rows = sqlx::query("SELECT action FROM audit ORDER BY seq")
        .fetch_all(f.uwv.state.store.pool())
        .await
        .unwrap();
    let actions: Vec<String> = rows.iter().map(|r| r.get::<String, _>(0)).collect();
    assert_eq!(
        actions.iter().filter(|a| a.starts_with("refused:")).count(),
        5,
        "{actions:?}"
    );
    assert_eq!(
        f.uwv.state.store.audit_verify().await.unwrap(),
        Ok(actions.len() as i64)
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
        Some(("gemeente.pem", "gemeente.key")),
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
                true,
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
            true,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    f.gemeente.stop().await;
}
