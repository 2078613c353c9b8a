//! Selection queries: the typed form of every criterion, unknown criteria ignored, bad ones refused.
use serde_json::json;
use vum::query::{Criterium, Selectie, TaalEis};
use vum::{Family, Kind, Validator};

#[test]
fn every_werkzoekenden_criterion_is_understood() {
    let q = json!({"vraagObject": {"selectiegebied": {"postcode": "3011AB", "afstand": 25},
        "bemiddelingsberoep": {"$elemMatch": {"$or": [{"beroep.codeBeroepsnaam": {"$eq": "https://x/1"}}, {"beroep.codeBeroepsnaam": {"$eq": "https://x/2"}}]}},
        "contractvorm": {"$elemMatch": {"$or": [{"codeTypeArbeidscontract": {"$eq": "O"}}]}},
        "arbeidsmarktkwalificatie.rijbewijs": {"$all": [{"$elemMatch": {"codeSoortRijbewijs": {"$eq": "B"}}}, {"$elemMatch": {"codeSoortRijbewijs": {"$eq": "C"}}}]},
        "arbeidsmarktkwalificatie.taalbeheersing": {"$all": [{"$elemMatch": {"codeTaal": {"$eq": "nld"}, "codeNiveauTaalbeheersingMondeling": {"$gte": 3}}}]},
        "werktijden.aantalWerkurenPerWeekMaximaal": {"$gte": 24}, "werktijden.aantalWerkurenPerWeekMinimaal": {"$lte": 32},
        "werktijden.indicatieKantoortijden": {"$eq": 1}, "flexibiliteit.indicatieOnregelmatigWerkOfPloegendienst": {"$eq": 2},
        "datumAanvangBeschikbaarVoorWerk": {"$lte": "2026-12-01"}}});
    assert!(Validator::new()
        .validate_value(Kind::WerkzoekendeVraag, &q)
        .findings
        .is_empty());
    let s = Selectie::from_request(Family::Werkzoekenden, &q).unwrap();
    assert_eq!(s.selectiegebied.postcode, "3011AB");
    assert_eq!(s.selectiegebied.afstand, 25);
    assert!(s.ignored.is_empty(), "{:?}", s.ignored);
    let has = |c: Criterium| assert!(s.criteria.contains(&c), "missing {c:?} in {:?}", s.criteria);
    has(Criterium::Bemiddelingsberoep(vec![
        "https://x/1".into(),
        "https://x/2".into(),
    ]));
    has(Criterium::Contractvorm(vec!["O".into()]));
    has(Criterium::Rijbewijzen(vec!["B".into(), "C".into()]));
    has(Criterium::Taalbeheersing(vec![TaalEis {
        code_taal: "nld".into(),
        mondeling_minimaal: Some(3),
        schriftelijk_minimaal: None,
    }]));
    has(Criterium::UrenMaximaalMinstens(24));
    has(Criterium::UrenMinimaalHoogstens(32));
    has(Criterium::Kantoortijden(1));
    has(Criterium::OnregelmatigWerk(2));
    has(Criterium::BeschikbaarUiterlijk("2026-12-01".into()));
    assert_eq!(s.criteria.len(), 9);
}

#[test]
fn unknown_criteria_and_operators_are_ignored_and_reported() {
    let q = json!({"vraagObject": {"selectiegebied": {"postcode": "3011AB", "afstand": 5},
        "nieuwCriterium": {"$eq": 1}, "werktijden.aantalWerkurenPerWeekMaximaal": {"$gte": 24, "$lt": 40},
        "beroep.codeBeroepsnaam": {"$eq": "https://x/1"}}});
    let s = Selectie::from_request(Family::Werkzoekenden, &q).unwrap();
    assert_eq!(s.criteria, vec![Criterium::UrenMaximaalMinstens(24)]);
    let ptrs: Vec<&str> = s.ignored.iter().map(|i| i.pointer.as_str()).collect();
    assert!(ptrs.contains(&"/vraagObject/nieuwCriterium"), "{ptrs:?}");
    assert!(
        ptrs.contains(&"/vraagObject/werktijden.aantalWerkurenPerWeekMaximaal/$lt"),
        "{ptrs:?}"
    );
    // a vacature criterion in a werkzoekenden query has no meaning there
    assert!(
        ptrs.contains(&"/vraagObject/beroep.codeBeroepsnaam"),
        "{ptrs:?}"
    );
    let r = Validator::new().validate_value(Kind::WerkzoekendeVraag, &q);
    assert!(r.is_valid());
    assert_eq!(r.warnings().count(), 3);
}

