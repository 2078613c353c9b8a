//! Shared test helpers: figures, a fixed-seed generator and the differencing attacker.
#![allow(dead_code, clippy::needless_range_loop)]

/// Cell ids of one counts block, by id of the row or municipality.
pub type Ids = BTreeMap<(String, String), [usize; 7]>;

use std::collections::BTreeMap;
use transparency::figures::{Area, NodeFigures, Organisation, Quality, Run, RunArea, Tally};
use transparency::geo::Geography;
use transparency::merge::FederationReport;
use transparency::publish::{Cell, Counts, Measure, Published};

/// A 64-bit LCG (Knuth's MMIX constants): deterministic, no rand crate.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// A count: often 0 or small, sometimes large.
    pub fn count(&mut self) -> u64 {
        match self.below(10) {
            0..=1 => 0,
            2..=5 => 1 + self.below(4),
            6..=7 => 5 + self.below(20),
            _ => 25 + self.below(300),
        }
    }
}

pub fn org(oin: &str, name: &str) -> Organisation {
    Organisation {
        oin: oin.into(),
        name: name.into(),
    }
}

pub fn tally(shared: u64, no_consent: u64, rejected: u64, expired: u64, withdrawn: u64) -> Tally {
    let mut rejected_by_rule = BTreeMap::new();
    if rejected > 0 {
        rejected_by_rule.insert("werkzoekenden#Postcode/pattern".to_owned(), rejected);
    }
    Tally {
        shared,
        no_consent,
        rejected,
        expired,
        withdrawn,
        rejected_by_rule,
    }
}

pub fn quality(shared: u64) -> Quality {
    Quality {
        shared,
        with_occupation: shared * 9 / 10,
        with_hours: shared * 3 / 4,
        with_availability: shared / 2,
        with_education: shared * 2 / 3,
        with_languages: shared / 3,
        with_licence: shared / 5,
        fresh_days: [
            shared / 2,
            shared / 4,
            shared / 8,
            shared - shared / 2 - shared / 4 - shared / 8,
        ],
        warnings_by_rule: BTreeMap::new(),
    }
}

pub fn area(code: &str, t: Tally) -> Area {
    Area {
        municipality: code.into(),
        quality: quality(t.shared),
        tally: t,
    }
}

pub fn figures(o: Organisation, areas: Vec<Area>) -> NodeFigures {
    NodeFigures {
        organisation: o,
        generated_ms: 1_767_225_600_000,
        areas,
        runs: Vec::new(),
    }
}

/// Random figures: `n` municipalities from a few regions (and sometimes "onbekend"), many small
/// cells, rejections split over three rules, a few runs.
pub fn random_figures(seed: u64, o: Organisation, n: usize) -> NodeFigures {
    let mut g = Lcg(seed);
    let geo = Geography::get();
    let all: Vec<&str> = geo
        .municipalities()
        .filter(|m| ["AM01", "AM02", "AM03", "AM05", "AM11"].contains(&m.region.as_str()))
        .map(|m| m.code.as_str())
        .collect();
    let mut codes: Vec<String> = Vec::new();
    while codes.len() < n.min(all.len()) {
        let c = all[g.below(all.len() as u64) as usize].to_owned();
        if !codes.contains(&c) {
            codes.push(c);
        }
    }
    if g.below(2) == 0 {
        codes.push(transparency::figures::UNKNOWN_MUNICIPALITY.to_owned());
    }
    let rules = [
        "werkzoekenden#Postcode/pattern",
        "werkzoekenden#/required/emailadres",
        "prose:periode",
    ];
    let mut areas = Vec::new();
    for code in codes {
        let rejected = g.count();
        let mut by_rule = BTreeMap::new();
        let mut left = rejected;
        for (i, r) in rules.iter().enumerate() {
            let part = if i == rules.len() - 1 {
                left
            } else {
                g.below(left + 1)
            };
            left -= part;
            if part > 0 {
                by_rule.insert((*r).to_owned(), part);
            }
        }
        let t = Tally {
            shared: g.count(),
            no_consent: g.count(),
            rejected,
            expired: g.count(),
            withdrawn: g.count(),
            rejected_by_rule: by_rule,
        };
        let mut q = quality(t.shared);
        if g.below(3) == 0 {
            q.warnings_by_rule
                .insert("werkzoekenden#telefoon".to_owned(), g.count());
        }
        areas.push(Area {
            municipality: code,
            tally: t,
            quality: q,
        });
    }
    let mut runs = Vec::new();
    for k in 0..3 {
        let mut ra = BTreeMap::new();
        for a in &areas {
            let offered = g.count();
            ra.insert(
                a.municipality.clone(),
                RunArea {
                    offered,
                    accepted: offered,
                    no_consent: 0,
                    rejected: 0,
                    shared_after: g.count(),
                },
            );
        }
        runs.push(Run {
            at_ms: 1_767_225_600_000 + k * 86_400_000,
            origin: "ingest".into(),
            areas: ra,
        });
    }
    NodeFigures {
        organisation: o,
        generated_ms: 1_767_225_600_000 + seed as i64,
        areas,
        runs,
    }
}

