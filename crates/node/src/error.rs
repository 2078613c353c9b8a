//! The node's errors: [`NodeError`] when a node cannot start, [`CallError`] when a call is refused
//! or fails. `impl From<CallError> for Status` is the one place a refusal or failure becomes a
//! gRPC status: refusals keep their message, internal failures (the store, stored data) are
//! logged here and reach the caller as a generic message with the transaction id.
use crate::config::ConfigError;
use crate::tls::TlsError;
use std::path::PathBuf;
use std::time::Duration;
use store::service::ServiceError;
use store::StoreError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use vum::parties::HeaderError;

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// `node.toml` could not be used
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// a listener could not be bound
    #[error("listen {addr}: {source}")]
    Listen {
        /// the configured address
        addr: String,
        /// what binding said
        source: std::io::Error,
    },
    /// a listener's TLS could not be set up
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// the store could not be opened or loaded
    #[error(transparent)]
    Store(#[from] StoreError),
    /// a file the node needs (its secret, its certificates) could not be read
    #[error("{}: {source}", path.display())]
    Read {
        /// the file
        path: PathBuf,
        /// what reading it said
        source: std::io::Error,
    },
    /// the node secret is too short to key ids with
    #[error("{}: the node secret must be at least 16 bytes", path.display())]
    ShortSecret {
        /// the secret file
        path: PathBuf,
    },
    /// the HTTP client for REST peers could not be built
    #[error("REST client: {0}")]
    Client(String),
    /// the gRPC reflection service could not be built
    #[error("gRPC reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
}

/// Why a call was refused or failed. Refusals (identity, rate limit, party roles, grants,
/// detail limits) are the caller's to see; the internal variants are not.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// the call came without a client certificate
    #[error("no client certificate")]
    NoCertificate,
    /// the client certificate's subject serialNumber holds no OIN
    #[error("the client certificate has no OIN (20 digits) in its subject serialNumber")]
    NoOin,
    /// the calling peer is over its rate
    #[error("rate limit: {oin} may make {per_second} calls per second")]
    RateLimited {
        /// the caller's certificate OIN
        oin: String,
        /// the sustained rate allowed
        per_second: f64,
    },
    /// a party header is missing or malformed
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// the viaParty header is not the certificate's OIN
    #[error("viaParty {via} does not match the certificate's OIN {cert_oin}")]
    ViaNotCertificate {
        /// the viaParty header
        via: String,
        /// the certificate's OIN
        cert_oin: String,
    },
    /// the toParty header is not this node
    #[error("toParty {to} is not this node ({own})")]
    NotThisNode {
        /// the toParty header
        to: String,
        /// this node's OIN
        own: String,
    },
    /// an own system's call names another controller than this node's organisation
    #[error("fromParty {from} is not this node's organisation ({own})")]
    NotOwnOrganisation {
        /// the fromParty header
        from: String,
        /// this node's OIN
        own: String,
    },
    /// no grant lets the caller act for this controller on this service
    #[error("no grant lets {via} act for {from} on {service}")]
    NoGrant {
        /// the caller's certificate OIN
        via: String,
        /// the controller it acts for
        from: String,
        /// the service called
        service: String,
    },
    /// the call claims SUWI where no grant says so
    #[error(
        "{via} is not configured here as a SUWI party (acting for {from}): x-vum-suwiparty must be false"
    )]
    SuwiNotGranted {
        /// the caller's certificate OIN
        via: String,
        /// the controller it acts for
        from: String,
    },
    /// a field of the request is malformed (a google.rpc.BadRequest on that field)
    #[error("{why}")]
    BadField {
        /// the field, as the request names it
        field: String,
        /// what is wrong with it (caller values only as `parties::shown` renders them)
        why: String,
    },
    /// a request that fails the standard: every finding as a field violation (JSON pointer, rule
    /// and message)
    #[error("{what} refused: {}", summary(.violations))]
    Invalid {
        /// what was refused ("selection", "request body")
        what: &'static str,
        /// (JSON pointer or field, why)
        violations: Vec<(String, String)>,
    },
    /// no peer could answer a federated call (each peer's status is in the log and audit log)
    #[error("no peer answered: {0}")]
    NoPeerAnswered(String),
    /// as a source: a detail of a record no recent selection returned to this peer
    #[error("no {kind} {id} was returned to {peer} in a selection in the last {window_s} s")]
    NotServed {
        /// the record's kind
        kind: &'static str,
        /// the record id asked
        id: String,
        /// the caller's certificate OIN
        peer: String,
        /// the detail window, seconds
        window_s: u64,
    },
    /// as a source: the details of the selection that returned the record are used up
    #[error("at most {max} detail requests per selection")]
    DetailsUsedUp {
        /// details allowed per selection
        max: i64,
    },
    /// as a source: the record is not (or no longer) shared
    #[error("no shared {kind} {id}")]
    NotShared {
        /// the record's kind
        kind: &'static str,
        /// the record id asked
        id: String,
    },
    /// a vumID that no live result set of this node holds
    #[error(
        "vumID {vum_id} is not from a {kind} selection of this node (or its result set expired)"
    )]
    UnknownVumId {
        /// the vumID asked
        vum_id: String,
        /// the kind asked
        kind: &'static str,
    },
    /// the details of a federated result set are used up
    #[error("at most {max} detail requests per result set ({set})")]
    ResultSetUsedUp {
        /// details allowed per result set
        max: i64,
        /// the result set
        set: String,
    },
    /// the peer asked on an own system's behalf refused or failed (its status passes on)
    #[error("peer {oin}: {}", status.message())]
    Peer {
        /// the peer's OIN
        oin: String,
        /// what the peer answered (a REST peer's answer mapped to a gRPC status)
        status: Box<Status>,
    },
    /// the peer that owns a vumID's record is no longer configured
    #[error("the owning peer is no longer configured")]
    OwnerGone,
    /// a peer OIN that is not configured (shown as `parties::shown` renders it)
    #[error("peer_oin: {0} is not a configured peer")]
    UnknownPeer(String),
    /// the store failed (logged; the caller sees a generic message)
    #[error("store: {source}")]
    Store {
        /// what the store said
        source: StoreError,
        /// the call's transaction id, when it has one
        transaction_id: Option<String>,
    },
    /// the store's service layer (selection, details) failed (logged; the caller sees a generic
    /// message)
    #[error("store: {source}")]
    Service {
        /// what the service layer said
        source: ServiceError,
        /// the call's transaction id, when it has one
        transaction_id: Option<String>,
    },
    /// something inside the node failed: stored data that does not decode, a document that does
    /// not fit its message (logged; the caller sees a generic message)
    #[error("{what}")]
    Internal {
        /// what failed, for the log
        what: String,
        /// the call's transaction id, when it has one
        transaction_id: Option<String>,
    },
}

