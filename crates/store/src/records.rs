//! Records: idempotent batch upserts (the one stored form, [`StoredForm`], and match attributes),
//! tombstones, expiry, reads by id, and the operator's counts.
use crate::conn::on_reader;
use crate::form::{Stored, StoredColumns, StoredForm};
use crate::{Attrs, LiveAttrs, Status, Store, StoreError, Upserted};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::Row;
use vum::Kind;

const DAY_MS: i64 = 86_400_000;

/// A record of an upsert batch that is not stored yet.
struct NewRecord<'a> {
    id: &'a str,
    hash: String,
    form: Form,
    attrs: Attrs,
}

/// What an upsert writes for a document: its stored form, or its JSON for a kind without one.
enum Form {
    Stored(StoredForm),
    Json(String),
}

impl Form {
    fn of(kind: Kind, doc: &Value) -> Form {
        match StoredForm::encode(kind, doc) {
            Some(f) => Form::Stored(f),
            None => Form::Json(doc.to_string()),
        }
    }

    /// The (doc, pb, extra) columns.
    fn columns(&self) -> (Option<&str>, Option<&[u8]>, Option<&[u8]>) {
        match self {
            Form::Stored(f) => (None, Some(&f.pb), f.extra.as_deref()),
            Form::Json(t) => (Some(t), None, None),
        }
    }
}

/// SHA-256 of the document's canonical JSON (keys sorted, as serde_json's map is).
pub fn content_hash(doc: &Value) -> String {
    /// serde_json's map keeps its keys sorted unless its `preserve_order` feature is on somewhere in
    /// the build; only then is a sorted copy needed.
    fn maps_are_sorted() -> bool {
        static SORTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *SORTED.get_or_init(|| {
            let text = serde_json::json!({"b": 0, "a": 0}).to_string();
            text == r#"{"a":0,"b":0}"#
        })
    }
    /// Feeds the serialiser's output straight into the digest (no text kept).
    struct Digest<'a>(&'a mut Sha256);
    impl std::io::Write for Digest<'_> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.update(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut h = Sha256::new();
    // writing into a digest cannot fail; a Value always serialises
    let _ = if maps_are_sorted() {
        serde_json::to_writer(Digest(&mut h), doc)
    } else {
        serde_json::to_writer(Digest(&mut h), &canonical(doc))
    };
    hex::encode(h.finalize())
}

fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), canonical(&o[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        v => v.clone(),
    }
}

fn opt_i(r: &AnyRow, c: &str) -> Option<i64> {
    r.try_get::<Option<i64>, _>(c).ok().flatten()
}
fn opt_s(r: &AnyRow, c: &str) -> Option<String> {
    r.try_get::<Option<String>, _>(c).ok().flatten()
}

/// The protobuf encoding of a document of `kind` (None for kinds without a stored form, or a
/// document the message cannot hold, which validation prevents).
pub fn encode_pb(kind: Kind, doc: &Value) -> Option<Vec<u8>> {
    StoredForm::pb(kind, doc)
}

/// The protobuf encoding of a JSON document stored before the one stored form (`id` names it in
/// the error).
pub(crate) fn pb_of_text(kind: Kind, id: &str, text: &str) -> Result<Vec<u8>, StoreError> {
    let doc: Value = serde_json::from_str(text).map_err(|e| StoreError::Corrupt(id.into(), e))?;
    encode_pb(kind, &doc).ok_or_else(|| {
        StoreError::Corrupt(
            id.into(),
            serde::de::Error::custom("the document does not fit its protobuf message"),
        )
    })
}

/// A row's protobuf encoding: its `pb` column or, for a row stored before that column, the
/// encoding of its JSON (`None`: neither, as in a tombstone).
pub(crate) fn pb_of_row(
    kind: Kind,
    id: &str,
    pb: Option<Vec<u8>>,
    doc: Option<String>,
) -> Result<Option<Vec<u8>>, StoreError> {
    match (pb, doc) {
        (Some(b), _) => Ok(Some(b)),
        (None, Some(t)) => pb_of_text(kind, id, &t).map(Some),
        (None, None) => Ok(None),
    }
}

