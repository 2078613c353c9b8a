//! # translate — local exports to VUM documents
//!
//! A [`mapping::Mapping`] (TOML, reference in `docs/mapping.md`) says where records come from and
//! how each VUM property is filled. [`Translator::run`] streams records from the source, turns each
//! into a VUM document, validates it with the standard's validator and hands accepted documents and
//! rejects to a [`Sink`]. A record is accepted whole or rejected whole, never written half-valid;
//! every reject names the source row, column, rule and reason.
//!
//! Privacy: the record id is a keyed hash (HMAC-SHA256 with the node secret) of the local id; a BSN
//! column is checked (elfproef) and used only to find duplicates, never written; contact details are
//! written only when the record's consent allows it; free text is scanned for personal data.

#![cfg_attr(not(test), warn(clippy::unwrap_used))]
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Instant;
use vum::{Finding, Kind, Severity, Validator};

pub mod mapping;
pub mod source;

use mapping::{
    Consent, DateFormat, Field, LeafType, ListMap, Mapping, Privacy, Step, Unmapped, ValueSource,
};
pub use source::{Element, OpenError, Record, RowError};

/// Reject rule: the record has no local id (an empty id column, or a document without its id).
pub const ID_MISSING: &str = "translate/id-ontbreekt";
/// Reject rule: the local id was already accepted at an earlier row of the run.
pub const ID_DUPLICATE: &str = "translate/id-dubbel";
/// Reject rule: a BSN (the BSN column, or a local id declared to be one) fails the elfproef.
pub const BSN_ELFPROEF: &str = "translate/bsn-elfproef";
/// Reject rule: the BSN was already seen at an earlier row of the run.
pub const BSN_DUPLICATE: &str = "translate/bsn-dubbel";
/// Reject rule: a `required` field is empty and has no default.
pub const REQUIRED: &str = "translate/verplicht";
/// Reject rule: a value is not in the field's value map (and `unmapped` is `reject`).
pub const UNMAPPED: &str = "translate/onbekende-waarde";
/// Reject rule: an integer property's value is not a whole number.
pub const NOT_A_NUMBER: &str = "translate/geen-geheel-getal";
/// Reject rule: a date property's value is not a date (in the field's `date_format`).
pub const BAD_DATE: &str = "translate/datum";
/// Reject rule: free text would carry personal data out of the node.
pub const FREE_TEXT_PII: &str = vum::privacy::FREE_TEXT_RULE;
/// Reject rule: a target that holds one value receives several.
pub const MULTIPLE: &str = "translate/meerdere-waarden";

/// Why a record was rejected: one line of the rejects file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// The record's row in the source ([`Record::row`]).
    pub row: u64,
    /// The source column the reject concerns, when it can be named.
    pub column: Option<String>,
    /// The rule id: one of this crate's rule constants (also those of [`source`]), or a
    /// validator rule id.
    pub rule: String,
    /// What is wrong; source values appear only quoted and shortened, never a BSN.
    pub message: String,
}

/// What happened to one record.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The record became a valid VUM document.
    Accepted {
        /// The record's row in the source.
        row: u64,
        /// The record id written into the document.
        id: String,
        /// The document (`Null` when `json` holds it).
        doc: Value,
        /// The validator's warnings about the document.
        warnings: Vec<Finding>,
        /// the document as JSON, when the sink asked for it ([`Sink::wants_json`]); made by the
        /// thread that translated the record, and `doc` is then `Null`
        json: Option<Vec<u8>>,
    },
    /// `vum_id`: the id the record would have had, so a store can stop sharing an earlier version
    Filtered {
        /// The record's row in the source.
        row: u64,
        /// The record id it would have had, when its local id could be read.
        vum_id: Option<String>,
        /// Which consent value or filter left it out, for the summary.
        reason: String,
        /// True when consent left it out, false when a filter did.
        consent: bool,
    },
    /// The record was not written; the rejects say why.
    Rejected {
        /// The record's row in the source.
        row: u64,
        /// Every reason, at least one; the first counts in [`Summary::rejected_by_rule`].
        rejects: Vec<Reject>,
        /// The source values a rejects file may show: (column, values joined by ` | `).
        original: Vec<(String, String)>,
    },
}

/// Counts of a run, by rule.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Summary {
    /// Records read, including rows the source could not read.
    pub read: u64,
    /// Records accepted.
    pub accepted: u64,
    /// Records filtered (consent or filters).
    pub filtered: u64,
    /// Records rejected.
    pub rejected: u64,
    /// Filtered records per reason.
    pub filtered_by_reason: BTreeMap<String, u64>,
    /// Rejected records per rule of their first reject.
    pub rejected_by_rule: BTreeMap<String, u64>,
    /// Warnings about accepted documents per rule.
    pub warnings_by_rule: BTreeMap<String, u64>,
    /// contact values left out because the record's consent does not allow them
    pub contact_withheld: u64,
    /// per field target: values that neither its map nor its lookup knows, with counts (at most
    /// [`MAX_UNMAPPED_VALUES`] values per field; `other_unmapped` counts the rest), so a lookup can
    /// be filled in one pass
    pub unmapped: BTreeMap<String, BTreeMap<String, u64>>,
    /// Unmapped values not kept in `unmapped` because their field already had
    /// [`MAX_UNMAPPED_VALUES`] distinct values.
    pub other_unmapped: u64,
    /// Wall-clock duration of the run.
    pub seconds: f64,
    /// The same counts per PC4 area of the record's postcode (0: none could be read), for the
    /// transparency figures: counts only, never an id.
    #[serde(skip)]
    pub by_pc4: BTreeMap<u16, transparency::figures::ImportCounts>,
}

/// Where the outcomes go (files for `matchgate translate`, the store for `matchgate ingest`).
pub trait Sink {
    /// An accepted document with its source row and record id.
    fn accepted(&mut self, row: u64, id: &str, doc: &Value) -> std::io::Result<()>;
    /// Whether the sink writes accepted documents as JSON: the translating threads then
    /// serialise them and [`Sink::accepted_json`] gets the bytes.
    fn wants_json(&self) -> bool {
        false
    }
    /// An accepted document as JSON (`serde_json::to_vec` of the document), for a sink whose
    /// [`Sink::wants_json`] is true; the translating thread has already let go of the `Value`.
    fn accepted_json(&mut self, row: u64, id: &str, json: &[u8]) -> std::io::Result<()> {
        let doc: Value = serde_json::from_slice(json)?;
        self.accepted(row, id, &doc)
    }
    /// A rejected record: its rejects (messages already cleared of BSN-like numbers) and the
    /// source values it may show.
    fn rejected(
        &mut self,
        rejects: &[Reject],
        original: &[(String, String)],
    ) -> std::io::Result<()>;
    /// A filtered record: not shared. A store tombstones an earlier version of it, if any.
    fn filtered(
        &mut self,
        _row: u64,
        _vum_id: Option<&str>,
        _consent: bool,
    ) -> std::io::Result<()> {
        Ok(())
    }
    /// [`Sink::filtered`] with the PC4 area of the record's postcode (0: none; see
    /// [`Summary::by_pc4`]); by default just [`Sink::filtered`].
    fn filtered_in(
        &mut self,
        row: u64,
        vum_id: Option<&str>,
        consent: bool,
        _pc4: u16,
    ) -> std::io::Result<()> {
        self.filtered(row, vum_id, consent)
    }
    /// The counts so far: after every 10,000 records read and once at the end of the run.
    fn progress(&mut self, _summary: &Summary) {}
}

