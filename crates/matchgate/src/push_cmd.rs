//! `matchgate push`: stream VUM documents (or a translated export) into a running node's `Local`
//! service over mutual TLS, for systems that cannot speak gRPC themselves.
//!
//! Files are read lazily on their own thread and handed to the gRPC stream over a bounded channel;
//! each record is bounded ([`MAX_RECORD`]). The node answers with one summary that names bad
//! records by their index in the stream; `Runs` maps that index back to file and record number.
use crate::{chain, Usage};
use anyhow::{anyhow, bail, Context};
use node::pb::{self, local_client::LocalClient, push_request::Record};
use serde_json::Value;
use std::error::Error as _;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
use vum::Kind;
use vum_proto::{vacatures as vac, werkzoekenden as wz};

/// The largest record (an NDJSON line, an array element, a single document) push reads.
pub const MAX_RECORD: usize = 4 * 1024 * 1024;
/// The largest certificate, key or CA file read.
const MAX_PEM: u64 = 1024 * 1024;
/// The largest summary accepted from the node (its list of rejections grows with bad records).
const MAX_SUMMARY: usize = 64 * 1024 * 1024;
/// Records in flight between the reading thread and the gRPC stream.
const CHANNEL: usize = 256;

#[derive(clap::Args)]
#[command(after_help = "\
Each FILE holds one JSON document, a JSON array of documents, or NDJSON (one per line, as \
`matchgate translate` writes); '-' is standard input. A record is at most 4 MiB.

Local ids: the node keys each record's local id with its secret into the VUM id, as `matchgate \
ingest` does. By default the local id is the document's own idWerkzoekende / idVacature; \
--id-field /POINTER takes it from elsewhere (the value is moved into idWerkzoekende / idVacature, \
and a top-level property outside the standard is dropped before sending). A translated export \
already carries keyed ids: pushed, they are keyed again, so they do not meet the same records \
imported with `matchgate ingest` (pushing the same export again changes nothing), unless the \
local id is also in the document: for a vacancy export whose mapping fills nummerVacature from the \
local id, --id-field /nummerVacature gives the ids ingest gives (with the same secret).

Consent: the node stores a werkzoekende only with the jobseeker's consent. --consent states that \
every record of every file holds consent; without it werkzoekenden are refused before anything is \
sent. Consent is never assumed per record.

Output: one line per violation of each rejected record, `file:record:pointer rule: message`, then \
the node's summary. Exit code 0 when every record was accepted, 1 when a record was rejected, a \
file broke off while read or the node could not be reached, 2 on a usage error (a file that cannot \
be opened or whose kind cannot be told, werkzoekenden without --consent: nothing is sent).")]
pub struct Args {
    /// The node's own-organisation (Local) listener: https://HOST:PORT; HOST is the TLS server name
    #[arg(long)]
    node: String,
    /// Client certificate (PEM) issued by the CA the node trusts for its own systems
    #[arg(long)]
    cert: PathBuf,
    /// The client certificate's private key (PEM)
    #[arg(long)]
    key: PathBuf,
    /// The CA (PEM) that issued the node's certificate
    #[arg(long)]
    ca: PathBuf,
    /// TLS server name to expect in the node's certificate (default: the URL's host)
    #[arg(long)]
    server_name: Option<String>,
    /// Document kind; detected from each file's first record when omitted
    #[arg(long, value_parser = parse_push_kind)]
    kind: Option<Kind>,
    /// Every werkzoekende in these files has consented to sharing (required for werkzoekenden)
    #[arg(long)]
    consent: bool,
    /// JSON pointer of the local id in each document (default /idWerkzoekende or /idVacature)
    #[arg(long, value_name = "POINTER")]
    id_field: Option<String>,
    /// A file of local ids to delete, one per line, after the documents (needs --kind)
    #[arg(long = "delete-file", value_name = "IDS")]
    delete_files: Vec<PathBuf>,
    /// The deletes are withdrawn consent (rather than records deleted at the source)
    #[arg(long)]
    withdrawn: bool,
    /// Give up after this long: connecting and the whole push (e.g. 90s, 10m, 1h)
    #[arg(long, value_parser = parse_duration, default_value = "1h")]
    timeout: Duration,
    /// VUM documents to push ('-' for standard input)
    files: Vec<PathBuf>,
}

fn parse_push_kind(s: &str) -> Result<Kind, String> {
    match s {
        "werkzoekende" => Ok(Kind::Werkzoekende),
        "vacature" => Ok(Kind::Vacature),
        _ => Err(format!("'{s}': push takes werkzoekende or vacature")),
    }
}

/// `90`, `90s`, `10m`, `1h`, `500ms`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("'{s}': expected a duration such as 90s, 10m or 1h"))?;
    let d = match unit {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        _ => return Err(format!("'{s}': the unit must be ms, s, m or h")),
    };
    if d.is_zero() {
        return Err("the timeout must be above zero".into());
    }
    Ok(d)
}

