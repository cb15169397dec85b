//! Runners: where builds execute. One seam, [`Backend`], with two implementations: the Docker
//! backend (`docker`, through bollard) and the local backend (`local`: plain processes,
//! unisolated). A backend owns its preflight (engine reachable, leftovers removed, image
//! present — `resolve`), runs one [`RunRequest`] at a time per call, cancels its live runs
//! and hands the outputs back as a tar stream (`outputs`). What a run is given is `workspace`.

pub mod docker;
pub mod leftovers;
pub mod limits;
pub mod local;
mod outputs;
mod resolve;
pub mod workspace;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;

/// Long steps (loading or building an image) report progress through this.
pub use crate::image::{Progress, Silent};
pub use outputs::{OutputsError, with_member};
pub use resolve::ImageInfo;

use crate::image::{ImageError, ImageRefError};
use crate::plan::{Plan, RunSpec, Variation};
use crate::source::SourceError;

/// Lines of a failed build's log kept for messages.
pub const LOG_TAIL_LINES: usize = 40;

/// Receives every build log line as (run label, line), for `-v`.
pub type LogLines = tokio::sync::mpsc::UnboundedSender<(String, String)>;

/// A host folder a run sees at `target` (dependencies read-only; a fetch run's downloads
/// writable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub host: PathBuf,
    /// Where the build sees it (an absolute path in the container).
    pub target: String,
    pub read_only: bool,
}

/// Everything one run needs. Owned, so a backend may run it on a task of its own.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The run: command, environment, paths, user, network, limits, variations.
    pub spec: RunSpec,
    /// The image ID from [`Backend::preflight`] (unused by the local backend).
    pub image: String,
    /// The source snapshot, entries in this run's order.
    pub source_tar: PathBuf,
    /// Which files are the outputs (empty: every file created or changed).
    pub output_globs: Vec<String>,
    /// Extra folders the run sees.
    pub mounts: Vec<Mount>,
    /// Identifies the check in container names and labels.
    pub check_id: String,
    /// A directory of this run's own (upload archive, log, outputs archive).
    pub work: PathBuf,
    /// Live log lines, when the user asked to see them.
    pub log_lines: Option<LogLines>,
    /// Labels the run's container carries besides repro's own (a fleet's coordinator and job).
    pub labels: std::collections::BTreeMap<String, String>,
}

/// What a run did, whichever backend ran it.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub exit_code: i64,
    pub timed_out: bool,
    pub duration: Duration,
    pub log_path: PathBuf,
    pub log_tail: Vec<String>,
    /// The outputs archive, when the build succeeded; read it with
    /// [`RunResult::with_outputs`].
    pub outputs_archive: Option<PathBuf>,
    /// Whether `outputs_archive` wraps `out/outputs.tar` (the engine's archive of `/out`) or
    /// is `outputs.tar` itself.
    pub outputs_wrapped: bool,
    /// Environment and mounts the engine reports for the container (evidence of isolation);
    /// empty for the local backend.
    pub container_env: Vec<String>,
    pub container_mounts: Vec<String>,
    /// Time spent outside the build command: create, upload, download, remove.
    pub overhead: Duration,
    /// The bounded places a failed build filled (its disk or memory limit).
    pub filled: Vec<limits::Filled>,
    /// Which engine ran it, when a backend spreads runs over several (a fleet's).
    pub placement: Option<crate::engine::Placement>,
}

impl RunResult {
    /// Whether the build command succeeded within its time.
    pub fn succeeded(&self) -> bool {
        self.exit_code == 0 && !self.timed_out
    }
}

