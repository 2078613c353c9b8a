//! What the exchange keeps across restarts: the cursor and mirror of each peer's vacancy feed this
//! node follows, and the federated result sets it handed to its own users (vumID → peer and source
//! id, details asked per result set).
pub use crate::result_index::MAX_HELD_IDS;
use crate::result_index::{Pack, ResultIndex};
use crate::{Store, StoreError};
use sqlx::Row;
use vum::Kind;

/// One event of a peer's vacancy feed as the consumer applies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedItem {
    /// the peer's change-log cursor of the event
    pub seq: i64,
    /// the vacature's VUM id at the peer
    pub vum_id: String,
    /// the vacature's JSON; `None` is a tombstone
    pub doc: Option<String>,
}

/// What applying one page did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// events in the page
    pub events: i64,
    /// vacatures stored or replaced in the mirror
    pub upserts: i64,
    /// vacatures removed from the mirror
    pub tombstones: i64,
    /// events at or below the stored cursor (already applied: a page delivered twice)
    pub skipped: i64,
    /// the stored cursor after the page
    pub cursor: i64,
}

/// A vacature mirrored from a peer's feed ([`Store::peer_vacatures`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirroredVacature {
    /// the vacature's VUM id at the peer
    pub vum_id: String,
    /// the peer's change-log cursor of its last event
    pub seq: i64,
    /// the vacature's JSON
    pub doc: String,
}

/// One vumID of a federated result set and the peer record it stands for
/// ([`Store::remember_result_set`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultId {
    /// the vumID handed out
    pub vum_id: String,
    /// the OIN of the peer that holds the record
    pub peer_oin: String,
    /// the record's id at that peer
    pub source_id: String,
}

/// Where a vumID of a federated result set leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultRef {
    /// the OIN of the peer that holds the record
    pub peer_oin: String,
    /// the record's id at that peer
    pub source_id: String,
    /// the result set it came from
    pub vraag_id: String,
    /// the record's kind
    pub kind: Kind,
}

/// The answer to counting a detail request against its result set ([`Store::use_detail`]).
#[derive(Debug)]
pub enum DetailGrant {
    /// the detail may be fetched; the count of the result set went up by one
    Granted(ResultRef),
    /// the vumID is not from a result set this node handed out (or it has been purged)
    Unknown,
    /// the result set (its vraag id) has had its `max` details
    Exhausted(String),
}

/// Result sets older than this are forgotten (their vumIDs stop resolving).
pub const RESULT_SET_TTL_MS: i64 = 24 * 3_600_000;

/// Result sets read from the store at a time (a wide one packs tens of thousands of ids, a few MB).
const SETS_PER_READ: i64 = 16;

/// The most bytes of packed result sets one lookup reads from the store (sets let go from memory
/// for room); past it, older sets are not searched and the id is unknown.
const SCAN_BYTES: usize = 256 << 20;

/// How often result sets past [`RESULT_SET_TTL_MS`] are deleted (on the next set written).
const PURGE_EVERY_MS: i64 = 60_000;

/// Take `?` seqs for result sets: the last one taken (the row lock orders writers on PostgreSQL).
pub(crate) const RESULT_SEQ_TAKE: &str =
    "UPDATE result_seq SET last = last + ? WHERE id = 1 RETURNING last";

/// Insert result sets: this, then one [`RESULT_SET_ROW`] per set, comma-separated.
pub(crate) const RESULT_SETS_INSERT: &str =
    "INSERT INTO result_sets (vraag_id, kind, created_ms, details, seq, ids) VALUES ";
/// A result set's row: vraag id, kind, created ms, seq, packed ids (no details yet).
pub(crate) const RESULT_SET_ROW: &str = "(?, ?, ?, 0, ?, ?)";

/// Delete the result sets created before `?` (both forms: packed, and one row per id).
pub(crate) const RESULT_SETS_PURGE: [&str; 2] = [
    "DELETE FROM result_ids WHERE created_ms < ?",
    "DELETE FROM result_sets WHERE created_ms < ?",
];

/// The cut-off for a purge of result sets if one is due at `now` (at most once a minute per
/// store), marking it done; `None` when none is due.
pub(crate) fn purge_due(last_purge: &std::sync::atomic::AtomicI64, now: i64) -> Option<i64> {
    use std::sync::atomic::Ordering::Relaxed;
    let purged = last_purge.load(Relaxed);
    if now.saturating_sub(purged) >= PURGE_EVERY_MS || now < purged {
        last_purge.store(now, Relaxed);
        Some(now - RESULT_SET_TTL_MS)
    } else {
        None
    }
}

