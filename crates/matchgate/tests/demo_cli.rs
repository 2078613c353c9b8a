//! README's first command: `matchgate demo` runs a three-node federation and exits cleanly: a
//! federated search, a detail, a followed vacancy feed, a pushed withdrawal followed again, and
//! the transparency report of the three organisations.
#[test]
fn demo_runs_a_federated_search_across_organisations() {
    // the demo writes its report into the working directory
    let cwd = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_matchgate"))
        .arg("demo")
        .current_dir(cwd.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("UWV         ok"), "{stdout}");
    assert!(stdout.contains("SW-bedrijf  ok"), "{stdout}");
    assert!(stdout.contains("19 matches, in random order"), "{stdout}");
    assert!(stdout.contains("10 vacancies mirrored"), "{stdout}");
    assert!(stdout.contains("push: 1 received, 1 deleted"), "{stdout}");
    assert!(stdout.contains(": 1 tombstone"), "{stdout}");
    assert!(
        stdout.contains("UWV's mirror of the gemeente: 9 live vacancies"),
        "{stdout}"
    );
    assert!(stdout.contains("chain intact"), "{stdout}");
    assert!(stdout.contains("demo done"));

    // the report of the demo federation matches its imports: every werkzoekende each
    // organisation's export offered, once (the demo's exports have only consent filters)
    let read = |example: &str| -> u64 {
        let line = stdout
            .lines()
            .find(|l| l.contains(example) && l.contains(" read "))
            .unwrap_or_else(|| panic!("no import line for {example}: {stdout}"));
        line.split(" read ")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let offered = read("sonar") + read("xml-clienten") + read("csv-cp1252");
    let dir = cwd.path().join("matchgate-demo-report");
    let report = transparency::merge::FederationReport::from_json(
        &std::fs::read(dir.join("report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report.organisations.len(), 3);
    assert!(report.missing.is_empty(), "{:?}", report.missing);
    assert_eq!(report.national.total.value(), Some(offered), "{stdout}");
    assert!(stdout.contains("Nederland"), "{stdout}");
    assert!(std::fs::read_to_string(dir.join("report.html"))
        .unwrap()
        .contains("<svg"));
}
