//! The ids a node derives with its secret: one rule, used by translate (`matchgate ingest`), the
//! node's Push and the Local service. Every id is a prefix of HMAC-SHA256(node secret, parts joined
//! by a 0 byte), so the same secret gives the same ids on every path and no id reveals its input.
//!
//! - the **record id** of an own record: `kind ‖ 0 ‖ local id`, 128 bits, 32 hex digits;
//! - the **pseudonym** an own system sees for a peer's record: `peer OIN ‖ 0 ‖ record id`, 160
//!   bits, 40 hex digits (a different length, so the two never pass for each other).
//!
//! ```
//! use vum::{ids::IdKey, Kind};
//! let key = IdKey::new(b"a node secret of 16+ bytes");
//! let id = key.record_id(Kind::Werkzoekende, "client-42");
//! assert_eq!(id.len(), 32);
//! assert_eq!(id, IdKey::new(b"a node secret of 16+ bytes").record_id(Kind::Werkzoekende, "client-42"));
//! assert_ne!(id, key.record_id(Kind::Vacature, "client-42"));
//! assert_eq!(key.pseudonym("00000001003214345000", &id).len(), 40);
//! ```
use crate::Kind;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The node secret as an HMAC key.
#[derive(Clone)]
pub struct IdKey(Hmac<Sha256>);

impl std::fmt::Debug for IdKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdKey(..)")
    }
}

impl IdKey {
    /// A key from the node secret (any length; nodes require at least 16 bytes).
    pub fn new(secret: &[u8]) -> IdKey {
        // HMAC accepts keys of any length: new_from_slice cannot fail for it
        match <Hmac<Sha256> as Mac>::new_from_slice(secret) {
            Ok(m) => IdKey(m),
            Err(_) => unreachable!("HMAC-SHA256 takes keys of any length"),
        }
    }

    /// HMAC-SHA256 of the parts joined by a 0 byte.
    pub fn keyed(&self, parts: &[&str]) -> [u8; 32] {
        let mut m = self.0.clone();
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                m.update(&[0]);
            }
            m.update(p.as_bytes());
        }
        m.finalize().into_bytes().into()
    }

    /// The 128-bit record id of an own record, as bytes.
    pub fn record_id_bytes(&self, kind: Kind, local_id: &str) -> [u8; 16] {
        let h = self.keyed(&[kind.name(), local_id]);
        let mut id = [0u8; 16];
        id.copy_from_slice(&h[..16]);
        id
    }

    /// The record id of an own record: 32 hex digits.
    pub fn record_id(&self, kind: Kind, local_id: &str) -> String {
        hex::encode(self.record_id_bytes(kind, local_id))
    }

    /// The pseudonym an own system sees for record `id` of peer `peer_oin`: 40 hex digits.
    pub fn pseudonym(&self, peer_oin: &str, id: &str) -> String {
        hex::encode(&self.keyed(&[peer_oin, id])[..20])
    }
}
