//! `matchgate mapping init FILE`: the starting mapping parses as TOML and loads with today's mapping
//! loader, guesses the obvious targets, prefills code-list maps, never prints personal data, and for
//! the Sonar-style workbook, with its TODOs decided, gives the same documents as the hand-written mapping.
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use translate::{mapping::Mapping, Reject, Sink, Translator};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn example(p: &str) -> PathBuf {
    root().join("examples/translate").join(p)
}

fn init(file: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_matchgate"))
        .args(["mapping", "init"])
        .arg(file)
        .args(extra)
        .output()
        .unwrap()
}

fn init_ok(file: &Path, extra: &[&str]) -> String {
    let out = init(file, extra);
    assert!(
        out.status.success(),
        "{}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn toml_of(text: &str) -> toml::Table {
    text.parse::<toml::Table>()
        .unwrap_or_else(|e| panic!("not TOML: {e}\n{text}"))
}

fn field<'a>(t: &'a toml::Table, target: &str) -> &'a toml::Table {
    t["fields"]
        .get(target)
        .and_then(|f| f.as_table())
        .unwrap_or_else(|| {
            panic!(
                "no field {target}: {:?}",
                t["fields"].as_table().map(|f| f.keys().collect::<Vec<_>>())
            )
        })
}

/// The map of a field as (key, value as text), sorted.
fn map_of(t: &toml::Table, target: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = field(t, target)["map"]
        .as_table()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.to_string().trim_matches('"').to_string()))
        .collect();
    v.sort();
    v
}

/// Every source column an active field reads.
fn mapped_columns(t: &toml::Table) -> Vec<String> {
    t["fields"]
        .as_table()
        .unwrap()
        .values()
        .filter_map(|f| f.get("column").and_then(|c| c.as_str()).map(str::to_string))
        .collect()
}

/// Loads with today's loader; a mapping file placed in examples/lookups finds the shipped lookup.
fn loads(text: &str) -> Mapping {
    Mapping::parse(text, &root().join("examples/lookups/init.toml"))
        .unwrap_or_else(|e| panic!("does not load: {e}\n{text}"))
}

