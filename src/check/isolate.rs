//! Culprit isolation: re-runs the build with subsets of the variations (delta debugging) to
//! find, per differing artifact, the minimal sets of variations that still produce its
//! difference — interactions included — and whether it differs with none at all (random).
//! The control and run B are reused; probes of one round run in parallel; a memo shares probe
//! results between artifacts; a build budget bounds it.

use std::collections::{BTreeMap, BTreeSet};

use super::model::{CheckReport, IsolationSummary};
use super::run::Runner;
use super::{CheckError, Prepared};
use crate::artifacts;
use crate::diagnose::{Code, Finding, Symptom};
use crate::plan::{CONTROL, Plan, RunSpec, Variation};

type Set = BTreeSet<Variation>;

pub(super) struct Isolation {
    per_artifact: BTreeMap<String, (Vec<Set>, bool)>,
    builds: usize,
    budget: usize,
    exhausted: bool,
}

struct Prober<'r> {
    runner: &'r Runner,
    plan: &'r Plan,
    exclude: globset::GlobSet,
    /// Digest per artifact path for every set built so far (`None`: not produced, or the
    /// build failed).
    memo: BTreeMap<Set, BTreeMap<String, Option<String>>>,
    builds: usize,
    budget: usize,
    exhausted: bool,
}

impl Prober<'_> {
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

