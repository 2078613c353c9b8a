//! Bounded input: hostile XLSX files (cell references beyond XFD, long rows, zip bombs, bloated
//! shared strings, lying zip sizes) and files of the wrong kind end quickly with an error that
//! names the file, the sheet or zip entry, and the limit; good rows around a bad one still land.
mod common;
use common::*;
use std::io::Write;
use std::time::{Duration, Instant};

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// Fails unless the run took less than `secs` (a bomb that is unpacked takes far longer).
fn quick<T>(secs: u64, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let r = f();
    assert!(
        t.elapsed() < Duration::from_secs(secs),
        "took {:?}",
        t.elapsed()
    );
    r
}

#[test]
fn xlsx_header_cell_beyond_xfd_is_a_file_error() {
    // the reported 2 KB file: one header cell at ZZZZZZZ1 (column 8,353,082,582, or wrapped in u32)
    let d = tmp();
    let p = d.path().join("zzz.xlsx");
    simple_workbook(
        &p,
        &format!(
            r#"<row r="1">{}{}{}</row>{}"#,
            cell("A1", "nr"),
            cell("B1", "postcode"),
            cell("ZZZZZZZ1", "x"),
            good_row(2)
        ),
    );
    assert!(std::fs::metadata(&p).unwrap().len() < 4096);
    let err = quick(10, || run_file(XLSX_MAPPING, &p)).err().unwrap();
    assert!(err.contains("zzz.xlsx"), "{err}");
    assert!(err.contains("sheet 'Blad1' header row 1"), "{err}");
    assert!(
        err.contains("beyond column XFD") && err.contains("16384"),
        "{err}"
    );
}

#[test]
fn xlsx_data_cell_beyond_xfd_rejects_its_row_only() {
    let d = tmp();
    let p = d.path().join("x.xlsx");
    simple_workbook(
        &p,
        &format!(
            r#"{}{}<row r="3">{}{}{}</row>{}"#,
            header_row(),
            good_row(2),
            cell("A3", "v3"),
            cell("B3", "3011AB"),
            cell("XFE3", "x"),
            good_row(4)
        ),
    );
    let (s, sink) = run_file(XLSX_MAPPING, &p).unwrap();
    assert_eq!(sink.rows, vec![2, 4]);
    assert_eq!(sink.rejects.len(), 1, "{:?}", sink.rejects);
    let r = &sink.rejects[0];
    assert_eq!((r.row, r.rule.as_str()), (3, "translate/xlsx"));
    assert!(r.message.contains("beyond column XFD"), "{}", r.message);
    assert_eq!(s.accepted, 2);
    // the last column there is, XFD, is fine
    let p = d.path().join("xfd.xlsx");
    simple_workbook(
        &p,
        &format!(
            r#"{}<row r="2">{}{}{}</row>"#,
            header_row(),
            cell("A2", "v2"),
            cell("B2", "3011AB"),
            cell("XFD2", "x")
        ),
    );
    let (s, sink) = run_file(XLSX_MAPPING, &p).unwrap();
    assert_eq!(
        (s.accepted, sink.rejects.len()),
        (1, 0),
        "{:?}",
        sink.rejects
    );
}

#[test]
fn xlsx_row_with_more_cells_than_columns_is_rejected() {
    // 20,000 cells all claiming A3: more than a row can hold
    let d = tmp();
    let p = d.path().join("x.xlsx");
    let mut rows = format!("{}{}<row r=\"3\">", header_row(), good_row(2));
    for _ in 0..20_000 {
        rows.push_str(&cell("A3", "v3"));
    }
    rows.push_str("</row>");
    rows.push_str(&good_row(4));
    simple_workbook(&p, &rows);
    let (_, sink) = quick(30, || run_file(XLSX_MAPPING, &p)).unwrap();
    assert_eq!(sink.rows, vec![2, 4]);
    assert_eq!(sink.rejects.len(), 1);
    assert_eq!(sink.rejects[0].row, 3);
    assert!(
        sink.rejects[0].message.contains("more than 16384 cells"),
        "{}",
        sink.rejects[0].message
    );
}

