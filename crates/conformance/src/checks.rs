//! The checks behind the catalogue's ids. Each returns a [`Verdict`] with the evidence that
//! decided it: the request, an excerpt of the answer, what the standard expects and what came.
use crate::client::{Answer, Client, NoAnswer, Record};
use crate::fixtures::{self, CAP_AREA, CAP_FIXTURES, CENTRE};
use crate::model::{Evidence, Outcome, TargetKind};
use crate::run::{evidence, Target};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};

/// How a check ended.
pub struct Verdict {
    /// the outcome
    pub outcome: Outcome,
    /// one line on why
    pub message: String,
    /// what decided it
    pub evidence: Vec<Evidence>,
}

impl Verdict {
    fn pass(message: impl Into<String>, evidence: Vec<Evidence>) -> Verdict {
        Verdict {
            outcome: Outcome::Pass,
            message: message.into(),
            evidence,
        }
    }
    fn fail(message: impl Into<String>, evidence: Vec<Evidence>) -> Verdict {
        Verdict {
            outcome: Outcome::Fail,
            message: message.into(),
            evidence,
        }
    }
    fn skip(message: impl Into<String>) -> Verdict {
        Verdict {
            outcome: Outcome::Skip,
            message: message.into(),
            evidence: Vec::new(),
        }
    }
    /// The suite could not run the check.
    pub fn error(message: impl Into<String>) -> Verdict {
        Verdict {
            outcome: Outcome::Error,
            message: message.into(),
            evidence: Vec::new(),
        }
    }
}

impl From<NoAnswer> for Verdict {
    fn from(e: NoAnswer) -> Verdict {
        Verdict::error(format!("no answer: {e}"))
    }
}

/// A target with its client.
pub struct Ctx {
    t: Target,
    client: Client,
    fixtures: Vec<Value>,
    validator: vum::Validator,
}

impl Ctx {
    /// The context of a target (its client built once).
    pub fn new(t: &Target) -> Result<Ctx, NoAnswer> {
        Ok(Ctx {
            client: Client::new(&t.face, Some(&t.creds))?,
            t: t.clone(),
            fixtures: fixtures::werkzoekenden(),
            validator: vum::Validator::new(),
        })
    }

    fn kind(&self) -> TargetKind {
        self.t.face.kind
    }

    /// The party headers of a well-formed call from the tester, as the face's contract wants.
    fn headers(&self) -> Vec<(String, String)> {
        let (c, n) = (self.t.caller_oin.clone(), self.t.node_oin.clone());
        let suwi = if self.t.suwi { "true" } else { "false" }.to_string();
        let h = |k: &str, v: String| (k.to_string(), v);
        match self.kind() {
            TargetKind::Bron => vec![
                h("X-VUM-fromParty", c),
                h("X-VUM-toParty", n.clone()),
                // VUM → Bron: viaParty is the answering processor (koppelvlak README)
                h("X-VUM-viaParty", n),
                h("X-VUM-SUWIparty", suwi),
                h("X-VUM-berichtVersie", "3.0.0".into()),
                h("API-Version", "3.0.0".into()),
            ],
            TargetKind::Bemiddelaar => vec![
                h("X-VUM-fromParty", c.clone()),
                h("X-VUM-toParty", n),
                h("X-VUM-viaParty", c),
                h("X-VUM-berichtVersie", "3.0.0".into()),
                h("API-Version", "3.0.0".into()),
            ],
            _ => vec![
                h("x-vum-fromparty", c.clone()),
                h("x-vum-viaparty", c),
                h("x-vum-toparty", n),
                h("x-vum-suwiparty", suwi),
                h("x-vum-berichtversie", "3.0.0".into()),
                h("x-transaction-id", uuid::Uuid::now_v7().to_string()),
            ],
        }
    }

