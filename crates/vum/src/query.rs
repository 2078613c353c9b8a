//! Selection queries (`vraagObject`): the VUM subset of the MongoDB query language plus
//! `selectiegebied`, parsed into a typed [`Selectie`]. The schema check runs first (see
//! [`crate::Validator::validate_value`]); this module gives the criteria their meaning. Criteria and
//! operators the standard does not define are accepted and listed in [`Selectie::ignored`]
//! (koppelvlak README: "Niet-beschreven combinaties ... hebben geen effect").
use crate::finding::{Finding, Severity};
use crate::jsonschema_check::drop_empty;
use crate::kind::Family;
use crate::refdata;
use serde_json::{Map, Value};

/// The area a selection covers: records whose postcode lies within `afstand` km of `postcode`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selectiegebied {
    /// The centre's postcode (`selectiegebied.postcode`); its PC4 area is in the PC4 table.
    pub postcode: String,
    /// The radius in km (`selectiegebied.afstand`), capped at `u16::MAX`.
    pub afstand: u16,
}

/// A language requirement inside `taalbeheersing: {$all: [{$elemMatch: ...}]}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaalEis {
    /// The language (`codeTaal` `$eq`); never empty.
    pub code_taal: String,
    /// The least oral level (`codeNiveauTaalbeheersingMondeling` `$gte`), if asked.
    pub mondeling_minimaal: Option<i64>,
    /// The least written level (`codeNiveauTaalbeheersingSchriftelijk` `$gte`), if asked.
    pub schriftelijk_minimaal: Option<i64>,
}

/// One understood criterion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Criterium {
    /// werkzoekenden: any `bemiddelingsberoep` has one of these `codeBeroepsnaam`s
    Bemiddelingsberoep(Vec<String>),
    /// werkzoekenden: any `contractvorm` has one of these `codeTypeArbeidscontract`s
    Contractvorm(Vec<String>),
    /// `flexibiliteit.indicatieOnregelmatigWerkOfPloegendienst` equals
    OnregelmatigWerk(i64),
    /// every listed driving licence is held (`$all`)
    Rijbewijzen(Vec<String>),
    /// every listed language requirement is met (`$all`)
    Taalbeheersing(Vec<TaalEis>),
    /// werkzoekenden: `datumAanvangBeschikbaarVoorWerk <= date`
    BeschikbaarUiterlijk(String),
    /// `werktijden.indicatieKantoortijden` equals
    Kantoortijden(i64),
    /// `werktijden.aantalWerkurenPerWeekMaximaal >= n` (hours ranges match by overlap)
    UrenMaximaalMinstens(i64),
    /// `werktijden.aantalWerkurenPerWeekMinimaal <= n`
    UrenMinimaalHoogstens(i64),
    /// vacatures: `beroep.codeBeroepsnaam` equals
    Beroep(String),
    /// vacatures: `codeWerkEnDenkniveauMinimaal` in `[gte, lt)`, or equal to "7"
    WerkEnDenkniveau {
        /// The `$gte` bound (inclusive), if given.
        gte: Option<String>,
        /// The `$lt` bound (exclusive), if given.
        lt: Option<String>,
        /// The `$eq` value, if given.
        eq: Option<String>,
    },
    /// vacatures: `arbeidsVoorwaarden.datumAanvangWerkzaamheden >= date`
    AanvangWerkzaamhedenVanaf(String),
}

/// A criterion or operator that is accepted but has no effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignored {
    /// JSON pointer to the ignored criterion or operator in the request.
    pub pointer: String,
    /// Why it has no effect.
    pub reason: String,
}

/// A parsed selection query: the area, the understood criteria and what was ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selectie {
    /// The family the query selects from.
    pub family: Family,
    /// The required area (`selectiegebied`).
    pub selectiegebied: Selectiegebied,
    /// The understood criteria, in the order of the request's keys.
    pub criteria: Vec<Criterium>,
    /// The criteria and operators that were accepted but have no effect.
    pub ignored: Vec<Ignored>,
}

