//! The suite's own reading of a selection, written from the standard's text and independent of
//! any node's engine: which of a set of documents a `vraagObject` selects. Used to compute the
//! expected result sets of the fixtures, and to check that every returned match profile
//! satisfies the question (a match profile has the same paths as its document).
//!
//! Distances: between the centroids of the PC4 areas of the two postcodes, great-circle
//! (haversine, mean Earth radius 6371.0088 km); a record is within `afstand` when its distance is
//! at most `afstand`, and a jobseeker is not selected beyond its `maximaleReisafstand`. The PC4
//! coordinates are reference data (`vum::refdata`); the arithmetic is this module's own.
//! Criteria this module does not know are ignored, as the standard says a source does.
use serde_json::Value;

/// Great-circle distance between two PC4 areas' centroids, km (`None`: an area not in the table).
pub fn distance_km(a: &str, b: &str) -> Option<f64> {
    let (p, q) = (vum::refdata::pc4_point(a)?, vum::refdata::pc4_point(b)?);
    let r = 6371.0088_f64;
    let (la1, la2) = (p.lat.to_radians(), q.lat.to_radians());
    let dla = la2 - la1;
    let dlo = (q.lon - p.lon).to_radians();
    let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
    Some(2.0 * r * h.sqrt().asin())
}

fn at<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(doc, |v, k| v.get(k))
}

fn int(v: Option<&Value>) -> Option<i64> {
    v.and_then(Value::as_i64)
}

/// Whether a jobseeker's document (or match profile) meets a `vraagObject`.
pub fn selects_werkzoekende(vraag: &Value, doc: &Value) -> bool {
    let Some(gebied) = vraag.get("selectiegebied") else {
        return false;
    };
    let (Some(centre), Some(afstand)) = (
        gebied.get("postcode").and_then(Value::as_str),
        gebied.get("afstand").and_then(Value::as_f64),
    ) else {
        return false;
    };
    let Some(pc) = at(doc, "mobiliteit.bemiddelingspostcode").and_then(Value::as_str) else {
        return false;
    };
    let Some(d) = distance_km(centre, pc) else {
        return false;
    };
    if d > afstand {
        return false;
    }
    if let Some(reis) = at(doc, "mobiliteit.maximaleReisafstand").and_then(Value::as_f64) {
        if d > reis {
            return false;
        }
    }
    let Some(criteria) = vraag.as_object() else {
        return false;
    };
    criteria
        .iter()
        .filter(|(k, _)| k.as_str() != "selectiegebied")
        .all(|(k, v)| criterion(k, v, doc))
}

/// One criterion; one this module does not know holds (it is ignored).
fn criterion(key: &str, v: &Value, doc: &Value) -> bool {
    let op = |name: &str| v.get(name);
    match key {
        "werktijden.aantalWerkurenPerWeekMaximaal" => match int(op("$gte")) {
            Some(n) => int(at(doc, key)).is_some_and(|x| x >= n),
            None => true,
        },
        "werktijden.aantalWerkurenPerWeekMinimaal" => match int(op("$lte")) {
            Some(n) => int(at(doc, key)).is_some_and(|x| x <= n),
            None => true,
        },
        "datumAanvangBeschikbaarVoorWerk" => match op("$lte").and_then(Value::as_str) {
            // ISO dates compare as text
            Some(d) => at(doc, "flexibiliteit.datumAanvangBeschikbaarVoorWerk")
                .and_then(Value::as_str)
                .is_some_and(|x| x <= d),
            None => true,
        },
        "bemiddelingsberoep" => {
            let wanted: Vec<&str> = v
                .pointer("/$elemMatch/$or")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|alt| {
                    alt.pointer("/beroep.codeBeroepsnaam/$eq")
                        .and_then(Value::as_str)
                })
                .collect();
            wanted.is_empty()
                || list(doc, "bemiddelingsberoep").iter().any(|b| {
                    b.get("codeBeroepsnaam")
                        .and_then(Value::as_str)
                        .is_some_and(|c| wanted.contains(&c))
                })
        }
        "arbeidsmarktkwalificatie.rijbewijs" => all_elem(v).iter().all(|em| {
            let Some(code) = em
                .pointer("/codeSoortRijbewijs/$eq")
                .and_then(Value::as_str)
            else {
                return true;
            };
            list(doc, key)
                .iter()
                .any(|r| r.get("codeSoortRijbewijs").and_then(Value::as_str) == Some(code))
        }),
        "arbeidsmarktkwalificatie.taalbeheersing" => all_elem(v).iter().all(|em| {
            let Some(taal) = em.pointer("/codeTaal/$eq").and_then(Value::as_str) else {
                return true;
            };
            let mond = int(em.pointer("/codeNiveauTaalbeheersingMondeling/$gte"));
            let schr = int(em.pointer("/codeNiveauTaalbeheersingSchriftelijk/$gte"));
            list(doc, key).iter().any(|t| {
                t.get("codeTaal").and_then(Value::as_str) == Some(taal)
                    && mond.is_none_or(|m| {
                        int(t.get("codeNiveauTaalbeheersingMondeling")).is_some_and(|x| x >= m)
                    })
                    && schr.is_none_or(|m| {
                        int(t.get("codeNiveauTaalbeheersingSchriftelijk")).is_some_and(|x| x >= m)
                    })
            })
        }),
        _ => true,
    }
}

