//! The VUM party roles of a call, as metadata, checked against the client certificate.
use crate::pki::oin_of;
use tonic::metadata::MetadataMap;
use tonic::{Code, Request, Status};
use tonic_types::{ErrorDetails, StatusExt};

pub const FROM: &str = "x-vum-fromparty";
pub const VIA: &str = "x-vum-viaparty";
pub const TO: &str = "x-vum-toparty";
pub const SUWI: &str = "x-vum-suwiparty";
pub const VERSION: &str = "x-vum-berichtversie";
pub const TRANSACTION: &str = "x-transaction-id";
pub const BERICHT_VERSIE: &str = "3.0.0";

/// Who is calling, established from the certificate and the checked metadata.
#[derive(Debug, Clone)]
pub struct Parties {
    /// OIN in the client certificate (= viaParty)
    pub cert_oin: String,
    pub from: String,
    pub to: String,
    pub suwi: bool,
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
fn bad_header(name: &str, message: String) -> Status {
    bad_request(message.clone(), vec![(name.to_string(), message)])
}

/// The longest metadata value read at all: an OIN is 20 digits, a transaction id 36 characters.
/// A longer value is refused without being copied, echoed or logged.
pub const MAX_HEADER_BYTES: usize = 64;

/// A caller's value as it may appear in an error message: short printable ASCII as is, anything
/// else by its size only (a refusal's message goes to the audit log).
pub fn shown(v: &str) -> String {
    if v.len() <= 40 && v.bytes().all(|b| b.is_ascii_graphic()) {
        format!("'{v}'")
    } else {
        format!("a value of {} bytes", v.len())
    }
}

fn header(md: &MetadataMap, name: &str) -> Result<String, Status> {
    match md.get(name).map(|v| (v.len(), v.to_str())) {
        Some((len, _)) if len > MAX_HEADER_BYTES => Err(bad_header(
            name,
            format!("metadata {name} is {len} bytes; at most {MAX_HEADER_BYTES} are accepted"),
        )),
        Some((_, Ok(v))) if !v.is_empty() => Ok(v.to_string()),
        Some(_) => Err(bad_header(
            name,
            format!("metadata {name} is not readable text"),
        )),
        None => Err(bad_header(name, format!("metadata {name} is required"))),
    }
}

/// 20 ASCII digits.
pub fn is_oin(v: &str) -> bool {
    v.len() == 20 && v.bytes().all(|b| b.is_ascii_digit())
}

/// A UUID in its canonical hyphenated form only (8-4-4-4-12 hex digits): no braces, no URN
/// prefix, no simple (unhyphenated) form.
pub fn is_canonical_uuid(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
        && uuid::Uuid::parse_str(v).is_ok()
}

fn oin(md: &MetadataMap, name: &str) -> Result<String, Status> {
    let v = header(md, name)?;
    if is_oin(&v) {
        Ok(v)
    } else {
        Err(bad_header(
            name,
            format!("metadata {name}: {} is not an OIN (20 digits)", shown(&v)),
        ))
    }
}

/// The OIN of the TLS client certificate of this request.
pub fn cert_oin<T>(req: &Request<T>) -> Result<String, Status> {
    let certs = req
        .peer_certs()
        .ok_or_else(|| Status::unauthenticated("no client certificate"))?;
    let leaf = certs
        .first()
        .ok_or_else(|| Status::unauthenticated("no client certificate"))?;
    oin_of(leaf.as_ref()).ok_or_else(|| {
        Status::unauthenticated(
            "the client certificate has no OIN (20 digits) in its subject serialNumber",
        )
    })
}

/// Check the party metadata against the certificate and this node's OIN.
pub fn check<T>(req: &Request<T>, own_oin: &str) -> Result<Parties, Status> {
    check_metadata(req.metadata(), cert_oin(req)?, own_oin)
}

/// Check the party metadata against the certificate's OIN (already read) and this node's OIN.
pub fn check_metadata(
    md: &MetadataMap,
    cert_oin: String,
    own_oin: &str,
) -> Result<Parties, Status> {
    let via = oin(md, VIA)?;
    if via != cert_oin {
        return Err(Status::permission_denied(format!(
            "viaParty {via} does not match the certificate's OIN {cert_oin}"
        )));
    }
    let to = oin(md, TO)?;
    if to != own_oin {
        return Err(Status::permission_denied(format!(
            "toParty {to} is not this node ({own_oin})"
        )));
    }
    let version = header(md, VERSION)?;
    if version != BERICHT_VERSIE {
        return Err(bad_header(
            VERSION,
            format!(
                "metadata {VERSION}: {} is not supported; this node speaks {BERICHT_VERSIE}",
                shown(&version)
            ),
        ));
    }
    let suwi = match header(md, SUWI)?.as_str() {
        "true" => true,
        "false" => false,
        other => {
            return Err(bad_header(
                SUWI,
                format!("metadata {SUWI}: {} is not true or false", shown(other)),
            ))
        }
    };
    let transaction_id = header(md, TRANSACTION)?;
    if !is_canonical_uuid(&transaction_id) {
        return Err(bad_header(
            TRANSACTION,
            format!(
                "metadata {TRANSACTION}: {} is not a UUID in canonical form \
                 (8-4-4-4-12 hex digits, no braces)",
                shown(&transaction_id)
            ),
        ));
    }
    Ok(Parties {
        cert_oin,
        from: oin(md, FROM)?,
        to,
        suwi,
        transaction_id,
    })
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
