//! Exchange benchmarks on loopback over mutual TLS, each against a same-run baseline:
//!   * detail requests/s: the node's GetWerkzoekende (identity, party checks, grant, store read,
//!     release rules, audit append) vs a bare tonic+rustls server answering the same message from
//!     memory on the same service definition; and the same node's Bron REST detail
//!     (`GET {base}/werkzoekendeProfielen/{id}`, HTTP/2 on the same listener) with the same ids and
//!     concurrency, against its gRPC figure and the echo of the same rounds;
//!   * federated selection p50/p99 over 10 source nodes (100 official profiles each), asked by
//!     two gateways side by side, one with the sources as matchgate (gRPC) peers and one with the
//!     same sources as VUM Bron (REST) peers; and the gateway's own hop: a federated selection over
//!     1 peer vs calling that peer directly;
//!   * vacancy feed: changes per second streamed to a consumer;
//!   * tracing: the node's GetWerkzoekende with every span exported over OTLP to a collector in
//!     this process vs the same with export off, interleaved rounds (`BENCH_ONLY=tracing`).
//!
//! Run: `cargo bench -p node --bench exchange`. Reported in BENCHMARKS.md.
mod common;
use common::{cfg, channel, pct, GEMEENTE};
use node::config::{PeerConfig, Protocol};
use node::parties;
use node::pb::{
    self,
    local_client::LocalClient,
    peer_client::PeerClient,
    peer_server::{Peer, PeerServer},
};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tonic::transport::{Certificate, Channel, Identity, Server, ServerTlsConfig};
use tonic::{Request, Response, Status};
use vum::Kind;
use vum_proto::{vacatures as vac, werkzoekenden as wz};

fn oin(i: usize) -> String {
    format!("{:020}", 10_000_000_000_000u64 + i as u64)
}

fn shared(rel: &str) -> Value {
    let base = std::env::var("MATCHGATE_SHARED")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared").to_string());
    serde_json::from_str(&std::fs::read_to_string(format!("{base}/{rel}")).unwrap()).unwrap()
}

fn req<T>(m: T, to: &str) -> Request<T> {
    let mut r = Request::new(m);
    parties::attach(
        &mut r,
        GEMEENTE,
        GEMEENTE,
        to,
        true,
        &uuid::Uuid::now_v7().to_string(),
    );
    r
}

/// The baseline: the same service definition, answering GetWerkzoekende from memory, nothing else.
struct Echo(Arc<wz::Werkzoekende>);

type Feed =
    std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::FeedEvent, Status>> + Send>>;

#[tonic::async_trait]
impl Peer for Echo {
    async fn node_info(
        &self,
        _: Request<pb::NodeInfoRequest>,
    ) -> Result<Response<pb::NodeInfoResponse>, Status> {
        Err(Status::unimplemented(""))
    }
    async fn select_werkzoekenden(
        &self,
        _: Request<wz::WerkzoekendeProfielMatchesRequest>,
    ) -> Result<Response<wz::WerkzoekendeProfielMatchesBronResponse>, Status> {
        Err(Status::unimplemented(""))
    }
    async fn select_vacatures(
        &self,
        _: Request<vac::VacatureMatchesRequest>,
    ) -> Result<Response<vac::VacaturesMatchesBronResponse>, Status> {
        Err(Status::unimplemented(""))
    }
    async fn get_werkzoekende(
        &self,
        _: Request<pb::GetRequest>,
    ) -> Result<Response<wz::Werkzoekende>, Status> {
        Ok(Response::new((*self.0).clone()))
    }
    async fn get_vacature(
        &self,
        _: Request<pb::GetRequest>,
    ) -> Result<Response<vac::Vacature>, Status> {
        Err(Status::unimplemented(""))
    }
    type VacancyFeedStream = Feed;
    async fn vacancy_feed(&self, _: Request<pb::FeedRequest>) -> Result<Response<Feed>, Status> {
        Err(Status::unimplemented(""))
    }
    async fn transparency(
        &self,
        _: Request<pb::TransparencyRequest>,
    ) -> Result<Response<pb::TransparencyResponse>, Status> {
        Err(Status::unimplemented(""))
    }
}

