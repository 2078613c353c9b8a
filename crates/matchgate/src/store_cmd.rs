//! Store commands: ingest, select, get, audit verify, status.
use crate::translate_cmd::{print_summary, ImportArgs};
use anyhow::{bail, Context};
use serde_json::Value;
use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use store::service::{self, Caller};
use store::{engine::Engine, now_ms, Store, Upserted};
use translate::{mapping::Mapping, Reject, Sink, Summary, Translator};
use vum::{Kind, Validator};

#[derive(clap::Args)]
pub struct IngestArgs {
    #[command(flatten)]
    import: ImportArgs,
    /// The export to ingest
    input: PathBuf,
    /// Records per transaction
    #[arg(long, default_value_t = 1000)]
    batch: usize,
}

#[derive(clap::Args)]
pub struct SelectArgs {
    /// The selection request: {"vraagObject": {...}} (werkzoekende-vraag or vacature-vraag)
    query: PathBuf,
    /// werkzoekende or vacature (detected from the criteria when omitted)
    #[arg(long)]
    kind: Option<String>,
    /// At most this many results (VUM: 100)
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// Why (goes to the audit log)
    #[arg(long, default_value = "cli")]
    purpose: String,
}

#[derive(clap::Args)]
pub struct GetArgs {
    vum_id: String,
    /// werkzoekende or vacature (both are tried when omitted)
    #[arg(long)]
    kind: Option<String>,
    #[arg(long, default_value = "cli")]
    purpose: String,
}

#[derive(clap::Subcommand)]
pub enum AuditCommand {
    /// Check the audit log's hash chain from the first entry to the last.
    Verify,
}

/// Where the store is and how long records stay shared without a refresh.
pub struct Db {
    pub url: String,
    pub expiry_days: i64,
}

impl Db {
    pub async fn open(&self) -> Result<Store, store::StoreError> {
        let mut s = Store::open(&self.url).await?;
        s.expiry_days = self.expiry_days;
        Ok(s)
    }
}

pub fn db_url(database: Option<String>, data_dir: &Path) -> String {
    database.unwrap_or_else(|| {
        let _ = std::fs::create_dir_all(data_dir);
        format!("sqlite://{}", data_dir.join("matchgate.db").display())
    })
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")
}

fn caller(purpose: &str) -> Caller {
    Caller {
        actor: format!(
            "local:{}",
            std::env::var("USER").unwrap_or_else(|_| "cli".into())
        ),
        on_behalf_of: "local".into(),
        purpose: purpose.into(),
        transaction_id: uuid::Uuid::now_v7().to_string(),
    }
}

struct StoreSink {
    rt: tokio::runtime::Handle,
    store: Store,
    kind: Kind,
    batch: Vec<(String, Value)>,
    size: usize,
    rejects: csv::Writer<std::fs::File>,
    counts: [u64; 4], // inserted, updated, unchanged, removed
    progress: Option<indicatif::ProgressBar>,
    last_plain: u64,
    /// per PC4 area: records left out for want of consent that are withdrawn records (shared
    /// once): the transparency figures count them as withdrawn, not again as without consent
    withdrawn: std::collections::BTreeMap<u16, u64>,
}

impl StoreSink {
    fn flush(&mut self) -> io::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        let out = self
            .rt
            .block_on(self.store.upsert_batch(self.kind, &batch, now_ms()))
            .map_err(io::Error::other)?;
        for o in out {
            self.counts[match o {
                Upserted::Inserted => 0,
                Upserted::Updated => 1,
                Upserted::Unchanged => 2,
            }] += 1;
        }
        Ok(())
    }
}