    /// The headers with one replaced (`Some`) or left out (`None`), names compared without case.
    fn headers_with(&self, name: &str, value: Option<&str>) -> Vec<(String, String)> {
        let mut h: Vec<(String, String)> = self
            .headers()
            .into_iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case(name))
            .collect();
        if let Some(v) = value {
            h.push((name.to_string(), v.to_string()));
        }
        h
    }

    async fn select(&self, q: &Value) -> Result<Answer, NoAnswer> {
        self.client
            .select(Record::Werkzoekende, q, &self.headers())
            .await
    }

    /// The id a detail call takes for a match: the source's id, or on a Bemiddelaar face the vumID.
    fn id_of(&self, m: &Value) -> Option<String> {
        let key = if self.kind() == TargetKind::Bemiddelaar {
            "vumID"
        } else {
            "idWerkzoekende"
        };
        m.get(key).and_then(Value::as_str).map(str::to_string)
    }

    /// A detail answer's document (the Bemiddelaar contract wraps it as `{bronID, werkzoekende}`).
    fn document<'a>(&self, body: &'a Value) -> &'a Value {
        if self.kind() == TargetKind::Bemiddelaar {
            &body["werkzoekende"]
        } else {
            body
        }
    }

    fn matches_kind(&self, record: Record) -> vum::Kind {
        match (self.kind(), record) {
            (TargetKind::Bemiddelaar, Record::Werkzoekende) => vum::Kind::WerkzoekendeMatchesVum,
            (TargetKind::Bemiddelaar, Record::Vacature) => vum::Kind::VacatureMatchesVum,
            (_, Record::Werkzoekende) => vum::Kind::WerkzoekendeMatches,
            (_, Record::Vacature) => vum::Kind::VacatureMatches,
        }
    }

    fn detail_kind(&self, record: Record) -> vum::Kind {
        match (self.kind(), record) {
            (TargetKind::Bemiddelaar, Record::Werkzoekende) => vum::Kind::WerkzoekendeDetailVum,
            (TargetKind::Bemiddelaar, Record::Vacature) => vum::Kind::VacatureDetailVum,
            (_, Record::Werkzoekende) => vum::Kind::Werkzoekende,
            (_, Record::Vacature) => vum::Kind::Vacature,
        }
    }

    /// Schema violations of `body` as `kind` (rule ids of the contract's schema only).
    fn schema_errors(&self, kind: vum::Kind, body: &Value) -> Vec<String> {
        self.validator
            .validate_value(kind, body)
            .errors()
            .filter(|f| f.rule.contains('#'))
            .map(|f| format!("{} {}: {}", f.pointer, f.rule, f.message))
            .take(10)
            .collect()
    }

    fn need_fixtures(&self) -> Option<Verdict> {
        (!self.t.fixtures).then(|| {
            Verdict::skip(
                "the fixtures are not loaded (load conformance/fixtures/werkzoekenden.json and pass --fixtures-loaded)",
            )
        })
    }
}

fn matches(a: &Answer) -> Vec<Value> {
    a.body["matches"].as_array().cloned().unwrap_or_default()
}

fn tags(a: &Answer) -> BTreeSet<usize> {
    matches(a).iter().filter_map(fixtures::tag_of).collect()
}

fn ev(a: &Answer, expected: impl Into<String>, observed: impl Into<String>) -> Evidence {
    evidence(a.request.clone(), a.excerpt(), expected, observed)
}

/// Run the check of catalogue test `id` against `ctx`'s target.
pub async fn run(id: &str, ctx: &Ctx) -> Verdict {
    let v = match id {
        "VUM-RSP-001" => rsp_selection(ctx).await,
        "VUM-RSP-002" => rsp_detail(ctx).await,
        "VUM-RSP-003" => rsp_headers(ctx).await,
        "VUM-RSP-004" => rsp_parties(ctx).await,
        "VUM-RSP-005" => rsp_error_body(ctx).await,
        "VUM-SEL-001" => sel_set(ctx, "distance", json!({}), &[1], &[2]).await,
        "VUM-SEL-002" => sel_set(ctx, "maximaleReisafstand", json!({}), &[3], &[4]).await,
        "VUM-SEL-003" => {
            let a = sel_set(ctx, "hours maximaal", json!({"werktijden.aantalWerkurenPerWeekMaximaal": {"$gte": 24}}), &[5], &[6]).await;
            if a.outcome != Outcome::Pass {
                return a;
            }
            let b = sel_set(ctx, "hours minimaal", json!({"werktijden.aantalWerkurenPerWeekMinimaal": {"$lte": 16}}), &[7], &[8]).await;
            merge(a, b)
        }
        "VUM-SEL-004" => sel_set(ctx, "availability date", json!({"datumAanvangBeschikbaarVoorWerk": {"$lte": "2027-03-01"}}), &[9], &[10]).await,
        "VUM-SEL-005" => {
            let a = sel_set(ctx, "licences", json!({"arbeidsmarktkwalificatie.rijbewijs": {"$all": [
                {"$elemMatch": {"codeSoortRijbewijs": {"$eq": "B"}}}, {"$elemMatch": {"codeSoortRijbewijs": {"$eq": "C"}}}]}}), &[11, 13], &[12]).await;
            if a.outcome != Outcome::Pass {
                return a;
            }
            let b = sel_set(ctx, "languages", json!({"arbeidsmarktkwalificatie.taalbeheersing": {"$all": [
                {"$elemMatch": {"codeTaal": {"$eq": "nld"}, "codeNiveauTaalbeheersingMondeling": {"$gte": 3}}}]}}), &[14], &[15, 16]).await;
            merge(a, b)
        }
        "VUM-SEL-006" => sel_set(ctx, "combination", json!({
            "werktijden.aantalWerkurenPerWeekMaximaal": {"$gte": 24},
            "arbeidsmarktkwalificatie.rijbewijs": {"$all": [{"$elemMatch": {"codeSoortRijbewijs": {"$eq": "B"}}}, {"$elemMatch": {"codeSoortRijbewijs": {"$eq": "C"}}}]}}), &[17], &[18, 12]).await,
        "VUM-SEL-007" => sel_set(ctx, "unknown criterion", json!({"lievelingskleur": {"$eq": "blauw"}, "werktijden.nieuwVeld": {"$near": 3}}), &[1], &[2]).await,
        "VUM-SEL-008" => sel_malformed(ctx).await,
        "VUM-SEL-009" => sel_cap(ctx).await,
        "VUM-SEL-010" => sel_random_order(ctx).await,
        "VUM-SEL-011" => sel_uniform(ctx).await,
        "VUM-SEL-012" => sel_no_personal_data(ctx).await,
        "VUM-DET-001" => det_equal(ctx).await,
        "VUM-DET-002" => det_unknown(ctx).await,
        "VUM-DET-003" => det_ldr(ctx).await,
        "VUM-DET-004" => det_cap(ctx).await,
        "VUM-PTY-001" => pty_missing(ctx).await,
        "VUM-PTY-002" => pty_refused(ctx, &[("fromParty", "12345")], "a fromParty that is not 20 digits").await,
        "VUM-PTY-003" => pty_refused(ctx, &[("toParty", "00000009999999999999")], "a toParty that is another party").await,
        "VUM-PTY-004" => pty_via(ctx).await,
        "VUM-PTY-005" => pty_version(ctx).await,
        "VUM-PTY-006" => pty_suwi(ctx).await,
        "VUM-PTY-007" => pty_refused(ctx, &[("fromParty", "00000009999999999999")], "a controller the caller holds no grant for").await,
        "VUM-TLS-001" => tls_refused(ctx, None, "no client certificate").await,
        "VUM-TLS-002" => tls_refused(ctx, Some(&ctx.t.negative.expired), "an expired certificate").await,
        "VUM-TLS-003" => tls_refused(ctx, Some(&ctx.t.negative.foreign), "a certificate from a foreign CA").await,
        "VUM-TLS-004" => tls_refused(ctx, Some(&ctx.t.negative.stranger), "a certificate whose OIN is no allowed party").await,
        "VUM-RATE-001" => rate(ctx).await,
        other => Verdict::error(format!("{other} has no check for this target")),
    };
    v
}

