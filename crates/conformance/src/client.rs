//! One client for every face under test: a REST face (Bron or Bemiddelaar contract) over HTTPS
//! with a client certificate, or a matchgate Peer service over gRPC. Answers come back in one
//! shape ([`Answer`]) so a check reads the same whatever it tests; a gRPC status is given the HTTP
//! status the contracts would use for it.
use crate::model::TargetKind;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use vum_proto::{vacatures as vac, werkzoekenden as wz};

/// A certificate and key (PEM files).
#[derive(Debug, Clone)]
pub struct Creds {
    /// the certificate (chain)
    pub cert: PathBuf,
    /// its private key
    pub key: PathBuf,
}

/// A face to call: what it is, where, the CA its server certificate comes from.
#[derive(Debug, Clone)]
pub struct Face {
    /// Bron, Bemiddelaar or gRPC
    pub kind: TargetKind,
    /// `https://host:port/api/v3` for REST, `https://host:port` for gRPC
    pub url: String,
    /// trust anchors for the server's certificate
    pub ca: PathBuf,
}

/// The kind of record a call is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    /// werkzoekenden (profiles)
    Werkzoekende,
    /// vacatures
    Vacature,
}

/// What came back.
#[derive(Debug, Clone)]
pub struct Answer {
    /// the HTTP status; for gRPC the status the contracts would give the gRPC code
    pub status: u16,
    /// the gRPC code's name, for gRPC
    pub grpc_code: Option<String>,
    /// response headers, names lower case (REST only)
    pub headers: Vec<(String, String)>,
    /// the body as JSON (`Null` when it is none)
    pub body: Value,
    /// what was sent, for evidence
    pub request: String,
}

impl Answer {
    /// A response header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The answer as evidence text: status and a bounded excerpt of the body.
    pub fn excerpt(&self) -> String {
        let body = serde_json::to_string(&self.body).unwrap_or_default();
        let code = self
            .grpc_code
            .as_deref()
            .map(|c| format!(" (gRPC {c})"))
            .unwrap_or_default();
        format!("{}{code} {}", self.status, bounded(&body, 1500))
    }
}

/// At most `max` bytes of `s`, cut at a character boundary.
pub fn bounded(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &s[..end], s.len())
}

/// Why a call got no answer at all (a refused handshake, a connection that failed).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct NoAnswer(pub String);

/// A client of one face with one identity.
#[derive(Clone)]
pub struct Client {
    face: Face,
    http: Option<reqwest::Client>,
    grpc: Option<tonic::transport::Channel>,
}

fn read(p: &Path) -> Result<Vec<u8>, NoAnswer> {
    std::fs::read(p).map_err(|e| NoAnswer(format!("{}: {e}", p.display())))
}

fn rustls_config(creds: Option<&Creds>, ca: &Path) -> Result<rustls::ClientConfig, NoAnswer> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(&read(ca)?) {
        let c = c.map_err(|e| NoAnswer(format!("{}: {e}", ca.display())))?;
        roots
            .add(c)
            .map_err(|e| NoAnswer(format!("{}: {e}", ca.display())))?;
    }
    let b = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| NoAnswer(e.to_string()))?
    .with_root_certificates(roots);
    let mut cfg = match creds {
        Some(c) => {
            let chain = CertificateDer::pem_slice_iter(&read(&c.cert)?)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| NoAnswer(format!("{}: {e}", c.cert.display())))?;
            let key = PrivateKeyDer::from_pem_slice(&read(&c.key)?)
                .map_err(|e| NoAnswer(format!("{}: {e}", c.key.display())))?;
            b.with_client_auth_cert(chain, key)
                .map_err(|e| NoAnswer(format!("{}: {e}", c.cert.display())))?
        }
        None => b.with_no_client_auth(),
    };
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}

