//! The worked examples in examples/translate translate to valid VUM with the expected counts,
//! byte-identically on every run, and nothing personal leaks into the output.
use serde_json::Value;
use std::path::{Path, PathBuf};
use translate::{mapping::Mapping, Reject, Sink, Summary, Translator};

const SECRET: &[u8] = b"example-node-secret-0123456789";

#[derive(Default)]
struct Collect {
    out: Vec<u8>,
    docs: Vec<Value>,
    rejects: Vec<Reject>,
    originals: Vec<Vec<(String, String)>>,
}

impl Sink for Collect {
    fn accepted(&mut self, _row: u64, _id: &str, doc: &Value) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.out, doc)?;
        self.out.push(b'\n');
        self.docs.push(doc.clone());
        Ok(())
    }
    fn rejected(
        &mut self,
        rejects: &[Reject],
        original: &[(String, String)],
    ) -> std::io::Result<()> {
        self.rejects.extend_from_slice(rejects);
        self.originals.push(original.to_vec());
        Ok(())
    }
}

fn example(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/translate")
        .join(dir)
}

fn run(dir: &str, input: &str) -> (Summary, Collect) {
    let mapping = Mapping::load(&example(dir).join("mapping.toml")).unwrap();
    let mut t = Translator::new(mapping, SECRET, vum::Validator::with_today("2026-11-22"));
    let mut sink = Collect::default();
    let s = t.run(&example(dir).join(input), &mut sink).unwrap();
    (s, sink)
}

fn check(dir: &str, input: &str, accepted: u64, filtered: u64, rejected: &[&str]) -> Collect {
    let (s, sink) = run(dir, input);
    assert_eq!(
        (s.accepted, s.filtered, s.rejected),
        (accepted, filtered, rejected.len() as u64),
        "{dir}: {s:#?}\n{:#?}",
        sink.rejects
    );
    let rules: Vec<&str> = sink.rejects.iter().map(|r| r.rule.as_str()).collect();
    assert_eq!(rules, rejected, "{dir}");
    assert_eq!(s.read, accepted + filtered + rejected.len() as u64);
    // every accepted document is valid VUM
    let kind = Mapping::load(&example(dir).join("mapping.toml"))
        .unwrap()
        .kind;
    for d in &sink.docs {
        let r = vum::Validator::with_today("2026-11-22").validate_value(kind, d);
        assert!(r.is_valid(), "{dir}: {:?}", r.findings);
    }
    // a second run gives byte-identical output
    let (_, again) = run(dir, input);
    assert_eq!(sink.out, again.out, "{dir}: output differs between runs");
    sink
}

/// Values that must never appear in any output: BSNs, names, street names, and (without contact
/// consent) phone numbers and e-mail addresses, read straight from the source file.
fn assert_no_leak(out: &[u8], forbidden: &[String], what: &str) {
    let text = String::from_utf8_lossy(out);
    for f in forbidden.iter().filter(|f| f.len() > 3) {
        assert!(!text.contains(f.as_str()), "{what}: output contains '{f}'");
    }
}

fn xlsx_column(path: &Path, name: &str) -> Vec<String> {
    use calamine::{open_workbook, Data, Reader, Xlsx};
    let mut wb: Xlsx<_> = open_workbook(path).unwrap();
    let range = wb.worksheet_range("Export").unwrap();
    let mut rows = range.rows();
    let header = rows.next().unwrap();
    let i = header.iter().position(|h| *h == name).unwrap();
    rows.map(|r| match &r[i] {
        Data::Float(f) => format!("{}", *f as i64),
        d => d.to_string(),
    })
    .collect()
}

