//! The report writers: JSON round-trips, JUnit XML is well-formed with the right counts, the HTML
//! page is self-contained and escapes hostile evidence, the console writes no escape sequence.
use conformance::model::{Evidence, Level, Outcome, Report, TargetKind, TestResult};
use conformance::report;

/// What a hostile node might answer: markup, quotes, a NUL, an ESC sequence, a C1 CSI, a bidi
/// override and a carriage return.
const HOSTILE: &str =
    "</failure><script>alert(1)</script>&\"' \u{0}\u{1b}[2J\u{1b}]0;owned\u{7} \u{9b}31m \u{202e}txt\r\nend";

#[allow(clippy::too_many_arguments)]
fn result(
    id: &str,
    title: &str,
    group: &str,
    level: Level,
    target: TargetKind,
    outcome: Outcome,
    message: &str,
    evidence: Vec<Evidence>,
    expected_failure: bool,
) -> TestResult {
    TestResult {
        id: id.into(),
        title: title.into(),
        group: group.into(),
        level,
        requirement: format!("VUM Bron API §4.{} (the catalogue's citation)", id.len()),
        target,
        outcome,
        message: message.into(),
        evidence,
        expected_failure,
        millis: 17,
    }
}

fn ev(request: &str, response: &str, expected: &str, observed: &str) -> Evidence {
    Evidence {
        request: request.into(),
        response: response.into(),
        expected: expected.into(),
        observed: observed.into(),
    }
}

/// Every outcome, an expected failure, a drifted expected failure, hostile evidence.
fn sample() -> Report {
    use Level::*;
    use Outcome::*;
    use TargetKind::*;
    let get =
        |path: &str| format!("GET https://bron.example.nl:8443{path}\naccept: application/json");
    Report {
        suite: "matchgate-conformance 0.1.0".into(),
        started: "2025-03-14T09:26:53Z".into(),
        seconds: 12.375,
        targets: vec![
            (Bron, "https://bron.example.nl:8443/vum/v1".into()),
            (Bemiddelaar, "https://bemiddelaar.example.nl/vum".into()),
            (Grpc, "grpcs://peer.example.nl:7443".into()),
            (Payload, "examples/werkzoekende-*.json".into()),
        ],
        results: vec![
            result(
                "BRON-SEL-001",
                "A selection by profession answers 200 with a result set",
                "selection",
                Must,
                Bron,
                Pass,
                "",
                vec![ev(
                    &get("/selecties?beroep=1234"),
                    "200 OK\n{\"matches\": 12}",
                    "200 and a result set",
                    "200 and 12 matches",
                )],
                false,
            ),
            result(
                "BRON-SEL-012",
                "A selection with an unknown code list value is refused with 400",
                "selection",
                Must,
                Bron,
                Fail,
                HOSTILE,
                vec![
                    ev(
                        &get("/selecties?opleiding=XX"),
                        HOSTILE,
                        "400 with a problem document",
                        HOSTILE,
                    ),
                    ev(&get("/selecties?opleiding=YY"), "200 OK\n{}", "400", "200"),
                ],
                false,
            ),
            result(
                "BRON-SEL-013",
                "Paging beyond the last page answers an empty page",
                "selection",
                Should,
                Bron,
                Fail,
                "page 9 of 3 answered 500",
                vec![ev(
                    &get("/selecties?pagina=9"),
                    "500 Internal Server Error",
                    "200, empty",
                    "500",
                )],
                true,
            ),
            result(
                "BRON-DET-004",
                "Details of a vumID answer the full document",
                "details",
                Must,
                Bron,
                Pass,
                "",
                vec![ev(
                    &get("/details/0193a7e2"),
                    "200 OK",
                    "the document",
                    "the document",
                )],
                true,
            ),
            result(
                "BRON-DET-005",
                "Details carry the Content-Type application/json",
                "details",
                Should,
                Bron,
                Pass,
                "",
                vec![],
                false,
            ),
            result(
                "BEM-SEL-002",
                "The mediator face forwards a selection to its sources",
                "selection",
                Must,
                Bemiddelaar,
                Error,
                "connection refused (os error 111)",
                vec![],
                false,
            ),
            result(
                "BEM-PRT-001",
                "A party unknown to the node is answered 401",
                "parties",
                Must,
                Bemiddelaar,
                Skip,
                "the target has no party list configured",
                vec![],
                false,
            ),
            result(
                "BEM-PRT-002",
                "A party's certificate is checked against its OIN",
                "parties",
                Should,
                Bemiddelaar,
                Pass,
                "",
                vec![],
                false,
            ),
            result(
                "GRPC-TLS-001",
                "The peer refuses TLS 1.1",
                "tls",
                Must,
                Grpc,
                Pass,
                "",
                vec![ev(
                    "ClientHello TLS 1.1",
                    "alert protocol_version",
                    "handshake refused",
                    "handshake refused",
                )],
                false,
            ),
            result(
                "GRPC-TLS-003",
                "The peer's certificate names its host",
                "tls",
                Must,
                Grpc,
                Omit,
                "omitted on the command line (--omit GRPC-TLS-003)",
                vec![],
                false,
            ),
            result(
                "GRPC-TLS-004",
                "The peer requires a client certificate",
                "tls",
                Must,
                Grpc,
                Error,
                "fixture tls/client.pem missing",
                vec![],
                true,
            ),
            result(
                "PAY-DOC-001",
                "Every document validates against the schema",
                "payload",
                Must,
                Payload,
                Fail,
                "werkzoekende-3.json: /opleidingen/0/niveau: 9 is not one of [1..8]",
                vec![ev(
                    "examples/werkzoekende-3.json",
                    "",
                    "niveau in 1..8",
                    "niveau 9",
                )],
                false,
            ),
            result(
                "PAY-DOC-002",
                "Dates are ISO 8601",
                "payload",
                Should,
                Payload,
                Pass,
                "",
                vec![],
                false,
            ),
        ],
    }
}