fn merge(mut a: Verdict, b: Verdict) -> Verdict {
    a.evidence.extend(b.evidence);
    Verdict {
        outcome: b.outcome,
        message: format!("{}; {}", a.message, b.message),
        evidence: a.evidence,
    }
}

fn name(h: &str) -> String {
    // the name of a party header as the face writes it
    h.to_string()
}

async fn first_fixture_or_any(ctx: &Ctx) -> Result<Answer, NoAnswer> {
    let q = if ctx.t.fixtures {
        fixtures::question(CENTRE, fixtures::AFSTAND, json!({}))
    } else {
        json!({"vraagObject": {"selectiegebied": {"postcode": CENTRE, "afstand": 300}}})
    };
    ctx.select(&q).await
}

async fn rsp_selection(ctx: &Ctx) -> Verdict {
    let mut evs = Vec::new();
    for (record, q) in [
        (Record::Werkzoekende, None),
        (
            Record::Vacature,
            Some(json!({"vraagObject": {"selectiegebied": {"postcode": CENTRE, "afstand": 300}}})),
        ),
    ] {
        let a = match q {
            None => first_fixture_or_any(ctx).await,
            Some(q) => ctx.client.select(record, &q, &ctx.headers()).await,
        };
        let a = match a {
            Ok(a) => a,
            Err(e) => return e.into(),
        };
        if a.status != 200 {
            return Verdict::fail(
                format!("{record:?} selection answered {}", a.status),
                vec![ev(&a, "200 with a valid body", a.status.to_string())],
            );
        }
        if matches(&a).is_empty() {
            // the contracts require `matches`, and the standard reads an empty list as absent: an
            // answer without results cannot be judged against the schema
            if record == Record::Werkzoekende {
                return Verdict::error("the selection returned no matches to judge");
            }
            evs.push(ev(&a, "a valid answer", "no matches: nothing to judge"));
            continue;
        }
        let errors = ctx.schema_errors(ctx.matches_kind(record), &a.body);
        if !errors.is_empty() {
            return Verdict::fail(
                format!("{record:?} selection answer breaks the schema"),
                vec![ev(&a, "no schema violation", errors.join("\n"))],
            );
        }
        evs.push(ev(&a, "valid against the response schema", "valid"));
    }
    Verdict::pass("both selection answers are valid", evs)
}

async fn rsp_detail(ctx: &Ctx) -> Verdict {
    let a = match first_fixture_or_any(ctx).await {
        Ok(a) => a,
        Err(e) => return e.into(),
    };
    let Some(id) = matches(&a).first().and_then(|m| ctx.id_of(m)) else {
        return Verdict::error(format!(
            "the selection returned no match to ask the detail of ({})",
            a.status
        ));
    };
    let d = match ctx
        .client
        .detail(Record::Werkzoekende, &id, &ctx.headers())
        .await
    {
        Ok(d) => d,
        Err(e) => return e.into(),
    };
    if d.status != 200 {
        return Verdict::fail(
            format!("the detail answered {}", d.status),
            vec![ev(&d, "200", d.status.to_string())],
        );
    }
    let errors = ctx.schema_errors(ctx.detail_kind(Record::Werkzoekende), &d.body);
    if errors.is_empty() {
        Verdict::pass(
            "the detail is valid",
            vec![ev(&d, "valid against the document schema", "valid")],
        )
    } else {
        Verdict::fail(
            "the detail breaks the schema",
            vec![ev(&d, "no schema violation", errors.join("\n"))],
        )
    }
}