async fn rate(ch: Channel, ids: Arc<Vec<String>>, to: &str, secs: f64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let tasks: Vec<_> = (0..32)
        .map(|w| {
            let (ch, ids, to) = (ch.clone(), ids.clone(), to.to_string());
            tokio::spawn(async move {
                let mut c = PeerClient::new(ch);
                let mut n = 0u64;
                let mut i = w * 31;
                while Instant::now() < deadline {
                    i = (i + 7) % ids.len();
                    c.get_werkzoekende(req(pb::GetRequest { id: ids[i].clone() }, &to))
                        .await
                        .expect("detail");
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    total as f64 / secs
}

/// A caller of a node's Bron REST face with the gemeente's certificate: one reqwest client, so
/// one connection (ALPN picks h2), as the gRPC load generator's one channel.
#[derive(Clone)]
struct Bron {
    http: reqwest::Client,
    /// the contract's base URL, `https://localhost:{port}/api/v3`
    base: String,
    /// the answering node's OIN: toParty, and viaParty (VUM → Bron: the answering processor)
    to: String,
}

impl Bron {
    async fn new(d: &Path, addr: std::net::SocketAddr, to: &str) -> Bron {
        let tls = node::tls::client_config(
            &d.join("gemeente.pem"),
            &d.join("gemeente.key"),
            &d.join("ca.pem"),
        )
        .unwrap();
        let b = Bron {
            http: reqwest::Client::builder()
                .use_preconfigured_tls(tls)
                .build()
                .unwrap(),
            base: format!("https://localhost:{}/api/v3", addr.port()),
            to: to.into(),
        };
        // open the connection before the workers start, and check it is HTTP/2
        let r = b
            .call(reqwest::Method::GET, "/openapi.json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.version(), reqwest::Version::HTTP_2);
        b
    }

    /// A request with the Bron contract's headers.
    fn call(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .header("X-VUM-fromParty", GEMEENTE)
            .header("X-VUM-toParty", &self.to)
            .header("X-VUM-viaParty", &self.to)
            .header("X-VUM-SUWIparty", "true")
            .header("X-VUM-berichtVersie", vum::parties::BERICHT_VERSIE)
            .header("API-Version", vum::parties::API_VERSIE)
            .header("X-Transaction-ID", uuid::Uuid::now_v7().to_string())
    }

    /// One detail: the answer's body read whole (not decoded: the gRPC client's protobuf decode
    /// is some 2.5 µs, a JSON decode several times that, and the load generator shares the cores).
    async fn detail(&self, id: &str) {
        let r = self
            .call(
                reqwest::Method::GET,
                &format!("/werkzoekendeProfielen/{id}"),
            )
            .send()
            .await
            .expect("REST detail");
        let status = r.status();
        let body = r.bytes().await.expect("REST detail body");
        assert!(
            status == 200 && !body.is_empty(),
            "REST detail: {status} {}",
            String::from_utf8_lossy(&body)
        );
    }
}

/// Details per second over the Bron REST face: as [`rate`], the same 32 workers walking the same
/// ids, sharing one client.
async fn rest_rate(b: Bron, ids: Arc<Vec<String>>, secs: f64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let tasks: Vec<_> = (0..32)
        .map(|w| {
            let (b, ids) = (b.clone(), ids.clone());
            tokio::spawn(async move {
                let mut n = 0u64;
                let mut i = w * 31;
                while Instant::now() < deadline {
                    i = (i + 7) % ids.len();
                    b.detail(&ids[i]).await;
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    total as f64 / secs
}

/// Whether spans are exported (the tracing phase turns it on and off between rounds).
static TRACING_ON: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Counts the spans an OTLP/gRPC export delivers.
#[derive(Clone, Default)]
struct Collector(Arc<std::sync::atomic::AtomicUsize>);

#[tonic::async_trait]
impl opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::TraceService
    for Collector
{
    async fn export(
        &self,
        req: Request<opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest>,
    ) -> Result<
        Response<opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse>,
        Status,
    > {
        let n: usize = req
            .into_inner()
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        self.0.fetch_add(n, std::sync::atomic::Ordering::SeqCst);
        Ok(Response::new(Default::default()))
    }
}

/// A collector on loopback and this process's subscriber exporting to it (the node's exporter
/// set-up), gated by [`TRACING_ON`].
async fn collector() -> (
    opentelemetry_sdk::trace::SdkTracerProvider,
    Arc<std::sync::atomic::AtomicUsize>,
) {
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::Layer as _;
    let c = Collector::default();
    let count = c.0.clone();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let at = l.local_addr().unwrap();
    tokio::spawn(
        Server::builder()
            .add_service(
                opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::TraceServiceServer::new(c),
            )
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(l)),
    );
    let provider = node::telemetry::provider(&format!("http://{at}"), "matchgate-bench").unwrap();
    let layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("matchgate"))
        .with_filter(tracing_subscriber::filter::filter_fn(|m| {
            m.level() <= &tracing::Level::INFO
                && TRACING_ON.load(std::sync::atomic::Ordering::Relaxed)
        }));
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer)).unwrap();
    (provider, count)
}

#[tokio::main]
async fn main() {
    let secs: f64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut orgs: Vec<(String, String)> = vec![("gemeente".into(), GEMEENTE.into())];
    for i in 0..10 {
        orgs.push((format!("bron{i}"), oin(i)));
    }
    let refs: Vec<(&str, &str)> = orgs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    node::pki::write_dev_pki(d, &refs).unwrap();
    let docs = shared("vum/testdata/werkzoekenden-1000.json");
    let docs: Vec<(String, Value)> = docs
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["idWerkzoekende"].as_str().unwrap().to_string(), x.clone()))
        .collect();

    // BENCH_ONLY=detail, =tracing or =feed runs one phase; =detail-node only the node's gRPC
    // detail, for profiling
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    // spans exported over OTLP to a collector in this process, only while TRACING_ON
    let (telemetry, collected) = collector().await;
    // ---- detail requests/s
    let mut sources = Vec::new();
    for i in 0..10 {
        let n = node::run::start(cfg(d, &format!("bron{i}"), &oin(i), vec![]))
            .await
            .unwrap();
        n.state
            .store
            .upsert_batch(
                Kind::Werkzoekende,
                &docs[i * 100..(i + 1) * 100],
                store::now_ms(),
            )
            .await
            .unwrap();
        sources.push(n);
    }
    // a source releases details only of records it returned to the caller in a selection: the
    // ids asked are those a few selections returned (details per selection unbounded here)
    let ids: Arc<Vec<String>> = {
        let mut c = PeerClient::new(channel(d, sources[0].peer_addr).await);
        let mut seen = std::collections::BTreeSet::new();
        for pc in ["3511AA", "1012AB", "9711AA", "6211AA", "5611AA"] {
            let q: wz::WerkzoekendeProfielMatchesRequest = serde_json::from_value(
                serde_json::json!({"vraagObject": {"selectiegebied": {"postcode": pc, "afstand": 300}}}),
            )
            .unwrap();
            let r = c.select_werkzoekenden(req(q, &oin(0))).await.unwrap();
            seen.extend(
                r.into_inner()
                    .matches
                    .into_iter()
                    .map(|m| m.id_werkzoekende),
            );
        }
        assert!(!seen.is_empty());
        Arc::new(seen.into_iter().collect())
    };
    let echo_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let echo_addr = echo_listener.local_addr().unwrap();
    let w: wz::Werkzoekende = serde_json::from_value(docs[0].1.clone()).unwrap();
    let tls = ServerTlsConfig::new()
        .identity(Identity::from_pem(
            std::fs::read(d.join("bron0.pem")).unwrap(),
            std::fs::read(d.join("bron0.key")).unwrap(),
        ))
        .client_ca_root(Certificate::from_pem(
            std::fs::read(d.join("ca.pem")).unwrap(),
        ));
    tokio::spawn(
        Server::builder()
            .tls_config(tls)
            .unwrap()
            .add_service(PeerServer::new(Echo(Arc::new(w))))
            .serve_with_incoming(node::run::nodelay(echo_listener)),
    );
    if only == "detail-node" {
        // the node's gRPC detail alone, for a profile of its path (BENCH_SECONDS long)
        let n = rate(
            channel(d, sources[0].peer_addr).await,
            ids.clone(),
            &oin(0),
            secs,
        )
        .await;
        println!("detail  node GetWerkzoekende alone    {n:>9.0} req/s");
        return;
    }
    if only.is_empty() || only == "detail" {
        // interleaved one-second rounds of echo, gRPC and REST, so that a noisy neighbour on this
        // VM hits every line
        let (echo_ch, node_ch) = (
            channel(d, echo_addr).await,
            channel(d, sources[0].peer_addr).await,
        );
        let bron = Bron::new(d, sources[0].peer_addr, &oin(0)).await;
        let (mut echos, mut nodes, mut rests) = (Vec::new(), Vec::new(), Vec::new());
        let (mut ratios, mut rest_echo, mut rest_grpc) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..(secs.round() as usize).max(3) {
            // the order turns each round, so that no line always follows the same one
            let (mut e, mut n, mut r) = (0.0, 0.0, 0.0);
            for line in 0..3 {
                match (round + line) % 3 {
                    0 => e = rate(echo_ch.clone(), ids.clone(), &oin(0), 1.0).await,
                    1 => n = rate(node_ch.clone(), ids.clone(), &oin(0), 1.0).await,
                    _ => r = rest_rate(bron.clone(), ids.clone(), 1.0).await,
                }
            }
            echos.push(e);
            nodes.push(n);
            rests.push(r);
            ratios.push(n / e);
            rest_echo.push(r / e);
            rest_grpc.push(r / n);
        }
        let rounds: Vec<String> = (0..echos.len())
            .map(|i| format!("{:.0}/{:.0}/{:.0}", echos[i], nodes[i], rests[i]))
            .collect();
        println!("detail  rounds echo/gRPC/REST req/s: {}", rounds.join(", "));
        let (echo, real, rest) = (
            pct(&mut echos, 0.5),
            pct(&mut nodes, 0.5),
            pct(&mut rests, 0.5),
        );
        let spread = |v: &mut Vec<f64>| {
            format!(
                "min {:.2} median {:.2} max {:.2}",
                pct(v, 0.0),
                pct(v, 0.5),
                pct(v, 1.0)
            )
        };
        println!(
            "detail  {} rounds; ratio node / echo per round {}",
            ratios.len(),
            spread(&mut ratios)
        );
        println!(
            "detail  {} rounds; ratio REST / gRPC per round {}",
            rest_grpc.len(),
            spread(&mut rest_grpc)
        );
        println!("detail  bare tonic+rustls echo        {echo:>9.0} req/s  (median round)");
        println!("detail  node GetWerkzoekende          {real:>9.0} req/s  (median round; authz, store read, release rules, audit append per request)");
        println!("detail  node REST Bron detail         {rest:>9.0} req/s  (median round; the same node, ids and concurrency, HTTP/2, JSON body)");
        println!(
            "detail  ratio node / echo             {:.2}  (median of the per-round ratios; target >= 0.5)",
            pct(&mut ratios, 0.5)
        );
        println!(
            "detail  ratio REST / echo             {:.2}  (median of the per-round ratios)",
            pct(&mut rest_echo, 0.5)
        );
        println!(
            "detail  ratio REST / gRPC             {:.2}  (median of the per-round ratios; target >= 0.8)",
            pct(&mut rest_grpc, 0.5)
        );
    }
    if only == "detail" {
        return;
    }
    if only.is_empty() || only == "tracing" {
        // interleaved rounds, export on and off, on the same node and connection
        let node_ch = channel(d, sources[0].peer_addr).await;
        let (mut on, mut off, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..(secs.round() as usize).max(3) {
            let (mut a, mut b) = (0.0, 0.0);
            for line in 0..2 {
                let tracing_on = (round + line) % 2 == 0;
                TRACING_ON.store(tracing_on, std::sync::atomic::Ordering::SeqCst);
                let r = rate(node_ch.clone(), ids.clone(), &oin(0), 1.0).await;
                if tracing_on {
                    a = r
                } else {
                    b = r
                }
            }
            TRACING_ON.store(false, std::sync::atomic::Ordering::SeqCst);
            on.push(a);
            off.push(b);
            ratios.push(a / b);
        }
        telemetry.force_flush().ok();
        println!(
            "tracing detail req/s export on {:.0}, off {:.0} (median rounds); ratio on / off {:.2} (median of per-round ratios; target >= 0.90); {} spans received by the collector",
            pct(&mut on, 0.5),
            pct(&mut off, 0.5),
            pct(&mut ratios, 0.5),
            collected.load(std::sync::atomic::Ordering::SeqCst)
        );
        if only == "tracing" {
            return;
        }
    }

    // ---- federated selection over 10 nodes
    if only.is_empty() {
        let peers: Vec<PeerConfig> = sources
            .iter()
            .enumerate()
            .map(|(i, s)| {
                PeerConfig::new(
                    &oin(i),
                    &format!("bron{i}"),
                    format!("https://{}", s.peer_addr),
                )
            })
            .collect();
        let gemeente = node::run::start(cfg(d, "gemeente", GEMEENTE, peers.clone()))
            .await
            .unwrap();
        // the same sources as VUM Bron peers: the Bron REST face on their peer listeners
        let rest_peers: Vec<PeerConfig> = sources
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut p = PeerConfig::new(
                    &oin(i),
                    &format!("bron{i}"),
                    format!("https://localhost:{}/api/v3", s.peer_addr.port()),
                );
                p.protocol = Protocol::VumBron;
                p
            })
            .collect();
        let mut rest_cfg = cfg(d, "gemeente", GEMEENTE, rest_peers);
        rest_cfg.database = format!("sqlite://{}", d.join("gemeente-rest.db").display());
        let gemeente_rest = node::run::start(rest_cfg).await.unwrap();
        let mut local = LocalClient::new(channel(d, gemeente.local_addr).await);
        let mut local_rest = LocalClient::new(channel(d, gemeente_rest.local_addr).await);
        let q = |pc: &str, km: i64| -> wz::WerkzoekendeProfielMatchesRequest {
            serde_json::from_value(
            serde_json::json!({"vraagObject": {"selectiegebied": {"postcode": pc, "afstand": km}}}),
        )
        .unwrap()
        };
        let pcs = ["3511AA", "1012AB", "3011AB", "9711AA", "5611AA", "6811AA"];
        for i in 0..20 {
            for l in [&mut local, &mut local_rest] {
                l.federated_select_werkzoekenden(q(pcs[i % 6], 100))
                    .await
                    .unwrap();
            }
        }
        // the same 300 queries to both gateways, interleaved (gRPC, REST, gRPC, ...)
        let (mut lat, mut lat_rest) = (Vec::new(), Vec::new());
        let (mut matches, mut matches_rest) = (0, 0);
        for i in 0..300 {
            let query = q(pcs[i % 6], [25, 50, 100, 200][i % 4]);
            for (l, times, n) in [
                (&mut local, &mut lat, &mut matches),
                (&mut local_rest, &mut lat_rest, &mut matches_rest),
            ] {
                let t = Instant::now();
                let r = l
                    .federated_select_werkzoekenden(query.clone())
                    .await
                    .unwrap()
                    .into_inner();
                times.push(t.elapsed().as_secs_f64() * 1e3);
                assert!(
                    r.peers.iter().all(|p| p.status == "ok"),
                    "{:?}",
                    r.peers.iter().map(|p| &p.status).collect::<Vec<_>>()
                );
                *n += r.response.unwrap().matches.len();
            }
        }
        let (p50, p99) = (pct(&mut lat, 0.5), pct(&mut lat, 0.99));
        println!("federated  10 nodes                   p50 {p50:>6.2} ms  p99 {p99:>6.2} ms  (mean {:.0} matches; target p99 < 100 ms)", matches as f64 / 300.0);
        let (p50, p99) = (pct(&mut lat_rest, 0.5), pct(&mut lat_rest, 0.99));
        println!("federated  10 REST (VUM Bron) sources p50 {p50:>6.2} ms  p99 {p99:>6.2} ms  (mean {:.0} matches; target p99 < 100 ms)", matches_rest as f64 / 300.0);

        // ---- the gateway's own hop: federated over 1 peer vs that peer directly
        let one = node::run::start(cfg(d, "gemeente", GEMEENTE, peers[..1].to_vec()))
            .await
            .unwrap();
        let mut via = LocalClient::new(channel(d, one.local_addr).await);
        let mut direct = PeerClient::new(channel(d, sources[0].peer_addr).await);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for i in 0..400 {
            let query = q(pcs[i % 6], 50);
            let t = Instant::now();
            direct
                .select_werkzoekenden(req(query.clone(), &oin(0)))
                .await
                .unwrap();
            a.push(t.elapsed().as_secs_f64() * 1e3);
            let t = Instant::now();
            via.federated_select_werkzoekenden(query).await.unwrap();
            b.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let (a50, b50) = (pct(&mut a, 0.5), pct(&mut b, 0.5));
        println!("hop     direct peer select            p50 {a50:>6.2} ms");
        println!("hop     via the gateway (1 peer)      p50 {b50:>6.2} ms  -> the gateway's hop adds {:.2} ms at p50 (target < 1 ms)", b50 - a50);
    }
    // ---- vacancy feed
    let vac = shared("vum/testdata/vacatures-93.json");
    let vac: Vec<Value> = vac.as_array().unwrap().clone();
    let n_changes = 100_000;
    let mut batch = Vec::with_capacity(1000);
    for i in 0..n_changes {
        let mut v = vac[i % vac.len()].clone();
        v["idVacature"] = Value::String(format!("v{i:07}"));
        batch.push((format!("v{i:07}"), v));
        if batch.len() == 1000 {
            sources[1]
                .state
                .store
                .upsert_batch(Kind::Vacature, &batch, store::now_ms())
                .await
                .unwrap();
            batch.clear();
        }
    }
    // five full pulls from cursor 0 by a consumer that decodes every vacature; the median pull
    let mut feed = PeerClient::new(channel(d, sources[1].peer_addr).await);
    let mut rates = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let mut s = feed
            .vacancy_feed(req(
                pb::FeedRequest {
                    cursor: 0,
                    limit: 0,
                },
                &oin(1),
            ))
            .await
            .unwrap()
            .into_inner();
        let mut got = 0;
        while let Some(ev) = s.message().await.unwrap() {
            assert!(ev.vacature.is_some());
            got += 1;
        }
        assert_eq!(got, n_changes);
        rates.push(got as f64 / t.elapsed().as_secs_f64());
    }
    println!(
        "feed    {n_changes} changes with documents, 5 pulls: min {:.0} median {:.0} max {:.0} changes/s  (target >= 100,000)",
        pct(&mut rates, 0.0),
        pct(&mut rates, 0.5),
        pct(&mut rates, 1.0)
    );
}
