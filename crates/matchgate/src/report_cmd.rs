//! `matchgate report`: the transparency of the client file — per labour-market region and
//! municipality, how many werkzoekenden are shared with chain partners and why the others are
//! not, how complete and fresh the shared profiles are, and the trend over the stored imports.
//! For this node's database, or with `--federation` for every peer of a node.toml as well.
use crate::store_cmd::Db;
use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use transparency::figures::Organisation;
use transparency::merge::FederationReport;

#[derive(clap::Args)]
pub struct Args {
    /// Write report.html, report.csv and report.json into this directory
    #[arg(long, default_value = "report")]
    out: PathBuf,
    /// The node's node.toml: its organisation (OIN, name) and database; with --federation also
    /// its certificate and peers
    #[arg(long)]
    config: Option<PathBuf>,
    /// The organisation's name in the report (without --config)
    #[arg(long, default_value = "this organisation")]
    name: String,
    /// The organisation's OIN (without --config)
    #[arg(long, default_value = "00000000000000000000")]
    oin: String,
    /// Ask every peer of --config for its figures too (Peer/Transparency, with the node's own
    /// certificate; each peer needs a grant for the service "transparency")
    #[arg(long)]
    federation: bool,
    /// Only this labour-market region (AM01 ... AM38)
    #[arg(long)]
    region: Option<String>,
}

pub fn run(db: &Db, args: &Args) -> anyhow::Result<ExitCode> {
    if let Some(r) = &args.region {
        if transparency::geo::Geography::get().region_name(r).is_none() {
            bail!(crate::Usage(anyhow::anyhow!(
                "--region {}: not a labour-market region code of 2025 (AM01 ... AM38)",
                vum::parties::shown(r)
            )));
        }
    }
    let config = match &args.config {
        Some(p) => {
            Some(node::config::NodeConfig::load(p).with_context(|| p.display().to_string())?)
        }
        None if args.federation => {
            bail!(crate::Usage(anyhow::anyhow!(
                "--federation needs --config node.toml (the node's certificate and peers)"
            )))
        }
        None => None,
    };
    let (url, organisation) = match &config {
        Some(c) => (
            c.database.clone(),
            Organisation {
                oin: c.oin.clone(),
                name: c.name.clone(),
            },
        ),
        None => (
            db.url.clone(),
            Organisation {
                oin: args.oin.clone(),
                name: args.name.clone(),
            },
        ),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let report = rt.block_on(async {
        let db = Db {
            url,
            expiry_days: db.expiry_days,
        };
        let own = published(&db, organisation).await?;
        anyhow::Ok(match (&config, args.federation) {
            (Some(c), true) => {
                node::report::federation_report(c, own, args.region.as_deref()).await?
            }
            _ => transparency::merge::merge(vec![own], vec![], args.region.as_deref()),
        })
    })?;
    write(&report, &args.out)?;
    print_table(&report);
    for m in &report.missing {
        eprintln!(
            "matchgate report: {} ({}) did not answer: {}",
            m.name, m.oin, m.reason
        );
    }
    println!(
        "report written: {}",
        ["report.html", "report.csv", "report.json"]
            .map(|f| args.out.join(f).display().to_string())
            .join(", ")
    );
    Ok(ExitCode::SUCCESS)
}

/// This store's figures as they may leave the node (small cells suppressed).
pub async fn published(
    db: &Db,
    organisation: Organisation,
) -> anyhow::Result<transparency::publish::Published> {
    let store = db.open().await?;
    let figures = store
        .transparency(organisation, store::now_ms())
        .await
        .context("counting the transparency figures")?;
    Ok(transparency::publish::publish(
        &figures,
        transparency::geo::Geography::get(),
    ))
}

/// report.html, report.csv and report.json in `out`.
pub fn write(report: &FederationReport, out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| out.display().to_string())?;
    for (file, text) in [
        ("report.html", transparency::render::html(report)),
        ("report.csv", transparency::render::csv(report)),
        ("report.json", transparency::render::json(report)),
    ] {
        let p = out.join(file);
        std::fs::write(&p, text).with_context(|| p.display().to_string())?;
    }
    Ok(())
}

/// The seed table on the terminal: region, municipality, organisation, shared, not shared, total.
pub fn print_table(report: &FederationReport) {
    let line = |label: String, c: &transparency::publish::Counts| {
        println!(
            "   {label:<52} {:>8} {:>11} {:>8}",
            c.shared.to_string(),
            c.not_shared.to_string(),
            c.total.to_string()
        );
    };
    println!(
        "   {:<52} {:>8} {:>11} {:>8}",
        "arbeidsmarktregio / gemeente / organisation", "shared", "not shared", "total"
    );
    for r in &report.regions {
        line(format!("{} {}", r.region_code, r.region_name), &r.counts);
        for m in report
            .municipalities
            .iter()
            .filter(|m| m.region_code == r.region_code)
        {
            line(format!("  {}", m.municipality_name), &m.counts);
            for row in report
                .rows
                .iter()
                .filter(|row| row.municipality_code == m.municipality_code)
            {
                line(format!("    {}", row.organisation.name), &row.counts);
            }
        }
    }
    if report.region.is_none() {
        line("Nederland".into(), &report.national);
    }
}
