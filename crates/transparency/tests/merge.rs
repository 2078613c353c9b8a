//! Merging published figures over organisations.
mod common;

use common::*;
use transparency::geo::Geography;
use transparency::merge::{merge, MissingPeer};
use transparency::publish::{publish, Cell, Counts, Published};

fn two() -> (Published, Published) {
    let geo = Geography::get();
    let a = figures(
        org("00000000000000000001", "Gemeente Groningen"),
        vec![
            area("GM0014", tally(100, 10, 0, 20, 30)),
            area("GM0034", tally(60, 10, 0, 0, 0)),
        ],
    );
    let b = figures(
        org("00000000000000000002", "UWV"),
        vec![
            area("GM0014", tally(200, 20, 10, 10, 10)),
            area("GM0037", tally(80, 0, 0, 0, 0)),
        ],
    );
    (publish(&a, geo), publish(&b, geo))
}

#[test]
fn sums_exact_values() {
    let (a, b) = two();
    let r = merge(vec![a, b], Vec::new(), None);
    assert_eq!(r.organisations.len(), 2);
    let gron = r
        .municipalities
        .iter()
        .find(|m| m.municipality_code == "GM0014")
        .unwrap();
    assert_eq!(gron.counts.shared, Cell::Value(300));
    assert_eq!(gron.counts.total, Cell::Value(410));
    assert_eq!(gron.counts.rejected, Cell::Value(10));
    let am01 = r.regions.iter().find(|g| g.region_code == "AM01").unwrap();
    assert_eq!(am01.counts.shared, Cell::Value(380));
    assert_eq!(r.national.shared, Cell::Value(440));
    // rows of both organisations, Groningen's two side by side
    assert_eq!(r.rows.len(), 4);
    let gron_rows: Vec<_> = r
        .rows
        .iter()
        .filter(|row| row.municipality_code == "GM0014")
        .map(|row| row.organisation.name.as_str())
        .collect();
    assert_eq!(gron_rows, ["Gemeente Groningen", "UWV"]);
    assert_eq!(r.rows[0].region_code, "AM01");
    assert_eq!(r.rows.last().unwrap().region_code, "AM11");
}

#[test]
fn suppressed_parts_become_lower_bounds() {
    assert_eq!(Cell::sum([Cell::Value(7), Cell::Value(5)]), Cell::Value(12));
    assert_eq!(Cell::sum([Cell::Suppressed]), Cell::Suppressed);
    assert_eq!(
        Cell::sum([Cell::Suppressed, Cell::Value(0)]),
        Cell::Suppressed
    );
    assert_eq!(
        Cell::sum([Cell::Suppressed, Cell::Value(20)]),
        Cell::AtLeast(21)
    );
    assert_eq!(
        Cell::sum([Cell::Suppressed, Cell::Suppressed]),
        Cell::AtLeast(2)
    );
    assert_eq!(
        Cell::sum([Cell::AtLeast(6), Cell::Suppressed, Cell::Value(3)]),
        Cell::AtLeast(10)
    );
    assert_eq!(Cell::sum([]), Cell::Value(0));
    let c = Counts::sum([
        &Counts::filled(Cell::Suppressed),
        &Counts::filled(Cell::Value(9)),
    ]);
    assert_eq!(c, Counts::filled(Cell::AtLeast(10)));
    assert_eq!(
        serde_json::to_string(&Cell::AtLeast(10)).unwrap(),
        "\"≥10\""
    );
}

#[test]
fn a_single_organisation_keeps_its_suppression() {
    let geo = Geography::get();
    let a = figures(
        org("00000000000000000001", "A"),
        vec![area("GM0014", tally(100, 3, 0, 20, 30))],
    );
    let p = publish(&a, geo);
    let r = merge(vec![p.clone()], Vec::new(), None);
    assert_eq!(r.rows, p.rows);
    assert_eq!(r.national, p.national);
    assert_eq!(r.municipalities, p.municipalities);
    assert_eq!(r.national.no_consent, Cell::Suppressed);
}

#[test]
fn region_filter() {
    let (a, b) = two();
    let r = merge(vec![a, b], Vec::new(), Some("AM01"));
    assert_eq!(r.region.as_deref(), Some("AM01"));
    assert!(r.rows.iter().all(|row| row.region_code == "AM01"));
    assert_eq!(r.rows.len(), 3);
    assert_eq!(r.regions.len(), 1);
    assert!(r.municipalities.iter().all(|m| m.region_code == "AM01"));
    for t in &r.trends {
        for run in &t.runs {
            assert!(run.shared_after_by_region.keys().all(|k| k == "AM01"));
        }
    }
}

#[test]
fn missing_peers_are_kept() {
    let (a, _) = two();
    let missing = vec![MissingPeer {
        oin: "00000000000000000003".into(),
        name: "Werkplein".into(),
        reason: "timed out after 10 s".into(),
    }];
    let r = merge(vec![a], missing.clone(), None);
    assert_eq!(r.missing, missing);
    assert!(r.is_federated());
}

#[test]
fn the_same_organisation_twice_counts_once() {
    let (a, _) = two();
    let mut newer = a.clone();
    newer.generated_ms += 1;
    let r = merge(vec![a.clone(), newer.clone()], Vec::new(), None);
    assert_eq!(r.organisations.len(), 1);
    assert_eq!(r.national, a.national);
    assert_eq!(r.generated_ms, newer.generated_ms);
}