#[test]
fn xlsx_row_beyond_excel_maximum_stops_reading_with_an_error() {
    let d = tmp();
    let p = d.path().join("x.xlsx");
    let far = good_row(1_048_577);
    simple_workbook(&p, &format!("{}{}{far}", header_row(), good_row(2)));
    let (_, sink) = run_file(XLSX_MAPPING, &p).unwrap();
    assert_eq!(sink.rows, vec![2]);
    assert_eq!(sink.rejects.len(), 1, "{:?}", sink.rejects);
    assert_eq!(sink.rejects[0].row, 1_048_577);
    assert!(
        sink.rejects[0].message.contains("1048576"),
        "{}",
        sink.rejects[0].message
    );
}

#[test]
fn xlsx_cell_longer_than_excel_allows_rejects_its_row() {
    let d = tmp();
    let p = d.path().join("x.xlsx");
    let long = "3".repeat(40_000);
    simple_workbook(
        &p,
        &format!(
            r#"{}{}<row r="3">{}{}</row>{}"#,
            header_row(),
            good_row(2),
            cell("A3", "v3"),
            cell("B3", &long),
            good_row(4)
        ),
    );
    let (_, sink) = run_file(XLSX_MAPPING, &p).unwrap();
    assert_eq!(sink.rows, vec![2, 4]);
    let r = &sink.rejects[0];
    assert_eq!((r.row, r.column.as_deref()), (3, Some("postcode")));
    assert!(
        r.message.contains("40000 characters") && r.message.contains("32767"),
        "{}",
        r.message
    );
}

#[test]
fn xlsx_zip_bomb_is_refused_before_unpacking() {
    // 32 MiB of one repeated row packs to about 64 KB (the reported bombs were 3 MB unpacking to
    // 3 GB): refused by its packing ratio, in far less time than unpacking it would take
    let d = tmp();
    let p = d.path().join("bomb.xlsx");
    workbook_with(&p, zip::CompressionMethod::Deflated, Some(9), |w| {
        w.write_all(header_row().as_bytes()).unwrap();
        let chunk = r#"<c t="inlineStr"><is><t>x</t></is></c>"#.repeat(1 << 14);
        w.write_all(b"<row r=\"2\">").unwrap();
        for _ in 0..((32 << 20) / chunk.len()) {
            w.write_all(chunk.as_bytes()).unwrap();
        }
        w.write_all(b"</row>").unwrap();
    });
    let packed = std::fs::metadata(&p).unwrap().len();
    assert!(packed < 256 << 10, "{packed}");
    let err = quick(10, || run_file(XLSX_MAPPING, &p)).err().unwrap();
    assert!(
        err.contains("bomb.xlsx") && err.contains("xl/worksheets/sheet1.xml"),
        "{err}"
    );
    assert!(err.contains("zip bomb") && err.contains("100:1"), "{err}");
}

/// Overwrite the declared unpacked size of `entry` in the central directory and local header.
fn patch_size(path: &std::path::Path, entry: &str, size: u32) {
    let mut b = std::fs::read(path).unwrap();
    let mut i = 0;
    let mut patched = 0;
    while i + 46 < b.len() {
        let sig = &b[i..i + 4];
        if sig == b"PK\x01\x02" {
            let n = u16::from_le_bytes([b[i + 28], b[i + 29]]) as usize;
            if &b[i + 46..i + 46 + n] == entry.as_bytes() {
                b[i + 24..i + 28].copy_from_slice(&size.to_le_bytes());
                patched += 1;
            }
        } else if sig == b"PK\x03\x04" {
            let n = u16::from_le_bytes([b[i + 26], b[i + 27]]) as usize;
            if &b[i + 30..i + 30 + n] == entry.as_bytes() {
                b[i + 22..i + 26].copy_from_slice(&size.to_le_bytes());
                patched += 1;
            }
        }
        i += 1;
    }
    assert_eq!(patched, 2, "{entry}");
    std::fs::write(path, b).unwrap();
}

