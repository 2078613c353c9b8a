//! XML exports: one record per element at the `record` path; columns are paths relative to it
//! (`naam`, `adres/postcode`, `@id`, `adres/@soort`). Names match by local name, or by namespace
//! when written with a prefix declared under `namespaces`. Streamed with quick-xml.
use super::{Record, Records, RowError, XML_MALFORMED};
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

#[derive(Debug, Clone, PartialEq)]
struct Name {
    ns: Option<String>,
    local: String,
}

fn parse_name(s: &str, namespaces: &BTreeMap<String, String>) -> Result<Name, String> {
    match s.split_once(':') {
        Some((p, l)) => {
            Ok(Name {
                ns: Some(namespaces.get(p).cloned().ok_or_else(|| {
                    format!("prefix '{p}' is not declared under source.namespaces")
                })?),
                local: l.into(),
            })
        }
        None => Ok(Name {
            ns: None,
            local: s.into(),
        }),
    }
}

fn matches(want: &Name, ns: &Option<String>, local: &str) -> bool {
    want.local == local && (want.ns.is_none() || want.ns == *ns)
}

struct Column {
    path: Vec<Name>,
    attr: Option<Name>,
}

fn resolve(r: ResolveResult<'_>) -> Option<String> {
    match r {
        ResolveResult::Bound(ns) => Some(AsRef::<str>::as_ref(&ns).to_string()),
        _ => None,
    }
}

fn entity(name: &str) -> Option<String> {
    Some(match name {
        "amp" => "&".into(),
        "lt" => "<".into(),
        "gt" => ">".into(),
        "quot" => "\"".into(),
        "apos" => "'".into(),
        n if n.starts_with("#x") => {
            char::from_u32(u32::from_str_radix(&n[2..], 16).ok()?)?.to_string()
        }
        n if n.starts_with('#') => char::from_u32(n[1..].parse().ok()?)?.to_string(),
        _ => return None,
    })
}