/// The findings of an [`CallError::Invalid`] in one line.
fn summary(v: &[(String, String)]) -> String {
    let parts: Vec<String> = v.iter().map(|(p, m)| format!("{p} {m}")).collect();
    parts.join("; ")
}

impl From<StoreError> for CallError {
    fn from(source: StoreError) -> CallError {
        CallError::Store {
            source,
            transaction_id: None,
        }
    }
}

impl From<ServiceError> for CallError {
    fn from(source: ServiceError) -> CallError {
        CallError::Service {
            source,
            transaction_id: None,
        }
    }
}

impl CallError {
    /// An internal failure, described for the log.
    pub fn internal(what: impl Into<String>) -> CallError {
        CallError::Internal {
            what: what.into(),
            transaction_id: None,
        }
    }

    /// This error as part of the call with this transaction id (named in the generic message of
    /// an internal failure).
    pub fn in_transaction(mut self, tx: &str) -> CallError {
        if let CallError::Store { transaction_id, .. }
        | CallError::Service { transaction_id, .. }
        | CallError::Internal { transaction_id, .. } = &mut self
        {
            *transaction_id = Some(tx.to_string());
        }
        self
    }
}

/// A store error as part of the call with this transaction id: `.map_err(store_failed(tx))`.
pub fn store_failed<E: Into<CallError>>(tx: &str) -> impl FnOnce(E) -> CallError + '_ {
    move |e| e.into().in_transaction(tx)
}

impl From<CallError> for Status {
    fn from(e: CallError) -> Status {
        let message = e.to_string();
        match e {
            CallError::NoCertificate | CallError::NoOin => Status::unauthenticated(message),
            CallError::RateLimited { per_second, .. } => Status::with_error_details(
                Code::ResourceExhausted,
                message,
                ErrorDetails::with_retry_info(Some(
                    Duration::try_from_secs_f64(1.0 / per_second).unwrap_or(Duration::from_secs(1)),
                )),
            ),
            CallError::Header(h) => crate::parties::bad_header(h),
            CallError::Invalid { violations, .. } => {
                crate::parties::bad_request(message, violations)
            }
            CallError::NoPeerAnswered(_) => Status::unavailable(message),
            CallError::ViaNotCertificate { .. }
            | CallError::NotThisNode { .. }
            | CallError::NotOwnOrganisation { .. }
            | CallError::NoGrant { .. }
            | CallError::SuwiNotGranted { .. } => Status::permission_denied(message),
            CallError::BadField { field, why } => {
                crate::parties::bad_request(why.clone(), vec![(field, why)])
            }
            CallError::NotServed { .. }
            | CallError::NotShared { .. }
            | CallError::UnknownVumId { .. }
            | CallError::UnknownPeer(_) => Status::not_found(message),
            CallError::DetailsUsedUp { .. } | CallError::ResultSetUsedUp { .. } => {
                Status::resource_exhausted(message)
            }
            CallError::OwnerGone => Status::failed_precondition(message),
            CallError::Peer { status, .. } => *status,
            CallError::Store {
                transaction_id: tx, ..
            }
            | CallError::Service {
                transaction_id: tx, ..
            }
            | CallError::Internal {
                transaction_id: tx, ..
            } => {
                // the detail (SQL, paths, decoder output) stays in the log
                tracing::error!(error = %message, transaction_id = tx.as_deref().unwrap_or("none"), "call failed inside the node");
                Status::internal(match tx {
                    Some(tx) => format!("internal error (transaction {tx})"),
                    None => "internal error".to_string(),
                })
            }
        }
    }
}

