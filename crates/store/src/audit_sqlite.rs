//! The group-commit audit writer on SQLite: a thread with a connection of its own (rusqlite) that
//! takes each group of queued entries and commits it with direct calls.
//!
//! Why not sqlx here: sqlx-sqlite runs each connection on a worker thread and hands every
//! statement to it and back. A group took five such hand-offs (BEGIN, the chain's head, the
//! details, the insert, COMMIT), each waking two threads, and its list statements were prepared
//! anew for each size of group. On a small machine the hand-offs cost more than SQLite's own work:
//! a detail was answered at about half the rate it was without its audit entry. This thread
//! receives the jobs itself, so a group costs one wake-up, and its statements stay prepared.
//!
//! It writes exactly what [`crate::audit`]'s sqlx writer writes, which PostgreSQL and appends
//! without group commit still use: the same SQL, chain hash and result-set seqs, so either can
//! continue the other's chain (the store's tests verify chains written by both).
use crate::audit::{
    audit_hash, decoded, detail_of, Appended, AuditJob, Detail, Pending, Read, Released,
    AUDIT_HEAD, AUDIT_INSERT, AUDIT_ROW, DETAIL_READ,
};
use crate::exchange::{
    purge_due, RESULT_SEQ_TAKE, RESULT_SETS_INSERT, RESULT_SETS_PURGE, RESULT_SET_ROW,
};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use tokio::sync::mpsc::Receiver;
use vum::Kind;

/// What the writer needs of its store besides the file.
pub(crate) struct Writer {
    /// the file, as the store's pool opened it (created and migrated)
    pub(crate) path: std::path::PathBuf,
    /// the store's [`crate::Store::live_since`], as a fixed span in ms
    pub(crate) live_ms: i64,
    /// the store's last purge of result sets (shared with its clones)
    pub(crate) last_purge: Arc<AtomicI64>,
}

/// Entries committed in one transaction at most (as the sqlx writer).
const GROUP_MAX: usize = 512;

impl Writer {
    /// Run the writer on a thread of its own until every sender of `rx` is gone. `Err` when the
    /// thread cannot be started (the receiver is then dropped with it).
    pub(crate) fn spawn(self, rx: Receiver<AuditJob>) -> std::io::Result<()> {
        std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || self.run(rx))
            .map(|_| ())
    }

    fn run(self, mut rx: Receiver<AuditJob>) {
        let mut conn: Option<Connection> = None;
        while let Some(first) = rx.blocking_recv() {
            let mut jobs = vec![first];
            while jobs.len() < GROUP_MAX {
                match rx.try_recv() {
                    Ok(j) => jobs.push(j),
                    Err(_) => break,
                }
            }
            let (mut entries, replies): (Vec<Pending>, Vec<_>) = jobs.into_iter().unzip();
            let span = tracing::debug_span!("audit.group", entries = entries.len()).entered();
            let result = match conn.as_mut() {
                Some(c) => self.commit_group(c, &mut entries),
                None => self
                    .open()
                    .and_then(|c| self.commit_group(conn.insert(c), &mut entries)),
            };
            drop(span);
            match result {
                Ok(appended) => {
                    for (reply, a) in replies.into_iter().zip(appended) {
                        let _ = reply.send(Ok(a));
                    }
                }
                Err(e) => {
                    // a failed group may have left the connection in a bad state: open anew
                    conn = None;
                    tracing::error!(error = %e, "audit group not committed");
                    let msg = e.to_string();
                    for reply in replies {
                        let _ = reply.send(Err(msg.clone()));
                    }
                }
            }
        }
    }

    /// The connection, set up as the store's own SQLite connections are.
    fn open(&self) -> rusqlite::Result<Connection> {
        let c = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        c.busy_timeout(std::time::Duration::from_secs(10))?;
        c.pragma_update(None, "journal_mode", "WAL")?;
        c.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(c)
    }

    /// Append `entries` in one transaction, chained in order; the records they release are read
    /// in it (one cached point query per id), each entry settled by what it found
    /// ([`Pending::found`]), and their result sets written in it.
    fn commit_group(
        &self,
        c: &mut Connection,
        entries: &mut [Pending],
    ) -> rusqlite::Result<Vec<Appended>> {
        // the write lock from the start, before reading the chain's head
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (mut seq, mut prev): (i64, String) = tx
            .prepare_cached(AUDIT_HEAD)?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .unwrap_or_else(|| (0, "0".repeat(64)));
        let mut out = Vec::with_capacity(entries.len());
        {
            let mut read = tx.prepare_cached(&format!("{DETAIL_READ}= ?"))?;
            let mut insert = tx.prepare_cached(&format!("{AUDIT_INSERT}{AUDIT_ROW}"))?;
            for p in entries.iter_mut() {
                let since = p.at - self.live_ms;
                let mut get = |kind: Kind, id: &str| -> rusqlite::Result<Option<Detail>> {
                    // a column of the wrong type (SQLite types by value) fails this record's
                    // callers, not the group
                    let row = read
                        .query_row(params![kind.name(), since, id], |r| {
                            Ok((r.get(2), r.get(3)))
                        })
                        .optional()?;
                    Ok(match row {
                        None => None,
                        Some((Ok(pb), Ok(doc))) => detail_of(kind, id, pb, doc),
                        Some((Err(e), _)) | Some((_, Err(e))) => {
                            Some(Err(format!("stored {} {id}: {e}", kind.name())))
                        }
                    })
                };
                let released = match &p.read {
                    None => Released::Nothing,
                    Some(Read::One(kind, id)) => Released::One(get(*kind, id)?),
                    Some(Read::Many(kind, ids)) => {
                        let mut rows = Vec::with_capacity(ids.len());
                        for id in ids {
                            if let Some(d) = get(*kind, id)? {
                                rows.push((id.clone(), decoded(*kind, id, d)));
                            }
                        }
                        Released::Many(rows)
                    }
                };
                p.found(&released);
                seq += 1;
                let e = &p.entry;
                let hash = audit_hash(seq, p.at, e, &prev);
                insert.execute(params![
                    seq,
                    p.at,
                    e.actor,
                    e.on_behalf_of,
                    e.action,
                    e.purpose,
                    e.transaction_id,
                    e.subject,
                    e.result_count,
                    prev,
                    hash
                ])?;
                prev = hash;
                out.push((seq, released));
            }
        }
        self.write_result_sets(&tx, entries)?;
        tx.commit()?;
        Ok(out)
    }

    /// The entries' result sets, as [`crate::Store::write_result_sets`] writes them: seqs taken
    /// first, a purge when one is due, then one row per set.
    fn write_result_sets(&self, tx: &Connection, entries: &[Pending]) -> rusqlite::Result<()> {
        let sets: Vec<_> = entries.iter().filter_map(Pending::set_to_write).collect();
        let Some(now) = sets.iter().map(|s| s.2).max() else {
            return Ok(());
        };
        let n = sets.len() as i64;
        let last: i64 = tx
            .prepare_cached(RESULT_SEQ_TAKE)?
            .query_row([n], |r| r.get(0))?;
        if let Some(old) = purge_due(&self.last_purge, now) {
            for q in RESULT_SETS_PURGE {
                tx.prepare_cached(q)?.execute([old])?;
            }
        }
        let mut insert = tx.prepare_cached(&format!("{RESULT_SETS_INSERT}{RESULT_SET_ROW}"))?;
        for (seq, (vraag_id, kind, at, pack)) in (last - n + 1..).zip(sets) {
            insert.execute(params![vraag_id, kind.name(), at, seq, pack])?;
        }
        Ok(())
    }
}
