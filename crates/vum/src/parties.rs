//! The party headers of a VUM call (koppelvlak README, "Headers"), read and checked for form only,
//! whatever carries them: gRPC metadata or HTTP headers. Whether the parties they name may make the
//! call (the certificate's OIN, the node's own OIN, a peer's SUWI status) is the node's decision;
//! this module only says whether each value is what the standard says it is.
//!
//! ```
//! use vum::parties::{PartyHeaders, HeaderProblem};
//! let h = [("x-vum-fromparty", "00000001003214345000"), ("x-vum-viaparty", "00000001003214345000"),
//!     ("x-vum-toparty", "00000001001234567000"), ("x-vum-suwiparty", "false"),
//!     ("x-vum-berichtversie", "3.0.0"), ("x-transaction-id", "0192f0c2-7d5e-7cc3-9f3a-2a1b3c4d5e6f")];
//! let get = |name: &str| h.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_bytes());
//! let p = PartyHeaders::read(get).unwrap();
//! assert!(!p.suwi);
//! let get = |name: &str| if name == "x-vum-toparty" { Some(&b"123"[..]) } else { get(name) };
//! let e = PartyHeaders::read(get).unwrap_err();
//! assert_eq!(e.header, "x-vum-toparty");
//! assert!(matches!(e.problem, HeaderProblem::NotAnOin(_)));
//! ```

// Header names, lower case (gRPC metadata keys are lower case; HTTP header names compare
// without case). The standard writes them `X-VUM-fromParty`, `X-VUM-SUWIParty`, ...

/// `X-VUM-fromParty`: the OIN of the party the call comes from.
pub const FROM: &str = "x-vum-fromparty";
/// `X-VUM-viaParty`: the OIN of the party that passes the call on.
pub const VIA: &str = "x-vum-viaparty";
/// `X-VUM-toParty`: the OIN of the party the call is for.
pub const TO: &str = "x-vum-toparty";
/// `X-VUM-SUWIParty`: whether the calling party claims SUWI status (`true` or `false`).
pub const SUWI: &str = "x-vum-suwiparty";
/// `X-VUM-berichtVersie`: the message version of the call (must be [`BERICHT_VERSIE`]).
pub const VERSION: &str = "x-vum-berichtversie";
/// `X-Transaction-ID`: the call's transaction id, a canonical UUID.
pub const TRANSACTION: &str = "x-transaction-id";
/// `API-Version`: the interface version a REST call is written against (must be [`API_VERSIE`]).
pub const API_VERSION: &str = "api-version";
/// The message version this crate speaks.
pub const BERICHT_VERSIE: &str = "3.0.0";
/// The REST interface version this crate speaks (`API-Version`).
pub const API_VERSIE: &str = "3.0.0";

/// Which header set a call carries. gRPC metadata carries all six headers; the standard's REST
/// contracts carry `API-Version` and no transaction id, and only the Bron contract carries
/// `X-VUM-SUWIparty`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// matchgate's gRPC: from, via, to, SUWI, message version and `x-transaction-id`, all required
    Grpc,
    /// the Bron contract (VUM → source): from, via, to, SUWI, message version, `API-Version`;
    /// `X-Transaction-ID` optional
    Bron,
    /// the Bemiddelaar contract (mediator → VUM): from, via, to, message version, `API-Version`;
    /// no SUWI header; `X-Transaction-ID` optional
    Bemiddelaar,
}

/// The longest header value read at all: an OIN is 20 digits, a transaction id 36 characters. A
/// longer value is refused without being copied, echoed or logged.
pub const MAX_HEADER_BYTES: usize = 64;

/// The party headers of one call, each checked for form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyHeaders {
    /// `X-VUM-fromParty`, an OIN (20 digits).
    pub from: String,
    /// `X-VUM-viaParty`, an OIN (20 digits).
    pub via: String,
    /// `X-VUM-toParty`, an OIN (20 digits).
    pub to: String,
    /// `X-VUM-SUWIParty` as claimed; a claim, to be checked against configuration
    pub suwi: bool,
    /// `X-Transaction-ID`, a UUID in canonical form.
    pub transaction_id: String,
}