impl Client {
    /// A client of `face` presenting `creds` (none: no client certificate).
    pub fn new(face: &Face, creds: Option<&Creds>) -> Result<Client, NoAnswer> {
        let timeout = Duration::from_secs(10);
        match face.kind {
            TargetKind::Grpc => {
                let mut tls = tonic::transport::ClientTlsConfig::new()
                    .ca_certificate(tonic::transport::Certificate::from_pem(read(&face.ca)?));
                if let Some(c) = creds {
                    tls = tls.identity(tonic::transport::Identity::from_pem(
                        read(&c.cert)?,
                        read(&c.key)?,
                    ));
                }
                let host = url_host(&face.url);
                let ch = tonic::transport::Endpoint::from_shared(face.url.clone())
                    .map_err(|e| NoAnswer(format!("{}: {e}", face.url)))?
                    .tls_config(tls.domain_name(host))
                    .map_err(|e| NoAnswer(format!("{}: {e}", face.url)))?
                    .connect_timeout(timeout)
                    .timeout(timeout)
                    .connect_lazy();
                Ok(Client {
                    face: face.clone(),
                    http: None,
                    grpc: Some(ch),
                })
            }
            _ => {
                let http = reqwest::Client::builder()
                    .use_preconfigured_tls(rustls_config(creds, &face.ca)?)
                    .timeout(timeout)
                    .build()
                    .map_err(|e| NoAnswer(e.to_string()))?;
                Ok(Client {
                    face: face.clone(),
                    http: Some(http),
                    grpc: None,
                })
            }
        }
    }

    /// A selection (`{"vraagObject": …}`) with these party headers.
    pub async fn select(
        &self,
        record: Record,
        query: &Value,
        headers: &[(String, String)],
    ) -> Result<Answer, NoAnswer> {
        let path = match record {
            Record::Werkzoekende => "/werkzoekendeProfielen/matches",
            Record::Vacature => "/vacatures/matches",
        };
        if let Some(http) = &self.http {
            let body = serde_json::to_vec(query).unwrap_or_default();
            return self
                .rest(http, reqwest::Method::POST, path, Some(body), headers)
                .await;
        }
        let request = format!(
            "gRPC Peer/Select{} {} {}",
            if record == Record::Vacature {
                "Vacatures"
            } else {
                "Werkzoekenden"
            },
            show_headers(headers),
            bounded(&query.to_string(), 600)
        );
        let mut c = node::pb::peer_client::PeerClient::new(self.channel()?);
        let r = if record == Record::Vacature {
            let msg: vac::VacatureMatchesRequest = match serde_json::from_value(query.clone()) {
                Ok(m) => m,
                Err(e) => return Ok(unrepresentable(request, e)),
            };
            c.select_vacatures(with_metadata(msg, headers))
                .await
                .map(|r| serde_json::to_value(r.into_inner()).unwrap_or_default())
        } else {
            let msg: wz::WerkzoekendeProfielMatchesRequest =
                match serde_json::from_value(query.clone()) {
                    Ok(m) => m,
                    Err(e) => return Ok(unrepresentable(request, e)),
                };
            c.select_werkzoekenden(with_metadata(msg, headers))
                .await
                .map(|r| serde_json::to_value(r.into_inner()).unwrap_or_default())
        };
        grpc_answer(request, r)
    }

    /// A detail by id (a source's id, or a vumID on a Bemiddelaar face).
    pub async fn detail(
        &self,
        record: Record,
        id: &str,
        headers: &[(String, String)],
    ) -> Result<Answer, NoAnswer> {
        let collection = match record {
            Record::Werkzoekende => "/werkzoekendeProfielen/",
            Record::Vacature => "/vacatures/",
        };
        if let Some(http) = &self.http {
            let path = format!("{collection}{}", path_segment(id));
            return self
                .rest(http, reqwest::Method::GET, &path, None, headers)
                .await;
        }
        let request = format!(
            "gRPC Peer/Get{} {} id={}",
            if record == Record::Vacature {
                "Vacature"
            } else {
                "Werkzoekende"
            },
            show_headers(headers),
            bounded(id, 200)
        );
        let mut c = node::pb::peer_client::PeerClient::new(self.channel()?);
        let msg = node::pb::GetRequest { id: id.into() };
        let r = if record == Record::Vacature {
            c.get_vacature(with_metadata(msg, headers))
                .await
                .map(|r| serde_json::to_value(r.into_inner()).unwrap_or_default())
        } else {
            c.get_werkzoekende(with_metadata(msg, headers))
                .await
                .map(|r| serde_json::to_value(r.into_inner()).unwrap_or_default())
        };
        grpc_answer(request, r)
    }

    fn channel(&self) -> Result<tonic::transport::Channel, NoAnswer> {
        self.grpc
            .clone()
            .ok_or_else(|| NoAnswer("not a gRPC face".into()))
    }

