//! A matchgate federation for the suite's tests: a source (UWV, loaded with the fixtures by Push)
//! and a gemeente asking it over the Bron contract, with the plan that tests all three faces.
#![allow(dead_code)]
use conformance::client::{Creds, Face};
use conformance::model::TargetKind;
use conformance::run::{Negative, Plan, Target};
use node::config::{Grant, LocalConfig, NodeConfig, OwnSystem, PeerConfig, Protocol, TlsConfig};
use std::path::Path;

const GEMEENTE: &str = "00000001001234567000";
const UWV: &str = "00000001003214345000";
const STRANGER: &str = "00000009999999999000";

fn config(
    d: &Path,
    name: &str,
    oin: &str,
    peers: Vec<PeerConfig>,
    grants: Vec<Grant>,
    suwi: bool,
) -> NodeConfig {
    std::fs::write(
        d.join(format!("{name}.secret")),
        format!("{name}-secret-0123456789abcdef"),
    )
    .unwrap();
    NodeConfig {
        oin: oin.into(),
        name: name.into(),
        suwi,
        database: format!("sqlite://{}", d.join(format!("{name}.db")).display()),
        secret_file: d.join(format!("{name}.secret")),
        tls: TlsConfig {
            cert: d.join(format!("{name}.pem")),
            key: d.join(format!("{name}.key")),
            ca: d.join("ca.pem"),
        },
        listen: "127.0.0.1:0".into(),
        local: LocalConfig {
            listen: "127.0.0.1:0".into(),
            ca: d.join("local-ca.pem"),
            clients: vec![OwnSystem::new(oin, &node::pki::own_systems_cn(name))],
        },
        peers,
        grants,
        peer_deadline_ms: 3000,
        rest: Default::default(),
        admin: Default::default(),
        telemetry: Default::default(),
        limits: Default::default(),
    }
}

pub struct Federation {
    pub dir: tempfile::TempDir,
    pub uwv: node::run::Running,
    pub gemeente: node::run::Running,
}

pub async fn federation() -> Federation {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    node::pki::write_dev_pki(
        d,
        &[("gemeente", GEMEENTE), ("uwv", UWV), ("stranger", STRANGER)],
    )
    .unwrap();
    let grant = vec![Grant {
        via: GEMEENTE.into(),
        on_behalf_of: vec![GEMEENTE.into()],
        services: vec!["*".into()],
        suwi: false,
    }];
    let uwv = node::run::start(config(d, "uwv", UWV, vec![], grant, true))
        .await
        .unwrap();
    let n = conformance::fixtures::push(
        &format!("https://localhost:{}", uwv.local_addr.port()),
        &Creds {
            cert: d.join("uwv-local.pem"),
            key: d.join("uwv-local.key"),
        },
        &d.join("ca.pem"),
    )
    .await
    .unwrap();
    assert_eq!(n as usize, conformance::fixtures::werkzoekenden().len());
    let mut bron = PeerConfig::new(
        UWV,
        "UWV",
        format!("https://localhost:{}/api/v3", uwv.peer_addr.port()),
    );
    bron.protocol = Protocol::VumBron;
    let gemeente = node::run::start(config(d, "gemeente", GEMEENTE, vec![bron], vec![], false))
        .await
        .unwrap();
    Federation { dir, uwv, gemeente }
}

pub fn plan(f: &Federation) -> Plan {
    let d = f.dir.path();
    let creds = |n: &str| Creds {
        cert: d.join(format!("{n}.pem")),
        key: d.join(format!("{n}.key")),
    };
    let negative = Negative {
        expired: Some(creds("expired")),
        foreign: Some(creds("foreign")),
        stranger: Some(creds("stranger")),
    };
    let target = |kind, url: String, who: &str, node_oin: &str| Target {
        face: Face {
            kind,
            url,
            ca: d.join("ca.pem"),
        },
        creds: creds(who),
        caller_oin: GEMEENTE.into(),
        node_oin: node_oin.into(),
        suwi: false,
        negative: negative.clone(),
        fixtures: true,
    };
    Plan {
        targets: vec![
            target(
                TargetKind::Bron,
                format!("https://localhost:{}/api/v3", f.uwv.peer_addr.port()),
                "gemeente",
                UWV,
            ),
            target(
                TargetKind::Grpc,
                format!("https://localhost:{}", f.uwv.peer_addr.port()),
                "gemeente",
                UWV,
            ),
            target(
                TargetKind::Bemiddelaar,
                format!("https://localhost:{}/api/v3", f.gemeente.local_addr.port()),
                "gemeente-local",
                GEMEENTE,
            ),
        ],
        payloads: vec![Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../conformance/fixtures/werkzoekenden.json")],
        ..Default::default()
    }
}
