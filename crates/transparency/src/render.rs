//! The report as CSV, JSON and one self-contained HTML page (inline style and SVG, no script, no
//! external asset; a Content-Security-Policy that forbids them). Every text is escaped: names come
//! from configuration.
use crate::merge::FederationReport;
use crate::publish::{Cell, Counts, Measure, MunicipalityTotal, RegionTotal, Row, TrendRun};
use std::fmt::Write as _;

/// The CSV header.
pub const CSV_HEADER: [&str; 25] = [
    "level",
    "region_code",
    "region_name",
    "municipality_code",
    "municipality_name",
    "organisation_oin",
    "organisation_name",
    "shared",
    "not_shared",
    "total",
    "no_consent",
    "rejected",
    "expired",
    "withdrawn",
    "pct_occupation",
    "pct_hours",
    "pct_availability",
    "pct_education",
    "pct_languages",
    "pct_licence",
    "pct_fresh_0_7",
    "pct_fresh_8_30",
    "pct_fresh_31_60",
    "pct_fresh_61_90",
    "quality_absent",
];

/// One region of the report, in order: its municipalities, each with its rows.
struct RegionBlock<'a> {
    code: &'a str,
    name: &'a str,
    total: Option<&'a RegionTotal>,
    municipalities: Vec<MunBlock<'a>>,
}

struct MunBlock<'a> {
    code: &'a str,
    name: &'a str,
    total: Option<&'a MunicipalityTotal>,
    rows: Vec<&'a Row>,
}

/// Groups rows and totals region → municipality, in the report's order.
fn layout(r: &FederationReport) -> Vec<RegionBlock<'_>> {
    let mut out: Vec<RegionBlock<'_>> = Vec::new();
    fn region<'a, 'b>(
        out: &'b mut Vec<RegionBlock<'a>>,
        code: &'a str,
        name: &'a str,
    ) -> &'b mut RegionBlock<'a> {
        let i = match out.iter().position(|b| b.code == code) {
            Some(i) => i,
            None => {
                out.push(RegionBlock {
                    code,
                    name,
                    total: None,
                    municipalities: Vec::new(),
                });
                out.len() - 1
            }
        };
        &mut out[i]
    }
    fn mun<'a, 'b>(
        b: &'b mut RegionBlock<'a>,
        code: &'a str,
        name: &'a str,
    ) -> &'b mut MunBlock<'a> {
        let i = match b.municipalities.iter().position(|m| m.code == code) {
            Some(i) => i,
            None => {
                b.municipalities.push(MunBlock {
                    code,
                    name,
                    total: None,
                    rows: Vec::new(),
                });
                b.municipalities.len() - 1
            }
        };
        &mut b.municipalities[i]
    }
    for t in &r.regions {
        region(&mut out, &t.region_code, &t.region_name).total = Some(t);
    }
    for m in &r.municipalities {
        let b = region(&mut out, &m.region_code, &m.region_name);
        mun(b, &m.municipality_code, &m.municipality_name).total = Some(m);
    }
    for row in &r.rows {
        let b = region(&mut out, &row.region_code, &row.region_name);
        mun(b, &row.municipality_code, &row.municipality_name)
            .rows
            .push(row);
    }
    out.sort_by(|a, b| crate::geo::region_order(a.code).cmp(&crate::geo::region_order(b.code)));
    out
}

/// Keeps a spreadsheet from reading a text cell as a formula.
fn csv_text(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    }
}

fn counts_fields(c: &Counts) -> Vec<String> {
    Measure::ALL.iter().map(|&m| c.get(m).to_string()).collect()
}

