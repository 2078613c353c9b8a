//! National scale (issue 16): a simulated federation of `BENCH_NODES` (400) source nodes on
//! loopback in this one process, holding `BENCH_PROFILES` (2,000,000) profiles between them, each
//! node's profiles in the PC4 areas of "its" municipality; one gemeente's node fans a selection out
//! to all of them over mutual TLS. Measured: the federated selection's p50/p99 over a query mix
//! (a random PC4 centre, 10-100 km) and the CPU it costs this process, the connections and memory
//! the requesting node adds, and the
//! same queries when 5 % of the nodes are down (connection refused) or silent (a TCP listener that
//! never answers), where every answer must come within the deadline with per-peer status.
//!
//!     cargo bench -p node --bench national          # BENCH_NODES=n BENCH_PROFILES=m BENCH_QUERIES=q
//!                                                   # BENCH_AFSTAND=km (every query at that distance)
mod common;
use common::{channel, pct, GEMEENTE};
use node::config::{Grant, NodeConfig, PeerConfig};
use node::pb::local_client::LocalClient;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Instant;
use tonic::transport::Channel;
use vum::Kind;
use vum_proto::werkzoekenden as wz;

fn oin(i: usize) -> String {
    format!("{:020}", 20_000_000_000_000u64 + i as u64)
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The benches' node, answering selections only, as a non-SUWI party, with `deadline_ms` for its
/// peers.
fn cfg(d: &Path, name: &str, oin: &str, peers: Vec<PeerConfig>, deadline_ms: u64) -> NodeConfig {
    let mut c = common::cfg(d, name, oin, peers);
    c.suwi = false;
    c.grants = vec![Grant {
        via: GEMEENTE.into(),
        on_behalf_of: vec![GEMEENTE.into()],
        services: vec!["select-werkzoekenden".into()],
        suwi: false,
    }];
    c.peer_deadline_ms = deadline_ms;
    c
}

/// The PC4 areas of each municipality, in a fixed order.
fn areas() -> Vec<Vec<u16>> {
    let mut by: std::collections::BTreeMap<&str, Vec<u16>> = Default::default();
    let mut pcs: Vec<u16> = vum::refdata::pc4_table().keys().copied().collect();
    pcs.sort_unstable();
    for pc in pcs {
        if let Some(m) = vum::refdata::pc4_municipality(pc) {
            by.entry(m).or_default().push(pc);
        }
    }
    by.into_values().collect()
}

fn profile(rng: &mut rand::rngs::StdRng, id: &str, pc: u16) -> Value {
    let min = rng.random_range(4..32u32);
    json!({
        "idWerkzoekende": id,
        "mobiliteit": {"bemiddelingspostcode": format!("{pc}AB"), "maximaleReisafstand": rng.random_range(10..120)},
        "bemiddelingsberoep": [{"codeBeroepsnaam": format!("https://linkeddata.competentnl.nl/uwv/id/occupation/{:010X}", rng.random_range(0..500u32) * 7919)}],
        "werktijden": {"aantalWerkurenPerWeekMinimaal": min, "aantalWerkurenPerWeekMaximaal": min + rng.random_range(0..16)},
        "flexibiliteit": {"datumAanvangBeschikbaarVoorWerk": format!("2026-{:02}-{:02}", rng.random_range(1..13), rng.random_range(1..29))},
        "arbeidsmarktkwalificatie": {"taalbeheersing": [{"codeTaal": "nld", "codeNiveauTaalbeheersingMondeling": rng.random_range(1..5)}]}
    })
}

/// (resident memory in MB, open file descriptors) of this process.
fn usage() -> (f64, usize) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0;
    let fds = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0);
    (rss, fds)
}

/// CPU seconds this process has used (user and system, all threads): the queries' cost in CPU,
/// which a slow neighbour on this VM moves less than it moves their latency.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // the fields after the command name, which is in parentheses and may hold spaces
    let after = stat.rsplit_once(')').map(|(_, a)| a).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // clock ticks are 1/100 s on Linux
    (ticks(11) + ticks(12)) / 100.0
}

