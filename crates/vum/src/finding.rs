//! What validation reports: findings with a stable rule id, a severity, a JSON pointer and a message.
use serde::Serialize;
use std::fmt;

/// Errors break the contract and reject the document; warnings are plausibility notes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Breaks the contract: the document is rejected.
    Error,
    /// A plausibility note: the document is still valid.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One finding about one place in one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable rule id: `<family>#<schema keyword location>` for schema rules
    /// (e.g. `werkzoekenden#Postcode/pattern`), `prose/<name>` for rules the standard states in
    /// prose, `plausibility/<name>` for warnings, `json/syntax` for unparseable input.
    pub rule: String,
    /// Whether the finding rejects the document.
    pub severity: Severity,
    /// RFC 6901 JSON pointer into the document ("" is the whole document).
    pub pointer: String,
    /// Human-readable explanation of what is wrong at `pointer`.
    pub message: String,
}

/// The outcome of validating one document.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Every finding, in the order they were found (empty for a clean document).
    pub findings: Vec<Finding>,
}

impl Report {
    /// True when no finding is an error (warnings do not reject).
    pub fn is_valid(&self) -> bool {
        !self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// The findings with severity [`Severity::Error`].
    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
    }

    /// The findings with severity [`Severity::Warning`].
    pub fn warnings(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
    }
}

/// Append one RFC 6901 reference token to a pointer.
pub(crate) fn push_token(pointer: &mut String, token: &str) {
    pointer.push('/');
    for c in token.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}
