//! Excel workbooks (XLSX), read cell by cell with calamine's streaming reader, so memory does not
//! grow with the sheet. Dates come out as YYYY-MM-DD, whole numbers without a fraction.
use super::{locate, Record, Records, RowError, XLSX_MALFORMED};
use calamine::{open_workbook, DataRef, Reader, Xlsx};
use std::path::Path;

/// Excel serial day (1900 system) -> YYYY-MM-DD. Serial 1 is 1900-01-01; Excel counts a
/// 1900-02-29 that never was (serial 60), so from serial 61 on a day is 1899-12-30 + serial.
pub fn excel_serial_to_date(serial: f64) -> Option<String> {
    if !(1.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let days = serial.floor() as i64;
    // 1899-12-30 is 25569 days before 1970-01-01
    let unix = if days >= 61 {
        days - 25_569
    } else {
        days - 25_568
    };
    Some(vum::date_from_unix_days(unix))
}

/// A cell's value as source text: whole numbers without a decimal point, booleans as TRUE/FALSE,
/// date cells as `YYYY-MM-DD`; an Excel error value is an error.
pub fn text(v: &DataRef<'_>) -> Result<String, String> {
    Ok(match v {
        DataRef::Empty => String::new(),
        DataRef::String(s) => s.clone(),
        DataRef::SharedString(s) => s.to_string(),
        DataRef::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        DataRef::Float(f) => f.to_string(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Bool(b) => {
            if *b {
                "TRUE".into()
            } else {
                "FALSE".into()
            }
        }
        DataRef::DateTime(d) => excel_serial_to_date(d.as_f64())
            .ok_or_else(|| format!("date serial {} is out of range", d.as_f64()))?,
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::Error(e) => return Err(format!("the cell holds the Excel error {e}")),
    })
}

// Limits. A workbook is a zip archive of XML parts; each size a file controls is bounded before it
// is allocated. Excel's own maxima (16,384 columns = XFD, 1,048,576 rows, 32,767 characters a cell)
// bound what a real export can hold; the zip limits are far above any real export and far below
// what a zip bomb unpacks to.
/// Columns a sheet may use: A..XFD, Excel's maximum.
const MAX_COLUMNS: u32 = 16_384;
/// Rows a sheet may have: Excel's maximum.
const MAX_ROWS: u32 = 1_048_576;
/// Cells one row may hold (one per column).
const MAX_CELLS_PER_ROW: usize = MAX_COLUMNS as usize;
/// Characters a mapped cell may hold: Excel's maximum.
const MAX_CELL_CHARS: usize = 32_767;
/// Entries in the zip archive (a workbook has a dozen or so; one per sheet, image, ...).
const MAX_ZIP_ENTRIES: usize = 10_000;
/// Unpacked size of one worksheet part (streamed, so this bounds time, not memory).
const MAX_SHEET_BYTES: u64 = 4 << 30;
/// Unpacked size of the shared strings part, which is held in memory whole.
const MAX_SHARED_STRINGS_BYTES: u64 = 256 << 20;
/// Shared strings (each costs its text plus 24 bytes while the sheet is read).
const MAX_SHARED_STRINGS: u64 = 4 << 20;
/// Unpacked size of any other XML part (workbook, styles, relationships, ...).
const MAX_PART_BYTES: u64 = 64 << 20;
/// Unpacked size of all XML parts together.
const MAX_TOTAL_BYTES: u64 = 8 << 30;
/// Unpacked : packed ratio of a part above `RATIO_FLOOR` bytes. Real sheets pack about 5-15:1;
/// deflate's maximum, the zip bomb's, is about 1000:1.
const MAX_RATIO: u64 = 100;
const RATIO_FLOOR: u64 = 1 << 20;
/// Bytes of one XML event (a tag, a text, a comment): what the XML reader buffers at once.
const MAX_XML_EVENT: u64 = 1 << 20;

const fn human(n: u64) -> &'static str {
    match n {
        MAX_SHEET_BYTES => "4 GiB",
        MAX_SHARED_STRINGS_BYTES => "256 MiB",
        MAX_PART_BYTES => "64 MiB",
        MAX_TOTAL_BYTES => "8 GiB",
        MAX_XML_EVENT => "1 MiB",
        _ => "the limit",
    }
}

/// What the first bytes say the file is, when it is not a zip archive.
pub(super) fn sniff(first: &[u8]) -> Option<&'static str> {
    if first.starts_with(b"PK\x03\x04") || first.starts_with(b"PK\x05\x06") {
        Some("zip")
    } else if first.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        Some("ole")
    } else {
        None
    }
}

