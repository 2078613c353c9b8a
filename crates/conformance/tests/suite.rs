//! The suite against matchgate nodes: a source (loaded with the fixtures by Push) tested on its
//! Bron face and its gRPC Peer service, and a gemeente node tested on its Bemiddelaar face. Every
//! MUST passes; every result is pass, or a skip that says why.
mod common;
use common::{federation, plan};
use conformance::model::{Level, Outcome, TargetKind};
use conformance::run::run;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_matchgate_federation_passes_every_must() {
    let f = federation().await;
    let report = run(&plan(&f)).await;
    let bad: Vec<String> = report
        .results
        .iter()
        .filter(|r| {
            !(r.outcome == Outcome::Pass || (r.outcome == Outcome::Skip && !r.message.is_empty()))
        })
        .map(|r| {
            format!(
                "{} [{}] {:?}: {} {:?}",
                r.id,
                r.target.name(),
                r.outcome,
                r.message,
                r.evidence.first()
            )
        })
        .collect();
    assert!(bad.is_empty(), "{}", bad.join("\n\n"));
    assert!(report.passed());
    // every MUST of the three faces ran
    for r in &report.results {
        if r.level == Level::Must && r.target != TargetKind::Payload {
            assert_ne!(
                r.outcome,
                Outcome::Skip,
                "{} [{}] skipped: {}",
                r.id,
                r.target.name(),
                r.message
            );
        }
    }
    let faces: std::collections::HashSet<_> = report.results.iter().map(|r| r.target).collect();
    assert_eq!(faces.len(), 4);
}