fn xlsx_column(path: &Path, name: &str) -> Vec<String> {
    use calamine::{open_workbook, Data, Reader, Xlsx};
    let mut wb: Xlsx<_> = open_workbook(path).unwrap();
    let range = wb.worksheet_range("Export").unwrap();
    let mut rows = range.rows();
    let head = rows.next().unwrap();
    let i = head
        .iter()
        .position(|c| matches!(c, Data::String(s) if s == name))
        .unwrap();
    rows.map(|r| r[i].to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

#[test]
fn mapping_init_sonar_guesses_targets_and_hides_personal_data() {
    let xlsx = example("sonar/sonar-export.xlsx");
    let out = init_ok(&xlsx, &[]);
    let t = toml_of(&out);
    assert_eq!(t["kind"].as_str(), Some("werkzoekende"));
    assert_eq!(t["source"]["format"].as_str(), Some("xlsx"));
    assert_eq!(t["source"]["sheet"].as_str(), Some("Export"));
    assert_eq!(t["identity"]["column"].as_str(), Some("ID_WZ"));
    assert_eq!(t["identity"]["bsn_column"].as_str(), Some("BSN"));
    assert_eq!(t["consent"]["column"].as_str(), Some("Toestemming"));
    let col = |target: &str| field(&t, target)["column"].as_str().unwrap().to_string();
    assert_eq!(
        col("werktijden.aantalWerkurenPerWeekMaximaal"),
        "Beschikbare uren/wk"
    );
    assert_eq!(col("mobiliteit.bemiddelingspostcode"), "Postcode");
    assert_eq!(
        field(&t, "mobiliteit.bemiddelingspostcode")["remove"].as_str(),
        Some(" ")
    );
    assert_eq!(
        col("arbeidsmarktkwalificatie.rijbewijs[].codeSoortRijbewijs"),
        "Rijbewijs"
    );
    assert_eq!(
        field(
            &t,
            "arbeidsmarktkwalificatie.rijbewijs[].codeSoortRijbewijs"
        )["split"]
            .as_str(),
        Some(",")
    );
    assert_eq!(
        col("arbeidsmarktkwalificatie.opleiding[0].codeNiveauOpleiding"),
        "Opleidingsniveau"
    );
    assert_eq!(
        col("bemiddelingsberoep[].codeBeroepsnaam"),
        "Bemiddelingsberoep"
    );
    assert_eq!(
        field(&t, "bemiddelingsberoep[].codeBeroepsnaam")["lookup"].as_str(),
        Some("beroepen")
    );
    assert_eq!(
        col("arbeidsmarktkwalificatie.taalbeheersing[0].codeNiveauTaalbeheersingMondeling"),
        "Mondeling Nederlands"
    );
    assert_eq!(
        field(&t, "arbeidsmarktkwalificatie.taalbeheersing[0].codeTaal")["value"].as_str(),
        Some("nld")
    );
    assert_eq!(col("vervoermiddel[].codeVervoermiddel"), "Vervoer");
    assert_eq!(col("indicatieLdrRegistratie"), "Banenafspraak");
    // prefilled from the standard's code lists ('HBO' is the first part of the label 'HBO/Bachelor')
    let s = |v: &[(&str, &str)]| {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        map_of(
            &t,
            "arbeidsmarktkwalificatie.opleiding[0].codeNiveauOpleiding"
        ),
        s(&[
            ("Basisonderwijs", "1"),
            ("HAVO/VWO", "3"),
            ("HBO", "5"),
            ("MBO", "4"),
            ("VMBO", "2")
        ])
    );
    // the values spell the labels exactly: no ignore_case
    assert!(
        field(
            &t,
            "arbeidsmarktkwalificatie.opleiding[0].codeNiveauOpleiding"
        )
        .get("ignore_case")
        .is_none(),
        "{out}"
    );
    assert!(t.get("null_values").is_none(), "{out}");
    assert_eq!(
        map_of(&t, "indicatieLdrRegistratie"),
        s(&[("Ja", "1"), ("Nee", "2")])
    );
    // 'OV' is no label of the list: a TODO, not a guess
    assert_eq!(
        map_of(&t, "vervoermiddel[].codeVervoermiddel"),
        s(&[("Auto", "1"), ("Fiets", "3")])
    );
    assert!(out.contains("# \"OV\" = ?   # TODO"), "{out}");
    // personal data is never mapped, and never printed
    let cols = mapped_columns(&t);
    for never in [
        "BSN",
        "Volledige Naam",
        "Straatnaam",
        "Huisnummer",
        "Plaats",
        "Gemeente",
        "Medewerker Naam",
        "Telefoonnummer",
        "E-mailadres",
    ] {
        assert!(!cols.iter().any(|c| c == never), "{never} is mapped");
    }
    for line in [
        "never mapped: a person's name",
        "\"BSN\": 24 value(s) in 24 record(s), 24 distinct: BSN, never mapped",
    ] {
        assert!(out.contains(line), "{line}\n{out}");
    }
    for column in [
        "BSN",
        "Volledige Naam",
        "Medewerker Naam",
        "Straatnaam",
        "Plaats",
        "Telefoonnummer",
        "E-mailadres",
        "ID_WZ",
        "Postcode",
    ] {
        let values = xlsx_column(&xlsx, column);
        assert!(values.len() >= 20, "{column}");
        for v in values {
            assert!(!out.contains(&v), "{column} value {v:?} is in the output");
        }
    }
    // loads with today's loader as it is
    let m = loads(&out);
    assert!(m.fields.len() >= 10);
}

#[test]
fn mapping_init_cp1252_csv() {
    let csv = example("csv-cp1252/klanten.csv");
    let out = init_ok(&csv, &[]);
    let t = toml_of(&out);
    assert_eq!(t["source"]["format"].as_str(), Some("csv"));
    assert_eq!(t["source"]["delimiter"].as_str(), Some(";"));
    assert_eq!(t["source"]["encoding"].as_str(), Some("windows-1252"));
    assert_eq!(t["identity"]["column"].as_str(), Some("klantnummer"));
    assert_eq!(t["identity"]["bsn_column"].as_str(), Some("bsn"));
    assert_eq!(t["consent"]["column"].as_str(), Some("toestemming_delen"));
    assert_eq!(t["consent"]["share"].as_array().unwrap().len(), 1);
    let s = |v: &[(&str, &str)]| {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        map_of(
            &t,
            "arbeidsmarktkwalificatie.opleiding[0].codeNiveauOpleiding"
        ),
        s(&[("hbo", "5"), ("mbo", "4"), ("vmbo", "2")])
    );
    // lower case against the labels' upper case: compared without regard to case
    assert_eq!(
        field(
            &t,
            "arbeidsmarktkwalificatie.opleiding[0].codeNiveauOpleiding"
        )["ignore_case"]
            .as_bool(),
        Some(true)
    );
    let rb = field(
        &t,
        "arbeidsmarktkwalificatie.rijbewijs[].codeSoortRijbewijs",
    );
    assert_eq!(rb["column"].as_str(), Some("rijbewijzen"));
    assert_eq!(rb["split"].as_str(), Some("/"));
    assert_eq!(
        field(&t, "flexibiliteit.datumAanvangBeschikbaarVoorWerk")["date_format"].as_str(),
        Some("dd-mm-yyyy")
    );
    assert_eq!(
        field(&t, "mobiliteit.bemiddelingspostcode")["column"].as_str(),
        Some("postcode")
    );
    // Windows-1252 decoded: the right single quote of "’s avonds" is there
    assert!(out.contains("’s avonds"), "{out}");
    // the free-text column holds an e-mail address in one row: hidden
    assert!(!out.contains("jan.jansen@example.nl"));
    assert!(out.contains("(hidden: looks like an e-mail address)"));
    // names and BSNs never printed
    let bytes = std::fs::read(&csv).unwrap();
    let (text, _, _) = encoding_rs::WINDOWS_1252.decode(&bytes);
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(text.as_bytes());
    let mut n = 0;
    for r in rdr.records() {
        let r = r.unwrap();
        // klantnummer, bsn, postcode, naam
        for i in [0, 1, 2, 10] {
            let v = r.get(i).unwrap();
            assert!(v.len() >= 6 && !out.contains(v), "{v:?} is in the output");
        }
        n += 1;
    }
    assert_eq!(n, 15);
    assert!(!mapped_columns(&t).iter().any(|c| c == "naam" || c == "bsn"));
    loads(&out);
}

#[test]
fn mapping_init_xml_finds_the_record_element() {
    let xml = example("xml-clienten/clienten.xml");
    let out = init_ok(&xml, &[]);
    let t = toml_of(&out);
    assert_eq!(t["source"]["format"].as_str(), Some("xml"));
    assert_eq!(
        t["source"]["record"].as_str(),
        Some("export/clienten/client")
    );
    assert_eq!(t["identity"]["column"].as_str(), Some("@id"));
    assert_eq!(t["identity"]["bsn_column"].as_str(), Some("bsn"));
    assert_eq!(t["consent"]["column"].as_str(), Some("toestemming"));
    let col = |target: &str| field(&t, target)["column"].as_str().unwrap().to_string();
    assert_eq!(col("mobiliteit.bemiddelingspostcode"), "adres/postcode");
    assert_eq!(
        col("werktijden.aantalWerkurenPerWeekMinimaal"),
        "beschikbaarheid/@uren-min"
    );
    assert_eq!(
        col("werktijden.aantalWerkurenPerWeekMaximaal"),
        "beschikbaarheid/@uren-max"
    );
    assert_eq!(
        col("arbeidsmarktkwalificatie.rijbewijs[].codeSoortRijbewijs"),
        "rijbewijs"
    );
    assert_eq!(
        col("arbeidsmarktkwalificatie.taalbeheersing[0].codeTaal"),
        "taal/@code"
    );
    assert!(
        out.contains(
            "\"naam\": 12 value(s) in 12 record(s), 12 distinct: never mapped: a person's name"
        ),
        "{out}"
    );
    let text = std::fs::read_to_string(&xml).unwrap();
    for tag in ["gw:bsn", "gw:naam", "gw:straat", "gw:postcode"] {
        let open = format!("<{tag}>");
        for part in text.split(&open).skip(1) {
            let v = part.split('<').next().unwrap();
            assert!(!out.contains(v), "{tag} value {v:?} is in the output");
        }
    }
    // the init mapping translates the file: the namespaced elements match by local name
    let m = loads(&out);
    let mut tr = Translator::new(
        m,
        b"init-test-secret",
        vum::Validator::with_today("2026-11-22"),
    );
    let mut sink = Collect::default();
    let s = tr.run(&xml, &mut sink).unwrap();
    assert_eq!(
        (s.accepted, s.filtered),
        (9, 3),
        "{s:#?} {:#?}",
        sink.rejects
    );
}

/// The consent TODO, decided: every record of the export consents (no contact details).
const CONSENT_TODO: &str = "# [consent]\n# value = true\n# contact = false";
const CONSENT_DECIDED: &str = "[consent]\nvalue = true\ncontact = false";

fn decide_consent(text: &str) -> String {
    assert_eq!(text.matches(CONSENT_TODO).count(), 1, "{text}");
    text.replace(CONSENT_TODO, CONSENT_DECIDED)
}

fn translate_text(text: &str, input: &Path) -> (translate::Summary, Collect) {
    let m = Mapping::parse(text, &input.with_file_name("init.toml"))
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    translate_with(m, input)
}

/// The issue's three-language case: a JSON list of objects becomes an active `[lists]` block, fields
/// relative to the element, and each element keeps its own level.
#[test]
fn mapping_init_json_lists_of_objects_map_element_by_element() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("export.ndjson");
    std::fs::write(
        &f,
        concat!(
            r#"{"klantnummer":"A1","postcode":"3011AB","talen":[{"codeTaal":"nld","codeNiveauTaalbeheersingMondeling":4},{"codeTaal":"eng"},{"codeTaal":"deu","codeNiveauTaalbeheersingMondeling":2}],"rijbewijs":["B","BE"]}"#,
            "\n",
            r#"{"klantnummer":"A2","postcode":"3012CD","talen":[{"codeTaal":"deu","codeNiveauTaalbeheersingMondeling":2}],"rijbewijs":[]}"#,
            "\n"
        ),
    )
    .unwrap();
    let out = init_ok(&f, &[]);
    let t = toml_of(&out);
    assert_eq!(t["source"]["format"].as_str(), Some("ndjson"));
    assert_eq!(t["identity"]["column"].as_str(), Some("/klantnummer"));
    assert_eq!(
        field(
            &t,
            "arbeidsmarktkwalificatie.rijbewijs[].codeSoortRijbewijs"
        )["column"]
            .as_str(),
        Some("/rijbewijs/*")
    );
    // no per-field mapping of the list elements (that could pair values of different elements) ...
    assert!(
        !t["fields"]
            .as_table()
            .unwrap()
            .keys()
            .any(|k| k.contains("taalbeheersing")),
        "{out}"
    );
    // ... but an active element-wise [lists] block
    let l = t["lists"]["arbeidsmarktkwalificatie.taalbeheersing"]
        .as_table()
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(l["from"].as_str(), Some("/talen/*"));
    assert_eq!(
        l["fields"]["codeTaal"]["column"].as_str(),
        Some("/codeTaal")
    );
    assert_eq!(
        l["fields"]["codeNiveauTaalbeheersingMondeling"]["column"].as_str(),
        Some("/codeNiveauTaalbeheersingMondeling")
    );
    // no consent column: the constant consent is offered, commented out
    assert!(out.contains("TODO: no consent column found"));
    assert!(out.contains(CONSENT_TODO), "{out}");
    assert!(loads(&out).consent.is_none());
    let text = decide_consent(&out);
    assert_eq!(
        loads(&text).consent,
        Some(translate::mapping::Consent::Constant { contact: false })
    );
    let (s, sink) = translate_text(&text, &f);
    assert_eq!((s.accepted, s.rejected), (2, 0), "{:?}", sink.rejects);
    let talen = &sink.docs[0]["arbeidsmarktkwalificatie"]["taalbeheersing"];
    assert_eq!(
        talen,
        &serde_json::json!([
            {"codeTaal": "nld", "codeNiveauTaalbeheersingMondeling": 4},
            {"codeTaal": "eng"},
            {"codeTaal": "deu", "codeNiveauTaalbeheersingMondeling": 2}
        ]),
        "{out}"
    );

    // a list whose element columns are guessed into two VUM lists: a TODO, commented out
    let g = dir.path().join("mixed.ndjson");
    std::fs::write(
        &g,
        concat!(
            r#"{"klantnummer":"A1","postcode":"3011AB","opleidingen":[{"niveau":"mbo","taal":"nld"},{"niveau":"hbo","taal":"eng"}]}"#,
            "\n",
            r#"{"klantnummer":"A2","postcode":"3012CD","opleidingen":[{"niveau":"hbo","taal":"nld"}]}"#,
            "\n"
        ),
    )
    .unwrap();
    let out = init_ok(&g, &[]);
    let t = toml_of(&out);
    assert!(t.get("lists").is_none(), "{out}");
    assert!(
        out.contains(
            "# [lists.\"arbeidsmarktkwalificatie.opleiding\"]\n# from = \"/opleidingen/*\""
        ),
        "{out}"
    );
    assert!(out.contains("guessed into several VUM lists"), "{out}");
    loads(&out);

    // a JSON document with the records one level down
    let j = dir.path().join("export.json");
    std::fs::write(&j, r#"{"meta":{"n":2},"vacatures":[{"nummer":"V1","titel":"Kok","sluitingsdatum":"2027-01-31"},{"nummer":"V2","titel":"Chauffeur","sluitingsdatum":"2027-02-28"}]}"#).unwrap();
    let out = init_ok(&j, &[]);
    let t = toml_of(&out);
    assert_eq!(t["kind"].as_str(), Some("vacature"));
    assert_eq!(t["source"]["record_path"].as_str(), Some("/vacatures"));
    assert_eq!(field(&t, "naamVacature")["column"].as_str(), Some("/titel"));
    assert_eq!(
        field(&t, "sluitingsdatumVacature")["column"].as_str(),
        Some("/sluitingsdatum")
    );
    // a vacancy needs no consent: no TODO for it
    assert!(!out.contains("[consent]"), "{out}");
    loads(&out);
}

/// Repeated XML elements with several fields: an active [lists] block with element-relative paths
/// ("@code"; "." for the element's text).
#[test]
fn mapping_init_xml_repeated_elements_map_element_by_element() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("clienten.xml");
    std::fs::write(
        &f,
        r#"<?xml version="1.0"?>
<export><clienten>
  <client id="K1"><postcode>3011AB</postcode><taal code="nld" mondeling="4"/><taal code="eng"/><taal code="deu" mondeling="2"/></client>
  <client id="K2"><postcode>3012CD</postcode><taal code="deu" mondeling="2"/></client>
  <client id="K3"><postcode>3013EF</postcode><taal code="nld" mondeling="3"/><taal code="fra" mondeling="1"/></client>
</clienten></export>
"#,
    )
    .unwrap();
    let out = init_ok(&f, &[]);
    let t = toml_of(&out);
    assert_eq!(
        t["source"]["record"].as_str(),
        Some("export/clienten/client")
    );
    let l = t["lists"]["arbeidsmarktkwalificatie.taalbeheersing"]
        .as_table()
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(l["from"].as_str(), Some("taal"));
    assert_eq!(l["fields"]["codeTaal"]["column"].as_str(), Some("@code"));
    assert_eq!(
        l["fields"]["codeNiveauTaalbeheersingMondeling"]["column"].as_str(),
        Some("@mondeling")
    );
    let (s, sink) = translate_text(&decide_consent(&out), &f);
    assert_eq!((s.accepted, s.rejected), (3, 0), "{:?}", sink.rejects);
    assert_eq!(
        sink.docs[0]["arbeidsmarktkwalificatie"]["taalbeheersing"],
        serde_json::json!([
            {"codeTaal": "nld", "codeNiveauTaalbeheersingMondeling": 4},
            {"codeTaal": "eng"},
            {"codeTaal": "deu", "codeNiveauTaalbeheersingMondeling": 2}
        ])
    );
}

#[test]
fn mapping_init_reads_at_most_max_rows() {
    let out = init_ok(&example("sonar/sonar-export.xlsx"), &["--max-rows", "5"]);
    assert!(out.contains("# Read the first 5 records only"), "{out}");
    assert!(
        out.contains("\"Beschikbare uren/wk\": 5 value(s) in 5 record(s)"),
        "{out}"
    );
}

/// `zip` with the declared unpacked size of `entry` overwritten (central directory and local header).
fn declare_size(zip: &[u8], entry: &str, size: u32) -> Vec<u8> {
    let mut b = zip.to_vec();
    let mut patched = 0;
    for i in 0..b.len().saturating_sub(46) {
        let (at, name) = match &b[i..i + 4] {
            b"PK\x01\x02" => (i + 24, i + 46),
            b"PK\x03\x04" => (i + 22, i + 30),
            _ => continue,
        };
        let n_at = if name == i + 46 { i + 28 } else { i + 26 };
        let n = u16::from_le_bytes([b[n_at], b[n_at + 1]]) as usize;
        if b.get(name..name + n) == Some(entry.as_bytes()) {
            b[at..at + 4].copy_from_slice(&size.to_le_bytes());
            patched += 1;
        }
    }
    assert_eq!(patched, 2, "{entry}");
    b
}

#[test]
fn mapping_init_bad_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let sonar = std::fs::read(example("sonar/sonar-export.xlsx")).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.csv", Vec::new(), "the file is empty"),
        ("text.xlsx", b"a,b\n1,2\n".to_vec(), "not an XLSX workbook"),
        (
            "cut.xlsx",
            sonar[..sonar.len() / 2].to_vec(),
            "not a readable XLSX workbook",
        ),
        (
            "old.xls",
            vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0],
            "old Excel (.xls)",
        ),
        // translate's package bounds hold here too: a part declaring 1.8 GB is refused unread
        (
            "bomb.xlsx",
            declare_size(&sonar, "xl/worksheets/sheet1.xml", 0x7000_0000),
            "refused as a zip bomb",
        ),
        ("bad.json", b"{\"a\": [1, 2".to_vec(), "not valid JSON"),
        ("bad.xml", b"<a><b>1</b></c>".to_vec(), "XML"),
        ("bin.csv", vec![1, 0, 2, 0, 255, 254, 0], "binary data"),
        ("utf16.csv", vec![0xFF, 0xFE, b'a', 0, b',', 0], "UTF-16"),
    ];
    for (name, bytes, msg) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, &bytes).unwrap();
        let out = init(&p, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert!(err.contains(msg) && err.contains(name), "{name}: {err}");
    }
    let out = init(&dir.path().join("missing.csv"), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.csv: cannot open"));
    let out = init(&example("sonar/sonar-export.xlsx"), &["--sheet", "Nope"]);
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("no sheet \"Nope\"; the workbook has: \"Export\""));
}