fn shared_strings(n: usize) -> Writes {
    Box::new(move |w: &mut dyn Write| {
        w.write_all(br#"<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">"#)
            .unwrap();
        w.write_all(
            b"<si><t>nr</t></si><si><t>postcode</t></si><si><t>v2</t></si><si><t>3011AB</t></si>",
        )
        .unwrap();
        let chunk = "<si/>".repeat(4096);
        for _ in 0..n / 4096 {
            w.write_all(chunk.as_bytes()).unwrap();
        }
        w.write_all(b"</sst>").unwrap();
    })
}

fn shared_rows(w: &mut dyn Write) {
    w.write_all(br#"<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row><row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2" t="s"><v>3</v></c></row>"#).unwrap();
}

#[test]
fn xlsx_shared_strings_are_read() {
    // the control for the two tests below: the same workbook with few shared strings works
    let d = tmp();
    let p = d.path().join("x.xlsx");
    workbook(&p, true, shared_rows, Some(shared_strings(4096)));
    let (s, sink) = run_file(XLSX_MAPPING, &p).unwrap();
    assert_eq!((s.accepted, sink.rows), (1, vec![2]));
}

#[test]
fn xlsx_too_many_shared_strings_is_a_file_error() {
    // 4,198,400 empty strings: 20 MB unpacked, over the count limit
    let d = tmp();
    let p = d.path().join("x.xlsx");
    workbook(&p, true, shared_rows, Some(shared_strings(4_198_400)));
    let err = quick(30, || run_file(XLSX_MAPPING, &p)).err().unwrap();
    assert!(
        err.contains("xl/sharedStrings.xml") && err.contains("more than 4194304 shared strings"),
        "{err}"
    );
}

#[test]
fn xlsx_shared_strings_declared_too_large_is_refused_unread() {
    let d = tmp();
    let p = d.path().join("x.xlsx");
    workbook(&p, true, shared_rows, Some(shared_strings(4096)));
    patch_size(&p, "xl/sharedStrings.xml", 300 << 20);
    let err = quick(5, || run_file(XLSX_MAPPING, &p)).err().unwrap();
    assert!(
        err.contains("xl/sharedStrings.xml")
            && err.contains("314572800 bytes")
            && err.contains("256 MiB"),
        "{err}"
    );
}

#[test]
fn xlsx_entry_larger_than_it_declares_is_not_unpacked_past_its_size() {
    // a zip entry that lies about its size small: the zip reader stops at the declared size
    let d = tmp();
    let p = d.path().join("x.xlsx");
    workbook(
        &p,
        false,
        |w| {
            w.write_all(header_row().as_bytes()).unwrap();
            for n in 2..2000 {
                w.write_all(good_row(n).as_bytes()).unwrap();
            }
        },
        None,
    );
    patch_size(&p, "xl/worksheets/sheet1.xml", 1000);
    let r = run_file(XLSX_MAPPING, &p);
    let text = match r {
        Err(e) => e,
        Ok((_, sink)) => format!("{:?}", sink.rejects),
    };
    assert!(text.contains("declared") || text.contains("XLSX"), "{text}");
}

#[test]
fn xlsx_xml_event_longer_than_the_limit_is_a_file_error() {
    // a 1.5 MiB text that does not pack well (so the ratio does not catch it)
    let d = tmp();
    let p = d.path().join("x.xlsx");
    let mut x: u32 = 12345;
    let text: String = (0..(3 << 19))
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            char::from(b'a' + ((x >> 16) % 26) as u8)
        })
        .collect();
    simple_workbook(
        &p,
        &format!(
            r#"{}<row r="2">{}{}</row>"#,
            header_row(),
            cell("A2", "v2"),
            cell("B2", &text)
        ),
    );
    let err = run_file(XLSX_MAPPING, &p).err().unwrap();
    assert!(
        err.contains("xl/worksheets/sheet1.xml") && err.contains("more than 1 MiB"),
        "{err}"
    );
}

#[test]
fn xlsx_doctype_is_refused() {
    let d = tmp();
    let p = d.path().join("x.xlsx");
    let mut rows = format!("{}{}", header_row(), good_row(2));
    rows.push_str(&" ".repeat(2 << 20)); // large enough to be scanned
    workbook(
        &p,
        true,
        |w| {
            w.write_all(b"<!DOCTYPE x [<!ENTITY a \"aaaa\">]>").unwrap();
            w.write_all(rows.as_bytes()).unwrap();
        },
        None,
    );
    let err = run_file(XLSX_MAPPING, &p).err().unwrap();
    assert!(err.contains("DOCTYPE"), "{err}");
}

