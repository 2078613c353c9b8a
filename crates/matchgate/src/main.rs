//! `matchgate`: the gateway's command line.
//!
//! Each command returns `anyhow::Result<ExitCode>`: an error is printed with its chain (as `{:#}`
//! prints it, less repeats: [`chain`]) after the command's prefix, and exits with the command's failure code (2 for a [`Usage`] error).
#![cfg_attr(not(test), warn(clippy::unwrap_used))]
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

// Translation reads, translates and writes records on different threads; mimalloc keeps frees
// from another thread cheap (BENCHMARKS.md, "Translation on two threads").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod conformance_cmd;
mod demo;
mod mapping_init;
mod node_cmd;
mod push_cmd;
mod report_cmd;
mod store_cmd;
mod translate_cmd;
mod validate;

#[derive(Parser)]
#[command(
    name = "matchgate",
    version,
    about = "VUM gateway node (interface 3.0.0, data standard 1.5)"
)]
struct Cli {
    /// Database: sqlite://PATH or postgres://USER@HOST/DB (default: a SQLite file in the data directory)
    #[arg(long, global = true, env = "MATCHGATE_DATABASE")]
    database: Option<String>,
    /// Data directory for the default SQLite database
    #[arg(
        long,
        global = true,
        env = "MATCHGATE_DATA_DIR",
        default_value = "matchgate-data"
    )]
    data_dir: PathBuf,
    /// Records not refreshed by an import for this many days stop being shared
    #[arg(
        long,
        global = true,
        env = "MATCHGATE_EXPIRY_DAYS",
        default_value_t = 90
    )]
    expiry_days: i64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate VUM documents: a single JSON document, a JSON array, or NDJSON (one per line).
    Validate {
        /// Files to validate ('-' for standard input)
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Document kind; detected from the first record of each file when omitted
        #[arg(long, value_parser = parse_kind)]
        kind: Option<vum::Kind>,
        /// Output: text lines `file:record:pointer rule severity: message`, or NDJSON
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Do not print warnings (they never make a document invalid)
        #[arg(long)]
        no_warnings: bool,
        /// Judge dates against this day (YYYY-MM-DD) instead of today
        #[arg(long)]
        today: Option<String>,
    },
    /// Translate a local export (CSV, XLSX, XML, JSON, NDJSON) into VUM documents with a mapping file.
    Translate(translate_cmd::Args),
    /// Mapping files: `matchgate mapping init FILE` prints a starting mapping for an export.
    Mapping {
        #[command(subcommand)]
        command: mapping_init::MappingCommand,
    },
    /// Translate an export straight into the store (same mapping, summary and rejects as translate).
    Ingest(store_cmd::IngestArgs),
    /// Run a selection request ({"vraagObject": ...}) against the store; prints the source's response.
    Select(store_cmd::SelectArgs),
    /// Print the detail document of a record by its VUM id.
    Get(store_cmd::GetArgs),
    /// The audit log: `matchgate audit verify` checks its hash chain.
    Audit {
        #[command(subcommand)]
        command: store_cmd::AuditCommand,
    },
    /// Counts of live, expired, withdrawn and deleted records.
    Status,
    /// The transparency of the client file: per labour-market region and municipality, the
    /// werkzoekenden shared and not shared (by reason), completeness and freshness, trends;
    /// writes report.html, report.csv and report.json (counts only, small cells as "<5").
    Report(report_cmd::Args),
    /// Run a node: mutual-TLS gRPC for peers and for the organisation's own systems.
    Serve {
        #[arg(long)]
        config: PathBuf,
    },
    /// Check a node.toml and the files it names without starting the node: lists every problem
    /// (values, certificate and key, CAs, secret, addresses, peers, grants); exit code 1 if any.
    CheckConfig {
        /// the node.toml to check
        config: PathBuf,
    },
    /// Stream VUM documents or a translated export into a running node (Local service, mutual TLS).
    Push(push_cmd::Args),
    /// Write a development PKI (CA, node certificates with OINs, an expired and a foreign-CA one).
    Certs {
        /// Output directory
        #[arg(long, default_value = "certs")]
        out: PathBuf,
        /// name=OIN, once per organisation (default: a gemeente, UWV and an SW-bedrijf)
        #[arg(long = "org")]
        orgs: Vec<String>,
        /// a DNS name or IP address the node certificates also carry (repeatable; localhost and
        /// 127.0.0.1 always)
        #[arg(long = "host")]
        hosts: Vec<String>,
    },
    /// The conformance suite: `list` the catalogue, `run` it against a node's faces or a demo.
    Conformance {
        #[command(subcommand)]
        command: conformance_cmd::ConformanceCommand,
    },
    /// A local federation: three nodes on loopback, data ingested, a search across organisations.
    Demo {
        /// Leave the federation running until interrupted (Ctrl-C), for curl, grpcurl or a test
        #[arg(long)]
        keep: bool,
        /// Put the federation's files here and keep them, with DIR/demo.json naming every node's
        /// URLs and certificates (default: a temporary directory, removed at the end)
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// List every rule id the validator can report, with its severity.
    Rules,
}

