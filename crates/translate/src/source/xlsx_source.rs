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

fn text(v: &DataRef<'_>) -> Result<String, String> {
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

/// Opens the workbook on a reader thread that owns it and streams rows through a bounded channel
/// (calamine's cell reader borrows the workbook, and the thread also overlaps parsing with mapping).
pub(super) fn open(
    path: &Path,
    columns: &[String],
    sheet: Option<&str>,
    header_row: u64,
) -> Result<Records, String> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Record, RowError>>(1024);
    let (htx, hrx) = std::sync::mpsc::sync_channel::<Result<(), String>>(1);
    let (path, columns, sheet) = (
        path.to_path_buf(),
        columns.to_vec(),
        sheet.map(str::to_string),
    );
    std::thread::Builder::new()
        .name("xlsx-reader".into())
        .spawn(move || read(&path, &columns, sheet.as_deref(), header_row, &htx, &tx))
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
    let header_idx = header_row.saturating_sub(1) as u32;
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
    header(Ok(()));
    while let Some((row, first_col, first_val)) = pending.take() {
        let mut cellvals: Vec<(u32, Result<String, String>)> = vec![(first_col, first_val)];
        loop {
            match cells.next_cell() {
                Ok(Some(c)) => {
                    let (r, col) = c.get_position();
                    if r != row {
                        pending = Some((r, col, text(c.get_value())));
                        break;
                    }
                    cellvals.push((col, text(c.get_value())));
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = tx.send(Err(RowError {
                        row: u64::from(row) + 1,
                        column: None,
                        rule: XLSX_MALFORMED,
                        message: format!("malformed XLSX: {e}"),
                        fatal: true,
                    }));
                    return;
                }
            }
        }
        let row1 = u64::from(row) + 1;
        let mut values = vec![Vec::new(); idx.len()];
        let mut bad = None;
        for (c, &i) in idx.iter().enumerate() {
            if let Some((_, v)) = cellvals.iter().find(|(col, _)| *col as usize == i) {
                match v {
                    Ok(s) if s.trim().is_empty() => {}
                    Ok(s) => values[c] = vec![s.clone()],
                    Err(m) => {
                        bad = Some(RowError {
                            row: row1,
                            column: Some(columns[c].clone()),
                            rule: XLSX_MALFORMED,
                            message: m.clone(),
                            fatal: false,
                        });
                        break;
                    }
                }
            }
        }
        if values.iter().all(Vec::is_empty) && bad.is_none() {
            continue; // an empty row
        }
        let msg = match bad {
            Some(e) => Err(e),
            None => Ok(Record::new(row1, values)),
        };
        if tx.send(msg).is_err() {
            return; // the consumer stopped
        }
    }
}
