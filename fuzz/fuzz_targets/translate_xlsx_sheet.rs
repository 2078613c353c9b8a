//! The XLSX source with the fuzz input as the worksheet XML (and, after a NUL byte, the shared
//! strings XML), packed into a valid zip archive, so the fuzzer reaches the sheet reader instead of
//! stopping at zip checksums. Mapping: nr, postcode.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::io::Write;
use std::sync::OnceLock;

const MAPPING: &str = r#"
kind = "vacature"
[source]
format = "xlsx"
[identity]
column = "nr"
[fields."adres.postcode"]
column = "postcode"
[fields."arbeidsVoorwaarden.datumAanvangWerkzaamheden"]
column = "vanaf"
"#;

const WORKBOOK: &str = r#"<workbook xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheets><sheet name="Blad1" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
const RELS: &str = r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml" Id="rId1"/></Relationships>"#;
const WORKBOOK_RELS: &str = r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml" Id="rId1"/><Relationship Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml" Id="rId2"/></Relationships>"#;

fn pack(sheet: &[u8], shared: Option<&[u8]>) -> Option<Vec<u8>> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let o =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, text) in [
        ("_rels/.rels", RELS.as_bytes()),
        ("xl/workbook.xml", WORKBOOK.as_bytes()),
        ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS.as_bytes()),
        ("xl/worksheets/sheet1.xml", sheet),
    ] {
        z.start_file(name, o).ok()?;
        z.write_all(text).ok()?;
    }
    if let Some(s) = shared {
        z.start_file("xl/sharedStrings.xml", o).ok()?;
        z.write_all(s).ok()?;
    }
    Some(z.finish().ok()?.into_inner())
}

fuzz_target!(|data: &[u8]| {
    matchgate_fuzz::tolerate_calamine_overflow();
    static M: OnceLock<translate::mapping::Mapping> = OnceLock::new();
    let m = M.get_or_init(|| {
        matchgate_fuzz::mapping(
            MAPPING,
            &std::env::temp_dir().join("matchgate-fuzz-sheet.toml"),
        )
    });
    let (sheet, shared) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    if let Some(bytes) = pack(sheet, shared) {
        matchgate_fuzz::translate(m, &bytes, "xlsx");
    }
});
