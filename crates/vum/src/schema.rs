//! Compiles the committed JSON Schemas (`schemas/`) into a compact tree the streaming validator
//! walks. The schemas are the single source of the contract rules: nothing here restates a length,
//! enum or pattern. Every node remembers the keyword location each rule comes from; that location
//! is the rule id a finding carries (`werkzoekenden#Postcode/pattern`).
use crate::kind::{Family, Kind};
use crate::rules::{object_hooks, string_hooks, ObjectHook, StringHook};
use regex::Regex;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::OnceLock;

pub(crate) type NodeId = usize;
pub(crate) type RuleId = u32;

#[derive(Debug)]
pub(crate) struct Node {
    pub ty: Ty,
    /// rule of the `type` keyword
    pub type_rule: RuleId,
}

#[derive(Debug)]
pub(crate) enum Ty {
    Object(ObjectNode),
    Array { items: NodeId },
    Str(StrNode),
    Int(IntNode),
    Bool,
}

#[derive(Debug)]
pub(crate) struct ObjectNode {
    pub props: Vec<(Box<str>, NodeId)>,
    pub required: Vec<usize>,
    pub required_rule: Option<RuleId>,
    /// `additionalProperties: false` and its rule
    pub closed: Option<RuleId>,
    pub hooks: Vec<ObjectHook>,
    /// property indexes whose scalar value the hooks read
    pub captures: u64,
}

#[derive(Debug, Default)]
pub(crate) struct StrNode {
    pub max_len: Option<(usize, RuleId)>,
    pub pattern: Option<(Regex, RuleId)>,
    pub format: Option<(Format, RuleId)>,
    pub enumeration: Option<(Vec<Box<str>>, RuleId)>,
    pub hooks: Vec<StringHook>,
}

#[derive(Debug, Default)]
pub(crate) struct IntNode {
    pub enumeration: Option<(Vec<i64>, RuleId)>,
    pub minimum: Option<(i64, RuleId)>,
    pub maximum: Option<(i64, RuleId)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Date,
    Email,
    Uri,
    UriReference,
}

/// All compiled document kinds of one family, plus the rule table.
#[derive(Debug)]
pub(crate) struct Compiled {
    pub nodes: Vec<Node>,
    pub rules: Vec<String>,
    pub roots: HashMap<Kind, NodeId>,
}

/// Why an embedded schema could not be compiled (a build defect, never caused by input).
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The schema uses a construct the compiler does not support.
    #[error("schema {family}: {location}: {message}")]
    Unsupported {
        /// The family's name ([`Family::name`]).
        family: &'static str,
        /// Where in the schema, as a `$defs` keyword location.
        location: String,
        /// What is not supported.
        message: String,
    },
}

const KNOWN: [&str; 12] = [
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "format",
    "$ref",
];
const IGNORED: [&str; 2] = ["description", "example"];

struct Compiler<'a> {
    family: Family,
    defs: &'a Map<String, Value>,
    out: Compiled,
    memo: HashMap<String, NodeId>,
}

