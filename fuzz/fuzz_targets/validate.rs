//! The streaming validator on any bytes, as every document kind (first byte picks the kind).
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use vum::{Kind, Validator};

fuzz_target!(|data: &[u8]| {
    static V: OnceLock<Validator> = OnceLock::new();
    let v = V.get_or_init(|| Validator::with_today("2026-11-22"));
    let Some((&k, json)) = data.split_first() else {
        return;
    };
    let kind = Kind::ALL[k as usize % Kind::ALL.len()];
    let report = v.validate_slice(kind, json);
    // a valid document also validates as a parsed value, with the same verdict
    if report.is_valid() && !kind.is_query() {
        if let Ok(doc) = serde_json::from_slice::<serde_json::Value>(json) {
            let again = v.validate_value(kind, &doc);
            assert!(
                again.is_valid(),
                "slice valid, value invalid: {:?}",
                again.findings
            );
        }
    }
});
