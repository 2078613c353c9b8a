//! Personal data checks shared by translation and exchange: the BSN check digit (elfproef) and a
//! scanner for personal data in free text (BSNs, e-mail addresses, phone numbers, IBANs).
use regex::Regex;
use std::sync::OnceLock;

/// Normalise a BSN as written in exports ("12.345.678-2", " 012345672", "12345672") to 9 digits.
/// Returns None when it is not 8 or 9 digits after removing spaces, dots and dashes.
pub fn normalise_bsn(s: &str) -> Option<String> {
    let digits: String = s
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-'))
        .collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match digits.len() {
        9 => Some(digits),
        8 => Some(format!("0{digits}")),
        _ => None,
    }
}

/// The elfproef for a 9-digit BSN: 9*d1 + 8*d2 + ... + 2*d8 - 1*d9 is a multiple of 11, and not 0.
pub fn is_valid_bsn(bsn: &str) -> bool {
    let b = bsn.as_bytes();
    if b.len() != 9 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut sum: i64 = 0;
    for (i, d) in b.iter().enumerate() {
        let d = i64::from(d - b'0');
        sum += if i == 8 { -d } else { d * (9 - i as i64) };
    }
    sum != 0 && sum % 11 == 0
}

/// The kind of personal data found in free text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pii {
    /// A 9-digit number (optionally grouped) that passes the elfproef.
    Bsn,
    /// An e-mail address.
    Email,
    /// A Dutch telephone number (`0…`, `0031…` or `+31…` with 9 more digits).
    Phone,
    /// An IBAN.
    Iban,
}

impl Pii {
    /// A short description for messages ("an e-mail address").
    pub fn describe(self) -> &'static str {
        match self {
            Pii::Bsn => "a BSN (9 digits passing the elfproef)",
            Pii::Email => "an e-mail address",
            Pii::Phone => "a Dutch telephone number",
            Pii::Iban => "an IBAN",
        }
    }
}

fn patterns() -> &'static [(Pii, Regex); 4] {
    static P: OnceLock<[(Pii, Regex); 4]> = OnceLock::new();
    P.get_or_init(|| {
        let re = |s: &str| Regex::new(s).expect("static pattern");
        [
            (
                Pii::Email,
                re(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"),
            ),
            (
                Pii::Iban,
                re(r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b"),
            ),
            (
                Pii::Bsn,
                re(r"\b[0-9]{3}[ .]?[0-9]{2}[ .]?[0-9]{2}[ .]?[0-9]{2}\b|\b[0-9]{9}\b"),
            ),
            (Pii::Phone, re(r"(?:\+31|\b0031|\b0)(?:[ \-()]*[0-9]){9}\b")),
        ]
    })
}

fn iban_ok(s: &str) -> bool {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if s.len() < 15 || s.len() > 34 {
        return false;
    }
    let rearranged = format!("{}{}", &s[4..], &s[..4]);
    let mut rem: u32 = 0;
    for c in rearranged.chars() {
        let v = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'A'..='Z' => c as u32 - 'A' as u32 + 10,
            _ => return false,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

/// The first kind of personal data found in free text, if any.
pub fn scan_free_text(text: &str) -> Option<Pii> {
    for (kind, re) in patterns() {
        for m in re.find_iter(text) {
            let hit = match kind {
                Pii::Bsn => normalise_bsn(m.as_str()).is_some_and(|b| is_valid_bsn(&b)),
                Pii::Iban => iban_ok(m.as_str()),
                _ => true,
            };
            if hit {
                return Some(*kind);
            }
        }
    }
    None
}

/// The rule id of personal data found in free text that would leave the node.
pub const FREE_TEXT_RULE: &str = "privacy/vrije-tekst";

/// Whether a VUM property holds free text that leaves the node and must be scanned (descriptions,
/// explanations, names of courses, schools, organisations and vacancies, salary notes).
pub fn is_free_text(property: &str) -> bool {
    property.starts_with("toelichting")
        || property.starts_with("omschrijving")
        || matches!(
            property,
            "persoonlijkePresentatie"
                | "naamInteresse"
                | "naamCursus"
                | "naamOpleidingsinstituut"
                | "naamOrganisatie"
                | "naamVacature"
                | "salarisIndicatie"
        )
}

/// The first free-text value of a VUM document that carries personal data: its JSON pointer and
/// what was found.
pub fn scan_document(doc: &serde_json::Value) -> Option<(String, Pii)> {
    fn walk(v: &serde_json::Value, at: &mut String, free: bool) -> Option<(String, Pii)> {
        match v {
            serde_json::Value::String(s) if free => scan_free_text(s).map(|p| (at.clone(), p)),
            serde_json::Value::Object(o) => o.iter().find_map(|(k, v)| {
                let len = at.len();
                at.push('/');
                at.push_str(&k.replace('~', "~0").replace('/', "~1"));
                let r = walk(v, at, is_free_text(k));
                at.truncate(len);
                r
            }),
            serde_json::Value::Array(a) => a.iter().enumerate().find_map(|(i, v)| {
                let len = at.len();
                at.push('/');
                at.push_str(&i.to_string());
                let r = walk(v, at, free);
                at.truncate(len);
                r
            }),
            _ => None,
        }
    }
    walk(doc, &mut String::new(), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_scanned_in_their_free_text_only() {
        let doc = serde_json::json!({
            "idWerkzoekende": "111222333",
            "werkervaring": [{"naamOrganisatie": "Bakkerij"}, {"toelichtingWerkervaring": "mail jan@example.nl"}]
        });
        assert_eq!(
            scan_document(&doc),
            Some(("/werkervaring/1/toelichtingWerkervaring".into(), Pii::Email))
        );
        assert_eq!(
            scan_document(&serde_json::json!({"idWerkzoekende": "111222333"})),
            None
        );
    }

    #[test]
    fn elfproef() {
        assert!(is_valid_bsn("111222333"));
        assert!(is_valid_bsn("123456782"));
        assert!(!is_valid_bsn("123456789"));
        assert!(!is_valid_bsn("000000000"));
        assert_eq!(normalise_bsn("12.345.678-2").as_deref(), Some("123456782"));
        assert_eq!(normalise_bsn("12345672").as_deref(), Some("012345672"));
        assert_eq!(normalise_bsn("abc"), None);
    }

    #[test]
    fn free_text_personal_data_is_found() {
        assert_eq!(
            scan_free_text("Mail me: jan.jansen@example.nl"),
            Some(Pii::Email)
        );
        assert_eq!(
            scan_free_text("bel 06-12345678 na vijven"),
            Some(Pii::Phone)
        );
        assert_eq!(scan_free_text("tel +31 20 123 4567"), Some(Pii::Phone));
        assert_eq!(scan_free_text("BSN 111222333"), Some(Pii::Bsn));
        assert_eq!(
            scan_free_text("rekening NL91 ABNA 0417 1643 00"),
            Some(Pii::Iban)
        );
        assert_eq!(
            scan_free_text("rekening NL91ABNA0417164300"),
            Some(Pii::Iban)
        );
        // no false alarms on ordinary text and numbers
        assert_eq!(
            scan_free_text("Ik heb 7 jaar ervaring als webontwikkelaar, 38 uur per week."),
            None
        );
        assert_eq!(scan_free_text("ordernummer 123456789"), None); // fails the elfproef
        assert_eq!(scan_free_text("postcode 3011AB, huisnummer 12"), None);
    }
}
