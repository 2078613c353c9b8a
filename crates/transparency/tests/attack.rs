//! The differencing attack: from published figures alone, try to recover every suppressed cell
//! by (i) iterated single-unknown propagation (with "each suppressed cell is ≥ 1") and (ii)
//! Gaussian elimination over the rationals of the whole published system.
mod common;

use common::*;
use std::collections::BTreeMap;
use transparency::geo::Geography;
use transparency::merge::merge;
use transparency::publish::{publish, Cell};

#[test]
fn no_suppressed_cell_is_recovered_from_one_node() {
    let geo = Geography::get();
    for seed in 1..=12u64 {
        let f = random_figures(
            seed,
            org("00000001234567890000", "Org"),
            8 + seed as usize * 3,
        );
        let p = publish(&f, geo);
        assert_published_values_true(&f, &p);
        let mut s = System::default();
        s.add_published(&p);
        assert!(
            s.known.iter().any(Option::is_none),
            "seed {seed}: the generator should make small cells"
        );
        let by_propagation = s.propagate();
        assert!(
            by_propagation.is_empty(),
            "seed {seed}: propagation recovered {:?}",
            s.describe(&by_propagation)
        );
        let by_elimination = s.eliminate();
        assert!(
            by_elimination.is_empty(),
            "seed {seed}: elimination recovered {:?}",
            s.describe(&by_elimination)
        );
    }
}

#[test]
fn the_attacker_does_find_cells_in_a_primary_only_table() {
    // the attacker is not toothless: with only primary suppression it recovers cells
    let f = figures(
        org("00000001234567890000", "Org"),
        vec![area("GM0014", tally(120, 3, 0, 9, 12))],
    );
    let mut p = publish(&f, Geography::get());
    for c in [
        &mut p.rows[0].counts.expired,
        &mut p.municipalities[0].counts.expired,
    ] {
        *c = Cell::Value(9);
    }
    p.regions[0].counts.expired = Cell::Value(9);
    p.national.expired = Cell::Value(9);
    let mut s = System::default();
    s.add_published(&p);
    assert!(!s.propagate().is_empty());
    assert!(!s.eliminate().is_empty());
}

#[test]
fn merged_totals_do_not_reveal_an_organisations_suppressed_cell() {
    let geo = Geography::get();
    // one organisation with a small cell, others large, in the same municipality
    let a = figures(
        org("00000000000000000001", "Klein"),
        vec![
            area("GM0014", tally(3, 20, 0, 0, 0)),
            area("GM0037", tally(40, 20, 0, 0, 0)),
        ],
    );
    let b = figures(
        org("00000000000000000002", "Groot"),
        vec![area("GM0014", tally(50, 20, 0, 0, 0))],
    );
    let (pa, pb) = (publish(&a, geo), publish(&b, geo));
    let report = merge(vec![pa.clone(), pb.clone()], Vec::new(), None);
    let m = report
        .municipalities
        .iter()
        .find(|m| m.municipality_code == "GM0014")
        .unwrap();
    // Klein's 3 is hidden, so the merged shared is a lower bound: 50 + 1
    assert_eq!(m.counts.shared, Cell::AtLeast(51));
    let mut s = System::default();
    let (_, ma) = s.add_published(&pa);
    let (_, mb) = s.add_published(&pb);
    s.add_merged_municipalities(&report, &[ma, mb]);
    assert!(s.propagate().is_empty(), "{:?}", s.describe(&s.propagate()));
    assert!(s.eliminate().is_empty(), "{:?}", s.describe(&s.eliminate()));
}

#[test]
fn no_suppressed_cell_is_recovered_across_a_merge_of_several_organisations() {
    let geo = Geography::get();
    for round in 0..4u64 {
        let parts: Vec<_> = (0..3u64)
            .map(|k| {
                let f = random_figures(
                    100 + round * 10 + k,
                    org(&format!("{:020}", k + 1), &format!("Org {k}")),
                    14,
                );
                let p = publish(&f, geo);
                assert_published_values_true(&f, &p);
                p
            })
            .collect();
        let report = merge(parts.clone(), Vec::new(), None);
        let mut s = System::default();
        let muns: Vec<BTreeMap<String, [usize; 7]>> =
            parts.iter().map(|p| s.add_published(p).1).collect();
        s.add_merged_municipalities(&report, &muns);
        let by_propagation = s.propagate();
        assert!(
            by_propagation.is_empty(),
            "round {round}: {:?}",
            s.describe(&by_propagation)
        );
        let by_elimination = s.eliminate();
        assert!(
            by_elimination.is_empty(),
            "round {round}: {:?}",
            s.describe(&by_elimination)
        );
        // every exact merged value is the sum of the parts' exact values
        for m in &report.municipalities {
            if let Cell::Value(v) = m.counts.total {
                let sum: u64 = parts
                    .iter()
                    .flat_map(|p| &p.municipalities)
                    .filter(|x| x.municipality_code == m.municipality_code)
                    .map(|x| x.counts.total.value().unwrap())
                    .sum();
                assert_eq!(v, sum);
            }
        }
    }
}
