//! Traces across nodes: one federated selection over three nodes is one trace, with a call span
//! on each node, the guard and the engine beneath the sources' calls, and no personal data in
//! any span. The spans are received by an OTLP/gRPC collector started by the test (the
//! `opentelemetry-proto` service definitions, served by tonic), exported by the node's own
//! exporter set-up (`node::telemetry::provider`).
mod common;
use common::*;
use node::pb::local_client::LocalClient;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::trace::v1::Span;
use std::sync::{Arc, Mutex};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer as _;

#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<Span>>>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        req: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.0.lock().unwrap();
        for rs in req.into_inner().resource_spans {
            for ss in rs.scope_spans {
                spans.extend(ss.spans);
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn attr(s: &Span, key: &str) -> Option<String> {
    s.attributes.iter().find(|a| a.key == key).and_then(|a| {
        match a.value.as_ref()?.value.as_ref()? {
            Any::StringValue(v) => Some(v.clone()),
            Any::BoolValue(b) => Some(b.to_string()),
            Any::IntValue(i) => Some(i.to_string()),
            other => Some(format!("{other:?}")),
        }
    })
}

/// Every string value of these properties anywhere in the official test profiles.
fn personal_values() -> Vec<String> {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    let k = k.to_lowercase();
                    if let serde_json::Value::String(s) = v {
                        if (k.contains("postcode") || k.contains("email") || k.contains("naam"))
                            && s.len() >= 4
                        {
                            out.push(s.clone());
                        }
                    }
                    walk(v, out);
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&shared("vum/testdata/werkzoekenden-1000.json"), &mut out);
    out.sort();
    out.dedup();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_federated_selection_is_one_trace_across_three_nodes() {
    // the collector
    let collector = Collector::default();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let at = l.local_addr().unwrap();
    let served = collector.clone();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(served))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(l))
            .await
    });
    // this test process's subscriber: the node's exporter to the collector
    let provider = node::telemetry::provider(&format!("http://{at}"), "matchgate-test").unwrap();
    // as `node::telemetry::init` does: info spans and above (not h2's and tonic's own)
    let subscriber = tracing_subscriber::registry().with(
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("matchgate"))
            .with_filter(tracing_subscriber::filter::LevelFilter::INFO),
    );
    // global: the nodes' tasks run on every worker thread (this binary has this one test)
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let f = federation(None).await;
    let ch = channel(
        f.dir.path(),
        f.gemeente.local_addr,
        Some(("gemeente-local.pem", "gemeente-local.key")),
        "ca.pem",
    )
    .await
    .unwrap();
    let r = LocalClient::new(ch)
        .federated_select_werkzoekenden(query("3511AA", 60))
        .await
        .unwrap()
        .into_inner();
    assert!(!r.response.unwrap().matches.is_empty());
    // a handshake UWV's peer listener refuses: the stranger is no configured peer
    let refused = channel(
        f.dir.path(),
        f.uwv.peer_addr,
        Some(("stranger.pem", "stranger.key")),
        "ca.pem",
    )
    .await;
    if let Ok(ch) = refused {
        // TLS 1.3: the client learns of the refusal at its first call
        let _ = node::pb::peer_client::PeerClient::new(ch)
            .select_werkzoekenden(req(query("3511AA", 5), STRANGER, STRANGER, UWV, false))
            .await;
    }
    // the refused handshake's span ends on the server's side of the connection: wait for it (a
    // loaded machine may take longer than a moment), flushing the exporter each time
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        provider.force_flush().unwrap();
        let spans = collector.0.lock().unwrap();
        if spans
            .iter()
            .any(|s| s.name == "tls.accept" && attr(s, "outcome").as_deref() == Some("refused"))
        {
            break;
        }
    }

    let spans = collector.0.lock().unwrap().clone();
    let root = spans
        .iter()
        .find(|s| {
            s.name == "call"
                && attr(s, "rpc.method").as_deref() == Some("FederatedSelectWerkzoekenden")
        })
        .unwrap_or_else(|| {
            panic!(
                "no call span for the federated selection in {} spans",
                spans.len()
            )
        });
    let trace: Vec<&Span> = spans
        .iter()
        .filter(|s| s.trace_id == root.trace_id)
        .collect();
    if std::env::var("TRACES_DEBUG").is_ok() {
        for s in &spans {
            eprintln!(
                "{} {} trace={} span={} parent={} node={:?}",
                s.name,
                attr(s, "rpc.method").unwrap_or_default(),
                hex(&s.trace_id),
                hex(&s.span_id),
                hex(&s.parent_span_id),
                attr(s, "node.oin")
            );
        }
    }
    // a call span on each of the three nodes, in the one trace
    let mut nodes: Vec<String> = trace
        .iter()
        .filter(|s| s.name == "call")
        .filter_map(|s| attr(s, "node.oin"))
        .collect();
    nodes.sort();
    nodes.dedup();
    let mut want = vec![GEMEENTE.to_string(), UWV.to_string(), SW.to_string()];
    want.sort();
    assert_eq!(nodes, want, "call spans by node in the trace");
    // the sources' calls are children of the gemeente's peer calls, not new traces
    let by_id = |id: &[u8]| trace.iter().find(|s| s.span_id == id);
    for source_call in trace
        .iter()
        .filter(|s| s.name == "call" && attr(s, "node.oin").as_deref() != Some(GEMEENTE))
    {
        let parent = by_id(&source_call.parent_span_id).expect("a parent in the trace");
        assert_eq!(parent.name, "peer_call");
        assert_eq!(attr(source_call, "peer.oin").as_deref(), Some(GEMEENTE));
    }
    for name in ["guard", "engine.catch_up", "engine.select", "peer_call"] {
        assert!(
            trace.iter().any(|s| s.name == name),
            "no {name} span in the trace"
        );
    }
    // each TLS handshake is a `tls.accept` span, a trace of its own, and a call links to the
    // accept span of its connection: UWV's peer call from the gemeente to an accept on UWV's
    // peer listener that admitted the gemeente's certificate
    let accepts: Vec<&Span> = spans.iter().filter(|s| s.name == "tls.accept").collect();
    assert!(accepts.iter().all(|s| s.parent_span_id.is_empty()));
    let uwv_call = trace
        .iter()
        .find(|s| s.name == "call" && attr(s, "node.oin").as_deref() == Some(UWV))
        .expect("UWV's call span");
    let link = uwv_call
        .links
        .first()
        .expect("the call links to its accept span");
    let accept = accepts
        .iter()
        .find(|s| s.span_id == link.span_id && s.trace_id == link.trace_id)
        .expect("the linked accept span was exported");
    assert_eq!(attr(accept, "listener").as_deref(), Some("peer"));
    assert_eq!(attr(accept, "outcome").as_deref(), Some("established"));
    assert_eq!(attr(accept, "peer.oin").as_deref(), Some(GEMEENTE));
    // the stranger's handshake: refused, with the kind of refusal and no OIN as identity
    let refused = accepts
        .iter()
        .find(|s| attr(s, "outcome").as_deref() == Some("refused"))
        .expect("a refused tls.accept span");
    assert_eq!(attr(refused, "refusal").as_deref(), Some("not admitted"));
    assert_eq!(attr(refused, "peer.oin"), None);
    // the transaction id is an attribute of the sources' calls
    assert!(trace
        .iter()
        .filter(|s| s.name == "call" && attr(s, "node.oin").as_deref() == Some(UWV))
        .all(|s| attr(s, "transaction_id").is_some_and(|t| t.len() == 36)));
    // no personal data in any span of the run
    let personal = personal_values();
    assert!(personal.len() > 100, "the scan needs values to look for");
    for s in &spans {
        // the span's name and its text attributes (numbers such as busy_ns are not data)
        let mut text = s.name.clone();
        for a in &s.attributes {
            if let Some(Any::StringValue(v)) = a.value.as_ref().and_then(|v| v.value.as_ref()) {
                // a transaction id is a random UUID: its hex digits can spell a PC4 postcode
                // by chance (once "5244"), and it carries no personal data by construction
                if uuid::Uuid::try_parse(v).is_ok() {
                    continue;
                }
                text.push_str(&format!(" {}={v}", a.key));
            }
        }
        for p in &personal {
            assert!(
                !text.contains(p.as_str()),
                "personal data '{p}' in span {text}"
            );
        }
    }
    let _ = provider.shutdown();
}
