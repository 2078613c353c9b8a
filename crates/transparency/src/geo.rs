//! Municipalities (gemeenten) and labour-market regions (arbeidsmarktregio's) of 2025, from the
//! two embedded CBS tables (`data/municipalities-2025.csv`, `data/labour-market-regions-2025.csv`;
//! source: CBS / PDOK, CBS Gebiedsindelingen 2025).
use crate::figures::UNKNOWN_MUNICIPALITY;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The pseudo-region of [`UNKNOWN_MUNICIPALITY`] (and of any municipality code in no table).
pub const UNKNOWN_REGION: &str = "onbekend";
/// The name of [`UNKNOWN_REGION`].
pub const UNKNOWN_REGION_NAME: &str = "Onbekend (postcode in geen tabel)";
/// The name shown for [`UNKNOWN_MUNICIPALITY`].
pub const UNKNOWN_MUNICIPALITY_NAME: &str = "Onbekend";

const MUNICIPALITIES: &str = include_str!("../data/municipalities-2025.csv");
const REGIONS: &str = include_str!("../data/labour-market-regions-2025.csv");

/// One municipality (gemeente).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Municipality {
    /// CBS code, `GM0014`
    pub code: String,
    /// CBS name, e.g. `'s-Gravenhage`
    pub name: String,
    /// its labour-market region's code, `AM01`
    pub region: String,
}

/// Where a municipality code lies: names and region, with unknown codes under
/// [`UNKNOWN_REGION`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// the municipality code as given
    pub municipality_code: String,
    /// its name ([`UNKNOWN_MUNICIPALITY_NAME`] for [`UNKNOWN_MUNICIPALITY`], the code itself for
    /// a code in no table)
    pub municipality_name: String,
    /// its region's code
    pub region_code: String,
    /// its region's name
    pub region_name: String,
}

/// A table that would not load.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    /// not CSV
    #[error("geography table: {0}")]
    Csv(#[from] csv::Error),
    /// a row without the expected columns, or naming an unknown region
    #[error("geography table, line {line}: {message}")]
    Row {
        /// 1-based line
        line: u64,
        /// what is wrong
        message: String,
    },
}

/// The 2025 municipalities and labour-market regions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Geography {
    municipalities: BTreeMap<String, Municipality>,
    regions: BTreeMap<String, String>,
}

impl Geography {
    /// The embedded 2025 tables, loaded once per process.
    pub fn get() -> &'static Geography {
        static GEO: OnceLock<Geography> = OnceLock::new();
        GEO.get_or_init(|| {
            Geography::parse(MUNICIPALITIES, REGIONS).expect("the embedded geography tables load")
        })
    }

    /// Loads tables in the embedded form (`municipality_code,municipality_name,
    /// labour_market_region_code,…` and `region_code,region_name,…`, with headers).
    pub fn parse(municipalities_csv: &str, regions_csv: &str) -> Result<Geography, GeoError> {
        let mut regions = BTreeMap::new();
        let mut rd = csv::Reader::from_reader(regions_csv.as_bytes());
        for rec in rd.records() {
            let rec = rec?;
            let line = rec.position().map_or(0, |p| p.line());
            match (rec.get(0), rec.get(1)) {
                (Some(code), Some(name)) if !code.is_empty() => {
                    regions.insert(code.to_owned(), name.to_owned());
                }
                _ => {
                    return Err(GeoError::Row {
                        line,
                        message: "expected region_code,region_name".into(),
                    })
                }
            }
        }
        let mut municipalities = BTreeMap::new();
        let mut rd = csv::Reader::from_reader(municipalities_csv.as_bytes());
        for rec in rd.records() {
            let rec = rec?;
            let line = rec.position().map_or(0, |p| p.line());
            let (Some(code), Some(name), Some(region)) = (rec.get(0), rec.get(1), rec.get(2))
            else {
                return Err(GeoError::Row {
                    line,
                    message:
                        "expected municipality_code,municipality_name,labour_market_region_code"
                            .into(),
                });
            };
            if !regions.contains_key(region) {
                return Err(GeoError::Row {
                    line,
                    message: format!("unknown region {region}"),
                });
            }
            municipalities.insert(
                code.to_owned(),
                Municipality {
                    code: code.to_owned(),
                    name: name.to_owned(),
                    region: region.to_owned(),
                },
            );
        }
        Ok(Geography {
            municipalities,
            regions,
        })
    }

    /// A municipality by CBS code.
    pub fn municipality(&self, code: &str) -> Option<&Municipality> {
        self.municipalities.get(code)
    }

    /// A region's name by code ([`UNKNOWN_REGION_NAME`] for [`UNKNOWN_REGION`]).
    pub fn region_name(&self, code: &str) -> Option<&str> {
        if code == UNKNOWN_REGION {
            return Some(UNKNOWN_REGION_NAME);
        }
        self.regions.get(code).map(String::as_str)
    }

    /// Every municipality, by code.
    pub fn municipalities(&self) -> impl Iterator<Item = &Municipality> {
        self.municipalities.values()
    }

    /// Every region as (code, name), by code (without [`UNKNOWN_REGION`]).
    pub fn regions(&self) -> impl Iterator<Item = (&str, &str)> {
        self.regions.iter().map(|(c, n)| (c.as_str(), n.as_str()))
    }

    /// Where a municipality code lies. [`UNKNOWN_MUNICIPALITY`] and codes in no table go under
    /// [`UNKNOWN_REGION`].
    pub fn place(&self, municipality_code: &str) -> Place {
        match self.municipalities.get(municipality_code) {
            Some(m) => Place {
                municipality_code: m.code.clone(),
                municipality_name: m.name.clone(),
                region_code: m.region.clone(),
                region_name: self.regions.get(&m.region).cloned().unwrap_or_default(),
            },
            None => Place {
                municipality_code: municipality_code.to_owned(),
                municipality_name: if municipality_code == UNKNOWN_MUNICIPALITY {
                    UNKNOWN_MUNICIPALITY_NAME.to_owned()
                } else {
                    municipality_code.to_owned()
                },
                region_code: UNKNOWN_REGION.to_owned(),
                region_name: UNKNOWN_REGION_NAME.to_owned(),
            },
        }
    }
}

/// Sort key of a region code: real regions by code, [`UNKNOWN_REGION`] last.
pub fn region_order(code: &str) -> (bool, &str) {
    (code == UNKNOWN_REGION, code)
}
