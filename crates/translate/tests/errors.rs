//! Every error class gives a precise reject (row, column, rule) and the records around it still
//! come through.
use std::io::Write;
use std::path::Path;
use translate::{mapping::Mapping, Reject, Sink, Summary, Translator};

const SECRET: &[u8] = b"test-node-secret-0123456789abcdef";

#[derive(Default)]
struct Collect {
    ids: Vec<u64>,
    rejects: Vec<Reject>,
}
impl Sink for Collect {
    fn accepted(&mut self, row: u64, _id: &str, _doc: &serde_json::Value) -> std::io::Result<()> {
        self.ids.push(row);
        Ok(())
    }
    fn rejected(&mut self, r: &[Reject], _o: &[(String, String)]) -> std::io::Result<()> {
        self.rejects.extend_from_slice(r);
        Ok(())
    }
}

const CSV_MAPPING: &str = r#"
kind = "werkzoekende"
[source]
format = "csv"
delimiter = ";"
[identity]
column = "id"
[fields."mobiliteit.bemiddelingspostcode"]
column = "postcode"
required = true
[fields."werktijden.aantalWerkurenPerWeekMaximaal"]
column = "uren"
[fields."flexibiliteit.datumAanvangBeschikbaarVoorWerk"]
column = "vanaf"
date_format = "dd-mm-yyyy"
[fields."arbeidsmarktkwalificatie.opleiding[0].codeNiveauOpleiding"]
column = "niveau"
map = { "mbo" = 4, "hbo" = 5 }
"#;

fn run_with(mapping_text: &str, name: &str, content: &[u8]) -> Result<(Summary, Collect), String> {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join(name);
    std::fs::File::create(&input)
        .unwrap()
        .write_all(content)
        .unwrap();
    let mapping =
        Mapping::parse(mapping_text, &dir.path().join("m.toml")).map_err(|e| e.to_string())?;
    let mut t = Translator::new(mapping, SECRET, vum::Validator::with_today("2026-11-22"));
    let mut sink = Collect::default();
    let s = t.run(&input, &mut sink).map_err(|e| e.to_string())?;
    Ok((s, sink))
}

fn one_reject(sink: &Collect, row: u64, column: Option<&str>, rule: &str) {
    assert_eq!(sink.rejects.len(), 1, "{:#?}", sink.rejects);
    let r = &sink.rejects[0];
    assert_eq!(
        (r.row, r.column.as_deref(), r.rule.as_str()),
        (row, column, rule),
        "{r:?}"
    );
}

const GOOD1: &str = "a1;3011AB;32;01-02-2027;mbo\n";
const GOOD2: &str = "a3;1012AB;24,0;15-03-2027;hbo\n";
const HEADER: &str = "id;postcode;uren;vanaf;niveau\n";

fn csv(middle: &str) -> Vec<u8> {
    format!("{HEADER}{GOOD1}{middle}{GOOD2}").into_bytes()
}

#[test]
fn bad_encoding() {
    let mut bytes = format!("{HEADER}{GOOD1}").into_bytes();
    bytes.extend_from_slice(b"a2;3011AB;32;01-02-2027;h\xe9o\n");
    bytes.extend_from_slice(GOOD2.as_bytes());
    let (s, sink) = run_with(CSV_MAPPING, "x.csv", &bytes).unwrap();
    one_reject(&sink, 3, Some("niveau"), "translate/encoding");
    assert_eq!((s.accepted, s.rejected), (2, 1));
    assert!(sink.rejects[0].message.contains("Windows-1252"));
}

#[test]
fn utf8_bom_is_skipped() {
    let mut bytes = vec![0xEF, 0xBB, 0xBF];
    bytes.extend(csv(""));
    let (s, _) = run_with(CSV_MAPPING, "x.csv", &bytes).unwrap();
    assert_eq!(s.accepted, 2);
}

#[test]
fn missing_column_is_named_before_any_row() {
    let err = run_with(
        CSV_MAPPING,
        "x.csv",
        b"id;postcode;uren;niveau\na1;3011AB;32;mbo\n",
    )
    .err()
    .unwrap();
    assert!(
        err.contains("column 'vanaf' is not in the header (row 1)"),
        "{err}"
    );
    assert!(err.contains("'postcode'"), "{err}");
}

#[test]
fn unmapped_value() {
    let (s, sink) = run_with(CSV_MAPPING, "x.csv", &csv("a2;3011AB;32;01-02-2027;wo\n")).unwrap();
    one_reject(&sink, 3, Some("niveau"), "translate/onbekende-waarde");
    assert_eq!(s.accepted, 2);
}

