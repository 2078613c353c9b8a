//! The node's two services over one store: Peer (other organisations) and Local (own systems).
use crate::config::NodeConfig;
use crate::parties::{self, Parties};
use crate::pb::{self, local_server::Local, peer_client::PeerClient, peer_server::Peer};
use hmac::{Hmac, Mac};
use rand::seq::SliceRandom;
use serde_json::Value;
use sha2::Sha256;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::engine::Engine;
use store::service::{self, Caller, MatchesResponse};
use store::{now_ms, AuditEntry, Store};
use tokio::sync::{Mutex, RwLock};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Request, Response, Status};
use vum::{Kind, Validator};
use vum_proto::{vacatures as vac, werkzoekenden as wz};

pub const CAPABILITIES: &[&str] = &[
    "select-werkzoekenden",
    "select-vacatures",
    "get-werkzoekende",
    "get-vacature",
    "vacancy-feed",
];

pub struct NodeState {
    pub config: NodeConfig,
    pub store: Store,
    pub engines: HashMap<Kind, RwLock<Engine>>,
    validator: Validator,
    secret: Vec<u8>,
    client_tls: ClientTlsConfig,
    channels: Mutex<HashMap<String, Channel>>,
    /// vumID -> (peer OIN, source id, result set); result set -> details asked
    results: Mutex<(
        HashMap<String, (String, String, String)>,
        HashMap<String, u32>,
    )>,
}

pub const MAX_DETAILS_PER_RESULT_SET: u32 = 10;

