//! The Local service: what the organisation's own systems ask of their node. Federated selection
//! over the peers (each match under a vumID), details by vumID routed to the owner (at most 10 per
//! result set), pushing own records, and following peers' vacancy feeds.
use crate::config::PeerConfig;
use crate::error::{store_failed, CallError};
use crate::parties::{self, Parties};
use crate::pb::{self, local_server::Local};
use crate::server::{
    get_service, refuse_report, select_service, to_json, NodeState, MAX_DETAILS_PER_RESULT_SET,
};
use prost::Message;
use rand::seq::SliceRandom;
use serde_json::Value;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::exchange::DetailGrant;
use store::{now_ms, Upserted};
use tonic::{Request, Response, Status, Streaming};
use vum::Kind;
use vum_proto::{vacatures as vac, werkzoekenden as wz};

/// The Local gRPC service over the node's state.
#[derive(Clone)]
pub struct LocalService(pub Arc<NodeState>);

/// The own system's identity for the audit log: the OIN in its client certificate, else "local".
fn actor<T>(req: &Request<T>) -> String {
    parties::cert_oin(req).unwrap_or_else(|_| "local".into())
}

/// What a federated selection gathered: matches (VUM JSON, with vumIDs), whether any source had
/// more, each peer's status, and the result set's id.
pub(crate) struct Merged {
    /// (vumID, the source's match profile, protobuf-encoded)
    pub(crate) matches: Vec<(String, Vec<u8>)>,
    pub(crate) more: bool,
    pub(crate) peers: Vec<pb::PeerStatus>,
    pub(crate) vraag_id: String,
}

impl LocalService {
    /// Fan a selection out to every peer concurrently, each under the deadline; merge in random
    /// order, replace each source id by a vumID, remember the result set, audit each peer call.
    pub(crate) async fn federated_select(
        &self,
        kind: Kind,
        query: Value,
        actor: String,
    ) -> Result<Merged, CallError> {
        let st = self.0.clone();
        let (vraag_kind, service) = (vum::query_kind(kind), select_service(kind));
        let report = st.validator.validate_value(vraag_kind, &query);
        if !report.is_valid() {
            return Err(refuse_report("selection", &report));
        }
        let tx_id = uuid::Uuid::now_v7().to_string();
        let deadline = Duration::from_millis(st.config.peer_deadline_ms);
        // one deadline for the whole fan-out, from now: a peer call that starts late (hundreds
        // of peers on a busy node) does not get a deadline of its own on top
        let until = tokio::time::Instant::now() + deadline;
        let query = Arc::new(query);
        // each peer call runs on a task of its own, as a child of this call's span
        let parent = tracing::Span::current();
        let calls: Vec<_> = st
            .config
            .peers
            .iter()
            .map(|peer| {
                let (st, peer, query, tx_id) =
                    (st.clone(), peer.clone(), query.clone(), tx_id.clone());
                let parent = parent.clone();
                tokio::spawn(async move {
                    let t = Instant::now();
                    let span = tracing::info_span!(parent: &parent, "peer_call", peer = %peer.oin, service, transaction_id = %tx_id);
                    let call = st.peers.select(kind, &peer, &query, &tx_id);
                    let result = match tokio::time::timeout_at(
                        until,
                        tracing::Instrument::instrument(call, span),
                    )
                    .await
                    {
                        Ok(r) => r,
                        Err(_) => Err(Status::deadline_exceeded(format!(
                            "no answer within {} ms",
                            deadline.as_millis()
                        ))),
                    };
                    (peer, result, t.elapsed())
                })
            })
            .collect();
        let vraag_id = uuid::Uuid::now_v7().to_string();
        let mut m = Merged {
            matches: Vec::new(),
            more: false,
            peers: Vec::new(),
            vraag_id: vraag_id.clone(),
        };
        let mut ids = Vec::new();
        for call in calls {
            let Ok((peer, result, took)) = call.await else {
                continue;
            };
            let mut status = pb::PeerStatus {
                oin: peer.oin.clone(),
                name: peer.name.clone(),
                status: "ok".into(),
                millis: took.as_millis() as i64,
                ..Default::default()
            };
            match result {
                Ok((matches, more)) => {
                    m.more |= more;
                    status.matches = matches.len() as i32;
                    status.maximum_aantal_resultaten_bereikt = more;
                    for (id, encoded) in matches {
                        // the vumID an own system sees is this node's pseudonym of the peer's id
                        let pseudonym = st.pseudonym(&peer.oin, &id);
                        ids.push(store::exchange::ResultId {
                            vum_id: pseudonym.clone(),
                            peer_oin: peer.oin.clone(),
                            source_id: id,
                        });
                        m.matches.push((pseudonym, encoded));
                    }
                }
                Err(s) => status.status = format!("{:?}: {}", s.code(), s.message()),
            }
            let outcome = status.status.split(':').next().unwrap_or("Unknown");
            let outcome = if outcome == "ok" { "Ok" } else { outcome };
            st.metrics.peer_call(&peer.oin, service, outcome, took);
            m.peers.push(status);
        }
        m.matches.shuffle(&mut rand::rng());
        // the requesting side logs every peer call too, under the same transaction id (one
        // commit for all of them)
        let entries: Vec<store::AuditEntry> = m
            .peers
            .iter()
            .map(|p| store::AuditEntry {
                actor: actor.clone(),
                on_behalf_of: st.config.oin.clone(),
                action: format!("peer-{service}:{}", p.oin),
                purpose: "vum".into(),
                transaction_id: tx_id.clone(),
                subject: p.status.clone(),
                result_count: i64::from(p.matches),
            })
            .collect();
        if let Err(e) = st.store.audit_all(&entries, now_ms()).await {
            tracing::error!(error = %e, "audit log write failed");
        }
        st.results.remember(&vraag_id, kind, ids).await;
        tracing::info!(kind = %kind, peers = m.peers.len(), matches = m.matches.len(), vraag_id = %vraag_id, "federated selection");
        Ok(m)
    }

