//! The audit log: append-only and hash-chained (hash = SHA-256 of the previous hash and every
//! field), written directly or through one group-commit writer task, and its verification.
use crate::{AuditEntry, Backend, ChainBreak, Store, StoreError};
use sha2::{Digest, Sha256};
use sqlx::Row;
use vum::Kind;

/// An entry to append: the entry, its time, and what its caller is given, if anything (read in
/// the same transaction, so the entry records exactly what was released).
pub(crate) struct Pending {
    pub(crate) entry: AuditEntry,
    pub(crate) at: i64,
    pub(crate) read: Option<Read>,
    /// a result set written in the same transaction (a source's record of what a selection
    /// returned to its caller): (vraag id, kind, its ids)
    pub(crate) set: Option<(String, Kind, SetIds)>,
}

/// What an entry's caller reads in the entry's transaction.
pub(crate) enum Read {
    /// a detail: one record
    One(Kind, String),
    /// a selection's matches: the records of these ids that are live and shared, in this order
    Many(Kind, Vec<String>),
}

/// The ids of a result set to write.
pub(crate) enum SetIds {
    Packed(Vec<u8>),
    /// the ids of the records a selection may return: only those its read found are kept
    OfFound(Vec<crate::exchange::ResultId>),
}

/// A record read in the writer's transaction: its protobuf encoding, or why a record stored
/// before the protobuf column could not be encoded (that caller's error alone).
pub(crate) type Detail = Result<Vec<u8>, String>;

/// What an entry's read found.
pub(crate) enum Released {
    Nothing,
    /// the detail (`None`: not shared)
    One(Option<Detail>),
    /// the records found, in the order asked
    Many(Vec<(String, Detail)>),
}

/// What an append gives back: the entry's sequence number and what its read found.
pub(crate) type Appended = (i64, Released);

impl Pending {
    /// Settle the entry by what its read found: `result_count` is the number of records
    /// released, and a result set of the found records keeps only those (none when empty). A
    /// selection with a record that cannot be encoded fails as a whole: it releases nothing.
    pub(crate) fn found(&mut self, r: &Released) {
        let failed = matches!(r, Released::Many(rows) if rows.iter().any(|(_, d)| d.is_err()));
        match r {
            Released::Nothing => {}
            Released::One(d) => self.entry.result_count = i64::from(matches!(d, Some(Ok(_)))),
            Released::Many(rows) => {
                self.entry.result_count = if failed { 0 } else { rows.len() as i64 }
            }
        }
        if let Some((_, _, SetIds::OfFound(ids))) = &mut self.set {
            let found: std::collections::HashSet<&str> = match r {
                Released::Many(rows) if !failed => rows.iter().map(|(id, _)| id.as_str()).collect(),
                _ => Default::default(),
            };
            ids.retain(|i| found.contains(i.source_id.as_str()));
            if ids.is_empty() {
                self.set = None;
            } else if let Some((_, _, set)) = &mut self.set {
                if let SetIds::OfFound(ids) = set {
                    *set = SetIds::Packed(crate::exchange::pack_ids(ids));
                }
            }
        }
    }

    /// The result set to write once [`Pending::found`] settled it: (vraag id, kind, created ms,
    /// packed ids).
    pub(crate) fn set_to_write(&self) -> Option<(&str, Kind, i64, &[u8])> {
        match &self.set {
            Some((vraag_id, kind, SetIds::Packed(pack))) => {
                Some((vraag_id.as_str(), *kind, self.at, &pack[..]))
            }
            _ => None,
        }
    }
}

/// The chain's head: the last entry's seq and hash.
pub(crate) const AUDIT_HEAD: &str = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1";
/// Append entries: this, then one [`AUDIT_ROW`] per entry, comma-separated.
pub(crate) const AUDIT_INSERT: &str = "INSERT INTO audit (seq, at_ms, actor, on_behalf_of, action, purpose, transaction_id, subject, result_count, prev_hash, hash) VALUES ";
pub(crate) const AUDIT_ROW: &str = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
/// The columns of a live, shared record that a detail releases, read by kind, refreshed since,
/// and vumID (one with `= ?`, or a list with `IN (...)` appended).
pub(crate) const DETAIL_READ: &str = "SELECT vum_id, refreshed_ms, pb, CASE WHEN pb IS NULL THEN doc END AS doc FROM records WHERE kind = ? AND deleted = 0 AND consent = 1 AND refreshed_ms >= ? AND vum_id ";

