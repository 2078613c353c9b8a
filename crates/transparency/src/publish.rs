//! What a node may publish: its [`NodeFigures`] with small cells suppressed at the source. This
//! form goes to the node's own report and to federation peers (as JSON, read back with
//! [`Published::from_json`]); [`crate::merge`] combines several organisations' forms.
use crate::figures::{NodeFigures, Organisation};
use crate::geo::{region_order, Geography};
use crate::suppress::Table;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;

/// The version of the published form this crate writes and reads.
pub const SCHEMA_VERSION: u32 = 1;
/// Published JSON larger than this is refused.
pub const MAX_JSON_BYTES: usize = 8 << 20;
/// A list (rows, totals, runs) longer than this is refused.
pub const MAX_ROWS: usize = 100_000;
/// Quality is published only for rows with at least this many shared profiles.
pub const QUALITY_MIN_SHARED: u64 = 10;
/// The text of a suppressed cell.
pub const SUPPRESSED: &str = "<5";

/// How cells are suppressed, in words (it travels with every published form and report).
pub const SUPPRESSION_NOTE: &str = "Counts of 1 to 4 werkzoekenden are suppressed at the source and \
shown as \"<5\"; 0 is shown, as it reveals nobody. So that no suppressed count can be worked out by \
subtraction, further cells are suppressed as well and also shown as \"<5\", whatever their value: in \
every sum (total = shared + not shared; not shared = no consent + rejected + expired + withdrawn; \
municipality = its organisations; region = its municipalities; national = its regions; rejected = \
its rules) either no cell or at least two cells are suppressed, and no suppressed cell follows from \
the published cells by any combination of these sums (checked by Gaussian elimination). A zero is \
never suppressed, so every \"<5\" is at least 1. Where organisations are added up and one of them \
is suppressed, the sum is shown as a lower bound \"≥N\" (the known counts plus 1 for each \
suppressed one). Quality percentages are published only for rows whose shared count is published \
and at least 10.";

/// A published count: a value, suppressed (`"<5"`), or, after a merge over organisations, a
/// lower bound (`"≥N"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cell {
    /// the count (a JSON number)
    Value(u64),
    /// suppressed: `"<5"`
    Suppressed,
    /// at least this many: a sum with suppressed parts, `"≥N"`
    AtLeast(u64),
}

impl Cell {
    /// The count when published exactly.
    pub fn value(self) -> Option<u64> {
        match self {
            Cell::Value(v) => Some(v),
            _ => None,
        }
    }

    /// The least the count can be (a suppressed cell is at least 1).
    pub fn lower_bound(self) -> u64 {
        match self {
            Cell::Value(v) | Cell::AtLeast(v) => v,
            Cell::Suppressed => 1,
        }
    }

    /// Whether it is suppressed (`"<5"`).
    pub fn is_suppressed(self) -> bool {
        self == Cell::Suppressed
    }

    /// The sum over organisations: a value when every part is one, a single suppressed part
    /// (with nothing else) stays suppressed, otherwise a lower bound (each suppressed part
    /// counts as 1).
    pub fn sum(cells: impl IntoIterator<Item = Cell>) -> Cell {
        let (mut known, mut suppressed, mut bounded) = (0u64, 0u64, false);
        for c in cells {
            match c {
                Cell::Value(v) => known = known.saturating_add(v),
                Cell::Suppressed => suppressed += 1,
                Cell::AtLeast(v) => {
                    known = known.saturating_add(v);
                    bounded = true;
                }
            }
        }
        match (suppressed, bounded) {
            (0, false) => Cell::Value(known),
            (1, false) if known == 0 => Cell::Suppressed,
            _ => Cell::AtLeast(known.saturating_add(suppressed)),
        }
    }
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Value(v) => write!(f, "{v}"),
            Cell::Suppressed => f.write_str(SUPPRESSED),
            Cell::AtLeast(v) => write!(f, "≥{v}"),
        }
    }
}

