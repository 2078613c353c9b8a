//! Start a node: the peer listener (mTLS, peers' CA) and the local listener (mTLS, own CA).
use crate::config::NodeConfig;
use crate::error::NodeError;
use crate::feed::server::peer_server::PeerServer;
use crate::local::LocalService;
use crate::pb::local_server::LocalServer;
use crate::server::{NodeState, PeerService};
use crate::{parties, pki, tls};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tonic::service::Routes;
use tonic::transport::Server;

/// A running node: its state, where it listens, and its tasks (stopped by [`Running::stop`]).
pub struct Running {
    /// the node's state (store, configuration), shared with its services
    pub state: Arc<NodeState>,
    /// the peer listener's address
    pub peer_addr: std::net::SocketAddr,
    /// the local (own systems) listener's address
    pub local_addr: std::net::SocketAddr,
    /// the admin listener's address (metrics, health), when `[admin] listen` is set
    pub admin_addr: Option<std::net::SocketAddr>,
    shutdown: Option<tokio::sync::watch::Sender<bool>>,
    reloaders: [tls::Reloader; 2],
    tasks: Vec<tokio::task::JoinHandle<()>>,
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stop: the listeners take no new connections or calls, the calls in flight are answered
    /// (each one's audit entry is committed before its answer), the feed followers stop, and
    /// the queued result sets are written; then the background tasks end.
    pub async fn stop(mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(true);
        }
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
        self.state.results.written().await;
        for t in self.background.drain(..) {
            t.abort();
        }
        // the next start loads the index from here
        self.state.save_indexes().await;
    }

    /// Read the TLS material again (SIGHUP): the node's certificate and key and both CAs, for
    /// both listeners and for calls to peers. New handshakes and calls use them; established
    /// connections are kept. On an error nothing changes and the error names the file.
    pub async fn reload_tls(&self) -> Result<(), NodeError> {
        // check everything first, so that a bad file changes nothing
        for r in &self.reloaders {
            r.check()?;
        }
        for r in &self.reloaders {
            r.reload()?;
        }
        self.state.peers.reload(&self.state.config).await
    }
}

/// Bind both listeners as configured and start; returns once they accept connections.
pub async fn start(config: NodeConfig) -> Result<Running, NodeError> {
    let bind = |addr: String| async move {
        TcpListener::bind(&addr)
            .await
            .map_err(|source| NodeError::Listen { addr, source })
    };
    let peer_listener = bind(config.listen.clone()).await?;
    let local_listener = bind(config.local.listen.clone()).await?;
    start_on(config, peer_listener, local_listener).await
}

/// Start on listeners bound by the caller (who then knows every address before any node runs,
/// as a federation on loopback needs): TLS on both → the state → the refusal loggers → the gRPC
/// servers → the feed followers.
pub async fn start_on(
    config: NodeConfig,
    peer_listener: TcpListener,
    local_listener: TcpListener,
) -> Result<Running, NodeError> {
    let local_address = |l: &TcpListener, addr: &str| {
        l.local_addr().map_err(|source| NodeError::Listen {
            addr: addr.to_string(),
            source,
        })
    };
    let peer_addr = local_address(&peer_listener, &config.listen)?;
    let local_addr = local_address(&local_listener, &config.local.listen)?;
    // refused handshakes on the peer listener go to the audit log; on the local one to the log
    let (refused_tx, refused_rx) = tokio::sync::mpsc::unbounded_channel::<tls::Refusal>();
    let (local_refused_tx, local_refused_rx) =
        tokio::sync::mpsc::unbounded_channel::<tls::Refusal>();
    let (peer_incoming, peer_tls) = tls::accept(
        "peer",
        peer_listener,
        [&config.tls.cert, &config.tls.key, &config.tls.ca],
        configured_peers(&config),
        config.limits.connections(),
        refused_tx,
    )?;
    if config.local.clients.is_empty() {
        tracing::warn!("no [local] clients configured: the local listener admits no own system");
    }
    let (local_incoming, local_tls) = tls::accept(
        "local",
        local_listener,
        [&config.tls.cert, &config.tls.key, &config.local.ca],
        own_systems(&config),
        config.limits.connections(),
        local_refused_tx,
    )?;
    // the admin listener first: /healthz answers and /readyz says "loading" while the
    // selection index loads
    let metrics = Arc::new(crate::metrics::Metrics::new());
    let (tx, stop) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    let admin_addr = match &config.admin.listen {
        Some(addr) => {
            let l = TcpListener::bind(addr)
                .await
                .map_err(|source| NodeError::Listen {
                    addr: addr.clone(),
                    source,
                })?;
            let at = local_address(&l, addr)?;
            tasks.push(serve_admin(l, metrics.clone(), stop.clone()));
            Some(at)
        }
        None => None,
    };
    let state = NodeState::new(config, metrics.clone()).await?;
    let background = vec![
        report_refusals(Some(state.clone()), metrics.clone(), refused_rx),
        report_refusals(None, metrics.clone(), local_refused_rx),
        save_indexes_hourly(state.clone()),
        compact_stored_forms(state.clone()),
    ];
    tasks.extend(serve(&state, peer_incoming, local_incoming, stop).await?);
    tasks.extend(follow_feeds(&state, &tx));
    metrics.set_ready(&state);
    tracing::info!(%peer_addr, %local_addr, ?admin_addr, "node listening");
    Ok(Running {
        state,
        peer_addr,
        local_addr,
        admin_addr,
        shutdown: Some(tx),
        reloaders: [peer_tls, local_tls],
        tasks,
        background,
    })
}

