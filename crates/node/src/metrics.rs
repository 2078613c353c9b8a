//! What an operator sees of a running node: Prometheus metrics, `/healthz` and `/readyz` on the
//! admin listener (plain HTTP, `[admin] listen`, apart from the peer and local listeners).
//!
//! Labels hold no personal data and are bounded: `peer` is the OIN of an admitted certificate
//! (only configured peers and own systems get past the TLS layer) or a configured peer's OIN;
//! `method` is the gRPC method or the REST route with every segment that holds a digit replaced
//! by `{id}`; past [`MAX_SERIES`] label sets a call counts under `method="other"`.
//! Records by kind and state and the audit log's length are read from the store at each scrape.
use crate::server::NodeState;
use prometheus::{
    HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

/// Distinct (listener, service, method, peer, outcome) label sets kept apart; past it, `other`.
pub const MAX_SERIES: usize = 2000;

/// The node's metrics and readiness.
pub struct Metrics {
    registry: Registry,
    calls: IntCounterVec,
    latency: HistogramVec,
    refusals: IntCounterVec,
    peer_calls: IntCounterVec,
    peer_latency: HistogramVec,
    peer_up: IntGaugeVec,
    feed_lag: IntGaugeVec,
    feed_events: IntCounterVec,
    records: IntGaugeVec,
    audit_entries: IntGauge,
    ready_gauge: IntGauge,
    series: Mutex<HashSet<(String, String, String, String)>>,
    feed_last_ok: Mutex<HashMap<String, Instant>>,
    ready: AtomicBool,
    state: OnceLock<std::sync::Weak<NodeState>>,
}

fn counter(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("a valid metric definition");
    r.register(Box::new(c.clone()))
        .expect("each metric registered once");
    c
}

fn gauge(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("a valid metric definition");
    r.register(Box::new(g.clone()))
        .expect("each metric registered once");
    g
}

fn histogram(r: &Registry, name: &str, help: &str, labels: &[&str]) -> HistogramVec {
    // 0.5 ms to about 8 s
    let buckets = prometheus::exponential_buckets(0.0005, 2.0, 15).expect("valid buckets");
    let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)
        .expect("a valid metric definition");
    r.register(Box::new(h.clone()))
        .expect("each metric registered once");
    h
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    /// Every metric, registered, at zero; not ready.
    #[allow(clippy::expect_used)] // fixed metric definitions: a mistake fails every test
    pub fn new() -> Metrics {
        let r = Registry::new_custom(Some("matchgate".into()), None).expect("a valid prefix");
        let audit_entries = IntGauge::new("audit_entries", "entries in the audit log")
            .expect("a valid metric definition");
        r.register(Box::new(audit_entries.clone()))
            .expect("registered once");
        let ready_gauge = IntGauge::new("ready", "1 once the selection index is loaded")
            .expect("a valid metric definition");
        r.register(Box::new(ready_gauge.clone()))
            .expect("registered once");
        Metrics {
            calls: counter(
                &r,
                "calls_total",
                "calls answered, by listener, service, method, calling certificate's OIN and outcome (gRPC code or HTTP status)",
                &["listener", "service", "method", "peer", "outcome"],
            ),
            latency: histogram(
                &r,
                "call_duration_seconds",
                "time to the answer's headers, by listener, service and method",
                &["listener", "service", "method"],
            ),
            refusals: counter(
                &r,
                "refusals_total",
                "refused TLS handshakes and calls, by listener and reason",
                &["listener", "reason"],
            ),
            peer_calls: counter(
                &r,
                "peer_calls_total",
                "calls this node made to its peers in federated selections, by peer OIN, service and outcome",
                &["peer", "service", "outcome"],
            ),
            peer_latency: histogram(
                &r,
                "peer_call_duration_seconds",
                "federated selection calls to a peer, by peer OIN",
                &["peer"],
            ),
            peer_up: gauge(
                &r,
                "peer_up",
                "1 when the peer's last answer in a federated selection was ok, 0 when it failed",
                &["peer"],
            ),
            feed_lag: gauge(
                &r,
                "feed_lag_seconds",
                "seconds since the last successful pull of a followed peer's vacancy feed",
                &["peer"],
            ),
            feed_events: counter(
                &r,
                "feed_events_total",
                "vacancy feed events taken in, by peer OIN",
                &["peer"],
            ),
            records: gauge(
                &r,
                "records",
                "records in the store, by kind and state (live, expired, withdrawn, deleted)",
                &["kind", "state"],
            ),
            audit_entries,
            ready_gauge,
            registry: r,
            series: Mutex::new(HashSet::new()),
            feed_last_ok: Mutex::new(HashMap::new()),
            ready: AtomicBool::new(false),
            state: OnceLock::new(),
        }
    }

    /// The node is ready: its selection index is loaded and it serves (`/readyz` answers 200).
    pub fn set_ready(&self, state: &Arc<NodeState>) {
        let _ = self.state.set(Arc::downgrade(state));
        self.ready.store(true, Ordering::SeqCst);
    }

    /// Whether the node is ready.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// One call answered on a listener.
    pub fn call(
        &self,
        listener: &str,
        path: &str,
        peer: &str,
        outcome: &str,
        took: std::time::Duration,
    ) {
        let (service, method) = route_of(path);
        let key = (
            service.clone(),
            method.clone(),
            peer.to_string(),
            outcome.to_string(),
        );
        let method = {
            let mut seen = self.series.lock().unwrap_or_else(|e| e.into_inner());
            if seen.contains(&key) || seen.len() < MAX_SERIES {
                seen.insert(key);
                method
            } else {
                "other".to_string()
            }
        };
        self.calls
            .with_label_values(&[listener, &service, &method, peer, outcome])
            .inc();
        self.latency
            .with_label_values(&[listener, &service, &method])
            .observe(took.as_secs_f64());
    }

    /// A refusal (`reason` from a fixed set: a TLS refusal class, a cap's name).
    pub fn refused(&self, listener: &str, reason: &str, count: u64) {
        self.refusals
            .with_label_values(&[listener, reason])
            .inc_by(count);
    }

    /// One peer's answer in a federated selection (`outcome`: the gRPC code's name, `Ok` when it
    /// answered).
    pub fn peer_call(&self, peer: &str, service: &str, outcome: &str, took: std::time::Duration) {
        self.peer_calls
            .with_label_values(&[peer, service, outcome])
            .inc();
        self.peer_latency
            .with_label_values(&[peer])
            .observe(took.as_secs_f64());
        self.peer_up
            .with_label_values(&[peer])
            .set(i64::from(outcome == "Ok"));
    }

    /// A followed feed pulled successfully, with this many events.
    pub fn feed_pulled(&self, peer: &str, events: u64) {
        self.feed_last_ok
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(peer.to_string(), Instant::now());
        self.feed_events.with_label_values(&[peer]).inc_by(events);
    }

    /// The Prometheus text exposition (format 0.0.4), the store's counts read now.
    pub async fn render(&self) -> String {
        self.ready_gauge.set(i64::from(self.is_ready()));
        for (peer, at) in self
            .feed_last_ok
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            self.feed_lag
                .with_label_values(&[peer.as_str()])
                .set(at.elapsed().as_secs() as i64);
        }
        if let Some(state) = self.state.get().and_then(|w| w.upgrade()) {
            for kind in [vum::Kind::Werkzoekende, vum::Kind::Vacature] {
                match state.store.status(kind, store::now_ms()).await {
                    Ok(s) => {
                        for (name, v) in [
                            ("live", s.live),
                            ("expired", s.expired),
                            ("withdrawn", s.withdrawn),
                            ("deleted", s.deleted),
                        ] {
                            self.records.with_label_values(&[kind.name(), name]).set(v);
                        }
                        self.audit_entries.set(s.audit_entries);
                    }
                    Err(e) => tracing::warn!(error = %e, "metrics: store counts unavailable"),
                }
            }
        }
        let mut out = String::new();
        if let Err(e) = TextEncoder::new().encode_utf8(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "metrics encoding failed");
        }
        out
    }
}