#[test]
fn empty_and_truncated_xlsx_say_so() {
    let d = tmp();
    let p = d.path().join("empty.xlsx");
    std::fs::write(&p, b"").unwrap();
    let err = run_file(XLSX_MAPPING, &p).err().unwrap();
    assert!(
        err.contains("empty.xlsx") && err.contains("empty (0 bytes)"),
        "{err}"
    );

    let good = d.path().join("good.xlsx");
    simple_workbook(&good, &format!("{}{}", header_row(), good_row(2)));
    assert_eq!(run_file(XLSX_MAPPING, &good).unwrap().0.accepted, 1);
    let bytes = std::fs::read(&good).unwrap();
    let p = d.path().join("cut.xlsx");
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let err = run_file(XLSX_MAPPING, &p).err().unwrap();
    assert!(
        err.contains("cut.xlsx") && err.contains("truncated"),
        "{err}"
    );

    let p = d.path().join("text.xlsx");
    std::fs::write(&p, b"nr,postcode\nv1,3011AB\n").unwrap();
    let err = run_file(XLSX_MAPPING, &p).err().unwrap();
    assert!(
        err.contains("not an XLSX workbook") && err.contains("format = \"csv\""),
        "{err}"
    );

    let p = d.path().join("old.xls");
    std::fs::write(&p, [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0]).unwrap();
    let err = run_file(XLSX_MAPPING, &p).err().unwrap();
    assert!(err.contains(".xls"), "{err}");
}

#[test]
fn workbook_read_with_a_csv_mapping_is_named_a_workbook() {
    let d = tmp();
    let p = d.path().join("export.csv");
    simple_workbook(&p, &format!("{}{}", header_row(), good_row(2)));
    let err = run_file(CSV_MAPPING, &p).err().unwrap();
    assert!(err.contains("export.csv"), "{err}");
    assert!(
        err.contains("this file is an Excel workbook") && err.contains("format = \"xlsx\""),
        "{err}"
    );
    let p = d.path().join("old.csv");
    std::fs::write(&p, [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0]).unwrap();
    let err = run_file(CSV_MAPPING, &p).err().unwrap();
    assert!(err.contains("Excel 97-2003"), "{err}");
}

#[test]
fn xlsx_header_row_out_of_range_is_named() {
    let d = tmp();
    let p = d.path().join("x.xlsx");
    simple_workbook(&p, &format!("{}{}", header_row(), good_row(2)));
    let m = XLSX_MAPPING.replace(
        "format = \"xlsx\"",
        "format = \"xlsx\"\nheader_row = 5000000000",
    );
    let err = run_file(&m, &p).err().unwrap();
    assert!(err.contains("header_row 5000000000"), "{err}");
}

/// Inputs the fuzzers found (fuzz/, FUZZING.md), each through the mapping its target uses.
#[test]
fn fuzz_regressions_xlsx() {
    let ex = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/translate");
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz");
    let mapping_path = ex.join("sonar/mapping.toml");
    let text = std::fs::read_to_string(&mapping_path).unwrap();
    const FOUND: &[&str] = &["xlsx-calamine-ref-overflow.xlsx"];
    for name in FOUND {
        let m = translate::mapping::Mapping::parse(&text, &mapping_path).unwrap();
        let mut t = translate::Translator::new(m, SECRET, vum::Validator::with_today("2026-11-22"));
        let mut sink = Collect::default();
        let outcome = match t.run(&data.join(name), &mut sink) {
            Ok(s) => format!("{s:?} {:?}", sink.rejects),
            Err(e) => e.to_string(),
        };
        // the reader thread did not panic (it would say so) and did not stop without a word
        assert!(
            !outcome.contains("internal error") && !outcome.contains("reader stopped"),
            "{name}: {outcome}"
        );
    }
}

/// Found by the `mapping` fuzz target: a target with a stray ']' after '[]' (`rijbewijs[]]`), or a
/// multi-byte character after it, panics in `mapping::parse_target` (mapping.rs:499, `&rest[1..end]`
/// with `end` 0 or inside a character) instead of being a MappingError; parse_target now checks
/// that what follows a ']' starts with '['.
#[test]
fn fuzz_regressions_mapping() {
    for t in [
        "a[]]",
        "a[]]]",
        "a[]é]",
        "arbeidsmarktkwalificatie.rijbewijs[]].codeSoortRijbewijs",
    ] {
        assert!(translate::mapping::parse_target(t).is_err(), "{t}");
    }
    let at = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/translate/sonar/mapping.toml");
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/fuzz/mapping-stray-bracket.toml"),
    )
    .unwrap();
    assert!(translate::mapping::Mapping::parse(&text, &at).is_err());
}
