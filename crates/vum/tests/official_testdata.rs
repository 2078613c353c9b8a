//! The standard's own accreditation data: 1000 jobseekers and 93 vacancies, all valid.
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use vum::{Kind, Severity, Validator};

fn shared(rel: &str) -> Vec<Value> {
    let path = format!(
        "{}/vum/testdata/{rel}",
        std::env::var("MATCHGATE_SHARED").unwrap_or_else(|_| concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared"
        )
        .to_string())
    );
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")),
    )
    .unwrap();
    v.as_array().unwrap().clone()
}

/// Fixed 'today' so the expiry warnings are reproducible.
const TODAY: &str = "2026-11-22";

#[test]
fn all_1000_werkzoekenden_have_no_errors() {
    let v = Validator::with_today(TODAY);
    let docs = shared("werkzoekenden-1000.json");
    assert_eq!(docs.len(), 1000);
    let mut warnings: BTreeMap<String, usize> = BTreeMap::new();
    let mut education_reversed = 0;
    for (i, d) in docs.iter().enumerate() {
        let bytes = serde_json::to_vec(d).unwrap();
        let r = v.validate_slice(Kind::Werkzoekende, &bytes);
        let errors: Vec<_> = r.errors().collect();
        assert!(errors.is_empty(), "profile {i}: {errors:#?}");
        for w in r.warnings() {
            *warnings.entry(w.rule.clone()).or_default() += 1;
        }
        if r.warnings().any(|w| {
            w.rule == vum::rules::PERIODE
                && (w
                    .pointer
                    .starts_with("/arbeidsmarktkwalificatie/opleiding/")
                    || w.pointer.starts_with("/arbeidsmarktkwalificatie/cursus/"))
        }) {
            education_reversed += 1;
        }
    }
    // the issue states it: 181 profiles have an education or course that ends before it starts
    assert_eq!(education_reversed, 181, "warnings: {warnings:?}");
}

#[test]
fn all_93_vacatures_have_no_errors() {
    let v = Validator::with_today(TODAY);
    let docs = shared("vacatures-93.json");
    assert_eq!(docs.len(), 93);
    for (i, d) in docs.iter().enumerate() {
        let r = v.validate_value(Kind::Vacature, d);
        let errors: Vec<_> = r.errors().collect();
        assert!(errors.is_empty(), "vacature {i}: {errors:#?}");
    }
}

fn schema_findings(r: &vum::Report) -> BTreeSet<(String, String)> {
    r.findings
        .iter()
        .filter(|f| f.severity == Severity::Error && f.rule.contains('#'))
        .map(|f| (f.rule.clone(), f.pointer.clone()))
        .collect()
}

/// Mutate the official data in many ways and hold the streaming validator against the
/// general-purpose `jsonschema` crate on the same schema: same rules at the same places.
#[test]
fn streaming_validator_agrees_with_jsonschema_crate_on_mutated_data() {
    let v = Validator::with_today(TODAY);
    let mutations: Vec<(&str, Value)> = vec![
        ("/mobiliteit/bemiddelingspostcode", Value::from("12345")),
        ("/mobiliteit/maximaleReisafstand", Value::from(1000)),
        ("/mobiliteit/maximaleReisafstand", Value::from(-1)),
        ("/mobiliteit/maximaleReisafstand", Value::from("12")),
        ("/mobiliteit", serde_json::json!({"maximaleReisafstand": 3})),
        ("/idWerkzoekende", Value::from("a b")),
        ("/indicatieLdrRegistratie", Value::from(3)),
        ("/persoonlijkePresentatie", Value::from("x".repeat(2001))),
        ("/persoonlijkePresentatie", Value::from("é".repeat(2000))),
        (
            "/flexibiliteit/datumAanvangBeschikbaarVoorWerk",
            Value::from("2026-02-30"),
        ),
        ("/emailadres", serde_json::json!(["not-an-email"])),
        (
            "/webadres",
            serde_json::json!([{"url": "not a uri", "codeWebadres": 5}]),
        ),
        ("/onbekend", Value::from(1)),
        (
            "/contractvorm",
            serde_json::json!([{"codeTypeArbeidscontract": "X", "codeTypeOvereenkomst": "1"}]),
        ),
        (
            "/arbeidsmarktkwalificatie",
            serde_json::json!({"rijbewijs": [{"codeSoortRijbewijs": "Z"}], "taalbeheersing": [{"codeTaal": "NL"}]}),
        ),
        (
            "/werktijden",
            serde_json::json!({"aantalWerkurenPerWeekMaximaal": 100, "indicatieKantoortijden": 1.5}),
        ),
        ("/sector", serde_json::json!({"codeSbi": 1})),
        (
            "/vervoermiddel",
            serde_json::json!([{"codeVervoermiddel": null}]),
        ),
    ];
    let docs = shared("werkzoekenden-1000.json");
    for (n, d) in docs.iter().enumerate().take(200) {
        let (ptr, val) = &mutations[n % mutations.len()];
        let mut doc = d.clone();
        let (parent, key) = ptr.rsplit_once('/').unwrap();
        doc.pointer_mut(parent)
            .and_then(Value::as_object_mut)
            .map(|o| o.insert(key.to_string(), val.clone()));
        for kind in [Kind::Werkzoekende, Kind::WerkzoekendeMatch] {
            let ours = schema_findings(&v.validate_value(kind, &doc));
            let theirs: BTreeSet<(String, String)> = vum::jsonschema_check::check(kind, &doc)
                .into_iter()
                .map(|f| (f.rule, f.pointer))
                .collect();
            assert_eq!(ours, theirs, "profile {n} ({kind}) mutated at {ptr}");
        }
    }
}

#[test]
fn match_form_of_every_profile_is_a_valid_match_profile_without_personal_data() {
    let v = Validator::with_today(TODAY);
    for d in shared("werkzoekenden-1000.json") {
        let m = vum::matchform::to_match(Kind::Werkzoekende, &d);
        let r = v.validate_value(Kind::WerkzoekendeMatch, &m);
        assert!(r.is_valid(), "{:?}", r.findings);
        for gone in [
            "emailadres",
            "telefoonnummer",
            "contactpersoon",
            "indicatieLdrRegistratie",
            "persoonlijkePresentatie",
            "webadres",
            "eisAanWerk",
        ] {
            assert!(m.get(gone).is_none(), "{gone} in match form");
        }
    }
    for d in shared("vacatures-93.json") {
        let m = vum::matchform::to_match(Kind::Vacature, &d);
        assert!(v.validate_value(Kind::VacatureMatch, &m).is_valid());
        assert!(m
            .get("werkgever")
            .and_then(|w| w.get("contactpersoon"))
            .is_none());
        assert!(m.get("nummerVacature").is_none());
    }
}