/// Checks the zip archive before calamine reads it: the file is a zip archive at all, its entry
/// count, each XML part's declared unpacked size and packing ratio, and (for parts large enough to
/// matter) the size of every XML event and the number of shared strings. The zip reader refuses to
/// unpack more than an entry declares, so the declared sizes bound what calamine can read.
pub fn check_package(path: &Path) -> Result<(), String> {
    let mut file = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    if len == 0 {
        return Err("the file is empty (0 bytes); an XLSX workbook is a zip archive".into());
    }
    let mut first = [0u8; 8];
    let n = super::read_head(&mut file, &mut first).map_err(|e| e.to_string())?;
    match sniff(&first[..n]) {
        Some("zip") => {}
        Some(_) => {
            return Err(
                "not an XLSX workbook: this is an OLE compound file, an Excel 97-2003 .xls \
                        workbook or a password-protected workbook; save it as an unprotected .xlsx"
                    .into(),
            )
        }
        None => {
            let text = first[..n]
                .iter()
                .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace());
            return Err(format!(
                "not an XLSX workbook: an XLSX file is a zip archive starting with 'PK', this one \
                 starts with {:?}{}",
                String::from_utf8_lossy(&first[..n]),
                if text {
                    " (text: is it a CSV file? then use format = \"csv\")"
                } else {
                    ""
                }
            ));
        }
    }
    let file = std::io::BufReader::new(
        std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?,
    );
    let mut zip = zip::ZipArchive::new(file).map_err(|e| {
        format!(
            "not a readable XLSX workbook: it starts as a zip archive but its zip directory is \
             missing or damaged, so the file is truncated or corrupt (was a copy or download cut \
             off?): {e}"
        )
    })?;
    if zip.len() > MAX_ZIP_ENTRIES {
        return Err(format!(
            "not a readable XLSX workbook: the zip archive holds {} entries, more than the limit of {MAX_ZIP_ENTRIES}",
            zip.len()
        ));
    }
    if zip.is_empty() {
        return Err("not a readable XLSX workbook: the zip archive is empty".into());
    }
    let mut total = 0u64;
    let mut scan = Vec::new();
    for i in 0..zip.len() {
        let f = zip
            .by_index_raw(i)
            .map_err(|e| format!("zip entry {i}: {e}"))?;
        let name = f
            .name()
            .map(|n| n.into_owned())
            .unwrap_or_else(|_| format!("#{i}"));
        let lower = name.to_ascii_lowercase();
        if !(lower.ends_with(".xml") || lower.ends_with(".rels")) {
            continue; // images, printer settings, VBA: calamine does not read them
        }
        let (size, packed) = (f.size(), f.compressed_size());
        let shared = lower.ends_with("sharedstrings.xml");
        let limit = if shared {
            MAX_SHARED_STRINGS_BYTES
        } else if lower.starts_with("xl/worksheets/") {
            MAX_SHEET_BYTES
        } else {
            MAX_PART_BYTES
        };
        if size > limit {
            return Err(format!(
                "zip entry '{name}' unpacks to {size} bytes, more than the limit of {} for this part",
                human(limit)
            ));
        }
        if size > RATIO_FLOOR && size / packed.max(1) > MAX_RATIO {
            return Err(format!(
                "zip entry '{name}' unpacks {packed} bytes to {size} ({}:1), more than the {MAX_RATIO}:1 \
                 a real workbook packs to; refused as a zip bomb",
                size / packed.max(1)
            ));
        }
        total = total.saturating_add(size);
        if total > MAX_TOTAL_BYTES {
            return Err(format!(
                "the XML parts unpack to more than {} together, the limit",
                human(MAX_TOTAL_BYTES)
            ));
        }
        if shared || size > MAX_XML_EVENT {
            scan.push((i, name, shared));
        }
    }
    for (i, name, shared) in scan {
        let f = zip
            .by_index(i)
            .map_err(|e| format!("zip entry '{name}': {e}"))?;
        let strings = scan_xml(f, &name)?;
        if shared && strings > MAX_SHARED_STRINGS {
            return Err(format!(
                "zip entry '{name}' holds more than {MAX_SHARED_STRINGS} shared strings, the limit"
            ));
        }
    }
    Ok(())
}

