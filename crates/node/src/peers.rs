//! The peer clients: how this node asks other organisations. A matchgate peer over gRPC (one
//! lazily connected channel per endpoint), a VUM source over the Bron contract and the
//! VUM-voorziening over the Bemiddelaar contract over REST (one HTTP client, mutual TLS with the
//! node's certificate, the server name taken from the peer URL's host). Each call carries the
//! deadline; nothing is retried (a selection is a POST). Answers are decoded into the typed match
//! profiles, so a peer's answer cannot bring personal fields into a match.
use crate::config::{NodeConfig, PeerConfig, Protocol};
use crate::error::{CallError, NodeError};
use crate::parties::{self, Parties};
use crate::pb::{self, peer_client::PeerClient};
use crate::server::from_json;
use prost::Message;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Code, Request, Status};
use vum::Kind;
use vum_proto::{vacatures as vac, werkzoekenden as wz};

/// The largest answer read from a REST peer, bytes (a detail document is a few kB; 100 match
/// profiles some 100 kB).
pub const MAX_REST_ANSWER: usize = 8 * 1024 * 1024;

/// A source's selection answer: (source id, its match profile protobuf-encoded as the source's
/// `MP…Match`), and whether the source had more.
pub(crate) type SourceMatches = (Vec<(String, Vec<u8>)>, bool);

/// Clients for the configured peers.
pub(crate) struct PeerClients {
    own_oin: String,
    suwi: bool,
    deadline: Duration,
    /// the node's certificate and the peers' CA, replaced by [`PeerClients::reload`]
    tls: std::sync::RwLock<Arc<ClientTls>>,
    channels: Mutex<HashMap<String, Channel>>,
}

/// The TLS side of the clients: for gRPC channels and for the REST client.
struct ClientTls {
    grpc: ClientTlsConfig,
    http: reqwest::Client,
}

impl ClientTls {
    fn new(config: &NodeConfig, deadline: Duration) -> Result<ClientTls, NodeError> {
        let read = |p: &std::path::Path| {
            std::fs::read(p).map_err(|source| NodeError::Read {
                path: p.to_path_buf(),
                source,
            })
        };
        let grpc = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(read(&config.tls.ca)?))
            .identity(Identity::from_pem(
                read(&config.tls.cert)?,
                read(&config.tls.key)?,
            ));
        let tls = crate::tls::client_config(&config.tls.cert, &config.tls.key, &config.tls.ca)?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .connect_timeout(deadline)
            .timeout(deadline)
            .pool_idle_timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| NodeError::Client(e.to_string()))?;
        Ok(ClientTls { grpc, http })
    }
}

impl PeerClients {
    /// Clients with the node's certificate and the peers' CA.
    pub(crate) fn new(config: &NodeConfig) -> Result<PeerClients, NodeError> {
        let deadline = Duration::from_millis(config.peer_deadline_ms);
        Ok(PeerClients {
            own_oin: config.oin.clone(),
            suwi: config.suwi,
            deadline,
            tls: std::sync::RwLock::new(Arc::new(ClientTls::new(config, deadline)?)),
            channels: Mutex::new(HashMap::new()),
        })
    }

    /// Read the node's certificate, key and the peers' CA again (SIGHUP): calls from now on use
    /// them (new gRPC channels, a new REST client); calls in flight finish on the old ones. On
    /// any error the current ones stay.
    pub(crate) async fn reload(&self, config: &NodeConfig) -> Result<(), NodeError> {
        let fresh = Arc::new(ClientTls::new(config, self.deadline)?);
        *self.tls.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        self.channels.lock().await.clear();
        Ok(())
    }

