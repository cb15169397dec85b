//! Culprit isolation: re-runs the build with subsets of the variations to find, per differing
//! artifact, the minimal sets of variations that still produce its difference — interactions
//! included — and whether it differs with none at all (random). Each artifact's search
//! ([`search`]) starts from what its findings' evidence points at; the control and run B are
//! reused, a memo shares every probe between artifacts, the probes one round needs run
//! concurrently up to the check's `jobs`, and a build budget bounds it all.

use std::collections::BTreeMap;
use std::time::Instant;

use super::model::{CheckReport, IsolationSummary};
use super::run::Runner;
use super::{CheckError, Prepared};
use crate::artifacts;
use crate::diagnose::{Code, Finding, Symptom};
use crate::plan::{CONTROL, Plan, RunSpec, Variation};

mod search;
#[cfg(test)]
mod tests;

use search::{Found, Set, Step, View};

pub(super) struct Isolation {
    per_artifact: BTreeMap<String, Found>,
    builds: usize,
    budget: usize,
    exhausted: bool,
    jobs: usize,
    rounds: usize,
    duration_ms: u64,
}

/// One differing artifact's search: what it starts from.
struct Target {
    path: String,
    control: Option<String>,
    suspects: Vec<Variation>,
}

struct Prober<'r> {
    runner: &'r Runner,
    plan: &'r Plan,
    exclude: globset::GlobSet,
    /// Digest per artifact path for every set built so far (`None`: not produced, or the
    /// build failed).
    memo: BTreeMap<Set, BTreeMap<String, Option<String>>>,
    builds: usize,
}

impl Prober<'_> {
    /// Builds the given sets (all at once: the runner runs them up to its jobs at a time).
    async fn build(&mut self, todo: Vec<Set>) -> Result<(), CheckError> {
        let specs: Vec<RunSpec> = todo
            .iter()
            .enumerate()
            .map(|(i, s)| self.plan.probe(self.builds + i + 1, s))
            .collect();
        self.builds += specs.len();
        let finished = self.runner.run(&specs).await?;
        for (run, set) in finished.into_iter().zip(todo) {
            let mut digests = BTreeMap::new();
            let dest = run.outputs_dir();
            // A probe that fails or whose outputs cannot be read produced nothing.
            if run.result.succeeded()
                && let Some(Ok(u)) = run
                    .result
                    .with_outputs(|tar| artifacts::unpack(tar, &dest, &self.exclude))
            {
                for (path, a) in u.artifacts {
                    digests.insert(path, Some(a.sha256));
                }
            }
            self.memo.insert(set, digests);
        }
        Ok(())
    }

    /// What the probes so far showed for one artifact.
    fn view<'a>(&self, all: &'a Set, t: &'a Target) -> View<'a> {
        View {
            all,
            control: &t.control,
            seen: self
                .memo
                .iter()
                .map(|(s, d)| (s.clone(), d.get(&t.path).cloned().flatten()))
                .collect(),
            suspects: t.suspects.clone(),
        }
    }
}

impl Prepared {
    /// Culprit isolation for a report that is not reproducible: probes within the budget
    /// the user gave, then the culprits and their findings go into the report.
    pub async fn isolate(&self, report: &mut CheckReport) -> Result<(), CheckError> {
        let budget = self.opts.isolate_budget;
        let iso = isolate(&self.runner, &self.plan, report, budget).await?;
        apply(report, iso);
        Ok(())
    }
}

/// The variations an artifact's findings point at, in the order the findings came.
fn suspects(report: &CheckReport, path: &str) -> Vec<Variation> {
    let mut out = Vec::new();
    for f in report.findings.iter().filter(|f| f.artifact == path) {
        if let Some(v) = f.code.variation()
            && !out.contains(&v)
        {
            out.push(v);
        }
    }
    out
}

