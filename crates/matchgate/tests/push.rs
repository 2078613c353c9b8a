//! `matchgate push` end to end: the binary against a node started in this process, over mutual
//! TLS with a generated development PKI, checked against the node's store.
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use vum::Kind;

const GEMEENTE: &str = "00000001001234567000";
const SYSTEEM: &str = "00000001001234567001";

fn shared(rel: &str) -> Value {
    let base = std::env::var("MATCHGATE_SHARED")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared").to_string());
    serde_json::from_str(&std::fs::read_to_string(format!("{base}/{rel}")).unwrap()).unwrap()
}

fn profiles(n: usize) -> Vec<Value> {
    shared("vum/testdata/werkzoekenden-1000.json")
        .as_array()
        .unwrap()[..n]
        .to_vec()
}

struct Node {
    dir: tempfile::TempDir,
    running: node::run::Running,
}

impl Node {
    async fn start() -> Node {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        node::pki::write_dev_pki(d, &[("gemeente", GEMEENTE), ("systeem", SYSTEEM)]).unwrap();
        std::fs::write(d.join("node.secret"), "gemeente-secret-0123456789abcdef").unwrap();
        std::fs::write(
            d.join("node.toml"),
            format!(
                r#"oin = "{GEMEENTE}"
name = "Gemeente"
database = "sqlite://{}"
secret_file = "node.secret"
listen = "127.0.0.1:0"
[tls]
cert = "gemeente.pem"
key = "gemeente.key"
ca = "ca.pem"
[local]
listen = "127.0.0.1:0"
ca = "local-ca.pem"
clients = [{{ oin = "{SYSTEEM}" }}]
"#,
                d.join("node.db").display()
            ),
        )
        .unwrap();
        let cfg = node::config::NodeConfig::load(&d.join("node.toml")).unwrap();
        let running = node::run::start(cfg).await.unwrap();
        Node { dir, running }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn url(&self) -> String {
        format!("https://localhost:{}", self.running.local_addr.port())
    }

    /// The stored detail of a pushed record, by its local id.
    async fn stored(&self, kind: Kind, local_id: &str) -> Option<Value> {
        let st = &self.running.state;
        st.store
            .get(kind, &st.record_id(kind, local_id), store::now_ms())
            .await
            .unwrap()
    }

    /// `matchgate push` as the own system (its certificate from the node's CA), with more args.
    async fn push(&self, args: &[&str], stdin: Option<Vec<u8>>) -> Out {
        let d = self.dir.path();
        let mut full: Vec<String> = vec![
            "push".into(),
            "--node".into(),
            self.url(),
            "--cert".into(),
            d.join("systeem-local.pem").display().to_string(),
            "--key".into(),
            d.join("systeem-local.key").display().to_string(),
            "--ca".into(),
            d.join("ca.pem").display().to_string(),
            "--timeout".into(),
            "60s".into(),
        ];
        full.extend(args.iter().map(|s| s.to_string()));
        run(full, stdin, &[]).await
    }
}

#[derive(Debug)]
struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Run the binary off the async workers, so the in-process node keeps serving.
async fn run(args: Vec<String>, stdin: Option<Vec<u8>>, env: &[(&str, &str)]) -> Out {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_matchgate"));
        c.args(&args)
            .envs(env)
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        if let Some(bytes) = stdin {
            let mut w = child.stdin.take().unwrap();
            std::thread::spawn(move || {
                let _ = w.write_all(&bytes);
            });
        }
        let o = child.wait_with_output().unwrap();
        Out {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    })
    .await
    .unwrap()
}

