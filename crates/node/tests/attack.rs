//! The node under attack (issue 10): claims checked against the configuration, every size a
//! caller controls bounded before it reaches the store or the audit log.
mod common;
use common::*;
use node::parties;
use node::pb::{
    local_client::LocalClient, peer_client::PeerClient, FederatedGetRequest, GetRequest,
};
use sqlx::Row;
use tonic::transport::Channel;
use tonic::Code;
use tonic_types::StatusExt;

async fn peer_client(f: &Federation, cert: &str) -> PeerClient<Channel> {
    PeerClient::new(
        channel(
            f.dir.path(),
            f.uwv.peer_addr,
            Some((&format!("{cert}.pem"), &format!("{cert}.key"))),
            "ca.pem",
        )
        .await
        .unwrap(),
    )
}

/// The ids UWV returned to the gemeente in one selection.
async fn selected(c: &mut PeerClient<Channel>) -> Vec<String> {
    c.select_werkzoekenden(req(query("3511AA", 300), GEMEENTE, GEMEENTE, UWV, false))
        .await
        .unwrap()
        .into_inner()
        .matches
        .into_iter()
        .map(|m| m.id_werkzoekende)
        .collect()
}

fn field(e: &tonic::Status) -> String {
    e.get_details_bad_request()
        .and_then(|b| b.field_violations.first().map(|v| v.field.clone()))
        .unwrap_or_default()
}