async fn rsp_headers(ctx: &Ctx) -> Verdict {
    let ok = match first_fixture_or_any(ctx).await {
        Ok(a) => a,
        Err(e) => return e.into(),
    };
    let refused = match ctx
        .client
        .select(
            Record::Werkzoekende,
            &json!({"vraagObject": {}}),
            &ctx.headers(),
        )
        .await
    {
        Ok(a) => a,
        Err(e) => return e.into(),
    };
    let mut evs = Vec::new();
    for a in [&ok, &refused] {
        let ct = a.header("content-type").unwrap_or("");
        let problems: Vec<String> = [
            (!ct.starts_with("application/json")).then(|| format!("Content-Type {ct:?}")),
            (a.header("api-version") != Some("3.0.0"))
                .then(|| format!("API-Version {:?}", a.header("api-version"))),
            (a.header("x-vum-berichtversie") != Some("3.0.0"))
                .then(|| format!("X-VUM-berichtVersie {:?}", a.header("x-vum-berichtversie"))),
        ]
        .into_iter()
        .flatten()
        .collect();
        let e = ev(
            a,
            "application/json, API-Version 3.0.0, X-VUM-berichtVersie 3.0.0",
            if problems.is_empty() {
                "as expected".into()
            } else {
                problems.join(", ")
            },
        );
        if !problems.is_empty() {
            return Verdict::fail(
                format!("answer {}: {}", a.status, problems.join(", ")),
                vec![e],
            );
        }
        evs.push(e);
    }
    Verdict::pass("an answer and a refusal carry the headers", evs)
}

async fn rsp_parties(ctx: &Ctx) -> Verdict {
    let a = match first_fixture_or_any(ctx).await {
        Ok(a) => a,
        Err(e) => return e.into(),
    };
    let from = a.header("x-vum-fromparty");
    let to = a.header("x-vum-toparty");
    let e = ev(
        &a,
        format!(
            "fromParty {} (answering), toParty {} (asking)",
            ctx.t.node_oin, ctx.t.caller_oin
        ),
        format!("fromParty {from:?}, toParty {to:?}"),
    );
    if from == Some(ctx.t.node_oin.as_str()) && to == Some(ctx.t.caller_oin.as_str()) {
        Verdict::pass("the answer names the parties", vec![e])
    } else {
        Verdict::fail(
            "the answer does not name the parties as the table says",
            vec![e],
        )
    }
}

async fn rsp_error_body(ctx: &Ctx) -> Verdict {
    let a = match ctx
        .client
        .select(
            Record::Werkzoekende,
            &fixtures::question(CENTRE, 5.0, json!({})),
            &ctx.headers_with("X-VUM-fromParty", None),
        )
        .await
    {
        Ok(a) => a,
        Err(e) => return e.into(),
    };
    let code = a.body["code"].as_str();
    let message = a.body["message"].as_str();
    let good = a.status >= 400
        && code.is_some_and(|c| !c.is_empty() && c.chars().count() <= 10)
        && message.is_some_and(|m| !m.is_empty() && m.chars().count() <= 500);
    let e = ev(&a, "4xx with {code (≤ 10), message (≤ 500)}", a.excerpt());
    if good {
        Verdict::pass("the refusal has the Error body", vec![e])
    } else {
        Verdict::fail("the refusal lacks the contract's Error body", vec![e])
    }
}

/// A fixture question around the centre: the observed fixtures equal the evaluator's set, and
/// the named edge fixtures are in or out.
async fn sel_set(
    ctx: &Ctx,
    what: &str,
    extra: Value,
    inside: &[usize],
    outside: &[usize],
) -> Verdict {
    if let Some(v) = ctx.need_fixtures() {
        return v;
    }
    let q = fixtures::question(CENTRE, fixtures::AFSTAND, extra);
    let want: BTreeSet<usize> = fixtures::expected(&ctx.fixtures, &q).into_iter().collect();
    let a = match ctx.select(&q).await {
        Ok(a) => a,
        Err(e) => return e.into(),
    };
    if a.status != 200 {
        return Verdict::fail(
            format!("{what}: the selection answered {}", a.status),
            vec![ev(&a, "200", a.status.to_string())],
        );
    }
    let got = tags(&a);
    let e = ev(
        &a,
        format!("fixtures {want:?}"),
        format!("fixtures {got:?}"),
    );
    let missing: Vec<_> = want.difference(&got).collect();
    let extra_: Vec<_> = got.difference(&want).collect();
    debug_assert!(
        inside.iter().all(|i| want.contains(i)) && outside.iter().all(|o| !want.contains(o))
    );
    if missing.is_empty() && extra_.is_empty() {
        Verdict::pass(
            format!("{what}: the {} expected fixtures, no others", want.len()),
            vec![e],
        )
    } else {
        Verdict::fail(
            format!("{what}: missing fixtures {missing:?}, unexpected {extra_:?}"),
            vec![e],
        )
    }
}

async fn sel_malformed(ctx: &Ctx) -> Verdict {
    let mut evs = Vec::new();
    for (why, q) in [
        (
            "a postcode that is none",
            json!({"vraagObject": {"selectiegebied": {"postcode": "12", "afstand": 5}}}),
        ),
        (
            "no selectiegebied",
            json!({"vraagObject": {"werktijden.aantalWerkurenPerWeekMaximaal": {"$gte": 24}}}),
        ),
        (
            "a negative afstand",
            json!({"vraagObject": {"selectiegebied": {"postcode": CENTRE, "afstand": -5}}}),
        ),
    ] {
        let a = match ctx.select(&q).await {
            Ok(a) => a,
            Err(e) => return e.into(),
        };
        let e = ev(&a, "400", a.status.to_string());
        if a.status != 400 {
            return Verdict::fail(format!("{why}: answered {}", a.status), vec![e]);
        }
        evs.push(e);
    }
    Verdict::pass("three malformed selections refused with 400", evs)
}

