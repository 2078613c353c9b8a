//! XML and JSON sources bound what one file can make them hold: nesting depth, the bytes of one
//! record, the length of one NDJSON line; a record over a bound is rejected and the next is read.
mod common;

fn run(mapping: &str, name: &str, content: &[u8]) -> common::Collect {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join(name);
    std::fs::write(&input, content).unwrap();
    common::run_file(mapping, &input).unwrap().1
}

const XML: &str = r#"
kind = "vacature"
[source]
format = "xml"
record = "feed/vacature"
[identity]
column = "@nr"
[fields."adres.postcode"]
column = "postcode"
"#;

#[test]
fn deep_nesting_ends_the_file_with_a_clear_error_and_keeps_the_records_before_it() {
    let mut xml = String::from(
        "<feed><vacature nr=\"1\"><postcode>3011AB</postcode></vacature><vacature nr=\"2\">",
    );
    xml.push_str(&"<a>".repeat(100_000));
    let sink = run(XML, "f.xml", xml.as_bytes());
    assert_eq!(sink.rows, vec![1]);
    assert_eq!(sink.rejects.len(), 1);
    assert!(
        sink.rejects[0].message.contains("nested deeper than 256"),
        "{:?}",
        sink.rejects
    );
}

#[test]
fn a_record_with_too_much_text_is_rejected_and_the_next_one_read() {
    let big = "x".repeat(17 << 20);
    let xml = format!(
        "<feed><vacature nr=\"1\"><postcode>3011AB</postcode><omschrijving>{big}</omschrijving></vacature><vacature nr=\"2\"><postcode>3011AB</postcode></vacature></feed>"
    );
    let sink = run(XML, "f.xml", xml.as_bytes());
    assert_eq!(sink.rows, vec![2]);
    assert_eq!(sink.rejects[0].rule, "translate/te-groot");
    assert_eq!(sink.rejects[0].row, 1);
}

#[test]
fn an_overlong_ndjson_line_is_rejected_alone() {
    let m = "kind = \"vacature\"\n[source]\nformat = \"ndjson\"\n[identity]\ncolumn = \"/nr\"\n[fields.\"adres.postcode\"]\ncolumn = \"/pc\"\n";
    let text = format!(
        "{{\"nr\": 1, \"pc\": \"3011AB\"}}\n{{\"nr\": 2, \"pc\": \"{}\"}}\n{{\"nr\": 3, \"pc\": \"3011AB\"}}\n",
        "x".repeat(17 << 20)
    );
    let sink = run(m, "f.ndjson", text.as_bytes());
    assert_eq!(sink.rows, vec![1, 3]);
    assert_eq!(sink.rejects[0].rule, "translate/te-groot");
    assert_eq!(sink.rejects[0].row, 2);
}