/// Save the selection indexes every hour when they moved (a node killed without a stop then
/// starts from a snapshot at most an hour behind, and catches up from the logs).
fn save_indexes_hourly(state: Arc<NodeState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        tick.tick().await;
        let mut saved: Option<i64> = None;
        loop {
            tick.tick().await;
            let mut cursor = 0;
            for engine in state.engines.values() {
                cursor = cursor.max(engine.read().await.cursor());
            }
            if saved != Some(cursor) {
                state.save_indexes().await;
                saved = Some(cursor);
            }
        }
    })
}

/// Rewrite the records a store wrote before the one stored form (migration 0006) into it, 500 at a
/// time with a pause between, in the background: the node answers meanwhile, and an old database
/// ends at the size a new one has (the pages freed are reused; `VACUUM` returns them to the disk).
fn compact_stored_forms(state: Arc<NodeState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(tracing::Instrument::instrument(
        async move {
            let (mut after, mut total) = (String::new(), 0usize);
            loop {
                match state.store.compact_forms(&after, 500).await {
                    Ok((n, Some(next))) => {
                        total += n;
                        after = next;
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    }
                    Ok((_, None)) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "compacting stored forms stopped; the next start goes on");
                        return;
                    }
                }
            }
            if total > 0 {
                tracing::info!(
                    records = total,
                    "records written before the one stored form compacted"
                );
            }
        },
        tracing::info_span!("store.compact"),
    ))
}

/// The admin listener (plain HTTP/1.1: metrics, health, readiness) until `stop` turns true.
fn serve_admin(
    listener: TcpListener,
    metrics: Arc<crate::metrics::Metrics>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let app = crate::metrics::admin_router(metrics);
        let served = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stop.changed().await;
        });
        if let Err(e) = served.await {
            tracing::error!(error = %e, "admin listener stopped");
        }
    })
}

/// Refused handshakes, throttled per kind of refusal and source address (once a second with a
/// count, in bounded memory): to the log, and for the peer listener (`auditor`) to the audit log.
fn report_refusals(
    auditor: Option<Arc<NodeState>>,
    metrics: Arc<crate::metrics::Metrics>,
    mut refused: tokio::sync::mpsc::UnboundedReceiver<tls::Refusal>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut throttle = tls::RefusalThrottle::new(REFUSAL_KEYS);
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            let due = tokio::select! {
                r = refused.recv() => match r {
                    Some(r) => throttle.refuse(r, std::time::Instant::now()).into_iter().collect(),
                    None => break,
                },
                _ = tick.tick() => throttle.tick(std::time::Instant::now()),
            };
            for (r, count) in due {
                let listener = if auditor.is_some() { "peer" } else { "local" };
                metrics.refused(listener, r.class, count.max(0) as u64);
                match &auditor {
                    Some(auditor) => {
                        tracing::warn!(class = r.class, count, "TLS handshake refused");
                        auditor.audit_handshake_refusal(&r, count).await;
                    }
                    None => {
                        tracing::warn!(listener = "local", class = r.class, count, reason = %r.reason, "TLS handshake refused")
                    }
                }
            }
        }
    })
}