    /// Route a detail request by vumID to the peer that owns the record, counting it against its
    /// result set. Returns the owner's OIN and the peer's answer.
    pub(crate) async fn federated_get<T>(
        &self,
        kind: Kind,
        vum_id: &str,
        actor: String,
        call: impl AsyncFnOnce(&NodeState, &PeerConfig, &str, &str) -> Result<T, Status>,
    ) -> Result<(String, T), CallError> {
        let st = &self.0;
        let service = get_service(kind);
        // the contract's VumID: at most 500 of A-Z a-z 0-9 _ . -; this node's are 40 hex digits
        let safe = vum_id.len() <= 500
            && vum_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        if !safe || vum_id.is_empty() {
            return Err(CallError::BadField {
                field: "vum_id".into(),
                why: format!(
                    "vum_id: {} is not a vumID (1 to 500 of A-Z a-z 0-9 _ . -)",
                    parties::shown(vum_id)
                ),
            });
        }
        let ours = vum_id.len() == 40
            && vum_id
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !ours {
            return Err(CallError::UnknownVumId {
                vum_id: vum_id.to_string(),
                kind: kind.name(),
            });
        }
        let tx_id = uuid::Uuid::now_v7().to_string();
        st.results.written().await;
        let cap = if st.faults.has(crate::faults::Fault::NoDetailCap) {
            i64::MAX
        } else {
            MAX_DETAILS_PER_RESULT_SET
        };
        let grant = st
            .store
            .use_detail(vum_id, kind, cap)
            .await
            .map_err(store_failed(&tx_id))?;
        let r = match grant {
            DetailGrant::Granted(r) => r,
            DetailGrant::Unknown => {
                return Err(CallError::UnknownVumId {
                    vum_id: vum_id.to_string(),
                    kind: kind.name(),
                })
            }
            DetailGrant::Exhausted(set) => {
                return Err(CallError::ResultSetUsedUp {
                    max: MAX_DETAILS_PER_RESULT_SET,
                    set,
                })
            }
        };
        let peer = st
            .config
            .peers
            .iter()
            .find(|p| p.oin == r.peer_oin)
            .cloned()
            .ok_or(CallError::OwnerGone)?;
        let own = Parties {
            cert_oin: actor,
            from: st.config.oin.clone(),
            to: peer.oin.clone(),
            suwi: st.config.suwi,
            transaction_id: tx_id.clone(),
        };
        let span = tracing::info_span!("peer_call", peer = %peer.oin, service, protocol = peer.protocol.name());
        let result =
            tracing::Instrument::instrument(call(st, &peer, &r.source_id, &tx_id), span).await;
        st.audit(
            &own,
            &format!("peer-{service}:{}", peer.oin),
            vum_id,
            i64::from(result.is_ok()),
        )
        .await;
        match result {
            Ok(t) => Ok((peer.oin, t)),
            Err(status) => Err(CallError::Peer {
                oin: peer.oin,
                status: Box::new(status),
            }),
        }
    }