#[test]
fn malformed_queries_are_rejected_with_the_reason() {
    let v = Validator::new();
    for (q, rule, pointer) in [
        (
            json!({"vraagObject": {}}),
            "werkzoekenden#WerkzoekendeProfielMatchesRequest/required",
            "",
        ),
        (
            json!({"vraagObject": {"werktijden.indicatieKantoortijden": {"$eq": 1}}}),
            "werkzoekenden#MPWerkzoekende/required",
            "/vraagObject",
        ),
        (
            json!({"vraagObject": {"selectiegebied": {"postcode": "3011", "afstand": 5}}}),
            "werkzoekenden#Postcode/pattern",
            "/vraagObject/selectiegebied/postcode",
        ),
        (
            json!({"vraagObject": {"selectiegebied": {"postcode": "3011AB", "afstand": 5}, "werktijden.aantalWerkurenPerWeekMaximaal": {"$gte": 0}}}),
            "werkzoekenden#aantalWerkuren/minimum",
            "/vraagObject/werktijden.aantalWerkurenPerWeekMaximaal/$gte",
        ),
        (
            json!({"vraagObject": {"selectiegebied": {"postcode": "1000AA", "afstand": 5}}}),
            "query/selectiegebied-postcode-onbekend",
            "/vraagObject/selectiegebied/postcode",
        ),
        (
            json!({"zoek": 1}),
            "werkzoekenden#WerkzoekendeProfielMatchesRequest/additionalProperties",
            "",
        ),
    ] {
        let r = v.validate_value(Kind::WerkzoekendeVraag, &q);
        assert!(!r.is_valid(), "{q}");
        assert!(
            r.errors().any(|f| f.rule == rule && f.pointer == pointer),
            "{q}: expected {rule} at {pointer}, got {:?}",
            r.findings
        );
    }
    let r = v.validate_slice(Kind::VacatureVraag, b"{\"vraagObject\": ");
    assert_eq!(r.findings[0].rule, "json/syntax");
}

#[test]
fn an_empty_vraag_object_says_it_is_empty() {
    let v = Validator::with_today("2026-11-22");
    for body in [
        json!({"vraagObject": {}}),
        json!({"vraagObject": {"selectiegebied": {}, "x": ""}}),
    ] {
        for kind in [Kind::WerkzoekendeVraag, Kind::VacatureVraag] {
            let r = v.validate_value(kind, &body);
            assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
            let m = &r.findings[0].message;
            assert!(
                m.contains("'vraagObject' is an empty object") && m.contains("selectiegebied"),
                "{m}"
            );
        }
        let e = Selectie::from_request(Family::Werkzoekenden, &body).unwrap_err();
        assert_eq!(e.pointer, "/vraagObject");
        assert!(e.message.contains("vraagObject is empty"), "{}", e.message);
    }
    // an empty selectiegebied beside a criterion is named too
    let r = v.validate_value(
        Kind::WerkzoekendeVraag,
        &json!({"vraagObject": {"selectiegebied": {}, "werktijden.aantalWerkurenPerWeekMaximaal": {"$gte": 24}}}),
    );
    assert!(
        r.findings
            .iter()
            .any(|f| f.message.contains("'selectiegebied' is an empty object")),
        "{:?}",
        r.findings
    );
    // a missing one keeps the plain message
    let r = v.validate_value(Kind::WerkzoekendeVraag, &json!({}));
    assert!(
        r.findings[0].message.contains("required property"),
        "{:?}",
        r.findings
    );
}
