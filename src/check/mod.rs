//! A reproducibility check, as steps: [`prepare`] (what to build, the plan fitted to the
//! backend, the image, the source snapshot, notes) → [`Prepared::run`] → [`Prepared::collect`]
//! → [`Prepared::compare`] → [`Prepared::isolate`]. [`check`] makes them all; `repro build`
//! and `repro rebuild` compose their own sequences from the same steps. The verdict is decided
//! by the bytes of the outputs; their filesystem metadata after copying out is recorded, not
//! judged.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

mod collect;
mod compare;
mod deps;
mod error;
mod isolate;
mod model;
mod prepare;
mod run;

/// The image a check used (reports read it from here).
pub use crate::runner::ImageInfo;
pub use collect::{Collected, copy_tree};
pub use deps::{
    DependencyPhase, DepsSource, EcosystemDeps, FETCH_TIMEOUT_SECS, GeneratedLockfile, store_for,
};
pub use error::CheckError;
pub use model::{
    ArtifactMeta, ArtifactReport, BuildFinding, CheckReport, IsolationSummary, RunDifference, RunRecord,
    SourceStatus, Verdict,
};
pub use prepare::{Prepared, Target, prepare};
pub use run::FinishedRun;

use crate::plan::{RunSpec, Variation};
use crate::runner::{Backend, LogLines, Progress};

/// What the user asked for, as the command line gives it. What a check derives from these is
/// in [`Target`] and [`Prepared`].
#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub dir: PathBuf,
    pub runs: usize,
    pub variations: BTreeSet<Variation>,
    pub source_date_epoch: Option<i64>,
    /// Use this image instead of the recipe's.
    pub image: Option<String>,
    pub allow_unpinned: bool,
    /// Allow the network (non-hermetic).
    pub network: bool,
    pub timeout_secs: Option<u64>,
    /// The disk limit instead of the recipe's, repro.toml's or the recorded one (`--disk`).
    pub disk_bytes: Option<u64>,
    /// Keep each run's outputs and logs here.
    pub keep: Option<PathBuf>,
    /// Read recipes from this directory instead of the built-in ones.
    pub recipes: Option<PathBuf>,
    /// Budgets and exclusions for comparing differing outputs.
    pub compare: crate::compare::Options,
    /// Most extra builds culprit isolation may use (0: no isolation).
    pub isolate_budget: usize,
    /// Most builds at once (0: as many as the CPUs).
    pub jobs: usize,
    /// Receives every build log line as (run label, line), for `-v`.
    pub log_lines: Option<LogLines>,
    /// Give the build the repository's history as `.git` (as if `git = true` in repro.toml).
    pub with_git: bool,
    /// The dependency store (default: `deps/` in repro's cache folder).
    pub deps_store: Option<PathBuf>,
}

impl CheckOptions {
    /// The options `repro check DIR` starts from: two runs, every variation, isolation on.
    pub fn new(dir: PathBuf) -> CheckOptions {
        CheckOptions {
            dir,
            runs: 2,
            variations: crate::plan::select(&[], &[]),
            source_date_epoch: None,
            image: None,
            allow_unpinned: false,
            network: false,
            timeout_secs: None,
            disk_bytes: None,
            keep: None,
            recipes: None,
            compare: crate::compare::Options::default(),
            isolate_budget: 24,
            jobs: 0,
            log_lines: None,
            with_git: false,
            deps_store: None,
        }
    }
}

/// Checks the project `opts.dir` with its own build, through `backend`.
pub async fn check(
    opts: CheckOptions,
    backend: Arc<dyn Backend>,
    progress: Arc<dyn Progress>,
) -> Result<CheckReport, CheckError> {
    let target = Target::project(&opts)?;
    prepare(&opts, target, backend, progress).await?.check().await
}

impl Prepared {
    /// Runs the given builds (the plan's, the control alone, or probes).
    pub async fn run(&self, specs: &[RunSpec]) -> Result<Vec<FinishedRun>, CheckError> {
        self.runner.run(specs).await
    }

    /// Every planned run, compared, with culprits isolated when they differ.
    pub async fn check(&self) -> Result<CheckReport, CheckError> {
        let finished = self.run(&self.plan.runs).await?;
        let mut report = self.compare(self.collect(&finished)?);
        if report.verdict == Verdict::NotReproducible && self.opts.isolate_budget > 0 {
            self.isolate(&mut report).await?;
        }
        report.elapsed_ms = self.started.elapsed().as_millis() as u64;
        Ok(report)
    }
}
