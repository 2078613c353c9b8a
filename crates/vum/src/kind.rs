//! The kinds of document the standard defines, and where each starts in `schemas/`.
use std::fmt;
use std::str::FromStr;

/// The two schema families: one per pair of contracts (Bron + Bemiddelaar).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// Jobseekers (`vum-werkzoekenden.schema.json`).
    Werkzoekenden,
    /// Vacancies (`vum-vacatures.schema.json`).
    Vacatures,
}

impl Family {
    /// The family's name as used in rule ids and file names (`werkzoekenden`, `vacatures`).
    pub fn name(self) -> &'static str {
        match self {
            Family::Werkzoekenden => "werkzoekenden",
            Family::Vacatures => "vacatures",
        }
    }
    pub(crate) fn schema_text(self) -> &'static str {
        match self {
            Family::Werkzoekenden => include_str!("../../../schemas/vum-werkzoekenden.schema.json"),
            Family::Vacatures => include_str!("../../../schemas/vum-vacatures.schema.json"),
        }
    }

    /// The `$id` URL of the family's schema file.
    pub fn schema_id(self) -> String {
        format!(
            "https://schemas.matchgate.nl/vum/3.0.0/vum-{}.schema.json",
            self.name()
        )
    }
}

/// A document kind: the entry point of a validation (`x-kinds` in each schema file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Detail profile of a jobseeker (`Werkzoekende`).
    Werkzoekende,
    /// Match profile as a source returns it (`MPWerkzoekendeMatch`, with `idWerkzoekende`).
    WerkzoekendeMatch,
    /// Selection request body (`{"vraagObject": MPWerkzoekende}`).
    WerkzoekendeVraag,
    /// A source's selection response.
    WerkzoekendeMatches,
    /// The exchange's selection response (matches carry `vumID`).
    WerkzoekendeMatchesVum,
    /// The exchange's detail response (`{bronID, werkzoekende}`).
    WerkzoekendeDetailVum,
    /// Detail document of a vacancy (`Vacature`).
    Vacature,
    /// Match profile as a source returns it (`MPVacatureMatch`).
    VacatureMatch,
    /// Selection request body (`{"vraagObject": MPVacature}`).
    VacatureVraag,
    /// A source's selection response.
    VacatureMatches,
    /// The exchange's selection response (matches carry `vumID`).
    VacatureMatchesVum,
    /// The exchange's detail response (`{bronID, vacature}`).
    VacatureDetailVum,
}

impl Kind {
    /// Every kind, werkzoekenden first, in declaration order.
    pub const ALL: [Kind; 12] = [
        Kind::Werkzoekende,
        Kind::WerkzoekendeMatch,
        Kind::WerkzoekendeVraag,
        Kind::WerkzoekendeMatches,
        Kind::WerkzoekendeMatchesVum,
        Kind::WerkzoekendeDetailVum,
        Kind::Vacature,
        Kind::VacatureMatch,
        Kind::VacatureVraag,
        Kind::VacatureMatches,
        Kind::VacatureMatchesVum,
        Kind::VacatureDetailVum,
    ];

