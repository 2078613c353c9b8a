//! `matchgate serve` and `matchgate certs`.
use anyhow::{bail, Context};
use std::path::Path;
use std::process::ExitCode;

pub const DEFAULT_ORGS: [(&str, &str); 3] = [
    ("gemeente", "00000001001234567000"),
    ("uwv", "00000001003214345000"),
    ("sw-bedrijf", "00000003123456780000"),
];

/// `--org name=OIN` values, or the default organisations.
fn orgs_of(orgs: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    if orgs.is_empty() {
        return Ok(DEFAULT_ORGS
            .iter()
            .map(|(n, o)| (n.to_string(), o.to_string()))
            .collect());
    }
    orgs.iter()
        .map(|s| {
            let Some((n, o)) = s.split_once('=') else {
                bail!("--org {s}: expected name=OIN");
            };
            if o.len() != 20 || !o.bytes().all(|b| b.is_ascii_digit()) {
                bail!("--org {s}: the OIN must be 20 digits");
            }
            Ok((n.to_string(), o.to_string()))
        })
        .collect()
}

pub fn certs(out: &Path, orgs: &[String], hosts: &[String]) -> anyhow::Result<ExitCode> {
    let orgs = orgs_of(orgs)?;
    if let Some(bad) = hosts.iter().find(|h| !node::pki::is_host_name(h)) {
        let shown: String = bad
            .chars()
            .take(80)
            .flat_map(char::escape_default)
            .collect();
        bail!("--host {shown}: not a DNS name (letters, digits, hyphens; labels of 1 to 63) or an IP address");
    }
    let refs: Vec<(&str, &str)> = orgs.iter().map(|(n, o)| (n.as_str(), o.as_str())).collect();
    node::pki::write_dev_pki_for(out, &refs, hosts).map_err(|e| anyhow::anyhow!("{e}"))?;
    let names = std::iter::once("localhost, 127.0.0.1".to_string())
        .chain(hosts.iter().cloned())
        .collect::<Vec<_>>()
        .join(", ");
    println!("development PKI written to {} (ca.pem, <name>.pem/.key for {names}; local-ca.pem, <name>-local.*, expired.*, foreign*) — not for production", out.display());
    Ok(ExitCode::SUCCESS)
}

pub fn check_config(config: &Path) -> anyhow::Result<ExitCode> {
    let problems = node::check::check_file(config)?;
    if problems.is_empty() {
        println!("{}: no problems found", config.display());
        return Ok(ExitCode::SUCCESS);
    }
    for p in &problems {
        println!("{}: {p}", config.display());
    }
    println!("{} problem(s)", problems.len());
    Ok(ExitCode::from(1))
}

pub fn serve(config: &Path) -> anyhow::Result<ExitCode> {
    let cfg = node::config::NodeConfig::load(config)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let telemetry = node::telemetry::init(&cfg.telemetry)?;
        let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
        let mut hup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
        let running = node::run::start(cfg).await?;
        let admin = running
            .admin_addr
            .map(|a| format!(", admin on http://{a}"))
            .unwrap_or_default();
        println!(
            "serving: peers on {}, own systems on {}{admin} (SIGTERM or Ctrl-C drains and stops; SIGHUP re-reads certificates)",
            running.peer_addr, running.local_addr
        );
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = term.recv() => break,
                _ = hup.recv() => match running.reload_tls().await {
                    Ok(()) => tracing::warn!("SIGHUP: certificates and CAs re-read"),
                    Err(e) => tracing::error!(error = %crate::chain(&e), "SIGHUP: certificates not re-read; the current ones stay"),
                },
            }
        }
        tracing::warn!("stopping: draining calls in flight");
        if tokio::time::timeout(DRAIN, running.stop()).await.is_err() {
            tracing::error!(seconds = DRAIN.as_secs(), "calls still in flight after the drain time; stopping anyway");
        }
        // the spans of the last calls go out before the process does
        telemetry.shutdown();
        Ok(ExitCode::SUCCESS)
    })
}

/// How long a stopping node waits for calls in flight (a federated selection's deadline is
/// seconds; Kubernetes' default grace period is 30 s).
const DRAIN: std::time::Duration = std::time::Duration::from_secs(25);