// ---------------------------------------------------------------------------------------------
// A small XML parser: enough to prove the JUnit output well-formed and read it back.
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
struct El {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<El>,
    text: String,
}

impl El {
    fn attr(&self, k: &str) -> &str {
        self.attrs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("<{}> has no {k}", self.name))
    }
    fn all(&self, name: &str) -> Vec<&El> {
        self.children.iter().filter(|c| c.name == name).collect()
    }
}

struct P<'a> {
    s: &'a [char],
    i: usize,
}

fn xml_char_ok(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

impl P<'_> {
    fn peek(&self) -> char {
        self.s[self.i]
    }
    fn eat(&mut self, lit: &str) -> bool {
        let l: Vec<char> = lit.chars().collect();
        if self.s[self.i..].starts_with(&l) {
            self.i += l.len();
            true
        } else {
            false
        }
    }
    fn ws(&mut self) {
        while self.i < self.s.len() && self.peek().is_whitespace() {
            self.i += 1;
        }
    }
    fn name(&mut self) -> String {
        let start = self.i;
        while self.peek().is_ascii_alphanumeric() || matches!(self.peek(), '_' | '-' | '.' | ':') {
            self.i += 1;
        }
        assert!(self.i > start, "a name expected at {}", self.i);
        assert!(!self.s[start].is_ascii_digit() && self.s[start] != '-');
        self.s[start..self.i].iter().collect()
    }
    /// character data up to `end` (exclusive), entities decoded; `<` is never allowed
    fn chars_until(&mut self, end: char) -> String {
        let mut out = String::new();
        while self.peek() != end {
            let c = self.peek();
            assert!(xml_char_ok(c), "a character XML forbids: {:?}", c);
            assert!(c != '<', "a raw < in character data at {}", self.i);
            if c == '&' {
                let semi = self.s[self.i..]
                    .iter()
                    .position(|&c| c == ';')
                    .expect("entity end")
                    + self.i;
                let ent: String = self.s[self.i + 1..semi].iter().collect();
                let d = match ent.as_str() {
                    "amp" => '&',
                    "lt" => '<',
                    "gt" => '>',
                    "quot" => '"',
                    "apos" => '\'',
                    e if e.starts_with("#x") => {
                        char::from_u32(u32::from_str_radix(&e[2..], 16).unwrap()).unwrap()
                    }
                    e if e.starts_with('#') => char::from_u32(e[1..].parse().unwrap()).unwrap(),
                    e => panic!("unknown entity &{e};"),
                };
                assert!(
                    xml_char_ok(d),
                    "a character reference to a forbidden character"
                );
                out.push(d);
                self.i = semi + 1;
            } else {
                out.push(c);
                self.i += 1;
            }
        }
        out
    }
    fn element(&mut self) -> El {
        assert!(self.eat("<"));
        let name = self.name();
        let mut attrs = Vec::new();
        loop {
            self.ws();
            if self.eat("/>") {
                return El {
                    name,
                    attrs,
                    children: vec![],
                    text: String::new(),
                };
            }
            if self.eat(">") {
                break;
            }
            let k = self.name();
            assert!(self.eat("=\""), "attribute {k} not in double quotes");
            let v = self.chars_until('"');
            assert!(self.eat("\""));
            assert!(!attrs.iter().any(|(n, _)| *n == k), "attribute {k} twice");
            attrs.push((k, v));
        }
        let mut children = Vec::new();
        let mut text = String::new();
        loop {
            text.push_str(&self.chars_until('<'));
            if self.eat("</") {
                let close = self.name();
                assert_eq!(close, name, "</{close}> closes <{name}>");
                self.ws();
                assert!(self.eat(">"));
                return El {
                    name,
                    attrs,
                    children,
                    text,
                };
            }
            assert!(!self.eat("<!"), "no comments or CDATA expected");
            children.push(self.element());
        }
    }
}

