//! Culprit isolation: re-runs the build with subsets of the variations (delta debugging) to
//! find, per differing artifact, the minimal sets of variations that still produce its
//! difference — interactions included — and whether it differs with none at all (random).
//! The control and run B are reused; probes of one round run in parallel; a memo shares probe
//! results between artifacts; a build budget bounds it.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::diagnose::{Code, Finding, Symptom};

type Set = BTreeSet<Variation>;

pub(super) struct Isolation {
    per_artifact: BTreeMap<String, (Vec<Set>, bool)>,
    builds: usize,
    budget: usize,
    exhausted: bool,
}

struct Prober<'r, 'a> {
    runner: &'r Runner<'a>,
    plan: &'r Plan,
    exclude: globset::GlobSet,
    /// Digest per artifact path for every set built so far (`None`: not produced, or the
    /// build failed).
    memo: BTreeMap<Set, BTreeMap<String, Option<String>>>,
    builds: usize,
    budget: usize,
    exhausted: bool,
}

impl Prober<'_, '_> {
    /// Builds every set not built yet (in parallel, within the budget).
    async fn build(&mut self, sets: &[Set]) -> Result<(), CheckError> {
        let mut todo: Vec<Set> = Vec::new();
        for s in sets {
            if !self.memo.contains_key(s) && !todo.contains(s) {
                todo.push(s.clone());
            }
        }
        let room = self.budget.saturating_sub(self.builds);
        if todo.len() > room {
            self.exhausted = true;
            todo.truncate(room);
        }
        if todo.is_empty() {
            return Ok(());
        }
        let specs: Vec<RunSpec> = todo
            .iter()
            .enumerate()
            .map(|(i, s)| self.plan.probe(self.builds + i + 1, s))
            .collect();
        self.builds += specs.len();
        let results = self.runner.run(&specs).await?;
        for ((_, dir, r), set) in results.into_iter().zip(todo) {
            let mut digests = BTreeMap::new();
            // A probe that fails or whose outputs cannot be read produced nothing.
            if let (true, Some(archive)) = (r.exit_code == 0 && !r.timed_out, &r.outputs_archive)
                && let Ok(u) = unpack_outputs(&r, archive, &dir.join("outputs"), &self.exclude)
            {
                for (path, a) in u.artifacts {
                    digests.insert(path, Some(a.sha256));
                }
            }
            self.memo.insert(set, digests);
        }
        Ok(())
    }

    /// Whether building with `set` reproduces the artifact's difference (unknown sets, past the
    /// budget, count as not).
    fn fails(&self, set: &Set, artifact: &str, control: &Option<String>) -> bool {
        self.memo
            .get(set)
            .is_some_and(|d| d.get(artifact).cloned().flatten() != *control)
    }

    /// ddmin: a minimal subset of `c` (which fails) that still fails.
    async fn ddmin(
        &mut self,
        mut c: Set,
        artifact: &str,
        control: &Option<String>,
    ) -> Result<Set, CheckError> {
        let mut n = 2usize;
        while c.len() > 1 {
            let items: Vec<Variation> = c.iter().copied().collect();
            let chunk = items.len().div_ceil(n);
            let subsets: Vec<Set> = items
                .chunks(chunk)
                .map(|ch| ch.iter().copied().collect())
                .collect();
            let complements: Vec<Set> = subsets
                .iter()
                .map(|s| c.difference(s).copied().collect())
                .collect();
            let mut round = subsets.clone();
            if n > 2 {
                round.extend(complements.iter().cloned());
            }
            self.build(&round).await?;
            if let Some(s) = subsets.iter().find(|s| self.fails(s, artifact, control)) {
                c = s.clone();
                n = 2;
            } else if let Some(s) = complements
                .iter()
                .find(|s| n > 2 && self.fails(s, artifact, control))
            {
                c = s.clone();
                n = (n - 1).max(2);
            } else if n >= c.len() || self.exhausted {
                break;
            } else {
                n = (n * 2).min(c.len());
            }
        }
        Ok(c)
    }
}

pub(super) async fn isolate(
    runner: &Runner<'_>,
    plan: &Plan,
    report: &CheckReport,
    budget: usize,
) -> Result<Isolation, CheckError> {
    let mut p = Prober {
        runner,
        plan,
        exclude: output_excludes(&plan.build),
        memo: BTreeMap::new(),
        builds: 0,
        budget,
        exhausted: false,
    };
    // Reuse run B: everything on.
    let all: Set = plan.variations.clone();
    let b_digests: BTreeMap<String, Option<String>> = report
        .artifacts
        .iter()
        .map(|a| (a.path.clone(), a.sha256.get("B").cloned().flatten()))
        .collect();
    p.memo.insert(all.clone(), b_digests);
    // One control repeat tells random differences apart.
    p.build(&[Set::new()]).await?;
    let mut per_artifact = BTreeMap::new();
    for a in report.artifacts.iter().filter(|a| !a.reproducible) {
        let control = a.sha256.get("A").cloned().flatten();
        if control.is_none() {
            continue;
        }
        if p.fails(&Set::new(), &a.path, &control) {
            per_artifact.insert(a.path.clone(), (Vec::new(), true));
            continue;
        }
        let mut sets = Vec::new();
        let mut remaining = all.clone();
        while !remaining.is_empty() && !p.exhausted {
            p.build(std::slice::from_ref(&remaining)).await?;
            if !p.fails(&remaining, &a.path, &control) {
                break;
            }
            let m = p.ddmin(remaining.clone(), &a.path, &control).await?;
            remaining = remaining.difference(&m).copied().collect();
            sets.push(m);
        }
        per_artifact.insert(a.path.clone(), (sets, false));
    }
    Ok(Isolation {
        per_artifact,
        builds: p.builds,
        budget,
        exhausted: p.exhausted,
    })
}

/// Records the culprits, and lets them confirm or override the evidence-based findings.
pub(super) fn apply(report: &mut CheckReport, iso: Isolation) {
    report.isolation = Some(IsolationSummary {
        builds: iso.builds,
        budget: iso.budget,
        exhausted: iso.exhausted,
    });
    for a in &mut report.artifacts {
        let Some((sets, random)) = iso.per_artifact.get(&a.path) else {
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
