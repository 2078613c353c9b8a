//! The catalogue: every test the suite knows, as data. An id never changes meaning once
//! published; a retired test keeps its id out of use. `docs/conformance.md` is rendered from
//! this list (`docs()`), and a test fails when the committed page is stale.
use crate::model::{Level, TargetKind};

/// One test of the catalogue.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Entry {
    /// the stable id (`BRON-SEL-012`)
    pub id: &'static str,
    /// what it checks, in one line
    pub title: &'static str,
    /// the group it is reported under
    pub group: &'static str,
    /// MUST or SHOULD
    pub level: Level,
    /// the requirement: the contract operation and the sentence of the standard it rests on
    pub requirement: &'static str,
    /// the targets it applies to
    pub targets: &'static [TargetKind],
}

use Level::{Must, Should};
use TargetKind::{Bemiddelaar as BEM, Bron as BRON, Grpc as GRPC, Payload as PAY};

const FACES: &[TargetKind] = &[BRON, BEM, GRPC];
const REST: &[TargetKind] = &[BRON, BEM];
const SOURCES: &[TargetKind] = &[BRON, GRPC];

const fn e(
    id: &'static str,
    group: &'static str,
    level: Level,
    targets: &'static [TargetKind],
    title: &'static str,
    requirement: &'static str,
) -> Entry {
    Entry {
        id,
        title,
        group,
        level,
        requirement,
        targets,
    }
}

