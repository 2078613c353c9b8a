//! Two shortcuts for making a record's stored form from its `serde_json::Value`, both exact:
//!
//! - [`Quiet`] deserializes a message from a `&Value` like `serde_json`'s own deserializer, with
//!   an error that carries no message. pbjson reads every number through an untagged enum that first
//!   tries a string, and with `serde_json::Error` each of those failed tries formats and allocates a
//!   message nobody reads (the store only needs to know that a document does not fit).
//! - [`same_as`] tells whether serializing a message gives exactly a `Value`, the answer of
//!   `serde_json::to_value(msg)? == *doc`, without building the value: it walks the serialization
//!   and the document together and stops at the first difference.
//!
//! Hand-written because `serde_json` offers neither (its `Value` deserializer's error type is fixed,
//! and it has no comparing serializer); both are checked against `serde_json` in the tests below, on
//! official werkzoekenden and vacatures and changes of them.
use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{IntoDeserializer, Visitor};
use serde::ser::{self, Impossible, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// A document that does not fit (deserializing) or is not the same (comparing); no message.
#[derive(Debug)]
pub(crate) struct Differs;

impl fmt::Display for Differs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the document does not fit the message")
    }
}

impl std::error::Error for Differs {}

impl serde::de::Error for Differs {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Differs
    }
}

impl ser::Error for Differs {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Differs
    }
}

/// `&Value` as a deserializer whose error is [`Differs`].
#[derive(Clone, Copy)]
pub(crate) struct Quiet<'de>(pub(crate) &'de Value);

impl<'de> IntoDeserializer<'de, Differs> for Quiet<'de> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> serde::Deserializer<'de> for Quiet<'de> {
    type Error = Differs;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Differs> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else {
                    visitor.visit_f64(n.as_f64().ok_or(Differs)?)
                }
            }
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Array(items) => {
                let mut seq = SeqDeserializer::new(items.iter().map(Quiet));
                let v = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(v)
            }
            Value::Object(map) => {
                let mut m = MapDeserializer::new(map.iter().map(|(k, v)| (k.as_str(), Quiet(v))));
                let v = visitor.visit_map(&mut m)?;
                m.end()?;
                Ok(v)
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Differs> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Differs> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Differs> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct enum identifier
    }
}

/// Whether `serde_json::to_value(msg)` would be exactly `doc` (an error in serializing is "no").
pub(crate) fn same_as<T: Serialize + ?Sized>(msg: &T, doc: &Value) -> bool {
    msg.serialize(SameAs(doc)).is_ok()
}

/// A serializer that succeeds only when what it is given serializes to exactly its value.
struct SameAs<'a>(&'a Value);

fn check(same: bool) -> Result<(), Differs> {
    if same {
        Ok(())
    } else {
        Err(Differs)
    }
}

// `Value::from(number)` allocates nothing and is exactly what `serde_json`'s value serializer
// builds; `Value`'s `PartialEq<f64>` would call the integer 25 equal to 25.0, which it is not
#[allow(clippy::cmp_owned)]
impl<'a> ser::Serializer for SameAs<'a> {
    type Ok = ();
    type Error = Differs;
    type SerializeSeq = SameSeq<'a>;
    type SerializeTuple = SameSeq<'a>;
    type SerializeTupleStruct = SameSeq<'a>;
    type SerializeTupleVariant = Impossible<(), Differs>;
    type SerializeMap = SameMap<'a>;
    type SerializeStruct = SameMap<'a>;
    type SerializeStructVariant = Impossible<(), Differs>;

