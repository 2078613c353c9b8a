//! Rules beyond the JSON Schemas: what the data standard states in prose (errors) and the
//! plausibility checks a mediator wants to know about (warnings). Each has a stable id; the
//! catalogue below is what `matchgate rules` prints and what the conformance vectors must cover.
use crate::finding::Severity;
use crate::kind::Family;
use crate::refdata;

/// A rule that is not a schema keyword.
#[derive(Debug, Clone, Copy)]
pub struct RuleInfo {
    /// The stable rule id findings carry (`prose/...`, `plausibility/...`, `json/...`).
    pub id: &'static str,
    /// Whether a finding of this rule rejects the document.
    pub severity: Severity,
    /// What the rule checks, in one sentence.
    pub description: &'static str,
    /// where the standard says so
    pub source: &'static str,
}

/// A postcode follows NEN 5825 (1000-9999, letters not SA, SD or SS).
pub const POSTCODE_NEN5825: &str = "prose/postcode-nen5825";
/// `codeTaal` is an ISO 639-3 code.
pub const TAALCODE_ISO639_3: &str = "prose/taalcode-iso639-3";
/// A sign language has only an oral (mondeling) level.
pub const GEBARENTAAL: &str = "prose/gebarentaal-alleen-mondeling";
/// A telephone number has the allowed characters and 8 to 13 digits.
pub const TELEFOONNUMMER: &str = "prose/telefoonnummer";
/// Warning: a period ends before it begins.
pub const PERIODE: &str = "plausibility/periode-einde-voor-aanvang";
/// Warning: minimum hours per week above the maximum.
pub const WERKUREN: &str = "plausibility/werkuren-minimaal-boven-maximaal";
/// Warning: the postcode's PC4 area is not in the PC4 table.
pub const POSTCODE_ONBEKEND: &str = "plausibility/postcode-onbekend";
/// Warning: availability for work ended in the past.
pub const BESCHIKBAARHEID_VERLOPEN: &str = "plausibility/beschikbaarheid-verlopen";
/// Warning: the vacancy's closing date is in the past.
pub const SLUITINGSDATUM_VERSTREKEN: &str = "plausibility/sluitingsdatum-verstreken";
/// Warning: `indicatieBeschikbaarheidContactgegevens` disagrees with the contact details present.
pub const CONTACT_INDICATIE: &str = "plausibility/contactgegevens-indicatie";
/// Warning: a CompetentNL code is not an absolute URI.
pub const URI_NIET_ABSOLUUT: &str = "plausibility/uri-niet-absoluut";
/// The input is not well-formed JSON.
pub const JSON_SYNTAX: &str = "json/syntax";
/// A property name occurs twice in one object.
pub const JSON_DUPLICATE_KEY: &str = "json/duplicate-key";

