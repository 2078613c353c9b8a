//! A report over several organisations: their [`Published`] forms added up, never their raw
//! counts. A sum with a suppressed part is a lower bound (`≥N`, see [`Cell::sum`]), which says
//! nothing a reader of the parts could not already tell.
use crate::figures::Organisation;
use crate::geo::region_order;
use crate::publish::{
    bounded, read_json, Cell, Counts, Error, MunicipalityTotal, Published, RegionTotal, Row,
    TrendRun, SCHEMA_VERSION, SUPPRESSION_NOTE,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A federation peer whose figures are not in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingPeer {
    /// its OIN
    pub oin: String,
    /// its name as configured
    pub name: String,
    /// why (timed out, refused, not valid figures, …)
    pub reason: String,
}

/// One organisation's trend (runs are not added up across organisations: they happen at
/// different times).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganisationTrend {
    /// whose runs
    pub organisation: Organisation,
    /// the runs, oldest first
    #[serde(deserialize_with = "bounded")]
    pub runs: Vec<TrendRun>,
}

/// The report: one or more organisations' published figures, merged; what
/// [`crate::render`] writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FederationReport {
    /// [`SCHEMA_VERSION`]
    pub schema_version: u32,
    /// the latest `generated_ms` of the parts (0 when none)
    pub generated_ms: i64,
    /// the arbeidsmarktregio code the report is limited to, if any
    pub region: Option<String>,
    /// whose figures are in it, in the order given
    #[serde(deserialize_with = "bounded")]
    pub organisations: Vec<Organisation>,
    /// [`SUPPRESSION_NOTE`]
    pub suppression: String,
    /// every organisation's rows, by region, municipality name, organisation name
    #[serde(deserialize_with = "bounded")]
    pub rows: Vec<Row>,
    /// per municipality, summed over organisations
    #[serde(deserialize_with = "bounded")]
    pub municipalities: Vec<MunicipalityTotal>,
    /// per arbeidsmarktregio, summed over organisations
    #[serde(deserialize_with = "bounded")]
    pub regions: Vec<RegionTotal>,
    /// national, summed over organisations (all regions, also when `region` is set)
    pub national: Counts,
    /// rejected by rule, summed over organisations (node-wide: not limited by `region`)
    pub rejected_by_rule: BTreeMap<String, Cell>,
    /// warnings by rule, summed over organisations (node-wide: not limited by `region`)
    pub warnings_by_rule: BTreeMap<String, Cell>,
    /// each organisation's runs
    #[serde(deserialize_with = "bounded")]
    pub trends: Vec<OrganisationTrend>,
    /// peers that did not answer
    #[serde(deserialize_with = "bounded")]
    pub missing: Vec<MissingPeer>,
}

impl FederationReport {
    /// Reads a report written by [`crate::render::json`], with the limits of
    /// [`Published::from_json`].
    pub fn from_json(bytes: &[u8]) -> Result<FederationReport, Error> {
        let r: FederationReport = read_json(bytes)?;
        if r.schema_version != SCHEMA_VERSION {
            return Err(Error::Version(r.schema_version));
        }
        Ok(r)
    }

    /// Whether more than one organisation is in it.
    pub fn is_federated(&self) -> bool {
        self.organisations.len() > 1 || !self.missing.is_empty()
    }
}