async fn audit_rows(store: &store::Store) -> Vec<(String, String, String, String)> {
    sqlx::query("SELECT action, actor, on_behalf_of, subject FROM audit ORDER BY seq")
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

/// Finding 1: the gemeente is no SUWI party in UWV's grants; its claim `x-vum-suwiparty: true`
/// is refused (and audited) instead of releasing the LDR indication.
#[tokio::test]
async fn a_suwi_claim_the_configuration_does_not_make_is_refused_and_audited() {
    let f = federation(None).await;
    let mut c = peer_client(&f, "gemeente").await;
    let ids = selected(&mut c).await;
    assert!(ids.len() >= 10);
    for id in &ids[..5] {
        let e = c
            .get_werkzoekende(req(
                GetRequest { id: id.clone() },
                GEMEENTE,
                GEMEENTE,
                UWV,
                true,
            ))
            .await
            .expect_err("a SUWI claim no grant makes must be refused");
        assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
        assert!(e.message().contains("SUWI"), "{}", e.message());
    }
    // the same details without the claim: no LDR indication in any of them
    for id in &ids[..5] {
        let w = c
            .get_werkzoekende(req(
                GetRequest { id: id.clone() },
                GEMEENTE,
                GEMEENTE,
                UWV,
                false,
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(w.indicatie_ldr_registratie.is_none());
    }
    let rows = audit_rows(&f.uwv.state.store).await;
    let refused: Vec<_> = rows
        .iter()
        .filter(|r| r.0 == "refused:get-werkzoekende" && r.3.contains("x-vum-suwiparty"))
        .collect();
    assert_eq!(refused.len(), 5, "{rows:?}");
    assert!(refused.iter().all(|r| r.1 == GEMEENTE && r.2 == GEMEENTE));
    f.gemeente.stop().await;
}

/// Finding 2: a 4 MiB id, a 7 KB metadata value, a transaction id in braces, a 1 MB vumID: each
/// refused with a field violation naming the field; nothing long reaches the audit log.
#[tokio::test]
async fn oversized_and_malformed_values_are_refused_by_field_and_never_logged() {
    let f = federation(None).await;
    let mut c = peer_client(&f, "gemeente").await;
    let huge = "a".repeat(4 * 1024 * 1024 - 1024);
    let e = c
        .get_werkzoekende(req(GetRequest { id: huge }, GEMEENTE, GEMEENTE, UWV, false))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{}", e.message());
    assert_eq!(field(&e), "id");
    // not the standard's SafeIDString (a path, a character outside A-Z a-z 0-9 _ . -)
    for bad in ["../../etc/passwd", "0123456789abcdef0123456789abcde!"] {
        let e = c
            .get_vacature(req(
                GetRequest { id: bad.into() },
                GEMEENTE,
                GEMEENTE,
                UWV,
                false,
            ))
            .await
            .unwrap_err();
        assert_eq!(
            (e.code(), field(&e)),
            (Code::InvalidArgument, "id".to_string())
        );
    }
    // a 7 KB value in each party header
    for name in [
        parties::FROM,
        parties::VIA,
        parties::TO,
        parties::TRANSACTION,
        parties::SUWI,
    ] {
        let mut r = req(
            GetRequest { id: "0".repeat(32) },
            GEMEENTE,
            GEMEENTE,
            UWV,
            false,
        );
        r.metadata_mut()
            .insert(name, "7".repeat(7 * 1024).parse().unwrap());
        let e = c.get_werkzoekende(r).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{name}: {}", e.message());
        assert_eq!(field(&e), name);
        assert!(e.message().len() < 300, "{name}: the value is echoed");
    }
    // a transaction id in braces, as a URN, or unhyphenated: not the canonical form
    let u = uuid::Uuid::now_v7();
    for t in [
        format!("{{{u}}}"),
        format!("urn:uuid:{u}"),
        u.simple().to_string(),
    ] {
        let mut r = req(
            GetRequest { id: "0".repeat(32) },
            GEMEENTE,
            GEMEENTE,
            UWV,
            false,
        );
        r.metadata_mut()
            .insert(parties::TRANSACTION, t.parse().unwrap());
        let e = c.get_werkzoekende(r).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{t}");
        assert_eq!(field(&e), parties::TRANSACTION, "{t}");
    }
    // the own side: a vumID that is not one
    let mut local = LocalClient::new(
        channel(
            f.dir.path(),
            f.gemeente.local_addr,
            Some(("gemeente-local.pem", "gemeente-local.key")),
            "ca.pem",
        )
        .await
        .unwrap(),
    );
    let e = local
        .federated_get_werkzoekende(FederatedGetRequest {
            vum_id: "f".repeat(1 << 20),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), field(&e)),
        (Code::InvalidArgument, "vum_id".to_string())
    );
    // every refusal is audited, and no audit field is longer than its bound
    for store in [&f.uwv.state.store, &f.gemeente.state.store] {
        let rows = audit_rows(store).await;
        for r in &rows {
            assert!(
                r.0.len() <= 64 && r.1.len() <= 64 && r.2.len() <= 64,
                "{r:?}"
            );
            assert!(r.3.len() <= 300, "{} bytes: {}", r.3.len(), &r.3[..100]);
        }
    }
    let rows = audit_rows(&f.uwv.state.store).await;
    assert_eq!(
        rows.iter().filter(|r| r.0.starts_with("refused:")).count(),
        1 + 2 + 5 + 3,
        "{rows:?}"
    );
    f.gemeente.stop().await;
}

/// Finding 3: the local listener admits the configured own systems only. With the example's old
/// set-up (one CA for peers and own systems), UWV's node certificate is refused there; with the
/// development PKI's separate CA it does not even chain.
#[tokio::test]
async fn a_peers_certificate_is_refused_on_the_local_listener() {
    use node::pb::{push_request::Record, PushRequest};
    let f = federation(None).await;
    let d = f.dir.path();
    // one CA for both: only the configured own system (the gemeente's OIN and CN) gets in
    let mut cfg = config(d, "gemeente2", GEMEENTE, vec![], vec![], false);
    cfg.tls.cert = d.join("gemeente.pem");
    cfg.tls.key = d.join("gemeente.key");
    cfg.local.ca = d.join("ca.pem");
    cfg.local.clients = vec![node::config::OwnSystem::new(GEMEENTE, "gemeente")];
    let same_ca = node::run::start(cfg).await.unwrap();
    let push = || {
        tokio_stream::iter(vec![PushRequest {
            record: Some(Record::Vacature(
                serde_json::from_value(shared("vum/testdata/vacatures-93.json")[0].clone())
                    .unwrap(),
            )),
        }])
    };
    for (addr, cert) in [
        (same_ca.local_addr, "uwv"),
        (same_ca.local_addr, "stranger"),
        (f.gemeente.local_addr, "uwv"),
        (f.gemeente.local_addr, "gemeente"), // the node's own peer certificate, other CA
        (f.gemeente.local_addr, "uwv-local"), // another organisation's own system
    ] {
        let r = match channel(
            d,
            addr,
            Some((&format!("{cert}.pem"), &format!("{cert}.key"))),
            "ca.pem",
        )
        .await
        {
            Err(e) => Err(e.to_string()),
            Ok(ch) => LocalClient::new(ch)
                .push(push())
                .await
                .map(|_| ())
                .map_err(|s| format!("{s:?}")),
        };
        assert!(
            r.is_err(),
            "{cert} pushed records into the gemeente's store"
        );
    }
    for (addr, cert) in [
        (same_ca.local_addr, "gemeente"),
        (f.gemeente.local_addr, "gemeente-local"),
    ] {
        let ch = channel(
            d,
            addr,
            Some((&format!("{cert}.pem"), &format!("{cert}.key"))),
            "ca.pem",
        )
        .await
        .unwrap();
        let sum = LocalClient::new(ch)
            .push(push())
            .await
            .unwrap()
            .into_inner();
        // inserted now: none of the refused pushes landed
        assert_eq!(sum.inserted, 1, "{cert}: {sum:?}");
    }
    same_ca.stop().await;
    f.gemeente.stop().await;
}

/// Finding 7: the development PKI's private keys are for their owner's eyes only.
#[cfg(unix)]
#[test]
fn the_development_pki_writes_keys_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    node::pki::write_dev_pki(dir.path(), &[("gemeente", GEMEENTE), ("uwv", UWV)]).unwrap();
    let mut keys = 0;
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let p = e.unwrap().path();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        if p.extension().is_some_and(|x| x == "key") {
            keys += 1;
            assert_eq!(mode, 0o600, "{}", p.display());
        }
    }
    assert_eq!(keys, 6, "two nodes, two own systems, expired, foreign");
    // written again over a world-readable file: narrowed
    let k = dir.path().join("uwv.key");
    std::fs::set_permissions(&k, std::fs::Permissions::from_mode(0o644)).unwrap();
    node::pki::write_dev_pki(dir.path(), &[("gemeente", GEMEENTE), ("uwv", UWV)]).unwrap();
    assert_eq!(
        std::fs::metadata(&k).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

/// Finding 4: a source releases a detail only of a record it returned to that peer in a
/// selection, and counts details per selection itself (at most 10).
#[tokio::test]
async fn a_source_releases_details_only_of_what_it_selected_for_that_peer() {
    let f = federation(None).await;
    let mut c = peer_client(&f, "gemeente").await;
    // a record UWV holds that no selection returned to the gemeente
    let held: Vec<String> = shared("vum/testdata/werkzoekenden-1000.json")
        .as_array()
        .unwrap()[..500]
        .iter()
        .map(|d| d["idWerkzoekende"].as_str().unwrap().to_string())
        .collect();
    let get = |id: &str| req(GetRequest { id: id.into() }, GEMEENTE, GEMEENTE, UWV, false);
    let e = c.get_werkzoekende(get(&held[0])).await.unwrap_err();
    assert_eq!(
        e.code(),
        Code::NotFound,
        "a detail without a selection: {e:?}"
    );
    let ids = selected(&mut c).await;
    assert!(ids.len() > 10, "{}", ids.len());
    let never = held.iter().find(|h| !ids.contains(h)).unwrap();
    let e = c.get_werkzoekende(get(never)).await.unwrap_err();
    assert_eq!(
        e.code(),
        Code::NotFound,
        "an id this selection did not return"
    );
    // ten details of the selection, then the source says no itself
    for (i, id) in ids.iter().enumerate().take(11) {
        let r = c.get_werkzoekende(get(id)).await;
        if i < 10 {
            r.unwrap();
        } else {
            assert_eq!(
                r.unwrap_err().code(),
                Code::ResourceExhausted,
                "the 11th detail"
            );
        }
    }
    // a new selection opens a new set
    let again = selected(&mut c).await;
    c.get_werkzoekende(get(&again[0])).await.unwrap();
    // each refusal is audited
    let rows = audit_rows(&f.uwv.state.store).await;
    let refused: Vec<_> = rows
        .iter()
        .filter(|r| r.0 == "refused:get-werkzoekende")
        .map(|r| r.3.clone())
        .collect();
    assert_eq!(refused.len(), 3, "{refused:?}");
    assert_eq!(
        refused
            .iter()
            .filter(|s| s.contains("not selected"))
            .count(),
        2,
        "{refused:?}"
    );
    f.gemeente.stop().await;
}

/// Finding 4, per party: a record returned to one peer is not released to another.
#[tokio::test]
async fn a_detail_selected_for_one_peer_is_refused_to_another() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    node::pki::write_dev_pki(d, &[("uwv", UWV), ("gemeente", GEMEENTE), ("sw", SW)]).unwrap();
    let mut cfg = config(d, "uwv", UWV, vec![], vec![], true);
    cfg.grants = [GEMEENTE, SW]
        .iter()
        .map(|o| node::config::Grant {
            via: (*o).into(),
            on_behalf_of: vec![(*o).into()],
            services: vec!["*".into()],
            suwi: false,
        })
        .collect();
    let uwv = node::run::start(cfg).await.unwrap();
    let docs: Vec<(String, serde_json::Value)> = shared("vum/testdata/werkzoekenden-1000.json")
        .as_array()
        .unwrap()[..300]
        .iter()
        .map(|x| (x["idWerkzoekende"].as_str().unwrap().to_string(), x.clone()))
        .collect();
    uwv.state
        .store
        .upsert_batch(vum::Kind::Werkzoekende, &docs, store::now_ms())
        .await
        .unwrap();
    let client = |who: &'static str| async move {
        PeerClient::new(
            channel(
                d,
                uwv.peer_addr,
                Some((&format!("{who}.pem"), &format!("{who}.key"))),
                "ca.pem",
            )
            .await
            .unwrap(),
        )
    };
    let mut gem = client("gemeente").await;
    let ids = selected(&mut gem).await;
    let mut sw = client("sw").await;
    let e = sw
        .get_werkzoekende(req(GetRequest { id: ids[0].clone() }, SW, SW, UWV, false))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    gem.get_werkzoekende(req(
        GetRequest { id: ids[0].clone() },
        GEMEENTE,
        GEMEENTE,
        UWV,
        false,
    ))
    .await
    .unwrap();
    uwv.stop().await;
}