/// Streams an XML part and checks that no event (tag, text, comment, CDATA, processing
/// instruction) is longer than `MAX_XML_EVENT` and that there is no DOCTYPE (OOXML parts have
/// none); returns the number of `<si>` elements (shared strings), stopping past the limit.
fn scan_xml(mut r: impl std::io::Read, name: &str) -> Result<u64, String> {
    #[derive(Clone, Copy)]
    enum St {
        Text,
        /// just after '<': the first bytes of the name or markup
        Open,
        /// inside `<!--`, `<![CDATA[` or `<?`: until `k` times `x` then '>'
        Special {
            x: u8,
            k: u8,
            seen: u8,
        },
    }
    let mut st = St::Text;
    let mut head = [0u8; 9];
    let mut hn = 0usize;
    let mut run = 0u64;
    let mut offset = 0u64;
    let mut si = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("zip entry '{name}': {e}")),
        };
        for &b in &buf[..n] {
            offset += 1;
            run += 1;
            if run > MAX_XML_EVENT {
                return Err(format!(
                    "zip entry '{name}': an XML tag or text of more than {} (at byte {offset}), the limit",
                    human(MAX_XML_EVENT)
                ));
            }
            match st {
                St::Text => {
                    if b == b'<' {
                        run = 0;
                        hn = 0;
                        st = St::Open;
                    }
                }
                St::Open => {
                    if hn < head.len() {
                        head[hn] = b;
                        hn += 1;
                    }
                    let h = &head[..hn];
                    if h == b"?" {
                        st = St::Special {
                            x: b'?',
                            k: 1,
                            seen: 0,
                        };
                    } else if h == b"!--" {
                        st = St::Special {
                            x: b'-',
                            k: 2,
                            seen: 0,
                        };
                    } else if h == b"![CDATA[" {
                        st = St::Special {
                            x: b']',
                            k: 2,
                            seen: 0,
                        };
                    } else if h[0] == b'!' {
                        if !(b"!--".starts_with(h) || b"![CDATA[".starts_with(h)) {
                            return Err(format!(
                                "zip entry '{name}': a DOCTYPE or other declaration (at byte {offset}), \
                                 which an XLSX part cannot have"
                            ));
                        }
                    } else if matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'>' | b'/')
                        || hn == head.len()
                    {
                        let tag = &h[..hn - 1];
                        let local = tag.rsplit(|&c| c == b':').next().unwrap_or(tag);
                        if local == b"si" && hn > 1 && !tag.starts_with(b"/") {
                            si += 1;
                            if si > MAX_SHARED_STRINGS {
                                return Ok(si);
                            }
                        }
                        st = St::Text;
                        if b == b'<' {
                            run = 0;
                            hn = 0;
                            st = St::Open;
                        }
                    } else if b == b'<' {
                        run = 0;
                        hn = 0;
                    }
                }
                St::Special { x, k, seen } => {
                    st = if b == b'>' && seen >= k {
                        run = 0;
                        St::Text
                    } else if b == x {
                        St::Special {
                            x,
                            k,
                            seen: (seen + 1).min(k),
                        }
                    } else {
                        St::Special { x, k, seen: 0 }
                    };
                }
            }
        }
    }
    Ok(si)
}

