//! Crash safety of a feed follower: `matchgate serve` following a peer's vacancy feed is killed
//! (SIGKILL) while it pulls, the source changes, and the node is started again. It resumes from the
//! cursor in its store and ends with a mirror that is exactly the source's live vacancies: no gap,
//! no duplicate, the source's deletions applied.
use node::config::{Grant, LocalConfig, NodeConfig, TlsConfig};
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vum::Kind;

const SOURCE: &str = "00000001001234567000";
const FOLLOWER: &str = "00000001003214345000";

fn shared(rel: &str) -> Value {
    let base = std::env::var("MATCHGATE_SHARED")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared").to_string());
    serde_json::from_str(&std::fs::read_to_string(format!("{base}/{rel}")).unwrap()).unwrap()
}

fn serve(config: &std::path::Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_matchgate"))
        .args(["serve", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The follower's cursor and mirror, read from its database file.
async fn follower_state(db: &str) -> (i64, Vec<String>) {
    let s = store::Store::open(db).await.unwrap();
    let cursor = s.feed_cursor(SOURCE).await.unwrap();
    let ids = s
        .peer_vacatures(SOURCE)
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.vum_id)
        .collect();
    (cursor, ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_feed_follower_resumes_without_gaps_or_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    node::pki::write_dev_pki(d, &[("source", SOURCE), ("follower", FOLLOWER)]).unwrap();
    std::fs::write(d.join("source.secret"), "source-secret-0123456789").unwrap();
    // the source: an in-process node with 6,000 vacancies, granting the follower its feed
    let source = node::run::start(NodeConfig {
        oin: SOURCE.into(),
        name: "source".into(),
        suwi: false,
        database: format!("sqlite://{}", d.join("source.db").display()),
        secret_file: d.join("source.secret"),
        tls: TlsConfig {
            cert: d.join("source.pem"),
            key: d.join("source.key"),
            ca: d.join("ca.pem"),
        },
        listen: "127.0.0.1:0".into(),
        local: LocalConfig {
            listen: "127.0.0.1:0".into(),
            ca: d.join("ca.pem"),
            clients: vec![],
        },
        peers: vec![],
        grants: vec![Grant {
            via: FOLLOWER.into(),
            on_behalf_of: vec![FOLLOWER.into()],
            services: vec!["vacancy-feed".into()],
            suwi: false,
        }],
        peer_deadline_ms: 5000,
        rest: Default::default(),
        admin: Default::default(),
        telemetry: Default::default(),
        limits: Default::default(),
    })
    .await
    .unwrap();
    let vacs = shared("vum/testdata/vacatures-93.json");
    let vacs = vacs.as_array().unwrap();
    let all: Vec<(String, Value)> = (0..6000)
        .map(|i| {
            let mut v = vacs[i % vacs.len()].clone();
            v["idVacature"] = Value::String(format!("v{i:05}"));
            (format!("v{i:05}"), v)
        })
        .collect();
    for chunk in all.chunks(1000) {
        source
            .state
            .store
            .upsert_batch(Kind::Vacature, chunk, store::now_ms())
            .await
            .unwrap();
    }
    // the follower: `matchgate serve`, following the source's feed every second
    let follower_db = format!("sqlite://{}", d.join("follower.db").display());
    std::fs::write(d.join("follower.secret"), "follower-secret-0123456789").unwrap();
    let config = d.join("follower.toml");
    std::fs::write(
        &config,
        format!(
            r#"oin = "{FOLLOWER}"
name = "follower"
database = "{follower_db}"
secret_file = "follower.secret"
listen = "127.0.0.1:0"
[tls]
cert = "follower.pem"
key = "follower.key"
ca = "ca.pem"
[local]
listen = "127.0.0.1:0"
ca = "ca.pem"
[[peers]]
oin = "{SOURCE}"
name = "source"
endpoint = "https://{}"
follow_feed = true
feed_interval_s = 1
"#,
            source.peer_addr
        ),
    )
    .unwrap();
    let last = source.state.store.last_change_seq().await.unwrap();

    // kill it as soon as it has applied something (usually part-way through the 6,000)
    let mut child = serve(&config);
    let t = Instant::now();
    let mut cursor_at_kill = 0;
    while t.elapsed() < Duration::from_secs(60) {
        if d.join("follower.db").exists() {
            let (c, _) = follower_state(&follower_db).await;
            if c > 0 {
                cursor_at_kill = c;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        cursor_at_kill > 0,
        "the follower applied nothing within a minute"
    );
    eprintln!("killed at cursor {cursor_at_kill} of {last}");

    // meanwhile the source deletes some vacancies, and changes one
    let gone: Vec<String> = (0..6000).step_by(250).map(|i| format!("v{i:05}")).collect();
    for id in &gone {
        source
            .state
            .store
            .remove(Kind::Vacature, id, false, store::now_ms())
            .await
            .unwrap();
    }
    let mut changed = all[1].1.clone();
    changed["naamVacature"] = Value::String("Gewijzigde vacature".into());
    source
        .state
        .store
        .upsert_batch(
            Kind::Vacature,
            &[(all[1].0.clone(), changed)],
            store::now_ms(),
        )
        .await
        .unwrap();
    let last = source.state.store.last_change_seq().await.unwrap();

    // started again, it catches up from its cursor
    let mut child = serve(&config);
    let t = Instant::now();
    let (mut cursor, mut ids) = (0, Vec::new());
    while t.elapsed() < Duration::from_secs(60) {
        (cursor, ids) = follower_state(&follower_db).await;
        if cursor == last {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(cursor, last, "caught up with the source's change log");
    let expected: Vec<String> = all
        .iter()
        .map(|(id, _)| id.clone())
        .filter(|id| !gone.contains(id))
        .collect();
    assert_eq!(ids, expected, "the mirror is the source's live vacancies");
    let s = store::Store::open(&follower_db).await.unwrap();
    let mirrored = s.peer_vacatures(SOURCE).await.unwrap();
    let v1 = mirrored.iter().find(|v| v.vum_id == all[1].0).unwrap();
    assert!(v1.doc.contains("Gewijzigde vacature"), "the change arrived");
    source.stop().await;
}
