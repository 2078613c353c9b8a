//! The selection engine: an in-memory index of every live record's match attributes, bucketed by
//! PC4 area, fed from the store and kept current by the change log (so several gateway replicas on
//! one PostgreSQL each follow the same log). Records are stored contiguously per PC4 bucket. A query
//! computes the PC4 areas within `afstand` of its postcode (PC4 centroids, great-circle distance),
//! visits only the records in those buckets, and returns a uniform random sample of at most `limit`
//! matches in random order, with `maximumAantalResultatenBereikt` telling whether more matched
//! (see [`Engine::select`] for how it stops early on wide queries).
//!
//! Criteria follow MongoDB semantics literally, as the standard says: a criterion on a property the
//! record lacks does not match; `$gte` on a language level compares the code numbers (so 8, "niet
//! van toepassing", is >= 3); working hours match by overlap because the query asks
//! `aantalWerkurenPerWeekMaximaal >= min` and `aantalWerkurenPerWeekMinimaal <= max`.
use crate::{Attrs, Store, StoreError};
use rand::seq::SliceRandom;
use rand::Rng;
use std::collections::HashMap;
use vum::query::{Criterium, Selectie};
use vum::refdata::{distance_km, pc4_point, pc4_table, Pc4Point};
use vum::Kind;

const NONE8: u8 = u8::MAX;
const NONE16: u16 = u16::MAX;

/// A short list of interned codes stored inline (most records have at most four).
#[derive(Debug, Clone, Default)]
struct Codes {
    inline: [u32; 4],
    len: u8,
    more: Option<Box<[u32]>>,
}

impl Codes {
    fn new(v: &[u32]) -> Codes {
        let mut c = Codes::default();
        if v.len() <= 4 {
            c.inline[..v.len()].copy_from_slice(v);
            c.len = v.len() as u8;
        } else {
            c.more = Some(v.into());
        }
        c
    }
    fn as_slice(&self) -> &[u32] {
        match &self.more {
            Some(m) => m,
            None => &self.inline[..self.len as usize],
        }
    }
}

/// One record's match attributes, compact and stored contiguously per PC4 bucket.
#[derive(Debug, Clone)]
struct Entry {
    refreshed_ms: i64,
    /// yyyymmdd, 0 = absent
    datum: u32,
    /// bit i: the licence / contract code with small index i
    rijbewijzen: u32,
    contracten: u32,
    /// index into `Engine::ids`
    id: u32,
    max_reis: u16,
    uren_min: u8,
    uren_max: u8,
    kantoor: u8,
    onregelmatig: u8,
    niveau: u8,
    beroepen: Codes,
    talen: Box<[(u32, u8, u8)]>,
}

fn ymd(s: &str) -> u32 {
    let d: String = s.chars().filter(char::is_ascii_digit).collect();
    if d.len() == 8 {
        d.parse().unwrap_or(0)
    } else {
        0
    }
}

fn small(v: Option<i64>, none: u8) -> u8 {
    v.and_then(|x| u8::try_from(x).ok())
        .filter(|x| *x != none)
        .unwrap_or(none)
}

#[derive(Debug, Default)]
struct Interner {
    map: HashMap<String, u32>,
}

impl Interner {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(i) = self.map.get(s) {
            return *i;
        }
        let i = self.map.len() as u32;
        self.map.insert(s.to_string(), i);
        i
    }
    fn get(&self, s: &str) -> Option<u32> {
        self.map.get(s).copied()
    }
}

/// The outcome of a selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// at most `limit` VUM ids: a uniform random sample of the matches, in random order
    pub ids: Vec<String>,
    /// how many records matched, when the engine counted them all (it stops early once it knows
    /// there are more than `limit`)
    pub matched: Option<usize>,
    /// `maximumAantalResultatenBereikt`: more records matched than were returned
    pub more: bool,
}

