//! The streaming validator: a serde `DeserializeSeed` driven by the compiled schema. It reads the
//! JSON once, allocates nothing for valid values except the few a rule has to look at, and records
//! every finding with its JSON pointer. Empty strings, arrays and objects count as absent (VUM
//! koppelvlak README: "JSON properties met een lege waarde moeten als afwezig worden beschouwd").
use crate::finding::{push_token, Finding, Severity};
use crate::rules::{run_object_hook, run_string_hook, Facts, HookFinding, Scalar};
use crate::schema::{Compiled, Format, NodeId, RuleId, Ty};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

#[derive(Clone, Copy)]
enum Seg<'s> {
    Key(&'s str),
    Index(usize),
}

pub(crate) struct Ctx<'s> {
    pub schema: &'s Compiled,
    pub findings: Vec<Finding>,
    pub today: &'s str,
    path: Vec<Seg<'s>>,
    hook_out: Vec<HookFinding>,
}

impl<'s> Ctx<'s> {
    pub fn new(schema: &'s Compiled, today: &'s str) -> Self {
        Ctx {
            schema,
            findings: Vec::new(),
            today,
            path: Vec::with_capacity(8),
            hook_out: Vec::new(),
        }
    }

    fn pointer(&self, extra: Option<&str>) -> String {
        let mut p = String::new();
        for seg in &self.path {
            match seg {
                Seg::Key(k) => push_token(&mut p, k),
                Seg::Index(i) => {
                    p.push('/');
                    p.push_str(&i.to_string());
                }
            }
        }
        if let Some(e) = extra {
            push_token(&mut p, e);
        }
        p
    }

    fn error(&mut self, rule: RuleId, message: String) {
        self.error_at(rule, None, message);
    }

    fn error_at(&mut self, rule: RuleId, extra: Option<&str>, message: String) {
        let pointer = self.pointer(extra);
        self.findings.push(Finding {
            rule: self.schema.rules[rule as usize].clone(),
            severity: Severity::Error,
            pointer,
            message,
        });
    }

    /// A key that occurs twice in one object: JSON leaves its meaning open (RFC 8259 4: names
    /// "SHOULD be unique"; parsers keep the first, the last or both), so a receiver may read a
    /// different value than was validated.
    fn duplicate(&mut self, key: &str) {
        let pointer = self.pointer(Some(key));
        self.findings.push(Finding {
            rule: crate::rules::JSON_DUPLICATE_KEY.to_string(),
            severity: Severity::Error,
            pointer,
            message: format!(
                "property '{}' occurs more than once in this object; receivers may read either value",
                clip(key)
            ),
        });
    }

    fn flush_hooks(&mut self) {
        let out = std::mem::take(&mut self.hook_out);
        for (rule, severity, prop, message) in &out {
            let pointer = self.pointer(*prop);
            self.findings.push(Finding {
                rule: (*rule).to_string(),
                severity: *severity,
                pointer,
                message: message.clone(),
            });
        }
        self.hook_out = out;
        self.hook_out.clear();
    }
}

/// What a value turned out to be, for its parent.
pub(crate) struct Outcome {
    /// false for empty strings, arrays and objects (absent in VUM)
    present: bool,
    captured: Option<Scalar>,
}

const ABSENT: Outcome = Outcome {
    present: false,
    captured: None,
};
const PRESENT: Outcome = Outcome {
    present: true,
    captured: None,
};

pub(crate) struct NodeSeed<'c, 's> {
    pub ctx: &'c mut Ctx<'s>,
    pub node: NodeId,
    pub capture: bool,
}

impl<'de> DeserializeSeed<'de> for NodeSeed<'_, '_> {
    type Value = Outcome;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Outcome, D::Error> {
        d.deserialize_any(self)
    }
}

fn type_name(node: &Ty) -> &'static str {
    match node {
        Ty::Object(_) => "an object",
        Ty::Array { .. } => "an array",
        Ty::Str(_) => "a string",
        Ty::Int(_) => "an integer",
        Ty::Bool => "a boolean",
    }
}