/// Every rule that is not a schema keyword, with its severity, description and source.
pub const CATALOGUE: &[RuleInfo] = &[
    RuleInfo { id: JSON_SYNTAX, severity: Severity::Error, description: "the record is not well-formed JSON", source: "RFC 8259" },
    RuleInfo { id: JSON_DUPLICATE_KEY, severity: Severity::Error, description: "a property name occurs twice in one object, so receivers may read different values (the validator judges each)", source: "RFC 8259 section 4: names within an object SHOULD be unique" },
    RuleInfo { id: POSTCODE_NEN5825, severity: Severity::Error, description: "a postcode's numeric part is 1000-9999 and its letters are not SA, SD or SS", source: "waardelijsten Postcode: 'Norminstantie: NEN 5825:2002 - Postcode', format 9999AA" },
    RuleInfo { id: TAALCODE_ISO639_3, severity: Severity::Error, description: "codeTaal is a code of the ISO 639-3 list", source: "waardelijsten Taalbeheersing.Code taal: 'Drie letterige code uit de lijst van ISO 639-3 codes'" },
    RuleInfo { id: GEBARENTAAL, severity: Severity::Error, description: "for a sign language only the oral (mondeling) level applies: lezen, luisteren and schriftelijk are absent or 8 (niet van toepassing)", source: "waardelijsten entiteit Taalbeheersing: 'Voor gebarentaal is alleen mondelinge taalbeheersing van toepassing.'" },
    RuleInfo { id: TELEFOONNUMMER, severity: Severity::Error, description: "a telephone number holds only digits, spaces, '+', '-', '(' and ')', with '+' only in front, and 8 to 13 digits", source: "waardelijsten Telefoonnummer: 'Conform conventies telefoonnummers', 'Betreft Nederlandse telefoonnummers'" },
    RuleInfo { id: PERIODE, severity: Severity::Warning, description: "a period ends before it begins", source: "plausibility" },
    RuleInfo { id: WERKUREN, severity: Severity::Warning, description: "minimum hours per week above the maximum", source: "plausibility" },
    RuleInfo { id: POSTCODE_ONBEKEND, severity: Severity::Warning, description: "the postcode's PC4 area is not in the PC4 table, so distance selection cannot place it", source: "plausibility (data/postcodes-pc4.csv)" },
    RuleInfo { id: BESCHIKBAARHEID_VERLOPEN, severity: Severity::Warning, description: "availability for work ended in the past", source: "plausibility" },
    RuleInfo { id: SLUITINGSDATUM_VERSTREKEN, severity: Severity::Warning, description: "the vacancy's closing date is in the past", source: "plausibility" },
    RuleInfo { id: CONTACT_INDICATIE, severity: Severity::Warning, description: "indicatieBeschikbaarheidContactgegevens disagrees with the contact details present", source: "waardelijsten Werkzoekende.Indicatie beschikbaarheid contactgegevens" },
    RuleInfo { id: URI_NIET_ABSOLUUT, severity: Severity::Warning, description: "a CompetentNL code is not an absolute URI", source: "waardelijsten Beroep.Code beroepsnaam / Competentiebeheersing.Code competentie: 'Gevuld als URI'" },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StringHook {
    Nen5825,
    Pc4Known,
    Iso639,
    Telefoon,
    UriAbsolute,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ObjectHook {
    Periode {
        aanvang: &'static str,
        einde: &'static str,
    },
    BeschikbaarheidVerlopen,
    SluitingsdatumVerstreken,
    Werkuren,
    Gebarentaal,
    ContactIndicatie,
}

pub(crate) fn string_hooks(_family: Family, def: &str) -> Vec<StringHook> {
    match def {
        "Postcode" => vec![StringHook::Nen5825, StringHook::Pc4Known],
        "TaalCode3" => vec![StringHook::Iso639],
        "Telefoonnummer" => vec![StringHook::Telefoon],
        "URI" => vec![StringHook::UriAbsolute],
        _ => vec![],
    }
}

pub(crate) fn object_hooks(family: Family, def: &str) -> Vec<ObjectHook> {
    use ObjectHook::*;
    match (family, def) {
        (_, "Opleiding") => vec![Periode {
            aanvang: "datumAanvangVolgenOpleiding",
            einde: "datumEindeVolgenOpleiding",
        }],
        (_, "Cursus") => vec![Periode {
            aanvang: "datumAanvangVolgenCursus",
            einde: "datumEindeVolgenCursus",
        }],
        (_, "Werkervaring" | "ArbeidsVoorwaarden") => {
            vec![Periode {
                aanvang: "datumAanvangWerkzaamheden",
                einde: "datumEindeWerkzaamheden",
            }]
        }
        (_, "Flexibiliteit") => vec![
            Periode {
                aanvang: "datumAanvangBeschikbaarVoorWerk",
                einde: "datumEindeBeschikbaarVoorWerk",
            },
            BeschikbaarheidVerlopen,
        ],
        (_, "Werktijden") => vec![Werkuren],
        (_, "Taalbeheersing") => vec![Gebarentaal],
        (Family::Werkzoekenden, "Werkzoekende") => vec![ContactIndicatie],
        (Family::Vacatures, "Vacature" | "MPVacatureMatch" | "MPVacatureMatchVum") => {
            vec![SluitingsdatumVerstreken]
        }
        _ => vec![],
    }
}

const TAAL_NIET_MONDELING: [&str; 3] = [
    "codeNiveauTaalbeheersingLezen",
    "codeNiveauTaalbeheersingLuisteren",
    "codeNiveauTaalbeheersingSchriftelijk",
];

impl ObjectHook {
    /// The properties whose values the hook reads.
    pub(crate) fn captures(&self) -> Vec<&'static str> {
        match self {
            ObjectHook::Periode { aanvang, einde } => vec![aanvang, einde],
            ObjectHook::BeschikbaarheidVerlopen => vec!["datumEindeBeschikbaarVoorWerk"],
            ObjectHook::SluitingsdatumVerstreken => vec!["sluitingsdatumVacature"],
            ObjectHook::Werkuren => vec![
                "aantalWerkurenPerWeekMinimaal",
                "aantalWerkurenPerWeekMaximaal",
            ],
            ObjectHook::Gebarentaal => {
                let mut v = vec!["codeTaal"];
                v.extend(TAAL_NIET_MONDELING);
                v
            }
            ObjectHook::ContactIndicatie => vec!["indicatieBeschikbaarheidContactgegevens"],
        }
    }
}

/// A scalar value a hook reads; only valid values are captured.
#[derive(Debug, Clone)]
pub(crate) enum Scalar {
    Str(String),
    Int(i64),
}

/// What an object hook sees of its object.
pub(crate) struct Facts<'a> {
    pub names: &'a [(Box<str>, usize)],
    pub captured: &'a [(usize, Scalar)],
    pub present: u64,
}