/// The attacker's view: cells (known value or unknown) and the additive relations anyone can
/// read off the published structure.
#[derive(Default)]
pub struct System {
    pub known: Vec<Option<i128>>,
    pub names: Vec<String>,
    pub relations: Vec<(usize, Vec<usize>)>,
}

impl System {
    pub fn cell(&mut self, c: Cell, name: String) -> usize {
        self.known.push(c.value().map(i128::from));
        self.names.push(name);
        self.known.len() - 1
    }

    /// The seven cells of a counts block and its two internal relations.
    pub fn counts(&mut self, c: &Counts, name: &str) -> [usize; 7] {
        let ids = Measure::ALL.map(|m| self.cell(c.get(m), format!("{name}.{}", m.key())));
        self.relations.push((ids[2], vec![ids[0], ids[1]]));
        self.relations
            .push((ids[1], vec![ids[3], ids[4], ids[5], ids[6]]));
        ids
    }

    fn relate7(&mut self, total: [usize; 7], parts: &[[usize; 7]]) {
        for m in 0..7 {
            self.relations
                .push((total[m], parts.iter().map(|p| p[m]).collect()));
        }
    }

    /// Adds one published form; returns the row ids by (municipality, oin) and the municipality
    /// total ids by code.
    pub fn add_published(&mut self, p: &Published) -> (Ids, BTreeMap<String, [usize; 7]>) {
        let tag = p
            .organisations
            .iter()
            .map(|o| o.oin.as_str())
            .collect::<Vec<_>>()
            .join("+");
        let mut rows = BTreeMap::new();
        for r in &p.rows {
            let ids = self.counts(&r.counts, &format!("{tag}/row {}", r.municipality_code));
            rows.insert(
                (r.municipality_code.clone(), r.organisation.oin.clone()),
                ids,
            );
        }
        let mut muns = BTreeMap::new();
        let mut mun_region: BTreeMap<String, String> = BTreeMap::new();
        for m in &p.municipalities {
            let ids = self.counts(&m.counts, &format!("{tag}/mun {}", m.municipality_code));
            let parts: Vec<[usize; 7]> = rows
                .iter()
                .filter(|((code, _), _)| code == &m.municipality_code)
                .map(|(_, ids)| *ids)
                .collect();
            self.relate7(ids, &parts);
            muns.insert(m.municipality_code.clone(), ids);
            mun_region.insert(m.municipality_code.clone(), m.region_code.clone());
        }
        let mut regs = Vec::new();
        for g in &p.regions {
            let ids = self.counts(&g.counts, &format!("{tag}/region {}", g.region_code));
            let parts: Vec<[usize; 7]> = muns
                .iter()
                .filter(|(code, _)| mun_region[*code] == g.region_code)
                .map(|(_, ids)| *ids)
                .collect();
            self.relate7(ids, &parts);
            regs.push(ids);
        }
        let nat = self.counts(&p.national, &format!("{tag}/national"));
        self.relate7(nat, &regs);
        let rules: Vec<usize> = p
            .rejected_by_rule
            .iter()
            .map(|(r, c)| self.cell(*c, format!("{tag}/rule {r}")))
            .collect();
        if !rules.is_empty() {
            self.relations.push((nat[4], rules));
        }
        for run in &p.trend {
            let parts: Vec<usize> = run
                .shared_after_by_region
                .iter()
                .map(|(r, c)| self.cell(*c, format!("{tag}/run {} {r}", run.at_ms)))
                .collect();
            let total = self.cell(run.shared_after, format!("{tag}/run {}", run.at_ms));
            self.relations.push((total, parts));
        }
        (rows, muns)
    }

