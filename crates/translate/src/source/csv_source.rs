//! CSV with a chosen delimiter, quote and encoding (UTF-8 with or without BOM, Windows-1252,
//! ISO-8859-1). Bytes are decoded per field, so a badly encoded cell rejects its row, not the file.
use super::{locate, Record, Records, RowError, CSV_MALFORMED, ENCODING};
use crate::mapping::Encoding;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

fn decode(bytes: &[u8], enc: Encoding) -> Result<String, String> {
    match enc {
        Encoding::Utf8 => std::str::from_utf8(bytes).map(str::to_string).map_err(|e| {
            format!("invalid UTF-8 at byte {} of the value (is the file Windows-1252? set source.encoding)", e.valid_up_to())
        }),
        Encoding::Windows1252 => Ok(encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes).0.into_owned()),
        // ISO-8859-1 maps every byte to the code point of the same number
        Encoding::Iso88591 => Ok(bytes.iter().map(|&b| char::from(b)).collect()),
    }
}

pub(super) fn open(
    path: &Path,
    columns: &[String],
    delimiter: u8,
    quote: u8,
    enc: Encoding,
    header_row: u64,
) -> Result<Records, String> {
    let mut file = BufReader::with_capacity(1 << 16, File::open(path).map_err(|e| e.to_string())?);
    // the first bytes: a workbook is named as one; a UTF-8 byte order mark is skipped whatever
    // the configured encoding
    let mut first = [0u8; 8];
    let n = super::read_head(&mut file, &mut first).map_err(|e| e.to_string())?;
    match super::xlsx_source::sniff(&first[..n]) {
        Some("zip") => {
            return Err(
                "this file is an Excel workbook (XLSX, a zip archive), not CSV; \
                        use format = \"xlsx\" in [source]"
                    .into(),
            )
        }
        Some(_) => {
            return Err(
                "this file is an Excel 97-2003 workbook (.xls) or another OLE file, not \
                        CSV; save it as .xlsx and use format = \"xlsx\", or export it as CSV"
                    .into(),
            )
        }
        None => {}
    }
    let prefix: Vec<u8> = if first[..n].starts_with(&[0xEF, 0xBB, 0xBF]) {
        first[3..n].to_vec()
    } else {
        first[..n].to_vec()
    };
    let reader = std::io::Cursor::new(prefix).chain(file);
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .quote(quote)
        .has_headers(false)
        .flexible(true)
        .from_reader(reader);
    let mut rec = csv::ByteRecord::new();
    let mut line = 0u64;
    let header: Vec<String> = loop {
        if !rdr.read_byte_record(&mut rec).map_err(|e| e.to_string())? {
            return Err(format!(
                "no header row {header_row}: the file has {line} row(s)"
            ));
        }
        line += 1;
        if line == header_row {
            break rec
                .iter()
                .map(|f| decode(f, enc))
                .collect::<Result<_, _>>()
                .map_err(|e| format!("header row {header_row}: {e}"))?;
        }
    };
    let idx = locate(columns, &header, &format!("row {header_row}"))?;
    let width = header.len();
    let names: Vec<String> = columns.to_vec();
    let mut done = false;
    Ok(Box::new(std::iter::from_fn(move || {
        if done {
            return None;
        }
        let mut rec = csv::ByteRecord::new();
        loop {
            let row = rdr.position().line();
            match rdr.read_byte_record(&mut rec) {
                Ok(false) => {
                    done = true;
                    return None;
                }
                Err(e) => {
                    let row = e.position().map(|p| p.line()).unwrap_or(row);
                    if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                        done = true;
                    }
                    return Some(Err(RowError {
                        row,
                        column: None,
                        rule: CSV_MALFORMED,
                        message: e.to_string(),
                        fatal: done,
                    }));
                }
                Ok(true) => {}
            }
            let row = rec.position().map(|p| p.line()).unwrap_or(row);
            if rec.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
                continue; // blank line
            }
            if rec.len() != width {
                return Some(Err(RowError {
                    row,
                    column: None,
                    rule: CSV_MALFORMED,
                    message: format!(
                        "row has {} field(s), the header has {width} (a stray delimiter or quote?)",
                        rec.len()
                    ),
                    fatal: false,
                }));
            }
            let mut values = Vec::with_capacity(idx.len());
            for (c, &i) in idx.iter().enumerate() {
                match decode(rec.get(i).unwrap_or_default(), enc) {
                    Ok(s) => values.push(if s.trim().is_empty() { vec![] } else { vec![s] }),
                    Err(m) => {
                        return Some(Err(RowError {
                            row,
                            column: Some(names[c].clone()),
                            rule: ENCODING,
                            message: m,
                            fatal: false,
                        }))
                    }
                }
            }
            return Some(Ok(Record::new(row, values)));
        }
    })))
}
