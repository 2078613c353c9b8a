//! `node.toml`: who this node is, where it listens, whom it trusts and what it lets peers do.
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The node's configuration, as `node.toml` holds it ([`NodeConfig::load`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// this organisation's OIN (20 digits; must equal the OIN in `tls.cert`)
    pub oin: String,
    /// this organisation's name, as node-info reports it
    pub name: String,
    /// whether this organisation takes part in SUWI
    #[serde(default)]
    pub suwi: bool,
    /// sqlite://... or postgres://...
    pub database: String,
    /// keys the vumIDs this node hands to its own users
    pub secret_file: PathBuf,
    /// the node's certificate and key, and the peers' CA
    pub tls: TlsConfig,
    /// the peer-facing listener (other organisations' nodes)
    pub listen: String,
    /// the own-organisation listener and the CA its clients' certificates come from
    pub local: LocalConfig,
    /// the peers this node calls (federated selection, details, feeds)
    #[serde(default)]
    pub peers: Vec<PeerConfig>,
    /// what peers may ask of this node
    #[serde(default)]
    pub grants: Vec<Grant>,
    /// deadline for each peer in a federated selection, milliseconds
    #[serde(default = "default_deadline")]
    pub peer_deadline_ms: u64,
    /// rate, size, connection and detail limits per peer
    #[serde(default)]
    pub limits: Limits,
    /// the standard's REST contracts: the Bron face on the peer listener, the Bemiddelaar face
    /// on the local one
    #[serde(default)]
    pub rest: RestConfig,
    /// the admin listener: metrics, health and readiness over plain HTTP, for the operator
    #[serde(default)]
    pub admin: AdminConfig,
    /// trace export over OTLP (`crate::telemetry`)
    #[serde(default)]
    pub telemetry: crate::telemetry::TelemetryConfig,
}

/// The admin listener (`/metrics` in Prometheus text format, `/healthz`, `/readyz`): plain
/// HTTP, for the operator's network only, apart from the peer and local listeners.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// where it listens (HOST:PORT); not set: no admin listener
    pub listen: Option<String>,
}

/// The REST faces (`VUM-Bron-*.json` beside the gRPC Peer service on the peer listener,
/// `VUM-Bemiddelaar-*.json` beside the Local service on the local listener).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RestConfig {
    /// the path both faces are served under (the contracts' servers use `/api/v3`)
    pub base_path: String,
    /// serve the Bron face on the peer listener
    pub bron: bool,
    /// serve the Bemiddelaar face on the local listener
    pub bemiddelaar: bool,
}

impl Default for RestConfig {
    fn default() -> RestConfig {
        RestConfig {
            base_path: "/api/v3".into(),
            bron: true,
            bemiddelaar: true,
        }
    }
}

/// What one peer may ask of this node.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// calls per second each calling peer (by the OIN in its certificate) may make, sustained
    pub requests_per_second: f64,
    /// calls a peer may make at once above the sustained rate
    pub burst: f64,
    /// largest request message, bytes
    pub max_message_bytes: usize,
    /// calls in progress at once on one connection
    pub concurrent_calls_per_connection: usize,
    /// details a peer may ask per selection this node answered it (as a source)
    pub details_per_selection: i64,
    /// how long after a selection a peer may ask details of what it returned, seconds (at most
    /// 86400: the store keeps result sets for 24 hours)
    pub detail_window_s: u64,
    /// result-set ids this node holds in memory for detail checks, as the asking side and as a
    /// source (about 150 bytes each); sets beyond are searched in the store, at most 256 MiB of
    /// them per check. Size it to a day's result sets.
    pub result_ids_in_memory: usize,
    /// connections open at once on each listener (handshakes included); one more is closed at
    /// once. The process needs a file limit of about 2 x this + 100 (both listeners, the store)
    pub max_connections: usize,
    /// connections open at once per client certificate OIN, on each listener
    pub max_connections_per_peer: usize,
    /// TLS handshakes in progress at once on each listener; one more connection is closed at once
    pub max_handshakes: usize,
    /// TLS handshakes in progress at once from one source address
    pub max_handshakes_per_address: usize,
    /// a TLS handshake not done within this is dropped, seconds
    pub handshake_timeout_s: u64,
    /// a connection nothing has been read from for this long is closed, seconds
    pub idle_timeout_s: u64,
    /// HTTP/2 keepalive: a ping after this long without frames, seconds
    pub keepalive_interval_s: u64,
    /// HTTP/2 keepalive: a ping unanswered this long closes the connection, seconds
    pub keepalive_timeout_s: u64,
    /// largest header list (all metadata of a call), bytes
    pub max_header_bytes: u32,
}