#[test]
fn bad_date() {
    let (s, sink) = run_with(CSV_MAPPING, "x.csv", &csv("a2;3011AB;32;2027-13-01;mbo\n")).unwrap();
    one_reject(&sink, 3, Some("vanaf"), "translate/datum");
    assert_eq!(s.accepted, 2);
}

#[test]
fn not_a_whole_number() {
    let (s, sink) = run_with(
        CSV_MAPPING,
        "x.csv",
        &csv("a2;3011AB;32,5;01-02-2027;mbo\n"),
    )
    .unwrap();
    one_reject(&sink, 3, Some("uren"), "translate/geen-geheel-getal");
    assert_eq!(s.accepted, 2);
}

#[test]
fn invalid_result_is_rejected_whole_with_the_standard_rule_and_column() {
    // 120 hours is a number, but the standard allows at most 99: the record is not written half-valid
    let (s, sink) = run_with(CSV_MAPPING, "x.csv", &csv("a2;3011AB;120;01-02-2027;mbo\n")).unwrap();
    one_reject(&sink, 3, Some("uren"), "werkzoekenden#Integer2/maximum");
    assert_eq!(s.accepted, 2);
    let (_, sink) = run_with(CSV_MAPPING, "x.csv", &csv("a2;3011 A;32;01-02-2027;mbo\n")).unwrap();
    one_reject(&sink, 3, Some("postcode"), "werkzoekenden#Postcode/pattern");
}

#[test]
fn required_value_missing() {
    let (_, sink) = run_with(CSV_MAPPING, "x.csv", &csv("a2;;32;01-02-2027;mbo\n")).unwrap();
    one_reject(&sink, 3, Some("postcode"), "translate/verplicht");
}

#[test]
fn malformed_csv_row() {
    let (s, sink) = run_with(
        CSV_MAPPING,
        "x.csv",
        &csv("a2;3011AB;32;01-02-2027;mbo;extra\n"),
    )
    .unwrap();
    one_reject(&sink, 3, None, "translate/csv");
    assert!(sink.rejects[0]
        .message
        .contains("6 field(s), the header has 5"));
    assert_eq!(s.accepted, 2);
}

#[test]
fn duplicate_local_id_and_bsn() {
    let mapping = CSV_MAPPING.replace("column = \"id\"", "column = \"id\"\nbsn_column = \"bsn\"");
    let text = "id;bsn;postcode;uren;vanaf;niveau\n\
        a1;111222333;3011AB;32;01-02-2027;mbo\n\
        a1;123456782;3011AB;32;01-02-2027;mbo\n\
        a2;111222333;3011AB;32;01-02-2027;mbo\n\
        a3;123456789;3011AB;32;01-02-2027;mbo\n\
        a4;12345672;3011AB;32;01-02-2027;mbo\n";
    let (s, sink) = run_with(&mapping, "x.csv", text.as_bytes()).unwrap();
    let got: Vec<(u64, &str)> = sink
        .rejects
        .iter()
        .map(|r| (r.row, r.rule.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (3, "translate/id-dubbel"),
            (4, "translate/bsn-dubbel"),
            (5, "translate/bsn-elfproef")
        ]
    );
    assert_eq!(s.accepted, 2);
    // no reject message repeats a BSN
    assert!(sink
        .rejects
        .iter()
        .all(|r| !r.message.contains("1112") && !r.message.contains("12345")));
}

const XML_MAPPING: &str = r#"
kind = "vacature"
[source]
format = "xml"
record = "feed/v"
[identity]
column = "@id"
[fields."adres.postcode"]
column = "pc"
"#;

#[test]
fn malformed_xml_keeps_the_records_before_it() {
    let xml = b"<feed><v id=\"1\"><pc>3011AB</pc></v><v id=\"2\"><pc>1012AB</pc></v><v id=\"3\"><pc>3011AB</pcx></v><v id=\"4\"><pc>3011AB</pc></v></feed>";
    let (s, sink) = run_with(XML_MAPPING, "x.xml", xml).unwrap();
    assert_eq!(sink.ids, vec![1, 2]);
    one_reject(&sink, 3, None, "translate/xml");
    assert!(
        sink.rejects[0].message.contains("malformed XML at byte"),
        "{}",
        sink.rejects[0].message
    );
    assert_eq!(s.accepted, 2);
}

#[test]
fn xml_that_ends_early() {
    let (s, sink) = run_with(
        XML_MAPPING,
        "x.xml",
        b"<feed><v id=\"1\"><pc>3011AB</pc></v><v id=\"2\"><pc>30",
    )
    .unwrap();
    assert_eq!(s.accepted, 1);
    assert_eq!(sink.rejects[0].rule, "translate/xml");
}

