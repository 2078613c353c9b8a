//! CSV, JSON and HTML of a report; reading published figures back.
mod common;

use common::*;
use std::collections::BTreeMap;
use transparency::figures::{NodeFigures, Run, RunArea};
use transparency::geo::Geography;
use transparency::merge::{merge, FederationReport, MissingPeer};
use transparency::publish::{publish, Error, Published, MAX_JSON_BYTES, MAX_ROWS};
use transparency::render;

/// A realistic example: two organisations over several regions, with apostrophes and
/// non-ASCII names, small cells, rejections, warnings and a few runs.
fn sample() -> (NodeFigures, NodeFigures) {
    let mut a = figures(
        org(
            "00000001002220647000",
            "Gemeente 's-Gravenhage Werk & Inkomen",
        ),
        vec![
            area("GM0518", tally(1840, 212, 37, 96, 18)),
            area("GM0603", tally(412, 40, 6, 22, 3)),
            area("GM1916", tally(268, 31, 4, 12, 0)),
            area("GM0599", tally(57, 8, 0, 2, 0)),
            area("GM1900", tally(133, 12, 2, 9, 1)),
            area("GM0014", tally(8, 1, 0, 0, 0)),
            area("onbekend", tally(14, 3, 5, 0, 0)),
        ],
    );
    let mut b = figures(
        org("00000001003214345000", "UWV <script>alert(1)</script>"),
        vec![
            area("GM0518", tally(2560, 301, 22, 140, 25)),
            area("GM0599", tally(3120, 288, 41, 133, 30)),
            area("GM1900", tally(487, 51, 7, 20, 2)),
            area("GM0080", tally(910, 77, 9, 31, 6)),
            area("GM0014", tally(1405, 120, 15, 64, 11)),
        ],
    );
    for (f, k) in [(&mut a, 0u64), (&mut b, 1u64)] {
        f.generated_ms = 1_767_225_600_000 + k as i64;
        for (i, area) in f.areas.iter_mut().enumerate() {
            area.quality.fresh_days = [
                area.tally.shared * (30 + 3 * i as u64) / 100,
                area.tally.shared * 30 / 100,
                area.tally.shared * 15 / 100,
                0,
            ];
            let rest = area.tally.shared - area.quality.fresh_days.iter().sum::<u64>();
            area.quality.fresh_days[3] = rest;
            area.quality.with_licence = area.tally.shared * (20 + 7 * i as u64) / 100;
            let r = area.tally.rejected;
            area.tally.rejected_by_rule = BTreeMap::from([
                ("werkzoekenden#Postcode/pattern".to_owned(), r / 2),
                (
                    "werkzoekenden#/properties/geboortedatum/format".to_owned(),
                    r - r / 2,
                ),
            ]);
            area.tally.rejected_by_rule.retain(|_, n| *n > 0);
            area.quality
                .warnings_by_rule
                .insert("prose:uren-per-week".to_owned(), area.tally.shared / 40);
        }
        f.runs = (0..8)
            .map(|w| {
                let areas = f
                    .areas
                    .iter()
                    .map(|ar| {
                        let shared = ar.tally.shared * (80 + 3 * w as u64) / 104;
                        (
                            ar.municipality.clone(),
                            RunArea {
                                offered: shared + ar.tally.no_consent + ar.tally.rejected,
                                accepted: shared,
                                no_consent: ar.tally.no_consent,
                                rejected: ar.tally.rejected,
                                shared_after: shared,
                            },
                        )
                    })
                    .collect();
                Run {
                    at_ms: 1_762_000_000_000 + w * 7 * 86_400_000 + k as i64 * 3_600_000,
                    origin: if w % 3 == 2 { "push" } else { "ingest" }.into(),
                    areas,
                }
            })
            .collect();
    }
    (a, b)
}