/// A header that is missing or not what the standard says it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("metadata {header}{problem}")]
pub struct HeaderError {
    /// the header's lower-case name
    pub header: &'static str,
    /// What is wrong with it.
    pub problem: HeaderProblem,
}

/// Why a header was refused (displayed after the header name). Caller values appear only as
/// [`shown`] renders them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderProblem {
    /// The header is absent.
    #[error(" is required")]
    Missing,
    /// The value is longer than [`MAX_HEADER_BYTES`] (its length in bytes).
    #[error(" is {0} bytes; at most {MAX_HEADER_BYTES} are accepted")]
    TooLong(usize),
    /// The value is empty, not UTF-8, or holds non-ASCII or control characters.
    #[error(" is not readable text")]
    NotText,
    /// The value is not 20 digits (the value as [`shown`]).
    #[error(": {0} is not an OIN (20 digits)")]
    NotAnOin(String),
    /// The message version is not [`BERICHT_VERSIE`] (the value as [`shown`]).
    #[error(": {0} is not supported; this node speaks {BERICHT_VERSIE}")]
    Version(String),
    /// `X-VUM-SUWIParty` is neither `true` nor `false` (the value as [`shown`]).
    #[error(": {0} is not true or false")]
    NotABoolean(String),
    /// `API-Version` is not [`API_VERSIE`] (the value as [`shown`]).
    #[error(": {0} is not supported; this node speaks API-Version {API_VERSIE}")]
    ApiVersion(String),
    /// The transaction id is not a canonical UUID (the value as [`shown`]).
    #[error(": {0} is not a UUID in canonical form (8-4-4-4-12 hex digits, no braces)")]
    NotAUuid(String),
}

impl PartyHeaders {
    /// Read the six party headers of a gRPC call through `get` (a header's raw value by its
    /// lower-case name).
    pub fn read<'a>(get: impl Fn(&str) -> Option<&'a [u8]>) -> Result<PartyHeaders, HeaderError> {
        Self::read_as(Dialect::Grpc, get, String::new)
    }

    /// Read the party headers of `dialect` through `get`. Where the dialect makes the transaction
    /// id optional and the call has none, `new_transaction` gives one; where it has no SUWI
    /// header, `suwi` is false.
    pub fn read_as<'a>(
        dialect: Dialect,
        get: impl Fn(&str) -> Option<&'a [u8]>,
        new_transaction: impl FnOnce() -> String,
    ) -> Result<PartyHeaders, HeaderError> {
        let text = |header: &'static str| -> Result<&'a str, HeaderError> {
            let fail = |problem| HeaderError { header, problem };
            let raw = get(header).ok_or_else(|| fail(HeaderProblem::Missing))?;
            if raw.len() > MAX_HEADER_BYTES {
                return Err(fail(HeaderProblem::TooLong(raw.len())));
            }
            match std::str::from_utf8(raw) {
                Ok(v)
                    if !v.is_empty()
                        && v.bytes().all(|b| b.is_ascii() && !b.is_ascii_control()) =>
                {
                    Ok(v)
                }
                _ => Err(fail(HeaderProblem::NotText)),
            }
        };
        let oin = |header: &'static str| -> Result<String, HeaderError> {
            let v = text(header)?;
            if is_oin(v) {
                Ok(v.to_string())
            } else {
                Err(HeaderError {
                    header,
                    problem: HeaderProblem::NotAnOin(shown(v)),
                })
            }
        };
        let via = oin(VIA)?;
        let to = oin(TO)?;
        let version = text(VERSION)?;
        if version != BERICHT_VERSIE {
            return Err(HeaderError {
                header: VERSION,
                problem: HeaderProblem::Version(shown(version)),
            });
        }
        if dialect != Dialect::Grpc {
            let api = text(API_VERSION)?;
            if api != API_VERSIE {
                return Err(HeaderError {
                    header: API_VERSION,
                    problem: HeaderProblem::ApiVersion(shown(api)),
                });
            }
        }
        let suwi = if dialect == Dialect::Bemiddelaar {
            false
        } else {
            // the contract types it boolean; Postman and curl users write it either case
            match text(SUWI)? {
                v if v.eq_ignore_ascii_case("true") => true,
                v if v.eq_ignore_ascii_case("false") => false,
                other => {
                    return Err(HeaderError {
                        header: SUWI,
                        problem: HeaderProblem::NotABoolean(shown(other)),
                    })
                }
            }
        };
        let transaction_id = if dialect != Dialect::Grpc && get(TRANSACTION).is_none() {
            new_transaction()
        } else {
            let t = text(TRANSACTION)?;
            if !is_canonical_uuid(t) {
                return Err(HeaderError {
                    header: TRANSACTION,
                    problem: HeaderProblem::NotAUuid(shown(t)),
                });
            }
            t.to_string()
        };
        Ok(PartyHeaders {
            from: oin(FROM)?,
            via,
            to,
            suwi,
            transaction_id,
        })
    }
}