async fn sel_cap(ctx: &Ctx) -> Verdict {
    if let Some(v) = ctx.need_fixtures() {
        return v;
    }
    let q = fixtures::question(CAP_AREA, 0.0, json!({}));
    let a = match ctx.select(&q).await {
        Ok(a) => a,
        Err(e) => return e.into(),
    };
    let n = matches(&a).len();
    let flag = a.body["maximumAantalResultatenBereikt"].as_bool();
    let e = ev(
        &a,
        format!(
            "100 matches of the {CAP_FIXTURES} that match, maximumAantalResultatenBereikt true"
        ),
        format!("{n} matches, flag {flag:?}"),
    );
    let sound = tags(&a).iter().all(|t| (19..19 + CAP_FIXTURES).contains(t));
    if a.status == 200 && n == 100 && flag == Some(true) && sound {
        Verdict::pass("100 and the flag", vec![e])
    } else {
        Verdict::fail(
            format!(
                "{n} matches, flag {flag:?}{}",
                if sound {
                    ""
                } else {
                    ", some outside the question"
                }
            ),
            vec![e],
        )
    }
}

async fn sel_random_order(ctx: &Ctx) -> Verdict {
    if let Some(v) = ctx.need_fixtures() {
        return v;
    }
    let q = fixtures::question(CENTRE, fixtures::AFSTAND, json!({}));
    let mut orders = Vec::new();
    let mut evs = Vec::new();
    for _ in 0..4 {
        let a = match ctx.select(&q).await {
            Ok(a) => a,
            Err(e) => return e.into(),
        };
        let order: Vec<usize> = matches(&a).iter().filter_map(fixtures::tag_of).collect();
        evs.push(ev(&a, "a random order", format!("{order:?}")));
        orders.push(order);
    }
    if orders[0].len() < 5 {
        return Verdict::error(format!(
            "too few matches ({}) to judge the order",
            orders[0].len()
        ));
    }
    // with 5 or more results, four identical orders by chance has probability below 1 in 10^6
    if orders.iter().all(|o| *o == orders[0]) {
        Verdict::fail("four selections returned the same order", evs)
    } else {
        Verdict::pass("the order differs between selections", evs)
    }
}

async fn sel_uniform(ctx: &Ctx) -> Verdict {
    if let Some(v) = ctx.need_fixtures() {
        return v;
    }
    let q = fixtures::question(CAP_AREA, 0.0, json!({}));
    let runs = 24;
    let mut counts: HashMap<usize, u32> = HashMap::new();
    for _ in 0..runs {
        let a = match ctx.select(&q).await {
            Ok(a) => a,
            Err(e) => return e.into(),
        };
        for t in tags(&a) {
            *counts.entry(t).or_default() += 1;
        }
    }
    // each of the 150 fixtures is in a uniform sample of 100 with probability 2/3
    let expected = f64::from(runs) * 100.0 / CAP_FIXTURES as f64;
    let chi2: f64 = (19..19 + CAP_FIXTURES)
        .map(|t| {
            let o = f64::from(counts.get(&t).copied().unwrap_or(0));
            (o - expected).powi(2) / expected
        })
        .sum();
    // the per-cell counts are binomial (n 24, p 2/3), so the statistic is about (1 - p) times a
    // chi-square with 150 degrees of freedom: mean 50; 120 is beyond the 1-in-10^6 tail
    let limit = 120.0;
    let never = (19..19 + CAP_FIXTURES)
        .filter(|t| !counts.contains_key(t))
        .count();
    let e = evidence(
        format!("{runs} × the cap question ({CAP_FIXTURES} fixtures match)"),
        format!(
            "appearances per fixture: min {}, max {}",
            counts.values().min().unwrap_or(&0),
            counts.values().max().unwrap_or(&0)
        ),
        format!("each about {expected:.1} times; statistic below {limit}; none never"),
        format!("statistic {chi2:.1}; {never} never returned"),
    );
    if chi2 < limit && never == 0 {
        Verdict::pass(format!("uniform (statistic {chi2:.1})"), vec![e])
    } else {
        Verdict::fail(
            format!("not a uniform sample (statistic {chi2:.1}, {never} never returned)"),
            vec![e],
        )
    }
}

/// Properties a match profile may have (the contracts' MP…Match, plus its id).
const MATCH_PROPERTIES: &[&str] = &[
    "arbeidsmarktkwalificatie",
    "bemiddelingsberoep",
    "contractvorm",
    "flexibiliteit",
    "indicatieBeschikbaarheidContactgegevens",
    "mobiliteit",
    "sector",
    "vervoermiddel",
    "werktijden",
    "idWerkzoekende",
    "vumID",
];
/// Names that hold personal data, wherever they appear in a match profile.
const PERSONAL: &[&str] = &[
    "emailadres",
    "telefoonnummer",
    "contactpersoon",
    "webadres",
    "naam",
    "voornaam",
    "achternaam",
    "bsn",
    "burgerservicenummer",
    "adres",
    "geboortedatum",
    "indicatieLdrRegistratie",
];

