//! Shared by the translate fuzz targets: run a mapping over the fuzz input as a file.
use std::io::Write;
use std::path::{Path, PathBuf};
use translate::{mapping::Mapping, Reject, Sink, Translator};

struct Discard;
impl Sink for Discard {
    fn accepted(&mut self, _: u64, _: &str, _: &serde_json::Value) -> std::io::Result<()> {
        Ok(())
    }
    fn rejected(&mut self, _: &[Reject], _: &[(String, String)]) -> std::io::Result<()> {
        Ok(())
    }
}

/// The repository's `examples/translate` directory (lookups in example mappings resolve there).
pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/translate")
}

fn input_path(ext: &str) -> PathBuf {
    std::env::temp_dir().join(format!("matchgate-fuzz-{}.{ext}", std::process::id()))
}

/// Parse `mapping` (as if it were at `mapping_path`) once, then translate `data` written to a
/// file; any outcome but a panic is fine.
pub fn translate(mapping: &Mapping, data: &[u8], ext: &str) {
    let path = input_path(ext);
    {
        let Ok(mut f) = std::fs::File::create(&path) else {
            return;
        };
        if f.write_all(data).is_err() {
            return;
        }
    }
    let mut t = Translator::new(
        mapping.clone(),
        b"fuzz-node-secret-0123456789abcdef",
        vum::Validator::with_today("2026-11-22"),
    );
    let _ = t.run(&path, &mut Discard);
}

/// Load a mapping that must parse (the fuzz target's fixed mapping).
pub fn mapping(text: &str, at: &Path) -> Mapping {
    Mapping::parse(text, at).unwrap_or_else(|e| panic!("fuzz mapping does not load: {e}"))
}

/// libfuzzer-sys aborts on every panic, even one that is caught. One is known and caught: calamine
/// parses cell references with u32 arithmetic, which overflows on hostile input ("ZZZZZZZ1";
/// calamine-0.38.0/src/xlsx/mod.rs, get_row_and_optional_column). Release builds (and the main
/// workspace's test builds, by a profile override) wrap there and translate bounds the wrapped
/// value; this build has overflow checks on for every crate, so there it panics, and the reader
/// thread's catch_unwind turns it into an error. Only that panic is let through; any other aborts.
pub fn tolerate_calamine_overflow() {
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