/// The ids of a result set as stored: packed per peer ([`Pack`], protobuf).
pub(crate) fn pack_ids(ids: &[ResultId]) -> Vec<u8> {
    prost::Message::encode_to_vec(&Pack::of(ids))
}

impl Store {
    /// The cursor this node holds for a peer's vacancy feed (0 when it never pulled).
    pub async fn feed_cursor(&self, peer_oin: &str) -> Result<i64, StoreError> {
        let r = sqlx::query(&self.sql("SELECT last_seq FROM feed_cursors WHERE peer_oin = ?"))
            .bind(peer_oin)
            .fetch_optional(self.pool())
            .await?;
        Ok(match r {
            Some(r) => r.try_get(0)?,
            None => 0,
        })
    }

    /// Apply one page of a peer's feed to the mirror and move the cursor, in one transaction: a
    /// consumer killed at any point has either applied the whole page or none of it. Events at or
    /// below the stored cursor are skipped, so a page delivered twice changes nothing.
    pub async fn apply_feed_page(
        &self,
        peer_oin: &str,
        items: &[FeedItem],
        now: i64,
    ) -> Result<Applied, StoreError> {
        let mut tx = self.begin_write().await?;
        let lock = if self.backend() == crate::Backend::Postgres {
            " FOR UPDATE"
        } else {
            ""
        };
        let cursor: i64 = match sqlx::query(&self.sql(&format!(
            "SELECT last_seq FROM feed_cursors WHERE peer_oin = ?{lock}"
        )))
        .bind(peer_oin)
        .fetch_optional(&mut *tx)
        .await?
        {
            Some(r) => r.try_get(0)?,
            None => 0,
        };
        let mut a = Applied {
            cursor,
            ..Applied::default()
        };
        let upsert = self.sql(
            "INSERT INTO peer_vacatures (peer_oin, vum_id, seq, doc) VALUES (?, ?, ?, ?) \
             ON CONFLICT (peer_oin, vum_id) DO UPDATE SET seq = excluded.seq, doc = excluded.doc",
        );
        let delete = self.sql("DELETE FROM peer_vacatures WHERE peer_oin = ? AND vum_id = ?");
        for it in items {
            a.events += 1;
            if it.seq <= a.cursor {
                a.skipped += 1;
                continue;
            }
            match &it.doc {
                Some(doc) => {
                    sqlx::query(&upsert)
                        .bind(peer_oin)
                        .bind(it.vum_id.as_str())
                        .bind(it.seq)
                        .bind(doc.as_str())
                        .execute(&mut *tx)
                        .await?;
                    a.upserts += 1;
                }
                None => {
                    sqlx::query(&delete)
                        .bind(peer_oin)
                        .bind(it.vum_id.as_str())
                        .execute(&mut *tx)
                        .await?;
                    a.tombstones += 1;
                }
            }
            a.cursor = it.seq;
        }
        sqlx::query(&self.sql(
            "INSERT INTO feed_cursors (peer_oin, last_seq, updated_ms) VALUES (?, ?, ?) \
             ON CONFLICT (peer_oin) DO UPDATE SET last_seq = excluded.last_seq, updated_ms = excluded.updated_ms",
        ))
        .bind(peer_oin)
        .bind(a.cursor)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(a)
    }