/// Opens the workbook on a reader thread that owns it and streams rows through a bounded channel
/// (calamine's cell reader borrows the workbook, and the thread also overlaps parsing with mapping).
pub(super) fn open(
    path: &Path,
    columns: &[String],
    sheet: Option<&str>,
    header_row: u64,
) -> Result<Records, String> {
    if header_row == 0 || header_row > u64::from(MAX_ROWS) {
        return Err(format!(
            "header_row {header_row}: a sheet row is 1 to {MAX_ROWS} (Excel's maximum)"
        ));
    }
    check_package(path)?;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Record, RowError>>(1024);
    let (htx, hrx) = std::sync::mpsc::sync_channel::<Result<(), String>>(1);
    let (path, columns, sheet) = (
        path.to_path_buf(),
        columns.to_vec(),
        sheet.map(str::to_string),
    );
    std::thread::Builder::new()
        .name("xlsx-reader".into())
        .spawn(move || {
            // no input should panic the reader; if a dependency does, say so instead of ending the
            // records early without a word
            let (htx2, tx2) = (htx.clone(), tx.clone());
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                read(&path, &columns, sheet.as_deref(), header_row, &htx, &tx)
            }));
            if r.is_err() {
                let msg =
                    "the XLSX reader failed on this file (an internal error; please report it)";
                let _ = htx2.try_send(Err(msg.to_string()));
                let _ = tx2.send(Err(RowError {
                    row: 0,
                    column: None,
                    rule: XLSX_MALFORMED,
                    message: msg.to_string(),
                    fatal: true,
                }));
            }
        })
        .map_err(|e| e.to_string())?;
    hrx.recv()
        .map_err(|_| "the XLSX reader stopped".to_string())??;
    Ok(Box::new(rx.into_iter()))
}