/// Check everything first (a failure there is a [`Usage`] error, exit 2: nothing was sent),
/// then push.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let plan = plan(args).map_err(|e| anyhow::Error::new(Usage(e)))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let span = tracing::info_span!(
        "push",
        node = %plan.target,
        files = args.files.len(),
        delete_files = args.delete_files.len(),
        kind = args.kind.map(Kind::name).unwrap_or("detected"),
    );
    rt.block_on(tracing::Instrument::instrument(push(args, plan), span))
}

/// What was checked before connecting: the endpoint, and every input opened once.
struct Plan {
    endpoint: Endpoint,
    target: String,
    inputs: Vec<Input>,
    id_pointer: Option<String>,
}

enum Input {
    /// a file of documents; standard input stays open, a file is opened again when its turn comes
    Docs {
        path: PathBuf,
        kind: Option<Kind>,
        held: Option<Source>,
    },
    Deletes {
        path: PathBuf,
        kind: Kind,
    },
}

fn read_pem(flag: &str, path: &Path) -> anyhow::Result<Vec<u8>> {
    let mut buf = Vec::new();
    File::open(path)
        .and_then(|f| f.take(MAX_PEM + 1).read_to_end(&mut buf))
        .with_context(|| format!("{flag} {}", path.display()))?;
    if buf.len() as u64 > MAX_PEM {
        bail!(
            "{flag} {}: larger than 1 MiB, not a PEM file",
            path.display()
        );
    }
    if !buf.windows(11).any(|w| w == b"-----BEGIN ") {
        bail!(
            "{flag} {}: not a PEM file (no -----BEGIN line)",
            path.display()
        );
    }
    Ok(buf)
}

/// Usage checks, TLS material, and each input's kind from its first record: everything that can
/// refuse the push before a single record is sent.
fn plan(args: &Args) -> anyhow::Result<Plan> {
    if args.files.is_empty() && args.delete_files.is_empty() {
        bail!("nothing to push: name FILE(s) of documents or --delete-file IDS");
    }
    let stdin_uses = args
        .files
        .iter()
        .chain(&args.delete_files)
        .filter(|p| p.as_os_str() == "-")
        .count();
    if stdin_uses > 1 {
        bail!("standard input ('-') can be read only once");
    }
    let delete_kind = match (args.delete_files.is_empty(), args.kind) {
        (true, _) => None,
        (false, Some(k)) => Some(k),
        (false, None) => bail!("--delete-file needs --kind: whose local ids are they?"),
    };
    if let Some(p) = &args.id_field {
        if !p.starts_with('/') || p.len() < 2 {
            bail!("--id-field {p}: expected a JSON pointer such as /lokaalId");
        }
    }
    let uri: tonic::codegen::http::Uri = args
        .node
        .parse()
        .map_err(|e| anyhow!("--node {}: not a URL ({e})", args.node))?;
    if uri.scheme_str() != Some("https") {
        bail!(
            "--node {}: the node speaks mutual TLS only; use https://HOST:PORT",
            args.node
        );
    }
    let host = uri
        .host()
        .ok_or_else(|| anyhow!("--node {}: the URL has no host", args.node))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let server_name = args.server_name.clone().unwrap_or(host);
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read_pem("--ca", &args.ca)?))
        .identity(Identity::from_pem(
            read_pem("--cert", &args.cert)?,
            read_pem("--key", &args.key)?,
        ))
        .domain_name(server_name);
    let endpoint = Endpoint::from_shared(args.node.clone())
        .map_err(|e| anyhow!("--node {}: {e}", args.node))?
        .tls_config(tls)
        .map_err(|e| anyhow!("TLS set-up from --cert, --key and --ca: {}", chain(&e)))?
        .connect_timeout(args.timeout.min(Duration::from_secs(30)))
        .timeout(args.timeout);

    let mut inputs = Vec::new();
    for path in &args.files {
        let mut src = Source::open(path)?;
        if src.form == Form::Done && src.peeked.is_none() {
            eprintln!("matchgate push: {}: empty, no records", path.display());
        }
        let kind = match args.kind {
            Some(k) => Some(k),
            None => src
                .detect_kind()
                .with_context(|| path.display().to_string())?,
        };
        if kind == Some(Kind::Werkzoekende) && !args.consent {
            bail!(
                "{}: holds werkzoekenden, and push sends a jobseeker only with consent: pass \
                 --consent to state that every record in the file(s) has the jobseeker's consent \
                 to sharing (consent is never assumed per record)",
                path.display()
            );
        }
        // a file is opened again when its turn comes, so many files do not hold many descriptors
        let held = (path.as_os_str() == "-").then_some(src);
        inputs.push(Input::Docs {
            path: path.clone(),
            kind,
            held,
        });
    }
    if let Some(kind) = delete_kind {
        for path in &args.delete_files {
            if path.as_os_str() != "-" {
                File::open(path).with_context(|| format!("--delete-file {}", path.display()))?;
            }
            inputs.push(Input::Deletes {
                path: path.clone(),
                kind,
            });
        }
    }
    Ok(Plan {
        endpoint,
        target: args.node.clone(),
        inputs,
        id_pointer: args.id_field.clone(),
    })
}

/// `a: a: b` as `a: b` (tonic repeats "transport error" at each level).
fn dedup(s: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in s.split(": ") {
        if parts.last() != Some(&p) {
            parts.push(p);
        }
    }
    parts.join(": ")
}

