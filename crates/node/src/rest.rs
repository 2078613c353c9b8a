//! The VUM standard's REST contracts, served beside the gRPC services on the same listeners:
//! the **Bron face** (`VUM-Bron-*.json`) on the peer listener, for peers and the VUM-voorziening,
//! and the **Bemiddelaar face** (`VUM-Bemiddelaar-*.json`) on the local listener, for own
//! systems. Both live under `[rest].base_path` (default `/api/v3`).
//!
//! A handler here only translates: it reads the certificate the TLS layer kept, passes the call
//! through the same guard the gRPC services use (`guard.rs`), calls the same operation
//! (`NodeState::select_as_source`, `LocalService::federated_select`, ...) and writes the answer
//! as the contract does: JSON bodies, the response headers of the koppelvlak README's table,
//! and errors as the contract's `Error` body with one status table (`error::HttpError`).
use crate::error::{CallError, HttpError};
use crate::guard::PeerCerts;
use crate::local::{with_vum_ids, LocalService};
use crate::parties::Parties;
use crate::server::{get_service, select_service, NodeState};
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Router;
use http::request::Parts;
use http::{HeaderValue, Response, StatusCode};
use serde_json::Value;
use std::sync::Arc;
use store::service::MatchesResponse;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use vum::parties::Dialect;
use vum::Kind;
use vum_proto::{vacatures as vac, werkzoekenden as wz};

const BRON_DOCS: [(&str, &str); 2] = [
    (
        "VUM-Bron-WerkzoekendeProfielen.json",
        include_str!("../oas/VUM-Bron-WerkzoekendeProfielen.json"),
    ),
    (
        "VUM-Bron-Vacatures.json",
        include_str!("../oas/VUM-Bron-Vacatures.json"),
    ),
];
const BEMIDDELAAR_DOCS: [(&str, &str); 2] = [
    (
        "VUM-Bemiddelaar-WerkzoekendeProfielen.json",
        include_str!("../oas/VUM-Bemiddelaar-WerkzoekendeProfielen.json"),
    ),
    (
        "VUM-Bemiddelaar-Vacatures.json",
        include_str!("../oas/VUM-Bemiddelaar-Vacatures.json"),
    ),
];

/// Which face a router serves.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Face {
    Bron,
    Bemiddelaar,
}

#[derive(Clone)]
struct Ctx {
    st: Arc<NodeState>,
    face: Face,
    /// the face's merged contract, served at `{base}/openapi.json`
    merged: Arc<Vec<u8>>,
}

/// The Bron face: selection and details of this node's own records for other organisations.
pub fn bron_router(st: Arc<NodeState>) -> Router {
    router(st, Face::Bron)
}

/// The Bemiddelaar face: federated selection and details by vumID for own systems.
pub fn bemiddelaar_router(st: Arc<NodeState>) -> Router {
    router(st, Face::Bemiddelaar)
}

fn router(st: Arc<NodeState>, face: Face) -> Router {
    let base = st.config.rest.base_path.clone();
    let docs = match face {
        Face::Bron => BRON_DOCS,
        Face::Bemiddelaar => BEMIDDELAAR_DOCS,
    };
    let merged = Arc::new(merge_contracts(&docs));
    let limit = st.config.limits.max_message_bytes;
    let ctx = Ctx { st, face, merged };
    let mut r = Router::new()
        .route(
            &format!("{base}/werkzoekendeProfielen/matches"),
            post(|State(c): State<Ctx>, parts: Parts, body: Bytes| {
                select(c, Kind::Werkzoekende, parts, body)
            }),
        )
        .route(
            &format!("{base}/vacatures/matches"),
            post(|State(c): State<Ctx>, parts: Parts, body: Bytes| {
                select(c, Kind::Vacature, parts, body)
            }),
        )
        .route(
            &format!("{base}/werkzoekendeProfielen/{{id}}"),
            get(
                |State(c): State<Ctx>, Path(id): Path<String>, parts: Parts| {
                    detail(c, Kind::Werkzoekende, id, parts)
                },
            ),
        )
        .route(
            &format!("{base}/vacatures/{{id}}"),
            get(
                |State(c): State<Ctx>, Path(id): Path<String>, parts: Parts| {
                    detail(c, Kind::Vacature, id, parts)
                },
            ),
        )
        .route(
            &format!("{base}/openapi.json"),
            get(|State(c): State<Ctx>| async move { json_doc(c.merged.as_ref().clone()) }),
        );
    for (name, text) in docs {
        r = r.route(
            &format!("{base}/openapi/{name}"),
            get(move || async move { json_doc(text.as_bytes().to_vec()) }),
        );
    }
    r.layer(axum::extract::DefaultBodyLimit::max(limit))
        .with_state(ctx)
}