impl Serialize for Cell {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Cell::Value(v) => s.serialize_u64(*v),
            other => s.collect_str(other),
        }
    }
}

impl<'de> Deserialize<'de> for Cell {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Cell, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Cell;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a count, \"<5\" or \"≥N\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Cell, E> {
                Ok(Cell::Value(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Cell, E> {
                u64::try_from(v)
                    .map(Cell::Value)
                    .map_err(|_| E::custom("a negative count"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Cell, E> {
                if v == SUPPRESSED {
                    return Ok(Cell::Suppressed);
                }
                v.strip_prefix('≥')
                    .and_then(|n| n.parse().ok())
                    .map(Cell::AtLeast)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

/// One of the seven counts of [`Counts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Measure {
    /// visible to chain partners
    Shared,
    /// not visible: the sum of the four reasons
    NotShared,
    /// shared + not shared
    Total,
    /// not shared: no consent
    NoConsent,
    /// not shared: rejected by a rule of the standard
    Rejected,
    /// not shared: not refreshed within 90 days
    Expired,
    /// not shared: consent withdrawn
    Withdrawn,
}

impl Measure {
    /// All seven, in column order.
    pub const ALL: [Measure; 7] = [
        Measure::Shared,
        Measure::NotShared,
        Measure::Total,
        Measure::NoConsent,
        Measure::Rejected,
        Measure::Expired,
        Measure::Withdrawn,
    ];

    /// The column name (`shared`, `not_shared`, …).
    pub fn key(self) -> &'static str {
        match self {
            Measure::Shared => "shared",
            Measure::NotShared => "not_shared",
            Measure::Total => "total",
            Measure::NoConsent => "no_consent",
            Measure::Rejected => "rejected",
            Measure::Expired => "expired",
            Measure::Withdrawn => "withdrawn",
        }
    }
}

/// The seven counts of a row or a total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// werkzoekenden visible to chain partners
    pub shared: Cell,
    /// werkzoekenden not visible (= no_consent + rejected + expired + withdrawn)
    pub not_shared: Cell,
    /// shared + not_shared
    pub total: Cell,
    /// not shared: no consent
    pub no_consent: Cell,
    /// not shared: rejected at the last import or push
    pub rejected: Cell,
    /// not shared: not refreshed within the expiry window
    pub expired: Cell,
    /// not shared: consent withdrawn
    pub withdrawn: Cell,
}

impl Default for Counts {
    fn default() -> Counts {
        Counts::filled(Cell::Value(0))
    }
}

impl Counts {
    /// Every count the same cell.
    pub fn filled(c: Cell) -> Counts {
        Counts {
            shared: c,
            not_shared: c,
            total: c,
            no_consent: c,
            rejected: c,
            expired: c,
            withdrawn: c,
        }
    }

    /// One count.
    pub fn get(&self, m: Measure) -> Cell {
        match m {
            Measure::Shared => self.shared,
            Measure::NotShared => self.not_shared,
            Measure::Total => self.total,
            Measure::NoConsent => self.no_consent,
            Measure::Rejected => self.rejected,
            Measure::Expired => self.expired,
            Measure::Withdrawn => self.withdrawn,
        }
    }

    /// One count, to change.
    pub fn get_mut(&mut self, m: Measure) -> &mut Cell {
        match m {
            Measure::Shared => &mut self.shared,
            Measure::NotShared => &mut self.not_shared,
            Measure::Total => &mut self.total,
            Measure::NoConsent => &mut self.no_consent,
            Measure::Rejected => &mut self.rejected,
            Measure::Expired => &mut self.expired,
            Measure::Withdrawn => &mut self.withdrawn,
        }
    }

    /// The sum over organisations, count by count (see [`Cell::sum`]).
    pub fn sum<'a>(parts: impl IntoIterator<Item = &'a Counts> + Clone) -> Counts {
        let mut out = Counts::default();
        for m in Measure::ALL {
            *out.get_mut(m) = Cell::sum(parts.clone().into_iter().map(|c| c.get(m)));
        }
        out
    }
}

/// Completeness and freshness of a row's shared profiles, in whole percent of its shared count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowQuality {
    /// with an occupation (bemiddelingsberoep)
    pub with_occupation: u8,
    /// with working hours
    pub with_hours: u8,
    /// with an availability date
    pub with_availability: u8,
    /// with education (opleiding)
    pub with_education: u8,
    /// with languages (taalbeheersing)
    pub with_languages: u8,
    /// with a driving licence (rijbewijs)
    pub with_licence: u8,
    /// refreshed 0-7, 8-30, 31-60, 61-90 days ago (sums to 100, or 0 when no dates)
    pub fresh_days: [u8; 4],
}

impl RowQuality {
    /// The six completeness measures as (label, percent).
    pub fn completeness(&self) -> [(&'static str, u8); 6] {
        [
            ("occupation", self.with_occupation),
            ("hours", self.with_hours),
            ("availability", self.with_availability),
            ("education", self.with_education),
            ("languages", self.with_languages),
            ("licence", self.with_licence),
        ]
    }
}

/// Why a row has no quality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QualityAbsent {
    /// the row's shared count is suppressed
    SharedSuppressed,
    /// fewer than [`QUALITY_MIN_SHARED`] shared profiles
    FewerThanTen,
}

impl QualityAbsent {
    /// In words.
    pub fn text(self) -> &'static str {
        match self {
            QualityAbsent::SharedSuppressed => "shared count suppressed",
            QualityAbsent::FewerThanTen => "fewer than 10 shared profiles",
        }
    }
}

/// One organisation in one municipality.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// arbeidsmarktregio code (`AM01`, or `onbekend`)
    pub region_code: String,
    /// arbeidsmarktregio name
    pub region_name: String,
    /// gemeente code (`GM0014`, or `onbekend`)
    pub municipality_code: String,
    /// gemeente name
    pub municipality_name: String,
    /// whose werkzoekenden
    pub organisation: Organisation,
    /// the counts
    pub counts: Counts,
    /// completeness and freshness, when published
    pub quality: Option<RowQuality>,
    /// why `quality` is absent
    pub quality_absent: Option<QualityAbsent>,
}