    fn peer(&self, oin: &str) -> Result<PeerConfig, CallError> {
        self.0
            .config
            .peers
            .iter()
            .find(|p| p.oin == oin)
            .cloned()
            .ok_or_else(|| CallError::UnknownPeer(parties::shown(oin)))
    }
}

/// The exchange's match profiles from the sources' ones. A source's match (`MPWerkzoekendeMatch`,
/// `MPVacatureMatch`) and the exchange's (`…MatchVum`) have the same fields under the same numbers,
/// the source id and the vumID both at the last one; decoding the one's encoding as the other and
/// then setting the vumID replaces the id (`a_source_match_becomes_an_exchange_match` holds this).
pub(crate) fn with_vum_ids<M: Message + Default>(
    matches: Vec<(String, Vec<u8>)>,
    set_id: impl Fn(&mut M, String),
) -> Result<Vec<M>, CallError> {
    matches
        .into_iter()
        .map(|(vum_id, encoded)| {
            let mut m = M::decode(encoded.as_slice())
                .map_err(|e| CallError::internal(format!("match profile: {e}")))?;
            set_id(&mut m, vum_id);
            Ok(m)
        })
        .collect()
}

type PeerVacatureStream =
    Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::PeerVacature, Status>> + Send>>;

/// The longest local id a pushed record or delete may carry, bytes (it is hashed, never stored).
pub const MAX_LOCAL_ID: usize = 128;

/// Records buffered for one upsert batch.
const PUSH_BATCH: usize = 500;

/// One violation of a pushed record: (field, rule, description).
type Violation = (String, String, String);

fn violation(field: impl Into<String>, rule: &str, description: impl Into<String>) -> Violation {
    (field.into(), rule.into(), description.into())
}

/// A pushed record past its first check: a document to store, or a delete.
enum Admitted {
    Doc {
        kind: Kind,
        doc: Value,
        /// the property that holds the record id
        id_field: &'static str,
    },
    Delete {
        kind: Kind,
        local_id: String,
        withdrawn: bool,
    },
}

/// A push in progress: the summary so far and the records buffered per kind. Each message goes
/// admit → key → validate → privacy → batch; a delete flushes what came before it.
struct Push {
    st: Arc<NodeState>,
    sum: pb::PushSummary,
    batches: [(Kind, Vec<(String, Value)>); 2],
    transaction_id: String,
    /// what the push counted of werkzoekenden per municipality (the transparency figures)
    counts: std::collections::BTreeMap<String, store::transparency::RunCounts>,
}

impl Push {
    fn new(st: Arc<NodeState>) -> Push {
        Push {
            st,
            sum: pb::PushSummary::default(),
            batches: [
                (Kind::Werkzoekende, Vec::new()),
                (Kind::Vacature, Vec::new()),
            ],
            transaction_id: uuid::Uuid::now_v7().to_string(),
            counts: Default::default(),
        }
    }

    /// Count one werkzoekende message of the push in its municipality (that of its
    /// bemiddelingspostcode's PC4 area): offered, then accepted, without consent or rejected
    /// with the rule of its first violation.
    fn count(&mut self, municipality: Option<&'static str>, outcome: &Result<(), Vec<Violation>>) {
        let Some(m) = municipality else { return };
        let c = self.counts.entry(m.to_string()).or_default();
        c.offered += 1;
        match outcome {
            Ok(()) => c.accepted += 1,
            Err(v) if v.first().is_some_and(|v| v.1 == "push/toestemming") => c.no_consent += 1,
            Err(v) => {
                c.rejected += 1;
                if let Some((_, rule, _)) = v.first() {
                    *c.rejected_by_rule.entry(rule.clone()).or_default() += 1;
                }
            }
        }
    }

