//! What a run produces: one [`TestResult`] per catalogue entry and target, with its evidence.
//! The report writers (`report.rs`) read only these types.
use serde::{Deserialize, Serialize};

/// MUST or SHOULD, as the requirement states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// a requirement the standard states as an obligation
    Must,
    /// a recommendation
    Should,
}

/// The kinds of thing the suite can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKind {
    /// a source's REST face (`VUM-Bron-*.json`)
    Bron,
    /// a mediator-facing REST face (`VUM-Bemiddelaar-*.json`)
    Bemiddelaar,
    /// a matchgate node's Peer gRPC service
    Grpc,
    /// payload files (VUM JSON documents)
    Payload,
}

impl TargetKind {
    /// The name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            TargetKind::Bron => "bron",
            TargetKind::Bemiddelaar => "bemiddelaar",
            TargetKind::Grpc => "grpc",
            TargetKind::Payload => "payload",
        }
    }
}

/// How one test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// the target meets the requirement
    Pass,
    /// the target does not meet it
    Fail,
    /// the test does not apply to this target
    Skip,
    /// the tester chose not to run it
    Omit,
    /// the suite could not run it (the target did not answer, a fixture is missing, ...)
    Error,
}

/// One request and what came back, as evidence.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Evidence {
    /// what was sent: method, URL or gRPC method, headers that matter, the body (bounded)
    pub request: String,
    /// what came back: status and a bounded excerpt of the body
    pub response: String,
    /// what the standard expects
    pub expected: String,
    /// what was observed
    pub observed: String,
}

/// The result of one catalogue test against one target.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestResult {
    /// the catalogue id (`BRON-SEL-012`)
    pub id: String,
    /// the catalogue title
    pub title: String,
    /// the catalogue group (`selection`, `details`, `parties`, `tls`, `payload`, ...)
    pub group: String,
    /// MUST or SHOULD
    pub level: Level,
    /// the requirement it checks, as the catalogue cites it
    pub requirement: String,
    /// the target it ran against
    pub target: TargetKind,
    /// how it ended
    pub outcome: Outcome,
    /// one line on why (the failure, the reason for skip, omit or error)
    pub message: String,
    /// the requests and responses that decided it
    pub evidence: Vec<Evidence>,
    /// whether the expected-failures file lists it (a listed failure does not fail the run; a
    /// listed test that passes does)
    pub expected_failure: bool,
    /// milliseconds the test took
    pub millis: u64,
}

/// A whole run: what was tested, when, and every result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// the suite's name and version
    pub suite: String,
    /// when the run started (RFC 3339, UTC)
    pub started: String,
    /// seconds the run took
    pub seconds: f64,
    /// the targets, as the tester gave them (URLs, file names; never keys)
    pub targets: Vec<(TargetKind, String)>,
    /// one per test and target
    pub results: Vec<TestResult>,
}

impl Report {
    /// Results with this outcome.
    pub fn count(&self, o: Outcome) -> usize {
        self.results.iter().filter(|r| r.outcome == o).count()
    }

    /// Whether the run passes: no failure or error outside the expected-failures file, and no
    /// listed failure that passed (the file drifted).
    pub fn passed(&self) -> bool {
        self.results.iter().all(|r| {
            !matches!(
                (r.outcome, r.expected_failure),
                (Outcome::Fail | Outcome::Error, false) | (Outcome::Pass, true)
            )
        })
    }
}
