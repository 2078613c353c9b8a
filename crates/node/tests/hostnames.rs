//! Nodes under real names: the outgoing TLS server name is the peer endpoint's host (or the peer's
//! `server_name`), not a fixed `localhost`, and a certificate that does not carry the name is
//! refused. The nodes listen on distinct loopback addresses (127.0.0.2 for UWV), each certificate
//! issued by `write_dev_pki_for` with its hosts (what `matchgate certs --host` does).
mod common;
use common::*;
use node::config::{Grant, PeerConfig};
use node::pb::local_client::LocalClient;

/// UWV on 127.0.0.2 with certificates for `hosts`; the gemeente asking it under each of `names`
/// (peer name → endpoint, server_name). Returns each peer's status.
async fn statuses(hosts: &[&str], names: &[(&str, &str, Option<&str>)]) -> Vec<(String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let hosts: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
    node::pki::write_dev_pki_for(d, &[("gemeente", GEMEENTE), ("uwv", UWV)], &hosts).unwrap();
    let grant = vec![Grant {
        via: GEMEENTE.into(),
        on_behalf_of: vec![GEMEENTE.into()],
        services: vec!["*".into()],
        suwi: false,
    }];
    let mut uwv_cfg = config(d, "uwv", UWV, vec![], grant, true);
    uwv_cfg.listen = "127.0.0.2:0".into();
    let uwv = node::run::start(uwv_cfg).await.unwrap();
    assert_eq!(uwv.peer_addr.ip().to_string(), "127.0.0.2");
    let port = uwv.peer_addr.port();
    let peers = names
        .iter()
        .map(|(name, host, server_name)| {
            let mut p = PeerConfig::new(UWV, name, format!("https://{host}:{port}"));
            p.server_name = server_name.map(str::to_string);
            p
        })
        .collect();
    let gemeente = node::run::start(config(d, "gemeente", GEMEENTE, peers, vec![], false))
        .await
        .unwrap();
    let ch = channel(
        d,
        gemeente.local_addr,
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
    gemeente.stop().await;
    uwv.stop().await;
    let mut out: Vec<(String, String)> = r.peers.into_iter().map(|p| (p.name, p.status)).collect();
    out.sort();
    out
}

#[tokio::test]
async fn the_server_name_is_the_endpoints_host_or_the_configured_name() {
    let s = statuses(
        &["uwv.matchgate.test", "127.0.0.2"],
        &[
            // by address: the certificate's IP address SAN
            ("by-address", "127.0.0.2", None),
            // by address, checked against a DNS name the certificate carries
            ("by-name", "127.0.0.2", Some("uwv.matchgate.test")),
            // a name the certificate does not carry
            ("wrong-name", "127.0.0.2", Some("gemeente.matchgate.test")),
        ],
    )
    .await;
    let status = |n: &str| s.iter().find(|(name, _)| name == n).unwrap().1.clone();
    assert_eq!(status("by-address"), "ok", "{s:?}");
    assert_eq!(status("by-name"), "ok", "{s:?}");
    assert!(
        status("wrong-name").starts_with("Unavailable"),
        "a certificate without the name must be refused: {s:?}"
    );
}

#[tokio::test]
async fn a_certificate_for_localhost_only_is_refused_at_another_address() {
    // the default development certificates name localhost and 127.0.0.1 only
    let s = statuses(&[], &[("uwv", "127.0.0.2", None)]).await;
    assert_eq!(s.len(), 1);
    assert!(
        s[0].1.starts_with("Unavailable"),
        "UWV's certificate does not name 127.0.0.2: {s:?}"
    );
}

#[test]
fn host_names_are_checked_before_they_become_certificate_names() {
    for ok in [
        "uwv",
        "uwv.example.nl",
        "*.matchgate.test",
        "10.0.0.7",
        "::1",
    ] {
        assert!(node::pki::is_host_name(ok), "{ok}");
    }
    for bad in [
        "",
        "a..b",
        "-uwv",
        "uwv-",
        "uwv example",
        "uwv/x",
        &"a".repeat(64),
        "é.nl",
    ] {
        assert!(!node::pki::is_host_name(bad), "{bad}");
    }
}
