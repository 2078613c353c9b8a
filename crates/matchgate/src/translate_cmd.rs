//! `matchgate translate`: mapping + export in, VUM NDJSON/JSON, a rejects CSV and a summary out.
use anyhow::{bail, Context};
use clap::ValueEnum;
use serde_json::Value;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use translate::{mapping::Mapping, Reject, Sink, Summary, Translator};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub import: ImportArgs,
    /// The export to translate
    input: PathBuf,
    /// Where accepted VUM documents go ('-' or absent: standard output)
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Output form: one document per line, or one JSON array
    #[arg(long, value_enum, default_value_t = OutFormat::Ndjson)]
    format: OutFormat,
    /// Also write the summary as JSON here
    #[arg(long)]
    summary: Option<PathBuf>,
    /// Judge dates against this day (YYYY-MM-DD) instead of today
    #[arg(long)]
    today: Option<String>,
}

/// What `translate` and `ingest` share: the mapping (or `--vum`), the secret, rejects and limits.
#[derive(clap::Args)]
pub struct ImportArgs {
    /// The mapping file (TOML; see docs/mapping.md); not with --vum
    #[arg(long, required_unless_present = "vum", conflicts_with = "vum")]
    mapping: Option<PathBuf>,
    /// The input holds VUM documents already (one, a JSON array, or NDJSON): no mapping; their
    /// own idWerkzoekende/idVacature is kept as the VUM id
    #[arg(long, requires = "kind")]
    vum: bool,
    /// With --vum: werkzoekende or vacature
    #[arg(long, value_parser = parse_import_kind)]
    kind: Option<vum::Kind>,
    /// With --vum: every record in the file consents to being shared (werkzoekenden need it)
    #[arg(long, requires = "vum")]
    consent: bool,
    /// With --vum: every record also consents to sharing its contact details
    #[arg(long, requires = "consent")]
    contact_consent: bool,
    /// Rejected records, for correction (CSV: row, column, rule, message, original); default
    /// translate-rejects.csv or ingest-rejects.csv, so the two never overwrite each other's
    #[arg(long)]
    rejects: Option<PathBuf>,
    /// File holding the node secret that keys record ids (else $MATCHGATE_NODE_SECRET)
    #[arg(long)]
    secret_file: Option<PathBuf>,
    /// A completed run with at most this many rejects (N) or this share of the records read (N%)
    /// exits 0 and reports them; more exit 1
    #[arg(long, default_value = "0", value_parser = parse_max_rejects)]
    max_rejects: MaxRejects,
    /// Threads that translate (default: the machine's cores); output order and bytes do not change
    #[arg(long)]
    threads: Option<usize>,
}

fn parse_import_kind(s: &str) -> Result<vum::Kind, String> {
    match s {
        "werkzoekende" => Ok(vum::Kind::Werkzoekende),
        "vacature" => Ok(vum::Kind::Vacature),
        o => Err(format!("'{o}': use werkzoekende or vacature")),
    }
}

/// How many rejects a completed run may have and still exit 0.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MaxRejects {
    Count(u64),
    Percent(f64),
}

fn parse_max_rejects(s: &str) -> Result<MaxRejects, String> {
    let bad =
        || format!("'{s}': give a number of rejects (50) or a share of the records read (2%)");
    match s.trim().strip_suffix('%') {
        Some(p) => {
            let v: f64 = p.trim().parse().map_err(|_| bad())?;
            if !(0.0..=100.0).contains(&v) {
                return Err(bad());
            }
            Ok(MaxRejects::Percent(v))
        }
        None => s.trim().parse().map(MaxRejects::Count).map_err(|_| bad()),
    }
}

impl MaxRejects {
    /// Whether the run's rejects stay within the limit.
    pub fn allows(self, s: &Summary) -> bool {
        match self {
            MaxRejects::Count(n) => s.rejected <= n,
            MaxRejects::Percent(p) => {
                s.read == 0 || (s.rejected as f64) * 100.0 <= p * (s.read as f64)
            }
        }
    }