fn personal_keys(v: &Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                let p = format!("{path}/{k}");
                if PERSONAL.iter().any(|n| k.eq_ignore_ascii_case(n)) {
                    out.push(p.clone());
                }
                personal_keys(x, &p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                personal_keys(x, &format!("{path}/{i}"), out);
            }
        }
        _ => {}
    }
}

async fn sel_no_personal_data(ctx: &Ctx) -> Verdict {
    let a = match first_fixture_or_any(ctx).await {
        Ok(a) => a,
        Err(e) => return e.into(),
    };
    if a.status != 200 || matches(&a).is_empty() {
        return Verdict::error(format!("no matches to inspect ({})", a.status));
    }
    let mut found = Vec::new();
    for (i, m) in matches(&a).iter().enumerate() {
        if let Some(o) = m.as_object() {
            for k in o.keys().filter(|k| !MATCH_PROPERTIES.contains(&k.as_str())) {
                found.push(format!("/matches/{i}/{k}"));
            }
        }
        personal_keys(m, &format!("/matches/{i}"), &mut found);
    }
    let e = ev(
        &a,
        "match profiles with the contract's properties only",
        if found.is_empty() {
            "none other".into()
        } else {
            found.join(", ")
        },
    );
    if found.is_empty() {
        Verdict::pass(
            format!("{} match profiles, no personal field", matches(&a).len()),
            vec![e],
        )
    } else {
        Verdict::fail(
            format!(
                "personal or unknown fields in match profiles: {}",
                found.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
            ),
            vec![e],
        )
    }
}

/// Empty values aside, and the fields a detail may differ in (the node's own id for the
/// record; the LDR indication for a non-SUWI caller).
fn comparable(v: &Value, drop_ldr: bool) -> Value {
    fn strip(v: Value) -> Value {
        match v {
            Value::Object(o) => Value::Object(
                o.into_iter()
                    .map(|(k, v)| (k, strip(v)))
                    .filter(|(_, v)| {
                        !(v.is_null() || v == &json!([]) || v == &json!({}) || v == &json!(""))
                    })
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.into_iter().map(strip).collect()),
            v => v,
        }
    }
    let mut v = strip(v.clone());
    if let Some(o) = v.as_object_mut() {
        o.remove("idWerkzoekende");
        if drop_ldr {
            o.remove("indicatieLdrRegistratie");
        }
    }
    v
}

async fn det_equal(ctx: &Ctx) -> Verdict {
    if let Some(v) = ctx.need_fixtures() {
        return v;
    }
    let a = match ctx
        .select(&fixtures::question(CENTRE, fixtures::AFSTAND, json!({})))
        .await
    {
        Ok(a) => a,
        Err(e) => return e.into(),
    };
    let mut evs = Vec::new();
    for m in matches(&a).iter().take(5) {
        let (Some(id), Some(t)) = (ctx.id_of(m), fixtures::tag_of(m)) else {
            continue;
        };
        let d = match ctx
            .client
            .detail(Record::Werkzoekende, &id, &ctx.headers())
            .await
        {
            Ok(d) => d,
            Err(e) => return e.into(),
        };
        let fixture = &ctx.fixtures[t - 1];
        let got = comparable(ctx.document(&d.body), true);
        let want = comparable(fixture, true);
        let e = ev(&d, bounded(&want.to_string()), bounded(&got.to_string()));
        if d.status != 200 || got != want {
            return Verdict::fail(
                format!(
                    "the detail of fixture {t} is not the fixture ({})",
                    d.status
                ),
                vec![e],
            );
        }
        evs.push(e);
    }
    if evs.is_empty() {
        return Verdict::error("no fixture among the matches");
    }
    Verdict::pass(format!("{} details equal their fixtures", evs.len()), evs)
}

fn bounded(s: &str) -> String {
    crate::client::bounded(s, 1500)
}

async fn det_unknown(ctx: &Ctx) -> Verdict {
    let id = if ctx.kind() == TargetKind::Bemiddelaar {
        "f".repeat(40)
    } else {
        "0".repeat(32)
    };
    let d = match ctx
        .client
        .detail(Record::Werkzoekende, &id, &ctx.headers())
        .await
    {
        Ok(d) => d,
        Err(e) => return e.into(),
    };
    let e = ev(&d, "a refusal (400 or 401)", d.status.to_string());
    if d.status == 400 || d.status == 401 {
        Verdict::pass("refused", vec![e])
    } else {
        Verdict::fail(format!("answered {}", d.status), vec![e])
    }
}