impl Limits {
    /// The connection limits of a listener.
    pub fn connections(&self) -> crate::tls::ConnLimits {
        use std::time::Duration;
        crate::tls::ConnLimits {
            max_connections: self.max_connections,
            max_connections_per_oin: self.max_connections_per_peer,
            max_handshakes: self.max_handshakes,
            max_handshakes_per_address: self.max_handshakes_per_address,
            handshake_timeout: Duration::from_secs(self.handshake_timeout_s),
            idle_timeout: Duration::from_secs(self.idle_timeout_s),
        }
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            requests_per_second: 200.0,
            burst: 400.0,
            max_message_bytes: 4 * 1024 * 1024,
            concurrent_calls_per_connection: 64,
            details_per_selection: 10,
            detail_window_s: 86_400,
            result_ids_in_memory: store::exchange::MAX_HELD_IDS,
            max_connections: 400,
            max_connections_per_peer: 32,
            max_handshakes: 64,
            max_handshakes_per_address: 8,
            handshake_timeout_s: 10,
            idle_timeout_s: 120,
            keepalive_interval_s: 30,
            keepalive_timeout_s: 10,
            max_header_bytes: 16 * 1024,
        }
    }
}

/// The host of an `https://host[:port][/path]` URL (an IPv6 address without its brackets).
pub fn endpoint_host(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("https://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split_once(']')?.0
    } else {
        authority.split(':').next()?
    };
    (!host.is_empty()).then_some(host)
}

fn default_deadline() -> u64 {
    2000
}

/// The node's TLS material (PEM files).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// the node's certificate (chain), server and client alike; its OIN is the node's
    pub cert: PathBuf,
    /// the certificate's private key
    pub key: PathBuf,
    /// trust anchors for peers (PKIoverheid roots in production)
    pub ca: PathBuf,
}

/// The own-organisation (Local) listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalConfig {
    /// the address it listens on (HOST:PORT)
    pub listen: String,
    /// the CA of the own systems' client certificates (not the peers' CA)
    pub ca: PathBuf,
    /// the own systems admitted: a certificate under `ca` that matches none is refused at the
    /// TLS handshake (none configured: none admitted)
    #[serde(default)]
    pub clients: Vec<OwnSystem>,
}

/// One own system, by the OIN in its certificate's subject serialNumber and/or its subject CN;
/// every key given must match.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnSystem {
    /// the OIN in the certificate's subject serialNumber
    #[serde(default)]
    pub oin: Option<String>,
    /// the certificate's subject CN
    #[serde(default)]
    pub cn: Option<String>,
}

impl OwnSystem {
    /// An own system known by both its OIN and its subject CN.
    pub fn new(oin: &str, cn: &str) -> OwnSystem {
        OwnSystem {
            oin: Some(oin.into()),
            cn: Some(cn.into()),
        }
    }

    /// Whether a certificate with this OIN and CN is this client.
    pub fn admits(&self, oin: Option<&str>, cn: Option<&str>) -> bool {
        (self.oin.is_some() || self.cn.is_some())
            && self.oin.as_deref().is_none_or(|o| Some(o) == oin)
            && self.cn.as_deref().is_none_or(|c| Some(c) == cn)
    }
}

