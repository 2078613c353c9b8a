//! Primary and secondary suppression of a node's figures.
mod common;

use common::*;
use transparency::geo::Geography;
use transparency::publish::{publish, Cell, QualityAbsent};

#[test]
fn primary_suppresses_one_to_four_and_shows_zero_and_five() {
    let f = figures(
        org("00000001234567890000", "Gemeente Werk"),
        vec![
            area("GM0014", tally(5, 1, 2, 3, 4)),
            area("GM0037", tally(0, 0, 0, 0, 0)),
        ],
    );
    let p = publish(&f, Geography::get());
    let groningen = p
        .rows
        .iter()
        .find(|r| r.municipality_code == "GM0014")
        .unwrap();
    let c = groningen.counts;
    assert_eq!(c.shared, Cell::Value(5));
    for small in [c.no_consent, c.rejected, c.expired, c.withdrawn] {
        assert_eq!(small, Cell::Suppressed);
    }
    assert_eq!(c.not_shared, Cell::Value(10));
    assert_eq!(c.total, Cell::Value(15));
    let empty = p
        .rows
        .iter()
        .find(|r| r.municipality_code == "GM0037")
        .unwrap();
    assert_eq!(empty.counts.total, Cell::Value(0));
    assert_eq!(empty.counts.shared, Cell::Value(0));
    assert_published_values_true(&f, &p);
    assert_eq!(p.schema_version, 1);
    assert!(p.suppression.contains("<5"));
}

#[test]
fn a_single_small_reason_gets_a_second_suppression() {
    let f = figures(
        org("00000001234567890000", "Gemeente Werk"),
        vec![area("GM0014", tally(120, 3, 0, 9, 12))],
    );
    let p = publish(&f, Geography::get());
    let c = p.rows[0].counts;
    assert_eq!(c.no_consent, Cell::Suppressed);
    // the smallest other non-zero reason goes with it; 0 is never suppressed
    assert_eq!(c.expired, Cell::Suppressed);
    assert_eq!(c.rejected, Cell::Value(0));
    assert_eq!(c.withdrawn, Cell::Value(12));
    assert_eq!(c.not_shared, Cell::Value(24));
    assert_eq!(c.shared, Cell::Value(120));
    assert_eq!(p.rows[0].region_code, "AM01");
    assert_eq!(p.rows[0].region_name, "Groningen");
    // the municipality, region and national lines repeat the row and its suppression
    assert_eq!(p.municipalities[0].counts, c);
    assert_eq!(p.regions[0].counts, c);
    assert_eq!(p.national, c);
    assert_published_values_true(&f, &p);
}

#[test]
fn two_ones_under_a_published_total_are_not_enough() {
    // not_shared = 1 + 1 + 0 + 40: the two suppressed reasons would sum to 2 = their number
    let f = figures(
        org("00000001234567890000", "Gemeente Werk"),
        vec![area("GM0014", tally(120, 1, 1, 0, 40))],
    );
    let p = publish(&f, Geography::get());
    let c = p.rows[0].counts;
    assert_eq!(c.no_consent, Cell::Suppressed);
    assert_eq!(c.rejected, Cell::Suppressed);
    assert!(c.withdrawn.is_suppressed() || c.not_shared.is_suppressed());
    let mut s = System::default();
    s.add_published(&p);
    assert!(s.propagate().is_empty());
    assert!(s.eliminate().is_empty());
}