/// Why a run stopped before its end (a problem with one record is a [`Reject`] instead).
#[derive(Debug, thiserror::Error)]
pub enum TranslateError {
    /// The input could not be opened as the mapping's source.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The sink failed to write.
    #[error("writing output: {0}")]
    Write(#[from] std::io::Error),
    /// The identity column holds BSNs but the mapping does not say so.
    #[error("the identity column '{column}' holds BSNs ({bsns} of the first {ids} ids pass the elfproef). A BSN is not used as a local id by accident: choose another id column, or, if the BSN is the only id this export has, say so with `column_is_bsn = true` under [identity] (the BSN is then keyed like any local id and never written or shown)")]
    IdIsBsn {
        /// The identity column's name.
        column: String,
        /// How many of the looked-at ids pass the elfproef.
        bsns: usize,
        /// How many non-empty ids were looked at (of the first records of the input).
        ids: usize,
    },
}

/// Turns source records into VUM documents. The work per record is split in two: the stateless
/// stages (`Engine::prepare`: admit, identity, privacy, fill, key, validate) need only the mapping,
/// the key and the validator, so they run on several threads; the checks that need the records
/// seen before it (duplicate local ids and BSNs, `Seen::finish`) run in source order, so the
/// output is the same, byte for byte, whatever the thread count.
pub struct Translator {
    engine: Engine,
    seen: Seen,
    threads: usize,
}

/// The stateless part: mapping, id key and validator.
struct Engine {
    mapping: Mapping,
    key: vum::ids::IdKey,
    validator: Validator,
    /// serialise accepted documents (the sink wants JSON)
    serialize: bool,
}

/// What earlier records of the run leave behind.
#[derive(Default)]
struct Seen {
    ids: HashMap<[u8; 16], u64>,
    bsn: HashMap<[u8; 16], u64>,
}

impl Seen {
    /// Finish one record and hand its outcome to the sink; false after a fatal source error.
    fn deliver(
        &mut self,
        engine: &Engine,
        item: Result<Prepared, RowError>,
        s: &mut Summary,
        sink: &mut dyn Sink,
    ) -> Result<bool, TranslateError> {
        s.read += 1;
        let (outcome, go_on, pc4) = match item {
            Ok(p) => {
                let pc4 = p.1;
                (self.finish(engine, p, s), true, pc4)
            }
            Err(e) => {
                let fatal = e.fatal;
                (
                    Outcome::Rejected {
                        row: e.row,
                        rejects: vec![Reject {
                            row: e.row,
                            column: e.column,
                            rule: e.rule.into(),
                            message: e.message,
                        }],
                        original: vec![],
                    },
                    !fatal,
                    None,
                )
            }
        };
        record(s, sink, outcome, pc4.unwrap_or(0))?;
        if s.read.is_multiple_of(10_000) {
            sink.progress(s);
        }
        Ok(go_on)
    }

    /// The stateful checks, in source order: a local id or BSN seen before in this run.
    fn finish(&mut self, engine: &Engine, p: Prepared, summary: &mut Summary) -> Outcome {
        let c = match p.0 {
            PreparedInner::Done(o) => return o,
            PreparedInner::Checked(c) => c,
        };
        let Checked {
            rec,
            id_key,
            id_column,
            bsn,
            contact_withheld,
            unmapped,
            body,
        } = *c;
        let row = rec.row;
        if let Some(reject) = self.seen_before(&id_key, id_column, bsn, row) {
            return Outcome::Rejected {
                row,
                rejects: vec![reject],
                original: engine.original(&rec),
            };
        }
        summary.contact_withheld += contact_withheld;
        for (t, v) in &unmapped {
            summary.add_unmapped(t, v);
        }
        match body {
            Err(rejects) => Outcome::Rejected {
                row,
                rejects,
                original: engine.original(&rec),
            },
            Ok(Body {
                id,
                doc,
                warnings,
                json,
            }) => {
                self.ids.insert(id_key, row);
                Outcome::Accepted {
                    row,
                    id,
                    doc,
                    warnings,
                    json,
                }
            }
        }
    }

    /// A local id accepted earlier, an invalid BSN, or a BSN seen earlier: the reject. A valid BSN
    /// seen for the first time is remembered (whether or not the record is accepted).
    fn seen_before(
        &mut self,
        id_key: &[u8; 16],
        id_column: Option<String>,
        bsn: Bsn,
        row: u64,
    ) -> Option<Reject> {
        let reject = |rule: &str, column: Option<String>, message: String| Reject {
            row,
            column,
            rule: rule.into(),
            message,
        };
        if let Some(prev) = self.ids.get(id_key) {
            return Some(reject(
                ID_DUPLICATE,
                id_column,
                format!("the local id also appears at row {prev}"),
            ));
        }
        match bsn {
            Bsn::Absent => None,
            Bsn::Invalid(col) => Some(reject(
                BSN_ELFPROEF,
                Some(col),
                "the BSN is not 9 digits passing the elfproef".into(),
            )),
            Bsn::Valid(col, k) => {
                if let Some(prev) = self.bsn.get(&k) {
                    return Some(reject(
                        BSN_DUPLICATE,
                        Some(col),
                        format!(
                            "the same person (BSN) is already at row {prev} under another local id"
                        ),
                    ));
                }
                self.bsn.insert(k, row);
                None
            }
        }
    }
}

/// A record after the stateless stages.
pub struct Prepared(PreparedInner, Option<u16>);

enum PreparedInner {
    Done(Outcome),
    Checked(Box<Checked>),
}

struct Checked {
    rec: Record,
    id_key: [u8; 16],
    id_column: Option<String>,
    bsn: Bsn,
    contact_withheld: u64,
    /// (field target, value) the value maps did not know
    unmapped: Vec<(String, String)>,
    body: Result<Body, Vec<Reject>>,
}

enum Bsn {
    Absent,
    /// the column's value fails the elfproef
    Invalid(String),
    /// column, keyed BSN
    Valid(String, [u8; 16]),
}

struct Body {
    id: String,
    doc: Value,
    warnings: Vec<Finding>,
    json: Option<Vec<u8>>,
}

/// Distinct unmapped values kept per field in the summary.
pub const MAX_UNMAPPED_VALUES: usize = 1000;

impl Summary {
    fn add_unmapped(&mut self, target: &str, value: &str) {
        let values = self.unmapped.entry(target.to_string()).or_default();
        if let Some(n) = values.get_mut(value) {
            *n += 1;
        } else if values.len() < MAX_UNMAPPED_VALUES {
            values.insert(value.to_string(), 1);
        } else {
            self.other_unmapped += 1;
        }
    }