pub(super) async fn isolate(
    runner: &Runner,
    plan: &Plan,
    report: &CheckReport,
    budget: usize,
) -> Result<Isolation, CheckError> {
    let mut p = Prober {
        runner,
        plan,
        exclude: artifacts::glob_set(&plan.build.exclude_outputs),
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
        let control = a.sha256.get(CONTROL).cloned().flatten();
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

#[cfg(test)]
mod tests {
    //! Isolation against a fake backend whose outputs follow from the variations a run has on.

    use std::collections::BTreeSet;
    use std::path::Path;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use futures_util::future::BoxFuture;

    use super::super::{CheckOptions, CheckReport, Target, prepare};
    use crate::plan::{Plan, Variation};
    use crate::runner::{Backend, ImageInfo, Progress, RunError, RunRequest, RunResult};

    type Rule = Box<dyn Fn(&BTreeSet<Variation>, u64) -> Vec<(&'static str, String)> + Send + Sync>;

    /// Makes `out/NAME` files whose content the rule derives from the variations on (and a
    /// count of the builds made, for randomness).
    struct Fake {
        rule: Rule,
        builds: AtomicU64,
    }

    impl Fake {
        fn new(
            rule: impl Fn(&BTreeSet<Variation>, u64) -> Vec<(&'static str, String)> + Send + Sync + 'static,
        ) -> Arc<Fake> {
            Arc::new(Fake {
                rule: Box::new(rule),
                builds: AtomicU64::new(0),
            })
        }
    }

    impl Backend for Fake {
        fn name(&self) -> &'static str {
            "fake"
        }

        fn isolated(&self) -> bool {
            true
        }

        fn fit_variations(&self, _: &mut BTreeSet<Variation>) -> Vec<String> {
            Vec::new()
        }

        fn fit_plan(&self, plan: Plan, _: &Path) -> Plan {
            plan
        }

        fn preflight<'a>(
            &'a self,
            _: &'a str,
            _: bool,
            _: Arc<dyn Progress>,
        ) -> BoxFuture<'a, Result<ImageInfo, RunError>> {
            Box::pin(async { Ok(ImageInfo::this_machine()) })
        }

        fn remove_leftovers(&self) -> BoxFuture<'_, Result<usize, RunError>> {
            Box::pin(async { Ok(0) })
        }

        fn run(&self, req: RunRequest) -> BoxFuture<'static, Result<RunResult, RunError>> {
            let n = self.builds.fetch_add(1, Ordering::SeqCst);
            let files = (self.rule)(&req.spec.variations, n);
            Box::pin(async move {
                let archive = req.work.join("outputs.tar");
                let mut b = tar::Builder::new(Vec::new());
                for (name, content) in files {
                    let mut h = tar::Header::new_gnu();
                    h.set_size(content.len() as u64);
                    h.set_mode(0o644);
                    b.append_data(&mut h, format!("out/{name}"), content.as_bytes())
                        .map_err(RunError::io("writing the fake outputs"))?;
                }
                let bytes = b.into_inner().map_err(RunError::io("writing the fake outputs"))?;
                std::fs::write(&archive, bytes).map_err(RunError::io("writing the fake outputs"))?;
                Ok(RunResult {
                    exit_code: 0,
                    timed_out: false,
                    duration: Duration::ZERO,
                    log_path: req.work.join("build.log"),
                    log_tail: Vec::new(),
                    outputs_archive: Some(archive),
                    outputs_wrapped: false,
                    container_env: Vec::new(),
                    container_mounts: Vec::new(),
                    overhead: Duration::ZERO,
                    placement: None,
                })
            })
        }

        fn cancel_live(&self) -> BoxFuture<'_, ()> {
            Box::pin(async {})
        }
    }

    /// `repro check` of a one-line project through `backend`, with this isolation budget.
    async fn check(backend: Arc<Fake>, budget: usize) -> CheckReport {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("repro.toml"),
            "[build]\ncommand = [\"true\"]\noutputs = [\"out/*\"]\n",
        )
        .unwrap();
        let opts = CheckOptions {
            source_date_epoch: Some(1_700_000_000),
            isolate_budget: budget,
            ..CheckOptions::new(d.path().to_path_buf())
        };
        let target = Target::project(&opts).unwrap();
        let silent: Arc<dyn Progress> = Arc::new(crate::runner::Silent);
        let prepared = prepare(&opts, target, backend, silent).await.unwrap();
        prepared.check().await.unwrap()
    }

    fn set(vars: &[Variation]) -> BTreeSet<Variation> {
        vars.iter().copied().collect()
    }

    fn artifact<'r>(r: &'r CheckReport, path: &str) -> &'r super::super::ArtifactReport {
        r.artifacts.iter().find(|a| a.path == path).unwrap()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn names_the_one_variation_an_output_depends_on() {
        let fake = Fake::new(|on, _| {
            vec![
                ("stamped", format!("built {}", on.contains(&Variation::Time))),
                ("same", "x".into()),
            ]
        });
        let r = check(fake.clone(), 24).await;
        let a = artifact(&r, "out/stamped");
        assert!(!a.reproducible && !a.random);
        assert_eq!(a.culprit_sets, [set(&[Variation::Time])]);
        assert!(artifact(&r, "out/same").reproducible);
        assert_eq!(r.culprits, set(&[Variation::Time]));
        let iso = r.isolation.as_ref().unwrap();
        assert!(!iso.exhausted && iso.builds <= 24, "{iso:?}");
        // A and B, then the probes isolation counted.
        assert_eq!(fake.builds.load(Ordering::SeqCst), 2 + iso.builds as u64);
        assert!(
            r.findings
                .iter()
                .any(|f| f.code == crate::diagnose::Code::for_variation(Variation::Time))
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn finds_an_interaction_as_one_set_of_two() {
        // Differs only when the locale and the timezone both vary, not either alone.
        let fake = Fake::new(|on, _| {
            let both = on.contains(&Variation::Locale) && on.contains(&Variation::Timezone);
            vec![("date", format!("{both}"))]
        });
        let r = check(fake, 24).await;
        let a = artifact(&r, "out/date");
        assert_eq!(a.culprit_sets, [set(&[Variation::Locale, Variation::Timezone])]);
        assert_eq!(r.culprits, set(&[Variation::Locale, Variation::Timezone]));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn finds_two_independent_culprits_of_one_output() {
        let fake = Fake::new(|on, _| {
            let umask = on.contains(&Variation::Umask);
            let path = on.contains(&Variation::BuildPath);
            vec![("mixed", format!("{umask} {path}"))]
        });
        let r = check(fake, 24).await;
        let mut sets = artifact(&r, "out/mixed").culprit_sets.clone();
        sets.sort();
        let mut expected = vec![set(&[Variation::Umask]), set(&[Variation::BuildPath])];
        expected.sort();
        assert_eq!(sets, expected);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_output_that_differs_with_nothing_varied_is_random() {
        let fake = Fake::new(|_, n| vec![("random", format!("build {n}"))]);
        let r = check(fake, 24).await;
        let a = artifact(&r, "out/random");
        assert!(a.random);
        assert!(a.culprit_sets.is_empty());
        assert!(r.culprits.is_empty());
        // One control repeat was enough to tell.
        assert_eq!(r.isolation.as_ref().unwrap().builds, 1);
        assert!(r.findings.iter().any(|f| f.code == crate::diagnose::Code::Random));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn stops_at_the_budget_and_says_so() {
        let fake = Fake::new(|on, _| vec![("stamped", format!("{}", on.contains(&Variation::Home)))]);
        let r = check(fake.clone(), 3).await;
        let iso = r.isolation.as_ref().unwrap();
        assert!(iso.exhausted, "{iso:?}");
        assert_eq!((iso.builds, iso.budget), (3, 3));
        assert_eq!(fake.builds.load(Ordering::SeqCst), 2 + 3);
        // Past the budget the set may not be minimal, but it still holds the culprit.
        let a = artifact(&r, "out/stamped");
        assert!(
            a.culprit_sets.iter().all(|s| s.contains(&Variation::Home)),
            "{a:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn no_isolation_without_a_budget_or_a_difference() {
        let fake = Fake::new(|on, _| vec![("stamped", format!("{}", on.contains(&Variation::Home)))]);
        let r = check(fake.clone(), 0).await;
        assert!(r.isolation.is_none());
        assert_eq!(fake.builds.load(Ordering::SeqCst), 2);
        let same = Fake::new(|_, _| vec![("same", "x".into())]);
        let r = check(same.clone(), 24).await;
        assert!(r.isolation.is_none() && r.artifacts.iter().all(|a| a.reproducible));
        assert_eq!(same.builds.load(Ordering::SeqCst), 2);
    }
}
