//! proto/ and schemas/ describe the same documents: every message is a schema definition (or an
//! inline object of one) of the same name, every field is a property of the same JSON name with a
//! compatible type, and vice versa. If one drifts from the other, this test names the difference.
use prost::Message;
use prost_types::field_descriptor_proto::{Label, Type};
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, PartialEq, Eq, Clone)]
enum Ty {
    Str,
    Int,
    Bool,
    Msg(String),
}

/// Expected messages from a schema file: name -> json property -> (repeated, type)
fn expected(schema: &Value) -> BTreeMap<String, BTreeMap<String, (bool, Ty)>> {
    let defs = schema["$defs"].as_object().unwrap();
    let mut out = BTreeMap::new();
    let mut queue: Vec<(String, Value)> =
        defs.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    while let Some((name, def)) = queue.pop() {
        let mut props = serde_json::Map::new();
        if let Some(p) = def.get("properties").and_then(Value::as_object) {
            props.extend(p.clone());
        } else if let Some(branches) = def.get("oneOf").and_then(Value::as_array) {
            for b in branches {
                for (k, v) in b["properties"].as_object().unwrap() {
                    props.entry(k.clone()).or_insert(v.clone());
                }
            }
        } else {
            continue;
        }
        let mut fields = BTreeMap::new();
        for (pn, pv) in props {
            let (rep, ty) = prop_type(defs, &pv, &name, &pn, &mut queue);
            fields.insert(pn, (rep, ty));
        }
        out.insert(name, fields);
    }
    out
}

fn prop_type(
    defs: &serde_json::Map<String, Value>,
    node: &Value,
    owner: &str,
    prop: &str,
    queue: &mut Vec<(String, Value)>,
) -> (bool, Ty) {
    if let Some(r) = node.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap();
        let target = &defs[name];
        if target.get("properties").is_some() || target.get("oneOf").is_some() {
            return (false, Ty::Msg(name.to_string()));
        }
        return prop_type(defs, target, owner, prop, queue);
    }
    match node.get("type").and_then(Value::as_str) {
        Some("array") => {
            let (_, t) = prop_type(defs, &node["items"], owner, prop, queue);
            (true, t)
        }
        Some("object") => {
            let name = format!("{owner}_{}", prop.replace('$', ""));
            queue.push((name.clone(), node.clone()));
            (false, Ty::Msg(name))
        }
        Some("string") => (false, Ty::Str),
        Some("integer") => (false, Ty::Int),
        Some("boolean") => (false, Ty::Bool),
        other => panic!("{owner}.{prop}: unexpected schema type {other:?}"),
    }
}

fn actual(package: &str) -> BTreeMap<String, BTreeMap<String, (bool, Ty)>> {
    let set = prost_types::FileDescriptorSet::decode(vum_proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut out = BTreeMap::new();
    for file in set.file.iter().filter(|f| f.package() == package) {
        for msg in &file.message_type {
            let mut fields = BTreeMap::new();
            for f in &msg.field {
                let ty = match f.r#type() {
                    Type::String => Ty::Str,
                    Type::Int32 => Ty::Int,
                    Type::Bool => Ty::Bool,
                    Type::Message => Ty::Msg(f.type_name().rsplit('.').next().unwrap().to_string()),
                    other => panic!(
                        "{}.{}: type {other:?} has no VUM JSON form",
                        msg.name(),
                        f.name()
                    ),
                };
                fields.insert(
                    f.json_name().to_string(),
                    (f.label() == Label::Repeated, ty),
                );
            }
            out.insert(msg.name().to_string(), fields);
        }
    }
    out
}

fn check(family: &str) {
    let path = format!(
        "{}/../../schemas/vum-{family}.schema.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let want = expected(&schema);
    let got = actual(&format!("vum.v3.{family}"));
    let mut problems = Vec::new();
    for (msg, fields) in &want {
        match got.get(msg) {
            None => problems.push(format!("schema definition {msg} has no proto message")),
            Some(g) => {
                for (p, t) in fields {
                    match g.get(p) {
                        None => {
                            problems.push(format!("{msg}.{p}: schema property has no proto field"))
                        }
                        Some(gt) if gt != t => {
                            problems.push(format!("{msg}.{p}: schema {t:?} vs proto {gt:?}"))
                        }
                        _ => {}
                    }
                }
                for p in g.keys().filter(|p| !fields.contains_key(*p)) {
                    problems.push(format!("{msg}.{p}: proto field has no schema property"));
                }
            }
        }
    }
    for msg in got.keys().filter(|m| !want.contains_key(*m)) {
        problems.push(format!("proto message {msg} has no schema definition"));
    }
    assert!(
        problems.is_empty(),
        "{family}: proto and schema disagree:\n{}",
        problems.join("\n")
    );
    assert!(want.len() > 30, "suspiciously few messages: {}", want.len());
}

#[test]
fn werkzoekenden_proto_matches_schema() {
    check("werkzoekenden");
}

#[test]
fn vacatures_proto_matches_schema() {
    check("vacatures");
}
