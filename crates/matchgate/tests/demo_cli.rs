//! README's first command: `matchgate demo` runs a three-node federation and exits cleanly: a
//! federated search, a detail, a followed vacancy feed, a pushed withdrawal followed again.
#[test]
fn demo_runs_a_federated_search_across_organisations() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_matchgate"))
        .arg("demo")
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
}