/// Every test, in report order.
pub const CATALOGUE: &[Entry] = &[
    // --- answers as the contract writes them
    e("VUM-RSP-001", "contract", Must, FACES,
      "A selection answer is valid against the contract's response schema",
      "VUM-Bron-*.json / VUM-Bemiddelaar-*.json, POST /…/matches, 200: the response schema (required matches and maximumAantalResultatenBereikt)"),
    e("VUM-RSP-002", "contract", Must, FACES,
      "A detail answer is valid against the contract's document schema",
      "VUM-Bron-*.json GET /…/{id} 200: Werkzoekende / Vacature; VUM-Bemiddelaar-*.json GET /…/{vumID} 200: {bronID, werkzoekende|vacature}"),
    e("VUM-RSP-003", "contract", Must, REST,
      "Answers carry Content-Type application/json and the API-Version and X-VUM-berichtVersie headers",
      "VUM-*.json responses: headers API-Version, X-VUM-berichtVersie (3.0.0); content application/json"),
    e("VUM-RSP-004", "contract", Should, REST,
      "Answers name the parties as the koppelvlak table gives them",
      "VUM-koppelvlak-README.md, Berichtuitwisseling: response X-VUM-fromParty (answering controller), X-VUM-toParty (asking controller)"),
    e("VUM-RSP-005", "contract", Must, REST,
      "A refusal carries the contract's Error body (code, message)",
      "VUM-*.json 400/401/429/500/503: #/components/schemas/Error (required code ≤ 10, message ≤ 500)"),
    // --- selection semantics
    e("VUM-SEL-001", "selection", Must, FACES,
      "Records within afstand of the selectiegebied are returned; records just outside are not",
      "VUM-koppelvlak-README.md, selectievraag: the required selectiegebied (postcode, afstand in km) bounds the selection"),
    e("VUM-SEL-002", "selection", Must, FACES,
      "A jobseeker is not returned beyond the maximaleReisafstand it gave",
      "Data standard, Mobiliteit.maximaleReisafstand: the distance a jobseeker will travel bounds where it is offered"),
    e("VUM-SEL-003", "selection", Must, FACES,
      "Hours criteria select by overlap at their edges (aantalWerkurenPerWeekMaximaal $gte, …Minimaal $lte)",
      "VUM selectievraag schema: werktijden.aantalWerkurenPerWeekMaximaal {$gte}, werktijden.aantalWerkurenPerWeekMinimaal {$lte}"),
    e("VUM-SEL-004", "selection", Must, FACES,
      "The availability date criterion includes its edge day and excludes the day after",
      "VUM selectievraag schema: datumAanvangBeschikbaarVoorWerk {$lte}"),
    e("VUM-SEL-005", "selection", Must, FACES,
      "Driving licences ($all) and languages ($all with $elemMatch levels) select as stated",
      "VUM selectievraag schema: arbeidsmarktkwalificatie.rijbewijs {$all}, arbeidsmarktkwalificatie.taalbeheersing {$all: [{$elemMatch}]}"),
    e("VUM-SEL-006", "selection", Must, FACES,
      "Criteria combine as a conjunction",
      "VUM-koppelvlak-README.md: the MongoDB query language as the frame (top-level criteria are and-ed)"),
    e("VUM-SEL-007", "selection", Must, REST,
      "Unknown criteria are accepted and ignored",
      "VUM-koppelvlak-README.md: undescribed combinations of data and operators are not excluded but have no effect at the source (REST only: a gRPC message has no place for a criterion it does not define)"),
    e("VUM-SEL-008", "selection", Must, FACES,
      "A malformed selection is refused (400 / INVALID_ARGUMENT)",
      "VUM-*.json POST /…/matches 400 Bad request; the selectievraag schema requires selectiegebied"),
    e("VUM-SEL-009", "selection", Must, FACES,
      "At most 100 results, with maximumAantalResultatenBereikt when more matched",
      "VUM-Bron-*.json: maximumAantalResultatenBereikt — sources may deliver at most a maximum (standard 100) per question"),
    e("VUM-SEL-010", "selection", Must, FACES,
      "Results come in random order",
      "VUM-koppelvlak-README.md: the requester receives a randomly ordered list of selection results"),
    e("VUM-SEL-011", "selection", Should, SOURCES,
      "Past the cap, the 100 returned are a uniform sample of all that matched (bounded statistical test)",
      "VUM-koppelvlak-README.md: a randomly ordered list; the cap must not favour some records (issue 13: uniform sample)"),
    e("VUM-SEL-012", "selection", Must, FACES,
      "Match profiles carry no personal data (no name, contact details, BSN, address or LDR indication)",
      "VUM-*.json MPWerkzoekendeMatch / MPVacatureMatch: the match profile's properties only (additionalProperties false)"),
    // --- details
    e("VUM-DET-001", "details", Must, FACES,
      "The detail of a returned match is the document the source holds",
      "VUM-Bron-*.json GET /werkzoekendeProfielen/{idWerkzoekende}; VUM-Bemiddelaar GET /…/{vumID}"),
    e("VUM-DET-002", "details", Must, FACES,
      "A detail of an id no selection returned is refused",
      "VUM-*.json GET /…/{id} 400/401; the afsprakenstelsel: details only for selection results"),
    e("VUM-DET-003", "details", Must, SOURCES,
      "The LDR indication goes only to SUWI parties",
      "Data standard: indicatieLdrRegistratie is for SUWI parties only (X-VUM-SUWIparty, as the source's configuration confirms)"),
    e("VUM-DET-004", "details", Must, &[BEM],
      "At most 10 details per result set, then 429",
      "VUM-Bemiddelaar-*.json GET /…/{vumID} 429: limit exceeded for this question (10 details per result set)"),
    // --- parties
    e("VUM-PTY-001", "parties", Must, FACES,
      "A call without a required party header is refused",
      "VUM-*.json parameters X-VUM-fromParty, X-VUM-toParty, X-VUM-viaParty, X-VUM-berichtVersie, API-Version (required)"),
    e("VUM-PTY-002", "parties", Must, FACES,
      "A party header that is not an OIN is refused",
      "VUM-koppelvlak-README.md: the X-VUM party headers carry OINs"),
    e("VUM-PTY-003", "parties", Must, FACES,
      "A toParty that is not the node is refused",
      "VUM-koppelvlak-README.md table: X-VUM-toParty is the answering party"),
    e("VUM-PTY-004", "parties", Must, SOURCES,
      "A viaParty that does not match the roles of the call is refused",
      "VUM-koppelvlak-README.md table: VUM → Bron viaParty is the answering processor; matchgate gRPC: the caller's certificate"),
    e("VUM-PTY-005", "parties", Must, FACES,
      "A wrong message or API version is refused",
      "VUM-*.json X-VUM-berichtVersie and API-Version: enum [3.0.0]"),
    e("VUM-PTY-006", "parties", Must, SOURCES,
      "A SUWI claim the source's configuration does not back is refused",
      "VUM-Bron-*.json X-VUM-SUWIparty; a caller's claim is checked against the certificate and configuration"),
    e("VUM-PTY-007", "parties", Should, SOURCES,
      "A controller the caller holds no grant for is refused",
      "VUM-*.json 401 not authorized; the afsprakenstelsel's grants"),
    // --- transport
    e("VUM-TLS-001", "tls", Must, FACES,
      "A connection without a client certificate is refused",
      "VUM-koppelvlak-README.md: client and server authenticate each other with a PKIoverheid certificate"),
    e("VUM-TLS-002", "tls", Must, FACES,
      "An expired client certificate is refused",
      "VUM-koppelvlak-README.md: mutual authentication with a valid certificate"),
    e("VUM-TLS-003", "tls", Must, FACES,
      "A client certificate from a foreign CA is refused",
      "VUM-koppelvlak-README.md: PKIoverheid certificates only"),
    e("VUM-TLS-004", "tls", Must, SOURCES,
      "A certificate whose OIN is not an allowed party is refused",
      "VUM-koppelvlak-README.md: the certificate carries the owner's OIN; only parties of the afsprakenstelsel"),
    e("VUM-RATE-001", "rate", Should, SOURCES,
      "Under load a node answers 429 (RESOURCE_EXHAUSTED) with a retry delay rather than failing",
      "VUM-*.json 429 Too Many Requests"),
    // --- payloads
    e("VUM-PAY-001", "payload", Must, &[PAY],
      "Every document is valid against the contract's schema and the standard's prose rules",
      "VUM-Bron-*.json Werkzoekende / Vacature; the data standard's rules (matchgate rules)"),
    e("VUM-PAY-002", "payload", Should, &[PAY],
      "Documents raise no plausibility warnings",
      "the data standard's value lists and plausibility rules (matchgate rules, severity warning)"),
];

