//! The coordinator: queues a batch in the store, finds what dead coordinators left (their
//! running jobs go back to the queue, their containers are removed on every engine), then
//! claims and runs jobs with bounded concurrency, recording each outcome once. Every store call
//! is its own transaction, so a coordinator killed at any point loses nothing but the runs in
//! flight, which the next one redoes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::engines::EnginePool;
use super::job::{Job, JobState, Outcome, RunEngine, Timings};
use super::store::{Claimed, Coordinator, Store, StoreError};
use crate::check::{self, CheckError, CheckOptions, CheckReport, Target, Verdict};
use crate::engine::{EngineAddress, EngineIdentity};
use crate::rebuild::{RebuildError, RebuildOptions, RebuildReport};
use crate::runner::{Backend, RunError, Silent};

/// How often a coordinator says it is alive.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// A coordinator on another host silent this long is taken for dead.
pub const STALE_AFTER_SECS: i64 = 90;

/// Signs a rebuild's verdict (the key stays with the coordinator; engines never see it):
/// the attestation, or `None` when nothing is to be signed.
pub type Sign = dyn Fn(&RebuildReport) -> Result<Option<String>, String> + Send + Sync;

/// What one batch is.
pub struct Batch {
    /// Each job as given, and what it is.
    pub jobs: Vec<(String, Job)>,
    pub engines: Vec<EngineAddress>,
    /// The registry engines pull builder images from by digest (else they are loaded).
    pub registry: Option<String>,
    /// Most jobs running at once.
    pub concurrency: usize,
    /// Runs, variations, budgets, timeouts, recipes: every job's `repro check` options (the
    /// folder aside).
    pub check: CheckOptions,
    pub sign: Option<Arc<Sign>>,
}

/// What the coordinator tells whoever watches (the CLI prints; this module never does).
pub enum Event<'a> {
    /// Engines up and down.
    Engines {
        up: &'a [EngineIdentity],
        down: &'a [String],
    },
    /// Dead coordinators were found: their jobs requeued and containers removed.
    Recovered {
        requeued: &'a [String],
        containers: usize,
    },
    /// The batch as found in the store: jobs already finished are not redone.
    Queued {
        total: usize,
        done: usize,
    },
    Started {
        job: &'a str,
    },
    Finished {
        job: &'a str,
        outcome: &'a Outcome,
        attempts: u32,
    },
}

pub trait Events: Send + Sync {
    fn event(&self, event: Event<'_>);
}

#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no engine could be reached: {}", tried.join("; "))]
    NoEngine { tried: Vec<String> },
    #[error("interrupted; the jobs that were running are queued again")]
    Interrupted,
    #[error("every engine went away mid-batch; {left} job(s) are still queued")]
    EnginesLost { left: usize },
}

impl FleetError {
    pub fn hint(&self) -> Option<String> {
        match self {
            FleetError::Store(e) => e.hint(),
            FleetError::NoEngine { .. } => Some(
                "start the engines or correct --engine (unix:///path/docker.sock, tcp://host:2376 with a \
                 tls folder in an --engines file, ssh://user@host)"
                    .into(),
            ),
            FleetError::Interrupted => Some("run the same command again to resume".into()),
            FleetError::EnginesLost { .. } => {
                Some("bring an engine back and run the same command again: the batch resumes".into())
            }
        }
    }
}

/// How a batch ended: jobs by state.
#[derive(Debug, Default)]
pub struct Summary {
    pub states: HashMap<JobState, usize>,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

/// This host's name (coordinators on one host tell each other's death by pid).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// Whether a coordinator is dead: on this host, its process is gone; elsewhere, it has been
/// silent for [`STALE_AFTER_SECS`].
fn is_dead(c: &Coordinator, host: &str, now: i64) -> bool {
    if c.host == host {
        !std::path::Path::new(&format!("/proc/{}", c.pid)).exists()
    } else {
        now - c.heartbeat > STALE_AFTER_SECS
    }
}

/// Whether a coordinator ID (`HOST-PID-NANOS`) names a process of this host that is gone.
fn dead_here(id: &str, host: &str) -> bool {
    let Some(rest) = id.strip_prefix(host).and_then(|r| r.strip_prefix('-')) else {
        return false;
    };
    match rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) {
        Some(pid) => !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        None => false,
    }
}

