//! The node's state and the Peer service (other organisations). The Local service (own systems)
//! is in `local.rs`.
use crate::config::{NodeConfig, PeerConfig};
use crate::error::{store_failed, CallError, NodeError};
use crate::faults::Fault;
use crate::feed::server::peer_server::Peer;
use crate::feed::RawFeedEvent;
use crate::guard::Guard;
use crate::parties::{self, Parties};
use crate::pb::{self, peer_client::PeerClient};
use crate::peers::PeerClients;
use crate::results::{ResultSets, ServedCheck};
use crate::tls::Refusal;
use serde_json::Value;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use store::engine::Engine;
use store::exchange::{DetailGrant, FeedItem};
use store::service::{self, Caller, MatchesResponse, ServiceError};
use store::{now_ms, AuditEntry, Store};
use tokio::sync::{Mutex, RwLock};
use tonic::{Request, Response, Status};
use vum::parties::Dialect;
use vum::{Kind, Validator};
use vum_proto::{vacatures as vac, werkzoekenden as wz};

/// The services a peer may ask of this node (node-info reports them).
pub const CAPABILITIES: &[&str] = &[
    "select-werkzoekenden",
    "select-vacatures",
    "get-werkzoekende",
    "get-vacature",
    "vacancy-feed",
    "transparency",
];

/// Details an own user may ask per federated result set.
pub const MAX_DETAILS_PER_RESULT_SET: i64 = 10;

/// The longest party, action or transaction field written to the audit log, bytes.
pub const MAX_AUDIT_FIELD: usize = 64;
/// The longest audit subject (a refusal's reason, an id), bytes.
pub const MAX_AUDIT_SUBJECT: usize = 300;

