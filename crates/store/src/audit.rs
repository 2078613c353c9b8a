//! The audit log: append-only and hash-chained (hash = SHA-256 of the previous hash and every
//! field), written directly or through one group-commit writer task, and its verification.
use crate::{AuditEntry, Backend, ChainBreak, Store, StoreError};
use sha2::{Digest, Sha256};
use sqlx::Row;

/// One entry for the group-commit writer: the entry, its time, and where to answer (its sequence
/// number, or the commit's error as text).
pub(crate) type AuditJob = (
    AuditEntry,
    i64,
    tokio::sync::oneshot::Sender<Result<i64, String>>,
);

impl Store {
    /// Route audit appends through one writer task that commits whatever has queued up in a single
    /// transaction (group commit). Each caller still waits until its own entry is committed, so
    /// nothing is answered before it is logged; under load many entries share one commit.
    pub fn with_group_commit(mut self) -> Store {
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
                let entries: Vec<(AuditEntry, i64)> =
                    jobs.iter().map(|(e, at, _)| (e.clone(), *at)).collect();
                // the writer keeps its own connection (no pool hand-over and ping per commit)
                let result = match conn.as_mut() {
                    Some(c) => writer.audit_batch_on(c, &entries).await,
                    None => match writer.pool.acquire().await {
                        Ok(c) => {
                            let c = conn.insert(c.detach());
                            writer.audit_batch_on(c, &entries).await
                        }
                        Err(e) => Err(e.into()),
                    },
                };
                if result.is_err() {
                    conn = None;
                }
                match result {
                    Ok(seqs) => {
                        for ((_, _, reply), seq) in jobs.into_iter().zip(seqs) {
                            let _ = reply.send(Ok(seq));
                        }
                    }
                    Err(e) => {
                        let msg = e.to_string();
                        for (_, _, reply) in jobs {
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
        if let Some(tx) = &self.audit_tx {
            let (reply, wait) = tokio::sync::oneshot::channel();
            if tx.send((e.clone(), now, reply)).await.is_ok() {
                return match wait.await {
                    Ok(Ok(seq)) => Ok(seq),
                    Ok(Err(msg)) => Err(StoreError::Audit(msg)),
                    Err(_) => Err(StoreError::AuditWriterGone),
                };
            }
        }
        Ok(self.audit_batch(&[(e.clone(), now)]).await?[0])
    }

    /// Append several entries at once: with group commit they share a commit instead of waiting
    /// for one each.
    pub async fn audit_all(&self, entries: &[AuditEntry], now: i64) -> Result<(), StoreError> {
        let Some(tx) = &self.audit_tx else {
            let batch: Vec<(AuditEntry, i64)> = entries.iter().map(|e| (e.clone(), now)).collect();
            return self.audit_batch(&batch).await.map(|_| ());
        };
        let mut waits = Vec::with_capacity(entries.len());
        for e in entries {
            let (reply, wait) = tokio::sync::oneshot::channel();
            tx.send((e.clone(), now, reply))
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

    /// Append several entries in one transaction, chained in order.
    async fn audit_batch(&self, entries: &[(AuditEntry, i64)]) -> Result<Vec<i64>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        self.audit_batch_on(&mut conn, entries).await
    }

    /// [`Store::audit_batch`] on a given connection.
    async fn audit_batch_on(
        &self,
        conn: &mut sqlx::AnyConnection,
        entries: &[(AuditEntry, i64)],
    ) -> Result<Vec<i64>, StoreError> {
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
        let last = sqlx::query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
        let (mut seq, mut prev) = match last {
            Some(r) => (r.try_get::<i64, _>(0)?, r.try_get::<String, _>(1)?),
            None => (0, "0".repeat(64)),
        };
        // one multi-row INSERT per 100 entries: a statement per entry costs a round trip each
        let mut out = Vec::with_capacity(entries.len());
        let batches = self.chunked(entries, 100, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", |rows| {
            format!("INSERT INTO audit (seq, at_ms, actor, on_behalf_of, action, purpose, transaction_id, subject, result_count, prev_hash, hash) VALUES {rows}")
        });
        for (chunk, q) in batches {
            let mut query = sqlx::query(&q).persistent(chunk.len() == 1);
            let mut hashes = Vec::with_capacity(chunk.len());
            for (e, now) in chunk {
                seq += 1;
                let hash = audit_hash(seq, *now, e, &prev);
                hashes.push((
                    seq,
                    *now,
                    e,
                    std::mem::replace(&mut prev, hash.clone()),
                    hash,
                ));
                out.push(seq);
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
        tx.commit().await?;
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
fn audit_hash(seq: i64, at_ms: i64, e: &AuditEntry, prev: &str) -> String {
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