    /// Keep what the push counted (when it held werkzoekenden) as a run of the transparency
    /// figures.
    async fn record_run(&self) {
        if self.counts.is_empty() {
            return;
        }
        // shared right after the push, counted in the selection index (caught up to the push
        // first) rather than by an aggregate over every record, which at a million records costs
        // more than a second
        let now = now_ms();
        let shared = match self.st.engines.get(&Kind::Werkzoekende) {
            Some(engine) => {
                let mut engine = engine.write().await;
                match engine.catch_up(&self.st.store).await {
                    Ok(_) => Some(engine.live_per_pc4(now, self.st.store.expiry_days)),
                    Err(e) => {
                        tracing::warn!(error = %e, transaction_id = %self.transaction_id, "catching up the index after a push failed");
                        None
                    }
                }
            }
            None => None,
        };
        let store = &self.st.store;
        let kept = match &shared {
            Some(shared) => {
                store
                    .record_run_counted(Kind::Werkzoekende, "push", now, &self.counts, shared)
                    .await
            }
            None => {
                store
                    .record_run(Kind::Werkzoekende, "push", now, &self.counts)
                    .await
            }
        };
        if let Err(e) = kept {
            tracing::warn!(error = %e, transaction_id = %self.transaction_id, "keeping the push's counts failed");
        }
    }

    /// Every message of the stream, in order, until it ends or breaks.
    async fn receive(&mut self, mut stream: Streaming<pb::PushRequest>) -> Result<(), Status> {
        while let Some(msg) = stream.message().await? {
            let index = self.sum.received;
            self.sum.received += 1;
            let municipality = werkzoekende_municipality(&msg);
            let taken = self.take(msg).await?;
            self.count(municipality, &taken);
            if let Err(violations) = taken {
                self.sum.rejected.push(pb::PushRejection {
                    index,
                    violations: violations
                        .into_iter()
                        .map(|(field, rule, description)| pb::FieldViolation {
                            field,
                            rule,
                            description,
                        })
                        .collect(),
                });
            }
        }
        Ok(())
    }

    /// One message: stored, buffered or deleted (`Ok(Ok(()))`), or rejected with its violations.
    async fn take(
        &mut self,
        msg: pb::PushRequest,
    ) -> Result<Result<(), Vec<Violation>>, CallError> {
        let (kind, doc, id_field) = match admit(msg) {
            Err(v) => return Ok(Err(v)),
            Ok(Admitted::Delete {
                kind,
                local_id,
                withdrawn,
            }) => {
                self.delete(kind, &local_id, withdrawn).await?;
                return Ok(Ok(()));
            }
            Ok(Admitted::Doc {
                kind,
                doc,
                id_field,
            }) => (kind, doc, id_field),
        };
        let (id, doc) = match self.key(kind, doc, id_field) {
            Ok(keyed) => keyed,
            Err(v) => return Ok(Err(v)),
        };
        if let Err(v) = self.validate(kind, &doc).and_then(|()| privacy(&doc)) {
            return Ok(Err(v));
        }
        self.batch(kind, id, doc).await?;
        Ok(Ok(()))
    }

    /// key: the record id from the document's local id, put in its place.
    fn key(
        &self,
        kind: Kind,
        mut doc: Value,
        id_field: &str,
    ) -> Result<(String, Value), Vec<Violation>> {
        let local_id = doc
            .get(id_field)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        check_local_id(format!("/{id_field}"), &local_id).map_err(|v| vec![v])?;
        let id = self.st.record_id(kind, &local_id);
        if let Some(o) = doc.as_object_mut() {
            o.insert(id_field.into(), Value::String(id.clone()));
        }
        Ok((id, doc))
    }

    /// validate: the document against the standard.
    fn validate(&self, kind: Kind, doc: &Value) -> Result<(), Vec<Violation>> {
        let report = self.st.validator.validate_value(kind, doc);
        if report.is_valid() {
            return Ok(());
        }
        Err(report
            .errors()
            .map(|f| (f.pointer.clone(), f.rule.clone(), f.message.clone()))
            .collect())
    }