/// Runs a store call off the async threads (the PostgreSQL client blocks).
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// Runs the batch to its end (or until no engine is left, or `shutdown` resolves: then the
/// running containers are removed and the running jobs put back in the queue). Call on a
/// multi-threaded runtime.
pub async fn run(
    store: Arc<dyn Store>,
    batch: Batch,
    events: Arc<dyn Events>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<Summary, FleetError> {
    let host = host_name();
    let started_nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let me = Coordinator {
        id: format!("{host}-{}-{started_nanos}", std::process::id()),
        host: host.clone(),
        pid: std::process::id(),
        heartbeat: now(),
    };
    blocking(|| store.heartbeat(&me))?;

    let (pool, down) = EnginePool::connect(&batch.engines, batch.registry.as_deref()).await;
    let down: Vec<String> = down
        .iter()
        .map(|e| format!("{}: {}", e.endpoint, e.source))
        .collect();
    let up = pool.alive();
    events.event(Event::Engines { up: &up, down: &down });
    if up.is_empty() {
        blocking(|| store.forget(&me.id))?;
        return Err(FleetError::NoEngine { tried: down });
    }
    let pool = Arc::new(pool);

    // What dead coordinators left: their jobs back in the queue, their containers removed.
    let coordinators = blocking(|| store.coordinators())?;
    let t = now();
    let dead: Vec<String> = coordinators
        .iter()
        .filter(|c| c.id != me.id && is_dead(c, &host, t))
        .map(|c| c.id.clone())
        .collect();
    let requeued = blocking(|| store.requeue(&dead))?;
    // Containers of coordinators this store knows are dead, and of this host's dead processes
    // (a coordinator of another store on the same engine is left alone while it lives).
    let is_orphan = |owner: &str| dead.iter().any(|d| d == owner) || dead_here(owner, &host);
    let (containers, complete) = pool.remove_orphans(&is_orphan).await;
    if complete {
        for d in &dead {
            blocking(|| store.forget(d))?;
        }
    }
    if !requeued.is_empty() || containers > 0 {
        events.event(Event::Recovered {
            requeued: &requeued,
            containers,
        });
    }

    let given: Vec<(String, super::job::JobKind)> =
        batch.jobs.iter().map(|(g, j)| (g.clone(), j.kind())).collect();
    blocking(|| store.enqueue(&given))?;
    let among: Vec<String> = batch.jobs.iter().map(|(g, _)| g.clone()).collect();
    let all = blocking(|| store.jobs())?;
    let done = all
        .iter()
        .filter(|r| among.contains(&r.job) && r.state.is_final())
        .count();
    events.event(Event::Queued {
        total: among.len(),
        done,
    });

    let heartbeat = {
        let (store, me) = (store.clone(), me.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(HEARTBEAT).await;
                let beat = Coordinator {
                    heartbeat: now(),
                    ..me.clone()
                };
                let _ = blocking(|| store.heartbeat(&beat));
            }
        })
    };
    let jobs: Arc<HashMap<String, Job>> = Arc::new(batch.jobs.iter().cloned().collect());
    let shared = Arc::new(Worker {
        store: store.clone(),
        pool: pool.clone(),
        me: me.id.clone(),
        among,
        jobs,
        check: batch.check,
        sign: batch.sign,
        events,
    });
    let workers: Vec<_> = (0..batch.concurrency.max(1))
        .map(|_| {
            let w = shared.clone();
            tokio::spawn(async move { w.work().await })
        })
        .collect();
    let aborts: Vec<_> = workers.iter().map(|w| w.abort_handle()).collect();
    let mut first_error = None;
    let finished = async {
        let mut results = Vec::new();
        for w in workers {
            results.push(w.await);
        }
        results
    };
    let results = tokio::select! {
        r = finished => r,
        () = shutdown => {
            for a in &aborts {
                a.abort();
            }
            heartbeat.abort();
            pool.cancel_live().await;
            blocking(|| store.requeue(std::slice::from_ref(&me.id)))?;
            blocking(|| store.forget(&me.id))?;
            return Err(FleetError::Interrupted);
        }
    };
    for w in results {
        match w {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(e) => {
                first_error.get_or_insert(FleetError::Store(StoreError::Corrupt {
                    location: store.location(),
                    job: String::new(),
                    what: format!("a worker failed: {e}"),
                }));
            }
        }
    }
    heartbeat.abort();
    if let Some(e) = first_error {
        return Err(e);
    }
    blocking(|| store.forget(&me.id))?;
    if pool.alive().is_empty() {
        let left = blocking(|| store.jobs())?
            .iter()
            .filter(|r| shared.among.contains(&r.job) && !r.state.is_final())
            .count();
        if left > 0 {
            return Err(FleetError::EnginesLost { left });
        }
    }
    let mut summary = Summary::default();
    for r in blocking(|| store.jobs())? {
        if shared.among.contains(&r.job) {
            *summary.states.entry(r.state).or_default() += 1;
        }
    }
    Ok(summary)
}