/// How `validate` writes its findings.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    /// `file:record:pointer rule severity: message` lines
    Text,
    /// one JSON object per finding (NDJSON)
    Json,
}

fn parse_kind(s: &str) -> Result<vum::Kind, String> {
    s.parse()
}

/// A usage error: a flag, an input or a configuration that cannot be used, found before anything
/// was done. It exits 2 whatever the command's own code for a failure is.
#[derive(Debug)]
pub struct Usage(pub anyhow::Error);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Usage {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// An error with its sources, as one line (`{:#}` of anyhow), leaving out a source whose text
/// the line already holds (many errors repeat their source in their message).
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

/// How a command's failure is reported: the prefix of its message and its exit code (a [`Usage`]
/// error exits 2 regardless).
struct OnError {
    prefix: &'static str,
    code: u8,
}

const STORE: OnError = OnError {
    prefix: "matchgate",
    code: 2,
};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `serve` installs its own subscriber, with trace export when node.toml asks for it
    if !matches!(cli.command, Command::Serve { .. }) {
        tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "warn".into()),
            )
            .with_writer(std::io::stderr)
            .init();
    }
    let (on_error, result) = run(cli);
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{}: {}", on_error.prefix, chain(&*e));
            ExitCode::from(if e.is::<Usage>() { 2 } else { on_error.code })
        }
    }
}

/// Run the command; its exit code, or its error with how to report it.
fn run(cli: Cli) -> (OnError, anyhow::Result<ExitCode>) {
    let db = || store_cmd::Db {
        url: store_cmd::db_url(cli.database.clone(), &cli.data_dir),
        expiry_days: cli.expiry_days,
    };
    match cli.command {
        Command::Validate {
            files,
            kind,
            format,
            no_warnings,
            today,
        } => {
            let validator = match today {
                Some(t) if vum::is_valid_date(&t) => vum::Validator::with_today(&t),
                Some(t) => {
                    let e = anyhow::anyhow!("--today {t}: expected a date YYYY-MM-DD");
                    return (STORE, Err(e));
                }
                None => vum::Validator::new(),
            };
            let opts = validate::Options {
                kind,
                format,
                warnings: !no_warnings,
            };
            (STORE, Ok(validate::run(&validator, &files, &opts)))
        }
        Command::Translate(args) => (
            OnError {
                prefix: "matchgate translate",
                code: 2,
            },
            translate_cmd::run(&args),
        ),
        Command::Mapping { command } => (
            OnError {
                prefix: "matchgate mapping init",
                code: 1,
            },
            mapping_init::run(&command),
        ),
        Command::Ingest(args) => (STORE, store_cmd::ingest(&db(), &args)),
        Command::Select(args) => (STORE, store_cmd::select(&db(), &args)),
        Command::Get(args) => (STORE, store_cmd::get(&db(), &args)),
        Command::Audit { command } => (STORE, store_cmd::audit(&db(), &command)),
        Command::Status => (STORE, store_cmd::status(&db())),
        Command::Report(args) => (
            OnError {
                prefix: "matchgate report",
                code: 1,
            },
            report_cmd::run(&db(), &args),
        ),
        Command::CheckConfig { config } => (
            OnError {
                prefix: "matchgate check-config",
                code: 2,
            },
            node_cmd::check_config(&config),
        ),
        Command::Serve { config } => (
            OnError {
                prefix: "matchgate serve",
                code: 2,
            },
            node_cmd::serve(&config),
        ),
        Command::Push(args) => (
            OnError {
                prefix: "matchgate push",
                code: 1,
            },
            push_cmd::run(&args),
        ),
        Command::Certs { out, orgs, hosts } => (
            OnError {
                prefix: "matchgate certs",
                code: 2,
            },
            node_cmd::certs(&out, &orgs, &hosts),
        ),
        Command::Conformance { command } => (
            OnError {
                prefix: "matchgate conformance",
                code: 2,
            },
            conformance_cmd::run(command),
        ),
        Command::Demo { keep, dir } => (
            OnError {
                prefix: "matchgate demo",
                code: 1,
            },
            demo::run(keep, dir),
        ),
        Command::Rules => {
            for fam in [vum::Family::Werkzoekenden, vum::Family::Vacatures] {
                for r in vum::schema_rules(fam) {
                    println!("{r}\terror\tschemas/vum-{}.schema.json", fam.name());
                }
            }
            for r in vum::rules::CATALOGUE.iter().chain(vum::query::RULES) {
                println!("{}\t{}\t{}", r.id, r.severity, r.description);
            }
            (STORE, Ok(ExitCode::SUCCESS))
        }
    }
}