    /// The exit code of a completed run; says so when the limit was passed.
    pub fn exit_code(self, s: &Summary) -> ExitCode {
        if self.allows(s) {
            ExitCode::SUCCESS
        } else {
            let limit = match self {
                MaxRejects::Count(n) => format!("{n}"),
                MaxRejects::Percent(p) => format!("{p}%"),
            };
            eprintln!("{} rejected: more than --max-rejects {limit}", s.rejected);
            ExitCode::FAILURE
        }
    }
}

impl ImportArgs {
    /// The mapping file, or the built-in mapping of `--vum`.
    pub fn mapping(&self) -> anyhow::Result<Mapping> {
        if self.vum {
            let kind = self
                .kind
                .context("--vum needs --kind werkzoekende or vacature")?;
            if kind == vum::Kind::Werkzoekende && !self.consent {
                bail!("a werkzoekende is shared only with recorded consent: pass --consent when every record in the file consents, or use a mapping whose [consent] reads it per record");
            }
            return Ok(Mapping::vum_documents(kind, self.contact_consent)?);
        }
        let path = self
            .mapping
            .as_deref()
            .context("--mapping FILE (or --vum)")?;
        Ok(Mapping::load(path)?)
    }

    pub fn secret(&self) -> anyhow::Result<Vec<u8>> {
        node_secret(self.secret_file.as_deref())
    }

    pub fn rejects_path(&self, command: &str) -> PathBuf {
        self.rejects
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("{command}-rejects.csv")))
    }

    pub fn threads(&self) -> usize {
        self.threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .clamp(1, 64)
    }

    pub fn max_rejects(&self) -> MaxRejects {
        self.max_rejects
    }
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum OutFormat {
    Ndjson,
    Json,
}

/// The node secret: from a file, or the environment. Never a built-in default, so ids cannot be
/// recomputed by someone who does not hold the secret.
pub fn node_secret(file: Option<&Path>) -> anyhow::Result<Vec<u8>> {
    let secret = match file {
        Some(p) => std::fs::read(p).with_context(|| format!("--secret-file {}", p.display()))?,
        None => match std::env::var("MATCHGATE_NODE_SECRET") {
            Ok(s) => s.into_bytes(),
            Err(_) => bail!("no node secret: pass --secret-file or set MATCHGATE_NODE_SECRET"),
        },
    };
    let trimmed: Vec<u8> = secret.trim_ascii().to_vec();
    if trimmed.len() < 16 {
        bail!("the node secret is shorter than 16 bytes");
    }
    Ok(trimmed)
}

pub(crate) struct FileSink {
    out: Box<dyn Write>,
    format: OutFormat,
    first: bool,
    rejects: csv::Writer<File>,
    progress: Option<indicatif::ProgressBar>,
    last_plain: u64,
}

impl Sink for FileSink {
    fn wants_json(&self) -> bool {
        true
    }

    fn accepted_json(&mut self, _row: u64, _id: &str, json: &[u8]) -> io::Result<()> {
        if self.format == OutFormat::Json {
            self.out
                .write_all(if self.first { b"[\n" } else { b",\n" })?;
            self.first = false;
            return self.out.write_all(json);
        }
        self.out.write_all(json)?;
        self.out.write_all(b"\n")
    }

    fn accepted(&mut self, _row: u64, _id: &str, doc: &Value) -> io::Result<()> {
        match self.format {
            OutFormat::Ndjson => {
                serde_json::to_writer(&mut self.out, doc)?;
                self.out.write_all(b"\n")
            }
            OutFormat::Json => {
                self.out
                    .write_all(if self.first { b"[\n" } else { b",\n" })?;
                self.first = false;
                serde_json::to_writer(&mut self.out, doc).map_err(io::Error::from)
            }
        }
    }

    fn rejected(&mut self, rejects: &[Reject], original: &[(String, String)]) -> io::Result<()> {
        crate::translate_cmd::write_rejects(&mut self.rejects, rejects, original)
    }