impl Compiler<'_> {
    fn rule(&mut self, location: &str, keyword: &str) -> RuleId {
        let id = format!("{}#{location}/{keyword}", self.family.name());
        self.out.rules.push(id);
        (self.out.rules.len() - 1) as RuleId
    }

    fn err(&self, location: &str, message: impl Into<String>) -> SchemaError {
        SchemaError::Unsupported {
            family: self.family.name(),
            location: location.into(),
            message: message.into(),
        }
    }

    fn def(&mut self, name: &str) -> Result<NodeId, SchemaError> {
        if let Some(id) = self.memo.get(name) {
            return Ok(*id);
        }
        let schema = self
            .defs
            .get(name)
            .ok_or_else(|| self.err(name, "unknown $ref target"))?;
        let id = self.node(schema, name, Some(name))?;
        self.memo.insert(name.to_string(), id);
        Ok(id)
    }

    fn node(
        &mut self,
        s: &Value,
        loc: &str,
        def_name: Option<&str>,
    ) -> Result<NodeId, SchemaError> {
        let s = s
            .as_object()
            .ok_or_else(|| self.err(loc, "schema is not an object"))?;
        for k in s.keys() {
            if !KNOWN.contains(&k.as_str()) && !IGNORED.contains(&k.as_str()) {
                return Err(self.err(
                    loc,
                    format!("keyword '{k}' is not supported by the streaming validator"),
                ));
            }
        }
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            let target = r
                .strip_prefix("#/$defs/")
                .ok_or_else(|| self.err(loc, "only local $refs"))?;
            let base = self.def(target)?;
            let extra: Vec<&String> = s
                .keys()
                .filter(|k| !IGNORED.contains(&k.as_str()) && *k != "$ref")
                .collect();
            let hooks = def_name
                .map(|n| string_hooks(self.family, n))
                .unwrap_or_default();
            if extra.is_empty() && hooks.is_empty() {
                return Ok(base);
            }
            // $ref with sibling keywords (e.g. Emailadres: String320 + format): overlay them
            if extra.iter().any(|k| *k != "format") {
                return Err(self.err(loc, "only 'format' may accompany $ref"));
            }
            let Ty::Str(b) = &self.out.nodes[base].ty else {
                return Err(self.err(loc, "format on a non-string"));
            };
            let mut st = StrNode {
                max_len: b.max_len,
                pattern: b.pattern.clone(),
                format: b.format,
                enumeration: b.enumeration.clone(),
                hooks: b.hooks.clone(),
            };
            let type_rule = self.out.nodes[base].type_rule;
            if s.contains_key("format") {
                st.format = Some((self.format(s, loc)?, self.rule(loc, "format")));
            }
            st.hooks.extend(hooks);
            return Ok(self.push(Node {
                ty: Ty::Str(st),
                type_rule,
            }));
        }
        let ty = s
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| self.err(loc, "missing type"))?;
        let type_rule = self.rule(loc, "type");
        let node = match ty {
            "object" => {
                let mut props = Vec::new();
                let mut names: Vec<&str> = Vec::new();
                if let Some(p) = s.get("properties").and_then(Value::as_object) {
                    for (name, sub) in p {
                        let id = self.node(sub, &format!("{loc}/properties/{name}"), None)?;
                        props.push((name.clone().into_boxed_str(), id));
                        names.push(name);
                    }
                }
                if props.len() > 64 {
                    return Err(self.err(loc, "more than 64 properties"));
                }
                let mut required = Vec::new();
                for r in s
                    .get("required")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let r = r.as_str().unwrap_or_default();
                    let i = names.iter().position(|n| *n == r).ok_or_else(|| {
                        self.err(loc, format!("required '{r}' is not a property"))
                    })?;
                    required.push(i);
                }
                let required_rule = (!required.is_empty()).then(|| self.rule(loc, "required"));
                let closed = match s.get("additionalProperties") {
                    Some(Value::Bool(false)) => Some(self.rule(loc, "additionalProperties")),
                    None | Some(Value::Bool(true)) => None,
                    Some(_) => return Err(self.err(loc, "additionalProperties must be a boolean")),
                };
                let hooks = def_name
                    .map(|n| object_hooks(self.family, n))
                    .unwrap_or_default();
                let mut captures = 0u64;
                for h in &hooks {
                    for want in h.captures() {
                        if let Some(i) = names.iter().position(|n| *n == want) {
                            captures |= 1 << i;
                        }
                    }
                }
                Ty::Object(ObjectNode {
                    props,
                    required,
                    required_rule,
                    closed,
                    hooks,
                    captures,
                })
            }
            "array" => {
                let items = s
                    .get("items")
                    .ok_or_else(|| self.err(loc, "array without items"))?;
                Ty::Array {
                    items: self.node(items, &format!("{loc}/items"), None)?,
                }
            }
            "string" => {
                let mut st = StrNode::default();
                if let Some(n) = s.get("maxLength").and_then(Value::as_u64) {
                    st.max_len = Some((n as usize, self.rule(loc, "maxLength")));
                }
                if let Some(p) = s.get("pattern").and_then(Value::as_str) {
                    let re = Regex::new(p).map_err(|e| self.err(loc, format!("pattern: {e}")))?;
                    st.pattern = Some((re, self.rule(loc, "pattern")));
                }
                if s.contains_key("format") {
                    st.format = Some((self.format(s, loc)?, self.rule(loc, "format")));
                }
                if let Some(e) = s.get("enum").and_then(Value::as_array) {
                    let vals = e.iter().filter_map(Value::as_str).map(Into::into).collect();
                    st.enumeration = Some((vals, self.rule(loc, "enum")));
                }
                if let Some(name) = def_name {
                    st.hooks = string_hooks(self.family, name);
                }
                Ty::Str(st)
            }
            "integer" => {
                let mut it = IntNode::default();
                if let Some(e) = s.get("enum").and_then(Value::as_array) {
                    it.enumeration = Some((
                        e.iter().filter_map(Value::as_i64).collect(),
                        self.rule(loc, "enum"),
                    ));
                }
                if let Some(n) = s.get("minimum").and_then(Value::as_i64) {
                    it.minimum = Some((n, self.rule(loc, "minimum")));
                }
                if let Some(n) = s.get("maximum").and_then(Value::as_i64) {
                    it.maximum = Some((n, self.rule(loc, "maximum")));
                }
                Ty::Int(it)
            }
            "boolean" => Ty::Bool,
            other => return Err(self.err(loc, format!("type '{other}' is not supported"))),
        };
        Ok(self.push(Node {
            ty: node,
            type_rule,
        }))
    }

    fn format(&self, s: &Map<String, Value>, loc: &str) -> Result<Format, SchemaError> {
        match s.get("format").and_then(Value::as_str) {
            Some("date") => Ok(Format::Date),
            Some("email") => Ok(Format::Email),
            Some("uri") => Ok(Format::Uri),
            Some("uri-reference") => Ok(Format::UriReference),
            other => Err(self.err(loc, format!("format {other:?} is not supported"))),
        }
    }

    fn push(&mut self, n: Node) -> NodeId {
        self.out.nodes.push(n);
        self.out.nodes.len() - 1
    }
}

