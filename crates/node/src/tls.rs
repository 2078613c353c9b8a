//! The TLS layer of both listeners, done here rather than inside tonic so that a refused handshake
//! (no client certificate, a foreign CA, an expired certificate) is seen by the node and written
//! to the audit log, not only dropped by rustls. rustls does the verification (webpki against the
//! configured trust anchors); this module only watches its verdicts.
use crate::pki::oin_of;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// A handshake the node refused.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// the OIN the presented certificate claims, when it had one: a claim, not an identity
    pub claimed_oin: Option<String>,
    /// the address the connection came from
    pub remote: Option<std::net::SocketAddr>,
    /// a fixed name per kind of refusal (the throttle's key, with the source address)
    pub class: &'static str,
    /// what rustls or the admission said, bounded
    pub reason: String,
}

/// The longest refusal reason kept, bytes.
const MAX_REASON: usize = 200;

/// The kind of a refused certificate, from rustls' verdict.
fn class_of(e: &rustls::Error) -> &'static str {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::NoCertificatesPresented => "no client certificate",
        rustls::Error::InvalidCertificate(C::UnknownIssuer) => "unknown issuer",
        rustls::Error::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => "expired",
        rustls::Error::InvalidCertificate(C::NotValidYet | C::NotValidYetContext { .. }) => {
            "not valid yet"
        }
        rustls::Error::InvalidCertificate(C::Revoked) => "revoked",
        rustls::Error::InvalidCertificate(C::ApplicationVerificationFailure) => "not admitted",
        _ => "invalid certificate",
    }
}

/// A verifier's verdict: the claimed OIN, the kind, the reason.
type Verdict = (Option<String>, &'static str, String);

tokio::task_local! {
    /// The verifier's verdict on the certificate of the handshake this task is doing: rustls
    /// calls the verifier inside the handshake's poll, on the connection's own task, so the
    /// verdict meets the connection's address here.
    static VERDICT: std::cell::RefCell<Option<Verdict>>;
}

fn report(der: &[u8], class: &'static str, reason: String) {
    let _ = VERDICT.try_with(|v| {
        *v.borrow_mut() = Some((
            oin_of(der),
            class,
            crate::server::bounded(&reason, MAX_REASON),
        ));
    });
}

/// Which certificates that chain to the listener's CA get in: the DER of the leaf in, a reason
/// out when it is not admitted (the configured peers on the peer listener, the configured own
/// systems on the local one).
#[derive(Clone)]
pub struct Admission(pub Arc<AdmitFn>);

/// An admission check: the DER of the leaf in, a reason out when it is not admitted.
pub type AdmitFn = dyn Fn(&[u8]) -> Result<(), String> + Send + Sync;

impl std::fmt::Debug for Admission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Admission")
    }
}

impl Admission {
    /// Every certificate the CA vouches for.
    pub fn any() -> Admission {
        Admission(Arc::new(|_| Ok(())))
    }
}

/// Wraps the webpki verifier, admits only what `admit` accepts, and reports every certificate it
/// rejects.
#[derive(Debug)]
struct WatchedVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    admit: Admission,
}

impl ClientCertVerifier for WatchedVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }
    fn client_auth_mandatory(&self) -> bool {
        true
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }
    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let r = self
            .inner
            .verify_client_cert(end_entity, intermediates, now);
        if let Err(e) = &r {
            report(end_entity.as_ref(), class_of(e), e.to_string());
            return r;
        }
        if let Err(why) = (self.admit.0)(end_entity.as_ref()) {
            report(end_entity.as_ref(), "not admitted", why);
            return Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ));
        }
        r
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Why a listener's TLS could not be set up from its certificate, key and CA files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// a file could not be read
    #[error("{}: {source}", path.display())]
    Read {
        /// the certificate, key or CA file
        path: PathBuf,
        /// what reading it said
        source: std::io::Error,
    },
    /// a file holds no usable PEM of what it should hold
    #[error("{}: {source}", path.display())]
    Pem {
        /// the certificate, key or CA file
        path: PathBuf,
        /// what the PEM reader said
        source: rustls::pki_types::pem::Error,
    },
    /// rustls refused what a file holds (a CA certificate, the certificate and key as a pair)
    #[error("{}: {source}", path.display())]
    Refused {
        /// the file whose contents were refused
        path: PathBuf,
        /// what rustls said
        source: rustls::Error,
    },
    /// no client-certificate verifier could be built from the CA file
    #[error("{}: {source}", path.display())]
    Verifier {
        /// the CA file
        path: PathBuf,
        /// what the verifier builder said
        source: rustls::server::VerifierBuilderError,
    },
    /// the crypto provider supports none of the safe protocol versions
    #[error("{0}")]
    Protocol(rustls::Error),
}

