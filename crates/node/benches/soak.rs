//! The bounded soak of issue 10: a mixed load at a steady, modest rate for a fixed time, with the
//! process's resident memory and open file descriptors sampled at a fixed interval. Measures leaks,
//! not speed. In one process, over loopback with real mutual TLS and the nodes' SQLite stores:
//!   * the gemeente (a source) holds the 1000 official profiles and the 93 official vacancies;
//!   * UWV (the asking node) has the gemeente as its one peer (`follow_feed` off);
//!   * load, each task for the whole run: federated selections through UWV's Local service with
//!     varied queries and `FederatedGetWerkzoekende` for up to 3 results of each; `Push` streams of
//!     50 profiles into the gemeente's Local service (each record changed every time it comes back,
//!     one delete per stream); vacancy upserts pushed into the gemeente and `SyncFeed` pulls by
//!     UWV; refused handshakes on the gemeente's peer port (a foreign CA's certificate, an expired
//!     one, and plain TCP connections that send nothing and are dropped after 3 s).
//!
//! An error is any unexpected outcome: a failed call, a rejected record, a peer status other than
//! "ok", or a bad certificate the node does NOT refuse. A refused bad certificate is expected.
//! At the end: growth of RSS and fds from the end of warm-up (sample 2) to the last sample against
//! the 10 % bound, total errors, audit rows and database sizes at start and end.
//! Run: `cargo bench -p node --bench soak` (30 minutes, a sample every 60 s);
//! `SOAK_MINUTES=2 SOAK_SAMPLE_SECONDS=20` for a trial. Reported in BENCHMARKS.md.
use node::config::{Grant, LocalConfig, NodeConfig, OwnSystem, PeerConfig, TlsConfig};
use node::pb::{
    local_client::LocalClient, push_request::Record, FederatedGetRequest, PushDelete, PushRequest,
    PushWerkzoekende, SyncFeedRequest,
};
use serde_json::Value;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use vum::Kind;
use vum_proto::werkzoekenden as wz;

const GEMEENTE: &str = "00000001001234567000";
const UWV: &str = "00000001003214345000";
/// the address the refused handshakes come from (the legitimate traffic uses 127.0.0.1, so the
/// per-address handshake cap does not mix the two)
const ATTACKER: [u8; 4] = [127, 0, 0, 2];
/// the bound of issue 10: growth after warm-up, %
const BOUND: f64 = 10.0;

fn shared(rel: &str) -> Value {
    let base = std::env::var("MATCHGATE_SHARED")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared").to_string());
    serde_json::from_str(&std::fs::read_to_string(format!("{base}/{rel}")).unwrap()).unwrap()
}