/// Finding 5: 200 self-made certificates (each its own CA, each claiming another OIN) from one
/// address make a handful of audit rows, not 200; every refusal is counted; the claimed OIN is
/// recorded as claimed, never as the actor.
#[tokio::test]
async fn refused_handshakes_are_throttled_per_kind_and_address() {
    let f = federation(None).await;
    let d = f.dir.path();
    let t = std::time::Instant::now();
    for i in 0..200u64 {
        let ca = node::pki::DevCa::new(&format!("self-made {i}")).unwrap();
        let p = ca
            .node("gemeente", &format!("{:020}", 1_000_000 + i), false)
            .unwrap();
        std::fs::write(d.join("self.pem"), &p.cert).unwrap();
        std::fs::write(d.join("self.key"), &p.key).unwrap();
        let r = match channel(d, f.uwv.peer_addr, Some(("self.pem", "self.key")), "ca.pem").await {
            Err(_) => Err(()),
            Ok(ch) => PeerClient::new(ch)
                .node_info(req(
                    node::pb::NodeInfoRequest {},
                    GEMEENTE,
                    GEMEENTE,
                    UWV,
                    false,
                ))
                .await
                .map(|_| ())
                .map_err(|_| ()),
        };
        assert!(r.is_err());
    }
    let took = t.elapsed();
    let mut rows = Vec::new();
    for _ in 0..40 {
        rows = sqlx::query(
            "SELECT actor, subject, result_count FROM audit WHERE action = 'refused:tls-handshake'",
        )
        .fetch_all(f.uwv.state.store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.get::<String, _>(0),
                r.get::<String, _>(1),
                r.get::<i64, _>(2),
            )
        })
        .collect::<Vec<_>>();
        if rows.iter().map(|r| r.2).sum::<i64>() >= 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(rows.iter().map(|r| r.2).sum::<i64>(), 200, "{rows:?}");
    assert!(
        rows.len() as u64 <= 2 * (took.as_secs() + 2),
        "{} rows in {took:?}",
        rows.len()
    );
    assert!(rows.iter().all(|r| r.0 == "unknown"), "{rows:?}");
    assert!(
        rows.iter()
            .all(|r| r.1.starts_with("unknown issuer, claimed_oin 0000000000000")),
        "{rows:?}"
    );
    f.gemeente.stop().await;
}

