//! Running the catalogue against targets: each applicable test once per target, with its
//! evidence; tests the tester omits are recorded as omitted, tests that do not apply as skipped;
//! the expected-failures file is applied last.
use crate::catalogue::{Entry, CATALOGUE};
use crate::checks;
use crate::client::{Creds, Face};
use crate::model::{Evidence, Outcome, Report, TargetKind, TestResult};
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Instant;

/// Credentials for the negative cases; each test that needs one it lacks is skipped.
#[derive(Debug, Clone, Default)]
pub struct Negative {
    /// an expired certificate of an otherwise allowed party
    pub expired: Option<Creds>,
    /// a certificate from a CA the node does not trust
    pub foreign: Option<Creds>,
    /// a certificate of the node's CA whose OIN is no allowed party
    pub stranger: Option<Creds>,
}

/// One face under test and how to call it.
#[derive(Debug, Clone)]
pub struct Target {
    /// where and what
    pub face: Face,
    /// the tester's identity towards it
    pub creds: Creds,
    /// the OIN in `creds` (fromParty, and viaParty where the caller is the processor)
    pub caller_oin: String,
    /// the node's OIN (toParty)
    pub node_oin: String,
    /// whether the node's configuration makes the caller a SUWI party
    pub suwi: bool,
    /// credentials for the negative cases
    pub negative: Negative,
    /// whether the fixtures (`conformance/fixtures/`) are loaded in the node (or, for a
    /// Bemiddelaar face, in a source it asks)
    pub fixtures: bool,
}

/// What the tester asks of a run.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// the faces to test
    pub targets: Vec<Target>,
    /// payload files to check
    pub payloads: Vec<PathBuf>,
    /// test ids the tester chose not to run
    pub omit: HashSet<String>,
    /// `(id, target)` pairs expected to fail
    pub expected_failures: HashSet<(String, TargetKind)>,
}

/// An expected-failures file: one `ID TARGET` per line (`VUM-SEL-011 bron`), `#` comments. A
/// listed test that passes fails the run, so the file cannot drift.
pub fn parse_expected_failures(text: &str) -> Result<HashSet<(String, TargetKind)>, String> {
    let mut out = HashSet::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut parts = line.split_whitespace();
        let (Some(id), Some(t), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("line {}: expected `ID TARGET`", i + 1));
        };
        if crate::catalogue::entry(id).is_none() {
            return Err(format!("line {}: {id} is not in the catalogue", i + 1));
        }
        let t = target_kind(t).ok_or_else(|| format!("line {}: unknown target {t}", i + 1))?;
        out.insert((id.to_string(), t));
    }
    Ok(out)
}

/// A target kind by its name.
pub fn target_kind(name: &str) -> Option<TargetKind> {
    [
        TargetKind::Bron,
        TargetKind::Bemiddelaar,
        TargetKind::Grpc,
        TargetKind::Payload,
    ]
    .into_iter()
    .find(|t| t.name() == name)
}

fn result(e: &Entry, target: TargetKind) -> TestResult {
    TestResult {
        id: e.id.into(),
        title: e.title.into(),
        group: e.group.into(),
        level: e.level,
        requirement: e.requirement.into(),
        target,
        outcome: Outcome::Skip,
        message: String::new(),
        evidence: Vec::new(),
        expected_failure: false,
        millis: 0,
    }
}

/// Run the plan.
pub async fn run(plan: &Plan) -> Report {
    let started = now_rfc3339();
    let t0 = Instant::now();
    let mut results = Vec::new();
    let mut targets: Vec<(TargetKind, String)> = plan
        .targets
        .iter()
        .map(|t| (t.face.kind, t.face.url.clone()))
        .collect();
    for p in &plan.payloads {
        targets.push((TargetKind::Payload, p.display().to_string()));
    }
    for t in &plan.targets {
        let ctx = checks::Ctx::new(t);
        for e in CATALOGUE
            .iter()
            .filter(|e| e.targets.contains(&t.face.kind))
        {
            let mut r = result(e, t.face.kind);
            if plan.omit.contains(e.id) {
                r.outcome = Outcome::Omit;
                r.message = "omitted by the tester".into();
            } else {
                let start = Instant::now();
                let span =
                    tracing::info_span!("conformance_test", id = e.id, target = t.face.kind.name());
                let v = match &ctx {
                    Ok(ctx) => tracing::Instrument::instrument(checks::run(e.id, ctx), span).await,
                    Err(why) => {
                        checks::Verdict::error(format!("the suite cannot call this face: {why}"))
                    }
                };
                r.outcome = v.outcome;
                r.message = v.message;
                r.evidence = v.evidence;
                r.millis = start.elapsed().as_millis() as u64;
            }
            results.push(r);
        }
    }
    if !plan.payloads.is_empty() {
        for e in CATALOGUE
            .iter()
            .filter(|e| e.targets.contains(&TargetKind::Payload))
        {
            let mut r = result(e, TargetKind::Payload);
            if plan.omit.contains(e.id) {
                r.outcome = Outcome::Omit;
                r.message = "omitted by the tester".into();
            } else {
                let start = Instant::now();
                let v = checks::payload(e.id, &plan.payloads);
                r.outcome = v.outcome;
                r.message = v.message;
                r.evidence = v.evidence;
                r.millis = start.elapsed().as_millis() as u64;
            }
            results.push(r);
        }
    }
    for r in &mut results {
        r.expected_failure = plan.expected_failures.contains(&(r.id.clone(), r.target));
        if r.expected_failure && r.outcome == Outcome::Pass {
            r.message = "listed as an expected failure, but passed: remove it from the file".into();
        }
    }
    Report {
        suite: format!("matchgate conformance {}", env!("CARGO_PKG_VERSION")),
        started,
        seconds: t0.elapsed().as_secs_f64(),
        targets,
        results,
    }
}

/// Now as RFC 3339 UTC (seconds), from the system clock.
fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // civil from days (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Evidence of one exchange.
pub(crate) fn evidence(
    request: impl Into<String>,
    response: impl Into<String>,
    expected: impl Into<String>,
    observed: impl Into<String>,
) -> Evidence {
    Evidence {
        request: request.into(),
        response: response.into(),
        expected: expected.into(),
        observed: observed.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_failures_name_catalogue_tests_and_targets() {
        let f =
            parse_expected_failures("# known\nVUM-SEL-011 bron\n\nVUM-TLS-002 grpc # expired\n")
                .unwrap();
        assert!(f.contains(&("VUM-SEL-011".into(), TargetKind::Bron)));
        assert_eq!(f.len(), 2);
        assert!(parse_expected_failures("VUM-XXX-001 bron").is_err());
        assert!(parse_expected_failures("VUM-SEL-011 mars").is_err());
        assert!(now_rfc3339().ends_with('Z'));
    }
}
