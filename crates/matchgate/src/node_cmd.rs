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

pub fn certs(out: &Path, orgs: &[String]) -> anyhow::Result<ExitCode> {
    let orgs = orgs_of(orgs)?;
    let refs: Vec<(&str, &str)> = orgs.iter().map(|(n, o)| (n.as_str(), o.as_str())).collect();
    node::pki::write_dev_pki(out, &refs).map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("development PKI written to {} (ca.pem, <name>.pem/.key, expired.*, foreign*) — not for production", out.display());
    Ok(ExitCode::SUCCESS)
}

pub fn serve(config: &Path) -> anyhow::Result<ExitCode> {
    let cfg = node::config::NodeConfig::load(config)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(async {
        let running = node::run::start(cfg).await?;
        println!(
            "serving: peers on {}, own systems on {} (Ctrl-C stops)",
            running.peer_addr, running.local_addr
        );
        let _ = tokio::signal::ctrl_c().await;
        running.stop().await;
        Ok(ExitCode::SUCCESS)
    })
}