/// A raw mutual-TLS client (what an attacker holding connections open uses), bound to `from`.
async fn tls_connect(
    d: &std::path::Path,
    addr: std::net::SocketAddr,
    from: [u8; 4],
    cert: &str,
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(d.join("ca.pem")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let chain: Vec<_> = CertificateDer::pem_file_iter(d.join(format!("{cert}.pem")))
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_file(d.join(format!("{cert}.key"))).unwrap();
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .unwrap();
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = raw_connect(addr, from).await?;
    tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
}

async fn raw_connect(
    addr: std::net::SocketAddr,
    from: [u8; 4],
) -> std::io::Result<tokio::net::TcpStream> {
    let s = tokio::net::TcpSocket::new_v4()?;
    s.bind(std::net::SocketAddr::from((from, 0)))?;
    s.connect(addr).await
}

/// Whether the node closes the connection within `within` (EOF or an error on read).
async fn closed_within<S: tokio::io::AsyncRead + Unpin>(
    s: &mut S,
    within: std::time::Duration,
) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 256];
    let until = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(until, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // the server's HTTP/2 settings: keep reading
            Ok(Ok(_)) => {}
        }
    }
}

/// Finding 6: connections held open cannot take the node down. Idle TCP connections from one
/// host get at most `max_handshakes_per_address` handshake places (the rest are closed at once),
/// mutual-TLS connections that then send nothing get at most `max_connections_per_peer` places
/// per OIN (the rest closed at once), a real call from another peer still succeeds while they
/// are held, and the held ones are closed after the idle timeout.
#[tokio::test]
async fn held_connections_are_capped_and_idle_ones_closed() {
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    node::pki::write_dev_pki(d, &[("uwv", UWV), ("gemeente", GEMEENTE), ("sw", SW)]).unwrap();
    let mut cfg = config(d, "uwv", UWV, vec![], vec![], true);
    cfg.grants = [GEMEENTE, SW]
        .iter()
        .map(|o| node::config::Grant {
            via: (*o).into(),
            on_behalf_of: vec![(*o).into()],
            services: vec!["*".into()],
            suwi: false,
        })
        .collect();
    cfg.limits.max_connections = 30;
    cfg.limits.max_connections_per_peer = 5;
    cfg.limits.max_handshakes = 16;
    cfg.limits.max_handshakes_per_address = 4;
    cfg.limits.handshake_timeout_s = 3;
    cfg.limits.idle_timeout_s = 2;
    let uwv = node::run::start(cfg).await.unwrap();
    let attacker = [127, 0, 0, 2];
    // 100 TCP connections that never start a handshake
    let mut raw = Vec::new();
    for _ in 0..100 {
        raw.push(raw_connect(uwv.peer_addr, attacker).await.unwrap());
    }
    let mut shed = 0;
    for s in raw.iter_mut() {
        if closed_within(s, Duration::from_millis(300)).await {
            shed += 1;
        }
    }
    assert!(
        shed >= 96,
        "{shed} of 100 idle TCP connections closed at once"
    );
    // 20 mutual-TLS connections with the gemeente's certificate that then send nothing
    let mut held = Vec::new();
    for _ in 0..20 {
        if let Ok(s) = tls_connect(d, uwv.peer_addr, [127, 0, 0, 3], "gemeente").await {
            held.push(s);
        }
    }
    let mut open = Vec::new();
    for mut s in held {
        if !closed_within(&mut s, Duration::from_millis(300)).await {
            open.push(s);
        }
    }
    assert_eq!(open.len(), 5, "connections held per OIN");
    // a real call, from another peer, while all that is held
    let t = std::time::Instant::now();
    let mut c = PeerClient::new(
        channel(d, uwv.peer_addr, Some(("sw.pem", "sw.key")), "ca.pem")
            .await
            .unwrap(),
    );
    c.node_info(req(node::pb::NodeInfoRequest {}, SW, SW, UWV, false))
        .await
        .unwrap();
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    // the idle ones are closed after the idle timeout (2 s)
    for s in open.iter_mut() {
        assert!(
            closed_within(s, Duration::from_secs(4)).await,
            "an idle connection stayed open"
        );
    }
    // and their places are free again
    tls_connect(d, uwv.peer_addr, [127, 0, 0, 3], "gemeente")
        .await
        .unwrap();
    uwv.stop().await;
}

