//! The suppression engine: a table of counts with additive relations (`total = Σ parts`),
//! primary suppression of 1..=4, then secondary suppression until no suppressed cell can be
//! worked out from the published cells.
//!
//! Secondary suppression, deterministic:
//! 1. every relation has 0 or ≥ 2 suppressed cells, and when a relation's total is published
//!    and k of its parts are suppressed, those parts sum to more than k (each suppressed cell is
//!    known to be ≥ 1, so a sum of exactly k would give them all away);
//! 2. Gaussian elimination over the unknowns (the suppressed cells) of all relations (modulo
//!    the prime 2⁶¹−1, so without overflow): a suppressed cell is determined when its unit
//!    vector is in the row space; for each determined cell one more cell is suppressed in one
//!    of its relations (or, failing that, in the nearest relation reachable through suppressed
//!    cells);
//! 3. repeat 1–2 until stable.
//!
//! A cell chosen for secondary suppression is the smallest published non-zero part of the
//! relation (lowest index on ties), else its total; zero cells are never suppressed, so every
//! suppressed cell is ≥ 1 (which makes the merged lower bounds `≥N` sound).
use std::collections::{BTreeMap, VecDeque};

/// Counts from 1 to this are suppressed at the source.
pub const PRIMARY_MAX: u64 = 4;

/// `total = Σ parts`, by cell index.
#[derive(Debug, Clone)]
pub(crate) struct Relation {
    pub total: usize,
    pub parts: Vec<usize>,
}

/// Cells and relations.
#[derive(Debug, Clone, Default)]
pub(crate) struct Table {
    pub values: Vec<u64>,
    pub suppressed: Vec<bool>,
    pub relations: Vec<Relation>,
}

impl Table {
    /// A new cell, primary-suppressed when 1..=4.
    pub fn cell(&mut self, value: u64) -> usize {
        self.values.push(value);
        self.suppressed.push((1..=PRIMARY_MAX).contains(&value));
        self.values.len() - 1
    }

    /// Adds `total = Σ parts`. The caller guarantees it holds.
    pub fn relate(&mut self, total: usize, parts: Vec<usize>) {
        debug_assert_eq!(
            self.values[total],
            parts.iter().map(|&p| self.values[p]).sum::<u64>()
        );
        self.relations.push(Relation { total, parts });
    }

    /// Runs secondary suppression to a fixed point.
    pub fn suppress(&mut self) {
        let mut of_cell: Vec<Vec<usize>> = vec![Vec::new(); self.values.len()];
        for (r, rel) in self.relations.iter().enumerate() {
            of_cell[rel.total].push(r);
            for &p in &rel.parts {
                of_cell[p].push(r);
            }
        }
        loop {
            self.count_rule();
            if !self.linear_rule(&of_cell) {
                break;
            }
        }
    }

    /// The cell to suppress next in a relation: the smallest published non-zero part, else the
    /// total when published and non-zero. Returns (is_total, value, index) for ordering.
    fn candidate(&self, rel: &Relation) -> Option<(bool, u64, usize)> {
        let part = rel
            .parts
            .iter()
            .filter(|&&p| !self.suppressed[p] && self.values[p] > 0)
            .map(|&p| (false, self.values[p], p))
            .min();
        part.or_else(|| {
            (!self.suppressed[rel.total] && self.values[rel.total] > 0).then_some((
                true,
                self.values[rel.total],
                rel.total,
            ))
        })
    }