    /// The most frequent unmapped values of each field, most frequent first.
    pub fn top_unmapped(&self, n: usize) -> Vec<(&str, Vec<(&str, u64)>)> {
        self.unmapped
            .iter()
            .map(|(t, vals)| {
                let mut v: Vec<(&str, u64)> = vals.iter().map(|(k, c)| (k.as_str(), *c)).collect();
                v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
                v.truncate(n);
                (t.as_str(), v)
            })
            .collect()
    }
}

/// Records handed to a worker at a time.
const CHUNK: usize = 256;
/// Records looked at before a run starts, to tell whether the identity column holds BSNs.
const BSN_PEEK: usize = 200;
/// Longest source value quoted in a message.
const QUOTE_MAX: usize = 60;

impl Translator {
    /// `secret` is the node secret that keys the record ids; the same secret gives the same ids.
    pub fn new(mapping: Mapping, secret: &[u8], validator: Validator) -> Translator {
        let key = vum::ids::IdKey::new(secret);
        Translator {
            engine: Engine {
                mapping,
                key,
                validator,
                serialize: false,
            },
            seen: Seen::default(),
            threads: 1,
        }
    }

    /// Translate on this many threads (at least 1). Output order and bytes do not depend on it.
    pub fn with_threads(mut self, threads: usize) -> Translator {
        self.threads = threads.max(1);
        self
    }

    /// The mapping this translator applies.
    pub fn mapping(&self) -> &Mapping {
        &self.engine.mapping
    }

    /// The VUM id of a local id: hex of the first 128 bits of HMAC-SHA256(secret, kind || 0 || id).
    pub fn vum_id(&self, local_id: &str) -> String {
        self.engine.vum_id(local_id)
    }

    /// Translate every record of `input` into `sink`.
    pub fn run(&mut self, input: &Path, sink: &mut dyn Sink) -> Result<Summary, TranslateError> {
        let start = Instant::now();
        let span = tracing::info_span!("translate", kind = %self.engine.mapping.kind, input = %input.display(), threads = self.threads);
        let _g = span.enter();
        let mut records = source::open(&self.engine.mapping, input)?;
        let mut head = Vec::new();
        for item in records.by_ref() {
            head.push(item);
            if head.len() == BSN_PEEK {
                break;
            }
        }
        self.engine.refuse_undeclared_bsn_ids(&head)?;
        self.engine.serialize = sink.wants_json();
        let records = head.into_iter().chain(records);
        let mut s = Summary::default();
        if self.threads <= 1 {
            let mut batch = tracing::info_span!("import_batch", first_row = 1u64);
            for item in records {
                if s.read.is_multiple_of(10_000) {
                    batch = tracing::info_span!("import_batch", first_row = s.read + 1);
                }
                let _b = batch.enter();
                let prepared = item.map(|rec| self.engine.prepare(rec));
                if !self.seen.deliver(&self.engine, prepared, &mut s, sink)? {
                    break;
                }
            }
        } else {
            self.run_parallel(records, &mut s, sink)?;
        }
        s.seconds = start.elapsed().as_secs_f64();
        sink.progress(&s);
        tracing::info!(
            read = s.read,
            accepted = s.accepted,
            filtered = s.filtered,
            rejected = s.rejected,
            "translation done"
        );
        Ok(s)
    }

    /// One reader thread hands chunks of records to `threads` workers that prepare them; this
    /// thread puts the chunks back in source order and finishes each record.
    fn run_parallel(
        &mut self,
        records: impl Iterator<Item = Result<Record, RowError>> + Send,
        s: &mut Summary,
        sink: &mut dyn Sink,
    ) -> Result<(), TranslateError> {
        type Chunk<T> = (u64, Vec<Result<T, RowError>>);
        let threads = self.threads;
        let engine = &self.engine;
        let seen = &mut self.seen;
        let (work_tx, work_rx) = std::sync::mpsc::sync_channel::<Chunk<Record>>(threads * 2);
        let (done_tx, done_rx) = std::sync::mpsc::sync_channel::<Chunk<Prepared>>(threads * 2);
        let work_rx = std::sync::Mutex::new(work_rx);
        let parent = tracing::Span::current();
        std::thread::scope(|scope| {
            scope.spawn(move || {
                let mut records = records;
                let mut seq = 0u64;
                loop {
                    let mut chunk = Vec::with_capacity(CHUNK);
                    let mut end = false;
                    for item in records.by_ref() {
                        let fatal = matches!(&item, Err(e) if e.fatal);
                        chunk.push(item);
                        if fatal {
                            end = true;
                            break;
                        }
                        if chunk.len() == CHUNK {
                            break;
                        }
                    }
                    if chunk.is_empty() || work_tx.send((seq, chunk)).is_err() {
                        return;
                    }
                    seq += 1;
                    if end {
                        return;
                    }
                }
            });
            for _ in 0..threads {
                let done_tx = done_tx.clone();
                let work_rx = &work_rx;
                let parent = parent.clone();
                scope.spawn(move || {
                    let _g = tracing::info_span!(parent: &parent, "translate_worker").entered();
                    loop {
                        let next = match work_rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        let Ok((seq, chunk)) = next else { return };
                        let out = chunk
                            .into_iter()
                            .map(|item| item.map(|rec| engine.prepare(rec)))
                            .collect();
                        if done_tx.send((seq, out)).is_err() {
                            return;
                        }
                    }
                });
            }
            drop(done_tx);
            let mut pending: BTreeMap<u64, Vec<Result<Prepared, RowError>>> = BTreeMap::new();
            let mut next = 0u64;
            let mut batch = tracing::info_span!("import_batch", first_row = 1u64);
            for (seq, chunk) in done_rx.iter() {
                pending.insert(seq, chunk);
                while let Some(chunk) = pending.remove(&next) {
                    next += 1;
                    for item in chunk {
                        if s.read.is_multiple_of(10_000) {
                            batch = tracing::info_span!("import_batch", first_row = s.read + 1);
                        }
                        let _b = batch.enter();
                        if !seen.deliver(engine, item, s, sink)? {
                            return Ok(());
                        }
                    }
                }
            }
            Ok(())
        })
    }

