//! `matchgate conformance`: the conformance suite's catalogue (`list`) and runs (`run`) against
//! any VUM node's faces, or against a demo federation it starts itself (`run --demo`).
use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use conformance::client::{Creds, Face};
use conformance::model::TargetKind;
use conformance::run::{Negative, Plan, Target};
use std::path::PathBuf;
use std::process::ExitCode;

/// What `matchgate conformance` does.
#[derive(Subcommand)]
pub enum ConformanceCommand {
    /// Print the catalogue: id, level, targets, title, requirement.
    List {
        /// text (a table) or json
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
    },
    /// Run the suite; writes DIR/report.json, DIR/junit.xml and DIR/report.html.
    Run(Box<RunArgs>),
}

/// How `conformance list` prints.
#[derive(Clone, Copy, ValueEnum)]
pub enum ListFormat {
    /// one test a line
    Text,
    /// the catalogue as JSON
    Json,
}

/// The targets and credentials of a run.
#[derive(Args)]
pub struct RunArgs {
    /// Where the reports go
    #[arg(long)]
    out: PathBuf,
    /// Start a demo federation (`matchgate demo --keep`), load the fixtures and test every face
    #[arg(long)]
    demo: bool,
    /// A Bron REST face: its base URL (https://host:port/api/v3)
    #[arg(long)]
    bron: Option<String>,
    /// A Bemiddelaar REST face: its base URL
    #[arg(long)]
    bemiddelaar: Option<String>,
    /// A matchgate Peer gRPC service: https://host:port
    #[arg(long)]
    grpc: Option<String>,
    /// Payload files of VUM documents (JSON, JSON array or NDJSON)
    #[arg(long = "payload")]
    payloads: Vec<PathBuf>,
    /// The tester's client certificate and key (towards the Bron and gRPC faces)
    #[arg(long)]
    cert: Option<PathBuf>,
    /// The key of --cert
    #[arg(long)]
    key: Option<PathBuf>,
    /// The CA of the servers' certificates
    #[arg(long)]
    ca: Option<PathBuf>,
    /// The OIN in the tester's certificate (fromParty)
    #[arg(long)]
    caller_oin: Option<String>,
    /// The OIN of the node behind --bron / --grpc (toParty)
    #[arg(long)]
    node_oin: Option<String>,
    /// The tester's certificate and key towards the Bemiddelaar face (default: --cert, --key)
    #[arg(long)]
    local_cert: Option<PathBuf>,
    /// The key of --local-cert
    #[arg(long)]
    local_key: Option<PathBuf>,
    /// The OIN of the node behind --bemiddelaar (default: --node-oin)
    #[arg(long)]
    bemiddelaar_oin: Option<String>,
    /// The node's configuration makes the tester a SUWI party
    #[arg(long)]
    suwi: bool,
    /// Negative cases: an expired certificate and its key
    #[arg(long, num_args = 2, value_names = ["CERT", "KEY"])]
    expired: Vec<PathBuf>,
    /// Negative cases: a certificate from a foreign CA and its key
    #[arg(long, num_args = 2, value_names = ["CERT", "KEY"])]
    foreign: Vec<PathBuf>,
    /// Negative cases: a certificate of the node's CA whose OIN is no allowed party, and its key
    #[arg(long, num_args = 2, value_names = ["CERT", "KEY"])]
    stranger: Vec<PathBuf>,
    /// The tester loaded conformance/fixtures/werkzoekenden.json into the node
    #[arg(long)]
    fixtures_loaded: bool,
    /// Load the fixtures into a matchgate node first: its Local service URL (Push), with
    /// --push-cert/--push-key (an own system's certificate)
    #[arg(long)]
    push_fixtures: Option<String>,
    /// The own system's certificate for --push-fixtures
    #[arg(long)]
    push_cert: Option<PathBuf>,
    /// The key of --push-cert
    #[arg(long)]
    push_key: Option<PathBuf>,
    /// Test ids not to run (recorded as omitted)
    #[arg(long = "omit")]
    omit: Vec<String>,
    /// A file of `ID TARGET` lines expected to fail; the run fails when it drifts either way
    #[arg(long)]
    expected_failures: Option<PathBuf>,
}

