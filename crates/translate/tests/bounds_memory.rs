//! Memory stays bounded on a hostile workbook: one row of a million cells (the reported "one long
//! row" zip bomb, at a packing ratio under the bomb limit) is rejected without holding its cells.
//! Alone in its test binary, so the peak resident memory it measures is its own.
mod common;
use common::*;

#[test]
fn xlsx_long_row_is_rejected_in_bounded_memory() {
    const CELLS: u32 = 1_000_000;
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("long-row.xlsx");
    workbook(
        &p,
        true,
        |w| {
            w.write_all(header_row().as_bytes()).unwrap();
            w.write_all(good_row(2).as_bytes()).unwrap();
            w.write_all(b"<row r=\"3\">").unwrap();
            let mut buf = String::new();
            for i in 0..CELLS {
                buf.push_str(&format!("<c><v>{}</v></c>", 1_000_000 + i));
                if buf.len() > 1 << 16 {
                    w.write_all(buf.as_bytes()).unwrap();
                    buf.clear();
                }
            }
            w.write_all(buf.as_bytes()).unwrap();
            w.write_all(b"</row>").unwrap();
            w.write_all(good_row(4).as_bytes()).unwrap();
        },
        None,
    );
    // warm up what every run allocates once (the compiled schemas)
    let small = d.path().join("small.xlsx");
    simple_workbook(&small, &format!("{}{}", header_row(), good_row(2)));
    run_file(XLSX_MAPPING, &small).unwrap();

    let reset = reset_peak_rss();
    let before = peak_rss().unwrap_or(0);
    let (_, sink) = run_file(XLSX_MAPPING, &p).unwrap();
    let after = peak_rss().unwrap_or(0);
    assert_eq!(sink.rows, vec![2, 4]);
    assert_eq!(sink.rejects.len(), 1, "{:?}", sink.rejects);
    assert_eq!(sink.rejects[0].row, 3);
    assert!(
        sink.rejects[0].message.contains("beyond column XFD"),
        "{}",
        sink.rejects[0].message
    );
    // holding the row's cells would take at least 32 bytes each: 32 MB
    let grew = after.saturating_sub(before);
    eprintln!("peak RSS {before} -> {after} (reset: {reset}), grew {grew} bytes");
    if reset {
        assert!(grew < 16 << 20, "peak RSS grew by {grew} bytes");
    } else {
        assert!(after < 256 << 20, "peak RSS {after} bytes");
    }
}
