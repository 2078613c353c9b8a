//! What a node does with a Peer request before its engine and store see it: the protobuf message
//! (prost), its VUM JSON form (pbjson), the validator and the selection parser for selections and
//! pushed documents; the party headers (`vum::parties::PartyHeaders::read`, the checks behind
//! gRPC metadata and REST headers) and the detail id. The first byte picks the case:
//!
//! - 0 / 1: a werkzoekende / vacature selection request as protobuf bytes
//! - 2 / 3: a werkzoekende / vacature document (as in a Push) as protobuf bytes
//! - 4: the six party header values, separated by NUL, then a detail id
//! - 5 / 6: a selection request as VUM JSON (pbjson), encoded to protobuf and decoded again:
//!   the round trip must give the same bytes
#![no_main]
use libfuzzer_sys::fuzz_target;
use prost::Message;
use vum::{parties, query::Selectie, Family, Kind, Validator};
use vum_proto::{vacatures as vac, werkzoekenden as wz};

fn judge(kind: Kind, json: &serde_json::Value) {
    let v = Validator::with_today("2026-11-22");
    let report = v.validate_value(kind, json);
    let family = match kind {
        Kind::VacatureVraag | Kind::Vacature => Family::Vacatures,
        _ => Family::Werkzoekenden,
    };
    if report.is_valid() && kind.is_query() {
        let _ = Selectie::from_request(family, json);
    }
}

fn decoded<M: Message + Default + serde::Serialize>(kind: Kind, bytes: &[u8]) {
    if let Ok(m) = M::decode(bytes) {
        if let Ok(json) = serde_json::to_value(&m) {
            judge(kind, &json);
        }
    }
}

fn round_trip<M>(kind: Kind, json: &[u8])
where
    M: Message + Default + serde::Serialize + serde::de::DeserializeOwned,
{
    let Ok(m) = serde_json::from_slice::<M>(json) else {
        return;
    };
    let bytes = m.encode_to_vec();
    let again = M::decode(bytes.as_slice()).expect("prost decodes what it encoded");
    // compared as bytes: a double field may hold NaN, which is not equal to itself
    assert!(again.encode_to_vec() == bytes, "protobuf round trip changed the message");
    if let Ok(v) = serde_json::to_value(&m) {
        judge(kind, &v);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&case, rest)) = data.split_first() else {
        return;
    };
    match case % 7 {
        0 => decoded::<wz::WerkzoekendeProfielMatchesRequest>(Kind::WerkzoekendeVraag, rest),
        1 => decoded::<vac::VacatureMatchesRequest>(Kind::VacatureVraag, rest),
        2 => decoded::<wz::Werkzoekende>(Kind::Werkzoekende, rest),
        3 => decoded::<vac::Vacature>(Kind::Vacature, rest),
        4 => {
            let mut parts = rest.split(|b| *b == 0);
            let names = [
                parties::FROM,
                parties::VIA,
                parties::TO,
                parties::SUWI,
                parties::VERSION,
                parties::TRANSACTION,
            ];
            let values: Vec<&[u8]> = names.iter().map(|_| parts.next().unwrap_or(&[])).collect();
            let get = |name: &str| {
                let i = names.iter().position(|n| *n == name)?;
                Some(values[i]).filter(|v| !v.is_empty())
            };
            if let Err(e) = parties::PartyHeaders::read(get) {
                // a refusal names its header and never echoes more than a short value
                assert!(e.to_string().len() < 200, "{e}");
            }
            let id: Vec<u8> = parts.flatten().copied().collect();
            if let Ok(id) = std::str::from_utf8(&id) {
                let _ = parties::is_record_id(id);
            }
        }
        5 => round_trip::<wz::WerkzoekendeProfielMatchesRequest>(Kind::WerkzoekendeVraag, rest),
        _ => round_trip::<vac::VacatureMatchesRequest>(Kind::VacatureVraag, rest),
    }
});