/// Finding 6, the caps in total: connections over `max_connections` and handshakes over
/// `max_handshakes` are closed at once, whoever holds the places.
#[tokio::test]
async fn total_connection_and_handshake_caps_close_the_excess_at_once() {
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    node::pki::write_dev_pki(d, &[("uwv", UWV), ("gemeente", GEMEENTE), ("sw", SW)]).unwrap();
    let mut cfg = config(d, "uwv", UWV, vec![], vec![], true);
    cfg.grants = [GEMEENTE, SW]
        .iter()
        .map(|o| node::config::Grant {
            via: (*o).into(),
            on_behalf_of: vec![(*o).into()],
            services: vec!["*".into()],
            suwi: false,
        })
        .collect();
    cfg.limits.max_connections = 6;
    cfg.limits.max_connections_per_peer = 100;
    cfg.limits.max_handshakes = 3;
    cfg.limits.max_handshakes_per_address = 100;
    cfg.limits.handshake_timeout_s = 30;
    cfg.limits.idle_timeout_s = 120;
    let uwv = node::run::start(cfg).await.unwrap();
    // four mutual-TLS connections that then send nothing: four of the six places
    let mut held = Vec::new();
    for i in 0..4u8 {
        held.push(
            tls_connect(d, uwv.peer_addr, [127, 0, 0, 10 + i], "gemeente")
                .await
                .unwrap(),
        );
    }
    // ten TCP connections that never start a handshake: two get the last places
    let mut raw = Vec::new();
    for i in 0..10u8 {
        raw.push(
            raw_connect(uwv.peer_addr, [127, 0, 0, 20 + i])
                .await
                .unwrap(),
        );
    }
    let mut shed = 0;
    for s in raw.iter_mut() {
        if closed_within(s, Duration::from_millis(300)).await {
            shed += 1;
        }
    }
    assert_eq!(
        shed, 8,
        "connections over max_connections (6) are closed at once"
    );
    // all six places taken: a further mutual-TLS connection is closed before its handshake
    assert!(
        tls_connect(d, uwv.peer_addr, [127, 0, 0, 40], "gemeente")
            .await
            .is_err(),
        "a seventh connection is refused"
    );
    for s in held.iter_mut() {
        assert!(
            !closed_within(s, Duration::from_millis(100)).await,
            "held connections stay"
        );
    }
    drop(raw);
    drop(held);
    // places freed: handshakes over max_handshakes (3) are closed at once
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut raw = Vec::new();
    for i in 0..6u8 {
        raw.push(
            raw_connect(uwv.peer_addr, [127, 0, 0, 50 + i])
                .await
                .unwrap(),
        );
    }
    let mut shed = 0;
    for s in raw.iter_mut() {
        if closed_within(s, Duration::from_millis(300)).await {
            shed += 1;
        }
    }
    assert_eq!(
        shed, 3,
        "handshakes over max_handshakes (3) are closed at once"
    );
    uwv.stop().await;
}