    // numbers compare as `serde_json`'s value serializer makes them: integers as integers (a
    // document's 1.0 is not the message's 1), floats through `Value::from` (NaN is null)
    fn serialize_bool(self, v: bool) -> Result<(), Differs> {
        check(*self.0 == Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<(), Differs> {
        check(*self.0 == Value::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<(), Differs> {
        check(*self.0 == Value::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<(), Differs> {
        check(*self.0 == Value::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<(), Differs> {
        check(*self.0 == Value::from(v))
    }
    fn serialize_u8(self, v: u8) -> Result<(), Differs> {
        check(*self.0 == Value::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<(), Differs> {
        check(*self.0 == Value::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<(), Differs> {
        check(*self.0 == Value::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<(), Differs> {
        check(*self.0 == Value::from(v))
    }
    fn serialize_f32(self, v: f32) -> Result<(), Differs> {
        check(*self.0 == Value::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), Differs> {
        check(*self.0 == Value::from(v))
    }
    fn serialize_char(self, v: char) -> Result<(), Differs> {
        check(self.0.as_str() == Some(v.encode_utf8(&mut [0; 4])))
    }
    fn serialize_str(self, v: &str) -> Result<(), Differs> {
        check(self.0.as_str() == Some(v))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Differs> {
        let Value::Array(items) = self.0 else {
            return Err(Differs);
        };
        check(items.len() == v.len() && items.iter().zip(v).all(|(i, b)| *i == Value::from(*b)))
    }
    fn serialize_none(self) -> Result<(), Differs> {
        check(self.0.is_null())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<(), Differs> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Differs> {
        check(self.0.is_null())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Differs> {
        check(self.0.is_null())
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), Differs> {
        check(self.0.as_str() == Some(variant))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<(), Differs> {
        v.serialize(self)
    }
    // the messages have no enum variants with data: whatever does, counts as different (the
    // caller then compares the built value)
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Differs> {
        Err(Differs)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<SameSeq<'a>, Differs> {
        match self.0 {
            Value::Array(items) => Ok(SameSeq(items.iter())),
            _ => Err(Differs),
        }
    }
    fn serialize_tuple(self, len: usize) -> Result<SameSeq<'a>, Differs> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<SameSeq<'a>, Differs> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Differs> {
        Err(Differs)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<SameMap<'a>, Differs> {
        match self.0 {
            Value::Object(map) => Ok(SameMap {
                map,
                seen: 0,
                next: None,
            }),
            _ => Err(Differs),
        }
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<SameMap<'a>, Differs> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Differs> {
        Err(Differs)
    }
}

/// The elements of an array, compared in order.
struct SameSeq<'a>(std::slice::Iter<'a, Value>);

impl SameSeq<'_> {
    fn next<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Differs> {
        v.serialize(SameAs(self.0.next().ok_or(Differs)?))
    }
    fn done(mut self) -> Result<(), Differs> {
        check(self.0.next().is_none())
    }
}

impl ser::SerializeSeq for SameSeq<'_> {
    type Ok = ();
    type Error = Differs;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Differs> {
        self.next(v)
    }
    fn end(self) -> Result<(), Differs> {
        self.done()
    }
}

impl ser::SerializeTuple for SameSeq<'_> {
    type Ok = ();
    type Error = Differs;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Differs> {
        self.next(v)
    }
    fn end(self) -> Result<(), Differs> {
        self.done()
    }
}

impl ser::SerializeTupleStruct for SameSeq<'_> {
    type Ok = ();
    type Error = Differs;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Differs> {
        self.next(v)
    }
    fn end(self) -> Result<(), Differs> {
        self.done()
    }
}

/// The members of an object: each key serialized must be in the object with the same value, and
/// as many keys as the object has (serializers of maps and structs give each key once).
struct SameMap<'a> {
    map: &'a Map<String, Value>,
    seen: usize,
    next: Option<&'a Value>,
}

impl<'a> SameMap<'a> {
    fn member<T: Serialize + ?Sized>(&mut self, key: &str, v: &T) -> Result<(), Differs> {
        let doc = self.map.get(key).ok_or(Differs)?;
        self.seen += 1;
        v.serialize(SameAs(doc))
    }
    fn done(self) -> Result<(), Differs> {
        check(self.seen == self.map.len())
    }
}

impl ser::SerializeMap for SameMap<'_> {
    type Ok = ();
    type Error = Differs;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Differs> {
        // string keys only (the messages have none other): any other counts as different
        let Ok(Value::String(key)) = key.serialize(serde_json::value::Serializer) else {
            return Err(Differs);
        };
        self.next = Some(self.map.get(&key).ok_or(Differs)?);
        self.seen += 1;
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Differs> {
        v.serialize(SameAs(self.next.take().ok_or(Differs)?))
    }
    fn end(self) -> Result<(), Differs> {
        self.done()
    }
}

impl ser::SerializeStruct for SameMap<'_> {
    type Ok = ();
    type Error = Differs;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), Differs> {
        self.member(key, v)
    }
    fn end(self) -> Result<(), Differs> {
        self.done()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;
    use vum_proto::vacatures::Vacature;
    use vum_proto::werkzoekenden::Werkzoekende;

    /// The standard's test data: from $MATCHGATE_SHARED, or ../shared beside the project.
    fn official(file: &str) -> Vec<Value> {
        let base = std::env::var("MATCHGATE_SHARED").unwrap_or_else(|_| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared").to_string()
        });
        let path = format!("{base}/vum/testdata/{file}");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        match serde_json::from_str(&text) {
            Ok(Value::Array(docs)) => docs,
            _ => panic!("{path}: not a JSON array"),
        }
    }

    /// What the shortcuts must answer: `serde_json`'s own.
    fn agree<M>(doc: &Value)
    where
        M: for<'de> Deserialize<'de> + Serialize + PartialEq + fmt::Debug,
    {
        let quiet = M::deserialize(Quiet(doc)).ok();
        let strict = M::deserialize(doc).ok();
        assert_eq!(quiet, strict, "{doc}");
        if let Some(msg) = strict {
            let built = serde_json::to_value(&msg).unwrap();
            assert_eq!(same_as(&msg, doc), built == *doc, "{doc}");
        }
    }

    #[test]
    fn the_shortcuts_answer_what_serde_json_answers() {
        let mut docs = official("werkzoekenden-1000.json");
        docs.truncate(200);
        let vacatures = official("vacatures-93.json");
        let base = json!({
            "idWerkzoekende": "w1",
            "flexibiliteit": {"codeRegiostraal": 1, "maximaleReisafstand": 25},
            "emailadres": "a@b.nl",
            "beroep": [{"codeBeroepsnaam": "1234", "omschrijvingBeroepsnaam": "x"}]
        });
        docs.push(base.clone());
        // each change of the document: an explicit empty, an extra member, a number as float or
        // string, a member of the wrong type, a missing member
        let changes: Vec<(&str, Option<Value>)> = vec![
            ("/emailadres", Some(Value::Null)),
            ("/emailadres", Some(json!(""))),
            ("/beroep", Some(json!([]))),
            ("/onbekend", Some(json!(1))),
            ("/flexibiliteit/maximaleReisafstand", Some(json!(25.0))),
            ("/flexibiliteit/maximaleReisafstand", Some(json!("25"))),
            ("/flexibiliteit/maximaleReisafstand", Some(json!(true))),
            ("/flexibiliteit/maximaleReisafstand", Some(json!(-3))),
            ("/idWerkzoekende", Some(json!(7))),
            ("/beroep", None),
            ("/beroep/0/codeBeroepsnaam", Some(json!(["1234"]))),
        ];
        let all = docs
            .iter()
            .map(|d| (d, true))
            .chain(vacatures.iter().map(|d| (d, false)));
        for (doc, werkzoekende) in all {
            let agree = if werkzoekende {
                agree::<Werkzoekende>
            } else {
                agree::<Vacature>
            };
            agree(doc);
            for (at, value) in &changes {
                let mut d = doc.clone();
                let (parent, key) = at.rsplit_once('/').unwrap();
                let target = match d.pointer_mut(parent) {
                    Some(Value::Object(m)) => m,
                    Some(Value::Array(items)) => match items.first_mut() {
                        Some(Value::Object(m)) if key == "codeBeroepsnaam" => m,
                        _ => continue,
                    },
                    _ => continue,
                };
                match value {
                    Some(v) => target.insert(key.to_string(), v.clone()),
                    None => target.remove(key),
                };
                agree(&d);
            }
        }
    }
}