    fn current_tls(&self) -> Arc<ClientTls> {
        self.tls.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The gRPC channel to a matchgate peer (connected on first use, then shared). The peer's
    /// certificate must carry its `server_name`, or else its endpoint's host.
    pub(crate) async fn channel(&self, peer: &PeerConfig) -> Result<Channel, Status> {
        let endpoint = peer.endpoint.as_str();
        let name = NodeConfig::peer_server_name(peer)
            .ok_or_else(|| CallError::internal(format!("peer endpoint {endpoint}: no host")))?;
        let key = format!("{endpoint} {name}");
        if let Some(c) = self.channels.lock().await.get(&key) {
            return Ok(c.clone());
        }
        let ep = Endpoint::from_shared(endpoint.to_string())
            .map_err(|e| CallError::internal(format!("peer endpoint {endpoint}: {e}")))?
            .tls_config(self.current_tls().grpc.clone().domain_name(name))
            .map_err(|e| CallError::internal(format!("peer endpoint {endpoint}: {e}")))?
            .connect_timeout(self.deadline)
            .timeout(self.deadline);
        let ch = ep.connect_lazy();
        self.channels.lock().await.insert(key, ch.clone());
        Ok(ch)
    }

    /// Party metadata of a gRPC call this node makes to a peer, for its own organisation.
    pub(crate) fn outgoing<T>(&self, msg: T, peer_oin: &str, tx_id: &str) -> (Request<T>, Parties) {
        let mut r = Request::new(msg);
        r.set_timeout(self.deadline);
        // the trace this call belongs to continues on the peer
        crate::telemetry::inject_grpc(r.metadata_mut());
        parties::attach(
            &mut r,
            &self.own_oin,
            &self.own_oin,
            peer_oin,
            self.suwi,
            tx_id,
        );
        let own = Parties {
            cert_oin: self.own_oin.clone(),
            from: self.own_oin.clone(),
            to: peer_oin.to_string(),
            suwi: self.suwi,
            transaction_id: tx_id.to_string(),
        };
        (r, own)
    }

    /// One peer's selection, whatever it speaks.
    pub(crate) async fn select(
        &self,
        kind: Kind,
        peer: &PeerConfig,
        query: &Value,
        tx_id: &str,
    ) -> Result<SourceMatches, Status> {
        match peer.protocol {
            Protocol::Matchgate => self.select_grpc(kind, peer, query, tx_id).await,
            Protocol::VumBron | Protocol::VumBemiddelaar => {
                let body = serde_json::to_vec(query)
                    .map_err(|e| CallError::internal(format!("selection: {e}")))?;
                let answer = self
                    .rest(
                        peer,
                        reqwest::Method::POST,
                        &matches_path(kind),
                        Some(body),
                        tx_id,
                    )
                    .await?;
                decode_matches(kind, peer.protocol, answer)
            }
        }
    }

    async fn select_grpc(
        &self,
        kind: Kind,
        peer: &PeerConfig,
        query: &Value,
        tx_id: &str,
    ) -> Result<SourceMatches, Status> {
        let mut client = PeerClient::new(self.channel(peer).await?);
        let query = &for_grpc(kind, query);
        if kind == Kind::Vacature {
            let (r, _) = self.outgoing(
                from_json::<vac::VacatureMatchesRequest>(query.clone())?,
                &peer.oin,
                tx_id,
            );
            let resp = client.select_vacatures(r).await?.into_inner();
            Ok((
                resp.matches
                    .iter()
                    .map(|m| (m.id_vacature.clone(), m.encode_to_vec()))
                    .collect(),
                resp.maximum_aantal_resultaten_bereikt.unwrap_or(false),
            ))
        } else {
            let (r, _) = self.outgoing(
                from_json::<wz::WerkzoekendeProfielMatchesRequest>(query.clone())?,
                &peer.oin,
                tx_id,
            );
            let resp = client.select_werkzoekenden(r).await?.into_inner();
            Ok((
                resp.matches
                    .iter()
                    .map(|m| (m.id_werkzoekende.clone(), m.encode_to_vec()))
                    .collect(),
                resp.maximum_aantal_resultaten_bereikt.unwrap_or(false),
            ))
        }
    }

    /// A jobseeker's details from the peer that holds `id` (its source id, or for the
    /// VUM-voorziening its vumID).
    pub(crate) async fn get_werkzoekende(
        &self,
        peer: &PeerConfig,
        id: &str,
        tx_id: &str,
    ) -> Result<wz::Werkzoekende, Status> {
        match peer.protocol {
            Protocol::Matchgate => {
                let (r, _) = self.outgoing(pb::GetRequest { id: id.into() }, &peer.oin, tx_id);
                let mut c = PeerClient::new(self.channel(peer).await?);
                Ok(c.get_werkzoekende(r).await?.into_inner())
            }
            Protocol::VumBron => {
                let answer = self.get_rest(peer, Kind::Werkzoekende, id, tx_id).await?;
                decode(&answer, "werkzoekende")
            }
            Protocol::VumBemiddelaar => {
                let answer = self.get_rest(peer, Kind::Werkzoekende, id, tx_id).await?;
                let d: wz::WerkzoekendeDetailResponse = decode(&answer, "werkzoekende detail")?;
                d.werkzoekende
                    .ok_or_else(|| Status::internal("the VUM-voorziening answered no werkzoekende"))
            }
        }
    }

    /// A vacancy's details from the peer that holds `id`.
    pub(crate) async fn get_vacature(
        &self,
        peer: &PeerConfig,
        id: &str,
        tx_id: &str,
    ) -> Result<vac::Vacature, Status> {
        match peer.protocol {
            Protocol::Matchgate => {
                let (r, _) = self.outgoing(pb::GetRequest { id: id.into() }, &peer.oin, tx_id);
                let mut c = PeerClient::new(self.channel(peer).await?);
                Ok(c.get_vacature(r).await?.into_inner())
            }
            Protocol::VumBron => {
                let answer = self.get_rest(peer, Kind::Vacature, id, tx_id).await?;
                decode(&answer, "vacature")
            }
            Protocol::VumBemiddelaar => {
                let answer = self.get_rest(peer, Kind::Vacature, id, tx_id).await?;
                let d: vac::VacatureDetailResponse = decode(&answer, "vacature detail")?;
                d.vacature
                    .ok_or_else(|| Status::internal("the VUM-voorziening answered no vacature"))
            }
        }
    }

    async fn get_rest(
        &self,
        peer: &PeerConfig,
        kind: Kind,
        id: &str,
        tx_id: &str,
    ) -> Result<Vec<u8>, Status> {
        // the id goes into the path: only the contract's safe characters
        if id.is_empty()
            || id.len() > 500
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        {
            return Err(Status::internal(format!(
                "{} id {} cannot be asked over REST",
                kind.name(),
                parties::shown(id)
            )));
        }
        let path = format!("{}/{id}", collection(kind));
        self.rest(peer, reqwest::Method::GET, &path, None, tx_id)
            .await
    }

    /// One REST call to a peer with the contract's headers; the answer's body when it is 200.
    async fn rest(
        &self,
        peer: &PeerConfig,
        method: reqwest::Method,
        path: &str,
        body: Option<Vec<u8>>,
        tx_id: &str,
    ) -> Result<Vec<u8>, Status> {
        let url = format!("{}{path}", peer.endpoint.trim_end_matches('/'));
        let mut r = self
            .current_tls()
            .http
            .request(method, &url)
            .header("API-Version", vum::parties::API_VERSIE)
            .header("X-VUM-berichtVersie", vum::parties::BERICHT_VERSIE)
            .header("X-VUM-fromParty", &self.own_oin)
            .header("X-VUM-toParty", &peer.oin)
            .header("X-Transaction-ID", tx_id)
            .header("Accept", "application/json");
        for (k, v) in crate::telemetry::trace_headers() {
            r = r.header(k, v);
        }
        r = match peer.protocol {
            // VUM → Bron: viaParty is the answering processor (koppelvlak README)
            Protocol::VumBron => r
                .header("X-VUM-viaParty", &peer.oin)
                .header("X-VUM-SUWIparty", if self.suwi { "true" } else { "false" }),
            // Bemiddelaar → VUM: viaParty is the asking processor, this node
            _ => r.header("X-VUM-viaParty", &self.own_oin),
        };
        if let Some(b) = body {
            r = r.header("Content-Type", "application/json").body(b);
        }
        let mut resp = r.send().await.map_err(|e| transport(&url, e))?;
        let status = resp.status().as_u16();
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_REST_ANSWER as u64)
        {
            return Err(Status::internal(format!(
                "{url}: an answer of more than {MAX_REST_ANSWER} bytes"
            )));
        }
        let mut answer = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| transport(&url, e))? {
            if answer.len() + chunk.len() > MAX_REST_ANSWER {
                return Err(Status::internal(format!(
                    "{url}: an answer of more than {MAX_REST_ANSWER} bytes"
                )));
            }
            answer.extend_from_slice(&chunk);
        }
        if status == 200 {
            return Ok(answer);
        }
        // the contract's Error body, when there is one
        let message = serde_json::from_slice::<Value>(&answer)
            .ok()
            .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
            .map(|m| crate::server::bounded(&m, 300))
            .unwrap_or_default();
        let code = match status {
            400 => Code::InvalidArgument,
            401 | 403 => Code::PermissionDenied,
            429 => Code::ResourceExhausted,
            503 => Code::Unavailable,
            _ => Code::Internal,
        };
        Err(Status::new(code, format!("HTTP {status}: {message}")))
    }
}

