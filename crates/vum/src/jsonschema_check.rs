//! The same schemas, checked by the `jsonschema` crate (a general JSON Schema 2020-12 validator).
//! Selection requests are validated this way (their schema uses `oneOf`/`not`, and they are small);
//! for documents it is the independent oracle the tests hold the streaming validator against.
use crate::finding::{Finding, Severity};
use crate::kind::{Family, Kind};
use crate::schema::schema_json;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::OnceLock;

fn validators() -> &'static HashMap<Kind, jsonschema::Validator> {
    static V: OnceLock<HashMap<Kind, jsonschema::Validator>> = OnceLock::new();
    V.get_or_init(|| {
        Kind::ALL
            .into_iter()
            .map(|kind| {
                // the family's schema itself, entered at the kind's definition
                let mut root = schema_json(kind.family()).clone();
                root["$ref"] = Value::String(format!("#/$defs/{}", kind.root_def()));
                let v = jsonschema::options()
                    .should_validate_formats(true)
                    .build(&root)
                    .unwrap_or_else(|e| panic!("embedded schema for {kind} does not build: {e}"));
                (kind, v)
            })
            .collect()
    })
}

/// Turn an absolute keyword location into our rule id: `<family>#<location under $defs>`.
fn rule_id(kind: Kind, err: &jsonschema::ValidationError<'_>) -> String {
    let fam = kind.family();
    if let Some(uri) = err.absolute_keyword_location() {
        let s = uri.as_str();
        for f in [Family::Werkzoekenden, Family::Vacatures] {
            if let Some(rest) = s.strip_prefix(&format!("{}#/$defs/", f.schema_id())) {
                return format!("{}#{}", f.name(), unescape(rest));
            }
        }
    }
    format!(
        "{}#{}",
        fam.name(),
        err.schema_path().as_str().trim_start_matches('/')
    )
}

fn unescape(s: &str) -> String {
    let s = s.replace("%24", "$");
    s.replace("~1", "/").replace("~0", "~")
}

/// All schema findings for a document, from the `jsonschema` crate. Empty values are removed
/// first, as VUM defines them as absent.
pub fn check(kind: Kind, doc: &Value) -> Vec<Finding> {
    let original = doc;
    let doc = drop_empty(doc.clone()).unwrap_or(Value::Object(Default::default()));
    let v = &validators()[&kind];
    v.iter_errors(&doc)
        .map(|e| {
            let pointer = e.instance_path().as_str().to_string();
            let mut message = e.to_string();
            // a required property that is there but empty: say so, rather than "required"
            if let jsonschema::error::ValidationErrorKind::Required {
                property: Value::String(name),
            } = e.kind()
            {
                let at = original.pointer(&pointer).and_then(|o| o.get(name));
                if let Some(empty) = at {
                    let what = match empty {
                        Value::Object(_) => "an empty object (or one holding only empty values)",
                        Value::Array(_) => "an empty array (or one holding only empty values)",
                        _ => "empty",
                    };
                    message = format!(
                        "'{name}' is {what}; VUM counts an empty value as absent, and '{name}' is required"
                    );
                    if name == "vraagObject" {
                        message.push_str(
                            ": a selection needs at least selectiegebied with postcode and afstand",
                        );
                    }
                }
            }
            Finding {
                rule: rule_id(kind, &e),
                severity: Severity::Error,
                pointer,
                message,
            }
        })
        .collect()
}

/// Remove empty strings, arrays and objects bottom-up (VUM: empty means absent).
pub fn drop_empty(v: Value) -> Option<Value> {
    match v {
        Value::String(s) if s.is_empty() => None,
        Value::Array(a) => {
            let a: Vec<Value> = a.into_iter().filter_map(drop_empty).collect();
            (!a.is_empty()).then_some(Value::Array(a))
        }
        Value::Object(o) => {
            let o: serde_json::Map<String, Value> = o
                .into_iter()
                .filter_map(|(k, v)| drop_empty(v).map(|v| (k, v)))
                .collect();
            (!o.is_empty()).then_some(Value::Object(o))
        }
        v => Some(v),
    }
}
