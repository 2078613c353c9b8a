//! The VUM REST contracts on a running federation: the Bron face of a source, the Bemiddelaar
//! face of a node, REST sources and a stand-in VUM-voorziening as peers beside a gRPC one, every
//! status code of the contracts, and REST refusals as gRPC refuses them (and audited).
mod common;
use common::*;
use node::config::{OwnSystem, PeerConfig, Protocol};
use node::pb::{local_client::LocalClient, peer_client::PeerClient, GetRequest};
use serde_json::{json, Value};
use sqlx::Row;
use std::path::Path;
use vum::Kind;

/// A JSON body (reqwest's `json` feature is not built).
trait JsonBody {
    fn json(self, v: &Value) -> Self;
}

impl JsonBody for reqwest::RequestBuilder {
    fn json(self, v: &Value) -> Self {
        self.header("Content-Type", "application/json")
            .body(serde_json::to_vec(v).unwrap())
    }
}

/// An HTTPS client with a certificate of the development PKI (or none), trusting `ca`.
fn client(dir: &Path, cert: Option<&str>, ca: &str) -> reqwest::Client {
    let tls = match cert {
        Some(name) => node::tls::client_config(
            &dir.join(format!("{name}.pem")),
            &dir.join(format!("{name}.key")),
            &dir.join(ca),
        )
        .unwrap(),
        None => {
            let mut roots = rustls::RootCertStore::empty();
            let pem = std::fs::read(dir.join(ca)).unwrap();
            use rustls::pki_types::pem::PemObject;
            for c in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
                roots.add(c.unwrap()).unwrap();
            }
            rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth()
        }
    };
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .build()
        .unwrap()
}

/// The Bron contract's headers for a call from `from` to the source `to` (viaParty: the
/// answering processor, the source itself).
fn bron_headers(
    r: reqwest::RequestBuilder,
    from: &str,
    to: &str,
    suwi: bool,
) -> reqwest::RequestBuilder {
    bron_with(r, from, to, suwi, &[])
}

