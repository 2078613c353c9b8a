//! The XML source through the public translate API, with the example mapping
//! examples/translate/xml-clienten/mapping.toml (the fuzz input is the export).
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    static M: OnceLock<translate::mapping::Mapping> = OnceLock::new();
    let m = M.get_or_init(|| {
        let at = matchgate_fuzz::examples().join("xml-clienten/mapping.toml");
        let text = std::fs::read_to_string(&at).expect("example mapping");
        matchgate_fuzz::mapping(&text, &at)
    });
    matchgate_fuzz::translate(m, data, "xml");
});
