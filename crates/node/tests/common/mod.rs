//! Shared set-up of the node's end-to-end tests: a development PKI, node configurations, mTLS
//! channels, party metadata, and a federation of three nodes stocked with the official test data.
#![allow(dead_code)]
use node::config::{Grant, LocalConfig, NodeConfig, OwnSystem, PeerConfig, TlsConfig};
use node::parties;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::Request;
use vum::Kind;

pub const GEMEENTE: &str = "00000001001234567000";
pub const UWV: &str = "00000001003214345000";
pub const SW: &str = "00000003123456780000";
pub const STRANGER: &str = "00000009999999999000";
/// a stand-in VUM-voorziening (tests/rest.rs): the sources grant it selections and details too
pub const VUM: &str = "00000004000000000001";

pub fn shared(rel: &str) -> Value {
    let base = std::env::var("MATCHGATE_SHARED")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared").to_string());
    serde_json::from_str(&std::fs::read_to_string(format!("{base}/{rel}")).unwrap()).unwrap()
}

pub fn config(
    dir: &Path,
    name: &str,
    oin: &str,
    peers: Vec<PeerConfig>,
    grants: Vec<Grant>,
    suwi: bool,
) -> NodeConfig {
    std::fs::write(
        dir.join(format!("{name}.secret")),
        format!("{name}-secret-0123456789abcdef"),
    )
    .unwrap();
    NodeConfig {
        oin: oin.into(),
        name: name.into(),
        suwi,
        database: format!("sqlite://{}", dir.join(format!("{name}.db")).display()),
        secret_file: dir.join(format!("{name}.secret")),
        tls: TlsConfig {
            cert: dir.join(format!("{name}.pem")),
            key: dir.join(format!("{name}.key")),
            ca: dir.join("ca.pem"),
        },
        listen: "127.0.0.1:0".into(),
        // own systems have their own CA, and only the organisation's own-systems certificate
        // is configured
        local: LocalConfig {
            listen: "127.0.0.1:0".into(),
            ca: dir.join("local-ca.pem"),
            clients: vec![OwnSystem::new(oin, &node::pki::own_systems_cn(name))],
        },
        peers,
        grants,
        peer_deadline_ms: 800,
        rest: Default::default(),
        // every test node has an admin listener (metrics, health) on a port of its own
        admin: node::config::AdminConfig {
            listen: Some("127.0.0.1:0".into()),
        },
        telemetry: Default::default(),
        limits: Default::default(),
    }
}

pub async fn channel(
    dir: &Path,
    addr: std::net::SocketAddr,
    cert: Option<(&str, &str)>,
    ca: &str,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(std::fs::read(dir.join(ca)).unwrap()))
        .domain_name("localhost");
    if let Some((c, k)) = cert {
        tls = tls.identity(Identity::from_pem(
            std::fs::read(dir.join(c)).unwrap(),
            std::fs::read(dir.join(k)).unwrap(),
        ));
    }
    Endpoint::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)?
        .connect_timeout(Duration::from_secs(3))
        .connect()
        .await
}

pub fn req<T>(msg: T, from: &str, via: &str, to: &str, suwi: bool) -> Request<T> {
    let mut r = Request::new(msg);
    parties::attach(
        &mut r,
        from,
        via,
        to,
        suwi,
        &uuid::Uuid::now_v7().to_string(),
    );
    r
}

pub fn query(pc: &str, km: i64) -> vum_proto::werkzoekenden::WerkzoekendeProfielMatchesRequest {
    serde_json::from_value(
        serde_json::json!({"vraagObject": {"selectiegebied": {"postcode": pc, "afstand": km}}}),
    )
    .unwrap()
}

pub struct Federation {
    pub dir: tempfile::TempDir,
    pub gemeente: node::run::Running,
    pub uwv: node::run::Running,
    /// kept running for the whole test (a source the federation searches)
    #[allow(dead_code)]
    pub sw: node::run::Running,
}

pub async fn federation(slow_peer: Option<std::net::SocketAddr>) -> Federation {
    let dir = tempfile::tempdir().unwrap();
    node::pki::write_dev_pki(
        dir.path(),
        &[
            ("gemeente", GEMEENTE),
            ("uwv", UWV),
            ("sw", SW),
            ("stranger", STRANGER),
            ("vum", VUM),
        ],
    )
    .unwrap();
    let grant_gemeente = vec![
        Grant {
            via: GEMEENTE.into(),
            on_behalf_of: vec![GEMEENTE.into()],
            services: vec!["*".into()],
            suwi: false,
        },
        Grant {
            via: VUM.into(),
            on_behalf_of: vec![VUM.into()],
            services: vec!["select-werkzoekenden".into(), "get-werkzoekende".into()],
            suwi: false,
        },
    ];
    let uwv = node::run::start(config(
        dir.path(),
        "uwv",
        UWV,
        vec![],
        grant_gemeente.clone(),
        true,
    ))
    .await
    .unwrap();
    let sw = node::run::start(config(dir.path(), "sw", SW, vec![], grant_gemeente, true))
        .await
        .unwrap();
    // stock the two sources with the official profiles, half each, and UWV with the vacancies
    let docs = shared("vum/testdata/werkzoekenden-1000.json");
    let docs: Vec<(String, Value)> = docs
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["idWerkzoekende"].as_str().unwrap().to_string(), d.clone()))
        .collect();
    uwv.state
        .store
        .upsert_batch(Kind::Werkzoekende, &docs[..500], store::now_ms())
        .await
        .unwrap();
    sw.state
        .store
        .upsert_batch(Kind::Werkzoekende, &docs[500..], store::now_ms())
        .await
        .unwrap();
    let vac = shared("vum/testdata/vacatures-93.json");
    let vac: Vec<(String, Value)> = vac
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["idVacature"].as_str().unwrap().to_string(), d.clone()))
        .collect();
    uwv.state
        .store
        .upsert_batch(Kind::Vacature, &vac, store::now_ms())
        .await
        .unwrap();
    let mut peers = vec![
        PeerConfig::new(UWV, "UWV", format!("https://{}", uwv.peer_addr)),
        PeerConfig::new(SW, "SW-bedrijf", format!("https://{}", sw.peer_addr)),
        PeerConfig::new(
            "00000004000000000000",
            "down",
            "https://127.0.0.1:1".to_string(),
        ),
    ];
    if let Some(addr) = slow_peer {
        peers.push(PeerConfig::new(
            "00000005000000000000",
            "slow",
            format!("https://{addr}"),
        ));
    }
    let gemeente = node::run::start(config(
        dir.path(),
        "gemeente",
        GEMEENTE,
        peers,
        vec![],
        false,
    ))
    .await
    .unwrap();
    Federation {
        dir,
        gemeente,
        uwv,
        sw,
    }
}