pub(super) async fn isolate(
    runner: &Runner,
    plan: &Plan,
    report: &CheckReport,
    budget: usize,
) -> Result<Isolation, CheckError> {
    let started = Instant::now();
    let jobs = runner.jobs();
    let mut p = Prober {
        runner,
        plan,
        exclude: artifacts::glob_set(&plan.build.exclude_outputs),
        memo: BTreeMap::new(),
        builds: 0,
    };
    // Reuse run B: everything on.
    let all: Set = plan.variations.clone();
    let b_digests: BTreeMap<String, Option<String>> = report
        .artifacts
        .iter()
        .map(|a| (a.path.clone(), a.sha256.get("B").cloned().flatten()))
        .collect();
    p.memo.insert(all.clone(), b_digests);
    let targets: Vec<Target> = report
        .artifacts
        .iter()
        .filter(|a| !a.reproducible)
        .filter_map(|a| {
            // Absent from the control: nothing to reproduce, nothing to isolate.
            let control = a.sha256.get(CONTROL).cloned().flatten()?;
            Some(Target {
                path: a.path.clone(),
                control: Some(control),
                suspects: suspects(report, &a.path),
            })
        })
        .collect();
    let mut per_artifact = BTreeMap::new();
    let (mut exhausted, mut rounds) = (false, 0);
    loop {
        // Every unfinished search says what it needs; round-robin so each one moves.
        let mut wants: Vec<Vec<Set>> = Vec::new();
        for t in &targets {
            if per_artifact.contains_key(&t.path) {
                continue;
            }
            match search::step(&p.view(&all, t)) {
                Step::Done(found) => {
                    per_artifact.insert(t.path.clone(), found);
                }
                Step::Need(sets) => wants.push(sets),
            }
        }
        let mut todo: Vec<Set> = Vec::new();
        for i in 0..wants.iter().map(Vec::len).max().unwrap_or(0) {
            for s in wants.iter().filter_map(|w| w.get(i)) {
                if !todo.contains(s) {
                    todo.push(s.clone());
                }
            }
        }
        if todo.is_empty() {
            break;
        }
        let room = budget.saturating_sub(p.builds);
        if room == 0 {
            exhausted = true;
            break;
        }
        todo.truncate(jobs.min(room));
        rounds += 1;
        p.build(todo).await?;
    }
    for t in &targets {
        if !per_artifact.contains_key(&t.path) {
            per_artifact.insert(t.path.clone(), search::partial(&p.view(&all, t)));
        }
    }
    Ok(Isolation {
        per_artifact,
        builds: p.builds,
        budget,
        exhausted,
        jobs,
        rounds,
        duration_ms: started.elapsed().as_millis() as u64,
    })
}

/// Records the culprits, and lets them confirm or override the evidence-based findings.
pub(super) fn apply(report: &mut CheckReport, iso: Isolation) {
    report.isolation = Some(IsolationSummary {
        builds: iso.builds,
        probes: iso.builds,
        budget: iso.budget,
        exhausted: iso.exhausted,
        jobs: iso.jobs,
        rounds: iso.rounds,
        duration_ms: iso.duration_ms,
    });
    for a in &mut report.artifacts {
        let Some(Found { sets, random }) = iso.per_artifact.get(&a.path) else {
            continue;
        };
        a.culprit_sets = sets.clone();
        a.random = *random;
        report.culprits.extend(sets.iter().flatten().copied());
        let culprit_vars: Set = sets.iter().flatten().copied().collect();
        let path = a.path.clone();
        let mine = |f: &Finding| f.artifact == path;
        if *random {
            report.findings.retain(|f| !mine(f));
            report.findings.push(Finding {
                code: Code::Random,
                symptom: Symptom::Content,
                artifact: path.clone(),
                path: path.rsplit('/').next().unwrap_or(&path).to_string(),
                evidence: "it differs between two builds with every variation off".into(),
                hint: Code::Random.hint().into(),
            });
            continue;
        }
        if sets.is_empty() {
            continue;
        }
        // Isolation overrides evidence that points at a variation it cleared.
        report
            .findings
            .retain(|f| !mine(f) || f.code.variation().is_none_or(|v| culprit_vars.contains(&v)));
        report.findings.retain(|f| !mine(f) || f.code != Code::Unknown);
        for set in sets {
            let covered = report
                .findings
                .iter()
                .any(|f| mine(f) && f.code.variation().is_some_and(|v| set.contains(&v)));
            if !covered {
                let names: Vec<&str> = set.iter().map(|v| v.name()).collect();
                for v in set {
                    let code = Code::for_variation(*v);
                    let evidence = if set.len() == 1 {
                        format!(
                            "culprit isolation: the difference appears with only {} varied",
                            v.name()
                        )
                    } else {
                        format!(
                            "culprit isolation: the difference appears only when {} vary together, not each alone",
                            names.join(" + ")
                        )
                    };
                    report.findings.push(Finding {
                        code,
                        symptom: Symptom::Content,
                        artifact: path.clone(),
                        path: path.rsplit('/').next().unwrap_or(&path).to_string(),
                        evidence,
                        hint: code.hint().into(),
                    });
                }
            }
        }
    }
}