fn read(p: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(p).map_err(|source| TlsError::Read {
        path: p.to_path_buf(),
        source,
    })
}

/// A rustls server configuration requiring a client certificate that chains to `ca`, offering h2.
fn server_config(
    cert: &Path,
    key: &Path,
    ca: &Path,
    admit: Admission,
) -> Result<rustls::ServerConfig, TlsError> {
    let pem = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TlsError::Pem { path, source }
    };
    let refused = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TlsError::Refused { path, source }
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(&read(ca)?) {
        roots.add(c.map_err(pem(ca))?).map_err(refused(ca))?;
    }
    let inner = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|source| TlsError::Verifier {
            path: ca.to_path_buf(),
            source,
        })?;
    let chain = CertificateDer::pem_slice_iter(&read(cert)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem(cert))?;
    let key_der = PrivateKeyDer::from_pem_slice(&read(key)?).map_err(pem(key))?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Protocol)?
        .with_client_cert_verifier(Arc::new(WatchedVerifier { inner, admit }))
        .with_single_cert(chain, key_der)
        .map_err(refused(cert))?;
    // h2 for gRPC and REST; http/1.1 for REST clients that speak only that (curl --http1.1,
    // Python's requests)
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}

/// A rustls client configuration for calls to REST peers: the node's certificate as the client
/// certificate, servers verified against `ca` (the server name is the peer URL's host).
pub fn client_config(cert: &Path, key: &Path, ca: &Path) -> Result<rustls::ClientConfig, TlsError> {
    let pem = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TlsError::Pem { path, source }
    };
    let refused = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TlsError::Refused { path, source }
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(&read(ca)?) {
        roots.add(c.map_err(pem(ca))?).map_err(refused(ca))?;
    }
    let chain = CertificateDer::pem_slice_iter(&read(cert)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem(cert))?;
    let key_der = PrivateKeyDer::from_pem_slice(&read(key)?).map_err(pem(key))?;
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Protocol)?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key_der)
        .map_err(refused(cert))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}

/// What a listener lets connections hold.
#[derive(Debug, Clone)]
pub struct ConnLimits {
    /// connections open at once; one more is closed at once
    pub max_connections: usize,
    /// connections open at once per client certificate OIN
    pub max_connections_per_oin: usize,
    /// TLS handshakes in progress at once; one more connection is closed at once
    pub max_handshakes: usize,
    /// TLS handshakes in progress at once from one source address (so that one host holding
    /// connections open without a handshake cannot take every handshake place)
    pub max_handshakes_per_address: usize,
    /// a handshake not done within this is dropped
    pub handshake_timeout: Duration,
    /// a connection nothing has been read from for this long is closed
    pub idle_timeout: Duration,
}

/// An established connection: the TLS stream, closed when nothing has been read from it for the
/// idle timeout, holding its places under the listener's caps until it is dropped.
pub struct Conn {
    io: TlsStream<TcpStream>,
    idle: Duration,
    deadline: std::pin::Pin<Box<tokio::time::Sleep>>,
    _total: tokio::sync::OwnedSemaphorePermit,
    _per_oin: Option<Slot<String>>,
    _accepted: Option<Accepted>,
}

/// The `tls.accept` span of each established connection, by (local, remote) address, while the
/// connection is open: a call's span links to it (the handshake happens before any trace context
/// is known, so it is a trace of its own). Entries only with export on; each is removed when its
/// connection drops, so the map holds at most the open connections.
type AcceptSpans = std::sync::Mutex<
    HashMap<(std::net::SocketAddr, std::net::SocketAddr), opentelemetry::trace::SpanContext>,
