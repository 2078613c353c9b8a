//! XML exports: one record per element at the `record` path; columns are paths relative to it
//! (`naam`, `adres/postcode`, `@id`, `adres/@soort`). Names match by local name, or by namespace
//! when written with a prefix declared under `namespaces`. Streamed with quick-xml.
use super::{Element, Record, Records, RowError, MAX_LINE, TOO_LARGE, XML_MALFORMED};
use crate::mapping::ListMap;
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

impl Column {
    fn matches(&self, rel: &[(Option<String>, String)]) -> bool {
        self.path.len() == rel.len()
            && self
                .path
                .iter()
                .zip(rel)
                .all(|(w, (ns, l))| matches(w, ns, l))
    }
}

fn parse_column(c: &str, namespaces: &BTreeMap<String, String>) -> Result<Column, String> {
    let (p, attr) = match c.rsplit_once('@') {
        Some((p, a)) => (p.trim_end_matches('/'), Some(parse_name(a, namespaces)?)),
        None => (c, None),
    };
    let path = p
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .map(|s| parse_name(s, namespaces))
        .collect::<Result<_, _>>()?;
    Ok(Column { path, attr })
}

/// A `[lists]` entry: the element path of one list element (relative to the record) and the
/// columns relative to that element.
struct List {
    path: Column,
    cols: Vec<Column>,
}

/// Elements nested deeper than this end the file (a well-formed export is a few levels deep).
const MAX_DEPTH: usize = 256;
/// The most bytes of values one record may hold; a larger record is rejected, the next is read.
const MAX_RECORD: usize = MAX_LINE;

/// The record being read.
struct Open {
    values: Vec<Vec<String>>,
    lists: Vec<Vec<Element>>,
    /// per list: the stack depth of its element being read, if one is open
    depth: Vec<Option<usize>>,
    /// bytes of text and attribute values seen in the record so far
    bytes: usize,
}

impl Open {
    /// Count `n` more bytes; false once the record is over its bound.
    fn room(&mut self, n: usize) -> bool {
        self.bytes = self.bytes.saturating_add(n);
        self.bytes <= MAX_RECORD
    }
}

type Stack = Vec<(Option<String>, String)>;
/// One scope of [`Open::scopes`]: where its values go, its columns, and the element path relative
/// to it.
type Scope<'a> = (
    &'a mut Vec<Vec<String>>,
    &'a [Column],
    &'a [(Option<String>, String)],
);

impl Open {
    /// Every (values, columns, relative path) scope the current element is in.
    fn scopes<'a>(
        &'a mut self,
        stack: &'a [(Option<String>, String)],
        cols: &'a [Column],
        lists: &'a [List],
        rec_len: usize,
    ) -> impl Iterator<Item = Scope<'a>> {
        let rec = std::iter::once((&mut self.values, cols, &stack[rec_len.min(stack.len())..]));
        let els = self
            .lists
            .iter_mut()
            .zip(&self.depth)
            .zip(lists)
            .filter_map(move |((els, d), l)| {
                let d = (*d)?;
                let e = els.last_mut()?;
                Some((e, l.cols.as_slice(), &stack[d.min(stack.len())..]))
            });
        rec.chain(els)
    }
}

fn resolve(r: ResolveResult<'_>) -> Option<String> {
    match r {
        ResolveResult::Bound(ns) => Some(AsRef::<str>::as_ref(&ns).to_string()),
        _ => None,
    }
}

