//! The JSON and NDJSON sources through the public translate API (first byte picks which), with
//! a small mapping that uses pointers, wildcards and a list.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const FIELDS: &str = r#"
[identity]
column = "/id"
[fields."mobiliteit.bemiddelingspostcode"]
column = "/postcode"
[fields."werktijden.aantalWerkurenPerWeekMaximaal"]
column = "/uren"
[fields."arbeidsmarktkwalificatie.rijbewijs[].codeSoortRijbewijs"]
column = "/rijbewijzen/*"
[fields."arbeidsmarktkwalificatie.taalbeheersing[].codeTaal"]
column = "/talen/*/codeTaal"
"#;

fuzz_target!(|data: &[u8]| {
    static M: OnceLock<[translate::mapping::Mapping; 2]> = OnceLock::new();
    let ms = M.get_or_init(|| {
        let at = std::env::temp_dir().join("matchgate-fuzz-mapping.toml");
        let json = format!("kind = \"werkzoekende\"\n[source]\nformat = \"json\"\nrecord_path = \"/records\"\n{FIELDS}");
        let nd = format!("kind = \"werkzoekende\"\n[source]\nformat = \"ndjson\"\n{FIELDS}");
        [matchgate_fuzz::mapping(&json, &at), matchgate_fuzz::mapping(&nd, &at)]
    });
    let Some((&k, rest)) = data.split_first() else {
        return;
    };
    let (m, ext) = if k & 1 == 0 {
        (&ms[0], "json")
    } else {
        (&ms[1], "ndjson")
    };
    matchgate_fuzz::translate(m, rest, ext);
});