fn report() -> FederationReport {
    let geo = Geography::get();
    let (a, b) = sample();
    merge(
        vec![publish(&a, geo), publish(&b, geo)],
        vec![MissingPeer {
            oin: "00000001005000000000".into(),
            name: "Werkplein <b>Fivelingo</b>".into(),
            reason: "no answer within 10 s".into(),
        }],
        None,
    )
}

#[test]
fn csv_parses_back() {
    let r = report();
    let text = render::csv(&r);
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let header = rd.headers().unwrap().clone();
    assert_eq!(header.len(), render::CSV_HEADER.len());
    assert_eq!(&header[0], "level");
    let records: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
    assert!(records.iter().all(|rec| rec.len() == header.len()));
    let level = |l: &str| records.iter().filter(|rec| &rec[0] == l).count();
    assert_eq!(level("organisation"), r.rows.len());
    assert_eq!(level("municipality"), r.municipalities.len());
    assert_eq!(level("region"), r.regions.len());
    assert_eq!(level("national"), 1);
    assert_eq!(
        records.len(),
        r.rows.len() + r.municipalities.len() + r.regions.len() + 1
    );
    // names with apostrophes, commas and non-ASCII survive
    assert!(records.iter().any(|rec| &rec[4] == "'s-Gravenhage"));
    assert!(records
        .iter()
        .any(|rec| &rec[6] == "Gemeente 's-Gravenhage Werk & Inkomen"));
    // suppressed and lower bounds as text
    assert!(records.iter().any(|rec| rec.iter().any(|f| f == "<5")));
    assert!(records
        .iter()
        .any(|rec| rec.iter().any(|f| f.starts_with('≥'))));
    // the last line is national
    assert_eq!(&records.last().unwrap()[0], "national");
}

#[test]
fn json_round_trips() {
    let r = report();
    let text = render::json(&r);
    let back = FederationReport::from_json(text.as_bytes()).unwrap();
    assert_eq!(back, r);
    let geo = Geography::get();
    let (a, _) = sample();
    let p = publish(&a, geo);
    let bytes = p.to_json();
    assert_eq!(Published::from_json(&bytes).unwrap(), p);
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert!(v["rows"][0]["counts"]["shared"].is_u64() || v["rows"][0]["counts"]["shared"] == "<5");
}

