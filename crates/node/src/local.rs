//! The Local service: what the organisation's own systems ask of their node. Federated selection
//! over the peers (each match under a vumID), details by vumID routed to the owner (at most 10 per
//! result set), pushing own records, and following peers' vacancy feeds.
use crate::config::PeerConfig;
use crate::parties::{self, Parties};
use crate::pb::{self, local_server::Local, peer_client::PeerClient};
use crate::server::{from_json, refuse_report, to_json, NodeState, MAX_DETAILS_PER_RESULT_SET};
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

#[derive(Clone)]
pub struct LocalService(pub Arc<NodeState>);

/// The own system's identity for the audit log: the OIN in its client certificate, else "local".
fn actor<T>(req: &Request<T>) -> String {
    parties::cert_oin(req).unwrap_or_else(|_| "local".into())
}

/// What a federated selection gathered: matches (VUM JSON, with vumIDs), whether any source had
/// more, each peer's status, and the result set's id.
struct Merged {
    /// (vumID, the source's match profile, protobuf-encoded)
    matches: Vec<(String, Vec<u8>)>,
    more: bool,
    peers: Vec<pb::PeerStatus>,
    vraag_id: String,
}

impl LocalService {
    /// One peer's selection: (source matches as JSON, maximumAantalResultatenBereikt).
    async fn ask_peer(
        st: &NodeState,
        kind: Kind,
        peer: &PeerConfig,
        query: &Value,
        tx_id: &str,
    ) -> Result<(Vec<(String, Vec<u8>)>, bool), Status> {
        let ch = st.channel(&peer.endpoint).await?;
        let mut client = PeerClient::new(ch);
        if kind == Kind::Vacature {
            let (r, _) = st.outgoing(
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
            let (r, _) = st.outgoing(
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

    /// Fan a selection out to every peer concurrently, each under the deadline; merge in random
    /// order, replace each source id by a vumID, remember the result set, audit each peer call.
    async fn federated_select(
        &self,
        kind: Kind,
        query: Value,
        actor: String,
    ) -> Result<Merged, Status> {
        let st = self.0.clone();
        let (vraag_kind, service) = match kind {
            Kind::Vacature => (Kind::VacatureVraag, "select-vacatures"),
            _ => (Kind::WerkzoekendeVraag, "select-werkzoekenden"),
        };
        let report = st.validator.validate_value(vraag_kind, &query);
        if !report.is_valid() {
            return Err(refuse_report("selection", &report));
        }
        let tx_id = uuid::Uuid::now_v7().to_string();
        let deadline = Duration::from_millis(st.config.peer_deadline_ms);
        let query = Arc::new(query);
        let calls: Vec<_> = st
            .config
            .peers
            .iter()
            .map(|peer| {
                let (st, peer, query, tx_id) =
                    (st.clone(), peer.clone(), query.clone(), tx_id.clone());
                tokio::spawn(async move {
                    let t = Instant::now();
                    let span = tracing::info_span!("peer_call", peer = %peer.oin, service);
                    let call = Self::ask_peer(&st, kind, &peer, &query, &tx_id);
                    let result = match tokio::time::timeout(
                        deadline,
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
                        let vum_id = st.pseudonym(&peer.oin, &id);
                        ids.push(store::exchange::ResultId {
                            vum_id: vum_id.clone(),
                            peer_oin: peer.oin.clone(),
                            source_id: id,
                        });
                        m.matches.push((vum_id, encoded));
                    }
                }
                Err(s) => status.status = format!("{:?}: {}", s.code(), s.message()),
            }
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
        st.remember_result_set(&vraag_id, kind, ids).await;
        tracing::info!(kind = %kind, peers = m.peers.len(), matches = m.matches.len(), vraag_id = %vraag_id, "federated selection");
        Ok(m)
    }

    /// Route a detail request by vumID to the peer that owns the record, counting it against its
    /// result set. Returns the owner's OIN and the peer's answer.
    async fn federated_get<T>(
        &self,
        kind: Kind,
        vum_id: &str,
        actor: String,
        call: impl AsyncFnOnce(
            PeerClient<tonic::transport::Channel>,
            Request<pb::GetRequest>,
        ) -> Result<T, Status>,
    ) -> Result<(String, T), Status> {
        let st = &self.0;
        let service = if kind == Kind::Vacature {
            "get-vacature"
        } else {
            "get-werkzoekende"
        };
        if !(vum_id.len() == 40
            && vum_id
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        {
            let why = format!(
                "vum_id: {} is not a vumID of this node (40 lowercase hex digits)",
                parties::shown(vum_id)
            );
            return Err(parties::bad_request(
                why.clone(),
                vec![("vum_id".into(), why)],
            ));
        }
        st.result_sets_written().await;
        let grant = st
            .store
            .use_detail(vum_id, kind, MAX_DETAILS_PER_RESULT_SET)
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        let r = match grant {
            DetailGrant::Granted(r) => r,
            DetailGrant::Unknown => {
                return Err(Status::not_found(format!(
                    "vumID {vum_id} is not from a {} selection of this node (or its result set expired)",
                    kind.name()
                )))
            }
            DetailGrant::Exhausted(set) => {
                return Err(Status::resource_exhausted(format!(
                    "at most {MAX_DETAILS_PER_RESULT_SET} detail requests per result set ({set})"
                )))
            }
        };
        let peer = st
            .config
            .peers
            .iter()
            .find(|p| p.oin == r.peer_oin)
            .cloned()
            .ok_or_else(|| {
                Status::failed_precondition("the owning peer is no longer configured")
            })?;
        let ch = st.channel(&peer.endpoint).await?;
        let (req, mut own) = st.outgoing(
            pb::GetRequest { id: r.source_id },
            &peer.oin,
            &uuid::Uuid::now_v7().to_string(),
        );
        own.cert_oin = actor;
        let span = tracing::info_span!("peer_call", peer = %peer.oin, service);
        let result = tracing::Instrument::instrument(call(PeerClient::new(ch), req), span).await;
        st.audit(
            &own,
            &format!("peer-{service}:{}", peer.oin),
            vum_id,
            i64::from(result.is_ok()),
        )
        .await;
        Ok((peer.oin, result?))
    }

    fn peer(&self, oin: &str) -> Result<PeerConfig, Status> {
        self.0
            .config
            .peers
            .iter()
            .find(|p| p.oin == oin)
            .cloned()
            .ok_or_else(|| {
                Status::not_found(format!(
                    "peer_oin: {} is not a configured peer",
                    parties::shown(oin)
                ))
            })
    }
}

/// The exchange's match profiles from the sources' ones. A source's match (`MPWerkzoekendeMatch`,
/// `MPVacatureMatch`) and the exchange's (`…MatchVum`) have the same fields under the same numbers,
/// the source id and the vumID both at the last one; decoding the one's encoding as the other and
/// then setting the vumID replaces the id (`a_source_match_becomes_an_exchange_match` holds this).
fn with_vum_ids<M: Message + Default>(
    matches: Vec<(String, Vec<u8>)>,
    set_id: impl Fn(&mut M, String),
) -> Result<Vec<M>, Status> {
    matches
        .into_iter()
        .map(|(vum_id, encoded)| {
            let mut m = M::decode(encoded.as_slice())
                .map_err(|e| Status::internal(format!("match profile: {e}")))?;
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
                async |mut c, r| c.get_werkzoekende(r).await.map(Response::into_inner),
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
                async |mut c, r| c.get_vacature(r).await.map(Response::into_inner),
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
        let st = self.0.clone();
        let mut stream = req.into_inner();
        let mut sum = pb::PushSummary::default();
        let mut batches: [(Kind, Vec<(String, Value)>); 2] = [
            (Kind::Werkzoekende, Vec::new()),
            (Kind::Vacature, Vec::new()),
        ];
        let internal = |e: store::StoreError| Status::internal(e.to_string());
        async fn flush(
            st: &NodeState,
            batch: &mut (Kind, Vec<(String, Value)>),
            sum: &mut pb::PushSummary,
        ) -> Result<(), store::StoreError> {
            if batch.1.is_empty() {
                return Ok(());
            }
            for u in st.store.upsert_batch(batch.0, &batch.1, now_ms()).await? {
                match u {
                    Upserted::Inserted => sum.inserted += 1,
                    Upserted::Updated => sum.updated += 1,
                    Upserted::Unchanged => sum.unchanged += 1,
                }
            }
            batch.1.clear();
            Ok(())
        }
        let span = tracing::info_span!("push", actor = %who);
        let outcome: Result<(), Status> = tracing::Instrument::instrument(
            async {
                while let Some(msg) = stream.message().await? {
                    let index = sum.received;
                    sum.received += 1;
                    let reject = |sum: &mut pb::PushSummary, v: Vec<(String, String, String)>| {
                        sum.rejected.push(pb::PushRejection {
                            index,
                            violations: v
                                .into_iter()
                                .map(|(field, rule, description)| pb::FieldViolation {
                                    field,
                                    rule,
                                    description,
                                })
                                .collect(),
                        });
                    };
                    let (kind, mut doc, id_field) = match msg.record {
                        Some(pb::push_request::Record::Werkzoekende(w)) => {
                            if !w.consent {
                                reject(
                                    &mut sum,
                                    vec![(
                                        "/consent".into(),
                                        "push/toestemming".into(),
                                        "a jobseeker is shared only with recorded consent".into(),
                                    )],
                                );
                                continue;
                            }
                            (
                                Kind::Werkzoekende,
                                to_json(&w.werkzoekende.unwrap_or_default()),
                                vum::record_id_property(Kind::Werkzoekende),
                            )
                        }
                        Some(pb::push_request::Record::Vacature(v)) => (
                            Kind::Vacature,
                            to_json(&v),
                            vum::record_id_property(Kind::Vacature),
                        ),
                        Some(pb::push_request::Record::Delete(d)) => {
                            let kind = match d.kind.as_str() {
                                "werkzoekende" => Kind::Werkzoekende,
                                "vacature" => Kind::Vacature,
                                other => {
                                    reject(
                                        &mut sum,
                                        vec![(
                                            "/kind".into(),
                                            "push/soort".into(),
                                            format!(
                                                "{} is not werkzoekende or vacature",
                                                parties::shown(other)
                                            ),
                                        )],
                                    );
                                    continue;
                                }
                            };
                            if d.id.is_empty() {
                                reject(
                                    &mut sum,
                                    vec![(
                                        "/id".into(),
                                        "push/id-ontbreekt".into(),
                                        "the local id is empty".into(),
                                    )],
                                );
                                continue;
                            }
                            if d.id.len() > MAX_LOCAL_ID {
                                reject(
                                    &mut sum,
                                    vec![(
                                        "/id".into(),
                                        "push/id-te-lang".into(),
                                        format!(
                                            "the local id is {} bytes; at most {MAX_LOCAL_ID}",
                                            d.id.len()
                                        ),
                                    )],
                                );
                                continue;
                            }
                            // keep the order of the stream: what came before the delete lands first
                            for b in batches.iter_mut() {
                                flush(&st, b, &mut sum).await.map_err(internal)?;
                            }
                            if st
                                .store
                                .remove(kind, &st.record_id(kind, &d.id), d.withdrawn, now_ms())
                                .await
                                .map_err(internal)?
                            {
                                sum.deleted += 1;
                            }
                            continue;
                        }
                        None => {
                            reject(
                                &mut sum,
                                vec![(
                                    "".into(),
                                    "push/leeg".into(),
                                    "the message holds no record".into(),
                                )],
                            );
                            continue;
                        }
                    };
                    let local_id = doc
                        .get(id_field)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    if local_id.is_empty() {
                        reject(
                            &mut sum,
                            vec![(
                                format!("/{id_field}"),
                                "push/id-ontbreekt".into(),
                                "the local id is empty".into(),
                            )],
                        );
                        continue;
                    }
                    if local_id.len() > MAX_LOCAL_ID {
                        reject(
                            &mut sum,
                            vec![(
                                format!("/{id_field}"),
                                "push/id-te-lang".into(),
                                format!(
                                    "the local id is {} bytes; at most {MAX_LOCAL_ID}",
                                    local_id.len()
                                ),
                            )],
                        );
                        continue;
                    }
                    let id = st.record_id(kind, &local_id);
                    if let Some(o) = doc.as_object_mut() {
                        o.insert(id_field.into(), Value::String(id.clone()));
                    }
                    let report = st.validator.validate_value(kind, &doc);
                    if !report.is_valid() {
                        reject(
                            &mut sum,
                            report
                                .errors()
                                .map(|f| (f.pointer.clone(), f.rule.clone(), f.message.clone()))
                                .collect(),
                        );
                        continue;
                    }
                    if let Some((pointer, pii)) = vum::privacy::scan_document(&doc) {
                        reject(
                            &mut sum,
                            vec![(
                                pointer,
                                vum::privacy::FREE_TEXT_RULE.into(),
                                format!("free text would carry {} out of the node", pii.describe()),
                            )],
                        );
                        continue;
                    }
                    let b = &mut batches[usize::from(kind == Kind::Vacature)];
                    b.1.push((id, doc));
                    if b.1.len() >= PUSH_BATCH {
                        flush(&st, b, &mut sum).await.map_err(internal)?;
                    }
                }
                Ok(())
            },
            span,
        )
        .await;
        // what arrived before a broken stream is kept
        for b in batches.iter_mut() {
            flush(&st, b, &mut sum).await.map_err(internal)?;
        }
        let own = Parties {
            cert_oin: who,
            from: st.config.oin.clone(),
            to: st.config.oin.clone(),
            suwi: st.config.suwi,
            transaction_id: uuid::Uuid::now_v7().to_string(),
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
        outcome?;
        Ok(Response::new(sum))
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
            .map_err(|e| Status::internal(e.to_string()))?;
        let items = rows.into_iter().map(move |r| {
            let (id, seq, doc) = (r.vum_id, r.seq, r.doc);
            let vacature = serde_json::from_str::<vac::Vacature>(&doc)
                .map_err(|e| Status::internal(format!("mirrored vacature {id}: {e}")))?;
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
