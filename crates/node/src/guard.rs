//! The guard: the one function every call from another organisation passes before a handler
//! runs, whether it came as gRPC (the Peer service) or REST (the Bron face), and its twin for own
//! systems on the Bemiddelaar face. Fixed order: identity from the finished TLS session's
//! certificate → rate limit (before any store access) → party headers (form, then against the
//! certificate and this node) → grant → SUWI claim against configuration. Every refusal is
//! audited where it is decided, throttled where a flood could turn into an audit-log flood.
use crate::error::CallError;
use crate::parties::Parties;
use crate::pki::oin_of;
use crate::server::NodeState;
use rustls::pki_types::CertificateDer;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vum::parties::{Dialect, PartyHeaders};

/// The certificates a connection presented (leaf first), as the TLS layer handed them on.
pub(crate) type PeerCerts = Option<Arc<Vec<CertificateDer<'static>>>>;

/// A token bucket per calling peer.
struct Bucket {
    tokens: f64,
    last: Instant,
    refusals: Throttle,
}

/// Refusals counted between audit entries: the first refusal of each second is written, with the
/// count since the last entry, so a flood cannot turn into an audit-log flood.
#[derive(Default)]
struct Throttle {
    pending: i64,
    reported: Option<Instant>,
}

impl Throttle {
    /// Count a refusal; `Some(count)` when it is to be written now.
    fn refuse(&mut self, now: Instant) -> Option<i64> {
        self.pending += 1;
        if self
            .reported
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
        {
            self.reported = Some(now);
            Some(std::mem::take(&mut self.pending))
        } else {
            None
        }
    }
}

/// The guard's memory: a token bucket per calling OIN and the OIN of each certificate seen.
#[derive(Default)]
pub(crate) struct Guard {
    buckets: Mutex<HashMap<String, Bucket>>,
    /// OIN per client certificate seen (DER → OIN): parsed once, not on every call
    oins: Mutex<HashMap<Vec<u8>, String>>,
}

/// The party headers of a call, by their lower-case names.
pub(crate) trait Headers: Sync {
    /// A header's raw value.
    fn header(&self, name: &str) -> Option<&[u8]>;
}

impl Headers for tonic::metadata::MetadataMap {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.get(name).map(|v| v.as_bytes())
    }
}

impl Headers for http::HeaderMap {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.get(name).map(|v| v.as_bytes())
    }
}

/// Parties to audit a call refused before its headers were read.
fn unknown_parties(cert_oin: String, own: &str) -> Parties {
    Parties {
        cert_oin,
        from: "unknown".into(),
        to: own.to_string(),
        suwi: false,
        transaction_id: "none".into(),
    }
}

impl Guard {
    /// The OIN of the leaf certificate, from the cache when the certificate was seen.
    fn cert_oin(&self, certs: &PeerCerts) -> Result<String, CallError> {
        let leaf = certs
            .as_ref()
            .and_then(|c| c.first())
            .ok_or(CallError::NoCertificate)?;
        let mut cache = self.oins.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(oin) = cache.get(leaf.as_ref()) {
            return Ok(oin.clone());
        }
        let oin = oin_of(leaf.as_ref()).ok_or(CallError::NoOin)?;
        if cache.len() >= 10_000 {
            cache.clear();
        }
        cache.insert(leaf.as_ref().to_vec(), oin.clone());
        Ok(oin)
    }

    /// Take a token from the peer's bucket. On refusal, returns the refusals to report now (see
    /// [`Throttle`]).
    fn rate_limit(&self, st: &NodeState, oin: &str) -> Result<(), Option<i64>> {
        let l = &st.config.limits;
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= 100_000 && !buckets.contains_key(oin) {
            // only configured peers pass the TLS layer; this bounds the map all the same
            buckets.clear();
        }
        let b = buckets.entry(oin.to_string()).or_insert(Bucket {
            tokens: l.burst,
            last: now,
            refusals: Throttle::default(),
        });
        b.tokens = (b.tokens + now.duration_since(b.last).as_secs_f64() * l.requests_per_second)
            .min(l.burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Ok(());
        }
        Err(b.refusals.refuse(now))
    }