fn sort_key<'a>(
    region: &'a str,
    name: &'a str,
    code: &'a str,
) -> ((bool, &'a str), &'a str, &'a str) {
    (region_order(region), name, code)
}

/// Merges organisations' published figures. A part listed twice (same OIN) counts once: the
/// one generated last. With `region`, rows and totals are limited to that arbeidsmarktregio
/// (national and by-rule figures stay node-wide).
pub fn merge(
    parts: Vec<Published>,
    missing: Vec<MissingPeer>,
    region: Option<&str>,
) -> FederationReport {
    // one part per organisation: the latest
    let mut latest: Vec<Published> = Vec::new();
    for p in parts {
        let oins: Vec<&str> = p.organisations.iter().map(|o| o.oin.as_str()).collect();
        match latest.iter_mut().find(|q| {
            q.organisations
                .iter()
                .map(|o| o.oin.as_str())
                .eq(oins.iter().copied())
        }) {
            Some(q) if q.generated_ms < p.generated_ms => *q = p,
            Some(_) => {}
            None => latest.push(p),
        }
    }
    let parts = latest;
    let keep = |code: &str| region.is_none_or(|r| r == code);

    let organisations: Vec<Organisation> = parts
        .iter()
        .flat_map(|p| p.organisations.iter().cloned())
        .collect();

    let mut rows: Vec<Row> = parts
        .iter()
        .flat_map(|p| p.rows.iter())
        .filter(|r| keep(&r.region_code))
        .cloned()
        .collect();
    rows.sort_by(|a, b| {
        sort_key(&a.region_code, &a.municipality_name, &a.municipality_code)
            .cmp(&sort_key(
                &b.region_code,
                &b.municipality_name,
                &b.municipality_code,
            ))
            .then_with(|| a.organisation.name.cmp(&b.organisation.name))
            .then_with(|| a.organisation.oin.cmp(&b.organisation.oin))
    });

    let mut muns: BTreeMap<String, (MunicipalityTotal, Vec<Counts>)> = BTreeMap::new();
    for m in parts.iter().flat_map(|p| p.municipalities.iter()) {
        if !keep(&m.region_code) {
            continue;
        }
        muns.entry(m.municipality_code.clone())
            .or_insert_with(|| (m.clone(), Vec::new()))
            .1
            .push(m.counts);
    }
    let mut municipalities: Vec<MunicipalityTotal> = muns
        .into_values()
        .map(|(mut m, counts)| {
            m.counts = Counts::sum(&counts);
            m
        })
        .collect();
    municipalities.sort_by(|a, b| {
        sort_key(&a.region_code, &a.municipality_name, &a.municipality_code).cmp(&sort_key(
            &b.region_code,
            &b.municipality_name,
            &b.municipality_code,
        ))
    });

    let mut regs: BTreeMap<String, (RegionTotal, Vec<Counts>)> = BTreeMap::new();
    for r in parts.iter().flat_map(|p| p.regions.iter()) {
        if !keep(&r.region_code) {
            continue;
        }
        regs.entry(r.region_code.clone())
            .or_insert_with(|| (r.clone(), Vec::new()))
            .1
            .push(r.counts);
    }
    let mut regions: Vec<RegionTotal> = regs
        .into_values()
        .map(|(mut r, counts)| {
            r.counts = Counts::sum(&counts);
            r
        })
        .collect();
    regions.sort_by(|a, b| region_order(&a.region_code).cmp(&region_order(&b.region_code)));

    let national = Counts::sum(parts.iter().map(|p| &p.national).collect::<Vec<_>>());

    let by_rule = |get: fn(&Published) -> &BTreeMap<String, Cell>| {
        let mut acc: BTreeMap<String, Vec<Cell>> = BTreeMap::new();
        for p in &parts {
            for (rule, c) in get(p) {
                acc.entry(rule.clone()).or_default().push(*c);
            }
        }
        acc.into_iter()
            .map(|(rule, cells)| (rule, Cell::sum(cells)))
            .collect::<BTreeMap<_, _>>()
    };
    let rejected_by_rule = by_rule(|p| &p.rejected_by_rule);
    let warnings_by_rule = by_rule(|p| &p.warnings_by_rule);

    let trends = parts
        .iter()
        .flat_map(|p| {
            p.organisations.first().map(|o| OrganisationTrend {
                organisation: o.clone(),
                runs: p
                    .trend
                    .iter()
                    .map(|run| {
                        let mut run = run.clone();
                        run.shared_after_by_region.retain(|code, _| keep(code));
                        run
                    })
                    .collect(),
            })
        })
        .collect();

    FederationReport {
        schema_version: SCHEMA_VERSION,
        generated_ms: parts.iter().map(|p| p.generated_ms).max().unwrap_or(0),
        region: region.map(str::to_owned),
        organisations,
        suppression: SUPPRESSION_NOTE.to_owned(),
        rows,
        municipalities,
        regions,
        national,
        rejected_by_rule,
        warnings_by_rule,
        trends,
        missing,
    }
}