/// The in-memory selection index of one kind.
pub struct Engine {
    kind: Kind,
    buckets: HashMap<u16, Vec<Entry>>,
    /// vum id -> (bucket, position)
    slots: HashMap<Box<str>, (u16, u32)>,
    ids: Vec<Box<str>>,
    free_ids: Vec<u32>,
    codes: Interner,
    /// licence and contract codes get small indexes for bitmasks (the standard has 16 and 2)
    bits: Interner,
    cursor: i64,
}

/// A language criterion: the language's interned code (None: no record has it), the minimum
/// spoken and written levels asked (if any).
type TaalCriterium = (Option<u32>, Option<u8>, Option<u8>);

/// A query with its codes interned; a code no record has can never match.
struct Compiled {
    any_beroep: Option<Vec<u32>>,
    /// bitmask; None inside = a code no record has (nothing can match)
    any_contract: Option<Option<u32>>,
    all_rijbewijs: Option<Option<u32>>,
    talen: Option<Vec<TaalCriterium>>,
    onregelmatig: Option<u8>,
    kantoor: Option<u8>,
    uren_max_gte: Option<u8>,
    uren_min_lte: Option<u8>,
    datum_lte: Option<u32>,
    datum_gte: Option<u32>,
    beroep_eq: Option<Option<u32>>,
    niveau: Option<(Option<u8>, Option<u8>, Option<u8>)>,
}

fn digit(s: &Option<String>) -> Option<u8> {
    s.as_deref().and_then(|x| x.parse().ok())
}

impl Engine {
    /// An empty index for `kind`.
    pub fn new(kind: Kind) -> Engine {
        Engine {
            kind,
            buckets: HashMap::new(),
            slots: HashMap::new(),
            ids: Vec::new(),
            free_ids: Vec::new(),
            codes: Interner::default(),
            bits: Interner::default(),
            cursor: 0,
        }
    }

    /// Build the index from the store.
    pub async fn load(store: &Store, kind: Kind) -> Result<Engine, StoreError> {
        let mut e = Engine::new(kind);
        // take the cursor first: changes after it are replayed, which is idempotent
        e.cursor = store.last_change_seq().await?;
        for r in store.attrs(kind, None).await? {
            e.put(&r.vum_id, r.refreshed_ms, &r.attrs);
        }
        tracing::info!(kind = %kind, records = e.slots.len(), cursor = e.cursor, "selection index loaded");
        Ok(e)
    }

    /// Apply the change log since the last call.
    pub async fn catch_up(&mut self, store: &Store) -> Result<usize, StoreError> {
        let mut applied = 0;
        loop {
            let changes = store
                .changes_since(Some(self.kind), self.cursor, 10_000)
                .await?;
            let Some(last) = changes.last() else { break };
            self.cursor = last.seq;
            let ids: Vec<String> = changes.iter().map(|c| c.vum_id.clone()).collect();
            let live = store.attrs(self.kind, Some(&ids)).await?;
            let mut seen: HashMap<&str, ()> = HashMap::new();
            for r in &live {
                self.put(&r.vum_id, r.refreshed_ms, &r.attrs);
                seen.insert(r.vum_id.as_str(), ());
            }
            for id in &ids {
                if !seen.contains_key(id.as_str()) {
                    self.remove(id);
                }
            }
            applied += changes.len();
        }
        Ok(applied)
    }

    /// The number of records in the index.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// The index holds no records.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The change-log cursor the index is current to.
    pub fn cursor(&self) -> i64 {
        self.cursor
    }

    fn mask(&mut self, codes: &[String]) -> u32 {
        codes
            .iter()
            .map(|c| self.bits.id(c))
            .filter(|b| *b < 32)
            .fold(0, |m, b| m | (1 << b))
    }