struct Worker {
    store: Arc<dyn Store>,
    pool: Arc<EnginePool>,
    me: String,
    among: Vec<String>,
    jobs: Arc<HashMap<String, Job>>,
    check: CheckOptions,
    sign: Option<Arc<Sign>>,
    events: Arc<dyn Events>,
}

impl Worker {
    async fn work(&self) -> Result<(), FleetError> {
        loop {
            if self.pool.alive().is_empty() {
                return Ok(());
            }
            let Some(claimed) = blocking(|| self.store.claim(&self.me, &self.among, now()))? else {
                return Ok(());
            };
            self.events.event(Event::Started { job: &claimed.job });
            let outcome = self.run(&claimed).await;
            // A job whose every engine went away has no verdict and is not done: requeue it for
            // the next coordinator rather than calling it unchecked.
            if outcome.state == JobState::Unchecked && self.pool.alive().is_empty() {
                blocking(|| self.store.requeue(std::slice::from_ref(&self.me)))?;
                return Ok(());
            }
            let recorded = blocking(|| self.store.finish(&claimed.job, &self.me, &outcome, now()))?;
            if recorded {
                self.events.event(Event::Finished {
                    job: &claimed.job,
                    outcome: &outcome,
                    attempts: claimed.attempts,
                });
            }
        }
    }

    async fn run(&self, claimed: &Claimed) -> Outcome {
        let started = Instant::now();
        let offset = usize::try_from(claimed.id).unwrap_or(0);
        let backend: Arc<dyn Backend> =
            Arc::new(self.pool.for_job(offset, &self.me, &claimed.job, claimed.id));
        let mut timings = Timings::default();
        let result = match self.jobs.get(&claimed.job) {
            Some(Job::Check { dir }) => {
                let opts = CheckOptions {
                    dir: dir.clone(),
                    ..self.check.clone()
                };
                check_job(&opts, backend, &mut timings).await.map(finished_check)
            }
            Some(Job::Rebuild { provenance, source }) => self.rebuild_job(provenance, source, backend).await,
            None => Err((JobState::Unchecked, "the job is not in this batch".to_string())),
        };
        let duration_ms = started.elapsed().as_millis() as u64;
        match result {
            Ok(mut o) => {
                o.duration_ms = duration_ms;
                if o.timings == Timings::default() {
                    o.timings = timings;
                }
                o
            }
            Err((state, reason)) => Outcome {
                state,
                reason: Some(reason),
                duration_ms,
                timings,
                runs: Vec::new(),
                culprits: Vec::new(),
                report: None,
                report_html: None,
                attestation: None,
            },
        }
    }

