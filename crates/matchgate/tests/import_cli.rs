//! Importing as a scheduled job would: documents already in VUM form, the exit code under
//! `--max-rejects`, rejects files that translate and ingest never share, and the same bytes on
//! any number of threads.
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SECRET: &str = "import-cli-secret-0123456789";

fn shared() -> PathBuf {
    std::env::var("MATCHGATE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/translate")
}

fn mg(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_matchgate"))
        .current_dir(cwd)
        .args(args)
        .env("MATCHGATE_NODE_SECRET", SECRET)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn the_official_profiles_go_in_as_vum_and_come_back_from_get_key_for_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("node.db").display());
    let file = shared().join("vum/testdata/werkzoekenden-1000.json");
    let file = file.to_str().unwrap();
    // werkzoekenden need consent: refused without it, before anything is read
    let out = mg(
        dir.path(),
        &[
            "--database",
            &db,
            "ingest",
            "--vum",
            "--kind",
            "werkzoekende",
            file,
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("only with recorded consent"),
        "{}",
        stderr(&out)
    );
    let out = mg(
        dir.path(),
        &[
            "--database",
            &db,
            "ingest",
            "--vum",
            "--kind",
            "werkzoekende",
            "--consent",
            "--contact-consent",
            file,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("store: 1000 inserted"),
        "{}",
        stderr(&out)
    );
    let again = mg(
        dir.path(),
        &[
            "--database",
            &db,
            "ingest",
            "--vum",
            "--kind",
            "werkzoekende",
            "--consent",
            "--contact-consent",
            file,
        ],
    );
    assert!(
        stderr(&again).contains("0 inserted, 0 updated, 1000 unchanged"),
        "{}",
        stderr(&again)
    );

    let docs: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    // every 50th profile through the command a tester uses; the id is the document's own
    for d in docs.iter().step_by(50) {
        let id = d["idWerkzoekende"].as_str().unwrap();
        let out = mg(
            dir.path(),
            &["--database", &db, "get", "--kind", "werkzoekende", id],
        );
        assert!(out.status.success(), "{id}: {}", stderr(&out));
        let back: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(&back, d, "{id} changed on the way through the store");
    }
}

#[test]
fn vum_vacatures_keep_their_ids_or_are_keyed_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let file = shared().join("vum/testdata/vacatures-93.json");
    let out = mg(
        dir.path(),
        &[
            "translate",
            "--vum",
            "--kind",
            "vacature",
            file.to_str().unwrap(),
            "-o",
            "out.ndjson",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let docs: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let out: Vec<Value> = std::fs::read_to_string(dir.path().join("out.ndjson"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(out, docs);
    // keyed like any import when the mapping asks
    std::fs::write(
        dir.path().join("m.toml"),
        "kind = \"vacature\"\n[source]\nformat = \"vum\"\n[identity]\nkey = true\n",
    )
    .unwrap();
    let o = mg(
        dir.path(),
        &[
            "translate",
            "--mapping",
            "m.toml",
            file.to_str().unwrap(),
            "-o",
            "keyed.ndjson",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let first: Value = serde_json::from_str(
        std::fs::read_to_string(dir.path().join("keyed.ndjson"))
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let id = first["idVacature"].as_str().unwrap();
    assert_ne!(id, docs[0]["idVacature"].as_str().unwrap());
    assert_eq!(id.len(), 32);
}

fn cp1252(cwd: &Path, extra: &[&str]) -> Output {
    let mapping = examples().join("csv-cp1252/mapping.toml");
    let input = examples().join("csv-cp1252/klanten.csv");
    let mut args = vec![
        "translate",
        "--mapping",
        mapping.to_str().unwrap(),
        input.to_str().unwrap(),
        "-o",
        "out.ndjson",
    ];
    args.extend_from_slice(extra);
    mg(cwd, &args)
}

#[test]
fn max_rejects_decides_the_exit_code_of_a_completed_run() {
    let dir = tempfile::tempdir().unwrap();
    // the example has 2 rejects in 15 records (13.3 %)
    for (limit, code) in [("0", 1), ("1", 1), ("2", 0), ("10%", 1), ("14%", 0)] {
        let out = cp1252(dir.path(), &["--max-rejects", limit]);
        assert_eq!(
            out.status.code(),
            Some(code),
            "--max-rejects {limit}: {}",
            stderr(&out)
        );
        assert!(stderr(&out).contains("rejected 2"), "{}", stderr(&out));
    }
    let out = cp1252(dir.path(), &["--max-rejects", "lots"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a usage error keeps its own code"
    );
}

#[test]
fn translate_and_ingest_write_their_own_rejects_files() {
    let dir = tempfile::tempdir().unwrap();
    cp1252(dir.path(), &[]);
    let db = format!("sqlite://{}", dir.path().join("n.db").display());
    let mapping = examples().join("csv-cp1252/mapping.toml");
    let input = examples().join("csv-cp1252/klanten.csv");
    let out = mg(
        dir.path(),
        &[
            "--database",
            &db,
            "ingest",
            "--mapping",
            mapping.to_str().unwrap(),
            input.to_str().unwrap(),
        ],
    );
    assert!(
        stderr(&out).contains("ingest-rejects.csv"),
        "{}",
        stderr(&out)
    );
    let t = std::fs::read_to_string(dir.path().join("translate-rejects.csv")).unwrap();
    let i = std::fs::read_to_string(dir.path().join("ingest-rejects.csv")).unwrap();
    assert_eq!(t.lines().count(), 3);
    assert_eq!(t, i);
}

#[test]
fn one_thread_and_two_give_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mapping = examples().join("sonar/mapping.toml");
    let input = examples().join("sonar/sonar-export.xlsx");
    let run = |threads: &str, out: &str| {
        let o = mg(
            dir.path(),
            &[
                "translate",
                "--today",
                "2026-11-22",
                "--threads",
                threads,
                "--max-rejects",
                "100%",
                "--mapping",
                mapping.to_str().unwrap(),
                input.to_str().unwrap(),
                "-o",
                out,
                "--rejects",
                &format!("{out}.rejects.csv"),
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        (
            std::fs::read(dir.path().join(out)).unwrap(),
            std::fs::read(dir.path().join(format!("{out}.rejects.csv"))).unwrap(),
        )
    };
    let one = run("1", "one.ndjson");
    let two = run("2", "two.ndjson");
    assert!(!one.0.is_empty());
    assert_eq!(one, two);
}
