//! A source's two dialogues over the store: selection (match profiles, typed so they cannot carry
//! personal data) and detail by id, each written to the audit log.
use crate::engine::Engine;
use crate::{AuditEntry, Store, StoreError};
use serde_json::Value;
use vum::query::Selectie;
use vum::Kind;
use vum_proto::{vacatures as vac, werkzoekenden as wz};

/// Who asks, for whom, why, under which transaction id.
#[derive(Debug, Clone)]
pub struct Caller {
    /// who asks (an OIN or a user)
    pub actor: String,
    /// on whose behalf
    pub on_behalf_of: String,
    /// the stated purpose
    pub purpose: String,
    /// the caller's transaction id
    pub transaction_id: String,
}

/// A source's selection response, typed: the match messages have no field for personal data.
#[derive(Debug, Clone)]
pub enum MatchesResponse {
    /// matches of werkzoekenden
    Werkzoekenden(wz::WerkzoekendeProfielMatchesBronResponse),
    /// matches of vacatures
    Vacatures(vac::VacaturesMatchesBronResponse),
}

impl MatchesResponse {
    /// The response as JSON (`null` if it cannot be serialised).
    pub fn to_json(&self) -> Value {
        match self {
            MatchesResponse::Werkzoekenden(r) => serde_json::to_value(r),
            MatchesResponse::Vacatures(r) => serde_json::to_value(r),
        }
        .unwrap_or(Value::Null)
    }
    /// The number of matches.
    pub fn len(&self) -> usize {
        match self {
            MatchesResponse::Werkzoekenden(r) => r.matches.len(),
            MatchesResponse::Vacatures(r) => r.matches.len(),
        }
    }
    /// There are no matches.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The matched records' ids, in the response's order.
    pub fn ids(&self) -> Vec<&str> {
        match self {
            MatchesResponse::Werkzoekenden(r) => r
                .matches
                .iter()
                .map(|m| m.id_werkzoekende.as_str())
                .collect(),
            MatchesResponse::Vacatures(r) => {
                r.matches.iter().map(|m| m.id_vacature.as_str()).collect()
            }
        }
    }
}

/// What answering a selection or detail request can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// the store failed
    #[error(transparent)]
    Store(#[from] StoreError),
    /// the selection cannot be answered (the engine's reason)
    #[error("selection: {0}")]
    Query(String),
    /// a stored document (its VUM id, then the error) does not convert to the match form
    #[error("stored document {0} does not fit the match form: {1}")]
    MatchForm(String, serde_json::Error),
}

/// Answer a selection from the engine and the store, and audit it.
pub async fn select(
    store: &Store,
    engine: &Engine,
    kind: Kind,
    s: &Selectie,
    limit: usize,
    caller: &Caller,
    now: i64,
) -> Result<MatchesResponse, ServiceError> {
    select_remembering(store, engine, kind, s, limit, caller, now, |_| None).await
}

/// What a source remembers of a selection it answered: the result set's id and, per selected
/// record, the key its caller's detail request will be checked by ([`Store::use_detail_since`]);
/// the store keeps the keys of the records it found and returned.
pub type Served = (String, Vec<crate::exchange::ResultId>);

