//! JSON -> proto -> JSON is the identity on all of the standard's test data (modulo key order and
//! empty values, which VUM defines as absent).
use serde_json::Value;

fn shared(rel: &str) -> Value {
    let path = format!(
        "{}/vum/testdata/{rel}",
        std::env::var("MATCHGATE_SHARED").unwrap_or_else(|_| concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared"
        )
        .to_string())
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
        .unwrap()
}

use vum::jsonschema_check::drop_empty;

fn roundtrip<T: serde::de::DeserializeOwned + serde::Serialize + prost::Message + Default>(
    doc: &Value,
) {
    let want = drop_empty(doc.clone()).unwrap();
    let msg: T = serde_json::from_value(doc.clone()).expect("deserialise into proto");
    // through the binary wire format too, as a peer would receive it
    let msg = T::decode(msg.encode_to_vec().as_slice()).unwrap();
    let back = drop_empty(serde_json::to_value(&msg).unwrap()).unwrap();
    assert_eq!(back, want, "round trip changed the document");
}

#[test]
fn all_1000_werkzoekenden_round_trip() {
    let docs = shared("werkzoekenden-1000.json");
    let docs = docs.as_array().unwrap();
    assert_eq!(docs.len(), 1000);
    for d in docs {
        roundtrip::<vum_proto::werkzoekenden::Werkzoekende>(d);
    }
}

#[test]
fn all_93_vacatures_round_trip() {
    let docs = shared("vacatures-93.json");
    let docs = docs.as_array().unwrap();
    assert_eq!(docs.len(), 93);
    for d in docs {
        roundtrip::<vum_proto::vacatures::Vacature>(d);
    }
}

#[test]
fn selection_queries_round_trip_with_mongo_operators() {
    let q: Value = serde_json::from_str(
        r#"{"vraagObject":{"selectiegebied":{"postcode":"3011AB","afstand":25},
        "bemiddelingsberoep":{"$elemMatch":{"$or":[{"beroep.codeBeroepsnaam":{"$eq":"https://linkeddata.competentnl.nl/uwv/id/occupation/57D17BDAA8"}}]}},
        "contractvorm":{"$elemMatch":{"$or":[{"codeTypeArbeidscontract":{"$eq":"O"}}]}},
        "arbeidsmarktkwalificatie.rijbewijs":{"$all":[{"$elemMatch":{"codeSoortRijbewijs":{"$eq":"B"}}}]},
        "arbeidsmarktkwalificatie.taalbeheersing":{"$all":[{"$elemMatch":{"codeTaal":{"$eq":"nld"},"codeNiveauTaalbeheersingMondeling":{"$gte":3}}}]},
        "werktijden.aantalWerkurenPerWeekMaximaal":{"$gte":24},"werktijden.aantalWerkurenPerWeekMinimaal":{"$lte":32},
        "werktijden.indicatieKantoortijden":{"$eq":1},"flexibiliteit.indicatieOnregelmatigWerkOfPloegendienst":{"$eq":2},
        "datumAanvangBeschikbaarVoorWerk":{"$lte":"2026-12-01"}}}"#,
    )
    .unwrap();
    roundtrip::<vum_proto::werkzoekenden::WerkzoekendeProfielMatchesRequest>(&q);
    let q: Value = serde_json::from_str(
        r#"{"vraagObject":{"selectiegebied":{"postcode":"3011AB","afstand":25},
        "codeWerkEnDenkniveauMinimaal":{"$gte":"3","$lt":"7"},"datumAanvangWerkzaamheden":{"$gte":"2026-12-01"},
        "beroep.codeBeroepsnaam":{"$eq":"https://linkeddata.competentnl.nl/uwv/id/occupation/57D17BDAA8"}}}"#,
    )
    .unwrap();
    roundtrip::<vum_proto::vacatures::VacatureMatchesRequest>(&q);
}