    /// Adds a merged report's municipality totals as sums of the given parts' municipality
    /// totals (exact when published as a value; a lower bound is treated as unknown).
    pub fn add_merged_municipalities(
        &mut self,
        report: &FederationReport,
        parts: &[BTreeMap<String, [usize; 7]>],
    ) {
        for m in &report.municipalities {
            let ids = self.counts(
                &m.counts,
                format!("merged/mun {}", m.municipality_code).as_str(),
            );
            let members: Vec<[usize; 7]> = parts
                .iter()
                .filter_map(|p| p.get(&m.municipality_code).copied())
                .collect();
            self.relate7(ids, &members);
        }
    }

    /// (i) Iterated propagation: a relation with one unknown gives it away; a published total
    /// whose unknown parts sum to their number gives them all away (each suppressed cell ≥ 1).
    pub fn propagate(&self) -> Vec<usize> {
        let mut val = self.known.clone();
        let mut recovered = Vec::new();
        loop {
            let mut changed = false;
            for (total, parts) in &self.relations {
                let unknown_parts: Vec<usize> = parts
                    .iter()
                    .copied()
                    .filter(|&p| val[p].is_none())
                    .collect();
                let known_parts: i128 = parts.iter().filter_map(|&p| val[p]).sum();
                match (val[*total], unknown_parts.len()) {
                    (None, 0) => {
                        val[*total] = Some(known_parts);
                        recovered.push(*total);
                        changed = true;
                    }
                    (Some(t), 1) => {
                        val[unknown_parts[0]] = Some(t - known_parts);
                        recovered.push(unknown_parts[0]);
                        changed = true;
                    }
                    (Some(t), k) if k > 1 && t - known_parts == k as i128 => {
                        for &u in &unknown_parts {
                            val[u] = Some(1);
                            recovered.push(u);
                        }
                        changed = true;
                    }
                    _ => {}
                }
            }
            if !changed {
                return recovered;
            }
        }
    }

    /// (ii) Gaussian elimination over the rationals: the unknowns whose value the published
    /// cells and relations fix.
    pub fn eliminate(&self) -> Vec<usize> {
        let unknowns: Vec<usize> = (0..self.known.len())
            .filter(|&c| self.known[c].is_none())
            .collect();
        let col: BTreeMap<usize, usize> =
            unknowns.iter().enumerate().map(|(i, &c)| (c, i)).collect();
        let n = unknowns.len();
        let mut m: Vec<Vec<Q>> = Vec::new();
        for (total, parts) in &self.relations {
            let mut row = vec![Q::zero(); n];
            let mut any = false;
            if let Some(&j) = col.get(total) {
                row[j] = row[j].add(Q::int(1));
                any = true;
            }
            for p in parts {
                if let Some(&j) = col.get(p) {
                    row[j] = row[j].add(Q::int(-1));
                    any = true;
                }
            }
            if any {
                m.push(row);
            }
        }
        // reduced row echelon form
        let mut pivots: Vec<(usize, usize)> = Vec::new();
        let mut r = 0;
        for c in 0..n {
            let Some(p) = (r..m.len()).find(|&i| !m[i][c].is_zero()) else {
                continue;
            };
            m.swap(r, p);
            let inv = m[r][c].inv();
            for x in m[r].iter_mut() {
                *x = x.mul(inv);
            }
            for i in 0..m.len() {
                if i != r && !m[i][c].is_zero() {
                    let f = m[i][c];
                    for k in 0..n {
                        if !m[r][k].is_zero() {
                            m[i][k] = m[i][k].sub(f.mul(m[r][k]));
                        }
                    }
                }
            }
            pivots.push((r, c));
            r += 1;
        }
        pivots
            .into_iter()
            .filter(|&(r, c)| (0..n).all(|k| k == c || m[r][k].is_zero()))
            .map(|(_, c)| unknowns[c])
            .collect()
    }