/// A peer node this node calls.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    /// the peer organisation's OIN (its certificate's)
    pub oin: String,
    /// the peer's name, for people (peer statuses, the log)
    pub name: String,
    /// `https://host:port` for a matchgate peer; the contract's base URL (`https://host/api/v3`)
    /// for a REST peer. The TLS server name is the URL's host unless `server_name` says otherwise.
    pub endpoint: String,
    /// the name the peer's certificate must carry (a DNS name or an IP address), when it is not
    /// the endpoint's host (a gRPC peer reached by address, or through a load balancer); matchgate
    /// peers only
    #[serde(default)]
    pub server_name: Option<String>,
    /// how this node talks to the peer
    #[serde(default)]
    pub protocol: Protocol,
    /// follow this peer's vacancy feed: pull it every `feed_interval_s` seconds into the mirror
    #[serde(default)]
    pub follow_feed: bool,
    /// how often a followed feed is pulled, seconds
    #[serde(default = "default_feed_interval")]
    pub feed_interval_s: u64,
}

fn default_feed_interval() -> u64 {
    60
}

impl PeerConfig {
    /// A peer this node calls, without following its feed.
    pub fn new(oin: &str, name: &str, endpoint: String) -> PeerConfig {
        PeerConfig {
            oin: oin.into(),
            name: name.into(),
            endpoint,
            server_name: None,
            protocol: Protocol::Matchgate,
            follow_feed: false,
            feed_interval_s: default_feed_interval(),
        }
    }
}

/// How a peer is spoken to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// a matchgate node: the Peer gRPC service (selection, details, vacancy feed)
    #[default]
    Matchgate,
    /// a VUM source speaking the Bron contract (`VUM-Bron-*.json`): selection and details
    VumBron,
    /// the VUM-voorziening, spoken to over the Bemiddelaar contract: its selection answers carry
    /// its own vumIDs, which pass through to its detail calls
    VumBemiddelaar,
}

impl Protocol {
    /// The name node.toml gives it.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Matchgate => "matchgate",
            Protocol::VumBron => "vum-bron",
            Protocol::VumBemiddelaar => "vum-bemiddelaar",
        }
    }
}

/// A peer (by the OIN in its certificate) may act for these controllers on these services.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// the calling peer, by the OIN in its certificate
    pub via: String,
    /// the controllers (fromParty) it may act for; `*` is any
    pub on_behalf_of: Vec<String>,
    /// node-info, select-werkzoekenden, select-vacatures, get-werkzoekende, get-vacature, vacancy-feed
    pub services: Vec<String>,
    /// whether the controllers of this grant are SUWI parties: only then does a call's
    /// `x-vum-suwiparty: true` stand (and the LDR indication go out in details); a call claiming
    /// SUWI that no grant with `suwi = true` covers is refused
    #[serde(default)]
    pub suwi: bool,
}

/// Why `node.toml` could not be used: each names the file, and the key when one is at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// the file could not be read
    #[error("{}: {source}", path.display())]
    Read {
        /// the configuration file
        path: PathBuf,
        /// what reading it said
        source: std::io::Error,
    },
    /// the file is not TOML of the expected shape
    #[error("{}: {source}", path.display())]
    Parse {
        /// the configuration file
        path: PathBuf,
        /// what the TOML parser said (it names the line and key)
        source: toml::de::Error,
    },
    /// a value is out of range or malformed
    #[error("{}: {key} {problem}", path.display())]
    Invalid {
        /// the configuration file
        path: PathBuf,
        /// the key at fault, as written in the file (`limits.burst`, `local.clients[0].oin`)
        key: String,
        /// what is wrong with it
        problem: String,
    },
}

