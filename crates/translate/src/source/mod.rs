//! Record sources: each turns a file into records whose values are aligned with the mapping's
//! columns. A problem with one row is a [`RowError`] (that row is rejected, the next is read);
//! a problem with the whole file is an [`OpenError`].
use crate::mapping::{Mapping, SourceConfig};
use std::path::Path;

mod csv_source;
mod json_source;
mod xlsx_source;
mod xml_source;

pub use xlsx_source::excel_serial_to_date as excel_date;
/// The XLSX package check every reader of a workbook runs before calamine opens it (zip bombs,
/// oversized parts, too many shared strings), and the cell text rule.
pub use xlsx_source::{check_package as check_xlsx_package, text as xlsx_cell_text};
/// The XML entity rule of the XML source.
pub use xml_source::entity as xml_entity;

/// Fill `buf` from the start of `r` as far as the input goes (a file's first bytes, to tell
/// its format); the count read.
pub(crate) fn read_head(r: &mut impl std::io::Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// One source record: for each mapping column, its values (none = absent; XML and JSON can hold
/// several values for one path).
#[derive(Debug, Clone, Default)]
pub struct Record {
    /// row number in the source (1-based data row for CSV/XLSX counting the header, record index for XML/JSON)
    pub row: u64,
    /// for each of the mapping's columns, in order: its values
    pub values: Vec<Vec<String>>,
    /// for each of the mapping's `[lists]`: the source list's elements, each with the values of
    /// the list's element-relative columns (so values of one element stay together)
    pub lists: Vec<Vec<Element>>,
    /// the document itself, for a `vum` source
    pub doc: Option<serde_json::Value>,
}

/// One element of a source list: for each of its list's columns, its values.
pub type Element = Vec<Vec<String>>;

impl Record {
    /// A record of plain column values (CSV, XLSX).
    pub fn new(row: u64, values: Vec<Vec<String>>) -> Record {
        Record {
            row,
            values,
            ..Record::default()
        }
    }
}

/// A row the source could not read; it becomes a reject.
#[derive(Debug, Clone)]
pub struct RowError {
    /// The row, counted as [`Record::row`] is.
    pub row: u64,
    /// The column whose value could not be read, when it is one.
    pub column: Option<String>,
    /// The rule id (one of this module's constants).
    pub rule: &'static str,
    /// What is wrong with the row.
    pub message: String,
    /// true when reading cannot go on after this error (malformed XML, a broken JSON array)
    pub fatal: bool,
}

/// The input cannot be read as the mapping's source at all (missing file, header without a mapped
/// column, unreadable workbook, ...).
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct OpenError {
    /// The input file as given.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// The records of an opened source, in source order.
pub type Records = Box<dyn Iterator<Item = Result<Record, RowError>> + Send>;

/// Row rule: a CSV value is not valid in the source's encoding.
pub const ENCODING: &str = "translate/encoding";
/// Row rule: a CSV row cannot be read.
pub const CSV_MALFORMED: &str = "translate/csv";
/// Row rule: an XLSX row or cell cannot be read.
pub const XLSX_MALFORMED: &str = "translate/xlsx";
/// Row rule: the XML is malformed.
pub const XML_MALFORMED: &str = "translate/xml";
/// Row rule: a JSON record or NDJSON line is not valid JSON.
pub const JSON_MALFORMED: &str = "translate/json";
/// Row rule: an NDJSON line or XML record is larger than [`MAX_LINE`].
pub const TOO_LARGE: &str = "translate/te-groot";

/// The largest file read whole (a JSON array or a single document); larger exports go as NDJSON.
pub const MAX_WHOLE_FILE: u64 = 512 << 20;
/// The longest NDJSON line.
pub const MAX_LINE: usize = 16 << 20;

/// Open `input` as the mapping's source says.
pub fn open(mapping: &Mapping, input: &Path) -> Result<Records, OpenError> {
    let err = |m: String| OpenError {
        path: input.display().to_string(),
        message: m,
    };
    match &mapping.source {
        SourceConfig::Csv {
            delimiter,
            quote,
            encoding,
            header_row,
        } => csv_source::open(
            input,
            &mapping.columns,
            delimiter.as_bytes()[0],
            quote.as_bytes()[0],
            *encoding,
            *header_row,
        )
        .map_err(err),
        SourceConfig::Xlsx { sheet, header_row } => {
            xlsx_source::open(input, &mapping.columns, sheet.as_deref(), *header_row).map_err(err)
        }
        SourceConfig::Xml { record, namespaces } => {
            xml_source::open(input, &mapping.columns, &mapping.lists, record, namespaces)
                .map_err(err)
        }
        SourceConfig::Json { record_path } => {
            json_source::open_json(input, &mapping.columns, &mapping.lists, record_path)
                .map_err(err)
        }
        SourceConfig::Ndjson {} => {
            json_source::open_ndjson(input, &mapping.columns, &mapping.lists).map_err(err)
        }
        SourceConfig::Vum {} => json_source::open_vum(input, &mapping.columns).map_err(err),
    }
}

/// Find each mapping column in a header row; a missing one names what the header has.
pub(crate) fn locate(
    columns: &[String],
    header: &[String],
    where_: &str,
) -> Result<Vec<usize>, String> {
    columns
        .iter()
        .map(|c| {
            header
                .iter()
                .position(|h| h.trim() == c.trim())
                .ok_or_else(|| {
                    format!(
                        "column '{c}' is not in the header ({where_}); the header has: {}",
                        header
                            .iter()
                            .map(|h| format!("'{h}'"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })
        })
        .collect()
}
