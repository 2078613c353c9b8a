//! What a real export needs: null values, a constant consent, case-blind value maps, the contact
//! indicator derived from the document, messages that quote the cell as it was, BSNs that never
//! leak, and the same output on any number of threads.
use serde_json::Value;
use std::path::Path;
use translate::{mapping::Mapping, Reject, Sink, Summary, TranslateError, Translator};

const SECRET: &[u8] = b"ergonomics-secret-0123456789";

#[derive(Default, Debug, PartialEq)]
struct Collect {
    docs: Vec<(u64, String, Value)>,
    rejects: Vec<Reject>,
    originals: Vec<Vec<(String, String)>>,
    filtered: Vec<(u64, Option<String>)>,
}

impl Sink for Collect {
    fn accepted(&mut self, row: u64, id: &str, doc: &Value) -> std::io::Result<()> {
        self.docs.push((row, id.into(), doc.clone()));
        Ok(())
    }
    fn rejected(&mut self, r: &[Reject], o: &[(String, String)]) -> std::io::Result<()> {
        self.rejects.extend_from_slice(r);
        self.originals.push(o.to_vec());
        Ok(())
    }
    fn filtered(&mut self, row: u64, id: Option<&str>, _c: bool) -> std::io::Result<()> {
        self.filtered.push((row, id.map(str::to_string)));
        Ok(())
    }
}

fn try_run(
    mapping: &str,
    name: &str,
    content: &[u8],
    threads: usize,
) -> Result<(Summary, Collect), TranslateError> {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join(name);
    std::fs::write(&input, content).unwrap();
    let mapping = Mapping::parse(mapping, &dir.path().join("m.toml")).unwrap();
    let mut t = Translator::new(mapping, SECRET, vum::Validator::with_today("2026-11-22"))
        .with_threads(threads);
    let mut sink = Collect::default();
    let s = t.run(&input, &mut sink)?;
    Ok((s, sink))
}

fn run(mapping: &str, content: &str) -> (Summary, Collect) {
    try_run(mapping, "x.csv", content.as_bytes(), 1).unwrap()
}

const BASE: &str = r#"
kind = "werkzoekende"
[source]
format = "csv"
delimiter = ";"
[identity]
column = "id"
[fields."mobiliteit.bemiddelingspostcode"]
column = "pc"
"#;

#[test]
fn null_values_mean_empty_for_the_source_and_per_field() {
    let m = format!(
        "null_values = [\"NNB\", \"-\"]\n{BASE}[fields.\"werktijden.aantalWerkurenPerWeekMaximaal\"]\ncolumn = \"uren\"\nnull_values = [\"Onbekend\"]\n"
    );
    let (s, sink) = run(
        &m,
        "id;pc;uren\nNNB;3011AB;32\nk2;3011AB;onbekend\nk3;-;36\nk4;3011AB;-\n",
    );
    // row 2: an id of "NNB" is no id; row 4: "-" as postcode is absent (not required, so accepted)
    assert_eq!(s.rejected, 1, "{:?}", sink.rejects);
    assert_eq!(sink.rejects[0].rule, translate::ID_MISSING);
    assert_eq!(sink.rejects[0].row, 2);
    let by_row: Vec<(u64, &Value)> = sink.docs.iter().map(|(r, _, d)| (*r, d)).collect();
    assert_eq!(by_row.len(), 3);
    assert!(
        by_row[0].1.get("werktijden").is_none(),
        "'onbekend' is a null value of uren"
    );
    assert!(by_row[1].1.get("mobiliteit").is_none());
    assert!(by_row[2].1.get("werktijden").is_none());
}

