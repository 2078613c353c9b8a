//! Report writers: JSON, JUnit XML, one self-contained HTML page and a console summary.
//!
//! Every writer reads only the result model ([`crate::model`]). Evidence holds whatever a node
//! under test sent back, so every writer treats all text as hostile:
//!
//! * JUnit XML escapes `&`, `<`, `>`, `"` and `'`, and never writes a character XML 1.0 forbids;
//! * HTML escapes the same five characters, so evidence cannot open a tag or leave an attribute,
//!   and the page carries a Content-Security-Policy that loads nothing from anywhere and runs only
//!   its own inline script (by hash);
//! * the console never writes a control character a terminal would act on.
//!
//! Characters that are unsafe or invisible (C0 and C1 controls other than tab and newline,
//! DEL, the bidirectional overrides, the non-characters U+FFFE and U+FFFF) are shown in every
//! format as visible escapes: `\x1b`, `\u{202e}`. A carriage return is kept in XML (as `&#13;`)
//! and escaped everywhere else.
//!
//! How a result counts, in every format:
//!
//! | outcome        | listed as expected failure | counts as                          |
//! |----------------|----------------------------|------------------------------------|
//! | pass           | no                         | pass                               |
//! | pass           | yes                        | failure: the list drifted (XPASS)  |
//! | fail / error   | no                         | failure / error                    |
//! | fail / error   | yes                        | expected failure (XFAIL), not run-failing |
//! | skip / omit    | either                     | skipped                            |
use std::fmt::Write as _;
use std::path::Path;

use crate::model::{Evidence, Level, Outcome, Report, TargetKind, TestResult};

/// What one result means for the run (the table in the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Pass,
    Fail,
    Error,
    Skip,
    Omit,
    /// a listed expected failure that failed or erred
    XFail,
    /// a listed expected failure that passed: the expected-failures file drifted
    XPass,
}

impl Class {
    fn of(t: &TestResult) -> Class {
        match (t.outcome, t.expected_failure) {
            (Outcome::Pass, false) => Class::Pass,
            (Outcome::Pass, true) => Class::XPass,
            (Outcome::Fail | Outcome::Error, true) => Class::XFail,
            (Outcome::Fail, false) => Class::Fail,
            (Outcome::Error, false) => Class::Error,
            (Outcome::Skip, _) => Class::Skip,
            (Outcome::Omit, _) => Class::Omit,
        }
    }

    /// Whether it makes the run fail (agrees with [`Report::passed`]).
    fn fails_run(self) -> bool {
        matches!(self, Class::Fail | Class::Error | Class::XPass)
    }

    /// The console label.
    fn label(self) -> &'static str {
        match self {
            Class::Pass => "PASS",
            Class::Fail => "FAIL",
            Class::Error => "ERROR",
            Class::Skip => "SKIP",
            Class::Omit => "OMIT",
            Class::XFail => "XFAIL",
            Class::XPass => "XPASS",
        }
    }
}

const DRIFT: &str = "expected to fail, passed: remove it from the expected-failures file";

fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "pass",
        Outcome::Fail => "fail",
        Outcome::Skip => "skip",
        Outcome::Omit => "omit",
        Outcome::Error => "error",
    }
}

fn level_name(l: Level) -> &'static str {
    match l {
        Level::Must => "MUST",
        Level::Should => "SHOULD",
    }
}

const OUTCOMES: [Outcome; 5] = [
    Outcome::Pass,
    Outcome::Fail,
    Outcome::Error,
    Outcome::Skip,
    Outcome::Omit,
];

/// The target kinds in the report: those the tester gave, then any other a result names, each
/// once, in order of appearance.
fn kinds(r: &Report) -> Vec<TargetKind> {
    let mut out: Vec<TargetKind> = Vec::new();
    let all = r
        .targets
        .iter()
        .map(|(k, _)| *k)
        .chain(r.results.iter().map(|t| t.target));
    for k in all {
        if !out.contains(&k) {
            out.push(k);
        }
    }
    out
}

/// The groups, in order of first appearance (the catalogue's order).
fn groups(r: &Report) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for t in &r.results {
        if !out.contains(&t.group.as_str()) {
            out.push(&t.group);
        }
    }
    out
}

/// A finite, non-negative number of seconds (a hostile or broken clock must not write `NaN`).
fn finite(s: f64) -> f64 {
    if s.is_finite() && s > 0.0 {
        s
    } else {
        0.0
    }
}