/// A municipality's counts over organisations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MunicipalityTotal {
    /// arbeidsmarktregio code
    pub region_code: String,
    /// arbeidsmarktregio name
    pub region_name: String,
    /// gemeente code
    pub municipality_code: String,
    /// gemeente name
    pub municipality_name: String,
    /// the counts
    pub counts: Counts,
}

/// A region's counts over its municipalities.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionTotal {
    /// arbeidsmarktregio code
    pub region_code: String,
    /// arbeidsmarktregio name
    pub region_name: String,
    /// the counts
    pub counts: Counts,
}

/// One import or push run, node-wide: a point of the trend lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrendRun {
    /// when it ended, ms since the epoch
    pub at_ms: i64,
    /// `ingest` or `push`
    pub origin: String,
    /// records read
    pub offered: Cell,
    /// accepted and stored
    pub accepted: Cell,
    /// left out for want of consent
    pub no_consent: Cell,
    /// rejected
    pub rejected: Cell,
    /// shared right after the run
    pub shared_after: Cell,
    /// shared right after the run, per arbeidsmarktregio code
    pub shared_after_by_region: BTreeMap<String, Cell>,
}

/// The published (suppressed) figures of one node, or of several organisations merged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    /// [`SCHEMA_VERSION`]
    pub schema_version: u32,
    /// whose figures (one for a node)
    #[serde(deserialize_with = "bounded")]
    pub organisations: Vec<Organisation>,
    /// when the figures were taken, ms since the epoch
    pub generated_ms: i64,
    /// [`SUPPRESSION_NOTE`]
    pub suppression: String,
    /// one per (municipality, organisation), by region, municipality name, organisation
    #[serde(deserialize_with = "bounded")]
    pub rows: Vec<Row>,
    /// per municipality, over organisations
    #[serde(deserialize_with = "bounded")]
    pub municipalities: Vec<MunicipalityTotal>,
    /// per arbeidsmarktregio
    #[serde(deserialize_with = "bounded")]
    pub regions: Vec<RegionTotal>,
    /// over all regions
    pub national: Counts,
    /// rejected records by the rule id of their first violation, node-wide
    pub rejected_by_rule: BTreeMap<String, Cell>,
    /// validator warnings by rule id, node-wide
    pub warnings_by_rule: BTreeMap<String, Cell>,
    /// the stored runs, oldest first
    #[serde(deserialize_with = "bounded")]
    pub trend: Vec<TrendRun>,
}

