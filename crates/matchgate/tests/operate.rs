//! Operating `matchgate serve` as a process: `check-config` lists every problem and exits 1;
//! SIGHUP re-reads certificates and CAs without dropping an established connection; SIGTERM
//! lets a call in flight finish, its audit entries committed, and exits 0.
use node::pb::{local_client::LocalClient, peer_client::PeerClient, NodeInfoRequest};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

const GEMEENTE: &str = "00000001001234567000";
const UWV: &str = "00000001003214345000";

fn matchgate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_matchgate"))
}

/// A gemeente's node.toml in `d` (certificates in `d/certs`), with a matchgate peer at
/// `slow_peer` and a grant letting UWV ask node-info.
fn write_config(d: &Path, slow_peer: &str) -> std::path::PathBuf {
    node::pki::write_dev_pki(&d.join("certs"), &[("gemeente", GEMEENTE), ("uwv", UWV)]).unwrap();
    std::fs::write(d.join("node.secret"), "gemeente-secret-0123456789").unwrap();
    let toml = format!(
        r#"oin = "{GEMEENTE}"
name = "Gemeente"
database = "sqlite://{db}"
secret_file = "node.secret"
listen = "127.0.0.1:0"
peer_deadline_ms = 1500
[tls]
cert = "certs/gemeente.pem"
key = "certs/gemeente.key"
ca = "certs/ca.pem"
[local]
listen = "127.0.0.1:0"
ca = "certs/local-ca.pem"
clients = [{{ oin = "{GEMEENTE}", cn = "gemeente own systems" }}]
[admin]
listen = "127.0.0.1:0"
[[peers]]
oin = "{UWV}"
name = "UWV (never answers)"
endpoint = "https://{slow_peer}"
[[grants]]
via = "{UWV}"
on_behalf_of = ["{UWV}"]
services = ["node-info"]
"#,
        db = d.join("gemeente.db").display()
    );
    let p = d.join("node.toml");
    std::fs::write(&p, toml).unwrap();
    p
}

#[test]
fn check_config_lists_every_problem_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = write_config(d, "127.0.0.1:7443");
    let ok = matchgate().arg("check-config").arg(&p).output().unwrap();
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success(), "{out}");
    assert!(out.contains("no problems found"), "{out}");

    // three problems at once: a short secret, a key that is not the certificate's, a grant
    // for a service that does not exist
    std::fs::write(d.join("node.secret"), "short").unwrap();
    std::fs::copy(d.join("certs/uwv.key"), d.join("certs/gemeente.key")).unwrap();
    let text = std::fs::read_to_string(&p)
        .unwrap()
        .replace(r#"services = ["node-info"]"#, r#"services = ["node-inf"]"#);
    std::fs::write(&p, text).unwrap();
    let bad = matchgate().arg("check-config").arg(&p).output().unwrap();
    let out = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1), "{out}");
    for key in ["secret_file:", "tls.key:", "grants[0].services:"] {
        assert!(out.contains(key), "{key} missing in:\n{out}");
    }
    assert!(out.contains("3 problem(s)"), "{out}");
}

/// `peers on A, own systems on B, admin on http://C` from the serve banner.
fn addresses(line: &str) -> (String, String, String) {
    let after = |label: &str| {
        let i = line
            .find(label)
            .unwrap_or_else(|| panic!("{label} in {line}"))
            + label.len();
        line[i..]
            .split([',', ' '])
            .next()
            .unwrap()
            .trim_start_matches("http://")
            .to_string()
    };
    (
        after("peers on "),
        after("own systems on "),
        after("admin on "),
    )
}

fn http_get(addr: &str, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut r = String::new();
    s.read_to_string(&mut r).ok()?;
    r.split(' ').nth(1)?.parse().ok()
}