/// The report as CSV: per region, per municipality its organisation rows then its municipality
/// line, then the region line; the national line last. Suppressed cells are `<5`, lower bounds
/// `≥N`; quality percentages only on organisation lines that have them.
pub fn csv(r: &FederationReport) -> String {
    let mut w = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let mut lines: Vec<Vec<String>> = Vec::new();
    let place = |level: &str, rc: &str, rn: &str, mc: &str, mn: &str, oin: &str, on: &str| {
        [level, rc, rn, mc, mn, oin, on]
            .iter()
            .map(|s| csv_text(s))
            .collect::<Vec<String>>()
    };
    for b in layout(r) {
        for m in &b.municipalities {
            for row in &m.rows {
                let mut l = place(
                    "organisation",
                    b.code,
                    b.name,
                    m.code,
                    m.name,
                    &row.organisation.oin,
                    &row.organisation.name,
                );
                l.extend(counts_fields(&row.counts));
                match &row.quality {
                    Some(q) => {
                        l.extend(q.completeness().iter().map(|(_, p)| p.to_string()));
                        l.extend(q.fresh_days.iter().map(|p| p.to_string()));
                        l.push(String::new());
                    }
                    None => {
                        l.extend(std::iter::repeat_n(String::new(), 10));
                        l.push(
                            row.quality_absent
                                .map(|a| a.text())
                                .unwrap_or("")
                                .to_owned(),
                        );
                    }
                }
                lines.push(l);
            }
            if let Some(t) = m.total {
                let mut l = place("municipality", b.code, b.name, m.code, m.name, "", "");
                l.extend(counts_fields(&t.counts));
                l.extend(std::iter::repeat_n(String::new(), 11));
                lines.push(l);
            }
        }
        if let Some(t) = b.total {
            let mut l = place("region", b.code, b.name, "", "", "", "");
            l.extend(counts_fields(&t.counts));
            l.extend(std::iter::repeat_n(String::new(), 11));
            lines.push(l);
        }
    }
    let mut l = place("national", "", "", "", "", "", "");
    l.extend(counts_fields(&r.national));
    l.extend(std::iter::repeat_n(String::new(), 11));
    lines.push(l);

    let mut ok = w.write_record(CSV_HEADER).is_ok();
    for l in &lines {
        ok &= w.write_record(l).is_ok();
    }
    debug_assert!(ok);
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

/// The report as pretty JSON (reads back with [`FederationReport::from_json`]).
pub fn json(r: &FederationReport) -> String {
    serde_json::to_string_pretty(r).unwrap_or_default()
}

/// Escapes text for HTML (element content and quoted attributes; also inside SVG).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `YYYY-MM-DD` (UTC) of ms since the epoch.
fn date(ms: i64) -> String {
    let (y, m, d) = civil(ms.div_euclid(86_400_000));
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DD HH:MM UTC` of ms since the epoch.
fn date_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000).rem_euclid(86_400);
    format!("{} {:02}:{:02} UTC", date(ms), secs / 3600, secs / 60 % 60)
}

/// Days since 1970-01-01 → (year, month, day) (proleptic Gregorian).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn td(c: Cell) -> String {
    let class = match c {
        Cell::Value(_) => "n",
        Cell::Suppressed => "n s",
        Cell::AtLeast(_) => "n lb",
    };
    format!("<td class=\"{class}\">{}</td>", escape(&c.to_string()))
}

/// Shared as a percentage of the total, when both are published exactly.
fn share(c: &Counts) -> String {
    match (c.shared, c.total) {
        (Cell::Value(s), Cell::Value(t)) if t > 0 => format!("{}%", (s * 100 + t / 2) / t),
        _ => "–".to_owned(),
    }
}

fn count_cells(c: &Counts) -> String {
    let mut s = String::new();
    s.push_str(&td(c.shared));
    s.push_str(&td(c.not_shared));
    s.push_str(&td(c.total));
    let _ = write!(s, "<td class=\"n pct\">{}</td>", share(c));
    for m in [
        Measure::NoConsent,
        Measure::Rejected,
        Measure::Expired,
        Measure::Withdrawn,
    ] {
        s.push_str(&td(c.get(m)));
    }
    s
}

const STYLE: &str = r#"
:root{--ink:#1d2733;--muted:#5b6878;--line:#d5dbe3;--band:#eef2f6;--accent:#1f5f99;--shared:#2e7d4f;--not:#c4572f}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--ink);margin:0;background:#f7f9fb}
main{max-width:1240px;margin:0 auto;padding:24px 20px 48px}
header{border-bottom:3px solid var(--accent);margin-bottom:16px;padding-bottom:8px}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:18px;margin:32px 0 8px;color:var(--accent)}
h3{font-size:14px;margin:0 0 6px}
.meta{color:var(--muted);margin:2px 0}
section{background:#fff;border:1px solid var(--line);border-radius:6px;padding:12px 16px 16px;margin-top:16px}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:4px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
thead th{background:var(--band);font-weight:600;position:sticky;top:0}
td.n,th.n{text-align:right;white-space:nowrap}
td.s{color:var(--muted);font-style:italic}
td.lb{color:var(--accent)}
td.pct{color:var(--muted)}
tr.region-head td{background:#dfe8f1;font-weight:600;border-top:2px solid var(--accent)}
tr.mun-total td{background:#f6f8fa;font-style:italic}
tr.region-total td{background:var(--band);font-weight:600}
tr.national td{background:var(--accent);color:#fff;font-weight:700}
tr.national td.s,tr.national td.pct,tr.national td.lb{color:#fff}
td.org{color:var(--muted)}
.grid{display:grid;grid-template-columns:repeat(3,1fr);gap:12px}
.card{border:1px solid var(--line);border-radius:4px;padding:8px}
.card .sub{color:var(--muted);font-size:12px}
svg{display:block;max-width:100%;height:auto}
svg text{font:11px system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;fill:var(--ink)}
.legend span{display:inline-block;margin-right:16px}
.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-2px}
.note{color:var(--muted)}
dl dt{font-weight:600;margin-top:8px}
dl dd{margin:2px 0 0 16px}
.two{display:grid;grid-template-columns:1fr 1fr;gap:16px}
details summary{cursor:pointer;color:var(--accent);margin-top:8px}
"#;

const FRESH_COLOURS: [&str; 4] = ["#2e7d4f", "#7fb069", "#e0b03a", "#c4572f"];
const FRESH_LABELS: [&str; 4] = ["0–7 days", "8–30 days", "31–60 days", "61–90 days"];

/// Cuts a label to `n` characters.
fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// The label of a row in the quality charts.
fn row_label(row: &Row, federated: bool) -> String {
    if federated {
        format!("{} — {}", row.municipality_name, row.organisation.name)
    } else {
        row.municipality_name.clone()
    }
}

fn seed_table(r: &FederationReport, out: &mut String) {
    out.push_str(
        "<table><thead><tr><th>Arbeidsmarktregio / gemeente</th><th>Organisation</th>\
<th class=\"n\">Shared</th><th class=\"n\">Not shared</th><th class=\"n\">Total</th>\
<th class=\"n\">% shared</th><th class=\"n\">No consent</th><th class=\"n\">Rejected</th>\
<th class=\"n\">Expired</th><th class=\"n\">Withdrawn</th></tr></thead><tbody>",
    );
    for b in layout(r) {
        let _ = write!(
            out,
            "<tr class=\"region-head\"><td colspan=\"10\">{} <span class=\"note\">({})</span></td></tr>",
            escape(b.name),
            escape(b.code)
        );
        for m in &b.municipalities {
            for (i, row) in m.rows.iter().enumerate() {
                let name = if i == 0 {
                    escape(m.name)
                } else {
                    String::new()
                };
                let _ = write!(
                    out,
                    "<tr><td>{name}</td><td class=\"org\">{}</td>{}</tr>",
                    escape(&row.organisation.name),
                    count_cells(&row.counts)
                );
            }
            if let Some(t) = m.total {
                if m.rows.len() != 1 {
                    let _ = write!(
                        out,
                        "<tr class=\"mun-total\"><td>{} total</td><td class=\"org\">all organisations</td>{}</tr>",
                        escape(m.name),
                        count_cells(&t.counts)
                    );
                }
            }
        }
        if let Some(t) = b.total {
            let _ = write!(
                out,
                "<tr class=\"region-total\"><td>Total {}</td><td></td>{}</tr>",
                escape(b.name),
                count_cells(&t.counts)
            );
        }
    }
    let _ = write!(
        out,
        "<tr class=\"national\"><td>Nederland (all regions)</td><td></td>{}</tr></tbody></table>",
        count_cells(&r.national)
    );
    if r.region.is_some() {
        out.push_str(
            "<p class=\"note\">The national line counts all regions of the organisations in this \
report, not only the region shown.</p>",
        );
    }
}

fn completeness(r: &FederationReport, out: &mut String) {
    let federated = r.organisations.len() > 1;
    let with: Vec<&Row> = r.rows.iter().filter(|row| row.quality.is_some()).collect();
    if with.is_empty() {
        out.push_str("<p class=\"note\">No row has published quality (every row has fewer than 10 shared profiles or a suppressed shared count).</p>");
        return;
    }
    out.push_str("<div class=\"grid\">");
    for row in with {
        let Some(q) = row.quality else { continue };
        let _ = write!(
            out,
            "<div class=\"card\"><h3>{}</h3><div class=\"sub\">{} · shared: {}</div>",
            escape(&row_label(row, federated)),
            escape(&row.region_name),
            escape(&row.counts.shared.to_string())
        );
        let (lw, bw, h) = (84.0, 230.0, 20.0);
        let height = 6.0 * h + 8.0;
        let _ = write!(
            out,
            "<svg viewBox=\"0 0 360 {height}\" width=\"360\" height=\"{height}\" role=\"img\" aria-label=\"completeness of shared profiles, percent\">"
        );
        for (i, (label, p)) in q.completeness().iter().enumerate() {
            let y = 4.0 + i as f64 * h;
            let w = bw * f64::from(*p) / 100.0;
            let _ = write!(
                out,
                "<text x=\"0\" y=\"{ty}\">{label}</text>\
<rect x=\"{lw}\" y=\"{y}\" width=\"{bw}\" height=\"14\" fill=\"#eef2f6\"/>\
<rect x=\"{lw}\" y=\"{y}\" width=\"{w:.1}\" height=\"14\" fill=\"#1f5f99\"/>\
<text x=\"{tx}\" y=\"{ty}\">{p}%</text>",
                ty = y + 11.0,
                tx = lw + bw + 6.0,
            );
        }
        out.push_str("</svg></div>");
    }
    out.push_str("</div>");
}

fn freshness(r: &FederationReport, out: &mut String) {
    let federated = r.organisations.len() > 1;
    let with: Vec<&Row> = r.rows.iter().filter(|row| row.quality.is_some()).collect();
    if with.is_empty() {
        out.push_str("<p class=\"note\">No row has published quality.</p>");
        return;
    }
    out.push_str("<p class=\"legend\">");
    for (c, l) in FRESH_COLOURS.iter().zip(FRESH_LABELS) {
        let _ = write!(out, "<span><i style=\"background:{c}\"></i>{l}</span>");
    }
    out.push_str("since the last refresh by an import or push</p>");
    let (lw, bw, h) = (330.0, 820.0, 22.0);
    let height = with.len() as f64 * h + 24.0;
    let _ = write!(
        out,
        "<svg viewBox=\"0 0 1200 {height}\" width=\"1200\" height=\"{height}\" role=\"img\" aria-label=\"freshness of shared profiles per municipality\">"
    );
    for (i, tick) in [0, 25, 50, 75, 100].iter().enumerate() {
        let x = lw + bw * f64::from(*tick) / 100.0;
        let _ = write!(
            out,
            "<line x1=\"{x}\" y1=\"0\" x2=\"{x}\" y2=\"{y2}\" stroke=\"#d5dbe3\"/>\
<text x=\"{x}\" y=\"{ty}\" text-anchor=\"{anchor}\">{tick}%</text>",
            y2 = height - 16.0,
            ty = height - 4.0,
            anchor = if i == 0 {
                "start"
            } else if i == 4 {
                "end"
            } else {
                "middle"
            },
        );
    }
    for (i, row) in with.iter().enumerate() {
        let Some(q) = row.quality else { continue };
        let y = i as f64 * h + 2.0;
        let _ = write!(
            out,
            "<text x=\"0\" y=\"{}\">{}</text>",
            y + 13.0,
            escape(&clip(&row_label(row, federated), 52))
        );
        let mut x = lw;
        for (k, p) in q.fresh_days.iter().enumerate() {
            let w = bw * f64::from(*p) / 100.0;
            if w > 0.0 {
                let _ = write!(
                    out,
                    "<rect x=\"{x:.1}\" y=\"{y}\" width=\"{w:.1}\" height=\"16\" fill=\"{}\"><title>{}: {p}%</title></rect>",
                    FRESH_COLOURS[k], FRESH_LABELS[k]
                );
                if w >= 28.0 {
                    let _ = write!(
                        out,
                        "<text x=\"{:.1}\" y=\"{}\" fill=\"#fff\" style=\"fill:#fff\">{p}%</text>",
                        x + 4.0,
                        y + 12.0
                    );
                }
            }
            x += w;
        }
    }
    out.push_str("</svg>");
}

/// A round number ≥ `v` for the axis.
fn nice_max(v: u64) -> u64 {
    if v <= 5 {
        return 5;
    }
    let mut step = 1u64;
    while step.saturating_mul(10) <= v {
        step *= 10;
    }
    for m in [1, 2, 5, 10] {
        if step.saturating_mul(m) >= v {
            return step * m;
        }
    }
    step.saturating_mul(10)
}

fn trend_chart(runs: &[TrendRun], out: &mut String) {
    if runs.is_empty() {
        out.push_str("<p class=\"note\">No runs stored.</p>");
        return;
    }
    let (left, right, top, bottom) = (60.0, 20.0, 12.0, 40.0);
    let (w, h) = (1180.0, 280.0);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let max = runs
        .iter()
        .flat_map(|r| [r.offered.value(), r.shared_after.value()])
        .flatten()
        .max()
        .unwrap_or(0);
    let ymax = nice_max(max) as f64;
    let n = runs.len() as f64;
    let slot = pw / n;
    let y = |v: u64| top + ph - ph * v as f64 / ymax;
    let _ = write!(
        out,
        "<svg viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"offered and shared after each run\">"
    );
    for k in 0..=4 {
        let v = (ymax * f64::from(k) / 4.0).round() as u64;
        let yy = y(v);
        let _ = write!(
            out,
            "<line x1=\"{left}\" y1=\"{yy:.1}\" x2=\"{x2}\" y2=\"{yy:.1}\" stroke=\"#d5dbe3\"/>\
<text x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"end\">{v}</text>",
            x2 = left + pw,
            tx = left - 6.0,
            ty = yy + 4.0,
        );
    }
    let every = runs.len().div_ceil(12);
    let mut points: Vec<(f64, f64)> = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        let cx = left + slot * (i as f64 + 0.5);
        let bw = (slot * 0.5).min(40.0);
        match r.offered {
            Cell::Value(v) => {
                let _ = write!(
                    out,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"#b9cde0\"><title>{} {}: offered {v}</title></rect>",
                    cx - bw / 2.0,
                    y(v),
                    top + ph - y(v),
                    date_time(r.at_ms),
                    escape(&r.origin)
                );
            }
            other => {
                let _ = write!(
                    out,
                    "<text x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                    top + ph - 4.0,
                    escape(&other.to_string())
                );
            }
        }
        if let Cell::Value(v) = r.shared_after {
            points.push((cx, y(v)));
        }
        if i % every == 0 {
            let _ = write!(
                out,
                "<text x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                top + ph + 16.0,
                date(r.at_ms)
            );
        }
    }
    if points.len() > 1 {
        let path: Vec<String> = points
            .iter()
            .map(|(x, y)| format!("{x:.1},{y:.1}"))
            .collect();
        let _ = write!(
            out,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"#2e7d4f\" stroke-width=\"2\"/>",
            path.join(" ")
        );
    }
    for (x, yy) in &points {
        let _ = write!(
            out,
            "<circle cx=\"{x:.1}\" cy=\"{yy:.1}\" r=\"3.5\" fill=\"#2e7d4f\"/>"
        );
    }
    let _ = write!(
        out,
        "<line x1=\"{left}\" y1=\"{b:.1}\" x2=\"{x2}\" y2=\"{b:.1}\" stroke=\"#5b6878\"/></svg>",
        b = top + ph,
        x2 = left + pw
    );
}

fn trends(r: &FederationReport, out: &mut String) {
    out.push_str(
        "<p class=\"legend\"><span><i style=\"background:#b9cde0\"></i>offered (records read by the run)</span>\
<span><i style=\"background:#2e7d4f\"></i>shared right after the run</span></p>",
    );
    if r.trends.is_empty() {
        out.push_str("<p class=\"note\">No runs stored.</p>");
    }
    for t in &r.trends {
        let _ = write!(
            out,
            "<h3>{} <span class=\"note\">({})</span></h3>",
            escape(&t.organisation.name),
            escape(&t.organisation.oin)
        );
        trend_chart(&t.runs, out);
        if t.runs.is_empty() {
            continue;
        }
        let _ = write!(
            out,
            "<details><summary>The {} runs as a table</summary><table><thead><tr><th>Ended</th><th>Origin</th>\
<th class=\"n\">Offered</th><th class=\"n\">Accepted</th><th class=\"n\">No consent</th><th class=\"n\">Rejected</th>\
<th class=\"n\">Shared after</th>",
            t.runs.len()
        );
        if let Some(region) = &r.region {
            let _ = write!(
                out,
                "<th class=\"n\">Shared after in {}</th>",
                escape(region)
            );
        }
        out.push_str("</tr></thead><tbody>");
        for run in &t.runs {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td>{}{}{}{}{}",
                date_time(run.at_ms),
                escape(&run.origin),
                td(run.offered),
                td(run.accepted),
                td(run.no_consent),
                td(run.rejected),
                td(run.shared_after)
            );
            if let Some(region) = &r.region {
                out.push_str(&td(run
                    .shared_after_by_region
                    .get(region)
                    .copied()
                    .unwrap_or(Cell::Value(0))));
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table></details>");
    }
}

fn by_rule(
    title: &str,
    unit: &str,
    rules: &std::collections::BTreeMap<String, Cell>,
    out: &mut String,
) {
    let _ = write!(out, "<div><h3>{}</h3>", escape(title));
    if rules.is_empty() {
        out.push_str("<p class=\"note\">None.</p></div>");
        return;
    }
    let _ = write!(
        out,
        "<table><thead><tr><th>Rule</th><th class=\"n\">{}</th></tr></thead><tbody>",
        escape(unit)
    );
    for (rule, c) in rules {
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td>{}</tr>",
            escape(rule),
            td(*c)
        );
    }
    out.push_str("</tbody></table></div>");
}

fn missing(r: &FederationReport, out: &mut String) {
    if r.missing.is_empty() {
        if r.organisations.len() > 1 {
            out.push_str("<p>Every peer asked answered.</p>");
        } else {
            out.push_str("<p class=\"note\">No peer is missing: this report holds the figures of the organisations listed above.</p>");
        }
        return;
    }
    out.push_str(
        "<p>These peers did not answer; their werkzoekenden are <strong>not</strong> in any figure above.</p>\
<table><thead><tr><th>Organisation</th><th>OIN</th><th>Reason</th></tr></thead><tbody>",
    );
    for m in &r.missing {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&m.name),
            escape(&m.oin),
            escape(&m.reason)
        );
    }
    out.push_str("</tbody></table>");
}

const EXPLANATION: &str = r#"<dl>
<dt>Werkzoekenden, shared</dt><dd>Profiles of werkzoekenden held by the organisation that chain partners can find through this gateway now: live, with consent, and refreshed by an import or push within the expiry window (90 days). Counted per gemeente from the postcode (PC4) of the profile; profiles whose PC4 is in no table are under "Onbekend (postcode in geen tabel)".</dd>
<dt>Not shared, by reason</dt><dd><em>No consent</em>: left out at the last import for want of consent, or refused at a push without consent. <em>Rejected</em>: the record broke a rule of the VUM standard at the last import or push (by rule in the table of rejections). <em>Expired</em>: live but not refreshed within 90 days. <em>Withdrawn</em>: consent withdrawn after the record was shared. Not shared is the sum of the four; total is shared plus not shared.</dd>
<dt>Gemeente, arbeidsmarktregio, national</dt><dd>Municipalities and labour-market regions are those of CBS for 2025 (source: CBS / PDOK, CBS Gebiedsindelingen 2025). A region's line adds up its municipalities, the national line adds up the regions; a municipality's total line adds up the organisations when more than one has werkzoekenden there.</dd>
<dt>"&lt;5" (suppressed)</dt><dd>Counts of 1 to 4 are hidden at the source, by the organisation's own node, before they are shared with anyone. So that a hidden count cannot be worked out by subtracting other published figures from a total, some other cells are hidden too and are also shown as "&lt;5" whatever their value. A 0 is shown (it reveals nobody) and never hidden, so every "&lt;5" is at least 1.</dd>
<dt>"≥N" (lower bound)</dt><dd>A sum over organisations in which at least one organisation's cell is hidden: the published counts plus 1 for each hidden cell. The true number is at least N. Sums are made from published figures only; no raw count ever leaves a node.</dd>
<dt>% shared</dt><dd>Shared as a share of the total, shown only when both are published exactly.</dd>
<dt>Completeness</dt><dd>Of the shared profiles of a row, the percentage with at least one occupation (bemiddelingsberoep), working hours, an availability date, education (opleiding), languages (taalbeheersing) and a driving licence (rijbewijs). Whole percent.</dd>
<dt>Freshness</dt><dd>Of the shared profiles of a row, the percentage last refreshed by an import or push 0–7, 8–30, 31–60 and 61–90 days ago. Beyond 90 days a profile expires and is no longer shared.</dd>
<dt>Why a row has no quality</dt><dd>Percentages of a small group could single people out, so quality is published only for rows whose shared count is published and at least 10. Other rows show their reason: "shared count suppressed" or "fewer than 10 shared profiles".</dd>
<dt>Trend</dt><dd>One point per stored import (<code>matchgate ingest</code>) or push stream, when it ended: the records it read (offered) and the number shared right after it, over all municipalities of the organisation. Small counts are hidden here too.</dd>
<dt>Rejections and warnings by rule</dt><dd>The rule id (schema keyword location or prose rule of the standard) of each rejected record's first violation, and of the validator's warnings at the last import, over all municipalities of the organisation.</dd>
<dt>Peers that did not answer</dt><dd>In a federation report each peer is asked for its published figures; a peer that did not answer in time, refused, or sent figures that would not load is listed, and none of its werkzoekenden are in the figures.</dd>
</dl>"#;

/// The report as one self-contained HTML page: the table by region → gemeente → organisation,
/// completeness and freshness charts, trends, rejections and warnings by rule, missing peers and
/// an explanation of every figure.
pub fn html(r: &FederationReport) -> String {
    let mut out = String::with_capacity(64 * 1024);
    out.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>Transparantie van klantprofielen</title><style>",
    );
    out.push_str(STYLE);
    out.push_str("</style></head><body><main><header><h1>Transparantie van klantprofielen</h1>");
    let orgs: Vec<String> = r
        .organisations
        .iter()
        .map(|o| format!("{} ({})", escape(&o.name), escape(&o.oin)))
        .collect();
    let _ = write!(
        out,
        "<p class=\"meta\">Werkzoekenden visible to chain partners, per arbeidsmarktregio and gemeente. \
Figures of {}.</p><p class=\"meta\">Generated {}",
        if orgs.is_empty() {
            "no organisation".to_owned()
        } else {
            orgs.join(", ")
        },
        date_time(r.generated_ms)
    );
    if let Some(region) = &r.region {
        let name = r
            .regions
            .iter()
            .find(|t| &t.region_code == region)
            .map(|t| t.region_name.as_str())
            .unwrap_or("");
        let _ = write!(
            out,
            " · limited to arbeidsmarktregio {} {}",
            escape(region),
            escape(name)
        );
    }
    if !r.missing.is_empty() {
        let _ = write!(
            out,
            " · <strong>{} peer(s) did not answer</strong> (see below)",
            r.missing.len()
        );
    }
    out.push_str("</p></header>");

    out.push_str("<section id=\"table\"><h2>Shared and not shared werkzoekenden</h2>");
    seed_table(r, &mut out);
    out.push_str("</section>");

    out.push_str("<section id=\"completeness\"><h2>Completeness of shared profiles per gemeente</h2>\
<p class=\"note\">Percentage of shared profiles with each item; rows with fewer than 10 shared profiles or a suppressed shared count are left out.</p>");
    completeness(r, &mut out);
    out.push_str("</section>");

    out.push_str("<section id=\"freshness\"><h2>Freshness of shared profiles per gemeente</h2>");
    freshness(r, &mut out);
    out.push_str("</section>");

    out.push_str("<section id=\"trend\"><h2>Trend over the stored runs</h2>");
    trends(r, &mut out);
    out.push_str("</section>");

    out.push_str(
        "<section id=\"rules\"><h2>Rejections and warnings by rule</h2><div class=\"two\">",
    );
    by_rule(
        "Rejected records (first violation)",
        "Records",
        &r.rejected_by_rule,
        &mut out,
    );
    by_rule(
        "Validator warnings",
        "Warnings",
        &r.warnings_by_rule,
        &mut out,
    );
    out.push_str("</div></section>");

    out.push_str("<section id=\"peers\"><h2>Peers that did not answer</h2>");
    missing(r, &mut out);
    out.push_str("</section>");

    out.push_str("<section id=\"explanation\"><h2>What the figures mean</h2>");
    out.push_str(EXPLANATION);
    let _ = write!(
        out,
        "<p class=\"note\">Suppression rule, as published with the figures: {}</p>",
        escape(&r.suppression)
    );
    out.push_str("</section></main></body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(951_782_400_000), "2000-02-29");
        assert_eq!(
            date_time(1_767_225_600_000 + 3_723_000),
            "2026-01-01 01:02 UTC"
        );
        assert_eq!(date(-86_400_000), "1969-12-31");
    }

    #[test]
    fn axis() {
        assert_eq!(nice_max(0), 5);
        assert_eq!(nice_max(7), 10);
        assert_eq!(nice_max(120), 200);
        assert_eq!(nice_max(1000), 1000);
        assert_eq!(nice_max(4100), 5000);
    }

    #[test]
    fn formula_guard() {
        assert_eq!(csv_text("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(csv_text("'s-Gravenhage"), "'s-Gravenhage");
    }
}
