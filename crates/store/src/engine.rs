//! The selection engine: an in-memory index of every live record's match attributes, bucketed by
//! PC4 area, fed from the store and kept current by the change log (so several gateway replicas on
//! one PostgreSQL each follow the same log). A query computes the PC4 areas within `afstand` of its
//! postcode (PC4 centroids, great-circle distance), visits only the records in those buckets, and
//! keeps a uniform random sample of at most `limit` matches (reservoir sampling), so results come
//! in random order and `maximumAantalResultatenBereikt` says whether more matched.
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

#[derive(Debug, Clone)]
struct Entry {
    id: Box<str>,
    live: bool,
    refreshed_ms: i64,
    pc4: u16,
    max_reis: u16,
    uren_min: u8,
    uren_max: u8,
    kantoor: u8,
    onregelmatig: u8,
    /// yyyymmdd, 0 = absent
    datum: u32,
    niveau: u8,
    beroepen: Box<[u32]>,
    rijbewijzen: Box<[u32]>,
    talen: Box<[(u32, u8, u8)]>,
    contracten: Box<[u32]>,
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
    /// at most `limit` VUM ids, in random order
    pub ids: Vec<String>,
    /// how many records matched in all
    pub matched: usize,
    /// `maximumAantalResultatenBereikt`: more records matched than were returned
    pub more: bool,
}

pub struct Engine {
    kind: Kind,
    entries: Vec<Entry>,
    slots: HashMap<Box<str>, usize>,
    free: Vec<usize>,
    buckets: HashMap<u16, Vec<usize>>,
    codes: Interner,
    cursor: i64,
}

/// A query with its codes interned; a code no record has can never match.
struct Compiled {
    any_beroep: Option<Vec<u32>>,
    any_contract: Option<Vec<u32>>,
    all_rijbewijs: Option<Vec<Option<u32>>>,
    talen: Option<Vec<(Option<u32>, Option<u8>, Option<u8>)>>,
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
    pub fn new(kind: Kind) -> Engine {
        Engine {
            kind,
            entries: Vec::new(),
            slots: HashMap::new(),
            free: Vec::new(),
            buckets: HashMap::new(),
            codes: Interner::default(),
            cursor: 0,
        }
    }

