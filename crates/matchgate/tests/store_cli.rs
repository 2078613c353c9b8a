//! The store commands as an operator uses them: ingest, select, get, audit verify, status.
use std::path::Path;
use std::process::Command;

fn mg(db: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_matchgate"))
        .args(["--database", db])
        .args(args)
        .env("MATCHGATE_NODE_SECRET", "store-cli-secret-0123456789")
        .output()
        .unwrap()
}

#[test]
fn ingest_select_get_and_audit() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("node.db").display());
    let ex = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/translate/xml-clienten");
    let rejects = dir.path().join("rejects.csv");
    let ingest = |db: &str| {
        mg(
            db,
            &[
                "ingest",
                "--mapping",
                ex.join("mapping.toml").to_str().unwrap(),
                ex.join("clienten.xml").to_str().unwrap(),
                "--rejects",
                rejects.to_str().unwrap(),
            ],
        )
    };
    let out = ingest(&db);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("store: 9 inserted, 0 updated, 0 unchanged")
    );
    let again = ingest(&db);
    assert!(
        String::from_utf8_lossy(&again.stderr)
            .contains("store: 0 inserted, 0 updated, 9 unchanged"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    let q = dir.path().join("q.json");
    std::fs::write(&q, r#"{"vraagObject": {"selectiegebied": {"postcode": "3011AB", "afstand": 300}, "werktijden.aantalWerkurenPerWeekMaximaal": {"$gte": 1}}}"#).unwrap();
    let out = mg(
        &db,
        &[
            "select",
            "--kind",
            "werkzoekende",
            "--purpose",
            "test",
            q.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let resp: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(resp["maximumAantalResultatenBereikt"], false);
    let matches = resp["matches"].as_array().unwrap();
    assert_eq!(matches.len(), 9);
    // match profiles never carry the personal presentation (detail only)
    assert!(matches
        .iter()
        .all(|m| m.get("persoonlijkePresentatie").is_none()));
    let id = matches[0]["idWerkzoekende"].as_str().unwrap();

    let out = mg(&db, &["get", id]);
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["idWerkzoekende"], id);
    assert!(
        doc.get("persoonlijkePresentatie").is_some(),
        "the detail form has it"
    );
    assert_eq!(mg(&db, &["get", "bestaat-niet"]).status.code(), Some(1));

    // a bad query is refused with the rule, not run
    std::fs::write(
        &q,
        r#"{"vraagObject": {"selectiegebied": {"postcode": "3011", "afstand": 5}}}"#,
    )
    .unwrap();
    let out = mg(
        &db,
        &["select", "--kind", "werkzoekende", q.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("werkzoekenden#Postcode/pattern"));

    let out = mg(&db, &["audit", "verify"]);
    assert!(out.status.success());
    // one select, one get, and the failed get asked both kinds: every lookup is logged
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "audit log intact: 4 entries, hash chain verified"
    );
    let out = mg(&db, &["status"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("werkzoekende  live        9"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