/// Run `matchgate conformance ...`.
pub fn run(cmd: ConformanceCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ConformanceCommand::List { format } => {
            match format {
                ListFormat::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(conformance::catalogue::CATALOGUE)?
                ),
                ListFormat::Text => {
                    for e in conformance::catalogue::CATALOGUE {
                        let targets: Vec<&str> = e.targets.iter().map(|t| t.name()).collect();
                        println!(
                            "{}\t{}\t{}\t{}\t{}",
                            e.id,
                            if e.level == conformance::model::Level::Must {
                                "MUST"
                            } else {
                                "SHOULD"
                            },
                            targets.join(","),
                            e.title,
                            e.requirement
                        );
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ConformanceCommand::Run(args) => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the runtime")?;
            rt.block_on(run_suite(*args))
        }
    }
}

fn creds(pair: &[PathBuf]) -> Option<Creds> {
    match pair {
        [cert, key] => Some(Creds {
            cert: cert.clone(),
            key: key.clone(),
        }),
        _ => None,
    }
}

async fn run_suite(args: RunArgs) -> anyhow::Result<ExitCode> {
    let mut demo = None;
    let mut plan = if args.demo {
        let (child, plan) = demo_plan().await?;
        demo = Some(child);
        plan
    } else {
        plan_of(&args).await?
    };
    plan.omit.extend(args.omit.iter().cloned());
    if let Some(f) = &args.expected_failures {
        let text = std::fs::read_to_string(f).with_context(|| f.display().to_string())?;
        plan.expected_failures = conformance::run::parse_expected_failures(&text)
            .map_err(|e| anyhow!("{}: {e}", f.display()))?;
    }
    plan.payloads.extend(args.payloads.iter().cloned());
    if plan.targets.is_empty() && plan.payloads.is_empty() {
        bail!("nothing to test: give --demo, or --bron, --bemiddelaar, --grpc or --payload");
    }
    let report = conformance::run::run(&plan).await;
    if let Some(mut child) = demo {
        let _ = child.kill();
        let _ = child.wait();
    }
    conformance::report::write_all(&report, &args.out)
        .with_context(|| args.out.display().to_string())?;
    print!("{}", conformance::report::console(&report));
    println!(
        "reports: {}, {}, {}",
        args.out.join("report.json").display(),
        args.out.join("junit.xml").display(),
        args.out.join("report.html").display()
    );
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn plan_of(args: &RunArgs) -> anyhow::Result<Plan> {
    let need = |v: &Option<PathBuf>, name: &str| {
        v.clone()
            .ok_or_else(|| anyhow!("--{name} is needed to call a face"))
    };
    let mut targets = Vec::new();
    let faces = [
        (TargetKind::Bron, &args.bron),
        (TargetKind::Grpc, &args.grpc),
        (TargetKind::Bemiddelaar, &args.bemiddelaar),
    ];
    for (kind, url) in faces {
        let Some(url) = url else { continue };
        let ca = need(&args.ca, "ca")?;
        let (cert, key) = if kind == TargetKind::Bemiddelaar {
            (
                args.local_cert
                    .clone()
                    .map_or_else(|| need(&args.cert, "cert"), Ok)?,
                args.local_key
                    .clone()
                    .map_or_else(|| need(&args.key, "key"), Ok)?,
            )
        } else {
            (need(&args.cert, "cert")?, need(&args.key, "key")?)
        };
        let caller_oin = args
            .caller_oin
            .clone()
            .ok_or_else(|| anyhow!("--caller-oin is needed (the OIN in your certificate)"))?;
        let node_oin = if kind == TargetKind::Bemiddelaar {
            args.bemiddelaar_oin
                .clone()
                .or_else(|| args.node_oin.clone())
        } else {
            args.node_oin.clone()
        }
        .ok_or_else(|| anyhow!("--node-oin is needed (the node's OIN, toParty)"))?;
        targets.push(Target {
            face: Face {
                kind,
                url: url.clone(),
                ca,
            },
            creds: Creds { cert, key },
            caller_oin,
            node_oin,
            suwi: args.suwi,
            negative: Negative {
                expired: creds(&args.expired),
                foreign: creds(&args.foreign),
                stranger: creds(&args.stranger),
            },
            fixtures: args.fixtures_loaded || args.push_fixtures.is_some(),
        });
    }
    if let Some(url) = &args.push_fixtures {
        let c = Creds {
            cert: need(&args.push_cert, "push-cert")?,
            key: need(&args.push_key, "push-key")?,
        };
        let n = conformance::fixtures::push(url, &c, &need(&args.ca, "ca")?)
            .await
            .map_err(|e| anyhow!("loading the fixtures: {e}"))?;
        println!("fixtures loaded into {url}: {n}");
    }
    Ok(Plan {
        targets,
        ..Default::default()
    })
}

/// Start `matchgate demo --keep --dir TMP` and plan a run of every face of it: UWV's Bron face
/// and Peer service as the gemeente (a non-SUWI party there), the gemeente's Bemiddelaar face as
/// its own system; the fixtures pushed into UWV.
async fn demo_plan() -> anyhow::Result<(std::process::Child, Plan)> {
    let dir = std::env::temp_dir().join(format!("matchgate-conformance-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let exe = std::env::current_exe().context("finding the matchgate binary")?;
    let log = std::fs::File::create(
        std::env::temp_dir().join(format!("matchgate-conformance-{}.log", std::process::id())),
    )?;
    let mut child = std::process::Command::new(exe)
        .args(["demo", "--keep", "--dir"])
        .arg(&dir)
        .stdout(log)
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("starting the demo federation")?;
    let file = dir.join("demo.json");
    for _ in 0..300 {
        if file.exists() {
            break;
        }
        if let Some(status) = child.try_wait()? {
            bail!("the demo federation stopped ({status}) before it was ready");
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let demo: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&file)
            .with_context(|| format!("{}: the demo did not start", file.display()))?,
    )?;
    let node = |name: &str| -> anyhow::Result<&serde_json::Value> {
        demo["nodes"]
            .as_array()
            .and_then(|a| a.iter().find(|n| n["name"] == name))
            .ok_or_else(|| anyhow!("demo.json has no node {name}"))
    };
    let s = |v: &serde_json::Value, k: &str| -> anyhow::Result<String> {
        v[k].as_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow!("demo.json: no {k}"))
    };
    let p = |v: &serde_json::Value, k: &str| s(v, k).map(PathBuf::from);
    let (g, u) = (node("gemeente")?, node("uwv")?);
    let neg = &demo["negative"];
    let pair = |c: &str, k: &str| -> Option<Creds> {
        Some(Creds {
            cert: PathBuf::from(neg[c].as_str()?),
            key: PathBuf::from(neg[k].as_str()?),
        })
    };
    let negative = Negative {
        expired: pair("expired_cert", "expired_key"),
        foreign: pair("foreign_cert", "foreign_key"),
        stranger: pair("stranger_cert", "stranger_key"),
    };
    let n = conformance::fixtures::push(
        &s(u, "local_url")?,
        &Creds {
            cert: p(u, "local_client_cert")?,
            key: p(u, "local_client_key")?,
        },
        &p(u, "local_ca")?,
    )
    .await
    .map_err(|e| anyhow!("loading the fixtures into the demo's UWV node: {e}"))?;
    println!(
        "demo federation at {}; {n} fixtures loaded into UWV's node",
        dir.display()
    );
    let target = |kind,
                  url: String,
                  cert: PathBuf,
                  key: PathBuf,
                  node_oin: String|
     -> anyhow::Result<Target> {
        Ok(Target {
            face: Face {
                kind,
                url,
                ca: p(g, "ca")?,
            },
            creds: Creds { cert, key },
            caller_oin: s(g, "oin")?,
            node_oin,
            suwi: false,
            negative: negative.clone(),
            fixtures: true,
        })
    };
    let plan = Plan {
        targets: vec![
            target(
                TargetKind::Bron,
                s(u, "bron_url")?,
                p(g, "client_cert")?,
                p(g, "client_key")?,
                s(u, "oin")?,
            )?,
            target(
                TargetKind::Grpc,
                s(u, "peer_url")?,
                p(g, "client_cert")?,
                p(g, "client_key")?,
                s(u, "oin")?,
            )?,
            target(
                TargetKind::Bemiddelaar,
                s(g, "bemiddelaar_url")?,
                p(g, "local_client_cert")?,
                p(g, "local_client_key")?,
                s(g, "oin")?,
            )?,
        ],
        ..Default::default()
    };
    Ok((child, plan))
}