/// connect → read (on its own thread) → send → summarise.
async fn push(args: &Args, plan: Plan) -> anyhow::Result<ExitCode> {
    let deadline = tokio::time::Instant::now() + args.timeout;
    let client = connect(&plan).await?;
    let target = plan.target.clone();
    let (rx, reading) = start_reader(args, plan)?;
    let sent = send(client, rx, args.timeout, deadline).await;
    if !matches!(sent, Ok(Ok(_))) {
        // the reader may wait on a full stream (or on standard input): it stops, and is not awaited
        let _ = reading.stop.send(true);
    }
    let summary = answer(sent, args.timeout, &target)?;
    // the node answers after the end of the stream, so the reader is done (awaited, not joined:
    // the runtime must keep driving the connection meanwhile)
    let read = reading
        .done
        .await
        .map_err(|_| anyhow!("the reader thread ended without a result"))?;
    let _ = reading.thread.join();
    drop(reading.stop);
    Ok(summarise(&summary, &read))
}

/// connect: the channel to the node's Local listener.
async fn connect(plan: &Plan) -> anyhow::Result<LocalClient<tonic::transport::Channel>> {
    let channel = plan.endpoint.connect().await.map_err(|e| {
        anyhow!(
            "cannot reach the node at {}: {}",
            plan.target,
            dedup(&chain(&e))
        )
    })?;
    tracing::info!("connected");
    Ok(LocalClient::new(channel).max_decoding_message_size(MAX_SUMMARY))
}

/// The reader thread at work: its stop signal, its result, the thread.
struct Reading {
    stop: tokio::sync::watch::Sender<bool>,
    done: tokio::sync::oneshot::Receiver<Reader>,
    thread: std::thread::JoinHandle<()>,
}

/// read: the inputs, on their own thread, into the stream's channel.
fn start_reader(
    args: &Args,
    plan: Plan,
) -> anyhow::Result<(tokio::sync::mpsc::Receiver<pb::PushRequest>, Reading)> {
    let (tx, rx) = tokio::sync::mpsc::channel::<pb::PushRequest>(CHANNEL);
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let (done_tx, done) = tokio::sync::oneshot::channel::<Reader>();
    let reader = Reader {
        handle: tokio::runtime::Handle::current(),
        stop,
        id_pointer: plan.id_pointer,
        consent: args.consent,
        withdrawn: args.withdrawn,
        tx,
        runs: Runs::default(),
        next_index: 0,
        not_sent: 0,
        unread_files: 0,
        validator: None,
    };
    let inputs = plan.inputs;
    let thread = std::thread::Builder::new()
        .name("push-reader".into())
        .spawn(move || {
            let _ = done_tx.send(reader.run(inputs));
        })
        .context("starting the reader thread")?;
    Ok((
        rx,
        Reading {
            stop: stop_tx,
            done,
            thread,
        },
    ))
}

/// What sending the stream came to: the node's answer, or the deadline passed.
type Sent =
    Result<Result<tonic::Response<pb::PushSummary>, tonic::Status>, tokio::time::error::Elapsed>;

/// send: the stream to the node, under the timeout.
async fn send(
    mut client: LocalClient<tonic::transport::Channel>,
    rx: tokio::sync::mpsc::Receiver<pb::PushRequest>,
    timeout: Duration,
    deadline: tokio::time::Instant,
) -> Sent {
    let mut req = tonic::Request::new(tokio_stream::wrappers::ReceiverStream::new(rx));
    req.set_timeout(timeout);
    tokio::time::timeout_at(deadline, client.push(req)).await
}

/// The node's summary, or why there is none.
fn answer(sent: Sent, timeout: Duration, target: &str) -> anyhow::Result<pb::PushSummary> {
    match sent {
        Err(_) => bail!(
            "the push did not finish within --timeout {:?}; the records the node received are kept \
             (pushing again is safe: unchanged records stay unchanged)",
            timeout
        ),
        Ok(Err(status)) => {
            let detail = dedup(&format!(
                "{}{}",
                status.message(),
                status
                    .source()
                    .map(|s| format!(": {}", chain(s)))
                    .unwrap_or_default()
            ));
            let what = match status.code() {
                tonic::Code::Unavailable => format!("cannot reach the node at {target}"),
                // the TLS session broke off: with TLS 1.3 a refused client certificate shows here
                tonic::Code::Unknown if detail.contains("transport error") => format!(
                    "the connection to the node at {target} broke off (a node refuses a client \
                     certificate its own systems' CA did not issue, or one that has expired)"
                ),
                code => format!("the node ended the push ({code:?})"),
            };
            bail!(
                "{what}: {detail}; records the node received before are kept (pushing again is \
                 safe: unchanged records stay unchanged)"
            )
        }
        Ok(Ok(resp)) => Ok(resp.into_inner()),
    }
}

