//! The mapping loader on any text (lookups resolve against examples/translate).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let at = matchgate_fuzz::examples().join("sonar/mapping.toml");
    let _ = translate::mapping::Mapping::parse(text, &at);
});
