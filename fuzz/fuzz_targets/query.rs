//! Selection queries: the schema check and the typed parser on any JSON.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vum::{query::Selectie, Family, Kind, Validator};

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let v = Validator::with_today("2026-11-22");
    for (kind, family) in [
        (Kind::WerkzoekendeVraag, Family::Werkzoekenden),
        (Kind::VacatureVraag, Family::Vacatures),
    ] {
        let _ = v.validate_value(kind, &doc);
        let _ = Selectie::from_request(family, &doc);
        if let Some(q) = doc.get("vraagObject") {
            let _ = Selectie::from_vraag_object(family, q, "/vraagObject");
        }
    }
});