/// A call's error as the REST contracts answer it: HTTP status, the `Error` body's `code` (at
/// most 10 characters, the contract's `StringCode`) and `message`, and for 429 and 503 the
/// seconds to put in `Retry-After`. The contracts list 200, 400, 401, 429, 500 and 503 only, so
/// a record the caller may not have (never selected for it, no longer shared, an unknown vumID)
/// is a 401, as are refusals of identity, roles and grants; 400 is a malformed request. Internal
/// failures are logged here and reach the caller as a generic message with the transaction id,
/// as over gRPC.
pub struct HttpError {
    /// the HTTP status
    pub status: u16,
    /// `Error.code`
    pub code: &'static str,
    /// `Error.message` (at most 500 characters)
    pub message: String,
    /// `Error.details`: the field violations, one per line (at most 2000 characters)
    pub details: Option<String>,
    /// `Retry-After`, seconds
    pub retry_after: Option<u64>,
}

impl From<CallError> for HttpError {
    fn from(e: CallError) -> HttpError {
        let message = e.to_string();
        let plain = |status, code| HttpError {
            status,
            code,
            message: crate::server::bounded(&message, 500),
            details: None,
            retry_after: None,
        };
        match e {
            CallError::NoCertificate | CallError::NoOin => plain(401, "NO_CERT"),
            CallError::RateLimited { per_second, .. } => HttpError {
                retry_after: Some((1.0 / per_second).ceil().max(1.0) as u64),
                ..plain(429, "RATE_LIMIT")
            },
            CallError::Header(_) => plain(400, "HEADER"),
            CallError::ViaNotCertificate { .. }
            | CallError::NotThisNode { .. }
            | CallError::NotOwnOrganisation { .. }
            | CallError::NoGrant { .. }
            | CallError::SuwiNotGranted { .. } => plain(401, "PARTY"),
            CallError::BadField { .. } => plain(400, "BAD_FIELD"),
            CallError::Invalid { ref violations, .. } => {
                let lines: Vec<String> = violations
                    .iter()
                    .map(|(p, m)| format!("{p}: {m}"))
                    .collect();
                HttpError {
                    details: Some(crate::server::bounded(&lines.join("\n"), 2000)),
                    ..plain(400, "INVALID")
                }
            }
            // a record the caller may not have: not selected for it, no longer shared, or a
            // vumID of no result set of its (the contracts have no 404)
            CallError::NotServed { .. } => plain(401, "NOT_SERVED"),
            CallError::NotShared { .. } => plain(401, "NOT_SHARED"),
            CallError::UnknownVumId { .. } => plain(401, "UNKNOWN_ID"),
            CallError::UnknownPeer(_) => plain(400, "UNKNOWN"),
            CallError::DetailsUsedUp { .. } | CallError::ResultSetUsedUp { .. } => {
                plain(429, "DETAIL_CAP")
            }
            CallError::NoPeerAnswered(_) => HttpError {
                retry_after: Some(1),
                ..plain(503, "NO_PEER")
            },
            CallError::OwnerGone => plain(503, "OWNER_GONE"),
            CallError::Peer { ref status, .. } => match status.code() {
                Code::InvalidArgument | Code::NotFound => plain(400, "PEER"),
                Code::PermissionDenied | Code::Unauthenticated => plain(401, "PEER"),
                Code::ResourceExhausted => plain(429, "PEER"),
                Code::Unavailable | Code::DeadlineExceeded => HttpError {
                    retry_after: Some(1),
                    ..plain(503, "PEER")
                },
                _ => plain(500, "PEER"),
            },
            CallError::Store {
                transaction_id: tx, ..
            }
            | CallError::Service {
                transaction_id: tx, ..
            }
            | CallError::Internal {
                transaction_id: tx, ..
            } => {
                tracing::error!(error = %message, transaction_id = tx.as_deref().unwrap_or("none"), "call failed inside the node");
                HttpError {
                    status: 500,
                    code: "INTERNAL",
                    message: match tx {
                        Some(tx) => format!("internal error (transaction {tx})"),
                        None => "internal error".to_string(),
                    },
                    details: None,
                    retry_after: None,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_failures_do_not_reach_the_caller() {
        let e = CallError::from(StoreError::Url("postgres://secret@/var/lib/db".into()))
            .in_transaction("tx-1");
        let s = Status::from(e);
        assert_eq!(s.code(), Code::Internal);
        assert_eq!(s.message(), "internal error (transaction tx-1)");
        let s = Status::from(CallError::internal("/var/lib/x does not decode"));
        assert_eq!(s.message(), "internal error");
    }

    #[test]
    fn refusals_keep_their_message() {
        let s = Status::from(CallError::NoGrant {
            via: "a".into(),
            from: "b".into(),
            service: "get-vacature".into(),
        });
        assert_eq!(s.code(), Code::PermissionDenied);
        assert_eq!(s.message(), "no grant lets a act for b on get-vacature");
    }
}