/// Everything that can go wrong running builds, whichever backend.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Unreachable(#[from] crate::engine::Unreachable),
    #[error("the Docker engine refused to {action}")]
    Engine {
        action: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    ImageRef(#[from] ImageRefError),
    #[error("the engine has no image {reference}, and repro's cache has none with that digest")]
    ImageMissing { reference: String },
    #[error(transparent)]
    Workspace(#[from] SourceError),
    #[error("the local backend refuses to {what} at {path}: it leaves the scratch folder {root}")]
    Confined {
        what: String,
        path: String,
        root: String,
    },
    #[error("the {backend} backend cannot {what}")]
    Unsupported { backend: &'static str, what: String },
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl RunError {
    pub(crate) fn engine(action: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> RunError {
        let action = action.into();
        move |source| RunError::Engine { action, source }
    }

    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> RunError {
        let context = context.into();
        move |source| RunError::Io { context, source }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            RunError::Unreachable(e) => format!(
                "start the Docker engine, or set DOCKER_HOST (now {}); the local backend (--local) runs \
                 without isolation",
                e.endpoint
            ),
            RunError::Image(e) => return e.hint(),
            RunError::ImageMissing { .. } => "import the image's tarball with `repro image import FILE`, \
                                              or use one of ours (--image default)"
                .into(),
            _ => return None,
        })
    }
}

/// Where builds run. Cheap to share: the CLI keeps one to cancel live runs on Ctrl-C while a
/// check runs builds through it.
pub trait Backend: Send + Sync {
    /// `docker` or `local`, as reports name it.
    fn name(&self) -> &'static str;

    /// Whether builds are isolated from this machine (containers, the default).
    fn isolated(&self) -> bool {
        true
    }

    /// Leaves out the variations this backend cannot apply, and says so (notes for the
    /// report, in the order they are shown).
    /// Containers apply every variation: the default leaves them all.
    fn fit_variations(&self, variations: &mut BTreeSet<Variation>) -> Vec<String> {
        let _ = variations;
        Vec::new()
    }

    /// The plan as this backend runs it (the local backend moves every invented path under
    /// the check's scratch directory `work`).
    /// By default, the plan as it is.
    fn fit_plan(&self, plan: Plan, work: &Path) -> Plan {
        let _ = work;
        plan
    }

    /// Before any run: the engine answers, leftovers of dead repro processes are removed, and
    /// the image `reference` is present with the identity it claims (loaded from repro's
    /// cache, or built, when it is one of ours).
    fn preflight<'a>(
        &'a self,
        reference: &'a str,
        allow_unpinned: bool,
        progress: Arc<dyn Progress>,
    ) -> BoxFuture<'a, Result<ImageInfo, RunError>>;

    /// Removes what runs of repro processes that no longer exist left behind; how many.
    fn remove_leftovers(&self) -> BoxFuture<'_, Result<usize, RunError>>;

    /// Runs one build; whatever happens, nothing of it is left running.
    fn run(&self, req: RunRequest) -> BoxFuture<'static, Result<RunResult, RunError>>;

    /// Stops and removes every run still live (on Ctrl-C or SIGTERM).
    fn cancel_live(&self) -> BoxFuture<'_, ()>;
}

/// The backends a user can choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// Containers on the engine `DOCKER_HOST` names (connected on first use).
    Docker,
    /// Plain processes on this machine, unisolated.
    Local,
}

/// A backend of that kind. Connecting (Docker) happens at the first preflight or run.
pub fn backend(kind: BackendKind) -> Arc<dyn Backend> {
    match kind {
        BackendKind::Docker => Arc::new(docker::DockerBackend::new()),
        BackendKind::Local => Arc::new(local::LocalBackend::new()),
    }
}

/// Keeps the last lines of a build log.
#[derive(Debug, Default)]
pub struct LogTail {
    lines: std::collections::VecDeque<String>,
}

impl LogTail {
    pub fn push(&mut self, line: String) {
        self.lines.push_back(line);
        if self.lines.len() > LOG_TAIL_LINES {
            self.lines.pop_front();
        }
    }

    /// The lines kept so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.iter().cloned().collect()
    }

    pub fn into_vec(self) -> Vec<String> {
        self.lines.into()
    }
}
