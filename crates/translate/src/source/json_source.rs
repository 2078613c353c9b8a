//! JSON (an array of records at `record_path`) and NDJSON (one record per line, streamed).
//! Columns are JSON pointers relative to the record; `*` stands for every element of an array.
use super::{Record, Records, RowError, JSON_MALFORMED};
use serde_json::Value;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

fn collect(v: &Value, segs: &[&str], out: &mut Vec<String>) {
    match segs.split_first() {
        None => match v {
            Value::Null => {}
            Value::String(s) if s.trim().is_empty() => {}
            Value::String(s) => out.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|x| collect(x, &[], out)),
            Value::Object(_) => {}
            other => out.push(other.to_string()),
        },
        Some((&"*", rest)) => {
            if let Value::Array(a) = v {
                a.iter().for_each(|x| collect(x, rest, out));
            }
        }
        Some((seg, rest)) => {
            let key = seg.replace("~1", "/").replace("~0", "~");
            let next = match v {
                Value::Object(o) => o.get(&key),
                Value::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get(i)),
                _ => None,
            };
            if let Some(n) = next {
                collect(n, rest, out);
            }
        }
    }
}

fn record(v: &Value, columns: &[String], row: u64) -> Record {
    let values = columns
        .iter()
        .map(|c| {
            let segs: Vec<&str> = c
                .trim_start_matches('/')
                .split('/')
                .filter(|s| !s.is_empty())
                .collect();
            let mut out = Vec::new();
            collect(v, &segs, &mut out);
            out
        })
        .collect();
    Record { row, values }
}

pub(super) fn open_json(
    path: &Path,
    columns: &[String],
    record_path: &str,
) -> Result<Records, String> {
    let file = BufReader::new(File::open(path).map_err(|e| e.to_string())?);
    let doc: Value = serde_json::from_reader(file).map_err(|e| format!("malformed JSON: {e}"))?;
    let arr = doc
        .pointer(record_path)
        .ok_or_else(|| format!("record_path '{record_path}' is not in the document"))?;
    let Value::Array(items) = arr else {
        return Err(format!("record_path '{record_path}' is not an array"));
    };
    let columns = columns.to_vec();
    let items = items.clone();
    Ok(Box::new(
        items
            .into_iter()
            .enumerate()
            .map(move |(i, v)| Ok(record(&v, &columns, i as u64 + 1))),
    ))
}

pub(super) fn open_ndjson(path: &Path, columns: &[String]) -> Result<Records, String> {
    let mut file = BufReader::with_capacity(1 << 16, File::open(path).map_err(|e| e.to_string())?);
    let columns = columns.to_vec();
    let mut line = String::new();
    let mut row = 0u64;
    Ok(Box::new(std::iter::from_fn(move || loop {
        line.clear();
        match file.read_line(&mut line) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(e) => {
                return Some(Err(RowError {
                    row: row + 1,
                    column: None,
                    rule: JSON_MALFORMED,
                    message: e.to_string(),
                    fatal: true,
                }))
            }
        }
        row += 1;
        if line.trim().is_empty() {
            continue;
        }
        return Some(match serde_json::from_str::<Value>(&line) {
            Ok(v) => Ok(record(&v, &columns, row)),
            Err(e) => Err(RowError {
                row,
                column: None,
                rule: JSON_MALFORMED,
                message: format!("line {row} is not JSON: {e}"),
                fatal: false,
            }),
        });
    })))
}
