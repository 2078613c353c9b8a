//! The mapping file (TOML): where records come from and how each VUM property is filled.
//! The reference is `docs/mapping.md`. A mapping is checked completely when it is loaded: every
//! target must be a property the standard has, every lookup must exist, contact details need a
//! consent rule; a mistake is reported with the field it concerns, before any record is read.
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use vum::{Family, Kind};

/// Why a mapping could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    /// The mapping file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The mapping file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The text is not TOML, or not shaped as a mapping (unknown keys, wrong types).
    #[error("{path}: {message}")]
    Syntax {
        /// The mapping file (or the name it was parsed under).
        path: PathBuf,
        /// The TOML parser's message.
        message: String,
    },
    /// A key of the mapping is not what it may be.
    #[error("{path}: {field}: {message}")]
    Field {
        /// The mapping file (or the name it was parsed under).
        path: PathBuf,
        /// The key concerned, e.g. `identity.column` or `fields."mobiliteit.bemiddelingspostcode"`.
        field: String,
        /// What is wrong and how to put it right.
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
    #[serde(default)]
    identity: Option<IdentityConfig>,
    #[serde(default)]
    consent: Option<ConsentConfig>,
    /// cell values that mean "empty" in every column (e.g. "NNB", "Onbekend", "-")
    #[serde(default)]
    null_values: Vec<String>,
    #[serde(default)]
    filter: Vec<FilterConfig>,
    #[serde(default)]
    lookups: BTreeMap<String, LookupConfig>,
    #[serde(default)]
    fields: BTreeMap<String, FieldConfig>,
    /// lists of objects filled element by element from a source list
    #[serde(default)]
    lists: BTreeMap<String, ListConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListConfig {
    /// the source list: a JSON pointer with `*` (`/talen/*`) or an XML element path (`taal`)
    from: String,
    /// fields relative to one element of the list
    fields: BTreeMap<String, FieldConfig>,
}

/// Where records come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, tag = "format", rename_all = "lowercase")]
pub enum SourceConfig {
    /// A CSV file with a header row.
    Csv {
        /// the field separator, one ASCII character (default `,`)
        #[serde(default = "default_delimiter")]
        delimiter: String,
        /// the quote character, one ASCII character (default `"`)
        #[serde(default = "default_quote")]
        quote: String,
        /// the file's character encoding (default UTF-8)
        #[serde(default)]
        encoding: Encoding,
        /// 1-based row that holds the column names
        #[serde(default = "one")]
        header_row: u64,
    },
    /// An Excel workbook with a header row.
    Xlsx {
        /// the worksheet to read (default: the first)
        #[serde(default)]
        sheet: Option<String>,
        /// 1-based row that holds the column names
        #[serde(default = "one")]
        header_row: u64,
    },
    /// An XML file; columns are element and attribute paths relative to the record.
    Xml {
        /// element path of one record, e.g. "export/clienten/client"
        record: String,
        /// prefix -> namespace URI, for prefixed names in `record` and columns
        #[serde(default)]
        namespaces: BTreeMap<String, String>,
    },
    /// A JSON file holding an array of records; columns are JSON pointers relative to the record.
    Json {
        /// JSON pointer to the array of records ("" for a top-level array)
        #[serde(default)]
        record_path: String,
    },
    /// One JSON record per line; columns as for `Json`.
    Ndjson {},
    /// documents already in VUM form: one document, a JSON array of documents, or NDJSON
    Vum {},
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

/// The character encoding of a CSV file.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    /// `utf-8` (the default)
    #[default]
    #[serde(rename = "utf-8")]
    Utf8,
    /// `windows-1252`
    #[serde(rename = "windows-1252")]
    Windows1252,
    /// `iso-8859-1`
    #[serde(rename = "iso-8859-1")]
    Iso88591,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentityConfig {
    /// the local id; a `vum` source takes the document's own id when this is absent
    #[serde(default)]
    column: Option<String>,
    #[serde(default)]
    bsn_column: Option<String>,
    /// the local id column holds BSNs: they are keyed and never echoed
    #[serde(default)]
    column_is_bsn: bool,
    /// `vum` source: key the document's id like other imports instead of keeping it
    #[serde(default)]
    key: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsentConfig {
    #[serde(default)]
    column: Option<String>,
    /// a constant: every record of the source consents (`value = true`)
    #[serde(default)]
    value: Option<bool>,
    /// values that allow sharing the record at all; other rows are filtered
    #[serde(default)]
    share: Vec<String>,
    /// values that also allow contact details (default: none); with `value`, true or false
    #[serde(default)]
    contact: ContactConsent,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ContactConsent {
    All(bool),
    Values(Vec<String>),
}

impl Default for ContactConsent {
    fn default() -> Self {
        ContactConsent::Values(Vec::new())
    }
}

/// Whose consent lets a record be shared, and its contact details with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Consent {
    /// a column: `share` values let the record be shared, `contact` values also its contact details
    Column {
        /// index into [`Mapping::columns`]
        column: usize,
        /// values that let the record be shared; a record with another value is filtered
        share: Vec<String>,
        /// values that also let its contact details be written
        contact: Vec<String>,
    },
    /// every record of the source consents; `contact`: to contact details too
    Constant {
        /// whether every record's contact details may be written
        contact: bool,
    },
}

impl Consent {
    fn allows_contact(&self) -> bool {
        match self {
            Consent::Column { contact, .. } => !contact.is_empty(),
            Consent::Constant { contact } => *contact,
        }
    }
}

/// Largest fixed list index a target may name (`[n]`); VUM lists are short.
pub const MAX_INDEX: usize = 999;

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
    /// compare values with the value map without regard to case
    #[serde(default)]
    ignore_case: bool,
    /// values that mean "empty" for this field, besides the source's `null_values`
    #[serde(default)]
    null_values: Vec<String>,
}

/// What to do with a value the map or lookup does not know.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Unmapped {
    /// reject the record (`translate/onbekende-waarde`); the default
    Reject,
    /// leave the value out
    Drop,
    /// write the value as it is
    Keep,
}

/// One step of a target path: a property, then maybe an array position.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// a property name
    Prop(String),
    /// `[]`: the i-th value of the field goes to the i-th element
    Each,
    /// `[n]`
    Index(usize),
}