    /// Translate one record.
    pub fn translate_record(&mut self, rec: &Record, summary: &mut Summary) -> Outcome {
        let p = self.engine.prepare(rec.clone());
        self.seen.finish(&self.engine, p, summary)
    }
}

/// Where a value of the record came from, for messages and for mapping validator findings back
/// to source columns.
struct Filled {
    doc: Value,
    /// where each written value came from, turned into (JSON pointer, source column) only when
    /// a validator finding needs it
    places: Vec<Place>,
    rejects: Vec<Reject>,
    contact_withheld: u64,
    unmapped: Vec<(String, String)>,
}

/// A value written from a source column: field `field` (of `[fields]`, or of list `list.0` whose
/// element `list.1` it is in), value number `i`.
#[derive(Clone, Copy)]
struct Place {
    list: Option<(usize, usize)>,
    field: usize,
    i: usize,
}

impl Filled {
    fn new(doc: Value) -> Filled {
        Filled {
            doc,
            places: Vec::new(),
            rejects: Vec::new(),
            contact_withheld: 0,
            unmapped: Vec::new(),
        }
    }
}

impl Engine {
    fn vum_id(&self, local_id: &str) -> String {
        self.key.record_id(self.mapping.kind, local_id)
    }

    fn is_null(&self, v: &str, extra: &[String]) -> bool {
        let v = v.trim();
        v.is_empty()
            || self
                .mapping
                .null_values
                .iter()
                .chain(extra)
                .any(|n| n.eq_ignore_ascii_case(v))
    }

