//! The suite can fail: a node with one injected fault (node::faults) makes the test that names
//! it fail, for each fault of the table in docs/conformance.md.
mod common;
use common::{federation, plan};
use conformance::model::Outcome;
use conformance::run::run;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_injected_fault_is_caught_by_the_test_that_names_it() {
    let mut caught = Vec::new();
    for (fault, name, _, by) in node::faults::Fault::ALL {
        let f = federation().await;
        f.uwv.state.faults.inject(*fault);
        f.gemeente.state.faults.inject(*fault);
        let mut p = plan(&f);
        p.payloads.clear();
        p.omit = conformance::catalogue::CATALOGUE
            .iter()
            .map(|e| e.id.to_string())
            .filter(|id| id != by)
            .collect();
        let report = run(&p).await;
        let failed: Vec<_> = report
            .results
            .iter()
            .filter(|r| r.id == *by && r.outcome == Outcome::Fail)
            .map(|r| r.target.name())
            .collect();
        assert!(
            !failed.is_empty(),
            "{name} was not caught by {by}: {:?}",
            report
                .results
                .iter()
                .filter(|r| r.id == *by)
                .map(|r| (r.target.name(), r.outcome, r.message.clone()))
                .collect::<Vec<_>>()
        );
        assert!(!report.passed());
        caught.push(format!("{name}: {by} failed on {failed:?}"));
    }
    println!("{}", caught.join("\n"));
}