/// summarise: each rejected record's violations by file and record, the totals, the exit code.
fn summarise(summary: &pb::PushSummary, read: &Reader) -> ExitCode {
    let mut out = io::stdout().lock();
    for r in &summary.rejected {
        let (name, record) = read.runs.locate(r.index);
        if r.violations.is_empty() {
            let _ = writeln!(out, "{name}:{record}: rejected by the node");
        }
        for v in &r.violations {
            let _ = writeln!(
                out,
                "{name}:{record}:{} {}: {}",
                v.field, v.rule, v.description
            );
        }
    }
    let rejected = summary.rejected.len() as u64;
    let _ = writeln!(
        out,
        "received {}, inserted {}, updated {}, unchanged {}, deleted {}, rejected {}{}{}",
        summary.received,
        summary.inserted,
        summary.updated,
        summary.unchanged,
        summary.deleted,
        rejected + read.not_sent,
        if read.not_sent > 0 {
            format!(" ({} here, not sent)", read.not_sent)
        } else {
            String::new()
        },
        if read.unread_files > 0 {
            format!("; {} file(s) not read to the end", read.unread_files)
        } else {
            String::new()
        }
    );
    let _ = out.flush();
    tracing::info!(
        received = summary.received,
        inserted = summary.inserted,
        updated = summary.updated,
        unchanged = summary.unchanged,
        deleted = summary.deleted,
        rejected = rejected + read.not_sent,
        "push done"
    );
    if rejected > 0 || read.not_sent > 0 || read.unread_files > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Stream index → (file, record number), as runs of consecutive records of one file: one entry
/// per file plus one per record the reader kept back, not one per record.
#[derive(Default)]
struct Runs {
    names: Vec<String>,
    /// (first stream index, file, its record number)
    runs: Vec<(i64, usize, u64)>,
    /// messages sent; an index at or past it is not one of ours
    sent: i64,
}

impl Runs {
    fn note(&mut self, index: i64, file: usize, record: u64) {
        if let Some(&(i, f, r)) = self.runs.last() {
            if f == file && r + (index - i) as u64 == record {
                self.sent = index + 1;
                return;
            }
        }
        self.runs.push((index, file, record));
        self.sent = index + 1;
    }

    fn locate(&self, index: i64) -> (&str, u64) {
        if index >= self.sent {
            return ("?", 0);
        }
        let n = self.runs.partition_point(|r| r.0 <= index);
        match n.checked_sub(1).and_then(|k| self.runs.get(k)) {
            Some(&(i, f, r)) => (
                self.names.get(f).map(String::as_str).unwrap_or("?"),
                r + (index - i) as u64,
            ),
            None => ("?", 0),
        }
    }
}

/// The reading side: records out of files, into the gRPC stream.
struct Reader {
    /// to wait on the stream from this (non-runtime) thread
    handle: tokio::runtime::Handle,
    /// set when the call is over without an answer: stop waiting on the stream
    stop: tokio::sync::watch::Receiver<bool>,
    id_pointer: Option<String>,
    consent: bool,
    withdrawn: bool,
    tx: tokio::sync::mpsc::Sender<pb::PushRequest>,
    runs: Runs,
    next_index: i64,
    /// records rejected here (not JSON, no local id, not a VUM document)
    not_sent: u64,
    unread_files: u64,
    /// only built when a record does not fit its message, to say why
    validator: Option<vum::Validator>,
}

/// The stream is gone (the call failed or ended): stop reading.
struct Closed;

impl Reader {
    fn run(mut self, inputs: Vec<Input>) -> Reader {
        for input in inputs {
            let (path, result) = match input {
                Input::Docs { path, kind, held } => {
                    let r = self.docs(&path, kind, held);
                    (path, r)
                }
                Input::Deletes { path, kind } => {
                    let r = self.deletes(&path, kind);
                    (path, r)
                }
            };
            match result {
                Ok(Ok(())) => {}
                Ok(Err(Closed)) => break,
                Err(e) => {
                    self.unread_files += 1;
                    eprintln!("matchgate push: {}: {e:#}", path.display());
                }
            }
        }
        self.tx = tokio::sync::mpsc::channel(1).0; // ends the stream before the reader is handed back
        self
    }

    fn file(&mut self, path: &Path) -> usize {
        self.runs.names.push(path.display().to_string());
        self.runs.names.len() - 1
    }

    fn send(&mut self, file: usize, record: u64, msg: pb::PushRequest) -> Result<(), Closed> {
        self.runs.note(self.next_index, file, record);
        self.next_index += 1;
        let (tx, stop) = (&self.tx, &mut self.stop);
        self.handle.block_on(async {
            if *stop.borrow() {
                return Err(Closed);
            }
            tokio::select! {
                r = tx.send(msg) => r.map_err(|_| Closed),
                _ = stop.changed() => Err(Closed),
            }
        })
    }

    fn keep_back(&mut self, file: usize, record: u64, violations: &[(String, String, String)]) {
        self.not_sent += 1;
        let name = &self.runs.names[file];
        let mut out = io::stdout().lock();
        for (pointer, rule, message) in violations {
            let _ = writeln!(out, "{name}:{record}:{pointer} {rule}: {message}");
        }
    }

    fn docs(
        &mut self,
        path: &Path,
        kind: Option<Kind>,
        held: Option<Source>,
    ) -> anyhow::Result<Result<(), Closed>> {
        let file = self.file(path);
        let mut src = match held {
            Some(s) => s,
            None => Source::open(path)?,
        };
        let mut kind = kind;
        while let Some(rec) = src.next_record()? {
            let (record, line) = (rec.record, rec.line);
            let bytes = match rec.body {
                Body::Json(b) => b,
                Body::TooLong => {
                    self.keep_back(
                        file,
                        record,
                        &[(
                            String::new(),
                            "push/te-groot".into(),
                            format!("the record at line {line} is longer than 4 MiB; skipped"),
                        )],
                    );
                    continue;
                }
            };
            let doc: Value = match serde_json::from_slice(&bytes) {
                Ok(d) => d,
                Err(e) => {
                    self.keep_back(
                        file,
                        record,
                        &[(
                            String::new(),
                            vum::rules::JSON_SYNTAX.into(),
                            format!("not JSON (line {line}): {e}"),
                        )],
                    );
                    continue;
                }
            };
            drop(bytes);
            let k = match kind {
                Some(k) => k,
                // a file that was empty when push started: settle its kind now, consent too
                None => match Kind::detect(&doc) {
                    Some(Kind::Werkzoekende) if !self.consent => bail!(
                        "holds werkzoekenden and --consent was not given; nothing of it was sent"
                    ),
                    Some(k @ (Kind::Werkzoekende | Kind::Vacature)) => *kind.insert(k),
                    _ => bail!(
                        "record {record} is neither a werkzoekende nor a vacature; pass --kind"
                    ),
                },
            };
            match self.message(k, doc) {
                Ok(msg) => {
                    if let Err(c) = self.send(file, record, msg) {
                        return Ok(Err(c));
                    }
                }
                Err(v) => self.keep_back(file, record, &v),
            }
        }
        Ok(Ok(()))
    }

    /// One document as the node's message: its local id in place, in the protobuf form.
    fn message(
        &mut self,
        kind: Kind,
        mut doc: Value,
    ) -> Result<pb::PushRequest, Vec<(String, String, String)>> {
        let id_field = vum::record_id_property(kind);
        let default_pointer = format!("/{id_field}");
        let pointer = self.id_pointer.as_deref().unwrap_or(&default_pointer);
        if !doc.is_object() {
            return Err(vec![(
                String::new(),
                "push/geen-object".into(),
                "the record is not a JSON object".into(),
            )]);
        }
        let local_id = match doc.pointer(pointer) {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            Some(Value::Number(n)) if n.is_u64() || n.is_i64() => n.to_string(),
            Some(Value::String(_)) | None | Some(Value::Null) => {
                return Err(vec![(
                    pointer.to_string(),
                    "push/id-ontbreekt".into(),
                    format!(
                        "no local id at {pointer}{}",
                        if self.id_pointer.is_none() {
                            " (--id-field takes it from elsewhere)"
                        } else {
                            ""
                        }
                    ),
                )])
            }
            Some(_) => {
                return Err(vec![(
                    pointer.to_string(),
                    "push/id-ontbreekt".into(),
                    format!("the local id at {pointer} is not a string or an integer"),
                )])
            }
        };
        if let Some(o) = doc.as_object_mut() {
            if pointer != default_pointer {
                // a top-level property outside the standard only carried the id: leave it here
                let top = &pointer[1..];
                if !top.contains('/') && !known_property(kind, top) {
                    o.remove(&top.replace("~1", "/").replace("~0", "~"));
                }
            }
            o.insert(id_field.into(), Value::String(local_id));
        }
        let record = if kind == Kind::Werkzoekende {
            <wz::Werkzoekende as serde::Deserialize>::deserialize(&doc).map(|w| {
                Record::Werkzoekende(pb::PushWerkzoekende {
                    werkzoekende: Some(w),
                    consent: true,
                })
            })
        } else {
            <vac::Vacature as serde::Deserialize>::deserialize(&doc).map(Record::Vacature)
        };
        match record {
            Ok(r) => Ok(pb::PushRequest { record: Some(r) }),
            Err(e) => {
                // say why in the standard's terms where the validator can
                let validator = self.validator.get_or_insert_with(vum::Validator::new);
                let report = validator.validate_value(kind, &doc);
                let v: Vec<_> = report
                    .errors()
                    .map(|f| (f.pointer.clone(), f.rule.clone(), f.message.clone()))
                    .collect();
                if v.is_empty() {
                    Err(vec![(
                        String::new(),
                        "push/geen-vum".into(),
                        format!("not a VUM {}: {e}", kind.name()),
                    )])
                } else {
                    Err(v)
                }
            }
        }
    }

    fn deletes(&mut self, path: &Path, kind: Kind) -> anyhow::Result<Result<(), Closed>> {
        let file = self.file(path);
        let mut r = open(path)?;
        let mut buf = Vec::new();
        let mut line = 0u64;
        loop {
            line += 1;
            match read_line(&mut r, &mut buf, MAX_RECORD)? {
                Line::Eof => break,
                Line::TooLong => self.keep_back(
                    file,
                    line,
                    &[(
                        "/id".into(),
                        "push/te-groot".into(),
                        "the line is longer than 4 MiB; skipped".into(),
                    )],
                ),
                Line::Done => {
                    let text = match std::str::from_utf8(&buf) {
                        Ok(t) => t.trim(),
                        Err(_) => {
                            self.keep_back(
                                file,
                                line,
                                &[(
                                    "/id".into(),
                                    "push/geen-utf8".into(),
                                    "the line is not UTF-8".into(),
                                )],
                            );
                            continue;
                        }
                    };
                    let text = text.trim_start_matches('\u{feff}');
                    if text.is_empty() {
                        continue;
                    }
                    let msg = pb::PushRequest {
                        record: Some(Record::Delete(pb::PushDelete {
                            kind: kind.name().into(),
                            id: text.to_string(),
                            withdrawn: self.withdrawn,
                        })),
                    };
                    if let Err(c) = self.send(file, line, msg) {
                        return Ok(Err(c));
                    }
                }
            }
        }
        Ok(Ok(()))
    }
}

/// Whether the message of `kind` has a top-level property named `name` (its JSON name): the
/// message accepts it with a value of some type (its deserializer refuses unknown properties).
fn known_property(kind: Kind, name: &str) -> bool {
    let probes = [
        Value::Null,
        Value::from(""),
        Value::from(0),
        Value::from(false),
        Value::Array(Vec::new()),
        Value::Object(serde_json::Map::new()),
    ];
    probes.into_iter().any(|v| {
        let probe = Value::Object([(name.to_string(), v)].into_iter().collect());
        if kind == Kind::Werkzoekende {
            <wz::Werkzoekende as serde::Deserialize>::deserialize(&probe).is_ok()
        } else {
            <vac::Vacature as serde::Deserialize>::deserialize(&probe).is_ok()
        }
    })
}

fn open(path: &Path) -> anyhow::Result<Box<dyn BufRead + Send>> {
    if path.as_os_str() == "-" {
        Ok(Box::new(BufReader::with_capacity(1 << 16, io::stdin())))
    } else {
        let f = File::open(path).with_context(|| path.display().to_string())?;
        Ok(Box::new(BufReader::with_capacity(1 << 16, f)))
    }
}

enum Line {
    Eof,
    /// a line (without its newline) is in the buffer
    Done,
    /// the line was longer than the limit; it was read past, not kept
    TooLong,
}

/// Read one line into `buf` (cleared first), keeping at most `max` bytes of it.
fn read_line(r: &mut dyn BufRead, buf: &mut Vec<u8>, max: usize) -> io::Result<Line> {
    buf.clear();
    let mut too_long = false;
    let mut any = false;
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            return Ok(if !any {
                Line::Eof
            } else if too_long {
                Line::TooLong
            } else {
                Line::Done
            });
        }
        any = true;
        let (take, end) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i, true),
            None => (chunk.len(), false),
        };
        if !too_long {
            if buf.len() + take > max {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(&chunk[..take]);
            }
        }
        r.consume(if end { take + 1 } else { take });
        if end {
            return Ok(if too_long { Line::TooLong } else { Line::Done });
        }
    }
}

