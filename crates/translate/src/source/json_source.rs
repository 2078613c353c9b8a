//! JSON (an array of records at `record_path`), NDJSON (one record per line, streamed) and `vum`
//! (documents already in VUM form: one document, an array, or NDJSON).
//! Columns are JSON pointers relative to the record; `*` stands for every element of an array.
//! A `[lists]` entry's `from` pointer (`/talen/*`) gives the elements; its columns are pointers
//! relative to one element, so the values of one element stay together.
use super::{
    Element, Record, Records, RowError, JSON_MALFORMED, MAX_LINE, MAX_WHOLE_FILE, TOO_LARGE,
};
use crate::mapping::ListMap;
use serde_json::Value;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

fn segments(pointer: &str) -> Vec<String> {
    pointer
        .trim_start_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// Every node the segments reach (`*`: each element of an array).
fn nodes<'a>(v: &'a Value, segs: &[String], out: &mut Vec<&'a Value>) {
    match segs.split_first() {
        None => out.push(v),
        Some((seg, rest)) if seg == "*" => {
            if let Value::Array(a) = v {
                a.iter().for_each(|x| nodes(x, rest, out));
            }
        }
        Some((seg, rest)) => {
            let next = match v {
                Value::Object(o) => o.get(seg),
                Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
                _ => None,
            };
            if let Some(n) = next {
                nodes(n, rest, out);
            }
        }
    }
}

/// The scalar values at a node: a string, number or boolean, or those of an array of them.
fn scalars(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Null | Value::Object(_) => {}
        Value::String(s) if s.trim().is_empty() => {}
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| scalars(x, out)),
        other => out.push(other.to_string()),
    }
}

fn values(v: &Value, segs: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    nodes(v, segs, &mut found);
    let mut out = Vec::new();
    found.into_iter().for_each(|n| scalars(n, &mut out));
    out
}

/// Column pointers and list specifications, split into segments once per file.
#[derive(Clone)]
struct Plan {
    columns: Vec<Vec<String>>,
    lists: Vec<(Vec<String>, Vec<Vec<String>>)>,
}

impl Plan {
    fn new(columns: &[String], lists: &[ListMap]) -> Plan {
        Plan {
            columns: columns.iter().map(|c| segments(c)).collect(),
            lists: lists
                .iter()
                .map(|l| {
                    (
                        segments(&l.from),
                        l.columns.iter().map(|c| segments(c)).collect(),
                    )
                })
                .collect(),
        }
    }

    fn record(&self, v: &Value, row: u64) -> Record {
        let vals = self.columns.iter().map(|segs| values(v, segs)).collect();
        let lists = self
            .lists
            .iter()
            .map(|(from, cols)| {
                let mut elements = Vec::new();
                nodes(v, from, &mut elements);
                elements
                    .into_iter()
                    .map(|e| cols.iter().map(|segs| values(e, segs)).collect::<Element>())
                    .collect()
            })
            .collect();
        Record {
            row,
            values: vals,
            lists,
            doc: None,
        }
    }
}

fn read_whole(path: &Path) -> Result<Value, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len > MAX_WHOLE_FILE {
        return Err(format!(
            "the file is {len} bytes; a JSON document is read whole up to {MAX_WHOLE_FILE} bytes: export larger files as NDJSON (one record per line)"
        ));
    }
    serde_json::from_reader(BufReader::new(file.take(MAX_WHOLE_FILE)))
        .map_err(|e| format!("malformed JSON: {e}"))
}

pub(super) fn open_json(
    path: &Path,
    columns: &[String],
    lists: &[ListMap],
    record_path: &str,
) -> Result<Records, String> {
    let mut doc = read_whole(path)?;
    let arr = doc
        .pointer_mut(record_path)
        .ok_or_else(|| format!("record_path '{record_path}' is not in the document"))?;
    let Value::Array(items) = arr.take() else {
        return Err(format!("record_path '{record_path}' is not an array"));
    };
    let plan = Plan::new(columns, lists);
    Ok(Box::new(
        items
            .into_iter()
            .enumerate()
            .map(move |(i, v)| Ok(plan.record(&v, i as u64 + 1))),
    ))
}

/// Lines of at most `MAX_LINE` bytes; a longer line is skipped and reported.
struct Lines {
    file: BufReader<File>,
    line: Vec<u8>,
    row: u64,
}

