//! The node's state and the Peer service (other organisations). The Local service (own systems)
//! is in `local.rs`.
use crate::config::{NodeConfig, PeerConfig};
use crate::error::{store_failed, CallError, NodeError};
use crate::feed::server::peer_server::Peer;
use crate::feed::RawFeedEvent;
use crate::parties::{self, bad_request, Parties};
use crate::pb::{self, peer_client::PeerClient};
use crate::tls::Refusal;
use serde_json::Value;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::engine::Engine;
use store::exchange::{DetailGrant, FeedItem};
use store::service::{self, Caller, MatchesResponse, ServiceError};
use store::{now_ms, AuditEntry, Store};
use tokio::sync::{Mutex, RwLock};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Request, Response, Status};
use vum::{Kind, Validator};
use vum_proto::{vacatures as vac, werkzoekenden as wz};

/// The services a peer may ask of this node (node-info reports them).
pub const CAPABILITIES: &[&str] = &[
    "select-werkzoekenden",
    "select-vacatures",
    "get-werkzoekende",
    "get-vacature",
    "vacancy-feed",
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

/// A record id as a peer names it in a detail request: the VUM ids this node holds are 32 hex
/// digits (the keyed hash `matchgate ingest` and push give them). Anything else is refused with
/// a field violation on `id` before it reaches the store or the audit log.
pub fn check_record_id(id: &str) -> Result<(), CallError> {
    if vum::parties::is_record_id(id) {
        return Ok(());
    }
    Err(CallError::BadField {
        field: "id".into(),
        why: format!("id: {} is not a VUM id (32 hex digits)", parties::shown(id)),
    })
}

/// A token bucket per calling peer.
struct Bucket {
    tokens: f64,
    last: Instant,
    refusals: Throttle,
}

/// Refusals counted between audit entries: the first refusal of each second is written, with the
/// count since the last entry, so a flood cannot turn into an audit-log flood.
#[derive(Default)]
struct Throttle {
    pending: i64,
    reported: Option<Instant>,
}

impl Throttle {
    /// Count a refusal; `Some(count)` when it is to be written now.
    fn refuse(&mut self, now: Instant) -> Option<i64> {
        self.pending += 1;
        if self
            .reported
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
        {
            self.reported = Some(now);
            Some(std::mem::take(&mut self.pending))
        } else {
            None
        }
    }
}

/// What the node holds while it runs: configuration, store, engines, keys, peer channels.
pub struct NodeState {
    /// the configuration it was started with
    pub config: NodeConfig,
    /// the node's store (own records, mirrors, result sets, audit log)
    pub store: Store,
    /// the selection engine per kind (werkzoekende, vacature)
    pub engines: HashMap<Kind, RwLock<Engine>>,
    pub(crate) validator: Validator,
    id_key: vum::ids::IdKey,
    client_tls: ClientTlsConfig,
    channels: Mutex<HashMap<String, Channel>>,
    buckets: std::sync::Mutex<HashMap<String, Bucket>>,
    /// one feed pull at a time per node (the cursor moves in order)
    feed_lock: Mutex<()>,
    /// result sets to persist, written in order by one background task (see [`ResultJob`])
    results: tokio::sync::mpsc::Sender<ResultJob>,
    /// OIN per client certificate seen (DER → OIN): parsed once, not on every call
    oins: std::sync::Mutex<HashMap<Vec<u8>, String>>,
    /// as a source: which records recent selections returned to which peer, and the details
    /// counted against each selection (the store keeps the same sets for after a restart)
    served: std::sync::Mutex<Served>,
    /// keys the in-memory served index (two SipHash functions with this process's random keys:
    /// a detail check costs no HMAC; the stored sets keep the HMAC key that survives restarts)
    served_hash: (
        std::collections::hash_map::RandomState,
        std::collections::hash_map::RandomState,
    ),
}

/// The most (peer, record) pairs the source keeps in memory for the detail check; the oldest
/// selections go first. About 60 bytes a pair.
pub const MAX_SERVED: usize = 1_000_000;

/// What recent selections returned to whom, in memory: a detail request is checked here without a
/// store round trip. A pair not found here (after a restart, or pushed out by newer selections) is
/// looked up in the store.
#[derive(Default)]
pub(crate) struct Served {
    /// served key → (selection, created ms)
    keys: HashMap<u128, (u64, i64)>,
    /// selections oldest first: (selection, created ms, its keys)
    sets: std::collections::VecDeque<(u64, i64, Vec<u128>)>,
    /// details used per selection
    used: HashMap<u64, i64>,
    next: u64,
    len: usize,
}

/// What the in-memory index says of a detail request.
pub(crate) enum ServedCheck {
    Granted,
    Exhausted,
    /// not in memory: ask the store
    Unknown,
}

impl Served {
    fn remember(&mut self, keys: Vec<u128>, now: i64, since: i64) {
        let set = self.next;
        self.next += 1;
        for k in &keys {
            self.keys.insert(*k, (set, now));
        }
        self.len += keys.len();
        self.used.insert(set, 0);
        self.sets.push_back((set, now, keys));
        while self.len > MAX_SERVED || self.sets.front().is_some_and(|(_, at, _)| *at < since) {
            let Some((old, _, keys)) = self.sets.pop_front() else {
                break;
            };
            for k in &keys {
                if self.keys.get(k).is_some_and(|(s, _)| *s == old) {
                    self.keys.remove(k);
                }
            }
            self.len -= keys.len();
            self.used.remove(&old);
        }
    }

    fn check(&mut self, key: &u128, since: i64, max: i64) -> ServedCheck {
        let Some(&(set, at)) = self.keys.get(key) else {
            return ServedCheck::Unknown;
        };
        if at < since {
            return ServedCheck::Unknown;
        }
        let used = self.used.entry(set).or_insert(0);
        if *used >= max {
            return ServedCheck::Exhausted;
        }
        *used += 1;
        ServedCheck::Granted
    }
}

/// Work for the result-set writer. A federated selection answers without waiting for its result
/// set to be written; a detail request first waits (a barrier through the same queue) until every
/// result set before it is, so it always finds the vumIDs it was given.
pub(crate) enum ResultJob {
    Remember {
        vraag_id: String,
        kind: Kind,
        ids: Vec<store::exchange::ResultId>,
        at: i64,
    },
    Barrier(tokio::sync::oneshot::Sender<()>),
}

/// A refusal of a selection that fails the standard: every finding as a field violation.
pub fn refuse_report(what: &str, report: &vum::Report) -> Status {
    let v: Vec<(String, String)> = report
        .errors()
        .map(|f| (f.pointer.clone(), format!("{}: {}", f.rule, f.message)))
        .collect();
    let summary: Vec<String> = v.iter().map(|(p, m)| format!("{p} {m}")).collect();
    bad_request(format!("{what} refused: {}", summary.join("; ")), v)
}

impl NodeState {
    /// Open the store, load the engines, read the secret and the TLS material for peer calls,
    /// and start the result-set writer.
    pub async fn new(config: NodeConfig) -> Result<Arc<NodeState>, NodeError> {
        let store = Store::open(&config.database).await?.with_group_commit();
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
        let client_tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(read(&config.tls.ca)?))
            .identity(Identity::from_pem(
                read(&config.tls.cert)?,
                read(&config.tls.key)?,
            ));
        let (results, mut jobs) = tokio::sync::mpsc::channel::<ResultJob>(1024);
        let writer = store.clone();
        tokio::spawn(async move {
            while let Some(job) = jobs.recv().await {
                match job {
                    ResultJob::Remember {
                        vraag_id,
                        kind,
                        ids,
                        at,
                    } => {
                        if let Err(e) = writer.remember_result_set(&vraag_id, kind, &ids, at).await
                        {
                            tracing::error!(error = %e, %vraag_id, "result set not stored");
                        }
                    }
                    ResultJob::Barrier(done) => {
                        let _ = done.send(());
                    }
                }
            }
        });
        Ok(Arc::new(NodeState {
            results,
            config,
            store,
            engines,
            validator: Validator::new(),
            id_key: vum::ids::IdKey::new(&secret),
            client_tls,
            channels: Mutex::new(HashMap::new()),
            buckets: std::sync::Mutex::new(HashMap::new()),
            feed_lock: Mutex::new(()),
            oins: std::sync::Mutex::new(HashMap::new()),
            served: std::sync::Mutex::new(Served::default()),
            served_hash: Default::default(),
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

    /// Take a token from the peer's bucket. On refusal, returns the refusals to report now (see
    /// [`Throttle`]).
    fn rate_limit(&self, oin: &str) -> Result<(), Option<i64>> {
        let l = &self.config.limits;
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let b = buckets.entry(oin.to_string()).or_insert(Bucket {
            tokens: l.burst,
            last: now,
            refusals: Throttle::default(),
        });
        b.tokens = (b.tokens + now.duration_since(b.last).as_secs_f64() * l.requests_per_second)
            .min(l.burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Ok(());
        }
        Err(b.refusals.refuse(now))
    }

    /// The OIN of the call's client certificate, from the cache when the certificate was seen.
    fn cert_oin<T>(&self, req: &Request<T>) -> Result<String, CallError> {
        let certs = req.peer_certs();
        let Some(leaf) = certs.as_ref().and_then(|c| c.first()) else {
            return parties::cert_oin(req);
        };
        let mut cache = self.oins.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(oin) = cache.get(leaf.as_ref()) {
            return Ok(oin.clone());
        }
        let oin = parties::cert_oin(req)?;
        if cache.len() >= 10_000 {
            cache.clear();
        }
        cache.insert(leaf.as_ref().to_vec(), oin.clone());
        Ok(oin)
    }

    /// Identity, rate limit, party roles, grant: every peer call goes through here, allowed or
    /// not, and is logged.
    async fn authorize<T>(&self, req: &Request<T>, service: &str) -> Result<Parties, CallError> {
        let refused = |cert_oin: String| Parties {
            cert_oin,
            from: "unknown".into(),
            to: self.config.oin.clone(),
            suwi: false,
            transaction_id: "none".into(),
        };
        let cert_oin = match self.cert_oin(req) {
            Ok(o) => o,
            Err(e) => {
                self.audit(
                    &refused("unknown".into()),
                    &format!("refused:{service}"),
                    &e.to_string(),
                    0,
                )
                .await;
                return Err(e);
            }
        };
        if let Err(report) = self.rate_limit(&cert_oin) {
            if let Some(n) = report {
                self.audit(
                    &refused(cert_oin.clone()),
                    &format!("refused:{service}"),
                    "rate limit",
                    n,
                )
                .await;
            }
            tracing::warn!(service, peer = %cert_oin, "peer call refused: rate limit");
            return Err(CallError::RateLimited {
                oin: cert_oin,
                per_second: self.config.limits.requests_per_second,
            });
        }
        let p = match parties::check_metadata(req.metadata(), cert_oin.clone(), &self.config.oin) {
            Ok(p) => p,
            Err(e) => {
                self.audit(
                    &refused(cert_oin),
                    &format!("refused:{service}"),
                    &e.to_string(),
                    0,
                )
                .await;
                tracing::warn!(service, error = %e, "peer call refused");
                return Err(e);
            }
        };
        if !self.config.allowed(&p.cert_oin, &p.from, service) {
            self.audit(&p, &format!("refused:{service}"), "no grant", 0)
                .await;
            return Err(CallError::NoGrant {
                via: p.cert_oin,
                from: p.from,
                service: service.to_string(),
            });
        }
        // the SUWI claim stands only where this node's configuration says so
        if p.suwi && !self.config.suwi_granted(&p.cert_oin, &p.from, service) {
            self.audit(
                &p,
                &format!("refused:{service}"),
                "x-vum-suwiparty claimed; not a SUWI party in this node's grants",
                0,
            )
            .await;
            tracing::warn!(service, peer = %p.cert_oin, "peer call refused: SUWI claim not configured");
            return Err(CallError::SuwiNotGranted {
                via: p.cert_oin,
                from: p.from,
            });
        }
        Ok(p)
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

    async fn select(
        &self,
        kind: Kind,
        request_json: Value,
        p: &Parties,
    ) -> Result<MatchesResponse, Status> {
        let qkind = vum::query_kind(kind);
        let report = self.validator.validate_value(qkind, &request_json);
        if !report.is_valid() {
            return Err(refuse_report("selection", &report));
        }
        let selectie =
            vum::query::Selectie::from_request(kind.family(), &request_json).map_err(|e| {
                bad_request(e.to_string(), vec![("/vraagObject".into(), e.to_string())])
            })?;
        let engine = &self.engines[&kind];
        engine
            .write()
            .await
            .catch_up(&self.store)
            .await
            .map_err(store_failed(&p.transaction_id))?;
        let engine = engine.read().await;
        service::select(
            &self.store,
            &engine,
            kind,
            &selectie,
            100,
            &p.caller(),
            now_ms(),
        )
        .await
        .map_err(|e| store_failed::<ServiceError>(&p.transaction_id)(e).into())
    }

    pub(crate) async fn channel(&self, endpoint: &str) -> Result<Channel, Status> {
        if let Some(c) = self.channels.lock().await.get(endpoint) {
            return Ok(c.clone());
        }
        let ep = Endpoint::from_shared(endpoint.to_string())
            .map_err(|e| CallError::internal(format!("peer endpoint {endpoint}: {e}")))?
            .tls_config(self.client_tls.clone().domain_name("localhost"))
            .map_err(|e| CallError::internal(format!("peer endpoint {endpoint}: {e}")))?
            .connect_timeout(Duration::from_millis(self.config.peer_deadline_ms))
            .timeout(Duration::from_millis(self.config.peer_deadline_ms));
        let ch = ep.connect_lazy();
        self.channels
            .lock()
            .await
            .insert(endpoint.to_string(), ch.clone());
        Ok(ch)
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

    /// The in-memory key of (kind, peer, record).
    fn served_fast_key(&self, kind: Kind, peer_oin: &str, id: &str) -> u128 {
        use std::hash::BuildHasher;
        let half =
            |b: &std::collections::hash_map::RandomState| b.hash_one((kind.name(), peer_oin, id));
        (u128::from(half(&self.served_hash.0)) << 64) | u128::from(half(&self.served_hash.1))
    }

    fn detail_since(&self) -> i64 {
        let l = &self.config.limits;
        now_ms() - i64::try_from(l.detail_window_s.saturating_mul(1000)).unwrap_or(i64::MAX)
    }

    /// As a source: remember which records a selection returned to the calling peer, so that it
    /// may ask their details (and at most `details_per_selection` of them) within the window: in
    /// memory at once, in the store in the background.
    async fn remember_served(&self, p: &Parties, kind: Kind, ids: Vec<String>) {
        if ids.is_empty() {
            return;
        }
        let fast: Vec<u128> = ids
            .iter()
            .map(|id| self.served_fast_key(kind, &p.cert_oin, id))
            .collect();
        let since = self.detail_since();
        if let Ok(mut served) = self.served.lock() {
            served.remember(fast, now_ms(), since);
        }
        let ids = ids
            .into_iter()
            .map(|id| {
                let k = self.served_key(kind, &p.cert_oin, &id);
                store::exchange::ResultId {
                    vum_id: format!("s{}", hex::encode(k)),
                    peer_oin: p.cert_oin.clone(),
                    source_id: id,
                }
            })
            .collect();
        self.remember_result_set(&format!("served:{}", uuid::Uuid::now_v7()), kind, ids)
            .await;
    }

    /// As a source: count a detail request against the selection that returned the record to
    /// this peer. Refused (and audited) when no selection within the window did, or when that
    /// selection's details are used up.
    async fn use_served(&self, p: &Parties, kind: Kind, id: &str) -> Result<(), CallError> {
        let service = if kind == Kind::Vacature {
            "get-vacature"
        } else {
            "get-werkzoekende"
        };
        let l = &self.config.limits;
        let since = self.detail_since();
        let fast = self.served_fast_key(kind, &p.cert_oin, id);
        let in_memory = match self.served.lock() {
            Ok(mut served) => served.check(&fast, since, l.details_per_selection),
            Err(_) => ServedCheck::Unknown,
        };
        let grant = match in_memory {
            ServedCheck::Granted => return Ok(()),
            ServedCheck::Exhausted => DetailGrant::Exhausted(String::new()),
            ServedCheck::Unknown => {
                self.result_sets_written().await;
                let key = self.served_key(kind, &p.cert_oin, id);
                self.store
                    .use_detail_since(
                        &format!("s{}", hex::encode(key)),
                        kind,
                        l.details_per_selection,
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

    /// Queue a federated result set for the store.
    pub(crate) async fn remember_result_set(
        &self,
        vraag_id: &str,
        kind: Kind,
        ids: Vec<store::exchange::ResultId>,
    ) {
        let job = ResultJob::Remember {
            vraag_id: vraag_id.to_string(),
            kind,
            ids,
            at: now_ms(),
        };
        if self.results.send(job).await.is_err() {
            tracing::error!(%vraag_id, "result-set writer gone");
        }
    }

    /// Wait until every result set queued before now is in the store.
    pub(crate) async fn result_sets_written(&self) {
        let (done, wait) = tokio::sync::oneshot::channel();
        if self.results.send(ResultJob::Barrier(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// Party metadata of a call this node makes to a peer, for its own organisation.
    pub(crate) fn outgoing<T>(&self, msg: T, peer_oin: &str, tx_id: &str) -> (Request<T>, Parties) {
        let mut r = Request::new(msg);
        r.set_timeout(Duration::from_millis(self.config.peer_deadline_ms));
        parties::attach(
            &mut r,
            &self.config.oin,
            &self.config.oin,
            peer_oin,
            self.config.suwi,
            tx_id,
        );
        let own = Parties {
            cert_oin: self.config.oin.clone(),
            from: self.config.oin.clone(),
            to: peer_oin.to_string(),
            suwi: self.config.suwi,
            transaction_id: tx_id.to_string(),
        };
        (r, own)
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
        let ch = self.channel(&peer.endpoint).await?;
        let (r, own) = self.outgoing(
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

/// Release rules for a jobseeker's details going to a peer: the LDR indication only to SUWI
/// parties; contact details only when the record says they may be shared.
pub fn release(w: &mut wz::Werkzoekende, suwi: bool) {
    if !suwi {
        w.indicatie_ldr_registratie = None;
    }
    if w.indicatie_beschikbaarheid_contactgegevens != Some(1) {
        w.emailadres.clear();
        w.telefoonnummer.clear();
        w.contactpersoon.clear();
        w.webadres.clear();
    }
}

/// The Peer gRPC service over the node's state.
#[derive(Clone)]
pub struct PeerService(pub Arc<NodeState>);

type FeedStream = Pin<Box<dyn tokio_stream::Stream<Item = Result<RawFeedEvent, Status>> + Send>>;

impl PeerService {
    /// A detail document for a peer (audited), decoded from its stored protobuf encoding.
    async fn detail<T: prost::Message + Default>(
        &self,
        kind: Kind,
        id: &str,
        p: &Parties,
    ) -> Result<T, CallError> {
        self.0.use_served(p, kind, id).await?;
        let bytes = service::detail_pb(&self.0.store, kind, id, &p.caller(), now_ms())
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
}

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
            MatchesResponse::Werkzoekenden(r) => {
                let ids = r
                    .matches
                    .iter()
                    .map(|m| m.id_werkzoekende.clone())
                    .collect();
                self.0.remember_served(&p, Kind::Werkzoekende, ids).await;
                Ok(Response::new(r))
            }
            MatchesResponse::Vacatures(_) => Err(CallError::internal("wrong response kind")
                .in_transaction(&p.transaction_id)
                .into()),
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
            MatchesResponse::Vacatures(r) => {
                let ids = r.matches.iter().map(|m| m.id_vacature.clone()).collect();
                self.0.remember_served(&p, Kind::Vacature, ids).await;
                Ok(Response::new(r))
            }
            MatchesResponse::Werkzoekenden(_) => Err(CallError::internal("wrong response kind")
                .in_transaction(&p.transaction_id)
                .into()),
        }
    }

    async fn get_werkzoekende(
        &self,
        req: Request<pb::GetRequest>,
    ) -> Result<Response<wz::Werkzoekende>, Status> {
        let p = self.0.authorize(&req, "get-werkzoekende").await?;
        self.0
            .refuse_bad_id(&p, "get-werkzoekende", &req.get_ref().id)
            .await?;
        let mut w: wz::Werkzoekende = self
            .detail(Kind::Werkzoekende, &req.get_ref().id, &p)
            .await?;
        release(&mut w, p.suwi);
        Ok(Response::new(w))
    }

    async fn get_vacature(
        &self,
        req: Request<pb::GetRequest>,
    ) -> Result<Response<vac::Vacature>, Status> {
        let p = self.0.authorize(&req, "get-vacature").await?;
        self.0
            .refuse_bad_id(&p, "get-vacature", &req.get_ref().id)
            .await?;
        Ok(Response::new(
            self.detail(Kind::Vacature, &req.get_ref().id, &p).await?,
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

#[cfg(test)]
mod served_tests {
    use super::{Served, ServedCheck, MAX_SERVED};

    fn key(i: usize) -> u128 {
        i as u128
    }

    #[test]
    fn details_are_counted_per_selection_within_the_window() {
        let mut s = Served::default();
        s.remember((0..5).map(key).collect(), 1_000, 0);
        for _ in 0..3 {
            assert!(matches!(s.check(&key(1), 0, 3), ServedCheck::Granted));
        }
        // the fourth detail of that selection is refused, whatever record it asks
        assert!(matches!(s.check(&key(2), 0, 3), ServedCheck::Exhausted));
        // a record never returned is not in memory (the store is asked)
        assert!(matches!(s.check(&key(99), 0, 3), ServedCheck::Unknown));
        // outside the window
        assert!(matches!(s.check(&key(3), 2_000, 3), ServedCheck::Unknown));
        // a newer selection of the same record counts on its own
        s.remember(vec![key(2)], 3_000, 0);
        assert!(matches!(s.check(&key(2), 0, 3), ServedCheck::Granted));
    }

    #[test]
    fn memory_is_bounded_oldest_selections_first() {
        let mut s = Served::default();
        let per = 1000;
        for set in 0..(MAX_SERVED / per + 5) {
            s.remember(
                (set * per..(set + 1) * per).map(key).collect(),
                set as i64,
                0,
            );
        }
        assert!(s.len <= MAX_SERVED && s.keys.len() <= MAX_SERVED);
        assert!(matches!(s.check(&key(0), 0, 10), ServedCheck::Unknown));
        assert!(matches!(
            s.check(&key(MAX_SERVED), 0, 10),
            ServedCheck::Granted
        ));
    }
}