enum Body {
    Json(Vec<u8>),
    TooLong,
}

struct Rec {
    /// record number in the file, from 1
    record: u64,
    /// the line it starts on, from 1
    line: u64,
    body: Body,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    /// one document per line
    Lines,
    /// a JSON array, read element by element
    Array,
    /// a single document spread over lines
    Single,
    Done,
}

/// The records of one file, one at a time; memory is bounded by [`MAX_RECORD`].
struct Source {
    reader: Box<dyn BufRead + Send>,
    form: Form,
    /// the first record, read to tell the form (and the kind) before connecting
    peeked: Option<Rec>,
    record: u64,
    line: u64,
}

impl Source {
    fn open(path: &Path) -> anyhow::Result<Source> {
        let mut reader = open(path)?;
        let name = path.display();
        // skip a UTF-8 byte order mark and blank lines, then look at the first byte
        let mut line = 1u64;
        let first = loop {
            let buf = reader.fill_buf().with_context(|| name.to_string())?;
            if buf.is_empty() {
                break None;
            }
            if buf.starts_with(&[0xEF, 0xBB, 0xBF]) {
                reader.consume(3);
                continue;
            }
            match buf.iter().position(|b| !b.is_ascii_whitespace()) {
                Some(i) => {
                    line += buf[..i].iter().filter(|&&b| b == b'\n').count() as u64;
                    let b = buf[i];
                    reader.consume(i);
                    break Some(b);
                }
                None => {
                    line += buf.iter().filter(|&&b| b == b'\n').count() as u64;
                    let n = buf.len();
                    reader.consume(n);
                }
            }
        };
        let mut src = Source {
            reader,
            form: Form::Done,
            peeked: None,
            record: 0,
            line,
        };
        match first {
            None => {}
            Some(b'[') => {
                src.reader.consume(1);
                src.form = Form::Array;
                src.peeked = src.next_element().with_context(|| name.to_string())?;
            }
            Some(_) => {
                let mut buf = Vec::new();
                let start = src.line;
                let got = read_line(&mut *src.reader, &mut buf, MAX_RECORD)
                    .with_context(|| name.to_string())?;
                src.line += 1;
                let t = buf.trim_ascii();
                // a complete document on the first line (or a line shaped like one): NDJSON
                if matches!(got, Line::TooLong)
                    || serde_json::from_slice::<serde::de::IgnoredAny>(t).is_ok()
                    || (t.starts_with(b"{") && t.ends_with(b"}"))
                {
                    src.form = Form::Lines;
                    src.record = 1;
                    src.peeked = Some(Rec {
                        record: 1,
                        line: start,
                        body: match got {
                            Line::TooLong => Body::TooLong,
                            _ => Body::Json(buf),
                        },
                    });
                } else {
                    // one document over several lines: read the rest, bounded
                    buf.push(b'\n');
                    let room = (MAX_RECORD + 1).saturating_sub(buf.len()) as u64;
                    (&mut src.reader)
                        .take(room)
                        .read_to_end(&mut buf)
                        .with_context(|| name.to_string())?;
                    src.form = Form::Single;
                    src.record = 1;
                    src.peeked = Some(Rec {
                        record: 1,
                        line: start,
                        body: if buf.len() > MAX_RECORD {
                            bail!(
                                "{name}: a single document longer than 4 MiB (or NDJSON whose \
                                 first line is not a document)"
                            )
                        } else {
                            Body::Json(buf)
                        },
                    });
                }
            }
        }
        Ok(src)
    }