    /// Insert or replace one record's attributes.
    pub fn put(&mut self, id: &str, refreshed_ms: i64, a: &Attrs) {
        self.remove(id);
        let beroepen: Vec<u32> = a.beroepen.iter().map(|s| self.codes.id(s)).collect();
        let talen = a
            .talen
            .iter()
            .map(|(t, m, s)| (self.codes.id(t), small(*m, NONE8), small(*s, NONE8)))
            .collect();
        let rijbewijzen = self.mask(&a.rijbewijzen);
        let contracten = self.mask(&a.contracten);
        let pc4 = a.pc4.and_then(|p| u16::try_from(p).ok()).unwrap_or(NONE16);
        let idx = match self.free_ids.pop() {
            Some(i) => {
                self.ids[i as usize] = id.into();
                i
            }
            None => {
                self.ids.push(id.into());
                (self.ids.len() - 1) as u32
            }
        };
        let entry = Entry {
            refreshed_ms,
            datum: a.datum.as_deref().map(ymd).unwrap_or(0),
            rijbewijzen,
            contracten,
            id: idx,
            max_reis: a
                .max_reis
                .and_then(|x| u16::try_from(x).ok())
                .unwrap_or(NONE16),
            uren_min: small(a.uren_min, NONE8),
            uren_max: small(a.uren_max, NONE8),
            kantoor: small(a.kantoor, NONE8),
            onregelmatig: small(a.onregelmatig, NONE8),
            niveau: a
                .niveau
                .as_deref()
                .and_then(|n| n.parse().ok())
                .unwrap_or(NONE8),
            beroepen: Codes::new(&beroepen),
            talen,
        };
        let bucket = self.buckets.entry(pc4).or_default();
        bucket.push(entry);
        self.slots
            .insert(id.into(), (pc4, (bucket.len() - 1) as u32));
    }

    /// Drop a record from the index.
    pub fn remove(&mut self, id: &str) {
        let Some((pc4, pos)) = self.slots.remove(id) else {
            return;
        };
        let Some(bucket) = self.buckets.get_mut(&pc4) else {
            return;
        };
        let gone = bucket.swap_remove(pos as usize);
        self.free_ids.push(gone.id);
        if let Some(moved) = bucket.get(pos as usize) {
            let moved_id = &self.ids[moved.id as usize];
            if let Some(slot) = self.slots.get_mut(moved_id) {
                slot.1 = pos;
            }
        }
    }

    fn compile(&self, s: &Selectie) -> Compiled {
        let mut c = Compiled {
            any_beroep: None,
            any_contract: None,
            all_rijbewijs: None,
            talen: None,
            onregelmatig: None,
            kantoor: None,
            uren_max_gte: None,
            uren_min_lte: None,
            datum_lte: None,
            datum_gte: None,
            beroep_eq: None,
            niveau: None,
        };
        let clamp = |n: i64| n.clamp(0, 254) as u8;
        let bit = |code: &String| self.bits.get(code).filter(|b| *b < 32).map(|b| 1u32 << b);
        for k in &s.criteria {
            match k {
                Criterium::Bemiddelingsberoep(v) => {
                    c.any_beroep = Some(v.iter().filter_map(|x| self.codes.get(x)).collect())
                }
                // any of: the codes no record has drop out; none left means nothing matches
                Criterium::Contractvorm(v) => {
                    c.any_contract = Some(Some(v.iter().filter_map(bit).fold(0, |m, b| m | b)))
                }
                // all of: one code no record has means nothing matches
                Criterium::Rijbewijzen(v) => {
                    c.all_rijbewijs =
                        Some(v.iter().map(bit).try_fold(0u32, |m, b| b.map(|b| m | b)))
                }
                Criterium::Taalbeheersing(v) => {
                    c.talen = Some(
                        v.iter()
                            .map(|t| {
                                (
                                    self.codes.get(&t.code_taal),
                                    t.mondeling_minimaal.map(clamp),
                                    t.schriftelijk_minimaal.map(clamp),
                                )
                            })
                            .collect(),
                    )
                }
                Criterium::OnregelmatigWerk(v) => c.onregelmatig = Some(clamp(*v)),
                Criterium::Kantoortijden(v) => c.kantoor = Some(clamp(*v)),
                Criterium::UrenMaximaalMinstens(v) => c.uren_max_gte = Some(clamp(*v)),
                Criterium::UrenMinimaalHoogstens(v) => c.uren_min_lte = Some(clamp(*v)),
                Criterium::BeschikbaarUiterlijk(d) => c.datum_lte = Some(ymd(d)),
                Criterium::AanvangWerkzaamhedenVanaf(d) => c.datum_gte = Some(ymd(d)),
                Criterium::Beroep(b) => c.beroep_eq = Some(self.codes.get(b)),
                Criterium::WerkEnDenkniveau { gte, lt, eq } => {
                    c.niveau = Some((digit(gte), digit(lt), digit(eq)))
                }
            }
        }
        c
    }