    /// The mirrored live vacancies of a peer, by id.
    pub async fn peer_vacatures(
        &self,
        peer_oin: &str,
    ) -> Result<Vec<MirroredVacature>, StoreError> {
        let rows =
            sqlx::query(&self.sql(
                "SELECT vum_id, seq, doc FROM peer_vacatures WHERE peer_oin = ? ORDER BY vum_id",
            ))
            .bind(peer_oin)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(MirroredVacature {
                    vum_id: r.try_get(0)?,
                    seq: r.try_get(1)?,
                    doc: r.try_get(2)?,
                })
            })
            .collect()
    }

    /// Remember a federated result set: each of its vumIDs now leads to `vraag_id` (the newest
    /// set wins for an id in several). One row, its ids packed; result sets older than
    /// [`RESULT_SET_TTL_MS`] are purged on the way, at most once a minute.
    pub async fn remember_result_set(
        &self,
        vraag_id: &str,
        kind: Kind,
        ids: &[ResultId],
        now: i64,
    ) -> Result<(), StoreError> {
        let pack = pack_ids(ids);
        let mut tx = self.begin_write().await?;
        self.write_result_sets(&mut tx, &[(vraag_id, kind, now, &pack)])
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Write result sets (vraag id, kind, created ms, packed ids) in `tx`: seqs from result_seq
    /// first (on PostgreSQL its row lock orders the writers, so sets become visible in seq order
    /// and a reader catching up from its last seq never skips one), then one row per set. Sets
    /// past [`RESULT_SET_TTL_MS`] are deleted on the way, at most once a minute per store: they
    /// grant nothing anyway (the lookups check their age), so deleting them only reclaims space.
    pub(crate) async fn write_result_sets(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        sets: &[(&str, Kind, i64, &[u8])],
    ) -> Result<(), StoreError> {
        let Some(now) = sets.iter().map(|s| s.2).max() else {
            return Ok(());
        };
        let last: i64 = sqlx::query(&self.sql(RESULT_SEQ_TAKE))
            .bind(sets.len() as i64)
            .fetch_one(&mut **tx)
            .await?
            .try_get(0)?;
        if let Some(old) = purge_due(&self.last_purge, now) {
            for q in RESULT_SETS_PURGE {
                sqlx::query(&self.sql(q))
                    .bind(old)
                    .execute(&mut **tx)
                    .await?;
            }
        }
        let first = last - sets.len() as i64 + 1;
        let batches = self.chunked(sets, 100, RESULT_SET_ROW, |rows| {
            format!("{RESULT_SETS_INSERT}{rows}")
        });
        let mut seq = first;
        for (chunk, q) in batches {
            let mut query = sqlx::query(&q).persistent(chunk.len() == 1);
            for (vraag_id, kind, at, pack) in chunk {
                query = query
                    .bind(*vraag_id)
                    .bind(kind.name())
                    .bind(*at)
                    .bind(seq)
                    .bind(*pack);
                seq += 1;
            }
            query.execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Count one detail request against the result set a vumID came from; at most `max` per set,
    /// and only while the set is younger than [`RESULT_SET_TTL_MS`].
    pub async fn use_detail(
        &self,
        vum_id: &str,
        kind: Kind,
        max: i64,
    ) -> Result<DetailGrant, StoreError> {
        self.use_detail_since(vum_id, kind, max, crate::now_ms() - RESULT_SET_TTL_MS)
            .await
    }

    /// As [`Store::use_detail`], for a result set remembered at or after `since` only (a source
    /// releasing details of what it returned to a peer within a window).
    pub async fn use_detail_since(
        &self,
        key: &str,
        kind: Kind,
        max: i64,
        since: i64,
    ) -> Result<DetailGrant, StoreError> {
        let Some(rf) = self.find_result(key, kind, since).await? else {
            return Ok(DetailGrant::Unknown);
        };
        let n = sqlx::query(&self.sql(
            "UPDATE result_sets SET details = details + 1 WHERE vraag_id = ? AND details < ?",
        ))
        .bind(rf.vraag_id.as_str())
        .bind(max)
        .execute(self.pool())
        .await?
        .rows_affected();
        if n == 1 {
            return Ok(DetailGrant::Granted(rf));
        }
        // used up, or deleted since it was read (by another handle's purge)
        let still = sqlx::query(&self.sql("SELECT 1 FROM result_sets WHERE vraag_id = ?"))
            .bind(rf.vraag_id.as_str())
            .fetch_optional(self.pool())
            .await?;
        Ok(match still {
            Some(_) => DetailGrant::Exhausted(rf.vraag_id),
            None => DetailGrant::Unknown,
        })
    }

    /// Hold at most `n` result-set ids in memory for detail lookups ([`MAX_HELD_IDS`] unless
    /// set). Sets let go for room are searched in the store, newest first, one lookup at a time
    /// and at most 256 MiB of them per lookup: an id that is in none of them costs that read,
    /// and an id in a set past it is unknown. Size it to a day's result sets.
    pub async fn hold_result_ids(&self, n: usize) {
        self.results.lock().await.cap = n;
    }

    /// Where `key` leads: the newest result set of `kind`, created at or after `since`, that
    /// holds it. Memory first (after loading the sets written since the last look, by any
    /// process), then the sets let go for room, then the sets stored one row per id before
    /// packing.
    async fn find_result(
        &self,
        key: &str,
        kind: Kind,
        since: i64,
    ) -> Result<Option<ResultRef>, StoreError> {
        let mut index = self.results.lock().await;
        self.load_result_sets(&mut index).await?;
        if let Some(f) = index.find(key) {
            return Ok(
                (f.kind == kind.name() && f.created_ms >= since).then_some(ResultRef {
                    peer_oin: f.peer_oin,
                    source_id: f.source_id,
                    vraag_id: f.vraag_id,
                    kind,
                }),
            );
        }
        let dropped = index.dropped_upto;
        drop(index);
        if dropped > 0 {
            // one scan at a time per store, and at most SCAN_BYTES read by it
            let _one = self.result_scan.lock().await;
            let mut below = dropped;
            let mut read = 0usize;
            // newest first, a few sets at a time: a set may hold tens of thousands of ids
            while below > 0 && read < SCAN_BYTES {
                let rows = sqlx::query(&self.sql(
                    "SELECT seq, vraag_id, kind, ids FROM result_sets \
                     WHERE seq <= ? AND created_ms >= ? AND ids IS NOT NULL \
                     ORDER BY seq DESC LIMIT ?",
                ))
                .bind(below)
                .bind(since)
                .bind(SETS_PER_READ)
                .fetch_all(self.pool())
                .await?;
                below = 0;
                for r in rows {
                    below = r.try_get::<i64, _>(0)? - 1;
                    let bytes: Vec<u8> = r.try_get(3)?;
                    read += bytes.len();
                    let Ok(pack) = <Pack as prost::Message>::decode(&bytes[..]) else {
                        continue;
                    };
                    if let Some((peer, source)) = pack.find(key) {
                        // the newest set that holds it decides, whatever its kind
                        let (vraag_id, set_kind): (String, String) = (r.try_get(1)?, r.try_get(2)?);
                        return Ok((set_kind == kind.name()).then(|| ResultRef {
                            peer_oin: peer.to_string(),
                            source_id: source.to_string(),
                            vraag_id,
                            kind,
                        }));
                    }
                }
            }
            if below > 0 {
                tracing::warn!(
                    read,
                    "a detail lookup stopped reading result sets let go from memory at its budget; \
                     older sets are not searched (hold more ids in memory)"
                );
            }
        }
        let r = sqlx::query(&self.sql(
            "SELECT i.peer_oin, i.source_id, i.vraag_id FROM result_ids i \
             JOIN result_sets s ON s.vraag_id = i.vraag_id \
             WHERE i.vum_id = ? AND s.kind = ? AND s.created_ms >= ?",
        ))
        .bind(key)
        .bind(kind.name())
        .bind(since)
        .fetch_optional(self.pool())
        .await?;
        r.map(|r| {
            Ok(ResultRef {
                peer_oin: r.try_get(0)?,
                source_id: r.try_get(1)?,
                vraag_id: r.try_get(2)?,
                kind,
            })
        })
        .transpose()
    }

    /// Load the result sets written since the index last looked, a page at a time. A set whose
    /// ids do not decode is logged and skipped: its ids are unknown, the others still count.
    async fn load_result_sets(&self, index: &mut ResultIndex) -> Result<(), StoreError> {
        let horizon = crate::now_ms() - RESULT_SET_TTL_MS;
        loop {
            let rows = sqlx::query(&self.sql(
                "SELECT seq, vraag_id, kind, created_ms, ids FROM result_sets \
                 WHERE seq > ? AND ids IS NOT NULL ORDER BY seq LIMIT ?",
            ))
            .bind(index.last_seq)
            .bind(SETS_PER_READ)
            .fetch_all(self.pool())
            .await?;
            let n = rows.len();
            for r in rows {
                let (seq, vraag_id): (i64, String) = (r.try_get(0)?, r.try_get(1)?);
                let bytes: Vec<u8> = r.try_get(4)?;
                match <Pack as prost::Message>::decode(&bytes[..]) {
                    Ok(pack) => {
                        index.hold(seq, vraag_id, r.try_get(2)?, r.try_get(3)?, pack, horizon)
                    }
                    Err(e) => {
                        tracing::error!(seq, %vraag_id, error = %e, "stored result set does not decode; its ids are unknown");
                        index.last_seq = index.last_seq.max(seq);
                    }
                }
            }
            if (n as i64) < SETS_PER_READ {
                return Ok(());
            }
        }
    }
}