#[test]
fn region_totals_get_secondary_suppression() {
    // Groningen and Stadskanaal are both in AM01: a small shared count in one municipality
    // must not be the region's shared minus the other's
    let f = figures(
        org("00000001234567890000", "Gemeente Werk"),
        vec![
            area("GM0014", tally(3, 10, 0, 0, 0)),
            area("GM0037", tally(50, 10, 0, 0, 0)),
        ],
    );
    let p = publish(&f, Geography::get());
    assert_eq!(p.regions.len(), 1);
    let small = p
        .rows
        .iter()
        .find(|r| r.municipality_code == "GM0014")
        .unwrap();
    let large = p
        .rows
        .iter()
        .find(|r| r.municipality_code == "GM0037")
        .unwrap();
    assert_eq!(small.counts.shared, Cell::Suppressed);
    let hidden = [large.counts.shared, p.regions[0].counts.shared]
        .iter()
        .filter(|c| c.is_suppressed())
        .count();
    assert!(
        hidden >= 1,
        "region shared = its municipalities must keep ≥ 2 hidden"
    );
    // and the row's own total = shared + not_shared
    assert!(small.counts.total.is_suppressed() || small.counts.not_shared.is_suppressed());
    assert_published_values_true(&f, &p);
    let mut s = System::default();
    s.add_published(&p);
    assert_eq!(s.describe(&s.propagate()), Vec::<String>::new());
    assert_eq!(s.describe(&s.eliminate()), Vec::<String>::new());
}

#[test]
fn unknown_municipality_goes_under_the_pseudo_region() {
    let f = figures(
        org("00000001234567890000", "Gemeente Werk"),
        vec![
            area("onbekend", tally(30, 0, 0, 0, 0)),
            area("GM0014", tally(40, 0, 0, 0, 0)),
        ],
    );
    let p = publish(&f, Geography::get());
    let last = p.regions.last().unwrap();
    assert_eq!(last.region_code, "onbekend");
    assert_eq!(last.region_name, "Onbekend (postcode in geen tabel)");
    assert_eq!(p.rows.last().unwrap().municipality_code, "onbekend");
    assert_eq!(p.national.shared, Cell::Value(70));
}

#[test]
fn quality_only_for_published_shared_of_ten_or_more() {
    let f = figures(
        org("00000001234567890000", "Gemeente Werk"),
        vec![
            // three regions, so that no secondary suppression crosses between them
            area("GM0014", tally(9, 20, 0, 0, 0)),
            area("GM0034", tally(10, 20, 0, 0, 0)),
            area("GM0059", tally(3, 0, 0, 0, 0)),
            // national = its regions: the smallest other region goes with the hidden one
            area("GM0141", tally(6, 20, 0, 0, 0)),
        ],
    );
    let p = publish(&f, Geography::get());
    let get = |code: &str| p.rows.iter().find(|r| r.municipality_code == code).unwrap();
    assert!(get("GM0014").quality.is_none());
    assert_eq!(
        get("GM0014").quality_absent,
        Some(QualityAbsent::FewerThanTen)
    );
    assert!(get("GM0059").quality.is_none());
    assert_eq!(
        get("GM0059").quality_absent,
        Some(QualityAbsent::SharedSuppressed)
    );
    let q = get("GM0034").quality.expect("published shared of 10");
    assert_eq!(get("GM0034").quality_absent, None);
    assert_eq!(q.with_occupation, 90);
    assert_eq!(q.with_licence, 20);
    assert_eq!(q.fresh_days.iter().map(|&p| u32::from(p)).sum::<u32>(), 100);
}

#[test]
fn publish_is_deterministic() {
    let f = random_figures(7, org("00000001234567890000", "A"), 30);
    let a = publish(&f, Geography::get());
    let b = publish(&f, Geography::get());
    assert_eq!(a, b);
}

#[test]
fn warnings_and_rules_are_primary_suppressed() {
    let mut f = figures(
        org("00000001234567890000", "Gemeente Werk"),
        vec![area("GM0014", tally(100, 0, 23, 0, 0))],
    );
    f.areas[0].tally.rejected_by_rule.clear();
    f.areas[0].tally.rejected_by_rule.insert("a".into(), 20);
    f.areas[0].tally.rejected_by_rule.insert("b".into(), 3);
    f.areas[0].quality.warnings_by_rule.insert("w1".into(), 2);
    f.areas[0].quality.warnings_by_rule.insert("w2".into(), 200);
    let p = publish(&f, Geography::get());
    assert_eq!(p.warnings_by_rule["w1"], Cell::Suppressed);
    assert_eq!(p.warnings_by_rule["w2"], Cell::Value(200));
    assert_eq!(p.rejected_by_rule["b"], Cell::Suppressed);
    // rejected = a + b: b alone hidden would be rejected − a
    assert!(p.rejected_by_rule["a"].is_suppressed() || p.national.rejected.is_suppressed());
    let mut s = System::default();
    s.add_published(&p);
    assert!(s.propagate().is_empty());
    assert!(s.eliminate().is_empty());
}

