//! `matchgate demo`: a local federation on loopback. Three organisations (a gemeente, UWV and an
//! SW-bedrijf) each get a node with a generated certificate and a SQLite store; synthetic exports
//! (embedded in the binary) go through the real translate path into the stores; the gemeente then
//! searches across the other two over mutual TLS, fetches a detail; UWV's node follows the
//! gemeente's vacancy feed, the gemeente withdraws a vacancy by a streamed push, and UWV follows
//! again from the cursor it kept. The SW-bedrijf is asked over the VUM standard's REST contract
//! (its Bron face), the others over gRPC. Nothing leaves the machine; everything is removed at
//! the end, unless `--dir` keeps it; `--keep` leaves the federation running until interrupted,
//! with `DIR/demo.json` naming each node's URLs and certificates.
use crate::node_cmd::DEFAULT_ORGS;
use crate::store_cmd::{ingest_into, Db, IngestOptions};
use anyhow::{anyhow, Context};
use node::config::{Grant, LocalConfig, NodeConfig, OwnSystem, PeerConfig, TlsConfig};
use node::pb::{
    local_client::LocalClient, push_request, FederatedGetRequest, PeerVacaturesRequest, PushDelete,
    PushRequest, SyncFeedRequest,
};
use std::path::Path;
use std::process::ExitCode;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

const FILES: &[(&str, &[u8])] = &[
    (
        "beroepen.csv",
        include_bytes!("../../../examples/translate/beroepen.csv"),
    ),
    (
        "sonar/mapping.toml",
        include_bytes!("../../../examples/translate/sonar/mapping.toml"),
    ),
    (
        "sonar/sonar-export.xlsx",
        include_bytes!("../../../examples/translate/sonar/sonar-export.xlsx"),
    ),
    (
        "csv-cp1252/mapping.toml",
        include_bytes!("../../../examples/translate/csv-cp1252/mapping.toml"),
    ),
    (
        "csv-cp1252/klanten.csv",
        include_bytes!("../../../examples/translate/csv-cp1252/klanten.csv"),
    ),
    (
        "xml-clienten/mapping.toml",
        include_bytes!("../../../examples/translate/xml-clienten/mapping.toml"),
    ),
    (
        "xml-clienten/clienten.xml",
        include_bytes!("../../../examples/translate/xml-clienten/clienten.xml"),
    ),
    (
        "xml-vacatures/mapping.toml",
        include_bytes!("../../../examples/translate/xml-vacatures/mapping.toml"),
    ),
    (
        "xml-vacatures/vacaturefeed.xml",
        include_bytes!("../../../examples/translate/xml-vacatures/vacaturefeed.xml"),
    ),
];

fn step(s: &str) {
    println!("\n== {s}");
}

pub fn run(keep: bool, dir: Option<std::path::PathBuf>) -> anyhow::Result<ExitCode> {
    run_inner(keep, dir)?;
    Ok(ExitCode::SUCCESS)
}

/// One node of a kept federation, as `demo.json` describes it (URLs with scheme, absolute paths).
#[derive(serde::Serialize)]
struct DemoNode {
    name: String,
    oin: String,
    peer_url: String,
    local_url: String,
    bron_url: String,
    bemiddelaar_url: String,
    /// the admin listener: `/metrics` (Prometheus text), `/healthz`, `/readyz` (plain HTTP)
    admin_url: Option<String>,
    client_cert: String,
    client_key: String,
    ca: String,
    local_client_cert: String,
    local_client_key: String,
    /// what a client of the local listener verifies the node's certificate with
    local_ca: String,
}

