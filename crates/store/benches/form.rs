//! The CPU cost of making one record's stored form (no database): `StoredForm::encode` against the
//! route it replaced, in the same run. The baseline deserializes with `serde_json`'s own `Value`
//! deserializer, builds the JSON derived from the message, compares it with the document, diffs
//! when they differ and encodes the protobuf; `StoredForm::encode` gives the same form (checked here)
//! through `value_serde` (no error messages, compared as it serializes).
//!
//! Run: `cargo bench -p store --bench form` (the official werkzoekenden from `../shared/vum/testdata`;
//! MATCHGATE_SHARED for another place). Prints µs per document for all 1000 documents and for the
//! ones whose derived JSON is the document itself (no explicit empty values), best of 5 rounds.
use serde::Deserialize;
use std::time::Instant;
use store::StoredForm;
use vum::Kind;
use vum_proto::werkzoekenden::Werkzoekende;

/// The route before `value_serde`: what `form.rs` did until then.
fn baseline(doc: &serde_json::Value) -> StoredForm {
    let msg = Werkzoekende::deserialize(doc).expect("an official document fits");
    let derived = serde_json::to_value(&msg).expect("a message serializes");
    let extra = if derived == *doc {
        None
    } else {
        let patch = json_patch::diff(&derived, doc);
        (!patch.0.is_empty()).then(|| serde_json::to_vec(&patch).expect("a patch serializes"))
    };
    StoredForm {
        pb: prost::Message::encode_to_vec(&msg),
        extra,
    }
}

fn per_doc(docs: &[serde_json::Value], f: impl Fn(&serde_json::Value) -> StoredForm) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..10 {
            for d in docs {
                std::hint::black_box(f(d));
            }
        }
        best = best.min(t.elapsed().as_secs_f64() * 1e6 / (docs.len() * 10) as f64);
    }
    best
}

fn main() {
    let base = std::env::var("MATCHGATE_SHARED")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared").to_string());
    let path = format!("{base}/vum/testdata/werkzoekenden-1000.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let all: Vec<serde_json::Value> = serde_json::from_str(&text).expect("a JSON array");
    for d in &all {
        let form = StoredForm::encode(Kind::Werkzoekende, d).expect("an official document fits");
        assert_eq!(form, baseline(d), "the same stored form");
    }
    let clean: Vec<serde_json::Value> = all
        .iter()
        .filter(|d| baseline(d).extra.is_none())
        .cloned()
        .collect();
    for (name, docs) in [("all", &all), ("no explicit empties", &clean)] {
        let old = per_doc(docs, baseline);
        let new = per_doc(docs, |d| {
            StoredForm::encode(Kind::Werkzoekende, d).expect("an official document fits")
        });
        println!(
            "stored form  {name:<20} {:>4} docs  serde_json route {old:>5.1} us/doc  StoredForm::encode {new:>5.1} us/doc  ratio {:.2}",
            docs.len(),
            new / old
        );
    }
}