    /// batch: buffer the record; a full batch is written.
    async fn batch(&mut self, kind: Kind, id: String, doc: Value) -> Result<(), CallError> {
        let i = usize::from(kind == Kind::Vacature);
        self.batches[i].1.push((id, doc));
        if self.batches[i].1.len() >= PUSH_BATCH {
            self.flush(i).await?;
        }
        Ok(())
    }

    /// A delete, after what came before it in the stream has landed.
    async fn delete(
        &mut self,
        kind: Kind,
        local_id: &str,
        withdrawn: bool,
    ) -> Result<(), CallError> {
        self.flush_all().await?;
        let id = self.st.record_id(kind, local_id);
        if self
            .st
            .store
            .remove(kind, &id, withdrawn, now_ms())
            .await
            .map_err(store_failed(&self.transaction_id))?
        {
            self.sum.deleted += 1;
        }
        Ok(())
    }

    /// Write the buffered records of batch `i`.
    async fn flush(&mut self, i: usize) -> Result<(), CallError> {
        let (kind, batch) = &mut self.batches[i];
        if batch.is_empty() {
            return Ok(());
        }
        let written = self
            .st
            .store
            .upsert_batch(*kind, batch, now_ms())
            .await
            .map_err(store_failed(&self.transaction_id))?;
        for u in written {
            match u {
                Upserted::Inserted => self.sum.inserted += 1,
                Upserted::Updated => self.sum.updated += 1,
                Upserted::Unchanged => self.sum.unchanged += 1,
            }
        }
        batch.clear();
        Ok(())
    }

    async fn flush_all(&mut self) -> Result<(), CallError> {
        for i in 0..self.batches.len() {
            self.flush(i).await?;
        }
        Ok(())
    }

    /// The push in the audit log and the log.
    async fn summarise(&self, who: String) {
        let (st, sum) = (&self.st, &self.sum);
        let own = Parties {
            cert_oin: who,
            from: st.config.oin.clone(),
            to: st.config.oin.clone(),
            suwi: st.config.suwi,
            transaction_id: self.transaction_id.clone(),
        };
        st.audit(
            &own,
            "push",
            &format!(
                "inserted {}, updated {}, unchanged {}, deleted {}, rejected {}",
                sum.inserted,
                sum.updated,
                sum.unchanged,
                sum.deleted,
                sum.rejected.len()
            ),
            sum.received,
        )
        .await;
        tracing::info!(
            received = sum.received,
            inserted = sum.inserted,
            updated = sum.updated,
            deleted = sum.deleted,
            rejected = sum.rejected.len(),
            "push"
        );
    }
}

/// The municipality of a pushed werkzoekende (by the PC4 area of its bemiddelingspostcode), for
/// the transparency figures; none for other messages.
fn werkzoekende_municipality(msg: &pb::PushRequest) -> Option<&'static str> {
    let Some(pb::push_request::Record::Werkzoekende(w)) = &msg.record else {
        return None;
    };
    let postcode = w
        .werkzoekende
        .as_ref()
        .and_then(|d| d.mobiliteit.as_ref())
        .map(|m| m.bemiddelingspostcode.as_str())
        .unwrap_or_default();
    let pc4 = postcode
        .get(..4)
        .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|d| d.parse::<i64>().ok());
    Some(store::transparency::municipality_of(pc4))
}

/// admit: what the message holds (a werkzoekende only with consent; a delete with a known kind
/// and a usable local id).
fn admit(msg: pb::PushRequest) -> Result<Admitted, Vec<Violation>> {
    match msg.record {
        Some(pb::push_request::Record::Werkzoekende(w)) => {
            if !w.consent {
                return Err(vec![violation(
                    "/consent",
                    "push/toestemming",
                    "a jobseeker is shared only with recorded consent",
                )]);
            }
            Ok(Admitted::Doc {
                kind: Kind::Werkzoekende,
                doc: to_json(&w.werkzoekende.unwrap_or_default()),
                id_field: vum::record_id_property(Kind::Werkzoekende),
            })
        }
        Some(pb::push_request::Record::Vacature(v)) => Ok(Admitted::Doc {
            kind: Kind::Vacature,
            doc: to_json(&v),
            id_field: vum::record_id_property(Kind::Vacature),
        }),
        Some(pb::push_request::Record::Delete(d)) => {
            let kind = match d.kind.as_str() {
                "werkzoekende" => Kind::Werkzoekende,
                "vacature" => Kind::Vacature,
                other => {
                    return Err(vec![violation(
                        "/kind",
                        "push/soort",
                        format!("{} is not werkzoekende or vacature", parties::shown(other)),
                    )])
                }
            };
            check_local_id("/id", &d.id).map_err(|v| vec![v])?;
            Ok(Admitted::Delete {
                kind,
                local_id: d.id,
                withdrawn: d.withdrawn,
            })
        }
        None => Err(vec![violation(
            "",
            "push/leeg",
            "the message holds no record",
        )]),
    }
}

