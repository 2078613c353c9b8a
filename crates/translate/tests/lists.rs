//! Lists of objects keep their elements together: a source list maps element by element onto a
//! VUM list, and a mapping that could pair values from different source elements is refused when
//! it loads. The 1000 official profiles and 93 vacancies, mapped field by field with `[lists]`
//! for every list the standard has, come out unchanged.
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use translate::{mapping::Mapping, Reject, Sink, Translator};

const SECRET: &[u8] = b"lists-test-secret-0123456789";
const TODAY: &str = "2026-11-22";

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
    fn rejected(&mut self, r: &[Reject], _o: &[(String, String)]) -> std::io::Result<()> {
        self.rejects.extend_from_slice(r);
        Ok(())
    }
}

fn run(mapping: &str, name: &str, content: &[u8]) -> Collect {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join(name);
    std::fs::write(&input, content).unwrap();
    let mapping = Mapping::parse(mapping, &dir.path().join("m.toml")).unwrap();
    let mut t = Translator::new(mapping, SECRET, vum::Validator::with_today(TODAY));
    let mut sink = Collect::default();
    t.run(&input, &mut sink).unwrap();
    sink
}

fn load_error(mapping: &str) -> String {
    Mapping::parse(mapping, Path::new("m.toml"))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
}

const TALEN: &str = r#"{"id": "K1", "pc": "3011AB", "talen": [{"codeTaal":"nld","codeNiveauTaalbeheersingMondeling":4}, {"codeTaal":"eng"}, {"codeTaal":"deu","codeNiveauTaalbeheersingMondeling":2}]}"#;

const HEAD: &str = r#"
kind = "werkzoekende"
[source]
format = "ndjson"
[identity]
column = "/id"
[consent]
value = true
[fields."mobiliteit.bemiddelingspostcode"]
column = "/pc"
"#;

#[test]
fn three_languages_keep_their_levels() {
    let mapping = format!(
        r#"{HEAD}
[lists."arbeidsmarktkwalificatie.taalbeheersing"]
from = "/talen/*"
[lists."arbeidsmarktkwalificatie.taalbeheersing".fields.codeTaal]
column = "/codeTaal"
[lists."arbeidsmarktkwalificatie.taalbeheersing".fields.codeNiveauTaalbeheersingMondeling]
column = "/codeNiveauTaalbeheersingMondeling"
"#
    );
    let sink = run(&mapping, "t.ndjson", TALEN.as_bytes());
    assert!(sink.rejects.is_empty(), "{:?}", sink.rejects);
    assert_eq!(
        sink.docs[0]["arbeidsmarktkwalificatie"]["taalbeheersing"],
        json!([
            {"codeTaal": "nld", "codeNiveauTaalbeheersingMondeling": 4},
            {"codeTaal": "eng"},
            {"codeTaal": "deu", "codeNiveauTaalbeheersingMondeling": 2}
        ])
    );
}