    /// Build the index from the store.
    pub async fn load(store: &Store, kind: Kind) -> Result<Engine, StoreError> {
        let mut e = Engine::new(kind);
        // take the cursor first: changes after it are replayed, which is idempotent
        e.cursor = store.last_change_seq().await?;
        for (id, refreshed, a) in store.attrs(kind, None).await? {
            e.put(&id, refreshed, &a);
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
            for (id, refreshed, a) in &live {
                self.put(id, *refreshed, a);
                seen.insert(id.as_str(), ());
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

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub fn cursor(&self) -> i64 {
        self.cursor
    }

    /// Insert or replace one record's attributes.
    pub fn put(&mut self, id: &str, refreshed_ms: i64, a: &Attrs) {
        self.remove(id);
        let mut intern =
            |v: &[String]| -> Box<[u32]> { v.iter().map(|s| self.codes.id(s)).collect() };
        let beroepen = intern(&a.beroepen);
        let rijbewijzen = intern(&a.rijbewijzen);
        let contracten = intern(&a.contracten);
        let talen = a
            .talen
            .iter()
            .map(|(t, m, s)| (self.codes.id(t), small(*m, NONE8), small(*s, NONE8)))
            .collect();
        let pc4 = a.pc4.and_then(|p| u16::try_from(p).ok()).unwrap_or(NONE16);
        let entry = Entry {
            id: id.into(),
            live: true,
            refreshed_ms,
            pc4,
            max_reis: a
                .max_reis
                .and_then(|x| u16::try_from(x).ok())
                .unwrap_or(NONE16),
            uren_min: small(a.uren_min, NONE8),
            uren_max: small(a.uren_max, NONE8),
            kantoor: small(a.kantoor, NONE8),
            onregelmatig: small(a.onregelmatig, NONE8),
            datum: a.datum.as_deref().map(ymd).unwrap_or(0),
            niveau: a
                .niveau
                .as_deref()
                .and_then(|n| n.parse().ok())
                .unwrap_or(NONE8),
            beroepen,
            rijbewijzen,
            talen,
            contracten,
        };
        let slot = match self.free.pop() {
            Some(s) => {
                self.entries[s] = entry;
                s
            }
            None => {
                self.entries.push(entry);
                self.entries.len() - 1
            }
        };
        self.slots.insert(id.into(), slot);
        self.buckets.entry(pc4).or_default().push(slot);
    }

    /// Drop a record from the index.
    pub fn remove(&mut self, id: &str) {
        if let Some(slot) = self.slots.remove(id) {
            let pc4 = self.entries[slot].pc4;
            if let Some(b) = self.buckets.get_mut(&pc4) {
                if let Some(p) = b.iter().position(|s| *s == slot) {
                    b.swap_remove(p);
                }
            }
            self.entries[slot].live = false;
            self.free.push(slot);
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
        for k in &s.criteria {
            match k {
                Criterium::Bemiddelingsberoep(v) => {
                    c.any_beroep = Some(v.iter().filter_map(|x| self.codes.get(x)).collect())
                }
                Criterium::Contractvorm(v) => {
                    c.any_contract = Some(v.iter().filter_map(|x| self.codes.get(x)).collect())
                }
                Criterium::Rijbewijzen(v) => {
                    c.all_rijbewijs = Some(v.iter().map(|x| self.codes.get(x)).collect())
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

    fn matches(e: &Entry, c: &Compiled) -> bool {
        if let Some(any) = &c.any_beroep {
            if !e.beroepen.iter().any(|b| any.contains(b)) {
                return false;
            }
        }
        if let Some(any) = &c.any_contract {
            if !e.contracten.iter().any(|b| any.contains(b)) {
                return false;
            }
        }
        if let Some(all) = &c.all_rijbewijs {
            if !all
                .iter()
                .all(|r| r.is_some_and(|r| e.rijbewijzen.contains(&r)))
            {
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
        if let Some(b) = c.beroep_eq {
            if !b.is_some_and(|b| e.beroepen.contains(&b)) {
                return false;
            }
        }
        if let Some((gte, lt, eq7)) = c.niveau {
            if e.niveau == NONE8 {
                return false;
            }
            if let Some(g) = gte {
                if e.niveau < g {
                    return false;
                }
            }
            if let Some(l) = lt {
                if e.niveau >= l {
                    return false;
                }
            }
            if let Some(q) = eq7 {
                if e.niveau != q {
                    return false;
                }
            }
        }
        true
    }

    /// The PC4 areas within `afstand` km of the query's postcode, with their distance.
    fn area(centre: Pc4Point, afstand: f64) -> Vec<(u16, f64)> {
        pc4_table()
            .iter()
            .filter_map(|(pc4, p)| {
                let d = distance_km(centre, *p);
                (d <= afstand).then_some((*pc4, d))
            })
            .collect()
    }

    /// Visit every matching record (the engine's own semantics; used by `select`).
    pub fn for_each_match(
        &self,
        s: &Selectie,
        now_ms: i64,
        expiry_days: i64,
        mut f: impl FnMut(&str),
    ) -> Result<(), String> {
        let centre = pc4_point(&s.selectiegebied.postcode).ok_or_else(|| {
            format!(
                "postcode {} is not in the PC4 table",
                s.selectiegebied.postcode
            )
        })?;
        let c = self.compile(s);
        let live_since = now_ms - expiry_days * 86_400_000;
        let afstand = f64::from(s.selectiegebied.afstand);
        for (pc4, dist) in Self::area(centre, afstand) {
            let Some(bucket) = self.buckets.get(&pc4) else {
                continue;
            };
            for &slot in bucket {
                let e = &self.entries[slot];
                if !e.live || e.refreshed_ms < live_since {
                    continue;
                }
                // a jobseeker's own maximum travel distance bounds the area too
                if self.kind == Kind::Werkzoekende
                    && e.max_reis != NONE16
                    && dist > f64::from(e.max_reis)
                {
                    continue;
                }
                if Self::matches(e, &c) {
                    f(&e.id);
                }
            }
        }
        Ok(())
    }

    /// At most `limit` matching ids, a uniform random sample in random order.
    pub fn select(
        &self,
        s: &Selectie,
        now_ms: i64,
        expiry_days: i64,
        limit: usize,
    ) -> Result<Selection, String> {
        let mut rng = rand::rng();
        let mut sample: Vec<String> = Vec::with_capacity(limit);
        let mut n = 0usize;
        self.for_each_match(s, now_ms, expiry_days, |id| {
            if sample.len() < limit {
                sample.push(id.to_string());
            } else {
                let j = rng.random_range(0..=n);
                if j < limit {
                    sample[j] = id.to_string();
                }
            }
            n += 1;
        })?;
        sample.shuffle(&mut rng);
        Ok(Selection {
            ids: sample,
            matched: n,
            more: n > limit,
        })
    }
}
