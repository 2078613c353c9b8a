//! A client that is not ours: Python grpcio with stubs generated from proto/, over mTLS. Skipped
//! with a visible message when python3 with grpcio and grpcio-tools is missing, unless
//! MATCHGATE_REQUIRE_PY=1 (which .ci/run sets after installing them).
use node::config::{Grant, LocalConfig, NodeConfig, TlsConfig};
use std::process::Command;
use vum::Kind;

const UWV: &str = "00000001003214345000";
const GEMEENTE: &str = "00000001001234567000";

#[tokio::test]
async fn python_grpcio_client_calls_node_info_and_selection() {
    let has = Command::new("python3")
        .args(["-c", "import grpc, grpc_tools"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !has {
        if std::env::var("MATCHGATE_REQUIRE_PY").as_deref() == Ok("1") {
            panic!("python3 with grpcio and grpcio-tools is required (MATCHGATE_REQUIRE_PY=1)");
        }
        eprintln!("SKIPPED (Python client): python3 with grpcio and grpcio-tools not found; pip install -r conformance/python-client/requirements.txt");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    node::pki::write_dev_pki(d, &[("uwv", UWV), ("gemeente", GEMEENTE)]).unwrap();
    std::fs::write(d.join("uwv.secret"), "python-test-secret-0123456789").unwrap();
    let cfg = NodeConfig {
        oin: UWV.into(),
        name: "UWV".into(),
        suwi: true,
        database: format!("sqlite://{}", d.join("uwv.db").display()),
        secret_file: d.join("uwv.secret"),
        tls: TlsConfig {
            cert: d.join("uwv.pem"),
            key: d.join("uwv.key"),
            ca: d.join("ca.pem"),
        },
        listen: "127.0.0.1:0".into(),
        local: LocalConfig {
            listen: "127.0.0.1:0".into(),
            ca: d.join("local-ca.pem"),
            clients: vec![],
        },
        peers: vec![],
        grants: vec![Grant {
            via: GEMEENTE.into(),
            on_behalf_of: vec![GEMEENTE.into()],
            services: vec!["*".into()],
            // the Python client claims SUWI; this node's grant says the gemeente may
            suwi: true,
        }],
        peer_deadline_ms: 2000,
        rest: Default::default(),
        admin: Default::default(),
        telemetry: Default::default(),
        limits: Default::default(),
    };
    let node = node::run::start(cfg).await.unwrap();
    let base = std::env::var("MATCHGATE_SHARED")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared").to_string());
    let docs: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{base}/vum/testdata/werkzoekenden-1000.json")).unwrap(),
    )
    .unwrap();
    let docs: Vec<(String, serde_json::Value)> = docs
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["idWerkzoekende"].as_str().unwrap().to_string(), x.clone()))
        .collect();
    node.state
        .store
        .upsert_batch(Kind::Werkzoekende, &docs, store::now_ms())
        .await
        .unwrap();

    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../conformance/python-client/client.py"
    );
    let addr = node.peer_addr.to_string();
    let (ca, cert, key) = (
        d.join("ca.pem"),
        d.join("gemeente.pem"),
        d.join("gemeente.key"),
    );
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(script)
            .args([
                "--addr",
                &addr,
                "--from-oin",
                GEMEENTE,
                "--to-oin",
                UWV,
                "--postcode",
                "3511AA",
                "--afstand",
                "300",
            ])
            .arg("--ca")
            .arg(ca)
            .arg("--cert")
            .arg(cert)
            .arg("--key")
            .arg(key)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "python client failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["oin"], UWV);
    assert_eq!(r["name"], "UWV");
    assert_eq!(r["matches"], 100, "{r}");
    assert_eq!(r["more"], true);
    assert!(r["first_postcode"].as_str().is_some_and(|p| p.len() == 6));
    assert_eq!(r["missing_metadata"], "INVALID_ARGUMENT");
    node.stop().await;
}