fn query(rng: &mut rand::rngs::StdRng, pcs: &[u16]) -> wz::WerkzoekendeProfielMatchesRequest {
    let pc = pcs[rng.random_range(0..pcs.len())];
    let km = [10, 25, 25, 50, 100][rng.random_range(0..5usize)];
    // BENCH_AFSTAND=km asks every query at that distance (to profile one kind of query)
    let km = env("BENCH_AFSTAND", km);
    serde_json::from_value(
        json!({"vraagObject": {"selectiegebied": {"postcode": format!("{pc}AB"), "afstand": km}}}),
    )
    .unwrap()
}

/// Run `n` queries through `local`; latencies in ms, the matches, and the peers' statuses seen.
type ByDistance = std::collections::BTreeMap<i64, Vec<f64>>;

async fn run_queries(
    local: &mut LocalClient<Channel>,
    n: usize,
    pcs: &[u16],
    seed: u64,
) -> (
    Vec<f64>,
    usize,
    std::collections::BTreeMap<String, usize>,
    ByDistance,
) {
    let mut by_km = ByDistance::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let (mut lat, mut matches, mut bytes) = (Vec::with_capacity(n), 0, 0);
    let mut statuses = std::collections::BTreeMap::new();
    for _ in 0..n {
        let q = query(&mut rng, pcs);
        let km = q
            .vraag_object
            .as_ref()
            .and_then(|v| v.selectiegebied.as_ref())
            .and_then(|s| s.afstand)
            .map(i64::from)
            .unwrap_or(0);
        let t = Instant::now();
        let r = local
            .federated_select_werkzoekenden(q)
            .await
            .unwrap()
            .into_inner();
        lat.push(t.elapsed().as_secs_f64() * 1e3);
        by_km
            .entry(km)
            .or_default()
            .push(t.elapsed().as_secs_f64() * 1e3);
        bytes = bytes.max(prost::Message::encoded_len(&r));
        matches += r.response.map(|r| r.matches.len()).unwrap_or(0);
        for p in r.peers {
            *statuses.entry(p.status).or_default() += 1;
        }
    }
    eprintln!("largest answer {:.1} MB", bytes as f64 / 1e6);
    (lat, matches, statuses, by_km)
}

fn print_by_distance(mut by_km: ByDistance) {
    for (km, v) in by_km.iter_mut() {
        println!(
            "           afstand {km:>3} km: {:>3} queries  p50 {:>7.2} ms  p99 {:>7.2} ms",
            v.len(),
            pct(v, 0.5),
            pct(v, 0.99)
        );
    }
}