/// The gRPC servers of both listeners (health and reflection on each), until `stop` turns true.
async fn serve(
    state: &Arc<NodeState>,
    peer_incoming: impl tokio_stream::Stream<Item = std::io::Result<tls::Conn>> + Send + 'static,
    local_incoming: impl tokio_stream::Stream<Item = std::io::Result<tls::Conn>> + Send + 'static,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<Vec<tokio::task::JoinHandle<()>>, NodeError> {
    let (mut stop_peer_rx, mut stop_local_rx) = (stop.clone(), stop);
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<PeerServer<PeerService>>().await;
    health.set_serving::<LocalServer<LocalService>>().await;
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(crate::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
    };
    let limits = state.config.limits.clone();
    let keepalive = |b: Server| {
        b.http2_keepalive_interval(Some(Duration::from_secs(limits.keepalive_interval_s)))
            .http2_keepalive_timeout(Some(Duration::from_secs(limits.keepalive_timeout_s)))
            .http2_max_header_list_size(limits.max_header_bytes)
    };
    // gRPC and REST share each listener: tonic's routes are an axum router, the REST face's
    // routes are merged into it (tonic answers other paths with gRPC UNIMPLEMENTED); HTTP/1.1 is
    // accepted for REST clients that speak only that
    let rest = &state.config.rest;
    let peer_routes = Routes::from(if rest.bron {
        crate::rest::bron_router(state.clone())
    } else {
        axum::Router::new()
    })
    .add_service(health_service.clone())
    .add_service(reflection()?)
    .add_service(
        PeerServer::new(PeerService(state.clone()))
            .max_decoding_message_size(limits.max_message_bytes),
    );
    let local_routes = Routes::from(if rest.bemiddelaar {
        crate::rest::bemiddelaar_router(state.clone())
    } else {
        axum::Router::new()
    })
    .add_service(health_service)
    .add_service(reflection()?)
    .add_service(
        LocalServer::new(LocalService(state.clone()))
            .max_decoding_message_size(limits.max_message_bytes),
    );
    let counted = |listener| crate::metrics::CallMetrics {
        metrics: state.metrics.clone(),
        listener,
        node_oin: Arc::from(state.config.oin.as_str()),
    };
    let peer = keepalive(Server::builder())
        .layer(counted("peer"))
        .accept_http1(true)
        .concurrency_limit_per_connection(limits.concurrent_calls_per_connection)
        .add_routes(peer_routes.prepare())
        .serve_with_incoming_shutdown(peer_incoming, async move {
            let _ = stop_peer_rx.changed().await;
        });
    let local = keepalive(Server::builder())
        .layer(counted("local"))
        .accept_http1(true)
        .add_routes(local_routes.prepare())
        .serve_with_incoming_shutdown(local_incoming, async move {
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
    Ok(vec![t1, t2])
}

/// Followers of the peers' vacancy feeds (those with `follow_feed`), until `stop` is sent.
fn follow_feeds(
    state: &Arc<NodeState>,
    stop: &tokio::sync::watch::Sender<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for peer in state.config.peers.iter().filter(|p| p.follow_feed) {
        let (st, peer, mut stop) = (state.clone(), peer.clone(), stop.subscribe());
        tasks.push(tokio::spawn(async move {
            let every = std::time::Duration::from_secs(peer.feed_interval_s.max(1));
            loop {
                match st.sync_feed(&peer, 0).await {
                    Ok(r) if r.events > 0 => {
                        st.metrics.feed_pulled(&peer.oin, r.events as u64);
                        tracing::info!(peer = %peer.oin, events = r.events, cursor = r.cursor, "vacancy feed followed")
                    }
                    Ok(_) => st.metrics.feed_pulled(&peer.oin, 0),
                    Err(s) => tracing::warn!(peer = %peer.oin, code = ?s.code(), error = %s.message(), "vacancy feed pull failed"),
                }
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stop.changed() => break,
                }
            }
        }));
    }
    tasks
}

/// Source addresses (per kind of refusal) the refused-handshake throttle keeps apart.
const REFUSAL_KEYS: usize = 1024;

/// The peer listener admits the certificates of configured peers and grants' callers only.
fn configured_peers(config: &NodeConfig) -> tls::Admission {
    let config = config.clone();
    tls::Admission(Arc::new(move |der: &[u8]| match pki::oin_of(der) {
        Some(oin) if config.knows_peer(&oin) => Ok(()),
        Some(oin) => Err(format!("OIN {oin} is not a configured peer")),
        None => Err("the certificate has no OIN (20 digits) in its subject serialNumber".into()),
    }))
}

/// The local listener admits the certificates of the configured own systems only (by OIN and/or
/// subject CN), not every certificate its CA has issued.
fn own_systems(config: &NodeConfig) -> tls::Admission {
    let clients = config.local.clients.clone();
    tls::Admission(Arc::new(move |der: &[u8]| {
        let (oin, cn) = (pki::oin_of(der), pki::subject_cn(der));
        if clients
            .iter()
            .any(|c| c.admits(oin.as_deref(), cn.as_deref()))
        {
            Ok(())
        } else {
            Err(format!(
                "not an own system: the certificate (OIN {}, CN {}) is in no [local] clients entry",
                oin.as_deref().unwrap_or("none"),
                cn.as_deref()
                    .map(parties::shown)
                    .unwrap_or_else(|| "none".into())
            ))
        }
    }))
}

/// Accepted connections with Nagle's algorithm off (for servers that do their TLS inside tonic,
/// such as the benchmark's baseline): without it a response written in two segments waits for
/// the client's delayed ACK (about 40 ms on Linux).
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