/// As [`select`], and remember the result set `served` makes of the selected records' ids: the
/// records, the audit entry and the set of those found are read and written in one transaction
/// (one commit, shared with whatever else the audit writer has queued).
#[allow(clippy::too_many_arguments)]
pub async fn select_remembering(
    store: &Store,
    engine: &Engine,
    kind: Kind,
    s: &Selectie,
    limit: usize,
    caller: &Caller,
    now: i64,
    served: impl FnOnce(&[&str]) -> Option<Served>,
) -> Result<MatchesResponse, ServiceError> {
    let sel = engine
        .select(s, now, store.expiry_days, limit)
        .map_err(ServiceError::Query)?;
    let entry = AuditEntry {
        actor: caller.actor.clone(),
        on_behalf_of: caller.on_behalf_of.clone(),
        action: "select".into(),
        purpose: caller.purpose.clone(),
        transaction_id: caller.transaction_id.clone(),
        subject: kind.name().into(),
        // set by the store: the records found of those selected
        result_count: 0,
    };
    let selected: Vec<&str> = sel.ids.iter().map(String::as_str).collect();
    let set = served(&selected);
    let stored = store
        .get_many_pb_audited(kind, &sel.ids, entry, now, set)
        .await?;
    // the matches are made from the stored protobuf messages, typed (`vum_proto`'s match
    // conversions): no JSON is derived for a selection
    let resp = match kind {
        Kind::Vacature => MatchesResponse::Vacatures(vac::VacaturesMatchesBronResponse {
            maximum_aantal_resultaten_bereikt: Some(sel.more),
            matches: stored
                .iter()
                .map(|(id, pb)| decode::<vac::Vacature>(kind, id, pb).map(Into::into))
                .collect::<Result<_, _>>()?,
        }),
        _ => MatchesResponse::Werkzoekenden(wz::WerkzoekendeProfielMatchesBronResponse {
            maximum_aantal_resultaten_bereikt: Some(sel.more),
            matches: stored
                .iter()
                .map(|(id, pb)| decode::<wz::Werkzoekende>(kind, id, pb).map(Into::into))
                .collect::<Result<_, _>>()?,
        }),
    };
    tracing::info!(kind = %kind, matched = sel.matched, returned = resp.len(), transaction_id = %caller.transaction_id, "selection answered");
    Ok(resp)
}

/// A stored record's protobuf message (`id` names it in the error).
fn decode<M: prost::Message + Default>(kind: Kind, id: &str, pb: &[u8]) -> Result<M, ServiceError> {
    M::decode(pb).map_err(|e| {
        ServiceError::Store(StoreError::Corrupt(
            id.into(),
            serde::de::Error::custom(format!("stored {} protobuf: {e}", kind.name())),
        ))
    })
}

/// Answer a detail request, and audit it (the subject is the id asked for, found or not).
pub async fn detail(
    store: &Store,
    kind: Kind,
    vum_id: &str,
    caller: &Caller,
    now: i64,
) -> Result<Option<Value>, ServiceError> {
    match detail_text(store, kind, vum_id, caller, now).await? {
        Some(t) => Ok(Some(
            serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(vum_id.into(), e))?,
        )),
        None => Ok(None),
    }
}

/// [`detail`] as the stored JSON text, for callers that parse it into their own type.
pub async fn detail_text(
    store: &Store,
    kind: Kind,
    vum_id: &str,
    caller: &Caller,
    now: i64,
) -> Result<Option<String>, ServiceError> {
    let doc = store.get_text(kind, vum_id, now).await?;
    audit_detail(store, kind, vum_id, caller, doc.is_some(), now).await?;
    Ok(doc)
}

/// [`detail`] as the protobuf encoding of the document (`vum.v3` message of the kind).
pub async fn detail_pb(
    store: &Store,
    kind: Kind,
    vum_id: &str,
    caller: &Caller,
    now: i64,
) -> Result<Option<Vec<u8>>, ServiceError> {
    // read in the audit entry's own transaction: one trip to the store, and the entry says
    // exactly whether the record was released
    Ok(store
        .get_pb_audited(kind, vum_id, detail_entry(kind, vum_id, caller, false), now)
        .await?)
}

/// The audit entry of a detail request: the subject is the id asked for, found or not.
async fn audit_detail(
    store: &Store,
    kind: Kind,
    vum_id: &str,
    caller: &Caller,
    found: bool,
    now: i64,
) -> Result<(), ServiceError> {
    store
        .audit(&detail_entry(kind, vum_id, caller, found), now)
        .await?;
    Ok(())
}

/// The audit entry of a detail request: the subject is the id asked for, found or not.
fn detail_entry(kind: Kind, vum_id: &str, caller: &Caller, found: bool) -> AuditEntry {
    AuditEntry {
        actor: caller.actor.clone(),
        on_behalf_of: caller.on_behalf_of.clone(),
        action: "get".into(),
        purpose: caller.purpose.clone(),
        transaction_id: caller.transaction_id.clone(),
        subject: format!("{}:{vum_id}", kind.name()),
        result_count: i64::from(found),
    }
}