#[tokio::main]
async fn main() {
    let nodes = env("BENCH_NODES", 400);
    let total = env("BENCH_PROFILES", 2_000_000);
    let queries = env("BENCH_QUERIES", 200);
    let per_node = total / nodes;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let t = Instant::now();
    let mut orgs: Vec<(String, String)> =
        (0..nodes).map(|i| (format!("bron{i}"), oin(i))).collect();
    orgs.push(("gemeente".into(), GEMEENTE.into()));
    let refs: Vec<(&str, &str)> = orgs.iter().map(|(n, o)| (n.as_str(), o.as_str())).collect();
    node::pki::write_dev_pki(d, &refs).unwrap();
    let areas = areas();
    let mut sources = Vec::with_capacity(nodes);
    let mut rng = rand::rngs::StdRng::seed_from_u64(400);
    for i in 0..nodes {
        let name = format!("bron{i}");
        // the node's records before it starts (its index loads them), in its municipality's areas
        let area = &areas[i % areas.len()];
        let store = store::Store::open(&format!(
            "sqlite://{}",
            d.join(format!("{name}.db")).display()
        ))
        .await
        .unwrap();
        let docs: Vec<(String, Value)> = (0..per_node)
            .map(|k| {
                let id = format!("n{i:03}r{k:06}");
                let pc = area[rng.random_range(0..area.len())];
                let doc = profile(&mut rng, &id, pc);
                (id, doc)
            })
            .collect();
        for chunk in docs.chunks(1000) {
            store
                .upsert_batch(Kind::Werkzoekende, chunk, store::now_ms())
                .await
                .unwrap();
        }
        drop(store);
        sources.push(
            node::run::start(cfg(d, &name, &oin(i), vec![], 5000))
                .await
                .unwrap(),
        );
        if (i + 1) % 50 == 0 {
            eprintln!("{} nodes up ({:.0} s)", i + 1, t.elapsed().as_secs_f64());
        }
    }
    let setup = t.elapsed().as_secs_f64();
    let all_pcs: Vec<u16> = areas.iter().take(nodes).flatten().copied().collect();
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

    // ---- the healthy federation
    let before = usage();
    let gemeente = node::run::start(cfg(d, "gemeente", GEMEENTE, peers.clone(), 2000))
        .await
        .unwrap();
    // at most 100 matches from each of 400 sources: an answer of several MB, past tonic's
    // default 4 MiB limit for a decoded message (an own system must raise it too)
    let mut local =
        LocalClient::new(channel(d, gemeente.local_addr).await).max_decoding_message_size(64 << 20);
    // warm-up: every peer's channel connected
    let _ = run_queries(&mut local, 5, &all_pcs, 1).await;
    let warm = usage();
    let cpu = cpu_seconds();
    let (mut lat, matches, statuses, by_km) = run_queries(&mut local, queries, &all_pcs, 2).await;
    let cpu = cpu_seconds() - cpu;
    let after = usage();
    let (p50, p99) = (pct(&mut lat, 0.5), pct(&mut lat, 0.99));
    println!(
        "== national: {nodes} nodes, {} profiles ({per_node} each), set up in {setup:.0} s",
        per_node * nodes
    );
    println!("federated  {nodes} nodes healthy          p50 {p50:>7.2} ms  p99 {p99:>7.2} ms  (mean {:.0} matches; statuses {statuses:?}; target p99 < 300 ms: {})",
        matches as f64 / queries as f64, if p99 < 300.0 { "met" } else { "NOT met" });
    print_by_distance(by_km);
    println!(
        "federated  CPU per query {:>7.1} ms  (this process: the {nodes} sources, the requester and the client, on {} cores)",
        cpu * 1e3 / queries as f64,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "requester  memory +{:.0} MB after warm-up, +{:.0} MB after the queries; open files +{} after warm-up (a connection to each peer is two descriptors in this one process)",
        warm.0 - before.0,
        after.0 - before.0,
        warm.1.saturating_sub(before.1)
    );

    // ---- 5 % of the nodes down or silent, with a 250 ms deadline
    let faulty = (nodes / 20).max(2);
    let mut silent = Vec::new();
    let mut fault_peers = peers.clone();
    for (k, p) in fault_peers.iter_mut().take(faulty).enumerate() {
        if k % 2 == 0 {
            // down: nothing listens there
            p.endpoint = "https://127.0.0.1:1".into();
        } else {
            // silent: accepts the connection, never answers the handshake
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            p.endpoint = format!("https://{}", l.local_addr().unwrap());
            silent.push(tokio::spawn(async move {
                let mut held = Vec::new();
                while let Ok((s, _)) = l.accept().await {
                    held.push(s);
                }
            }));
        }
    }
    let deadline = 250u64;
    let mut fault_cfg = cfg(d, "gemeente", GEMEENTE, fault_peers, deadline);
    fault_cfg.database = format!("sqlite://{}", d.join("gemeente-faults.db").display());
    let degraded = node::run::start(fault_cfg).await.unwrap();
    let mut local2 =
        LocalClient::new(channel(d, degraded.local_addr).await).max_decoding_message_size(64 << 20);
    let _ = run_queries(&mut local2, 5, &all_pcs, 1).await;
    let (mut lat2, matches2, statuses2, by_km2) =
        run_queries(&mut local2, queries, &all_pcs, 2).await;
    let (q50, q99, qmax) = (
        pct(&mut lat2, 0.5),
        pct(&mut lat2, 0.99),
        pct(&mut lat2, 1.0),
    );
    println!("federated  {faulty} of {nodes} down or silent     p50 {q50:>7.2} ms  p99 {q99:>7.2} ms  max {qmax:>7.2} ms  (deadline {deadline} ms; mean {:.0} matches, {:.0} healthy; statuses {statuses2:?})",
        matches2 as f64 / queries as f64, matches as f64 / queries as f64);
    print_by_distance(by_km2);
    for s in silent {
        s.abort();
    }
    degraded.stop().await;
    gemeente.stop().await;
    for s in sources {
        s.stop().await;
    }
}