const XLSX_MAPPING: &str = r#"
kind = "vacature"
[source]
format = "xlsx"
[identity]
column = "nr"
[fields."adres.postcode"]
column = "postcode"
"#;

#[test]
fn malformed_xlsx_is_a_clear_file_error() {
    let err = run_with(XLSX_MAPPING, "x.xlsx", b"PK\x03\x04 this is not a workbook")
        .err()
        .unwrap();
    assert!(err.contains("not a readable XLSX workbook"), "{err}");
}

#[test]
fn xlsx_error_cells_reject_their_row_only() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/error-cell.xlsx");
    let (s, sink) = run_with(XLSX_MAPPING, "x.xlsx", &std::fs::read(path).unwrap()).unwrap();
    one_reject(&sink, 3, Some("postcode"), "translate/xlsx");
    assert!(
        sink.rejects[0].message.contains("Excel error"),
        "{:?}",
        sink.rejects[0]
    );
    assert_eq!(s.accepted, 2);
}

#[test]
fn mapping_mistakes_are_named_when_loading() {
    let bad = |text: &str| {
        Mapping::parse(text, Path::new("m.toml"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let base = "kind = \"werkzoekende\"\n[source]\nformat = \"csv\"\n[identity]\ncolumn = \"id\"\n";
    let e = bad(&format!(
        "{base}[fields.\"mobiliteit.postcode\"]\ncolumn = \"pc\"\n"
    ));
    assert!(
        e.contains("'postcode' is not a property of Werkzoekende.mobiliteit")
            && e.contains("bemiddelingspostcode"),
        "{e}"
    );
    let e = bad(&format!(
        "{base}[fields.\"emailadres[]\"]\ncolumn = \"mail\"\n"
    ));
    assert!(e.contains("contact details need a [consent] rule"), "{e}");
    let e = bad(&format!(
        "{base}[fields.\"idWerkzoekende\"]\ncolumn = \"id\"\n"
    ));
    assert!(e.contains("derived from [identity]"), "{e}");
    let e = bad(&format!(
        "{base}[fields.\"bemiddelingsberoep.codeBeroepsnaam\"]\ncolumn = \"b\"\n"
    ));
    assert!(e.contains("is a list"), "{e}");
    let e = bad(&format!("{base}[fields.\"mobiliteit\"]\ncolumn = \"b\"\n"));
    assert!(e.contains("not a single value"), "{e}");
}

const JSON_MAPPING: &str = r#"
kind = "vacature"
[source]
format = "json"
record_path = "/data/vacatures"
[identity]
column = "/nr"
[fields."adres.postcode"]
column = "/locatie/postcode"
[fields."rijbewijs[].codeSoortRijbewijs"]
column = "/eisen/*/rijbewijs"
[fields."werktijden.aantalWerkurenPerWeekMaximaal"]
column = "/uren"
"#;

#[test]
fn json_records_at_a_path_with_wildcards() {
    let doc = br#"{"data": {"vacatures": [
        {"nr": 1, "locatie": {"postcode": "3011AB"}, "eisen": [{"rijbewijs": "B"}, {"rijbewijs": "C"}], "uren": 32},
        {"nr": 2, "locatie": {"postcode": "3011AB"}, "uren": "veel"},
        {"nr": 3, "locatie": {"postcode": "1012AB"}, "uren": 24.0}]}}"#;
    let (s, sink) = run_with(JSON_MAPPING, "x.json", doc).unwrap();
    assert_eq!(sink.ids, vec![1, 3]);
    one_reject(&sink, 2, Some("/uren"), "translate/geen-geheel-getal");
    assert_eq!(s.accepted, 2);
}

#[test]
fn ndjson_bad_line_rejected_others_kept() {
    let m = JSON_MAPPING.replace(
        "format = \"json\"\nrecord_path = \"/data/vacatures\"",
        "format = \"ndjson\"",
    );
    let text = b"{\"nr\": 1, \"locatie\": {\"postcode\": \"3011AB\"}}\n{\"nr\": 2, \"locatie\": \n{\"nr\": 3, \"locatie\": {\"postcode\": \"1012AB\"}}\n";
    let (s, sink) = run_with(&m, "x.ndjson", text).unwrap();
    assert_eq!(sink.ids, vec![1, 3]);
    one_reject(&sink, 2, None, "translate/json");
    assert_eq!(s.accepted, 2);
}
