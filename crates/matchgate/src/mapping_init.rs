//! `matchgate mapping init FILE`: read an export (CSV, XLSX, XML, JSON, NDJSON) and print a starting
//! mapping file (TOML) for it: the source section, every column with its distinct values, a guess of
//! the VUM target by column name, value maps prefilled from the standard's code lists, personal-data
//! columns marked as never mapped, and `# TODO` markers where a person must decide. Lists of objects
//! become element-wise `[lists]` blocks, placeholders such as `NNB` become `null_values`, a BSN that is
//! the only id becomes the local id with `column_is_bsn`, and records that already are VUM documents
//! become a `vum` source without fields.
//!
//! Bounded: at most `--max-rows` records are read, every column keeps at most [`DISTINCT_CAP`]
//! distinct values, values are cut to [`CELL_CAP`] bytes, at most [`MAX_COLUMNS`] columns are kept and
//! a JSON document is read whole only up to [`MAX_JSON_BYTES`]. Values of personal-data columns are
//! never printed; any other value that looks like a BSN, e-mail address, phone number or IBAN is
//! printed as `(hidden)`.
use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The standard's code lists, extracted by `tools/gen_codelijsten.py` from the data standard v1.5.
const CODELIJSTEN: &str = include_str!("../data/codelijsten.json");

pub const DEFAULT_MAX_ROWS: u64 = 100_000;
/// distinct values kept per column; later new values are only counted
pub const DISTINCT_CAP: usize = 2_000;
/// bytes of one value that are kept (longer values are cut)
pub const CELL_CAP: usize = 2_000;
pub const MAX_COLUMNS: usize = 2_000;
pub const MAX_JSON_BYTES: u64 = 64 << 20;
/// bytes all distinct-value tables together may hold
pub const DISTINCT_BUDGET: usize = 64 << 20;
/// XML elements nested deeper than this are refused
const XML_MAX_DEPTH: usize = 256;
/// values listed per column
const TOP: usize = 20;
/// characters of a value printed
const SHOW_CHARS: usize = 60;
/// XML elements looked at to find the record element
const XML_SCAN_ELEMENTS: u64 = 2_000_000;

#[derive(clap::Subcommand)]
pub enum MappingCommand {
    /// Print a starting mapping (TOML) for an export: columns, distinct values, guessed VUM targets.
    Init(InitArgs),
}

#[derive(clap::Args)]
pub struct InitArgs {
    /// The export: CSV, XLSX, XML, JSON or NDJSON (detected from the extension and the first bytes)
    pub file: PathBuf,
    /// The document each record becomes (guessed from the column names when omitted)
    #[arg(long, value_enum)]
    pub kind: Option<KindArg>,
    /// XLSX: the sheet to read (default: the first)
    #[arg(long)]
    pub sheet: Option<String>,
    /// XML: element path of one record (export/clienten/client); JSON: pointer to the array of records
    #[arg(long)]
    pub record: Option<String>,
    /// Read at most this many records
    #[arg(long, default_value_t = DEFAULT_MAX_ROWS)]
    pub max_rows: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KindArg {
    Werkzoekende,
    Vacature,
}

impl KindArg {
    fn name(self) -> &'static str {
        match self {
            KindArg::Werkzoekende => "werkzoekende",
            KindArg::Vacature => "vacature",
        }
    }
}

pub fn run(cmd: &MappingCommand) -> Result<ExitCode> {
    match cmd {
        MappingCommand::Init(args) => {
            print!("{}", init(args)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The starting mapping for `args.file`, as TOML text.
pub fn init(args: &InitArgs) -> Result<String> {
    let path = &args.file;
    let format = detect(path)?;
    let max = args.max_rows.max(1);
    let profile = match format {
        Format::Csv => read_csv(path, max)?,
        Format::Xlsx => read_xlsx(path, args.sheet.as_deref(), max)?,
        Format::Xml => read_xml(path, args.record.as_deref(), max)?,
        Format::Json => read_json(path, args.record.as_deref(), max)?,
        Format::Ndjson => read_ndjson(path, max)?,
    };
    Ok(emit(path, &profile, args.kind, max))
}

// ───────────────────────────── formats ─────────────────────────────

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Xlsx,
    Xml,
    Json,
    Ndjson,
}

fn detect(path: &Path) -> Result<Format> {
    let mut f =
        std::fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    if f.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        bail!("{}: is a directory, not an export file", path.display());
    }
    let mut head = Vec::with_capacity(4096);
    (&mut f)
        .take(4096)
        .read_to_end(&mut head)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    if head.is_empty() {
        bail!("{}: the file is empty", path.display());
    }
    if head.starts_with(b"PK\x03\x04") {
        return Ok(Format::Xlsx);
    }
    if head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        bail!(
            "{}: an old Excel (.xls) workbook or another OLE file; save it as .xlsx or CSV",
            path.display()
        );
    }
    if matches!(ext.as_str(), "xlsx" | "xlsm") {
        bail!("{}: named {ext} but it is not an XLSX workbook (no ZIP header): the file is damaged or truncated", path.display());
    }
    if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        bail!(
            "{}: UTF-16 text is not supported; save it as UTF-8 or Windows-1252",
            path.display()
        );
    }
    let body = head.strip_prefix(&[0xEF, 0xBB, 0xBF][..]).unwrap_or(&head);
    let first = body.iter().copied().find(|b| !b.is_ascii_whitespace());
    match ext.as_str() {
        "ndjson" | "jsonl" => return Ok(Format::Ndjson),
        "json" => {
            return Ok(if looks_ndjson(path)? {
                Format::Ndjson
            } else {
                Format::Json
            })
        }
        "xml" => return Ok(Format::Xml),
        "csv" | "txt" | "tsv" => return Ok(Format::Csv),
        _ => {}
    }
    Ok(match first {
        Some(b'<') => Format::Xml,
        Some(b'[') => Format::Json,
        Some(b'{') if looks_ndjson(path)? => Format::Ndjson,
        Some(b'{') => Format::Json,
        _ => Format::Csv,
    })
}

/// NDJSON when the first non-empty line is a complete JSON value and another line follows.
fn looks_ndjson(path: &Path) -> Result<bool> {
    use std::io::BufRead;
    let f =
        std::fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let mut lines = std::io::BufReader::new(f.take(1 << 20)).lines();
    let mut first = None;
    for l in lines.by_ref() {
        let Ok(l) = l else { return Ok(false) };
        if !l.trim().is_empty() {
            first = Some(l);
            break;
        }
    }
    let Some(first) = first else { return Ok(false) };
    let complete = serde_json::from_str::<serde_json::Value>(first.trim_start_matches('\u{feff}'))
        .is_ok_and(|v| v.is_object());
    let more = lines.any(|l| l.is_ok_and(|l| !l.trim().is_empty()));
    Ok(complete && more)
}

// ───────────────────────────── profile ─────────────────────────────

#[derive(Default)]
struct Column {
    name: String,
    /// records with at least one value
    present: u64,
    values: u64,
    distinct: HashMap<String, u64>,
    /// values not counted per value because the table was full
    overflow: u64,
    /// most values in one record (XML repeated elements, JSON arrays)
    max_per_record: usize,
    /// JSON/XML: the list of objects this leaf is part of (`/talen/*`, `taal`)
    list: Option<String>,
}

impl Column {
    /// Count a value; `budget` is the bytes all distinct tables may still take.
    fn add(&mut self, v: &str, budget: &mut usize) {
        let v = v.trim();
        if v.is_empty() {
            return;
        }
        self.values += 1;
        let v = cut(v, CELL_CAP);
        if let Some(n) = self.distinct.get_mut(v) {
            *n += 1;
        } else if self.distinct.len() < DISTINCT_CAP && *budget >= v.len() + 64 {
            *budget -= v.len() + 64;
            self.distinct.insert(v.to_string(), 1);
        } else {
            self.overflow += 1;
        }
    }

    /// distinct values, most frequent first
    fn top(&self) -> Vec<(&str, u64)> {
        let mut v: Vec<(&str, u64)> = self
            .distinct
            .iter()
            .map(|(k, n)| (k.as_str(), *n))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v
    }

    /// every value (at least one) is a placeholder such as NNB
    fn all_placeholders(&self) -> bool {
        self.values > 0 && self.overflow == 0 && self.distinct.keys().all(|k| placeholder(k))
    }

    fn all_distinct(&self) -> bool {
        self.overflow == 0 && self.distinct.values().all(|n| *n == 1)
    }

    /// share (0..1) of counted values, weighted by count, for which `f` holds
    fn share(&self, f: impl Fn(&str) -> bool) -> f64 {
        let total: u64 = self.distinct.values().sum();
        if total == 0 {
            return 0.0;
        }
        let hit: u64 = self
            .distinct
            .iter()
            .filter(|(k, _)| f(k))
            .map(|(_, n)| *n)
            .sum();
        hit as f64 / total as f64
    }
}

fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut i = max;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    &s[..i]
}

struct Profile {
    format: Format,
    /// JSON/NDJSON whose records a `vum` source can read as they are (NDJSON, a top-level array)
    whole_documents: bool,
    source: String,
    columns: Vec<Column>,
    records: u64,
    /// more records than were read
    truncated: bool,
    notes: Vec<String>,
}

/// Columns by name, in the order first seen, capped at [`MAX_COLUMNS`].
struct Columns {
    cols: Vec<Column>,
    index: HashMap<String, usize>,
    dropped: u64,
    budget: usize,
}

impl Default for Columns {
    fn default() -> Self {
        Columns {
            cols: Vec::new(),
            index: HashMap::new(),
            dropped: 0,
            budget: DISTINCT_BUDGET,
        }
    }
}

impl Columns {
    fn get(&mut self, name: &str) -> Option<usize> {
        if let Some(i) = self.index.get(name) {
            return Some(*i);
        }
        if self.cols.len() >= MAX_COLUMNS {
            self.dropped += 1;
            return None;
        }
        self.cols.push(Column {
            name: name.to_string(),
            ..Column::default()
        });
        self.index.insert(name.to_string(), self.cols.len() - 1);
        Some(self.cols.len() - 1)
    }

    /// One record's values (name, value); counts presence and values per record.
    fn record(&mut self, vals: &[(String, String, Option<String>)]) {
        let mut per: HashMap<usize, usize> = HashMap::new();
        for (name, v, list) in vals {
            let Some(i) = self.get(name) else { continue };
            let c = &mut self.cols[i];
            if c.list.is_none() {
                c.list.clone_from(list);
            }
            if !v.trim().is_empty() {
                c.add(v, &mut self.budget);
                *per.entry(i).or_default() += 1;
            }
        }
        for (i, n) in per {
            let c = &mut self.cols[i];
            c.present += 1;
            c.max_per_record = c.max_per_record.max(n);
        }
    }

    fn notes(&self, notes: &mut Vec<String>) {
        if self.dropped > 0 {
            notes.push(format!(
                "more than {MAX_COLUMNS} columns: the rest are not listed"
            ));
        }
    }
}

// ───────────────────────────── CSV ─────────────────────────────