impl Sink for StoreSink {
    fn accepted(&mut self, _row: u64, id: &str, doc: &Value) -> io::Result<()> {
        self.batch.push((id.to_string(), doc.clone()));
        if self.batch.len() >= self.size {
            self.flush()?;
        }
        Ok(())
    }
    fn rejected(&mut self, rejects: &[Reject], original: &[(String, String)]) -> io::Result<()> {
        crate::translate_cmd::write_rejects(&mut self.rejects, rejects, original)
    }
    fn filtered(&mut self, row: u64, vum_id: Option<&str>, consent: bool) -> io::Result<()> {
        self.filtered_in(row, vum_id, consent, 0)
    }
    fn filtered_in(
        &mut self,
        _row: u64,
        vum_id: Option<&str>,
        consent: bool,
        pc4: u16,
    ) -> io::Result<()> {
        // a record that is no longer shared (consent withdrawn, filtered out) stops being shared
        if let Some(id) = vum_id {
            self.flush()?;
            if self
                .rt
                .block_on(self.store.remove(self.kind, id, consent, now_ms()))
                .map_err(io::Error::other)?
            {
                self.counts[3] += 1;
            }
            if consent
                && self
                    .rt
                    .block_on(self.store.is_withdrawn(self.kind, id))
                    .map_err(io::Error::other)?
            {
                *self.withdrawn.entry(pc4).or_default() += 1;
            }
        }
        Ok(())
    }
    fn progress(&mut self, s: &Summary) {
        crate::translate_cmd::report_progress(&self.progress, &mut self.last_plain, "ingest", s);
    }
}

pub fn ingest(db: &Db, args: &IngestArgs) -> anyhow::Result<ExitCode> {
    let mapping = args.import.mapping()?;
    let secret = args.import.secret()?;
    let rejects = args.import.rejects_path("ingest");
    let options = IngestOptions {
        batch: args.batch,
        progress: io::stderr().is_terminal(),
        threads: args.import.threads(),
    };
    let (summary, [ins, upd, unch, rem]) =
        ingest_into(db, mapping, &args.input, &secret, &rejects, &options)?;
    print_summary(&summary, &rejects);
    eprintln!("store: {ins} inserted, {upd} updated, {unch} unchanged, {rem} no longer shared");
    Ok(args.import.max_rejects().exit_code(&summary))
}

/// How an ingest runs.
pub struct IngestOptions {
    /// records per transaction
    pub batch: usize,
    /// a progress bar on the terminal
    pub progress: bool,
    /// translation threads
    pub threads: usize,
}

/// Translate `input` with `mapping` into the store; returns the summary and
/// [inserted, updated, unchanged, no longer shared].
pub fn ingest_into(
    db: &Db,
    mapping: Mapping,
    input: &Path,
    secret: &[u8],
    rejects_path: &Path,
    options: &IngestOptions,
) -> anyhow::Result<(Summary, [u64; 4])> {
    let (batch, progress) = (options.batch, options.progress);
    let rt = runtime()?;
    let store = rt.block_on(db.open())?;
    let mut rejects =
        csv::Writer::from_path(rejects_path).with_context(|| rejects_path.display().to_string())?;
    let _ = rejects.write_record(["row", "column", "rule", "message", "original"]);
    let kind = mapping.kind;
    let progress = progress.then(|| {
        let pb = indicatif::ProgressBar::new_spinner();
        pb.enable_steady_tick(std::time::Duration::from_millis(200));
        pb
    });
    let mut sink = StoreSink {
        rt: rt.handle().clone(),
        store,
        kind,
        batch: Vec::new(),
        size: batch.max(1),
        rejects,
        counts: [0; 4],
        progress,
        last_plain: 0,
        withdrawn: Default::default(),
    };
    let mut t = Translator::new(mapping, secret, Validator::new()).with_threads(options.threads);
    let summary = t.run(input, &mut sink)?;
    sink.flush()?;
    let _ = sink.rejects.flush();
    // what this import counted per municipality, kept for the transparency figures
    let counts = run_counts(&summary, &sink.withdrawn);
    rt.block_on(sink.store.record_run(kind, "ingest", now_ms(), &counts))?;
    if let Err(e) = rt.block_on(sink.store.optimize()) {
        tracing::warn!(error = %e, "refreshing planner statistics failed");
    }
    if let Some(pb) = &sink.progress {
        pb.finish_and_clear();
    }
    Ok((summary, sink.counts))
}

/// A run's counts per municipality, from translate's counts per PC4 area; records left out for
/// want of consent that were withdrawn (`withdrawn`, per PC4 area) are not counted again.
pub fn run_counts(
    summary: &Summary,
    withdrawn: &std::collections::BTreeMap<u16, u64>,
) -> std::collections::BTreeMap<String, store::transparency::RunCounts> {
    let mut out: std::collections::BTreeMap<String, store::transparency::RunCounts> =
        Default::default();
    for (pc4, a) in &summary.by_pc4 {
        let m = store::transparency::municipality_of((*pc4 != 0).then_some(i64::from(*pc4)));
        let c = out.entry(m.to_string()).or_default();
        c.add(a);
        // withdrawn records are counted by the store, not again here
        c.no_consent = c
            .no_consent
            .saturating_sub(withdrawn.get(pc4).copied().unwrap_or(0));
    }
    out
}