#[test]
fn mapping_init_odd_but_readable_input_does_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let long = "x".repeat(100_000);
    let cases: Vec<(&str, String)> = vec![
        ("ragged.csv", "a;b;c\n1;2\n1;2;3;4\n\"open quote;5\n".into()),
        ("only-header.csv", "klantnummer,postcode\n".into()),
        ("dup.csv", "id,id,,naam\n1,2,3,Jan\n".into()),
        ("long.csv", format!("id,toelichting\n1,{long}\n")),
        ("ctrl.csv", "id,\"x\u{1}\ny\"\n1,\"a\u{7f}\nb\"\n".into()),
        ("scalars.json", "[1, \"a\", null]".into()),
        (
            "deep.json",
            format!(
                "[{}{}]",
                "{\"a\":".repeat(200),
                "1".to_string() + &"}".repeat(200)
            ),
        ),
        (
            "lines.ndjson",
            "{\"a\":1}\nnot json\n[1]\n\n{\"a\":2}\n".into(),
        ),
        (
            "one.xml",
            "<?xml version=\"1.0\"?><r><x a=\"1\">t</x></r>".into(),
        ),
    ];
    for (name, body) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        let out = init(&p, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{name}: {err}");
        if out.status.success() {
            toml_of(&String::from_utf8(out.stdout).unwrap());
        } else {
            assert_eq!(out.status.code(), Some(1), "{name}: {err}");
            assert!(err.contains(name), "{name}: {err}");
        }
    }
}

