//! A key that occurs twice in one object is an error with its pointer, in documents (the streaming
//! walker) and in selection queries (parsed into a Value, which would keep only the last one).
use vum::{Kind, Validator};

#[test]
fn duplicate_keys_in_a_document_are_errors_with_their_pointer() {
    let v = Validator::with_today("2026-11-22");
    let once = br#"{"idWerkzoekende":"a1","mobiliteit":{"bemiddelingspostcode":"3011AB"}}"#;
    assert!(v.validate_slice(Kind::Werkzoekende, once).is_valid());
    let twice = br#"{"idWerkzoekende":"a1","mobiliteit":{"bemiddelingspostcode":"3011AB","bemiddelingspostcode":"1012AB"}}"#;
    let r = v.validate_slice(Kind::Werkzoekende, twice);
    assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
    let f = &r.findings[0];
    assert_eq!(f.rule, "json/duplicate-key");
    assert_eq!(f.pointer, "/mobiliteit/bemiddelingspostcode");
    assert!(f.message.contains("more than once"), "{}", f.message);
    // at the top level, for an unknown property, and inside a list element
    let r = v.validate_slice(
        Kind::Werkzoekende,
        br#"{"idWerkzoekende":"a1","idWerkzoekende":"a2","x":1,"x":2,"arbeidsmarktkwalificatie":{"rijbewijs":[{"codeSoortRijbewijs":"B","codeSoortRijbewijs":"C"}]}}"#,
    );
    let dups: Vec<&str> = r
        .findings
        .iter()
        .filter(|f| f.rule == "json/duplicate-key")
        .map(|f| f.pointer.as_str())
        .collect();
    assert_eq!(
        dups,
        [
            "/idWerkzoekende",
            "/x",
            "/arbeidsmarktkwalificatie/rijbewijs/0/codeSoortRijbewijs"
        ],
        "{:?}",
        r.findings
    );
}

#[test]
fn duplicate_keys_in_a_query_are_errors_with_their_pointer() {
    let v = Validator::with_today("2026-11-22");
    let r = v.validate_slice(
        Kind::WerkzoekendeVraag,
        br#"{"vraagObject":{"selectiegebied":{"postcode":"3011AB","afstand":5,"afstand":500}}}"#,
    );
    assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
    assert_eq!(r.findings[0].rule, "json/duplicate-key");
    assert_eq!(r.findings[0].pointer, "/vraagObject/selectiegebied/afstand");
    let r = v.validate_slice(
        Kind::WerkzoekendeVraag,
        br#"{"vraagObject":{"selectiegebied":{"postcode":"3011AB","afstand":5}}}"#,
    );
    assert!(r.is_valid(), "{:?}", r.findings);
}