/// A local id is present and at most [`MAX_LOCAL_ID`] bytes.
fn check_local_id(field: impl Into<String>, id: &str) -> Result<(), Violation> {
    if id.is_empty() {
        return Err(violation(
            field,
            "push/id-ontbreekt",
            "the local id is empty",
        ));
    }
    if id.len() > MAX_LOCAL_ID {
        return Err(violation(
            field,
            "push/id-te-lang",
            format!("the local id is {} bytes; at most {MAX_LOCAL_ID}", id.len()),
        ));
    }
    Ok(())
}

/// privacy: no free text that would carry personal data out of the node. (Sharing at all, contact
/// details included, needs the record's `consent`; the standard's
/// `indicatieBeschikbaarheidContactgegevens` only says whether contact details are present.)
fn privacy(doc: &Value) -> Result<(), Vec<Violation>> {
    match vum::privacy::scan_document(doc) {
        None => Ok(()),
        Some((pointer, pii)) => Err(vec![violation(
            pointer,
            vum::privacy::FREE_TEXT_RULE,
            format!("free text would carry {} out of the node", pii.describe()),
        )]),
    }
}

#[tonic::async_trait]
impl Local for LocalService {
    async fn federated_select_werkzoekenden(
        &self,
        req: Request<wz::WerkzoekendeProfielMatchesRequest>,
    ) -> Result<Response<pb::FederatedWerkzoekendenResponse>, Status> {
        let who = actor(&req);
        let m = self
            .federated_select(Kind::Werkzoekende, to_json(req.get_ref()), who)
            .await?;
        Ok(Response::new(pb::FederatedWerkzoekendenResponse {
            response: Some(wz::WerkzoekendeProfielMatchesResponse {
                maximum_aantal_resultaten_bereikt: Some(m.more),
                vraag_id: m.vraag_id,
                matches: with_vum_ids::<wz::MpWerkzoekendeMatchVum>(m.matches, |x, id| {
                    x.vum_id = id
                })?,
            }),
            peers: m.peers,
        }))
    }

    async fn federated_select_vacatures(
        &self,
        req: Request<vac::VacatureMatchesRequest>,
    ) -> Result<Response<pb::FederatedVacaturesResponse>, Status> {
        let who = actor(&req);
        let m = self
            .federated_select(Kind::Vacature, to_json(req.get_ref()), who)
            .await?;
        Ok(Response::new(pb::FederatedVacaturesResponse {
            response: Some(vac::VacaturesMatchesResponse {
                maximum_aantal_resultaten_bereikt: Some(m.more),
                vraag_id: m.vraag_id,
                matches: with_vum_ids::<vac::MpVacatureMatchVum>(m.matches, |x, id| x.vum_id = id)?,
            }),
            peers: m.peers,
        }))
    }

    async fn federated_get_werkzoekende(
        &self,
        req: Request<pb::FederatedGetRequest>,
    ) -> Result<Response<wz::WerkzoekendeDetailResponse>, Status> {
        let who = actor(&req);
        let (bron_id, w) = self
            .federated_get(
                Kind::Werkzoekende,
                &req.get_ref().vum_id,
                who,
                async |st, peer, id, tx| st.peers.get_werkzoekende(peer, id, tx).await,
            )
            .await?;
        Ok(Response::new(wz::WerkzoekendeDetailResponse {
            bron_id,
            werkzoekende: Some(w),
        }))
    }