    /// The first value of a column that is not empty or a null value.
    fn first<'r>(&self, rec: &'r Record, column: usize) -> Option<&'r str> {
        rec.values
            .get(column)?
            .iter()
            .map(|s| s.trim())
            .find(|s| !self.is_null(s, &[]))
    }

    /// An identity column that is mostly BSNs must be declared as such.
    fn refuse_undeclared_bsn_ids(
        &self,
        head: &[Result<Record, RowError>],
    ) -> Result<(), TranslateError> {
        let m = &self.mapping;
        let Some(c) = m.id_column else { return Ok(()) };
        if m.id_is_bsn {
            return Ok(());
        }
        let ids: Vec<&str> = head
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .filter_map(|r| self.first(r, c))
            .collect();
        let bsns = ids.iter().filter(|v| looks_like_bsn(v)).count();
        if ids.len() >= 3 && bsns * 2 > ids.len() {
            return Err(TranslateError::IdIsBsn {
                column: m.columns[c].clone(),
                bsns,
                ids: ids.len(),
            });
        }
        Ok(())
    }

    /// The stateless stages: admit (consent, filters) → identity → privacy (BSN) → fill → key →
    /// validate.
    fn prepare(&self, rec: Record) -> Prepared {
        let m = &self.mapping;
        let pc4 = self.pc4_of(&rec);
        let contact_allowed = match self.admit(&rec) {
            Ok(c) => c,
            Err(o) => return Prepared(PreparedInner::Done(o), pc4),
        };
        let (local_id, id_column) = match self.local_id(&rec) {
            Ok(x) => x,
            Err(rejects) => {
                return Prepared(
                    PreparedInner::Done(Outcome::Rejected {
                        row: rec.row,
                        rejects,
                        original: self.original(&rec),
                    }),
                    pc4,
                )
            }
        };
        // one HMAC gives both the key that finds duplicate local ids and the VUM id
        let id_key = self.key.record_id_bytes(m.kind, &local_id);
        let bsn = self.bsn(&rec);
        let mut filled = match &rec.doc {
            Some(doc) => self.take_document(doc, rec.row, contact_allowed),
            None => self.fill(&rec, contact_allowed),
        };
        let body = if filled.rejects.is_empty() {
            let id = self.key_document(&rec, local_id, &id_key, &mut filled.doc);
            self.validate(rec.row, id, filled.doc, &filled.places)
        } else {
            Err(filled.rejects)
        };
        Prepared(
            PreparedInner::Checked(Box::new(Checked {
                rec,
                id_key,
                id_column,
                bsn,
                contact_withheld: filled.contact_withheld,
                unmapped: filled.unmapped,
                body,
            })),
            pc4,
        )
    }

    /// The PC4 area of the record's postcode (`mobiliteit.bemiddelingspostcode` of a
    /// werkzoekende, `adres.postcode` of a vacature), from the document of a `vum` source or the
    /// column the mapping fills it from; none when it has none or it does not start with four
    /// digits (1000-9999).
    fn pc4_of(&self, rec: &Record) -> Option<u16> {
        let m = &self.mapping;
        let (pointer, target) = match m.kind {
            Kind::Vacature => ("/adres/postcode", "adres.postcode"),
            _ => (
                "/mobiliteit/bemiddelingspostcode",
                "mobiliteit.bemiddelingspostcode",
            ),
        };
        let raw = match &rec.doc {
            Some(doc) => doc.pointer(pointer)?.as_str()?,
            None => {
                let f = m.fields.iter().find(|f| f.target == target)?;
                match &f.source {
                    ValueSource::Column(c) => self.first(rec, *c)?,
                    ValueSource::Constant(v) => v.as_str(),
                }
            }
        };
        let d = raw.trim().get(..4)?;
        if !d.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        d.parse::<u16>().ok().filter(|n| *n >= 1000)
    }

    /// The record's BSN column: absent, failing the elfproef, or valid and keyed (the BSN itself
    /// is not kept).
    fn bsn(&self, rec: &Record) -> Bsn {
        let m = &self.mapping;
        let Some(bc) = m.bsn_column else {
            return Bsn::Absent;
        };
        let Some(raw) = self.first(rec, bc) else {
            return Bsn::Absent;
        };
        let col = m.columns[bc].clone();
        match vum::privacy::normalise_bsn(raw).filter(|b| vum::privacy::is_valid_bsn(b)) {
            None => Bsn::Invalid(col),
            Some(b) => {
                let h = self.key.keyed(&["bsn", &b]);
                Bsn::Valid(col, h[..16].try_into().unwrap_or_default())
            }
        }
    }

    /// The record id, written into the document: the keyed local id, or a `vum` document's own
    /// id unless the mapping keys it.
    fn key_document(
        &self,
        rec: &Record,
        local_id: String,
        id_key: &[u8; 16],
        doc: &mut Value,
    ) -> String {
        let m = &self.mapping;
        let id = if rec.doc.is_some() && !m.key_document_id {
            local_id
        } else {
            hex::encode(id_key)
        };
        if let Value::Object(o) = doc {
            o.insert(
                vum::record_id_property(m.kind).to_string(),
                Value::String(id.clone()),
            );
        }
        id
    }

    /// Consent and filters: a record that fails is filtered (counted), not judged. Ok: whether
    /// contact details may be written.
    fn admit(&self, rec: &Record) -> Result<bool, Outcome> {
        let m = &self.mapping;
        let filtered = |reason: String, consent: bool| {
            let vum_id = self.local_id(rec).ok().map(|(id, _)| {
                if rec.doc.is_some() && !m.key_document_id {
                    id
                } else {
                    self.vum_id(&id)
                }
            });
            Outcome::Filtered {
                row: rec.row,
                vum_id,
                reason,
                consent,
            }
        };
        let mut contact_allowed = false;
        match &m.consent {
            None => {}
            Some(Consent::Constant { contact }) => contact_allowed = *contact,
            Some(Consent::Column {
                column,
                share,
                contact,
            }) => {
                let v = self.first(rec, *column).unwrap_or("");
                if !share.iter().any(|s| s.eq_ignore_ascii_case(v)) {
                    return Err(filtered(
                        format!("consent {}: {}", m.columns[*column], quote(v)),
                        true,
                    ));
                }
                contact_allowed = contact.iter().any(|s| s.eq_ignore_ascii_case(v));
            }
        }
        for f in &m.filters {
            let v = self.first(rec, f.column).unwrap_or("");
            let keep = f.one_of.as_ref().is_none_or(|l| l.iter().any(|x| x == v))
                && f.not_in.as_ref().is_none_or(|l| !l.iter().any(|x| x == v));
            if !keep {
                return Err(filtered(format!("filter {}", m.columns[f.column]), false));
            }
        }
        Ok(contact_allowed)
    }

    /// The record's local id (a `vum` document's own id) and the column it came from.
    fn local_id(&self, rec: &Record) -> Result<(String, Option<String>), Vec<Reject>> {
        let m = &self.mapping;
        let reject = |column: Option<String>, rule: &str, message: &str| {
            vec![Reject {
                row: rec.row,
                column,
                rule: rule.into(),
                message: message.into(),
            }]
        };
        let Some(c) = m.id_column else {
            let prop = vum::record_id_property(m.kind);
            let id = rec
                .doc
                .as_ref()
                .and_then(|d| d.get(prop))
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty());
            return match id {
                Some(id) => Ok((id.to_string(), Some(prop.to_string()))),
                None => Err(reject(
                    Some(prop.into()),
                    ID_MISSING,
                    &format!("the document has no {prop}"),
                )),
            };
        };
        let col = m.columns[c].clone();
        let Some(id) = self.first(rec, c) else {
            return Err(reject(Some(col), ID_MISSING, "the local id is empty"));
        };
        if m.id_is_bsn {
            return match vum::privacy::normalise_bsn(id).filter(|b| vum::privacy::is_valid_bsn(b)) {
                Some(b) => Ok((b, Some(col))),
                None => Err(reject(
                    Some(col),
                    BSN_ELFPROEF,
                    "the local id (a BSN) is not 9 digits passing the elfproef",
                )),
            };
        }
        Ok((id.to_string(), Some(col)))
    }

    /// Fill a document from the record's columns and lists, then set the contact indicator.
    fn fill(&self, rec: &Record, contact_allowed: bool) -> Filled {
        let m = &self.mapping;
        let mut out = Filled::new(Value::Object(Map::new()));
        for (fi, f) in m.fields.iter().enumerate() {
            let column = match f.source {
                ValueSource::Column(c) => Some(m.columns[c].as_str()),
                ValueSource::Constant(_) => None,
            };
            let cells = cells(f, &rec.values);
            let Some(values) = self.values(f, cells, column, rec.row, contact_allowed, &mut out)
            else {
                continue;
            };
            put(&mut out, f, fi, values, column, rec.row);
        }
        for (g, l) in m.lists.iter().enumerate() {
            let elements = rec.lists.get(g).map(Vec::as_slice).unwrap_or(&[]);
            self.fill_list(g, l, elements, rec.row, contact_allowed, &mut out);
        }
        compact(&mut out.doc);
        if m.kind == Kind::Werkzoekende && !derives_indicator(m) {
            set_contact_indicator(&mut out.doc);
        }
        out
    }

    /// Fill list `g` of the mapping: each source element that gives at least one value becomes
    /// the next element of the target list.
    fn fill_list(
        &self,
        g: usize,
        l: &ListMap,
        elements: &[Element],
        row: u64,
        contact_allowed: bool,
        out: &mut Filled,
    ) {
        let mut k = 0;
        for (e, element) in elements.iter().enumerate() {
            let inner = self.fill_element(l, element, row, contact_allowed);
            out.contact_withheld += inner.contact_withheld;
            out.unmapped.extend(inner.unmapped);
            for mut r in inner.rejects {
                r.message = format!("element {} of {}: {}", e + 1, l.from, r.message);
                out.rejects.push(r);
            }
            if inner.doc.as_object().is_some_and(|o| !o.is_empty()) {
                place(&mut out.doc, &l.steps, k, inner.doc);
                out.places.extend(inner.places.into_iter().map(|p| Place {
                    list: Some((g, k)),
                    ..p
                }));
                k += 1;
            }
        }
    }

    /// One element of a source list as an object, its fields read relative to the element.
    fn fill_element(
        &self,
        l: &ListMap,
        element: &Element,
        row: u64,
        contact_allowed: bool,
    ) -> Filled {
        let mut inner = Filled::new(Value::Object(Map::new()));
        for (fi, f) in l.fields.iter().enumerate() {
            let column = match f.source {
                ValueSource::Column(c) => Some(element_column(&l.from, &l.columns[c])),
                ValueSource::Constant(_) => None,
            };
            let cells = cells(f, element);
            let Some(values) = self.values(
                f,
                cells,
                column.as_deref(),
                row,
                contact_allowed,
                &mut inner,
            ) else {
                continue;
            };
            put(&mut inner, f, fi, values, column.as_deref(), row);
        }
        inner
    }

    /// A `vum` document: taken as it is, without contact details when consent does not allow
    /// them, and without the consent property the mapping reads from it.
    fn take_document(&self, doc: &Value, row: u64, contact_allowed: bool) -> Filled {
        let m = &self.mapping;
        let mut doc = doc.clone();
        let mut out = Filled::new(Value::Null);
        if let Some(Consent::Column { column, .. }) = &m.consent {
            let pointer = &m.columns[*column];
            if let (Some(key), Value::Object(o)) = (pointer.strip_prefix('/'), &mut doc) {
                if !key.contains('/') {
                    o.remove(key);
                }
            }
        }
        if m.kind == Kind::Werkzoekende && !contact_allowed {
            if let Value::Object(o) = &mut doc {
                for p in ["emailadres", "telefoonnummer", "contactpersoon", "webadres"] {
                    if o.remove(p).is_some_and(|v| !is_empty(&v)) {
                        out.contact_withheld += 1;
                    }
                }
                if out.contact_withheld > 0 && o.contains_key(CONTACT_INDICATOR) {
                    o.insert(CONTACT_INDICATOR.into(), Value::from(2));
                }
            }
        }
        if let Some((pointer, pii)) = vum::privacy::scan_document(&doc) {
            out.rejects.push(Reject {
                row,
                column: None,
                rule: FREE_TEXT_PII.into(),
                message: format!("{pointer} would carry {} out of the node", pii.describe()),
            });
        }
        out.doc = doc;
        out
    }

    /// One field's values, through null values, default, required, consent, remove/uppercase,
    /// split, value map, type conversion and the free-text scan. None: nothing to write.
    fn values(
        &self,
        f: &Field,
        cells: Vec<&str>,
        column: Option<&str>,
        row: u64,
        contact_allowed: bool,
        out: &mut Filled,
    ) -> Option<Vec<Value>> {
        let reject = |rule: &str, message: String| Reject {
            row,
            column: column.map(str::to_string),
            rule: rule.to_string(),
            message,
        };
        // (cleaned value, the cell as it was)
        let mut raw = self.present(f, cells);
        if raw.is_empty() {
            if let Some(d) = &f.default {
                raw.push((d.clone(), d.as_str()));
            } else {
                if f.required {
                    out.rejects.push(reject(
                        REQUIRED,
                        format!("{} is required and the value is empty", f.target),
                    ));
                }
                return None;
            }
        }
        if f.privacy == Privacy::Contact && !contact_allowed {
            out.contact_withheld += 1;
            return None;
        }
        let mut values: Vec<Value> = Vec::new();
        for (p, cell) in split(f, raw) {
            let converted = match map_value(f, p, cell, &mut out.unmapped) {
                Ok(Some(p)) => convert(f, &p, cell),
                Ok(None) => continue,
                Err(e) => Err(e),
            };
            match converted {
                Ok(v) => values.push(v),
                Err((rule, msg)) => out.rejects.push(reject(rule, msg)),
            }
        }
        if let Some(message) = free_text_pii(f, &values) {
            out.rejects.push(reject(FREE_TEXT_PII, message));
            return None;
        }
        Some(values)
    }

    /// The cells that hold a value after `remove`/`uppercase` (not empty, not a null value),
    /// each as (cleaned value, the cell as it was).
    fn present<'c>(&self, f: &Field, cells: Vec<&'c str>) -> Vec<(String, &'c str)> {
        cells
            .into_iter()
            .filter(|c| !self.is_null(c, &f.null_values))
            .map(|c| (clean(f, c), c))
            .filter(|(v, _)| !self.is_null(v, &f.null_values))
            .collect()
    }

    /// Validate the finished document; findings name the source column their pointer came from.
    fn validate(
        &self,
        row: u64,
        id: String,
        doc: Value,
        places: &[Place],
    ) -> Result<Body, Vec<Reject>> {
        let report = self.validator.validate_value(self.mapping.kind, &doc);
        if !report.is_valid() {
            let places: Vec<(String, String)> =
                places.iter().filter_map(|p| self.place_of(p)).collect();
            return Err(report
                .errors()
                .map(|f| {
                    let col = places
                        .iter()
                        .filter(|(p, _)| {
                            f.pointer.starts_with(p.as_str()) || p.starts_with(&f.pointer)
                        })
                        .max_by_key(|(p, _)| p.len())
                        .map(|(_, c)| c.clone());
                    Reject {
                        row,
                        column: col,
                        rule: f.rule.clone(),
                        message: format!(
                            "{}: {}",
                            if f.pointer.is_empty() {
                                "(document)"
                            } else {
                                &f.pointer
                            },
                            f.message
                        ),
                    }
                })
                .collect());
        }
        let warnings = report
            .findings
            .into_iter()
            .filter(|f| f.severity == Severity::Warning)
            .collect();
        // a sink that writes JSON gets the bytes; the document is freed here, on this thread
        let (doc, json) = match self.serialize.then(|| serde_json::to_vec(&doc)) {
            Some(Ok(j)) => (Value::Null, Some(j)),
            _ => (doc, None),
        };
        Ok(Body {
            id,
            doc,
            warnings,
            json,
        })
    }

    /// The JSON pointer and source column of a written value.
    fn place_of(&self, p: &Place) -> Option<(String, String)> {
        let m = &self.mapping;
        match p.list {
            None => {
                let f = m.fields.get(p.field)?;
                let ValueSource::Column(c) = f.source else {
                    return None;
                };
                Some((pointer_of(&f.steps, p.i), m.columns.get(c)?.clone()))
            }
            Some((g, k)) => {
                let l = m.lists.get(g)?;
                let f = l.fields.get(p.field)?;
                let ValueSource::Column(c) = f.source else {
                    return None;
                };
                Some((
                    format!("{}{}", pointer_of(&l.steps, k), pointer_of(&f.steps, p.i)),
                    element_column(&l.from, l.columns.get(c)?),
                ))
            }
        }
    }

    /// The source values a rejects file may show: mapped columns only, never a BSN column, a BSN
    /// used as local id, contact columns, or any value that looks like a BSN.
    fn original(&self, rec: &Record) -> Vec<(String, String)> {
        let m = &self.mapping;
        let contact_cols: Vec<usize> = m
            .fields
            .iter()
            .filter(|f| f.privacy == Privacy::Contact)
            .filter_map(|f| match f.source {
                ValueSource::Column(c) => Some(c),
                ValueSource::Constant(_) => None,
            })
            .collect();
        let hidden = |i: usize| {
            Some(i) == m.bsn_column
                || (m.id_is_bsn && Some(i) == m.id_column)
                || contact_cols.contains(&i)
        };
        m.columns
            .iter()
            .enumerate()
            .filter(|(i, _)| !hidden(*i))
            .map(|(i, c)| {
                let v = rec
                    .values
                    .get(i)
                    .map(|v| {
                        v.iter()
                            .map(|x| {
                                if looks_like_bsn(x) {
                                    "(BSN?)"
                                } else {
                                    x.as_str()
                                }
                            })
                            .collect::<Vec<_>>()
                            .join(" | ")
                    })
                    .unwrap_or_default();
                (c.clone(), v)
            })
            .collect()
    }
}