/// Published figures that would not load.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// over [`MAX_JSON_BYTES`]
    #[error("published figures of {0} bytes exceed the limit of {MAX_JSON_BYTES} bytes")]
    TooLarge(usize),
    /// a list over [`MAX_ROWS`]
    #[error("published figures with more than {MAX_ROWS} rows")]
    TooManyRows,
    /// not this crate's form
    #[error("published figures of schema version {0}, expected {SCHEMA_VERSION}")]
    Version(u32),
    /// not JSON of the published form
    #[error("published figures: {0}")]
    Json(serde_json::Error),
}

const TOO_MANY: &str = "list longer than the limit of published rows";

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Error {
        if e.is_data() && e.to_string().starts_with(TOO_MANY) {
            Error::TooManyRows
        } else {
            Error::Json(e)
        }
    }
}

/// Reads JSON with the size checks of [`Published::from_json`]; used for the report too.
pub(crate) fn read_json<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, Error> {
    if bytes.len() > MAX_JSON_BYTES {
        return Err(Error::TooLarge(bytes.len()));
    }
    Ok(serde_json::from_slice(bytes)?)
}

impl Published {
    /// Reads a peer's published figures: refuses more than [`MAX_JSON_BYTES`], lists longer than
    /// [`MAX_ROWS`] and other schema versions.
    pub fn from_json(bytes: &[u8]) -> Result<Published, Error> {
        let p: Published = read_json(bytes)?;
        if p.schema_version != SCHEMA_VERSION {
            return Err(Error::Version(p.schema_version));
        }
        Ok(p)
    }

    /// As JSON bytes, for a peer.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Deserialises a list, refusing more than [`MAX_ROWS`] elements while reading.
pub(crate) fn bounded<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct V<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a list of at most {MAX_ROWS} elements")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
            while let Some(x) = seq.next_element()? {
                if out.len() == MAX_ROWS {
                    return Err(de::Error::custom(TOO_MANY));
                }
                out.push(x);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(V(std::marker::PhantomData))
}

fn percent(n: u64, base: u64) -> u8 {
    if base == 0 {
        return 0;
    }
    ((n.min(base) as u128 * 200 + base as u128) / (base as u128 * 2)) as u8
}

/// Whole percentages of `parts` that add up to 100 (largest remainder), or all 0.
fn percent_split(parts: [u64; 4]) -> [u8; 4] {
    let base: u128 = parts.iter().map(|&p| p as u128).sum();
    if base == 0 {
        return [0; 4];
    }
    let mut out = [0u8; 4];
    let mut rem: Vec<(u128, usize)> = Vec::new();
    let mut given = 0u32;
    for (i, &p) in parts.iter().enumerate() {
        let scaled = p as u128 * 100;
        out[i] = (scaled / base) as u8;
        given += u32::from(out[i]);
        rem.push((scaled % base, i));
    }
    rem.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, i) in rem.iter().take(100usize.saturating_sub(given as usize)) {
        out[i] += 1;
    }
    out
}

/// Raw tallies of one municipality, summed over the figures' areas with that code.
#[derive(Default, Clone)]
struct Raw {
    counts: [u64; 7],
    quality: crate::figures::Quality,
}

fn raw_counts(t: &crate::figures::Tally) -> [u64; 7] {
    let not_shared = t.no_consent + t.rejected + t.expired + t.withdrawn;
    [
        t.shared,
        not_shared,
        t.shared + not_shared,
        t.no_consent,
        t.rejected,
        t.expired,
        t.withdrawn,
    ]
}