    /// The kind's name as accepted by [`str::parse`] and shown by `Display` (`werkzoekende-vraag`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Werkzoekende => "werkzoekende",
            Kind::WerkzoekendeMatch => "werkzoekende-match",
            Kind::WerkzoekendeVraag => "werkzoekende-vraag",
            Kind::WerkzoekendeMatches => "werkzoekende-matches",
            Kind::WerkzoekendeMatchesVum => "werkzoekende-matches-vum",
            Kind::WerkzoekendeDetailVum => "werkzoekende-detail-vum",
            Kind::Vacature => "vacature",
            Kind::VacatureMatch => "vacature-match",
            Kind::VacatureVraag => "vacature-vraag",
            Kind::VacatureMatches => "vacature-matches",
            Kind::VacatureMatchesVum => "vacature-matches-vum",
            Kind::VacatureDetailVum => "vacature-detail-vum",
        }
    }

    /// The schema family this kind belongs to.
    pub fn family(self) -> Family {
        if (self as u8) < (Kind::Vacature as u8) {
            Family::Werkzoekenden
        } else {
            Family::Vacatures
        }
    }

    /// The `$defs` entry this kind validates against.
    pub fn root_def(self) -> &'static str {
        match self {
            Kind::Werkzoekende => "Werkzoekende",
            Kind::WerkzoekendeMatch => "MPWerkzoekendeMatch",
            Kind::WerkzoekendeVraag => "WerkzoekendeProfielMatchesRequest",
            Kind::WerkzoekendeMatches => "WerkzoekendeProfielMatchesBronResponse",
            Kind::WerkzoekendeMatchesVum => "WerkzoekendeProfielMatchesResponse",
            Kind::WerkzoekendeDetailVum => "WerkzoekendeDetailResponse",
            Kind::Vacature => "Vacature",
            Kind::VacatureMatch => "MPVacatureMatch",
            Kind::VacatureVraag => "VacatureMatchesRequest",
            Kind::VacatureMatches => "VacaturesMatchesBronResponse",
            Kind::VacatureMatchesVum => "VacaturesMatchesResponse",
            Kind::VacatureDetailVum => "VacatureDetailResponse",
        }
    }

    /// True for the selection requests (`werkzoekende-vraag`, `vacature-vraag`).
    pub fn is_query(self) -> bool {
        matches!(self, Kind::WerkzoekendeVraag | Kind::VacatureVraag)
    }

    /// Guess the kind of a document from its property names. Match profiles as a source returns
    /// them look like small detail documents, so that kind is only chosen explicitly; a selection
    /// request that uses only `selectiegebied` fits both families and is not guessed either.
    pub fn detect(doc: &serde_json::Value) -> Option<Kind> {
        let obj = doc.as_object()?;
        let has = |k: &str| obj.contains_key(k);
        if has("idWerkzoekende") {
            return Some(Kind::Werkzoekende);
        }
        if has("idVacature") {
            return Some(Kind::Vacature);
        }
        if has("werkzoekende") {
            return Some(Kind::WerkzoekendeDetailVum);
        }
        if has("vacature") {
            return Some(Kind::VacatureDetailVum);
        }
        if has("matches") {
            let vum = has("vraagID");
            let first = obj["matches"].as_array()?.first()?.as_object()?;
            let vacature = first.contains_key("adres") || first.contains_key("idVacature");
            return Some(match (vacature, vum) {
                (false, false) => Kind::WerkzoekendeMatches,
                (false, true) => Kind::WerkzoekendeMatchesVum,
                (true, false) => Kind::VacatureMatches,
                (true, true) => Kind::VacatureMatchesVum,
            });
        }
        if let Some(q) = obj.get("vraagObject").and_then(|q| q.as_object()) {
            const W: [&str; 6] = [
                "bemiddelingsberoep",
                "contractvorm",
                "arbeidsmarktkwalificatie.rijbewijs",
                "arbeidsmarktkwalificatie.taalbeheersing",
                "datumAanvangBeschikbaarVoorWerk",
                "werktijden.indicatieKantoortijden",
            ];
            const V: [&str; 5] = [
                "beroep.codeBeroepsnaam",
                "codeWerkEnDenkniveauMinimaal",
                "datumAanvangWerkzaamheden",
                "rijbewijs",
                "taalbeheersing",
            ];
            let w = W.iter().any(|k| q.contains_key(*k));
            let v = V.iter().any(|k| q.contains_key(*k));
            return match (w, v) {
                (true, false) => Some(Kind::WerkzoekendeVraag),
                (false, true) => Some(Kind::VacatureVraag),
                _ => None,
            };
        }
        None
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
                format!("unknown kind '{s}'; expected one of: {}", names.join(", "))
            })
    }
}

/// The property that holds a record's id in a document of this kind's family (`idWerkzoekende`,
/// `idVacature`).
pub fn record_id_property(kind: Kind) -> &'static str {
    match kind.family() {
        Family::Werkzoekenden => "idWerkzoekende",
        Family::Vacatures => "idVacature",
    }
}

/// The selection request (`*-vraag`) that asks for documents of this kind's family.
pub fn query_kind(kind: Kind) -> Kind {
    match kind.family() {
        Family::Werkzoekenden => Kind::WerkzoekendeVraag,
        Family::Vacatures => Kind::VacatureVraag,
    }
}
