//! Issue 10, finding 1, reproduced as a deployment would meet it: a `matchgate serve` whose process
//! may open only 128 files, and an attacker holding 300 idle TCP connections and 120 idle
//! mutual-TLS connections made with a configured peer's certificate. With connection caps above
//! what the file limit allows (what every node had before the caps existed) a real call from
//! another peer gets no answer: the outage. With caps under the file limit (node.example.toml
//! explains the sum) the same call is answered at once.
use node::pb::peer_client::PeerClient;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

const UWV: &str = "00000001003214345000";
const GEMEENTE: &str = "00000001001234567000";
const SW: &str = "00000001005556667000";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn config(d: &Path, port: u16, local: u16, caps: (u32, u32, u32, u32)) -> std::path::PathBuf {
    let (total, per_peer, handshakes, per_address) = caps;
    let grants: String = [GEMEENTE, SW]
        .iter()
        .map(|o| {
            format!("[[grants]]\nvia = \"{o}\"\non_behalf_of = [\"{o}\"]\nservices = [\"*\"]\n")
        })
        .collect();
    let text = format!(
        r#"oin = "{UWV}"
name = "UWV"
database = "sqlite://{db}"
secret_file = "node.secret"
listen = "127.0.0.1:{port}"
[tls]
cert = "uwv.pem"
key = "uwv.key"
ca = "ca.pem"
[local]
listen = "127.0.0.1:{local}"
ca = "local-ca.pem"
clients = [{{ oin = "{UWV}" }}]
[limits]
max_connections = {total}
max_connections_per_peer = {per_peer}
max_handshakes = {handshakes}
max_handshakes_per_address = {per_address}
handshake_timeout_s = 30
idle_timeout_s = 120
{grants}"#,
        db = d.join("uwv.db").display()
    );
    let p = d.join(format!("node-{port}.toml"));
    std::fs::write(&p, text).unwrap();
    p
}

/// `matchgate serve` in a shell that lowers the open-files limit first.
fn serve_with_file_limit(config: &Path, limit: u32) -> Child {
    Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n {limit} && exec \"$0\" serve --config \"$1\""
        ))
        .arg(env!("CARGO_BIN_EXE_matchgate"))
        .arg(config)
        .current_dir(config.parent().unwrap())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_listening(addr: SocketAddr) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the node did not start listening on {addr}");
}

async fn raw_connect(addr: SocketAddr, from: [u8; 4]) -> std::io::Result<tokio::net::TcpStream> {
    let s = tokio::net::TcpSocket::new_v4()?;
    s.bind(SocketAddr::from((from, 0)))?;
    s.connect(addr).await
}

async fn tls_connect(
    d: &Path,
    addr: SocketAddr,
    from: [u8; 4],
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(d.join("ca.pem")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let chain: Vec<_> = CertificateDer::pem_file_iter(d.join("gemeente.pem"))
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_file(d.join("gemeente.key")).unwrap();
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .unwrap();
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = raw_connect(addr, from).await?;
    tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
}

/// A NodeInfo call from the SW-bedrijf; Err when no answer comes within 4 s.
async fn real_call(d: &Path, addr: SocketAddr) -> Result<(), String> {
    let call = async {
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(
                std::fs::read(d.join("ca.pem")).unwrap(),
            ))
            .identity(Identity::from_pem(
                std::fs::read(d.join("sw.pem")).unwrap(),
                std::fs::read(d.join("sw.key")).unwrap(),
            ))
            .domain_name("localhost");
        let ch = Endpoint::from_shared(format!("https://{addr}"))
            .map_err(|e| e.to_string())?
            .tls_config(tls)
            .map_err(|e| e.to_string())?
            .connect()
            .await
            .map_err(|e| e.to_string())?;
        let mut r = tonic::Request::new(node::pb::NodeInfoRequest {});
        node::parties::attach(
            &mut r,
            SW,
            SW,
            UWV,
            false,
            &uuid::Uuid::now_v7().to_string(),
        );
        PeerClient::new(ch)
            .node_info(r)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    };
    tokio::time::timeout(Duration::from_secs(4), call)
        .await
        .map_err(|_| "no answer within 4 s".to_string())?
}

/// Hold the attacker's connections, then try the real call.
async fn attack_then_call(d: &Path, caps: (u32, u32, u32, u32)) -> Result<(), String> {
    let (port, local) = (free_port(), free_port());
    let mut child = serve_with_file_limit(&config(d, port, local, caps), 128);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    wait_listening(addr).await;
    let mut held_tcp = Vec::new();
    for _ in 0..300 {
        if let Ok(s) = raw_connect(addr, [127, 0, 0, 2]).await {
            held_tcp.push(s);
        }
    }
    let mut held_tls = Vec::new();
    let mut failed_in_a_row = 0;
    for i in 0..120u8 {
        let from = [127, 0, 0, 3 + i % 4];
        match tokio::time::timeout(Duration::from_millis(500), tls_connect(d, addr, from)).await {
            Ok(Ok(s)) => {
                held_tls.push(s);
                failed_in_a_row = 0;
            }
            // the node no longer completes handshakes (starved, or refusing over its caps)
            _ => {
                failed_in_a_row += 1;
                if failed_in_a_row == 5 {
                    break;
                }
            }
        }
    }
    let result = real_call(d, addr).await;
    let _ = child.kill();
    let _ = child.wait();
    drop((held_tcp, held_tls));
    result
}

#[tokio::test]
async fn idle_connections_cannot_take_a_node_with_128_files_down() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    node::pki::write_dev_pki(d, &[("uwv", UWV), ("gemeente", GEMEENTE), ("sw", SW)]).unwrap();
    std::fs::write(d.join("node.secret"), "fd-limit-secret-0123456789abcdef").unwrap();
    // caps above what 128 files allow: the outage of the finding
    let uncapped = attack_then_call(d, (5000, 5000, 5000, 5000)).await;
    assert!(
        uncapped.is_err(),
        "with caps above the file limit the held connections should starve the node"
    );
    // caps under the file limit: the held connections are shed, the call is answered
    let capped = attack_then_call(d, (40, 8, 16, 4)).await;
    assert_eq!(
        capped,
        Ok(()),
        "with caps under the file limit the node must answer"
    );
}