/// The entry with this id.
pub fn entry(id: &str) -> Option<&'static Entry> {
    CATALOGUE.iter().find(|e| e.id == id)
}

/// `docs/conformance.md`: the catalogue and the fault table, for people.
pub fn docs() -> String {
    let mut s = String::from(
        "# The conformance catalogue\n\n\
         Generated from `crates/conformance/src/catalogue.rs` (a test fails when this page is stale;\n\
         rerun `cargo test -p conformance` and commit the page it rewrites). `matchgate conformance\n\
         list` prints the same catalogue; `--format json` for machines.\n\n\
         Targets: `bron` (a source's REST face), `bemiddelaar` (a mediator-facing REST face), `grpc` (a\n\
         matchgate node's Peer service), `payload` (VUM JSON files).\n",
    );
    let mut group = "";
    for e in CATALOGUE {
        if e.group != group {
            group = e.group;
            s.push_str(&format!(
                "\n## {group}\n\n| id | level | targets | test | requirement |\n|---|---|---|---|---|\n"
            ));
        }
        let targets: Vec<&str> = e.targets.iter().map(|t| t.name()).collect();
        s.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            e.id,
            match e.level {
                Must => "MUST",
                Should => "SHOULD",
            },
            targets.join(", "),
            e.title,
            e.requirement.replace('|', "\\|")
        ));
    }
    s.push_str(
        "\n## Faults the suite catches\n\n\
         `crates/conformance/tests/faults.rs` starts matchgate nodes with one injected fault each\n\
         (`node::faults`) and runs the suite against them: each fault must make the test that names it\n\
         fail, and the clean node must pass every MUST.\n\n| fault | what the node does wrong | caught by |\n|---|---|---|\n",
    );
    for (_, fault, what, by) in node::faults::Fault::ALL {
        s.push_str(&format!("| `{fault}` | {what} | `{by}` |\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_docs_are_current() {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/conformance.md");
        let want = docs();
        if std::fs::read_to_string(&p).ok().as_deref() != Some(want.as_str()) {
            std::fs::write(&p, &want).unwrap();
            panic!(
                "{} was stale and has been rewritten: commit it",
                p.display()
            );
        }
    }

    #[test]
    fn every_fault_names_a_test_of_the_catalogue() {
        for (_, name, _, by) in node::faults::Fault::ALL {
            assert!(entry(by).is_some(), "{name}: {by}");
        }
    }

    #[test]
    fn ids_are_unique_and_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for e in CATALOGUE {
            assert!(seen.insert(e.id), "{} twice", e.id);
            let parts: Vec<&str> = e.id.split('-').collect();
            assert!(parts.len() == 3 && parts[2].len() == 3, "{}", e.id);
            assert!(!e.targets.is_empty() && e.title.len() < 120, "{}", e.id);
        }
    }
}