    /// The kind of the file's documents, from its first record (None for an empty file).
    fn detect_kind(&mut self) -> anyhow::Result<Option<Kind>> {
        let Some(rec) = &self.peeked else {
            return Ok(None);
        };
        let Body::Json(b) = &rec.body else {
            bail!("its first record is longer than 4 MiB; pass --kind");
        };
        let v: Value = serde_json::from_slice(b).map_err(|e| {
            anyhow!("its first record is not JSON ({e}); cannot tell the kind, pass --kind")
        })?;
        match Kind::detect(&v) {
            Some(k @ (Kind::Werkzoekende | Kind::Vacature)) => Ok(Some(k)),
            Some(k) => bail!(
                "its first record looks like a {} document; push takes werkzoekende or vacature",
                k.name()
            ),
            None => bail!(
                "cannot tell from its first record whether it holds werkzoekenden or vacatures \
                 (no idWerkzoekende or idVacature); pass --kind"
            ),
        }
    }

    fn next_record(&mut self) -> anyhow::Result<Option<Rec>> {
        if let Some(r) = self.peeked.take() {
            return Ok(Some(r));
        }
        match self.form {
            Form::Done | Form::Single => Ok(None),
            Form::Array => self.next_element(),
            Form::Lines => {
                let mut buf = Vec::new();
                loop {
                    let line = self.line;
                    let got = read_line(&mut *self.reader, &mut buf, MAX_RECORD)?;
                    self.line += 1;
                    let body = match got {
                        Line::Eof => {
                            self.form = Form::Done;
                            return Ok(None);
                        }
                        Line::TooLong => Body::TooLong,
                        Line::Done if buf.iter().all(u8::is_ascii_whitespace) => continue,
                        Line::Done => Body::Json(std::mem::take(&mut buf)),
                    };
                    self.record += 1;
                    return Ok(Some(Rec {
                        record: self.record,
                        line,
                        body,
                    }));
                }
            }
        }
    }