/// (service, method) of a request path: `/matchgate.v1.Peer/GetWerkzoekende` →
/// (`matchgate.v1.Peer`, `GetWerkzoekende`); a REST path → (`rest`, the path with every segment
/// holding a digit or longer than 40 bytes as `{id}`), at most 8 segments.
pub fn route_of(path: &str) -> (String, String) {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let plain = |s: &str| {
        s.len() <= 40
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    };
    if segs.len() == 2 && segs[0].contains('.') && plain(segs[0]) && plain(segs[1]) {
        return (segs[0].to_string(), segs[1].to_string());
    }
    let shown: Vec<&str> = segs
        .iter()
        .take(8)
        .map(|s| {
            let versioned = s.len() <= 3 && s.starts_with('v');
            if plain(s) && (versioned || !s.bytes().any(|b| b.is_ascii_digit())) {
                s
            } else {
                "{id}"
            }
        })
        .collect();
    ("rest".to_string(), format!("/{}", shown.join("/")))
}

/// The admin listener's routes: `/metrics`, `/healthz` (the process runs), `/readyz` (200 once
/// ready, 503 before).
pub fn admin_router(metrics: Arc<Metrics>) -> axum::Router {
    use axum::http::{header, StatusCode};
    use axum::routing::get;
    let m = metrics.clone();
    axum::Router::new()
        .route(
            "/metrics",
            get(move || {
                let m = m.clone();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        m.render().await,
                    )
                }
            }),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(move || {
                let ready = metrics.is_ready();
                async move {
                    if ready {
                        (StatusCode::OK, "ready\n")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "loading\n")
                    }
                }
            }),
        )
}

