//! Start a node: the peer listener (mTLS, peers' CA) and the local listener (mTLS, own CA).
use crate::config::NodeConfig;
use crate::pb::{local_server::LocalServer, peer_server::PeerServer};
use crate::server::{LocalService, NodeState, PeerService};
use std::sync::Arc;
use tokio::net::TcpListener;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};

pub struct Running {
    pub state: Arc<NodeState>,
    pub peer_addr: std::net::SocketAddr,
    pub local_addr: std::net::SocketAddr,
    shutdown: Option<tokio::sync::watch::Sender<bool>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    pub async fn stop(mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(true);
        }
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}

/// Start both listeners; returns once they accept connections.
pub async fn start(config: NodeConfig) -> Result<Running, String> {
    let read = |p: &std::path::Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let identity = Identity::from_pem(read(&config.tls.cert)?, read(&config.tls.key)?);
    let peer_tls = ServerTlsConfig::new()
        .identity(identity.clone())
        .client_ca_root(Certificate::from_pem(read(&config.tls.ca)?));
    let local_tls = ServerTlsConfig::new()
        .identity(identity)
        .client_ca_root(Certificate::from_pem(read(&config.local.ca)?));
    let peer_listener = TcpListener::bind(&config.listen)
        .await
        .map_err(|e| format!("listen {}: {e}", config.listen))?;
    let local_listener = TcpListener::bind(&config.local.listen)
        .await
        .map_err(|e| format!("listen {}: {e}", config.local.listen))?;
    let (peer_addr, local_addr) = (
        peer_listener.local_addr().map_err(|e| e.to_string())?,
        local_listener.local_addr().map_err(|e| e.to_string())?,
    );
    let state = NodeState::new(config).await?;
    let (tx, stop) = tokio::sync::watch::channel(false);
    let (mut stop_peer_rx, mut stop_local_rx) = (stop.clone(), stop);
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<PeerServer<PeerService>>().await;
    let limits = 4 * 1024 * 1024;
    let peer = Server::builder()
        .tls_config(peer_tls)
        .map_err(|e| e.to_string())?
        .concurrency_limit_per_connection(64)
        .add_service(health_service)
        .add_service(PeerServer::new(PeerService(state.clone())).max_decoding_message_size(limits))
        .serve_with_incoming_shutdown(nodelay(peer_listener), async move {
            let _ = stop_peer_rx.changed().await;
        });
    let local = Server::builder()
        .tls_config(local_tls)
        .map_err(|e| e.to_string())?
        .add_service(
            LocalServer::new(LocalService(state.clone())).max_decoding_message_size(limits),
        )
        .serve_with_incoming_shutdown(nodelay(local_listener), async move {
            let _ = stop_local_rx.changed().await;
        });
    let t1 = tokio::spawn(async move {
        if let Err(e) = peer.await {
            tracing::error!(error = %e, "peer listener stopped");
        }
    });
    let t2 = tokio::spawn(async move {
        if let Err(e) = local.await {
            tracing::error!(error = %e, "local listener stopped");
        }
    });
    tracing::info!(%peer_addr, %local_addr, "node listening");
    Ok(Running {
        state,
        peer_addr,
        local_addr,
        shutdown: Some(tx),
        tasks: vec![t1, t2],
    })
}

/// Accepted connections with Nagle's algorithm off: without it a response written in two segments
/// waits for the client's delayed ACK (about 40 ms on Linux).
pub fn nodelay(
    l: TcpListener,
) -> impl tokio_stream::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    use tokio_stream::StreamExt;
    tokio_stream::wrappers::TcpListenerStream::new(l).map(|s| {
        if let Ok(s) = &s {
            let _ = s.set_nodelay(true);
        }
        s
    })
}