/// The Bron headers with some replaced (`(name, value)`; an empty value leaves the header out).
fn bron_with(
    r: reqwest::RequestBuilder,
    from: &str,
    to: &str,
    suwi: bool,
    replace: &[(&'static str, &str)],
) -> reqwest::RequestBuilder {
    let mut h = reqwest::header::HeaderMap::new();
    for (k, v) in [
        ("X-VUM-fromParty", from),
        ("X-VUM-toParty", to),
        ("X-VUM-viaParty", to),
        ("X-VUM-SUWIparty", if suwi { "true" } else { "false" }),
        ("X-VUM-berichtVersie", "3.0.0"),
        ("API-Version", "3.0.0"),
    ]
    .into_iter()
    .chain(replace.iter().copied())
    {
        if v.is_empty() {
            h.remove(k);
        } else {
            h.insert(k, v.parse().unwrap());
        }
    }
    r.headers(h)
}

/// The Bemiddelaar contract's headers as a Postman collection writes them.
fn bemiddelaar_headers(r: reqwest::RequestBuilder, own: &str) -> reqwest::RequestBuilder {
    r.header("X-VUM-fromParty", own)
        .header("X-VUM-toParty", own)
        .header("X-VUM-viaParty", own)
        .header("X-VUM-SUWIParty", "true")
        .header("X-VUM-berichtVersie", "3.0.0")
        .header("API-Version", "3.0.0")
}

async fn json_of(r: reqwest::Response) -> (u16, reqwest::header::HeaderMap, Value) {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = r.bytes().await.unwrap();
    (
        status,
        headers,
        serde_json::from_slice(&body).unwrap_or(Value::Null),
    )
}

fn area(pc: &str, km: i64) -> Value {
    json!({"vraagObject": {"selectiegebied": {"postcode": pc, "afstand": km}}})
}

/// A mixed federation: the gemeente asks UWV over gRPC, the SW-bedrijf over the Bron contract,
/// and a stand-in VUM-voorziening (a matchgate node asking UWV) over the Bemiddelaar contract.
struct Mixed {
    f: Federation,
    vum: node::run::Running,
    gemeente: node::run::Running,
}

async fn mixed() -> Mixed {
    let f = federation(None).await;
    let d = f.dir.path();
    // the stand-in: its Bemiddelaar face admits the gemeente's node certificate
    let mut vum_cfg = config(
        d,
        "vum",
        VUM,
        vec![PeerConfig::new(
            SW,
            "SW-bedrijf",
            format!("https://{}", f.sw.peer_addr),
        )],
        vec![],
        false,
    );
    vum_cfg.local.ca = d.join("ca.pem");
    vum_cfg.local.clients = vec![OwnSystem {
        oin: Some(GEMEENTE.into()),
        cn: None,
    }];
    let vum = node::run::start(vum_cfg).await.unwrap();
    let mut sw_bron = PeerConfig::new(
        SW,
        "SW-bedrijf (Bron)",
        format!("https://localhost:{}/api/v3", f.sw.peer_addr.port()),
    );
    sw_bron.protocol = Protocol::VumBron;
    let mut vum_peer = PeerConfig::new(
        VUM,
        "VUM-voorziening",
        format!("https://localhost:{}/api/v3", vum.local_addr.port()),
    );
    vum_peer.protocol = Protocol::VumBemiddelaar;
    let mut g = config(
        d,
        "gemeente",
        GEMEENTE,
        vec![
            PeerConfig::new(UWV, "UWV", format!("https://{}", f.uwv.peer_addr)),
            sw_bron,
            vum_peer,
        ],
        vec![],
        false,
    );
    g.database = format!("sqlite://{}", d.join("gemeente-mixed.db").display());
    let gemeente = node::run::start(g).await.unwrap();
    Mixed { f, vum, gemeente }
}

#[tokio::test]
async fn a_mixed_federation_merges_matches_and_serves_details_by_vumid() {
    let m = mixed().await;
    let d = m.f.dir.path();
    // the gemeente's own system: its Bemiddelaar face, written against the VUM-voorziening
    let own = client(d, Some("gemeente-local"), "ca.pem");
    let base = format!("https://localhost:{}/api/v3", m.gemeente.local_addr.port());
    let (status, headers, body) = json_of(
        bemiddelaar_headers(
            own.post(format!("{base}/werkzoekendeProfielen/matches")),
            GEMEENTE,
        )
        .json(&area("1011AB", 300))
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["API-Version"], "3.0.0");
    assert_eq!(headers["X-VUM-fromParty"], GEMEENTE);
    assert_eq!(headers["content-type"], "application/json");
    let matches = body["matches"].as_array().unwrap();
    assert!(
        !matches.is_empty() && matches.len() <= 300,
        "{}",
        matches.len()
    );
    assert!(body["vraagID"].as_str().is_some());
    // every peer answered: each protocol's peer call is in the asking node's audit log
    let rows: Vec<(String, String)> = sqlx::query(
        "SELECT action, subject FROM audit WHERE action LIKE 'peer-select-werkzoekenden:%'",
    )
    .fetch_all(m.gemeente.state.store.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect();
    for oin in [UWV, SW, VUM] {
        assert!(
            rows.iter().any(|(a, s)| a.ends_with(oin) && s == "ok"),
            "{oin}: {rows:?}"
        );
    }
    // details by vumID, routed to each owner whatever it speaks, equal to the stored document
    let docs = shared("vum/testdata/werkzoekenden-1000.json");
    let by_id = |id: &str| {
        docs.as_array()
            .unwrap()
            .iter()
            .find(|d| d["idWerkzoekende"] == id)
            .cloned()
            .unwrap()
    };
    let mut owners = std::collections::HashSet::new();
    for mt in matches.iter().take(10) {
        let vum_id = mt["vumID"].as_str().unwrap();
        let (status, _, detail) = json_of(
            bemiddelaar_headers(
                own.get(format!("{base}/werkzoekendeProfielen/{vum_id}")),
                GEMEENTE,
            )
            .send()
            .await
            .unwrap(),
        )
        .await;
        assert_eq!(status, 200, "{detail}");
        owners.insert(detail["bronID"].as_str().unwrap().to_string());
        let w = &detail["werkzoekende"];
        let mut expected = by_id(w["idWerkzoekende"].as_str().unwrap());
        // the gemeente is no SUWI party: the LDR indication stays at the source
        expected
            .as_object_mut()
            .unwrap()
            .remove("indicatieLdrRegistratie");
        assert_eq!(strip_empty(w.clone()), strip_empty(expected));
    }
    assert!(owners.len() >= 2, "{owners:?}");
    // the 11th detail of the result set: 429, as the contract's detail operation says
    for mt in matches.iter().skip(10).take(1) {
        let vum_id = mt["vumID"].as_str().unwrap();
        let (status, headers, e) = json_of(
            bemiddelaar_headers(
                own.get(format!("{base}/werkzoekendeProfielen/{vum_id}")),
                GEMEENTE,
            )
            .send()
            .await
            .unwrap(),
        )
        .await;
        assert_eq!(status, 429, "{e}");
        assert!(e["code"].is_string() && e["message"].is_string(), "{e}");
        assert!(headers.get("retry-after").is_none());
    }
    m.vum.stop().await;
}

/// Empty values aside (pbjson leaves out empty lists and strings).
fn strip_empty(v: Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| (k, strip_empty(v)))
                .filter(|(_, v)| {
                    !matches!(v, Value::Null)
                        && v != &json!([])
                        && v != &json!({})
                        && v != &json!("")
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(strip_empty).collect()),
        v => v,
    }
}

#[tokio::test]
async fn a_rest_request_and_its_grpc_twin_give_the_same_answer_and_audit() {
    let f = federation(None).await;
    let d = f.dir.path();
    let rest = client(d, Some("gemeente"), "ca.pem");
    let base = format!("https://localhost:{}/api/v3", f.uwv.peer_addr.port());
    // a small area: every match fits in one answer, so both answers hold the same set
    let q = area("2573AB", 3);
    let (status, headers, body) = json_of(
        bron_headers(
            rest.post(format!("{base}/werkzoekendeProfielen/matches")),
            GEMEENTE,
            UWV,
            false,
        )
        .json(&q)
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["X-VUM-toParty"], GEMEENTE);
    assert_eq!(headers["X-VUM-fromParty"], UWV);
    assert_eq!(headers["X-VUM-viaParty"], GEMEENTE);
    let mut c = PeerClient::new(
        channel(
            d,
            f.uwv.peer_addr,
            Some(("gemeente.pem", "gemeente.key")),
            "ca.pem",
        )
        .await
        .unwrap(),
    );
    let grpc = c
        .select_werkzoekenden(req(
            serde_json::from_value(q.clone()).unwrap(),
            GEMEENTE,
            GEMEENTE,
            UWV,
            false,
        ))
        .await
        .unwrap()
        .into_inner();
    let ids = |v: &Value| {
        let mut ids: Vec<String> = v["matches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["idWerkzoekende"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    let grpc_json = serde_json::to_value(&grpc).unwrap();
    assert_eq!(ids(&body), ids(&grpc_json));
    assert!(!ids(&body).is_empty());
    let id = ids(&body)[0].clone();
    let (status, _, rest_detail) = json_of(
        bron_headers(
            rest.get(format!("{base}/werkzoekendeProfielen/{id}")),
            GEMEENTE,
            UWV,
            false,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{rest_detail}");
    let grpc_detail = c
        .get_werkzoekende(req(
            GetRequest { id: id.clone() },
            GEMEENTE,
            GEMEENTE,
            UWV,
            false,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest_detail, serde_json::to_value(&grpc_detail).unwrap());
    // the same audit entries: one selection and one detail per protocol, same actor and parties
    let rows: Vec<(String, String, String, i64)> = sqlx::query(
        "SELECT action, actor, on_behalf_of, result_count FROM audit WHERE action IN ('select', 'get') ORDER BY seq",
    )
    .fetch_all(f.uwv.state.store.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
    .collect();
    assert_eq!(rows.len(), 4, "{rows:?}");
    let selections: Vec<_> = rows.iter().filter(|r| r.0 == "select").collect();
    assert_eq!(selections.len(), 2, "{rows:?}");
    assert_eq!(selections[0], selections[1]);
    let details: Vec<_> = rows.iter().filter(|r| r.0 == "get").collect();
    assert_eq!(details[0], details[1]);
    // the contract documents are served on each face
    let (status, _, doc) = json_of(
        rest.get(format!("{base}/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(doc["paths"]["/werkzoekendeProfielen/matches"].is_object());
    assert!(doc["paths"]["/vacatures/{idVacature}"].is_object());
    let (status, _, doc) = json_of(
        rest.get(format!("{base}/openapi/VUM-Bron-Vacatures.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(doc, shared("vum/oas/VUM-Bron-Vacatures.json"));
}

#[tokio::test]
async fn rest_refuses_as_grpc_refuses_with_every_status_of_the_contract() {
    let f = federation(None).await;
    let d = f.dir.path();
    let base = format!("https://localhost:{}/api/v3", f.uwv.peer_addr.port());
    let gemeente = client(d, Some("gemeente"), "ca.pem");
    let post = |c: &reqwest::Client| c.post(format!("{base}/werkzoekendeProfielen/matches"));
    // no client certificate: refused at the TLS handshake, as for gRPC
    let none = client(d, None, "ca.pem");
    assert!(bron_headers(post(&none), GEMEENTE, UWV, false)
        .json(&area("1011AB", 5))
        .send()
        .await
        .is_err());
    // a certificate whose OIN is no configured peer: refused at the handshake
    let stranger = client(d, Some("stranger"), "ca.pem");
    assert!(bron_headers(post(&stranger), STRANGER, UWV, false)
        .json(&area("1011AB", 5))
        .send()
        .await
        .is_err());
    let expect = async |r: reqwest::RequestBuilder, status: u16, what: &str| {
        let (s, h, e) = json_of(r.send().await.unwrap()).await;
        assert_eq!(s, status, "{what}: {e}");
        if status != 200 {
            assert!(
                e["code"].as_str().is_some_and(|c| c.len() <= 10),
                "{what}: {e}"
            );
            assert!(
                e["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty() && m.len() <= 500),
                "{what}: {e}"
            );
        }
        assert_eq!(h["API-Version"], "3.0.0", "{what}");
        assert_eq!(h["content-type"], "application/json", "{what}");
        (h, e)
    };
    // 400: a header missing, a malformed one, a wrong API-Version, a body that is no selection
    expect(
        bron_with(
            post(&gemeente),
            GEMEENTE,
            UWV,
            false,
            &[("X-VUM-viaParty", "")],
        )
        .json(&area("1011AB", 5)),
        400,
        "missing viaParty",
    )
    .await;
    expect(
        bron_with(
            post(&gemeente),
            GEMEENTE,
            UWV,
            false,
            &[("X-VUM-SUWIparty", "misschien")],
        )
        .json(&area("1011AB", 5)),
        400,
        "SUWI not boolean",
    )
    .await;
    expect(
        bron_with(
            post(&gemeente),
            GEMEENTE,
            UWV,
            false,
            &[("API-Version", "2.0.0")],
        )
        .json(&area("1011AB", 5)),
        400,
        "API-Version",
    )
    .await;
    let (_, e) = expect(
        bron_headers(post(&gemeente), GEMEENTE, UWV, false)
            .json(&json!({"vraagObject": {"selectiegebied": {"postcode": "12", "afstand": 5}}})),
        400,
        "bad postcode",
    )
    .await;
    assert!(
        e["details"]
            .as_str()
            .unwrap()
            .contains("/vraagObject/selectiegebied/postcode"),
        "{e}"
    );
    expect(
        bron_headers(post(&gemeente), GEMEENTE, UWV, false)
            .header("Content-Type", "application/json")
            .body("{not json"),
        400,
        "not JSON",
    )
    .await;
    // 401: viaParty not the answering node, toParty not this node, a controller without a
    // grant, a SUWI claim no grant backs
    expect(
        bron_with(
            post(&gemeente),
            GEMEENTE,
            UWV,
            false,
            &[("X-VUM-viaParty", GEMEENTE)],
        )
        .json(&area("1011AB", 5)),
        401,
        "viaParty",
    )
    .await;
    expect(
        bron_with(
            post(&gemeente),
            GEMEENTE,
            UWV,
            false,
            &[("X-VUM-toParty", SW)],
        )
        .json(&area("1011AB", 5)),
        401,
        "toParty",
    )
    .await;
    expect(
        bron_headers(post(&gemeente), SW, UWV, false).json(&area("1011AB", 5)),
        401,
        "no grant",
    )
    .await;
    expect(
        bron_headers(post(&gemeente), GEMEENTE, UWV, true).json(&area("1011AB", 5)),
        401,
        "SUWI claim",
    )
    .await;
    // 401: an id no selection returned to this party (the contracts have no 404); 400: one that
    // is no id of the standard
    expect(
        bron_headers(
            gemeente.get(format!("{base}/werkzoekendeProfielen/{}", "0".repeat(32))),
            GEMEENTE,
            UWV,
            false,
        ),
        401,
        "not selected for this party",
    )
    .await;
    expect(
        bron_headers(
            gemeente.get(format!("{base}/werkzoekendeProfielen/not%20an%20id")),
            GEMEENTE,
            UWV,
            false,
        ),
        400,
        "not an id",
    )
    .await;
    // 500: a stored record that no longer decodes (the caller sees a generic message)
    let (_, _, sel) = json_of(
        bron_headers(post(&gemeente), GEMEENTE, UWV, false)
            .json(&area("2573AB", 3))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let id = sel["matches"][0]["idWerkzoekende"]
        .as_str()
        .unwrap()
        .to_string();
    sqlx::query("UPDATE records SET pb = x'ffffffff' WHERE kind = 'werkzoekende' AND vum_id = ?")
        .bind(&id)
        .execute(f.uwv.state.store.pool())
        .await
        .unwrap();
    let (_, e) = expect(
        bron_headers(
            gemeente.get(format!("{base}/werkzoekendeProfielen/{id}")),
            GEMEENTE,
            UWV,
            false,
        ),
        500,
        "undecodable record",
    )
    .await;
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .starts_with("internal error (transaction "),
        "{e}"
    );
    // 429 with Retry-After: over the rate limit (default burst)
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..1200 {
        let r = bron_headers(
            gemeente.get(format!("{base}/werkzoekendeProfielen/{}", "1".repeat(32))),
            GEMEENTE,
            UWV,
            false,
        );
        calls.spawn(async move { r.send().await.unwrap() });
    }
    let mut limited = None;
    while let Some(r) = calls.join_next().await {
        let r = r.unwrap();
        if r.status().as_u16() == 429 {
            limited = Some(r);
        }
    }
    let r = limited.expect("no 429 within 1200 calls at once");
    assert!(r.headers().get("retry-after").is_some());
    // 503: a Bemiddelaar face whose every peer is down
    let mut lone = config(
        d,
        "gemeente",
        GEMEENTE,
        vec![PeerConfig::new(
            "00000004000000000000",
            "down",
            "https://127.0.0.1:1".into(),
        )],
        vec![],
        false,
    );
    lone.database = format!("sqlite://{}", d.join("lone.db").display());
    let lone = node::run::start(lone).await.unwrap();
    let own = client(d, Some("gemeente-local"), "ca.pem");
    let (h, _) = expect(
        bemiddelaar_headers(
            own.post(format!(
                "https://localhost:{}/api/v3/werkzoekendeProfielen/matches",
                lone.local_addr.port()
            )),
            GEMEENTE,
        )
        .json(&area("1011AB", 5)),
        503,
        "no peer answered",
    )
    .await;
    assert!(h.get("retry-after").is_some());
    // every refusal above is in the source's audit log
    let refused: Vec<String> =
        sqlx::query("SELECT subject FROM audit WHERE action LIKE 'refused:%'")
            .fetch_all(f.uwv.state.store.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
    for needle in [
        "x-vum-suwiparty",
        "api-version",
        "viaParty",
        "toParty",
        "no grant",
        "not selected",
        "rate limit",
    ] {
        assert!(
            refused.iter().any(|s| s.contains(needle)),
            "{needle} not audited: {refused:?}"
        );
    }
    // the Local gRPC twin of the federated call says the same per peer
    let mut l = LocalClient::new(
        channel(
            d,
            lone.local_addr,
            Some(("gemeente-local.pem", "gemeente-local.key")),
            "ca.pem",
        )
        .await
        .unwrap(),
    );
    let r = l
        .federated_select_werkzoekenden(tonic::Request::new(query("1011AB", 5)))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(r.peers[0].status, "ok");
    let _ = Kind::Werkzoekende;
}

/// The standard's test data through the Bemiddelaar face: all 1,000 official profiles in one
/// source, asked over the Bron contract by a SUWI gemeente whose own system speaks to its node as
/// it would to the VUM-voorziening (headers as a Postman collection writes them).
#[tokio::test]
async fn the_standards_profiles_through_the_bemiddelaar_face_key_for_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    node::pki::write_dev_pki(d, &[("gemeente", GEMEENTE), ("uwv", UWV)]).unwrap();
    let grant = vec![node::config::Grant {
        via: GEMEENTE.into(),
        on_behalf_of: vec![GEMEENTE.into()],
        services: vec!["*".into()],
        suwi: true,
    }];
    let uwv = node::run::start(config(d, "uwv", UWV, vec![], grant, true))
        .await
        .unwrap();
    let docs = shared("vum/testdata/werkzoekenden-1000.json");
    let docs = docs.as_array().unwrap();
    let rows: Vec<(String, Value)> = docs
        .iter()
        .map(|d| (d["idWerkzoekende"].as_str().unwrap().to_string(), d.clone()))
        .collect();
    uwv.state
        .store
        .upsert_batch(Kind::Werkzoekende, &rows, store::now_ms())
        .await
        .unwrap();
    let mut bron = PeerConfig::new(
        UWV,
        "UWV (Bron)",
        format!("https://localhost:{}/api/v3", uwv.peer_addr.port()),
    );
    bron.protocol = Protocol::VumBron;
    let gemeente = node::run::start(config(d, "gemeente", GEMEENTE, vec![bron], vec![], true))
        .await
        .unwrap();
    let own = client(d, Some("gemeente-local"), "ca.pem");
    let base = format!("https://localhost:{}/api/v3", gemeente.local_addr.port());
    let select = async |q: &Value| {
        let (status, _, body) = json_of(
            bemiddelaar_headers(
                own.post(format!("{base}/werkzoekendeProfielen/matches")),
                GEMEENTE,
            )
            .json(q)
            .send()
            .await
            .unwrap(),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        body
    };
    // the whole country: more than 100 match, so 100 come back with the flag set
    let all = select(&area("3511AA", 300)).await;
    assert_eq!(all["matches"].as_array().unwrap().len(), 100);
    assert_eq!(all["maximumAantalResultatenBereikt"], true);
    // small areas: every match of each result set (at most 10 details a set), key for key
    let by_id: std::collections::HashMap<&str, &Value> = docs
        .iter()
        .map(|d| (d["idWerkzoekende"].as_str().unwrap(), d))
        .collect();
    let mut checked = 0;
    for doc in docs.iter().step_by(25) {
        let pc = doc["mobiliteit"]["bemiddelingspostcode"].as_str().unwrap();
        let r = select(&area(pc, 3)).await;
        let matches = r["matches"].as_array().unwrap();
        assert!(matches.len() < 100 && r["maximumAantalResultatenBereikt"] == false);
        for m in matches.iter().take(10) {
            let vum_id = m["vumID"].as_str().unwrap();
            let (status, _, detail) = json_of(
                bemiddelaar_headers(
                    own.get(format!("{base}/werkzoekendeProfielen/{vum_id}")),
                    GEMEENTE,
                )
                .send()
                .await
                .unwrap(),
            )
            .await;
            assert_eq!(status, 200, "{detail}");
            assert_eq!(detail["bronID"], UWV);
            let w = &detail["werkzoekende"];
            let loaded = by_id[w["idWerkzoekende"].as_str().unwrap()];
            // no additions, no omissions (empty values aside); a SUWI party gets the LDR indication
            assert_eq!(strip_empty(w.clone()), strip_empty(loaded.clone()));
            checked += 1;
        }
    }
    assert!(checked >= 40, "{checked} details checked");
}
