//! `matchgate translate`: mapping + export in, VUM NDJSON/JSON, a rejects CSV and a summary out.
use clap::ValueEnum;
use serde_json::Value;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use translate::{mapping::Mapping, Reject, Sink, Summary, Translator};

#[derive(clap::Args)]
pub struct Args {
    /// The mapping file (TOML; see docs/mapping.md)
    #[arg(long)]
    mapping: PathBuf,
    /// The export to translate
    input: PathBuf,
    /// Where accepted VUM documents go ('-' or absent: standard output)
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Output form: one document per line, or one JSON array
    #[arg(long, value_enum, default_value_t = OutFormat::Ndjson)]
    format: OutFormat,
    /// Rejected records, for correction (CSV: row, column, rule, message, original)
    #[arg(long, default_value = "rejects.csv")]
    rejects: PathBuf,
    /// Also write the summary as JSON here
    #[arg(long)]
    summary: Option<PathBuf>,
    /// File holding the node secret that keys record ids (else $MATCHGATE_NODE_SECRET)
    #[arg(long)]
    secret_file: Option<PathBuf>,
    /// Judge dates against this day (YYYY-MM-DD) instead of today
    #[arg(long)]
    today: Option<String>,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum OutFormat {
    Ndjson,
    Json,
}

/// The node secret: from a file, or the environment. Never a built-in default, so ids cannot be
/// recomputed by someone who does not hold the secret.
pub fn node_secret(file: Option<&Path>) -> Result<Vec<u8>, String> {
    let secret = match file {
        Some(p) => std::fs::read(p).map_err(|e| format!("--secret-file {}: {e}", p.display()))?,
        None => std::env::var("MATCHGATE_NODE_SECRET")
            .map(String::into_bytes)
            .map_err(|_| {
                "no node secret: pass --secret-file or set MATCHGATE_NODE_SECRET".to_string()
            })?,
    };
    let trimmed: Vec<u8> = secret.trim_ascii().to_vec();
    if trimmed.len() < 16 {
        return Err("the node secret is shorter than 16 bytes".into());
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

pub fn run(args: &Args) -> ExitCode {
    match run_inner(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("matchgate translate: {e}");
            ExitCode::from(2)
        }
    }
}

fn run_inner(args: &Args) -> Result<ExitCode, String> {
    let mapping = Mapping::load(&args.mapping).map_err(|e| e.to_string())?;
    let secret = node_secret(args.secret_file.as_deref())?;
    let validator = match &args.today {
        Some(t) if vum::is_valid_date(t) => vum::Validator::with_today(t),
        Some(t) => return Err(format!("--today {t}: expected YYYY-MM-DD")),
        None => vum::Validator::new(),
    };
    let out: Box<dyn Write> = match &args.output {
        Some(p) if p.as_os_str() != "-" => Box::new(BufWriter::with_capacity(
            1 << 16,
            File::create(p).map_err(|e| format!("{}: {e}", p.display()))?,
        )),
        _ => Box::new(BufWriter::new(io::stdout())),
    };
    let mut rejects = csv::Writer::from_path(&args.rejects)
        .map_err(|e| format!("{}: {e}", args.rejects.display()))?;
    rejects
        .write_record(["row", "column", "rule", "message", "original"])
        .map_err(|e| e.to_string())?;
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
    let mut translator = Translator::new(mapping, &secret, validator);
    let summary = translator
        .run(&args.input, &mut sink)
        .map_err(|e| e.to_string())?;
    if args.format == OutFormat::Json {
        sink.out
            .write_all(if sink.first { b"[]\n" } else { b"\n]\n" })
            .map_err(|e| e.to_string())?;
    }
    sink.out.flush().map_err(|e| e.to_string())?;
    sink.rejects.flush().map_err(|e| e.to_string())?;
    if let Some(pb) = &sink.progress {
        pb.finish_and_clear();
    }
    print_summary(&summary, &args.rejects);
    if let Some(p) = &args.summary {
        std::fs::write(p, serde_json::to_vec_pretty(&summary).unwrap_or_default())
            .map_err(|e| format!("{}: {e}", p.display()))?;
    }
    Ok(if summary.rejected > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
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
    if s.rejected > 0 {
        eprintln!("rejected records are in {}", rejects.display());
    }
}
