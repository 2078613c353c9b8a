//! The node's request decoding under random input, in stable Rust (a mutation test, not a
//! coverage-guided fuzzer; `fuzz/` has those for the validator, queries, mapping and sources): the
//! protobuf encoding of valid selection requests mutated (bit flips, cut, spliced, bytes inserted)
//! and sent through what a Peer call does with it (prost decoding, the JSON form, the validator,
//! the selection parser), party metadata of random lengths and bytes through `check_metadata`,
//! and random detail ids through `check_record_id`. Nothing may panic; bad input is an error.
use prost::Message;
use tonic::metadata::{MetadataMap, MetadataValue};
use vum::{Family, Kind, Validator};
use vum_proto::{vacatures as vac, werkzoekenden as wz};

/// xorshift64*: deterministic, so a failure can be replayed from the printed iteration.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..=rng.below(4) {
        match rng.below(5) {
            0 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
            }
            1 if !b.is_empty() => b.truncate(rng.below(b.len())),
            2 => {
                let i = rng.below(b.len() + 1);
                let n = rng.below(8);
                for _ in 0..n {
                    b.insert(i, rng.next() as u8);
                }
            }
            3 if !other.is_empty() => {
                let cut = rng.below(b.len() + 1);
                let from = rng.below(other.len());
                b.truncate(cut);
                b.extend_from_slice(&other[from..]);
            }
            _ if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] = [0x00, 0x7f, 0x80, 0xff, 0x0a, 0x12][rng.below(6)];
            }
            _ => {}
        }
    }
    b
}

fn seeds() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/vectors");
    let (mut w, mut v) = (Vec::new(), Vec::new());
    for sub in ["valid", "invalid", "warning"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap() {
            let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
            let Ok(vector) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            let doc = vector["document"].clone();
            match vector["kind"].as_str() {
                Some("werkzoekende-vraag") => {
                    if let Ok(m) =
                        serde_json::from_value::<wz::WerkzoekendeProfielMatchesRequest>(doc)
                    {
                        w.push(m.encode_to_vec());
                    }
                }
                Some("vacature-vraag") => {
                    if let Ok(m) = serde_json::from_value::<vac::VacatureMatchesRequest>(doc) {
                        v.push(m.encode_to_vec());
                    }
                }
                _ => {}
            }
        }
    }
    assert!(
        !w.is_empty() && !v.is_empty(),
        "no selection vectors to start from"
    );
    (w, v)
}

/// What a Peer selection does with the request before the engine: JSON form, validator, parser.
fn judge(kind: Kind, json: serde_json::Value, validator: &Validator) -> bool {
    let report = validator.validate_value(kind, &json);
    if !report.is_valid() {
        let _ = node::server::refuse_report("selection", &report);
        return false;
    }
    let family = if kind == Kind::VacatureVraag {
        Family::Vacatures
    } else {
        Family::Werkzoekenden
    };
    vum::query::Selectie::from_request(family, &json).is_ok()
}

#[test]
fn mutated_selection_requests_never_panic() {
    let (w, v) = seeds();
    let validator = Validator::with_today("2026-11-22");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut decoded, mut accepted) = (0u32, 0u32);
    for i in 0..20_000 {
        let (seeds, kind) = if i % 2 == 0 {
            (&w, Kind::WerkzoekendeVraag)
        } else {
            (&v, Kind::VacatureVraag)
        };
        let seed = &seeds[rng.below(seeds.len())];
        let other = &seeds[rng.below(seeds.len())];
        let bytes = mutate(&mut rng, seed, other);
        let json = if kind == Kind::WerkzoekendeVraag {
            wz::WerkzoekendeProfielMatchesRequest::decode(bytes.as_slice())
                .ok()
                .and_then(|m| serde_json::to_value(&m).ok())
        } else {
            vac::VacatureMatchesRequest::decode(bytes.as_slice())
                .ok()
                .and_then(|m| serde_json::to_value(&m).ok())
        };
        if let Some(json) = json {
            decoded += 1;
            if judge(kind, json, &validator) {
                accepted += 1;
            }
        }
    }
    // the mutations reach both the decoder's errors and the checks behind it
    assert!(
        decoded > 1_000 && accepted > 100,
        "decoded {decoded}, accepted {accepted}"
    );
}