>;
static ACCEPT_SPANS: std::sync::LazyLock<AcceptSpans> = std::sync::LazyLock::new(Default::default);

/// The `tls.accept` span of the connection from `remote` to `local`, when traces are exported.
pub fn accept_span(
    local: std::net::SocketAddr,
    remote: std::net::SocketAddr,
) -> Option<opentelemetry::trace::SpanContext> {
    ACCEPT_SPANS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&(local, remote))
        .cloned()
}

/// A connection's entry in [`ACCEPT_SPANS`], removed on drop.
struct Accepted((std::net::SocketAddr, std::net::SocketAddr));

impl Accepted {
    fn register(span: &tracing::Span, stream: &TlsStream<TcpStream>) -> Option<Accepted> {
        use opentelemetry::trace::TraceContextExt as _;
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        let cx = span.context().span().span_context().clone();
        if !cx.is_valid() {
            return None;
        }
        let tcp = stream.get_ref().0;
        let key = (tcp.local_addr().ok()?, tcp.peer_addr().ok()?);
        ACCEPT_SPANS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, cx);
        Some(Accepted(key))
    }
}

impl Drop for Accepted {
    fn drop(&mut self) {
        ACCEPT_SPANS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.0);
    }
}

/// One place counted against a key (an OIN, an address); given back on drop, and the key
/// forgotten when its count is 0 (so the map holds only keys in use).
struct Slot<K: std::hash::Hash + Eq> {
    key: K,
    open: Arc<std::sync::Mutex<HashMap<K, usize>>>,
}

impl<K: std::hash::Hash + Eq> Drop for Slot<K> {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

impl tokio::io::AsyncRead for Conn {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::task::Poll;
        let before = buf.filled().len();
        match std::pin::Pin::new(&mut self.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    let next = tokio::time::Instant::now() + self.idle;
                    self.deadline.as_mut().reset(next);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "connection idle",
                ))),
                Poll::Pending => Poll::Pending,
            },
            other => other,
        }
    }
}

impl tokio::io::AsyncWrite for Conn {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

impl tonic::transport::server::Connected for Conn {
    type ConnectInfo = <TlsStream<TcpStream> as tonic::transport::server::Connected>::ConnectInfo;
    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}

/// Refused handshakes between audit entries, per kind of refusal and source address: the first
/// of each second is written at once, the rest counted and written by [`RefusalThrottle::tick`]
/// (each second). At most `cap` keys are kept; past that, refusals count under their kind alone.
pub struct RefusalThrottle {
    cap: usize,
    keys: HashMap<(Option<std::net::IpAddr>, &'static str), Pending>,
}

struct Pending {
    count: i64,
    reported: std::time::Instant,
    /// the latest refusal counted since the last entry
    sample: Option<Refusal>,
}

impl RefusalThrottle {
    /// A throttle that keeps at most `cap` source addresses apart.
    pub fn new(cap: usize) -> RefusalThrottle {
        RefusalThrottle {
            cap,
            keys: HashMap::new(),
        }
    }

    /// Keys held now (bounded by `cap` plus the number of kinds).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Count a refusal; `Some((refusal, count))` when an entry is to be written now.
    pub fn refuse(&mut self, r: Refusal, now: std::time::Instant) -> Option<(Refusal, i64)> {
        let mut key = (r.remote.map(|a| a.ip()), r.class);
        if !self.keys.contains_key(&key) && self.keys.len() >= self.cap {
            key = (None, r.class);
        }
        match self.keys.get_mut(&key) {
            None => {
                self.keys.insert(
                    key,
                    Pending {
                        count: 0,
                        reported: now,
                        sample: None,
                    },
                );
                Some((r, 1))
            }
            Some(p) if now.duration_since(p.reported) >= Duration::from_secs(1) => {
                p.reported = now;
                p.sample = None;
                Some((r, std::mem::take(&mut p.count) + 1))
            }
            Some(p) => {
                p.count += 1;
                p.sample = Some(r);
                None
            }
        }
    }