    async fn federated_get_vacature(
        &self,
        req: Request<pb::FederatedGetRequest>,
    ) -> Result<Response<vac::VacatureDetailResponse>, Status> {
        let who = actor(&req);
        let (bron_id, v) = self
            .federated_get(
                Kind::Vacature,
                &req.get_ref().vum_id,
                who,
                async |st, peer, id, tx| st.peers.get_vacature(peer, id, tx).await,
            )
            .await?;
        Ok(Response::new(vac::VacatureDetailResponse {
            bron_id,
            vacature: Some(v),
        }))
    }

    async fn push(
        &self,
        req: Request<Streaming<pb::PushRequest>>,
    ) -> Result<Response<pb::PushSummary>, Status> {
        let who = actor(&req);
        let mut push = Push::new(self.0.clone());
        let span = tracing::info_span!("push", actor = %who);
        let outcome = tracing::Instrument::instrument(push.receive(req.into_inner()), span).await;
        // what arrived before a broken stream is kept
        push.flush_all().await?;
        push.record_run().await;
        push.summarise(who).await;
        outcome?;
        Ok(Response::new(push.sum))
    }

    async fn sync_feed(
        &self,
        req: Request<pb::SyncFeedRequest>,
    ) -> Result<Response<pb::SyncFeedResponse>, Status> {
        let peer = self.peer(&req.get_ref().peer_oin)?;
        Ok(Response::new(
            self.0.sync_feed(&peer, req.get_ref().limit).await?,
        ))
    }

    type PeerVacaturesStream = PeerVacatureStream;

    async fn peer_vacatures(
        &self,
        req: Request<pb::PeerVacaturesRequest>,
    ) -> Result<Response<PeerVacatureStream>, Status> {
        let peer = self.peer(&req.get_ref().peer_oin)?;
        let rows = self
            .0
            .store
            .peer_vacatures(&peer.oin)
            .await
            .map_err(CallError::from)?;
        let items = rows.into_iter().map(move |r| {
            let (id, seq, doc) = (r.vum_id, r.seq, r.doc);
            let vacature = serde_json::from_str::<vac::Vacature>(&doc).map_err(|e| {
                Status::from(CallError::internal(format!("mirrored vacature {id}: {e}")))
            })?;
            Ok(pb::PeerVacature {
                peer_oin: peer.oin.clone(),
                id,
                seq,
                vacature: Some(vacature),
            })
        });
        Ok(Response::new(Box::pin(tokio_stream::iter(items))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field of a source's match arrives unchanged in the exchange's match; only the id is
    /// replaced by the vumID.
    #[test]
    fn a_source_match_becomes_an_exchange_match() {
        let docs = crate::shared_json("vum/testdata/werkzoekenden-1000.json");
        for d in docs.as_array().unwrap().iter().take(200) {
            let source: wz::MpWerkzoekendeMatch =
                serde_json::from_value(vum::matchform::to_match(Kind::Werkzoekende, d)).unwrap();
            let out = with_vum_ids::<wz::MpWerkzoekendeMatchVum>(
                vec![("v".repeat(40), source.encode_to_vec())],
                |x, id| x.vum_id = id,
            )
            .unwrap();
            let (mut a, mut b) = (to_json(&source), to_json(&out[0]));
            assert_eq!(
                a.as_object_mut().unwrap().remove("idWerkzoekende"),
                d.get("idWerkzoekende").cloned()
            );
            assert_eq!(
                b.as_object_mut().unwrap().remove("vumID"),
                Some(Value::String("v".repeat(40)))
            );
            assert_eq!(a, b);
        }
        let vacs = crate::shared_json("vum/testdata/vacatures-93.json");
        for d in vacs.as_array().unwrap() {
            let source: vac::MpVacatureMatch =
                serde_json::from_value(vum::matchform::to_match(Kind::Vacature, d)).unwrap();
            let out = with_vum_ids::<vac::MpVacatureMatchVum>(
                vec![("v".repeat(40), source.encode_to_vec())],
                |x, id| x.vum_id = id,
            )
            .unwrap();
            let (mut a, mut b) = (to_json(&source), to_json(&out[0]));
            assert!(a.as_object_mut().unwrap().remove("idVacature").is_some());
            assert_eq!(
                b.as_object_mut().unwrap().remove("vumID"),
                Some(Value::String("v".repeat(40)))
            );
            assert_eq!(a, b);
        }
    }
}