#[test]
fn fields_that_would_pair_values_of_different_elements_are_refused_with_the_fix() {
    let mapping = format!(
        r#"{HEAD}
[fields."arbeidsmarktkwalificatie.taalbeheersing[].codeTaal"]
column = "/talen/*/codeTaal"
[fields."arbeidsmarktkwalificatie.taalbeheersing[].codeNiveauTaalbeheersingMondeling"]
column = "/talen/*/codeNiveauTaalbeheersingMondeling"
"#
    );
    let e = load_error(&mapping);
    assert!(
        e.contains("would move into the wrong element")
            && e.contains("[lists.\"arbeidsmarktkwalificatie.taalbeheersing\"]"),
        "{e}"
    );
    // two split cells of a CSV row onto one list: the same risk
    let csv = r#"
kind = "werkzoekende"
[source]
format = "csv"
[identity]
column = "id"
[fields."arbeidsmarktkwalificatie.taalbeheersing[].codeTaal"]
column = "talen"
split = ","
[fields."arbeidsmarktkwalificatie.taalbeheersing[].codeNiveauTaalbeheersingMondeling"]
column = "niveaus"
split = ","
"#;
    assert!(load_error(csv).contains("would move into the wrong element"));
    // one split field alone keeps working
    let one = r#"
kind = "werkzoekende"
[source]
format = "csv"
[identity]
column = "id"
[fields."arbeidsmarktkwalificatie.rijbewijs[].codeSoortRijbewijs"]
column = "rijbewijs"
split = ","
"#;
    assert_eq!(load_error(one), "");
    // a list mapped both ways
    let both = format!(
        r#"{HEAD}
[fields."arbeidsmarktkwalificatie.taalbeheersing[0].codeTaal"]
value = "nld"
[lists."arbeidsmarktkwalificatie.taalbeheersing"]
from = "/talen/*"
[lists."arbeidsmarktkwalificatie.taalbeheersing".fields.codeTaal]
column = "/codeTaal"
"#
    );
    assert!(
        load_error(&both).contains("fills the same list"),
        "{}",
        load_error(&both)
    );
    // lists need a source with lists
    let csv_list = r#"
kind = "werkzoekende"
[source]
format = "csv"
[identity]
column = "id"
[lists."arbeidsmarktkwalificatie.taalbeheersing"]
from = "talen"
[lists."arbeidsmarktkwalificatie.taalbeheersing".fields.codeTaal]
column = "taal"
"#;
    assert!(load_error(csv_list).contains("holds no list of elements"));
    // not a list of objects
    let not_list = format!(
        "{HEAD}\n[lists.\"mobiliteit\"]\nfrom = \"/m/*\"\n[lists.\"mobiliteit\".fields.x]\ncolumn = \"/x\"\n"
    );
    assert!(load_error(&not_list).contains("not a list of objects"));
    // an index a file could use to make the loader allocate gigabytes is refused when it loads
    let huge = format!(
        "{HEAD}[fields.\"arbeidsmarktkwalificatie.taalbeheersing[4000000000].codeTaal\"]\nvalue = \"nld\"\n"
    );
    assert!(
        load_error(&huge).contains("larger than 999"),
        "{}",
        load_error(&huge)
    );
    let odd = format!("{HEAD}[fields.\"sector[0]é].codeSbi\"]\nvalue = \"1\"\n");
    assert!(
        load_error(&odd).contains("unexpected text after ']'"),
        "{}",
        load_error(&odd)
    );
}

#[test]
fn a_single_valued_property_given_several_values_rejects_the_record() {
    let mapping = format!(
        "{HEAD}\n[fields.\"arbeidsmarktkwalificatie.taalbeheersing[0].codeTaal\"]\ncolumn = \"/talen/*/codeTaal\"\n"
    );
    let sink = run(&mapping, "t.ndjson", TALEN.as_bytes());
    assert_eq!(sink.docs.len(), 0);
    assert_eq!(sink.rejects[0].rule, translate::MULTIPLE);
    assert_eq!(sink.rejects[0].column.as_deref(), Some("/talen/*/codeTaal"));
}

#[test]
fn xml_elements_keep_their_attributes_together() {
    let xml = br#"<export><client id="C1"><pc>3011AB</pc>
        <taal code="nld" mondeling="4"/><taal code="eng"/><taal code="deu"><mondeling>2</mondeling></taal>
        </client></export>"#;
    let mapping = r#"
kind = "werkzoekende"
[source]
format = "xml"
record = "export/client"
[identity]
column = "@id"
[consent]
value = true
[fields."mobiliteit.bemiddelingspostcode"]
column = "pc"
[lists."arbeidsmarktkwalificatie.taalbeheersing"]
from = "taal"
[lists."arbeidsmarktkwalificatie.taalbeheersing".fields.codeTaal]
column = "@code"
[lists."arbeidsmarktkwalificatie.taalbeheersing".fields.codeNiveauTaalbeheersingMondeling]
column = "@mondeling"
[lists."arbeidsmarktkwalificatie.taalbeheersing".fields.codeNiveauTaalbeheersingSchriftelijk]
column = "mondeling"
"#;
    let sink = run(mapping, "c.xml", xml);
    assert!(sink.rejects.is_empty(), "{:?}", sink.rejects);
    assert_eq!(
        sink.docs[0]["arbeidsmarktkwalificatie"]["taalbeheersing"],
        json!([
            {"codeTaal": "nld", "codeNiveauTaalbeheersingMondeling": 4},
            {"codeTaal": "eng"},
            {"codeTaal": "deu", "codeNiveauTaalbeheersingSchriftelijk": 2}
        ])
    );
}