enum Line {
    Text(u64),
    TooLong(u64),
    Error(u64, std::io::Error),
    End,
}

impl Lines {
    fn open(path: &Path) -> Result<Lines, String> {
        Ok(Lines {
            file: BufReader::with_capacity(1 << 16, File::open(path).map_err(|e| e.to_string())?),
            line: Vec::new(),
            row: 0,
        })
    }

    fn next_line(&mut self) -> Line {
        self.line.clear();
        let mut too_long = false;
        let mut any = false;
        loop {
            let buf = match self.file.fill_buf() {
                Ok(b) => b,
                Err(e) => return Line::Error(self.row + 1, e),
            };
            if buf.is_empty() {
                break;
            }
            any = true;
            let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (&buf[..i], Some(i + 1)),
                None => (buf, None),
            };
            if !too_long && self.line.len() + chunk.len() <= MAX_LINE {
                self.line.extend_from_slice(chunk);
            } else {
                too_long = true;
                self.line.clear();
            }
            let used = done.unwrap_or(buf.len());
            self.file.consume(used);
            if done.is_some() {
                break;
            }
        }
        if !any {
            return Line::End;
        }
        self.row += 1;
        if too_long {
            Line::TooLong(self.row)
        } else {
            Line::Text(self.row)
        }
    }

    /// The next non-blank line parsed as JSON, or the row's error.
    fn next_value(&mut self) -> Option<Result<(u64, Value), RowError>> {
        loop {
            let row = match self.next_line() {
                Line::End => return None,
                Line::Error(row, e) => {
                    return Some(Err(RowError {
                        row,
                        column: None,
                        rule: JSON_MALFORMED,
                        message: e.to_string(),
                        fatal: true,
                    }))
                }
                Line::TooLong(row) => {
                    return Some(Err(RowError {
                        row,
                        column: None,
                        rule: TOO_LARGE,
                        message: format!("line {row} is longer than {MAX_LINE} bytes"),
                        fatal: false,
                    }))
                }
                Line::Text(row) => row,
            };
            if self.line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Some(
                serde_json::from_slice::<Value>(&self.line)
                    .map(|v| (row, v))
                    .map_err(|e| RowError {
                        row,
                        column: None,
                        rule: JSON_MALFORMED,
                        message: format!("line {row} is not JSON: {e}"),
                        fatal: false,
                    }),
            );
        }
    }
}

pub(super) fn open_ndjson(
    path: &Path,
    columns: &[String],
    lists: &[ListMap],
) -> Result<Records, String> {
    let mut lines = Lines::open(path)?;
    let plan = Plan::new(columns, lists);
    Ok(Box::new(std::iter::from_fn(move || {
        lines
            .next_value()
            .map(|r| r.map(|(row, v)| plan.record(&v, row)))
    })))
}

/// Documents in VUM form: a JSON array of documents or one document (read whole), or NDJSON
/// (one document per line, streamed). The record carries the document; mapped columns (a
/// consent pointer) are read from it as from any JSON record.
pub(super) fn open_vum(path: &Path, columns: &[String]) -> Result<Records, String> {
    let plan = Plan::new(columns, &[]);
    let with_doc = move |v: Value, row: u64| {
        let mut r = plan.record(&v, row);
        r.doc = Some(v);
        r
    };
    // NDJSON when the first non-blank line is a whole JSON value and more follows
    let mut lines = Lines::open(path)?;
    let first = lines.next_value();
    let single_line_docs = match &first {
        Some(Ok((_, v))) => v.is_object(),
        _ => false,
    };
    if single_line_docs && lines.next_value().is_some() {
        let mut lines = Lines::open(path)?;
        return Ok(Box::new(std::iter::from_fn(move || {
            lines
                .next_value()
                .map(|r| r.map(|(row, v)| with_doc(v, row)))
        })));
    }
    match read_whole(path)? {
        Value::Array(items) => Ok(Box::new(
            items
                .into_iter()
                .enumerate()
                .map(move |(i, v)| Ok(with_doc(v, i as u64 + 1))),
        )),
        v @ Value::Object(_) => Ok(Box::new(std::iter::once(Ok(with_doc(v, 1))))),
        _ => Err("expected a VUM document (an object), an array of them, or NDJSON".into()),
    }
}
