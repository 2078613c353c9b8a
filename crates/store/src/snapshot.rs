//! The selection index saved in the database (`engine_snapshots`), so a node starts from it and
//! catches up from the change log and the refreshes instead of reading every record's match
//! columns. A snapshot is used only when its checksum holds, it decodes, and its cursor is a
//! change of this database's history (`change_tag`); otherwise the index is built from the
//! records and saved anew.
use crate::{Store, StoreError};
use sha2::{Digest, Sha256};
use sqlx::Row;
use vum::Kind;

/// A saved index as stored.
pub(crate) struct Saved {
    pub change_seq: i64,
    pub change_tag: String,
    pub refresh_seq: i64,
    pub made_ms: i64,
    pub checksum: String,
    pub data: Vec<u8>,
}

/// SHA-256 of a snapshot's bytes, hex.
pub(crate) fn checksum(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

impl Store {
    /// The saved index of `kind`, if any.
    pub(crate) async fn saved_index(&self, kind: Kind) -> Result<Option<Saved>, StoreError> {
        let r = sqlx::query(&self.sql(
            "SELECT change_seq, change_tag, refresh_seq, made_ms, checksum, data FROM engine_snapshots WHERE kind = ?",
        ))
        .bind(kind.name())
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = r else { return Ok(None) };
        Ok(Some(Saved {
            change_seq: r.try_get(0)?,
            change_tag: r.try_get(1)?,
            refresh_seq: r.try_get(2)?,
            made_ms: r.try_get(3)?,
            checksum: r.try_get(4)?,
            data: r.try_get(5)?,
        }))
    }

    /// Save (replace) the index of `kind`.
    pub(crate) async fn save_index(&self, kind: Kind, s: &Saved) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(&self.sql("DELETE FROM engine_snapshots WHERE kind = ?"))
            .bind(kind.name())
            .execute(&mut *tx)
            .await?;
        sqlx::query(&self.sql(
            "INSERT INTO engine_snapshots (kind, change_seq, change_tag, refresh_seq, made_ms, checksum, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
        ))
        .bind(kind.name())
        .bind(s.change_seq)
        .bind(s.change_tag.as_str())
        .bind(s.refresh_seq)
        .bind(s.made_ms)
        .bind(s.checksum.as_str())
        .bind(s.data.as_slice())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// `vum_id:version` of change `seq` ('' for 0; None when this database has no such change).
    pub(crate) async fn change_tag(&self, seq: i64) -> Result<Option<String>, StoreError> {
        if seq == 0 {
            return Ok(Some(String::new()));
        }
        let r = sqlx::query(&self.sql("SELECT vum_id, version FROM changes WHERE seq = ?"))
            .bind(seq)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match r {
            Some(r) => Some(format!(
                "{}:{}",
                r.try_get::<String, _>(0)?,
                r.try_get::<i64, _>(1)?
            )),
            None => None,
        })
    }

    /// The last refresh batch's sequence number (0 when none).
    pub(crate) async fn last_refresh_seq(&self) -> Result<i64, StoreError> {
        let r = sqlx::query("SELECT COALESCE(MAX(seq), 0) FROM refreshes")
            .fetch_one(&self.pool)
            .await?;
        Ok(r.try_get::<i64, _>(0)?)
    }

    /// Refresh batches of `kind` after `cursor`, oldest first: (seq, at_ms, ids).
    pub(crate) async fn refreshes_since(
        &self,
        kind: Kind,
        cursor: i64,
        limit: i64,
    ) -> Result<Vec<(i64, i64, String)>, StoreError> {
        let rows = sqlx::query(&self.sql(
            "SELECT seq, at_ms, ids FROM refreshes WHERE kind = ? AND seq > ? ORDER BY seq LIMIT ?",
        ))
        .bind(kind.name())
        .bind(cursor)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }
}