/// A detail from its stored columns: `None` when there is nothing to release; a row that cannot
/// be encoded fails its own callers, not the whole group.
pub(crate) fn detail_of(
    kind: Kind,
    id: &str,
    pb: Option<Vec<u8>>,
    doc: Option<String>,
) -> Option<Detail> {
    match crate::records::pb_of_row(kind, id, pb, doc) {
        Ok(Some(b)) => Some(Ok(b)),
        Ok(None) => None,
        Err(StoreError::Corrupt(_, why)) => Some(Err(why.to_string())),
        Err(other) => Some(Err(other.to_string())),
    }
}

/// A selection's record checked to decode as its kind's message. A selection with a record that
/// does not must release nothing ([`Pending::found`]), so this is known before its entry is
/// committed, not when its matches are made after.
pub(crate) fn decoded(kind: Kind, id: &str, d: Detail) -> Detail {
    use prost::Message;
    let pb = d?;
    let checked = match kind {
        Kind::Vacature => vum_proto::vacatures::Vacature::decode(&pb[..]).map(drop),
        _ => vum_proto::werkzoekenden::Werkzoekende::decode(&pb[..]).map(drop),
    };
    match checked {
        Ok(()) => Ok(pb),
        Err(e) => Err(format!("stored {} {id} protobuf: {e}", kind.name())),
    }
}

/// One entry for the group-commit writer, and where to answer (or the commit's error as text).
pub(crate) type AuditJob = (
    Pending,
    tokio::sync::oneshot::Sender<Result<Appended, String>>,
);

