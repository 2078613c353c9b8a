//! Shared by the bounds tests: build XLSX workbooks (hostile ones too) inside the test, and run a
//! mapping over a file.
#![allow(dead_code)]
use std::io::Write;
use std::path::Path;
use translate::{mapping::Mapping, Reject, Sink, Summary, Translator};

/// Writes the text of a part.
pub type Writes = Box<dyn FnOnce(&mut dyn Write)>;

pub const SECRET: &[u8] = b"test-node-secret-0123456789abcdef";

#[derive(Default)]
pub struct Collect {
    pub rows: Vec<u64>,
    pub rejects: Vec<Reject>,
}
impl Sink for Collect {
    fn accepted(&mut self, row: u64, _id: &str, _doc: &serde_json::Value) -> std::io::Result<()> {
        self.rows.push(row);
        Ok(())
    }
    fn rejected(&mut self, r: &[Reject], _o: &[(String, String)]) -> std::io::Result<()> {
        self.rejects.extend_from_slice(r);
        Ok(())
    }
}

pub const XLSX_MAPPING: &str = r#"
kind = "vacature"
[source]
format = "xlsx"
[identity]
column = "nr"
[fields."adres.postcode"]
column = "postcode"
"#;

pub const CSV_MAPPING: &str = r#"
kind = "vacature"
[source]
format = "csv"
[identity]
column = "nr"
[fields."adres.postcode"]
column = "postcode"
"#;

/// Run `mapping` over the file at `input`; the error is the run's error as text.
pub fn run_file(mapping: &str, input: &Path) -> Result<(Summary, Collect), String> {
    let m = Mapping::parse(mapping, &input.with_file_name("m.toml")).map_err(|e| e.to_string())?;
    let mut t = Translator::new(m, SECRET, vum::Validator::with_today("2026-11-22"));
    let mut sink = Collect::default();
    let s = t.run(input, &mut sink).map_err(|e| e.to_string())?;
    Ok((s, sink))
}

pub const CONTENT_TYPES: &str = r#"<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#;
pub const RELS: &str = r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml" Id="rId1"/></Relationships>"#;
pub const WORKBOOK: &str = r#"<workbook xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheets><sheet name="Blad1" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
pub const WORKBOOK_RELS: &str = r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml" Id="rId1"/><Relationship Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml" Id="rId2"/></Relationships>"#;
pub const SHEET_HEAD: &str =
    r#"<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#;
pub const SHEET_TAIL: &str = "</sheetData></worksheet>";

/// An inline-string cell.
pub fn cell(r: &str, v: &str) -> String {
    format!(r#"<c r="{r}" t="inlineStr"><is><t>{v}</t></is></c>"#)
}

/// A good data row `n` (vacancy `v<n>`, postcode 3011AB).
pub fn good_row(n: u32) -> String {
    format!(
        r#"<row r="{n}">{}{}</row>"#,
        cell(&format!("A{n}"), &format!("v{n}")),
        cell(&format!("B{n}"), "3011AB")
    )
}

pub fn header_row() -> String {
    format!(
        r#"<row r="1">{}{}</row>"#,
        cell("A1", "nr"),
        cell("B1", "postcode")
    )
}

/// A workbook with one sheet whose `<sheetData>` content `rows` writes, and optionally a shared
/// strings part that `shared` writes. `stored` keeps the sheet and shared strings uncompressed.
pub fn workbook(
    path: &Path,
    stored: bool,
    rows: impl FnOnce(&mut dyn Write),
    shared: Option<Writes>,
) {
    let (method, level) = if stored {
        (zip::CompressionMethod::Stored, None)
    } else {
        (zip::CompressionMethod::Deflated, Some(1))
    };
    workbook_full(path, method, level, rows, shared)
}

/// A workbook without shared strings, its sheet packed with `method` at `level`.
pub fn workbook_with(
    path: &Path,
    method: zip::CompressionMethod,
    level: Option<i64>,
    rows: impl FnOnce(&mut dyn Write),
) {
    workbook_full(path, method, level, rows, None)
}

fn workbook_full(
    path: &Path,
    method: zip::CompressionMethod,
    level: Option<i64>,
    rows: impl FnOnce(&mut dyn Write),
    shared: Option<Writes>,
) {
    use zip::write::SimpleFileOptions;
    let f = std::fs::File::create(path).unwrap();
    let mut z = zip::ZipWriter::new(std::io::BufWriter::new(f));
    let small = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let big = SimpleFileOptions::default()
        .compression_method(method)
        .compression_level(level);
    for (name, text) in [
        ("[Content_Types].xml", CONTENT_TYPES),
        ("_rels/.rels", RELS),
        ("xl/workbook.xml", WORKBOOK),
        ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS),
    ] {
        z.start_file(name, small).unwrap();
        z.write_all(text.as_bytes()).unwrap();
    }
    if let Some(shared) = shared {
        z.start_file("xl/sharedStrings.xml", big).unwrap();
        shared(&mut z);
    }
    z.start_file("xl/worksheets/sheet1.xml", big).unwrap();
    z.write_all(SHEET_HEAD.as_bytes()).unwrap();
    rows(&mut z);
    z.write_all(SHEET_TAIL.as_bytes()).unwrap();
    z.finish().unwrap().flush().unwrap();
}

/// The same, with the rows given as one string.
pub fn simple_workbook(path: &Path, rows: &str) {
    let rows = rows.to_string();
    workbook(
        path,
        false,
        move |w| w.write_all(rows.as_bytes()).unwrap(),
        None,
    );
}

/// Peak resident memory of this process so far (VmHWM), in bytes.
pub fn peak_rss() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Reset the peak (Linux: `5` to clear_refs); false when the kernel does not allow it.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}