/// The two contract documents of a face as one OpenAPI document: the paths of both; components
/// of both, where a name both define differently (`Cursus`, `Opleiding`, ... differ between the
/// profile and the vacancy contracts) the vacancy contract's is renamed `…Vacature` and its
/// references follow. The documents themselves are served unchanged beside it.
fn merge_contracts(docs: &[(&str, &str); 2]) -> Vec<u8> {
    let parse = |t: &str| serde_json::from_str::<Value>(t).unwrap_or(Value::Null);
    let (mut a, mut b) = (parse(docs[0].1), parse(docs[1].1));
    let clashes: Vec<String> = match (
        a.pointer("/components/schemas").and_then(Value::as_object),
        b.pointer("/components/schemas").and_then(Value::as_object),
    ) {
        (Some(sa), Some(sb)) => sb
            .iter()
            .filter(|(k, v)| sa.get(*k).is_some_and(|w| w != *v))
            .map(|(k, _)| k.clone())
            .collect(),
        _ => Vec::new(),
    };
    fn rename(v: &mut Value, clashes: &[String]) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get_mut("$ref") {
                    if let Some(name) = r.strip_prefix("#/components/schemas/") {
                        if clashes.iter().any(|c| c == name) {
                            *r = format!("#/components/schemas/{name}Vacature");
                        }
                    }
                }
                m.values_mut().for_each(|x| rename(x, clashes));
            }
            Value::Array(xs) => xs.iter_mut().for_each(|x| rename(x, clashes)),
            _ => {}
        }
    }
    rename(&mut b, &clashes);
    if let Some(schemas) = b
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for c in &clashes {
            if let Some(s) = schemas.remove(c) {
                schemas.insert(format!("{c}Vacature"), s);
            }
        }
    }
    if let (Some(ca), Some(cb)) = (
        a.get_mut("components").and_then(Value::as_object_mut),
        b.get("components").and_then(Value::as_object),
    ) {
        for (section, entries) in cb {
            let into = ca
                .entry(section.clone())
                .or_insert_with(|| Value::Object(Default::default()));
            if let (Some(into), Some(entries)) = (into.as_object_mut(), entries.as_object()) {
                for (k, v) in entries {
                    into.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
    }
    if let (Some(pa), Some(pb)) = (
        a.get_mut("paths").and_then(Value::as_object_mut),
        b.get("paths").and_then(Value::as_object),
    ) {
        for (k, v) in pb {
            pa.insert(k.clone(), v.clone());
        }
    }
    if let Some(info) = a.get_mut("info").and_then(Value::as_object_mut) {
        info.insert(
            "description".into(),
            Value::String(format!(
                "{} and {} (VUM interface 3.0.0) in one document, as served by matchgate; the \
                 published documents unchanged at openapi/{} and openapi/{}",
                docs[0].0, docs[1].0, docs[0].0, docs[1].0
            )),
        );
    }
    serde_json::to_vec(&a).unwrap_or_default()
}

fn json_doc(body: Vec<u8>) -> Response<Body> {
    let mut r = Response::new(Body::from(body));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn certs(parts: &Parts) -> PeerCerts {
    parts
        .extensions
        .get::<TlsConnectInfo<TcpConnectInfo>>()
        .and_then(|i| i.peer_certs())
}

/// Who the response is addressed to, for its headers: the checked parties, or before they
/// were checked, the request's own headers where they are OINs.
struct Addressed {
    to: Option<String>,
    via: Option<String>,
    transaction_id: Option<String>,
}

impl Addressed {
    fn from_request(parts: &Parts) -> Addressed {
        let oin = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .filter(|v| vum::parties::is_oin(v))
                .map(str::to_string)
        };
        Addressed {
            to: oin(vum::parties::FROM),
            via: None,
            transaction_id: None,
        }
    }

    fn from_parties(p: &Parties) -> Addressed {
        Addressed {
            to: Some(p.from.clone()),
            via: vum::parties::is_oin(&p.cert_oin).then(|| p.cert_oin.clone()),
            transaction_id: Some(p.transaction_id.clone()),
        }
    }
}

/// A response with the contract's headers (koppelvlak README: the answering controller in
/// fromParty, the asking controller in toParty, the asking processor in viaParty).
fn respond(st: &NodeState, status: u16, body: Vec<u8>, to: &Addressed) -> Response<Body> {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(
        "API-Version",
        HeaderValue::from_static(vum::parties::API_VERSIE),
    );
    h.insert(
        "X-VUM-berichtVersie",
        HeaderValue::from_static(vum::parties::BERICHT_VERSIE),
    );
    let mut put = |name: &'static str, v: &Option<String>| {
        if let Some(v) = v.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
            h.insert(name, v);
        }
    };
    put("X-VUM-fromParty", &Some(st.config.oin.clone()));
    put("X-VUM-toParty", &to.to);
    put("X-VUM-viaParty", &to.via);
    put("X-Transaction-ID", &to.transaction_id);
    r
}