async fn det_ldr(ctx: &Ctx) -> Verdict {
    if let Some(v) = ctx.need_fixtures() {
        return v;
    }
    if ctx.t.suwi {
        return Verdict::skip(
            "the tester's identity is a SUWI party here; a non-SUWI identity is needed",
        );
    }
    let a = match ctx
        .select(&fixtures::question(CENTRE, fixtures::AFSTAND, json!({})))
        .await
    {
        Ok(a) => a,
        Err(e) => return e.into(),
    };
    let Some(id) = matches(&a).first().and_then(|m| ctx.id_of(m)) else {
        return Verdict::error("no match to ask the detail of");
    };
    let d = match ctx
        .client
        .detail(Record::Werkzoekende, &id, &ctx.headers())
        .await
    {
        Ok(d) => d,
        Err(e) => return e.into(),
    };
    let ldr = ctx
        .document(&d.body)
        .get("indicatieLdrRegistratie")
        .cloned();
    let e = ev(
        &d,
        "no indicatieLdrRegistratie (the fixture has 1; the caller is no SUWI party)",
        format!("{ldr:?}"),
    );
    if d.status == 200 && ldr.is_none() {
        Verdict::pass("withheld from a non-SUWI party", vec![e])
    } else {
        Verdict::fail(format!("{} with LDR {ldr:?}", d.status), vec![e])
    }
}

async fn det_cap(ctx: &Ctx) -> Verdict {
    if let Some(v) = ctx.need_fixtures() {
        return v;
    }
    let a = match ctx
        .select(&fixtures::question(CAP_AREA, 0.0, json!({})))
        .await
    {
        Ok(a) => a,
        Err(e) => return e.into(),
    };
    let ms = matches(&a);
    if ms.len() < 11 {
        return Verdict::error(format!("{} matches: too few to reach the cap", ms.len()));
    }
    let mut evs = Vec::new();
    for (i, m) in ms.iter().take(11).enumerate() {
        let Some(id) = ctx.id_of(m) else { continue };
        let d = match ctx
            .client
            .detail(Record::Werkzoekende, &id, &ctx.headers())
            .await
        {
            Ok(d) => d,
            Err(e) => return e.into(),
        };
        let want = if i < 10 { 200 } else { 429 };
        let e = ev(&d, want.to_string(), d.status.to_string());
        if d.status != want {
            return Verdict::fail(
                format!("detail {} of the result set answered {}", i + 1, d.status),
                vec![e],
            );
        }
        evs.push(e);
    }
    Verdict::pass(
        "10 details, then 429",
        evs.split_off(evs.len().saturating_sub(2)),
    )
}

/// The REST name and gRPC key of a party header, by its short name.
fn header(ctx: &Ctx, short: &str) -> String {
    let rest = match short {
        "fromParty" => "X-VUM-fromParty",
        "toParty" => "X-VUM-toParty",
        "viaParty" => "X-VUM-viaParty",
        "SUWIparty" => "X-VUM-SUWIparty",
        "berichtVersie" => "X-VUM-berichtVersie",
        other => other,
    };
    if ctx.kind() == TargetKind::Grpc {
        rest.to_ascii_lowercase()
    } else {
        name(rest)
    }
}

async fn refused_with(
    ctx: &Ctx,
    headers: Vec<(String, String)>,
    what: &str,
) -> Result<Evidence, Verdict> {
    let a = ctx
        .client
        .select(
            Record::Werkzoekende,
            &fixtures::question(CENTRE, 5.0, json!({})),
            &headers,
        )
        .await
        .map_err(Verdict::from)?;
    let e = ev(
        &a,
        format!("{what}: refused (400 or 401)"),
        a.status.to_string(),
    );
    if a.status == 400 || a.status == 401 {
        Ok(e)
    } else {
        Err(Verdict::fail(
            format!("{what}: answered {}", a.status),
            vec![e],
        ))
    }
}

async fn pty_missing(ctx: &Ctx) -> Verdict {
    let mut required = vec!["fromParty", "toParty", "viaParty", "berichtVersie"];
    match ctx.kind() {
        TargetKind::Bron => required.extend(["SUWIparty", "API-Version"]),
        TargetKind::Bemiddelaar => required.push("API-Version"),
        _ => required.extend(["SUWIparty", "x-transaction-id"]),
    }
    let mut evs = Vec::new();
    for h in required {
        match refused_with(
            ctx,
            ctx.headers_with(&header(ctx, h), None),
            &format!("without {h}"),
        )
        .await
        {
            Ok(e) => evs.push(e),
            Err(v) => return v,
        }
    }
    Verdict::pass(
        format!("each of {} required headers missing: refused", evs.len()),
        evs,
    )
}

async fn pty_refused(ctx: &Ctx, change: &[(&str, &str)], what: &str) -> Verdict {
    let mut h = ctx.headers();
    for (short, v) in change {
        let n = header(ctx, short);
        h.retain(|(k, _)| !k.eq_ignore_ascii_case(&n));
        h.push((n, v.to_string()));
    }
    match refused_with(ctx, h, what).await {
        Ok(e) => Verdict::pass(format!("{what}: refused"), vec![e]),
        Err(v) => v,
    }
}

async fn pty_via(ctx: &Ctx) -> Verdict {
    // the wrong party in viaParty for the call's roles
    let wrong = match ctx.kind() {
        TargetKind::Bron => ctx.t.caller_oin.clone(),
        _ => ctx.t.node_oin.clone(),
    };
    pty_refused(
        ctx,
        &[("viaParty", wrong.as_str())],
        "viaParty not the party the roles name",
    )
    .await
}

