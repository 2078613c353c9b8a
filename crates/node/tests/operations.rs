//! What an operator sees: the admin listener's `/healthz`, `/readyz` and `/metrics` (Prometheus
//! text format) on a federation of three nodes, after a federated selection.
mod common;
use common::*;
use node::pb::local_client::LocalClient;
use std::sync::Arc;

async fn get(url: String) -> (u16, String) {
    // reqwest is built without a crypto provider of its own (the node hands it its rustls config)
    let _ = rustls::crypto::ring::default_provider().install_default();
    let r = reqwest::get(&url).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The value of the first sample of `metric` whose labels include every one of `labels`.
fn sample(text: &str, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{metric}{{")) || l.starts_with(&format!("{metric} ")))
        .find(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test]
async fn readiness_waits_for_the_node() {
    // the admin routes before the node is ready (as while its selection index loads)
    let metrics = Arc::new(node::metrics::Metrics::new());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let at = l.local_addr().unwrap();
    let app = node::metrics::admin_router(metrics.clone());
    tokio::spawn(async move { axum::serve(l, app).await });
    assert_eq!(get(format!("http://{at}/healthz")).await.0, 200);
    assert_eq!(get(format!("http://{at}/readyz")).await.0, 503);
    let (code, text) = get(format!("http://{at}/metrics")).await;
    assert_eq!(code, 200);
    assert_eq!(sample(&text, "matchgate_ready", &[]), Some(0.0), "{text}");
}

#[tokio::test]
async fn metrics_count_calls_peers_records_and_the_audit_log() {
    let f = federation(None).await;
    let d = f.dir.path();
    let admin = |r: &node::run::Running| format!("http://{}", r.admin_addr.unwrap());
    assert_eq!(
        get(format!("{}/readyz", admin(&f.gemeente))).await,
        (200, "ready\n".into())
    );
    assert_eq!(get(format!("{}/healthz", admin(&f.uwv))).await.0, 200);

    let ch = channel(
        d,
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
    let peers = format!("{:?}", r.peers);
    let r = r.response.unwrap();
    assert!(!r.matches.is_empty(), "{peers}");

    let (code, gem) = get(format!("{}/metrics", admin(&f.gemeente))).await;
    assert_eq!(code, 200);
    assert!(
        sample(
            &gem,
            "matchgate_calls_total",
            &[
                ("listener", "local"),
                ("service", "matchgate.v1.Local"),
                ("method", "FederatedSelectWerkzoekenden"),
                ("peer", GEMEENTE),
                ("outcome", "Ok"),
            ]
        )
        .is_some_and(|v| v >= 1.0),
        "{gem}"
    );
    assert!(
        gem.contains("matchgate_call_duration_seconds_bucket{"),
        "{gem}"
    );
    assert_eq!(
        sample(&gem, "matchgate_peer_up", &[("peer", UWV)]),
        Some(1.0),
        "{gem}"
    );
    // the configured peer that is down
    assert_eq!(
        sample(
            &gem,
            "matchgate_peer_up",
            &[("peer", "00000004000000000000")]
        ),
        Some(0.0),
        "{gem}"
    );
    assert!(sample(&gem, "matchgate_audit_entries", &[]).is_some_and(|v| v >= 1.0));

    let (_, uwv) = get(format!("{}/metrics", admin(&f.uwv))).await;
    assert!(
        sample(
            &uwv,
            "matchgate_calls_total",
            &[
                ("listener", "peer"),
                ("method", "SelectWerkzoekenden"),
                ("peer", GEMEENTE),
                ("outcome", "Ok"),
            ]
        )
        .is_some_and(|v| v >= 1.0),
        "{uwv}"
    );
    assert_eq!(
        sample(
            &uwv,
            "matchgate_records",
            &[("kind", "werkzoekende"), ("state", "live")]
        ),
        Some(500.0),
        "{uwv}"
    );
    assert_eq!(sample(&uwv, "matchgate_ready", &[]), Some(1.0));

    // no personal data and no record ids in any label: not a postcode, not a vumID
    for text in [&gem, &uwv] {
        assert!(!text.contains("3511"), "a postcode in the metrics");
        for m in &r.matches {
            assert!(!text.contains(&m.vum_id), "a vumID in the metrics");
        }
    }
}