#[derive(Default)]
struct Collect {
    docs: Vec<Value>,
    rejects: Vec<Reject>,
}

impl Sink for Collect {
    fn accepted(&mut self, _row: u64, _id: &str, doc: &Value) -> std::io::Result<()> {
        self.docs.push(doc.clone());
        Ok(())
    }
    fn rejected(
        &mut self,
        rejects: &[Reject],
        _original: &[(String, String)],
    ) -> std::io::Result<()> {
        self.rejects.extend_from_slice(rejects);
        Ok(())
    }
}

fn translate_with(mapping: Mapping, input: &Path) -> (translate::Summary, Collect) {
    let mut t = Translator::new(
        mapping,
        b"init-equivalence-secret",
        vum::Validator::with_today("2026-11-22"),
    );
    let mut sink = Collect::default();
    let s = t.run(input, &mut sink).unwrap();
    (s, sink)
}

/// The issue's acceptance: `mapping init` output for the Sonar-style workbook, with the decisions a
/// person makes for its TODOs (below, as plain text replacements), gives the same documents as the
/// hand-written examples/translate/sonar/mapping.toml.
#[test]
fn mapping_init_sonar_with_todos_decided_equals_the_hand_written_mapping() {
    let xlsx = example("sonar/sonar-export.xlsx");
    let mut text = init_ok(&xlsx, &[]);
    let edits: &[(&str, &str)] = &[
        // contact details only with full consent
        (
            "contact = []   # TODO: the values that also allow contact details (none guessed)",
            "contact = [\"Ja\"]",
        ),
        // 'Datum melding' is taken as the date from which the person is available
        (
            "# [fields.\"TARGET\"]\n# column = \"Datum melding\"",
            "[fields.\"flexibiliteit.datumAanvangBeschikbaarVoorWerk\"]\ncolumn = \"Datum melding\"",
        ),
        // the SBI codes of the four sectors
        ("# \"Horeca\" = ?   # TODO (9)", "\"Horeca\" = 56"),
        ("# \"Schoonmaak\" = ?   # TODO (6)", "\"Schoonmaak\" = 81"),
        ("# \"Zorg\" = ?   # TODO (5)", "\"Zorg\" = 86"),
        ("# \"Logistiek\" = ?   # TODO (4)", "\"Logistiek\" = 52"),
        // OV is public transport
        ("# \"OV\" = ?   # TODO: no label of the code list matches (11)", "\"OV\" = 5"),
        // contact details, now that [consent] contact is set
        ("# [fields.\"telefoonnummer[]\"]\n# column = \"Telefoonnummer\"", "[fields.\"telefoonnummer[]\"]\ncolumn = \"Telefoonnummer\""),
        ("# [fields.\"emailadres[]\"]\n# column = \"E-mailadres\"", "[fields.\"emailadres[]\"]\ncolumn = \"E-mailadres\""),
        // the organisation's own occupation lookup
        ("file = \"beroepen.csv\"   # TODO: the path of your lookup, relative to this mapping file", "file = \"../beroepen.csv\""),
    ];
    for (from, to) in edits {
        assert_eq!(
            text.matches(from).count(),
            1,
            "edit {from:?} does not apply once:\n{text}"
        );
        text = text.replace(from, to);
    }
    let dir = example("sonar");
    let from_init = Mapping::parse(&text, &dir.join("from-init.toml"))
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    let by_hand = Mapping::load(&dir.join("mapping.toml")).unwrap();
    let (s1, a) = translate_with(from_init, &xlsx);
    let (s2, b) = translate_with(by_hand, &xlsx);
    assert_eq!(
        (s1.read, s1.accepted, s1.filtered, s1.rejected),
        (s2.read, s2.accepted, s2.filtered, s2.rejected)
    );
    assert!(s1.accepted >= 15, "{s1:#?}");
    assert_eq!(a.docs.len(), b.docs.len());
    for (x, y) in a.docs.iter().zip(&b.docs) {
        assert_eq!(x, y);
    }
    let rules = |c: &Collect| {
        c.rejects
            .iter()
            .map(|r| (r.row, r.rule.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(rules(&a), rules(&b));
    assert_eq!(s1.contact_withheld, s2.contact_withheld);
}

fn shared(p: &str) -> PathBuf {
    let base = std::env::var("MATCHGATE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root().join("../shared"));
    base.join(p)
}

fn official(file: &str) -> Vec<Value> {
    serde_json::from_str(&std::fs::read_to_string(shared("vum/testdata").join(file)).unwrap())
        .unwrap()
}

/// Records that already are VUM documents become a `vum` source: no fields, a pointer to
/// `ingest --vum`; the official 1000 profiles as NDJSON, with the consent TODO decided, translate
/// all 1000, ids kept.
#[test]
fn mapping_init_vum_documents_become_a_vum_source() {
    let docs = official("werkzoekenden-1000.json");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("profielen.ndjson");
    let mut nd = Vec::new();
    for d in &docs {
        serde_json::to_writer(&mut nd, d).unwrap();
        nd.push(b'\n');
    }
    std::fs::write(&f, nd).unwrap();
    let out = init_ok(&f, &[]);
    let t = toml_of(&out);
    assert_eq!(t["kind"].as_str(), Some("werkzoekende"));
    assert_eq!(t["source"]["format"].as_str(), Some("vum"));
    assert!(
        t.get("fields").is_none() && t.get("lists").is_none(),
        "{out}"
    );
    assert!(t.get("identity").is_none(), "{out}");
    assert!(
        out.contains("matchgate ingest --vum --kind werkzoekende"),
        "{out}"
    );
    let text = decide_consent(&out);
    let (s, sink) = translate_text(&text, &f);
    assert_eq!(
        (s.read, s.accepted, s.rejected),
        (1000, 1000, 0),
        "{:?}",
        &sink.rejects[..sink.rejects.len().min(3)]
    );
    for (a, b) in docs.iter().zip(&sink.docs) {
        assert_eq!(a["idWerkzoekende"], b["idWerkzoekende"]);
    }
    // the JSON array itself, and the vacancies
    let out = init_ok(&shared("vum/testdata/werkzoekenden-1000.json"), &[]);
    assert_eq!(toml_of(&out)["source"]["format"].as_str(), Some("vum"));
    loads(&out);
    let out = init_ok(&shared("vum/testdata/vacatures-93.json"), &[]);
    let t = toml_of(&out);
    assert_eq!(t["kind"].as_str(), Some("vacature"));
    assert_eq!(t["source"]["format"].as_str(), Some("vum"));
    assert!(!out.contains("[consent]"), "{out}");
    let (s, _) = translate_text(&out, &shared("vum/testdata/vacatures-93.json"));
    assert_eq!((s.accepted, s.rejected), (93, 0));
}

/// Records in VUM's shape but with their own local id (not VUM documents): every pointer that spells
/// a VUM property becomes that target, and lists of objects get element-wise [lists] blocks.
#[test]
fn mapping_init_vum_shaped_json_maps_property_paths() {
    let mut docs = official("werkzoekenden-1000.json");
    docs.truncate(200);
    for d in docs.iter_mut() {
        let o = d.as_object_mut().unwrap();
        let id = o.remove("idWerkzoekende").unwrap();
        o.insert("klantnummer".into(), id);
    }
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("export.json");
    std::fs::write(&f, serde_json::to_vec(&docs).unwrap()).unwrap();
    let out = init_ok(&f, &[]);
    let t = toml_of(&out);
    assert_eq!(t["source"]["format"].as_str(), Some("json"));
    assert_eq!(t["identity"]["column"].as_str(), Some("/klantnummer"));
    let col = |target: &str| field(&t, target)["column"].as_str().unwrap().to_string();
    assert_eq!(
        col("mobiliteit.bemiddelingspostcode"),
        "/mobiliteit/bemiddelingspostcode"
    );
    assert_eq!(
        col("werktijden.aantalWerkurenPerWeekMinimaal"),
        "/werktijden/aantalWerkurenPerWeekMinimaal"
    );
    assert_eq!(
        col("bemiddelingsberoep[].codeBeroepsnaam"),
        "/bemiddelingsberoep/*/codeBeroepsnaam"
    );
    let l = t["lists"]["arbeidsmarktkwalificatie.taalbeheersing"]
        .as_table()
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(
        l["from"].as_str(),
        Some("/arbeidsmarktkwalificatie/taalbeheersing/*")
    );
    assert_eq!(
        l["fields"]["codeTaal"]["column"].as_str(),
        Some("/codeTaal")
    );
    // no consent column in these documents: contact details are never mapped
    assert!(
        out.contains("\"/telefoonnummer/*\": ") && out.contains("never mapped: contact details"),
        "{out}"
    );
    assert!(!t["fields"]
        .as_table()
        .unwrap()
        .contains_key("telefoonnummer[]"));
    // translated, every record keeps its languages element by element
    let (s, sink) = translate_text(&decide_consent(&out), &f);
    assert!(
        s.accepted > 150,
        "{s:#?} {:?}",
        &sink.rejects[..sink.rejects.len().min(3)]
    );
    let mut rows_with_langs = 0;
    let mut accepted = sink.docs.iter();
    let rejected: std::collections::HashSet<u64> = sink.rejects.iter().map(|r| r.row).collect();
    for (i, d) in docs.iter().enumerate() {
        if rejected.contains(&(i as u64 + 1)) {
            continue;
        }
        let got = accepted.next().unwrap();
        // an empty list is absent (koppelvlak README)
        let want = match &d["arbeidsmarktkwalificatie"]["taalbeheersing"] {
            Value::Array(a) if a.is_empty() => &Value::Null,
            w => w,
        };
        if want.is_array() {
            rows_with_langs += 1;
        }
        assert_eq!(
            &got["arbeidsmarktkwalificatie"]["taalbeheersing"],
            want,
            "record {}",
            i + 1
        );
    }
    assert!(rows_with_langs > 20, "{rows_with_langs}");
}

/// A real Sonar export says NNB in every row of ID_WZ: NNB becomes a null value, and with no other
/// id the BSN column (found by its values) is the local id, declared with column_is_bsn.
#[test]
fn mapping_init_placeholder_ids_and_bsn_by_value() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("sonar.csv");
    let bsns = ["111222333", "201612847", "357363851", "780736084"];
    let opl = ["hbo", "HBO", "Onbekend", "mbo"];
    let mut body = String::from("ID_WZ;Sofi;Postcode;Opleiding\n");
    for (b, o) in bsns.iter().zip(opl) {
        body.push_str(&format!("NNB;{b};3011AB;{o}\n"));
    }
    std::fs::write(&f, body).unwrap();
    let out = init_ok(&f, &[]);
    let t = toml_of(&out);
    assert_eq!(
        t["null_values"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>()),
        Some(vec!["NNB", "Onbekend"]),
        "{out}"
    );
    assert!(
        out.contains("No usable id column: \"ID_WZ\" holds only placeholders (\"NNB\")"),
        "{out}"
    );
    // 'Sofi' holds BSNs: found by the elfproef, not by its name; the only id
    assert_eq!(t["identity"]["column"].as_str(), Some("Sofi"));
    assert_eq!(t["identity"]["column_is_bsn"].as_bool(), Some(true));
    assert!(t["identity"].get("bsn_column").is_none());
    // case variants of a label: one entry, compared without regard to case; the placeholder has none
    let o = field(
        &t,
        "arbeidsmarktkwalificatie.opleiding[0].codeNiveauOpleiding",
    );
    assert_eq!(o["ignore_case"].as_bool(), Some(true), "{out}");
    let s = |v: &[(&str, &str)]| {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        map_of(
            &t,
            "arbeidsmarktkwalificatie.opleiding[0].codeNiveauOpleiding"
        ),
        // "hbo" and "HBO" once each: the first in order stands for both
        s(&[("HBO", "5"), ("mbo", "4")])
    );
    for b in bsns {
        assert!(!out.contains(b), "{b}");
    }
    let (sum, sink) = translate_text(&decide_consent(&out), &f);
    assert_eq!((sum.accepted, sum.rejected), (4, 0), "{:?}", sink.rejects);
    let levels: Vec<&Value> = sink
        .docs
        .iter()
        .map(|d| &d["arbeidsmarktkwalificatie"]["opleiding"][0]["codeNiveauOpleiding"])
        .collect();
    assert_eq!(
        levels,
        [
            &Value::from(5),
            &Value::from(5),
            &Value::Null,
            &Value::from(4)
        ]
    );
    let written = serde_json::to_string(&sink.docs).unwrap();
    for b in bsns {
        assert!(!written.contains(b), "{b}");
    }

    // with a usable local id beside it, the BSN as id is only proposed: a TODO, commented out
    let g = dir.path().join("sonar2.csv");
    let mut body = String::from("ID_WZ;klantnummer;Sofi;Postcode\n");
    for (i, b) in bsns.iter().enumerate() {
        body.push_str(&format!("NNB;K{i};{b};3011AB\n"));
    }
    std::fs::write(&g, body).unwrap();
    let out = init_ok(&g, &[]);
    let t = toml_of(&out);
    assert_eq!(t["identity"]["column"].as_str(), Some("klantnummer"));
    assert_eq!(t["identity"]["bsn_column"].as_str(), Some("Sofi"));
    assert!(t["identity"].get("column_is_bsn").is_none());
    let proposal = "# column = \"Sofi\"\n# column_is_bsn = true";
    assert!(out.contains(proposal), "{out}");
    loads(&out);
    // the proposal, taken, loads and keys the BSN
    let taken: String = out
        .lines()
        .filter(|l| !l.starts_with("column = \"klantnummer\"") && !l.starts_with("bsn_column ="))
        .collect::<Vec<_>>()
        .join("\n")
        .replace(proposal, "column = \"Sofi\"\ncolumn_is_bsn = true");
    let m = loads(&taken);
    assert!(m.id_is_bsn && m.bsn_column.is_none());
}

/// Without a consent column, contact details are never mapped (no TODO to map them).
#[test]
fn mapping_init_contact_details_without_consent_are_never_mapped() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("k.csv");
    std::fs::write(&f, "klantnummer,email,telefoon,postcode\nK1,a.b@example.nl,0612345678,3011AB\nK2,c.d@example.nl,0687654321,3012CD\n").unwrap();
    let out = init_ok(&f, &[]);
    assert!(out.contains("\"email\": 2 value(s) in 2 record(s), 2 distinct: never mapped: contact details, and the export has no consent column"), "{out}");
    assert!(
        !out.contains("[fields.\"emailadres[]\"]")
            && !out.contains("[fields.\"telefoonnummer[]\"]"),
        "{out}"
    );
    for v in ["a.b@example.nl", "0612345678", "K1", "3011AB"] {
        assert!(!out.contains(v), "{v}");
    }
    loads(&out);
}
