//! Validation throughput, single core, against baselines measured in the same run:
//!   * bare serde_json parsing of the same bytes (into `Value`, and into `IgnoredAny` as a floor);
//!   * ajv (npm; compiled schema, JSON.parse included) on the same schema and data, via node.
//!
//! Run: `cargo bench -p vum --bench validate` (needs node + `npm ci` in bench/ajv for the ajv line;
//! without node that baseline is reported as missing, never invented). See BENCHMARKS.md.
use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};
use vum::{Kind, Validator};

struct Rate {
    docs_per_s: f64,
    mb_per_s: f64,
}

fn measure(docs: &[Vec<u8>], secs: f64, mut f: impl FnMut(&[u8]) -> bool) -> Rate {
    let bytes: usize = docs.iter().map(Vec::len).sum();
    // warm-up
    for d in docs {
        black_box(f(d));
    }
    let (mut rounds, start) = (0u64, Instant::now());
    while start.elapsed() < Duration::from_secs_f64(secs) {
        for d in docs {
            assert!(black_box(f(black_box(d))));
        }
        rounds += 1;
    }
    let t = start.elapsed().as_secs_f64();
    Rate {
        docs_per_s: (rounds as f64 * docs.len() as f64) / t,
        mb_per_s: (rounds as f64 * bytes as f64) / t / 1e6,
    }
}

fn main() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let shared = std::env::var("MATCHGATE_SHARED").unwrap_or_else(|_| format!("{root}/../shared"));
    let data = format!("{shared}/vum/testdata/werkzoekenden-1000.json");
    let secs: f64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let all: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&data).expect("test data")).unwrap();
    // each profile as its own compact JSON text, as a record arrives on the wire
    let docs: Vec<Vec<u8>> = all.iter().map(|d| serde_json::to_vec(d).unwrap()).collect();
    let validator = Validator::with_today("2026-11-22");

    let ours = measure(&docs, secs, |d| {
        validator.validate_slice(Kind::Werkzoekende, d).is_valid()
    });
    let value = measure(&docs, secs, |d| {
        serde_json::from_slice::<serde_json::Value>(d).is_ok()
    });
    let ignored = measure(&docs, secs, |d| {
        serde_json::from_slice::<serde::de::IgnoredAny>(d).is_ok()
    });

    println!(
        "validation of {} profiles ({} bytes), single thread, {secs}s per line",
        docs.len(),
        docs.iter().map(Vec::len).sum::<usize>()
    );
    let line = |name: &str, r: &Rate| {
        println!(
            "{name:<40} {:>10.0} docs/s {:>8.1} MB/s",
            r.docs_per_s, r.mb_per_s
        )
    };
    line("vum validate_slice (Werkzoekende)", &ours);
    line("serde_json -> Value (bare parse)", &value);
    line("serde_json -> IgnoredAny (syntax only)", &ignored);
    println!(
        "ratio vum / serde_json Value parse: {:.2} (target >= 0.5)",
        ours.docs_per_s / value.docs_per_s
    );
    println!(
        "ratio vum / serde_json IgnoredAny:  {:.2}",
        ours.docs_per_s / ignored.docs_per_s
    );

    let ajv = Command::new("node")
        .arg(format!("{root}/bench/ajv/bench.mjs"))
        .arg(format!("{root}/schemas/vum-werkzoekenden.schema.json"))
        .arg(&data)
        .arg(secs.to_string())
        .output();
    match ajv {
        Ok(out) if out.status.success() => {
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
            let get = |k: &str| v[k]["docs_per_s"].as_f64().unwrap_or(f64::NAN);
            let mb = |k: &str| v[k]["mb_per_s"].as_f64().unwrap_or(f64::NAN);
            println!(
                "{:<40} {:>10.0} docs/s {:>8.1} MB/s",
                "ajv JSON.parse + validate",
                get("ajv_parse_and_validate"),
                mb("ajv_parse_and_validate")
            );
            println!(
                "{:<40} {:>10.0} docs/s {:>8.1} MB/s",
                "ajv validate only (pre-parsed)",
                get("ajv_validate_only"),
                mb("ajv_validate_only")
            );
            println!(
                "{:<40} {:>10.0} docs/s {:>8.1} MB/s",
                "node JSON.parse only",
                get("node_json_parse_only"),
                mb("node_json_parse_only")
            );
            println!(
                "ratio vum / ajv (parse + validate): {:.2} (target >= 2)",
                ours.docs_per_s / get("ajv_parse_and_validate")
            );
            println!(
                "ratio vum / ajv (validate only):    {:.2}",
                ours.docs_per_s / get("ajv_validate_only")
            );
        }
        Ok(out) => println!(
            "ajv baseline failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .next()
                .unwrap_or("")
        ),
        Err(e) => println!("ajv baseline not measured: node not found ({e})"),
    }
}