    pub fn describe(&self, cells: &[usize]) -> Vec<String> {
        cells.iter().map(|&c| self.names[c].clone()).collect()
    }
}

/// A rational with i128 parts, normalised.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Q(i128, i128);

fn gcd(a: i128, b: i128) -> i128 {
    let (mut a, mut b) = (a.abs(), b.abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Q {
    fn new(n: i128, d: i128) -> Q {
        let g = gcd(n, d).max(1);
        let s = if d < 0 { -1 } else { 1 };
        Q(s * n / g, s * d / g)
    }
    fn zero() -> Q {
        Q(0, 1)
    }
    fn int(n: i128) -> Q {
        Q(n, 1)
    }
    fn is_zero(self) -> bool {
        self.0 == 0
    }
    fn add(self, o: Q) -> Q {
        Q::new(self.0 * o.1 + o.0 * self.1, self.1 * o.1)
    }
    fn sub(self, o: Q) -> Q {
        self.add(Q(-o.0, o.1))
    }
    fn mul(self, o: Q) -> Q {
        Q::new(self.0 * o.0, self.1 * o.1)
    }
    fn inv(self) -> Q {
        Q::new(self.1, self.0)
    }
}

/// The seven raw counts of a tally in [`Measure::ALL`] order.
pub fn raw(t: &Tally) -> [u64; 7] {
    let ns = t.no_consent + t.rejected + t.expired + t.withdrawn;
    [
        t.shared,
        ns,
        t.shared + ns,
        t.no_consent,
        t.rejected,
        t.expired,
        t.withdrawn,
    ]
}

/// Asserts that every published value equals the true count (rows, municipalities, regions,
/// national), and that suppressed cells are never 0 and that 1..=4 are always suppressed.
pub fn assert_published_values_true(f: &NodeFigures, p: &Published) {
    let geo = Geography::get();
    let mut by_mun: BTreeMap<String, [u64; 7]> = BTreeMap::new();
    for a in &f.areas {
        let e = by_mun.entry(a.municipality.clone()).or_default();
        for (i, v) in raw(&a.tally).into_iter().enumerate() {
            e[i] += v;
        }
    }
    let mut by_region: BTreeMap<String, [u64; 7]> = BTreeMap::new();
    let mut national = [0u64; 7];
    for (code, v) in &by_mun {
        let e = by_region.entry(geo.place(code).region_code).or_default();
        for i in 0..7 {
            e[i] += v[i];
            national[i] += v[i];
        }
    }
    let check = |truth: &[u64; 7], c: &Counts, what: &str| {
        for (i, m) in Measure::ALL.into_iter().enumerate() {
            match c.get(m) {
                Cell::Value(v) => {
                    assert_eq!(v, truth[i], "{what} {}", m.key());
                    assert!(!(1..=4).contains(&v), "{what} {} = {v} published", m.key());
                }
                Cell::Suppressed => assert!(truth[i] > 0, "{what} {}: a 0 suppressed", m.key()),
                Cell::AtLeast(_) => panic!("lower bound in a node's published form"),
            }
        }
    };
    assert_eq!(p.rows.len(), by_mun.len());
    for r in &p.rows {
        check(
            &by_mun[&r.municipality_code],
            &r.counts,
            &r.municipality_code,
        );
    }
    for m in &p.municipalities {
        check(
            &by_mun[&m.municipality_code],
            &m.counts,
            &m.municipality_code,
        );
    }
    for g in &p.regions {
        check(&by_region[&g.region_code], &g.counts, &g.region_code);
    }
    check(&national, &p.national, "national");
}
