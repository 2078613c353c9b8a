//! `matchgate`: the gateway's command line.
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

// Translation reads, translates and writes records on different threads; mimalloc keeps frees
// from another thread cheap (BENCHMARKS.md, "Translation on two threads").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod demo;
mod mapping_init;
mod node_cmd;
mod push_cmd;
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
    /// Run a node: mutual-TLS gRPC for peers and for the organisation's own systems.
    Serve {
        #[arg(long)]
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
    },
    /// A local federation: three nodes on loopback, data ingested, a search across organisations.
    Demo,
    /// List every rule id the validator can report, with its severity.
    Rules,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

fn parse_kind(s: &str) -> Result<vum::Kind, String> {
    s.parse()
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
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
                    eprintln!("matchgate: --today {t}: expected a date YYYY-MM-DD");
                    return ExitCode::from(2);
                }
                None => vum::Validator::new(),
            };
            let opts = validate::Options {
                kind,
                format,
                warnings: !no_warnings,
            };
            validate::run(&validator, &files, &opts)
        }
        Command::Translate(args) => translate_cmd::run(&args),
        Command::Mapping { command } => mapping_init::run(&command),
        Command::Ingest(args) => store_cmd::ingest(
            &store_cmd::Db {
                url: store_cmd::db_url(cli.database.clone(), &cli.data_dir),
                expiry_days: cli.expiry_days,
            },
            &args,
        ),
        Command::Select(args) => store_cmd::select(
            &store_cmd::Db {
                url: store_cmd::db_url(cli.database.clone(), &cli.data_dir),
                expiry_days: cli.expiry_days,
            },
            &args,
        ),
        Command::Get(args) => store_cmd::get(
            &store_cmd::Db {
                url: store_cmd::db_url(cli.database.clone(), &cli.data_dir),
                expiry_days: cli.expiry_days,
            },
            &args,
        ),
        Command::Audit { command } => store_cmd::audit(
            &store_cmd::Db {
                url: store_cmd::db_url(cli.database.clone(), &cli.data_dir),
                expiry_days: cli.expiry_days,
            },
            &command,
        ),
        Command::Status => store_cmd::status(&store_cmd::Db {
            url: store_cmd::db_url(cli.database.clone(), &cli.data_dir),
            expiry_days: cli.expiry_days,
        }),
        Command::Serve { config } => node_cmd::serve(&config),
        Command::Push(args) => push_cmd::run(&args),
        Command::Certs { out, orgs } => node_cmd::certs(&out, &orgs),
        Command::Demo => demo::run(),
        Command::Rules => {
            for fam in [vum::Family::Werkzoekenden, vum::Family::Vacatures] {
                for r in vum::schema_rules(fam) {
                    println!("{r}\terror\tschemas/vum-{}.schema.json", fam.name());
                }
            }
            for r in vum::rules::CATALOGUE.iter().chain(vum::query::RULES) {
                println!("{}\t{}\t{}", r.id, r.severity, r.description);
            }
            ExitCode::SUCCESS
        }
    }
}
