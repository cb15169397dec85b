//! Isolation against a fake backend whose outputs follow from the variations a run has on.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::future::BoxFuture;

use super::super::{CheckOptions, CheckReport, Target, prepare};
use crate::diagnose::Code;
use crate::plan::{RunSpec, Variation};
use crate::runner::{Backend, ImageInfo, Progress, RunError, RunRequest, RunResult};

type Rule = Box<dyn Fn(&RunSpec, u64) -> Vec<(&'static str, String)> + Send + Sync>;

/// Makes `out/NAME` files whose content the rule derives from the run's spec (the variations
/// on, the values it was given) and a count of the builds made, for randomness. Each build
/// takes a few milliseconds, so that concurrent ones overlap.
struct Fake {
    rule: Rule,
    builds: AtomicU64,
    running: Arc<AtomicU64>,
    most_at_once: Arc<AtomicU64>,
}

impl Fake {
    fn new(rule: impl Fn(&RunSpec, u64) -> Vec<(&'static str, String)> + Send + Sync + 'static) -> Arc<Fake> {
        Arc::new(Fake {
            rule: Box::new(rule),
            builds: AtomicU64::new(0),
            running: Arc::new(AtomicU64::new(0)),
            most_at_once: Arc::new(AtomicU64::new(0)),
        })
    }

    fn probes(&self) -> u64 {
        self.builds.load(Ordering::SeqCst) - 2
    }
}

/// Whether the run has `v` on.
fn on(s: &RunSpec, v: Variation) -> bool {
    s.variations.contains(&v)
}

impl Backend for Fake {
    fn name(&self) -> &'static str {
        "fake"
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
        let files = (self.rule)(&req.spec, n);
        let (running, most) = (self.running.clone(), self.most_at_once.clone());
        Box::pin(async move {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(30)).await;
            running.fetch_sub(1, Ordering::SeqCst);
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
                filled: Vec::new(),
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
    check_jobs(backend, budget, 2).await
}

/// The same, with at most `jobs` builds at once.
async fn check_jobs(backend: Arc<Fake>, budget: usize, jobs: usize) -> CheckReport {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("repro.toml"),
        "[build]\ncommand = [\"true\"]\noutputs = [\"out/*\"]\n",
    )
    .unwrap();
    let opts = CheckOptions {
        source_date_epoch: Some(1_700_000_000),
        isolate_budget: budget,
        jobs,
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
    let fake = Fake::new(|s, _| {
        vec![
            ("stamped", format!("built {}", on(s, Variation::Time))),
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
    assert!(!iso.exhausted && iso.builds <= 6, "{iso:?}");
    assert_eq!(iso.probes, iso.builds);
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
    let fake = Fake::new(|s, _| {
        let both = on(s, Variation::Locale) && on(s, Variation::Timezone);
        vec![("date", format!("{both}"))]
    });
    let r = check(fake, 24).await;
    let a = artifact(&r, "out/date");
    assert_eq!(a.culprit_sets, [set(&[Variation::Locale, Variation::Timezone])]);
    assert_eq!(r.culprits, set(&[Variation::Locale, Variation::Timezone]));
}

#[tokio::test(flavor = "multi_thread")]
async fn finds_two_independent_culprits_of_one_output() {
    let fake = Fake::new(|s, _| {
        let umask = on(s, Variation::Umask);
        let path = on(s, Variation::BuildPath);
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
    // A probe that gave a digest no other build gave, then the control repeated.
    assert!(r.isolation.as_ref().unwrap().builds <= 3, "{:?}", r.isolation);
    assert!(r.findings.iter().any(|f| f.code == crate::diagnose::Code::Random));
}

#[tokio::test(flavor = "multi_thread")]
async fn stops_at_the_budget_and_says_so() {
    let fake = Fake::new(|s, _| vec![("stamped", format!("{}", on(s, Variation::Home)))]);
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
    let fake = Fake::new(|s, _| vec![("stamped", format!("{}", on(s, Variation::Home)))]);
    let r = check(fake.clone(), 0).await;
    assert!(r.isolation.is_none());
    assert_eq!(fake.builds.load(Ordering::SeqCst), 2);
    let same = Fake::new(|_, _| vec![("same", "x".into())]);
    let r = check(same.clone(), 24).await;
    assert!(r.isolation.is_none() && r.artifacts.iter().all(|a| a.reproducible));
    assert_eq!(same.builds.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn finds_three_independent_culprits_and_runs_probes_two_at_a_time() {
    let fake = Fake::new(|s, _| {
        let parts = [Variation::Time, Variation::User, Variation::NumCpus].map(|v| on(s, v));
        vec![("three", format!("{parts:?}"))]
    });
    let r = check(fake.clone(), 24).await;
    let mut sets = artifact(&r, "out/three").culprit_sets.clone();
    sets.sort();
    let mut want = vec![
        set(&[Variation::Time]),
        set(&[Variation::User]),
        set(&[Variation::NumCpus]),
    ];
    want.sort();
    assert_eq!(sets, want);
    let iso = r.isolation.as_ref().unwrap();
    assert!(iso.builds <= 18, "{iso:?}");
    assert_eq!(iso.jobs, 2);
    // Rounds of two: fewer rounds than probes, never more than two builds at once.
    assert!(iso.rounds < iso.builds, "{iso:?}");
    assert_eq!(fake.most_at_once.load(Ordering::SeqCst), 2);
    // One at a time gives the same answer.
    let one = Fake::new(|s, _| {
        let parts = [Variation::Time, Variation::User, Variation::NumCpus].map(|v| on(s, v));
        vec![("three", format!("{parts:?}"))]
    });
    let r = check_jobs(one.clone(), 24, 1).await;
    let mut again = artifact(&r, "out/three").culprit_sets.clone();
    again.sort();
    assert_eq!(again, want);
    assert_eq!(one.most_at_once.load(Ordering::SeqCst), 1);
    assert_eq!(r.isolation.as_ref().unwrap().jobs, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn evidence_that_is_right_saves_probes() {
    // The output names the build path: the evidence points at build-path, and two probes
    // (build-path alone, everything else without it) settle it.
    let named = Fake::new(|s, _| vec![("app", format!("compiled in {}", s.build_path))]);
    let r = check(named.clone(), 24).await;
    assert_eq!(
        artifact(&r, "out/app").culprit_sets,
        [set(&[Variation::BuildPath])]
    );
    assert!(r.findings.iter().any(|f| f.code == Code::BuildPath));
    assert_eq!(named.probes(), 2);
    assert_eq!(r.isolation.as_ref().unwrap().builds, 2);
    // The same dependence with nothing to see in the output: found, in more probes.
    let opaque = Fake::new(|s, _| vec![("app", format!("{}", on(s, Variation::BuildPath)))]);
    let r = check(opaque.clone(), 24).await;
    assert_eq!(
        artifact(&r, "out/app").culprit_sets,
        [set(&[Variation::BuildPath])]
    );
    assert!(opaque.probes() > 2 && opaque.probes() <= 6, "{}", opaque.probes());
}

#[tokio::test(flavor = "multi_thread")]
async fn evidence_that_is_wrong_costs_probes_not_the_answer() {
    // run B's hostname shows up when the umask varies: the evidence says hostname, the culprit
    // is umask.
    let hosts = |s: &RunSpec| {
        let control = crate::plan::Plan::new(
            crate::recipe::parse_project("t", "[build]\ncommand=[\"true\"]\n").unwrap(),
            1,
            2,
            crate::plan::select(&[], &[]),
            2,
        );
        let b = control.runs[1].hostname.clone();
        let a = control.runs[0].hostname.clone();
        if on(s, Variation::Umask) { b } else { a }
    };
    let fake = Fake::new(move |s, _| vec![("info", format!("built on {}", hosts(s)))]);
    let r = check(fake.clone(), 24).await;
    let a = artifact(&r, "out/info");
    assert_eq!(a.culprit_sets, [set(&[Variation::Umask])]);
    // Isolation cleared hostname: its finding is gone, umask has one.
    assert!(
        !r.findings.iter().any(|f| f.code == Code::Hostname),
        "{:?}",
        r.findings
    );
    assert!(r.findings.iter().any(|f| f.code == Code::Umask));
    assert!(fake.probes() <= 8, "{}", fake.probes());
}

#[tokio::test(flavor = "multi_thread")]
async fn each_output_gets_its_own_culprits_from_shared_probes() {
    let fake = Fake::new(|s, _| {
        vec![
            ("stamp", format!("{}", on(s, Variation::Time))),
            ("owner", format!("{}", on(s, Variation::User))),
            (
                "both",
                format!("{} {}", on(s, Variation::Time), on(s, Variation::User)),
            ),
        ]
    });
    let r = check(fake.clone(), 24).await;
    assert_eq!(artifact(&r, "out/stamp").culprit_sets, [set(&[Variation::Time])]);
    assert_eq!(artifact(&r, "out/owner").culprit_sets, [set(&[Variation::User])]);
    let mut both = artifact(&r, "out/both").culprit_sets.clone();
    both.sort();
    assert_eq!(both, [set(&[Variation::Time]), set(&[Variation::User])]);
    // Shared probes: far fewer than three searches apart.
    assert!(fake.probes() <= 14, "{}", fake.probes());
}
