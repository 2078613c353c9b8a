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
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Instant;
use vum::{Finding, Kind, Severity, Validator};

pub mod mapping;
pub mod source;

use mapping::{DateFormat, Field, LeafType, Mapping, Privacy, Step, Unmapped, ValueSource};
pub use source::{OpenError, Record, RowError};

pub const ID_MISSING: &str = "translate/id-ontbreekt";
pub const ID_DUPLICATE: &str = "translate/id-dubbel";
pub const BSN_ELFPROEF: &str = "translate/bsn-elfproef";
pub const BSN_DUPLICATE: &str = "translate/bsn-dubbel";
pub const REQUIRED: &str = "translate/verplicht";
pub const UNMAPPED: &str = "translate/onbekende-waarde";
pub const NOT_A_NUMBER: &str = "translate/geen-geheel-getal";
pub const BAD_DATE: &str = "translate/datum";
pub const FREE_TEXT_PII: &str = vum::privacy::FREE_TEXT_RULE;

/// Why a record was rejected: one line of the rejects file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub row: u64,
    pub column: Option<String>,
    pub rule: String,
    pub message: String,
}

/// What happened to one record.
#[derive(Debug, Clone)]
pub enum Outcome {
    Accepted {
        row: u64,
        id: String,
        doc: Value,
        warnings: Vec<Finding>,
    },
    /// `vum_id`: the id the record would have had, so a store can stop sharing an earlier version
    Filtered {
        row: u64,
        vum_id: Option<String>,
        reason: String,
        consent: bool,
    },
    Rejected {
        row: u64,
        rejects: Vec<Reject>,
        original: Vec<(String, String)>,
    },
}

/// Counts of a run, by rule.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Summary {
    pub read: u64,
    pub accepted: u64,
    pub filtered: u64,
    pub rejected: u64,
    pub filtered_by_reason: BTreeMap<String, u64>,
    pub rejected_by_rule: BTreeMap<String, u64>,
    pub warnings_by_rule: BTreeMap<String, u64>,
    /// contact values left out because the record's consent does not allow them
    pub contact_withheld: u64,
    pub seconds: f64,
}

/// Where the outcomes go (files for `matchgate translate`, the store for `matchgate ingest`).
pub trait Sink {
    fn accepted(&mut self, row: u64, id: &str, doc: &Value) -> std::io::Result<()>;
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
    fn progress(&mut self, _summary: &Summary) {}
}

#[derive(Debug, thiserror::Error)]
pub enum TranslateError {
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error("writing output: {0}")]
    Write(#[from] std::io::Error),
}

pub struct Translator {
    mapping: Mapping,
    key: Hmac<Sha256>,
    validator: Validator,
    seen_ids: HashMap<[u8; 16], u64>,
    seen_bsn: HashMap<[u8; 16], u64>,
}

impl Translator {
    /// `secret` is the node secret that keys the record ids; the same secret gives the same ids.
    pub fn new(mapping: Mapping, secret: &[u8], validator: Validator) -> Translator {
        let key =
            <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes keys of any length");
        Translator {
            mapping,
            key,
            validator,
            seen_ids: HashMap::new(),
            seen_bsn: HashMap::new(),
        }
    }

    pub fn mapping(&self) -> &Mapping {
        &self.mapping
    }

    fn keyed(&self, domain: &str, value: &str) -> [u8; 32] {
        let mut m = self.key.clone();
        m.update(domain.as_bytes());
        m.update(&[0]);
        m.update(value.as_bytes());
        m.finalize().into_bytes().into()
    }

    /// The VUM id of a local id: hex of the first 128 bits of HMAC-SHA256(secret, kind || 0 || id).
    pub fn vum_id(&self, local_id: &str) -> String {
        hex::encode(&self.keyed(self.mapping.kind.name(), local_id)[..16])
    }

