//! The transparency figures (`matchgate report`): what each import and push counted per
//! municipality, kept per run so trends can be drawn, and the state of the werkzoekenden per
//! municipality (shared, expired, withdrawn; completeness and freshness of the shared ones).
//! Counts only: a municipality is the CBS code of a record's PC4 area, never anything finer.
use crate::{Store, StoreError};
use sqlx::Row;
use std::collections::BTreeMap;
use transparency::figures::{
    Area, NodeFigures, Organisation, Quality, Run, RunArea, Tally, UNKNOWN_MUNICIPALITY,
};
use vum::Kind;

const DAY_MS: i64 = 86_400_000;
/// Runs kept in the figures (the trend lines), newest last.
pub const MAX_RUNS: usize = 100;
/// Distinct rule ids kept per municipality and measure in one run (rule ids are the validator's
/// and translate's own, a few dozen; a bound all the same).
const MAX_RULES: usize = 200;

/// What a run counted in one municipality (see [`Store::record_run`]).
pub use transparency::figures::ImportCounts as RunCounts;

/// The municipality code of a PC4 area (`None` or an area in no table: [`UNKNOWN_MUNICIPALITY`]).
pub fn municipality_of(pc4: Option<i64>) -> &'static str {
    pc4.and_then(|p| u16::try_from(p).ok())
        .and_then(vum::refdata::pc4_municipality)
        .unwrap_or(UNKNOWN_MUNICIPALITY)
}

/// Per municipality, the state of the werkzoekenden now.
struct State {
    tally: Tally,
    quality: Quality,
}

impl Store {
    /// Keep what one import or push of `kind` counted (per municipality), with the number of
    /// records shared in each municipality right after it. Returns the run's id.
    pub async fn record_run(
        &self,
        kind: Kind,
        origin: &str,
        at_ms: i64,
        counts: &BTreeMap<String, RunCounts>,
    ) -> Result<i64, StoreError> {
        let shared_after: BTreeMap<String, u64> = if kind == Kind::Werkzoekende {
            self.state(at_ms)
                .await?
                .into_iter()
                .map(|(m, s)| (m, s.tally.shared))
                .collect()
        } else {
            BTreeMap::new()
        };
        self.insert_run(kind, origin, at_ms, counts, &shared_after)
            .await
    }

    /// [`Store::record_run`] with the shared records per PC4 area right after the run given by the
    /// caller (a running node counts them in its selection index,
    /// [`crate::engine::Engine::live_per_pc4`], caught up first) instead of one aggregate over
    /// every record: what a push, which may hold one record, can afford.
    pub async fn record_run_counted(
        &self,
        kind: Kind,
        origin: &str,
        at_ms: i64,
        counts: &BTreeMap<String, RunCounts>,
        shared_per_pc4: &BTreeMap<Option<u16>, u64>,
    ) -> Result<i64, StoreError> {
        let mut shared_after: BTreeMap<String, u64> = BTreeMap::new();
        for (pc4, n) in shared_per_pc4 {
            *shared_after
                .entry(municipality_of(pc4.map(i64::from)).to_string())
                .or_default() += n;
        }
        self.insert_run(kind, origin, at_ms, counts, &shared_after)
            .await
    }