/// Cell indices of one [`Counts`] in the suppression table, in [`Measure::ALL`] order.
type Ids = [usize; 7];

fn add_counts(t: &mut Table, values: [u64; 7]) -> Ids {
    let ids = values.map(|v| t.cell(v));
    // total = shared + not_shared; not_shared = the four reasons
    t.relate(ids[2], vec![ids[0], ids[1]]);
    t.relate(ids[1], vec![ids[3], ids[4], ids[5], ids[6]]);
    ids
}

fn sum_ids(t: &Table, parts: &[Ids]) -> [u64; 7] {
    let mut v = [0u64; 7];
    for ids in parts {
        for (m, &id) in ids.iter().enumerate() {
            v[m] += t.values[id];
        }
    }
    v
}

fn relate_measures(t: &mut Table, total: &Ids, parts: &[Ids]) {
    for m in 0..7 {
        t.relate(total[m], parts.iter().map(|p| p[m]).collect());
    }
}

fn to_cell(t: &Table, id: usize) -> Cell {
    if t.suppressed[id] {
        Cell::Suppressed
    } else {
        Cell::Value(t.values[id])
    }
}

fn to_counts(t: &Table, ids: &Ids) -> Counts {
    let mut c = Counts::default();
    for (i, m) in Measure::ALL.into_iter().enumerate() {
        *c.get_mut(m) = to_cell(t, ids[i]);
    }
    c
}