async fn channel(
    d: &Path,
    addr: &str,
    cert: &str,
    key: &str,
    ca: &str,
) -> Result<Channel, tonic::transport::Error> {
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(std::fs::read(d.join(ca)).unwrap()))
        .domain_name("localhost")
        .identity(Identity::from_pem(
            std::fs::read(d.join(cert)).unwrap(),
            std::fs::read(d.join(key)).unwrap(),
        ));
    Endpoint::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)?
        .connect_timeout(Duration::from_secs(3))
        .connect()
        .await
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_rereads_certificates_and_sigterm_drains() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // a peer that accepts connections and never answers: a federated selection waits for it
    // until the deadline (1.5 s)
    let slow = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let slow_addr = slow.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in slow.incoming() {
            held.push(s);
        }
    });
    let p = write_config(d, &slow_addr);
    let mut child = matchgate()
        .args(["serve", "--config"])
        .arg(&p)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut banner = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut banner)
        .unwrap();
    let (peer, local, admin) = addresses(&banner);
    let t = Instant::now();
    while http_get(&admin, "/readyz") != Some(200) {
        assert!(t.elapsed() < Duration::from_secs(20), "never ready");
        std::thread::sleep(Duration::from_millis(50));
    }

    // UWV connected with the first PKI
    let old = channel(d, &peer, "certs/uwv.pem", "certs/uwv.key", "certs/ca.pem")
        .await
        .unwrap();
    let mut old_client = PeerClient::new(old);
    let info = |from: &str| {
        let mut r = tonic::Request::new(NodeInfoRequest {});
        node::parties::attach(
            &mut r,
            from,
            from,
            GEMEENTE,
            false,
            &uuid::Uuid::now_v7().to_string(),
        );
        r
    };
    old_client.node_info(info(UWV)).await.unwrap();

    // a new PKI (a new CA) in place of the old, then SIGHUP
    node::pki::write_dev_pki(&d.join("new"), &[("gemeente", GEMEENTE), ("uwv", UWV)]).unwrap();
    for f in ["gemeente.pem", "gemeente.key", "ca.pem", "local-ca.pem"] {
        std::fs::copy(d.join("new").join(f), d.join("certs").join(f)).unwrap();
    }
    signal(child.id(), "-HUP");
    let t = Instant::now();
    loop {
        // new connections get the new certificate: the old CA no longer verifies it
        let fresh = channel(d, &peer, "new/uwv.pem", "new/uwv.key", "new/ca.pem").await;
        if let Ok(fresh) = fresh {
            PeerClient::new(fresh).node_info(info(UWV)).await.unwrap();
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the new certificates were never served"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stale = channel(d, &peer, "certs/uwv.pem", "certs/uwv.key", "new/ca.pem").await;
    let refused = match stale {
        Err(_) => true,
        Ok(ch) => PeerClient::new(ch).node_info(info(UWV)).await.is_err(),
    };
    assert!(
        refused,
        "a client certificate of the old CA must be refused after the reload"
    );
    // the connection made before the reload is kept
    old_client
        .node_info(info(UWV))
        .await
        .expect("an established connection survives SIGHUP");

    // a federated selection in flight when SIGTERM comes is answered, then the node exits 0
    let ch = channel(
        d,
        &local,
        "new/gemeente-local.pem",
        "new/gemeente-local.key",
        "new/ca.pem",
    )
    .await
    .unwrap();
    let q: vum_proto::werkzoekenden::WerkzoekendeProfielMatchesRequest = serde_json::from_value(
        serde_json::json!({"vraagObject": {"selectiegebied": {"postcode": "3511AA", "afstand": 10}}}),
    )
    .unwrap();
    let call = tokio::spawn(async move {
        LocalClient::new(ch)
            .federated_select_werkzoekenden(q)
            .await
            .map(|r| r.into_inner())
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    let stopped_at = Instant::now();
    signal(child.id(), "-TERM");
    let answer = call.await.unwrap().expect("the call in flight is answered");
    assert_eq!(answer.peers.len(), 1);
    assert_ne!(answer.peers[0].status, "ok");
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
    assert!(stopped_at.elapsed() < Duration::from_secs(10));
    // the selection's audit entry (the call to the peer) was committed before the exit
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", d.join("gemeente.db").display()))
        .await
        .unwrap();
    let actions: Vec<(String,)> = sqlx::query_as("SELECT action FROM audit")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(
        actions
            .iter()
            .any(|(a,)| a.starts_with("peer-select-werkzoekenden")),
        "{actions:?}"
    );
}