    fn progress(&mut self, s: &Summary) {
        crate::translate_cmd::report_progress(&self.progress, &mut self.last_plain, "translate", s);
    }
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let mapping = args.import.mapping()?;
    let secret = args.import.secret()?;
    let rejects_path = args.import.rejects_path("translate");
    let validator = match &args.today {
        Some(t) if vum::is_valid_date(t) => vum::Validator::with_today(t),
        Some(t) => bail!("--today {t}: expected YYYY-MM-DD"),
        None => vum::Validator::new(),
    };
    let out: Box<dyn Write> = match &args.output {
        Some(p) if p.as_os_str() != "-" => Box::new(BufWriter::with_capacity(
            1 << 16,
            File::create(p).with_context(|| p.display().to_string())?,
        )),
        _ => Box::new(BufWriter::new(io::stdout())),
    };
    let mut rejects = csv::Writer::from_path(&rejects_path)
        .with_context(|| rejects_path.display().to_string())?;
    rejects.write_record(["row", "column", "rule", "message", "original"])?;
    let progress = io::stderr().is_terminal().then(|| {
        let pb = indicatif::ProgressBar::new_spinner();
        pb.enable_steady_tick(std::time::Duration::from_millis(200));
        pb
    });
    let mut sink = FileSink {
        out,
        format: args.format,
        first: true,
        rejects,
        progress,
        last_plain: 0,
    };
    let mut translator =
        Translator::new(mapping, &secret, validator).with_threads(args.import.threads());
    let summary = translator.run(&args.input, &mut sink)?;
    if args.format == OutFormat::Json {
        sink.out
            .write_all(if sink.first { b"[]\n" } else { b"\n]\n" })?;
    }
    sink.out.flush()?;
    sink.rejects.flush()?;
    if let Some(pb) = &sink.progress {
        pb.finish_and_clear();
    }
    print_summary(&summary, &rejects_path);
    if let Some(p) = &args.summary {
        std::fs::write(p, serde_json::to_vec_pretty(&summary).unwrap_or_default())
            .with_context(|| p.display().to_string())?;
    }
    Ok(args.import.max_rejects().exit_code(&summary))
}

/// A progress bar on a terminal; otherwise a plain line every 100,000 records.
pub(crate) fn report_progress(
    bar: &Option<indicatif::ProgressBar>,
    last_plain: &mut u64,
    label: &str,
    s: &Summary,
) {
    let line = format!(
        "{} read, {} accepted, {} filtered, {} rejected",
        s.read, s.accepted, s.filtered, s.rejected
    );
    match bar {
        Some(pb) => pb.set_message(line),
        None if s.read >= *last_plain + 100_000 => {
            *last_plain = s.read;
            eprintln!("{label}: {line}");
        }
        None => {}
    }
}

/// One line per reject: row, column, rule, message, and the record's shown source values as JSON.
pub(crate) fn write_rejects(
    w: &mut csv::Writer<File>,
    rejects: &[Reject],
    original: &[(String, String)],
) -> io::Result<()> {
    let original: serde_json::Map<String, Value> = original
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let original = Value::Object(original).to_string();
    for r in rejects {
        w.write_record([
            r.row.to_string().as_str(),
            r.column.as_deref().unwrap_or(""),
            &r.rule,
            &r.message,
            &original,
        ])
        .map_err(io::Error::other)?;
    }
    Ok(())
}

pub(crate) fn print_summary(s: &Summary, rejects: &Path) {
    eprintln!(
        "read {}, accepted {}, filtered {}, rejected {} ({:.1}s)",
        s.read, s.accepted, s.filtered, s.rejected, s.seconds
    );
    for (reason, n) in &s.filtered_by_reason {
        eprintln!("  filtered {n:>8}  {reason}");
    }
    for (rule, n) in &s.rejected_by_rule {
        eprintln!("  rejected {n:>8}  {rule}");
    }
    for (rule, n) in &s.warnings_by_rule {
        eprintln!("  warning  {n:>8}  {rule}");
    }
    if s.contact_withheld > 0 {
        eprintln!(
            "  {} contact value(s) left out: consent does not allow contact details",
            s.contact_withheld
        );
    }
    for (target, values) in s.top_unmapped(10) {
        let total: u64 = s.unmapped.get(target).map_or(0, |v| v.values().sum());
        eprintln!("  not in the value map of {target} ({total} time(s); most frequent first):");
        for (v, n) in values {
            eprintln!("    {n:>8}  {}", v.escape_debug());
        }
    }
    if s.other_unmapped > 0 {
        eprintln!(
            "  ... and {} more unmapped value(s) not listed",
            s.other_unmapped
        );
    }
    if s.rejected > 0 {
        eprintln!("rejected records are in {}", rejects.display());
    }
}
