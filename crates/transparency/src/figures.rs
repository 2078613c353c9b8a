//! What one node counts about its own werkzoekenden, before suppression. Built by the node from
//! its store and its import runs; never leaves the node in this form (see `publish`).
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The municipality code used for records whose PC4 area is in no table (or that had no
/// readable postcode).
pub const UNKNOWN_MUNICIPALITY: &str = "onbekend";

/// The organisation a node serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organisation {
    /// its OIN (20 digits)
    pub oin: String,
    /// its name as configured
    pub name: String,
}

/// Why records of one municipality are, or are not, shared: the state now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// live, with consent, refreshed within the expiry window: visible to chain partners
    pub shared: u64,
    /// left out at the last import for want of consent (the mapping's consent filter) or
    /// refused at a push without `consent = true`
    pub no_consent: u64,
    /// rejected at the last import or push (a rule broken); by rule in `rejected_by_rule`
    pub rejected: u64,
    /// live but not refreshed by an import within the expiry window (90 days): no longer shared
    pub expired: u64,
    /// consent withdrawn after the record was shared (tombstoned)
    pub withdrawn: u64,
    /// `rejected` by the rule id of each record's first violation
    pub rejected_by_rule: BTreeMap<String, u64>,
}

/// How complete and how fresh the shared profiles of one municipality are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quality {
    /// shared profiles (the base of every share below; equals `Tally::shared`)
    pub shared: u64,
    /// with at least one occupation (bemiddelingsberoep)
    pub with_occupation: u64,
    /// with working hours (urenPerWeek minimum or maximum)
    pub with_hours: u64,
    /// with an availability date (datumAanvangBeschikbaarVoorWerk)
    pub with_availability: u64,
    /// with education (opleiding)
    pub with_education: u64,
    /// with languages (taalbeheersing)
    pub with_languages: u64,
    /// with a driving licence (rijbewijs)
    pub with_licence: u64,
    /// days since the last refresh by an import or push: 0-7, 8-30, 31-60, 61-90 days
    /// (beyond 90 a record is expired, not shared)
    pub fresh_days: [u64; 4],
    /// validator warnings at the last import, by rule id
    pub warnings_by_rule: BTreeMap<String, u64>,
}

/// One municipality's figures at one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Area {
    /// CBS code `GM0014`, or [`UNKNOWN_MUNICIPALITY`]
    pub municipality: String,
    /// shared and not shared, by reason
    pub tally: Tally,
    /// completeness and freshness of the shared profiles
    pub quality: Quality,
}

/// One import (`matchgate ingest`) or push stream, as counted when it ended: the points of
/// the trend lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// when it ended, ms since the epoch
    pub at_ms: i64,
    /// `ingest` or `push`
    pub origin: String,
    /// per municipality: what the run counted, and the state right after it
    pub areas: BTreeMap<String, RunArea>,
}

/// One municipality in one run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunArea {
    /// records the run read (offered)
    pub offered: u64,
    /// accepted and stored
    pub accepted: u64,
    /// left out for want of consent
    pub no_consent: u64,
    /// rejected
    pub rejected: u64,
    /// shared right after the run (the state, not only this run's records)
    pub shared_after: u64,
}

/// Everything one node counts about its werkzoekenden: the input of suppression.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeFigures {
    /// whose client file this is
    pub organisation: Organisation,
    /// when the figures were taken, ms since the epoch
    pub generated_ms: i64,
    /// per municipality (records of municipalities not listed: none)
    pub areas: Vec<Area>,
    /// the stored runs, oldest first
    pub runs: Vec<Run>,
}

/// What one import or push counted in one area (a PC4 area while translating, a municipality
/// once stored), before the state after it is known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportCounts {
    /// records read (offered)
    pub offered: u64,
    /// accepted and stored
    pub accepted: u64,
    /// left out for want of consent
    pub no_consent: u64,
    /// left out by another filter of the mapping
    pub filtered: u64,
    /// rejected
    pub rejected: u64,
    /// rejected, by the rule of the first reject
    pub rejected_by_rule: BTreeMap<String, u64>,
    /// warnings about accepted records, by rule
    pub warnings_by_rule: BTreeMap<String, u64>,
}

impl ImportCounts {
    /// Add another area's counts to these.
    pub fn add(&mut self, other: &ImportCounts) {
        self.offered += other.offered;
        self.accepted += other.accepted;
        self.no_consent += other.no_consent;
        self.filtered += other.filtered;
        self.rejected += other.rejected;
        for (mine, theirs) in [
            (&mut self.rejected_by_rule, &other.rejected_by_rule),
            (&mut self.warnings_by_rule, &other.warnings_by_rule),
        ] {
            for (rule, n) in theirs {
                *mine.entry(rule.clone()).or_default() += n;
            }
        }
    }
}
