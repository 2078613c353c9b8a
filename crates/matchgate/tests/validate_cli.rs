//! `matchgate validate` as a user runs it: real files, real process, exit codes and output lines.
use std::io::Write;
use std::process::Command;

fn matchgate() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_matchgate"));
    c.arg("validate").arg("--today").arg("2026-11-22");
    c
}

fn shared(rel: &str) -> String {
    format!(
        "{}/vum/testdata/{rel}",
        std::env::var("MATCHGATE_SHARED").unwrap_or_else(|_| concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared"
        )
        .to_string())
    )
}

fn file(dir: &tempfile::TempDir, name: &str, content: &[u8]) -> std::path::PathBuf {
    let p = dir.path().join(name);
    std::fs::File::create(&p)
        .unwrap()
        .write_all(content)
        .unwrap();
    p
}

#[test]
fn official_test_data_passes_with_exit_code_zero() {
    let out = matchgate()
        .arg("--no-warnings")
        .arg(shared("werkzoekenden-1000.json"))
        .arg(shared("vacatures-93.json"))
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{stdout}");
    assert_eq!(
        stdout.trim(),
        "2 file(s), 1093 record(s): 1093 valid, 0 invalid, 1939 warning(s)"
    );
}

#[test]
fn ndjson_bad_lines_are_named_and_good_lines_still_count() {
    let dir = tempfile::tempdir().unwrap();
    let p = file(
        &dir,
        "batch.ndjson",
        b"{\"idWerkzoekende\":\"a\",\"mobiliteit\":{\"bemiddelingspostcode\":\"3011AB\"}}\n\
          {\"idWerkzoekende\":\"b\",\"mobiliteit\":{\"bemiddelingspostcode\":\"3011\"}}\n\
          {\"idWerkzoekende\":\"c\",\n\
          \n\
          {\"idWerkzoekende\":\"d\",\"indicatieLdrRegistratie\":3}\n",
    );
    let out = matchgate().arg(&p).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let name = p.display().to_string();
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with(&format!(
            "{name}:2:/mobiliteit/bemiddelingspostcode werkzoekenden#Postcode/pattern error: "
        )),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with(&format!("{name}:3: json/syntax error: ")),
        "{stdout}"
    );
    assert!(lines[2].starts_with(&format!("{name}:4:/indicatieLdrRegistratie werkzoekenden#Werkzoekende/properties/indicatieLdrRegistratie/enum error: ")), "{stdout}");
    assert_eq!(
        lines[3],
        "1 file(s), 4 record(s): 1 valid, 3 invalid, 0 warning(s)"
    );
}

#[test]
fn json_array_with_bom_and_kind_given_reports_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let p = file(&dir, "matches.json", "\u{feff}[{\"idWerkzoekende\":\"a\",\"mobiliteit\":{\"bemiddelingspostcode\":\"3011AB\"}},{\"idWerkzoekende\":\"b\"}]".as_bytes());
    let out = matchgate()
        .args(["--kind", "werkzoekende-match", "--format", "json"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["record"], 2);
    assert_eq!(
        lines[0]["rule"],
        "werkzoekenden#MPWerkzoekendeMatch/required"
    );
    assert_eq!(lines[0]["pointer"], "");
    assert_eq!(lines[1]["summary"]["invalid"], 1);
    assert_eq!(lines[1]["summary"]["valid"], 1);
}

#[test]
fn pretty_printed_single_document_is_one_record() {
    let dir = tempfile::tempdir().unwrap();
    let p = file(&dir, "one.json", b"{\n  \"idVacature\": \"v1\",\n  \"adres\": {\"postcode\": \"3011AB\"},\n  \"sluitingsdatumVacature\": \"2030-01-01\"\n}\n");
    let out = matchgate().arg(&p).output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        "1 file(s), 1 record(s): 1 valid, 0 invalid, 0 warning(s)"
    );
}

#[test]
fn undetectable_kind_and_missing_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = file(&dir, "x.json", b"{\"iets\": 1}");
    let out = matchgate()
        .arg(&p)
        .arg(dir.path().join("missing.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("cannot tell the document kind from the first record; pass --kind"),
        "{stderr}"
    );
    assert!(stderr.contains("missing.json: No such file"), "{stderr}");
}