/// A list element's column as rejects name it: the list's `from` and the element-relative column.
fn element_column(from: &str, rel: &str) -> String {
    format!(
        "{}/{}",
        from.trim_end_matches('/'),
        rel.trim_start_matches('/')
    )
}

const CONTACT_INDICATOR: &str = "indicatieBeschikbaarheidContactgegevens";

fn derives_indicator(m: &Mapping) -> bool {
    m.fields
        .iter()
        .any(|f| matches!(f.steps.first(), Some(Step::Prop(p)) if p == CONTACT_INDICATOR))
}

/// The cells a field reads: its column's values, or its constant.
fn cells<'r>(f: &'r Field, values: &'r [Vec<String>]) -> Vec<&'r str> {
    match &f.source {
        ValueSource::Column(c) => values
            .get(*c)
            .map(|v| v.iter().map(String::as_str).collect())
            .unwrap_or_default(),
        ValueSource::Constant(v) => vec![v.as_str()],
    }
}

/// `remove` and `uppercase` applied, trimmed.
fn clean(f: &Field, cell: &str) -> String {
    let mut v = cell.trim().to_string();
    if let Some(chars) = &f.remove {
        v.retain(|c| !chars.contains(c));
    }
    if f.uppercase {
        v = v.to_uppercase();
    }
    v.trim().to_string()
}