#[test]
fn a_constant_consent_shares_every_record_and_contact_only_when_it_says_so() {
    let with = |contact: &str| {
        format!("{BASE}[consent]\nvalue = true\ncontact = {contact}\n[fields.\"emailadres[]\"]\ncolumn = \"mail\"\n")
    };
    let rows = "id;pc;mail\nk1;3011AB;a@example.nl\n";
    let (_, sink) = run(&with("true"), rows);
    assert_eq!(sink.docs[0].2["emailadres"][0], "a@example.nl");
    assert_eq!(sink.docs[0].2["indicatieBeschikbaarheidContactgegevens"], 1);
    let e = Mapping::parse(&with("false"), Path::new("m.toml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("contact details need a [consent] rule"), "{e}");
    let e = Mapping::parse(
        &format!("{BASE}[consent]\nvalue = false\n"),
        Path::new("m.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("would share nothing"), "{e}");
}

#[test]
fn the_contact_indicator_is_derived_from_the_written_document_unless_mapped() {
    let m = format!(
        "{BASE}[consent]\ncolumn = \"ok\"\nshare = [\"ja\", \"ja, geen contact\"]\ncontact = [\"ja\"]\n[fields.\"telefoonnummer[]\"]\ncolumn = \"tel\"\n"
    );
    let (_, sink) = run(
        &m,
        "id;pc;tel;ok\nk1;3011AB;010-1234567;ja\nk2;3011AB;010-1234567;ja, geen contact\nk3;3011AB;;ja\n",
    );
    let ind: Vec<&Value> = sink
        .docs
        .iter()
        .map(|(_, _, d)| &d["indicatieBeschikbaarheidContactgegevens"])
        .collect();
    assert_eq!(ind, [&Value::from(1), &Value::from(2), &Value::from(2)]);
    // mapped: left as the mapping says
    let mapped = format!("{m}[fields.\"indicatieBeschikbaarheidContactgegevens\"]\nvalue = 1\n");
    let (_, sink) = run(&mapped, "id;pc;tel;ok\nk1;3011AB;010-1234567;ja\n");
    assert_eq!(sink.docs[0].2["indicatieBeschikbaarheidContactgegevens"], 1);
    // vacatures have no such property
    let vac = "kind = \"vacature\"\n[source]\nformat = \"csv\"\ndelimiter = \";\"\n[identity]\ncolumn = \"id\"\n[fields.\"adres.postcode\"]\ncolumn = \"pc\"\n";
    let (_, sink) = run(vac, "id;pc\nv1;3011AB\n");
    assert!(sink.docs[0]
        .2
        .get("indicatieBeschikbaarheidContactgegevens")
        .is_none());
}

#[test]
fn ignore_case_value_maps_and_messages_quote_the_cell_as_it_was() {
    let m = format!(
        "{BASE}[fields.\"arbeidsmarktkwalificatie.opleiding[0].codeNiveauOpleiding\"]\ncolumn = \"niveau\"\nmap = {{ \"MBO\" = 4 }}\nignore_case = true\n[fields.\"arbeidsmarktkwalificatie.rijbewijs[].codeSoortRijbewijs\"]\ncolumn = \"rb\"\nuppercase = true\nremove = \".\"\nsplit = \",\"\nmap = {{ \"B\" = \"B\" }}\n"
    );
    let (_, sink) = run(
        &m,
        "id;pc;niveau;rb\nk1;3011AB;mbo;b\nk2;3011AB;Mbo;b.,x.e\n",
    );
    assert_eq!(sink.docs.len(), 1);
    assert_eq!(
        sink.docs[0].2["arbeidsmarktkwalificatie"]["opleiding"][0]["codeNiveauOpleiding"],
        4
    );
    let r = &sink.rejects[0];
    assert_eq!(r.rule, translate::UNMAPPED);
    assert!(r.message.contains("'XE' (cell 'b.,x.e')"), "{}", r.message);
}

#[test]
fn required_is_judged_after_remove() {
    let m = BASE.replace(
        "column = \"pc\"",
        "column = \"pc\"\nremove = \" -\"\nrequired = true",
    );
    let (_, sink) = run(&m, "id;pc\nk1; - \n");
    assert_eq!(sink.rejects[0].rule, translate::REQUIRED);
}

const BSNS: [&str; 4] = ["111222333", "123456782", "856885253", "828492001"];

fn bsn_rows() -> String {
    format!(
        "id;pc;note\n{};3011AB;32\n{};3011AB;{}\n{};3011AB;24\n{};30;16\n123456789;3011AB;8\n",
        BSNS[0], BSNS[1], BSNS[2], BSNS[2], BSNS[3]
    )
}

#[test]
fn an_identity_column_of_bsns_must_be_declared_and_is_never_echoed() {
    let m =
        format!("{BASE}[fields.\"werktijden.aantalWerkurenPerWeekMaximaal\"]\ncolumn = \"note\"\n");
    let err = try_run(&m, "x.csv", bsn_rows().as_bytes(), 1)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("holds BSNs") && err.contains("column_is_bsn = true"),
        "{err}"
    );
    for b in BSNS {
        assert!(!err.contains(b), "{err}");
    }
    let m = m.replace("column = \"id\"", "column = \"id\"\ncolumn_is_bsn = true");
    let (s, sink) = try_run(&m, "x.csv", bsn_rows().as_bytes(), 1).unwrap();
    assert_eq!((s.accepted, s.rejected), (2, 3), "{:?}", sink.rejects);
    let rules: Vec<&str> = sink.rejects.iter().map(|r| r.rule.as_str()).collect();
    assert!(rules.contains(&translate::BSN_ELFPROEF), "{rules:?}");
    // a BSN in another column, rejected by the validator, is not echoed either
    let everything = format!("{:?} {:?} {:?}", sink.rejects, sink.originals, s);
    for b in BSNS.iter().chain(&["123456789"]) {
        assert!(!everything.contains(b), "{b} leaked: {everything}");
    }
    // the id is the keyed hash, not the BSN
    assert!(sink
        .docs
        .iter()
        .all(|(_, id, _)| id.len() == 32 && !BSNS.contains(&id.as_str())));
}

/// A few thousand rows with rejects, duplicates and filtered rows spread over many chunks.
fn big_csv() -> String {
    let mut s = String::from("id;pc;uren;ok\n");
    for i in 0..3000 {
        let id = if i % 97 == 5 {
            format!("k{}", i - 3)
        } else {
            format!("k{i}")
        };
        let pc = if i % 41 == 7 {
            "30".to_string()
        } else {
            format!("{}AB", 1000 + i % 8000)
        };
        let ok = if i % 13 == 0 { "nee" } else { "ja" };
        s.push_str(&format!("{id};{pc};{};{ok}\n", 8 + i % 30));
    }
    s
}

#[test]
fn two_or_three_threads_give_the_same_outcomes_in_the_same_order_as_one() {
    let m = format!(
        "{BASE}[consent]\ncolumn = \"ok\"\nshare = [\"ja\"]\n[fields.\"werktijden.aantalWerkurenPerWeekMaximaal\"]\ncolumn = \"uren\"\n"
    );
    let text = big_csv();
    let (s1, one) = try_run(&m, "x.csv", text.as_bytes(), 1).unwrap();
    assert!(
        s1.rejected > 50 && s1.filtered > 200 && s1.accepted > 2000,
        "{s1:?}"
    );
    assert!(
        s1.rejected_by_rule.contains_key(translate::ID_DUPLICATE),
        "{s1:?}"
    );
    for threads in [2, 3] {
        let (s, many) = try_run(&m, "x.csv", text.as_bytes(), threads).unwrap();
        assert_eq!(
            (
                s.read,
                s.accepted,
                s.filtered,
                s.rejected,
                &s.rejected_by_rule
            ),
            (
                s1.read,
                s1.accepted,
                s1.filtered,
                s1.rejected,
                &s1.rejected_by_rule
            )
        );
        assert!(one == many, "{threads} threads: outcomes differ");
    }
}

#[test]
fn the_summary_counts_unmapped_values_per_field_most_frequent_first() {
    let m = format!(
        "{BASE}[fields.\"arbeidsmarktkwalificatie.opleiding[0].codeNiveauOpleiding\"]\ncolumn = \"niveau\"\nmap = {{ \"mbo\" = 4 }}\nunmapped = \"drop\"\n"
    );
    let (s, _) = run(
        &m,
        "id;pc;niveau\nk1;3011AB;mbo\nk2;3011AB;vmbo-t\nk3;3011AB;havo\nk4;3011AB;vmbo-t\nk5;3011AB;111222333\n",
    );
    let top = s.top_unmapped(10);
    assert_eq!(
        top,
        vec![(
            "arbeidsmarktkwalificatie.opleiding[0].codeNiveauOpleiding",
            vec![("vmbo-t", 2), ("havo", 1)]
        )],
        "a BSN-like value is never listed"
    );
}

#[test]
fn vum_documents_take_consent_from_a_field_which_is_not_kept() {
    let m = "kind = \"werkzoekende\"\n[source]\nformat = \"vum\"\n[consent]\ncolumn = \"/toestemming\"\nshare = [\"ja\"]\n";
    let docs = concat!(
        "{\"idWerkzoekende\": \"w1\", \"toestemming\": \"ja\", \"mobiliteit\": {\"bemiddelingspostcode\": \"3011AB\"}, \"emailadres\": [\"a@example.nl\"], \"indicatieBeschikbaarheidContactgegevens\": 1}\n",
        "{\"idWerkzoekende\": \"w2\", \"toestemming\": \"nee\", \"mobiliteit\": {\"bemiddelingspostcode\": \"3011AB\"}}\n",
        "{\"toestemming\": \"ja\", \"mobiliteit\": {\"bemiddelingspostcode\": \"3011AB\"}}\n",
    );
    let (s, sink) = try_run(m, "d.ndjson", docs.as_bytes(), 1).unwrap();
    assert_eq!((s.accepted, s.filtered, s.rejected), (1, 1, 1));
    let (_, id, doc) = &sink.docs[0];
    assert_eq!(id, "w1");
    assert!(doc.get("toestemming").is_none());
    // no contact consent: contact details removed, the indicator follows
    assert!(doc.get("emailadres").is_none());
    assert_eq!(doc["indicatieBeschikbaarheidContactgegevens"], 2);
    assert_eq!(s.contact_withheld, 1);
    assert_eq!(sink.filtered[0].1.as_deref(), Some("w2"));
    assert_eq!(sink.rejects[0].rule, translate::ID_MISSING);
}
