//! The XLSX source through the public translate API, with the example mapping
//! examples/translate/sonar/mapping.toml (the fuzz input is the export).
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// libfuzzer-sys aborts on every panic, even one that is caught. One is known and caught: calamine
/// parses cell references with u32 arithmetic, which overflows on hostile input ("ZZZZZZZ1";
/// calamine-0.38.0/src/xlsx/mod.rs, get_row_and_optional_column). Release builds (and the main
/// workspace's test builds, by a profile override) wrap there and translate bounds the wrapped
/// value; this build has overflow checks on for every crate, so there it panics, and the reader
/// thread's catch_unwind turns it into an error. Only that panic is let through; any other aborts.
fn tolerate_calamine_overflow() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let abort_on_others = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_calamine_refs = info.location().is_some_and(|l| {
                l.file().contains("calamine") && l.file().ends_with("xlsx/mod.rs")
            });
            let overflow = info
                .payload()
                .downcast_ref::<&str>()
                .map(|m| m.contains("with overflow"))
                .or_else(|| {
                    info.payload()
                        .downcast_ref::<String>()
                        .map(|m| m.contains("with overflow"))
                })
                .unwrap_or(false);
            if !(in_calamine_refs && overflow) {
                abort_on_others(info);
            }
        }));
    });
}

fuzz_target!(|data: &[u8]| {
    tolerate_calamine_overflow();
    static M: OnceLock<translate::mapping::Mapping> = OnceLock::new();
    let m = M.get_or_init(|| {
        let at = matchgate_fuzz::examples().join("sonar/mapping.toml");
        let text = std::fs::read_to_string(&at).expect("example mapping");
        matchgate_fuzz::mapping(&text, &at)
    });
    matchgate_fuzz::translate(m, data, "xlsx");
});
