//! The conformance vectors (`conformance/vectors/`): every invalid vector fails with exactly the
//! rules it names, every warning vector gives exactly its warnings and stays valid, every valid
//! vector is clean, and every rule the validator knows has at least one vector.
use serde_json::Value;
use std::collections::BTreeSet;
use vum::{Family, Kind, Severity, Validator};

struct Vector {
    file: String,
    category: String,
    kind: Kind,
    bytes: Vec<u8>,
    doc: Option<Value>,
    errors: BTreeSet<String>,
    warnings: BTreeSet<String>,
}

fn vectors() -> Vec<Vector> {
    let root = format!("{}/../../conformance/vectors", env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for category in ["valid", "invalid", "warning"] {
        let mut files: Vec<_> = std::fs::read_dir(format!("{root}/{category}"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for path in files {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let set = |k: &str| -> BTreeSet<String> {
                v["expect"][k]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap().to_string())
                    .collect()
            };
            let doc = v.get("document").cloned();
            let bytes = match (&doc, v.get("raw")) {
                (_, Some(raw)) => raw.as_str().unwrap().as_bytes().to_vec(),
                (Some(d), None) => serde_json::to_vec(d).unwrap(),
                (None, None) => panic!("{}: neither document nor raw", path.display()),
            };
            out.push(Vector {
                file: path.file_name().unwrap().to_string_lossy().into_owned(),
                category: category.to_string(),
                kind: v["kind"].as_str().unwrap().parse().unwrap(),
                bytes,
                doc: if v.get("raw").is_some() { None } else { doc },
                errors: set("errors"),
                warnings: set("warnings"),
            });
        }
    }
    assert!(
        out.len() > 300,
        "expected the generated vectors too, found {}",
        out.len()
    );
    out
}

#[test]
fn every_vector_gives_exactly_its_expected_findings() {
    let validator = Validator::with_today("2026-11-22");
    let mut failures = Vec::new();
    for v in vectors() {
        let report = validator.validate_slice(v.kind, &v.bytes);
        let errors: BTreeSet<String> = report.errors().map(|f| f.rule.clone()).collect();
        let warnings: BTreeSet<String> = report.warnings().map(|f| f.rule.clone()).collect();
        match v.category.as_str() {
            "valid" => assert!(
                v.errors.is_empty() && v.warnings.is_empty(),
                "{}: a valid vector expects nothing",
                v.file
            ),
            "invalid" => assert!(
                !v.errors.is_empty(),
                "{}: an invalid vector names its rule",
                v.file
            ),
            _ => assert!(
                v.errors.is_empty() && !v.warnings.is_empty(),
                "{}: a warning vector names its warning",
                v.file
            ),
        }
        if errors != v.errors || (v.category != "invalid" && warnings != v.warnings) {
            failures.push(format!(
                "{}: expected {:?}/{:?}, got {:?}/{:?}\n  {:?}",
                v.file, v.errors, v.warnings, errors, warnings, report.findings
            ));
        }
        // the general-purpose jsonschema crate agrees on the schema rules
        if let Some(doc) = &v.doc {
            let theirs: BTreeSet<String> = vum::jsonschema_check::check(v.kind, doc)
                .into_iter()
                .map(|f| f.rule)
                .collect();
            let ours: BTreeSet<String> = v
                .errors
                .iter()
                .filter(|r| r.contains('#'))
                .cloned()
                .collect();
            if theirs != ours {
                failures.push(format!(
                    "{}: jsonschema crate says {theirs:?}, vector expects {ours:?}",
                    v.file
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} vector(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_rule_has_a_vector() {
    let vs = vectors();
    let invalid: BTreeSet<&String> = vs
        .iter()
        .filter(|v| v.category == "invalid")
        .flat_map(|v| v.errors.iter())
        .collect();
    let warning: BTreeSet<&String> = vs
        .iter()
        .filter(|v| v.category == "warning")
        .flat_map(|v| v.warnings.iter())
        .collect();
    let mut missing = Vec::new();
    for fam in [Family::Werkzoekenden, Family::Vacatures] {
        for r in vum::schema_rules(fam) {
            if !invalid.contains(&r) {
                missing.push(r);
            }
        }
    }
    for r in vum::rules::CATALOGUE.iter().chain(vum::query::RULES) {
        let covered = match r.severity {
            Severity::Error => invalid.contains(&r.id.to_string()),
            Severity::Warning => warning.contains(&r.id.to_string()),
        };
        if !covered {
            missing.push(r.id.to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "rules without a vector:\n{}",
        missing.join("\n")
    );
}
