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
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// A handshake the node refused.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// the OIN in the presented certificate, when there was one with an OIN
    pub oin: Option<String>,
    pub remote: String,
    pub reason: String,
}

/// Which certificates that chain to the listener's CA get in: the DER of the leaf in, a reason
/// out when it is not admitted (the configured peers on the peer listener, the configured own
/// systems on the local one).
#[derive(Clone)]
pub struct Admission(pub Arc<dyn Fn(&[u8]) -> Result<(), String> + Send + Sync>);

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
    refusals: mpsc::UnboundedSender<(Option<String>, String)>,
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
            let _ = self
                .refusals
                .send((oin_of(end_entity.as_ref()), e.to_string()));
            return r;
        }
        if let Err(why) = (self.admit.0)(end_entity.as_ref()) {
            let _ = self.refusals.send((oin_of(end_entity.as_ref()), why));
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

fn read(p: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))
}

/// A rustls server configuration requiring a client certificate that chains to `ca`, offering h2.
fn server_config(
    cert: &Path,
    key: &Path,
    ca: &Path,
    admit: Admission,
    refusals: mpsc::UnboundedSender<(Option<String>, String)>,
) -> Result<rustls::ServerConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(&read(ca)?) {
        let c = c.map_err(|e| format!("{}: {e}", ca.display()))?;
        roots.add(c).map_err(|e| format!("{}: {e}", ca.display()))?;
    }
    let inner = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("{}: {e}", ca.display()))?;
    let chain = CertificateDer::pem_slice_iter(&read(cert)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    let key_der = PrivateKeyDer::from_pem_slice(&read(key)?)
        .map_err(|e| format!("{}: {e}", key.display()))?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(Arc::new(WatchedVerifier {
            inner,
            admit,
            refusals,
        }))
        .with_single_cert(chain, key_der)
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(cfg)
}

/// Accept TCP connections, do the mutual-TLS handshake (each on its own task, with a timeout) and
/// hand established streams to the gRPC server. Every refused handshake goes to `refused`.
pub fn accept(
    listener: TcpListener,
    cert: &Path,
    key: &Path,
    ca: &Path,
    admit: Admission,
    refused: mpsc::UnboundedSender<Refusal>,
) -> Result<
    impl tokio_stream::Stream<Item = std::io::Result<TlsStream<TcpStream>>> + Send + 'static,
    String,
> {
    let (verdict_tx, mut verdict_rx) = mpsc::unbounded_channel::<(Option<String>, String)>();
    let acceptor = TlsAcceptor::from(Arc::new(server_config(cert, key, ca, admit, verdict_tx)?));
    let (tx, rx) = mpsc::channel::<std::io::Result<TlsStream<TcpStream>>>(64);
    let watch = refused.clone();
    tokio::spawn(async move {
        loop {
            let (tcp, remote) = tokio::select! {
                r = listener.accept() => match r {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = tx.closed() => break,
            };
            // without it a response written in two segments waits for the client's delayed ACK
            let _ = tcp.set_nodelay(true);
            let (acceptor, tx, refused) = (acceptor.clone(), tx.clone(), watch.clone());
            tokio::spawn(async move {
                let hs = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await;
                match hs {
                    Ok(Ok(stream)) => {
                        let _ = tx.send(Ok(stream)).await;
                    }
                    Ok(Err(e)) => {
                        let tls = e
                            .get_ref()
                            .and_then(|i| i.downcast_ref::<rustls::Error>())
                            .cloned();
                        match tls {
                            // the verifier has reported these, with the certificate's OIN
                            Some(rustls::Error::InvalidCertificate(_)) => {}
                            Some(rustls::Error::NoCertificatesPresented) => {
                                let _ = refused.send(Refusal {
                                    oin: None,
                                    remote: remote.to_string(),
                                    reason: "no client certificate".into(),
                                });
                            }
                            _ => tracing::debug!(%remote, error = %e, "TLS handshake failed"),
                        }
                    }
                    Err(_) => tracing::debug!(%remote, "TLS handshake timed out"),
                }
            });
        }
    });
    // certificate verdicts carry no address (rustls does not give one to the verifier)
    tokio::spawn(async move {
        while let Some((oin, reason)) = verdict_rx.recv().await {
            let _ = refused.send(Refusal {
                oin,
                remote: String::new(),
                reason,
            });
        }
    });
    Ok(tokio_stream::wrappers::ReceiverStream::new(rx))
}