/// The schema of a family as JSON (parsed once).
pub(crate) fn schema_json(family: Family) -> &'static Value {
    static W: OnceLock<Value> = OnceLock::new();
    static V: OnceLock<Value> = OnceLock::new();
    let cell = match family {
        Family::Werkzoekenden => &W,
        Family::Vacatures => &V,
    };
    cell.get_or_init(|| {
        serde_json::from_str(family.schema_text()).expect("embedded schema is valid JSON")
    })
}

pub(crate) fn compile(family: Family) -> Result<Compiled, SchemaError> {
    let schema = schema_json(family);
    let defs = schema["$defs"]
        .as_object()
        .expect("embedded schema has $defs");
    let mut c = Compiler {
        family,
        defs,
        out: Compiled {
            nodes: Vec::new(),
            rules: Vec::new(),
            roots: HashMap::new(),
        },
        memo: HashMap::new(),
    };
    for kind in Kind::ALL
        .into_iter()
        .filter(|k| k.family() == family && !k.is_query())
    {
        let id = c.def(kind.root_def())?;
        c.out.roots.insert(kind, id);
    }
    Ok(c.out)
}

/// The compiled schemas, built on first use. The schemas are part of the binary, so a failure here
/// is a build defect, which the test suite catches; it never depends on input.
pub(crate) fn compiled(family: Family) -> &'static Compiled {
    static W: OnceLock<Compiled> = OnceLock::new();
    static V: OnceLock<Compiled> = OnceLock::new();
    let cell = match family {
        Family::Werkzoekenden => &W,
        Family::Vacatures => &V,
    };
    cell.get_or_init(|| {
        compile(family).unwrap_or_else(|e| panic!("embedded schema does not compile: {e}"))
    })
}