    async fn rebuild_job(
        &self,
        provenance: &std::path::Path,
        source: &std::path::Path,
        backend: Arc<dyn Backend>,
    ) -> Result<Outcome, (JobState, String)> {
        let bytes = std::fs::read(provenance).map_err(|e| {
            (
                JobState::Unchecked,
                format!("reading {}: {e}", provenance.display()),
            )
        })?;
        let parsed = crate::provenance::read(&bytes, None)
            .map_err(|e| (JobState::Unchecked, format!("{}: {e}", provenance.display())))?;
        let opts = RebuildOptions {
            provenance: parsed,
            provenance_file_sha256: crate::compare::source::sha256_hex(&bytes),
            provenance_signature: None,
            source: source.to_path_buf(),
            image_override: None,
            exclude: Vec::new(),
            allow_unisolated: false,
            // A fleet grants what a rebuild does by default: no network, the default limits,
            // nothing signed for a build that is not hermetic or a tree that is not the commit.
            policy: crate::rebuild::policy::Policy::default(),
            allow_non_hermetic: false,
            allow_uncommitted: false,
            check: CheckOptions {
                dir: source.to_path_buf(),
                ..self.check.clone()
            },
        };
        let report = crate::rebuild::rebuild(opts, backend, Arc::new(Silent))
            .await
            .map_err(|e| match e {
                RebuildError::Check(e) => classify(&e),
                other => (JobState::Unchecked, other.to_string()),
            })?;
        let attestation = match &self.sign {
            Some(sign) => sign(&report).map_err(|e| (JobState::Unchecked, format!("signing: {e}")))?,
            None => None,
        };
        let signed: Vec<(String, String)> = attestation
            .iter()
            .map(|_| ("attestation".to_string(), "(in the fleet store)".to_string()))
            .collect();
        let mut o = finished_check(report.check.clone());
        o.timings = phases_of(&report.check);
        o.state = if report.passed() {
            JobState::Reproducible
        } else {
            JobState::NotReproducible
        };
        o.report = Some(crate::report::rebuild::json(&report, &signed));
        o.attestation = attestation;
        Ok(o)
    }
}

/// A check in its steps, each timed.
async fn check_job(
    opts: &CheckOptions,
    backend: Arc<dyn Backend>,
    timings: &mut Timings,
) -> Result<CheckReport, (JobState, String)> {
    let fail = |e: CheckError| classify(&e);
    let t = Instant::now();
    let target = Target::project(opts).map_err(fail)?;
    let prepared = check::prepare(opts, target, backend, Arc::new(Silent))
        .await
        .map_err(fail)?;
    timings.fetch_ms = Some(t.elapsed().as_millis() as u64);
    let t = Instant::now();
    let finished = prepared.run(&prepared.plan.runs).await.map_err(fail)?;
    timings.runs_ms = Some(t.elapsed().as_millis() as u64);
    let t = Instant::now();
    let mut report = prepared.compare(prepared.collect(&finished).map_err(fail)?);
    timings.compare_ms = Some(t.elapsed().as_millis() as u64);
    if report.verdict == Verdict::NotReproducible && opts.isolate_budget > 0 {
        let t = Instant::now();
        prepared.isolate(&mut report).await.map_err(fail)?;
        timings.isolation_ms = Some(t.elapsed().as_millis() as u64);
    }
    report.elapsed_ms = timings.fetch_ms.unwrap_or(0)
        + timings.runs_ms.unwrap_or(0)
        + timings.compare_ms.unwrap_or(0)
        + timings.isolation_ms.unwrap_or(0);
    Ok(report)
}

/// The outcome of a check that gave a verdict.
/// The phases of a check that ran as a whole (a rebuild), from its report: the dependency
/// phase, the longest run (they run side by side) and isolation. Comparing is not timed apart.
fn phases_of(report: &CheckReport) -> Timings {
    Timings {
        fetch_ms: report.dependency_phase.as_ref().map(|p| p.elapsed_ms),
        runs_ms: report
            .runs
            .iter()
            .map(|r| r.duration_ms.saturating_add(r.overhead_ms))
            .max(),
        compare_ms: None,
        isolation_ms: report.isolation.as_ref().map(|i| i.duration_ms),
    }
}

