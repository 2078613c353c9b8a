//! # conformance — does a VUM node meet the standard?
//!
//! A catalogue of tests as data (`catalogue.rs`), each with a stable id, the requirement it
//! checks and the targets it applies to; checks that run them against a Bron REST face, a
//! Bemiddelaar REST face, a matchgate gRPC peer or payload files (`checks.rs`, over one client
//! for every face, `client.rs`); expected results from an evaluator written from the standard's
//! text (`evaluator.rs`) over synthetic fixtures built to exercise every edge (`fixtures.rs`),
//! never from a node's engine; reports as console text, JSON, JUnit XML and one self-contained
//! HTML page (`report.rs`).
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod catalogue;
pub mod checks;
pub mod client;
pub mod evaluator;
pub mod fixtures;
pub mod model;
pub mod report;
pub mod run;
