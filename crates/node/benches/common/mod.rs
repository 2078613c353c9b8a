//! What the benches share: a node's configuration on loopback with the development PKI, a
//! channel with the gemeente's certificate, percentiles.

#![allow(dead_code)]
// the allocator the `matchgate` binary runs with, for every bench that shares this module
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use node::config::{Grant, LocalConfig, NodeConfig, PeerConfig, TlsConfig};
use std::path::Path;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

pub const GEMEENTE: &str = "00000001001234567000";

/// A node named `name` in `d` (its certificate, key and secret there), admitting the gemeente's
/// certificate on its own listener and granting it every service; limits the load generator
/// cannot reach.
pub fn cfg(d: &Path, name: &str, oin: &str, peers: Vec<PeerConfig>) -> NodeConfig {
    std::fs::write(
        d.join(format!("{name}.secret")),
        "bench-secret-0123456789abcdef",
    )
    .unwrap();
    NodeConfig {
        oin: oin.into(),
        name: name.into(),
        suwi: true,
        database: format!("sqlite://{}", d.join(format!("{name}.db")).display()),
        secret_file: d.join(format!("{name}.secret")),
        tls: TlsConfig {
            cert: d.join(format!("{name}.pem")),
            key: d.join(format!("{name}.key")),
            ca: d.join("ca.pem"),
        },
        listen: "127.0.0.1:0".into(),
        // the load generator calls the local listeners with the gemeente's node certificate
        local: LocalConfig {
            listen: "127.0.0.1:0".into(),
            ca: d.join("ca.pem"),
            clients: vec![node::config::OwnSystem {
                oin: Some(GEMEENTE.into()),
                cn: None,
            }],
        },
        peers,
        grants: vec![Grant {
            via: GEMEENTE.into(),
            on_behalf_of: vec![GEMEENTE.into()],
            services: vec!["*".into()],
            suwi: true,
        }],
        peer_deadline_ms: 5000,
        rest: Default::default(),
        admin: Default::default(),
        telemetry: Default::default(),
        // the limiter runs on every call, with a ceiling the load generator cannot reach
        limits: node::config::Limits {
            requests_per_second: 1e9,
            burst: 1e9,
            details_per_selection: i64::MAX,
            ..Default::default()
        },
    }
}

/// A channel to `addr` with the gemeente's node certificate.
pub async fn channel(d: &Path, addr: std::net::SocketAddr) -> Channel {
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(
            std::fs::read(d.join("ca.pem")).unwrap(),
        ))
        .identity(Identity::from_pem(
            std::fs::read(d.join("gemeente.pem")).unwrap(),
            std::fs::read(d.join("gemeente.key")).unwrap(),
        ))
        .domain_name("localhost");
    Endpoint::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// The `p` quantile of `v` (sorted in place).
pub fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}