fn ndjson(docs: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for d in docs {
        serde_json::to_writer(&mut out, d).unwrap();
        out.push(b'\n');
    }
    out
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn id(d: &Value) -> String {
    d["idWerkzoekende"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_official_profiles_inserts_then_leaves_them_unchanged_then_deletes() {
    let node = Node::start().await;
    let docs = profiles(20);
    let file = node.path("profielen.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&docs).unwrap()).unwrap();

    let o = node.push(&["--consent", &s(&file)], None).await;
    assert_eq!(o.code, Some(0), "{o:?}");
    assert!(
        o.stdout
            .contains("received 20, inserted 20, updated 0, unchanged 0, deleted 0, rejected 0"),
        "{o:?}"
    );
    for d in &docs {
        let stored = node
            .stored(Kind::Werkzoekende, &id(d))
            .await
            .expect("pushed profile stored under the keyed id");
        // the node keys the local id; everything else is the profile as pushed
        let mut expect = d.clone();
        expect["idWerkzoekende"] = stored["idWerkzoekende"].clone();
        assert_eq!(
            vum::jsonschema_check::drop_empty(stored),
            vum::jsonschema_check::drop_empty(expect)
        );
    }

    // the same records again, as NDJSON on standard input: nothing changes
    let o = node
        .push(
            &["--consent", "--kind", "werkzoekende", "-"],
            Some(ndjson(&docs)),
        )
        .await;
    assert_eq!(o.code, Some(0), "{o:?}");
    assert!(
        o.stdout
            .contains("received 20, inserted 0, updated 0, unchanged 20, deleted 0, rejected 0"),
        "{o:?}"
    );

    // two of them deleted by local id (a blank line is skipped)
    let ids = node.path("weg.txt");
    std::fs::write(&ids, format!("{}\n\n{}\n", id(&docs[3]), id(&docs[7]))).unwrap();
    let o = node
        .push(&["--kind", "werkzoekende", "--delete-file", &s(&ids)], None)
        .await;
    assert_eq!(o.code, Some(0), "{o:?}");
    assert!(
        o.stdout
            .contains("received 2, inserted 0, updated 0, unchanged 0, deleted 2, rejected 0"),
        "{o:?}"
    );
    assert!(node
        .stored(Kind::Werkzoekende, &id(&docs[3]))
        .await
        .is_none());
    assert!(node
        .stored(Kind::Werkzoekende, &id(&docs[7]))
        .await
        .is_none());
    assert!(node
        .stored(Kind::Werkzoekende, &id(&docs[4]))
        .await
        .is_some());
    node.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_names_each_bad_record_by_file_and_record_and_stores_the_good_ones() {
    let node = Node::start().await;
    let docs = profiles(9);
    // a.json: an array of three good profiles
    let a = node.path("a.json");
    std::fs::write(&a, serde_json::to_vec(&docs[..3]).unwrap()).unwrap();
    // b.ndjson: good, bad postcode, good, not JSON (never sent), good, bad again
    let mut bad1 = docs[4].clone();
    bad1["mobiliteit"]["bemiddelingspostcode"] = "12345".into();
    let mut bad2 = docs[7].clone();
    bad2["mobiliteit"]["bemiddelingspostcode"] = "99".into();
    let mut b_text = ndjson(&[docs[3].clone(), bad1, docs[5].clone()]);
    b_text.extend_from_slice(b"{\"idWerkzoekende\": \n");
    b_text.extend(ndjson(&[docs[6].clone(), bad2]));
    // a line over the 4 MiB bound: skipped, named; the record after it still lands
    let mut huge = docs[8].clone();
    huge["idWerkzoekende"] = "x".repeat(5 * 1024 * 1024).into();
    b_text.extend(ndjson(&[huge, docs[8].clone()]));
    let b = node.path("b.ndjson");
    std::fs::write(&b, b_text).unwrap();

    let o = node.push(&["--consent", &s(&a), &s(&b)], None).await;
    assert_eq!(o.code, Some(1), "{o:?}");
    let mut bad: Vec<&str> = o
        .stdout
        .lines()
        .filter(|l| l.contains("b.ndjson:") || l.contains("a.json:"))
        .collect();
    let b_name = s(&b);
    // the one kept back here comes first (it was never sent); serde's words after the prefix
    assert!(
        bad[0].starts_with(&format!(
            "{b_name}:4: json/syntax: not JSON (line 4): EOF while parsing"
        )),
        "{o:?}"
    );
    bad.remove(0);
    assert_eq!(
        bad.remove(0),
        format!("{b_name}:7: push/te-groot: the record at line 7 is longer than 4 MiB; skipped"),
        "{o:?}"
    );
    assert_eq!(
        bad,
        vec![
            format!("{b_name}:2:/mobiliteit/bemiddelingspostcode werkzoekenden#Postcode/pattern: '12345' does not match ^[0-9]{{4}}[a-zA-Z]{{2}}$").as_str(),
            format!("{b_name}:6:/mobiliteit/bemiddelingspostcode werkzoekenden#Postcode/pattern: '99' does not match ^[0-9]{{4}}[a-zA-Z]{{2}}$").as_str(),
        ],
        "{o:?}"
    );
    assert!(
        o.stdout.contains(
            "received 9, inserted 7, updated 0, unchanged 0, deleted 0, rejected 4 (2 here, not sent)"
        ),
        "{o:?}"
    );
    for i in [0, 1, 2, 3, 5, 6, 8] {
        assert!(
            node.stored(Kind::Werkzoekende, &id(&docs[i]))
                .await
                .is_some(),
            "record {i}"
        );
    }
    for i in [4, 7] {
        assert!(
            node.stored(Kind::Werkzoekende, &id(&docs[i]))
                .await
                .is_none(),
            "record {i}"
        );
    }
    node.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_refuses_werkzoekenden_without_consent_before_sending_any() {
    let node = Node::start().await;
    let file = node.path("profielen.ndjson");
    std::fs::write(&file, ndjson(&profiles(3))).unwrap();
    for args in [
        vec![s(&file)],
        vec!["--kind".into(), "werkzoekende".into(), s(&file)],
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = node.push(&args, None).await;
        assert_eq!(o.code, Some(2), "{o:?}");
        assert!(o.stderr.contains("holds werkzoekenden"), "{o:?}");
        assert!(o.stderr.contains("pass --consent"), "{o:?}");
        assert!(o.stdout.is_empty(), "{o:?}");
    }
    let status = node
        .running
        .state
        .store
        .status(Kind::Werkzoekende, store::now_ms())
        .await
        .unwrap();
    assert_eq!(status.live, 0);
    node.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_says_clearly_when_the_node_cannot_be_reached() {
    let node = Node::start().await;
    let d = node.dir.path();
    let file = node.path("profielen.ndjson");
    std::fs::write(&file, ndjson(&profiles(2))).unwrap();
    let base = |url: String, ca: &str| -> Vec<String> {
        vec![
            "push".into(),
            "--node".into(),
            url,
            "--cert".into(),
            s(&d.join("systeem-local.pem")),
            "--key".into(),
            s(&d.join("systeem-local.key")),
            "--ca".into(),
            s(&d.join(ca)),
            "--timeout".into(),
            "20s".into(),
            "--consent".into(),
            s(&file),
        ]
    };
    // a CA that did not issue the node's certificate
    let o = run(base(node.url(), "foreign-ca.pem"), None, &[]).await;
    assert_eq!(o.code, Some(1), "{o:?}");
    assert!(
        o.stderr
            .contains("cannot reach the node at https://localhost:"),
        "{o:?}"
    );
    assert!(o.stderr.to_lowercase().contains("certificate"), "{o:?}");
    // nothing listens there
    let o = run(base("https://127.0.0.1:1".into(), "ca.pem"), None, &[]).await;
    assert_eq!(o.code, Some(1), "{o:?}");
    assert!(
        o.stderr
            .contains("cannot reach the node at https://127.0.0.1:1"),
        "{o:?}"
    );
    // our own certificate where the node expects its own systems' CA: refused by the node
    let mut args = base(node.url(), "ca.pem");
    args[4] = s(&d.join("foreign.pem"));
    args[6] = s(&d.join("foreign.key"));
    let o = run(args, None, &[]).await;
    assert_eq!(o.code, Some(1), "{o:?}");
    assert!(o.stderr.contains("matchgate push: "), "{o:?}");
    // the TLS server name is the URL's host (the development certificate names 127.0.0.1 too)
    let mut args = base(node.url().replace("localhost", "127.0.0.1"), "ca.pem");
    let o = run(args.clone(), None, &[]).await;
    assert_eq!(o.code, Some(0), "{o:?}");
    args.insert(1, "--server-name".into());
    args.insert(2, "elders.example".into());
    let o = run(args, None, &[]).await;
    assert_eq!(o.code, Some(1), "{o:?}");
    assert!(
        o.stderr.contains("not valid for name \"elders.example\""),
        "{o:?}"
    );
    // a stream that never ends (standard input held open): the deadline ends the push
    let mut args = base(node.url(), "ca.pem");
    args[10] = "2s".into();
    *args.last_mut().unwrap() = "-".into();
    let mut child = Command::new(env!("CARGO_BIN_EXE_matchgate"))
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut w = child.stdin.take().unwrap();
    w.write_all(&ndjson(&profiles(1))).unwrap();
    w.flush().unwrap();
    let o = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    drop(w);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("did not finish within --timeout 2s"), "{err}");
    // usage errors: plain http, a key that is no PEM
    let o = run(
        base(node.url().replace("https", "http"), "ca.pem"),
        None,
        &[],
    )
    .await;
    assert_eq!(o.code, Some(2), "{o:?}");
    assert!(o.stderr.contains("mutual TLS only"), "{o:?}");
    let mut args = base(node.url(), "ca.pem");
    args[6] = s(&file);
    let o = run(args, None, &[]).await;
    assert_eq!(o.code, Some(2), "{o:?}");
    assert!(
        o.stderr.contains("--key") && o.stderr.contains("not a PEM file"),
        "{o:?}"
    );
    // the two records pushed over 127.0.0.1 and perhaps the one before the deadline; no others
    let status = node
        .running
        .state
        .store
        .status(Kind::Werkzoekende, store::now_ms())
        .await
        .unwrap();
    assert!(status.live == 2 || status.live == 3, "{}", status.live);
    node.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_takes_the_local_id_from_another_field() {
    let node = Node::start().await;
    let mut docs = profiles(2);
    for (i, d) in docs.iter_mut().enumerate() {
        let o = d.as_object_mut().unwrap();
        o.remove("idWerkzoekende");
        o.insert("lokaalId".into(), Value::from(1000 + i));
    }
    let file = node.path("profielen.ndjson");
    std::fs::write(&file, ndjson(&docs)).unwrap();
    // without --kind the file cannot tell what it holds
    let o = node.push(&["--consent", &s(&file)], None).await;
    assert_eq!(o.code, Some(2), "{o:?}");
    assert!(o.stderr.contains("pass --kind"), "{o:?}");
    // without --id-field there is no local id
    let o = node
        .push(&["--consent", "--kind", "werkzoekende", &s(&file)], None)
        .await;
    assert_eq!(o.code, Some(1), "{o:?}");
    assert!(o.stdout.contains(":1:/idWerkzoekende push/id-ontbreekt: no local id at /idWerkzoekende (--id-field takes it from elsewhere)"), "{o:?}");
    let o = node
        .push(
            &[
                "--consent",
                "--kind",
                "werkzoekende",
                "--id-field",
                "/lokaalId",
                &s(&file),
            ],
            None,
        )
        .await;
    assert_eq!(o.code, Some(0), "{o:?}");
    assert!(o.stdout.contains("inserted 2,"), "{o:?}");
    let stored = node.stored(Kind::Werkzoekende, "1001").await.unwrap();
    assert!(stored.get("lokaalId").is_none());
    node.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_sends_a_translated_vacancy_export() {
    let node = Node::start().await;
    let out = node.path("vacatures.ndjson");
    // translated with the node's own secret, so that ids can meet
    let secret = std::fs::read_to_string(node.path("node.secret")).unwrap();
    let t = run(
        vec![
            "translate".into(),
            "--mapping".into(),
            "examples/translate/xml-vacatures/mapping.toml".into(),
            "examples/translate/xml-vacatures/vacaturefeed.xml".into(),
            "-o".into(),
            s(&out),
            "--rejects".into(),
            s(&node.path("rejects.csv")),
        ],
        None,
        &[("MATCHGATE_NODE_SECRET", &secret)],
    )
    .await;
    assert!(t.code == Some(0) || t.code == Some(1), "{t:?}");
    let lines: Vec<Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 3, "{t:?}");
    // vacancies need no consent; the kind is detected; the export's (keyed) ids are the local ids
    let o = node.push(&[&s(&out)], None).await;
    assert_eq!(o.code, Some(0), "{o:?}");
    let all = |verb: &str| {
        format!(
            "received {n}, inserted {i}, updated 0, unchanged {u}, deleted 0, rejected 0",
            n = lines.len(),
            i = if verb == "inserted" { lines.len() } else { 0 },
            u = if verb == "unchanged" { lines.len() } else { 0 },
        )
    };
    assert!(o.stdout.contains(&all("inserted")), "{o:?}");
    for v in &lines {
        let local = v["idVacature"].as_str().unwrap();
        let stored = node.stored(Kind::Vacature, local).await.expect("stored");
        assert_eq!(stored["naamVacature"], v["naamVacature"]);
    }
    let o = node.push(&[&s(&out)], None).await;
    assert!(o.stdout.contains(&all("unchanged")), "{o:?}");
    // with the export's own number as the local id, a pushed vacancy lands on the very id the
    // translation (and so `matchgate ingest`) gave it; the number, a VUM property, stays
    let o = node
        .push(&["--id-field", "/nummerVacature", &s(&out)], None)
        .await;
    assert_eq!(o.code, Some(0), "{o:?}");
    assert!(o.stdout.contains(&all("inserted")), "{o:?}");
    for v in &lines {
        let nummer = v["nummerVacature"].as_str().unwrap();
        let stored = node.stored(Kind::Vacature, nummer).await.expect("stored");
        assert_eq!(stored["idVacature"], v["idVacature"]);
        assert_eq!(stored["nummerVacature"], v["nummerVacature"]);
    }
    node.running.stop().await;
}
