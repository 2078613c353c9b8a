//! The match attributes of a record: what the selection engine needs, extracted from the document
//! when it is stored (so the engine never parses documents).
use serde_json::Value;
use vum::Kind;

/// A record's match attributes (codes as the standard gives them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attrs {
    /// the PC4 area: vacature: adres.postcode; werkzoekende: mobiliteit.bemiddelingspostcode
    pub pc4: Option<i64>,
    /// werkzoekende: mobiliteit.maximaleReisafstand
    pub max_reis: Option<i64>,
    /// werktijden.aantalWerkurenPerWeekMinimaal
    pub uren_min: Option<i64>,
    /// werktijden.aantalWerkurenPerWeekMaximaal
    pub uren_max: Option<i64>,
    /// werktijden.indicatieKantoortijden
    pub kantoor: Option<i64>,
    /// flexibiliteit.indicatieOnregelmatigWerkOfPloegendienst
    pub onregelmatig: Option<i64>,
    /// werkzoekende: datumAanvangBeschikbaarVoorWerk; vacature: arbeidsVoorwaarden.datumAanvangWerkzaamheden
    pub datum: Option<String>,
    /// vacature: codeWerkEnDenkniveauMinimaal
    pub niveau: Option<String>,
    /// codeBeroepsnaam: vacature: beroep; werkzoekende: each bemiddelingsberoep
    pub beroepen: Vec<String>,
    /// codeSoortRijbewijs of each rijbewijs
    pub rijbewijzen: Vec<String>,
    /// (codeTaal, mondeling, schriftelijk)
    pub talen: Vec<(String, Option<i64>, Option<i64>)>,
    /// codeTypeArbeidscontract of each contractvorm
    pub contracten: Vec<String>,
    /// werkzoekende: 1 when arbeidsmarktkwalificatie.opleiding lists an education (a
    /// completeness measure of the transparency figures; not a selection criterion)
    pub opleiding: Option<i64>,
}

fn s<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))?
        .as_str()
        .filter(|s| !s.is_empty())
}
fn i(v: &Value, path: &[&str]) -> Option<i64> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_i64()
}
fn list<'a>(v: &'a Value, path: &[&str]) -> impl Iterator<Item = &'a Value> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn pc4_of(postcode: Option<&str>) -> Option<i64> {
    let p = postcode?;
    let d = p.get(..4)?;
    d.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| d.parse().ok())?
}

impl Attrs {
    /// The match attributes of a document of `kind` (absent fields stay empty).
    pub fn extract(kind: Kind, doc: &Value) -> Attrs {
        let mut a = Attrs::default();
        // a vacancy lists licences and languages at the top; a jobseeker under arbeidsmarktkwalificatie
        let (rb_path, taal_path): (&[&str], &[&str]) = match kind {
            Kind::Vacature => (&["rijbewijs"], &["taalbeheersing"]),
            _ => (
                &["arbeidsmarktkwalificatie", "rijbewijs"],
                &["arbeidsmarktkwalificatie", "taalbeheersing"],
            ),
        };
        a.uren_min = i(doc, &["werktijden", "aantalWerkurenPerWeekMinimaal"]);
        a.uren_max = i(doc, &["werktijden", "aantalWerkurenPerWeekMaximaal"]);
        a.kantoor = i(doc, &["werktijden", "indicatieKantoortijden"]);
        a.onregelmatig = i(
            doc,
            &["flexibiliteit", "indicatieOnregelmatigWerkOfPloegendienst"],
        );
        for r in list(doc, rb_path) {
            if let Some(c) = s(r, &["codeSoortRijbewijs"]) {
                a.rijbewijzen.push(c.to_string());
            }
        }
        for t in list(doc, taal_path) {
            if let Some(c) = s(t, &["codeTaal"]) {
                a.talen.push((
                    c.to_string(),
                    i(t, &["codeNiveauTaalbeheersingMondeling"]),
                    i(t, &["codeNiveauTaalbeheersingSchriftelijk"]),
                ));
            }
        }
        for c in list(doc, &["contractvorm"]) {
            if let Some(x) = s(c, &["codeTypeArbeidscontract"]) {
                a.contracten.push(x.to_string());
            }
        }
        match kind {
            Kind::Vacature => {
                a.pc4 = pc4_of(s(doc, &["adres", "postcode"]));
                a.datum = s(doc, &["arbeidsVoorwaarden", "datumAanvangWerkzaamheden"])
                    .map(str::to_string);
                a.niveau = s(doc, &["codeWerkEnDenkniveauMinimaal"]).map(str::to_string);
                a.beroepen
                    .extend(s(doc, &["beroep", "codeBeroepsnaam"]).map(str::to_string));
            }
            _ => {
                a.pc4 = pc4_of(s(doc, &["mobiliteit", "bemiddelingspostcode"]));
                a.max_reis = i(doc, &["mobiliteit", "maximaleReisafstand"]);
                a.opleiding = list(doc, &["arbeidsmarktkwalificatie", "opleiding"])
                    .next()
                    .map(|_| 1);
                a.datum = s(doc, &["flexibiliteit", "datumAanvangBeschikbaarVoorWerk"])
                    .map(str::to_string);
                for b in list(doc, &["bemiddelingsberoep"]) {
                    if let Some(c) = s(b, &["codeBeroepsnaam"]) {
                        a.beroepen.push(c.to_string());
                    }
                }
            }
        }
        a
    }

    pub(crate) fn join(v: &[String]) -> Option<String> {
        (!v.is_empty()).then(|| v.join("\n"))
    }

    pub(crate) fn join_talen(v: &[(String, Option<i64>, Option<i64>)]) -> Option<String> {
        let f = |x: &Option<i64>| x.map(|n| n.to_string()).unwrap_or_default();
        (!v.is_empty()).then(|| {
            v.iter()
                .map(|(t, m, s)| format!("{t}:{}:{}", f(m), f(s)))
                .collect::<Vec<_>>()
                .join("\n")
        })
    }

    pub(crate) fn split(v: Option<String>) -> Vec<String> {
        v.map(|s| s.split('\n').map(str::to_string).collect())
            .unwrap_or_default()
    }

    pub(crate) fn split_talen(v: Option<String>) -> Vec<(String, Option<i64>, Option<i64>)> {
        Self::split(v)
            .into_iter()
            .filter_map(|t| {
                let mut p = t.split(':');
                Some((
                    p.next()?.to_string(),
                    p.next().and_then(|x| x.parse().ok()),
                    p.next().and_then(|x| x.parse().ok()),
                ))
            })
            .collect()
    }
}