impl NodeState {
    pub async fn new(config: NodeConfig) -> Result<Arc<NodeState>, String> {
        let store = Store::open(&config.database)
            .await
            .map_err(|e| e.to_string())?
            .with_group_commit();
        let mut engines = HashMap::new();
        for k in [Kind::Werkzoekende, Kind::Vacature] {
            engines.insert(
                k,
                RwLock::new(Engine::load(&store, k).await.map_err(|e| e.to_string())?),
            );
        }
        let read =
            |p: &std::path::Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
        let secret = read(&config.secret_file)?;
        let client_tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(read(&config.tls.ca)?))
            .identity(Identity::from_pem(
                read(&config.tls.cert)?,
                read(&config.tls.key)?,
            ));
        Ok(Arc::new(NodeState {
            config,
            store,
            engines,
            validator: Validator::new(),
            secret,
            client_tls,
            channels: Mutex::new(HashMap::new()),
            results: Mutex::new((HashMap::new(), HashMap::new())),
        }))
    }

    async fn audit(&self, p: &Parties, action: &str, subject: &str, count: i64) {
        let e = AuditEntry {
            actor: p.cert_oin.clone(),
            on_behalf_of: p.from.clone(),
            action: action.into(),
            purpose: "vum".into(),
            transaction_id: p.transaction_id.clone(),
            subject: subject.into(),
            result_count: count,
        };
        if let Err(err) = self.store.audit(&e, now_ms()).await {
            tracing::error!(error = %err, "audit log write failed");
        }
    }

    /// Identity, party roles, grant: every peer call goes through here, allowed or not, and is logged.
    async fn authorize<T>(&self, req: &Request<T>, service: &str) -> Result<Parties, Status> {
        let p = match parties::check(req, &self.config.oin) {
            Ok(p) => p,
            Err(status) => {
                let who = parties::cert_oin(req).unwrap_or_else(|_| "unknown".into());
                let denied = Parties {
                    cert_oin: who,
                    from: "unknown".into(),
                    to: self.config.oin.clone(),
                    suwi: false,
                    transaction_id: "none".into(),
                };
                self.audit(&denied, &format!("refused:{service}"), status.message(), 0)
                    .await;
                tracing::warn!(service, code = ?status.code(), "peer call refused");
                return Err(status);
            }
        };
        if !self.config.allowed(&p.cert_oin, &p.from, service) {
            self.audit(&p, &format!("refused:{service}"), "no grant", 0)
                .await;
            return Err(Status::permission_denied(format!(
                "no grant lets {} act for {} on {service}",
                p.cert_oin, p.from
            )));
        }
        Ok(p)
    }

    async fn select(
        &self,
        kind: Kind,
        request_json: Value,
        p: &Parties,
    ) -> Result<MatchesResponse, Status> {
        let qkind = if kind == Kind::Vacature {
            Kind::VacatureVraag
        } else {
            Kind::WerkzoekendeVraag
        };
        let report = self.validator.validate_value(qkind, &request_json);
        if !report.is_valid() {
            let details: Vec<String> = report
                .errors()
                .map(|f| format!("{} {}: {}", f.pointer, f.rule, f.message))
                .collect();
            return Err(Status::invalid_argument(format!(
                "selection refused: {}",
                details.join("; ")
            )));
        }
        let selectie = vum::query::Selectie::from_request(kind.family(), &request_json)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let engine = &self.engines[&kind];
        engine
            .write()
            .await
            .catch_up(&self.store)
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        let engine = engine.read().await;
        let caller = p.caller();
        service::select(
            &self.store,
            &engine,
            kind,
            &selectie,
            100,
            &caller,
            now_ms(),
        )
        .await
        .map_err(|e| Status::internal(e.to_string()))
    }

    /// Release rules for a detail document going to a peer.
    fn release(doc: &mut Value, suwi: bool) {
        if let Some(o) = doc.as_object_mut() {
            // the LDR indication only to SUWI parties
            if !suwi {
                o.remove("indicatieLdrRegistratie");
            }
            // contact details only when the record says they may be shared
            if o.get("indicatieBeschikbaarheidContactgegevens")
                .and_then(Value::as_i64)
                != Some(1)
            {
                for k in ["emailadres", "telefoonnummer", "contactpersoon"] {
                    o.remove(k);
                }
            }
        }
    }

    async fn channel(&self, endpoint: &str) -> Result<Channel, Status> {
        if let Some(c) = self.channels.lock().await.get(endpoint) {
            return Ok(c.clone());
        }
        let ep = Endpoint::from_shared(endpoint.to_string())
            .map_err(|e| Status::internal(format!("peer endpoint {endpoint}: {e}")))?
            .tls_config(self.client_tls.clone().domain_name("localhost"))
            .map_err(|e| Status::internal(e.to_string()))?
            .connect_timeout(Duration::from_millis(self.config.peer_deadline_ms))
            .timeout(Duration::from_millis(self.config.peer_deadline_ms));
        let ch = ep.connect_lazy();
        self.channels
            .lock()
            .await
            .insert(endpoint.to_string(), ch.clone());
        Ok(ch)
    }

    fn vum_id(&self, peer_oin: &str, id: &str) -> String {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret).expect("any key length");
        m.update(peer_oin.as_bytes());
        m.update(&[0]);
        m.update(id.as_bytes());
        hex::encode(&m.finalize().into_bytes()[..20])
    }
}