/// Why a (schema-valid) query cannot be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pointer}: {message} [{rule}]")]
pub struct QueryError {
    /// The rule id ([`SELECTIEGEBIED_ONBEKEND`] or [`QUERY_SHAPE`]).
    pub rule: &'static str,
    /// JSON pointer to the offending part of the request.
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

/// Rule id: the selectiegebied postcode's PC4 area is not in the PC4 table.
pub const SELECTIEGEBIED_ONBEKEND: &str = "query/selectiegebied-postcode-onbekend";
/// Rule id: the query is not shaped so that it can be evaluated (e.g. no selectiegebied).
pub const QUERY_SHAPE: &str = "query/vorm";
/// Rule id (warning): a criterion or operator was accepted but has no effect.
pub const CRITERIUM_GENEGEERD: &str = "query/criterium-genegeerd";

/// The rules a selection query can break beyond its schema.
pub const RULES: &[crate::rules::RuleInfo] = &[
    crate::rules::RuleInfo { id: CRITERIUM_GENEGEERD, severity: Severity::Warning, description: "a criterion or operator this version does not define is accepted and has no effect", source: "koppelvlak README / releasenotes: onbekende criteria worden genegeerd" },
    crate::rules::RuleInfo { id: SELECTIEGEBIED_ONBEKEND, severity: Severity::Error, description: "the selectiegebied postcode's PC4 area is not in the PC4 table, so no distance can be computed", source: "BRIEF: selectiegebied matches by distance between PC4 centroids" },
];

impl QueryError {
    /// The error as an error-severity [`Finding`] with the same rule, pointer and message.
    pub fn into_finding(self) -> Finding {
        Finding {
            rule: self.rule.to_string(),
            severity: Severity::Error,
            pointer: self.pointer,
            message: self.message,
        }
    }
}

struct Parser {
    ignored: Vec<Ignored>,
}

fn shape(pointer: &str, message: impl Into<String>) -> QueryError {
    QueryError {
        rule: QUERY_SHAPE,
        pointer: pointer.to_string(),
        message: message.into(),
    }
}

impl Parser {
    fn ignore(&mut self, pointer: String, reason: impl Into<String>) {
        self.ignored.push(Ignored {
            pointer,
            reason: reason.into(),
        });
    }

    /// Take the operators of an operator object; every other key is ignored.
    fn ops<'v>(
        &mut self,
        v: &'v Value,
        ptr: &str,
        known: &[&str],
    ) -> Result<Vec<(&'v str, &'v Value)>, QueryError> {
        let o = v
            .as_object()
            .ok_or_else(|| shape(ptr, "expected an operator object"))?;
        let mut out = Vec::new();
        for (k, x) in o {
            if known.contains(&k.as_str()) {
                out.push((k.as_str(), x));
            } else {
                self.ignore(
                    format!("{ptr}/{}", esc(k)),
                    format!("operator '{k}' is not defined for this criterion"),
                );
            }
        }
        Ok(out)
    }

    fn eq_str(&mut self, v: &Value, ptr: &str) -> Result<Option<String>, QueryError> {
        Ok(self
            .ops(v, ptr, &["$eq"])?
            .first()
            .and_then(|(_, x)| x.as_str())
            .map(str::to_string))
    }

    fn int_op(&mut self, v: &Value, ptr: &str, op: &str) -> Result<Option<i64>, QueryError> {
        Ok(self
            .ops(v, ptr, &[op])?
            .first()
            .and_then(|(_, x)| x.as_i64()))
    }