/// A selection as a gRPC message can carry it: criteria and operators the standard's version
/// does not define have no effect at a source (koppelvlak README), and a protobuf message has no
/// place for them, so they are left out (a REST peer gets them as they came).
fn for_grpc(kind: Kind, query: &Value) -> Value {
    let Ok(s) = vum::query::Selectie::from_request(kind.family(), query) else {
        return query.clone();
    };
    let mut q = query.clone();
    for ig in &s.ignored {
        remove_pointer(&mut q, &ig.pointer);
    }
    q
}

/// Remove the value at a JSON pointer (RFC 6901), if it is there.
fn remove_pointer(v: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let unescape = |s: &str| s.replace("~1", "/").replace("~0", "~");
    let target = if parent.is_empty() {
        Some(v)
    } else {
        v.pointer_mut(parent)
    };
    match target {
        Some(Value::Object(o)) => {
            o.remove(&unescape(last));
        }
        Some(Value::Array(a)) => {
            if let Ok(i) = last.parse::<usize>() {
                if i < a.len() {
                    a.remove(i);
                }
            }
        }
        _ => {}
    }
}

fn transport(url: &str, e: reqwest::Error) -> Status {
    let code = if e.is_timeout() {
        Code::DeadlineExceeded
    } else {
        Code::Unavailable
    };
    // reqwest's chain names the cause (connection refused, certificate, timeout)
    let mut why = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        why.push_str(": ");
        why.push_str(&s.to_string());
        source = s.source();
    }
    Status::new(
        code,
        format!("{url}: {}", crate::server::bounded(&why, 300)),
    )
}

