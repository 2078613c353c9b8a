//! The VUM party roles of a call, as metadata, checked against the client certificate.
use crate::error::CallError;
use crate::pki::oin_of;
use tonic::metadata::MetadataMap;
use tonic::{Code, Request, Status};
use tonic_types::{ErrorDetails, StatusExt};

use vum::parties::HeaderError;
pub use vum::parties::{
    is_canonical_uuid, is_oin, shown, BERICHT_VERSIE, FROM, MAX_HEADER_BYTES, SUWI, TO,
    TRANSACTION, VERSION, VIA,
};

/// Who is calling, established from the certificate and the checked metadata.
#[derive(Debug, Clone)]
pub struct Parties {
    /// OIN in the client certificate (= viaParty)
    pub cert_oin: String,
    /// fromParty: the controller the call is made for
    pub from: String,
    /// toParty: the node called
    pub to: String,
    /// whether the call claims SUWI (`x-vum-suwiparty`)
    pub suwi: bool,
    /// the call's transaction id (a UUID)
    pub transaction_id: String,
}

/// INVALID_ARGUMENT with a google.rpc.BadRequest listing each field and why.
pub fn bad_request(message: String, violations: Vec<(String, String)>) -> Status {
    let mut details = ErrorDetails::new();
    for (field, why) in violations {
        details.add_bad_request_violation(field, why);
    }
    Status::with_error_details(Code::InvalidArgument, message, details)
}

/// A metadata entry that is missing or wrong, as a field violation on that entry.
pub fn bad_header(e: HeaderError) -> Status {
    let message = e.to_string();
    bad_request(message.clone(), vec![(e.header.to_string(), message)])
}

/// The OIN of the TLS client certificate of this request.
pub fn cert_oin<T>(req: &Request<T>) -> Result<String, CallError> {
    let certs = req.peer_certs().ok_or(CallError::NoCertificate)?;
    let leaf = certs.first().ok_or(CallError::NoCertificate)?;
    oin_of(leaf.as_ref()).ok_or(CallError::NoOin)
}

/// Check the party metadata against the certificate and this node's OIN.
pub fn check<T>(req: &Request<T>, own_oin: &str) -> Result<Parties, CallError> {
    check_metadata(req.metadata(), cert_oin(req)?, own_oin)
}

/// Check the party metadata against the certificate's OIN (already read) and this node's OIN:
/// the guard's reading of gRPC metadata (`guard.rs`), for callers outside the guard.
pub fn check_metadata(
    md: &MetadataMap,
    cert_oin: String,
    own_oin: &str,
) -> Result<Parties, CallError> {
    crate::guard::parties_of(md, vum::parties::Dialect::Grpc, cert_oin, own_oin)
}

/// Put the party metadata on an outgoing request.
pub fn attach<T>(
    req: &mut Request<T>,
    from: &str,
    via: &str,
    to: &str,
    suwi: bool,
    transaction_id: &str,
) {
    let md = req.metadata_mut();
    for (k, v) in [
        (FROM, from),
        (VIA, via),
        (TO, to),
        (SUWI, if suwi { "true" } else { "false" }),
        (VERSION, BERICHT_VERSIE),
        (TRANSACTION, transaction_id),
    ] {
        if let Ok(v) = v.parse() {
            md.insert(k, v);
        }
    }
}