fn parse_xml(doc: &str) -> El {
    let chars: Vec<char> = doc.chars().collect();
    let mut p = P { s: &chars, i: 0 };
    assert!(
        p.eat("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
        "the XML declaration"
    );
    p.ws();
    let root = p.element();
    p.ws();
    assert_eq!(p.i, chars.len(), "only whitespace after the root element");
    root
}

#[test]
fn json_round_trips() {
    let r = sample();
    let bytes = report::json(&r);
    let text = std::str::from_utf8(&bytes).unwrap();
    assert!(text.starts_with("{\n  \"suite\""), "pretty JSON");
    let back: Report = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(format!("{back:?}"), format!("{r:?}"));
    assert!(text.contains("\"outcome\": \"fail\"") && text.contains("\"level\": \"MUST\""));
}

#[test]
fn json_of_a_non_finite_duration_reads_back() {
    let mut r = sample();
    r.seconds = f64::NAN;
    let back: Report = serde_json::from_slice(&report::json(&r)).unwrap();
    assert_eq!(back.seconds, 0.0);
}

#[test]
fn junit_is_well_formed_and_counts_right() {
    let r = sample();
    let x = report::junit(&r);
    assert!(!x.contains('\u{0}') && !x.contains('\u{1b}') && !x.contains('\u{9b}'));
    assert!(!x.contains("</failure><script>"));
    let root = parse_xml(&x);
    assert_eq!(root.name, "testsuites");
    assert_eq!(
        [
            root.attr("tests"),
            root.attr("failures"),
            root.attr("errors"),
            root.attr("skipped")
        ],
        ["13", "3", "1", "4"]
    );
    let suites = root.all("testsuite");
    let names: Vec<&str> = suites.iter().map(|s| s.attr("name")).collect();
    assert_eq!(names, ["bron", "bemiddelaar", "grpc", "payload"]);
    // [tests, failures, errors, skipped] per suite:
    // bron: pass, fail, xfail, xpass, pass; bemiddelaar: error, skip, pass;
    // grpc: pass, omit, xfail (error); payload: fail, pass
    let want = [[5, 2, 0, 1], [3, 0, 1, 1], [3, 0, 0, 2], [2, 1, 0, 0]];
    for (s, w) in suites.iter().zip(want) {
        let got =
            ["tests", "failures", "errors", "skipped"].map(|k| s.attr(k).parse::<usize>().unwrap());
        assert_eq!(got, w, "counts of {}", s.attr("name"));
        // the attributes agree with the children
        let cases = s.all("testcase");
        assert_eq!(cases.len(), w[0]);
        let with = |n: &str| cases.iter().filter(|c| !c.all(n).is_empty()).count();
        assert_eq!(
            [with("failure"), with("error"), with("skipped")],
            [w[1], w[2], w[3]]
        );
        let t: f64 = s.attr("time").parse().unwrap();
        assert!((t - 0.017 * w[0] as f64).abs() < 1e-9);
    }
    assert_eq!(
        suites[0].all("properties")[0].all("property")[1].attr("value"),
        "https://bron.example.nl:8443/vum/v1"
    );

    let case = |id: &str| -> &El {
        suites
            .iter()
            .flat_map(|s| s.all("testcase"))
            .find(|c| c.attr("name").starts_with(id))
            .unwrap()
    };
    let c = case("BRON-SEL-012");
    assert_eq!(
        c.attr("name"),
        "BRON-SEL-012 A selection with an unknown code list value is refused with 400"
    );
    assert_eq!(c.attr("classname"), "vum.bron.selection");
    assert_eq!(c.attr("time"), "0.017");
    let f = &c.all("failure")[0];
    // the hostile text reads back as text: markup and quotes intact, NUL and ESC as escapes, CR kept
    let hostile_read = "</failure><script>alert(1)</script>&\"' \\x00\\x1b[2J\\x1b]0;owned\\x07 \\x9b31m \\u{202e}txt\r\nend";
    assert_eq!(f.attr("message"), hostile_read);
    assert!(f.text.contains(hostile_read));
    assert!(f
        .text
        .contains("GET https://bron.example.nl:8443/selecties?opleiding=XX"));
    assert!(
        f.text.contains("evidence 2 of 2")
            && f.text.contains("expected:\n400 with a problem document")
    );

    assert!(case("BRON-SEL-013").all("skipped")[0]
        .attr("message")
        .starts_with("expected failure: page 9"));
    assert_eq!(
        case("BRON-DET-004").all("failure")[0].attr("message"),
        "expected to fail, passed: remove it from the expected-failures file"
    );
    assert!(case("BEM-SEL-002").all("error")[0]
        .attr("message")
        .contains("connection refused"));
    assert!(case("BEM-PRT-001").all("skipped")[0]
        .attr("message")
        .contains("no party list"));
    assert!(case("GRPC-TLS-003").all("skipped")[0]
        .attr("message")
        .starts_with("omit"));
    assert!(case("GRPC-TLS-004").all("skipped")[0]
        .attr("message")
        .starts_with("expected failure: fixture"));
    assert!(case("BRON-SEL-001").children.is_empty());
}

#[test]
fn junit_of_an_empty_report_is_well_formed() {
    let r = Report {
        suite: "s".into(),
        started: "t".into(),
        seconds: 0.0,
        targets: vec![],
        results: vec![],
    };
    let root = parse_xml(&report::junit(&r));
    assert_eq!(root.attr("tests"), "0");
    assert!(root.children.is_empty());
}

// ---------------------------------------------------------------------------------------------
// HTML
// ---------------------------------------------------------------------------------------------

/// The tags of an HTML page (outside `<style>` and `<script>`), checked balanced; returns every
/// start tag's text.
fn html_tags(h: &str) -> Vec<String> {
    const VOID: [&str; 5] = ["meta", "input", "br", "hr", "col"];
    let mut stack: Vec<String> = Vec::new();
    let mut tags = Vec::new();
    let mut rest = h;
    while let Some(at) = rest.find('<') {
        let after = &rest[at + 1..];
        let end = after.find('>').expect("an unclosed tag");
        let tag = &after[..end];
        assert!(!tag.contains('<'), "a < inside a tag: {tag}");
        rest = &after[end + 1..];
        if tag.starts_with('!') {
            continue;
        }
        if let Some(close) = tag.strip_prefix('/') {
            assert_eq!(
                stack.pop().as_deref(),
                Some(close),
                "</{close}> out of place"
            );
            continue;
        }
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        let name = name.to_ascii_lowercase();
        tags.push(tag.to_string());
        if name == "style" || name == "script" {
            let close = format!("</{name}>");
            let e = rest.find(&close).expect("raw text closed");
            rest = &rest[e + close.len()..];
            continue;
        }
        if !VOID.contains(&name.as_str()) {
            stack.push(name);
        }
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    tags
}

#[test]
fn html_is_self_contained_and_escapes() {
    let r = sample();
    let h = report::html(&r);
    assert!(h.starts_with("<!DOCTYPE html>"));
    assert!(h.contains("<meta name=\"viewport\""));
    assert!(h.contains("@media print"));
    let tags = html_tags(&h);

    // nothing from elsewhere
    for t in &tags {
        let lower = t.to_ascii_lowercase();
        assert!(
            !lower.starts_with("link") && !lower.starts_with("iframe") && !lower.starts_with("img"),
            "{t}"
        );
        assert!(!lower.contains(" src="), "{t}");
        if let Some(i) = lower.find("href=") {
            assert!(lower[i..].starts_with("href=\"#"), "an external href: {t}");
        }
        if lower.starts_with("script") {
            assert_eq!(lower, "script", "an inline script only");
        }
        assert!(
            !lower.contains("http://") && !lower.contains("https://")
                || lower.starts_with("meta http-equiv"),
            "{t}"
        );
    }
    assert!(!h.contains("url(") && !h.contains("@import") && !h.contains("@font-face"));
    assert_eq!(h.matches("<script").count(), 1);
    assert!(h.contains("Content-Security-Policy\" content=\"default-src 'none'"));

    // the hostile string is escaped, its control characters visible
    assert!(!h.contains("</failure><script>"));
    assert!(
        !h.contains('\u{0}')
            && !h.contains('\u{1b}')
            && !h.contains('\u{9b}')
            && !h.contains('\u{202e}')
    );
    assert!(h.contains("&lt;/failure&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;&#39;"));
    assert!(h.contains("<span class=ctl>\\x1b</span>[2J"));

    // the verdict, the summary and the MUST failures
    assert!(h.contains("<div class=\"verdict fail\"><strong>FAIL</strong>"));
    assert!(h.contains("MUST requirements not met (3)"));
    assert!(h.contains("href=\"#t-PAY-DOC-001-payload\""));
    assert!(h.contains("Listed as expected failures, but passed (1)"));
    assert!(h.contains("<td>bron</td><td class=\"n\">3</td><td class=\"n\">2</td>"));

    // one table per group, in the catalogue's order
    let groups: Vec<usize> = ["selection", "details", "parties", "tls", "payload"]
        .iter()
        .map(|g| h.find(&format!("<h2>{g}<small>")).unwrap())
        .collect();
    assert!(groups.windows(2).all(|w| w[0] < w[1]));

    // a <details> per result (each has a requirement), evidence in <pre> blocks in its own row
    assert_eq!(h.matches("<details").count(), r.results.len());
    for t in &r.results {
        let start = h
            .find(&format!("<tr id=\"t-{}-{}\"", t.id, t.target.name()))
            .unwrap();
        let row = &h[start..start + h[start..].find("</tr>").unwrap()];
        assert!(row.contains("<details class=\"evd\"><summary>"));
        assert_eq!(
            row.matches("<pre>").count(),
            t.evidence
                .iter()
                .map(|e| [&e.request, &e.response, &e.expected, &e.observed]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .count())
                .sum::<usize>(),
            "{}",
            t.id
        );
        assert!(row.contains("<span class=\"badge b-"));
    }
    assert!(h.contains("<span class=\"badge b-xfail\""));
    assert!(h.contains("<span class=\"badge b-xpass\" title=\"passed, but listed in the expected-failures file\">unexpected pass</span>"));
}

#[test]
fn html_of_a_passing_report() {
    let mut r = sample();
    r.results.retain(|t| {
        matches!(t.outcome, Outcome::Pass | Outcome::Skip | Outcome::Omit) && !t.expected_failure
            || t.id == "BRON-SEL-013"
    });
    assert!(r.passed());
    let h = report::html(&r);
    html_tags(&h);
    assert!(h.contains(
        "<div class=\"verdict pass\"><strong>PASS</strong><span>1 expected failure</span>"
    ));
    assert!(!h.contains("MUST requirements not met"));
}

// ---------------------------------------------------------------------------------------------
// Console and files
// ---------------------------------------------------------------------------------------------

#[test]
fn console_lists_what_did_not_pass_and_escapes() {
    let r = sample();
    let c = report::console(&r);
    assert!(
        !c.chars().any(|ch| ch.is_control() && ch != '\n'),
        "a control character: {c:?}"
    );
    assert!(!c.contains('\u{202e}'));
    assert!(c.contains("\\x1b[2J"));
    let lines: Vec<&str> = c.lines().collect();
    let fail = lines.iter().find(|l| l.contains("BRON-SEL-012")).unwrap();
    assert!(fail.starts_with("FAIL BRON-SEL-012 [bron] A selection with an unknown code list value is refused with 400: </failure><script>"));
    assert!(fail.ends_with("\\r\\nend"));
    assert!(lines
        .iter()
        .any(|l| l.starts_with("XPASS BRON-DET-004 [bron]")
            && l.ends_with("remove it from the expected-failures file")));
    assert!(lines.contains(
        &"ERROR BEM-SEL-002 [bemiddelaar] The mediator face forwards a selection to its sources: \
          connection refused (os error 111)"
    ));
    assert!(lines
        .iter()
        .any(|l| l.starts_with("XFAIL GRPC-TLS-004 [grpc]")));
    assert!(lines
        .iter()
        .any(|l| l.starts_with("SKIP BEM-PRT-001 [bemiddelaar]")));
    assert!(lines
        .iter()
        .any(|l| l.starts_with("OMIT GRPC-TLS-003 [grpc]")));
    assert!(!lines
        .iter()
        .any(|l| l.contains("BRON-SEL-001") || l.contains("PAY-DOC-002")));
    // those that fail the run come last, nearest the verdict
    let pos = |id: &str| lines.iter().position(|l| l.contains(id)).unwrap();
    assert!(pos("BEM-PRT-001") < pos("BRON-SEL-012"));
    assert!(lines.contains(&"13 tests: 6 pass, 3 fail, 2 error, 1 skip, 1 omit"));
    assert!(lines.contains(&"3 MUST requirements not met"));
    assert_eq!(
        *lines.last().unwrap(),
        "verdict: FAIL (2 failures, 1 error, 1 expected failure that passed)"
    );
}

#[test]
fn write_all_writes_three_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a/b");
    let r = sample();
    report::write_all(&r, &out).unwrap();
    let back: Report =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(back.results.len(), r.results.len());
    parse_xml(&std::fs::read_to_string(out.join("junit.xml")).unwrap());
    assert_eq!(
        std::fs::read_to_string(out.join("report.html")).unwrap(),
        report::html(&r)
    );
}

/// Writes the sample report to `$CONFORMANCE_SAMPLE_OUT` (a directory), for
/// `tools/report-screenshot.sh DIR/report.html OUT.png`.
#[test]
#[ignore = "writes files for a person or the screenshot script to look at"]
fn write_sample_report() {
    let dir = std::env::var_os("CONFORMANCE_SAMPLE_OUT").expect("CONFORMANCE_SAMPLE_OUT");
    report::write_all(&sample(), std::path::Path::new(&dir)).unwrap();
    eprintln!("{}", report::console(&sample()));
}
