//! `matchgate validate`: streams records out of files and reports findings per record.
use crate::Format;
use anyhow::{anyhow, bail, Context};
use serde_json::value::RawValue;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use vum::{Finding, Kind, Severity, Validator};

pub struct Options {
    pub kind: Option<Kind>,
    pub format: Format,
    pub warnings: bool,
}

#[derive(Default)]
struct Totals {
    files: usize,
    records: usize,
    valid: usize,
    invalid: usize,
    warnings: usize,
    unreadable_files: usize,
}

struct Sink<'a> {
    out: io::BufWriter<io::StdoutLock<'a>>,
    opts: &'a Options,
    totals: Totals,
}

impl Sink<'_> {
    fn report(&mut self, file: &str, record: usize, kind: Option<Kind>, findings: &[Finding]) {
        self.totals.records += 1;
        let invalid = findings.iter().any(|f| f.severity == Severity::Error);
        if invalid {
            self.totals.invalid += 1;
        } else {
            self.totals.valid += 1;
        }
        for f in findings {
            if f.severity == Severity::Warning {
                self.totals.warnings += 1;
                if !self.opts.warnings {
                    continue;
                }
            }
            let _ = match self.opts.format {
                Format::Text => writeln!(self.out, "{}", text_line(file, record, f)),
                Format::Json => writeln!(
                    self.out,
                    "{}",
                    serde_json::json!({"file": file, "record": record, "kind": kind.map(|k| k.name()),
                        "rule": f.rule, "severity": f.severity, "pointer": f.pointer, "message": f.message})
                ),
            };
        }
    }
}

/// One finding as a text line. A pointer or message can hold the caller's text (a property name,
/// a value), so control characters are escaped (`\u{1b}`): a terminal never sees a raw escape
/// sequence or line break from the input. Backslashes are left as they are (regular expressions
/// in messages stay readable), so a literal `\u{1b}` in the input reads the same; `--format json`
/// is exact.
fn text_line(file: &str, record: usize, f: &Finding) -> String {
    format!(
        "{}:{record}:{} {} {}: {}",
        escape(file),
        escape(&f.pointer),
        escape(&f.rule),
        f.severity,
        escape(&f.message)
    )
}

/// Control characters (C0, DEL, C1, and the Unicode line and paragraph separators) as `\u{..}`;
/// everything else as is.
fn escape(s: &str) -> std::borrow::Cow<'_, str> {
    let needs = |c: char| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}');
    if !s.chars().any(needs) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if needs(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

pub fn run(validator: &Validator, files: &[PathBuf], opts: &Options) -> ExitCode {
    let stdout = io::stdout();
    let mut sink = Sink {
        out: io::BufWriter::new(stdout.lock()),
        opts,
        totals: Totals::default(),
    };
    for path in files {
        let name = path.display().to_string();
        let span = tracing::info_span!("validate_file", file = %name);
        let _g = span.enter();
        sink.totals.files += 1;
        if let Err(e) = validate_file(validator, path, &name, &mut sink) {
            sink.totals.unreadable_files += 1;
            let _ = sink.out.flush();
            let e = crate::chain(&*e);
            eprintln!("matchgate: {}: {}", escape(&name), escape(&e));
        }
    }
    let t = &sink.totals;
    let summary = format!(
        "{} file(s), {} record(s): {} valid, {} invalid, {} warning(s){}",
        t.files,
        t.records,
        t.valid,
        t.invalid,
        t.warnings,
        if t.unreadable_files > 0 {
            format!(", {} file(s) not read", t.unreadable_files)
        } else {
            String::new()
        }
    );
    let failed = t.invalid > 0 || t.unreadable_files > 0;
    let _ = match opts.format {
        Format::Text => writeln!(sink.out, "{summary}"),
        Format::Json => writeln!(
            sink.out,
            "{}",
            serde_json::json!({"summary": {"files": t.files, "records": t.records, "valid": t.valid,
                "invalid": t.invalid, "warnings": t.warnings, "unreadable_files": t.unreadable_files}})
        ),
    };
    let _ = sink.out.flush();
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn open(path: &Path) -> io::Result<Box<dyn BufRead>> {
    if path.as_os_str() == "-" {
        Ok(Box::new(BufReader::with_capacity(1 << 16, io::stdin())))
    } else {
        Ok(Box::new(BufReader::with_capacity(
            1 << 16,
            File::open(path)?,
        )))
    }
}

/// The kind for this file: the one given, or detected from its first record.
fn kind_for(opts: &Options, first: &[u8]) -> anyhow::Result<Kind> {
    if let Some(k) = opts.kind {
        return Ok(k);
    }
    let v: serde_json::Value = serde_json::from_slice(first)
        .map_err(|e| anyhow!("first record is not JSON ({e}); cannot detect its kind"))?;
    Kind::detect(&v).context("cannot tell the document kind from the first record; pass --kind")
}

fn validate_file(
    validator: &Validator,
    path: &Path,
    name: &str,
    sink: &mut Sink<'_>,
) -> anyhow::Result<()> {
    let mut reader = open(path)?;
    // skip a UTF-8 byte order mark and leading whitespace, then look at the first byte
    let first = loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            bail!("empty file, no records");
        }
        if buf.starts_with(&[0xEF, 0xBB, 0xBF]) {
            reader.consume(3);
            continue;
        }
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => {
                let b = buf[i];
                reader.consume(i);
                break b;
            }
            None => {
                let n = buf.len();
                reader.consume(n);
            }
        }
    };
    if first == b'[' {
        validate_array(validator, reader, name, sink)
    } else {
        validate_lines(validator, reader, name, sink)
    }
}