    #[inline]
    fn matches(e: &Entry, c: &Compiled) -> bool {
        // cheap scalar tests first; lists last
        let eq = |field: u8, want: Option<u8>| want.is_none_or(|w| field != NONE8 && field == w);
        if !eq(e.onregelmatig, c.onregelmatig) || !eq(e.kantoor, c.kantoor) {
            return false;
        }
        if let Some(n) = c.uren_max_gte {
            if e.uren_max == NONE8 || e.uren_max < n {
                return false;
            }
        }
        if let Some(n) = c.uren_min_lte {
            if e.uren_min == NONE8 || e.uren_min > n {
                return false;
            }
        }
        if let Some(d) = c.datum_lte {
            if e.datum == 0 || e.datum > d {
                return false;
            }
        }
        if let Some(d) = c.datum_gte {
            if e.datum == 0 || e.datum < d {
                return false;
            }
        }
        if let Some(all) = c.all_rijbewijs {
            match all {
                Some(m) if e.rijbewijzen & m == m => {}
                _ => return false,
            }
        }
        if let Some(any) = c.any_contract {
            match any {
                Some(m) if e.contracten & m != 0 => {}
                _ => return false,
            }
        }
        if let Some((gte, lt, eq7)) = c.niveau {
            if e.niveau == NONE8
                || gte.is_some_and(|g| e.niveau < g)
                || lt.is_some_and(|l| e.niveau >= l)
                || eq7.is_some_and(|q| e.niveau != q)
            {
                return false;
            }
        }
        if let Some(b) = c.beroep_eq {
            if !b.is_some_and(|b| e.beroepen.as_slice().contains(&b)) {
                return false;
            }
        }
        if let Some(any) = &c.any_beroep {
            if !e.beroepen.as_slice().iter().any(|b| any.contains(b)) {
                return false;
            }
        }
        if let Some(talen) = &c.talen {
            let ok = talen.iter().all(|(code, mond, schr)| {
                let Some(code) = code else { return false };
                e.talen.iter().any(|(t, m, s)| {
                    t == code
                        && mond.is_none_or(|min| *m != NONE8 && *m >= min)
                        && schr.is_none_or(|min| *s != NONE8 && *s >= min)
                })
            });
            if !ok {
                return false;
            }
        }
        true
    }

    /// The buckets within `afstand` km of the query's postcode, with their distance.
    fn area(&self, s: &Selectie) -> Result<Vec<(&[Entry], f64)>, String> {
        let centre: Pc4Point = pc4_point(&s.selectiegebied.postcode).ok_or_else(|| {
            format!(
                "postcode {} is not in the PC4 table",
                s.selectiegebied.postcode
            )
        })?;
        let afstand = f64::from(s.selectiegebied.afstand);
        let table = pc4_table();
        let mut out: Vec<(&[Entry], f64)> = self
            .buckets
            .iter()
            .filter_map(|(pc4, b)| {
                let d = distance_km(centre, *table.get(pc4)?);
                (d <= afstand && !b.is_empty()).then_some((b.as_slice(), d))
            })
            .collect();
        // a stable order, so a full scan does not depend on the hash map's
        out.sort_by(|a, b| a.1.total_cmp(&b.1));
        Ok(out)
    }