/// With `split`: every value cut at the separator into its trimmed, non-empty parts, each with
/// the cell it came from.
fn split<'c>(f: &Field, raw: Vec<(String, &'c str)>) -> Vec<(String, &'c str)> {
    match &f.split {
        Some(sep) => raw
            .iter()
            .flat_map(|(v, cell)| {
                v.split(sep.as_str())
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty())
                    .map(move |p| (p, *cell))
            })
            .collect(),
        None => raw,
    }
}

/// A value through the field's value map. `Ok(None)`: left out (mapped to nothing, or unknown
/// and `unmapped = "drop"`); `Err`: unknown and `unmapped = "reject"`. An unknown value that does
/// not look like a BSN is noted in `unmapped`.
fn map_value(
    f: &Field,
    p: String,
    cell: &str,
    unmapped: &mut Vec<(String, String)>,
) -> Result<Option<String>, (&'static str, String)> {
    let Some(map) = &f.map else {
        return Ok(Some(p));
    };
    let key = if f.ignore_case {
        p.to_lowercase()
    } else {
        p.clone()
    };
    match map.get(&key) {
        Some(v) if v.is_empty() => Ok(None), // mapped to nothing: deliberately left out
        Some(v) => Ok(Some(v.clone())),
        None => {
            if !looks_like_bsn(&p) {
                let value: String = p.chars().take(QUOTE_MAX).collect();
                unmapped.push((f.target.clone(), value));
            }
            match f.unmapped {
                Unmapped::Reject => Err((
                    UNMAPPED,
                    format!(
                        "{} is not in the value map of {}",
                        shown(&p, cell),
                        f.target
                    ),
                )),
                Unmapped::Drop => Ok(None),
                Unmapped::Keep => Ok(Some(p)),
            }
        }
    }
}

/// For a free-text field: the message when a value holds personal data.
fn free_text_pii(f: &Field, values: &[Value]) -> Option<String> {
    if f.privacy != Privacy::FreeText {
        return None;
    }
    let kind = values
        .iter()
        .filter_map(Value::as_str)
        .find_map(vum::privacy::scan_free_text)?;
    Some(format!(
        "{} would carry {} out of the node",
        f.target,
        kind.describe()
    ))
}

/// Say in the document whether it holds contact details (`1`) or not (`2`).
fn set_contact_indicator(doc: &mut Value) {
    let present = ["emailadres", "telefoonnummer", "contactpersoon"]
        .iter()
        .any(|p| doc.get(p).is_some_and(|v| !is_empty(v)));
    if let Value::Object(o) = doc {
        o.insert(
            CONTACT_INDICATOR.into(),
            Value::from(if present { 1 } else { 2 }),
        );
    }
}

/// Put a field's values into the document: the i-th value into element i of a `[]` list; a
/// single-valued target that receives several values rejects the record.
fn put(out: &mut Filled, f: &Field, fi: usize, values: Vec<Value>, column: Option<&str>, row: u64) {
    if values.len() > 1 && !f.steps.contains(&Step::Each) {
        out.rejects.push(Reject {
            row,
            column: column.map(str::to_string),
            rule: MULTIPLE.into(),
            message: format!(
                "{} values for {}, which holds one (map the list with '[]' or [lists])",
                values.len(),
                f.target
            ),
        });
        return;
    }
    let from_column = matches!(f.source, ValueSource::Column(_));
    for (i, v) in values.into_iter().enumerate() {
        place(&mut out.doc, &f.steps, i, v);
        if from_column {
            out.places.push(Place {
                list: None,
                field: fi,
                i,
            });
        }
    }
}

/// The JSON pointer `place` writes value `i` of these steps to.
fn pointer_of(steps: &[Step], i: usize) -> String {
    let mut pointer = String::new();
    for s in steps {
        pointer.push('/');
        match s {
            Step::Prop(p) => pointer.push_str(p),
            Step::Each => pointer.push_str(&i.to_string()),
            Step::Index(n) => pointer.push_str(&n.to_string()),
        }
    }
    pointer
}

/// A 9-digit value (spaces, dots and dashes allowed) that passes the elfproef.
fn looks_like_bsn(v: &str) -> bool {
    vum::privacy::normalise_bsn(v).is_some_and(|b| vum::privacy::is_valid_bsn(&b))
}