    async fn rest(
        &self,
        http: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
        body: Option<Vec<u8>>,
        headers: &[(String, String)],
    ) -> Result<Answer, NoAnswer> {
        let url = format!("{}{path}", self.face.url.trim_end_matches('/'));
        let mut request = format!("{method} {url} {}", show_headers(headers));
        let mut r = http.request(method, &url);
        for (k, v) in headers {
            r = r.header(k.as_str(), v.as_str());
        }
        if let Some(b) = body {
            request.push(' ');
            request.push_str(&bounded(&String::from_utf8_lossy(&b), 600));
            r = r.header("Content-Type", "application/json").body(b);
        }
        let resp = r.send().await.map_err(|e| NoAnswer(chain(&e)))?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let bytes = resp.bytes().await.map_err(|e| NoAnswer(chain(&e)))?;
        let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            if bytes.is_empty() {
                Value::Null
            } else {
                Value::String(bounded(&String::from_utf8_lossy(&bytes), 1500))
            }
        });
        Ok(Answer {
            status,
            grpc_code: None,
            headers,
            body,
            request,
        })
    }
}

/// The error chain of a failed request, in one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        s.push_str(": ");
        s.push_str(&x.to_string());
        src = x.source();
    }
    bounded(&s, 400)
}

fn url_host(url: &str) -> String {
    let rest = url.split("://").nth(1).unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or(rest);
    match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6).to_string(),
        None => authority.split(':').next().unwrap_or(authority).to_string(),
    }
}

/// An id as a path segment (percent-encoded outside the unreserved characters).
fn path_segment(id: &str) -> String {
    id.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn show_headers(h: &[(String, String)]) -> String {
    let parts: Vec<String> = h
        .iter()
        .map(|(k, v)| format!("{k}: {}", bounded(v, 80)))
        .collect();
    format!("[{}]", parts.join("; "))
}

fn with_metadata<T>(msg: T, headers: &[(String, String)]) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    for (k, v) in headers {
        let k = k.to_ascii_lowercase();
        if let (Ok(k), Ok(v)) = (
            tonic::metadata::MetadataKey::from_bytes(k.as_bytes()),
            v.parse(),
        ) {
            r.metadata_mut().insert(k, v);
        }
    }
    r
}

/// A selection gRPC cannot carry (its JSON does not fit the message): the client refuses it, as
/// a gRPC peer would never see it; reported as a 400 from the client's side.
fn unrepresentable(request: String, e: serde_json::Error) -> Answer {
    Answer {
        status: 400,
        grpc_code: Some("client: not representable".into()),
        headers: Vec::new(),
        body: Value::String(bounded(&e.to_string(), 300)),
        request,
    }
}

fn grpc_answer(request: String, r: Result<Value, tonic::Status>) -> Result<Answer, NoAnswer> {
    match r {
        Ok(body) => Ok(Answer {
            status: 200,
            grpc_code: Some("OK".into()),
            headers: Vec::new(),
            body,
            request,
        }),
        Err(s) => {
            use tonic::Code;
            // a status made by the client's transport (a refused handshake, no connection) is
            // no answer from the server
            if s.source_details_missing_transport()
                || s.message() == "transport error"
                || (s.code() == Code::Cancelled && s.metadata().is_empty())
            {
                return Err(NoAnswer(bounded(&s.to_string(), 400)));
            }
            let status = match s.code() {
                Code::InvalidArgument | Code::OutOfRange | Code::FailedPrecondition => 400,
                Code::Unauthenticated | Code::PermissionDenied | Code::NotFound => 401,
                Code::ResourceExhausted => 429,
                Code::Unavailable | Code::DeadlineExceeded => 503,
                _ => 500,
            };
            Ok(Answer {
                status,
                grpc_code: Some(format!("{:?}", s.code())),
                headers: Vec::new(),
                body: serde_json::json!({ "message": bounded(s.message(), 500) }),
                request,
            })
        }
    }
}

/// Whether a gRPC status came from the transport rather than the server.
trait TransportStatus {
    fn source_details_missing_transport(&self) -> bool;
}

impl TransportStatus for tonic::Status {
    fn source_details_missing_transport(&self) -> bool {
        use std::error::Error;
        self.source()
            .is_some_and(|e| e.downcast_ref::<tonic::transport::Error>().is_some())
    }
}