#[test]
fn random_party_metadata_and_ids_are_refused_without_panic() {
    const OWN: &str = "00000001001234567000";
    const CERT: &str = "00000001003214345000";
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let keys = [
        "x-vum-fromparty",
        "x-vum-viaparty",
        "x-vum-toparty",
        "x-vum-suwiparty",
        "x-vum-berichtversie",
        "x-transaction-id",
    ];
    let good = [
        CERT,
        CERT,
        OWN,
        "false",
        "3.0.0",
        "0192f0c2-7d5e-7cc3-9f3a-2a1b3c4d5e6f",
    ];
    let mut ok = 0;
    for _ in 0..20_000 {
        let mut md = MetadataMap::new();
        for (k, g) in keys.iter().zip(good) {
            let value: String = match rng.below(4) {
                0 => g.to_string(),
                1 => (0..rng.below(9000))
                    .map(|_| char::from(32 + (rng.next() % 95) as u8))
                    .collect(),
                2 => {
                    let mut s = g.to_string();
                    let i = rng.below(s.len() + 1);
                    s.insert(i, ['{', '}', '-', '0', 'a', ' '][rng.below(6)]);
                    s
                }
                _ => String::new(),
            };
            if let Ok(v) = MetadataValue::try_from(value.as_str()) {
                md.insert(*k, v);
            }
        }
        if node::parties::check_metadata(&md, CERT.to_string(), OWN).is_ok() {
            ok += 1;
        }
        let id: String = (0..rng.below(80))
            .map(|_| char::from(32 + (rng.next() % 95) as u8))
            .collect();
        let _ = node::server::check_record_id(&id);
    }
    assert!(ok > 0, "the unchanged metadata passes now and then");
}

/// Writes the protobuf seeds of the `peer_request` fuzz target (fuzz/seeds/peer_request, committed;
/// tools/fuzz_seed.py copies them into the corpus): the selection vectors as protobuf, and the
/// demo's profiles and vacancies. Run after a change to the messages:
/// `cargo test -p node --test decode_fuzz -- --ignored write_peer_request_seeds`
#[test]
#[ignore]
fn write_peer_request_seeds() {
    let out =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/peer_request");
    std::fs::create_dir_all(&out).unwrap();
    let (w, v) = seeds();
    let mut n = 0;
    let mut put = |case: u8, bytes: &[u8]| {
        let mut b = vec![case];
        b.extend_from_slice(bytes);
        std::fs::write(out.join(format!("{case}-{n:03}")), b).unwrap();
        n += 1;
    };
    for s in w.iter().take(12) {
        put(0, s);
    }
    for s in v.iter().take(12) {
        put(1, s);
    }
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/vectors/valid");
    for e in std::fs::read_dir(dir).unwrap() {
        let vector: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(e.unwrap().path()).unwrap()).unwrap();
        let doc = vector["document"].clone();
        match vector["kind"].as_str() {
            Some("werkzoekende") => {
                if let Ok(m) = serde_json::from_value::<wz::Werkzoekende>(doc) {
                    put(2, &m.encode_to_vec());
                }
            }
            Some("vacature") => {
                if let Ok(m) = serde_json::from_value::<vac::Vacature>(doc) {
                    put(3, &m.encode_to_vec());
                }
            }
            Some("werkzoekende-vraag") => put(5, doc.to_string().as_bytes()),
            Some("vacature-vraag") => put(6, doc.to_string().as_bytes()),
            _ => {}
        }
    }
    // the standard's test data, when it is beside the project
    let shared =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vum/testdata");
    for (file, case) in [("werkzoekenden-1000.json", 2u8), ("vacatures-93.json", 3)] {
        let Ok(text) = std::fs::read_to_string(shared.join(file)) else {
            continue;
        };
        let docs: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        for doc in docs.into_iter().take(10) {
            let bytes = if case == 2 {
                serde_json::from_value::<wz::Werkzoekende>(doc).map(|m| m.encode_to_vec())
            } else {
                serde_json::from_value::<vac::Vacature>(doc).map(|m| m.encode_to_vec())
            };
            put(case, &bytes.unwrap());
        }
    }
    put(
        4,
        b"00000001003214345000\x0000000001003214345000\x0000000001001234567000\x00false\x003.0.0\x000192f0c2-7d5e-7cc3-9f3a-2a1b3c4d5e6f\x000123456789abcdef0123456789abcdef",
    );
}