impl Facts<'_> {
    fn index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|(n, _)| &**n == name)
    }
    fn str(&self, name: &str) -> Option<&str> {
        let i = self.index(name)?;
        self.captured
            .iter()
            .find(|(j, _)| *j == i)
            .and_then(|(_, v)| match v {
                Scalar::Str(s) => Some(s.as_str()),
                Scalar::Int(_) => None,
            })
    }
    fn int(&self, name: &str) -> Option<i64> {
        let i = self.index(name)?;
        self.captured
            .iter()
            .find(|(j, _)| *j == i)
            .and_then(|(_, v)| match v {
                Scalar::Int(n) => Some(*n),
                Scalar::Str(_) => None,
            })
    }
    fn present(&self, name: &str) -> bool {
        self.index(name)
            .is_some_and(|i| self.present & (1 << i) != 0)
    }
}

/// A finding from a hook: rule, severity, property (appended to the object's pointer), message.
pub(crate) type HookFinding = (&'static str, Severity, Option<&'static str>, String);

pub(crate) fn run_object_hook(
    hook: ObjectHook,
    facts: &Facts<'_>,
    today: &str,
    out: &mut Vec<HookFinding>,
) {
    match hook {
        ObjectHook::Periode { aanvang, einde } => {
            if let (Some(a), Some(e)) = (facts.str(aanvang), facts.str(einde)) {
                if e < a {
                    out.push((
                        PERIODE,
                        Severity::Warning,
                        Some(einde),
                        format!("{einde} {e} is before {aanvang} {a}"),
                    ));
                }
            }
        }
        ObjectHook::BeschikbaarheidVerlopen => {
            if let Some(e) = facts.str("datumEindeBeschikbaarVoorWerk") {
                if e < today {
                    out.push((
                        BESCHIKBAARHEID_VERLOPEN,
                        Severity::Warning,
                        Some("datumEindeBeschikbaarVoorWerk"),
                        format!("availability ended on {e}, before {today}"),
                    ));
                }
            }
        }
        ObjectHook::SluitingsdatumVerstreken => {
            if let Some(e) = facts.str("sluitingsdatumVacature") {
                if e < today {
                    out.push((
                        SLUITINGSDATUM_VERSTREKEN,
                        Severity::Warning,
                        Some("sluitingsdatumVacature"),
                        format!("the vacancy closed on {e}, before {today}"),
                    ));
                }
            }
        }
        ObjectHook::Werkuren => {
            if let (Some(min), Some(max)) = (
                facts.int("aantalWerkurenPerWeekMinimaal"),
                facts.int("aantalWerkurenPerWeekMaximaal"),
            ) {
                if min > max {
                    out.push((
                        WERKUREN,
                        Severity::Warning,
                        Some("aantalWerkurenPerWeekMinimaal"),
                        format!("minimum {min} hours per week is above the maximum {max}"),
                    ));
                }
            }
        }
        ObjectHook::Gebarentaal => {
            if let Some(code) = facts.str("codeTaal") {
                if refdata::is_sign_language(code) {
                    for p in TAAL_NIET_MONDELING {
                        if let Some(level) = facts.int(p) {
                            if level != 8 {
                                out.push((GEBARENTAAL, Severity::Error, Some(p), format!("{code} is a sign language: only the oral level applies, so {p} must be absent or 8, not {level}")));
                            }
                        }
                    }
                }
            }
        }
        ObjectHook::ContactIndicatie => {
            let any = ["emailadres", "telefoonnummer", "contactpersoon"]
                .iter()
                .any(|p| facts.present(p));
            match facts.int("indicatieBeschikbaarheidContactgegevens") {
                Some(2) if any => out.push((
                    CONTACT_INDICATIE,
                    Severity::Warning,
                    Some("indicatieBeschikbaarheidContactgegevens"),
                    "says no contact details (2) but the profile has some".into(),
                )),
                Some(1) if !any => out.push((
                    CONTACT_INDICATIE,
                    Severity::Warning,
                    Some("indicatieBeschikbaarheidContactgegevens"),
                    "says contact details are present (1) but the profile has none".into(),
                )),
                _ => {}
            }
        }
    }
}

