//! # node — the gateway between organisations
//!
//! mutual-TLS gRPC (tonic over rustls) between matchgate nodes, and the VUM standard's REST
//! contracts on the same listeners (`rest.rs`: the Bron face for peers, the Bemiddelaar face for
//! own systems). A peer's identity is the OIN in its certificate's subject
//! serialNumber; every call carries the VUM party roles, checked against the certificate and the
//! configured grants, and is written to the audit log.
//!
//! Errors: [`error::NodeError`] when a node cannot start, [`config::ConfigError`] and
//! [`tls::TlsError`] for its configuration and TLS material, [`error::CallError`] for a call
//! refused or failed; `From<CallError> for Status` is the one mapping to a gRPC status.
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

/// The generated messages and services of `matchgate.v1` (the node's own API).
#[allow(missing_docs)]
pub mod pb {
    tonic::include_proto!("matchgate.v1");
}
/// The node's services and every message they use, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("node_descriptor");
pub mod check;
pub mod config;
pub mod error;
pub mod faults;
pub mod feed;
pub(crate) mod guard;
pub mod local;
pub mod metrics;
pub mod parties;
pub(crate) mod peers;
pub mod pki;
pub mod report;
pub mod rest;
pub(crate) mod results;
pub mod run;
pub mod server;
pub mod telemetry;
pub mod tls;

/// A file of the shared reference material (`MATCHGATE_SHARED` or `../shared`), parsed, for unit tests.
#[cfg(test)]
pub(crate) fn shared_json(rel: &str) -> serde_json::Value {
    let base = std::env::var("MATCHGATE_SHARED")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared").to_string());
    serde_json::from_str(&std::fs::read_to_string(format!("{base}/{rel}")).unwrap()).unwrap()
}