/// The scalar type of a target, from the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeafType {
    /// a string, written as it is
    String,
    /// a `format: date` string, written as `YYYY-MM-DD`
    Date,
    /// an integer
    Integer,
}

/// Privacy class of a target (werkzoekenden only; see `privacy_class`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privacy {
    /// nothing special
    Plain,
    /// contact details: written only when consent allows
    Contact,
    /// free text: scanned for BSNs, e-mail addresses, phone numbers and IBANs
    FreeText,
}

/// Where a field's value comes from.
#[derive(Debug, Clone)]
pub enum ValueSource {
    /// a source column: index into the mapping's (or the list's) `columns`
    Column(usize),
    /// a constant (`value`)
    Constant(String),
}

/// A checked `[fields."target"]` entry (or a field of a `[lists]` element).
#[derive(Debug, Clone)]
pub struct Field {
    /// the target as written in the mapping (`arbeidsmarktkwalificatie.rijbewijs[].codeSoortRijbewijs`)
    pub target: String,
    /// the target's path; for a list field, relative to the list's element
    pub steps: Vec<Step>,
    /// the target's scalar type
    pub leaf: LeafType,
    /// the target's privacy class
    pub privacy: Privacy,
    /// where the value comes from
    pub source: ValueSource,
    /// the value used when the source gives none
    pub default: Option<String>,
    /// separator that splits one cell into several values
    pub split: Option<String>,
    /// value map (inline `map` or a `lookup`), keys compared after trimming
    pub map: Option<HashMap<String, String>>,
    /// what to do with a value `map` does not know
    pub unmapped: Unmapped,
    /// how dates are written in the source; `None`: ISO, then dd-mm-yyyy, then dd/mm/yyyy
    pub date_format: Option<DateFormat>,
    /// an empty value (without default) rejects the record
    pub required: bool,
    /// characters removed from the value before anything else
    pub remove: Option<String>,
    /// upper-case the value (after `remove`)
    pub uppercase: bool,
    /// map keys are lower-cased; values are looked up lower-cased
    pub ignore_case: bool,
    /// values that count as empty (the source's and the field's `null_values`, trimmed)
    pub null_values: Vec<String>,
    /// the source can give this field several values (a `*` pointer, an XML path, `split`)
    pub multi: bool,
}