#[test]
fn from_json_bounds_size_rows_and_version() {
    let big = vec![b' '; MAX_JSON_BYTES + 1];
    assert!(matches!(
        Published::from_json(&big),
        Err(Error::TooLarge(_))
    ));

    let geo = Geography::get();
    let (a, _) = sample();
    let p = publish(&a, geo);
    let mut v: serde_json::Value = serde_json::to_value(&p).unwrap();
    // a list beyond the limit, with elements small enough to stay under 8 MiB (a valid row
    // is larger: 8 MiB cannot hold 100,000 of them, so the byte limit comes first there)
    v["organisations"] = serde_json::Value::Array(vec![
        serde_json::json!({"oin": "", "name": ""});
        MAX_ROWS + 1
    ]);
    let bytes = serde_json::to_vec(&v).unwrap();
    assert!(bytes.len() < MAX_JSON_BYTES);
    assert!(matches!(
        Published::from_json(&bytes),
        Err(Error::TooManyRows)
    ));

    let mut v: serde_json::Value = serde_json::to_value(&p).unwrap();
    v["schema_version"] = 2.into();
    let bytes = serde_json::to_vec(&v).unwrap();
    assert!(matches!(
        Published::from_json(&bytes),
        Err(Error::Version(2))
    ));

    assert!(matches!(Published::from_json(b"{}"), Err(Error::Json(_))));
    assert!(matches!(
        Published::from_json(br#"{"national":{"shared":"lots"}}"#),
        Err(Error::Json(_))
    ));
}

#[test]
fn html_is_self_contained_and_escaped() {
    let r = report();
    let page = render::html(&r);
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(!page.contains("http://"), "no http asset");
    assert!(!page.contains("https://"), "no https asset");
    assert!(!page.contains("<link"));
    assert!(!page.contains("<script"));
    assert!(!page.contains("<img"));
    assert!(page.contains("default-src 'none'"));
    assert!(page.contains("<svg"));
    // hostile names escaped
    assert!(page.contains("UWV &lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(page.contains("Werkplein &lt;b&gt;Fivelingo&lt;/b&gt;"));
    assert!(!page.contains("<b>Fivelingo"));
    // Dutch names
    assert!(page.contains("&#39;s-Gravenhage"));
    assert!(page.contains("Súdwest-Fryslân"));
    // sections
    for id in [
        "table",
        "completeness",
        "freshness",
        "trend",
        "rules",
        "peers",
        "explanation",
    ] {
        assert!(
            page.contains(&format!("<section id=\"{id}\">")),
            "section {id}"
        );
    }
    assert!(page.contains("What the figures mean"));
    assert!(page.contains("&lt;5"));
    assert!(page.contains("≥"));
    assert!(page.contains("no answer within 10 s"));
}

#[test]
fn quality_absent_when_shared_below_ten() {
    let r = report();
    // 's-Gravenhage's organisation has 8 shared in Groningen
    let row = r
        .rows
        .iter()
        .find(|row| {
            row.municipality_code == "GM0014" && row.organisation.oin == "00000001002220647000"
        })
        .unwrap();
    assert!(row.quality.is_none());
    assert!(row.quality_absent.is_some());
    let text = render::csv(&r);
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let rec = rd
        .records()
        .map(Result::unwrap)
        .find(|rec| {
            &rec[0] == "organisation" && &rec[3] == "GM0014" && &rec[5] == "00000001002220647000"
        })
        .unwrap();
    assert_eq!(&rec[14], "");
    assert!(!rec[24].is_empty());
    // a large row has quality, and the page charts it
    assert!(r.rows.iter().any(|row| row.quality.is_some()));
    let page = render::html(&r);
    assert!(page.contains("completeness of shared profiles"));
}

#[test]
fn html_works_with_one_run_and_no_quality() {
    let geo = Geography::get();
    let mut f = figures(
        org("00000000000000000001", "Klein"),
        // fewer than 10 shared: no quality; not suppressed, so the trend point is shown
        vec![area("GM0014", tally(9, 31, 0, 0, 0))],
    );
    f.runs = vec![Run {
        at_ms: 1_767_225_600_000,
        origin: "ingest".into(),
        areas: BTreeMap::from([(
            "GM0014".to_owned(),
            RunArea {
                offered: 40,
                accepted: 9,
                no_consent: 31,
                rejected: 0,
                shared_after: 9,
            },
        )]),
    }];
    let r = merge(vec![publish(&f, geo)], Vec::new(), None);
    let page = render::html(&r);
    assert!(page.contains("2026-01-01"));
    assert!(page.contains("<circle"));
    assert!(page.contains("No row has published quality"));
    let empty = merge(Vec::new(), Vec::new(), None);
    assert!(render::html(&empty).contains("<svg") || render::html(&empty).contains("No runs"));
    assert_eq!(
        render::csv(&empty).lines().count(),
        2,
        "header and the national line"
    );
}

#[test]
#[ignore = "writes $TRANSPARENCY_SAMPLE_OUT/report.html for screenshots"]
fn write_sample_report() {
    let dir = std::env::var("TRANSPARENCY_SAMPLE_OUT").unwrap_or_else(|_| ".".into());
    // the sample as people see it: the hostile names of the escaping test made plain
    let json = render::json(&report())
        .replace("UWV <script>alert(1)</script>", "UWV")
        .replace("Werkplein <b>Fivelingo</b>", "Werkplein Fivelingo");
    let r = FederationReport::from_json(json.as_bytes()).unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(format!("{dir}/report.html"), render::html(&r)).unwrap();
    std::fs::write(format!("{dir}/report.csv"), render::csv(&r)).unwrap();
    std::fs::write(format!("{dir}/report.json"), render::json(&r)).unwrap();
}