    /// Step 1 to a fixed point.
    fn count_rule(&mut self) {
        loop {
            let mut changed = false;
            for r in 0..self.relations.len() {
                let rel = &self.relations[r];
                let k_parts = rel.parts.iter().filter(|&&p| self.suppressed[p]).count();
                let total_hidden = self.suppressed[rel.total];
                let k = k_parts + usize::from(total_hidden);
                let exposed = if k == 1 {
                    true
                } else if k >= 2 && !total_hidden {
                    let known: u64 = rel
                        .parts
                        .iter()
                        .filter(|&&p| !self.suppressed[p])
                        .map(|&p| self.values[p])
                        .sum();
                    let hidden_sum = self.values[rel.total] - known;
                    hidden_sum <= k_parts as u64
                } else {
                    false
                };
                if exposed {
                    if let Some((_, _, c)) = self.candidate(rel) {
                        self.suppressed[c] = true;
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
    }

    /// Step 2: returns whether it suppressed a cell.
    fn linear_rule(&mut self, of_cell: &[Vec<usize>]) -> bool {
        let determined = self.determined();
        if determined.is_empty() {
            return false;
        }
        let mut touched = vec![false; self.relations.len()];
        let mut any = false;
        for x in determined {
            if of_cell[x].iter().any(|&r| touched[r]) {
                continue;
            }
            let direct = of_cell[x]
                .iter()
                .filter_map(|&r| self.candidate(&self.relations[r]))
                .min();
            let choice = direct
                .map(|(_, _, c)| c)
                .or_else(|| self.reachable(x, of_cell));
            if let Some(c) = choice {
                self.suppressed[c] = true;
                for &r in &of_cell[c] {
                    touched[r] = true;
                }
                for &r in &of_cell[x] {
                    touched[r] = true;
                }
                any = true;
            }
        }
        any
    }

    /// A candidate in the nearest relation reachable from `x` through suppressed cells.
    fn reachable(&self, x: usize, of_cell: &[Vec<usize>]) -> Option<usize> {
        let mut seen_rel = vec![false; self.relations.len()];
        let mut seen_cell = vec![false; self.values.len()];
        let mut queue = VecDeque::from([x]);
        seen_cell[x] = true;
        while let Some(c) = queue.pop_front() {
            for &r in &of_cell[c] {
                if std::mem::replace(&mut seen_rel[r], true) {
                    continue;
                }
                let rel = &self.relations[r];
                if let Some((_, _, cand)) = self.candidate(rel) {
                    return Some(cand);
                }
                for &o in std::iter::once(&rel.total).chain(&rel.parts) {
                    if self.suppressed[o] && !std::mem::replace(&mut seen_cell[o], true) {
                        queue.push_back(o);
                    }
                }
            }
        }
        None
    }

    /// The suppressed cells that the published cells and the relations determine, ascending.
    pub fn determined(&self) -> Vec<usize> {
        let unknowns: Vec<usize> = (0..self.values.len())
            .filter(|&c| self.suppressed[c])
            .collect();
        if unknowns.is_empty() {
            return Vec::new();
        }
        let mut col = vec![usize::MAX; self.values.len()];
        for (i, &c) in unknowns.iter().enumerate() {
            col[c] = i;
        }
        // equations over the unknowns, and their connected components
        let mut dsu = Dsu::new(unknowns.len());
        let mut equations: Vec<Vec<(usize, u64)>> = Vec::new();
        for rel in &self.relations {
            let mut eq: Vec<(usize, u64)> = Vec::new();
            if self.suppressed[rel.total] {
                eq.push((col[rel.total], 1));
            }
            for &p in &rel.parts {
                if self.suppressed[p] {
                    eq.push((col[p], P - 1));
                }
            }
            if eq.is_empty() {
                continue;
            }
            eq.sort_unstable_by_key(|e| e.0);
            for w in eq.windows(2) {
                dsu.union(w[0].0, w[1].0);
            }
            equations.push(eq);
        }
        let mut by_component: BTreeMap<usize, Vec<Vec<(usize, u64)>>> = BTreeMap::new();
        for eq in equations {
            let root = dsu.find(eq[0].0);
            by_component.entry(root).or_default().push(eq);
        }
        let mut out = Vec::new();
        for eqs in by_component.into_values() {
            for c in solved_columns(eqs) {
                out.push(unknowns[c]);
            }
        }
        out.sort_unstable();
        out
    }
}

/// The Mersenne prime 2⁶¹−1.
const P: u64 = (1 << 61) - 1;

fn mul(a: u64, b: u64) -> u64 {
    ((a as u128 * b as u128) % P as u128) as u64
}

fn inv(a: u64) -> u64 {
    // Fermat: a^(P-2)
    let (mut base, mut exp, mut acc) = (a, P - 2, 1u64);
    while exp > 0 {
        if exp & 1 == 1 {
            acc = mul(acc, base);
        }
        base = mul(base, base);
        exp >>= 1;
    }
    acc
}

/// `a - f·b` for sparse rows sorted by column.
fn axpy(a: &[(usize, u64)], f: u64, b: &[(usize, u64)]) -> Vec<(usize, u64)> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let take_a = j >= b.len() || (i < a.len() && a[i].0 < b[j].0);
        let take_b = i >= a.len() || (j < b.len() && b[j].0 < a[i].0);
        if take_a {
            out.push(a[i]);
            i += 1;
        } else if take_b {
            out.push((b[j].0, (P - mul(f, b[j].1)) % P));
            j += 1;
        } else {
            let v = (a[i].1 + P - mul(f, b[j].1)) % P;
            if v != 0 {
                out.push((a[i].0, v));
            }
            i += 1;
            j += 1;
        }
    }
    out
}

/// Columns whose value the equations fix (reduced row echelon form: a pivot row with no other
/// entry).
fn solved_columns(eqs: Vec<Vec<(usize, u64)>>) -> Vec<usize> {
    let mut pivots: BTreeMap<usize, Vec<(usize, u64)>> = BTreeMap::new();
    for mut r in eqs {
        while let Some(&(c, v)) = r.first() {
            match pivots.get(&c) {
                Some(pr) => r = axpy(&r, v, pr),
                None => {
                    let f = inv(v);
                    for e in &mut r {
                        e.1 = mul(e.1, f);
                    }
                    pivots.insert(c, r);
                    break;
                }
            }
        }
    }
    // back substitution, highest pivot first
    let cols: Vec<usize> = pivots.keys().rev().copied().collect();
    for c in cols {
        let Some(mut row) = pivots.remove(&c) else {
            continue;
        };
        let mut k = 1;
        while k < row.len() {
            let (c2, v) = row[k];
            match pivots.get(&c2) {
                Some(pr) => row = axpy(&row, v, pr),
                None => k += 1,
            }
        }
        pivots.insert(c, row);
    }
    pivots
        .into_iter()
        .filter(|(_, row)| row.len() == 1)
        .map(|(c, _)| c)
        .collect()
}

struct Dsu(Vec<usize>);

impl Dsu {
    fn new(n: usize) -> Dsu {
        Dsu((0..n).collect())
    }
    fn find(&mut self, mut x: usize) -> usize {
        while self.0[x] != x {
            self.0[x] = self.0[self.0[x]];
            x = self.0[x];
        }
        x
    }
    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            self.0[a.max(b)] = a.min(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_small_part_gets_a_partner() {
        let mut t = Table::default();
        let a = t.cell(3);
        let b = t.cell(20);
        let c = t.cell(30);
        let tot = t.cell(53);
        t.relate(tot, vec![a, b, c]);
        t.suppress();
        assert!(t.suppressed[a] && t.suppressed[b] && !t.suppressed[c] && !t.suppressed[tot]);
    }

    #[test]
    fn two_ones_are_not_enough() {
        let mut t = Table::default();
        let a = t.cell(1);
        let b = t.cell(1);
        let c = t.cell(30);
        let tot = t.cell(32);
        t.relate(tot, vec![a, b, c]);
        t.suppress();
        assert!(t.suppressed[c] || t.suppressed[tot]);
    }

    #[test]
    fn elimination_sees_through_two_relations() {
        // x + y = 10 (published), x + z = 12 (published), y - z derivable but not y or z:
        // row structure: t1 = x + y, t2 = x + z, and t3 = y + z published makes all determined
        let mut t = Table::default();
        let x = t.cell(3);
        let y = t.cell(7);
        let z = t.cell(9);
        let t1 = t.cell(10);
        let t2 = t.cell(12);
        let t3 = t.cell(16);
        t.relate(t1, vec![x, y]);
        t.relate(t2, vec![x, z]);
        t.relate(t3, vec![y, z]);
        t.suppressed[y] = true;
        t.suppressed[z] = true;
        assert_eq!(t.determined(), vec![x, y, z]);
        t.suppress();
        assert!(t.determined().is_empty());
    }

    #[test]
    fn modular_inverse() {
        for a in [1, 2, 3, P - 1, 123_456_789] {
            assert_eq!(mul(a, inv(a)), 1);
        }
    }
}
