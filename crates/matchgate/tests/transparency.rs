//! The transparency figures (`matchgate report`) equal a recount of the import files: a client
//! export with consent, refusals and bad rows, imported twice (the second time with consents
//! withdrawn), counted per municipality by the store and recounted here from the CSV itself.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SECRET: &str = "transparency-cli-secret-0123456789";

fn shared() -> PathBuf {
    std::env::var("MATCHGATE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
}

fn mg(db: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_matchgate"))
        .args(["--database", db])
        .args(args)
        .env("MATCHGATE_NODE_SECRET", SECRET)
        .output()
        .unwrap()
}

/// PC4 → municipality code, read from the shared reference table (not the node's copy).
fn municipalities() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(shared().join("data/postcodes-pc4.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let mut back = l.rsplitn(3, ',');
            let (_, code) = (back.next().unwrap(), back.next().unwrap());
            (l[..4].to_string(), code.to_string())
        })
        .collect()
}

const MAPPING: &str = r#"
kind = "werkzoekende"
[source]
format = "csv"
[identity]
column = "klantnummer"
[consent]
column = "toestemming"
share = ["J"]
contact = []
[fields."mobiliteit.bemiddelingspostcode"]
column = "postcode"
required = true
[fields."werktijden.aantalWerkurenPerWeekMaximaal"]
column = "uren"
"#;

/// One client of the export.
#[derive(Clone)]
struct Client {
    id: usize,
    postcode: String,
    consent: bool,
    hours: u32,
}

fn export(clients: &[Client]) -> String {
    let mut s = String::from("klantnummer,postcode,toestemming,uren\n");
    for c in clients {
        s.push_str(&format!(
            "K{:05},{},{},{}\n",
            c.id,
            c.postcode,
            if c.consent { "J" } else { "N" },
            c.hours
        ));
    }
    s
}

#[derive(Debug, Default, PartialEq, Eq, Clone)]
struct Expected {
    offered: u64,
    shared: u64,
    no_consent: u64,
    rejected: u64,
    withdrawn: u64,
}