fn read_csv(path: &Path, max: u64) -> Result<Profile> {
    let shown = path.display();
    let mut head = Vec::new();
    std::fs::File::open(path)
        .with_context(|| format!("{shown}: cannot open"))?
        .take(256 * 1024)
        .read_to_end(&mut head)
        .with_context(|| format!("{shown}: cannot read"))?;
    if head.contains(&0) {
        bail!("{shown}: binary data (NUL bytes), not a CSV text file");
    }
    let body = head.strip_prefix(&[0xEF, 0xBB, 0xBF][..]).unwrap_or(&head);
    let utf8 = match std::str::from_utf8(body) {
        Ok(_) => true,
        // a character cut off by the 256 KiB window is not an error
        Err(e) => e.error_len().is_none(),
    };
    let enc = if utf8 {
        encoding_rs::UTF_8
    } else {
        encoding_rs::WINDOWS_1252
    };
    let decode = |b: &[u8]| -> String { enc.decode_without_bom_handling(b).0.into_owned() };
    let text = decode(body);
    let delim = sniff_delimiter(&text);
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delim)
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("{shown}: cannot open"))?;
    let mut records = rdr.byte_records();
    let header = match records.next() {
        Some(Ok(h)) => h,
        Some(Err(e)) => bail!("{shown}: line 1 (the header): {e}"),
        None => bail!("{shown}: the file has no header line"),
    };
    let mut names: Vec<String> = header
        .iter()
        .map(|f| {
            decode(f)
                .trim()
                .trim_start_matches('\u{feff}')
                .trim()
                .to_string()
        })
        .collect();
    let mut notes = Vec::new();
    dedupe_names(&mut names, &mut notes);
    let mut cols = Columns::default();
    let idx: Vec<Option<usize>> = names.iter().map(|n| cols.get(n)).collect();
    let mut n = 0u64;
    let mut truncated = false;
    let mut ragged = 0u64;
    let mut replacement = false;
    for r in records {
        if n >= max {
            truncated = true;
            break;
        }
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                if notes.len() < 10 {
                    notes.push(format!("line {}: {e}", n + 2));
                }
                n += 1;
                continue;
            }
        };
        n += 1;
        if r.len() != idx.len() {
            ragged += 1;
        }
        let mut per = Vec::with_capacity(idx.len());
        for (i, f) in r.iter().enumerate() {
            let Some(Some(c)) = idx.get(i) else { continue };
            let v = decode(f);
            replacement |= v.contains('\u{fffd}');
            per.push((*c, v));
        }
        for (c, v) in per {
            let col = &mut cols.cols[c];
            if !v.trim().is_empty() {
                col.present += 1;
                col.max_per_record = col.max_per_record.max(1);
                col.add(&v, &mut cols.budget);
            }
        }
    }
    if ragged > 0 {
        notes.push(format!(
            "{ragged} line(s) have another number of fields than the header"
        ));
    }
    if replacement && utf8 {
        notes.push(
            "some bytes further on are not valid UTF-8 (shown as \u{fffd}); check the encoding"
                .into(),
        );
    }
    cols.notes(&mut notes);
    let delimiter = match delim {
        b'\t' => "\\t".to_string(),
        d => (d as char).to_string(),
    };
    let mut source = format!(
        "[source]\nformat = \"csv\"\ndelimiter = \"{delimiter}\"   # sniffed among , ; tab |\n"
    );
    if utf8 {
        source.push_str("encoding = \"utf-8\"    # the first 256 KiB are valid UTF-8\n");
    } else {
        source.push_str("encoding = \"windows-1252\"   # guessed: the file is not valid UTF-8\n");
    }
    Ok(Profile {
        format: Format::Csv,
        whole_documents: false,
        source,
        columns: cols.cols,
        records: n,
        truncated,
        notes,
    })
}

fn dedupe_names(names: &mut [String], notes: &mut Vec<String>) {
    let mut seen: HashMap<String, u32> = HashMap::new();
    for (i, n) in names.iter_mut().enumerate() {
        if n.is_empty() {
            notes.push(format!(
                "column {} has no name in the header; it cannot be mapped by name",
                i + 1
            ));
            *n = format!("(column {})", i + 1);
            continue;
        }
        let k = seen.entry(n.clone()).or_default();
        *k += 1;
        if *k > 1 {
            notes.push(format!(
                "the header names {} twice; a mapping reads the first",
                toml_str(n)
            ));
            *n = format!("{n} (column {})", i + 1);
        }
    }
}

/// The delimiter among `,;\t|` whose count per line (outside quotes) is the same and highest on most of
/// the first lines.
fn sniff_delimiter(text: &str) -> u8 {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(30)
        .collect();
    let mut best = (b',', 0usize, 0usize);
    for d in [b',', b';', b'\t', b'|'] {
        let counts: Vec<usize> = lines
            .iter()
            .map(|l| {
                let mut q = false;
                l.bytes()
                    .filter(|&b| {
                        if b == b'"' {
                            q = !q;
                        }
                        !q && b == d
                    })
                    .count()
            })
            .collect();
        let Some(&h) = counts.first() else { continue };
        if h == 0 {
            continue;
        }
        let same = counts.iter().filter(|&&c| c == h).count();
        if (same, h) > (best.1, best.2) {
            best = (d, same, h);
        }
    }
    best.0
}

// ───────────────────────────── XLSX ─────────────────────────────

/// A cell as text, by translate's rule (so `mapping init` sees what translate will read); an
/// Excel error value or an out-of-range date is shown as the error text calamine gives.
fn cell_text(v: &calamine::DataRef<'_>) -> String {
    translate::source::xlsx_cell_text(v).unwrap_or_else(|_| match v {
        calamine::DataRef::Error(e) => format!("#{e:?}"),
        calamine::DataRef::DateTime(d) => d.as_f64().to_string(),
        _ => String::new(),
    })
}