/// A JSON array: stream its elements one at a time, memory bounded by the largest element.
fn validate_array(
    validator: &Validator,
    reader: Box<dyn BufRead>,
    name: &str,
    sink: &mut Sink<'_>,
) -> anyhow::Result<()> {
    use serde::de::{DeserializeSeed, SeqAccess, Visitor};
    struct Each<'a, 'b> {
        validator: &'a Validator,
        name: &'a str,
        sink: &'a mut Sink<'b>,
        kind: Option<Kind>,
        error: Option<anyhow::Error>,
    }
    impl<'de> Visitor<'de> for &mut Each<'_, '_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON array of VUM documents")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let mut record = 0;
            while let Some(raw) = seq.next_element::<Box<RawValue>>()? {
                record += 1;
                let kind = match self.kind {
                    Some(k) => k,
                    None => match kind_for(self.sink.opts, raw.get().as_bytes()) {
                        Ok(k) => *self.kind.insert(k),
                        Err(e) => {
                            self.error = Some(e.context(format!("record {record}")));
                            return Ok(());
                        }
                    },
                };
                let report = self.validator.validate_slice(kind, raw.get().as_bytes());
                self.sink
                    .report(self.name, record, Some(kind), &report.findings);
            }
            Ok(())
        }
    }
    impl<'de> DeserializeSeed<'de> for &mut Each<'_, '_> {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_seq(self)
        }
    }
    let mut each = Each {
        validator,
        name,
        sink,
        kind: None,
        error: None,
    };
    let mut de = serde_json::Deserializer::from_reader(reader);
    let result = (&mut each).deserialize(&mut de).and_then(|()| de.end());
    if let Some(e) = each.error {
        return Err(e);
    }
    if let Err(e) = result {
        // a syntax error inside an array cannot be skipped: report it on the next record and stop
        let record = each.sink.totals.records + 1;
        let f = Finding {
            rule: vum::rules::JSON_SYNTAX.into(),
            severity: Severity::Error,
            pointer: String::new(),
            message: format!("{e}; the rest of the array cannot be read"),
        };
        each.sink.report(name, record, each.kind, &[f]);
    }
    Ok(())
}

/// NDJSON (one document per line), or a single document spread over lines.
fn validate_lines(
    validator: &Validator,
    mut reader: Box<dyn BufRead>,
    name: &str,
    sink: &mut Sink<'_>,
) -> anyhow::Result<()> {
    let mut first = Vec::new();
    reader.read_until(b'\n', &mut first)?;
    if serde_json::from_slice::<serde::de::IgnoredAny>(&first).is_err() {
        // not one document per line: a single (pretty-printed) document
        reader.read_to_end(&mut first)?;
        let kind = kind_for(sink.opts, &first)?;
        let report = validator.validate_slice(kind, &first);
        sink.report(name, 1, Some(kind), &report.findings);
        return Ok(());
    }
    let kind = kind_for(sink.opts, &first)?;
    let mut line = first;
    let mut record = 0;
    loop {
        if !line.iter().all(u8::is_ascii_whitespace) {
            record += 1;
            let report = validator.validate_slice(kind, &line);
            sink.report(name, record, Some(kind), &report.findings);
        }
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_text_output_escapes_control_characters() {
        let f = Finding {
            rule: "werkzoekenden#MPWerkzoekende/additionalProperties".into(),
            severity: Severity::Error,
            pointer: "/x\u{1b}[2J".into(),
            message: "property 'x\u{1b}[2J\r\nfake:1:/ ok' is not in the standard \u{9b}".into(),
        };
        let line = text_line("a\u{7}.json", 3, &f);
        assert_eq!(
            line,
            "a\\u{7}.json:3:/x\\u{1b}[2J werkzoekenden#MPWerkzoekende/additionalProperties error: \
             property 'x\\u{1b}[2J\\u{d}\\u{a}fake:1:/ ok' is not in the standard \\u{9b}"
        );
        assert!(!line.chars().any(char::is_control), "{line:?}");
        // ordinary text, accents included, is left alone
        let plain = Finding {
            message: "'Zoë' is not one of [\"a\"]".into(),
            pointer: "/naam".into(),
            ..f
        };
        assert!(text_line("b.json", 1, &plain).ends_with("error: 'Zoë' is not one of [\"a\"]"));
    }

    #[test]
    fn validate_text_output_of_a_hostile_property_name_is_one_line() {
        let v = Validator::with_today("2026-11-22");
        let r = v.validate_slice(
            Kind::Werkzoekende,
            b"{\"idWerkzoekende\":\"a1\",\"x\\u001b]0;owned\\u0007\\n\":1}",
        );
        let hostile: Vec<String> = r
            .findings
            .iter()
            .filter(|f| f.message.contains("owned"))
            .map(|f| text_line("f.json", 1, f))
            .collect();
        assert!(!hostile.is_empty(), "{:?}", r.findings);
        for line in hostile {
            assert!(!line.chars().any(char::is_control), "{line:?}");
            assert!(line.contains("\\u{1b}]0;owned\\u{7}\\u{a}"), "{line}");
        }
    }
}