#[test]
fn counts_equal_a_recount_of_the_export() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("node.db").display());
    let mapping = dir.path().join("mapping.toml");
    std::fs::write(&mapping, MAPPING).unwrap();
    // areas in six municipalities, a few with small numbers, and 1000 (PO boxes: in no table)
    let areas = [
        "7811", "7812", "7821", // Emmen
        "3511", "3512", // Utrecht
        "9401", // Assen
        "1012", // Amsterdam
        "2511", // 's-Gravenhage
        "5671", // Nuenen, Gerwen en Nederwetten (a quoted name in the table)
        "1000",
    ];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let clients: Vec<Client> = (1..=600)
        .map(|id| {
            // the last areas get few clients, so their cells are small
            let a = match next(100) {
                0..=39 => next(3),
                40..=74 => 3 + next(2),
                75..=89 => 5,
                90..=95 => 6,
                96..=97 => 7,
                98 => 8,
                _ => 9,
            } as usize;
            Client {
                id,
                postcode: format!("{}AB", areas[a]),
                consent: next(100) >= 15,
                hours: if next(100) < 5 {
                    250
                } else {
                    8 + next(33) as u32
                },
            }
        })
        .collect();
    let csv = dir.path().join("export.csv");
    let ingest = |clients: &[Client]| {
        std::fs::write(&csv, export(clients)).unwrap();
        let out = mg(
            &db,
            &[
                "ingest",
                "--mapping",
                mapping.to_str().unwrap(),
                csv.to_str().unwrap(),
                "--max-rejects",
                "100%",
                "--rejects",
                dir.path().join("rejects.csv").to_str().unwrap(),
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    ingest(&clients);
    // the second import: 40 clients shared before withdraw their consent
    let mut second = clients.clone();
    let mut withdrawn_ids = Vec::new();
    for c in second.iter_mut() {
        if c.consent && c.hours <= 99 && withdrawn_ids.len() < 40 && c.id % 7 == 0 {
            c.consent = false;
            withdrawn_ids.push(c.id);
        }
    }
    ingest(&second);

    // the recount, from the export files alone
    let table = municipalities();
    let municipality = |pc: &str| {
        table
            .get(&pc[..4])
            .cloned()
            .unwrap_or_else(|| "onbekend".into())
    };
    let mut want: BTreeMap<String, Expected> = BTreeMap::new();
    let mut first_run: BTreeMap<String, u64> = BTreeMap::new();
    for c in &clients {
        *first_run.entry(municipality(&c.postcode)).or_default() += 1;
    }
    for c in &second {
        let e = want.entry(municipality(&c.postcode)).or_default();
        e.offered += 1;
        if withdrawn_ids.contains(&c.id) {
            e.withdrawn += 1;
        } else if !c.consent {
            e.no_consent += 1;
        } else if c.hours > 99 {
            e.rejected += 1;
        } else {
            e.shared += 1;
        }
    }
    assert!(
        want.values().any(|e| e.shared > 0 && e.shared < 5),
        "small cells in the test"
    );
    assert!(want.contains_key("onbekend") && want.contains_key("GM0820"));

    // the node's figures
    let rt = tokio::runtime::Runtime::new().unwrap();
    let figures = rt.block_on(async {
        let store = store::Store::open(&db).await.unwrap();
        store
            .transparency(
                transparency::figures::Organisation {
                    oin: "00000001001234567000".into(),
                    name: "Gemeente".into(),
                },
                store::now_ms(),
            )
            .await
            .unwrap()
    });
    let got: BTreeMap<String, Expected> = figures
        .areas
        .iter()
        .map(|a| {
            let t = &a.tally;
            (
                a.municipality.clone(),
                Expected {
                    offered: t.shared + t.no_consent + t.rejected + t.expired + t.withdrawn,
                    shared: t.shared,
                    no_consent: t.no_consent,
                    rejected: t.rejected,
                    withdrawn: t.withdrawn,
                },
            )
        })
        .collect();
    assert_eq!(got, want);
    for a in &figures.areas {
        // every shared profile has hours, none an occupation; all were refreshed today
        assert_eq!(a.quality.shared, a.tally.shared);
        assert_eq!(a.quality.with_hours, a.tally.shared);
        assert_eq!(a.quality.with_occupation, 0);
        assert_eq!(a.quality.fresh_days, [a.tally.shared, 0, 0, 0]);
        assert_eq!(a.tally.expired, 0);
        let rejected: u64 = a.tally.rejected_by_rule.values().sum();
        assert_eq!(rejected, a.tally.rejected, "{}", a.municipality);
    }
    // two runs, each with what it read per municipality
    assert_eq!(figures.runs.len(), 2);
    let offered = |r: &transparency::figures::Run| -> BTreeMap<String, u64> {
        r.areas
            .iter()
            .map(|(m, a)| (m.clone(), a.offered))
            .collect()
    };
    assert_eq!(offered(&figures.runs[0]), first_run);
    assert_eq!(
        offered(&figures.runs[1]),
        want.iter().map(|(m, e)| (m.clone(), e.offered)).collect()
    );
    for (m, a) in &figures.runs[1].areas {
        assert_eq!(a.shared_after, want[m].shared, "{m}");
    }
    // running the same import again changes no figure but adds a run
    ingest(&second);
    let again = rt.block_on(async {
        let store = store::Store::open(&db).await.unwrap();
        store
            .transparency(figures.organisation.clone(), store::now_ms())
            .await
            .unwrap()
    });
    assert_eq!(again.areas, figures.areas);
    assert_eq!(again.runs.len(), 3);

    // the report: written, and what it publishes is true (a shown count is the count)
    let out_dir = dir.path().join("report");
    let out = mg(
        &db,
        &[
            "report",
            "--out",
            out_dir.to_str().unwrap(),
            "--name",
            "Gemeente",
            "--oin",
            "00000001001234567000",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("AM03 Drenthe"), "{stdout}");
    assert!(stdout.contains("Emmen"), "{stdout}");
    let report = transparency::merge::FederationReport::from_json(
        &std::fs::read(out_dir.join("report.json")).unwrap(),
    )
    .unwrap();
    for row in &report.rows {
        let e = &want[&row.municipality_code];
        for (cell, truth) in [
            (row.counts.shared, e.shared),
            (row.counts.no_consent, e.no_consent),
            (row.counts.rejected, e.rejected),
            (row.counts.withdrawn, e.withdrawn),
            (row.counts.total, e.offered),
        ] {
            match cell.value() {
                Some(v) => assert_eq!(v, truth, "{}", row.municipality_code),
                None => assert!(cell.is_suppressed(), "one organisation: no bounds"),
            }
            if (1..5).contains(&truth) {
                assert!(cell.is_suppressed(), "a small cell is never shown");
            }
        }
    }
    assert_eq!(
        report.national.total.value(),
        Some(600),
        "every client of the export, once"
    );
    let html = std::fs::read_to_string(out_dir.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("Emmen"));
    assert!(std::fs::read_to_string(out_dir.join("report.csv"))
        .unwrap()
        .contains("GM0114"));
}