fn read_xlsx(path: &Path, sheet: Option<&str>, max: u64) -> Result<Profile> {
    use calamine::{open_workbook, Reader, Xlsx};
    let shown = path.display();
    // the same bounds translate applies (zip bombs, oversized parts, too many shared strings)
    translate::source::check_xlsx_package(path).map_err(|e| anyhow::anyhow!("{shown}: {e}"))?;
    let mut wb: Xlsx<_> = open_workbook(path).map_err(|e| {
        anyhow::anyhow!("{shown}: not a readable XLSX workbook (empty, truncated or damaged?): {e}")
    })?;
    let names = wb.sheet_names();
    let mut notes = Vec::new();
    let sheet = match sheet {
        Some(s) if names.iter().any(|n| n == s) => s.to_string(),
        Some(s) => bail!(
            "{shown}: no sheet {}; the workbook has: {}",
            toml_str(s),
            names
                .iter()
                .map(|n| toml_str(n))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => {
            let Some(first) = names.first() else {
                bail!("{shown}: the workbook has no sheets")
            };
            if names.len() > 1 {
                notes.push(format!(
                    "the workbook has sheets {}; this is the first (choose another with --sheet)",
                    names
                        .iter()
                        .map(|n| toml_str(n))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            first.clone()
        }
    };
    let mut cells = wb
        .worksheet_cells_reader(&sheet)
        .map_err(|e| anyhow::anyhow!("{shown}: sheet {}: {e}", toml_str(&sheet)))?;
    let mut header_row: Option<u32> = None;
    let mut head: Vec<String> = Vec::new();
    let mut cols = Columns::default();
    let mut idx: Vec<Option<usize>> = Vec::new();
    let mut current: Option<u32> = None;
    let mut row_vals: Vec<(usize, String)> = Vec::new();
    let mut n = 0u64;
    let mut truncated = false;
    let flush = |row_vals: &mut Vec<(usize, String)>, cols: &mut Columns, n: &mut u64| {
        if row_vals.iter().any(|(_, v)| !v.trim().is_empty()) {
            *n += 1;
            for (c, v) in row_vals.iter() {
                if !v.trim().is_empty() {
                    let col = &mut cols.cols[*c];
                    col.present += 1;
                    col.max_per_record = col.max_per_record.max(1);
                    col.add(v, &mut cols.budget);
                }
            }
        }
        row_vals.clear();
    };
    loop {
        let cell = match cells.next_cell() {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => {
                notes.push(format!(
                    "malformed XLSX after {n} rows: {e}; the rest cannot be read"
                ));
                break;
            }
        };
        let (r, c) = cell.get_position();
        let text = cell_text(cell.get_value());
        match header_row {
            None if text.trim().is_empty() => continue,
            None => header_row = Some(r),
            Some(h) if r == h => {}
            Some(_) => {
                if idx.is_empty() {
                    dedupe_names(&mut head, &mut notes);
                    idx = head
                        .iter()
                        .map(|h| {
                            if h.starts_with("(column ") {
                                None
                            } else {
                                cols.get(h)
                            }
                        })
                        .collect();
                }
                if current != Some(r) {
                    flush(&mut row_vals, &mut cols, &mut n);
                    if n >= max {
                        truncated = true;
                        break;
                    }
                    current = Some(r);
                }
                if let Some(Some(i)) = idx.get(c as usize) {
                    row_vals.push((*i, text));
                }
                continue;
            }
        }
        // the header row
        if head.len() <= c as usize {
            if c as usize >= MAX_COLUMNS {
                continue;
            }
            head.resize(c as usize + 1, String::new());
        }
        head[c as usize] = text.trim().to_string();
    }
    if !truncated {
        flush(&mut row_vals, &mut cols, &mut n);
    }
    let Some(h) = header_row else {
        bail!("{shown}: sheet {} is empty", toml_str(&sheet))
    };
    if idx.is_empty() {
        dedupe_names(&mut head, &mut notes);
        for name in &head {
            if !name.starts_with("(column ") {
                cols.get(name);
            }
        }
    }
    cols.notes(&mut notes);
    let source = format!(
        "[source]\nformat = \"xlsx\"\nsheet = {}\nheader_row = {}\n",
        toml_str(&sheet),
        h + 1
    );
    Ok(Profile {
        format: Format::Xlsx,
        whole_documents: false,
        source,
        columns: cols.cols,
        records: n,
        truncated,
        notes,
    })
}

// ───────────────────────────── XML ─────────────────────────────

fn local(name: &str) -> String {
    match name.rsplit_once(':') {
        Some((_, l)) => l.to_string(),
        None => name.to_string(),
    }
}

fn xml_reader(path: &Path) -> Result<quick_xml::Reader<std::io::BufReader<std::fs::File>>> {
    let f =
        std::fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    Ok(quick_xml::Reader::from_reader(
        std::io::BufReader::with_capacity(1 << 16, f),
    ))
}

/// The record element: the shallowest repeated element with content whose parent occurs once.
fn find_record(path: &Path) -> Result<String> {
    use quick_xml::events::Event;
    let mut reader = xml_reader(path)?;
    let mut buf = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    // path -> (count, has children or attributes)
    let mut seen: HashMap<String, (u64, bool)> = HashMap::new();
    let mut elements = 0u64;
    loop {
        buf.clear();
        let ev = match reader.read_event_into(&mut buf) {
            Ok(ev) => ev,
            Err(e) => {
                if elements == 0 {
                    bail!(
                        "{}: not readable as XML at byte {}: {e}",
                        path.display(),
                        reader.buffer_position()
                    );
                }
                break;
            }
        };
        let (e, empty) = match &ev {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(_) => {
                stack.pop();
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        if !stack.is_empty() {
            if let Some(p) = seen.get_mut(&stack.join("/")) {
                p.1 = true;
            }
        }
        stack.push(local(e.name().as_ref()));
        if stack.len() > XML_MAX_DEPTH {
            bail!(
                "{}: XML elements nested deeper than {XML_MAX_DEPTH} levels",
                path.display()
            );
        }
        let p = stack.join("/");
        let has_attrs = e
            .attributes()
            .flatten()
            .any(|a| !a.key.as_ref().starts_with("xmlns"));
        if seen.len() < 10_000 || seen.contains_key(&p) {
            let s = seen.entry(p).or_insert((0, false));
            s.0 += 1;
            s.1 |= has_attrs;
        }
        if empty {
            stack.pop();
        }
        elements += 1;
        if elements >= XML_SCAN_ELEMENTS {
            break;
        }
    }
    let mut cands: Vec<(&String, u64, usize)> = seen
        .iter()
        .filter(|(p, (n, content))| {
            let parent_once = match p.rsplit_once('/') {
                Some((parent, _)) => seen.get(parent).is_some_and(|x| x.0 == 1),
                None => false,
            };
            *n >= 2 && *content && parent_once
        })
        .map(|(p, (n, _))| (p, *n, p.matches('/').count()))
        .collect();
    cands.sort_by(|a, b| a.2.cmp(&b.2).then(b.1.cmp(&a.1)).then(a.0.cmp(b.0)));
    if let Some((p, _, _)) = cands.first() {
        return Ok((*p).clone());
    }
    // one record: the root's first child with content, else the root
    let mut single: Vec<&String> = seen
        .iter()
        .filter(|(p, (_, c))| *c && p.matches('/').count() == 1)
        .map(|(p, _)| p)
        .collect();
    single.sort();
    if let Some(p) = single.first() {
        return Ok((*p).clone());
    }
    match seen.keys().find(|p| !p.contains('/')) {
        Some(root) => Ok(root.clone()),
        None => bail!("{}: no XML elements found", path.display()),
    }
}

fn read_xml(path: &Path, record: Option<&str>, max: u64) -> Result<Profile> {
    use quick_xml::events::Event;
    let shown = path.display();
    let record = match record {
        Some(r) => r
            .trim_matches('/')
            .split('/')
            .map(local)
            .collect::<Vec<_>>()
            .join("/"),
        None => find_record(path)?,
    };
    let rec: Vec<String> = record.split('/').map(str::to_string).collect();
    let mut reader = xml_reader(path)?;
    let mut buf = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    // inside a record: per open element below it, whether it had child elements, and its text
    let mut open: Vec<(bool, String, bool)> = Vec::new();
    let mut in_rec = false;
    let mut vals: Vec<(String, String, Option<String>)> = Vec::new();
    // per record: element path -> occurrences (for lists of objects)
    let mut occurrences: HashMap<String, usize> = HashMap::new();
    let mut lists: HashSet<String> = HashSet::new();
    let mut structured: HashSet<String> = HashSet::new();
    let mut cols = Columns::default();
    let mut n = 0u64;
    let mut truncated = false;
    let mut notes = Vec::new();
    let list_of = |rel: &str, lists: &HashSet<String>| -> Option<String> {
        // the deepest listed ancestor-or-self element of `rel`
        let parts: Vec<&str> = rel.split('/').collect();
        (1..=parts.len())
            .rev()
            .map(|k| parts[..k].join("/"))
            .find(|p| lists.contains(p))
    };
    loop {
        buf.clear();
        let ev = match reader.read_event_into(&mut buf) {
            Ok(ev) => ev,
            Err(e) => {
                if n == 0 {
                    bail!(
                        "{shown}: malformed XML at byte {} before the first complete record: {e}",
                        reader.buffer_position()
                    );
                }
                notes.push(format!(
                    "malformed XML at byte {} after {n} records: {e}; the rest cannot be read",
                    reader.buffer_position()
                ));
                break;
            }
        };
        let (start, empty) = match &ev {
            Event::Start(_) => (true, false),
            Event::Empty(_) => (true, true),
            _ => (false, false),
        };
        if start {
            let (Event::Start(e) | Event::Empty(e)) = &ev else {
                continue;
            };
            let name = local(e.name().as_ref());
            if let Some(last) = open.last_mut() {
                last.0 = true;
            }
            stack.push(name);
            if stack.len() > XML_MAX_DEPTH {
                bail!("{shown}: XML elements nested deeper than {XML_MAX_DEPTH} levels");
            }
            if !in_rec && stack.len() == rec.len() && stack == rec {
                if n >= max {
                    truncated = true;
                    break;
                }
                in_rec = true;
                vals.clear();
                occurrences.clear();
            }
            if in_rec {
                let rel = stack[rec.len()..].join("/");
                let mut attrs = false;
                for a in e.attributes().flatten() {
                    if a.key.as_ref().starts_with("xmlns") {
                        continue;
                    }
                    attrs = true;
                    let an = local(a.key.as_ref());
                    let v = a
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map(|c| c.into_owned())
                        .unwrap_or_default();
                    let col = if rel.is_empty() {
                        format!("@{an}")
                    } else {
                        format!("{rel}/@{an}")
                    };
                    vals.push((col, v, None));
                }
                if !rel.is_empty() {
                    *occurrences.entry(rel.clone()).or_default() += 1;
                    if attrs {
                        structured.insert(rel);
                    }
                }
                open.push((false, String::new(), attrs));
            }
            if !empty {
                continue;
            }
        }
        match ev {
            Event::Start(_) | Event::Empty(_) | Event::End(_) => {
                // an element closes (Empty elements close right after opening)
                if in_rec {
                    let rel = stack[rec.len().min(stack.len())..].join("/");
                    if let Some((children, text, attrs)) = open.pop() {
                        if children {
                            structured.insert(rel.clone());
                        } else if !rel.is_empty() && (!attrs || !text.trim().is_empty()) {
                            vals.push((rel.clone(), text.trim().to_string(), None));
                        }
                    }
                    if stack.len() == rec.len() {
                        in_rec = false;
                        n += 1;
                        for (p, k) in &occurrences {
                            if *k > 1 && structured.contains(p) {
                                lists.insert(p.clone());
                            }
                        }
                        for v in vals.iter_mut() {
                            let el =
                                v.0.rsplit_once("/@")
                                    .map(|(p, _)| p.to_string())
                                    .unwrap_or_else(|| {
                                        if v.0.starts_with('@') {
                                            String::new()
                                        } else {
                                            v.0.clone()
                                        }
                                    });
                            v.2 = if el.is_empty() {
                                None
                            } else {
                                list_of(&el, &lists)
                            };
                        }
                        cols.record(&vals);
                    }
                }
                stack.pop();
            }
            Event::Text(t) => {
                if let Some(last) = open.last_mut() {
                    if last.1.len() < CELL_CAP {
                        last.1.push_str(&t.xml10_content());
                    }
                }
            }
            Event::CData(t) => {
                if let Some(last) = open.last_mut() {
                    if last.1.len() < CELL_CAP {
                        last.1.push_str(&t);
                    }
                }
            }
            Event::GeneralRef(r) => {
                if let Some(last) = open.last_mut() {
                    let name = r.to_string();
                    last.1.push_str(
                        &translate::source::xml_entity(&name)
                            .unwrap_or_else(|| format!("&{name};")),
                    );
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if n == 0 {
        bail!(
            "{shown}: no <{}> records found (give the record element with --record PATH)",
            record
        );
    }
    // lists learnt late apply to every column below them
    for c in cols.cols.iter_mut() {
        if c.list.is_none() {
            let el = c
                .name
                .rsplit_once("/@")
                .map(|(p, _)| p.to_string())
                .unwrap_or_else(|| {
                    if c.name.starts_with('@') {
                        String::new()
                    } else {
                        c.name.clone()
                    }
                });
            if !el.is_empty() {
                c.list = list_of(&el, &lists);
            }
        }
    }
    cols.notes(&mut notes);
    let source = format!(
        "[source]\nformat = \"xml\"\nrecord = {}   # the repeated element; names match by local name (add prefixes and [source.namespaces] to match by namespace)\n",
        toml_str(&record)
    );
    Ok(Profile {
        format: Format::Xml,
        whole_documents: false,
        source,
        columns: cols.cols,
        records: n,
        truncated,
        notes,
    })
}

// ───────────────────────────── JSON ─────────────────────────────

fn json_leaves(
    v: &serde_json::Value,
    ptr: &mut String,
    list: Option<&str>,
    out: &mut Vec<(String, String, Option<String>)>,
    depth: usize,
) {
    use serde_json::Value;
    if depth > 64 || out.len() > 100_000 {
        return;
    }
    match v {
        Value::Null => {}
        Value::Object(o) => {
            for (k, x) in o {
                let len = ptr.len();
                ptr.push('/');
                ptr.push_str(&k.replace('~', "~0").replace('/', "~1"));
                json_leaves(x, ptr, list, out, depth + 1);
                ptr.truncate(len);
            }
        }
        Value::Array(a) => {
            let len = ptr.len();
            ptr.push_str("/*");
            let here = ptr.clone();
            for x in a {
                let l = if x.is_object() {
                    Some(here.as_str())
                } else {
                    list
                };
                json_leaves(x, ptr, l, out, depth + 1);
            }
            ptr.truncate(len);
        }
        Value::String(s) => out.push((ptr.clone(), s.clone(), list.map(str::to_string))),
        other => out.push((ptr.clone(), other.to_string(), list.map(str::to_string))),
    }
}

fn profile_json_record(cols: &mut Columns, v: &serde_json::Value) {
    let mut out = Vec::new();
    json_leaves(v, &mut String::new(), None, &mut out, 0);
    cols.record(&out);
}

fn read_json(path: &Path, record: Option<&str>, max: u64) -> Result<Profile> {
    use serde_json::Value;
    let shown = path.display();
    let f = std::fs::File::open(path).with_context(|| format!("{shown}: cannot open"))?;
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    if size > MAX_JSON_BYTES {
        bail!("{shown}: {size} bytes; a JSON document is read whole and this one is over {MAX_JSON_BYTES} bytes: write it as NDJSON (one record per line)");
    }
    let doc: Value = serde_json::from_reader(std::io::BufReader::new(f))
        .map_err(|e| anyhow::anyhow!("{shown}: not valid JSON: {e}"))?;
    let mut notes = Vec::new();
    let pointer = match record {
        Some(p) => {
            let p = if p.is_empty() || p.starts_with('/') { p.to_string() } else { format!("/{p}") };
            match doc.pointer(&p) {
                Some(Value::Array(_)) => p,
                Some(_) => bail!("{shown}: {} is not an array of records", toml_str(&p)),
                None => bail!("{shown}: no {} in the document", toml_str(&p)),
            }
        }
        None => match &doc {
            Value::Array(_) => String::new(),
            Value::Object(_) => find_records(&doc).ok_or_else(|| anyhow::anyhow!("{shown}: no array of records in the document; give its JSON pointer with --record"))?,
            _ => bail!("{shown}: the document is a single value, not records"),
        },
    };
    let Some(Value::Array(recs)) = doc.pointer(&pointer) else {
        bail!("{shown}: no array of records at {}", toml_str(&pointer));
    };
    let mut cols = Columns::default();
    let mut n = 0u64;
    let mut odd = 0u64;
    for r in recs {
        if n >= max {
            break;
        }
        n += 1;
        if !r.is_object() {
            odd += 1;
            continue;
        }
        profile_json_record(&mut cols, r);
    }
    if odd > 0 {
        notes.push(format!("{odd} element(s) of the array are not objects"));
    }
    cols.notes(&mut notes);
    Ok(Profile {
        format: Format::Json,
        whole_documents: pointer.is_empty(),
        source: format!(
            "[source]\nformat = \"json\"\nrecord_path = {}\n",
            toml_str(&pointer)
        ),
        columns: cols.cols,
        records: n,
        truncated: (recs.len() as u64) > n,
        notes,
    })
}

/// The largest array of objects within three levels of the top object.
fn find_records(doc: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    let mut best: Option<(usize, String)> = None;
    let mut queue: Vec<(String, &Value, usize)> = vec![(String::new(), doc, 0)];
    while let Some((p, v, d)) = queue.pop() {
        match v {
            Value::Object(o) if d < 3 => {
                for (k, x) in o {
                    queue.push((
                        format!("{p}/{}", k.replace('~', "~0").replace('/', "~1")),
                        x,
                        d + 1,
                    ));
                }
            }
            Value::Array(a)
                if a.iter().any(Value::is_object)
                    && best
                        .as_ref()
                        .is_none_or(|(n, bp)| a.len() > *n || (a.len() == *n && p < *bp)) =>
            {
                best = Some((a.len(), p));
            }
            _ => {}
        }
    }
    best.map(|(_, p)| p)
}

fn read_ndjson(path: &Path, max: u64) -> Result<Profile> {
    use std::io::BufRead;
    let shown = path.display();
    let f = std::fs::File::open(path).with_context(|| format!("{shown}: cannot open"))?;
    let mut rd = std::io::BufReader::new(f);
    let mut cols = Columns::default();
    let mut notes = Vec::new();
    let (mut n, mut line_no, mut bad) = (0u64, 0u64, 0u64);
    let mut truncated = false;
    let mut line = Vec::new();
    loop {
        line.clear();
        // one line, at most 64 MiB
        let got = (&mut rd)
            .take(64 << 20)
            .read_until(b'\n', &mut line)
            .with_context(|| format!("{shown}: cannot read"))?;
        if got == 0 {
            break;
        }
        line_no += 1;
        let text = String::from_utf8_lossy(&line);
        let t = text.trim().trim_start_matches('\u{feff}');
        if t.is_empty() {
            continue;
        }
        if n >= max {
            truncated = true;
            break;
        }
        n += 1;
        match serde_json::from_str::<serde_json::Value>(t) {
            Ok(v) if v.is_object() => profile_json_record(&mut cols, &v),
            Ok(_) => bad += 1,
            Err(e) => {
                bad += 1;
                if notes.len() < 5 {
                    notes.push(format!("line {line_no}: not a JSON object: {e}"));
                }
            }
        }
        if !line.ends_with(b"\n") && got as u64 >= 64 << 20 {
            bail!("{shown}: line {line_no} is longer than 64 MiB");
        }
    }
    if n == 0 {
        bail!("{shown}: no records (empty lines only)");
    }
    if bad > 0 {
        notes.push(format!("{bad} line(s) are not JSON objects"));
    }
    cols.notes(&mut notes);
    Ok(Profile {
        format: Format::Ndjson,
        whole_documents: true,
        source: "[source]\nformat = \"ndjson\"\n".into(),
        columns: cols.cols,
        records: n,
        truncated,
        notes,
    })
}

// ───────────────────────────── guesses ─────────────────────────────

/// Words of a column name: path separators, punctuation and camelCase split, lower case, namespace
/// prefixes dropped.
fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for seg in name.split('/') {
        let seg = seg.trim_start_matches('@');
        let seg = seg.rsplit_once(':').map(|(_, l)| l).unwrap_or(seg);
        let mut w = String::new();
        let mut prev_lower = false;
        for ch in seg.chars() {
            if !ch.is_alphanumeric() {
                if !w.is_empty() {
                    out.push(std::mem::take(&mut w));
                }
                prev_lower = false;
                continue;
            }
            if ch.is_uppercase() && prev_lower && !w.is_empty() {
                out.push(std::mem::take(&mut w));
            }
            prev_lower = ch.is_lowercase() || ch.is_ascii_digit();
            w.extend(ch.to_lowercase());
        }
        if !w.is_empty() {
            out.push(w);
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
enum Class {
    Identity,
    Bsn,
    Consent,
    /// never mapped: the reason
    Personal(&'static str),
    /// contact details of a jobseeker: only with contact consent
    Contact(String),
    Target(Guess),
    /// free text without an obvious target
    FreeText,
    Unknown,
}

#[derive(Debug, Clone, PartialEq)]
struct Guess {
    target: String,
    lookup: bool,
    /// a language level or code: the language it is for, when the name says
    language: Option<&'static str>,
}

const SCHEMA_WERKZOEKENDEN: &str = include_str!("../../../schemas/vum-werkzoekenden.schema.json");
const SCHEMA_VACATURES: &str = include_str!("../../../schemas/vum-vacatures.schema.json");

/// A JSON pointer that spells a VUM property path (`/arbeidsmarktkwalificatie/opleiding/*/codeNiveauOpleiding`)
/// as a mapping target (`arbeidsmarktkwalificatie.opleiding[].codeNiveauOpleiding`), when the standard has it.
fn vum_target(name: &str, kind: KindArg) -> Option<String> {
    use serde_json::Value;
    let name = name.strip_prefix('/')?;
    let (wz, vac) = schemas();
    let (schema, root) = match kind {
        KindArg::Werkzoekende => (wz, "Werkzoekende"),
        KindArg::Vacature => (vac, "Vacature"),
    };
    let defs = schema.get("$defs")?;
    let deref = |mut n: &'static Value| -> Option<&'static Value> {
        for _ in 0..16 {
            match n.get("$ref").and_then(Value::as_str) {
                Some(r) => n = defs.get(r.rsplit('/').next()?)?,
                None => return Some(n),
            }
        }
        None
    };
    let mut node = deref(defs.get(root)?)?;
    let mut target = String::new();
    let mut in_array = false;
    for seg in name.split('/') {
        if seg == "*" {
            if !in_array {
                return None;
            }
            in_array = false;
            continue;
        }
        if in_array {
            return None; // an array element by position: not a property path
        }
        let next = deref(node.get("properties")?.get(seg)?)?;
        if !target.is_empty() {
            target.push('.');
        }
        target.push_str(seg);
        node = next;
        if node.get("type").and_then(Value::as_str) == Some("array") {
            target.push_str("[]");
            node = deref(node.get("items")?)?;
            in_array = true;
        }
    }
    match node.get("type").and_then(Value::as_str) {
        Some("string" | "integer") => Some(target),
        _ => None,
    }
}

fn guess(name: &str, kind: KindArg) -> Class {
    if let Some(t) = vum_target(name, kind) {
        let first = t.split(['.', '[']).next().unwrap_or("");
        if first == "idWerkzoekende" || first == "idVacature" {
            return Class::Identity;
        }
        if kind == KindArg::Werkzoekende
            && matches!(
                first,
                "emailadres" | "telefoonnummer" | "contactpersoon" | "webadres"
            )
        {
            return Class::Contact(t);
        }
        return Class::Target(Guess {
            target: t,
            lookup: false,
            language: None,
        });
    }
    let w = words(name);
    let compact: String = w.concat();
    let has = |s: &str| compact.contains(s);
    let word = |s: &str| w.iter().any(|x| x == s);
    let wz = kind == KindArg::Werkzoekende;
    let t = |target: &str| {
        Class::Target(Guess {
            target: target.into(),
            lookup: false,
            language: None,
        })
    };
    if has("bsn") || has("burgerservice") || has("sofinummer") {
        return Class::Bsn;
    }
    if has("toestemming") || has("consent") || has("akkoord") || word("delen") {
        return Class::Consent;
    }
    if has("mail") {
        return if wz {
            Class::Contact("emailadres[]".into())
        } else {
            t("werkgever.contactpersoon[0].emailadres[]")
        };
    }
    if has("telefoon") || has("phone") || has("mobiel") || word("gsm") || word("tel") {
        return if wz {
            Class::Contact("telefoonnummer[]".into())
        } else {
            t("werkgever.contactpersoon[0].telefoonnummer[]")
        };
    }
    if has("geboorte") || has("birth") || word("dob") {
        return Class::Personal("date of birth");
    }
    if has("geslacht") || has("gender") {
        return Class::Personal("gender");
    }
    if has("iban") || has("rekeningnummer") {
        return Class::Personal("bank account");
    }
    if has("nationaliteit") || has("nationality") {
        return Class::Personal("nationality");
    }
    if has("leeftijd") || word("age") {
        return Class::Personal("age");
    }
    let org = has("organisatie")
        || has("bedrijf")
        || has("werkgever")
        || has("handelsnaam")
        || has("company")
        || has("employer");
    let name_like = has("naam")
        || word("name")
        || has("voornaam")
        || has("achternaam")
        || has("tussenvoegsel")
        || has("voorletters")
        || has("initialen")
        || has("surname");
    let not_person = org
        || has("vacature")
        || has("cursus")
        || has("opleiding")
        || has("instituut")
        || has("beroep")
        || has("interesse")
        || has("titel");
    if postcode_word(&compact) {
        return if wz {
            t("mobiliteit.bemiddelingspostcode")
        } else {
            t("adres.postcode")
        };
    }
    if wz {
        if has("straat")
            || has("street")
            || has("huisnummer")
            || has("huisnr")
            || has("toevoeging")
            || has("woonplaats")
            || word("plaats")
            || has("stad")
            || word("city")
            || has("gemeente")
            || (has("adres") && !has("mailadres") && !has("webadres"))
            || word("address")
        {
            return Class::Personal("address (a jobseeker's home address)");
        }
        if name_like && !not_person {
            return Class::Personal("a person's name");
        }
    } else {
        if has("straat") || has("street") {
            return t("adres.straatnaam");
        }
        if has("toevoeging") {
            return t("adres.huisnummertoevoeging");
        }
        if has("huisnummer") || has("huisnr") {
            return t("adres.huisnummer");
        }
        if org && name_like {
            return t("werkgever.handelsnaamOrganisatie");
        }
        if has("contactpersoon") || (name_like && !not_person) {
            return t("werkgever.contactpersoon[0].naamContactpersoonAfdeling");
        }
    }
    if word("id")
        || has("klantnummer")
        || has("clientnummer")
        || has("klantnr")
        || has("clientnr")
        || has("relatienummer")
        || has("registratienummer")
        || has("dossiernummer")
        || has("vacaturenummer")
        || has("vacaturenr")
        || w == ["nummer"]
    {
        return Class::Identity;
    }
    if has("uren") || has("hours") {
        let min = word("min") || has("minimaal") || has("minimum");
        return t(if min {
            "werktijden.aantalWerkurenPerWeekMinimaal"
        } else {
            "werktijden.aantalWerkurenPerWeekMaximaal"
        });
    }
    if has("kantoortijden") {
        return t("werktijden.indicatieKantoortijden");
    }
    if has("onregelmatig") || has("ploegendienst") {
        return t("flexibiliteit.indicatieOnregelmatigWerkOfPloegendienst");
    }
    if has("reisafstand") || (has("afstand") && !has("reistijd")) {
        return if wz {
            t("mobiliteit.maximaleReisafstand")
        } else {
            Class::Unknown
        };
    }
    if has("reistijd") {
        return if wz {
            t("mobiliteit.maximaleReistijd")
        } else {
            Class::Unknown
        };
    }
    if has("rijbewijs") || has("rijbewijz") || has("licen") {
        return t(if wz {
            "arbeidsmarktkwalificatie.rijbewijs[].codeSoortRijbewijs"
        } else {
            "rijbewijs[].codeSoortRijbewijs"
        });
    }
    if has("denkniveau") {
        return t(if wz {
            "arbeidsmarktkwalificatie.codeWerkEnDenkniveauWerkzoekende"
        } else {
            "codeWerkEnDenkniveauMinimaal"
        });
    }
    // languages before education ("taalniveau")
    let lang = language_of(&compact);
    let level = if has("mondeling") || has("spreken") || has("spreekvaardigheid") {
        Some("codeNiveauTaalbeheersingMondeling")
    } else if has("schriftelijk") || has("schrijven") {
        Some("codeNiveauTaalbeheersingSchriftelijk")
    } else if word("lezen") || has("leesvaardigheid") {
        Some("codeNiveauTaalbeheersingLezen")
    } else if has("luisteren") {
        Some("codeNiveauTaalbeheersingLuisteren")
    } else if (has("taal") && !has("taalbeheersing"))
        || has("language")
        || (has("taalbeheersing") && word("taal"))
    {
        Some("codeTaal")
    } else {
        None
    };
    if let Some(prop) = level {
        let base = if wz {
            "arbeidsmarktkwalificatie.taalbeheersing"
        } else {
            "taalbeheersing"
        };
        return Class::Target(Guess {
            target: format!("{base}[0].{prop}"),
            lookup: false,
            language: lang,
        });
    }
    if has("opleiding") || has("education") || has("onderwijs") || has("diploma") {
        return t(if wz {
            "arbeidsmarktkwalificatie.opleiding[0].codeNiveauOpleiding"
        } else {
            "opleiding[0].codeNiveauOpleiding"
        });
    }
    if has("vervoer") || has("transport") {
        return t("vervoermiddel[].codeVervoermiddel");
    }
    if has("banenafspraak") || word("ldr") || has("doelgroepregister") {
        return if wz {
            t("indicatieLdrRegistratie")
        } else {
            Class::Unknown
        };
    }
    if has("sector") || has("branche") || word("sbi") {
        return t(if wz {
            "sector[].codeSbi"
        } else {
            "sector.codeSbi"
        });
    }
    if has("contract") || has("dienstverband") {
        return t("contractvorm[].codeTypeArbeidscontract");
    }
    if !wz {
        if has("titel") || (has("naam") && has("vacature")) || has("functienaam") {
            return t("naamVacature");
        }
        if has("omschrijving") || has("beschrijving") || has("description") {
            return t("omschrijvingVacature");
        }
        if has("sluitingsdatum") || has("sluitdatum") {
            return t("sluitingsdatumVacature");
        }
        if has("salaris") {
            return t("arbeidsVoorwaarden.salarisIndicatie");
        }
        if has("aanvang") || has("startdatum") || has("ingangsdatum") {
            return t("arbeidsVoorwaarden.datumAanvangWerkzaamheden");
        }
    }
    if has("beroep") || has("functie") || has("occupation") || word("job") {
        let target = if wz {
            "bemiddelingsberoep[].codeBeroepsnaam"
        } else {
            "beroep.codeBeroepsnaam"
        };
        return Class::Target(Guess {
            target: target.into(),
            lookup: true,
            language: None,
        });
    }
    if wz {
        if has("presentatie") || has("profieltekst") || has("overmij") {
            return t("persoonlijkePresentatie");
        }
        if has("beschikbaartot") || has("einddatum") || (has("beschikbaar") && word("tot")) {
            return t("flexibiliteit.datumEindeBeschikbaarVoorWerk");
        }
        if has("beschikbaar") || has("vanaf") || has("startdatum") || has("aanvang") {
            return t("flexibiliteit.datumAanvangBeschikbaarVoorWerk");
        }
    }
    if has("toelichting")
        || has("opmerking")
        || has("omschrijving")
        || has("notitie")
        || has("memo")
    {
        return Class::FreeText;
    }
    Class::Unknown
}

fn postcode_word(compact: &str) -> bool {
    compact.contains("postcode") || compact.contains("zipcode") || compact.contains("postalcode")
}

fn language_of(compact: &str) -> Option<&'static str> {
    for (k, code) in [
        ("nederlands", "nld"),
        ("dutch", "nld"),
        ("engels", "eng"),
        ("english", "eng"),
        ("duits", "deu"),
        ("frans", "fra"),
        ("arabisch", "ara"),
        ("turks", "tur"),
        ("pools", "pol"),
        ("spaans", "spa"),
    ] {
        if compact.contains(k) {
            return Some(code);
        }
    }
    None
}

// ───────────────────────────── placeholders and VUM documents ─────────────────────────────

/// Cell values exports use for "no value", lower case (the loader compares without regard to case).
const PLACEHOLDERS: &[&str] = &[
    "nnb", "n.n.b.", "n.n.b", "onbekend", "unknown", "-", "--", "n.v.t.", "n.v.t", "nvt", "n.b.",
    "?", "n/a", "null",
];

fn placeholder(v: &str) -> bool {
    PLACEHOLDERS.contains(&v.trim().to_lowercase().as_str())
}

/// The placeholders to declare as `null_values`, each in its most frequent spelling, with the
/// columns (index, count) that hold it: a column holding only placeholders, or holding them in at
/// least 5% of its values.
/// (column index, count) per column
type ColumnCounts = Vec<(usize, u64)>;

fn null_values(p: &Profile) -> Vec<(String, ColumnCounts)> {
    let mut by: BTreeMap<String, (BTreeMap<String, u64>, ColumnCounts)> = BTreeMap::new();
    for (i, c) in p.columns.iter().enumerate() {
        let total: u64 = c.distinct.values().sum();
        let hits: u64 = c
            .distinct
            .iter()
            .filter(|(k, _)| placeholder(k))
            .map(|(_, n)| *n)
            .sum();
        if hits == 0 || !(c.all_placeholders() || hits * 20 >= total) {
            continue;
        }
        for (k, n) in c.distinct.iter().filter(|(k, _)| placeholder(k)) {
            let e = by.entry(k.trim().to_lowercase()).or_default();
            *e.0.entry(k.trim().to_string()).or_default() += n;
            match e.1.last_mut() {
                Some((j, m)) if *j == i => *m += n,
                _ => e.1.push((i, *n)),
            }
        }
    }
    let mut out: Vec<(u64, String, ColumnCounts)> = by
        .into_values()
        .filter_map(|(spellings, cols)| {
            let total = spellings.values().sum();
            let best = spellings
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))?
                .0;
            Some((total, best, cols))
        })
        .collect();
    out.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    out.into_iter().map(|(_, v, c)| (v, c)).collect()
}

fn schemas() -> &'static (serde_json::Value, serde_json::Value) {
    use std::sync::OnceLock;
    static SCHEMAS: OnceLock<(serde_json::Value, serde_json::Value)> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        (
            serde_json::from_str(SCHEMA_WERKZOEKENDEN).unwrap_or(serde_json::Value::Null),
            serde_json::from_str(SCHEMA_VACATURES).unwrap_or(serde_json::Value::Null),
        )
    })
}

/// The top-level property names of a Werkzoekende or Vacature.
fn root_properties(kind: KindArg) -> HashSet<String> {
    let (wz, vac) = schemas();
    let (schema, root) = match kind {
        KindArg::Werkzoekende => (wz, "Werkzoekende"),
        KindArg::Vacature => (vac, "Vacature"),
    };
    let defs = &schema["$defs"];
    let mut node = &defs[root];
    for _ in 0..16 {
        match node.get("$ref").and_then(|r| r.as_str()) {
            Some(r) => node = &defs[r.rsplit('/').next().unwrap_or_default()],
            None => break,
        }
    }
    node.get("properties")
        .and_then(|p| p.as_object())
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// Records that already are VUM documents.
struct VumShape {
    kind: KindArg,
    /// `/idWerkzoekende` or `/idVacature`
    id: &'static str,
    keys: usize,
    known: usize,
    /// top-level keys that are not properties of the document
    foreign: Vec<String>,
}

/// The top-level key of a JSON pointer column.
fn top_key(name: &str) -> Option<String> {
    let k = name.strip_prefix('/')?.split('/').next()?;
    Some(k.replace("~1", "/").replace("~0", "~"))
}

/// JSON/NDJSON records (a top-level array or one per line) that carry the document's id in
/// (nearly) every record and whose top-level keys are mostly properties of the document.
fn vum_shaped(p: &Profile, kind_arg: Option<KindArg>) -> Option<VumShape> {
    if !p.whole_documents || p.records == 0 {
        return None;
    }
    let kinds = match kind_arg {
        Some(k) => vec![k],
        None => vec![KindArg::Werkzoekende, KindArg::Vacature],
    };
    let mut keys: Vec<String> = Vec::new();
    for c in &p.columns {
        if let Some(k) = top_key(&c.name) {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    for kind in kinds {
        let id = match kind {
            KindArg::Werkzoekende => "/idWerkzoekende",
            KindArg::Vacature => "/idVacature",
        };
        let Some(idc) = p.columns.iter().find(|c| c.name == id) else {
            continue;
        };
        if idc.present * 10 < p.records * 9 {
            continue;
        }
        let props = root_properties(kind);
        let known = keys.iter().filter(|k| props.contains(*k)).count();
        if keys.len() >= 2 && known * 5 >= keys.len() * 4 {
            return Some(VumShape {
                kind,
                id,
                keys: keys.len(),
                known,
                foreign: keys
                    .iter()
                    .filter(|k| !props.contains(*k))
                    .cloned()
                    .collect(),
            });
        }
    }
    None
}

/// The mapping of a `vum` source: no fields, consent for the file or from a top-level field.
fn emit_vum(out: &mut Out, p: &Profile, kind: KindArg, v: &VumShape) {
    let root = match kind {
        KindArg::Werkzoekende => "Werkzoekende",
        KindArg::Vacature => "Vacature",
    };
    let id = v.id.trim_start_matches('/');
    out.line("");
    out.line(&format!(
        "# These records are already VUM documents: {} of their {} top-level keys are properties of",
        v.known, v.keys
    ));
    out.line(&format!(
        "# {root} and they carry {id}. They need no field mapping: each document is validated,"
    ));
    out.line("# its free text scanned for personal data, and kept as it is; its own id is kept as the source's");
    out.line("# VUM id (add [identity] key = true to key it like other imports). The same without a mapping file:");
    out.line(&format!(
        "#   matchgate ingest --vum --kind {} --consent FILE   (or: matchgate translate --vum --kind {} FILE)",
        kind.name(),
        kind.name()
    ));
    let consent = p
        .columns
        .iter()
        .find(|c| c.name.matches('/').count() == 1 && guess(&c.name, kind) == Class::Consent);
    let foreign: Vec<String> = v
        .foreign
        .iter()
        .filter(|k| consent.is_none_or(|c| top_key(&c.name).as_deref() != Some(k.as_str())))
        .map(|k| toml_str(k))
        .collect();
    if !foreign.is_empty() {
        out.line(&format!(
            "# Note: top-level keys that are not properties of {root}: {}; a document holding one fails validation.",
            foreign.join(", ")
        ));
    }
    out.line("[source]");
    out.line("format = \"vum\"");
    out.line("");
    match consent {
        Some(c) => {
            out.line("# consent per document: a top-level field, removed before validation");
            consent_block(out, c);
        }
        None if kind == KindArg::Werkzoekende => no_consent_todo(out),
        None => {}
    }
}

fn consent_block(out: &mut Out, c: &Column) {
    let yes: Vec<&str> = c
        .top()
        .into_iter()
        .map(|(v, _)| v)
        .filter(|v| {
            let l = v.trim().to_lowercase();
            ["ja", "j", "yes", "y", "true", "1", "akkoord", "wel"]
                .iter()
                .any(|y| {
                    l == *y || l.starts_with(&format!("{y},")) || l.starts_with(&format!("{y} "))
                })
        })
        .collect();
    let list = |v: &[&str]| v.iter().map(|s| toml_str(s)).collect::<Vec<_>>().join(", ");
    out.line("[consent]");
    out.line(&format!("column = {}", toml_str(&c.name)));
    out.line(&format!("share = [{}]   # TODO: check: the values that allow sharing (guessed); other rows are filtered", list(&yes)));
    out.line("contact = []   # TODO: the values that also allow contact details (none guessed)");
    values_block(out, c);
    out.line("");
}

fn no_consent_todo(out: &mut Out) {
    out.line("# TODO: no consent column found. A jobseeker without recorded consent is not shared. Only if every");
    out.line("# record in this export consents to sharing, uncomment this (contact = true only if every record");
    out.line("# also consents to sharing its contact details):");
    out.line("# [consent]");
    out.line("# value = true");
    out.line("# contact = false");
    out.line("");
}

// ───────────────────────────── code lists ─────────────────────────────

struct Code {
    code: serde_json::Value,
    label: String,
}

fn code_lists() -> HashMap<String, HashMap<String, Vec<Code>>> {
    let mut out: HashMap<String, HashMap<String, Vec<Code>>> = HashMap::new();
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(CODELIJSTEN) else {
        return out;
    };
    let Some(kinds) = doc.get("lists").and_then(|l| l.as_object()) else {
        return out;
    };
    for (kind, lists) in kinds {
        let Some(lists) = lists.as_object() else {
            continue;
        };
        let m = out.entry(kind.clone()).or_default();
        for (prop, l) in lists {
            let codes = l
                .get("codes")
                .and_then(|c| c.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|c| {
                            Some(Code {
                                code: c.get("code")?.clone(),
                                label: c.get("label")?.as_str()?.to_string(),
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            m.insert(prop.clone(), codes);
        }
    }
    out
}

fn code_toml(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => toml_str(s),
        other => other.to_string(),
    }
}

fn code_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

enum Match<'a> {
    /// the value is a code of the list
    Code,
    Label(&'a Code),
    /// the value is one of the '/'-separated parts of a label ("HBO" of "HBO/Bachelor")
    Part(&'a Code),
    None,
}

fn match_code<'a>(v: &str, codes: &'a [Code]) -> Match<'a> {
    let t = v.trim();
    if codes.iter().any(|c| {
        code_text(&c.code) == t || (c.code.is_i64() && t.parse::<i64>().ok() == c.code.as_i64())
    }) {
        return Match::Code;
    }
    let l = t.to_lowercase();
    if let Some(c) = codes.iter().find(|c| c.label.trim().to_lowercase() == l) {
        return Match::Label(c);
    }
    let parts: Vec<&Code> = codes
        .iter()
        .filter(|c| {
            c.label.contains('/') && c.label.split('/').any(|p| p.trim().to_lowercase() == l)
        })
        .collect();
    if parts.len() == 1 {
        return Match::Part(parts[0]);
    }
    Match::None
}

// ───────────────────────────── output ─────────────────────────────

/// A TOML basic string (also safe inside comments: no raw control characters).
fn toml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A value as printed in a comment: quoted, cut, hidden when it looks like personal data.
fn show(v: &str) -> String {
    if let Some(p) = vum::privacy::scan_free_text(v) {
        return format!("(hidden: looks like {})", p.describe());
    }
    if is_bsn(v) {
        return "(hidden: 9 digits passing the elfproef, maybe a BSN)".into();
    }
    let cut: String = v.chars().take(SHOW_CHARS).collect();
    if cut.len() < v.len() {
        format!("{}…", toml_str(&cut))
    } else {
        toml_str(v)
    }
}

fn shape(v: &str) -> String {
    v.chars()
        .take(12)
        .map(|c| {
            if c.is_ascii_digit() {
                '9'
            } else if c.is_alphabetic() {
                'A'
            } else {
                c
            }
        })
        .collect()
}

/// 8 or 9 digits (spaces and dots allowed) passing the elfproef; dates are not BSNs.
fn is_bsn(v: &str) -> bool {
    let v = v.trim();
    v.bytes()
        .all(|b| b.is_ascii_digit() || b == b' ' || b == b'.')
        && vum::privacy::normalise_bsn(v).is_some_and(|b| vum::privacy::is_valid_bsn(&b))
}

fn date_format(c: &Column) -> Option<&'static str> {
    let iso = |v: &str| v.len() == 10 && vum::is_valid_date(v);
    let dmy = |v: &str, sep: char| {
        let p: Vec<&str> = v.split(sep).collect();
        p.len() == 3
            && p[0].len() <= 2
            && p[1].len() <= 2
            && p[2].len() == 4
            && p.iter()
                .all(|x| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit()))
    };
    if c.share(iso) > 0.9 {
        return None;
    }
    for (sep, f) in [
        ('-', "dd-mm-yyyy"),
        ('/', "dd/mm/yyyy"),
        ('.', "dd.mm.yyyy"),
    ] {
        if c.share(|v| dmy(v, sep)) > 0.9 {
            return Some(f);
        }
    }
    None
}

/// A split character when the cells of a list column hold several values.
fn split_char(c: &Column) -> Option<char> {
    if c.max_per_record > 1 {
        return None; // XML/JSON: already one value per element
    }
    let mut best: Option<(char, f64)> = None;
    for sep in [',', ';', '/', '|'] {
        let s = c.share(|v| {
            v.contains(sep)
                && v.split(sep)
                    .all(|p| !p.trim().is_empty() && p.trim().chars().count() <= 30)
        });
        if s > 0.0 && best.is_none_or(|(_, b)| s > b) {
            best = Some((sep, s));
        }
    }
    best.map(|(c, _)| c)
}

struct Out {
    text: String,
    targets: HashSet<String>,
}

impl Out {
    fn line(&mut self, s: &str) {
        self.text.push_str(s);
        self.text.push('\n');
    }
}

fn header_line(c: &Column, what: &str) -> String {
    let distinct = if c.overflow > 0 {
        format!("over {DISTINCT_CAP} distinct")
    } else {
        format!("{} distinct", c.distinct.len())
    };
    format!(
        "# ── column {}: {} value(s) in {} record(s), {distinct}{what}",
        toml_str(&c.name),
        c.values,
        c.present
    )
}

fn values_block(out: &mut Out, c: &Column) {
    if c.values == 0 {
        out.line("#    (always empty in the records read)");
        return;
    }
    if c.overflow > 0 {
        out.line(&format!(
            "#    (over {DISTINCT_CAP} distinct values: the counts are of the first {} seen)",
            c.distinct.len()
        ));
    }
    let top = c.top();
    let shown: Vec<String> = top
        .iter()
        .take(TOP)
        .map(|(v, n)| format!("{} ({n})", show(v)))
        .collect();
    let more = if top.len() > TOP || c.overflow > 0 {
        ", …"
    } else {
        ""
    };
    let mut line = String::from("#    values:");
    for (i, s) in shown.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        if line.len() + s.len() > 100 {
            out.line(&line);
            line = String::from("#           ");
        }
        line.push(' ');
        line.push_str(s);
    }
    line.push_str(more);
    out.line(&line);
}

fn hidden_block(out: &mut Out, c: &Column, why: &str) {
    let mut shapes: BTreeMap<String, u64> = BTreeMap::new();
    for (v, n) in &c.distinct {
        *shapes.entry(shape(v)).or_default() += n;
    }
    let mut s: Vec<(String, u64)> = shapes.into_iter().collect();
    s.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let list: Vec<String> = s
        .iter()
        .take(5)
        .map(|(k, n)| format!("{} ({n})", toml_str(k)))
        .collect();
    if list.is_empty() {
        out.line(&format!("#    values not shown ({why})"));
    } else {
        out.line(&format!(
            "#    values not shown ({why}); their forms: {}",
            list.join(", ")
        ));
    }
}

fn emit(path: &Path, p: &Profile, kind_arg: Option<KindArg>, max_rows: u64) -> String {
    let vum_shape = vum_shaped(p, kind_arg);
    let (kind, kind_note) = match (kind_arg, &vum_shape) {
        (Some(k), _) => (k, "from --kind".to_string()),
        (None, Some(v)) => (
            v.kind,
            format!("the documents carry {}", v.id.trim_start_matches('/')),
        ),
        (None, None) => {
            let vac = p.columns.iter().any(|c| {
                let w = words(&c.name).concat();
                w.contains("vacature")
                    || w.contains("sluitingsdatum")
                    || w.contains("werkgever")
                    || w.contains("titel")
            });
            let k = if vac {
                KindArg::Vacature
            } else {
                KindArg::Werkzoekende
            };
            (
                k,
                "guessed from the column names; say --kind werkzoekende|vacature to choose"
                    .to_string(),
            )
        }
    };
    let wz = kind == KindArg::Werkzoekende;
    let lists = code_lists();
    let codes = lists.get(kind.name());
    let mut out = Out {
        text: String::new(),
        targets: HashSet::new(),
    };
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    out.line(&format!(
        "# A starting mapping for {}, written by `matchgate mapping init`.",
        toml_str(&file)
    ));
    if p.truncated {
        out.line(&format!("# Read the first {} records only (--max-rows); the file has more, so rarer values may be missing.", p.records));
    } else {
        out.line(&format!(
            "# Read all {} record(s) (at most {max_rows} are read; --max-rows to change).",
            p.records
        ));
    }
    out.line("# Every column is listed with its values (the 20 most frequent, with counts). Guessed targets are");
    out.line("# active; check each one. `# TODO` marks what a person must decide; commented blocks are not mapped.");
    out.line("# Values of personal-data columns (names, addresses, BSN, date of birth, contact details, ids)");
    out.line("# are never printed. Reference: docs/mapping.md.");
    for n in &p.notes {
        out.line(&format!("# Note: {}", n.replace(['\n', '\r'], " ")));
    }
    out.line(&format!("kind = \"{}\"   # {kind_note}", kind.name()));
    out.line(&format!(
        "description = {}",
        toml_str(&format!("{file} (started with matchgate mapping init)"))
    ));
    if let Some(v) = &vum_shape {
        emit_vum(&mut out, p, kind, v);
        return out.text;
    }

    // placeholders that mean "no value": a top-level key, so before the first table
    let nulls = null_values(p);
    if !nulls.is_empty() {
        out.line("");
        out.line("# Placeholders that mean \"no value\" (the loader compares them without regard to case and");
        out.line("# spaces); a cell holding one is empty in every column. TODO: check:");
        for (v, cols) in &nulls {
            let mut where_: Vec<String> = cols
                .iter()
                .take(5)
                .map(|(i, n)| {
                    let c = &p.columns[*i];
                    format!("{} ({n} of {})", toml_str(&c.name), c.values)
                })
                .collect();
            if cols.len() > 5 {
                where_.push(format!("{} more column(s)", cols.len() - 5));
            }
            out.line(&format!("#   {} in {}", toml_str(v), where_.join(", ")));
        }
        let list: Vec<String> = nulls.iter().map(|(v, _)| toml_str(v)).collect();
        out.line(&format!("null_values = [{}]", list.join(", ")));
    }
    let null_set: HashSet<String> = nulls.iter().map(|(v, _)| v.to_lowercase()).collect();
    out.line("");
    out.text.push_str(&p.source);
    out.line("");

    // classify every column
    let mut classes: Vec<Class> = p.columns.iter().map(|c| guess(&c.name, kind)).collect();
    // values decide over names: a column of BSNs is a BSN column, whatever its name
    for (c, cl) in p.columns.iter().zip(classes.iter_mut()) {
        if c.distinct.len() >= 3 && c.share(is_bsn) > 0.8 && !matches!(cl, Class::Bsn) {
            *cl = Class::Bsn;
        }
    }
    let bsn_cols: Vec<usize> = (0..classes.len())
        .filter(|&i| classes[i] == Class::Bsn)
        .collect();
    // an id column that holds only placeholders (a Sonar export's ID_WZ = NNB) or one value
    let unusable = |i: usize| {
        let c = &p.columns[i];
        c.all_placeholders() || (c.distinct.len() == 1 && c.overflow == 0 && c.present > 1)
    };
    let id_cands: Vec<usize> = (0..classes.len())
        .filter(|&i| classes[i] == Class::Identity)
        .collect();
    let dead_ids: Vec<usize> = id_cands.iter().copied().filter(|&i| unusable(i)).collect();
    let id_col = id_cands
        .iter()
        .copied()
        .filter(|&i| !unusable(i))
        .max_by_key(|&i| {
            (
                p.columns[i].all_distinct() && p.columns[i].present == p.records,
                std::cmp::Reverse(i),
            )
        });
    let consent_col = (0..classes.len()).find(|&i| classes[i] == Class::Consent);
    let bsn_col = if wz { bsn_cols.first().copied() } else { None };
    let dead = |i: usize| {
        let c = &p.columns[i];
        if c.all_placeholders() {
            let vals: Vec<String> = c.top().iter().map(|(v, _)| toml_str(v)).collect();
            format!(
                "{} holds only placeholders ({})",
                toml_str(&c.name),
                vals.join(", ")
            )
        } else {
            format!("{} holds the same value in every record", toml_str(&c.name))
        }
    };

    // [identity]
    out.line("[identity]");
    let mut id_is_bsn = false;
    match (id_col, bsn_col) {
        (Some(i), _) => {
            let c = &p.columns[i];
            let note = if c.all_distinct() && c.present == p.records {
                "unique and present in every record read".to_string()
            } else {
                format!(
                    "TODO: check: {} record(s) of {} have a value, {} distinct",
                    c.present,
                    p.records,
                    c.distinct.len()
                )
            };
            out.line(&format!(
                "column = {}   # the local id; the VUM id is a keyed hash of it ({note})",
                toml_str(&c.name)
            ));
            if let (Some(b), false) = (bsn_col, dead_ids.is_empty()) {
                for &d in &dead_ids {
                    out.line(&format!("# {}: it cannot be the id.", dead(d)));
                }
                out.line(&format!("# TODO: decide: if {} does not identify a record either, the BSN is the only id; then use", toml_str(&c.name)));
                out.line("# instead (and drop bsn_column):");
                out.line(&format!("# column = {}", toml_str(&p.columns[b].name)));
                out.line("# column_is_bsn = true   # normalised, checked (elfproef) and keyed like a local id; never written or shown");
            }
        }
        (None, Some(b)) => {
            if dead_ids.is_empty() {
                out.line("# No id column found: nothing but the BSN identifies a record, so the BSN is the local id.");
            } else {
                for &d in &dead_ids {
                    out.line(&format!(
                        "# No usable id column: {}, so it cannot be the id; the BSN is the only id.",
                        dead(d)
                    ));
                }
            }
            out.line(&format!(
                "column = {}   # the BSN as the local id: normalised, checked (elfproef) and keyed; never written or shown",
                toml_str(&p.columns[b].name)
            ));
            out.line("column_is_bsn = true");
            out.line("# TODO: decide: if a column identifies a record (a client number), make it the column instead,");
            out.line("# drop column_is_bsn and put the BSN column in bsn_column.");
            id_is_bsn = true;
        }
        (None, None) => match dead_ids.first() {
            Some(&d) => out.line(&format!(
                "column = {}   # TODO: {}, so it cannot be the id: choose the column that identifies a record",
                toml_str(&p.columns[d].name),
                dead(d)
            )),
            None => out.line(
                "column = \"\"   # TODO: the column that identifies a record (unique per record)",
            ),
        },
    }
    if wz {
        match bsn_col {
            Some(_) if id_is_bsn => {
                out.line("# bsn_column: not needed, the local id is the BSN (hidden like a bsn_column)")
            }
            Some(b) => out.line(&format!("bsn_column = {}   # a BSN: checked (elfproef) and used for duplicates only, never written", toml_str(&p.columns[b].name))),
            None => out.line("# bsn_column = \"\"   # no BSN column found"),
        }
    }
    out.line("");

    // [consent]
    if let Some(i) = consent_col {
        consent_block(&mut out, &p.columns[i]);
    } else if wz {
        no_consent_todo(&mut out);
    }
    // fields, in column order
    let mut lang_index: Vec<Option<&'static str>> = Vec::new();
    let mut lookup_used = false;
    let mut list_notes: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    // columns per list of objects: a list with one column maps safely with `[]`
    let mut list_sizes: HashMap<&str, usize> = HashMap::new();
    for c in &p.columns {
        if let Some(l) = &c.list {
            *list_sizes.entry(l.as_str()).or_default() += 1;
        }
    }
    for (i, c) in p.columns.iter().enumerate() {
        let cl = &classes[i];
        match cl {
            Class::Identity if Some(i) == id_col => {
                out.line(&header_line(c, ": the local id, see [identity]"));
                hidden_block(&mut out, c, "ids");
            }
            Class::Bsn if id_is_bsn && Some(i) == bsn_col => {
                out.line(&header_line(
                    c,
                    ": BSN, the local id (see [identity]); never mapped",
                ));
                out.line("#    values not shown (BSN)");
            }
            Class::Bsn => {
                out.line(&header_line(c, ": BSN, never mapped"));
                out.line("#    values not shown (BSN)");
            }
            Class::Consent if Some(i) == consent_col => continue,
            Class::Personal(why) => {
                out.line(&header_line(c, &format!(": never mapped: {why}")));
                out.line("#    values not shown (personal data)");
            }
            Class::Contact(_) if consent_col.is_none() => {
                out.line(&header_line(
                    c,
                    ": never mapped: contact details, and the export has no consent column",
                ));
                hidden_block(&mut out, c, "contact details");
            }
            Class::Contact(target) => {
                out.line(&header_line(c, ": contact details"));
                hidden_block(&mut out, c, "contact details");
                out.line("# TODO: contact details are written only for records whose consent allows it: list those consent");
                out.line("# values in [consent] contact, then uncomment. Otherwise leave this column out.");
                out.line(&format!("# [fields.\"{target}\"]"));
                out.line(&format!("# column = {}", toml_str(&c.name)));
            }
            Class::Target(g) => {
                let mut g = g.clone();
                if g.target.contains(".taalbeheersing[0].") {
                    let pos = lang_index
                        .iter()
                        .position(|l| *l == g.language)
                        .unwrap_or_else(|| {
                            lang_index.push(g.language);
                            lang_index.len() - 1
                        });
                    g.target = g
                        .target
                        .replace(".taalbeheersing[0].", &format!(".taalbeheersing[{pos}]."));
                }
                emit_target(
                    &mut out,
                    c,
                    &g,
                    codes,
                    &mut Lists {
                        lookup_used: &mut lookup_used,
                        notes: &mut list_notes,
                        sizes: &list_sizes,
                        nulls: &null_set,
                        xml: p.format == Format::Xml,
                    },
                );
            }
            Class::FreeText => {
                out.line(&header_line(c, ": free text"));
                values_block(&mut out, c);
                out.line("# TODO: free text: choose a target if it belongs in the profile (it is scanned for BSNs, e-mail");
                out.line("# addresses, phone numbers and IBANs; a hit rejects the record). Otherwise leave it out.");
                template(&mut out, c);
            }
            Class::Identity if dead_ids.contains(&i) => {
                out.line(&header_line(
                    c,
                    ": id-like, but no usable id (see [identity])",
                ));
                hidden_block(&mut out, c, "ids");
            }
            Class::Identity | Class::Consent | Class::Unknown => {
                let extra = match cl {
                    Class::Identity => ": another id-like column",
                    Class::Consent => ": another consent-like column",
                    _ => "",
                };
                out.line(&header_line(c, extra));
                if matches!(cl, Class::Identity) {
                    hidden_block(&mut out, c, "ids");
                } else {
                    values_block(&mut out, c);
                }
                out.line("# TODO: no VUM target guessed from the name. To map it:");
                template(&mut out, c);
            }
        }
        out.line("");
    }
    // constant languages for level columns whose name says the language
    for (pos, lang) in lang_index.iter().enumerate() {
        if let Some(code) = lang {
            let base = if wz {
                "arbeidsmarktkwalificatie.taalbeheersing"
            } else {
                "taalbeheersing"
            };
            let target = format!("{base}[{pos}].codeTaal");
            if out.targets.insert(target.clone()) {
                out.line("# The language of the level columns above, from their names (ISO 639-3); TODO: check.");
                out.line(&format!("[fields.\"{target}\"]"));
                out.line(&format!("value = \"{code}\""));
                out.line("");
            }
        }
    }
    emit_lists(&mut out, p, kind, &list_notes);
    if lookup_used {
        out.line("# The occupation lookup: a CSV with a name column and a CompetentNL URI column. The project");
        out.line("# ships examples/lookups/beroepen.csv to start from (see docs/mapping.md, 'Occupation lookup').");
        out.line("[lookups.beroepen]");
        out.line("file = \"beroepen.csv\"   # TODO: the path of your lookup, relative to this mapping file");
        out.line("key = \"naam\"");
        out.line("value = \"competentnl_uri\"");
    }
    out.text
}

/// The `[lists]` blocks: active when the guessed VUM list is unambiguous and the block loads,
/// otherwise commented out with a TODO and the reason.
fn emit_lists(
    out: &mut Out,
    p: &Profile,
    kind: KindArg,
    list_notes: &BTreeMap<String, Vec<(String, String)>>,
) {
    // VUM lists per source list: a source list guessed into several VUM lists is ambiguous
    let mut per_source: HashMap<&str, Vec<&str>> = HashMap::new();
    for key in list_notes.keys() {
        let (target, from) = key.split_once('\u{0}').unwrap_or((key.as_str(), ""));
        per_source.entry(from).or_default().push(target);
    }
    let mut done: HashSet<&str> = HashSet::new();
    for (key, fields) in list_notes {
        let (target, from) = key.split_once('\u{0}').unwrap_or((key.as_str(), ""));
        let mut block = format!("[lists.{}]\nfrom = {}\n", toml_str(target), toml_str(from));
        for (_, body) in fields {
            block.push_str(body);
        }
        let prefix = format!("{target}[");
        let problem = if target.contains('[') {
            Some("a list inside a list: choose which list it fills".to_string())
        } else if let Some(others) = per_source.get(from).filter(|t| t.len() > 1) {
            Some(format!(
                "the columns of this list were guessed into several VUM lists: {}",
                others.join(", ")
            ))
        } else if done.contains(target) {
            Some(format!("another source list already fills {target}"))
        } else if let Some(t) = out.targets.iter().find(|t| t.starts_with(&prefix)) {
            Some(format!("[fields.\"{t}\"] already fills this list"))
        } else {
            check_list_block(p, kind, &block).err()
        };
        match problem {
            None => {
                done.insert(target);
                out.line(&format!(
                    "# The list of objects {}: each of its elements becomes one element of {target}, its fields",
                    toml_str(from)
                ));
                out.line("# read relative to the element, so the values of one element stay together. TODO: check the guess.");
                out.text.push_str(&block);
            }
            Some(why) => {
                out.line(&format!(
                    "# TODO: {} is a list of objects (several per record), guessed to fill {target}, but",
                    toml_str(from)
                ));
                out.line(&format!(
                    "# {}. Choose the VUM list it fills, then uncomment:",
                    why.replace(['\n', '\r'], " ")
                ));
                for l in block.lines() {
                    out.line(&format!("# {l}"));
                }
            }
        }
        out.line("");
    }
}

/// Whether a `[lists]` block loads with the mapping loader on its own (lookups left out).
fn check_list_block(p: &Profile, kind: KindArg, block: &str) -> Result<(), String> {
    let mut text = format!(
        "kind = \"{}\"\n{}[identity]\ncolumn = \"(check)\"\n",
        kind.name(),
        p.source
    );
    if kind == KindArg::Werkzoekende {
        text.push_str("[consent]\nvalue = true\ncontact = true\n");
    }
    for l in block.lines() {
        if !l.trim_start().starts_with("lookup =") {
            text.push_str(l);
            text.push('\n');
        }
    }
    translate::mapping::Mapping::parse(&text, Path::new("(list check)"))
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn template(out: &mut Out, c: &Column) {
    if let Some(l) = &c.list {
        out.line(&format!(
            "# (from the list of objects {}: map it under [lists] relative to the element, or with",
            toml_str(l)
        ));
        out.line("# '[]' when it is the element's only field)");
    }
    out.line("# [fields.\"TARGET\"]");
    out.line(&format!("# column = {}", toml_str(&c.name)));
}

/// What the field blocks share: whether the occupation lookup is used, the lists of objects found.
struct Lists<'a> {
    lookup_used: &'a mut bool,
    /// "target\0list" -> (element field, its `[lists."target".fields."field"]` block)
    notes: &'a mut BTreeMap<String, Vec<(String, String)>>,
    /// columns per list of objects
    sizes: &'a HashMap<&'a str, usize>,
    /// the top-level null values, lower case: no map entry needed
    nulls: &'a HashSet<String>,
    /// XML (element-relative columns are paths, "." is the element's text) rather than JSON
    xml: bool,
}

/// A column relative to its list element: `/talen/*/codeTaal` of `/talen/*` is `/codeTaal`;
/// XML `taal/@code` of `taal` is `@code`, `taal` itself is `.`.
fn element_column(name: &str, list: &str, xml: bool) -> String {
    if xml {
        if name == list {
            return ".".into();
        }
        return name
            .strip_prefix(list)
            .and_then(|r| r.strip_prefix('/'))
            .unwrap_or(name)
            .to_string();
    }
    name.strip_prefix(list).unwrap_or(name).to_string()
}

fn emit_target(
    out: &mut Out,
    c: &Column,
    g: &Guess,
    codes: Option<&HashMap<String, Vec<Code>>>,
    lists: &mut Lists<'_>,
) {
    let postcode = g.target.ends_with("bemiddelingspostcode") || g.target == "adres.postcode";
    let personal_values = postcode && !g.target.starts_with("adres.");
    out.line(&header_line(c, ""));
    if personal_values {
        hidden_block(out, c, "part of an address");
    } else {
        values_block(out, c);
    }
    // a leaf of a list of objects: only through [lists]
    if let Some(list) = c
        .list
        .as_ref()
        .filter(|l| lists.sizes.get(l.as_str()).copied().unwrap_or(0) > 1)
    {
        if let Some((before, after)) = split_list_target(&g.target) {
            let key = format!("{before}\u{0}{list}");
            if lists
                .notes
                .get(&key)
                .is_some_and(|f| f.iter().any(|(a, _)| *a == after))
            {
                out.line(&format!("# TODO: guessed {}, which an earlier column of this list already fills: choose one.", g.target));
                return;
            }
            let rel = element_column(&c.name, list, lists.xml);
            let table = format!("lists.{}.fields.{}", toml_str(&before), toml_str(&after));
            let mut body = Out {
                text: String::new(),
                targets: HashSet::new(),
            };
            let g2 = Guess {
                target: after.clone(),
                ..g.clone()
            };
            field_body(&mut body, &table, &rel, c, &g2, codes, lists, true);
            lists
                .notes
                .entry(key)
                .or_default()
                .push((after.clone(), body.text));
            out.line(&format!(
                "# guessed: {before}[].{after} (an element of the list of objects {}: see its [lists] block below)",
                toml_str(list)
            ));
        } else {
            out.line(&format!("# TODO: guessed {}, but the values come from a list of objects ({}); choose one element or leave it out", g.target, toml_str(list)));
            template(out, c);
        }
        return;
    }
    if !out.targets.insert(g.target.clone()) {
        out.line(&format!(
            "# TODO: also guessed as {}, which an earlier column already maps: choose one.",
            g.target
        ));
        template(out, c);
        return;
    }
    let table = format!("fields.\"{}\"", g.target);
    field_body(out, &table, &c.name, c, g, codes, lists, false);
}

/// One field's table `[table]` reading `column`: split, postcode clean-up, date format, lookup and
/// the value map prefilled from the code list.
#[allow(clippy::too_many_arguments)]
fn field_body(
    out: &mut Out,
    table: &str,
    column: &str,
    c: &Column,
    g: &Guess,
    codes: Option<&HashMap<String, Vec<Code>>>,
    lists: &mut Lists<'_>,
    in_list: bool,
) {
    let postcode = g.target.ends_with("bemiddelingspostcode") || g.target == "adres.postcode";
    let freetext = g
        .target
        .rsplit('.')
        .next()
        .is_some_and(vum::privacy::is_free_text)
        || g.target == "persoonlijkePresentatie";
    let many = g.target.contains("[]");
    let split = if many { split_char(c) } else { None };
    if c.max_per_record > 1 && !many && !in_list {
        out.line(&format!(
            "# TODO: a record holds up to {} values here, the target takes one: check.",
            c.max_per_record
        ));
    }
    if freetext {
        out.line("# free text: scanned for BSNs, e-mail addresses, phone numbers and IBANs; a hit rejects the record.");
    }
    out.line(&format!("[{table}]"));
    out.line(&format!("column = {}", toml_str(column)));
    if let Some(s) = split {
        out.line(&format!(
            "split = {}   # cells hold several values",
            toml_str(&s.to_string())
        ));
    }
    if postcode {
        if c.distinct.keys().any(|v| v.contains(' ')) {
            out.line("remove = \" \"");
        }
        out.line("uppercase = true");
        out.line("required = true");
    }
    let leaf_prop = g
        .target
        .rsplit('.')
        .next()
        .unwrap_or("")
        .trim_end_matches("[]")
        .to_string();
    let is_date = leaf_prop.starts_with("datum") || leaf_prop.starts_with("sluitingsdatum");
    if is_date {
        if let Some(f) = date_format(c) {
            out.line(&format!("date_format = \"{f}\""));
        }
    }
    let nulls = lists.nulls;
    if g.lookup {
        *lists.lookup_used = true;
        out.line("lookup = \"beroepen\"   # see [lookups.beroepen] at the end; a name it does not know rejects the record");
        let mut missing: Vec<(&str, u64)> = c
            .top()
            .into_iter()
            .filter(|(v, _)| !nulls.contains(&v.trim().to_lowercase()))
            .collect();
        missing.truncate(TOP);
        if !missing.is_empty() {
            out.line("# TODO: make sure the lookup knows these names (most frequent first):");
            for (v, n) in missing {
                out.line(&format!("#   {} ({n})", show(v)));
            }
        }
        return;
    }
    // the values to map: cells split into parts, placeholders declared empty left out
    let mut parts: HashMap<String, u64> = HashMap::new();
    for (v, n) in &c.distinct {
        match split {
            Some(s) => v
                .split(s)
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .for_each(|p| *parts.entry(p.to_string()).or_default() += n),
            None => *parts.entry(v.trim().to_string()).or_default() += n,
        }
    }
    parts.retain(|v, _| !nulls.contains(&v.to_lowercase()));
    // value map from the code list
    let Some(list) = codes.and_then(|m| m.get(&leaf_prop)) else {
        if leaf_prop == "codeSbi" {
            emit_todo_map(
                out,
                table,
                parts,
                "an SBI code (CBS Standaard Bedrijfsindeling)",
            );
        }
        return;
    };
    let mut vals: Vec<(String, u64)> = parts.into_iter().collect();
    vals.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let matches: Vec<(&str, u64, Match)> = vals
        .iter()
        .map(|(v, n)| (v.as_str(), *n, match_code(v, list)))
        .collect();
    if matches.iter().all(|(_, _, m)| matches!(m, Match::Code)) {
        if !matches.is_empty() {
            out.line("# the values are the standard's codes: no map needed");
        }
        return;
    }
    // values that differ from the labels only by case: compare without regard to case, one entry
    // per value whatever its case
    let ignore_case = matches.iter().any(|(v, _, m)| match m {
        Match::Label(code) => code.label.trim() != *v,
        Match::Part(code) => !code.label.split('/').any(|p| p.trim() == *v),
        _ => false,
    });
    let mut matches = matches;
    if ignore_case {
        out.line(
            "ignore_case = true   # the values differ from the code list's labels only by case",
        );
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut merged: Vec<(&str, u64, Match)> = Vec::new();
        for (v, n, m) in matches {
            match seen.get(&v.to_lowercase()) {
                Some(&k) => merged[k].1 += n,
                None => {
                    seen.insert(v.to_lowercase(), merged.len());
                    merged.push((v, n, m));
                }
            }
        }
        matches = merged;
    }
    let listing: Vec<String> = list
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                code_text(&c.code),
                c.label.chars().take(30).collect::<String>()
            )
        })
        .collect();
    out.line(&format!(
        "# code list ({leaf_prop}): {}",
        listing.join("; ")
    ));
    out.line(&format!("[{table}.map]"));
    for (v, n, m) in &matches {
        match m {
            Match::Code => {
                let code = list.iter().find(|c| {
                    code_text(&c.code) == v.trim()
                        || (c.code.is_i64() && v.trim().parse::<i64>().ok() == c.code.as_i64())
                });
                if let Some(code) = code {
                    out.line(&format!(
                        "{} = {}   # the code itself ({n})",
                        toml_str(v),
                        code_toml(&code.code)
                    ));
                }
            }
            Match::Label(code) => out.line(&format!(
                "{} = {}   # {} ({n})",
                toml_str(v),
                code_toml(&code.code),
                toml_str(&code.label)
            )),
            Match::Part(code) => out.line(&format!(
                "{} = {}   # part of the label {} ({n})",
                toml_str(v),
                code_toml(&code.code),
                toml_str(&code.label)
            )),
            Match::None => out.line(&format!(
                "# {} = ?   # TODO: no label of the code list matches ({n})",
                show(v)
            )),
        }
    }
    if c.overflow > 0 {
        out.line(&format!(
            "# TODO: over {DISTINCT_CAP} distinct values: the rest are not listed"
        ));
    }
}

fn emit_todo_map(out: &mut Out, table: &str, parts: HashMap<String, u64>, what: &str) {
    if parts.keys().all(|v| v.bytes().all(|b| b.is_ascii_digit())) {
        return; // already codes
    }
    let mut vals: Vec<(String, u64)> = parts.into_iter().collect();
    vals.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    out.line(&format!("# TODO: the map from these values to {what}:"));
    out.line(&format!("[{table}.map]"));
    for (v, n) in vals.iter().take(200) {
        out.line(&format!("# {} = ?   # TODO ({n})", show(v)));
    }
}

/// `a.b[0].c` / `a.b[].c` / `a.b[].c[]` -> (`a.b`, `c` / `c[]`): the first list and what follows it
fn split_list_target(t: &str) -> Option<(String, String)> {
    let open = t.find('[')?;
    let close = t[open..].find(']')? + open;
    let after = t[close + 1..].strip_prefix('.')?;
    if after.matches('[').count() > 1 || (after.contains('[') && !after.ends_with("[]")) {
        return None;
    }
    Some((t[..open].to_string(), after.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Column names that reach every target rule, for both kinds.
    const NAMES: &[&str] = &[
        "Postcode",
        "uren_min",
        "uren-max",
        "Uren per week",
        "kantoortijden",
        "onregelmatig werk",
        "max reisafstand",
        "reistijd",
        "Rijbewijzen",
        "werk- en denkniveau",
        "Mondeling Nederlands",
        "Schriftelijk Engels",
        "lezen",
        "luisteren",
        "taal",
        "Opleidingsniveau",
        "Vervoer",
        "Banenafspraak",
        "Beroepssector",
        "contractvorm",
        "titel",
        "omschrijving",
        "sluitingsdatum",
        "salaris",
        "aanvangsdatum",
        "Bemiddelingsberoep",
        "presentatie",
        "beschikbaar tot",
        "beschikbaar_vanaf",
        "E-mailadres",
        "Telefoonnummer",
        "straat",
        "huisnummer",
        "toevoeging",
        "werkgever/naam",
        "contactpersoon",
    ];

    #[test]
    fn mapping_init_every_guessed_target_loads_with_todays_loader() {
        for kind in [KindArg::Werkzoekende, KindArg::Vacature] {
            let mut seen = HashSet::new();
            for n in NAMES {
                let target = match guess(n, kind) {
                    Class::Target(g) => g.target,
                    Class::Contact(t) => t,
                    _ => continue,
                };
                let text = format!(
                    "kind = \"{}\"\n[source]\nformat = \"csv\"\n[identity]\ncolumn = \"id\"\n[consent]\ncolumn = \"c\"\nshare = [\"J\"]\ncontact = [\"J\"]\n[fields.\"{target}\"]\ncolumn = \"x\"\n",
                    kind.name()
                );
                if let Err(e) = translate::mapping::Mapping::parse(&text, Path::new("t.toml")) {
                    panic!("{n} ({}): {target}: {e}", kind.name());
                }
                seen.insert(target);
            }
            assert!(seen.len() > 20, "{}: {seen:?}", kind.name());
        }
    }

    #[test]
    fn mapping_init_words_and_personal_columns() {
        assert_eq!(
            words("gw:beschikbaarheid/@uren-min"),
            ["beschikbaarheid", "uren", "min"]
        );
        assert_eq!(
            words("codeNiveauTaalbeheersingMondeling"),
            ["code", "niveau", "taalbeheersing", "mondeling"]
        );
        let w = KindArg::Werkzoekende;
        for (n, c) in [
            ("BSN", Class::Bsn),
            ("Volledige Naam", Class::Personal("a person's name")),
            (
                "Straatnaam",
                Class::Personal("address (a jobseeker's home address)"),
            ),
            ("Geboortedatum", Class::Personal("date of birth")),
            ("ID_WZ", Class::Identity),
            ("klantnummer", Class::Identity),
            ("toestemming_delen", Class::Consent),
            ("E-mailadres", Class::Contact("emailadres[]".into())),
        ] {
            assert_eq!(guess(n, w), c, "{n}");
        }
        // for a vacancy an address is the workplace's
        assert!(
            matches!(guess("Straatnaam", KindArg::Vacature), Class::Target(g) if g.target == "adres.straatnaam")
        );
    }

    #[test]
    fn mapping_init_code_matching_and_shapes() {
        let lists = code_lists();
        let opl = &lists["werkzoekende"]["codeNiveauOpleiding"];
        assert!(matches!(match_code("hbo", opl), Match::Part(c) if c.code == 5));
        assert!(matches!(match_code("Havo/VWO", opl), Match::Label(c) if c.code == 3));
        assert!(matches!(match_code("4", opl), Match::Code));
        assert!(matches!(match_code("master", opl), Match::Part(c) if c.code == 6));
        assert!(matches!(match_code("universiteit", opl), Match::None));
        assert_eq!(shape("3011 AB"), "9999 AA");
        assert!(is_bsn("111222333") && !is_bsn("2026-09-07"));
        assert_eq!(toml_str("a\"b\\\nc\u{1}"), "\"a\\\"b\\\\\\nc\\u0001\"");
        assert_eq!(sniff_delimiter("a;b;c\n1;\"x;y\";3\n"), b';');
        assert_eq!(sniff_delimiter("a\tb\n1\t2\n"), b'\t');
    }

    #[test]
    fn mapping_init_list_targets_placeholders_and_element_columns() {
        assert_eq!(
            split_list_target("arbeidsmarktkwalificatie.taalbeheersing[0].codeTaal"),
            Some((
                "arbeidsmarktkwalificatie.taalbeheersing".into(),
                "codeTaal".into()
            ))
        );
        assert_eq!(
            split_list_target("werkgever.contactpersoon[].emailadres[]"),
            Some(("werkgever.contactpersoon".into(), "emailadres[]".into()))
        );
        assert_eq!(
            split_list_target("vervoermiddel[].codeVervoermiddel[].x[]"),
            None
        );
        assert_eq!(
            element_column("/talen/*/codeTaal", "/talen/*", false),
            "/codeTaal"
        );
        assert_eq!(element_column("taal/@code", "taal", true), "@code");
        assert_eq!(element_column("taal", "taal", true), ".");
        for v in ["NNB", " nnb ", "Onbekend", "-", "n.v.t.", "?", "N/A"] {
            assert!(placeholder(v), "{v}");
        }
        for v in ["Nee", "0", "geen", "B"] {
            assert!(!placeholder(v), "{v}");
        }
    }
}