    /// `{$elemMatch: {$or: [{<field>: {$eq: x}}, ...]}}` -> the x's
    fn elem_match_or(
        &mut self,
        v: &Value,
        ptr: &str,
        field: &str,
    ) -> Result<Vec<String>, QueryError> {
        let mut out = Vec::new();
        for (_, em) in self.ops(v, ptr, &["$elemMatch"])? {
            let p = format!("{ptr}/$elemMatch");
            for (_, alts) in self.ops(em, &p, &["$or"])? {
                for (i, alt) in alts.as_array().into_iter().flatten().enumerate() {
                    let pa = format!("{p}/$or/{i}");
                    let Some(alt) = alt.as_object() else { continue };
                    for (k, x) in alt {
                        if k == field {
                            if let Some(s) = self.eq_str(x, &format!("{pa}/{}", esc(k)))? {
                                out.push(s);
                            }
                        } else {
                            self.ignore(
                                format!("{pa}/{}", esc(k)),
                                format!("'{k}' is not a criterion here"),
                            );
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// `{$all: [{$elemMatch: {...}}, ...]}` -> the inner objects
    fn all_elem_match<'v>(
        &mut self,
        v: &'v Value,
        ptr: &str,
    ) -> Result<ElemMatches<'v>, QueryError> {
        let mut out = Vec::new();
        for (_, all) in self.ops(v, ptr, &["$all"])? {
            for (i, item) in all.as_array().into_iter().flatten().enumerate() {
                let pi = format!("{ptr}/$all/{i}");
                for (_, em) in self.ops(item, &pi, &["$elemMatch"])? {
                    if let Some(o) = em.as_object() {
                        out.push((format!("{pi}/$elemMatch"), o));
                    }
                }
            }
        }
        Ok(out)
    }
}

/// The inner objects of `{$all: [{$elemMatch: {...}}, ...]}`, each with its pointer.
type ElemMatches<'v> = Vec<(String, &'v Map<String, Value>)>;

fn esc(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

impl Selectie {
    /// Parse a selection request body `{"vraagObject": {...}}` that passed the schema check.
    pub fn from_request(family: Family, request: &Value) -> Result<Selectie, QueryError> {
        let q = request
            .get("vraagObject")
            .ok_or_else(|| shape("", "missing vraagObject"))?;
        let Some(q) = drop_empty(q.clone()) else {
            return Err(shape(
                "/vraagObject",
                "vraagObject is empty (VUM counts empty values as absent): a selection needs at \
                 least selectiegebied with postcode and afstand",
            ));
        };
        Self::from_vraag_object(family, &q, "/vraagObject")
    }

    /// Parse the `vraagObject` itself: the required `selectiegebied` first, then each other key
    /// as a criterion of `family` (kept, or listed in [`Selectie::ignored`]).
    pub fn from_vraag_object(
        family: Family,
        q: &Value,
        base: &str,
    ) -> Result<Selectie, QueryError> {
        let o = q
            .as_object()
            .ok_or_else(|| shape(base, "vraagObject must be an object"))?;
        let selectiegebied = selectiegebied(o, base)?;
        let mut p = Parser {
            ignored: Vec::new(),
        };
        let mut criteria = Vec::new();
        for (k, v) in o {
            if k == "selectiegebied" {
                continue;
            }
            let ptr = format!("{base}/{}", esc(k));
            match p.criterium(family, k, v, &ptr)? {
                Key::Criterium(c) => p.keep(c, ptr, &mut criteria),
                Key::Unknown => p.ignore(
                    ptr,
                    format!(
                        "'{k}' is not a selection criterion of VUM 3.0.0 {}",
                        family.name()
                    ),
                ),
            }
        }
        Ok(Selectie {
            family,
            selectiegebied,
            criteria,
            ignored: p.ignored,
        })
    }
}

/// The required `selectiegebied`: a postcode whose PC4 area is known, and a distance.
fn selectiegebied(o: &Map<String, Value>, base: &str) -> Result<Selectiegebied, QueryError> {
    let gebied = o
        .get("selectiegebied")
        .ok_or_else(|| shape(base, "selectiegebied is required"))?;
    let gp = format!("{base}/selectiegebied");
    let postcode = gebied
        .get("postcode")
        .and_then(Value::as_str)
        .ok_or_else(|| shape(&gp, "selectiegebied.postcode is required"))?;
    let afstand = gebied
        .get("afstand")
        .and_then(Value::as_u64)
        .ok_or_else(|| shape(&gp, "selectiegebied.afstand is required"))?;
    if refdata::pc4_point(postcode).is_none() {
        return Err(QueryError {
            rule: SELECTIEGEBIED_ONBEKEND,
            pointer: format!("{gp}/postcode"),
            message: format!(
                "postcode {postcode}: PC4 area not in the PC4 table, so no distance can be computed"
            ),
        });
    }
    Ok(Selectiegebied {
        postcode: postcode.to_string(),
        afstand: afstand.min(u64::from(u16::MAX)) as u16,
    })
}

/// What one key of a `vraagObject` (other than `selectiegebied`) turned out to be.
enum Key {
    /// A criterion of the family; `None` when it uses no operator this version defines.
    Criterium(Option<Criterium>),
    /// Not a selection criterion of the family.
    Unknown,
}

impl Parser {
    /// Read the criterion `k` with value `v` (at `ptr`) as `family` defines it.
    fn criterium(
        &mut self,
        family: Family,
        k: &str,
        v: &Value,
        ptr: &str,
    ) -> Result<Key, QueryError> {
        let c = match (family, k) {
            (Family::Werkzoekenden, "bemiddelingsberoep") => Some(Criterium::Bemiddelingsberoep(
                self.elem_match_or(v, ptr, "beroep.codeBeroepsnaam")?,
            )),
            (Family::Werkzoekenden, "contractvorm") => {
                Some(Criterium::Contractvorm(self.contractvormen(v, ptr)?))
            }
            (_, "flexibiliteit.indicatieOnregelmatigWerkOfPloegendienst") => {
                self.int_op(v, ptr, "$eq")?.map(Criterium::OnregelmatigWerk)
            }
            (Family::Werkzoekenden, "arbeidsmarktkwalificatie.rijbewijs")
            | (Family::Vacatures, "rijbewijs") => {
                Some(Criterium::Rijbewijzen(self.rijbewijzen(v, ptr)?))
            }
            (Family::Werkzoekenden, "arbeidsmarktkwalificatie.taalbeheersing")
            | (Family::Vacatures, "taalbeheersing") => {
                Some(Criterium::Taalbeheersing(self.taaleisen(v, ptr)?))
            }
            (Family::Werkzoekenden, "datumAanvangBeschikbaarVoorWerk") => self
                .ops(v, ptr, &["$lte"])?
                .first()
                .and_then(|(_, x)| x.as_str())
                .map(|d| Criterium::BeschikbaarUiterlijk(d.to_string())),
            (Family::Werkzoekenden, "werktijden.indicatieKantoortijden") => {
                self.int_op(v, ptr, "$eq")?.map(Criterium::Kantoortijden)
            }
            (_, "werktijden.aantalWerkurenPerWeekMaximaal") => self
                .int_op(v, ptr, "$gte")?
                .map(Criterium::UrenMaximaalMinstens),
            (_, "werktijden.aantalWerkurenPerWeekMinimaal") => self
                .int_op(v, ptr, "$lte")?
                .map(Criterium::UrenMinimaalHoogstens),
            (Family::Vacatures, "beroep.codeBeroepsnaam") => {
                self.eq_str(v, ptr)?.map(Criterium::Beroep)
            }
            (Family::Vacatures, "codeWerkEnDenkniveauMinimaal") => {
                Some(self.werk_en_denkniveau(v, ptr)?)
            }
            (Family::Vacatures, "datumAanvangWerkzaamheden") => self
                .ops(v, ptr, &["$gte"])?
                .first()
                .and_then(|(_, x)| x.as_str())
                .map(|d| Criterium::AanvangWerkzaamhedenVanaf(d.to_string())),
            _ => return Ok(Key::Unknown),
        };
        Ok(Key::Criterium(c))
    }

    /// Keep a criterion that selects something; a list criterion without values or one without a
    /// defined operator is listed as ignored at `ptr` instead.
    fn keep(&mut self, c: Option<Criterium>, ptr: String, criteria: &mut Vec<Criterium>) {
        match c {
            Some(
                Criterium::Bemiddelingsberoep(v)
                | Criterium::Contractvorm(v)
                | Criterium::Rijbewijzen(v),
            ) if v.is_empty() => {
                self.ignore(ptr, "criterion has no values");
            }
            Some(Criterium::Taalbeheersing(v)) if v.is_empty() => {
                self.ignore(ptr, "criterion has no values")
            }
            Some(c) => criteria.push(c),
            None => self.ignore(ptr, "criterion has no operator this version defines"),
        }
    }

    /// `contractvorm: {$elemMatch: {$or: [{codeTypeArbeidscontract: {$eq: x}}, ...]}}` -> the x's
    /// (other keys of an alternative are skipped without a note).
    fn contractvormen(&mut self, v: &Value, ptr: &str) -> Result<Vec<String>, QueryError> {
        let mut codes = Vec::new();
        for (_, em) in self.ops(v, ptr, &["$elemMatch"])? {
            let pe = format!("{ptr}/$elemMatch");
            for (_, alts) in self.ops(em, &pe, &["$or"])? {
                for (i, alt) in alts.as_array().into_iter().flatten().enumerate() {
                    if let Some(x) = alt.get("codeTypeArbeidscontract") {
                        if let Some(s) =
                            self.eq_str(x, &format!("{pe}/$or/{i}/codeTypeArbeidscontract"))?
                        {
                            codes.push(s);
                        }
                    }
                }
            }
        }
        Ok(codes)
    }

    /// `{$all: [{$elemMatch: {codeSoortRijbewijs: {$eq: x}}}, ...]}` -> the x's
    fn rijbewijzen(&mut self, v: &Value, ptr: &str) -> Result<Vec<String>, QueryError> {
        let mut codes = Vec::new();
        for (pe, em) in self.all_elem_match(v, ptr)? {
            for (f, x) in em {
                if f == "codeSoortRijbewijs" {
                    codes.extend(self.eq_str(x, &format!("{pe}/{f}"))?);
                } else {
                    self.ignore(
                        format!("{pe}/{}", esc(f)),
                        format!("'{f}' is not a criterion here"),
                    );
                }
            }
        }
        Ok(codes)
    }

    /// `{$all: [{$elemMatch: {codeTaal: {$eq: ..}, codeNiveau...: {$gte: ..}}}, ...]}` -> one
    /// [`TaalEis`] per `$elemMatch`; each needs `codeTaal`.
    fn taaleisen(&mut self, v: &Value, ptr: &str) -> Result<Vec<TaalEis>, QueryError> {
        let mut eisen = Vec::new();
        for (pe, em) in self.all_elem_match(v, ptr)? {
            let mut eis = TaalEis {
                code_taal: String::new(),
                mondeling_minimaal: None,
                schriftelijk_minimaal: None,
            };
            for (f, x) in em {
                let pf = format!("{pe}/{f}");
                match f.as_str() {
                    "codeTaal" => eis.code_taal = self.eq_str(x, &pf)?.unwrap_or_default(),
                    "codeNiveauTaalbeheersingMondeling" => {
                        eis.mondeling_minimaal = self.int_op(x, &pf, "$gte")?
                    }
                    "codeNiveauTaalbeheersingSchriftelijk" => {
                        eis.schriftelijk_minimaal = self.int_op(x, &pf, "$gte")?
                    }
                    _ => self.ignore(pf, format!("'{f}' is not a criterion here")),
                }
            }
            if eis.code_taal.is_empty() {
                return Err(shape(&pe, "a language requirement needs codeTaal"));
            }
            eisen.push(eis);
        }
        Ok(eisen)
    }

    /// `codeWerkEnDenkniveauMinimaal: {$gte, $lt, $eq}` -> [`Criterium::WerkEnDenkniveau`]
    fn werk_en_denkniveau(&mut self, v: &Value, ptr: &str) -> Result<Criterium, QueryError> {
        let ops = self.ops(v, ptr, &["$gte", "$lt", "$eq"])?;
        let get = |n: &str| {
            ops.iter()
                .find(|(k, _)| *k == n)
                .and_then(|(_, x)| x.as_str())
                .map(str::to_string)
        };
        Ok(Criterium::WerkEnDenkniveau {
            gte: get("$gte"),
            lt: get("$lt"),
            eq: get("$eq"),
        })
    }
}