/// Bind the match-attribute columns, in the order of the records table's attribute columns.
fn bind_attrs<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    a: &Attrs,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    q.bind(a.pc4)
        .bind(a.max_reis)
        .bind(a.uren_min)
        .bind(a.uren_max)
        .bind(a.kantoor)
        .bind(a.onregelmatig)
        .bind(a.datum.clone())
        .bind(a.niveau.clone())
        .bind(Attrs::join(&a.beroepen))
        .bind(Attrs::join(&a.rijbewijzen))
        .bind(Attrs::join_talen(&a.talen))
        .bind(Attrs::join(&a.contracten))
        .bind(a.opleiding)
}

/// `f` over `items`, in order, on up to four scoped threads (inline for a few items or one core):
/// the CPU work of a batch (hashes, stored forms) before and between its statements.
fn par_map<T: Sync, U: Send>(items: &[T], f: impl Fn(&T) -> U + Sync) -> Vec<U> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4);
    if threads < 2 || items.len() < 64 {
        return items.iter().map(f).collect();
    }
    let f = &f;
    std::thread::scope(|scope| {
        let parts: Vec<_> = items
            .chunks(items.len().div_ceil(threads))
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<U>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|p| p.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

impl Store {
    /// Store a batch of documents of one kind in one transaction. Idempotent: the same documents
    /// again give `Unchanged` and no change-log entries. A few statements per batch, not per record.
    pub async fn upsert_batch(
        &self,
        kind: Kind,
        docs: &[(String, Value)],
        now: i64,
    ) -> Result<Vec<Upserted>, StoreError> {
        let unique: std::collections::HashSet<&str> =
            docs.iter().map(|(id, _)| id.as_str()).collect();
        if unique.len() != docs.len() {
            // the same id twice in one batch: store them one after the other
            let mut out = Vec::with_capacity(docs.len());
            for d in docs {
                out.extend(Box::pin(self.upsert_batch(kind, std::slice::from_ref(d), now)).await?);
            }
            return Ok(out);
        }
        // the content hashes before the writer is taken, on every core
        let hashes = par_map(docs, |(_, doc)| content_hash(doc));
        let mut tx = self.begin_writer().await?;
        let mut existing: std::collections::HashMap<String, (String, i64, i64, i64)> =
            std::collections::HashMap::new();
        let lookups = self.chunked(docs, 500, "?", |marks| {
            format!("SELECT vum_id, content_hash, version, deleted, consent FROM records WHERE kind = ? AND vum_id IN ({marks})")
        });
        for (chunk, q) in lookups {
            // a full chunk's statement is the same every time: prepared once per connection
            let mut query = sqlx::query(&q)
                .persistent(chunk.len() == 500)
                .bind(kind.name());
            for (id, _) in chunk {
                query = query.bind(id.as_str());
            }
            for r in query.fetch_all(&mut *tx).await? {
                existing.insert(
                    r.try_get(0)?,
                    (r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?),
                );
            }
        }
        let mut out = Vec::with_capacity(docs.len());
        let mut inserts: Vec<NewRecord> = Vec::new();
        let mut unchanged: Vec<&str> = Vec::new();
        let mut changes: Vec<(&str, i64)> = Vec::new();
        let update = self.sql(
            "UPDATE records SET content_hash = ?, version = ?, doc = ?, pb = ?, extra = ?, updated_ms = ?, refreshed_ms = ?, consent = 1, deleted = 0, \
             pc4 = ?, max_reis = ?, uren_min = ?, uren_max = ?, kantoor = ?, onregelmatig = ?, datum = ?, niveau = ?, beroepen = ?, \
             rijbewijzen = ?, talen = ?, contracten = ?, opleiding = ? WHERE kind = ? AND vum_id = ?",
        );
        // what each record needs: nothing (unchanged), an update of version v, or an insert
        let plans: Vec<Option<Option<i64>>> = docs
            .iter()
            .zip(&hashes)
            .map(|((id, _), hash)| match existing.get(id.as_str()) {
                Some((h, _, deleted, consent)) if h == hash && *deleted == 0 && *consent == 1 => {
                    None
                }
                Some((_, v, _, _)) => Some(Some(*v)),
                None => Some(None),
            })
            .collect();
        // the stored form and match attributes of the records that change, on every core
        let work: Vec<(&Value, bool)> = docs
            .iter()
            .zip(&plans)
            .map(|((_, doc), plan)| (doc, plan.is_some()))
            .collect();
        let prepared = par_map(&work, |(doc, changes)| {
            changes.then(|| (Form::of(kind, doc), Attrs::extract(kind, doc)))
        });
        for ((((id, _), hash), plan), prepared) in docs.iter().zip(hashes).zip(plans).zip(prepared)
        {
            let (Some(plan), Some((form, attrs))) = (plan, prepared) else {
                unchanged.push(id);
                out.push(Upserted::Unchanged);
                continue;
            };
            match plan {
                Some(v) => {
                    let (text, pb, extra) = form.columns();
                    let q = sqlx::query(&update)
                        .bind(hash)
                        .bind(v + 1)
                        .bind(text)
                        .bind(pb)
                        .bind(extra)
                        .bind(now)
                        .bind(now);
                    bind_attrs(q, &attrs)
                        .bind(kind.name())
                        .bind(id.as_str())
                        .execute(&mut *tx)
                        .await?;
                    changes.push((id, v + 1));
                    out.push(Upserted::Updated);
                }
                None => {
                    inserts.push(NewRecord {
                        id,
                        hash,
                        form,
                        attrs,
                    });
                    changes.push((id, 1));
                    out.push(Upserted::Inserted);
                }
            }
        }
        let refreshes = self.chunked(&unchanged, 500, "?", |marks| {
            format!("UPDATE records SET refreshed_ms = ? WHERE kind = ? AND vum_id IN ({marks})")
        });
        for (chunk, q) in refreshes {
            let mut query = sqlx::query(&q)
                .persistent(chunk.len() == 500)
                .bind(now)
                .bind(kind.name());
            for id in chunk {
                query = query.bind(*id);
            }
            query.execute(&mut *tx).await?;
        }
        if !unchanged.is_empty() {
            // no change-log row for a refresh: the selection index learns of it here
            sqlx::query(&self.sql("INSERT INTO refreshes (kind, at_ms, ids) VALUES (?, ?, ?)"))
                .bind(kind.name())
                .bind(now)
                .bind(unchanged.join("\n"))
                .execute(&mut *tx)
                .await?;
        }
        const ROW: &str =
            "(?, ?, ?, 1, ?, ?, ?, ?, ?, ?, 1, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
        let batches = self.chunked(&inserts, 500, ROW, |rows| {
            format!(
                "INSERT INTO records (kind, vum_id, content_hash, version, doc, pb, extra, created_ms, updated_ms, refreshed_ms, consent, deleted, \
                 pc4, max_reis, uren_min, uren_max, kantoor, onregelmatig, datum, niveau, beroepen, rijbewijzen, talen, contracten, opleiding) VALUES {rows}"
            )
        });
        for (chunk, q) in batches {
            let mut query = sqlx::query(&q).persistent(chunk.len() == 500);
            for r in chunk {
                let (text, pb, extra) = r.form.columns();
                query = bind_attrs(
                    query
                        .bind(kind.name())
                        .bind(r.id)
                        .bind(r.hash.as_str())
                        .bind(text)
                        .bind(pb)
                        .bind(extra)
                        .bind(now)
                        .bind(now)
                        .bind(now),
                    &r.attrs,
                );
            }
            query.execute(&mut *tx).await?;
        }
        let batches = self.chunked(&changes, 1000, "(?, ?, ?, 'upsert', ?)", |rows| {
            format!("INSERT INTO changes (kind, vum_id, version, op, at_ms) VALUES {rows}")
        });
        for (chunk, q) in batches {
            let mut query = sqlx::query(&q).persistent(chunk.len() == 1000);
            for (id, v) in chunk {
                query = query.bind(kind.name()).bind(*id).bind(*v).bind(now);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Tombstone a record: consent withdrawn (`withdrawn`) or deleted at the source. Returns false
    /// when there was nothing live to remove.
    pub async fn remove(
        &self,
        kind: Kind,
        vum_id: &str,
        withdrawn: bool,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_writer().await?;
        let r = sqlx::query(
            &self.sql("SELECT version, deleted FROM records WHERE kind = ? AND vum_id = ?"),
        )
        .bind(kind.name())
        .bind(vum_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(r) = r else { return Ok(false) };
        let (v, deleted): (i64, i64) = (r.try_get(0)?, r.try_get(1)?);
        if deleted == 1 {
            return Ok(false);
        }
        sqlx::query(&self.sql(
            "UPDATE records SET doc = NULL, pb = NULL, extra = NULL, version = ?, updated_ms = ?, deleted = 1, consent = ?, beroepen = NULL, \
             rijbewijzen = NULL, talen = NULL, contracten = NULL, opleiding = NULL WHERE kind = ? AND vum_id = ?",
        ))
        .bind(v + 1)
        .bind(now)
        .bind(if withdrawn { 0i64 } else { 1 })
        .bind(kind.name())
        .bind(vum_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(&self.sql(
            "INSERT INTO changes (kind, vum_id, version, op, at_ms) VALUES (?, ?, ?, 'delete', ?)",
        ))
        .bind(kind.name())
        .bind(vum_id)
        .bind(v + 1)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The oldest refresh time that is still live at `now`.
    pub(crate) fn live_since(&self, now: i64) -> i64 {
        now - self.live_span_ms()
    }

    /// How long a record stays live without a refresh, in ms.
    pub(crate) fn live_span_ms(&self) -> i64 {
        self.expiry_days * DAY_MS
    }

    /// The detail document of a live, shared, unexpired record.
    pub async fn get(
        &self,
        kind: Kind,
        vum_id: &str,
        now: i64,
    ) -> Result<Option<Value>, StoreError> {
        match self.get_stored(kind, vum_id, now).await? {
            Some(s) => s.json(kind, vum_id),
            None => Ok(None),
        }
    }

    /// [`Store::get`] as JSON text: byte for byte the compact text of the document as it was given
    /// (keys in sorted order).
    pub async fn get_text(
        &self,
        kind: Kind,
        vum_id: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        match self.get_stored(kind, vum_id, now).await? {
            Some(s) => s.json_text(kind, vum_id),
            None => Ok(None),
        }
    }

    /// The stored columns of a live, shared, unexpired record.
    async fn get_stored(
        &self,
        kind: Kind,
        vum_id: &str,
        now: i64,
    ) -> Result<Option<Stored>, StoreError> {
        let r: Option<StoredColumns> = sqlx::query_as(&self.sql("SELECT doc, pb, extra FROM records WHERE kind = ? AND vum_id = ? AND deleted = 0 AND consent = 1 AND refreshed_ms >= ?"))
            .bind(kind.name())
            .bind(vum_id)
            .bind(self.live_since(now))
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.map(|(doc, pb, extra)| Stored { doc, pb, extra }))
    }

    /// Documents for many ids (in the order given; missing ones left out).
    pub async fn get_many(
        &self,
        kind: Kind,
        ids: &[String],
        now: i64,
    ) -> Result<Vec<(String, Value)>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for (id, stored) in self.get_many_stored(kind, ids, now).await? {
            if let Some(doc) = stored.json(kind, &id)? {
                out.push((id, doc));
            }
        }
        Ok(out)
    }

    /// [`Store::get_many`] as each document's protobuf encoding (`vum.v3` message of the kind):
    /// what a selection's matches are made from, without deriving the JSON.
    pub async fn get_many_pb(
        &self,
        kind: Kind,
        ids: &[String],
        now: i64,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for (id, stored) in self.get_many_stored(kind, ids, now).await? {
            if let Some(pb) = pb_of_row(kind, &id, stored.pb, stored.doc)? {
                out.push((id, pb));
            }
        }
        Ok(out)
    }

    /// The stored columns of many live records, in the order of `ids` (missing ones left out).
    async fn get_many_stored(
        &self,
        kind: Kind,
        ids: &[String],
        now: i64,
    ) -> Result<Vec<(String, Stored)>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        let lookups = self.chunked(ids, 200, "?", |marks| {
            format!("SELECT vum_id, doc, pb, extra FROM records WHERE kind = ? AND deleted = 0 AND consent = 1 AND refreshed_ms >= ? AND vum_id IN ({marks})")
        });
        for (chunk, q) in lookups {
            let since = self.live_since(now);
            let mut reader = self.reader().await?;
            #[allow(clippy::type_complexity)]
            let rows: Vec<(String, Option<String>, Option<Vec<u8>>, Option<Vec<u8>>)> = on_reader!(reader, c => {
                let mut query = sqlx::query_as(&q)
                    .persistent(false)
                    .bind(kind.name())
                    .bind(since);
                for id in chunk {
                    query = query.bind(id.as_str());
                }
                query.fetch_all(&mut *c).await?
            });
            reader.done();
            let mut found: std::collections::HashMap<String, Stored> = rows
                .into_iter()
                .map(|(id, doc, pb, extra)| (id, Stored { doc, pb, extra }))
                .collect();
            for id in chunk {
                if let Some(stored) = found.remove(id) {
                    out.push((id.clone(), stored));
                }
            }
        }
        Ok(out)
    }

    /// [`Store::get`] as the protobuf encoding of the document.
    pub async fn get_pb(
        &self,
        kind: Kind,
        vum_id: &str,
        now: i64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let sql = self.sql("SELECT pb, CASE WHEN pb IS NULL THEN doc END AS doc FROM records WHERE kind = ? AND vum_id = ? AND deleted = 0 AND consent = 1 AND refreshed_ms >= ?");
        let since = self.live_since(now);
        let mut reader = self.reader().await?;
        let found: Option<(Option<Vec<u8>>, Option<String>)> = on_reader!(reader, c => sqlx::query_as(&sql)
            .bind(kind.name())
            .bind(vum_id)
            .bind(since)
            .fetch_optional(&mut *c)
            .await?);
        reader.done();
        match found {
            None => Ok(None),
            Some((pb, doc)) => pb_of_row(kind, vum_id, pb, doc),
        }
    }

    /// Match attributes and refresh time of live records (all, or the given ids).
    pub async fn attrs(
        &self,
        kind: Kind,
        ids: Option<&[String]>,
    ) -> Result<Vec<LiveAttrs>, StoreError> {
        const COLS: &str = "vum_id, refreshed_ms, consent, pc4, max_reis, uren_min, uren_max, kantoor, onregelmatig, datum, niveau, beroepen, rijbewijzen, talen, contracten, opleiding";
        let rows = match ids {
            None => {
                sqlx::query(&self.sql(&format!(
                    "SELECT {COLS} FROM records WHERE kind = ? AND deleted = 0 AND consent = 1"
                )))
                .bind(kind.name())
                .fetch_all(&self.pool)
                .await?
            }
            Some(ids) => {
                let mut all = Vec::new();
                let lookups = self.chunked(ids, 200, "?", |marks| {
                    format!("SELECT {COLS} FROM records WHERE kind = ? AND deleted = 0 AND consent = 1 AND vum_id IN ({marks})")
                });
                for (chunk, q) in lookups {
                    let mut query = sqlx::query(&q).persistent(false).bind(kind.name());
                    for id in chunk {
                        query = query.bind(id.as_str());
                    }
                    all.extend(query.fetch_all(&self.pool).await?);
                }
                all
            }
        };
        rows.iter()
            .map(|r| {
                let a = Attrs {
                    pc4: opt_i(r, "pc4"),
                    max_reis: opt_i(r, "max_reis"),
                    uren_min: opt_i(r, "uren_min"),
                    uren_max: opt_i(r, "uren_max"),
                    kantoor: opt_i(r, "kantoor"),
                    onregelmatig: opt_i(r, "onregelmatig"),
                    datum: opt_s(r, "datum"),
                    niveau: opt_s(r, "niveau"),
                    beroepen: Attrs::split(opt_s(r, "beroepen")),
                    rijbewijzen: Attrs::split(opt_s(r, "rijbewijzen")),
                    talen: Attrs::split_talen(opt_s(r, "talen")),
                    contracten: Attrs::split(opt_s(r, "contracten")),
                    opleiding: opt_i(r, "opleiding"),
                };
                Ok(LiveAttrs {
                    vum_id: r.try_get::<String, _>("vum_id")?,
                    refreshed_ms: r.try_get::<i64, _>("refreshed_ms")?,
                    attrs: a,
                })
            })
            .collect()
    }

    /// Counts for an operator: live, expired (not refreshed within the expiry period), withdrawn, deleted.
    pub async fn status(&self, kind: Kind, now: i64) -> Result<Status, StoreError> {
        let r = sqlx::query(&self.sql(
            "SELECT \
             COALESCE(SUM(CASE WHEN deleted = 0 AND consent = 1 AND refreshed_ms >= ? THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN deleted = 0 AND consent = 1 AND refreshed_ms < ? THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN deleted = 1 AND consent = 0 THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN deleted = 1 AND consent = 1 THEN 1 ELSE 0 END), 0) \
             FROM records WHERE kind = ?",
        ))
        .bind(self.live_since(now))
        .bind(self.live_since(now))
        .bind(kind.name())
        .fetch_one(&self.pool)
        .await?;
        let changes = sqlx::query(&self.sql("SELECT COUNT(*) FROM changes WHERE kind = ?"))
            .bind(kind.name())
            .fetch_one(&self.pool)
            .await?;
        let audit = sqlx::query("SELECT COUNT(*) FROM audit")
            .fetch_one(&self.pool)
            .await?;
        Ok(Status {
            live: r.try_get(0)?,
            expired: r.try_get(1)?,
            withdrawn: r.try_get(2)?,
            deleted: r.try_get(3)?,
            changes: changes.try_get(0)?,
            audit_entries: audit.try_get(0)?,
        })
    }

    /// Rewrite up to `limit` records stored before the one stored form (their JSON in `doc`), in
    /// vum_id order after `after`, into that form. Content, version, times and change log stay as
    /// they are; a record changed meanwhile is left to its new writer. Returns how many were
    /// rewritten and where to go on (None: none are left after `after`). A document that does not
    /// fit its protobuf message keeps its JSON.
    pub async fn compact_forms(
        &self,
        after: &str,
        limit: i64,
    ) -> Result<(usize, Option<String>), StoreError> {
        let rows: Vec<(String, String, i64, String)> = sqlx::query_as(&self.sql(
            "SELECT kind, vum_id, version, doc FROM records WHERE doc IS NOT NULL AND deleted = 0 \
             AND kind IN ('werkzoekende', 'vacature') AND vum_id > ? ORDER BY vum_id LIMIT ?",
        ))
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let Some(last) = rows.last().map(|r| r.1.clone()) else {
            return Ok((0, None));
        };
        let forms = par_map(&rows, |(kind, id, _, text)| {
            let kind: Kind = kind.parse().ok()?;
            let doc: Value = serde_json::from_str(text).ok()?;
            let form = StoredForm::encode(kind, &doc)?;
            // only a form that gives the document back replaces it
            let back = StoredForm::decode(kind, id, &form.pb, form.extra.as_deref()).ok()?;
            (back == doc).then_some(form)
        });
        let mut tx = self.begin_writer().await?;
        let mut rewritten = 0;
        let update = self.sql(
            "UPDATE records SET doc = NULL, pb = ?, extra = ? WHERE vum_id = ? AND version = ? AND doc IS NOT NULL",
        );
        for ((_, id, version, _), form) in rows.iter().zip(forms) {
            let Some(form) = form else { continue };
            let done = sqlx::query(&update)
                .bind(form.pb)
                .bind(form.extra)
                .bind(id.as_str())
                .bind(*version)
                .execute(&mut *tx)
                .await?;
            rewritten += done.rows_affected() as usize;
        }
        tx.commit().await?;
        Ok((rewritten, Some(last)))
    }

    /// Ids of records that expired (live but not refreshed within the expiry period).
    pub async fn expired_ids(&self, kind: Kind, now: i64) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(&self.sql("SELECT vum_id FROM records WHERE kind = ? AND deleted = 0 AND consent = 1 AND refreshed_ms < ? ORDER BY vum_id"))
            .bind(kind.name())
            .bind(self.live_since(now))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<String, _>(0)?))
            .collect()
    }
}