pub(crate) fn run_string_hook(hook: StringHook, s: &str, out: &mut Vec<HookFinding>) {
    match hook {
        StringHook::Nen5825 => {
            // only judged once the contract pattern (4 digits, 2 letters) holds
            let b = s.as_bytes();
            if b.len() == 6
                && b[..4].iter().all(u8::is_ascii_digit)
                && b[4..].iter().all(u8::is_ascii_alphabetic)
            {
                let letters = s[4..].to_ascii_uppercase();
                if b[0] == b'0' {
                    out.push((
                        POSTCODE_NEN5825,
                        Severity::Error,
                        None,
                        format!("postcode {s}: the numeric part starts at 1000"),
                    ));
                } else if matches!(letters.as_str(), "SA" | "SD" | "SS") {
                    out.push((
                        POSTCODE_NEN5825,
                        Severity::Error,
                        None,
                        format!("postcode {s}: the letter combination {letters} is not issued"),
                    ));
                }
            }
        }
        StringHook::Pc4Known => {
            let b = s.as_bytes();
            if b.len() >= 4
                && b[..4].iter().all(u8::is_ascii_digit)
                && b[0] != b'0'
                && refdata::pc4_point(s).is_none()
            {
                out.push((
                    POSTCODE_ONBEKEND,
                    Severity::Warning,
                    None,
                    format!(
                        "PC4 area {} of postcode {s} is not in the PC4 table",
                        &s[..4]
                    ),
                ));
            }
        }
        StringHook::Iso639 => {
            if s.len() == 3 && s.bytes().all(|c| c.is_ascii_lowercase()) && !refdata::is_iso639_3(s)
            {
                out.push((
                    TAALCODE_ISO639_3,
                    Severity::Error,
                    None,
                    format!("'{s}' is not an ISO 639-3 language code"),
                ));
            }
        }
        StringHook::Telefoon => {
            let digits = s.bytes().filter(u8::is_ascii_digit).count();
            let bad = s.char_indices().find(|&(i, c)| {
                !(c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')') || (c == '+' && i == 0))
            });
            if let Some((_, c)) = bad {
                out.push((
                    TELEFOONNUMMER,
                    Severity::Error,
                    None,
                    format!("telephone number contains '{c}'"),
                ));
            } else if !(8..=13).contains(&digits) {
                out.push((
                    TELEFOONNUMMER,
                    Severity::Error,
                    None,
                    format!("telephone number has {digits} digits, expected 8 to 13"),
                ));
            }
        }
        StringHook::UriAbsolute => {
            if fluent_uri::Uri::parse(s).is_err() && fluent_uri::UriRef::parse(s).is_ok() {
                out.push((
                    URI_NIET_ABSOLUUT,
                    Severity::Warning,
                    None,
                    format!("'{s}' is not an absolute URI (CompetentNL codes are URIs)"),
                ));
            }
        }
    }
}
