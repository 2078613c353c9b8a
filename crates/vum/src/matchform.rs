//! The match form of a document: what a selection result may carry. Projection keeps exactly the
//! properties the standard's match definition has (`MPWerkzoekendeMatch`, `MPVacatureMatch`) at
//! every level, so contact details, the LDR indication, personal presentation, addresses beyond
//! the postcode and employer contacts cannot come along. The store then parses the result into the
//! protobuf match type, which has no field for them either.
use crate::kind::{Family, Kind};
use crate::schema::schema_json;
use serde_json::{Map, Value};

fn resolve<'a>(defs: &'a Value, mut node: &'a Value) -> &'a Value {
    while let Some(r) = node.get("$ref").and_then(Value::as_str) {
        node = &defs[r.rsplit('/').next().unwrap_or_default()];
    }
    node
}

fn project_node(defs: &Value, schema: &Value, v: &Value) -> Option<Value> {
    let schema = resolve(defs, schema);
    match v {
        Value::Object(o) => {
            let props = schema.get("properties")?.as_object()?;
            let out: Map<String, Value> = o
                .iter()
                .filter_map(|(k, x)| Some((k.clone(), project_node(defs, props.get(k)?, x)?)))
                .collect();
            Some(Value::Object(out))
        }
        Value::Array(a) => {
            let items = schema.get("items")?;
            Some(Value::Array(
                a.iter()
                    .filter_map(|x| project_node(defs, items, x))
                    .collect(),
            ))
        }
        scalar => schema.get("properties").is_none().then(|| scalar.clone()),
    }
}

/// Project a detail document (`werkzoekende` / `vacature`) onto the source's match form.
pub fn to_match(kind: Kind, doc: &Value) -> Value {
    let (family, def) = match kind.family() {
        Family::Werkzoekenden => (Family::Werkzoekenden, "MPWerkzoekendeMatch"),
        Family::Vacatures => (Family::Vacatures, "MPVacatureMatch"),
    };
    let schema = schema_json(family);
    let defs = &schema["$defs"];
    project_node(defs, &defs[def], doc).unwrap_or(Value::Object(Map::new()))
}
