//! Transparency of the client file ("Transparantie van klantprofielen", issue 15): per
//! arbeidsmarktregio and gemeente, how many of each organisation's werkzoekenden chain partners
//! can see (shared) and how many they cannot, by reason, and how complete and fresh the shared
//! profiles are.
//!
//! - [`figures`]: what a node counts from its store ([`figures::NodeFigures`]); never leaves it.
//! - [`geo`]: the 2025 municipalities and labour-market regions ([`geo::Geography::get`]).
//! - [`publish`]: the suppressed form a node publishes and sends to peers
//!   ([`publish::publish`], [`publish::Published`], [`publish::Cell`]).
//! - [`merge`]: several organisations' published forms added up ([`merge::merge`],
//!   [`merge::FederationReport`]), with the peers that did not answer.
//! - [`render`]: the report as CSV, JSON and one self-contained HTML page.
//!
//! Suppression happens at the source, in [`publish::publish`]: counts 1..=4 are suppressed
//! (primary); then, deterministically and until stable, every additive relation (total = shared +
//! not shared; not shared = its four reasons; municipality = its organisations; region = its
//! municipalities; national = its regions; national rejected = its rules) gets 0 or ≥ 2
//! suppressed cells, with the suppressed parts of a published total summing to more than their
//! number; and Gaussian elimination over all relations checks that no suppressed cell is
//! determined by the published ones, suppressing one more cell near each determined one until
//! none is. The merge only adds published cells, so it can never undo this.
//!
//! Counts only: nothing here holds an id, a postcode below PC4 or any document content.
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod figures;
pub mod geo;
pub mod merge;
pub mod publish;
pub mod render;
mod suppress;