/// Suppresses a node's figures for publication (see [`SUPPRESSION_NOTE`] and the algorithm in
/// the crate documentation). Deterministic: the same figures give the same form.
pub fn publish(figures: &NodeFigures, geo: &Geography) -> Published {
    // municipalities, summed if listed twice
    let mut raw: BTreeMap<String, Raw> = BTreeMap::new();
    for a in &figures.areas {
        let r = raw.entry(a.municipality.clone()).or_default();
        for (i, v) in raw_counts(&a.tally).into_iter().enumerate() {
            r.counts[i] += v;
        }
        let (q, aq) = (&mut r.quality, &a.quality);
        q.shared += aq.shared;
        q.with_occupation += aq.with_occupation;
        q.with_hours += aq.with_hours;
        q.with_availability += aq.with_availability;
        q.with_education += aq.with_education;
        q.with_languages += aq.with_languages;
        q.with_licence += aq.with_licence;
        for i in 0..4 {
            q.fresh_days[i] += aq.fresh_days[i];
        }
    }
    let mut places: Vec<_> = raw.keys().map(|code| geo.place(code)).collect();
    places.sort_by(|a, b| {
        region_order(&a.region_code)
            .cmp(&region_order(&b.region_code))
            .then_with(|| a.municipality_name.cmp(&b.municipality_name))
            .then_with(|| a.municipality_code.cmp(&b.municipality_code))
    });

    let mut t = Table::default();
    // rows first (eliminated first), then municipalities, regions, national
    let row_ids: Vec<Ids> = places
        .iter()
        .map(|p| add_counts(&mut t, raw[&p.municipality_code].counts))
        .collect();
    let mut mun_ids = Vec::with_capacity(row_ids.len());
    for row in &row_ids {
        let values = sum_ids(&t, &[*row]);
        let ids = add_counts(&mut t, values);
        relate_measures(&mut t, &ids, &[*row]);
        mun_ids.push(ids);
    }
    let mut regions: Vec<(String, String, Vec<usize>)> = Vec::new();
    for (i, p) in places.iter().enumerate() {
        match regions.last_mut() {
            Some(last) if last.0 == p.region_code => last.2.push(i),
            _ => regions.push((p.region_code.clone(), p.region_name.clone(), vec![i])),
        }
    }
    let mut reg_ids = Vec::with_capacity(regions.len());
    for (_, _, members) in &regions {
        let parts: Vec<Ids> = members.iter().map(|&i| mun_ids[i]).collect();
        let values = sum_ids(&t, &parts);
        let ids = add_counts(&mut t, values);
        relate_measures(&mut t, &ids, &parts);
        reg_ids.push(ids);
    }
    let values = sum_ids(&t, &reg_ids);
    let nat_ids = add_counts(&mut t, values);
    relate_measures(&mut t, &nat_ids, &reg_ids);

    // rejected by rule: additive to the national rejected when the figures agree
    let mut by_rule: BTreeMap<String, u64> = BTreeMap::new();
    for a in &figures.areas {
        for (rule, n) in &a.tally.rejected_by_rule {
            *by_rule.entry(rule.clone()).or_default() += n;
        }
    }
    let rule_ids: Vec<(String, usize)> = by_rule
        .iter()
        .map(|(rule, &n)| (rule.clone(), t.cell(n)))
        .collect();
    if !rule_ids.is_empty() && by_rule.values().sum::<u64>() == t.values[nat_ids[4]] {
        t.relate(nat_ids[4], rule_ids.iter().map(|r| r.1).collect());
    }

    t.suppress();

    let organisation = figures.organisation.clone();
    let rows = places
        .iter()
        .zip(&row_ids)
        .map(|(p, ids)| {
            let counts = to_counts(&t, ids);
            let q = &raw[&p.municipality_code].quality;
            let (quality, quality_absent) = match counts.shared {
                Cell::Value(n) if n >= QUALITY_MIN_SHARED => {
                    let base = if q.shared > 0 { q.shared } else { n };
                    (
                        Some(RowQuality {
                            with_occupation: percent(q.with_occupation, base),
                            with_hours: percent(q.with_hours, base),
                            with_availability: percent(q.with_availability, base),
                            with_education: percent(q.with_education, base),
                            with_languages: percent(q.with_languages, base),
                            with_licence: percent(q.with_licence, base),
                            fresh_days: percent_split(q.fresh_days),
                        }),
                        None,
                    )
                }
                Cell::Value(_) => (None, Some(QualityAbsent::FewerThanTen)),
                _ => (None, Some(QualityAbsent::SharedSuppressed)),
            };
            Row {
                region_code: p.region_code.clone(),
                region_name: p.region_name.clone(),
                municipality_code: p.municipality_code.clone(),
                municipality_name: p.municipality_name.clone(),
                organisation: organisation.clone(),
                counts,
                quality,
                quality_absent,
            }
        })
        .collect();
    let municipalities = places
        .iter()
        .zip(&mun_ids)
        .map(|(p, ids)| MunicipalityTotal {
            region_code: p.region_code.clone(),
            region_name: p.region_name.clone(),
            municipality_code: p.municipality_code.clone(),
            municipality_name: p.municipality_name.clone(),
            counts: to_counts(&t, ids),
        })
        .collect();
    let regions: Vec<RegionTotal> = regions
        .into_iter()
        .zip(&reg_ids)
        .map(|((code, name, _), ids)| RegionTotal {
            region_code: code,
            region_name: name,
            counts: to_counts(&t, ids),
        })
        .collect();

    let mut warnings: BTreeMap<String, u64> = BTreeMap::new();
    for a in &figures.areas {
        for (rule, n) in &a.quality.warnings_by_rule {
            *warnings.entry(rule.clone()).or_default() += n;
        }
    }
    let warnings_by_rule = warnings
        .into_iter()
        .map(|(rule, n)| (rule, primary(n)))
        .collect();

    // a run's shared-after per region can equal the region's shared count now (nothing changed
    // since): it is hidden wherever that count is, so the trend cannot show what the table hides
    let hidden: std::collections::BTreeSet<String> = regions
        .iter()
        .filter(|r| r.counts.shared.is_suppressed())
        .map(|r| r.region_code.clone())
        .collect();
    let national = to_counts(&t, &nat_ids);
    let trend = figures
        .runs
        .iter()
        .map(|r| trend_run(r, geo, &hidden, national.shared.is_suppressed()))
        .collect();
    Published {
        schema_version: SCHEMA_VERSION,
        organisations: vec![organisation],
        generated_ms: figures.generated_ms,
        suppression: SUPPRESSION_NOTE.to_owned(),
        rows,
        municipalities,
        regions,
        national,
        rejected_by_rule: rule_ids
            .into_iter()
            .map(|(rule, id)| (rule, to_cell(&t, id)))
            .collect(),
        warnings_by_rule,
        trend,
    }
}