impl NodeConfig {
    /// Read and check `node.toml`; relative paths in it are taken from the file's directory.
    pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
        let c = NodeConfig::load_unchecked(path)?;
        c.check().map_err(|(key, problem)| ConfigError::Invalid {
            path: path.to_path_buf(),
            key,
            problem,
        })?;
        Ok(c)
    }

    /// Read `node.toml` without checking its values ([`NodeConfig::problems`] lists them).
    pub fn load_unchecked(path: &Path) -> Result<NodeConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut c: NodeConfig = toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [
            &mut c.tls.cert,
            &mut c.tls.key,
            &mut c.tls.ca,
            &mut c.local.ca,
            &mut c.secret_file,
        ] {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(c)
    }

    /// The first problem [`NodeConfig::problems`] finds.
    fn check(&self) -> Result<(), (String, String)> {
        match self.problems().into_iter().next() {
            Some(p) => Err(p),
            None => Ok(()),
        }
    }

    /// Every problem with values TOML cannot express: the key at fault and what is wrong with
    /// it (`matchgate check-config` lists them all; loading stops at the first).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut invalid = |key: &str, problem: String| out.push((key.to_string(), problem));
        let l = &self.limits;
        if !(l.requests_per_second > 0.0 && l.burst >= 1.0) {
            invalid(
                "limits.requests_per_second",
                "must be above 0 and limits.burst at least 1".into(),
            );
        }
        if l.result_ids_in_memory < 1_000 {
            invalid(
                "limits.result_ids_in_memory",
                "must be at least 1000".into(),
            );
        }
        if !(1..=86_400).contains(&l.detail_window_s) || l.details_per_selection < 1 {
            invalid(
                "limits.detail_window_s",
                "must be 1 to 86400 and limits.details_per_selection at least 1".into(),
            );
        }
        for (key, v) in [
            ("max_connections", l.max_connections as u64),
            (
                "max_connections_per_peer",
                l.max_connections_per_peer as u64,
            ),
            ("max_handshakes", l.max_handshakes as u64),
            (
                "max_handshakes_per_address",
                l.max_handshakes_per_address as u64,
            ),
            ("handshake_timeout_s", l.handshake_timeout_s),
            ("idle_timeout_s", l.idle_timeout_s),
            ("keepalive_interval_s", l.keepalive_interval_s),
            ("keepalive_timeout_s", l.keepalive_timeout_s),
            ("max_header_bytes", u64::from(l.max_header_bytes)),
        ] {
            if v == 0 {
                invalid(&format!("limits.{key}"), "must be above 0".into());
            }
        }
        for (i, client) in self.local.clients.iter().enumerate() {
            if client.oin.is_none() && client.cn.is_none() {
                invalid(
                    &format!("local.clients[{i}]"),
                    "names neither an oin nor a cn".into(),
                );
            }
            if let Some(o) = &client.oin {
                if !crate::parties::is_oin(o) {
                    invalid(
                        &format!("local.clients[{i}].oin"),
                        format!("'{o}' is not 20 digits"),
                    );
                }
            }
        }
        if !(self.oin.len() == 20 && self.oin.bytes().all(|b| b.is_ascii_digit())) {
            invalid("oin", format!("'{}' is not 20 digits", self.oin));
        }
        let base = &self.rest.base_path;
        if !(base.starts_with('/')
            && !base.ends_with('/')
            && base.len() <= 100
            && base[1..].split('/').all(|seg| {
                !seg.is_empty()
                    && seg
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            }))
        {
            invalid(
                "rest.base_path",
                format!("'{base}' is not a path such as /api/v3 (segments of letters, digits, - _ .; no trailing /)"),
            );
        }
        for (i, p) in self.peers.iter().enumerate() {
            if p.protocol != Protocol::Matchgate && p.follow_feed {
                invalid(
                    &format!("peers[{i}].follow_feed"),
                    format!("a {} peer has no vacancy feed", p.protocol.name()),
                );
            }
            if !p.endpoint.starts_with("https://") || endpoint_host(&p.endpoint).is_none() {
                invalid(
                    &format!("peers[{i}].endpoint"),
                    format!("'{}' is not an https:// URL with a host", p.endpoint),
                );
            }
            if !crate::parties::is_oin(&p.oin) {
                invalid(
                    &format!("peers[{i}].oin"),
                    format!("'{}' is not 20 digits", p.oin),
                );
            }
            if let Some(n) = &p.server_name {
                if p.protocol != Protocol::Matchgate {
                    invalid(
                        &format!("peers[{i}].server_name"),
                        format!(
                            "a {} peer is checked against its URL's host; set the name there",
                            p.protocol.name()
                        ),
                    );
                } else if rustls::pki_types::ServerName::try_from(n.as_str()).is_err() {
                    invalid(
                        &format!("peers[{i}].server_name"),
                        format!("'{n}' is not a DNS name or an IP address"),
                    );
                }
            }
        }
        for (i, g) in self.grants.iter().enumerate() {
            if !crate::parties::is_oin(&g.via) {
                invalid(
                    &format!("grants[{i}].via"),
                    format!("'{}' is not 20 digits", g.via),
                );
            }
            for o in &g.on_behalf_of {
                if o != "*" && !crate::parties::is_oin(o) {
                    invalid(
                        &format!("grants[{i}].on_behalf_of"),
                        format!("'{o}' is neither an OIN (20 digits) nor *"),
                    );
                }
            }
            for s in &g.services {
                let known = s == "*"
                    || s == "node-info"
                    || crate::server::CAPABILITIES.contains(&s.as_str());
                if !known {
                    invalid(
                        &format!("grants[{i}].services"),
                        format!(
                            "'{s}' is not a service (node-info, {} or *)",
                            crate::server::CAPABILITIES.join(", ")
                        ),
                    );
                }
            }
        }
        out
    }

    /// The TLS server name a matchgate peer's certificate must carry: its `server_name`, else
    /// its endpoint's host.
    pub fn peer_server_name(peer: &PeerConfig) -> Option<String> {
        peer.server_name
            .clone()
            .or_else(|| endpoint_host(&peer.endpoint).map(str::to_string))
    }

    fn grants_for<'a>(
        &'a self,
        via: &'a str,
        on_behalf_of: &'a str,
        service: &'a str,
    ) -> impl Iterator<Item = &'a Grant> + 'a {
        self.grants.iter().filter(move |g| {
            g.via == via
                && g.on_behalf_of.iter().any(|o| o == on_behalf_of || o == "*")
                && g.services.iter().any(|s| s == service || s == "*")
        })
    }

    /// Whether a grant lets `via` act for `on_behalf_of` on `service`.
    pub fn allowed(&self, via: &str, on_behalf_of: &str, service: &str) -> bool {
        self.grants_for(via, on_behalf_of, service).next().is_some()
    }

    /// Whether a certificate with this OIN may connect to the peer listener: a configured peer
    /// or the caller of a grant.
    pub fn knows_peer(&self, oin: &str) -> bool {
        self.peers.iter().any(|p| p.oin == oin) || self.grants.iter().any(|g| g.via == oin)
    }

    /// Whether a grant covering this call says its controller is a SUWI party.
    pub fn suwi_granted(&self, via: &str, on_behalf_of: &str, service: &str) -> bool {
        self.grants_for(via, on_behalf_of, service).any(|g| g.suwi)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_example_configuration_loads() {
        let p =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/node.example.toml");
        let c = super::NodeConfig::load(&p).unwrap();
        assert_eq!(c.oin, "00000001001234567000");
        assert_eq!(c.rest.base_path, "/api/v3");
        assert_eq!(
            c.peers.iter().map(|p| p.protocol).collect::<Vec<_>>(),
            [super::Protocol::Matchgate, super::Protocol::VumBron]
        );
        assert!(c.allowed(
            "00000001003214345000",
            "00000001003214345000",
            "vacancy-feed"
        ));
        assert!(!c.allowed(
            "00000001003214345000",
            "00000001003214345000",
            "select-werkzoekenden"
        ));
        assert!(c.tls.cert.is_absolute() || c.tls.cert.starts_with(p.parent().unwrap()));
        assert_eq!(c.limits.requests_per_second, 200.0);
        assert!(c.peers[0].follow_feed);
        assert!(c.suwi_granted(
            "00000001003214345000",
            "00000001003214345000",
            "vacancy-feed"
        ));
        assert!(!c.suwi_granted(
            "00000001003214345000",
            "00000009999999999000",
            "vacancy-feed"
        ));
        assert!(c.local.ca.ends_with("local-ca.pem"));
        assert!(
            c.local.clients[0].admits(Some("00000001001234567000"), Some("gemeente own systems"))
        );
        assert!(!c.local.clients[0].admits(Some("00000001003214345000"), Some("UWV")));
        assert_eq!(c.limits.max_connections, 400);
        assert_eq!(c.limits.connections().idle_timeout.as_secs(), 120);
        assert!(c.knows_peer("00000001003214345000"));
        assert!(!c.knows_peer("00000009999999999000"));
    }
}