#[test]
fn an_element_with_a_bad_value_names_the_element_and_column() {
    let mapping = format!(
        r#"{HEAD}
[lists."arbeidsmarktkwalificatie.taalbeheersing"]
from = "/talen/*"
[lists."arbeidsmarktkwalificatie.taalbeheersing".fields.codeTaal]
column = "/codeTaal"
[lists."arbeidsmarktkwalificatie.taalbeheersing".fields.codeNiveauTaalbeheersingMondeling]
column = "/niveau"
"#
    );
    let rec = br#"{"id": "K1", "pc": "3011AB", "talen": [{"codeTaal":"nld","niveau":"4"}, {"codeTaal":"eng","niveau":"goed"}]}"#;
    let sink = run(&mapping, "t.ndjson", rec);
    assert_eq!(sink.docs.len(), 0);
    let r = &sink.rejects[0];
    assert_eq!(r.rule, "translate/geen-geheel-getal");
    assert_eq!(r.column.as_deref(), Some("/talen/*/niveau"));
    assert!(
        r.message.contains("element 2 of /talen/*") && r.message.contains("'goed'"),
        "{r:?}"
    );
}

// ---- every list of the standard, through the official test data ----

fn shared() -> PathBuf {
    std::env::var("MATCHGATE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
}

fn schema(family: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../schemas/vum-{family}.schema.json"));
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn deref<'a>(defs: &'a Value, mut n: &'a Value) -> &'a Value {
    while let Some(r) = n.get("$ref").and_then(Value::as_str) {
        n = &defs[r.rsplit('/').next().unwrap()];
    }
    n
}

/// A list of objects found by [`leaves`]: (full target, JSON pointer, the leaves of one element).
type ListLeaves = (String, String, Vec<(String, String)>);

/// Every leaf under `node` as (target relative to it, JSON pointer relative to it); arrays of
/// objects become `[lists]` (pushed to `lists`, keyed by their full target).
fn leaves(
    defs: &Value,
    node: &Value,
    target: &str,
    pointer: &str,
    base: &str,
    out: &mut Vec<(String, String)>,
    lists: &mut Vec<ListLeaves>,
) {
    let node = deref(defs, node);
    match node["type"].as_str() {
        Some("object") => {
            for (k, v) in node["properties"].as_object().unwrap() {
                let t = if target.is_empty() {
                    k.clone()
                } else {
                    format!("{target}.{k}")
                };
                leaves(defs, v, &t, &format!("{pointer}/{k}"), base, out, lists);
            }
        }
        Some("array") => {
            let items = deref(defs, &node["items"]);
            if items["type"] == "object" {
                let mut inner = Vec::new();
                leaves(defs, items, "", "", "", &mut inner, lists);
                lists.push((format!("{base}{target}"), format!("{pointer}/*"), inner));
            } else {
                out.push((format!("{target}[]"), format!("{pointer}/*")));
            }
        }
        _ => out.push((target.to_string(), pointer.to_string())),
    }
}

/// A mapping of every property of the standard, lists element by element.
fn full_mapping(kind: &str, family: &str, root: &str) -> String {
    let s = schema(family);
    let defs = &s["$defs"];
    let mut fields = Vec::new();
    let mut lists = Vec::new();
    let root = deref(defs, &defs[root]);
    for (k, v) in root["properties"].as_object().unwrap() {
        if k == "idWerkzoekende" || k == "idVacature" {
            continue;
        }
        leaves(defs, v, k, &format!("/{k}"), "", &mut fields, &mut lists);
    }
    let id = if kind == "werkzoekende" {
        "/idWerkzoekende"
    } else {
        "/idVacature"
    };
    let mut m = format!(
        "kind = \"{kind}\"\n[source]\nformat = \"ndjson\"\n[identity]\ncolumn = \"{id}\"\n"
    );
    if kind == "werkzoekende" {
        m.push_str("[consent]\nvalue = true\ncontact = true\n");
    }
    for (t, p) in fields {
        m.push_str(&format!(
            "[fields.\"{t}\"]\ncolumn = \"{p}\"\nunmapped = \"keep\"\n"
        ));
    }
    for (t, from, inner) in lists {
        // nested lists of objects inside a list element do not occur in VUM 3.0.0
        assert!(!t.contains("[]"), "{t}");
        m.push_str(&format!("[lists.\"{t}\"]\nfrom = \"{from}\"\n"));
        for (rt, rp) in inner {
            m.push_str(&format!(
                "[lists.\"{t}\".fields.\"{rt}\"]\ncolumn = \"{rp}\"\n"
            ));
        }
    }
    m
}

/// Drop empty strings, arrays and objects (VUM: absent) and the record id; translate trims every
/// source value, so leading and trailing spaces are dropped too.
fn normal(v: &Value) -> Value {
    fn clean(v: &Value) -> Option<Value> {
        match v {
            Value::String(s) if s.trim().is_empty() => None,
            Value::String(s) => Some(Value::String(s.trim().to_string())),
            Value::Array(a) => {
                let a: Vec<Value> = a.iter().filter_map(clean).collect();
                (!a.is_empty()).then_some(Value::Array(a))
            }
            Value::Object(o) => {
                let o: Map<String, Value> = o
                    .iter()
                    .filter_map(|(k, v)| clean(v).map(|v| (k.clone(), v)))
                    .collect();
                (!o.is_empty()).then_some(Value::Object(o))
            }
            Value::Null => None,
            other => Some(other.clone()),
        }
    }
    let mut v = clean(v).unwrap_or(Value::Null);
    if let Value::Object(o) = &mut v {
        o.remove("idWerkzoekende");
        o.remove("idVacature");
    }
    v
}

fn official_round_trip(file: &str, kind: &str, family: &str, root: &str) {
    let docs: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(shared().join("vum/testdata").join(file)).unwrap(),
    )
    .unwrap();
    let mut ndjson = Vec::new();
    for d in &docs {
        serde_json::to_writer(&mut ndjson, d).unwrap();
        ndjson.push(b'\n');
    }
    let mapping = full_mapping(kind, family, root);
    let sink = run(&mapping, "official.ndjson", &ndjson);
    assert!(
        sink.rejects.is_empty(),
        "{:?}",
        &sink.rejects[..sink.rejects.len().min(5)]
    );
    assert_eq!(sink.docs.len(), docs.len());
    let changed: Vec<usize> = docs
        .iter()
        .zip(&sink.docs)
        .enumerate()
        .filter(|(_, (a, b))| normal(a) != normal(b))
        .map(|(i, _)| i)
        .collect();
    if let Some(&i) = changed.first() {
        panic!(
            "{} of {} records changed; the first, record {}:\nin:  {}\nout: {}",
            changed.len(),
            docs.len(),
            i + 1,
            normal(&docs[i]),
            normal(&sink.docs[i])
        );
    }
}

#[test]
fn the_official_profiles_mapped_field_by_field_come_out_unchanged() {
    official_round_trip(
        "werkzoekenden-1000.json",
        "werkzoekende",
        "werkzoekenden",
        "Werkzoekende",
    );
}

#[test]
fn the_official_vacancies_mapped_field_by_field_come_out_unchanged() {
    official_round_trip("vacatures-93.json", "vacature", "vacatures", "Vacature");
}