    /// Translate every record of `input` into `sink`.
    pub fn run(&mut self, input: &Path, sink: &mut dyn Sink) -> Result<Summary, TranslateError> {
        let start = Instant::now();
        let span =
            tracing::info_span!("translate", kind = %self.mapping.kind, input = %input.display());
        let _g = span.enter();
        let records = source::open(&self.mapping, input)?;
        let mut s = Summary::default();
        let mut batch = tracing::info_span!("import_batch", first_row = 1u64);
        for (n, item) in records.enumerate() {
            if n % 10_000 == 0 {
                batch = tracing::info_span!("import_batch", first_row = n as u64 + 1);
            }
            let _b = batch.enter();
            s.read += 1;
            let outcome = match item {
                Ok(rec) => self.translate_record(&rec, &mut s),
                Err(e) => {
                    let fatal = e.fatal;
                    let o = Outcome::Rejected {
                        row: e.row,
                        rejects: vec![Reject {
                            row: e.row,
                            column: e.column,
                            rule: e.rule.into(),
                            message: e.message,
                        }],
                        original: vec![],
                    };
                    if fatal {
                        record(&mut s, sink, o)?;
                        break;
                    }
                    o
                }
            };
            record(&mut s, sink, outcome)?;
            if s.read % 10_000 == 0 {
                sink.progress(&s);
            }
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

    /// Translate one record.
    pub fn translate_record(&mut self, rec: &Record, summary: &mut Summary) -> Outcome {
        let m = &self.mapping;
        let row = rec.row;
        let first = |i: usize| {
            rec.values
                .get(i)
                .and_then(|v| v.first())
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
        };
        let reject = |column: Option<&str>, rule: &str, message: String| Reject {
            row,
            column: column.map(str::to_string),
            rule: rule.to_string(),
            message,
        };

        // filters first: a filtered record is counted, not judged
        let mut contact_allowed = false;
        if let Some((c, share, contact)) = &m.consent {
            let v = first(*c).unwrap_or("");
            if !share.iter().any(|s| s.eq_ignore_ascii_case(v)) {
                let vum_id = first(m.id_column).map(|id| self.vum_id(id));
                return Outcome::Filtered {
                    row,
                    vum_id,
                    reason: format!("consent {}: '{v}'", m.columns[*c]),
                    consent: true,
                };
            }
            contact_allowed = contact.iter().any(|s| s.eq_ignore_ascii_case(v));
        }
        for f in &m.filters {
            let v = first(f.column).unwrap_or("");
            let keep = f.one_of.as_ref().is_none_or(|l| l.iter().any(|x| x == v))
                && f.not_in.as_ref().is_none_or(|l| !l.iter().any(|x| x == v));
            if !keep {
                let vum_id = first(m.id_column).map(|id| self.vum_id(id));
                return Outcome::Filtered {
                    row,
                    vum_id,
                    reason: format!("filter {}", m.columns[f.column]),
                    consent: false,
                };
            }
        }

        let id_col = m.columns[m.id_column].as_str();
        let Some(local_id) = first(m.id_column) else {
            return Outcome::Rejected {
                row,
                rejects: vec![reject(
                    Some(id_col),
                    ID_MISSING,
                    "the local id is empty".into(),
                )],
                original: self.original(rec),
            };
        };
        let id_hash = self.keyed("local-id", local_id);
        let id_key: [u8; 16] = id_hash[..16].try_into().unwrap_or_default();
        if let Some(prev) = self.seen_ids.get(&id_key) {
            return Outcome::Rejected {
                row,
                rejects: vec![reject(
                    Some(id_col),
                    ID_DUPLICATE,
                    format!("the local id also appears at row {prev}"),
                )],
                original: self.original(rec),
            };
        }
        if let Some(bc) = m.bsn_column {
            if let Some(raw) = first(bc) {
                let col = Some(m.columns[bc].as_str());
                let Some(bsn) =
                    vum::privacy::normalise_bsn(raw).filter(|b| vum::privacy::is_valid_bsn(b))
                else {
                    return Outcome::Rejected {
                        row,
                        rejects: vec![reject(
                            col,
                            BSN_ELFPROEF,
                            "the BSN is not 9 digits passing the elfproef".into(),
                        )],
                        original: self.original(rec),
                    };
                };
                let h = self.keyed("bsn", &bsn);
                let k: [u8; 16] = h[..16].try_into().unwrap_or_default();
                if let Some(prev) = self.seen_bsn.get(&k) {
                    return Outcome::Rejected { row, rejects: vec![reject(col, BSN_DUPLICATE, format!("the same person (BSN) is already at row {prev} under another local id"))], original: self.original(rec) };
                }
                self.seen_bsn.insert(k, row);
            }
        }

        let mut doc = Value::Object(Map::new());
        let mut rejects = Vec::new();
        let mut places: Vec<(String, String)> = Vec::new(); // JSON pointer -> source column
        for f in &m.fields {
            let column = match f.source {
                ValueSource::Column(c) => Some(m.columns[c].as_str()),
                ValueSource::Constant(_) => None,
            };
            let mut raw: Vec<String> = match &f.source {
                ValueSource::Column(c) => rec.values.get(*c).cloned().unwrap_or_default(),
                ValueSource::Constant(v) => vec![v.clone()],
            };
            raw.retain(|v| !v.trim().is_empty());
            if raw.is_empty() {
                if let Some(d) = &f.default {
                    raw.push(d.clone());
                } else if f.required {
                    rejects.push(reject(
                        column,
                        REQUIRED,
                        format!("{} is required and the value is empty", f.target),
                    ));
                    continue;
                } else {
                    continue;
                }
            }
            if f.privacy == Privacy::Contact && !contact_allowed {
                summary.contact_withheld += 1;
                continue;
            }
            if f.remove.is_some() || f.uppercase {
                for v in raw.iter_mut() {
                    if let Some(chars) = &f.remove {
                        v.retain(|c| !chars.contains(c));
                    }
                    if f.uppercase {
                        *v = v.to_uppercase();
                    }
                }
            }
            let parts: Vec<String> = match &f.split {
                Some(sep) => raw
                    .iter()
                    .flat_map(|v| v.split(sep.as_str()).map(|p| p.trim().to_string()))
                    .filter(|p| !p.is_empty())
                    .collect(),
                None => raw.iter().map(|v| v.trim().to_string()).collect(),
            };
            let mut values: Vec<Value> = Vec::new();
            for p in parts {
                let p = match &f.map {
                    Some(map) => match map.get(&p) {
                        Some(v) if v.is_empty() => continue, // mapped to nothing: deliberately left out
                        Some(v) => v.clone(),
                        None => match f.unmapped {
                            Unmapped::Reject => {
                                rejects.push(reject(
                                    column,
                                    UNMAPPED,
                                    format!("'{p}' is not in the value map of {}", f.target),
                                ));
                                continue;
                            }
                            Unmapped::Drop => continue,
                            Unmapped::Keep => p,
                        },
                    },
                    None => p,
                };
                match convert(f, &p) {
                    Ok(v) => values.push(v),
                    Err((rule, msg)) => rejects.push(reject(column, rule, msg)),
                }
            }
            if f.privacy == Privacy::FreeText {
                if let Some(kind) = values
                    .iter()
                    .filter_map(Value::as_str)
                    .find_map(vum::privacy::scan_free_text)
                {
                    rejects.push(reject(
                        column,
                        FREE_TEXT_PII,
                        format!(
                            "{} would carry {} out of the node",
                            f.target,
                            kind.describe()
                        ),
                    ));
                    continue;
                }
            }
            for (i, v) in values.into_iter().enumerate() {
                let pointer = place(&mut doc, &f.steps, i, v);
                if let Some(c) = column {
                    places.push((pointer, c.to_string()));
                }
            }
        }
        if !rejects.is_empty() {
            return Outcome::Rejected {
                row,
                rejects,
                original: self.original(rec),
            };
        }
        let id = self.vum_id(local_id);
        let id_prop = if m.kind == Kind::Werkzoekende {
            "idWerkzoekende"
        } else {
            "idVacature"
        };
        if let Value::Object(o) = &mut doc {
            o.insert(id_prop.to_string(), Value::String(id.clone()));
        }
        let report = self.validator.validate_value(m.kind, &doc);
        if !report.is_valid() {
            let rejects = report
                .errors()
                .map(|f| {
                    let col = places
                        .iter()
                        .filter(|(p, _)| {
                            f.pointer.starts_with(p.as_str()) || p.starts_with(&f.pointer)
                        })
                        .max_by_key(|(p, _)| p.len())
                        .map(|(_, c)| c.as_str());
                    reject(
                        col,
                        &f.rule,
                        format!(
                            "{}: {}",
                            if f.pointer.is_empty() {
                                "(document)"
                            } else {
                                &f.pointer
                            },
                            f.message
                        ),
                    )
                })
                .collect();
            return Outcome::Rejected {
                row,
                rejects,
                original: self.original(rec),
            };
        }
        self.seen_ids.insert(id_key, row);
        let warnings = report
            .findings
            .into_iter()
            .filter(|f| f.severity == Severity::Warning)
            .collect();
        Outcome::Accepted {
            row,
            id,
            doc,
            warnings,
        }
    }

    /// The source values a rejects file may show: mapped columns only, never the BSN.
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
        m.columns
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != m.bsn_column && !contact_cols.contains(i))
            .map(|(i, c)| {
                (
                    c.clone(),
                    rec.values.get(i).map(|v| v.join(" | ")).unwrap_or_default(),
                )
            })
            .collect()
    }
}