    #[inline]
    fn accept(&self, e: &Entry, dist: f64, live_since: i64, c: &Compiled) -> bool {
        e.refreshed_ms >= live_since
            // a jobseeker's own maximum travel distance bounds the area too
            && !(self.kind == Kind::Werkzoekende && e.max_reis != NONE16 && dist > f64::from(e.max_reis))
            && Self::matches(e, c)
    }

    /// Visit every matching record (a full scan of the area; the exact semantics).
    pub fn for_each_match(
        &self,
        s: &Selectie,
        now_ms: i64,
        expiry_days: i64,
        mut f: impl FnMut(&str),
    ) -> Result<(), String> {
        let c = self.compile(s);
        let live_since = now_ms - expiry_days * 86_400_000;
        for (bucket, dist) in self.area(s)? {
            for e in bucket {
                if self.accept(e, dist, live_since, &c) {
                    f(&self.ids[e.id as usize]);
                }
            }
        }
        Ok(())
    }

    /// At most `limit` matching ids: a uniform random sample, in random order.
    ///
    /// First the engine probes candidates in random order (positions drawn without replacement);
    /// the first `limit` matches of a uniformly random visiting order are a uniform sample of all
    /// matches, and one more proves there are more. When matches are too sparse for probing to find
    /// them, it scans the whole area with reservoir sampling, which is exact.
    pub fn select(
        &self,
        s: &Selectie,
        now_ms: i64,
        expiry_days: i64,
        limit: usize,
    ) -> Result<Selection, String> {
        let c = self.compile(s);
        let live_since = now_ms - expiry_days * 86_400_000;
        let area = self.area(s)?;
        let mut rng = rand::rng();
        let total: usize = area.iter().map(|(b, _)| b.len()).sum();
        const PROBES: usize = 8192;
        if total > 4 * PROBES && limit < PROBES {
            let starts: Vec<usize> = area
                .iter()
                .scan(0, |acc, (b, _)| {
                    let s = *acc;
                    *acc += b.len();
                    Some(s)
                })
                .collect();
            let mut seen = std::collections::HashSet::with_capacity(PROBES * 2);
            let mut found: Vec<u32> = Vec::with_capacity(limit + 1);
            for _ in 0..PROBES {
                let pos = loop {
                    let p = rng.random_range(0..total);
                    if seen.insert(p) {
                        break p;
                    }
                };
                let i = starts.partition_point(|s| *s <= pos) - 1;
                let (bucket, dist) = area[i];
                let e = &bucket[pos - starts[i]];
                if self.accept(e, dist, live_since, &c) {
                    found.push(e.id);
                    if found.len() > limit {
                        found.truncate(limit);
                        return Ok(Selection {
                            ids: found
                                .iter()
                                .map(|i| self.ids[*i as usize].to_string())
                                .collect(),
                            matched: None,
                            more: true,
                        });
                    }
                }
            }
        }
        // exact: scan the area, reservoir-sample the matches
        let mut sample: Vec<u32> = Vec::with_capacity(limit);
        let mut n = 0usize;
        for (bucket, dist) in &area {
            for e in *bucket {
                if self.accept(e, *dist, live_since, &c) {
                    if sample.len() < limit {
                        sample.push(e.id);
                    } else {
                        let j = rng.random_range(0..=n);
                        if j < limit {
                            sample[j] = e.id;
                        }
                    }
                    n += 1;
                }
            }
        }
        sample.shuffle(&mut rng);
        Ok(Selection {
            ids: sample
                .iter()
                .map(|i| self.ids[*i as usize].to_string())
                .collect(),
            matched: Some(n),
            more: n > limit,
        })
    }
}