/// A call's error as the contract's `Error` body and status.
fn refuse(st: &NodeState, e: CallError, to: &Addressed) -> Response<Body> {
    let e = HttpError::from(e);
    let mut body = serde_json::json!({ "code": e.code, "message": e.message });
    if let Some(d) = &e.details {
        body["details"] = Value::String(d.clone());
    }
    let mut r = respond(
        st,
        e.status,
        serde_json::to_vec(&body).unwrap_or_default(),
        to,
    );
    if let Some(s) = e.retry_after {
        r.headers_mut()
            .insert(http::header::RETRY_AFTER, HeaderValue::from(s));
    }
    r
}

/// The body of a selection: JSON, sent as `application/json` (or without a content type).
fn read_query(parts: &Parts, body: &[u8]) -> Result<Value, CallError> {
    let bad = |why: String| CallError::Invalid {
        what: "request body",
        violations: vec![("body".into(), why)],
    };
    if let Some(ct) = parts.headers.get(http::header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("");
        let essence = ct.split(';').next().unwrap_or("").trim();
        if !essence.eq_ignore_ascii_case("application/json") {
            return Err(bad(format!(
                "Content-Type {} is not application/json",
                vum::parties::shown(ct)
            )));
        }
    }
    serde_json::from_slice::<Value>(body).map_err(|e| bad(format!("not JSON: {e}")))
}

/// pbjson leaves out empty lists; the contracts require `matches` even when it is empty.
fn with_matches(mut v: Value) -> Vec<u8> {
    if let Some(o) = v.as_object_mut() {
        o.entry("matches")
            .or_insert_with(|| Value::Array(Vec::new()));
        o.entry("maximumAantalResultatenBereikt")
            .or_insert(Value::Bool(false));
    }
    serde_json::to_vec(&v).unwrap_or_default()
}

async fn admit(c: &Ctx, parts: &Parts, service: &str) -> Result<Parties, CallError> {
    let certs = certs(parts);
    match c.face {
        Face::Bron => {
            c.st.guard
                .admit(&c.st, &certs, &parts.headers, Dialect::Bron, service)
                .await
        }
        Face::Bemiddelaar => {
            c.st.guard
                .admit_own(&c.st, &certs, &parts.headers, service)
                .await
        }
    }
}

async fn select(c: Ctx, kind: Kind, parts: Parts, body: Bytes) -> Response<Body> {
    let service = select_service(kind);
    let p = match admit(&c, &parts, service).await {
        Ok(p) => p,
        Err(e) => return refuse(&c.st, e, &Addressed::from_request(&parts)),
    };
    let to = Addressed::from_parties(&p);
    let query = match read_query(&parts, &body) {
        Ok(q) => q,
        Err(e) => {
            c.st.audit(&p, &format!("refused:{service}"), &e.to_string(), 0)
                .await;
            return refuse(&c.st, e, &to);
        }
    };
    let answer = match c.face {
        Face::Bron => match c.st.select_as_source(kind, query, &p).await {
            Ok(MatchesResponse::Werkzoekenden(r)) => {
                let mut v = crate::server::to_json(&r);
                if c.st.faults.has(crate::faults::Fault::PersonalFieldInMatch) {
                    for m in v["matches"].as_array_mut().into_iter().flatten() {
                        m["emailadres"] = serde_json::json!(["iemand@example.org"]);
                    }
                }
                Ok(v)
            }
            Ok(MatchesResponse::Vacatures(r)) => Ok(crate::server::to_json(&r)),
            Err(e) => Err(e),
        },
        Face::Bemiddelaar => federated(&c, kind, query, &p).await,
    };
    match answer {
        Ok(v) => respond(&c.st, 200, with_matches(v), &to),
        Err(e) => refuse(&c.st, e, &to),
    }
}