impl NodeSeed<'_, '_> {
    fn wrong_type(self, found: &str) -> Outcome {
        let node = &self.ctx.schema.nodes[self.node];
        let msg = format!("expected {}, found {found}", type_name(&node.ty));
        let rule = node.type_rule;
        self.ctx.error(rule, msg);
        // every keyword is judged on its own (JSON Schema): a value of the wrong type is never
        // one of the enumerated values either
        let enum_rule = match &node.ty {
            Ty::Int(n) => n.enumeration.as_ref().map(|(_, r)| *r),
            Ty::Str(n) => n.enumeration.as_ref().map(|(_, r)| *r),
            _ => None,
        };
        if let Some(r) = enum_rule {
            self.ctx
                .error(r, format!("{found} is not one of the enumerated values"));
        }
        PRESENT
    }

    fn fraction(self, v: f64) -> Outcome {
        let schema = self.ctx.schema;
        let ctx_node = self.node;
        let ctx = &mut *self.ctx;
        if let Ty::Int(n) = &schema.nodes[ctx_node].ty {
            if let Some((min, rule)) = n.minimum {
                if v < min as f64 {
                    ctx.error(rule, format!("{v} is below the minimum {min}"));
                }
            }
            if let Some((max, rule)) = n.maximum {
                if v > max as f64 {
                    ctx.error(rule, format!("{v} is above the maximum {max}"));
                }
            }
        }
        self.wrong_type("a number with a fraction")
    }

    fn int(self, v: i64) -> Outcome {
        let schema = self.ctx.schema;
        let Ty::Int(n) = &schema.nodes[self.node].ty else {
            return self.wrong_type("a number");
        };
        let mut ok = true;
        if let Some((vals, rule)) = &n.enumeration {
            if !vals.contains(&v) {
                ok = false;
                self.ctx.error(*rule, format!("{v} is not one of {vals:?}"));
            }
        }
        if let Some((min, rule)) = n.minimum {
            if v < min {
                ok = false;
                self.ctx
                    .error(rule, format!("{v} is below the minimum {min}"));
            }
        }
        if let Some((max, rule)) = n.maximum {
            if v > max {
                ok = false;
                self.ctx
                    .error(rule, format!("{v} is above the maximum {max}"));
            }
        }
        Outcome {
            present: true,
            captured: (self.capture && ok).then_some(Scalar::Int(v)),
        }
    }

    fn string(self, s: &str) -> Outcome {
        if s.is_empty() {
            return ABSENT;
        }
        let schema = self.ctx.schema;
        let Ty::Str(n) = &schema.nodes[self.node].ty else {
            return self.wrong_type("a string");
        };
        let mut ok = true;
        if let Some((vals, rule)) = &n.enumeration {
            if !vals.iter().any(|v| &**v == s) {
                ok = false;
                self.ctx
                    .error(*rule, format!("'{}' is not one of {vals:?}", clip(s)));
            }
        }
        if let Some((max, rule)) = n.max_len {
            // maxLength counts characters; bytes >= characters, so only count when it matters
            if s.len() > max {
                let chars = s.chars().count();
                if chars > max {
                    ok = false;
                    self.ctx
                        .error(rule, format!("{chars} characters, at most {max} allowed"));
                }
            }
        }
        if let Some((re, rule)) = &n.pattern {
            if !re.is_match(s) {
                ok = false;
                self.ctx.error(
                    *rule,
                    format!("'{}' does not match {}", clip(s), re.as_str()),
                );
            }
        }
        if let Some((fmt, rule)) = n.format {
            if !format_ok(fmt, s) {
                ok = false;
                self.ctx.error(
                    rule,
                    format!("'{}' is not a valid {}", clip(s), format_name(fmt)),
                );
            }
        }
        if ok && !n.hooks.is_empty() {
            for h in &n.hooks {
                run_string_hook(*h, s, &mut self.ctx.hook_out);
            }
            if !self.ctx.hook_out.is_empty() {
                self.ctx.flush_hooks();
            }
        }
        Outcome {
            present: true,
            captured: (self.capture && ok).then(|| Scalar::Str(s.to_string())),
        }
    }
}