fn kind_arg(k: &Option<String>) -> anyhow::Result<Option<Kind>> {
    match k.as_deref() {
        None => Ok(None),
        Some("werkzoekende") => Ok(Some(Kind::Werkzoekende)),
        Some("vacature") => Ok(Some(Kind::Vacature)),
        Some(o) => bail!("--kind {o}: use werkzoekende or vacature"),
    }
}

pub fn select(db: &Db, args: &SelectArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read(&args.query).with_context(|| args.query.display().to_string())?;
    let request: Value = serde_json::from_slice(&text)
        .with_context(|| format!("{}: not JSON", args.query.display()))?;
    let kind = match kind_arg(&args.kind)? {
        Some(k) => k,
        None => match Kind::detect(&request) {
            Some(Kind::VacatureVraag) => Kind::Vacature,
            Some(Kind::WerkzoekendeVraag) => Kind::Werkzoekende,
            _ => bail!(
                "cannot tell whether this query is for werkzoekenden or vacatures; pass --kind"
            ),
        },
    };
    let qkind = vum::query_kind(kind);
    let report = Validator::new().validate_value(qkind, &request);
    for f in &report.findings {
        eprintln!(
            "{}:{} {} {}: {}",
            args.query.display(),
            f.pointer,
            f.rule,
            f.severity,
            f.message
        );
    }
    if !report.is_valid() {
        return Ok(ExitCode::FAILURE);
    }
    let selectie = vum::query::Selectie::from_request(kind.family(), &request)?;
    let resp = runtime()?.block_on(async {
        let store = db.open().await?;
        let engine = Engine::load(&store, kind).await?;
        anyhow::Ok(
            service::select(
                &store,
                &engine,
                kind,
                &selectie,
                args.limit,
                &caller(&args.purpose),
                now_ms(),
            )
            .await?,
        )
    })?;
    println!(
        "{}",
        serde_json::to_string_pretty(&resp.to_json()).unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn get(db: &Db, args: &GetArgs) -> anyhow::Result<ExitCode> {
    let kinds = match kind_arg(&args.kind)? {
        Some(k) => vec![k],
        None => vec![Kind::Werkzoekende, Kind::Vacature],
    };
    let found = runtime()?.block_on(async {
        let store = db.open().await?;
        let c = caller(&args.purpose);
        for k in kinds {
            if let Some(d) = service::detail(&store, k, &args.vum_id, &c, now_ms()).await? {
                return anyhow::Ok(Some(d));
            }
        }
        Ok(None)
    })?;
    match found {
        Some(d) => {
            println!("{}", serde_json::to_string_pretty(&d).unwrap_or_default());
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!(
                "matchgate: {}: no live, shared record with this id",
                args.vum_id
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

pub fn audit(db: &Db, cmd: &AuditCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AuditCommand::Verify => {
            match runtime()?.block_on(async { db.open().await?.audit_verify().await })? {
                Ok(n) => {
                    println!("audit log intact: {n} entries, hash chain verified");
                    Ok(ExitCode::SUCCESS)
                }
                Err(why) => {
                    println!("audit log BROKEN: {why}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}

pub fn status(db: &Db) -> anyhow::Result<ExitCode> {
    let (rows, days) = runtime()?.block_on(async {
        let store = db.open().await?;
        let mut out = Vec::new();
        for k in [Kind::Werkzoekende, Kind::Vacature] {
            out.push((k, store.status(k, now_ms()).await?));
        }
        Ok::<_, store::StoreError>((out, store.expiry_days))
    })?;
    for (k, s) in rows {
        println!(
            "{:<13} live {:>8}  expired {:>8}  withdrawn {:>8}  deleted {:>8}  changes {:>8}",
            k.name(),
            s.live,
            s.expired,
            s.withdrawn,
            s.deleted,
            s.changes
        );
    }
    println!("(expired: not refreshed by an import for {days} days; no longer shared)");
    Ok(ExitCode::SUCCESS)
}