/// The Bemiddelaar face's selection: over every peer, as the Local service's.
async fn federated(c: &Ctx, kind: Kind, query: Value, p: &Parties) -> Result<Value, CallError> {
    let local = LocalService(c.st.clone());
    let m = local
        .federated_select(kind, query, p.cert_oin.clone())
        .await?;
    if !m.peers.is_empty() && m.peers.iter().all(|s| s.status != "ok") {
        let statuses: Vec<String> = m
            .peers
            .iter()
            .map(|s| format!("{} {}", s.oin, crate::server::bounded(&s.status, 80)))
            .collect();
        return Err(CallError::NoPeerAnswered(statuses.join("; ")));
    }
    Ok(if kind == Kind::Vacature {
        crate::server::to_json(&vac::VacaturesMatchesResponse {
            maximum_aantal_resultaten_bereikt: Some(m.more),
            vraag_id: m.vraag_id,
            matches: with_vum_ids::<vac::MpVacatureMatchVum>(m.matches, |x, id| x.vum_id = id)?,
        })
    } else {
        crate::server::to_json(&wz::WerkzoekendeProfielMatchesResponse {
            maximum_aantal_resultaten_bereikt: Some(m.more),
            vraag_id: m.vraag_id,
            matches: with_vum_ids::<wz::MpWerkzoekendeMatchVum>(m.matches, |x, id| x.vum_id = id)?,
        })
    })
}

async fn detail(c: Ctx, kind: Kind, id: String, parts: Parts) -> Response<Body> {
    let service = get_service(kind);
    let p = match admit(&c, &parts, service).await {
        Ok(p) => p,
        Err(e) => return refuse(&c.st, e, &Addressed::from_request(&parts)),
    };
    let to = Addressed::from_parties(&p);
    let answer = match (c.face, kind) {
        (Face::Bron, Kind::Vacature) => {
            c.st.vacature_as_source(&id, &p)
                .await
                .map(|v| crate::server::to_json(&v))
        }
        (Face::Bron, _) => {
            c.st.werkzoekende_as_source(&id, &p)
                .await
                .map(|w| crate::server::to_json(&w))
        }
        (Face::Bemiddelaar, Kind::Vacature) => LocalService(c.st.clone())
            .federated_get(kind, &id, p.cert_oin.clone(), async |st, peer, id, tx| {
                st.peers.get_vacature(peer, id, tx).await
            })
            .await
            .map(|(bron_id, v)| {
                crate::server::to_json(&vac::VacatureDetailResponse {
                    bron_id,
                    vacature: Some(v),
                })
            }),
        (Face::Bemiddelaar, _) => LocalService(c.st.clone())
            .federated_get(kind, &id, p.cert_oin.clone(), async |st, peer, id, tx| {
                st.peers.get_werkzoekende(peer, id, tx).await
            })
            .await
            .map(|(bron_id, w)| {
                crate::server::to_json(&wz::WerkzoekendeDetailResponse {
                    bron_id,
                    werkzoekende: Some(w),
                })
            }),
    };
    match answer {
        Ok(v) => respond(&c.st, 200, serde_json::to_vec(&v).unwrap_or_default(), &to),
        Err(e) => refuse(&c.st, e, &to),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_contracts_keep_every_path_and_rename_only_clashing_schemas() {
        for docs in [BRON_DOCS, BEMIDDELAAR_DOCS] {
            let m: Value = serde_json::from_slice(&merge_contracts(&docs)).unwrap();
            let paths = m["paths"].as_object().unwrap();
            assert_eq!(paths.len(), 4, "{:?}", paths.keys().collect::<Vec<_>>());
            let schemas = m["components"]["schemas"].as_object().unwrap();
            assert!(schemas.contains_key("Cursus") && schemas.contains_key("CursusVacature"));
            // every reference resolves
            let text = serde_json::to_string(&m).unwrap();
            for r in text.split("\"#/components/schemas/").skip(1) {
                let name = &r[..r.find('"').unwrap()];
                assert!(schemas.contains_key(name), "{name}");
            }
        }
    }
}