    /// Each second: the counts pending (to be written), and keys quiet for a second forgotten.
    pub fn tick(&mut self, now: std::time::Instant) -> Vec<(Refusal, i64)> {
        let mut out = Vec::new();
        self.keys.retain(|_, p| {
            if let (n @ 1.., Some(r)) = (p.count, p.sample.take()) {
                out.push((r, n));
                p.count = 0;
                p.reported = now;
                true
            } else {
                now.duration_since(p.reported) < Duration::from_secs(1)
            }
        });
        out
    }
}

/// Accept TCP connections, do the mutual-TLS handshake (each on its own task, with a timeout) and
/// hand established streams to the gRPC server. Every refused handshake goes to `refused`. A
/// connection past a cap (in total, handshakes at once, per OIN) is closed at once, not queued.
/// `name` (`peer`, `local`) names the listener in its spans; `[cert, key, ca]` are its files.
pub fn accept(
    name: &'static str,
    listener: TcpListener,
    [cert, key, ca]: [&Path; 3],
    admit: Admission,
    limits: ConnLimits,
    refused: mpsc::UnboundedSender<Refusal>,
) -> Result<
    (
        impl tokio_stream::Stream<Item = std::io::Result<Conn>> + Send + 'static,
        Reloader,
    ),
    TlsError,
> {
    let reloader = Reloader {
        files: [cert.to_path_buf(), key.to_path_buf(), ca.to_path_buf()],
        current: Arc::new(std::sync::RwLock::new(TlsAcceptor::from(Arc::new(
            server_config(cert, key, ca, admit.clone())?,
        )))),
        admit,
    };
    let current = reloader.current.clone();
    let (tx, rx) = mpsc::channel::<std::io::Result<Conn>>(64);
    let caps = Arc::new(Caps {
        total: Arc::new(tokio::sync::Semaphore::new(limits.max_connections)),
        handshakes: Arc::new(tokio::sync::Semaphore::new(limits.max_handshakes)),
        per_oin: Arc::new(std::sync::Mutex::new(HashMap::new())),
        // at most max_handshakes entries: each holds a handshake in progress
        per_address: Arc::new(std::sync::Mutex::new(HashMap::new())),
        shed: Shed::default(),
        limits,
        name,
    });
    tokio::spawn(async move {
        loop {
            let (tcp, remote) = tokio::select! {
                r = listener.accept() => match r {
                    Ok(c) => c,
                    Err(e) => {
                        // out of file descriptors, typically: back off, keep serving
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = tx.closed() => break,
            };
            let Some(places) = caps.places(remote) else {
                drop(tcp);
                continue;
            };
            // without it a response written in two segments waits for the client's delayed ACK
            let _ = tcp.set_nodelay(true);
            // the configuration current now: a reload applies to handshakes from here on;
            // established connections keep theirs
            let acceptor = current.read().unwrap_or_else(|e| e.into_inner()).clone();
            let (tx, refused, caps) = (tx.clone(), refused.clone(), caps.clone());
            tokio::spawn(async move {
                if let Some(conn) = caps
                    .handshake(acceptor, tcp, remote, places, &refused)
                    .await
                {
                    let _ = tx.send(Ok(conn)).await;
                }
            });
        }
    });
    Ok((tokio_stream::wrappers::ReceiverStream::new(rx), reloader))
}

/// A listener's TLS configuration, re-read from its files by [`Reloader::reload`] (on SIGHUP):
/// new handshakes use the new certificate, key and CA; established connections are kept.
#[derive(Clone)]
pub struct Reloader {
    files: [std::path::PathBuf; 3],
    admit: Admission,
    current: Arc<std::sync::RwLock<TlsAcceptor>>,
}

impl Reloader {
    /// Whether the files make a configuration now, without using it.
    pub fn check(&self) -> Result<(), TlsError> {
        let [cert, key, ca] = &self.files;
        server_config(cert, key, ca, self.admit.clone()).map(|_| ())
    }

    /// Read the certificate, key and CA again; on any error the current configuration stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let [cert, key, ca] = &self.files;
        let cfg = server_config(cert, key, ca, self.admit.clone())?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = TlsAcceptor::from(Arc::new(cfg));
        Ok(())
    }
}

/// A listener's caps and the places taken under them.
struct Caps {
    total: Arc<tokio::sync::Semaphore>,
    handshakes: Arc<tokio::sync::Semaphore>,
    per_oin: Arc<std::sync::Mutex<HashMap<String, usize>>>,
    per_address: Arc<std::sync::Mutex<HashMap<std::net::IpAddr, usize>>>,
    shed: Shed,
    limits: ConnLimits,
    /// `peer` or `local`, for the `tls.accept` span
    name: &'static str,
}

/// The places a connection in its handshake holds: one in total, one of the handshakes, one of
/// its address's handshakes.
struct Places {
    total: tokio::sync::OwnedSemaphorePermit,
    handshake: tokio::sync::OwnedSemaphorePermit,
    address: Slot<std::net::IpAddr>,
}

impl Caps {
    /// The places for a new connection from `remote`, or none (it is closed) past a cap.
    fn places(&self, remote: std::net::SocketAddr) -> Option<Places> {
        let Ok(total) = self.total.clone().try_acquire_owned() else {
            self.shed.note("connections");
            return None;
        };
        let Ok(handshake) = self.handshakes.clone().try_acquire_owned() else {
            self.shed.note("handshakes");
            return None;
        };
        let mut open = self.per_address.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(remote.ip()).or_insert(0);
        if *n >= self.limits.max_handshakes_per_address {
            drop(open);
            self.shed.note("handshakes per address");
            return None;
        }
        *n += 1;
        Some(Places {
            total,
            handshake,
            address: Slot {
                key: remote.ip(),
                open: self.per_address.clone(),
            },
        })
    }

    /// The handshake (under its timeout, its refusal reported), then the place per OIN: the
    /// established connection, or none. Each handshake is a `tls.accept` span, the root of a
    /// trace of its own (no trace context is known before it): the listener, the outcome, the
    /// certificate's OIN when admitted, the kind of refusal otherwise; calls on the connection
    /// link to it.
    async fn handshake(
        &self,
        acceptor: TlsAcceptor,
        tcp: TcpStream,
        remote: std::net::SocketAddr,
        places: Places,
        refused: &mpsc::UnboundedSender<Refusal>,
    ) -> Option<Conn> {
        let span = tracing::info_span!(
            parent: None,
            "tls.accept",
            otel.kind = "server",
            listener = self.name,
            outcome = tracing::field::Empty,
            peer.oin = tracing::field::Empty,
            refusal = tracing::field::Empty,
        );
        let Places {
            total,
            handshake,
            address,
        } = places;
        let hs = tracing::Instrument::instrument(
            VERDICT.scope(std::cell::RefCell::new(None), async {
                let r =
                    tokio::time::timeout(self.limits.handshake_timeout, acceptor.accept(tcp)).await;
                (r, VERDICT.with(|v| v.borrow_mut().take()))
            }),
            span.clone(),
        )
        .await;
        drop((handshake, address));
        let stream = match hs {
            (Ok(Ok(stream)), _) => stream,
            (Ok(Err(e)), verdict) => {
                let class = refusal_of(&e, verdict, remote, refused);
                span.record(
                    "outcome",
                    if class.is_some() { "refused" } else { "failed" },
                );
                span.record("refusal", class.unwrap_or("handshake failed"));
                return None;
            }
            (Err(_), _) => {
                span.record("outcome", "timed out");
                tracing::debug!(%remote, "TLS handshake timed out");
                return None;
            }
        };
        let oin = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .and_then(|c| oin_of(c.as_ref()));
        if let Some(oin) = &oin {
            span.record("peer.oin", oin.as_str());
        }
        let slot = match oin {
            Some(oin) => match self.oin_place(oin) {
                Some(slot) => Some(slot),
                None => {
                    span.record("outcome", "closed at the cap per OIN");
                    return None;
                }
            },
            None => None,
        };
        span.record("outcome", "established");
        let accepted = Accepted::register(&span, &stream);
        Some(Conn {
            io: stream,
            idle: self.limits.idle_timeout,
            deadline: Box::pin(tokio::time::sleep(self.limits.idle_timeout)),
            _total: total,
            _per_oin: slot,
            _accepted: accepted,
        })
    }

    /// A place for one more connection of this OIN, or none (it is closed) past the cap.
    fn oin_place(&self, oin: String) -> Option<Slot<String>> {
        let mut open = self.per_oin.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(oin.clone()).or_insert(0);
        if *n >= self.limits.max_connections_per_oin {
            drop(open);
            self.shed.note("connections per OIN");
            return None;
        }
        *n += 1;
        Some(Slot {
            key: oin,
            open: self.per_oin.clone(),
        })
    }
}

/// A failed handshake, to `refused` when the verifier (or rustls: no certificate) refused it;
/// otherwise only to the debug log. The kind of refusal, when it was one.
fn refusal_of(
    e: &std::io::Error,
    verdict: Option<Verdict>,
    remote: std::net::SocketAddr,
    refused: &mpsc::UnboundedSender<Refusal>,
) -> Option<&'static str> {
    let tls = e
        .get_ref()
        .and_then(|i| i.downcast_ref::<rustls::Error>())
        .cloned();
    let refusal = match (verdict, tls) {
        (Some((claimed_oin, class, reason)), _) => Some(Refusal {
            claimed_oin,
            remote: Some(remote),
            class,
            reason,
        }),
        (None, Some(rustls::Error::NoCertificatesPresented)) => Some(Refusal {
            claimed_oin: None,
            remote: Some(remote),
            class: "no client certificate",
            reason: "no client certificate".into(),
        }),
        _ => None,
    };
    match refusal {
        Some(r) => {
            let class = r.class;
            let _ = refused.send(r);
            Some(class)
        }
        None => {
            tracing::debug!(%remote, error = %e, "TLS handshake failed");
            None
        }
    }
}

/// Connections closed at a cap, logged at most once a second per listener with the count.
#[derive(Default)]
struct Shed {
    count: std::sync::atomic::AtomicU64,
    last: std::sync::Mutex<Option<std::time::Instant>>,
}

impl Shed {
    fn note(&self, cap: &'static str) {
        use std::sync::atomic::Ordering;
        let n = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let now = std::time::Instant::now();
        if last.is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1)) {
            *last = Some(now);
            self.count.store(0, Ordering::Relaxed);
            tracing::warn!(cap, closed = n, "connections closed at a cap");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(ip: u32, class: &'static str) -> Refusal {
        Refusal {
            claimed_oin: Some("00000001001234567000".into()),
            remote: Some(std::net::SocketAddr::from((ip.to_be_bytes(), 4000))),
            class,
            reason: class.into(),
        }
    }

    /// Memory stays bounded under refusals from many addresses, and no refusal goes uncounted.
    #[test]
    fn the_refusal_throttle_is_bounded_and_counts_everything() {
        let mut t = RefusalThrottle::new(64);
        let start = std::time::Instant::now();
        let mut written = 0;
        for i in 0..10_000u32 {
            let now = start + Duration::from_millis(u64::from(i) / 10);
            if let Some((_, n)) = t.refuse(refusal(i, "unknown issuer"), now) {
                written += n;
            }
            assert!(t.len() <= 65, "{}", t.len());
            if i % 10 == 9 {
                for (_, n) in t.tick(now) {
                    written += n;
                }
            }
        }
        for (_, n) in t.tick(start + Duration::from_secs(60)) {
            written += n;
        }
        assert_eq!(written, 10_000);
        t.tick(start + Duration::from_secs(120));
        assert!(t.is_empty());
        // one address, one kind: one entry a second
        let mut t = RefusalThrottle::new(64);
        let now = std::time::Instant::now();
        let entries = (0..200)
            .filter(|_| t.refuse(refusal(1, "unknown issuer"), now).is_some())
            .count();
        assert_eq!(entries, 1);
        assert_eq!(t.tick(now)[0].1, 199);
    }
}
