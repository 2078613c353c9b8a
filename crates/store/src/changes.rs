//! The change log (every upsert and delete, with a monotonic cursor) and the vacancy feed served
//! from it.
use crate::conn::on_reader;
use crate::records::pb_of_text;
use crate::{Change, FeedEntry, Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;
use vum::Kind;

/// A change-log row whose first six columns are seq, kind, vum_id, version, op, at_ms.
fn change_of(r: &AnyRow) -> Result<Change, sqlx::Error> {
    Ok(Change {
        seq: r.try_get(0)?,
        kind: r.try_get(1)?,
        vum_id: r.try_get(2)?,
        version: r.try_get(3)?,
        deleted: r.try_get::<String, _>(4)? == "delete",
        at_ms: r.try_get(5)?,
    })
}

/// A feed row (seq, vum_id, op, pb, doc) of either driver: the record's protobuf encoding, or one
/// made from its JSON for rows written before the protobuf column existed.
fn feed_row<R: Row>(kind: Kind, r: &R) -> Result<FeedEntry, StoreError>
where
    usize: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Vec<u8>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let id: String = r.try_get(1)?;
    let pb = match r.try_get::<Option<Vec<u8>>, _>(3)? {
        Some(b) => Some(b),
        None => match r.try_get::<Option<String>, _>(4)? {
            Some(t) => Some(pb_of_text(kind, &id, &t)?),
            None => None,
        },
    };
    Ok(FeedEntry {
        seq: r.try_get(0)?,
        vum_id: id,
        deleted: r.try_get::<String, _>(2)? == "delete",
        pb,
    })
}

impl Store {
    /// Change-log entries after `cursor`, oldest first.
    pub async fn changes_since(
        &self,
        kind: Option<Kind>,
        cursor: i64,
        limit: i64,
    ) -> Result<Vec<Change>, StoreError> {
        let rows = match kind {
            Some(k) => {
                sqlx::query(&self.sql("SELECT seq, kind, vum_id, version, op, at_ms FROM changes WHERE kind = ? AND seq > ? ORDER BY seq LIMIT ?"))
                    .bind(k.name())
                    .bind(cursor)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                sqlx::query(&self.sql("SELECT seq, kind, vum_id, version, op, at_ms FROM changes WHERE seq > ? ORDER BY seq LIMIT ?"))
                    .bind(cursor)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter().map(|r| Ok(change_of(r)?)).collect()
    }

    /// One page of the vacancy feed with each live record's protobuf encoding (`vum.v3` message
    /// of the kind), oldest first. An upsert whose record is no longer live has no bytes. Rows stored before the protobuf column existed are encoded from their JSON.
    pub async fn feed_page_pb(
        &self,
        kind: Kind,
        cursor: i64,
        limit: i64,
        now: i64,
    ) -> Result<Vec<FeedEntry>, StoreError> {
        let sql = self.sql(
            "SELECT c.seq, c.vum_id, c.op, r.pb, CASE WHEN r.pb IS NULL THEN r.doc END AS doc FROM changes c \
             LEFT JOIN records r ON r.vum_id = c.vum_id AND r.deleted = 0 AND r.consent = 1 AND r.refreshed_ms >= ? \
             WHERE c.kind = ? AND c.seq > ? ORDER BY c.seq LIMIT ?",
        );
        let since = self.live_since(now);
        let mut reader = self.reader().await?;
        let page = on_reader!(reader, c => sqlx::query(&sql)
            .bind(since)
            .bind(kind.name())
            .bind(cursor)
            .bind(limit)
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(|r| feed_row(kind, r))
            .collect::<Result<Vec<_>, _>>()?);
        reader.done();
        Ok(page)
    }

    /// Whether the change log or the refresh batches of `kind` moved past the given cursors: one
    /// statement, so an index that is current costs one look instead of a read of each.
    pub(crate) async fn moved_since(
        &self,
        kind: Kind,
        change_seq: i64,
        refresh_seq: i64,
    ) -> Result<bool, StoreError> {
        let sql = self.sql(
            "SELECT CAST(CASE WHEN EXISTS (SELECT 1 FROM changes WHERE kind = ? AND seq > ?) \
             OR EXISTS (SELECT 1 FROM refreshes WHERE kind = ? AND seq > ?) THEN 1 ELSE 0 END AS BIGINT)",
        );
        let mut reader = self.reader().await?;
        let moved: i64 = on_reader!(reader, c => sqlx::query_scalar(&sql)
            .bind(kind.name())
            .bind(change_seq)
            .bind(kind.name())
            .bind(refresh_seq)
            .fetch_one(&mut *c)
            .await?);
        reader.done();
        Ok(moved != 0)
    }

    /// The change log's last cursor (0 when it is empty).
    pub async fn last_change_seq(&self) -> Result<i64, StoreError> {
        let r = sqlx::query("SELECT COALESCE(MAX(seq), 0) FROM changes")
            .fetch_one(&self.pool)
            .await?;
        Ok(r.try_get::<i64, _>(0)?)
    }
}