async fn pty_version(ctx: &Ctx) -> Verdict {
    let a = pty_refused(
        ctx,
        &[("berichtVersie", "2.0.0")],
        "X-VUM-berichtVersie 2.0.0",
    )
    .await;
    if a.outcome != Outcome::Pass || ctx.kind() == TargetKind::Grpc {
        return a;
    }
    merge(
        a,
        pty_refused(ctx, &[("API-Version", "2.0.0")], "API-Version 2.0.0").await,
    )
}

async fn pty_suwi(ctx: &Ctx) -> Verdict {
    if ctx.t.suwi {
        return Verdict::skip(
            "the tester's identity is a SUWI party here; a non-SUWI identity is needed",
        );
    }
    pty_refused(
        ctx,
        &[("SUWIparty", "true")],
        "a SUWI claim from a non-SUWI party",
    )
    .await
}

async fn tls_refused(
    ctx: &Ctx,
    creds: Option<&Option<crate::client::Creds>>,
    what: &str,
) -> Verdict {
    let creds = match creds {
        None => None,
        Some(None) => return Verdict::skip(format!("no credential given for {what}")),
        Some(Some(c)) => Some(c),
    };
    let client = match Client::new(&ctx.t.face, creds) {
        Ok(c) => c,
        Err(e) => return Verdict::error(format!("{what}: {e}")),
    };
    let q = fixtures::question(CENTRE, 5.0, json!({}));
    match client
        .select(Record::Werkzoekende, &q, &ctx.headers())
        .await
    {
        Err(e) => Verdict::pass(
            format!("{what}: no connection"),
            vec![evidence(
                format!("POST …/matches with {what}"),
                e.to_string(),
                "the handshake refused, or 401",
                "refused at the handshake",
            )],
        ),
        Ok(a) if a.status == 401 => {
            Verdict::pass(format!("{what}: 401"), vec![ev(&a, "refused", "401")])
        }
        Ok(a) => Verdict::fail(
            format!("{what}: answered {}", a.status),
            vec![ev(&a, "refused", a.status.to_string())],
        ),
    }
}

async fn rate(ctx: &Ctx) -> Verdict {
    let mut calls = tokio::task::JoinSet::new();
    let id = "0".repeat(32);
    for _ in 0..1500 {
        let (c, h, id) = (ctx.client.clone(), ctx.headers(), id.clone());
        calls.spawn(async move { c.detail(Record::Werkzoekende, &id, &h).await });
    }
    let (mut limited, mut server_errors, mut retry_after, mut none) = (None, 0, false, 0);
    while let Some(r) = calls.join_next().await {
        match r {
            Ok(Ok(a)) => {
                if a.status == 429 {
                    retry_after |= a.header("retry-after").is_some() || a.grpc_code.is_some();
                    limited.get_or_insert(a);
                } else if a.status >= 500 {
                    server_errors += 1;
                }
            }
            _ => none += 1,
        }
    }
    // let the bucket refill before later tests
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    match limited {
        Some(a) if server_errors == 0 && retry_after => Verdict::pass(
            format!("429 with a retry delay; no 5xx ({none} calls without an answer)"),
            vec![ev(&a, "429 with Retry-After (REST) or RESOURCE_EXHAUSTED (gRPC)", a.excerpt())],
        ),
        Some(a) => Verdict::fail(format!("{server_errors} server errors; Retry-After {retry_after}"), vec![ev(&a, "429 with Retry-After, no 5xx", a.excerpt())]),
        None => Verdict::fail(format!("1,500 calls at once: no 429 ({server_errors} server errors, {none} without an answer)"), Vec::new()),
    }
}

/// The payload checks over files of VUM documents (one document, an array, or NDJSON).
pub fn payload(id: &str, files: &[std::path::PathBuf]) -> Verdict {
    let validator = vum::Validator::new();
    let mut problems = Vec::new();
    let mut docs = 0;
    for f in files {
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) => return Verdict::error(format!("{}: {e}", f.display())),
        };
        let values: Vec<Value> = match serde_json::from_str::<Value>(&text) {
            Ok(Value::Array(a)) => a,
            Ok(v) => vec![v],
            Err(_) => text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect(),
        };
        for (i, v) in values.iter().enumerate() {
            docs += 1;
            let kind = if v.get("idVacature").is_some() {
                vum::Kind::Vacature
            } else {
                vum::Kind::Werkzoekende
            };
            let r = validator.validate_value(kind, v);
            let found: Vec<String> = if id == "VUM-PAY-001" {
                r.errors()
                    .map(|x| format!("{}#{i}{} {}: {}", f.display(), x.pointer, x.rule, x.message))
                    .collect()
            } else {
                r.warnings()
                    .map(|x| format!("{}#{i}{} {}: {}", f.display(), x.pointer, x.rule, x.message))
                    .collect()
            };
            problems.extend(found);
        }
    }
    let e = evidence(
        format!("{} file(s), {docs} document(s)", files.len()),
        problems
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n"),
        "no finding",
        format!("{} finding(s)", problems.len()),
    );
    if problems.is_empty() {
        Verdict::pass(format!("{docs} documents, no finding"), vec![e])
    } else {
        Verdict::fail(
            format!("{} finding(s) in {docs} documents", problems.len()),
            vec![e],
        )
    }
}
