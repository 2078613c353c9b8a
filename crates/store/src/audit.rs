//! The audit log: append-only and hash-chained (hash = SHA-256 of the previous hash and every
//! field), written directly or through one group-commit writer task, and its verification.
use crate::{AuditEntry, Backend, ChainBreak, Store, StoreError};
use sha2::{Digest, Sha256};
use sqlx::Row;
use vum::Kind;

/// An entry to append: the entry, its time, and the detail its caller is given, if any (read in
/// the same transaction, so the entry records exactly what was released).
pub(crate) struct Pending {
    pub(crate) entry: AuditEntry,
    pub(crate) at: i64,
    pub(crate) read: Option<(Kind, String)>,
    /// a result set written in the same transaction (a source's record of what a selection
    /// returned to its caller): (vraag id, kind, packed ids)
    pub(crate) set: Option<(String, Kind, Vec<u8>)>,
}

/// A detail read in the writer's transaction: the record's protobuf encoding, or why a record
/// stored before the protobuf column could not be encoded (that caller's error alone).
pub(crate) type Detail = Result<Vec<u8>, String>;

/// What an append gives back: the entry's sequence number and, for a detail read, the record
/// (`None`: not shared).
pub(crate) type Appended = (i64, Option<Detail>);

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
    /// On SQLite the writer is a thread with its own connection ([`crate::audit_sqlite`]); on
    /// PostgreSQL (or if that thread cannot be started) a task on this runtime.
    pub fn with_group_commit(mut self) -> Store {
        if let Some(path) = self.sqlite_file() {
            let (tx, rx) = tokio::sync::mpsc::channel::<AuditJob>(4096);
            let writer = crate::audit_sqlite::Writer {
                path: path.to_string(),
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
        let set =
            (!ids.is_empty()).then(|| (vraag_id.to_string(), kind, crate::exchange::pack_ids(ids)));
        Ok(self.append(e.clone(), now, None, set).await?.0)
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
            .append(e, now, Some((kind, vum_id.to_string())), None)
            .await?
            .1
        {
            None => Ok(None),
            Some(Ok(pb)) => Ok(Some(pb)),
            Some(Err(why)) => Err(StoreError::Corrupt(
                vum_id.into(),
                serde::de::Error::custom(why),
            )),
        }
    }

    /// One entry, through the group-commit writer when there is one.
    async fn append(
        &self,
        entry: AuditEntry,
        at: i64,
        read: Option<(Kind, String)>,
        set: Option<(String, Kind, Vec<u8>)>,
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

    /// Append several entries in one transaction on `conn`, chained in order; the details they
    /// release are read first, in the same transaction, and each entry's `result_count` set from it.
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
        let mut details = self.read_details(&mut tx, entries).await?;
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
                out.push((seq, details.next().flatten()));
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
        let sets: Vec<(&str, Kind, i64, &[u8])> = entries
            .iter()
            .filter_map(|p| {
                let (vraag_id, kind, pack) = p.set.as_ref()?;
                Some((vraag_id.as_str(), *kind, p.at, &pack[..]))
            })
            .collect();
        self.write_result_sets(&mut tx, &sets).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// The details `entries` release, read in `tx` (one query per kind asked and 200 ids), in the
    /// entries' order (`None` where an entry reads nothing or its record is not shared); each
    /// reading entry's `result_count` is set to whether its record was found.
    async fn read_details(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        entries: &mut [Pending],
    ) -> Result<std::vec::IntoIter<Option<Detail>>, StoreError> {
        use std::collections::HashMap;
        let mut out: Vec<Option<Detail>> = vec![None; entries.len()];
        // the kinds asked, each with its ids → the entries asking them and the oldest refresh time
        // each accepts
        type Askers = Vec<(usize, i64)>;
        let mut asked: HashMap<Kind, HashMap<&str, Askers>> = HashMap::new();
        for (i, p) in entries.iter().enumerate() {
            if let Some((kind, id)) = &p.read {
                asked
                    .entry(*kind)
                    .or_default()
                    .entry(id)
                    .or_default()
                    .push((i, self.live_since(p.at)));
            }
        }
        for (kind, asked) in asked {
            let ids: Vec<&str> = asked.keys().copied().collect();
            let since = asked.values().flatten().map(|(_, s)| *s).min().unwrap_or(0);
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
                    let Some(pb) = detail_of(kind, &id, pb, doc) else {
                        continue;
                    };
                    for (i, since) in asked.get(id.as_str()).into_iter().flatten() {
                        if refreshed >= *since {
                            out[*i] = Some(pb.clone());
                        }
                    }
                }
            }
        }
        for (p, found) in entries.iter_mut().zip(&out) {
            if p.read.is_some() {
                p.entry.result_count = i64::from(matches!(found, Some(Ok(_))));
            }
        }
        Ok(out.into_iter())
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