fn list<'a>(doc: &'a Value, path: &str) -> Vec<&'a Value> {
    at(doc, path)
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

fn all_elem(v: &Value) -> Vec<&Value> {
    v.get("$all")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|x| x.get("$elemMatch"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_reading_of_the_standard() {
        let doc = json!({
            "mobiliteit": {"bemiddelingspostcode": "3511AB", "maximaleReisafstand": 10},
            "werktijden": {"aantalWerkurenPerWeekMinimaal": 16, "aantalWerkurenPerWeekMaximaal": 24},
            "flexibiliteit": {"datumAanvangBeschikbaarVoorWerk": "2027-03-01"},
            "arbeidsmarktkwalificatie": {"rijbewijs": [{"codeSoortRijbewijs": "B"}],
                "taalbeheersing": [{"codeTaal": "nld", "codeNiveauTaalbeheersingMondeling": 3}]}
        });
        let q = |extra: Value| {
            let mut v = json!({"selectiegebied": {"postcode": "3511AA", "afstand": 5}});
            for (k, x) in extra.as_object().unwrap() {
                v[k] = x.clone();
            }
            v
        };
        assert!(selects_werkzoekende(&q(json!({})), &doc));
        assert!(selects_werkzoekende(
            &q(json!({"werktijden.aantalWerkurenPerWeekMaximaal": {"$gte": 24}})),
            &doc
        ));
        assert!(!selects_werkzoekende(
            &q(json!({"werktijden.aantalWerkurenPerWeekMaximaal": {"$gte": 25}})),
            &doc
        ));
        assert!(selects_werkzoekende(
            &q(json!({"datumAanvangBeschikbaarVoorWerk": {"$lte": "2027-03-01"}})),
            &doc
        ));
        assert!(!selects_werkzoekende(
            &q(json!({"datumAanvangBeschikbaarVoorWerk": {"$lte": "2027-02-28"}})),
            &doc
        ));
        assert!(!selects_werkzoekende(
            &q(
                json!({"arbeidsmarktkwalificatie.rijbewijs": {"$all": [{"$elemMatch": {"codeSoortRijbewijs": {"$eq": "C"}}}]}})
            ),
            &doc
        ));
        assert!(selects_werkzoekende(
            &q(
                json!({"arbeidsmarktkwalificatie.taalbeheersing": {"$all": [{"$elemMatch": {"codeTaal": {"$eq": "nld"}, "codeNiveauTaalbeheersingMondeling": {"$gte": 3}}}]}})
            ),
            &doc
        ));
        // unknown criteria are ignored
        assert!(selects_werkzoekende(
            &q(json!({"lievelingskleur": {"$eq": "blauw"}})),
            &doc
        ));
        // Utrecht to Amersfoort is about 20 km
        let d = distance_km("3511AA", "3811AA").unwrap();
        assert!((15.0..25.0).contains(&d), "{d}");
    }
}