fn read(
    path: &Path,
    columns: &[String],
    sheet: Option<&str>,
    header_row: u64,
    htx: &std::sync::mpsc::SyncSender<Result<(), String>>,
    tx: &std::sync::mpsc::SyncSender<Result<Record, RowError>>,
) {
    let header = |r: Result<(), String>| {
        let _ = htx.send(r);
    };
    let mut wb: Xlsx<_> = match open_workbook(path) {
        Ok(wb) => wb,
        Err(e) => return header(Err(format!("not a readable XLSX workbook: {e}"))),
    };
    let names = wb.sheet_names();
    let sheet = match sheet {
        Some(s) if names.iter().any(|n| n == s) => s.to_string(),
        Some(s) => {
            return header(Err(format!(
                "no sheet '{s}'; the workbook has: {}",
                names.join(", ")
            )))
        }
        None => match names.first() {
            Some(n) => n.clone(),
            None => return header(Err("the workbook has no sheets".into())),
        },
    };
    let mut cells = match wb.worksheet_cells_reader(&sheet) {
        Ok(c) => c,
        Err(e) => return header(Err(format!("sheet '{sheet}': {e}"))),
    };
    // header_row is 1..=MAX_ROWS (checked in `open`)
    let header_idx = (header_row - 1) as u32;
    let mut head: Vec<String> = Vec::new();
    let mut pending: Option<(u32, u32, Result<String, String>)> = None;
    loop {
        match cells.next_cell() {
            Ok(Some(c)) => {
                let (r, col) = c.get_position();
                if r < header_idx {
                    continue;
                }
                if r > header_idx {
                    pending = Some((r, col, text(c.get_value())));
                    break;
                }
                if col >= MAX_COLUMNS {
                    return header(Err(format!(
                        "sheet '{sheet}' header row {header_row}: a cell beyond column XFD \
                         (column index {}); a sheet has at most {MAX_COLUMNS} columns",
                        u64::from(col) + 1
                    )));
                }
                if head.len() <= col as usize {
                    head.resize(col as usize + 1, String::new());
                }
                head[col as usize] = text(c.get_value()).unwrap_or_default();
            }
            Ok(None) => break,
            Err(e) => return header(Err(format!("sheet '{sheet}': malformed XLSX: {e}"))),
        }
    }
    let idx = match locate(columns, &head, &format!("sheet '{sheet}' row {header_row}")) {
        Ok(i) => i,
        Err(e) => return header(Err(e)),
    };
    drop(head);
    header(Ok(()));
    // per mapped column, the first cell of the row at its header column; only these are kept, so
    // a row's memory does not grow with its number of cells
    let mut slots: Vec<Option<Result<String, String>>> = vec![None; idx.len()];
    while let Some((row, first_col, first_val)) = pending.take() {
        let row1 = u64::from(row) + 1;
        if row >= MAX_ROWS {
            let _ = tx.send(Err(RowError {
                row: row1,
                column: None,
                rule: XLSX_MALFORMED,
                message: format!(
                    "sheet '{sheet}': row {row1} is beyond {MAX_ROWS}, the most rows a sheet has; reading stops here"
                ),
                fatal: true,
            }));
            return;
        }
        slots.iter_mut().for_each(|s| *s = None);
        let mut count = 0usize;
        let mut too_wide: Option<String> = None;
        let mut next = Some((first_col, first_val));
        loop {
            if let Some((col, val)) = next.take() {
                count += 1;
                if too_wide.is_none() {
                    if col >= MAX_COLUMNS {
                        too_wide = Some(format!(
                            "sheet '{sheet}': a cell beyond column XFD (column index {}); a sheet has at most {MAX_COLUMNS} columns",
                            u64::from(col) + 1
                        ));
                    } else if count > MAX_CELLS_PER_ROW {
                        too_wide = Some(format!(
                            "sheet '{sheet}': the row holds more than {MAX_CELLS_PER_ROW} cells, the most a row has"
                        ));
                    } else {
                        for (c, &i) in idx.iter().enumerate() {
                            if i == col as usize && slots[c].is_none() {
                                slots[c] = Some(val.clone());
                            }
                        }
                    }
                }
            }
            match cells.next_cell() {
                Ok(Some(c)) => {
                    let (r, col) = c.get_position();
                    if r != row {
                        pending = Some((r, col, text(c.get_value())));
                        break;
                    }
                    // only a mapped column's value is turned into text
                    let v = if idx.contains(&(col as usize)) {
                        text(c.get_value())
                    } else {
                        Ok(String::new())
                    };
                    next = Some((col, v));
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = tx.send(Err(RowError {
                        row: row1,
                        column: None,
                        rule: XLSX_MALFORMED,
                        message: format!("malformed XLSX: {e}"),
                        fatal: true,
                    }));
                    return;
                }
            }
        }
        let msg = if let Some(m) = too_wide {
            Err(RowError {
                row: row1,
                column: None,
                rule: XLSX_MALFORMED,
                message: m,
                fatal: false,
            })
        } else {
            let mut values = vec![Vec::new(); idx.len()];
            let mut bad = None;
            for (c, slot) in slots.iter_mut().enumerate() {
                match slot.take() {
                    None => {}
                    Some(Ok(s)) if s.trim().is_empty() => {}
                    Some(Ok(s))
                        if s.len() > MAX_CELL_CHARS && s.chars().count() > MAX_CELL_CHARS =>
                    {
                        bad = Some(RowError {
                            row: row1,
                            column: Some(columns[c].clone()),
                            rule: XLSX_MALFORMED,
                            message: format!(
                                "the cell holds {} characters, more than {MAX_CELL_CHARS}, the most a cell has",
                                s.chars().count()
                            ),
                            fatal: false,
                        });
                        break;
                    }
                    Some(Ok(s)) => values[c] = vec![s],
                    Some(Err(m)) => {
                        bad = Some(RowError {
                            row: row1,
                            column: Some(columns[c].clone()),
                            rule: XLSX_MALFORMED,
                            message: m,
                            fatal: false,
                        });
                        break;
                    }
                }
            }
            if values.iter().all(Vec::is_empty) && bad.is_none() {
                continue; // an empty row
            }
            match bad {
                Some(e) => Err(e),
                None => Ok(Record::new(row1, values)),
            }
        };
        if tx.send(msg).is_err() {
            return; // the consumer stopped
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn excel_serials() {
        assert_eq!(
            super::excel_serial_to_date(1.0).as_deref(),
            Some("1900-01-01")
        );
        assert_eq!(
            super::excel_serial_to_date(59.0).as_deref(),
            Some("1900-02-28")
        );
        assert_eq!(
            super::excel_serial_to_date(61.0).as_deref(),
            Some("1900-03-01")
        );
        assert_eq!(
            super::excel_serial_to_date(45658.0).as_deref(),
            Some("2025-01-01")
        );
        assert_eq!(
            super::excel_serial_to_date(46348.75).as_deref(),
            Some("2026-11-22")
        );
        assert_eq!(super::excel_serial_to_date(0.0), None);
    }
}