#[test]
fn sonar_xlsx_export() {
    let sink = check(
        "sonar",
        "sonar-export.xlsx",
        18,
        4,
        &["translate/onbekende-waarde", "translate/bsn-elfproef"],
    );
    let path = example("sonar").join("sonar-export.xlsx");
    let mut forbidden = xlsx_column(&path, "BSN");
    forbidden.extend(xlsx_column(&path, "Volledige Naam"));
    forbidden.extend(xlsx_column(&path, "Medewerker Naam"));
    forbidden.extend(xlsx_column(&path, "ID_WZ")); // the local id never leaves: only its keyed hash
    assert_no_leak(&sink.out, &forbidden, "sonar output");
    // the rejects file shows mapped columns, never the BSN or contact details
    let originals = serde_json::to_vec(
        &sink
            .originals
            .iter()
            .map(|o| o.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let originals = String::from_utf8(originals).unwrap();
    assert!(
        !originals.contains("\"BSN\"")
            && !originals.contains("E-mailadres")
            && !originals.contains("Volledige Naam"),
        "{originals}"
    );
    // contact details only where consent says "Ja": row 11 says "Ja, geen contact"
    let phones = xlsx_column(&path, "Telefoonnummer");
    let consent = xlsx_column(&path, "Toestemming");
    let text = String::from_utf8_lossy(&sink.out);
    for (p, c) in phones.iter().zip(&consent) {
        if c != "Ja" {
            assert!(
                !text.contains(p.as_str()),
                "phone {p} written without contact consent ({c})"
            );
        }
    }
    assert!(
        sink.docs
            .iter()
            .filter(|d| d.get("telefoonnummer").is_some())
            .count()
            == 17,
        "17 accepted rows with full consent carry a phone number"
    );
}

#[test]
fn windows_1252_semicolon_csv() {
    let sink = check(
        "csv-cp1252",
        "klanten.csv",
        10,
        3,
        &["privacy/vrije-tekst", "translate/datum"],
    );
    let raw = std::fs::read(example("csv-cp1252").join("klanten.csv")).unwrap();
    let text = encoding_rs::WINDOWS_1252.decode(&raw).0.into_owned();
    let mut forbidden = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(';').collect();
        forbidden.push(f[1].to_string()); // bsn
        forbidden.push(f[10].to_string()); // naam
    }
    assert_no_leak(&sink.out, &forbidden, "csv output");
    // Windows-1252 characters arrive as the right Unicode characters
    let out = String::from_utf8(sink.out).unwrap();
    assert!(out.contains("café") || out.contains("’s avonds"), "{out}");
}

#[test]
fn municipal_xml_export_with_namespaces() {
    let sink = check("xml-clienten", "clienten.xml", 9, 3, &[]);
    let xml = std::fs::read_to_string(example("xml-clienten").join("clienten.xml")).unwrap();
    let re = regex::Regex::new(r"<gw:(?:bsn|naam|straat)>([^<]+)<").unwrap();
    let forbidden: Vec<String> = re.captures_iter(&xml).map(|c| c[1].to_string()).collect();
    assert!(forbidden.len() > 20);
    assert_no_leak(&sink.out, &forbidden, "xml output");
    // attributes, repeated elements and entities come through
    let first = &sink.docs[0];
    assert!(first["werktijden"]["aantalWerkurenPerWeekMinimaal"].is_i64());
    assert_eq!(
        first["persoonlijkePresentatie"],
        "Betrouwbaar & punctueel; werkt graag in teamverband."
    );
    assert!(sink
        .docs
        .iter()
        .any(|d| d["arbeidsmarktkwalificatie"]["rijbewijs"]
            .as_array()
            .is_some_and(|a| a.len() == 2)));
}

#[test]
fn vacancy_feed_xml() {
    let sink = check("xml-vacatures", "vacaturefeed.xml", 10, 0, &[]);
    assert!(sink.docs.iter().all(|d| d["adres"]["postcode"].is_string()
        && d["idVacature"].as_str().is_some_and(|s| s.len() == 32)));
    assert!(sink
        .docs
        .iter()
        .any(|d| d["rijbewijs"][0]["codeSoortRijbewijs"] == "C"));
}

#[test]
fn ids_are_keyed_hashes_stable_across_runs_and_secrets_differ() {
    let mapping = Mapping::load(&example("xml-vacatures").join("mapping.toml")).unwrap();
    let a = Translator::new(mapping.clone(), SECRET, vum::Validator::new());
    let b = Translator::new(
        mapping,
        b"another-node-secret-987654321",
        vum::Validator::new(),
    );
    assert_eq!(a.vum_id("V4001"), a.vum_id("V4001"));
    assert_ne!(a.vum_id("V4001"), b.vum_id("V4001"));
    assert_ne!(a.vum_id("V4001"), a.vum_id("V4002"));
    assert!(!a.vum_id("V4001").contains("4001"));
}