fn run_inner(keep: bool, dir: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    let (tmp, _cleanup) = match dir {
        Some(d) => {
            std::fs::create_dir_all(&d).with_context(|| d.display().to_string())?;
            let d = std::fs::canonicalize(&d).with_context(|| d.display().to_string())?;
            (d, None)
        }
        None => {
            let t = std::env::temp_dir().join(format!("matchgate-demo-{}", std::process::id()));
            (t.clone(), Some(Cleanup(t)))
        }
    };
    let dir = tmp.as_path();
    for (rel, bytes) in FILES {
        let p = dir.join("data").join(rel);
        std::fs::create_dir_all(p.parent().unwrap_or(dir))
            .with_context(|| p.display().to_string())?;
        std::fs::write(&p, bytes).with_context(|| p.display().to_string())?;
    }
    step("a development PKI: one CA, a certificate per organisation with its OIN in subject serialNumber");
    let certs = dir.join("certs");
    // and a certificate of the same CA whose OIN no node knows, for negative tests
    let mut orgs = DEFAULT_ORGS.to_vec();
    orgs.push(("stranger", "00000009999999999000"));
    node::pki::write_dev_pki(&certs, &orgs).map_err(|e| anyhow!("{e}"))?;
    for (name, oin) in DEFAULT_ORGS {
        println!("   {name:<11} OIN {oin}");
        std::fs::write(
            dir.join(format!("{name}.secret")),
            format!("demo-secret-of-{name}-0123456789"),
        )?;
    }
    let db = |name: &str| Db {
        url: format!("sqlite://{}", dir.join(format!("{name}.db")).display()),
        expiry_days: 90,
    };

    step("each organisation translates its own export into its own store (the real translate + ingest path)");
    let data = dir.join("data");
    for (org, example, input) in [
        ("gemeente", "sonar", "sonar-export.xlsx"),
        ("gemeente", "xml-vacatures", "vacaturefeed.xml"),
        ("uwv", "xml-clienten", "clienten.xml"),
        ("sw-bedrijf", "csv-cp1252", "klanten.csv"),
    ] {
        let mapping = translate::mapping::Mapping::load(&data.join(example).join("mapping.toml"))?;
        let secret = format!("demo-secret-of-{org}-0123456789");
        let (s, [ins, ..]) = ingest_into(
            &db(org),
            mapping,
            &data.join(example).join(input),
            secret.as_bytes(),
            &dir.join(format!("{org}-rejects.csv")),
            &IngestOptions {
                batch: 1000,
                progress: false,
                threads: 1,
            },
        )?;
        println!("   {org:<11} {example:<14} read {:>3}, stored {:>3}, filtered {:>2} (consent), rejected {:>2}", s.read, ins, s.filtered, s.rejected);
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(async move {
        let (gem_oin, uwv_oin, sw_oin) = (DEFAULT_ORGS[0].1, DEFAULT_ORGS[1].1, DEFAULT_ORGS[2].1);
        let cfg = |name: &str, oin: &str, peers: Vec<PeerConfig>, grants: Vec<Grant>, suwi: bool| NodeConfig {
            oin: oin.into(),
            name: name.into(),
            suwi,
            database: db(name).url,
            secret_file: dir.join(format!("{name}.secret")),
            tls: TlsConfig { cert: certs.join(format!("{name}.pem")), key: certs.join(format!("{name}.key")), ca: certs.join("ca.pem") },
            listen: "127.0.0.1:0".into(),
            local: LocalConfig { listen: "127.0.0.1:0".into(), ca: certs.join("local-ca.pem"), clients: vec![OwnSystem::new(oin, &node::pki::own_systems_cn(name))] },
            peers,
            grants,
            peer_deadline_ms: 2000,
            rest: Default::default(),
            // metrics, /healthz and /readyz on a port of its own (demo.json: admin_url)
            admin: node::config::AdminConfig { listen: Some("127.0.0.1:0".into()) },
            telemetry: Default::default(),
            limits: Default::default(),
        };
        let gemeente_may = |services: &[&str]| vec![Grant { via: gem_oin.into(), on_behalf_of: vec![gem_oin.into()], services: services.iter().map(|s| s.to_string()).collect(), suwi: false }];
        step("three nodes on loopback, mutual TLS; UWV and the SW-bedrijf grant the gemeente selection and details, the gemeente grants UWV its vacancy feed");
        // bind every listener first, so each node's configuration can name the others
        let mut listeners = Vec::new();
        for _ in 0..6 {
            listeners.push(tokio::net::TcpListener::bind("127.0.0.1:0").await?);
        }
        let addr = |i: usize| listeners[i].local_addr().map(|a| format!("https://{a}"));
        let (gem_url, uwv_url, sw_url) = (addr(0)?, addr(2)?, addr(4)?);
        let mut it = listeners.into_iter();
        let mut next_pair = || (it.next(), it.next());
        let (g_peer, g_local) = next_pair();
        let (u_peer, u_local) = next_pair();
        let (s_peer, s_local) = next_pair();
        let start = |c: NodeConfig, p: Option<tokio::net::TcpListener>, l: Option<tokio::net::TcpListener>| async move {
            anyhow::Ok(node::run::start_on(c, p.context("listener")?, l.context("listener")?).await?)
        };
        // and the transparency figures (counts per municipality, suppressed at the source)
        let sources_grant = ["select-werkzoekenden", "get-werkzoekende", "select-vacatures", "get-vacature", "transparency"];
        let uwv = start(cfg("uwv", uwv_oin, vec![PeerConfig::new(gem_oin, "Gemeente", gem_url.clone())], gemeente_may(&sources_grant), true), u_peer, u_local).await?;
        let sw = start(cfg("sw-bedrijf", sw_oin, vec![], gemeente_may(&sources_grant), true), s_peer, s_local).await?;
        // the SW-bedrijf is asked over the standard's REST contract (its Bron face, same port)
        let base = node::config::RestConfig::default().base_path;
        let mut sw_rest = PeerConfig::new(sw_oin, "SW-bedrijf", sw_url.replace("127.0.0.1", "localhost") + &base);
        sw_rest.protocol = node::config::Protocol::VumBron;
        // the transparency report asks both sources over gRPC (the VUM REST contracts have no
        // such figures; the SW-bedrijf's node speaks gRPC on the same port)
        let report_peers = vec![PeerConfig::new(uwv_oin, "UWV", uwv_url.clone()), PeerConfig::new(sw_oin, "SW-bedrijf", sw_url.clone())];
        let peers = vec![PeerConfig::new(uwv_oin, "UWV", uwv_url), sw_rest];
        let uwv_may_feed = vec![Grant { via: uwv_oin.into(), on_behalf_of: vec![uwv_oin.into()], services: vec!["vacancy-feed".into()], suwi: true }];
        let gemeente = start(cfg("gemeente", gem_oin, peers, uwv_may_feed, false), g_peer, g_local).await?;
        for (n, r) in [("gemeente", &gemeente), ("uwv", &uwv), ("sw-bedrijf", &sw)] {
            println!("   {n:<11} peers on {} (gRPC, and REST Bron at {base}), own systems on {} (gRPC, and REST Bemiddelaar at {base})", r.peer_addr, r.local_addr);
        }
        println!("   the gemeente asks UWV over gRPC and the SW-bedrijf over REST (VUM-Bron contract)");

        step("the gemeente's mediator searches jobseekers within 200 km of 3511 (Utrecht), 16+ hours a week");
        let local = channel(&certs, gemeente.local_addr, "gemeente-local").await?;
        let local_gem = local.clone();
        let q: vum_proto::werkzoekenden::WerkzoekendeProfielMatchesRequest = serde_json::from_value(serde_json::json!({"vraagObject": {
            "selectiegebied": {"postcode": "3511AA", "afstand": 200}, "werktijden.aantalWerkurenPerWeekMaximaal": {"$gte": 16}}}))?;
        let r = LocalClient::new(local.clone()).federated_select_werkzoekenden(q).await.context("federated selection")?.into_inner();
        for p in &r.peers {
            println!("   {:<11} {:<3} {:>3} matches in {} ms", p.name, p.status, p.matches, p.millis);
        }
        let resp = r.response.context("no response")?;
        println!("   {} matches, in random order, maximumAantalResultatenBereikt = {}", resp.matches.len(), resp.maximum_aantal_resultaten_bereikt.unwrap_or(false));
        for m in resp.matches.iter().take(5) {
            let j = serde_json::to_value(m)?;
            println!(
                "   vumID {}…  postcode {}  hours {}-{}  licences {}",
                m.vum_id.get(..12).unwrap_or(&m.vum_id),
                j["mobiliteit"]["bemiddelingspostcode"].as_str().unwrap_or("?"),
                j["werktijden"]["aantalWerkurenPerWeekMinimaal"].as_i64().map(|n| n.to_string()).unwrap_or("?".into()),
                j["werktijden"]["aantalWerkurenPerWeekMaximaal"].as_i64().map(|n| n.to_string()).unwrap_or("?".into()),
                j["arbeidsmarktkwalificatie"]["rijbewijs"].as_array().map(|a| a.iter().filter_map(|x| x["codeSoortRijbewijs"].as_str()).collect::<Vec<_>>().join(",")).unwrap_or_default()
            );
        }
        println!("   (match profiles carry no names, contact details, BSN, address or LDR indication)");

        if let Some(first) = resp.matches.first() {
            step("details of the first match, by vumID, routed to the owning node");
            let d = LocalClient::new(local).federated_get_werkzoekende(FederatedGetRequest { vum_id: first.vum_id.clone() }).await.context("detail")?.into_inner();
            let w = serde_json::to_value(d.werkzoekende)?;
            let keys: Vec<&str> = w.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
            println!("   from {} ({}): {}", d.bron_id, if d.bron_id == uwv_oin { "UWV" } else { "SW-bedrijf" }, keys.join(", "));
        }

        step("UWV's node follows the gemeente's vacancy feed into its mirror; the cursor is kept in UWV's store");
        let uwv_local = channel(&certs, uwv.local_addr, "uwv-local").await?;
        let sync = || SyncFeedRequest { peer_oin: gem_oin.into(), limit: 0 };
        let r = LocalClient::new(uwv_local.clone()).sync_feed(sync()).await.context("feed")?.into_inner();
        println!("   {} changes from cursor {} to {}: {} vacancies mirrored", r.events, r.from_cursor, r.cursor, r.upserts);

        step("the gemeente's own system withdraws vacancy V4002 (a streamed push), and UWV follows again");
        let withdraw = PushRequest { record: Some(push_request::Record::Delete(PushDelete { kind: "vacature".into(), id: "V4002".into(), withdrawn: false })) };
        let p = LocalClient::new(local_gem.clone()).push(tokio_stream::iter(vec![withdraw])).await.context("push")?.into_inner();
        println!("   push: {} received, {} deleted", p.received, p.deleted);
        let r = LocalClient::new(uwv_local.clone()).sync_feed(sync()).await.context("feed")?.into_inner();
        println!("   {} change from cursor {} to {}: {} tombstone", r.events, r.from_cursor, r.cursor, r.tombstones);
        let mut mirror = LocalClient::new(uwv_local).peer_vacatures(PeerVacaturesRequest { peer_oin: gem_oin.into() }).await.context("mirror")?.into_inner();
        let mut n = 0;
        while let Some(v) = mirror.message().await.context("mirror")? {
            if n < 3 {
                println!("   {}  {}", v.id.get(..12).unwrap_or(&v.id), v.vacature.as_ref().map(|v| v.naam_vacature.as_str()).unwrap_or(""));
            }
            n += 1;
        }
        println!("   UWV's mirror of the gemeente: {n} live vacancies");

        step("every call was logged on both sides in a hash-chained audit log");
        for (n, r) in [("gemeente", &gemeente), ("uwv", &uwv), ("sw-bedrijf", &sw)] {
            match r.state.store.audit_verify().await {
                Ok(Ok(k)) => println!("   {n:<11} {k} entries, chain intact"),
                other => println!("   {n:<11} {other:?}"),
            }
        }
        step("the transparency of the client file: each node counts its werkzoekenden per municipality and publishes only suppressed counts (\"<5\"); the gemeente merges the region table");
        let own = gemeente.state.published_transparency().await?;
        let mut report_config = gemeente.state.config.clone();
        report_config.peers = report_peers;
        let report = node::report::federation_report(&report_config, own, None).await?;
        crate::report_cmd::print_table(&report);
        for m in &report.missing {
            println!("   {} did not answer: {}", m.name, m.reason);
        }
        let report_dir = if _cleanup.is_some() { std::path::PathBuf::from("matchgate-demo-report") } else { dir.join("report") };
        crate::report_cmd::write(&report, &report_dir)?;
        println!("   report.html, report.csv and report.json in {}", report_dir.display());
        if keep {
            let abs = |f: String| certs.join(f).display().to_string();
            let nodes: Vec<DemoNode> = [("gemeente", gem_oin, &gemeente), ("uwv", uwv_oin, &uwv), ("sw-bedrijf", sw_oin, &sw)]
                .into_iter()
                .map(|(name, oin, r)| {
                    let peer_url = format!("https://localhost:{}", r.peer_addr.port());
                    let local_url = format!("https://localhost:{}", r.local_addr.port());
                    DemoNode {
                        name: name.into(),
                        oin: oin.into(),
                        bron_url: format!("{peer_url}{base}"),
                        bemiddelaar_url: format!("{local_url}{base}"),
                        admin_url: r.admin_addr.map(|a| format!("http://{a}")),
                        peer_url,
                        local_url,
                        client_cert: abs(format!("{name}.pem")),
                        client_key: abs(format!("{name}.key")),
                        ca: abs("ca.pem".into()),
                        local_client_cert: abs(format!("{name}-local.pem")),
                        local_client_key: abs(format!("{name}-local.key")),
                        local_ca: abs("ca.pem".into()),
                    }
                })
                .collect();
            let path = dir.join("demo.json");
            // credentials for negative tests: the gemeente's OIN in an expired certificate and in
            // one from a foreign CA, and a certificate of the demo's CA no node knows
            let negative = serde_json::json!({
                "expired_cert": abs("expired.pem".into()), "expired_key": abs("expired.key".into()),
                "foreign_cert": abs("foreign.pem".into()), "foreign_key": abs("foreign.key".into()),
                "foreign_ca": abs("foreign-ca.pem".into()),
                "stranger_cert": abs("stranger.pem".into()), "stranger_key": abs("stranger.key".into()),
                "stranger_oin": "00000009999999999000",
            });
            std::fs::write(&path, serde_json::to_vec_pretty(&serde_json::json!({ "nodes": nodes, "negative": negative }))?)
                .with_context(|| path.display().to_string())?;
            step(&format!("the federation keeps running; {} names every node's URLs and certificates (Ctrl-C stops it)", path.display()));
            println!("   e.g. curl --cacert {ca} --cert {cert} --key {key} -H 'X-VUM-fromParty: {gem_oin}' -H 'X-VUM-toParty: {gem_oin}' -H 'X-VUM-viaParty: {gem_oin}' -H 'X-VUM-berichtVersie: 3.0.0' -H 'API-Version: 3.0.0' -H 'Content-Type: application/json' -d '{{\"vraagObject\": {{\"selectiegebied\": {{\"postcode\": \"3511AA\", \"afstand\": 50}}}}}}' {url}/werkzoekendeProfielen/matches",
                ca = nodes[0].local_ca, cert = nodes[0].local_client_cert, key = nodes[0].local_client_key, url = nodes[0].bemiddelaar_url);
            wait_for_stop().await;
        }
        gemeente.stop().await;
        uwv.stop().await;
        sw.stop().await;
        if _cleanup.is_some() {
            println!("\ndemo done; the federation is stopped and its files removed");
        } else {
            println!("\ndemo done; the federation is stopped, its files are in {}", dir.display());
        }
        anyhow::Ok(())
    })
}

async fn channel(certs: &Path, addr: std::net::SocketAddr, who: &str) -> anyhow::Result<Channel> {
    let read = |f: String| {
        let p = certs.join(f);
        std::fs::read(&p).with_context(|| p.display().to_string())
    };
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read("ca.pem".into())?))
        .identity(Identity::from_pem(
            read(format!("{who}.pem"))?,
            read(format!("{who}.key"))?,
        ))
        .domain_name("localhost");
    Ok(Endpoint::from_shared(format!("https://{addr}"))?
        .tls_config(tls)?
        .connect()
        .await?)
}

/// Until Ctrl-C or SIGTERM.
async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

struct Cleanup(std::path::PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