/// A caller's value as it may appear in an error message: short printable ASCII as is, anything
/// else by its size only (a refusal's message goes to the audit log).
pub fn shown(v: &str) -> String {
    if v.len() <= 40 && v.bytes().all(|b| b.is_ascii_graphic()) {
        format!("'{v}'")
    } else {
        format!("a value of {} bytes", v.len())
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
}

/// A VUM record id as a node hands it out: 32 hex digits.
pub fn is_record_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_uuid_only() {
        assert!(is_canonical_uuid("0192f0c2-7d5e-7cc3-9f3a-2a1b3c4d5e6f"));
        for bad in [
            "{0192f0c2-7d5e-7cc3-9f3a-2a1b3c4d5e6f}",
            "urn:uuid:0192f0c2-7d5e-7cc3-9f3a-2a1b3c4d5e6f",
            "0192f0c27d5e7cc39f3a2a1b3c4d5e6f",
            "0192f0c2-7d5e-7cc3-9f3a-2a1b3c4d5e6g",
            "0192f0c2+7d5e-7cc3-9f3a-2a1b3c4d5e6f",
        ] {
            assert!(!is_canonical_uuid(bad), "{bad}");
        }
    }

    #[test]
    fn rest_dialects_read_api_version_and_make_the_transaction_optional() {
        let mut h = vec![
            (FROM, "00000001003214345000"),
            (VIA, "00000001001234567000"),
            (TO, "00000001001234567000"),
            (VERSION, "3.0.0"),
            (API_VERSION, "3.0.0"),
        ];
        let read = |d: Dialect, h: &[(&str, &'static str)]| {
            let h = h.to_vec();
            PartyHeaders::read_as(
                d,
                |n| h.iter().find(|(k, _)| *k == n).map(|(_, v)| v.as_bytes()),
                || "generated".into(),
            )
        };
        // the Bemiddelaar contract has no SUWI header and no transaction id
        let p = read(Dialect::Bemiddelaar, &h).unwrap();
        assert!(!p.suwi);
        assert_eq!(p.transaction_id, "generated");
        // the Bron contract requires X-VUM-SUWIparty
        assert_eq!(read(Dialect::Bron, &h).unwrap_err().header, SUWI);
        h.push((SUWI, "True"));
        assert!(read(Dialect::Bron, &h).unwrap().suwi);
        // gRPC requires the transaction id
        assert_eq!(read(Dialect::Grpc, &h).unwrap_err().header, TRANSACTION);
        // a wrong API-Version is named
        h[4] = (API_VERSION, "2.0.0");
        let e = read(Dialect::Bron, &h).unwrap_err();
        assert_eq!(e.problem, HeaderProblem::ApiVersion("'2.0.0'".into()));
    }

    #[test]
    fn long_values_are_not_echoed() {
        let long = "1".repeat(5000);
        let get = |n: &str| {
            if n == VIA {
                Some(long.as_bytes())
            } else {
                None
            }
        };
        let e = PartyHeaders::read(get).unwrap_err();
        assert_eq!(e.problem, HeaderProblem::TooLong(5000));
        assert!(e.to_string().len() < 100, "{e}");
        assert_eq!(shown(&"x".repeat(41)), "a value of 41 bytes");
    }
}
