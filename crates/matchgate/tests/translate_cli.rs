//! `matchgate translate` end to end: files out, exit codes, a rerun gives identical bytes.
use std::path::Path;
use std::process::Command;

fn examples() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/translate")
}

fn translate(dir: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_matchgate"))
        .arg("translate")
        .arg("--today")
        .arg("2026-11-22")
        .arg("--mapping")
        .arg(examples().join("csv-cp1252/mapping.toml"))
        .arg(examples().join("csv-cp1252/klanten.csv"))
        .arg("-o")
        .arg(dir.join("out.ndjson"))
        .arg("--rejects")
        .arg(dir.join("rejects.csv"))
        .arg("--summary")
        .arg(dir.join("summary.json"))
        .args(extra)
        .env("MATCHGATE_NODE_SECRET", "cli-test-secret-0123456789")
        .output()
        .unwrap()
}

#[test]
fn translate_writes_output_rejects_and_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = translate(dir.path(), &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "rows were rejected: exit 1\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("read 15, accepted 10, filtered 3, rejected 2"),
        "{stderr}"
    );
    let docs = std::fs::read_to_string(dir.path().join("out.ndjson")).unwrap();
    assert_eq!(docs.lines().count(), 10);
    let rejects = std::fs::read_to_string(dir.path().join("rejects.csv")).unwrap();
    let mut lines = rejects.lines();
    assert_eq!(lines.next(), Some("row,column,rule,message,original"));
    assert!(lines
        .next()
        .unwrap()
        .starts_with("4,toelichting,privacy/vrije-tekst,"));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["accepted"], 10);
    assert_eq!(summary["rejected_by_rule"]["translate/datum"], 1);

    // the same input again: byte-identical output
    let dir2 = tempfile::tempdir().unwrap();
    translate(dir2.path(), &[]);
    assert_eq!(
        std::fs::read(dir.path().join("out.ndjson")).unwrap(),
        std::fs::read(dir2.path().join("out.ndjson")).unwrap()
    );

    // the output is valid VUM to the validator command as well
    let v = Command::new(env!("CARGO_BIN_EXE_matchgate"))
        .args([
            "validate",
            "--today",
            "2026-11-22",
            "--kind",
            "werkzoekende",
        ])
        .arg(dir.path().join("out.ndjson"))
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
}

#[test]
fn json_array_output_and_missing_secret() {
    let dir = tempfile::tempdir().unwrap();
    translate(dir.path(), &["--format", "json"]);
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out.ndjson")).unwrap()).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 10);

    let out = Command::new(env!("CARGO_BIN_EXE_matchgate"))
        .args(["translate", "--mapping"])
        .arg(examples().join("csv-cp1252/mapping.toml"))
        .arg(examples().join("csv-cp1252/klanten.csv"))
        .env_remove("MATCHGATE_NODE_SECRET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no node secret"));
}
