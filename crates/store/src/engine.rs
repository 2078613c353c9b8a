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
use std::collections::{BTreeMap, HashMap};
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
    /// the refresh batches are applied up to here
    refresh_cursor: i64,
}

/// An encoded index with the cursors it is current to (see [`Engine::snapshot`]).
pub struct Snapshot {
    kind: Kind,
    change_seq: i64,
    refresh_seq: i64,
    data: Vec<u8>,
}

impl Snapshot {
    /// The change-log cursor it is current to.
    pub fn change_seq(&self) -> i64 {
        self.change_seq
    }

    /// Save it as its kind's snapshot (replacing the previous one).
    pub async fn save(self, store: &Store) -> Result<(), StoreError> {
        let saved = crate::snapshot::Saved {
            change_seq: self.change_seq,
            change_tag: store.change_tag(self.change_seq).await?.unwrap_or_default(),
            refresh_seq: self.refresh_seq,
            made_ms: crate::now_ms(),
            checksum: crate::snapshot::checksum(&self.data),
            data: self.data,
        };
        store.save_index(self.kind, &saved).await
    }
}

/// A snapshot older than this is not used (the refresh log it would need may be pruned).
pub const SNAPSHOT_MAX_AGE_MS: i64 = 30 * 86_400_000;

/// How [`Engine::load_from`] built the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loaded {
    /// from the saved snapshot, then `applied` changes and refresh batches
    Snapshot {
        /// entries of the change log and refresh batches applied after it
        applied: usize,
    },
    /// from the records' match columns (and saved as the new snapshot), because of `reason`
    Rebuilt {
        /// why the snapshot was not used: none, damaged, stale, too old
        reason: &'static str,
    },
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
            refresh_cursor: 0,
        }
    }

    /// The index of `kind`: from its snapshot when there is a usable one, else from the records.
    pub async fn load(store: &Store, kind: Kind) -> Result<Engine, StoreError> {
        Ok(Self::load_from(store, kind).await?.0)
    }

    /// [`Engine::load`], saying how: a snapshot is used when its checksum holds, it decodes, it
    /// is at most [`SNAPSHOT_MAX_AGE_MS`] old and its cursors are points of this database's
    /// logs; it is then brought up to date by [`Engine::catch_up`]. Otherwise the index is built
    /// from the records' match columns and saved as the new snapshot.
    pub async fn load_from(store: &Store, kind: Kind) -> Result<(Engine, Loaded), StoreError> {
        let reason = match store.saved_index(kind).await? {
            None => "no snapshot",
            Some(saved) => match Self::from_saved(store, kind, &saved).await? {
                Ok(mut e) => {
                    let applied = e.catch_up(store).await?;
                    tracing::info!(kind = %kind, records = e.slots.len(), cursor = e.cursor, applied, "selection index loaded from its snapshot");
                    return Ok((e, Loaded::Snapshot { applied }));
                }
                Err(reason) => reason,
            },
        };
        let mut e = Engine::new(kind);
        // take the cursors first: what happens after them is replayed, which is idempotent
        e.cursor = store.last_change_seq().await?;
        e.refresh_cursor = store.last_refresh_seq().await?;
        for r in store.attrs(kind, None).await? {
            e.put(&r.vum_id, r.refreshed_ms, &r.attrs);
        }
        tracing::info!(kind = %kind, records = e.slots.len(), cursor = e.cursor, reason, "selection index built from the records");
        if let Err(err) = e.save(store).await {
            tracing::warn!(kind = %kind, error = %err, "saving the selection index failed");
        }
        Ok((e, Loaded::Rebuilt { reason }))
    }

    /// The snapshot as an index, or why it cannot be used.
    async fn from_saved(
        store: &Store,
        kind: Kind,
        s: &crate::snapshot::Saved,
    ) -> Result<Result<Engine, &'static str>, StoreError> {
        if crate::snapshot::checksum(&s.data) != s.checksum {
            return Ok(Err("damaged snapshot (checksum)"));
        }
        if crate::now_ms() - s.made_ms > SNAPSHOT_MAX_AGE_MS {
            return Ok(Err("snapshot too old"));
        }
        if store.change_tag(s.change_seq).await?.as_deref() != Some(s.change_tag.as_str())
            || s.refresh_seq > store.last_refresh_seq().await?
        {
            return Ok(Err("stale snapshot (not of this database's logs)"));
        }
        Ok(match Engine::decode(kind, &s.data) {
            Ok(mut e) => {
                e.cursor = s.change_seq;
                e.refresh_cursor = s.refresh_seq;
                Ok(e)
            }
            Err(_) => Err("damaged snapshot (does not decode)"),
        })
    }

    /// Save the index as its kind's snapshot (replacing the previous one).
    pub async fn save(&self, store: &Store) -> Result<(), StoreError> {
        self.snapshot().save(store).await
    }

    /// The index as a snapshot to save (encoding is the only part that needs the index, so a
    /// caller can let go of its lock before [`Snapshot::save`] writes).
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            kind: self.kind,
            change_seq: self.cursor,
            refresh_seq: self.refresh_cursor,
            data: self.encode(),
        }
    }

    /// Apply the change log and the refresh batches since the last call.
    pub async fn catch_up(&mut self, store: &Store) -> Result<usize, StoreError> {
        // the usual case, nothing new: one statement instead of one per log
        if !store
            .moved_since(self.kind, self.cursor, self.refresh_cursor)
            .await?
        {
            return Ok(0);
        }
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
        // records an import found unchanged: only their refresh time moved (expiry)
        loop {
            let batches = store
                .refreshes_since(self.kind, self.refresh_cursor, 100)
                .await?;
            let Some(last) = batches.last() else { break };
            self.refresh_cursor = last.0;
            for (_, at_ms, ids) in &batches {
                for id in ids.split('\n') {
                    self.refresh(id, *at_ms);
                }
            }
            applied += batches.len();
        }
        Ok(applied)
    }

    /// A record's refresh time moved to `at_ms` (never back).
    fn refresh(&mut self, id: &str, at_ms: i64) {
        if let Some((pc4, pos)) = self.slots.get(id) {
            if let Some(e) = self
                .buckets
                .get_mut(pc4)
                .and_then(|b| b.get_mut(*pos as usize))
            {
                e.refreshed_ms = e.refreshed_ms.max(at_ms);
            }
        }
    }

    /// The number of records in the index.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// The index holds no records.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The live records (refreshed within `expiry_days` of `now_ms`) per PC4 area, None for records
    /// without one: the index's count of what a node shares, the same as the store's (its
    /// `shared` figure), without a pass over the records table.
    pub fn live_per_pc4(&self, now_ms: i64, expiry_days: i64) -> BTreeMap<Option<u16>, u64> {
        let live_since = now_ms - expiry_days * 86_400_000;
        let mut out = BTreeMap::new();
        for (pc4, bucket) in &self.buckets {
            let n = bucket
                .iter()
                .filter(|e| e.refreshed_ms >= live_since)
                .count() as u64;
            if n > 0 {
                *out.entry((*pc4 != NONE16).then_some(*pc4)).or_default() += n;
            }
        }
        out
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
        let entry = Entry {
            refreshed_ms,
            datum: a.datum.as_deref().map(ymd).unwrap_or(0),
            rijbewijzen,
            contracten,
            id: 0,
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
        self.insert(id, pc4, entry);
    }

    /// Add a record not in the index: its id gets a place, its entry the end of its bucket.
    fn insert(&mut self, id: &str, pc4: u16, mut entry: Entry) {
        entry.id = match self.free_ids.pop() {
            Some(i) => {
                self.ids[i as usize] = id.into();
                i
            }
            None => {
                self.ids.push(id.into());
                (self.ids.len() - 1) as u32
            }
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

/// Why saved index bytes could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("selection index snapshot: {0}")]
pub struct SnapshotError(&'static str);

/// Reads the little-endian fields of a snapshot, every read bounds-checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SnapshotError> {
        if self.0.len() < n {
            return Err(SnapshotError("truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, SnapshotError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, SnapshotError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, SnapshotError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn i64(&mut self) -> Result<i64, SnapshotError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_le_bytes(a))
    }
    /// A count of items each at least `min` bytes long: bounded by what is left.
    fn count(&mut self, min: usize) -> Result<usize, SnapshotError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min.max(1)) > self.0.len() {
            return Err(SnapshotError("a count larger than the data"));
        }
        Ok(n)
    }
    fn str(&mut self) -> Result<&'a str, SnapshotError> {
        let n = self.u16()? as usize;
        std::str::from_utf8(self.take(n)?).map_err(|_| SnapshotError("a text that is not UTF-8"))
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    // ids and codes are short (ids at most 200 bytes, codes URIs); longer is cut off, never
    // written wrong
    let b = &s.as_bytes()[..s.len().min(u16::MAX as usize)];
    out.extend_from_slice(&(b.len() as u16).to_le_bytes());
    out.extend_from_slice(b);
}

/// The first bytes and version of a snapshot.
const SNAPSHOT_MAGIC: &[u8; 4] = b"MGIX";
const SNAPSHOT_VERSION: u32 = 1;

impl Interner {
    /// The codes in id order.
    fn in_order(&self) -> Vec<&str> {
        let mut v = vec![""; self.map.len()];
        for (s, i) in &self.map {
            if let Some(slot) = v.get_mut(*i as usize) {
                *slot = s;
            }
        }
        v
    }
}

impl Engine {
    /// The index as bytes: `MGIX`, version, kind, the interned codes in id order, then every
    /// record (id, PC4 and its compact attributes), little-endian. [`Engine::decode`] reads it.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.slots.len() * 80);
        out.extend_from_slice(SNAPSHOT_MAGIC);
        out.extend_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
        put_str(&mut out, self.kind.name());
        for interner in [&self.codes, &self.bits] {
            let codes = interner.in_order();
            out.extend_from_slice(&(codes.len() as u32).to_le_bytes());
            for c in codes {
                put_str(&mut out, c);
            }
        }
        out.extend_from_slice(&(self.slots.len() as u32).to_le_bytes());
        for (pc4, bucket) in &self.buckets {
            for e in bucket {
                put_str(&mut out, &self.ids[e.id as usize]);
                out.extend_from_slice(&pc4.to_le_bytes());
                out.extend_from_slice(&e.refreshed_ms.to_le_bytes());
                for v in [e.datum, e.rijbewijzen, e.contracten] {
                    out.extend_from_slice(&v.to_le_bytes());
                }
                out.extend_from_slice(&e.max_reis.to_le_bytes());
                out.extend_from_slice(&[
                    e.uren_min,
                    e.uren_max,
                    e.kantoor,
                    e.onregelmatig,
                    e.niveau,
                ]);
                let beroepen = e.beroepen.as_slice();
                out.extend_from_slice(&(beroepen.len() as u32).to_le_bytes());
                for b in beroepen {
                    out.extend_from_slice(&b.to_le_bytes());
                }
                out.extend_from_slice(&(e.talen.len() as u32).to_le_bytes());
                for (t, m, s) in e.talen.iter() {
                    out.extend_from_slice(&t.to_le_bytes());
                    out.extend_from_slice(&[*m, *s]);
                }
            }
        }
        out
    }

    /// An index from [`Engine::encode`]'s bytes (its cursors at 0: the caller sets them).
    pub fn decode(kind: Kind, data: &[u8]) -> Result<Engine, SnapshotError> {
        let mut r = Reader(data);
        if r.take(4)? != SNAPSHOT_MAGIC || r.u32()? != SNAPSHOT_VERSION {
            return Err(SnapshotError("not a snapshot of this version"));
        }
        if r.str()? != kind.name() {
            return Err(SnapshotError("a snapshot of another kind"));
        }
        let mut e = Engine::new(kind);
        for interner in [&mut e.codes, &mut e.bits] {
            let n = r.count(2)?;
            for i in 0..n {
                let c = r.str()?;
                if interner.map.insert(c.to_string(), i as u32).is_some() {
                    return Err(SnapshotError("a code twice"));
                }
            }
        }
        let codes = e.codes.map.len() as u32;
        let n = r.count(40)?;
        e.slots.reserve(n);
        e.ids.reserve(n);
        for _ in 0..n {
            let id = r.str()?;
            let pc4 = r.u16()?;
            let mut entry = Entry {
                refreshed_ms: r.i64()?,
                datum: r.u32()?,
                rijbewijzen: r.u32()?,
                contracten: r.u32()?,
                id: 0,
                max_reis: r.u16()?,
                uren_min: r.u8()?,
                uren_max: r.u8()?,
                kantoor: r.u8()?,
                onregelmatig: r.u8()?,
                niveau: r.u8()?,
                beroepen: Codes::default(),
                talen: Box::default(),
            };
            let nb = r.count(4)?;
            let mut beroepen = Vec::with_capacity(nb);
            for _ in 0..nb {
                beroepen.push(r.u32()?);
            }
            let nt = r.count(6)?;
            let mut talen = Vec::with_capacity(nt);
            for _ in 0..nt {
                talen.push((r.u32()?, r.u8()?, r.u8()?));
            }
            if beroepen
                .iter()
                .chain(talen.iter().map(|t| &t.0))
                .any(|c| *c >= codes)
            {
                return Err(SnapshotError("a code that is not in the table"));
            }
            entry.beroepen = Codes::new(&beroepen);
            entry.talen = talen.into();
            if e.slots.contains_key(id) {
                return Err(SnapshotError("a record twice"));
            }
            e.insert(id, pc4, entry);
        }
        if !r.0.is_empty() {
            return Err(SnapshotError("bytes after the last record"));
        }
        Ok(e)
    }
}