/// Finding 6, HTTP/2 keepalive: a client that opens HTTP/2 and then answers no PING is closed
/// after the keepalive interval and timeout, long before the idle timeout.
#[tokio::test]
async fn a_client_that_answers_no_ping_is_closed_by_keepalive() {
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    node::pki::write_dev_pki(d, &[("uwv", UWV), ("gemeente", GEMEENTE)]).unwrap();
    let mut cfg = config(d, "uwv", UWV, vec![], vec![], true);
    cfg.grants = vec![node::config::Grant {
        via: GEMEENTE.into(),
        on_behalf_of: vec![GEMEENTE.into()],
        services: vec!["*".into()],
        suwi: false,
    }];
    cfg.limits.keepalive_interval_s = 1;
    cfg.limits.keepalive_timeout_s = 1;
    cfg.limits.idle_timeout_s = 120;
    let mut slow = cfg.clone();
    let uwv = node::run::start(cfg).await.unwrap();
    let preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";
    let mut s = tls_connect(d, uwv.peer_addr, [127, 0, 0, 60], "gemeente")
        .await
        .unwrap();
    // the HTTP/2 client preface and an empty SETTINGS frame, then silence
    s.write_all(preface).await.unwrap();
    s.flush().await.unwrap();
    let t = std::time::Instant::now();
    assert!(
        closed_within(&mut s, Duration::from_secs(10)).await,
        "still open after 10 s"
    );
    assert!(
        t.elapsed() < Duration::from_secs(8),
        "closed by keepalive, not the idle timeout: {:?}",
        t.elapsed()
    );
    uwv.stop().await;
    // the control: with a keepalive interval of a minute the same silent client stays open
    slow.limits.keepalive_interval_s = 60;
    let uwv = node::run::start(slow).await.unwrap();
    let mut s = tls_connect(d, uwv.peer_addr, [127, 0, 0, 61], "gemeente")
        .await
        .unwrap();
    s.write_all(preface).await.unwrap();
    s.flush().await.unwrap();
    assert!(
        !closed_within(&mut s, Duration::from_secs(4)).await,
        "closed without keepalive"
    );
    drop(s);
    uwv.stop().await;
}