    /// The next element of a JSON array (after `[` or a `,`): found by bracket depth and string
    /// state, parsed later on its own, so a malformed element is one bad record, not the end.
    fn next_element(&mut self) -> anyhow::Result<Option<Rec>> {
        let mut buf = Vec::new();
        let mut too_long = false;
        let mut depth = 0usize;
        let mut in_string = false;
        let mut escape = false;
        let mut started = false;
        let mut start_line = self.line;
        loop {
            let chunk = self.reader.fill_buf()?;
            if chunk.is_empty() {
                self.form = Form::Done;
                bail!(
                    "the array ends before its closing ']' (line {}); the rest cannot be read",
                    self.line
                );
            }
            let mut used = 0;
            let mut end: Option<u8> = None;
            for (i, &b) in chunk.iter().enumerate() {
                if b == b'\n' {
                    self.line += 1;
                }
                if in_string {
                    if escape {
                        escape = false;
                    } else if b == b'\\' {
                        escape = true;
                    } else if b == b'"' {
                        in_string = false;
                    }
                    continue;
                }
                match b {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' if depth > 0 => depth -= 1,
                    b',' | b']' if depth == 0 => {
                        end = Some(b);
                        used = i + 1;
                        break;
                    }
                    _ => {}
                }
                if !started && !b.is_ascii_whitespace() {
                    started = true;
                    start_line = self.line;
                }
            }
            let keep = if end.is_some() {
                used - 1
            } else {
                used = chunk.len();
                chunk.len()
            };
            if !too_long {
                if buf.len() + keep > MAX_RECORD {
                    too_long = true;
                    buf = Vec::new();
                } else {
                    buf.extend_from_slice(&chunk[..keep]);
                }
            }
            self.reader.consume(used);
            let Some(end) = end else { continue };
            let empty = !too_long && buf.iter().all(u8::is_ascii_whitespace);
            if end == b']' {
                self.form = Form::Done;
                if empty && self.record == 0 {
                    return Ok(None); // []
                }
                self.expect_end()?;
            }
            if empty && end == b']' && self.record > 0 {
                // `[a, b,]`: a trailing comma
                self.record += 1;
                return Ok(Some(Rec {
                    record: self.record,
                    line: start_line,
                    body: Body::Json(b"".to_vec()),
                }));
            }
            self.record += 1;
            return Ok(Some(Rec {
                record: self.record,
                line: start_line,
                body: if too_long {
                    Body::TooLong
                } else {
                    Body::Json(buf)
                },
            }));
        }
    }