    /// Admit a call from another organisation to `service`: identity, rate limit, party
    /// headers in `dialect` (gRPC or the Bron contract), grant, SUWI. Allowed calls are audited by
    /// their handlers; refusals here.
    pub(crate) async fn admit(
        &self,
        st: &NodeState,
        certs: &PeerCerts,
        headers: &dyn Headers,
        dialect: Dialect,
        service: &str,
    ) -> Result<Parties, CallError> {
        let span = tracing::info_span!("guard", service, admitted = tracing::field::Empty);
        let r = tracing::Instrument::instrument(
            self.admit_checked(st, certs, headers, dialect, service),
            span.clone(),
        )
        .await;
        span.record("admitted", r.is_ok());
        r
    }

    async fn admit_checked(
        &self,
        st: &NodeState,
        certs: &PeerCerts,
        headers: &dyn Headers,
        dialect: Dialect,
        service: &str,
    ) -> Result<Parties, CallError> {
        let own = &st.config.oin;
        let action = format!("refused:{service}");
        let cert_oin = match self.cert_oin(certs) {
            Ok(o) => o,
            Err(e) => {
                st.audit(
                    &unknown_parties("unknown".into(), own),
                    &action,
                    &e.to_string(),
                    0,
                )
                .await;
                return Err(e);
            }
        };
        if let Err(report) = self.rate_limit(st, &cert_oin) {
            if let Some(n) = report {
                st.audit(
                    &unknown_parties(cert_oin.clone(), own),
                    &action,
                    "rate limit",
                    n,
                )
                .await;
            }
            tracing::warn!(service, peer = %cert_oin, "peer call refused: rate limit");
            return Err(CallError::RateLimited {
                oin: cert_oin,
                per_second: st.config.limits.requests_per_second,
            });
        }
        let checked = if st.faults.has(crate::faults::Fault::ViaNotChecked) {
            parties_unchecked_via(headers, dialect, cert_oin.clone(), own)
        } else {
            parties_of(headers, dialect, cert_oin.clone(), own)
        };
        let p = match checked {
            Ok(p) => p,
            Err(e) => {
                st.audit(&unknown_parties(cert_oin, own), &action, &e.to_string(), 0)
                    .await;
                tracing::warn!(service, error = %e, "peer call refused");
                return Err(e);
            }
        };
        if !st.config.allowed(&p.cert_oin, &p.from, service) {
            st.audit(&p, &action, "no grant", 0).await;
            return Err(CallError::NoGrant {
                via: p.cert_oin,
                from: p.from,
                service: service.to_string(),
            });
        }
        // the SUWI claim stands only where this node's configuration says so
        if p.suwi
            && !st.config.suwi_granted(&p.cert_oin, &p.from, service)
            && !st.faults.has(crate::faults::Fault::SuwiClaimTrusted)
        {
            st.audit(
                &p,
                &action,
                "x-vum-suwiparty claimed; not a SUWI party in this node's grants",
                0,
            )
            .await;
            tracing::warn!(service, peer = %p.cert_oin, "peer call refused: SUWI claim not configured");
            return Err(CallError::SuwiNotGranted {
                via: p.cert_oin,
                from: p.from,
            });
        }
        Ok(p)
    }

    /// Admit an own system's call on the Bemiddelaar face. The TLS layer has admitted only the
    /// configured own systems; here the contract's headers are checked: toParty this node,
    /// fromParty this node's organisation or the own system's own OIN (its certificate's: a
    /// matchgate node standing in for the VUM-voorziening answers another node this way),
    /// viaParty the certificate's OIN where it carries one. Refusals are audited.
    pub(crate) async fn admit_own(
        &self,
        st: &NodeState,
        certs: &PeerCerts,
        headers: &dyn Headers,
        service: &str,
    ) -> Result<Parties, CallError> {
        let own = &st.config.oin;
        let leaf = certs.as_ref().and_then(|c| c.first());
        let cert_oin = leaf.and_then(|l| oin_of(l.as_ref()));
        let actor = cert_oin.clone().unwrap_or_else(|| "local".into());
        let refuse = async |e: CallError| {
            st.audit(
                &unknown_parties(actor.clone(), own),
                &format!("refused:local-{service}"),
                &e.to_string(),
                0,
            )
            .await;
            tracing::warn!(service, error = %e, "own system's call refused");
            e
        };
        if leaf.is_none() {
            return Err(refuse(CallError::NoCertificate).await);
        }
        let h = match PartyHeaders::read_as(
            Dialect::Bemiddelaar,
            |name| headers.header(name),
            new_transaction,
        ) {
            Ok(h) => h,
            Err(e) => return Err(refuse(e.into()).await),
        };
        if h.to != *own {
            return Err(refuse(CallError::NotThisNode {
                to: h.to,
                own: own.clone(),
            })
            .await);
        }
        if h.from != *own && cert_oin.as_deref() != Some(h.from.as_str()) {
            return Err(refuse(CallError::NotOwnOrganisation {
                from: h.from,
                own: own.clone(),
            })
            .await);
        }
        if let Some(c) = &cert_oin {
            if h.via != *c {
                return Err(refuse(CallError::ViaNotCertificate {
                    via: h.via,
                    cert_oin: c.clone(),
                })
                .await);
            }
        }
        Ok(Parties {
            cert_oin: actor,
            from: h.from,
            to: h.to,
            suwi: false,
            transaction_id: h.transaction_id,
        })
    }
}