impl Store {
    /// Route audit appends through one writer task that commits whatever has queued up in a single
    /// transaction (group commit). Each caller still waits until its own entry is committed, so
    /// nothing is answered before it is logged; under load many entries share one commit.
    ///
    /// On SQLite the writer is a thread with its own connection (module `audit_sqlite`); on
    /// PostgreSQL (or if that thread cannot be started) a task on this runtime.
    pub fn with_group_commit(mut self) -> Store {
        if let Some(path) = self.sqlite_file() {
            let (tx, rx) = tokio::sync::mpsc::channel::<AuditJob>(4096);
            let writer = crate::audit_sqlite::Writer {
                path,
                live_ms: self.live_span_ms(),
                last_purge: self.last_purge.clone(),
            };
            match writer.spawn(rx) {
                Ok(()) => {
                    self.audit_tx = Some(tx);
                    return self;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "audit writer thread not started; writing on the runtime")
                }
            }
        }
        let (tx, mut rx) = tokio::sync::mpsc::channel::<AuditJob>(4096);
        let writer = self.clone();
        tokio::spawn(async move {
            let mut conn: Option<sqlx::AnyConnection> = None;
            while let Some(first) = rx.recv().await {
                let mut jobs = vec![first];
                while jobs.len() < 512 {
                    match rx.try_recv() {
                        Ok(j) => jobs.push(j),
                        Err(_) => break,
                    }
                }
                let (mut entries, replies): (Vec<Pending>, Vec<_>) = jobs.into_iter().unzip();
                // the writer keeps its own connection (no pool hand-over and ping per commit)
                let result = match conn.as_mut() {
                    Some(c) => writer.audit_batch_on(c, &mut entries).await,
                    None => match writer.pool.acquire().await {
                        Ok(c) => {
                            let c = conn.insert(c.detach());
                            writer.audit_batch_on(c, &mut entries).await
                        }
                        Err(e) => Err(e.into()),
                    },
                };
                if result.is_err() {
                    conn = None;
                }
                match result {
                    Ok(appended) => {
                        for (reply, a) in replies.into_iter().zip(appended) {
                            let _ = reply.send(Ok(a));
                        }
                    }
                    Err(e) => {
                        let msg = e.to_string();
                        for reply in replies {
                            let _ = reply.send(Err(msg.clone()));
                        }
                    }
                }
            }
        });
        self.audit_tx = Some(tx);
        self
    }

    /// Append to the audit log. The chain: hash = SHA-256(prev_hash ‖ every field), so changing,
    /// removing or reordering an entry breaks every hash after it.
    pub async fn audit(&self, e: &AuditEntry, now: i64) -> Result<i64, StoreError> {
        Ok(self.append(e.clone(), now, None, None).await?.0)
    }

    /// Append `e` and remember a result set (as [`Store::remember_result_set`]) in the same
    /// transaction: with group commit, a selection's entry and its result set share the commit of
    /// whatever else is queued, instead of a transaction of their own each.
    pub async fn audit_with_result_set(
        &self,
        e: &AuditEntry,
        now: i64,
        vraag_id: &str,
        kind: Kind,
        ids: &[crate::exchange::ResultId],
    ) -> Result<i64, StoreError> {
        let set = (!ids.is_empty()).then(|| {
            (
                vraag_id.to_string(),
                kind,
                SetIds::Packed(crate::exchange::pack_ids(ids)),
            )
        });
        Ok(self.append(e.clone(), now, None, set).await?.0)
    }

    /// The live, shared, unexpired records of `ids` (as [`Store::get_many_pb`], in the order of
    /// `ids`, those not found left out), read in the transaction that appends `e` to the audit log,
    /// with `e.result_count` set to the number found. When `set` is given (vraag id, the result
    /// ids of the records `ids` name), the result set of the records found is written in the
    /// same transaction (as [`Store::audit_with_result_set`]). Nothing is returned before the
    /// entry is committed: a selection costs one trip to the database for its records, its entry
    /// and its set, shared with whatever else the writer has queued.
    pub async fn get_many_pb_audited(
        &self,
        kind: Kind,
        ids: &[String],
        e: AuditEntry,
        now: i64,
        set: Option<(String, Vec<crate::exchange::ResultId>)>,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let set = set.map(|(vraag_id, ids)| (vraag_id, kind, SetIds::OfFound(ids)));
        let read = Read::Many(kind, ids.to_vec());
        let Released::Many(rows) = self.append(e, now, Some(read), set).await?.1 else {
            return Ok(Vec::new());
        };
        rows.into_iter()
            .map(|(id, d)| match d {
                Ok(pb) => Ok((id, pb)),
                Err(why) => Err(StoreError::Corrupt(id, serde::de::Error::custom(why))),
            })
            .collect()
    }

    /// A live, shared, unexpired record's protobuf encoding (as [`Store::get_pb`]), read in the
    /// transaction that appends `e` to the audit log, with `e.result_count` set to 1 when found and
    /// 0 when not. Nothing is returned before its entry is committed. With group commit the read
    /// shares the writer's transaction with the other entries queued, so a detail costs one trip
    /// to the database instead of a read and then an append.
    pub async fn get_pb_audited(
        &self,
        kind: Kind,
        vum_id: &str,
        e: AuditEntry,
        now: i64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        match self
            .append(e, now, Some(Read::One(kind, vum_id.to_string())), None)
            .await?
            .1
        {
            Released::One(Some(Ok(pb))) => Ok(Some(pb)),
            Released::One(Some(Err(why))) => Err(StoreError::Corrupt(
                vum_id.into(),
                serde::de::Error::custom(why),
            )),
            _ => Ok(None),
        }
    }

    /// One entry, through the group-commit writer when there is one.
    async fn append(
        &self,
        entry: AuditEntry,
        at: i64,
        read: Option<Read>,
        set: Option<(String, Kind, SetIds)>,
    ) -> Result<Appended, StoreError> {
        let job = Pending {
            entry,
            at,
            read,
            set,
        };
        let job = match &self.audit_tx {
            Some(tx) => {
                let (reply, wait) = tokio::sync::oneshot::channel();
                match tx.send((job, reply)).await {
                    Ok(()) => {
                        return match wait.await {
                            Ok(Ok(a)) => Ok(a),
                            Ok(Err(msg)) => Err(StoreError::Audit(msg)),
                            Err(_) => Err(StoreError::AuditWriterGone),
                        }
                    }
                    // the writer has stopped: append directly
                    Err(tokio::sync::mpsc::error::SendError((job, _))) => job,
                }
            }
            None => job,
        };
        let mut conn = self.pool.acquire().await?;
        let mut one = [job];
        let mut out = self.audit_batch_on(&mut conn, &mut one).await?;
        out.pop().ok_or(StoreError::AuditWriterGone)
    }

    /// Append several entries at once: with group commit they share a commit instead of waiting
    /// for one each.
    pub async fn audit_all(&self, entries: &[AuditEntry], now: i64) -> Result<(), StoreError> {
        let Some(tx) = &self.audit_tx else {
            let mut batch: Vec<Pending> = entries
                .iter()
                .map(|e| Pending {
                    entry: e.clone(),
                    at: now,
                    read: None,
                    set: None,
                })
                .collect();
            let mut conn = self.pool.acquire().await?;
            return self.audit_batch_on(&mut conn, &mut batch).await.map(|_| ());
        };
        let mut waits = Vec::with_capacity(entries.len());
        for e in entries {
            let (reply, wait) = tokio::sync::oneshot::channel();
            let job = Pending {
                entry: e.clone(),
                at: now,
                read: None,
                set: None,
            };
            tx.send((job, reply))
                .await
                .map_err(|_| StoreError::AuditWriterGone)?;
            waits.push(wait);
        }
        for w in waits {
            match w.await {
                Ok(Ok(_)) => {}
                Ok(Err(msg)) => return Err(StoreError::Audit(msg)),
                Err(_) => return Err(StoreError::AuditWriterGone),
            }
        }
        Ok(())
    }

    /// Append several entries in one transaction on `conn`, chained in order; the records they
    /// release are read first, in the same transaction, and each entry settled by what was found
    /// ([`Pending::found`]).
    async fn audit_batch_on(
        &self,
        conn: &mut sqlx::AnyConnection,
        entries: &mut [Pending],
    ) -> Result<Vec<Appended>, StoreError> {
        use sqlx::Connection;
        let mut tx = if self.backend == Backend::Postgres {
            let mut tx = conn.begin().await?;
            sqlx::query("LOCK TABLE audit IN EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await?;
            tx
        } else {
            // SQLite's write lock from the start, before reading the chain's head
            conn.begin_with("BEGIN IMMEDIATE").await?
        };
        let last = sqlx::query(AUDIT_HEAD).fetch_optional(&mut *tx).await?;
        let (mut seq, mut prev) = match last {
            Some(r) => (r.try_get::<i64, _>(0)?, r.try_get::<String, _>(1)?),
            None => (0, "0".repeat(64)),
        };
        let mut released = self.read_released(&mut tx, entries).await?.into_iter();
        // one multi-row INSERT per 100 entries: a statement per entry costs a round trip each
        let mut out = Vec::with_capacity(entries.len());
        let batches = self.chunked(entries, 100, AUDIT_ROW, |rows| {
            format!("{AUDIT_INSERT}{rows}")
        });
        for (chunk, q) in batches {
            let mut query = sqlx::query(&q).persistent(chunk.len() == 1);
            let mut hashes = Vec::with_capacity(chunk.len());
            for Pending {
                entry: e, at: now, ..
            } in chunk
            {
                seq += 1;
                let hash = audit_hash(seq, *now, e, &prev);
                hashes.push((
                    seq,
                    *now,
                    e,
                    std::mem::replace(&mut prev, hash.clone()),
                    hash,
                ));
                out.push((seq, released.next().unwrap_or(Released::Nothing)));
            }
            for (seq, now, e, prev_hash, hash) in hashes {
                query = query
                    .bind(seq)
                    .bind(now)
                    .bind(e.actor.as_str())
                    .bind(e.on_behalf_of.as_str())
                    .bind(e.action.as_str())
                    .bind(e.purpose.as_str())
                    .bind(e.transaction_id.as_str())
                    .bind(e.subject.as_str())
                    .bind(e.result_count)
                    .bind(prev_hash)
                    .bind(hash);
            }
            query.execute(&mut *tx).await?;
        }
        let sets: Vec<(&str, Kind, i64, &[u8])> =
            entries.iter().filter_map(Pending::set_to_write).collect();
        self.write_result_sets(&mut tx, &sets).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// What `entries` read, in `tx` (one query per kind asked and 200 ids), in the entries'
    /// order; each entry is settled by what it found ([`Pending::found`]).
    async fn read_released(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        entries: &mut [Pending],
    ) -> Result<Vec<Released>, StoreError> {
        use std::collections::{HashMap, HashSet};
        // the ids asked per kind
        let mut asked: HashMap<Kind, HashSet<&str>> = HashMap::new();
        for p in entries.iter() {
            match &p.read {
                Some(Read::One(kind, id)) => {
                    asked.entry(*kind).or_default().insert(id);
                }
                Some(Read::Many(kind, ids)) => {
                    asked
                        .entry(*kind)
                        .or_default()
                        .extend(ids.iter().map(String::as_str));
                }
                None => {}
            }
        }
        // what was found: (kind, id) → (refreshed, the record); each entry checks its own age
        let mut found: HashMap<(Kind, String), (i64, Detail)> = HashMap::new();
        let since = entries
            .iter()
            .filter(|p| p.read.is_some())
            .map(|p| self.live_since(p.at))
            .min()
            .unwrap_or(0);
        for (kind, asked) in asked {
            let ids: Vec<&str> = asked.into_iter().collect();
            let lookups =
                self.chunked(&ids, 200, "?", |marks| format!("{DETAIL_READ}IN ({marks})"));
            for (chunk, q) in lookups {
                let mut query = sqlx::query_as(&q)
                    .persistent(chunk.len() == 1)
                    .bind(kind.name())
                    .bind(since);
                for id in chunk {
                    query = query.bind(*id);
                }
                #[allow(clippy::type_complexity)]
                let rows: Vec<(String, i64, Option<Vec<u8>>, Option<String>)> =
                    query.fetch_all(&mut **tx).await?;
                for (id, refreshed, pb, doc) in rows {
                    if let Some(d) = detail_of(kind, &id, pb, doc) {
                        found.insert((kind, id), (refreshed, d));
                    }
                }
            }
        }
        let mut out = Vec::with_capacity(entries.len());
        for p in entries.iter_mut() {
            let since = self.live_since(p.at);
            let get = |kind: Kind, id: &str| {
                found
                    .get(&(kind, id.to_string()))
                    .filter(|(refreshed, _)| *refreshed >= since)
                    .map(|(_, d)| d.clone())
            };
            let r = match &p.read {
                None => Released::Nothing,
                Some(Read::One(kind, id)) => Released::One(get(*kind, id)),
                Some(Read::Many(kind, ids)) => Released::Many(
                    ids.iter()
                        .filter_map(|id| {
                            get(*kind, id).map(|d| (id.clone(), decoded(*kind, id, d)))
                        })
                        .collect(),
                ),
            };
            p.found(&r);
            out.push(r);
        }
        Ok(out)
    }

    /// Check the audit log's hash chain from the first entry to the last: the number of entries,
    /// or where the chain breaks.
    pub async fn audit_verify(&self) -> Result<Result<i64, ChainBreak>, StoreError> {
        let rows = sqlx::query("SELECT seq, at_ms, actor, on_behalf_of, action, purpose, transaction_id, subject, result_count, prev_hash, hash FROM audit ORDER BY seq")
            .fetch_all(&self.pool)
            .await?;
        let mut prev = "0".repeat(64);
        for (expect_seq, r) in (1i64..).zip(&rows) {
            let seq: i64 = r.try_get(0)?;
            let e = AuditEntry {
                actor: r.try_get(2)?,
                on_behalf_of: r.try_get(3)?,
                action: r.try_get(4)?,
                purpose: r.try_get(5)?,
                transaction_id: r.try_get(6)?,
                subject: r.try_get(7)?,
                result_count: r.try_get(8)?,
            };
            let (stored_prev, stored_hash): (String, String) = (r.try_get(9)?, r.try_get(10)?);
            if seq != expect_seq {
                return Ok(Err(ChainBreak::Missing {
                    expected: expect_seq,
                    next: seq,
                }));
            }
            if stored_prev != prev {
                return Ok(Err(ChainBreak::Unlinked { seq }));
            }
            if audit_hash(seq, r.try_get(1)?, &e, &prev) != stored_hash {
                return Ok(Err(ChainBreak::Altered { seq }));
            }
            prev = stored_hash;
        }
        Ok(Ok(rows.len() as i64))
    }
}

/// An entry's chain hash: SHA-256 over the previous hash and every field, each prefixed with its
/// length (so no two different entries give the same input).
pub(crate) fn audit_hash(seq: i64, at_ms: i64, e: &AuditEntry, prev: &str) -> String {
    let mut h = Sha256::new();
    for part in [
        prev,
        &seq.to_string(),
        &at_ms.to_string(),
        &e.actor,
        &e.on_behalf_of,
        &e.action,
        &e.purpose,
        &e.transaction_id,
        &e.subject,
        &e.result_count.to_string(),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}