/// The text of an XML entity reference (`amp`, `#233`, `#xE9`, ...); `None` for an unknown one.
pub fn entity(name: &str) -> Option<String> {
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
    list_maps: &[ListMap],
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
        .map(|c| parse_column(c, namespaces))
        .collect::<Result<_, String>>()?;
    let lists: Vec<List> = list_maps
        .iter()
        .map(|l| {
            let path = parse_column(&l.from, namespaces)?;
            if path.attr.is_some() || path.path.is_empty() {
                return Err(format!(
                    "lists.\"{}\".from: '{}' must name an element (a path relative to the record)",
                    l.target, l.from
                ));
            }
            let cols = l
                .columns
                .iter()
                .map(|c| parse_column(c, namespaces))
                .collect::<Result<_, String>>()?;
            Ok(List { path, cols })
        })
        .collect::<Result<_, String>>()?;
    let mut reader = NsReader::from_reader(BufReader::with_capacity(
        1 << 16,
        File::open(path).map_err(|e| e.to_string())?,
    ));
    let mut buf = Vec::new();
    let mut stack: Stack = Vec::new();
    let mut in_record: Option<Open> = None;
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
                    if stack.len() >= MAX_DEPTH {
                        done = true;
                        return Some(Err(RowError {
                            row: row + 1,
                            column: None,
                            rule: XML_MALFORMED,
                            message: format!("elements are nested deeper than {MAX_DEPTH} levels at byte {}; records after this point cannot be read", reader.buffer_position()),
                            fatal: true,
                        }));
                    }
                    let local = AsRef::<str>::as_ref(&e.local_name()).to_string();
                    stack.push((resolve(ns), local));
                    text.clear();
                    if in_record.is_none() && stack.len() == rec_len && in_rec(&stack) {
                        row += 1;
                        in_record = Some(Open {
                            values: vec![Vec::new(); ncols],
                            lists: vec![Vec::new(); lists.len()],
                            depth: vec![None; lists.len()],
                            bytes: 0,
                        });
                    }
                    if let Some(open) = in_record.as_mut() {
                        let rel = &stack[rec_len..];
                        for (g, l) in lists.iter().enumerate() {
                            if open.depth[g].is_none() && l.path.matches(rel) {
                                open.depth[g] = Some(stack.len());
                                open.lists[g].push(vec![Vec::new(); l.cols.len()]);
                            }
                        }
                        let mut attr_bytes = 0;
                        for (vals, cs, rel) in open.scopes(&stack, &cols, &lists, rec_len) {
                            for (i, c) in cs.iter().enumerate() {
                                let Some(a) = &c.attr else { continue };
                                if !c.matches(rel) {
                                    continue;
                                }
                                for at in e.attributes().flatten() {
                                    let (ans, aname) = reader.resolver().resolve_attribute(at.key);
                                    let aname = AsRef::<str>::as_ref(&aname).to_string();
                                    if matches(a, &resolve(ans), &aname) {
                                        if let Ok(v) =
                                            at.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                        {
                                            if !v.trim().is_empty() {
                                                attr_bytes += v.len();
                                                vals[i].push(v.into_owned());
                                            }
                                        }
                                    }
                                }
                            }
                        }
                        open.room(attr_bytes);
                    }
                    if is_empty {
                        if let Some(r) = close(
                            &mut stack,
                            &mut in_record,
                            &mut text,
                            &cols,
                            &lists,
                            rec_len,
                            row,
                        ) {
                            return Some(r);
                        }
                    }
                }
                Event::End(_) => {
                    if let Some(r) = close(
                        &mut stack,
                        &mut in_record,
                        &mut text,
                        &cols,
                        &lists,
                        rec_len,
                        row,
                    ) {
                        return Some(r);
                    }
                }
                Event::Text(t) => {
                    if let Some(open) = in_record.as_mut() {
                        let t = t.xml10_content();
                        if open.room(t.len()) {
                            text.push_str(&t);
                        }
                    }
                }
                Event::CData(t) => {
                    if let Some(open) = in_record.as_mut() {
                        if open.room(t.len()) {
                            text.push_str(&t);
                        }
                    }
                }
                Event::GeneralRef(r) => {
                    if let Some(open) = in_record.as_mut() {
                        let name = r.to_string();
                        let v = entity(&name).unwrap_or_else(|| format!("&{name};"));
                        if open.room(v.len()) {
                            text.push_str(&v);
                        }
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

/// An element ends: store its text if a column wants it; close a list element; emit the record
/// when it is the record's end.
fn close(
    stack: &mut Stack,
    in_record: &mut Option<Open>,
    text: &mut String,
    cols: &[Column],
    lists: &[List],
    rec_len: usize,
    row: u64,
) -> Option<Result<Record, RowError>> {
    if let Some(open) = in_record.as_mut() {
        let t = text.trim();
        if !t.is_empty() {
            for (vals, cs, rel) in open.scopes(stack, cols, lists, rec_len) {
                for (i, c) in cs.iter().enumerate() {
                    if c.attr.is_none() && c.matches(rel) {
                        vals[i].push(t.to_string());
                    }
                }
            }
        }
        for d in open.depth.iter_mut() {
            if *d == Some(stack.len()) {
                *d = None;
            }
        }
    }
    text.clear();
    let closing_record = stack.len() == rec_len && in_record.is_some();
    stack.pop();
    if closing_record {
        return in_record.take().map(|o| {
            if o.bytes > MAX_RECORD {
                return Err(RowError {
                    row,
                    column: None,
                    rule: TOO_LARGE,
                    message: format!("the record holds more than {MAX_RECORD} bytes of text"),
                    fatal: false,
                });
            }
            Ok(Record {
                row,
                values: o.values,
                lists: o.lists,
                doc: None,
            })
        });
    }
    None
}