/// A VUM list of objects filled element by element: each element of the source list `from`
/// becomes one element of the target list, with its fields read relative to that element.
#[derive(Debug, Clone)]
pub struct ListMap {
    /// the target list, e.g. `arbeidsmarktkwalificatie.taalbeheersing`
    pub target: String,
    /// the target's property steps, followed by one `Step::Each`
    pub steps: Vec<Step>,
    /// the source list (JSON pointer with `*`, or an XML element path relative to the record)
    pub from: String,
    /// element-relative source columns its fields read, in order
    pub columns: Vec<String>,
    /// fields with targets relative to the element; `ValueSource::Column` indexes `columns`
    pub fields: Vec<Field>,
}

/// How a date is written in the source (`date_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateFormat {
    /// `yyyy-mm-dd`
    Iso,
    /// `dd-mm-yyyy`, `dd/mm/yyyy` or `dd.mm.yyyy`: day, month, year with this separator
    DayMonthYear(char),
    /// an Excel serial day number (1900 date system)
    Excel,
}

/// A checked `[[filter]]`: a record whose value fails it is filtered.
#[derive(Debug, Clone)]
pub struct Filter {
    /// index into [`Mapping::columns`]
    pub column: usize,
    /// `in`: the value must be one of these
    pub one_of: Option<Vec<String>>,
    /// `not_in`: the value must be none of these
    pub not_in: Option<Vec<String>>,
}

/// A checked mapping, ready to drive a translation.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// the mapping file (or the name it was parsed under); lookups are relative to its folder
    pub path: PathBuf,
    /// the document each record becomes: [`Kind::Werkzoekende`] or [`Kind::Vacature`]
    pub kind: Kind,
    /// free text for people
    pub description: Option<String>,
    /// the source format and how to find records in it
    pub source: SourceConfig,
    /// every source column (CSV/XLSX header name, XML path, JSON pointer) the mapping reads, in order
    pub columns: Vec<String>,
    /// the local id column; `None` for a `vum` source, whose documents carry their id
    pub id_column: Option<usize>,
    /// the local id column holds BSNs (declared in the mapping): keyed, never echoed
    pub id_is_bsn: bool,
    /// `vum` source: key the document's own id instead of keeping it
    pub key_document_id: bool,
    /// the BSN column (werkzoekenden): checked and used to find duplicates, never written
    pub bsn_column: Option<usize>,
    /// the consent rule; `None`: every record is shared, without contact details
    pub consent: Option<Consent>,
    /// source-wide values that mean "empty", trimmed
    pub null_values: Vec<String>,
    /// the `[[filter]]` entries, all of which a record must pass
    pub filters: Vec<Filter>,
    /// the `[fields]` entries, in target order
    pub fields: Vec<Field>,
    /// the `[lists]` entries, in target order
    pub lists: Vec<ListMap>,
}

