//! Reference data the rules need at run time, embedded in the binary.
//! `data/postcodes-pc4.csv` is a copy of `shared/data/postcodes-pc4.csv` (see its README there for
//! sources: CBS PC4 2020, GeoNames, Kadaster BAG); `data/iso639-3.tsv` names its source in its header.
use std::collections::HashMap;
use std::sync::OnceLock;

/// A PC4 area's representative point (WGS84 degrees).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pc4Point {
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
}

/// The PC4 table: 4-digit postcode -> point. Lookup by the numeric part of a postcode.
pub fn pc4_table() -> &'static HashMap<u16, Pc4Point> {
    static TABLE: OnceLock<HashMap<u16, Pc4Point>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let text = include_str!("../data/postcodes-pc4.csv");
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
        let col = |name: &str| header.iter().position(|h| *h == name);
        let (Some(pc), Some(lat), Some(lon)) = (col("pc4"), col("lat"), col("lon")) else {
            return HashMap::new();
        };
        lines
            .filter_map(|line| {
                // pc4, lat and lon come before any quoted municipality name
                let f: Vec<&str> = line.splitn(header.len(), ',').collect();
                Some((
                    f.get(pc)?.parse().ok()?,
                    Pc4Point {
                        lat: f.get(lat)?.parse().ok()?,
                        lon: f.get(lon)?.parse().ok()?,
                    },
                ))
            })
            .collect()
    })
}

/// The municipality (CBS code, `GM0363`) of a PC4 area, as `data/postcodes-pc4.csv` gives it.
pub fn pc4_municipality(pc4: u16) -> Option<&'static str> {
    static TABLE: OnceLock<HashMap<u16, &'static str>> = OnceLock::new();
    TABLE
        .get_or_init(|| {
            let text: &'static str = include_str!("../data/postcodes-pc4.csv");
            text.lines()
                .skip(1)
                .filter_map(|line| {
                    // pc4,lat,lon,municipality_name,municipality_code,coord_source: the name may
                    // be quoted with a comma in it, the code and the source never are
                    let mut back = line.rsplitn(3, ',');
                    let (_source, code) = (back.next()?, back.next()?);
                    let pc4 = line.split(',').next()?.parse().ok()?;
                    code.starts_with("GM").then_some((pc4, code))
                })
                .collect()
        })
        .get(&pc4)
        .copied()
}

/// The point of a postcode such as `3011AB` or `3011`, if the table knows its PC4.
pub fn pc4_point(postcode: &str) -> Option<Pc4Point> {
    let digits = postcode.get(..4)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pc4_table().get(&digits.parse().ok()?).copied()
}

/// Great-circle distance in km between two points (haversine, mean Earth radius 6371.0088 km).
pub fn distance_km(a: Pc4Point, b: Pc4Point) -> f64 {
    let (la1, la2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = la2 - la1;
    let dlon = (b.lon - a.lon).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * 6371.0088 * h.sqrt().min(1.0).asin()
}

/// ISO 639-3 code -> is it a sign language.
fn iso639_3() -> &'static HashMap<[u8; 3], bool> {
    static TABLE: OnceLock<HashMap<[u8; 3], bool>> = OnceLock::new();
    TABLE.get_or_init(|| {
        include_str!("../data/iso639-3.tsv")
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let mut f = l.split('\t');
                let code: [u8; 3] = f.next()?.as_bytes().try_into().ok()?;
                Some((code, f.next()? == "1"))
            })
            .collect()
    })
}

/// Is this a code of the ISO 639-3 list?
pub fn is_iso639_3(code: &str) -> bool {
    code.as_bytes()
        .try_into()
        .map(|c: [u8; 3]| iso639_3().contains_key(&c))
        .unwrap_or(false)
}

/// Is this ISO 639-3 code a sign language (e.g. `dse`, Nederlandse Gebarentaal)?
pub fn is_sign_language(code: &str) -> bool {
    code.as_bytes()
        .try_into()
        .ok()
        .and_then(|c: [u8; 3]| iso639_3().get(&c).copied())
        .unwrap_or(false)
}

#[cfg(test)]
mod municipality_tests {
    #[test]
    fn pc4_areas_have_their_municipality() {
        assert_eq!(super::pc4_municipality(1012), Some("GM0363")); // Amsterdam
        assert_eq!(super::pc4_municipality(3011), Some("GM0599")); // Rotterdam
        assert_eq!(super::pc4_municipality(1000), None); // PO boxes only: not in the table
        let quoted = include_str!("../data/postcodes-pc4.csv")
            .lines()
            .find(|l| l.contains('"'))
            .expect("a quoted municipality name");
        let pc4: u16 = quoted[..4].parse().unwrap();
        assert!(super::pc4_municipality(pc4).is_some_and(|c| c.starts_with("GM")));
    }
}