fn finished_check(report: CheckReport) -> Outcome {
    let runs = report
        .runs
        .iter()
        .filter_map(|r| {
            let p = r.placement.as_ref()?;
            Some(RunEngine {
                run: r.spec.label.clone(),
                engine: p.engine.clone(),
                lost: p.lost.clone(),
            })
        })
        .collect();
    Outcome {
        state: match report.verdict {
            Verdict::Reproducible => JobState::Reproducible,
            Verdict::NotReproducible => JobState::NotReproducible,
        },
        reason: None,
        duration_ms: report.elapsed_ms,
        timings: Timings::default(),
        runs,
        culprits: report.culprits.iter().map(|v| v.to_string()).collect(),
        report: Some(crate::report::check::json(&report)),
        report_html: Some(crate::report::html::check(&report)),
        attestation: None,
    }
}

/// The state of a job whose check gave no verdict. Infrastructure failures (timeouts, a build
/// killed — out of memory —, an engine lost) are `unchecked`, never `not-reproducible`.
fn classify(e: &CheckError) -> (JobState, String) {
    let state = match e {
        CheckError::ControlFailed { code: 137, .. } => {
            return (
                JobState::Unchecked,
                "the control build was killed (exit status 137: out of memory?)".into(),
            );
        }
        CheckError::ControlFailed { .. } | CheckError::NoOutputs { .. } => JobState::FailedToBuild,
        CheckError::FetchFailed { .. } | CheckError::FetchUnavailable { .. } | CheckError::Deps(_) => {
            JobState::DependenciesUnavailable
        }
        CheckError::Run(RunError::Unreachable(_) | RunError::Engine { .. }) => JobState::Unchecked,
        _ => JobState::Unchecked,
    };
    let message = e.to_string();
    // One line: the log tail is in the report when there is one.
    let first = message.lines().next().unwrap_or_default().to_string();
    (state, first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rebuild_is_timed_by_phase_from_its_report() {
        let mut report = crate::report::fixtures::check_report();
        for (run, ms) in report.runs.iter_mut().zip([700u64, 900]) {
            run.duration_ms = ms;
            run.overhead_ms = 50;
        }
        let t = phases_of(&report);
        assert_eq!(t.runs_ms, Some(950));
        assert_eq!(t.compare_ms, None);
        assert_eq!(t.isolation_ms, report.isolation.as_ref().map(|i| i.duration_ms));
        assert_eq!(t.fetch_ms, report.dependency_phase.as_ref().map(|p| p.elapsed_ms));
    }

    #[test]
    fn infrastructure_failures_are_unchecked_never_not_reproducible() {
        let cases = [
            (
                CheckError::ControlFailed {
                    code: 2,
                    tail: "make: error".into(),
                },
                JobState::FailedToBuild,
            ),
            (
                CheckError::ControlFailed {
                    code: 137,
                    tail: String::new(),
                },
                JobState::Unchecked,
            ),
            (
                CheckError::ControlTimedOut {
                    secs: 5,
                    tail: String::new(),
                },
                JobState::Unchecked,
            ),
            (
                CheckError::Run(RunError::Unsupported {
                    backend: "fleet",
                    what: "x".into(),
                }),
                JobState::Unchecked,
            ),
        ];
        for (e, state) in cases {
            assert_eq!(classify(&e).0, state, "{e}");
        }
        let (_, reason) = classify(&CheckError::ControlFailed {
            code: 2,
            tail: "line 1\nline 2".into(),
        });
        assert!(!reason.contains('\n'), "{reason}");
    }

    #[test]
    fn coordinators_here_are_dead_when_their_process_is() {
        let c = |host: &str, pid: u32, heartbeat: i64| Coordinator {
            id: "x".into(),
            host: host.into(),
            pid,
            heartbeat,
        };
        assert!(!is_dead(&c("h", std::process::id(), 0), "h", 1000));
        assert!(is_dead(&c("h", u32::MAX - 1, 1000), "h", 1000));
        assert!(!is_dead(&c("other", 1, 990), "h", 1000));
        assert!(is_dead(&c("other", 1, 0), "h", 1000));
        assert!(!dead_here(&format!("h-{}-5", std::process::id()), "h"));
        assert!(dead_here(&format!("h-{}-5", u32::MAX - 1), "h"));
        assert!(!dead_here(&format!("other-{}-5", u32::MAX - 1), "h"));
    }
}
