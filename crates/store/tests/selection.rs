//! Selection over the 1000 official profiles, checked against an independent, deliberately simple
//! evaluator written here from the standard's text (MongoDB semantics, PC4 great-circle distance,
//! the jobseeker's own maximum travel distance) — not from the engine's code.
mod common;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use store::engine::Engine;
use store::now_ms;
use vum::query::Selectie;
use vum::{Family, Kind};

fn pc4s() -> HashMap<String, (f64, f64)> {
    let base = std::env::var("MATCHGATE_SHARED")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared").to_string());
    let text = std::fs::read_to_string(format!("{base}/data/postcodes-pc4.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[0].to_string(),
                (f[1].parse().unwrap(), f[2].parse().unwrap()),
            )
        })
        .collect()
}

fn km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let r = 6371.0088_f64;
    let (p1, p2) = (a.0.to_radians(), b.0.to_radians());
    let dp = p2 - p1;
    let dl = (b.1 - a.1).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * r * h.sqrt().asin()
}

fn get<'a>(d: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(d, |v, k| v.get(k))
}

/// The independent evaluator: does profile `d` match query `q` (a vraagObject)?
fn naive(d: &Value, q: &Value, table: &HashMap<String, (f64, f64)>) -> bool {
    let area = &q["selectiegebied"];
    let Some(centre) = table.get(&area["postcode"].as_str().unwrap()[..4]) else {
        return false;
    };
    let Some(pc) = get(d, "mobiliteit.bemiddelingspostcode").and_then(Value::as_str) else {
        return false;
    };
    let Some(here) = table.get(&pc[..4]) else {
        return false;
    };
    let dist = km(*centre, *here);
    if dist > area["afstand"].as_f64().unwrap() {
        return false;
    }
    if let Some(max) = get(d, "mobiliteit.maximaleReisafstand").and_then(Value::as_f64) {
        if dist > max {
            return false;
        }
    }
    let arr = |p: &str| {
        get(d, p)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    for (k, c) in q.as_object().unwrap() {
        let ok = match k.as_str() {
            "selectiegebied" => true,
            "bemiddelingsberoep" => {
                let want: Vec<&str> = c["$elemMatch"]["$or"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|o| o["beroep.codeBeroepsnaam"]["$eq"].as_str().unwrap())
                    .collect();
                arr("bemiddelingsberoep")
                    .iter()
                    .any(|b| want.contains(&b["codeBeroepsnaam"].as_str().unwrap_or("")))
            }
            "contractvorm" => {
                let want: Vec<&str> = c["$elemMatch"]["$or"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|o| o["codeTypeArbeidscontract"]["$eq"].as_str().unwrap())
                    .collect();
                arr("contractvorm")
                    .iter()
                    .any(|b| want.contains(&b["codeTypeArbeidscontract"].as_str().unwrap_or("")))
            }
            "arbeidsmarktkwalificatie.rijbewijs" => c["$all"].as_array().unwrap().iter().all(|e| {
                let code = e["$elemMatch"]["codeSoortRijbewijs"]["$eq"]
                    .as_str()
                    .unwrap();
                arr("arbeidsmarktkwalificatie.rijbewijs")
                    .iter()
                    .any(|r| r["codeSoortRijbewijs"] == code)
            }),
            "arbeidsmarktkwalificatie.taalbeheersing" => {
                c["$all"].as_array().unwrap().iter().all(|e| {
                    let m = &e["$elemMatch"];
                    arr("arbeidsmarktkwalificatie.taalbeheersing")
                        .iter()
                        .any(|t| {
                            t["codeTaal"] == m["codeTaal"]["$eq"]
                                && [
                                    "codeNiveauTaalbeheersingMondeling",
                                    "codeNiveauTaalbeheersingSchriftelijk",
                                ]
                                .iter()
                                .all(|lvl| {
                                    match m[*lvl]["$gte"].as_i64() {
                                        None => true,
                                        Some(min) => t[*lvl].as_i64().is_some_and(|v| v >= min),
                                    }
                                })
                        })
                })
            }
            "werktijden.aantalWerkurenPerWeekMaximaal" => {
                get(d, "werktijden.aantalWerkurenPerWeekMaximaal")
                    .and_then(Value::as_i64)
                    .is_some_and(|v| v >= c["$gte"].as_i64().unwrap())
            }
            "werktijden.aantalWerkurenPerWeekMinimaal" => {
                get(d, "werktijden.aantalWerkurenPerWeekMinimaal")
                    .and_then(Value::as_i64)
                    .is_some_and(|v| v <= c["$lte"].as_i64().unwrap())
            }
            "werktijden.indicatieKantoortijden" => {
                get(d, "werktijden.indicatieKantoortijden") == Some(&c["$eq"])
            }
            "flexibiliteit.indicatieOnregelmatigWerkOfPloegendienst" => {
                get(d, "flexibiliteit.indicatieOnregelmatigWerkOfPloegendienst") == Some(&c["$eq"])
            }
            "datumAanvangBeschikbaarVoorWerk" => {
                get(d, "flexibiliteit.datumAanvangBeschikbaarVoorWerk")
                    .and_then(Value::as_str)
                    .is_some_and(|v| v <= c["$lte"].as_str().unwrap())
            }
            _ => true, // unknown criteria are ignored
        };
        if !ok {
            return false;
        }
    }
    true
}

fn queries(docs: &[Value]) -> Vec<Value> {
    // criteria values taken from the data so the queries select something
    let beroep = docs[0]["bemiddelingsberoep"][0]["codeBeroepsnaam"].clone();
    let beroep2 = docs[1]["bemiddelingsberoep"][0]["codeBeroepsnaam"].clone();
    let area = |pc: &str, km: i64| json!({"postcode": pc, "afstand": km});
    let q = |extra: Value, pc: &str, km: i64| {
        let mut o = extra.as_object().unwrap().clone();
        o.insert("selectiegebied".into(), area(pc, km));
        Value::Object(o)
    };
    vec![
        q(json!({}), "3011AB", 25),
        q(json!({}), "9711AA", 60),
        q(json!({}), "1012AB", 250),
        q(
            json!({"bemiddelingsberoep": {"$elemMatch": {"$or": [{"beroep.codeBeroepsnaam": {"$eq": beroep}}, {"beroep.codeBeroepsnaam": {"$eq": beroep2}}]}}}),
            "3511AA",
            200,
        ),
        q(
            json!({"contractvorm": {"$elemMatch": {"$or": [{"codeTypeArbeidscontract": {"$eq": "O"}}]}}}),
            "5611AA",
            150,
        ),
        q(
            json!({"arbeidsmarktkwalificatie.rijbewijs": {"$all": [{"$elemMatch": {"codeSoortRijbewijs": {"$eq": "B"}}}]}}),
            "3511AA",
            300,
        ),
        q(
            json!({"arbeidsmarktkwalificatie.rijbewijs": {"$all": [{"$elemMatch": {"codeSoortRijbewijs": {"$eq": "B"}}}, {"$elemMatch": {"codeSoortRijbewijs": {"$eq": "C"}}}]}}),
            "3511AA",
            300,
        ),
        q(
            json!({"arbeidsmarktkwalificatie.taalbeheersing": {"$all": [{"$elemMatch": {"codeTaal": {"$eq": "nld"}, "codeNiveauTaalbeheersingMondeling": {"$gte": 3}}}]}}),
            "3511AA",
            300,
        ),
        q(
            json!({"arbeidsmarktkwalificatie.taalbeheersing": {"$all": [{"$elemMatch": {"codeTaal": {"$eq": "eng"}, "codeNiveauTaalbeheersingSchriftelijk": {"$gte": 2}}}]}}),
            "6811AA",
            300,
        ),
        q(
            json!({"werktijden.aantalWerkurenPerWeekMaximaal": {"$gte": 24}, "werktijden.aantalWerkurenPerWeekMinimaal": {"$lte": 32}}),
            "3511AA",
            300,
        ),
        q(
            json!({"werktijden.indicatieKantoortijden": {"$eq": 1}}),
            "3511AA",
            300,
        ),
        q(
            json!({"flexibiliteit.indicatieOnregelmatigWerkOfPloegendienst": {"$eq": 2}}),
            "3511AA",
            300,
        ),
        q(
            json!({"datumAanvangBeschikbaarVoorWerk": {"$lte": "2026-01-01"}}),
            "3511AA",
            300,
        ),
        q(
            json!({"werktijden.aantalWerkurenPerWeekMaximaal": {"$gte": 20}, "arbeidsmarktkwalificatie.rijbewijs": {"$all": [{"$elemMatch": {"codeSoortRijbewijs": {"$eq": "B"}}}]},
                 "contractvorm": {"$elemMatch": {"$or": [{"codeTypeArbeidscontract": {"$eq": "B"}}]}}, "onbekendCriterium": {"$eq": 1}}),
            "3511AA",
            300,
        ),
        q(
            json!({"bemiddelingsberoep": {"$elemMatch": {"$or": [{"beroep.codeBeroepsnaam": {"$eq": "https://example.org/bestaat-niet"}}]}}}),
            "3511AA",
            300,
        ),
    ]
}

#[tokio::test]
async fn engine_agrees_with_an_independent_evaluator_on_the_official_profiles() {
    let docs: Vec<Value> = common::shared("vum/testdata/werkzoekenden-1000.json")
        .as_array()
        .unwrap()
        .clone();
    let table = pc4s();
    let batch: Vec<(String, Value)> = docs
        .iter()
        .map(|d| (d["idWerkzoekende"].as_str().unwrap().to_string(), d.clone()))
        .collect();
    for b in common::backends().await {
        let s = common::open(&b).await;
        let now = now_ms();
        s.upsert_batch(Kind::Werkzoekende, &batch, now)
            .await
            .unwrap();
        let engine = Engine::load(&s, Kind::Werkzoekende).await.unwrap();
        assert_eq!(engine.len(), 1000);
        let mut nonempty = 0;
        for q in queries(&docs) {
            let want: BTreeSet<String> = docs
                .iter()
                .filter(|d| naive(d, &q, &table))
                .map(|d| d["idWerkzoekende"].as_str().unwrap().to_string())
                .collect();
            let sel = Selectie::from_vraag_object(Family::Werkzoekenden, &q, "").unwrap();
            let mut got = BTreeSet::new();
            engine
                .for_each_match(&sel, now, 90, |id| {
                    got.insert(id.to_string());
                })
                .unwrap();
            assert_eq!(got, want, "{}: query {q}", b.name);
            nonempty += usize::from(!want.is_empty());
            // and the VUM answer: at most 100, a subset, the flag right
            let r = engine.select(&sel, now, 90, 100).unwrap();
            assert_eq!(r.ids.len(), want.len().min(100));
            assert_eq!(r.more, want.len() > 100);
            assert!(r.ids.iter().all(|id| want.contains(id)));
        }
        assert!(
            nonempty >= 12,
            "the queries must actually select something ({nonempty})"
        );
    }
}

#[tokio::test]
async fn results_are_a_random_sample_in_random_order() {
    let docs: Vec<Value> = common::shared("vum/testdata/werkzoekenden-1000.json")
        .as_array()
        .unwrap()
        .clone();
    let batch: Vec<(String, Value)> = docs
        .iter()
        .map(|d| (d["idWerkzoekende"].as_str().unwrap().to_string(), d.clone()))
        .collect();
    let b = common::fresh_sqlite();
    let s = common::open(&b).await;
    let now = now_ms();
    s.upsert_batch(Kind::Werkzoekende, &batch, now)
        .await
        .unwrap();
    let engine = Engine::load(&s, Kind::Werkzoekende).await.unwrap();
    let q = json!({"selectiegebied": {"postcode": "1012AB", "afstand": 300}});
    let sel = Selectie::from_vraag_object(Family::Werkzoekenden, &q, "").unwrap();
    let a = engine.select(&sel, now, 90, 100).unwrap();
    let b2 = engine.select(&sel, now, 90, 100).unwrap();
    let all = {
        let mut n = 0;
        engine.for_each_match(&sel, now, 90, |_| n += 1).unwrap();
        n
    };
    assert!(all > 300 && a.more);
    assert_ne!(
        a.ids, b2.ids,
        "two selections should not return the same 100 in the same order"
    );
    // over many draws every matching record turns up (a sample of all matches, not the first 100)
    let mut seen = BTreeSet::new();
    for _ in 0..60 {
        seen.extend(engine.select(&sel, now, 90, 100).unwrap().ids);
    }
    assert!(
        seen.len() as f64 > 0.95 * all as f64,
        "{} of {all} seen",
        seen.len()
    );
}

/// Wide queries over many records stop early (random probing); the sample must still be uniform
/// over all matches and contain only matches.
#[test]
fn early_stopping_samples_uniformly_from_all_matches() {
    let mut engine = Engine::new(Kind::Werkzoekende);
    let pcs = ["3011", "3012", "3013", "3014"];
    for i in 0..80_000 {
        let a = store::Attrs {
            pc4: Some(pcs[i % 4].parse().unwrap()),
            uren_max: Some(if i % 2 == 0 { 40 } else { 8 }),
            ..Default::default()
        };
        engine.put(&format!("r{i}"), now_ms(), &a);
    }
    let q = Selectie::from_vraag_object(Family::Werkzoekenden, &json!({"selectiegebied": {"postcode": "3011AB", "afstand": 10}, "werktijden.aantalWerkurenPerWeekMaximaal": {"$gte": 32}}), "").unwrap();
    let mut counts = vec![0u32; 80_000];
    for _ in 0..400 {
        let r = engine.select(&q, now_ms(), 90, 100).unwrap();
        assert!(
            r.more && r.ids.len() == 100 && r.matched.is_none(),
            "probing path"
        );
        let uniq: BTreeSet<&String> = r.ids.iter().collect();
        assert_eq!(uniq.len(), 100, "no duplicates");
        for id in &r.ids {
            let i: usize = id[1..].parse().unwrap();
            assert_eq!(i % 2, 0, "{id} does not match");
            counts[i] += 1;
        }
    }
    // 40,000 matches, 40,000 draws: each expected once; every bucket (pc4) equally represented
    let per_pc: Vec<u32> = (0..4)
        .map(|p| {
            counts
                .iter()
                .enumerate()
                .filter(|(i, _)| i % 4 == p)
                .map(|(_, c)| *c)
                .sum()
        })
        .collect();
    assert_eq!(per_pc[1] + per_pc[3], 0);
    let (a, b) = (f64::from(per_pc[0]), f64::from(per_pc[2]));
    assert!(
        (a - b).abs() / (a + b) < 0.05,
        "buckets unevenly sampled: {per_pc:?}"
    );
    let hit = counts.iter().filter(|c| **c > 0).count();
    assert!(hit > 24_000, "only {hit} of 40,000 matches ever drawn");
}

#[tokio::test]
async fn the_index_follows_the_change_log() {
    for b in common::backends().await {
        let s = common::open(&b).await;
        let now = now_ms();
        let d = |id: &str, h: i64| json!({"idWerkzoekende": id, "mobiliteit": {"bemiddelingspostcode": "3011AB"}, "werktijden": {"aantalWerkurenPerWeekMaximaal": h}});
        s.upsert_batch(
            Kind::Werkzoekende,
            &[("a".into(), d("a", 10)), ("b".into(), d("b", 40))],
            now,
        )
        .await
        .unwrap();
        let mut engine = Engine::load(&s, Kind::Werkzoekende).await.unwrap();
        let q = Selectie::from_vraag_object(Family::Werkzoekenden, &json!({"selectiegebied": {"postcode": "3011AB", "afstand": 5}, "werktijden.aantalWerkurenPerWeekMaximaal": {"$gte": 32}}), "").unwrap();
        let ids = |e: &Engine| {
            e.select(&q, now, 90, 100)
                .unwrap()
                .ids
                .into_iter()
                .collect::<BTreeSet<_>>()
        };
        assert_eq!(ids(&engine), ["b".to_string()].into());
        // another writer (an import, another replica) changes the store
        s.upsert_batch(
            Kind::Werkzoekende,
            &[("a".into(), d("a", 36)), ("c".into(), d("c", 38))],
            now,
        )
        .await
        .unwrap();
        s.remove(Kind::Werkzoekende, "b", true, now).await.unwrap();
        assert_eq!(engine.catch_up(&s).await.unwrap(), 3);
        assert_eq!(
            ids(&engine),
            ["a".to_string(), "c".to_string()].into(),
            "{}",
            b.name
        );
        assert_eq!(engine.catch_up(&s).await.unwrap(), 0);
    }
}