fn clip(s: &str) -> String {
    if s.chars().count() <= 60 {
        s.to_string()
    } else {
        let mut c: String = s.chars().take(57).collect();
        c.push_str("...");
        c
    }
}

fn format_name(f: Format) -> &'static str {
    match f {
        Format::Date => "date (YYYY-MM-DD)",
        Format::Email => "e-mail address",
        Format::Uri => "URI",
        Format::UriReference => "URI reference",
    }
}

/// RFC 3339 full-date: YYYY-MM-DD with a real day of that month.
pub fn is_valid_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

fn format_ok(f: Format, s: &str) -> bool {
    match f {
        Format::Date => is_valid_date(s),
        Format::Email => email_address::EmailAddress::is_valid(s),
        Format::Uri => fluent_uri::Uri::parse(s).is_ok(),
        Format::UriReference => fluent_uri::UriRef::parse(s).is_ok(),
    }
}

impl<'de> Visitor<'de> for NodeSeed<'_, '_> {
    type Value = Outcome;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a VUM value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Outcome, E> {
        Ok(match self.ctx.schema.nodes[self.node].ty {
            Ty::Bool => PRESENT,
            _ => self.wrong_type("a boolean"),
        })
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Outcome, E> {
        Ok(self.int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Outcome, E> {
        Ok(match i64::try_from(v) {
            Ok(v) => self.int(v),
            Err(_) => self.int(i64::MAX),
        })
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Outcome, E> {
        // JSON Schema: a number with a zero fractional part is an integer
        if v.fract() == 0.0 && v.abs() < 9.0e15 {
            Ok(self.int(v as i64))
        } else {
            Ok(self.fraction(v))
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Outcome, E> {
        Ok(self.string(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Outcome, E> {
        Ok(self.wrong_type("null"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Outcome, A::Error> {
        let schema = self.ctx.schema;
        let Ty::Array { items } = schema.nodes[self.node].ty else {
            let mut n = 0;
            while seq.next_element::<IgnoredAny>()?.is_some() {
                n += 1;
            }
            return Ok(if n == 0 {
                ABSENT
            } else {
                self.wrong_type("an array")
            });
        };
        let mut i = 0;
        let mut present = false;
        loop {
            self.ctx.path.push(Seg::Index(i));
            let r = seq.next_element_seed(NodeSeed {
                ctx: self.ctx,
                node: items,
                capture: false,
            });
            self.ctx.path.pop();
            match r? {
                Some(o) => present |= o.present,
                None => break,
            }
            i += 1;
        }
        Ok(if present { PRESENT } else { ABSENT })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Outcome, A::Error> {
        let schema = self.ctx.schema;
        let Ty::Object(obj) = &schema.nodes[self.node].ty else {
            let mut n = 0;
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {
                n += 1;
            }
            return Ok(if n == 0 {
                ABSENT
            } else {
                self.wrong_type("an object")
            });
        };
        let mut present = 0u64;
        let mut seen = 0u64;
        let mut unknown = false;
        let mut unknown_seen: Vec<String> = Vec::new();
        let mut captured: Vec<(usize, Scalar)> = Vec::new();
        while let Some(key) = map.next_key_seed(KeySeed { props: &obj.props })? {
            match key {
                Key::Known(i) => {
                    let (name, child) = (&obj.props[i].0, obj.props[i].1);
                    if seen & (1 << i) != 0 {
                        self.ctx.duplicate(name);
                    }
                    seen |= 1 << i;
                    let capture = obj.captures & (1 << i) != 0;
                    self.ctx.path.push(Seg::Key(name));
                    let r = map.next_value_seed(NodeSeed {
                        ctx: self.ctx,
                        node: child,
                        capture,
                    });
                    self.ctx.path.pop();
                    let o = r?;
                    if o.present {
                        present |= 1 << i;
                    }
                    if let Some(v) = o.captured {
                        captured.push((i, v));
                    }
                }
                Key::Unknown(k) => {
                    if unknown_seen.contains(&k) {
                        self.ctx.duplicate(&k);
                    } else {
                        unknown_seen.push(k.clone());
                    }
                    // an unknown property with an empty value is absent, like any other
                    if map.next_value_seed(IsEmpty)? {
                        continue;
                    }
                    unknown = true;
                    if let Some(rule) = obj.closed {
                        self.ctx.error(
                            rule,
                            format!("property '{}' is not in the standard", clip(&k)),
                        );
                    }
                }
            }
        }
        if present == 0 && !unknown {
            return Ok(ABSENT);
        }
        if let Some(rule) = obj.required_rule {
            for &i in &obj.required {
                if present & (1 << i) == 0 {
                    let name = &obj.props[i].0;
                    self.ctx.error(
                        rule,
                        format!("required property '{name}' is missing or empty"),
                    );
                }
            }
        }
        if !obj.hooks.is_empty() {
            let facts = Facts {
                names: &obj.props,
                captured: &captured,
                present,
            };
            for h in &obj.hooks {
                run_object_hook(*h, &facts, self.ctx.today, &mut self.ctx.hook_out);
            }
            if !self.ctx.hook_out.is_empty() {
                self.ctx.flush_hooks();
            }
        }
        Ok(PRESENT)
    }
}

enum Key {
    Known(usize),
    Unknown(String),
}

struct KeySeed<'a> {
    props: &'a [(Box<str>, NodeId)],
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Key;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Key;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a property name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
        Ok(match self.props.iter().position(|(n, _)| &**n == v) {
            Some(i) => Key::Known(i),
            None => Key::Unknown(v.to_string()),
        })
    }
}

/// Consumes a value and tells whether it is empty in the VUM sense (recursively).
struct IsEmpty;

impl<'de> DeserializeSeed<'de> for IsEmpty {
    type Value = bool;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for IsEmpty {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_str<E>(self, v: &str) -> Result<bool, E> {
        Ok(v.is_empty())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let mut empty = true;
        while let Some(e) = seq.next_element_seed(IsEmpty)? {
            empty &= e;
        }
        Ok(empty)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let mut empty = true;
        while map.next_key::<IgnoredAny>()?.is_some() {
            empty &= map.next_value_seed(IsEmpty)?;
        }
        Ok(empty)
    }
}

/// Duplicate keys anywhere in a JSON text, with their pointers (for documents that are parsed into
/// a `serde_json::Value` first, which keeps only the last of them). Syntax errors are left to the
/// parse that follows.
pub(crate) fn duplicate_keys(json: &[u8]) -> Vec<Finding> {
    struct Dup<'a> {
        path: &'a mut Vec<String>,
        out: &'a mut Vec<Finding>,
    }
    impl<'de> DeserializeSeed<'de> for Dup<'_> {
        type Value = ();
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for Dup<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let mut i = 0usize;
            loop {
                self.path.push(i.to_string());
                let r = seq.next_element_seed(Dup {
                    path: &mut *self.path,
                    out: &mut *self.out,
                });
                self.path.pop();
                if r?.is_none() {
                    return Ok(());
                }
                i += 1;
            }
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut keys: Vec<String> = Vec::new();
            while let Some(k) = map.next_key::<String>()? {
                let mut pointer = String::new();
                for seg in self.path.iter() {
                    push_token(&mut pointer, seg);
                }
                push_token(&mut pointer, &k);
                if keys.contains(&k) {
                    self.out.push(Finding {
                        rule: crate::rules::JSON_DUPLICATE_KEY.to_string(),
                        severity: Severity::Error,
                        pointer,
                        message: format!(
                            "property '{}' occurs more than once in this object; receivers may read either value",
                            clip(&k)
                        ),
                    });
                } else {
                    keys.push(k.clone());
                }
                self.path.push(k);
                let r = map.next_value_seed(Dup {
                    path: &mut *self.path,
                    out: &mut *self.out,
                });
                self.path.pop();
                r?;
            }
            Ok(())
        }
    }
    let mut path = Vec::new();
    let mut out = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(json);
    let _ = Dup {
        path: &mut path,
        out: &mut out,
    }
    .deserialize(&mut de);
    out
}