/// The contract's collection path of a kind.
pub(crate) fn collection(kind: Kind) -> &'static str {
    if kind == Kind::Vacature {
        "/vacatures"
    } else {
        "/werkzoekendeProfielen"
    }
}

fn matches_path(kind: Kind) -> String {
    format!("{}/matches", collection(kind))
}

fn decode<T: serde::de::DeserializeOwned>(answer: &[u8], what: &str) -> Result<T, Status> {
    serde_json::from_slice(answer).map_err(|e| {
        Status::internal(format!(
            "the peer's {what} does not fit the contract: {}",
            crate::server::bounded(&e.to_string(), 200)
        ))
    })
}

/// A REST peer's selection answer as source matches. A Bron answer carries the source's ids;
/// the VUM-voorziening's (Bemiddelaar contract) its vumIDs, which become the "source id" this
/// node asks details by. Source and exchange match profiles share field numbers, the id at the
/// last (see `local::with_vum_ids`), so both encode alike.
fn decode_matches(
    kind: Kind,
    protocol: Protocol,
    answer: Vec<u8>,
) -> Result<SourceMatches, Status> {
    match (kind, protocol) {
        (Kind::Vacature, Protocol::VumBron) => {
            let r: vac::VacaturesMatchesBronResponse = decode(&answer, "selection answer")?;
            Ok((
                r.matches
                    .iter()
                    .map(|m| (m.id_vacature.clone(), m.encode_to_vec()))
                    .collect(),
                r.maximum_aantal_resultaten_bereikt.unwrap_or(false),
            ))
        }
        (Kind::Vacature, _) => {
            let r: vac::VacaturesMatchesResponse = decode(&answer, "selection answer")?;
            Ok((
                r.matches
                    .iter()
                    .map(|m| (m.vum_id.clone(), m.encode_to_vec()))
                    .collect(),
                r.maximum_aantal_resultaten_bereikt.unwrap_or(false),
            ))
        }
        (_, Protocol::VumBron) => {
            let r: wz::WerkzoekendeProfielMatchesBronResponse =
                decode(&answer, "selection answer")?;
            Ok((
                r.matches
                    .iter()
                    .map(|m| (m.id_werkzoekende.clone(), m.encode_to_vec()))
                    .collect(),
                r.maximum_aantal_resultaten_bereikt.unwrap_or(false),
            ))
        }
        _ => {
            let r: wz::WerkzoekendeProfielMatchesResponse = decode(&answer, "selection answer")?;
            Ok((
                r.matches
                    .iter()
                    .map(|m| (m.vum_id.clone(), m.encode_to_vec()))
                    .collect(),
                r.maximum_aantal_resultaten_bereikt.unwrap_or(false),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criteria_a_message_cannot_carry_are_left_out_for_grpc() {
        let q = serde_json::json!({"vraagObject": {
            "selectiegebied": {"postcode": "3511AA", "afstand": 5},
            "lievelingskleur": {"$eq": "blauw"},
            "werktijden.aantalWerkurenPerWeekMaximaal": {"$gte": 24, "$near": 3}}});
        let g = for_grpc(Kind::Werkzoekende, &q);
        assert!(g["vraagObject"].get("lievelingskleur").is_none());
        assert_eq!(
            g["vraagObject"]["werktijden.aantalWerkurenPerWeekMaximaal"]["$gte"],
            24
        );
        assert!(from_json::<wz::WerkzoekendeProfielMatchesRequest>(g).is_ok());
    }
}
