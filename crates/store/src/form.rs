//! The one stored form of a record: its protobuf encoding, plus what protobuf cannot carry.
//!
//! Protobuf (proto3) does not tell an explicit empty value (`null`, `""`, `[]`) from an absent one,
//! and the VUM documents use both. So a record is stored as the protobuf encoding of its document
//! (sent as is by the gRPC detail and the feed) and, only when the JSON derived from it is not the
//! document, a JSON Patch (RFC 6902, the `json-patch` crate) that turns the derived JSON back into
//! the document as it was given. The JSON form is `serde_json`'s compact text of that value (keys in
//! sorted order), byte for byte what the store held as `doc` before this form.
use crate::StoreError;
use prost::Message;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use vum::Kind;

/// A document as it is stored: `pb` always, `extra` when the derived JSON needs patching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredForm {
    /// The protobuf encoding (vum.v3 `Werkzoekende` or `Vacature`).
    pub pb: Vec<u8>,
    /// JSON Patch from the JSON derived from `pb` to the document; None when it is the identity.
    pub extra: Option<Vec<u8>>,
}

fn corrupt(id: &str, why: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(id.into(), serde::de::Error::custom(why))
}

fn encode_as<M: Message + Serialize + for<'de> Deserialize<'de>>(
    doc: &Value,
) -> Option<StoredForm> {
    // a document that does not fit is only a None here: no error message is made
    let msg = M::deserialize(crate::value_serde::Quiet(doc)).ok()?;
    // most documents come back as they are: comparing the serialization with the document as it
    // goes is cheaper than building the derived value, and that is cheaper than diffing
    let extra = if crate::value_serde::same_as(&msg, doc) {
        None
    } else {
        let derived = serde_json::to_value(&msg).ok()?;
        let patch = json_patch::diff(&derived, doc);
        (!patch.0.is_empty())
            .then(|| serde_json::to_vec(&patch))
            .transpose()
            .ok()?
    };
    Some(StoredForm {
        pb: msg.encode_to_vec(),
        extra,
    })
}

fn decode_as<M: Message + Default + Serialize>(
    id: &str,
    pb: &[u8],
    extra: Option<&[u8]>,
) -> Result<Value, StoreError> {
    let msg = M::decode(pb).map_err(|e| corrupt(id, format!("stored protobuf: {e}")))?;
    let mut doc = serde_json::to_value(&msg).map_err(|e| StoreError::Corrupt(id.into(), e))?;
    if let Some(extra) = extra {
        let patch: json_patch::Patch =
            serde_json::from_slice(extra).map_err(|e| StoreError::Corrupt(id.into(), e))?;
        json_patch::patch(&mut doc, &patch)
            .map_err(|e| corrupt(id, format!("stored patch: {e}")))?;
    }
    Ok(doc)
}

impl StoredForm {
    /// The stored form of a document of `kind`. None for kinds without a protobuf message, or a
    /// document the message cannot hold (which validation prevents): those are stored as JSON.
    pub fn encode(kind: Kind, doc: &Value) -> Option<StoredForm> {
        match kind {
            Kind::Werkzoekende => encode_as::<vum_proto::werkzoekenden::Werkzoekende>(doc),
            Kind::Vacature => encode_as::<vum_proto::vacatures::Vacature>(doc),
            _ => None,
        }
    }

    /// Only the protobuf encoding of a document of `kind` (what a reader of a row stored before
    /// the protobuf column needs): no derived JSON, no patch.
    pub fn pb(kind: Kind, doc: &Value) -> Option<Vec<u8>> {
        fn encode<M: Message + for<'de> Deserialize<'de>>(doc: &Value) -> Option<Vec<u8>> {
            M::deserialize(crate::value_serde::Quiet(doc))
                .ok()
                .map(|m| m.encode_to_vec())
        }
        match kind {
            Kind::Werkzoekende => encode::<vum_proto::werkzoekenden::Werkzoekende>(doc),
            Kind::Vacature => encode::<vum_proto::vacatures::Vacature>(doc),
            _ => None,
        }
    }

    /// The document back from its stored parts (`id` names the record in an error).
    pub fn decode(
        kind: Kind,
        id: &str,
        pb: &[u8],
        extra: Option<&[u8]>,
    ) -> Result<Value, StoreError> {
        match kind {
            Kind::Werkzoekende => {
                decode_as::<vum_proto::werkzoekenden::Werkzoekende>(id, pb, extra)
            }
            Kind::Vacature => decode_as::<vum_proto::vacatures::Vacature>(id, pb, extra),
            _ => Err(corrupt(id, format!("no stored form for {}", kind.name()))),
        }
    }
}

/// The (doc, pb, extra) columns of a records row.
pub(crate) type StoredColumns = (Option<String>, Option<Vec<u8>>, Option<Vec<u8>>);

/// A record's stored columns as read: the JSON of a row written before the one stored form, or
/// the stored form.
pub(crate) struct Stored {
    pub doc: Option<String>,
    pub pb: Option<Vec<u8>>,
    pub extra: Option<Vec<u8>>,
}

impl Stored {
    /// The JSON text: the old row's own, or derived from the stored form. None for a tombstone.
    pub fn json_text(self, kind: Kind, id: &str) -> Result<Option<String>, StoreError> {
        Ok(match (self.doc, self.pb) {
            (Some(t), _) => Some(t),
            (None, Some(pb)) => {
                Some(StoredForm::decode(kind, id, &pb, self.extra.as_deref())?.to_string())
            }
            (None, None) => None,
        })
    }

    /// The document: the old row's JSON parsed, or derived from the stored form.
    pub fn json(self, kind: Kind, id: &str) -> Result<Option<Value>, StoreError> {
        Ok(match (self.doc, self.pb) {
            (Some(t), _) => {
                Some(serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(id.into(), e))?)
            }
            (None, Some(pb)) => Some(StoredForm::decode(kind, id, &pb, self.extra.as_deref())?),
            (None, None) => None,
        })
    }
}