/// A fresh transaction id for a call that brought none (the REST contracts have no such header).
pub(crate) fn new_transaction() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// The party headers with any viaParty (the `ViaNotChecked` fault).
fn parties_unchecked_via(
    headers: &dyn Headers,
    dialect: Dialect,
    cert_oin: String,
    own_oin: &str,
) -> Result<Parties, CallError> {
    let h = PartyHeaders::read_as(dialect, |name| headers.header(name), new_transaction)?;
    if h.to != own_oin {
        return Err(CallError::NotThisNode {
            to: h.to,
            own: own_oin.to_string(),
        });
    }
    Ok(Parties {
        cert_oin,
        from: h.from,
        to: h.to,
        suwi: h.suwi,
        transaction_id: h.transaction_id,
    })
}

/// The party headers of a call from another organisation, checked against the certificate and
/// this node. gRPC: viaParty is the caller's certificate. Bron contract (koppelvlak README,
/// "VUM → Bron"): viaParty is the answering processor, this node.
pub(crate) fn parties_of(
    headers: &dyn Headers,
    dialect: Dialect,
    cert_oin: String,
    own_oin: &str,
) -> Result<Parties, CallError> {
    let h = PartyHeaders::read_as(dialect, |name| headers.header(name), new_transaction)?;
    let via_ok = match dialect {
        Dialect::Bron => h.via == own_oin,
        _ => h.via == cert_oin,
    };
    if !via_ok {
        return Err(CallError::ViaNotCertificate {
            via: h.via,
            cert_oin: if dialect == Dialect::Bron {
                own_oin.to_string()
            } else {
                cert_oin
            },
        });
    }
    if h.to != own_oin {
        return Err(CallError::NotThisNode {
            to: h.to,
            own: own_oin.to_string(),
        });
    }
    Ok(Parties {
        cert_oin,
        from: h.from,
        to: h.to,
        suwi: h.suwi,
        transaction_id: h.transaction_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_audit_entry_per_second_of_refusals() {
        let mut t = Throttle::default();
        let t0 = Instant::now();
        assert_eq!(t.refuse(t0), Some(1));
        assert_eq!(t.refuse(t0 + Duration::from_millis(10)), None);
        assert_eq!(t.refuse(t0 + Duration::from_millis(20)), None);
        // the next second's first refusal carries the count since the last entry
        assert_eq!(t.refuse(t0 + Duration::from_millis(1001)), Some(3));
    }

    #[test]
    fn bron_via_is_the_answering_node_grpc_via_the_caller() {
        let own = "00000001001234567000";
        let caller = "00000001003214345000";
        let mut h = http::HeaderMap::new();
        for (k, v) in [
            ("x-vum-fromparty", caller),
            ("x-vum-viaparty", own),
            ("x-vum-toparty", own),
            ("x-vum-suwiparty", "false"),
            ("x-vum-berichtversie", "3.0.0"),
            ("api-version", "3.0.0"),
        ] {
            h.insert(k, v.parse().unwrap());
        }
        // VUM → Bron: viaParty names the answering processor (this node)
        let p = parties_of(&h, Dialect::Bron, caller.into(), own).unwrap();
        assert_eq!(p.from, caller);
        assert_eq!(p.transaction_id.len(), 36);
        // the same headers as gRPC metadata: viaParty must be the caller's certificate
        h.insert("x-transaction-id", p.transaction_id.parse().unwrap());
        assert!(matches!(
            parties_of(&h, Dialect::Grpc, caller.into(), own),
            Err(CallError::ViaNotCertificate { .. })
        ));
    }
}