/// Every 9-digit number that passes the elfproef replaced by "(BSN?)".
pub fn scrub_bsns(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let run = &text[start..i];
            if run.len() == 9 && vum::privacy::is_valid_bsn(run) {
                out.push_str(&text[copied..start]);
                out.push_str("(BSN?)");
                copied = i;
            }
        } else {
            i += 1;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// A source value as a message may show it: quoted, shortened, never a BSN.
fn quote(v: &str) -> String {
    if looks_like_bsn(v) {
        return "(a BSN-like value)".into();
    }
    let mut out: String = v.chars().take(QUOTE_MAX).collect();
    if out.len() < v.len() {
        out.push('…');
    }
    format!("'{}'", out.escape_debug())
}

/// A value and, when `remove`/`uppercase`/`split` changed it, the cell it came from.
fn shown(part: &str, cell: &str) -> String {
    if part == cell.trim() {
        quote(part)
    } else {
        format!("{} (cell {})", quote(part), quote(cell))
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.iter().all(is_empty),
        Value::Object(o) => o.values().all(is_empty),
        _ => false,
    }
}

/// Drop the holes that fixed indexes leave in lists (`[2]` alone) and empty objects and lists:
/// VUM reads them as absent anyway.
fn compact(v: &mut Value) {
    match v {
        Value::Object(o) => {
            o.values_mut().for_each(compact);
            o.retain(|_, v| match v {
                Value::Null => false,
                Value::Object(_) | Value::Array(_) => !is_empty(v),
                _ => true,
            });
        }
        Value::Array(a) => {
            a.iter_mut().for_each(compact);
            a.retain(|v| !is_empty(v));
        }
        _ => {}
    }
}

fn record(
    s: &mut Summary,
    sink: &mut dyn Sink,
    o: Outcome,
    pc4: u16,
) -> Result<(), TranslateError> {
    let area = s.by_pc4.entry(pc4).or_default();
    area.offered += 1;
    match &o {
        Outcome::Accepted { warnings, .. } => {
            area.accepted += 1;
            for w in warnings {
                *area.warnings_by_rule.entry(w.rule.to_string()).or_default() += 1;
            }
        }
        Outcome::Filtered { consent: true, .. } => area.no_consent += 1,
        Outcome::Filtered { .. } => area.filtered += 1,
        Outcome::Rejected { rejects, .. } => {
            area.rejected += 1;
            if let Some(first) = rejects.first() {
                *area.rejected_by_rule.entry(first.rule.clone()).or_default() += 1;
            }
        }
    }
    match o {
        Outcome::Accepted {
            row,
            id,
            doc,
            warnings,
            json,
        } => {
            s.accepted += 1;
            for w in warnings {
                *s.warnings_by_rule.entry(w.rule).or_default() += 1;
            }
            match json {
                Some(j) => sink.accepted_json(row, &id, &j)?,
                None => sink.accepted(row, &id, &doc)?,
            }
        }
        Outcome::Filtered {
            row,
            vum_id,
            reason,
            consent,
        } => {
            s.filtered += 1;
            *s.filtered_by_reason.entry(reason).or_default() += 1;
            sink.filtered_in(row, vum_id.as_deref(), consent, pc4)?;
        }
        Outcome::Rejected {
            mut rejects,
            original,
            ..
        } => {
            // the one way out for rejects: no BSN-like number leaves in a message (the
            // validator's messages quote document values)
            for r in &mut rejects {
                r.message = scrub_bsns(&r.message);
            }
            s.rejected += 1;
            if let Some(first) = rejects.first() {
                *s.rejected_by_rule.entry(first.rule.clone()).or_default() += 1;
            }
            sink.rejected(&rejects, &original)?;
        }
    }
    Ok(())
}

/// Convert a source value to the target's JSON type.
fn convert(f: &Field, v: &str, cell: &str) -> Result<Value, (&'static str, String)> {
    let quoted = || shown(v, cell);
    match f.leaf {
        LeafType::String => Ok(Value::String(v.to_string())),
        LeafType::Integer => parse_whole(v).map(Value::from).ok_or_else(|| {
            (
                NOT_A_NUMBER,
                format!("{} is not a whole number ({})", quoted(), f.target),
            )
        }),
        LeafType::Date => parse_date(v, f.date_format)
            .map(Value::String)
            .ok_or_else(|| {
                (
                    BAD_DATE,
                    format!(
                        "{} is not a date{} ({})",
                        quoted(),
                        match f.date_format {
                            Some(DateFormat::DayMonthYear(c)) => format!(" as dd{c}mm{c}yyyy"),
                            Some(DateFormat::Excel) => " as an Excel serial number".to_string(),
                            _ => " (yyyy-mm-dd, dd-mm-yyyy or an Excel date)".to_string(),
                        },
                        f.target
                    ),
                )
            }),
    }
}

/// "36", "36,0", "36.00", "+3" -> integer; "36,5" or "abc" -> None.
pub fn parse_whole(v: &str) -> Option<i64> {
    let v = v.trim();
    let (int, frac) = match v.find([',', '.']) {
        Some(i) => (&v[..i], &v[i + 1..]),
        None => (v, ""),
    };
    if !frac.bytes().all(|b| b == b'0') {
        return None;
    }
    int.parse().ok()
}

/// Parse a date in the given (or any known) format into YYYY-MM-DD; the day must exist.
pub fn parse_date(v: &str, fmt: Option<DateFormat>) -> Option<String> {
    let v = v.trim();
    let dmy = |sep: char| -> Option<String> {
        let mut it = v.split(sep);
        let (d, m, y) = (it.next()?, it.next()?, it.next()?);
        if it.next().is_some() || y.len() != 4 {
            return None;
        }
        let s = format!(
            "{y}-{:02}-{:02}",
            m.parse::<u32>().ok()?,
            d.parse::<u32>().ok()?
        );
        vum::is_valid_date(&s).then_some(s)
    };
    let excel = || -> Option<String> { source::excel_date(v.parse::<f64>().ok()?) };
    match fmt {
        Some(DateFormat::Iso) => vum::is_valid_date(v).then(|| v.to_string()),
        Some(DateFormat::DayMonthYear(c)) => {
            dmy(c).or_else(|| vum::is_valid_date(v).then(|| v.to_string()))
        }
        Some(DateFormat::Excel) => excel().or_else(|| vum::is_valid_date(v).then(|| v.to_string())),
        None => {
            if vum::is_valid_date(v) {
                Some(v.to_string())
            } else {
                dmy('-').or_else(|| dmy('/'))
            }
        }
    }
}

/// Put `v` at the path; the i-th value of a field goes to element i of the `[]` array.
fn place(doc: &mut Value, steps: &[Step], i: usize, v: Value) {
    let mut cur = doc;
    let mut k = 0;
    while k < steps.len() {
        let Step::Prop(name) = &steps[k] else {
            unreachable!("targets are checked when the mapping loads")
        };
        let last = k + 1 == steps.len();
        let obj = match cur {
            Value::Object(o) => o,
            other => {
                *other = Value::Object(Map::new());
                let Value::Object(o) = other else {
                    unreachable!()
                };
                o
            }
        };
        match steps.get(k + 1) {
            Some(Step::Each) | Some(Step::Index(_)) => {
                let idx = if let Some(Step::Index(n)) = steps.get(k + 1) {
                    *n
                } else {
                    i
                };
                let arr = obj
                    .entry(name.clone())
                    .or_insert_with(|| Value::Array(vec![]));
                if !arr.is_array() {
                    *arr = Value::Array(vec![]);
                }
                let Value::Array(a) = arr else { unreachable!() };
                let leaf = k + 2 == steps.len();
                while a.len() <= idx {
                    a.push(if leaf {
                        Value::Null
                    } else {
                        Value::Object(Map::new())
                    });
                }
                if leaf {
                    a[idx] = v;
                    return;
                }
                cur = &mut a[idx];
                k += 2;
            }
            _ => {
                if last {
                    obj.insert(name.clone(), v);
                    return;
                }
                cur = obj
                    .entry(name.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                k += 1;
            }
        }
    }
}