    /// After the closing `]`: only whitespace may follow.
    fn expect_end(&mut self) -> anyhow::Result<()> {
        let mut rest = [0u8; 4096];
        loop {
            let n = self.reader.read(&mut rest)?;
            if n == 0 {
                return Ok(());
            }
            if !rest[..n].iter().all(u8::is_ascii_whitespace) {
                bail!("content after the array's closing ']' (line {})", self.line);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str) -> anyhow::Result<Vec<(u64, u64, Option<String>)>> {
        let dir = tempfile::tempdir()?;
        let p = dir.path().join("f.json");
        std::fs::write(&p, text)?;
        let mut s = Source::open(&p)?;
        let mut out = Vec::new();
        while let Some(r) = s.next_record()? {
            out.push((
                r.record,
                r.line,
                match r.body {
                    Body::Json(b) => Some(String::from_utf8_lossy(&b).trim().to_string()),
                    Body::TooLong => None,
                },
            ));
        }
        Ok(out)
    }

    #[test]
    fn push_reader_splits_arrays_ndjson_and_single_documents() {
        let a = records("\u{feff}[\n {\"a\": \"x],\\\"{\"},\n {\"b\": [1, {\"c\": 2}]} ,\n 3\n]\n")
            .unwrap();
        assert_eq!(
            a,
            vec![
                (1, 2, Some("{\"a\": \"x],\\\"{\"}".into())),
                (2, 3, Some("{\"b\": [1, {\"c\": 2}]}".into())),
                (3, 4, Some("3".into())),
            ]
        );
        assert!(records("[]").unwrap().is_empty());
        assert_eq!(records("[{\"a\":1},]").unwrap()[1].2.as_deref(), Some(""));
        assert!(records("[{\"a\":1}").is_err());
        assert!(records("[{\"a\":1}] x").is_err());
        let l = records("{\"a\":1}\n\n{\"b\":\n{\"c\":3}\n").unwrap();
        assert_eq!(
            l,
            vec![
                (1, 1, Some("{\"a\":1}".into())),
                (2, 3, Some("{\"b\":".into())),
                (3, 4, Some("{\"c\":3}".into())),
            ]
        );
        let s = records("\n{\n  \"a\": 1\n}\n").unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!((s[0].0, s[0].1), (1, 2));
        assert!(records("").unwrap().is_empty());
    }

    #[test]
    fn push_reader_bounds_each_record() {
        let big = "x".repeat(MAX_RECORD + 10);
        let text = format!("{{\"a\":1}}\n{{\"b\":\"{big}\"}}\n{{\"c\":3}}\n");
        let l = records(&text).unwrap();
        assert_eq!(l.len(), 3);
        assert_eq!(l[1], (2, 2, None));
        assert_eq!(l[2].2.as_deref(), Some("{\"c\":3}"));
        let text = format!("[{{\"a\":1}}, \"{big}\", {{\"c\":3}}]");
        let a = records(&text).unwrap();
        assert_eq!(a.len(), 3);
        assert_eq!(a[1].2, None);
        assert!(records(&format!("{{\n\"b\":\"{big}\"}}")).is_err());
    }

    #[test]
    fn push_runs_map_stream_indexes_back_to_records() {
        let mut r = Runs {
            names: vec!["a".into(), "b".into()],
            ..Default::default()
        };
        for (i, rec) in [1, 2, 4, 5].iter().enumerate() {
            r.note(i as i64, 0, *rec);
        }
        r.note(4, 1, 1);
        r.note(5, 1, 2);
        assert_eq!(r.runs.len(), 3);
        assert_eq!(r.locate(0), ("a", 1));
        assert_eq!(r.locate(2), ("a", 4));
        assert_eq!(r.locate(3), ("a", 5));
        assert_eq!(r.locate(5), ("b", 2));
        assert_eq!(r.locate(6), ("?", 0));
        assert_eq!(r.locate(-1), ("?", 0));
    }

    #[test]
    fn push_durations() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("1d").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn push_knows_the_standard_properties() {
        for (k, p) in [
            (Kind::Vacature, "nummerVacature"),
            (Kind::Vacature, "adres"),
            (Kind::Vacature, "beroep"),
            (Kind::Werkzoekende, "idWerkzoekende"),
            (Kind::Werkzoekende, "mobiliteit"),
            (Kind::Werkzoekende, "bemiddelingsberoep"),
            (
                Kind::Werkzoekende,
                "indicatieBeschikbaarheidContactgegevens",
            ),
        ] {
            assert!(known_property(k, p), "{p}");
        }
        assert!(!known_property(Kind::Werkzoekende, "lokaalId"));
        assert!(!known_property(Kind::Vacature, "idWerkzoekende"));
    }
}