/// A tower layer that counts every call a listener answers (see [`Metrics::call`]).
#[derive(Clone)]
pub struct CallMetrics {
    /// the node's metrics
    pub metrics: Arc<Metrics>,
    /// `peer` or `local`
    pub listener: &'static str,
    /// this node's OIN (an attribute of every call's span)
    pub node_oin: Arc<str>,
}

impl<S> tower_layer::Layer<S> for CallMetrics {
    type Service = Counted<S>;
    fn layer(&self, inner: S) -> Counted<S> {
        Counted {
            inner,
            layer: self.clone(),
        }
    }
}

/// A service wrapped by [`CallMetrics`].
#[derive(Clone)]
pub struct Counted<S> {
    inner: S,
    layer: CallMetrics,
}

impl<S, B, R> tower_service::Service<http::Request<B>> for Counted<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
        let path = req.uri().path().to_string();
        let conn = req.extensions().get::<TlsConnectInfo<TcpConnectInfo>>();
        // the connection's `tls.accept` span, linked from the call's
        let accepted = conn
            .and_then(|i| Some((i.get_ref().local_addr()?, i.get_ref().remote_addr()?)))
            .and_then(|(local, remote)| crate::tls::accept_span(local, remote));
        let peer = conn
            .and_then(|i| i.peer_certs())
            .and_then(|c| c.first().and_then(|c| crate::pki::oin_of(c.as_ref())))
            .unwrap_or_else(|| "none".into());
        let layer = self.layer.clone();
        let t = Instant::now();
        // one span per call, continuing the caller's trace (W3C trace context in the headers);
        // its fields: OINs, the route, the transaction id when it is a canonical UUID
        let (service, method) = route_of(&path);
        let tx = req
            .headers()
            .get("x-transaction-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| vum::parties::is_canonical_uuid(v))
            .unwrap_or("");
        let span = tracing::info_span!(
            "call",
            otel.kind = "server",
            listener = layer.listener,
            rpc.service = %service,
            rpc.method = %method,
            node.oin = %layer.node_oin,
            peer.oin = %peer,
            transaction_id = tx,
            outcome = tracing::field::Empty,
        );
        crate::telemetry::continue_trace(&span, req.headers());
        if let Some(accepted) = accepted {
            use tracing_opentelemetry::OpenTelemetrySpanExt as _;
            span.add_link(accepted);
        }
        let fut = {
            let _entered = span.enter();
            self.inner.call(req)
        };
        let fut = tracing::Instrument::instrument(fut, span.clone());
        Box::pin(async move {
            let r = fut.await;
            let outcome = match &r {
                Ok(resp) => outcome_of(resp),
                Err(_) => "error".to_string(),
            };
            span.record("outcome", outcome.as_str());
            layer
                .metrics
                .call(layer.listener, &path, &peer, &outcome, t.elapsed());
            r
        })
    }
}

/// The outcome of an answer: its gRPC code (from the headers of a trailers-only answer; `Ok` when
/// the code comes in trailers) or, for REST, its HTTP status.
fn outcome_of<R>(resp: &http::Response<R>) -> String {
    let grpc = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"));
    if grpc {
        let code = resp
            .headers()
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<i32>().ok())
            .unwrap_or(0);
        format!("{:?}", tonic::Code::from(code))
    } else {
        resp.status().as_u16().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::route_of;

    #[test]
    fn routes_keep_ids_out_of_labels() {
        assert_eq!(
            route_of("/matchgate.v1.Peer/GetWerkzoekende"),
            ("matchgate.v1.Peer".into(), "GetWerkzoekende".into())
        );
        assert_eq!(
            route_of("/api/v3/werkzoekenden/0af3c1d2e9"),
            ("rest".into(), "/api/v3/werkzoekenden/{id}".into())
        );
        assert_eq!(
            route_of("/api/v3/werkzoekenden/matches"),
            ("rest".into(), "/api/v3/werkzoekenden/matches".into())
        );
        let (_, long) = route_of(&"/a".repeat(100));
        assert_eq!(long.matches('/').count(), 8);
        assert_eq!(route_of("/x/%00\u{7f}").1, "/x/{id}");
    }
}