    async fn insert_run(
        &self,
        kind: Kind,
        origin: &str,
        at_ms: i64,
        counts: &BTreeMap<String, RunCounts>,
        shared_after: &BTreeMap<String, u64>,
    ) -> Result<i64, StoreError> {
        let mut rows: Vec<(&str, &str, &str, i64)> = Vec::new();
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        for (m, c) in counts {
            for (measure, v) in [
                ("offered", c.offered),
                ("accepted", c.accepted),
                ("no_consent", c.no_consent),
                ("filtered", c.filtered),
                ("rejected", c.rejected),
            ] {
                if v > 0 {
                    rows.push((m, measure, "", n(v)));
                }
            }
            for (measure, by_rule) in [
                ("rejected_rule", &c.rejected_by_rule),
                ("warning", &c.warnings_by_rule),
            ] {
                for (rule, v) in by_rule.iter().take(MAX_RULES) {
                    rows.push((m, measure, rule.as_str(), n(*v)));
                }
            }
        }
        for (m, v) in shared_after {
            rows.push((m, "shared_after", "", n(*v)));
        }
        let mut tx = self.begin_write().await?;
        let run: i64 = sqlx::query(&self.sql(
            "INSERT INTO import_runs (kind, origin, at_ms) VALUES (?, ?, ?) RETURNING run_id",
        ))
        .bind(kind.name())
        .bind(origin)
        .bind(at_ms)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        let inserts = self.chunked(&rows, 200, "(?, ?, ?, ?, ?)", |rows| {
            format!(
                "INSERT INTO import_counts (run_id, municipality, measure, rule, n) VALUES {rows}"
            )
        });
        for (chunk, q) in inserts {
            let mut query = sqlx::query(&q).persistent(false);
            for (m, measure, rule, v) in chunk {
                query = query.bind(run).bind(*m).bind(*measure).bind(*rule).bind(*v);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(run)
    }

    /// The werkzoekenden per municipality now: shared, expired, withdrawn, and completeness and
    /// freshness of the shared ones. One aggregate query over the records' columns.
    async fn state(&self, now: i64) -> Result<BTreeMap<String, State>, StoreError> {
        let live = "deleted = 0 AND consent = 1 AND refreshed_ms >= ?";
        let sum = |cond: &str| format!("COALESCE(SUM(CASE WHEN {cond} THEN 1 ELSE 0 END), 0)");
        let q = format!(
            "SELECT pc4, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {} FROM records WHERE kind = ? GROUP BY pc4",
            sum(live),
            sum("deleted = 0 AND consent = 1 AND refreshed_ms < ?"),
            sum("deleted = 1 AND consent = 0"),
            sum(&format!("{live} AND beroepen IS NOT NULL")),
            sum(&format!("{live} AND (uren_min IS NOT NULL OR uren_max IS NOT NULL)")),
            sum(&format!("{live} AND datum IS NOT NULL")),
            sum(&format!("{live} AND opleiding = 1")),
            sum(&format!("{live} AND talen IS NOT NULL")),
            sum(&format!("{live} AND rijbewijzen IS NOT NULL")),
            sum(&format!("{live} AND refreshed_ms >= ?")),
            sum(&format!("{live} AND refreshed_ms < ? AND refreshed_ms >= ?")),
            sum(&format!("{live} AND refreshed_ms < ? AND refreshed_ms >= ?")),
            sum(&format!("{live} AND refreshed_ms < ?")),
        );
        let since = self.live_since(now);
        let ago = |days: i64| now - days * DAY_MS;
        let q = self.sql(&q);
        let mut query = sqlx::query(&q).bind(since).bind(since);
        // the six completeness measures
        for _ in 0..6 {
            query = query.bind(since);
        }
        query = query.bind(since).bind(ago(7));
        query = query.bind(since).bind(ago(7)).bind(ago(30));
        query = query.bind(since).bind(ago(30)).bind(ago(60));
        query = query.bind(since).bind(ago(60));
        let rows = query
            .bind(Kind::Werkzoekende.name())
            .fetch_all(&self.pool)
            .await?;
        let mut out: BTreeMap<String, State> = BTreeMap::new();
        for r in rows {
            let pc4: Option<i64> = r.try_get(0)?;
            let g = |i: usize| -> Result<u64, StoreError> {
                Ok(u64::try_from(r.try_get::<i64, _>(i)?).unwrap_or(0))
            };
            let s = out
                .entry(municipality_of(pc4).to_string())
                .or_insert_with(|| State {
                    tally: Tally::default(),
                    quality: Quality::default(),
                });
            s.tally.shared += g(1)?;
            s.tally.expired += g(2)?;
            s.tally.withdrawn += g(3)?;
            let q = &mut s.quality;
            q.shared += g(1)?;
            q.with_occupation += g(4)?;
            q.with_hours += g(5)?;
            q.with_availability += g(6)?;
            q.with_education += g(7)?;
            q.with_languages += g(8)?;
            q.with_licence += g(9)?;
            for b in 0..4 {
                q.fresh_days[b] += g(10 + b)?;
            }
        }
        Ok(out)
    }

    /// The stored runs of werkzoekenden, newest last (at most [`MAX_RUNS`]).
    pub async fn runs(&self) -> Result<Vec<(i64, Run, BTreeMap<String, RunCounts>)>, StoreError> {
        let runs = sqlx::query(&self.sql(
            "SELECT run_id, origin, at_ms FROM import_runs WHERE kind = ? ORDER BY run_id DESC LIMIT ?",
        ))
        .bind(Kind::Werkzoekende.name())
        .bind(MAX_RUNS as i64)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(runs.len());
        for r in runs.iter().rev() {
            let id: i64 = r.try_get(0)?;
            let mut run = Run {
                at_ms: r.try_get(2)?,
                origin: r.try_get(1)?,
                areas: BTreeMap::new(),
            };
            let mut counts: BTreeMap<String, RunCounts> = BTreeMap::new();
            let rows =
                sqlx::query(&self.sql(
                    "SELECT municipality, measure, rule, n FROM import_counts WHERE run_id = ?",
                ))
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
            for c in rows {
                let (m, measure, rule): (String, String, String) =
                    (c.try_get(0)?, c.try_get(1)?, c.try_get(2)?);
                let n = u64::try_from(c.try_get::<i64, _>(3)?).unwrap_or(0);
                let a: &mut RunArea = run.areas.entry(m.clone()).or_default();
                let k = counts.entry(m).or_default();
                match measure.as_str() {
                    "offered" => (a.offered, k.offered) = (n, n),
                    "accepted" => (a.accepted, k.accepted) = (n, n),
                    "no_consent" => (a.no_consent, k.no_consent) = (n, n),
                    "filtered" => k.filtered = n,
                    "rejected" => (a.rejected, k.rejected) = (n, n),
                    "shared_after" => a.shared_after = n,
                    "rejected_rule" => {
                        k.rejected_by_rule.insert(rule, n);
                    }
                    "warning" => {
                        k.warnings_by_rule.insert(rule, n);
                    }
                    _ => {}
                }
            }
            out.push((id, run, counts));
        }
        Ok(out)
    }

    /// The transparency figures of this node's werkzoekenden at `now`: per municipality the state
    /// (shared, expired, withdrawn, completeness, freshness) and, from the latest `ingest` run and
    /// the pushes since, what was left out for want of consent or rejected (by rule), with the
    /// warnings; and the stored runs for the trend lines.
    pub async fn transparency(
        &self,
        organisation: Organisation,
        now: i64,
    ) -> Result<NodeFigures, StoreError> {
        let mut state = self.state(now).await?;
        let runs = self.runs().await?;
        // the latest ingest and every push since (or every push, without an ingest)
        let from = runs
            .iter()
            .rposition(|(_, r, _)| r.origin == "ingest")
            .unwrap_or(0);
        for (_, _, counts) in &runs[from..] {
            for (m, c) in counts {
                let s = state.entry(m.clone()).or_insert_with(|| State {
                    tally: Tally::default(),
                    quality: Quality::default(),
                });
                s.tally.no_consent += c.no_consent;
                s.tally.rejected += c.rejected;
                for (mine, theirs) in [
                    (&mut s.tally.rejected_by_rule, &c.rejected_by_rule),
                    (&mut s.quality.warnings_by_rule, &c.warnings_by_rule),
                ] {
                    for (rule, n) in theirs {
                        *mine.entry(rule.clone()).or_default() += n;
                    }
                }
            }
        }
        Ok(NodeFigures {
            organisation,
            generated_ms: now,
            areas: state
                .into_iter()
                .map(|(municipality, s)| Area {
                    municipality,
                    tally: s.tally,
                    quality: s.quality,
                })
                .collect(),
            runs: runs.into_iter().map(|(_, r, _)| r).collect(),
        })
    }

    /// Whether `vum_id` is a record whose consent was withdrawn after it was shared (a tombstone
    /// with consent 0): an import that leaves it out for want of consent counts it as withdrawn,
    /// not again as without consent.
    pub async fn is_withdrawn(&self, kind: Kind, vum_id: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query(&self.sql(
            "SELECT 1 FROM records WHERE kind = ? AND vum_id = ? AND deleted = 1 AND consent = 0",
        ))
        .bind(kind.name())
        .bind(vum_id)
        .fetch_optional(&self.pool)
        .await?
        .is_some())
    }
}
