//! The mapping file (TOML): where records come from and how each VUM property is filled.
//! The reference is `docs/mapping.md`. A mapping is checked completely when it is loaded: every
//! target must be a property the standard has, every lookup must exist, contact details need a
//! consent rule; a mistake is reported with the field it concerns, before any record is read.
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use vum::{Family, Kind};

#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{path}: {field}: {message}")]
    Field {
        path: PathBuf,
        field: String,
        message: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMapping {
    kind: String,
    #[serde(default)]
    description: Option<String>,
    source: SourceConfig,
    identity: IdentityConfig,
    #[serde(default)]
    consent: Option<ConsentConfig>,
    #[serde(default)]
    filter: Vec<FilterConfig>,
    #[serde(default)]
    lookups: BTreeMap<String, LookupConfig>,
    fields: BTreeMap<String, FieldConfig>,
}

/// Where records come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, tag = "format", rename_all = "lowercase")]
pub enum SourceConfig {
    Csv {
        #[serde(default = "default_delimiter")]
        delimiter: String,
        #[serde(default = "default_quote")]
        quote: String,
        #[serde(default)]
        encoding: Encoding,
        /// 1-based row that holds the column names
        #[serde(default = "one")]
        header_row: u64,
    },
    Xlsx {
        #[serde(default)]
        sheet: Option<String>,
        #[serde(default = "one")]
        header_row: u64,
    },
    Xml {
        /// element path of one record, e.g. "export/clienten/client"
        record: String,
        /// prefix -> namespace URI, for prefixed names in `record` and columns
        #[serde(default)]
        namespaces: BTreeMap<String, String>,
    },
    Json {
        /// JSON pointer to the array of records ("" for a top-level array)
        #[serde(default)]
        record_path: String,
    },
    Ndjson {},
}

fn default_delimiter() -> String {
    ",".into()
}
fn default_quote() -> String {
    "\"".into()
}
fn one() -> u64 {
    1
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    #[default]
    #[serde(rename = "utf-8")]
    Utf8,
    #[serde(rename = "windows-1252")]
    Windows1252,
    #[serde(rename = "iso-8859-1")]
    Iso88591,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentityConfig {
    column: String,
    #[serde(default)]
    bsn_column: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsentConfig {
    column: String,
    /// values that allow sharing the record at all; other rows are filtered
    share: Vec<String>,
    /// values that also allow contact details (default: none)
    #[serde(default)]
    contact: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilterConfig {
    column: String,
    #[serde(default, rename = "in")]
    one_of: Option<Vec<String>>,
    #[serde(default)]
    not_in: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LookupConfig {
    file: PathBuf,
    key: String,
    value: String,
    #[serde(default = "default_delimiter")]
    delimiter: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldConfig {
    #[serde(default)]
    column: Option<String>,
    #[serde(default)]
    value: Option<toml::Value>,
    #[serde(default)]
    default: Option<toml::Value>,
    #[serde(default)]
    split: Option<String>,
    #[serde(default)]
    map: Option<BTreeMap<String, toml::Value>>,
    #[serde(default)]
    lookup: Option<String>,
    #[serde(default)]
    unmapped: Option<Unmapped>,
    #[serde(default)]
    date_format: Option<String>,
    #[serde(default)]
    required: bool,
    /// characters removed from the value before anything else (e.g. " " for "3011 AB")
    #[serde(default)]
    remove: Option<String>,
    /// upper-case the value (after `remove`)
    #[serde(default)]
    uppercase: bool,
}

/// What to do with a value the map or lookup does not know.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Unmapped {
    Reject,
    Drop,
    Keep,
}

/// One step of a target path: a property, then maybe an array position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Prop(String),
    /// `[]`: the i-th value of the field goes to the i-th element
    Each,
    /// `[n]`
    Index(usize),
}

/// The scalar type of a target, from the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeafType {
    String,
    Date,
    Integer,
}

/// Privacy class of a target (werkzoekenden only; see `privacy_class`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privacy {
    Plain,
    /// contact details: written only when consent allows
    Contact,
    /// free text: scanned for BSNs, e-mail addresses, phone numbers and IBANs
    FreeText,
}

#[derive(Debug, Clone)]
pub enum ValueSource {
    Column(usize),
    Constant(String),
}

#[derive(Debug, Clone)]
pub struct Field {
    pub target: String,
    pub steps: Vec<Step>,
    pub leaf: LeafType,
    pub privacy: Privacy,
    pub source: ValueSource,
    pub default: Option<String>,
    pub split: Option<String>,
    /// value map (inline `map` or a `lookup`), keys compared after trimming
    pub map: Option<HashMap<String, String>>,
    pub unmapped: Unmapped,
    pub date_format: Option<DateFormat>,
    pub required: bool,
    pub remove: Option<String>,
    pub uppercase: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateFormat {
    Iso,
    DayMonthYear(char),
    Excel,
}

#[derive(Debug, Clone)]
pub struct Filter {
    pub column: usize,
    pub one_of: Option<Vec<String>>,
    pub not_in: Option<Vec<String>>,
}

/// A checked mapping, ready to drive a translation.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub path: PathBuf,
    pub kind: Kind,
    pub description: Option<String>,
    pub source: SourceConfig,
    /// every source column (CSV/XLSX header name, XML path, JSON pointer) the mapping reads, in order
    pub columns: Vec<String>,
    pub id_column: usize,
    pub bsn_column: Option<usize>,
    pub consent: Option<(usize, Vec<String>, Vec<String>)>,
    pub filters: Vec<Filter>,
    pub fields: Vec<Field>,
}

impl Mapping {
    pub fn load(path: &Path) -> Result<Mapping, MappingError> {
        let text = std::fs::read_to_string(path).map_err(|source| MappingError::Read {
            path: path.into(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parse a mapping; `path` names it in errors and anchors relative lookup files.
    pub fn parse(text: &str, path: &Path) -> Result<Mapping, MappingError> {
        let raw: RawMapping = toml::from_str(text).map_err(|e| MappingError::Syntax {
            path: path.into(),
            message: e.to_string(),
        })?;
        let ferr = |field: &str, message: String| MappingError::Field {
            path: path.into(),
            field: field.into(),
            message,
        };
        let kind: Kind = raw.kind.parse().map_err(|e: String| ferr("kind", e))?;
        if !matches!(kind, Kind::Werkzoekende | Kind::Vacature) {
            return Err(ferr(
                "kind",
                "a mapping produces 'werkzoekende' or 'vacature' documents".into(),
            ));
        }
        let mut columns: Vec<String> = Vec::new();
        let mut col = |name: &str| -> usize {
            if let Some(i) = columns.iter().position(|c| c == name) {
                return i;
            }
            columns.push(name.to_string());
            columns.len() - 1
        };
        let id_column = col(&raw.identity.column);
        let bsn_column = raw.identity.bsn_column.as_deref().map(&mut col);
        let consent = raw
            .consent
            .as_ref()
            .map(|c| (col(&c.column), c.share.clone(), c.contact.clone()));
        let filters = raw
            .filter
            .iter()
            .map(|f| Filter {
                column: col(&f.column),
                one_of: f.one_of.clone(),
                not_in: f.not_in.clone(),
            })
            .collect();
        let base = path.parent().unwrap_or(Path::new("."));
        let mut lookups: HashMap<String, HashMap<String, String>> = HashMap::new();
        for (name, l) in &raw.lookups {
            lookups.insert(
                name.clone(),
                load_lookup(&base.join(&l.file), l)
                    .map_err(|m| ferr(&format!("lookups.{name}"), m))?,
            );
        }
        let family = kind.family();
        let schema = vum_schema(family);
        let mut fields = Vec::new();
        for (target, fc) in &raw.fields {
            let fname = format!("fields.\"{target}\"");
            let steps = parse_target(target).map_err(|m| ferr(&fname, m))?;
            let (leaf, id_prop) =
                resolve(&schema, kind.root_def(), &steps).map_err(|m| ferr(&fname, m))?;
            if id_prop {
                return Err(ferr(&fname, "the record id is derived from [identity] (a keyed hash of the local id); it cannot be mapped".into()));
            }
            let privacy = privacy_class(family, &steps);
            if privacy == Privacy::Contact
                && raw.consent.as_ref().is_none_or(|c| c.contact.is_empty())
            {
                return Err(ferr(&fname, "contact details need a [consent] rule with 'contact' values: they are written only for records whose consent allows it".into()));
            }
            let source = match (&fc.column, &fc.value) {
                (Some(c), None) => ValueSource::Column(col(c)),
                (None, Some(v)) => {
                    ValueSource::Constant(toml_scalar(v).map_err(|m| ferr(&fname, m))?)
                }
                _ => {
                    return Err(ferr(
                        &fname,
                        "give exactly one of 'column' or 'value'".into(),
                    ))
                }
            };
            let mut map = match &fc.map {
                Some(m) => Some(
                    m.iter()
                        .map(|(k, v)| Ok((k.trim().to_string(), toml_scalar(v)?)))
                        .collect::<Result<HashMap<_, _>, String>>()
                        .map_err(|m| ferr(&fname, m))?,
                ),
                None => None,
            };
            if let Some(l) = &fc.lookup {
                let table = lookups.get(l).ok_or_else(|| {
                    ferr(
                        &fname,
                        format!("lookup '{l}' is not defined under [lookups]"),
                    )
                })?;
                let m = map.get_or_insert_with(HashMap::new);
                for (k, v) in table {
                    m.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            let date_format = match fc.date_format.as_deref() {
                None => None,
                Some("yyyy-mm-dd") => Some(DateFormat::Iso),
                Some("dd-mm-yyyy") => Some(DateFormat::DayMonthYear('-')),
                Some("dd/mm/yyyy") => Some(DateFormat::DayMonthYear('/')),
                Some("dd.mm.yyyy") => Some(DateFormat::DayMonthYear('.')),
                Some("excel") => Some(DateFormat::Excel),
                Some(other) => return Err(ferr(&fname, format!("date_format '{other}': use yyyy-mm-dd, dd-mm-yyyy, dd/mm/yyyy, dd.mm.yyyy or excel"))),
            };
            if date_format.is_some() && leaf != LeafType::Date {
                return Err(ferr(
                    &fname,
                    "date_format on a property that is not a date".into(),
                ));
            }
            if fc.split.is_some() && !steps.contains(&Step::Each) {
                return Err(ferr(
                    &fname,
                    "'split' needs a '[]' in the target to put each part in its own element".into(),
                ));
            }
            fields.push(Field {
                target: target.clone(),
                steps,
                leaf,
                privacy,
                source,
                default: fc
                    .default
                    .as_ref()
                    .map(toml_scalar)
                    .transpose()
                    .map_err(|m| ferr(&fname, m))?,
                split: fc.split.clone(),
                map,
                unmapped: fc.unmapped.unwrap_or(Unmapped::Reject),
                date_format,
                required: fc.required,
                remove: fc.remove.clone(),
                uppercase: fc.uppercase,
            });
        }
        if fields.is_empty() {
            return Err(ferr("fields", "the mapping maps no property".into()));
        }
        if let SourceConfig::Csv {
            delimiter, quote, ..
        } = &raw.source
        {
            if delimiter.len() != 1 || quote.len() != 1 {
                return Err(ferr(
                    "source",
                    "delimiter and quote are single ASCII characters".into(),
                ));
            }
        }
        Ok(Mapping {
            path: path.into(),
            kind,
            description: raw.description,
            source: raw.source,
            columns,
            id_column,
            bsn_column,
            consent,
            filters,
            fields,
        })
    }
}

fn toml_scalar(v: &toml::Value) -> Result<String, String> {
    match v {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        other => Err(format!(
            "expected a string or integer, found {}",
            other.type_str()
        )),
    }
}

fn load_lookup(path: &Path, l: &LookupConfig) -> Result<HashMap<String, String>, String> {
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(l.delimiter.as_bytes().first().copied().unwrap_or(b','))
        .from_path(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let headers = rdr
        .headers()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .clone();
    let k = headers
        .iter()
        .position(|h| h.trim_start_matches('\u{feff}') == l.key)
        .ok_or_else(|| format!("{}: no column '{}'", path.display(), l.key))?;
    let v = headers
        .iter()
        .position(|h| h == l.value)
        .ok_or_else(|| format!("{}: no column '{}'", path.display(), l.value))?;
    let mut out = HashMap::new();
    for (i, r) in rdr.records().enumerate() {
        let r = r.map_err(|e| format!("{} row {}: {e}", path.display(), i + 2))?;
        out.insert(
            r.get(k).unwrap_or_default().trim().to_string(),
            r.get(v).unwrap_or_default().trim().to_string(),
        );
    }
    Ok(out)
}

/// `a.b[].c` / `a.b[0].c` -> steps
pub fn parse_target(t: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    for part in t.split('.') {
        let (name, rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if name.is_empty() {
            return Err(format!("'{t}': empty property name"));
        }
        steps.push(Step::Prop(name.to_string()));
        let mut rest = rest;
        while !rest.is_empty() {
            let end = rest
                .find(']')
                .ok_or_else(|| format!("'{t}': unclosed '['"))?;
            let inner = &rest[1..end];
            steps.push(if inner.is_empty() {
                Step::Each
            } else {
                Step::Index(
                    inner
                        .parse()
                        .map_err(|_| format!("'{t}': '[{inner}]' is not an index"))?,
                )
            });
            rest = &rest[end + 1..];
        }
    }
    Ok(steps)
}

fn vum_schema(family: Family) -> Value {
    let text = match family {
        Family::Werkzoekenden => include_str!("../../../schemas/vum-werkzoekenden.schema.json"),
        Family::Vacatures => include_str!("../../../schemas/vum-vacatures.schema.json"),
    };
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// Walk the schema along the steps; return the leaf type and whether it is the record id.
fn resolve(schema: &Value, root: &str, steps: &[Step]) -> Result<(LeafType, bool), String> {
    let defs = &schema["$defs"];
    let deref = |n: &Value| -> Value {
        let mut n = n;
        let mut fmt = None;
        while let Some(r) = n.get("$ref").and_then(Value::as_str) {
            if fmt.is_none() {
                fmt = n.get("format").cloned();
            }
            n = &defs[r.rsplit('/').next().unwrap_or_default()];
        }
        let mut out = n.clone();
        if let (Some(f), Some(o)) = (fmt, out.as_object_mut()) {
            o.insert("format".into(), f);
        }
        out
    };
    let mut node = deref(&defs[root]);
    let mut where_ = root.to_string();
    let mut i = 0;
    while i < steps.len() {
        match &steps[i] {
            Step::Prop(p) => {
                let props = node
                    .get("properties")
                    .and_then(Value::as_object)
                    .ok_or_else(|| format!("{where_} has no properties"))?;
                let next = props.get(p).ok_or_else(|| {
                    let names: Vec<&str> = props.keys().map(String::as_str).collect();
                    format!(
                        "'{p}' is not a property of {where_}; it has: {}",
                        names.join(", ")
                    )
                })?;
                node = deref(next);
                where_ = format!("{where_}.{p}");
                if node.get("type").and_then(Value::as_str) == Some("array") {
                    match steps.get(i + 1) {
                        Some(Step::Each | Step::Index(_)) => {
                            i += 1;
                            node = deref(&node["items"]);
                        }
                        _ => {
                            return Err(format!(
                            "{where_} is a list: write '{p}[]' (one element per value) or '{p}[0]'"
                        ))
                        }
                    }
                }
            }
            Step::Each | Step::Index(_) => return Err(format!("{where_} is not a list")),
        }
        i += 1;
    }
    let is_id = matches!(steps, [Step::Prop(p)] if p == "idWerkzoekende" || p == "idVacature");
    match node.get("type").and_then(Value::as_str) {
        Some("string") if node.get("format").and_then(Value::as_str) == Some("date") => {
            Ok((LeafType::Date, is_id))
        }
        Some("string") => Ok((LeafType::String, is_id)),
        Some("integer") => Ok((LeafType::Integer, is_id)),
        other => Err(format!(
            "{where_} is {}, not a single value: map its parts",
            other.unwrap_or("unknown")
        )),
    }
}

/// Contact details and free text of a jobseeker (vacancies carry an employer's contact, no consent).
fn privacy_class(family: Family, steps: &[Step]) -> Privacy {
    let Some(Step::Prop(first)) = steps.first() else {
        return Privacy::Plain;
    };
    let Some(Step::Prop(last)) = steps.iter().rev().find(|s| matches!(s, Step::Prop(_))) else {
        return Privacy::Plain;
    };
    if family == Family::Werkzoekenden
        && matches!(
            first.as_str(),
            "emailadres" | "telefoonnummer" | "contactpersoon" | "webadres"
        )
    {
        return Privacy::Contact;
    }
    let free = vum::privacy::is_free_text(last);
    if free {
        Privacy::FreeText
    } else {
        Privacy::Plain
    }
}