// ---------------------------------------------------------------------------------------------
// Escaping
// ---------------------------------------------------------------------------------------------

/// Whether a character is shown as a visible escape rather than written: C0 controls other than
/// tab, newline and carriage return (those are decided per format), DEL, C1 controls, the
/// bidirectional embedding, override and isolate controls, and U+FFFE/U+FFFF.
fn unsafe_char(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        | '\u{fffe}' | '\u{ffff}')
}

/// The visible escape of a character: `\x1b` below U+0100, `\u{202e}` above.
fn visible(c: char, out: &mut String) {
    let n = u32::from(c);
    if n < 0x100 {
        let _ = write!(out, "\\x{n:02x}");
    } else {
        let _ = write!(out, "\\u{{{n:x}}}");
    }
}

/// XML character data or an attribute value (both escaped the same way, tab, newline and
/// carriage return as character references so attribute values keep them).
fn xml(s: &str, attr: bool) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            '\n' if attr => out.push_str("&#10;"),
            '\t' if attr => out.push_str("&#9;"),
            c if unsafe_char(c) => visible(c, &mut out),
            c => out.push(c),
        }
    }
    out
}

/// HTML text or attribute value. In text (`attr == false`) escapes are marked up as
/// `<span class=ctl>` so they stand out from a literal backslash.
fn html_esc(s: &str, attr: bool) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' if attr => out.push(' '),
            '\r' if attr => {}
            c if unsafe_char(c) || c == '\r' => {
                if attr {
                    visible(c, &mut out);
                } else {
                    out.push_str("<span class=ctl>");
                    visible(c, &mut out);
                    out.push_str("</span>");
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// One line of terminal text: every control character (newline and carriage return too) as a
/// visible escape, so a message stays on its line and writes no escape sequence.
fn term(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            c if unsafe_char(c) => visible(c, &mut out),
            c => out.push(c),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------------

/// The report as pretty-printed JSON (the model's serde form; it reads back with
/// `serde_json::from_slice::<Report>`).
///
/// A non-finite `seconds` would be written as `null` by serde_json and not read back, so it is
/// written as `0`.
pub fn json(r: &Report) -> Vec<u8> {
    let fixed;
    let r = if r.seconds.is_finite() {
        r
    } else {
        fixed = Report {
            seconds: 0.0,
            ..r.clone()
        };
        &fixed
    };
    // The model has string keys only and derived Serialize impls: serialising cannot fail.
    match serde_json::to_vec_pretty(r) {
        Ok(mut v) => {
            v.push(b'\n');
            v
        }
        Err(e) => format!("{{\"error\": {:?}}}\n", e.to_string()).into_bytes(),
    }
}

// ---------------------------------------------------------------------------------------------
// JUnit XML
// ---------------------------------------------------------------------------------------------

/// Counts for a `<testsuite>` or `<testsuites>` element, as JUnit readers count them.
#[derive(Default)]
struct JCounts {
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
    millis: u64,
}

impl JCounts {
    fn add(&mut self, t: &TestResult) {
        self.tests += 1;
        self.millis = self.millis.saturating_add(t.millis);
        match Class::of(t) {
            Class::Pass => {}
            Class::Fail | Class::XPass => self.failures += 1,
            Class::Error => self.errors += 1,
            Class::Skip | Class::Omit | Class::XFail => self.skipped += 1,
        }
    }

    fn attrs(&self) -> String {
        format!(
            "tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\"",
            self.tests,
            self.failures,
            self.errors,
            self.skipped,
            self.millis as f64 / 1000.0
        )
    }
}

/// The body of a `<failure>` or `<error>`: the message, the requirement and the evidence.
fn evidence_text(t: &TestResult) -> String {
    let mut s = String::new();
    if !t.message.is_empty() {
        let _ = writeln!(s, "{}", t.message);
    }
    let _ = writeln!(
        s,
        "requirement ({}): {}",
        level_name(t.level),
        t.requirement
    );
    for (i, e) in t.evidence.iter().enumerate() {
        let _ = writeln!(s, "\n--- evidence {} of {} ---", i + 1, t.evidence.len());
        for (name, v) in evidence_fields(e) {
            if !v.is_empty() {
                let _ = writeln!(s, "{name}:\n{v}");
            }
        }
    }
    s
}

fn evidence_fields(e: &Evidence) -> [(&'static str, &str); 4] {
    [
        ("request", &e.request),
        ("response", &e.response),
        ("expected", &e.expected),
        ("observed", &e.observed),
    ]
}

/// The report as JUnit XML, as Jenkins and GitLab read it.
///
/// One `<testsuite>` per target kind (named after it, with the tester's targets as
/// `<property name="target">`), one `<testcase name="ID title" classname="vum.TARGET.GROUP">` per
/// result. A failure is a `<failure>`, an error an `<error>` (both carry the message as the
/// `message` attribute and the requirement and evidence as text); skip and omit are
/// `<skipped>`; a listed expected failure is `<skipped message="expected failure: ...">`, and a
/// listed one that passed is a `<failure>` (the expected-failures file drifted).
pub fn junit(r: &Report) -> String {
    let mut total = JCounts::default();
    r.results.iter().for_each(|t| total.add(t));
    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"{}\" {} timestamp=\"{}\">",
        xml(&r.suite, true),
        JCounts {
            millis: (finite(r.seconds) * 1000.0) as u64,
            ..total
        }
        .attrs(),
        xml(&r.started, true)
    );
    for kind in kinds(r) {
        let mut c = JCounts::default();
        let results: Vec<&TestResult> = r.results.iter().filter(|t| t.target == kind).collect();
        results.iter().for_each(|t| c.add(t));
        let _ = writeln!(
            x,
            "  <testsuite name=\"{}\" package=\"vum.{}\" {} timestamp=\"{}\">",
            kind.name(),
            kind.name(),
            c.attrs(),
            xml(&r.started, true)
        );
        x.push_str("    <properties>\n");
        let _ = writeln!(
            x,
            "      <property name=\"suite\" value=\"{}\"/>",
            xml(&r.suite, true)
        );
        for (_, target) in r.targets.iter().filter(|(k, _)| *k == kind) {
            let _ = writeln!(
                x,
                "      <property name=\"target\" value=\"{}\"/>",
                xml(target, true)
            );
        }
        x.push_str("    </properties>\n");
        for t in results {
            junit_case(&mut x, t);
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}

fn junit_case(x: &mut String, t: &TestResult) {
    let _ = write!(
        x,
        "    <testcase name=\"{} {}\" classname=\"vum.{}.{}\" time=\"{:.3}\"",
        xml(&t.id, true),
        xml(&t.title, true),
        t.target.name(),
        xml(&t.group, true),
        t.millis as f64 / 1000.0
    );
    let level = level_name(t.level);
    match Class::of(t) {
        Class::Pass => x.push_str("/>\n"),
        Class::XPass => {
            let _ = writeln!(
                x,
                ">\n      <failure message=\"{DRIFT}\" type=\"expected-failure-passed\">{}</failure>\n    </testcase>",
                xml(&evidence_text(t), false)
            );
        }
        Class::Fail => {
            let _ = writeln!(
                x,
                ">\n      <failure message=\"{}\" type=\"{level}\">{}</failure>\n    </testcase>",
                xml(&t.message, true),
                xml(&evidence_text(t), false)
            );
        }
        Class::Error => {
            let _ = writeln!(
                x,
                ">\n      <error message=\"{}\" type=\"{level}\">{}</error>\n    </testcase>",
                xml(&t.message, true),
                xml(&evidence_text(t), false)
            );
        }
        Class::XFail => {
            let _ = writeln!(
                x,
                ">\n      <skipped message=\"expected failure: {}\">{}</skipped>\n    </testcase>",
                xml(&t.message, true),
                xml(&evidence_text(t), false)
            );
        }
        Class::Skip | Class::Omit => {
            let _ = writeln!(
                x,
                ">\n      <skipped message=\"{}{}{}\"/>\n    </testcase>",
                outcome_name(t.outcome),
                if t.message.is_empty() { "" } else { ": " },
                xml(&t.message, true)
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Console
// ---------------------------------------------------------------------------------------------

/// A plain-text summary for a terminal.
///
/// A heading line; one line per result that did not simply pass (`FAIL BRON-SEL-012 [bron]
/// title: message`; labels `FAIL`, `ERROR`, `XPASS` for a listed expected failure that passed,
/// `XFAIL` for a listed one that failed, `SKIP`, `OMIT`), those that fail the run last; then the
/// counts per outcome and the verdict. All text from the model is escaped, so a
/// node's answer can neither break a line nor write a terminal escape sequence.
pub fn console(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} — started {} — {} tests in {:.1} s",
        term(&r.suite),
        term(&r.started),
        r.results.len(),
        finite(r.seconds)
    );
    for (kind, target) in &r.targets {
        let _ = writeln!(s, "  target {}: {}", kind.name(), term(target));
    }
    let line = |s: &mut String, t: &TestResult, c: Class| {
        let message = if c == Class::XPass { DRIFT } else { &t.message };
        let _ = writeln!(
            s,
            "{} {} [{}] {}: {}",
            c.label(),
            term(&t.id),
            t.target.name(),
            term(&t.title),
            term(message)
        );
    };
    let mut any = false;
    for pass in [false, true] {
        for t in &r.results {
            let c = Class::of(t);
            if c != Class::Pass && c.fails_run() == pass {
                if !any {
                    s.push('\n');
                    any = true;
                }
                line(&mut s, t, c);
            }
        }
    }
    s.push('\n');
    let counts: Vec<String> = OUTCOMES
        .iter()
        .map(|&o| format!("{} {}", r.count(o), outcome_name(o)))
        .collect();
    let _ = writeln!(s, "{} tests: {}", r.results.len(), counts.join(", "));
    let v = Verdict::of(r);
    if v.xfail > 0 {
        let _ = writeln!(
            s,
            "{} expected failure{} (listed in the expected-failures file)",
            v.xfail,
            plural(v.xfail)
        );
    }
    if v.must > 0 {
        let _ = writeln!(s, "{} MUST requirement{} not met", v.must, plural(v.must));
    }
    let _ = writeln!(s, "verdict: {}", v.line(r.passed()));
    s
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// What decides the verdict, for the console and the HTML header.
struct Verdict {
    fail: usize,
    error: usize,
    xpass: usize,
    xfail: usize,
    /// MUST tests that failed or erred outside the expected-failures file
    must: usize,
}

impl Verdict {
    fn of(r: &Report) -> Verdict {
        let mut v = Verdict {
            fail: 0,
            error: 0,
            xpass: 0,
            xfail: 0,
            must: 0,
        };
        for t in &r.results {
            match Class::of(t) {
                Class::Fail => v.fail += 1,
                Class::Error => v.error += 1,
                Class::XPass => v.xpass += 1,
                Class::XFail => v.xfail += 1,
                _ => {}
            }
            if is_must_failure(t) {
                v.must += 1;
            }
        }
        v
    }

    fn line(&self, passed: bool) -> String {
        if passed {
            return "PASS".to_string();
        }
        let mut why = Vec::new();
        if self.fail > 0 {
            why.push(format!("{} failure{}", self.fail, plural(self.fail)));
        }
        if self.error > 0 {
            why.push(format!("{} error{}", self.error, plural(self.error)));
        }
        if self.xpass > 0 {
            why.push(format!(
                "{} expected failure{} that passed",
                self.xpass,
                plural(self.xpass)
            ));
        }
        format!("FAIL ({})", why.join(", "))
    }
}

fn is_must_failure(t: &TestResult) -> bool {
    t.level == Level::Must && matches!(Class::of(t), Class::Fail | Class::Error)
}

// ---------------------------------------------------------------------------------------------
// HTML
// ---------------------------------------------------------------------------------------------

const CSS: &str = r#"
:root{--fg:#1d2330;--muted:#5b6577;--line:#dde2ea;--bg:#fff;--soft:#f5f7fa;
--pass:#0b6b35;--pass-bg:#e3f4e9;--fail:#a3121b;--fail-bg:#fde7e8;--error:#8a4600;--error-bg:#fff0dc;
--skip:#3f4a5a;--skip-bg:#eceff3;--xfail:#2f3d93;--xfail-bg:#e6e9f8}
*{box-sizing:border-box}
html{color-scheme:light}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1240px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:22px;margin:0 0 2px;font-weight:650;letter-spacing:-.01em}
h2{font-size:17px;margin:32px 0 10px;font-weight:650}
h2 small{font-weight:400;color:var(--muted);font-size:13px;margin-left:8px}
header{display:flex;gap:24px;align-items:flex-start;justify-content:space-between;border-bottom:1px solid var(--line);padding-bottom:16px}
.meta{color:var(--muted);font-size:13.5px;margin:2px 0}
.meta code{color:var(--fg)}
.targets{margin:6px 0 0;padding:0;list-style:none;font-size:13.5px}
.targets li{margin:1px 0}
.targets b{display:inline-block;min-width:96px;font-weight:600}
.verdict{flex:none;text-align:center;border-radius:10px;padding:10px 22px;min-width:150px}
.verdict strong{display:block;font-size:28px;letter-spacing:.06em;line-height:1.2}
.verdict span{font-size:12.5px}
.verdict.pass{background:var(--pass-bg);color:var(--pass);border:1px solid #9fd3b2}
.verdict.fail{background:var(--fail-bg);color:var(--fail);border:1px solid #f0a6aa}
table{border-collapse:collapse;width:100%;font-size:14px}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:12px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted);font-weight:600;background:var(--soft)}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
tr.total td{font-weight:600;border-top:2px solid var(--line)}
td.z{color:#b3bac6}
.summary{max-width:860px}
code,pre,.id{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:12.5px}
.id{white-space:nowrap}
.badge{display:inline-block;border-radius:999px;padding:1px 9px;font-size:12px;font-weight:600;white-space:nowrap;line-height:1.6}
.b-pass{background:var(--pass-bg);color:var(--pass)}
.b-fail,.b-xpass{background:var(--fail-bg);color:var(--fail)}
.b-error{background:var(--error-bg);color:var(--error)}
.b-skip,.b-omit{background:var(--skip-bg);color:var(--skip)}
.b-xfail{background:var(--xfail-bg);color:var(--xfail)}
.lvl{font-size:12px;font-weight:600;color:var(--muted)}
.lvl.must{color:var(--fg)}
.callout{border:1px solid #f0a6aa;background:#fff8f8;border-radius:8px;padding:10px 16px;margin:18px 0 0}
.callout.drift{border-color:#c9cff0;background:#f7f8fe}
.callout h3{margin:2px 0 6px;font-size:14.5px}
.callout ul{margin:0;padding-left:18px;font-size:14px}
.callout a{color:inherit}
tr.r-fail td,tr.r-error td,tr.r-xpass td{background:#fffafa}
table.results{table-layout:fixed}
td.msg{word-break:break-word}
td.t{white-space:nowrap}
col.c-id{width:124px}col.c-title{width:22%}col.c-lvl{width:66px}col.c-tgt{width:100px}col.c-out{width:128px}col.c-t{width:60px}
details summary{cursor:pointer;color:var(--fg)}
details summary::marker{color:var(--muted)}
details[open] summary{margin-bottom:6px}
.ev{border-left:3px solid var(--line);padding:2px 0 2px 10px;margin:6px 0}
.ev h4{margin:6px 0 2px;font-size:11.5px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted)}
.req{font-size:13px;color:var(--muted);margin:0 0 4px}
pre{margin:0 0 6px;padding:7px 9px;background:var(--soft);border:1px solid var(--line);border-radius:5px;white-space:pre-wrap;word-break:break-all;max-height:340px;overflow:auto}
.ctl{color:var(--fail);background:var(--fail-bg);border-radius:3px}
.tools{margin:18px 0 0;font-size:13.5px;color:var(--muted);display:flex;gap:16px;align-items:center}
.tools button{font:inherit;font-size:13px;border:1px solid var(--line);background:var(--soft);border-radius:6px;padding:2px 10px;cursor:pointer}
body.only-bad tr.r-pass{display:none}
footer{margin-top:36px;color:var(--muted);font-size:12.5px}
@media print{
body{font-size:10pt}
main{max-width:none;padding:0}
.tools{display:none}
table{font-size:9pt}
tr{break-inside:avoid}
h2{break-after:avoid}
pre{max-height:none;overflow:visible}
.verdict,.badge,.callout{print-color-adjust:exact;-webkit-print-color-adjust:exact}
}
"#;

/// The page's only script: the "only non-passing" filter and expand/collapse buttons. The page
/// works without it (the toolbar stays hidden).
const SCRIPT: &str = r#"(function(){var t=document.getElementById("tools");if(!t)return;t.hidden=false;
document.getElementById("only-bad").addEventListener("change",function(e){document.body.classList.toggle("only-bad",e.target.checked)});
function all(o){document.querySelectorAll("details.evd").forEach(function(d){d.open=o})}
document.getElementById("open-all").addEventListener("click",function(){all(true)});
document.getElementById("close-all").addEventListener("click",function(){all(false)});})();"#;

/// `'sha256-...'` of the script, for the Content-Security-Policy, with the SHA-256 that rustls'
/// ring provider carries; `None` if it does not (the page then runs no script).
fn script_hash() -> Option<String> {
    let suite = rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256.tls13()?;
    let digest = suite.common.hash_provider.hash(SCRIPT.as_bytes());
    Some(format!("'sha256-{}'", base64(digest.as_ref())))
}

fn base64(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(b.len().div_ceil(3) * 4);
    for chunk in b.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &v)| n | u32::from(v) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(char::from(A[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// An id for a result's row, for the links from the MUST-failure list.
fn row_id(t: &TestResult) -> String {
    let raw = format!("t-{}-{}", t.id, t.target.name());
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn badge(t: &TestResult) -> String {
    let (class, text) = match Class::of(t) {
        Class::Pass => ("pass", "pass"),
        Class::Fail => ("fail", "fail"),
        Class::Error => ("error", "error"),
        Class::Skip => ("skip", "skip"),
        Class::Omit => ("omit", "omit"),
        Class::XFail => ("xfail", "expected failure"),
        Class::XPass => ("xpass", "unexpected pass"),
    };
    let title = match Class::of(t) {
        Class::XFail => format!(
            " title=\"{}, listed in the expected-failures file\"",
            outcome_name(t.outcome)
        ),
        Class::XPass => " title=\"passed, but listed in the expected-failures file\"".to_string(),
        _ => String::new(),
    };
    format!("<span class=\"badge b-{class}\"{title}>{text}</span>")
}

/// The report as one self-contained HTML page.
///
/// A header with the suite, start time, duration, targets and the verdict
/// ([`Report::passed`]); a summary of counts per outcome and target, the MUST requirements not
/// met and any expected failures that passed; then one table per group with each result's id,
/// title, level, target, outcome and message, its requirement and evidence folded in a
/// `<details>`. Nothing is loaded from anywhere: inline CSS, one small inline script (allowed by
/// hash in the page's Content-Security-Policy, and not needed to read the page), no fonts, no
/// images. All text is escaped.
pub fn html(r: &Report) -> String {
    let passed = r.passed();
    let v = Verdict::of(r);
    let hash = script_hash();
    let mut h = String::with_capacity(16 * 1024 + r.results.len() * 1024);
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(
        h,
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src {}; img-src data:; base-uri 'none'; form-action 'none'\">",
        hash.as_deref().unwrap_or("'none'")
    );
    h.push_str("<meta name=\"referrer\" content=\"no-referrer\">\n");
    let _ = writeln!(
        h,
        "<title>{} {} — {}</title>",
        if passed { "PASS" } else { "FAIL" },
        html_esc(&r.suite, false),
        html_esc(&r.started, false)
    );
    let _ = writeln!(h, "<style>{CSS}</style>\n</head>\n<body>\n<main>");

    // header
    h.push_str("<header>\n<div>\n");
    let _ = writeln!(h, "<h1>{}</h1>", html_esc(&r.suite, false));
    let _ = writeln!(
        h,
        "<p class=\"meta\">Started <code>{}</code> · {:.1} s · {} results</p>",
        html_esc(&r.started, false),
        finite(r.seconds),
        r.results.len()
    );
    if !r.targets.is_empty() {
        h.push_str("<ul class=\"targets\">\n");
        for (kind, target) in &r.targets {
            let _ = writeln!(
                h,
                "<li><b>{}</b> <code>{}</code></li>",
                kind.name(),
                html_esc(target, false)
            );
        }
        h.push_str("</ul>\n");
    }
    h.push_str("</div>\n");
    let detail = if passed {
        if v.xfail > 0 {
            format!("{} expected failure{}", v.xfail, plural(v.xfail))
        } else {
            "every requirement tested is met".to_string()
        }
    } else {
        v.line(false)
            .trim_start_matches("FAIL (")
            .trim_end_matches(')')
            .to_string()
    };
    let _ = writeln!(
        h,
        "<div class=\"verdict {}\"><strong>{}</strong><span>{}</span></div>\n</header>",
        if passed { "pass" } else { "fail" },
        if passed { "PASS" } else { "FAIL" },
        html_esc(&detail, false)
    );

    // summary
    html_summary(&mut h, r);
    html_callouts(&mut h, r, &v);

    // toolbar (shown by the script)
    h.push_str("<div class=\"tools\" id=\"tools\" hidden><label><input type=\"checkbox\" id=\"only-bad\"> only results that did not pass</label><button type=\"button\" id=\"open-all\">expand all</button><button type=\"button\" id=\"close-all\">collapse all</button></div>\n");

    // per group
    for g in groups(r) {
        let rows: Vec<&TestResult> = r.results.iter().filter(|t| t.group == g).collect();
        let bad = rows.iter().filter(|t| Class::of(t).fails_run()).count();
        let _ = writeln!(
            h,
            "<section>\n<h2>{}<small>{} result{}{}</small></h2>",
            html_esc(g, false),
            rows.len(),
            plural(rows.len()),
            if bad > 0 {
                format!(" · {bad} not met")
            } else {
                String::new()
            }
        );
        h.push_str("<table class=\"results\">\n<colgroup><col class=\"c-id\"><col class=\"c-title\"><col class=\"c-lvl\"><col class=\"c-tgt\"><col class=\"c-out\"><col><col class=\"c-t\"></colgroup>\n<thead><tr><th>Id</th><th>Title</th><th>Level</th><th>Target</th><th>Outcome</th><th>Message</th><th class=\"n\">Time</th></tr></thead>\n<tbody>\n");
        for t in rows {
            html_row(&mut h, t);
        }
        h.push_str("</tbody>\n</table>\n</section>\n");
    }

    let _ = writeln!(
        h,
        "<footer>Written by the matchgate conformance suite. Evidence is shown as the node under test sent it; control characters appear as <code>\\x..</code> escapes.</footer>\n</main>"
    );
    if hash.is_some() {
        let _ = writeln!(h, "<script>{SCRIPT}</script>");
    }
    h.push_str("</body>\n</html>\n");
    h
}

fn html_summary(h: &mut String, r: &Report) {
    h.push_str("<h2>Summary</h2>\n<table class=\"summary\">\n<thead><tr><th>Target</th>");
    for o in OUTCOMES {
        let _ = write!(h, "<th class=\"n\">{}</th>", outcome_name(o));
    }
    h.push_str("<th class=\"n\">expected failures</th><th class=\"n\">MUST not met</th><th class=\"n\">total</th></tr></thead>\n<tbody>\n");
    let row = |h: &mut String, name: &str, rs: &[&TestResult], class: &str| {
        let _ = write!(h, "<tr{class}><td>{name}</td>");
        let mut cells: Vec<usize> = OUTCOMES
            .iter()
            .map(|&o| rs.iter().filter(|t| t.outcome == o).count())
            .collect();
        cells.push(rs.iter().filter(|t| Class::of(t) == Class::XFail).count());
        cells.push(rs.iter().filter(|t| is_must_failure(t)).count());
        cells.push(rs.len());
        for n in cells {
            let z = if n == 0 { " z" } else { "" };
            let _ = write!(h, "<td class=\"n{z}\">{n}</td>");
        }
        h.push_str("</tr>\n");
    };
    let kinds = kinds(r);
    for &kind in &kinds {
        let rs: Vec<&TestResult> = r.results.iter().filter(|t| t.target == kind).collect();
        row(h, kind.name(), &rs, "");
    }
    if kinds.len() != 1 {
        let rs: Vec<&TestResult> = r.results.iter().collect();
        row(h, "all", &rs, " class=\"total\"");
    }
    h.push_str("</tbody>\n</table>\n");
}

fn html_callouts(h: &mut String, r: &Report, v: &Verdict) {
    let link = |h: &mut String, t: &TestResult| {
        let _ = writeln!(
            h,
            "<li><a href=\"#{}\"><span class=\"id\">{}</span></a> [{}] {}{}{}</li>",
            row_id(t),
            html_esc(&t.id, false),
            t.target.name(),
            html_esc(&t.title, false),
            if t.message.is_empty() { "" } else { ": " },
            html_esc(&t.message, false)
        );
    };
    if v.must > 0 {
        let _ = writeln!(
            h,
            "<div class=\"callout\"><h3>MUST requirements not met ({})</h3><ul>",
            v.must
        );
        for t in r.results.iter().filter(|t| is_must_failure(t)) {
            link(h, t);
        }
        h.push_str("</ul></div>\n");
    }
    if v.xpass > 0 {
        let _ = writeln!(
            h,
            "<div class=\"callout drift\"><h3>Listed as expected failures, but passed ({}): remove them from the expected-failures file</h3><ul>",
            v.xpass
        );
        for t in r.results.iter().filter(|t| Class::of(t) == Class::XPass) {
            link(h, t);
        }
        h.push_str("</ul></div>\n");
    }
}

fn html_row(h: &mut String, t: &TestResult) {
    let c = Class::of(t);
    let cls = match c {
        Class::Pass => "pass",
        Class::Fail => "fail",
        Class::Error => "error",
        Class::Skip => "skip",
        Class::Omit => "omit",
        Class::XFail => "xfail",
        Class::XPass => "xpass",
    };
    let level = level_name(t.level);
    let _ = write!(
        h,
        "<tr id=\"{}\" class=\"r-{cls}\"><td class=\"id\">{}</td><td>{}</td><td><span class=\"lvl {}\">{level}</span></td><td>{}</td><td>{}</td><td class=\"msg\">",
        row_id(t),
        html_esc(&t.id, false),
        html_esc(&t.title, false),
        level.to_ascii_lowercase(),
        t.target.name(),
        badge(t)
    );
    let message = match (c, t.message.is_empty()) {
        (Class::XPass, _) => html_esc(DRIFT, false),
        (_, false) => html_esc(&t.message, false),
        (_, true) => String::new(),
    };
    if t.evidence.is_empty() && t.requirement.is_empty() {
        h.push_str(&message);
    } else {
        let summary = if message.is_empty() {
            if t.evidence.is_empty() {
                "requirement".to_string()
            } else {
                format!("evidence ({})", t.evidence.len())
            }
        } else {
            message
        };
        let _ = write!(h, "<details class=\"evd\"><summary>{summary}</summary>");
        if !t.requirement.is_empty() {
            let _ = write!(
                h,
                "<p class=\"req\">{level}: {}</p>",
                html_esc(&t.requirement, false)
            );
        }
        for (i, e) in t.evidence.iter().enumerate() {
            h.push_str("<div class=\"ev\">");
            if t.evidence.len() > 1 {
                let _ = write!(h, "<h4>exchange {} of {}</h4>", i + 1, t.evidence.len());
            }
            for (name, v) in evidence_fields(e) {
                if !v.is_empty() {
                    let _ = write!(h, "<h4>{name}</h4><pre>{}</pre>", html_esc(v, false));
                }
            }
            h.push_str("</div>");
        }
        h.push_str("</details>");
    }
    let _ = writeln!(h, "</td><td class=\"n t\">{} ms</td></tr>", t.millis);
}

// ---------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------

/// Creates `dir` (and its parents) and writes `report.json`, `junit.xml` and `report.html` in
/// it.
pub fn write_all(r: &Report, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("report.json"), json(r))?;
    std::fs::write(dir.join("junit.xml"), junit(r))?;
    std::fs::write(dir.join("report.html"), html(r))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn script_hash_is_sha256() {
        // sha256("abc") is the FIPS 180-2 test vector; check the provider path gives it.
        let suite = rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256
            .tls13()
            .unwrap();
        let d = suite.common.hash_provider.hash(b"abc");
        assert_eq!(
            base64(d.as_ref()),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
        assert!(script_hash().unwrap().starts_with("'sha256-"));
    }

    #[test]
    fn escapes() {
        assert_eq!(
            xml("a<b>&\"'\u{1b}\u{0}\t\n\r", false),
            "a&lt;b&gt;&amp;&quot;&apos;\\x1b\\x00\t\n&#13;"
        );
        assert_eq!(xml("\t\n", true), "&#9;&#10;");
        assert_eq!(
            term("\u{1b}[31m\n\u{9b}\u{202e}"),
            "\\x1b[31m\\n\\x9b\\u{202e}"
        );
        assert_eq!(html_esc("<\u{7}>", true), "&lt;\\x07&gt;");
        assert_eq!(html_esc("\u{7}", false), "<span class=ctl>\\x07</span>");
    }
}
