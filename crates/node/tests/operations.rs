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

/// A database written before the one stored form (records with their JSON in `doc`) is compacted
/// by the running node in the background: the JSON goes, the documents read back the same, and no
/// change reaches the change log.
#[tokio::test]
async fn a_node_compacts_records_stored_before_the_one_form() {
    let dir = tempfile::tempdir().unwrap();
    node::pki::write_dev_pki(dir.path(), &[("uwv", UWV), ("gemeente", GEMEENTE)]).unwrap();
    let cfg = config(dir.path(), "uwv", UWV, vec![], vec![], true);
    let docs: Vec<(String, serde_json::Value)> = shared("vum/testdata/werkzoekenden-1000.json")
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["idWerkzoekende"].as_str().unwrap().to_string(), d.clone()))
        .collect();
    let now = store::now_ms();
    let changes = {
        let s = store::Store::open(&cfg.database).await.unwrap();
        s.upsert_batch(vum::Kind::Werkzoekende, &docs, now)
            .await
            .unwrap();
        for (id, d) in &docs {
            sqlx::query("UPDATE records SET doc = ?, extra = NULL WHERE vum_id = ?")
                .bind(d.to_string())
                .bind(id.as_str())
                .execute(s.pool())
                .await
                .unwrap();
        }
        s.changes_since(None, 0, 100_000).await.unwrap().len()
    };
    let running = node::run::start(cfg).await.unwrap();
    let s = &running.state.store;
    let mut left = i64::MAX;
    for _ in 0..200 {
        left = sqlx::query_scalar("SELECT COUNT(doc) FROM records")
            .fetch_one(s.pool())
            .await
            .unwrap();
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(left, 0, "records still holding their JSON");
    for (id, d) in &docs {
        let text = s.get_text(vum::Kind::Werkzoekende, id, now).await.unwrap();
        assert_eq!(text, Some(d.to_string()), "{id}");
    }
    assert_eq!(
        s.changes_since(None, 0, 100_000).await.unwrap().len(),
        changes
    );
}