pub(super) fn open(
    path: &Path,
    columns: &[String],
    record: &str,
    namespaces: &BTreeMap<String, String>,
) -> Result<Records, String> {
    let rec: Vec<Name> = record
        .trim_matches('/')
        .split('/')
        .map(|s| parse_name(s, namespaces))
        .collect::<Result<_, _>>()?;
    let cols: Vec<Column> = columns
        .iter()
        .map(|c| {
            let (p, attr) = match c.rsplit_once('@') {
                Some((p, a)) => (p.trim_end_matches('/'), Some(parse_name(a, namespaces)?)),
                None => (c.as_str(), None),
            };
            let path = p
                .split('/')
                .filter(|s| !s.is_empty())
                .map(|s| parse_name(s, namespaces))
                .collect::<Result<_, _>>()?;
            Ok(Column { path, attr })
        })
        .collect::<Result<_, String>>()?;
    let mut reader = NsReader::from_reader(BufReader::with_capacity(
        1 << 16,
        File::open(path).map_err(|e| e.to_string())?,
    ));
    let mut buf = Vec::new();
    let mut stack: Vec<(Option<String>, String)> = Vec::new();
    let mut in_record: Option<Vec<Vec<String>>> = None;
    let mut text = String::new();
    let mut row = 0u64;
    let mut done = false;
    let ncols = cols.len();
    let in_rec = move |stack: &[(Option<String>, String)]| {
        stack.len() >= rec.len() && rec.iter().zip(stack).all(|(w, (ns, l))| matches(w, ns, l))
    };
    let rec_len = record.trim_matches('/').split('/').count();
    Ok(Box::new(std::iter::from_fn(move || {
        if done {
            return None;
        }
        loop {
            buf.clear();
            let ev = reader.read_resolved_event_into(&mut buf);
            let (ns, ev) = match ev {
                Ok(x) => x,
                Err(e) => {
                    done = true;
                    return Some(Err(RowError {
                        row: if in_record.is_some() { row } else { row + 1 },
                        column: None,
                        rule: XML_MALFORMED,
                        message: format!("malformed XML at byte {}: {e}; records after this point cannot be read", reader.buffer_position()),
                        fatal: true,
                    }));
                }
            };
            match ev {
                ev @ (Event::Start(_) | Event::Empty(_)) => {
                    let (e, is_empty) = match ev {
                        Event::Start(e) => (e, false),
                        Event::Empty(e) => (e, true),
                        _ => unreachable!(),
                    };
                    let local = AsRef::<str>::as_ref(&e.local_name()).to_string();
                    stack.push((resolve(ns), local));
                    text.clear();
                    if in_record.is_none() && stack.len() == rec_len && in_rec(&stack) {
                        row += 1;
                        in_record = Some(vec![Vec::new(); ncols]);
                    }
                    if let Some(vals) = in_record.as_mut() {
                        let rel = &stack[rec_len..];
                        for (i, c) in cols.iter().enumerate() {
                            let Some(a) = &c.attr else { continue };
                            if c.path.len() == rel.len()
                                && c.path.iter().zip(rel).all(|(w, (ns, l))| matches(w, ns, l))
                            {
                                for at in e.attributes().flatten() {
                                    let (ans, aname) = reader.resolver().resolve_attribute(at.key);
                                    let aname = AsRef::<str>::as_ref(&aname).to_string();
                                    if matches(a, &resolve(ans), &aname) {
                                        if let Ok(v) =
                                            at.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                        {
                                            if !v.trim().is_empty() {
                                                vals[i].push(v.into_owned());
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    if is_empty {
                        if let Some(r) =
                            close(&mut stack, &mut in_record, &mut text, &cols, rec_len, row)
                        {
                            return Some(Ok(r));
                        }
                    }
                }
                Event::End(_) => {
                    if let Some(r) =
                        close(&mut stack, &mut in_record, &mut text, &cols, rec_len, row)
                    {
                        return Some(Ok(r));
                    }
                }
                Event::Text(t) => {
                    if in_record.is_some() {
                        text.push_str(&t.xml10_content());
                    }
                }
                Event::CData(t) => {
                    if in_record.is_some() {
                        text.push_str(&t);
                    }
                }
                Event::GeneralRef(r) => {
                    if in_record.is_some() {
                        let name = r.to_string();
                        text.push_str(&entity(&name).unwrap_or_else(|| format!("&{name};")));
                    }
                }
                Event::Eof => {
                    done = true;
                    if !stack.is_empty() {
                        return Some(Err(RowError {
                            row: row + 1,
                            column: None,
                            rule: XML_MALFORMED,
                            message: format!(
                                "the document ends inside <{}>",
                                stack.last().map(|s| s.1.as_str()).unwrap_or("")
                            ),
                            fatal: true,
                        }));
                    }
                    return None;
                }
                _ => {}
            }
        }
    })))
}

/// An element ends: store its text if a column wants it; emit the record when it is the record's end.
fn close(
    stack: &mut Vec<(Option<String>, String)>,
    in_record: &mut Option<Vec<Vec<String>>>,
    text: &mut String,
    cols: &[Column],
    rec_len: usize,
    row: u64,
) -> Option<Record> {
    if let Some(vals) = in_record.as_mut() {
        let rel = &stack[rec_len.min(stack.len())..];
        let t = text.trim();
        if !t.is_empty() {
            for (i, c) in cols.iter().enumerate() {
                if c.attr.is_none()
                    && c.path.len() == rel.len()
                    && c.path.iter().zip(rel).all(|(w, (ns, l))| matches(w, ns, l))
                {
                    vals[i].push(t.to_string());
                }
            }
        }
    }
    text.clear();
    let closing_record = stack.len() == rec_len && in_record.is_some();
    stack.pop();
    if closing_record {
        return in_record.take().map(|values| Record { row, values });
    }
    None
}