/// A count with primary suppression only.
fn primary(n: u64) -> Cell {
    if (1..=crate::suppress::PRIMARY_MAX).contains(&n) {
        Cell::Suppressed
    } else {
        Cell::Value(n)
    }
}

/// One run of the trend, suppressed as a table of its own, with the shared-after cells of the
/// regions in `hidden` (and the run's total when `hide_total`) suppressed from the start.
fn trend_run(
    run: &crate::figures::Run,
    geo: &Geography,
    hidden: &std::collections::BTreeSet<String>,
    hide_total: bool,
) -> TrendRun {
    let mut tot = crate::figures::RunArea::default();
    let mut by_region: BTreeMap<String, u64> = BTreeMap::new();
    for (code, a) in &run.areas {
        tot.offered += a.offered;
        tot.accepted += a.accepted;
        tot.no_consent += a.no_consent;
        tot.rejected += a.rejected;
        tot.shared_after += a.shared_after;
        *by_region.entry(geo.place(code).region_code).or_default() += a.shared_after;
    }
    let mut t = Table::default();
    let offered = t.cell(tot.offered);
    let accepted = t.cell(tot.accepted);
    let no_consent = t.cell(tot.no_consent);
    let rejected = t.cell(tot.rejected);
    if tot.offered == tot.accepted + tot.no_consent + tot.rejected {
        t.relate(offered, vec![accepted, no_consent, rejected]);
    }
    let shared = t.cell(tot.shared_after);
    let regions: Vec<(String, usize)> = by_region
        .into_iter()
        .map(|(code, n)| (code, t.cell(n)))
        .collect();
    t.relate(shared, regions.iter().map(|r| r.1).collect());
    for (code, id) in &regions {
        if hidden.contains(code) && t.values[*id] > 0 {
            t.suppressed[*id] = true;
        }
    }
    if hide_total && t.values[shared] > 0 {
        t.suppressed[shared] = true;
    }
    t.suppress();
    TrendRun {
        at_ms: run.at_ms,
        origin: run.origin.clone(),
        offered: to_cell(&t, offered),
        accepted: to_cell(&t, accepted),
        no_consent: to_cell(&t, no_consent),
        rejected: to_cell(&t, rejected),
        shared_after: to_cell(&t, shared),
        shared_after_by_region: regions
            .into_iter()
            .map(|(code, id)| (code, to_cell(&t, id)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages() {
        assert_eq!(percent(1, 3), 33);
        assert_eq!(percent(2, 3), 67);
        assert_eq!(percent(5, 0), 0);
        assert_eq!(percent_split([1, 1, 1, 0]), [34, 33, 33, 0]);
        assert_eq!(percent_split([0; 4]), [0; 4]);
        assert_eq!(percent_split([7, 0, 0, 0]), [100, 0, 0, 0]);
    }

    #[test]
    fn cell_text_round_trips() {
        for c in [
            Cell::Value(0),
            Cell::Value(17),
            Cell::Suppressed,
            Cell::AtLeast(9),
        ] {
            let j = serde_json::to_string(&c).unwrap();
            assert_eq!(serde_json::from_str::<Cell>(&j).unwrap(), c);
        }
        assert_eq!(serde_json::to_string(&Cell::Suppressed).unwrap(), "\"<5\"");
        assert_eq!(serde_json::to_string(&Cell::AtLeast(7)).unwrap(), "\"≥7\"");
        assert!(serde_json::from_str::<Cell>("\"5\"").is_err());
        assert!(serde_json::from_str::<Cell>("-1").is_err());
    }
}