fn record(s: &mut Summary, sink: &mut dyn Sink, o: Outcome) -> Result<(), TranslateError> {
    match o {
        Outcome::Accepted {
            row,
            id,
            doc,
            warnings,
        } => {
            s.accepted += 1;
            for w in warnings {
                *s.warnings_by_rule.entry(w.rule).or_default() += 1;
            }
            sink.accepted(row, &id, &doc)?;
        }
        Outcome::Filtered {
            row,
            vum_id,
            reason,
            consent,
        } => {
            s.filtered += 1;
            *s.filtered_by_reason.entry(reason).or_default() += 1;
            sink.filtered(row, vum_id.as_deref(), consent)?;
        }
        Outcome::Rejected {
            rejects, original, ..
        } => {
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
fn convert(f: &Field, v: &str) -> Result<Value, (&'static str, String)> {
    match f.leaf {
        LeafType::String => Ok(Value::String(v.to_string())),
        LeafType::Integer => parse_whole(v).map(Value::from).ok_or((
            NOT_A_NUMBER,
            format!("'{v}' is not a whole number ({})", f.target),
        )),
        LeafType::Date => parse_date(v, f.date_format).map(Value::String).ok_or((
            BAD_DATE,
            format!(
                "'{v}' is not a date{} ({})",
                match f.date_format {
                    Some(DateFormat::DayMonthYear(c)) => format!(" as dd{c}mm{c}yyyy"),
                    Some(DateFormat::Excel) => " as an Excel serial number".to_string(),
                    _ => " (yyyy-mm-dd, dd-mm-yyyy or an Excel date)".to_string(),
                },
                f.target
            ),
        )),
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
fn place(doc: &mut Value, steps: &[Step], i: usize, v: Value) -> String {
    let mut pointer = String::new();
    let mut cur = doc;
    let mut k = 0;
    while k < steps.len() {
        let Step::Prop(name) = &steps[k] else {
            unreachable!("targets are checked when the mapping loads")
        };
        pointer.push('/');
        pointer.push_str(name);
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
                pointer.push('/');
                pointer.push_str(&idx.to_string());
                if leaf {
                    a[idx] = v;
                    return pointer;
                }
                cur = &mut a[idx];
                k += 2;
            }
            _ => {
                if last {
                    obj.insert(name.clone(), v);
                    return pointer;
                }
                cur = obj
                    .entry(name.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                k += 1;
            }
        }
    }
    pointer
}
