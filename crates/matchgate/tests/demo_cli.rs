//! README's first command: `matchgate demo` runs a three-node federation and exits cleanly.
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
    assert!(
        stdout.contains("10 changes; UWV resumes next time from cursor"),
        "{stdout}"
    );
    assert!(stdout.contains("chain intact"), "{stdout}");
    assert!(stdout.contains("demo done"));
}