#[test]
fn trend_suppresses_small_run_cells_and_regions() {
    let mut f = random_figures(11, org("00000001234567890000", "A"), 12);
    for run in &mut f.runs {
        for (i, a) in run.areas.values_mut().enumerate() {
            a.shared_after = if i == 0 { 2 } else { 40 };
        }
    }
    let p = publish(&f, Geography::get());
    assert_eq!(p.trend.len(), 3);
    for run in &p.trend {
        let hidden = run
            .shared_after_by_region
            .values()
            .chain([&run.shared_after])
            .filter(|c| c.is_suppressed())
            .count();
        assert_ne!(hidden, 1);
    }
}

/// The latest run's shared-after of a region is often the region's shared count now: where the
/// table hides that count, the trend hides it too (and a second cell of its run with it).
#[test]
fn the_trend_does_not_show_what_the_table_hides() {
    use std::collections::BTreeMap;
    use transparency::figures::{Run, RunArea};
    // Emmen (Drenthe) with 3 shared now, Groningen (Groningen) with 40, Assen (Drenthe) with 30
    let mut f = figures(
        org("00000001234567890000", "A"),
        vec![
            area("GM0114", tally(3, 20, 0, 0, 0)),
            area("GM0014", tally(40, 20, 0, 0, 0)),
            area("GM0106", tally(30, 20, 0, 0, 0)),
        ],
    );
    let run = |emmen: u64| Run {
        at_ms: 1_767_225_600_000,
        origin: "ingest".into(),
        areas: BTreeMap::from([
            (
                "GM0114".to_owned(),
                RunArea {
                    offered: 23,
                    accepted: 3,
                    no_consent: 20,
                    rejected: 0,
                    shared_after: emmen,
                },
            ),
            (
                "GM0014".to_owned(),
                RunArea {
                    offered: 60,
                    accepted: 40,
                    no_consent: 20,
                    rejected: 0,
                    shared_after: 40,
                },
            ),
            (
                "GM0106".to_owned(),
                RunArea {
                    offered: 50,
                    accepted: 30,
                    no_consent: 20,
                    rejected: 0,
                    shared_after: 30,
                },
            ),
        ]),
    };
    f.runs = vec![run(3)];
    let p = publish(&f, Geography::get());
    let drenthe = p.regions.iter().find(|r| r.region_code == "AM03").unwrap();
    assert!(
        drenthe.counts.shared.is_suppressed(),
        "3 + secondary: hidden now"
    );
    let trend = &p.trend[0];
    assert!(trend.shared_after_by_region["AM03"].is_suppressed());
    let hidden = trend
        .shared_after_by_region
        .values()
        .chain([&trend.shared_after])
        .filter(|c| c.is_suppressed())
        .count();
    assert!(hidden >= 2, "not derivable within the run either");
}

#[test]
fn all_municipalities_with_many_small_cells_is_quick() {
    let geo = Geography::get();
    let mut g = Lcg(99);
    let areas = geo
        .municipalities()
        .map(|m| {
            area(
                &m.code,
                tally(g.count(), g.count(), g.count(), g.count(), g.count()),
            )
        })
        .collect();
    let f = figures(org("00000001234567890000", "Landelijk"), areas);
    let t = std::time::Instant::now();
    let p = publish(&f, geo);
    assert!(t.elapsed().as_secs() < 20, "took {:?}", t.elapsed());
    assert_eq!(p.rows.len(), 342);
    assert_published_values_true(&f, &p);
    let mut s = System::default();
    s.add_published(&p);
    assert!(s.propagate().is_empty());
}
