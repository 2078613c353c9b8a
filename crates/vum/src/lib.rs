//! # vum — the VUM standard as code
//!
//! Interface 3.0.0 / data standard 1.5. This crate judges documents exactly as the standard does:
//! the contract rules come from the committed JSON Schemas in `schemas/` (compiled once into a
//! streaming validator), the rules the standard states in prose and the plausibility warnings are
//! in [`rules`]. Every finding has a stable rule id, a severity, a JSON pointer and a message.
//!
//! ```
//! use vum::{Kind, Validator};
//! let v = Validator::with_today("2026-11-22");
//! let report = v.validate_slice(Kind::Werkzoekende, br#"{"idWerkzoekende":"a1","mobiliteit":{"bemiddelingspostcode":"3011XX"}}"#);
//! assert!(report.is_valid());
//! let report = v.validate_slice(Kind::Werkzoekende, br#"{"idWerkzoekende":"a1","mobiliteit":{"bemiddelingspostcode":"3011"}}"#);
//! assert_eq!(report.findings[0].rule, "werkzoekenden#Postcode/pattern");
//! assert_eq!(report.findings[0].pointer, "/mobiliteit/bemiddelingspostcode");
//! ```

#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod finding;
pub mod ids;
pub mod jsonschema_check;
mod kind;
pub mod matchform;
pub mod parties;
pub mod privacy;
pub mod query;
pub mod refdata;
pub mod rules;
mod schema;
mod walk;

pub use finding::{Finding, Report, Severity};
pub use kind::{query_kind, record_id_property, Family, Kind};
pub use schema::SchemaError;
pub use walk::is_valid_date;

use serde::de::DeserializeSeed;

/// Validates VUM documents. Cheap to create; the schemas are compiled once per process.
#[derive(Debug, Clone)]
pub struct Validator {
    today: String,
}

impl Default for Validator {
    fn default() -> Self {
        Self::new()
    }
}

impl Validator {
    /// A validator that judges dates against today's date (UTC).
    pub fn new() -> Self {
        Validator { today: today_utc() }
    }

    /// A validator with a fixed 'today' (`YYYY-MM-DD`), for reproducible results.
    pub fn with_today(today: &str) -> Self {
        Validator {
            today: today.to_string(),
        }
    }

    /// The date (`YYYY-MM-DD`) this validator judges dates against.
    pub fn today(&self) -> &str {
        &self.today
    }

    /// Validate one JSON document given as bytes. Never panics on input.
    pub fn validate_slice(&self, kind: Kind, json: &[u8]) -> Report {
        if kind.is_query() {
            return match serde_json::from_slice::<serde_json::Value>(json) {
                Ok(v) => {
                    // a Value keeps only the last of duplicate keys: look for them in the text
                    let mut findings = walk::duplicate_keys(json);
                    findings.extend(self.validate_value(kind, &v).findings);
                    Report { findings }
                }
                Err(e) => syntax(e),
            };
        }
        let compiled = schema::compiled(kind.family());
        let mut ctx = walk::Ctx::new(compiled, &self.today);
        let mut de = serde_json::Deserializer::from_slice(json);
        let seed = walk::NodeSeed {
            ctx: &mut ctx,
            node: compiled.roots[&kind],
            capture: false,
        };
        match seed.deserialize(&mut de).and_then(|_| de.end()) {
            Ok(()) => Report {
                findings: ctx.findings,
            },
            Err(e) => syntax(e),
        }
    }

    /// Validate an already parsed document.
    pub fn validate_value(&self, kind: Kind, doc: &serde_json::Value) -> Report {
        if kind.is_query() {
            let mut findings = jsonschema_check::check(kind, doc);
            if findings.is_empty() {
                match query::Selectie::from_request(kind.family(), doc) {
                    Ok(selectie) => {
                        findings.extend(selectie.ignored.into_iter().map(|i| Finding {
                            rule: query::CRITERIUM_GENEGEERD.to_string(),
                            severity: Severity::Warning,
                            pointer: i.pointer,
                            message: format!("ignored: {}", i.reason),
                        }))
                    }
                    Err(e) => findings.push(e.into_finding()),
                }
            }
            return Report { findings };
        }
        let compiled = schema::compiled(kind.family());
        let mut ctx = walk::Ctx::new(compiled, &self.today);
        let seed = walk::NodeSeed {
            ctx: &mut ctx,
            node: compiled.roots[&kind],
            capture: false,
        };
        match seed.deserialize(doc) {
            Ok(_) => Report {
                findings: ctx.findings,
            },
            Err(e) => syntax(e),
        }
    }
}

fn syntax(e: serde_json::Error) -> Report {
    Report {
        findings: vec![Finding {
            rule: rules::JSON_SYNTAX.to_string(),
            severity: Severity::Error,
            pointer: String::new(),
            message: e.to_string(),
        }],
    }
}

/// Every schema rule id of a family (each keyword location that can produce a finding).
pub fn schema_rules(family: Family) -> Vec<String> {
    let mut r = schema::compiled(family).rules.clone();
    r.sort();
    r.dedup();
    r
}

/// Today's date in UTC as `YYYY-MM-DD`.
pub fn today_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    date_from_unix_days((secs / 86_400) as i64)
}

/// The civil date `YYYY-MM-DD` of a day count since 1970-01-01 (H. Hinnant's civil_from_days).
pub fn date_from_unix_days(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}