impl Mapping {
    /// Read and check the mapping file at `path`.
    pub fn load(path: &Path) -> Result<Mapping, MappingError> {
        let text = std::fs::read_to_string(path).map_err(|source| MappingError::Read {
            path: path.into(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// The mapping of a `vum` source without a file: documents already in VUM form, every record
    /// consenting (`contact`: to contact details too), ids kept as the documents give them.
    pub fn vum_documents(kind: Kind, contact: bool) -> Result<Mapping, MappingError> {
        let text = format!(
            "kind = \"{}\"\n[source]\nformat = \"vum\"\n[consent]\nvalue = true\ncontact = {contact}\n",
            kind.name()
        );
        Self::parse(&text, Path::new("(vum documents)"))
    }

    /// Parse a mapping; `path` names it in errors and anchors relative lookup files.
    ///
    /// Stages, in the order their mistakes are reported: TOML → kind → identity → consent and
    /// filters → lookups → fields → lists → what the source allows.
    pub fn parse(text: &str, path: &Path) -> Result<Mapping, MappingError> {
        let raw: RawMapping = toml::from_str(text).map_err(|e| MappingError::Syntax {
            path: path.into(),
            message: e.to_string(),
        })?;
        let ferr = |(field, message): Mistake| MappingError::Field {
            path: path.into(),
            field,
            message,
        };
        let kind = parse_kind(&raw.kind).map_err(ferr)?;
        let is_vum = matches!(raw.source, SourceConfig::Vum {});
        let mut columns = Columns::default();
        let identity = identity(raw.identity.as_ref(), kind, is_vum, &mut columns).map_err(ferr)?;
        let consent = match &raw.consent {
            None => None,
            Some(c) => Some(consent(c, &mut columns).map_err(|m| ferr(("consent".into(), m)))?),
        };
        let filters = filters(&raw.filter, &mut columns);
        let lookups = load_lookups(&raw.lookups, path).map_err(ferr)?;
        let ctx = FieldContext {
            kind,
            schema: vum_schema(kind.family()),
            lookups: &lookups,
            consent: consent.as_ref(),
            null_values: trimmed(&raw.null_values),
            source: &raw.source,
        };
        let fields = ctx.fields(&raw.fields, &mut columns).map_err(ferr)?;
        let lists = ctx.lists(&raw.lists, &fields).map_err(ferr)?;
        check_source_fit(&raw.source, &identity, &fields, &lists).map_err(ferr)?;
        check_pairing(&fields).map_err(|(f, m)| ferr((format!("fields.\"{f}\""), m)))?;
        check_csv_characters(&raw.source).map_err(ferr)?;
        let null_values = ctx.null_values;
        Ok(Mapping {
            path: path.into(),
            kind,
            description: raw.description,
            source: raw.source,
            columns: columns.0,
            id_column: identity.id_column,
            id_is_bsn: identity.id_is_bsn,
            key_document_id: identity.key_document_id,
            bsn_column: identity.bsn_column,
            consent,
            null_values,
            filters,
            fields,
            lists,
        })
    }
}

/// A mistake in a mapping: the key it concerns (as [`MappingError::Field`] names it) and what is
/// wrong.
type Mistake = (String, String);

/// `kind`: a document kind, and one a mapping can produce.
fn parse_kind(name: &str) -> Result<Kind, Mistake> {
    let kind: Kind = name.parse().map_err(|e: String| ("kind".to_string(), e))?;
    if !matches!(kind, Kind::Werkzoekende | Kind::Vacature) {
        return Err((
            "kind".into(),
            "a mapping produces 'werkzoekende' or 'vacature' documents".into(),
        ));
    }
    Ok(kind)
}

/// The checked `[identity]` section.
struct Identity {
    id_column: Option<usize>,
    id_is_bsn: bool,
    key_document_id: bool,
    bsn_column: Option<usize>,
}

/// `[identity]`: the local id column (a `vum` source may leave it out), whether it holds BSNs,
/// `key` (`vum` sources only) and the BSN column.
fn identity(
    identity: Option<&IdentityConfig>,
    kind: Kind,
    is_vum: bool,
    columns: &mut Columns,
) -> Result<Identity, Mistake> {
    let id_column = match identity.and_then(|i| i.column.as_deref()) {
        Some(c) => Some(columns.index(c)),
        None if is_vum => None,
        None => {
            return Err((
                "identity.column".into(),
                "name the column that holds the local id".into(),
            ))
        }
    };
    let id_is_bsn = identity.is_some_and(|i| i.column_is_bsn);
    let key_document_id = identity.is_some_and(|i| i.key);
    if key_document_id && !is_vum {
        return Err(("identity.key".into(), "'key' is for a vum source (documents that carry their own id); other sources always key the local id".into()));
    }
    if id_is_bsn && kind != Kind::Werkzoekende {
        return Err((
            "identity.column_is_bsn".into(),
            "only a werkzoekende has a BSN".into(),
        ));
    }
    let bsn_column = identity
        .and_then(|i| i.bsn_column.as_deref())
        .map(|c| columns.index(c));
    Ok(Identity {
        id_column,
        id_is_bsn,
        key_document_id,
        bsn_column,
    })
}

/// `[[filter]]`: each with its column.
fn filters(filter: &[FilterConfig], columns: &mut Columns) -> Vec<Filter> {
    filter
        .iter()
        .map(|f| Filter {
            column: columns.index(&f.column),
            one_of: f.one_of.clone(),
            not_in: f.not_in.clone(),
        })
        .collect()
}

/// `[lookups]`: every table read from its file, relative to the mapping's folder.
fn load_lookups(
    lookups: &BTreeMap<String, LookupConfig>,
    path: &Path,
) -> Result<HashMap<String, HashMap<String, String>>, Mistake> {
    let base = path.parent().unwrap_or(Path::new("."));
    let mut out: HashMap<String, HashMap<String, String>> = HashMap::new();
    for (name, l) in lookups {
        out.insert(
            name.clone(),
            load_lookup(&base.join(&l.file), l).map_err(|m| (format!("lookups.{name}"), m))?,
        );
    }
    Ok(out)
}

/// What the source format allows: a `vum` source maps no fields and holds no BSN, any other maps
/// at least one property, and a CSV or XLSX row holds no list.
fn check_source_fit(
    source: &SourceConfig,
    identity: &Identity,
    fields: &[Field],
    lists: &[ListMap],
) -> Result<(), Mistake> {
    if matches!(source, SourceConfig::Vum {}) {
        if !fields.is_empty() || !lists.is_empty() {
            return Err((
                "fields".into(),
                "a vum source takes documents as they are: it maps no fields".into(),
            ));
        }
        if identity.bsn_column.is_some() || identity.id_is_bsn {
            return Err(("identity".into(), "a VUM document holds no BSN".into()));
        }
    } else if fields.is_empty() && lists.is_empty() {
        return Err(("fields".into(), "the mapping maps no property".into()));
    }
    if !lists.is_empty() && matches!(source, SourceConfig::Csv { .. } | SourceConfig::Xlsx { .. }) {
        return Err(("lists".into(), "a CSV or XLSX row holds no list of elements: map numbered columns to fixed elements ('taalbeheersing[0].codeTaal', 'taalbeheersing[1].codeTaal'), or split one cell into a list with 'split'".into()));
    }
    Ok(())
}

/// A CSV source's delimiter and quote are one character each.
fn check_csv_characters(source: &SourceConfig) -> Result<(), Mistake> {
    if let SourceConfig::Csv {
        delimiter, quote, ..
    } = source
    {
        if delimiter.len() != 1 || quote.len() != 1 {
            return Err((
                "source".into(),
                "delimiter and quote are single ASCII characters".into(),
            ));
        }
    }
    Ok(())
}

/// The source columns a mapping reads, each once, in order of first mention.
#[derive(Default)]
struct Columns(Vec<String>);

impl Columns {
    fn index(&mut self, name: &str) -> usize {
        if let Some(i) = self.0.iter().position(|c| c == name) {
            return i;
        }
        self.0.push(name.to_string());
        self.0.len() - 1
    }
}

fn trimmed(values: &[String]) -> Vec<String> {
    values.iter().map(|v| v.trim().to_string()).collect()
}

fn consent(c: &ConsentConfig, columns: &mut Columns) -> Result<Consent, String> {
    match (&c.column, c.value) {
        (Some(col), None) => {
            if c.share.is_empty() {
                return Err("'share' lists the values of the consent column that allow sharing".into());
            }
            let contact = match &c.contact {
                ContactConsent::Values(v) => v.clone(),
                ContactConsent::All(_) => {
                    return Err("with a consent column, 'contact' lists the column's values that allow contact details".into())
                }
            };
            Ok(Consent::Column {
                column: columns.index(col),
                share: c.share.clone(),
                contact,
            })
        }
        (None, Some(true)) => {
            if !c.share.is_empty() {
                return Err("'share' goes with a consent column, not with 'value'".into());
            }
            let contact = match &c.contact {
                ContactConsent::All(b) => *b,
                ContactConsent::Values(v) if v.is_empty() => false,
                ContactConsent::Values(_) => {
                    return Err("with 'value = true', 'contact' is true or false".into())
                }
            };
            Ok(Consent::Constant { contact })
        }
        (None, Some(false)) => Err("'value = false' would share nothing: leave [consent] out if records need no consent (vacatures), or name the consent column".into()),
        _ => Err("give exactly one of 'column' (with 'share') or 'value = true'".into()),
    }
}

/// What every field of a mapping is checked against.
struct FieldContext<'a> {
    kind: Kind,
    schema: Value,
    lookups: &'a HashMap<String, HashMap<String, String>>,
    consent: Option<&'a Consent>,
    null_values: Vec<String>,
    source: &'a SourceConfig,
}

impl FieldContext<'_> {
    /// `[fields]`: every entry checked, in target order; a mistake names the entry.
    fn fields(
        &self,
        raw: &BTreeMap<String, FieldConfig>,
        columns: &mut Columns,
    ) -> Result<Vec<Field>, Mistake> {
        let mut fields = Vec::new();
        for (target, fc) in raw {
            let fname = format!("fields.\"{target}\"");
            let steps = parse_target(target).map_err(|m| (fname.clone(), m))?;
            fields.push(
                self.field(target, &[], steps, fc, columns)
                    .map_err(|m| (fname.clone(), m))?,
            );
        }
        Ok(fields)
    }

    /// `[lists]`: every entry checked against the `[fields]` entries, in target order; a mistake
    /// names the entry and its sub-key.
    fn lists(
        &self,
        raw: &BTreeMap<String, ListConfig>,
        fields: &[Field],
    ) -> Result<Vec<ListMap>, Mistake> {
        let mut lists = Vec::new();
        for (target, lc) in raw {
            let lname = format!("lists.\"{target}\"");
            lists.push(
                self.list(target, lc, fields)
                    .map_err(|(f, m)| (format!("{lname}{f}"), m))?,
            );
        }
        Ok(lists)
    }

    /// Check one field. `prefix` is the list a list field's element belongs to (steps ending in
    /// `Each`); `steps` are relative to it.
    fn field(
        &self,
        target: &str,
        prefix: &[Step],
        steps: Vec<Step>,
        fc: &FieldConfig,
        columns: &mut Columns,
    ) -> Result<Field, String> {
        let full: Vec<Step> = prefix
            .iter()
            .cloned()
            .chain(steps.iter().cloned())
            .collect();
        let (leaf, id_prop) = resolve(&self.schema, self.kind.root_def(), &full)?;
        if id_prop {
            return Err("the record id is derived from [identity] (a keyed hash of the local id); it cannot be mapped".into());
        }
        let privacy = privacy_class(self.kind.family(), &full);
        if privacy == Privacy::Contact && !self.consent.is_some_and(Consent::allows_contact) {
            return Err("contact details need a [consent] rule with 'contact' values: they are written only for records whose consent allows it".into());
        }
        let (source, multi) = self.value_source(fc, columns)?;
        let map = self.value_map(fc)?;
        let date_format = date_format(fc.date_format.as_deref())?;
        if date_format.is_some() && leaf != LeafType::Date {
            return Err("date_format on a property that is not a date".into());
        }
        if fc.split.is_some() && !steps.contains(&Step::Each) {
            return Err(
                "'split' needs a '[]' in the target to put each part in its own element".into(),
            );
        }
        if steps.iter().filter(|s| **s == Step::Each).count() > 1 {
            return Err("a target has at most one '[]': map a list of lists element by element under [lists]".into());
        }
        let mut null_values = self.null_values.clone();
        null_values.extend(trimmed(&fc.null_values));
        Ok(Field {
            target: target.to_string(),
            steps,
            leaf,
            privacy,
            source,
            default: fc.default.as_ref().map(toml_scalar).transpose()?,
            split: fc.split.clone(),
            map,
            unmapped: fc.unmapped.unwrap_or(Unmapped::Reject),
            date_format,
            required: fc.required,
            remove: fc.remove.clone(),
            uppercase: fc.uppercase,
            ignore_case: fc.ignore_case,
            null_values,
            multi,
        })
    }

    /// `column` or `value`, and whether the source can give the field several values.
    fn value_source(
        &self,
        fc: &FieldConfig,
        columns: &mut Columns,
    ) -> Result<(ValueSource, bool), String> {
        Ok(match (&fc.column, &fc.value) {
            (Some(c), None) => {
                let multi = match self.source {
                    SourceConfig::Json { .. } | SourceConfig::Ndjson {} => c.contains('*'),
                    SourceConfig::Xml { .. } => true,
                    _ => false,
                };
                (
                    ValueSource::Column(columns.index(c)),
                    multi || fc.split.is_some(),
                )
            }
            (None, Some(v)) => (ValueSource::Constant(toml_scalar(v)?), fc.split.is_some()),
            _ => return Err("give exactly one of 'column' or 'value'".into()),
        })
    }

    /// The value map: the inline `map`, completed with the `lookup` table (the map wins), keys
    /// trimmed and, with `ignore_case`, lower-cased.
    fn value_map(&self, fc: &FieldConfig) -> Result<Option<HashMap<String, String>>, String> {
        let fold = |k: &str| {
            if fc.ignore_case {
                k.trim().to_lowercase()
            } else {
                k.trim().to_string()
            }
        };
        let mut map = match &fc.map {
            Some(m) => Some(
                m.iter()
                    .map(|(k, v)| Ok((fold(k), toml_scalar(v)?)))
                    .collect::<Result<HashMap<_, _>, String>>()?,
            ),
            None => None,
        };
        if let Some(l) = &fc.lookup {
            let table = self
                .lookups
                .get(l)
                .ok_or_else(|| format!("lookup '{l}' is not defined under [lookups]"))?;
            let m = map.get_or_insert_with(HashMap::new);
            for (k, v) in table {
                m.entry(fold(k)).or_insert_with(|| v.clone());
            }
        }
        if fc.ignore_case && map.is_none() {
            return Err(
                "'ignore_case' applies to a 'map' or 'lookup'; this field has neither".into(),
            );
        }
        Ok(map)
    }

    /// Check a `[lists."target"]` entry; an error names the sub-key it concerns.
    fn list(
        &self,
        target: &str,
        lc: &ListConfig,
        fields: &[Field],
    ) -> Result<ListMap, (String, String)> {
        let here = |m: String| (String::new(), m);
        let mut steps = parse_target(target).map_err(here)?;
        if steps.iter().any(|s| !matches!(s, Step::Prop(_))) {
            return Err(here(
                "name the list without '[]' (e.g. \"arbeidsmarktkwalificatie.taalbeheersing\")"
                    .into(),
            ));
        }
        steps.push(Step::Each);
        if !is_object_list(&self.schema, self.kind.root_def(), &steps) {
            return Err(here(format!(
                "{target} is not a list of objects in the standard"
            )));
        }
        if let Some(f) = fields.iter().find(|f| {
            f.steps.starts_with(&steps[..steps.len() - 1])
                && f.steps
                    .get(steps.len() - 1)
                    .is_some_and(|s| matches!(s, Step::Each | Step::Index(_)))
        }) {
            return Err(here(format!("fields.\"{}\" fills the same list: map all of its fields here, relative to the element", f.target)));
        }
        if lc.from.trim().is_empty() {
            return Err((".from".into(), "name the source list (a JSON pointer with '*', e.g. \"/talen/*\", or an XML element path)".into()));
        }
        if matches!(
            self.source,
            SourceConfig::Json { .. } | SourceConfig::Ndjson {}
        ) && !lc.from.contains('*')
        {
            return Err((
                ".from".into(),
                format!(
                    "'{}' names one value, not a list: end it in '/*' for every element",
                    lc.from
                ),
            ));
        }
        let mut columns = Columns::default();
        let mut out = Vec::new();
        for (rel, fc) in &lc.fields {
            let fname = format!(".fields.\"{rel}\"");
            let rsteps = parse_target(rel).map_err(|m| (fname.clone(), m))?;
            let full_target = format!("{target}[].{rel}");
            out.push(
                self.field(&full_target, &steps, rsteps, fc, &mut columns)
                    .map_err(|m| (fname.clone(), m))?,
            );
        }
        if out.is_empty() {
            return Err((
                ".fields".into(),
                "the list maps no property of its elements".into(),
            ));
        }
        check_pairing(&out).map_err(|(f, m)| (format!(".fields.\"{f}\""), m))?;
        Ok(ListMap {
            target: target.to_string(),
            steps,
            from: lc.from.clone(),
            columns: columns.0,
            fields: out,
        })
    }
}

/// A field's `date_format`.
fn date_format(name: Option<&str>) -> Result<Option<DateFormat>, String> {
    Ok(match name {
        None => None,
        Some("yyyy-mm-dd") => Some(DateFormat::Iso),
        Some("dd-mm-yyyy") => Some(DateFormat::DayMonthYear('-')),
        Some("dd/mm/yyyy") => Some(DateFormat::DayMonthYear('/')),
        Some("dd.mm.yyyy") => Some(DateFormat::DayMonthYear('.')),
        Some("excel") => Some(DateFormat::Excel),
        Some(other) => {
            return Err(format!(
            "date_format '{other}': use yyyy-mm-dd, dd-mm-yyyy, dd/mm/yyyy, dd.mm.yyyy or excel"
        ))
        }
    })
}

/// Refuse fields that would pair values from different source elements: two or more fields
/// filling the elements of one `[]` list, one of them from a source that can give several values.
/// When one element lacks a value, the values after it would slide into the wrong elements.
fn check_pairing(fields: &[Field]) -> Result<(), (String, String)> {
    let mut by_list: BTreeMap<Vec<Step>, Vec<&Field>> = BTreeMap::new();
    for f in fields {
        if let Some(i) = f.steps.iter().position(|s| *s == Step::Each) {
            by_list.entry(f.steps[..i].to_vec()).or_default().push(f);
        }
    }
    for (list, fs) in by_list {
        if fs.len() < 2 || !fs.iter().any(|f| f.multi) {
            continue;
        }
        let name: Vec<String> = list
            .iter()
            .map(|s| match s {
                Step::Prop(p) => p.clone(),
                Step::Index(n) => format!("[{n}]"),
                Step::Each => "[]".into(),
            })
            .collect();
        let name = name.join(".").replace(".[", "[");
        let targets: Vec<&str> = fs.iter().map(|f| f.target.as_str()).collect();
        return Err((
            fs[0].target.clone(),
            format!(
                "{} fill the elements of '{name}[]' side by side from lists of values; when one element lacks a value, the values after it would move into the wrong element. Map the list element by element: [lists.\"{name}\"] with from = the source list (e.g. \"/talen/*\" or an XML element) and its fields relative to the element",
                targets.join(", ")
            ),
        ));
    }
    Ok(())
}

/// Whether the steps (ending in `Each`) name a list of objects.
fn is_object_list(schema: &Value, root: &str, steps: &[Step]) -> bool {
    let defs = &schema["$defs"];
    let deref = |n: &Value| {
        let mut n = n.clone();
        while let Some(r) = n.get("$ref").and_then(Value::as_str) {
            n = defs[r.rsplit('/').next().unwrap_or_default()].clone();
        }
        n
    };
    let mut node = deref(&defs[root]);
    for s in steps {
        node = match s {
            Step::Prop(p) => match node.get("properties").and_then(|ps| ps.get(p)) {
                Some(n) => deref(n),
                None => return false,
            },
            Step::Each | Step::Index(_) => match node.get("items") {
                Some(n) if node.get("type").and_then(Value::as_str) == Some("array") => deref(n),
                _ => return false,
            },
        };
    }
    node.get("type").and_then(Value::as_str) == Some("object")
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
            if !rest.starts_with('[') {
                return Err(format!("'{t}': unexpected text after ']'"));
            }
            let end = rest
                .find(']')
                .ok_or_else(|| format!("'{t}': unclosed '['"))?;
            let inner = &rest[1..end];
            steps.push(if inner.is_empty() {
                Step::Each
            } else {
                let n: usize = inner
                    .parse()
                    .map_err(|_| format!("'{t}': '[{inner}]' is not an index"))?;
                if n > MAX_INDEX {
                    return Err(format!("'{t}': index {n} is larger than {MAX_INDEX}; a VUM list holds a few elements"));
                }
                Step::Index(n)
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