/// At most `max` bytes of `s`, cut at a character boundary (marked with `…`).
pub(crate) fn bounded(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max.saturating_sub(3);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// A record id as a peer names it in a detail request: the contract's `SafeIDString` (at most
/// 200 of `A-Z a-z 0-9 _ . -`). Anything else is refused with a field violation on `id` before
/// it reaches the store or the audit log; a well-formed id that is not one this node hands out
/// (32 hex digits, the keyed hash `matchgate ingest` and push give) cannot have been returned in
/// a selection, and is answered as such.
pub fn check_record_id(id: &str) -> Result<(), CallError> {
    let safe = id.len() <= 200
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if safe && !id.is_empty() {
        return Ok(());
    }
    Err(CallError::BadField {
        field: "id".into(),
        why: format!(
            "id: {} is not an id of the standard (1 to 200 of A-Z a-z 0-9 _ . -)",
            parties::shown(id)
        ),
    })
}

/// What the node holds while it runs: configuration, store, engines, keys, and the three parts
/// with their own homes: the guard (`guard.rs`), the peer clients (`peers.rs`) and the result
/// sets (`results.rs`).
pub struct NodeState {
    /// the configuration it was started with
    pub config: NodeConfig,
    /// the node's store (own records, mirrors, result sets, audit log)
    pub store: Store,
    /// the selection engine per kind (werkzoekende, vacature)
    pub engines: HashMap<Kind, RwLock<Engine>>,
    pub(crate) validator: Validator,
    id_key: vum::ids::IdKey,
    /// identity, rate limit, party headers, grants: every call from another organisation
    pub(crate) guard: Guard,
    /// how this node asks its peers (gRPC or REST)
    pub(crate) peers: PeerClients,
    /// federated result sets (asking side) and served selections (source side)
    pub(crate) results: ResultSets,
    /// one feed pull at a time per node (the cursor moves in order)
    feed_lock: Mutex<()>,
    /// faults injected for the conformance suite's tests (none unless a `faults` build injects)
    pub faults: crate::faults::Faults,
    /// what the admin listener shows (calls, refusals, peers, feeds)
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// A refusal of a request that fails the standard: every finding as a field violation.
pub fn refuse_report(what: &'static str, report: &vum::Report) -> CallError {
    CallError::Invalid {
        what,
        violations: report
            .errors()
            .map(|f| (f.pointer.clone(), format!("{}: {}", f.rule, f.message)))
            .collect(),
    }
}

impl NodeState {
    /// Open the store, load the engines, read the secret and the TLS material for peer calls,
    /// and start the result-set writer.
    pub async fn new(
        config: NodeConfig,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Result<Arc<NodeState>, NodeError> {
        let store = Store::open(&config.database).await?.with_group_commit();
        store
            .hold_result_ids(config.limits.result_ids_in_memory)
            .await;
        let mut engines = HashMap::new();
        for k in [Kind::Werkzoekende, Kind::Vacature] {
            engines.insert(k, RwLock::new(Engine::load(&store, k).await?));
        }
        let read = |p: &std::path::Path| {
            std::fs::read(p).map_err(|source| NodeError::Read {
                path: p.to_path_buf(),
                source,
            })
        };
        // trimmed as `matchgate ingest --secret-file` trims it, so both key ids alike
        let secret = read(&config.secret_file)?.trim_ascii().to_vec();
        if secret.len() < 16 {
            return Err(NodeError::ShortSecret {
                path: config.secret_file.clone(),
            });
        }
        let peers = PeerClients::new(&config)?;
        let results = ResultSets::start(store.clone());
        Ok(Arc::new(NodeState {
            results,
            peers,
            config,
            store,
            engines,
            validator: Validator::new(),
            id_key: vum::ids::IdKey::new(&secret),
            guard: Guard::default(),
            feed_lock: Mutex::new(()),
            faults: Default::default(),
            metrics,
        }))
    }

    pub(crate) async fn audit(&self, p: &Parties, action: &str, subject: &str, count: i64) {
        // every field is bounded where it is read; this is the last guard before the log
        let e = AuditEntry {
            actor: bounded(&p.cert_oin, MAX_AUDIT_FIELD),
            on_behalf_of: bounded(&p.from, MAX_AUDIT_FIELD),
            action: bounded(action, MAX_AUDIT_FIELD),
            purpose: "vum".into(),
            transaction_id: bounded(&p.transaction_id, MAX_AUDIT_FIELD),
            subject: bounded(subject, MAX_AUDIT_SUBJECT),
            result_count: count,
        };
        if let Err(err) = self.store.audit(&e, now_ms()).await {
            tracing::error!(error = %err, "audit log write failed");
        }
    }

    /// Save each selection index as its snapshot, brought up to date first, so the next start
    /// loads it instead of reading every record (the index is locked only while it is encoded).
    pub async fn save_indexes(&self) {
        for (kind, engine) in &self.engines {
            if let Err(e) = engine.write().await.catch_up(&self.store).await {
                tracing::warn!(kind = %kind, error = %e, "catching up before saving the index failed");
                continue;
            }
            let snapshot = engine.read().await.snapshot();
            if let Err(e) = snapshot.save(&self.store).await {
                tracing::warn!(kind = %kind, error = %e, "saving the selection index failed");
            }
        }
    }

    /// This node's transparency figures of its werkzoekenden as they may leave it: counts per
    /// municipality with small cells suppressed (`transparency::publish`).
    pub async fn published_transparency(
        &self,
    ) -> Result<transparency::publish::Published, CallError> {
        let figures = self
            .store
            .transparency(
                transparency::figures::Organisation {
                    oin: self.config.oin.clone(),
                    name: self.config.name.clone(),
                },
                store::now_ms(),
            )
            .await?;
        Ok(transparency::publish::publish(
            &figures,
            transparency::geo::Geography::get(),
        ))
    }

    /// A refused TLS handshake on the peer listener, in the audit log (`count` refusals of its
    /// kind from its address, throttled by the listener). The actor is "unknown": a refused
    /// certificate proves nothing; the OIN it claims is in the subject as `claimed_oin`.
    pub async fn audit_handshake_refusal(&self, r: &Refusal, count: i64) {
        let p = Parties {
            cert_oin: "unknown".into(),
            from: "unknown".into(),
            to: self.config.oin.clone(),
            suwi: false,
            transaction_id: "none".into(),
        };
        let mut subject = r.class.to_string();
        if let Some(oin) = &r.claimed_oin {
            subject.push_str(&format!(", claimed_oin {oin}"));
        }
        if let Some(a) = r.remote {
            subject.push_str(&format!(", from {}", a.ip()));
        }
        subject.push_str(&format!(": {}", r.reason));
        self.audit(&p, "refused:tls-handshake", &subject, count)
            .await;
    }

    /// A detail request's id checked (see [`check_record_id`]); a refusal is audited.
    async fn refuse_bad_id(&self, p: &Parties, service: &str, id: &str) -> Result<(), CallError> {
        if let Err(e) = check_record_id(id) {
            self.audit(p, &format!("refused:{service}"), &e.to_string(), 0)
                .await;
            return Err(e);
        }
        Ok(())
    }

    /// Admit a gRPC call from another organisation (see [`Guard::admit`]).
    async fn authorize<T>(&self, req: &Request<T>, service: &str) -> Result<Parties, CallError> {
        self.guard
            .admit(
                self,
                &req.peer_certs(),
                req.metadata(),
                Dialect::Grpc,
                service,
            )
            .await
    }

    /// As a source: answer a selection (VUM JSON of the `*-vraag`) for an admitted caller, and
    /// remember what it returned to that caller for its detail requests. gRPC and REST alike.
    pub(crate) async fn select_as_source(
        &self,
        kind: Kind,
        request_json: Value,
        p: &Parties,
    ) -> Result<MatchesResponse, CallError> {
        let mut request_json = request_json;
        if self.faults.has(Fault::NoDistanceFilter) {
            request_json["vraagObject"]["selectiegebied"]["afstand"] = 1000.into();
        }
        let qkind = vum::query_kind(kind);
        let report = self.validator.validate_value(qkind, &request_json);
        if !report.is_valid() {
            let e = refuse_report("selection", &report);
            self.audit(
                p,
                &format!("refused:{}", select_service(kind)),
                &e.to_string(),
                0,
            )
            .await;
            return Err(e);
        }
        let selectie =
            vum::query::Selectie::from_request(kind.family(), &request_json).map_err(|e| {
                CallError::Invalid {
                    what: "selection",
                    violations: vec![("/vraagObject".into(), e.to_string())],
                }
            })?;
        let engine = &self.engines[&kind];
        let caught_up = tracing::Instrument::instrument(
            async { engine.write().await.catch_up(&self.store).await },
            tracing::info_span!("engine.catch_up", kind = %kind),
        )
        .await
        .map_err(store_failed(&p.transaction_id))?;
        tracing::debug!(caught_up, "change log applied");
        let engine = engine.read().await;
        let r = tracing::Instrument::instrument(
            service::select_remembering(
                &self.store,
                &engine,
                kind,
                &selectie,
                100,
                &p.caller(),
                now_ms(),
                |ids| self.served(p, kind, ids),
            ),
            tracing::info_span!("engine.select", kind = %kind),
        )
        .await
        .map_err(store_failed::<ServiceError>(&p.transaction_id))?;
        drop(engine);
        self.remember_served(p, kind, &r);
        let mut r = r;
        if let MatchesResponse::Werkzoekenden(w) = &mut r {
            if self.faults.has(Fault::Results101) && w.matches.len() >= 100 {
                let again = w.matches[0].clone();
                w.matches.push(again);
            }
            if self.faults.has(Fault::FixedOrder) {
                w.matches
                    .sort_by(|a, b| a.id_werkzoekende.cmp(&b.id_werkzoekende));
            }
        }
        Ok(r)
    }

    /// As a source: a jobseeker's details for an admitted caller (the id checked, counted against
    /// the selection that returned it, audited), with the LDR indication for SUWI parties only.
    pub(crate) async fn werkzoekende_as_source(
        &self,
        id: &str,
        p: &Parties,
    ) -> Result<wz::Werkzoekende, CallError> {
        let mut w: wz::Werkzoekende = self.detail_as_source(Kind::Werkzoekende, id, p).await?;
        release(&mut w, p.suwi || self.faults.has(Fault::LdrToNonSuwi));
        Ok(w)
    }

    /// As a source: a vacancy's details for an admitted caller.
    pub(crate) async fn vacature_as_source(
        &self,
        id: &str,
        p: &Parties,
    ) -> Result<vac::Vacature, CallError> {
        self.detail_as_source(Kind::Vacature, id, p).await
    }

    /// A detail document for a peer (audited), decoded from its stored protobuf encoding.
    async fn detail_as_source<T: prost::Message + Default>(
        &self,
        kind: Kind,
        id: &str,
        p: &Parties,
    ) -> Result<T, CallError> {
        self.refuse_bad_id(p, get_service(kind), id).await?;
        self.use_served(p, kind, id).await?;
        let bytes = tracing::Instrument::instrument(
            service::detail_pb(&self.store, kind, id, &p.caller(), now_ms()),
            tracing::info_span!("store.detail", kind = %kind),
        )
        .await
        .map_err(store_failed(&p.transaction_id))?
        .ok_or_else(|| CallError::NotShared {
            kind: kind.name(),
            id: id.to_string(),
        })?;
        T::decode(bytes.as_slice()).map_err(|e| {
            CallError::internal(format!("stored {} {id} does not decode: {e}", kind.name()))
                .in_transaction(&p.transaction_id)
        })
    }

    /// The pseudonym an own user sees for a peer's record: it does not reveal the id.
    pub(crate) fn pseudonym(&self, peer_oin: &str, id: &str) -> String {
        self.id_key.pseudonym(peer_oin, id)
    }

    /// The record id of an own record pushed with its local id: the same keyed hash `matchgate
    /// ingest` gives it ([`vum::ids`]).
    pub fn record_id(&self, kind: Kind, local_id: &str) -> String {
        self.id_key.record_id(kind, local_id)
    }

    /// The key under which a source remembers that it returned record `id` to `peer_oin`: not a
    /// vumID (41 characters, `s` and 40 hex digits), so it never routes on the Local side.
    fn served_key(&self, kind: Kind, peer_oin: &str, id: &str) -> [u8; 20] {
        let h = self.id_key.keyed(&["served", kind.name(), peer_oin, id]);
        let mut k = [0u8; 20];
        k.copy_from_slice(&h[..20]);
        k
    }

    /// Details a peer may ask per selection (none: the `NoDetailCap` fault).
    fn details_cap(&self) -> i64 {
        if self.faults.has(Fault::NoDetailCap) {
            i64::MAX
        } else {
            self.config.limits.details_per_selection
        }
    }

    fn detail_since(&self) -> i64 {
        let l = &self.config.limits;
        now_ms() - i64::try_from(l.detail_window_s.saturating_mul(1000)).unwrap_or(i64::MAX)
    }

    /// As a source: what a selection returned to the calling peer, so that it may ask their
    /// details (and at most `details_per_selection` of them) within the window, as the set the
    /// store writes in the transaction of the selection's audit entry. Remembered in memory too,
    /// once that is committed ([`NodeState::remember_served`]).
    fn served(&self, p: &Parties, kind: Kind, ids: &[&str]) -> Option<service::Served> {
        if ids.is_empty() {
            return None;
        }
        let ids = ids
            .iter()
            .map(|id| {
                let k = self.served_key(kind, &p.cert_oin, id);
                store::exchange::ResultId {
                    vum_id: format!("s{}", hex::encode(k)),
                    peer_oin: p.cert_oin.clone(),
                    source_id: id.to_string(),
                }
            })
            .collect();
        Some((format!("served:{}", uuid::Uuid::now_v7()), ids))
    }

    /// As a source: remember in memory what a selection returned to the calling peer (after its
    /// audit entry and stored set are committed), for a detail check without the store.
    fn remember_served(&self, p: &Parties, kind: Kind, r: &MatchesResponse) {
        let fast: Vec<u128> = r
            .ids()
            .into_iter()
            .map(|id| self.results.served_fast_key(kind, &p.cert_oin, id))
            .collect();
        if fast.is_empty() {
            return;
        }
        if let Ok(mut served) = self.results.served.lock() {
            served.remember(fast, now_ms(), self.detail_since());
        }
    }

    /// As a source: count a detail request against the selection that returned the record to
    /// this peer. Refused (and audited) when no selection within the window did, or when that
    /// selection's details are used up.
    async fn use_served(&self, p: &Parties, kind: Kind, id: &str) -> Result<(), CallError> {
        let service = get_service(kind);
        let l = &self.config.limits;
        if !vum::parties::is_record_id(id) {
            let e = CallError::NotServed {
                kind: kind.name(),
                id: id.to_string(),
                peer: p.cert_oin.clone(),
                window_s: l.detail_window_s,
            };
            self.audit(
                p,
                &format!("refused:{service}"),
                &format!("{id}: not selected for this party"),
                0,
            )
            .await;
            return Err(e);
        }
        let since = self.detail_since();
        let fast = self.results.served_fast_key(kind, &p.cert_oin, id);
        let in_memory = match self.results.served.lock() {
            Ok(mut served) => served.check(&fast, since, self.details_cap()),
            Err(_) => ServedCheck::Unknown,
        };
        let grant = match in_memory {
            ServedCheck::Granted => return Ok(()),
            ServedCheck::Exhausted => DetailGrant::Exhausted(String::new()),
            ServedCheck::Unknown => {
                self.results.written().await;
                let key = self.served_key(kind, &p.cert_oin, id);
                self.store
                    .use_detail_since(
                        &format!("s{}", hex::encode(key)),
                        kind,
                        self.details_cap(),
                        since,
                    )
                    .await
                    .map_err(store_failed(&p.transaction_id))?
            }
        };
        let (refusal, why) = match grant {
            DetailGrant::Granted(_) => return Ok(()),
            DetailGrant::Unknown => (
                CallError::NotServed {
                    kind: kind.name(),
                    id: id.to_string(),
                    peer: p.cert_oin.clone(),
                    window_s: l.detail_window_s,
                },
                format!("{id}: not selected for this party"),
            ),
            DetailGrant::Exhausted(_) => (
                CallError::DetailsUsedUp {
                    max: l.details_per_selection,
                },
                format!("{id}: details of its selection used up"),
            ),
        };
        self.audit(p, &format!("refused:{service}"), &why, 0).await;
        Err(refusal)
    }

    /// Pull a peer's vacancy feed from the cursor kept in the store into the mirror, a page per
    /// transaction. A pull killed at any point resumes from the last applied page.
    pub async fn sync_feed(
        &self,
        peer: &PeerConfig,
        limit: i64,
    ) -> Result<pb::SyncFeedResponse, Status> {
        let _one = self.feed_lock.lock().await;
        let tx_id = uuid::Uuid::now_v7().to_string();
        let from = self
            .store
            .feed_cursor(&peer.oin)
            .await
            .map_err(store_failed(&tx_id))?;
        let ch = self.peers.channel(peer).await?;
        let (r, own) = self.peers.outgoing(
            pb::FeedRequest {
                cursor: from,
                limit,
            },
            &peer.oin,
            &tx_id,
        );
        let span = tracing::info_span!("peer_call", peer = %peer.oin, service = "vacancy-feed");
        let mut out = pb::SyncFeedResponse {
            from_cursor: from,
            cursor: from,
            ..Default::default()
        };
        let idle = Duration::from_millis(self.config.peer_deadline_ms);
        let result: Result<(), Status> = tracing::Instrument::instrument(
            async {
                let mut stream = PeerClient::new(ch).vacancy_feed(r).await?.into_inner();
                let mut page: Vec<FeedItem> = Vec::with_capacity(500);
                loop {
                    // a peer that goes quiet mid-stream ends the pull (the cursor keeps what landed)
                    let next = match tokio::time::timeout(idle, stream.message()).await {
                        Ok(n) => n,
                        Err(_) => Err(Status::deadline_exceeded(format!(
                            "no feed event within {} ms",
                            idle.as_millis()
                        ))),
                    };
                    let done = !matches!(next, Ok(Some(_)));
                    if let Ok(Some(ev)) = &next {
                        let doc = match (&ev.vacature, ev.deleted) {
                            (Some(v), false) => Some(serde_json::to_string(v).map_err(|e| {
                                CallError::internal(format!("feed event {}: {e}", ev.id))
                                    .in_transaction(&tx_id)
                            })?),
                            _ => None,
                        };
                        page.push(FeedItem {
                            seq: ev.seq,
                            vum_id: ev.id.clone(),
                            doc,
                        });
                    }
                    if page.len() >= 500 || (done && !page.is_empty()) {
                        let a = self
                            .store
                            .apply_feed_page(&peer.oin, &page, now_ms())
                            .await
                            .map_err(store_failed(&tx_id))?;
                        page.clear();
                        out.events += a.events - a.skipped;
                        out.upserts += a.upserts;
                        out.tombstones += a.tombstones;
                        out.cursor = a.cursor;
                    }
                    match next {
                        Ok(Some(_)) => {}
                        Ok(None) => return Ok(()),
                        Err(s) => return Err(s),
                    }
                }
            },
            span,
        )
        .await;
        self.audit(
            &own,
            &format!("peer-vacancy-feed:{}", peer.oin),
            &match &result {
                Ok(()) => "ok".to_string(),
                Err(s) => format!("{:?}", s.code()),
            },
            out.events,
        )
        .await;
        result.map(|()| out)
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

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, CallError> {
    serde_json::from_value(v)
        .map_err(|e| CallError::internal(format!("document does not fit its message: {e}")))
}

/// Release rules for a jobseeker's details going to a peer, as the standard defines them: the
/// LDR indication only to SUWI parties. `indicatieBeschikbaarheidContactgegevens` says whether
/// the profile holds contact details; it is not a release switch (contact consent is enforced
/// when a record enters the node: translate and Push refuse contact details without it).
pub fn release(w: &mut wz::Werkzoekende, suwi: bool) {
    if !suwi {
        w.indicatie_ldr_registratie = None;
    }
}

/// The service name (grants, audit) of a kind's selection.
pub(crate) fn select_service(kind: Kind) -> &'static str {
    if kind == Kind::Vacature {
        "select-vacatures"
    } else {
        "select-werkzoekenden"
    }
}

/// The service name (grants, audit) of a kind's detail.
pub(crate) fn get_service(kind: Kind) -> &'static str {
    if kind == Kind::Vacature {
        "get-vacature"
    } else {
        "get-werkzoekende"
    }
}

fn wrong_kind(p: &Parties) -> CallError {
    CallError::internal("wrong response kind").in_transaction(&p.transaction_id)
}

/// The Peer gRPC service over the node's state.
#[derive(Clone)]
pub struct PeerService(pub Arc<NodeState>);

type FeedStream = Pin<Box<dyn tokio_stream::Stream<Item = Result<RawFeedEvent, Status>> + Send>>;

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

    async fn transparency(
        &self,
        req: Request<pb::TransparencyRequest>,
    ) -> Result<Response<pb::TransparencyResponse>, Status> {
        let p = self.0.authorize(&req, "transparency").await?;
        let published = self
            .0
            .published_transparency()
            .await
            .map_err(|e| e.in_transaction(&p.transaction_id))?;
        self.0
            .audit(
                &p,
                "transparency",
                "werkzoekende",
                published.rows.len() as i64,
            )
            .await;
        let published_json = serde_json::to_vec(&published)
            .map_err(|e| CallError::internal(format!("transparency figures: {e}")))?;
        Ok(Response::new(pb::TransparencyResponse { published_json }))
    }

    async fn select_werkzoekenden(
        &self,
        req: Request<wz::WerkzoekendeProfielMatchesRequest>,
    ) -> Result<Response<wz::WerkzoekendeProfielMatchesBronResponse>, Status> {
        let p = self.0.authorize(&req, "select-werkzoekenden").await?;
        match self
            .0
            .select_as_source(Kind::Werkzoekende, to_json(req.get_ref()), &p)
            .await?
        {
            MatchesResponse::Werkzoekenden(r) => Ok(Response::new(r)),
            MatchesResponse::Vacatures(_) => Err(wrong_kind(&p).into()),
        }
    }

    async fn select_vacatures(
        &self,
        req: Request<vac::VacatureMatchesRequest>,
    ) -> Result<Response<vac::VacaturesMatchesBronResponse>, Status> {
        let p = self.0.authorize(&req, "select-vacatures").await?;
        match self
            .0
            .select_as_source(Kind::Vacature, to_json(req.get_ref()), &p)
            .await?
        {
            MatchesResponse::Vacatures(r) => Ok(Response::new(r)),
            MatchesResponse::Werkzoekenden(_) => Err(wrong_kind(&p).into()),
        }
    }

    async fn get_werkzoekende(
        &self,
        req: Request<pb::GetRequest>,
    ) -> Result<Response<wz::Werkzoekende>, Status> {
        let p = self.0.authorize(&req, "get-werkzoekende").await?;
        Ok(Response::new(
            self.0.werkzoekende_as_source(&req.get_ref().id, &p).await?,
        ))
    }

    async fn get_vacature(
        &self,
        req: Request<pb::GetRequest>,
    ) -> Result<Response<vac::Vacature>, Status> {
        let p = self.0.authorize(&req, "get-vacature").await?;
        Ok(Response::new(
            self.0.vacature_as_source(&req.get_ref().id, &p).await?,
        ))
    }

    type VacancyFeedStream = FeedStream;

    async fn vacancy_feed(
        &self,
        req: Request<pb::FeedRequest>,
    ) -> Result<Response<FeedStream>, Status> {
        let p = self.0.authorize(&req, "vacancy-feed").await?;
        let (mut cursor, limit) = (req.get_ref().cursor, req.get_ref().limit);
        let state = self.0.clone();
        // pages go to the response stream whole (a handful in flight): one hand-over per page,
        // not per event
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<RawFeedEvent>, Status>>(4);
        tokio::spawn(async move {
            let mut sent = 0i64;
            loop {
                let want = if limit > 0 {
                    (limit - sent).min(1000)
                } else {
                    1000
                };
                if want <= 0 {
                    break;
                }
                let page = match state
                    .store
                    .feed_page_pb(Kind::Vacature, cursor, want, now_ms())
                    .await
                {
                    Ok(c) => c,
                    Err(e) => {
                        let failed = store_failed(&p.transaction_id)(e);
                        let _ = tx.send(Err(failed.into())).await;
                        break;
                    }
                };
                if page.is_empty() {
                    break;
                }
                let events: Vec<RawFeedEvent> = page
                    .into_iter()
                    .map(|e| {
                        let (seq, id, deleted, vacature) = (e.seq, e.vum_id, e.deleted, e.pb);
                        cursor = seq;
                        // an upsert whose record has since gone is a tombstone for this consumer
                        let deleted = deleted || vacature.is_none();
                        RawFeedEvent {
                            seq,
                            id,
                            deleted,
                            vacature: if deleted { None } else { vacature },
                        }
                    })
                    .collect();
                let n = events.len() as i64;
                if tx.send(Ok(events)).await.is_err() {
                    break;
                }
                sent += n;
            }
            state.audit(&p, "vacancy-feed", "vacature", sent).await;
        });
        Ok(Response::new(Box::pin(Pages {
            rx,
            page: Vec::new().into_iter(),
        })))
    }
}

/// The events of whole pages, one at a time.
struct Pages {
    rx: tokio::sync::mpsc::Receiver<Result<Vec<RawFeedEvent>, Status>>,
    page: std::vec::IntoIter<RawFeedEvent>,
}

impl tokio_stream::Stream for Pages {
    type Item = Result<RawFeedEvent, Status>;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        loop {
            if let Some(ev) = self.page.next() {
                return std::task::Poll::Ready(Some(Ok(ev)));
            }
            match self.rx.poll_recv(cx) {
                std::task::Poll::Ready(Some(Ok(page))) => self.page = page.into_iter(),
                std::task::Poll::Ready(Some(Err(s))) => {
                    return std::task::Poll::Ready(Some(Err(s)))
                }
                std::task::Poll::Ready(None) => return std::task::Poll::Ready(None),
                std::task::Poll::Pending => return std::task::Poll::Pending,
            }
        }
    }
}