impl Parties {
    /// The caller as the store's source dialogues record it.
    fn caller(&self) -> Caller {
        Caller {
            actor: self.cert_oin.clone(),
            on_behalf_of: self.from.clone(),
            purpose: "vum".into(),
            transaction_id: self.transaction_id.clone(),
        }
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn from_json<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, Status> {
    serde_json::from_value(v)
        .map_err(|e| Status::internal(format!("document does not fit its message: {e}")))
}

#[derive(Clone)]
pub struct PeerService(pub Arc<NodeState>);

type FeedStream = Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::FeedEvent, Status>> + Send>>;

#[tonic::async_trait]
impl Peer for PeerService {
    async fn node_info(
        &self,
        req: Request<pb::NodeInfoRequest>,
    ) -> Result<Response<pb::NodeInfoResponse>, Status> {
        let p = self.0.authorize(&req, "node-info").await?;
        self.0.audit(&p, "node-info", "node", 1).await;
        let c = &self.0.config;
        Ok(Response::new(pb::NodeInfoResponse {
            oin: c.oin.clone(),
            name: c.name.clone(),
            standard_version: "VUM interface 3.0.0, data standard 1.5".into(),
            capabilities: CAPABILITIES.iter().map(|s| s.to_string()).collect(),
        }))
    }

    async fn select_werkzoekenden(
        &self,
        req: Request<wz::WerkzoekendeProfielMatchesRequest>,
    ) -> Result<Response<wz::WerkzoekendeProfielMatchesBronResponse>, Status> {
        let p = self.0.authorize(&req, "select-werkzoekenden").await?;
        match self
            .0
            .select(Kind::Werkzoekende, to_json(req.get_ref()), &p)
            .await?
        {
            MatchesResponse::Werkzoekenden(r) => Ok(Response::new(r)),
            MatchesResponse::Vacatures(_) => Err(Status::internal("wrong response kind")),
        }
    }

    async fn select_vacatures(
        &self,
        req: Request<vac::VacatureMatchesRequest>,
    ) -> Result<Response<vac::VacaturesMatchesBronResponse>, Status> {
        let p = self.0.authorize(&req, "select-vacatures").await?;
        match self
            .0
            .select(Kind::Vacature, to_json(req.get_ref()), &p)
            .await?
        {
            MatchesResponse::Vacatures(r) => Ok(Response::new(r)),
            MatchesResponse::Werkzoekenden(_) => Err(Status::internal("wrong response kind")),
        }
    }

    async fn get_werkzoekende(
        &self,
        req: Request<pb::GetRequest>,
    ) -> Result<Response<wz::Werkzoekende>, Status> {
        let p = self.0.authorize(&req, "get-werkzoekende").await?;
        let caller = p.caller();
        let doc = service::detail(
            &self.0.store,
            Kind::Werkzoekende,
            &req.get_ref().id,
            &caller,
            now_ms(),
        )
        .await
        .map_err(|e| Status::internal(e.to_string()))?;
        let mut doc = doc.ok_or_else(|| {
            Status::not_found(format!("no shared werkzoekende {}", req.get_ref().id))
        })?;
        NodeState::release(&mut doc, p.suwi);
        Ok(Response::new(from_json(doc)?))
    }

    async fn get_vacature(
        &self,
        req: Request<pb::GetRequest>,
    ) -> Result<Response<vac::Vacature>, Status> {
        let p = self.0.authorize(&req, "get-vacature").await?;
        let caller = p.caller();
        let doc = service::detail(
            &self.0.store,
            Kind::Vacature,
            &req.get_ref().id,
            &caller,
            now_ms(),
        )
        .await
        .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(from_json(doc.ok_or_else(|| {
            Status::not_found(format!("no shared vacature {}", req.get_ref().id))
        })?)?))
    }

    type VacancyFeedStream = FeedStream;

    async fn vacancy_feed(
        &self,
        req: Request<pb::FeedRequest>,
    ) -> Result<Response<FeedStream>, Status> {
        let p = self.0.authorize(&req, "vacancy-feed").await?;
        let (mut cursor, limit) = (req.get_ref().cursor, req.get_ref().limit);
        let state = self.0.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(256);
        tokio::spawn(async move {
            let mut sent = 0i64;
            loop {
                let page = match state
                    .store
                    .feed_page(Kind::Vacature, cursor, 1000, now_ms())
                    .await
                {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = tx.send(Err(Status::internal(e.to_string()))).await;
                        break;
                    }
                };
                if page.is_empty() {
                    break;
                }
                for (c, doc) in page {
                    cursor = c.seq;
                    let vacature: Option<vac::Vacature> = if c.deleted {
                        None
                    } else {
                        doc.and_then(|d| serde_json::from_str(&d).ok())
                    };
                    // an upsert whose record has since gone is a tombstone for this consumer
                    let deleted = c.deleted || vacature.is_none();
                    if tx
                        .send(Ok(pb::FeedEvent {
                            seq: c.seq,
                            id: c.vum_id,
                            deleted,
                            vacature,
                        }))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    sent += 1;
                    if limit > 0 && sent >= limit {
                        break;
                    }
                }
                if limit > 0 && sent >= limit {
                    break;
                }
            }
            state.audit(&p, "vacancy-feed", "vacature", sent).await;
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }
}

#[derive(Clone)]
pub struct LocalService(pub Arc<NodeState>);

#[tonic::async_trait]
impl Local for LocalService {
    async fn federated_select_werkzoekenden(
        &self,
        req: Request<wz::WerkzoekendeProfielMatchesRequest>,
    ) -> Result<Response<pb::FederatedWerkzoekendenResponse>, Status> {
        let st = self.0.clone();
        let query = req.into_inner();
        let report = st
            .validator
            .validate_value(Kind::WerkzoekendeVraag, &to_json(&query));
        if !report.is_valid() {
            let details: Vec<String> = report
                .errors()
                .map(|f| format!("{} {}: {}", f.pointer, f.rule, f.message))
                .collect();
            return Err(Status::invalid_argument(format!(
                "selection refused: {}",
                details.join("; ")
            )));
        }
        let tx_id = uuid::Uuid::now_v7().to_string();
        let deadline = Duration::from_millis(st.config.peer_deadline_ms);
        let calls = st.config.peers.iter().map(|peer| {
            let st = st.clone();
            let (peer, query, tx_id) = (peer.clone(), query.clone(), tx_id.clone());
            async move {
                let t = Instant::now();
                let result = async {
                    let ch = st.channel(&peer.endpoint).await?;
                    let mut r = Request::new(query);
                    r.set_timeout(deadline);
                    parties::attach(&mut r, &st.config.oin, &st.config.oin, &peer.oin, st.config.suwi, &tx_id);
                    let span = tracing::info_span!("peer_call", peer = %peer.oin, service = "select-werkzoekenden");
                    let _g = span.enter();
                    PeerClient::new(ch).select_werkzoekenden(r).await.map(Response::into_inner)
                };
                let result = match tokio::time::timeout(deadline, result).await {
                    Ok(r) => r,
                    Err(_) => Err(Status::deadline_exceeded(format!("no answer within {} ms", deadline.as_millis()))),
                };
                (peer, result, t.elapsed())
            }
        });
        let answers = futures_join_all(calls).await;
        let vraag_id = uuid::Uuid::now_v7().to_string();
        let mut matches = Vec::new();
        let mut statuses = Vec::new();
        let mut more = false;
        {
            let mut reg = st.results.lock().await;
            reg.1.insert(vraag_id.clone(), 0);
            for (peer, result, took) in answers {
                match result {
                    Ok(r) => {
                        let m = r.maximum_aantal_resultaten_bereikt.unwrap_or(false);
                        more |= m;
                        statuses.push(pb::PeerStatus {
                            oin: peer.oin.clone(),
                            name: peer.name.clone(),
                            status: "ok".into(),
                            matches: r.matches.len() as i32,
                            maximum_aantal_resultaten_bereikt: m,
                            millis: took.as_millis() as i64,
                        });
                        for mp in r.matches {
                            let mut j = to_json(&mp);
                            let id = j
                                .get("idWerkzoekende")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_string();
                            let vum_id = st.vum_id(&peer.oin, &id);
                            if let Some(o) = j.as_object_mut() {
                                o.remove("idWerkzoekende");
                                o.insert("vumID".into(), Value::String(vum_id.clone()));
                            }
                            reg.0
                                .insert(vum_id, (peer.oin.clone(), id, vraag_id.clone()));
                            matches.push(from_json::<wz::MpWerkzoekendeMatchVum>(j)?);
                        }
                    }
                    Err(s) => statuses.push(pb::PeerStatus {
                        oin: peer.oin.clone(),
                        name: peer.name.clone(),
                        status: format!("{:?}: {}", s.code(), s.message()),
                        matches: 0,
                        maximum_aantal_resultaten_bereikt: false,
                        millis: took.as_millis() as i64,
                    }),
                }
            }
        }
        matches.shuffle(&mut rand::rng());
        // the requesting side logs every peer call too, under the same transaction id
        let own = Parties {
            cert_oin: st.config.oin.clone(),
            from: st.config.oin.clone(),
            to: String::new(),
            suwi: st.config.suwi,
            transaction_id: tx_id.clone(),
        };
        for p in &statuses {
            st.audit(
                &own,
                &format!("peer-select-werkzoekenden:{}", p.oin),
                &p.status,
                i64::from(p.matches),
            )
            .await;
        }
        tracing::info!(peers = statuses.len(), matches = matches.len(), vraag_id = %vraag_id, "federated selection");
        Ok(Response::new(pb::FederatedWerkzoekendenResponse {
            response: Some(wz::WerkzoekendeProfielMatchesResponse {
                maximum_aantal_resultaten_bereikt: Some(more),
                vraag_id,
                matches,
            }),
            peers: statuses,
        }))
    }

    async fn federated_get_werkzoekende(
        &self,
        req: Request<pb::FederatedGetRequest>,
    ) -> Result<Response<wz::WerkzoekendeDetailResponse>, Status> {
        let st = self.0.clone();
        let vum_id = req.into_inner().vum_id;
        let (peer_oin, id) = {
            let mut reg = st.results.lock().await;
            let (peer, id, set) = reg.0.get(&vum_id).cloned().ok_or_else(|| {
                Status::not_found(format!(
                    "vumID {vum_id} is not from a selection of this node"
                ))
            })?;
            let n = reg.1.entry(set.clone()).or_insert(0);
            if *n >= MAX_DETAILS_PER_RESULT_SET {
                return Err(Status::resource_exhausted(format!(
                    "at most {MAX_DETAILS_PER_RESULT_SET} detail requests per result set ({set})"
                )));
            }
            *n += 1;
            (peer, id)
        };
        let peer = st
            .config
            .peers
            .iter()
            .find(|p| p.oin == peer_oin)
            .cloned()
            .ok_or_else(|| {
                Status::failed_precondition("the owning peer is no longer configured")
            })?;
        let ch = st.channel(&peer.endpoint).await?;
        let mut r = Request::new(pb::GetRequest { id });
        r.set_timeout(Duration::from_millis(st.config.peer_deadline_ms));
        parties::attach(
            &mut r,
            &st.config.oin,
            &st.config.oin,
            &peer.oin,
            st.config.suwi,
            &uuid::Uuid::now_v7().to_string(),
        );
        let tx_id = r
            .metadata()
            .get(parties::TRANSACTION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let result = PeerClient::new(ch).get_werkzoekende(r).await;
        let own = Parties {
            cert_oin: st.config.oin.clone(),
            from: st.config.oin.clone(),
            to: peer.oin.clone(),
            suwi: st.config.suwi,
            transaction_id: tx_id,
        };
        st.audit(
            &own,
            &format!("peer-get-werkzoekende:{}", peer.oin),
            &vum_id,
            i64::from(result.is_ok()),
        )
        .await;
        let doc = result?.into_inner();
        Ok(Response::new(wz::WerkzoekendeDetailResponse {
            bron_id: peer.oin,
            werkzoekende: Some(doc),
        }))
    }
}

/// Run futures concurrently and collect their outputs in order (no extra dependency).
async fn futures_join_all<F: std::future::Future>(fs: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = fs.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        if let Ok(v) = h.await {
            out.push(v);
        }
    }
    out
}