fn env_f64(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// A node as deployed after issue 10: own systems under their own CA, only the organisation's
/// own-systems certificate admitted there, the default limits.
fn cfg(d: &Path, name: &str, oin: &str, peers: Vec<PeerConfig>, grants: Vec<Grant>) -> NodeConfig {
    std::fs::write(
        d.join(format!("{name}.secret")),
        format!("{name}-soak-secret-0123456789abcdef"),
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
        local: LocalConfig {
            listen: "127.0.0.1:0".into(),
            ca: d.join("local-ca.pem"),
            clients: vec![OwnSystem::new(oin, &node::pki::own_systems_cn(name))],
        },
        peers,
        grants,
        peer_deadline_ms: 5000,
        rest: Default::default(),
        admin: Default::default(),
        telemetry: Default::default(),
        limits: Default::default(),
    }
}

/// An own system's channel to a node's Local listener.
async fn local_channel(d: &Path, addr: std::net::SocketAddr, name: &str) -> Channel {
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(
            std::fs::read(d.join("ca.pem")).unwrap(),
        ))
        .identity(Identity::from_pem(
            std::fs::read(d.join(format!("{name}-local.pem"))).unwrap(),
            std::fs::read(d.join(format!("{name}-local.key"))).unwrap(),
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

/// The kinds of load, in table order.
const KINDS: [&str; 8] = [
    "select", "detail", "push", "vacancy", "sync", "foreign", "expired", "idle-tcp",
];

#[derive(Default)]
struct Counters {
    calls: [AtomicU64; 8],
    errors: [AtomicU64; 8],
    /// details of a record deleted after the selection returned it (NOT_FOUND): expected
    gone: AtomicU64,
    first_errors: Mutex<Vec<String>>,
}

impl Counters {
    fn ok(&self, k: usize) {
        self.calls[k].fetch_add(1, Relaxed);
    }
    fn err(&self, k: usize, what: String) {
        self.calls[k].fetch_add(1, Relaxed);
        self.errors[k].fetch_add(1, Relaxed);
        let mut f = self.first_errors.lock().unwrap();
        if f.len() < 20 {
            f.push(format!("{}: {what}", KINDS[k]));
        }
    }
    fn snapshot(&self) -> ([u64; 8], [u64; 8]) {
        (
            std::array::from_fn(|i| self.calls[i].load(Relaxed)),
            std::array::from_fn(|i| self.errors[i].load(Relaxed)),
        )
    }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

fn fds() -> u64 {
    std::fs::read_dir("/proc/self/fd").unwrap().count() as u64
}

async fn audit_rows(s: &store::Store) -> i64 {
    use sqlx::Row;
    sqlx::query("SELECT count(*) FROM audit")
        .fetch_one(s.pool())
        .await
        .unwrap()
        .get(0)
}

/// Sizes of a node's database file and its WAL, bytes.
fn db_size(d: &Path, name: &str) -> (u64, u64) {
    let len = |p: std::path::PathBuf| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    (
        len(d.join(format!("{name}.db"))),
        len(d.join(format!("{name}.db-wal"))),
    )
}

async fn report_state(label: &str, d: &Path, g: &node::run::Running, u: &node::run::Running) {
    let (gd, gw) = db_size(d, "gemeente");
    let (ud, uw) = db_size(d, "uwv");
    println!(
        "{label:<6} audit rows gemeente {:>7}  uwv {:>7};  db gemeente {:>7.2} MiB (+ wal {:>6.2} MiB)  uwv {:>7.2} MiB (+ wal {:>6.2} MiB)",
        audit_rows(&g.state.store).await,
        audit_rows(&u.state.store).await,
        gd as f64 / 1048576.0,
        gw as f64 / 1048576.0,
        ud as f64 / 1048576.0,
        uw as f64 / 1048576.0,
    );
}

/// A TLS client holding `cert` (from the development PKI), connecting from [`ATTACKER`].
fn tls_connector(d: &Path, cert: &str) -> tokio_rustls::TlsConnector {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(d.join("ca.pem")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let chain: Vec<_> = CertificateDer::pem_file_iter(d.join(format!("{cert}.pem")))
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_file(d.join(format!("{cert}.key"))).unwrap();
    let mut c = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .unwrap();
    c.alpn_protocols = vec![b"h2".to_vec()];
    tokio_rustls::TlsConnector::from(Arc::new(c))
}

async fn attacker_tcp(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpStream> {
    let s = tokio::net::TcpSocket::new_v4()?;
    s.bind(std::net::SocketAddr::from((ATTACKER, 0)))?;
    s.connect(addr).await
}

/// One handshake with a bad certificate: Ok(()) when the node refuses it (the handshake fails, or
/// with TLS 1.3 the first read ends in the node's alert or EOF), Err when it is let in (the node
/// speaks HTTP/2 to it) or the attempt goes wrong otherwise.
async fn bad_handshake(
    tls: &tokio_rustls::TlsConnector,
    addr: std::net::SocketAddr,
) -> Result<(), String> {
    use rustls::pki_types::ServerName;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tcp = attacker_tcp(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let mut s = match tls
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
    {
        Err(_) => return Ok(()),
        Ok(s) => s,
    };
    // the HTTP/2 client preface, as a real client sends it; a node that admitted the
    // certificate answers with its SETTINGS frame
    let _ = s
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await;
    let mut buf = [0u8; 64];
    match tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await {
        Ok(Err(_)) | Ok(Ok(0)) => Ok(()),
        Ok(Ok(n)) => Err(format!(
            "the node answered {n} bytes: the certificate was let in"
        )),
        Err(_) => Err("neither refused nor answered within 5 s".into()),
    }
}

/// Paces a loop at one round per `every`, without catching up after a slow round.
async fn tick(next: &mut tokio::time::Instant, every: Duration) {
    *next += every;
    let now = tokio::time::Instant::now();
    if *next < now {
        *next = now;
    }
    tokio::time::sleep_until(*next).await;
}

#[tokio::main]
async fn main() {
    let minutes = env_f64("SOAK_MINUTES", 30.0);
    let sample = Duration::from_secs_f64(env_f64("SOAK_SAMPLE_SECONDS", 60.0));
    let total = Duration::from_secs_f64(minutes * 60.0);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    node::pki::write_dev_pki(d, &[("gemeente", GEMEENTE), ("uwv", UWV)]).unwrap();

    // the gemeente: the source; UWV may ask it everything (a SUWI party)
    let grant_uwv = vec![Grant {
        via: UWV.into(),
        on_behalf_of: vec![UWV.into()],
        services: vec!["*".into()],
        suwi: true,
    }];
    let gemeente = node::run::start(cfg(d, "gemeente", GEMEENTE, vec![], grant_uwv))
        .await
        .unwrap();
    let docs = shared("vum/testdata/werkzoekenden-1000.json");
    let docs: Vec<Value> = docs.as_array().unwrap().clone();
    let official: Vec<(String, Value)> = docs
        .iter()
        .map(|x| (x["idWerkzoekende"].as_str().unwrap().to_string(), x.clone()))
        .collect();
    gemeente
        .state
        .store
        .upsert_batch(Kind::Werkzoekende, &official, store::now_ms())
        .await
        .unwrap();
    let vacs: Vec<Value> = shared("vum/testdata/vacatures-93.json")
        .as_array()
        .unwrap()
        .clone();
    let official_vacs: Vec<(String, Value)> = vacs
        .iter()
        .map(|x| (x["idVacature"].as_str().unwrap().to_string(), x.clone()))
        .collect();
    gemeente
        .state
        .store
        .upsert_batch(Kind::Vacature, &official_vacs, store::now_ms())
        .await
        .unwrap();
    // UWV: asks the gemeente; pulls its feed only when told to
    let uwv = node::run::start(cfg(
        d,
        "uwv",
        UWV,
        vec![PeerConfig::new(
            GEMEENTE,
            "gemeente",
            format!("https://{}", gemeente.peer_addr),
        )],
        vec![],
    ))
    .await
    .unwrap();

    let c = Arc::new(Counters::default());
    let start = Instant::now();
    let deadline = tokio::time::Instant::now() + total;
    let docs = Arc::new(docs);
    let vacs = Arc::new(vacs);
    let mut tasks = Vec::new();

    // ---- federated selections, one a second, and details of up to 3 results of each
    {
        let (c, ch) = (c.clone(), local_channel(d, uwv.local_addr, "uwv").await);
        tasks.push(tokio::spawn(async move {
            let mut local = LocalClient::new(ch);
            let pcs = [
                "3511AA", "1012AB", "3011AB", "9711AA", "5611AA", "6811AA", "2995VD", "7511AA",
                "8011AA", "4811AA", "6211AA", "2511AA",
            ];
            let kms = [10, 25, 50, 100, 200];
            let mut next = tokio::time::Instant::now();
            let mut i = 0usize;
            while tokio::time::Instant::now() < deadline {
                i += 1;
                let q = serde_json::json!({"vraagObject": {"selectiegebied": {
                    "postcode": pcs[i % pcs.len()], "afstand": kms[(i / pcs.len()) % kms.len()]}}});
                let q: wz::WerkzoekendeProfielMatchesRequest = serde_json::from_value(q).unwrap();
                match local.federated_select_werkzoekenden(q).await {
                    Err(e) => c.err(0, format!("{:?} {}", e.code(), e.message())),
                    Ok(r) => {
                        let r = r.into_inner();
                        if let Some(p) = r.peers.iter().find(|p| p.status != "ok") {
                            c.err(0, format!("peer {} status {}", p.name, p.status));
                        } else {
                            c.ok(0);
                        }
                        let ids: Vec<String> = r
                            .response
                            .map(|x| x.matches.into_iter().map(|m| m.vum_id).collect())
                            .unwrap_or_default();
                        for id in ids.into_iter().take(3) {
                            match local
                                .federated_get_werkzoekende(FederatedGetRequest { vum_id: id })
                                .await
                            {
                                Ok(r) if r.get_ref().werkzoekende.is_some() => c.ok(1),
                                Ok(_) => c.err(1, "a detail without its werkzoekende".into()),
                                Err(e) if e.code() == tonic::Code::NotFound => {
                                    c.ok(1);
                                    c.gone.fetch_add(1, Relaxed);
                                }
                                Err(e) => c.err(1, format!("{:?} {}", e.code(), e.message())),
                            }
                        }
                    }
                }
                tick(&mut next, Duration::from_secs(1)).await;
            }
        }));
    }

    // ---- pushes: a stream of 50 profiles every 5 s over a pool of 500 local ids; a record is
    // changed each time it comes back (its maximaleReisafstand toggles), one delete per stream
    {
        let (c, docs) = (c.clone(), docs.clone());
        let ch = local_channel(d, gemeente.local_addr, "gemeente").await;
        tasks.push(tokio::spawn(async move {
            let mut local = LocalClient::new(ch);
            let mut next = tokio::time::Instant::now();
            let mut n = 0usize;
            while tokio::time::Instant::now() < deadline {
                let round = n / 10; // the pool is covered every 10 streams
                let mut stream = Vec::with_capacity(51);
                for j in (n % 10) * 50..(n % 10) * 50 + 50 {
                    let mut w = docs[j].clone();
                    w["idWerkzoekende"] = Value::String(format!("soak-w{j:04}"));
                    let km = w["mobiliteit"]["maximaleReisafstand"]
                        .as_i64()
                        .unwrap_or(50);
                    w["mobiliteit"]["maximaleReisafstand"] =
                        Value::from(if round.is_multiple_of(2) {
                            km
                        } else {
                            (km + 1) % 1000
                        });
                    stream.push(PushRequest {
                        record: Some(Record::Werkzoekende(PushWerkzoekende {
                            werkzoekende: Some(serde_json::from_value(w).unwrap()),
                            consent: true,
                        })),
                    });
                }
                // the first record of the stream before: deleted now, back in 10 streams
                let gone = ((n + 9) % 10) * 50;
                stream.push(PushRequest {
                    record: Some(Record::Delete(PushDelete {
                        kind: "werkzoekende".into(),
                        id: format!("soak-w{gone:04}"),
                        withdrawn: n.is_multiple_of(2),
                    })),
                });
                match local.push(tokio_stream::iter(stream)).await {
                    Err(e) => c.err(2, format!("{:?} {}", e.code(), e.message())),
                    Ok(s) if !s.get_ref().rejected.is_empty() || s.get_ref().received != 51 => {
                        c.err(2, format!("{:?}", s.get_ref()))
                    }
                    Ok(_) => c.ok(2),
                }
                n += 1;
                tick(&mut next, Duration::from_secs(5)).await;
            }
        }));
    }

    // ---- vacancy upserts: 10 vacancies every 5 s pushed into the gemeente (a pool of 200 ids,
    // the closing date moves each time one comes back), and a SyncFeed pull by UWV every 10 s
    {
        let (c, vacs) = (c.clone(), vacs.clone());
        let ch = local_channel(d, gemeente.local_addr, "gemeente").await;
        tasks.push(tokio::spawn(async move {
            let mut local = LocalClient::new(ch);
            let mut next = tokio::time::Instant::now();
            let mut n = 0usize;
            while tokio::time::Instant::now() < deadline {
                let round = n / 20;
                let stream: Vec<PushRequest> = ((n % 20) * 10..(n % 20) * 10 + 10)
                    .map(|j| {
                        let mut v = vacs[j % vacs.len()].clone();
                        v["idVacature"] = Value::String(format!("soak-v{j:04}"));
                        v["sluitingsdatumVacature"] =
                            Value::String(format!("2034-{:02}-{:02}", 1 + round % 12, 1 + j % 28));
                        PushRequest {
                            record: Some(Record::Vacature(serde_json::from_value(v).unwrap())),
                        }
                    })
                    .collect();
                match local.push(tokio_stream::iter(stream)).await {
                    Err(e) => c.err(3, format!("{:?} {}", e.code(), e.message())),
                    Ok(s) if !s.get_ref().rejected.is_empty() => {
                        c.err(3, format!("{:?}", s.get_ref()))
                    }
                    Ok(_) => c.ok(3),
                }
                n += 1;
                tick(&mut next, Duration::from_secs(5)).await;
            }
        }));
    }
    {
        let c = c.clone();
        let ch = local_channel(d, uwv.local_addr, "uwv").await;
        tasks.push(tokio::spawn(async move {
            let mut local = LocalClient::new(ch);
            let mut next = tokio::time::Instant::now();
            while tokio::time::Instant::now() < deadline {
                match local
                    .sync_feed(SyncFeedRequest {
                        peer_oin: GEMEENTE.into(),
                        limit: 0,
                    })
                    .await
                {
                    Err(e) => c.err(4, format!("{:?} {}", e.code(), e.message())),
                    Ok(_) => c.ok(4),
                }
                tick(&mut next, Duration::from_secs(10)).await;
            }
        }));
    }

    // ---- refused handshakes: a foreign CA's and an expired certificate, one each every 2 s
    for (k, cert) in [(5usize, "foreign"), (6, "expired")] {
        let (c, tls, addr) = (c.clone(), tls_connector(d, cert), gemeente.peer_addr);
        tasks.push(tokio::spawn(async move {
            let mut next = tokio::time::Instant::now();
            while tokio::time::Instant::now() < deadline {
                match bad_handshake(&tls, addr).await {
                    Ok(()) => c.ok(k),
                    Err(e) => c.err(k, e),
                }
                tick(&mut next, Duration::from_secs(2)).await;
            }
        }));
    }
    // ---- plain TCP connections that send nothing, one every 2 s, dropped after 3 s
    {
        let (c, addr) = (c.clone(), gemeente.peer_addr);
        tasks.push(tokio::spawn(async move {
            let mut next = tokio::time::Instant::now();
            let mut held = Vec::new();
            while tokio::time::Instant::now() < deadline {
                let c = c.clone();
                held.push(tokio::spawn(async move {
                    match attacker_tcp(addr).await {
                        Err(e) => c.err(7, format!("connect: {e}")),
                        Ok(s) => {
                            tokio::time::sleep(Duration::from_secs(3)).await;
                            drop(s);
                            c.ok(7);
                        }
                    }
                }));
                held.retain(|h| !h.is_finished());
                tick(&mut next, Duration::from_secs(2)).await;
            }
            for h in held {
                let _ = h.await;
            }
        }));
    }

    // ---- samples
    println!(
        "soak {minutes} min, a sample every {:.0} s; load: selection 1/s (+ up to 3 details), push 50 profiles/5 s, 10 vacancies/5 s, sync/10 s, foreign + expired certificate 1/2 s each, idle TCP 1/2 s held 3 s",
        sample.as_secs_f64()
    );
    report_state("start", d, &gemeente, &uwv).await;
    print!("{:>6} {:>8} {:>5}", "min", "RSS MiB", "fds");
    for k in KINDS {
        print!(" {k:>8}");
    }
    println!(" {:>6}", "errors");
    let mut samples: Vec<(f64, u64, u64)> = Vec::new();
    let mut prev = [0u64; 8];
    let mut next = tokio::time::Instant::now();
    loop {
        let (calls, errors) = c.snapshot();
        let (rss, fd) = (rss_kib(), fds());
        let t = start.elapsed().as_secs_f64() / 60.0;
        samples.push((t, rss, fd));
        print!("{t:>6.1} {:>8.1} {fd:>5}", rss as f64 / 1024.0);
        for i in 0..8 {
            print!(" {:>8}", calls[i] - prev[i]);
        }
        println!(" {:>6}", errors.iter().sum::<u64>());
        prev = calls;
        if tokio::time::Instant::now() >= deadline {
            break;
        }
        next += sample;
        tokio::time::sleep_until(next.min(deadline)).await;
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (calls, errors) = c.snapshot();
    let (rss, fd) = (rss_kib(), fds());
    println!(
        "after the load tasks ended: RSS {:.1} MiB, {fd} fds",
        rss as f64 / 1024.0
    );
    report_state("end", d, &gemeente, &uwv).await;

    let base = samples[2.min(samples.len() - 1)];
    let last = *samples.last().unwrap();
    let growth = |a: u64, b: u64| (b as f64 - a as f64) / a as f64 * 100.0;
    let peak_rss = samples[2.min(samples.len() - 1)..]
        .iter()
        .map(|s| s.1)
        .max()
        .unwrap();
    let peak_fd = samples[2.min(samples.len() - 1)..]
        .iter()
        .map(|s| s.2)
        .max()
        .unwrap();
    let (g_rss, g_fd) = (growth(base.1, last.1), growth(base.2, last.2));
    println!(
        "RSS  end of warm-up (minute {:.1}) {:.1} MiB -> last (minute {:.1}) {:.1} MiB: {g_rss:+.1} % (peak after warm-up {:.1} MiB, {:+.1} %; bound {BOUND} %)",
        base.0,
        base.1 as f64 / 1024.0,
        last.0,
        last.1 as f64 / 1024.0,
        peak_rss as f64 / 1024.0,
        growth(base.1, peak_rss)
    );
    println!(
        "fds  end of warm-up {} -> last {}: {g_fd:+.1} % (peak after warm-up {peak_fd}, {:+.1} %; bound {BOUND} %)",
        base.2,
        last.2,
        growth(base.2, peak_fd)
    );
    print!("calls");
    for (i, k) in KINDS.iter().enumerate() {
        print!("  {k} {}", calls[i]);
    }
    println!(
        "  (details of records deleted since the selection: {})",
        c.gone.load(Relaxed)
    );
    print!("errors");
    for (i, k) in KINDS.iter().enumerate() {
        print!("  {k} {}", errors[i]);
    }
    println!("  total {}", errors.iter().sum::<u64>());
    for e in c.first_errors.lock().unwrap().iter() {
        println!("  error: {e}");
    }
    let held = g_rss <= BOUND && g_fd <= BOUND && errors.iter().sum::<u64>() == 0;
    println!(
        "bound (growth <= {BOUND} % after warm-up, no errors): {}",
        if held { "held" } else { "NOT held" }
    );
    uwv.stop().await;
    gemeente.stop().await;
}
