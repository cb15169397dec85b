//! Running planned builds through a backend: each gets its own directory and the source
//! snapshot in its own file order; as many run at once as the CPUs allow.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::CheckError;
use super::prepare::Work;
use crate::plan::RunSpec;
use crate::runner::{Backend, LogLines, Progress, RunRequest, RunResult};
use crate::source::{self, SourceEntry};

/// One finished run: its spec, its directory (`outputs/` is unpacked there) and what it did.
#[derive(Debug, Clone)]
pub struct FinishedRun {
    pub spec: RunSpec,
    pub dir: PathBuf,
    pub result: RunResult,
}

impl FinishedRun {
    /// Where [`super::Prepared::collect`] unpacks this run's outputs.
    pub fn outputs_dir(&self) -> PathBuf {
        outputs_dir(&self.dir)
    }
}

fn outputs_dir(run_dir: &Path) -> PathBuf {
    run_dir.join("outputs")
}

/// Runs builds of one check through its backend.
pub(crate) struct Runner {
    pub(super) backend: Arc<dyn Backend>,
    /// The image the runs are created from (from the backend's preflight).
    pub(super) image_id: String,
    pub(super) entries: Vec<SourceEntry>,
    /// The source root the entries are relative to.
    pub(super) dir: PathBuf,
    /// What every run sees besides its source (the dependency store's entries, read-only).
    pub(super) mounts: Vec<crate::runner::Mount>,
    pub(super) check_id: String,
    pub(super) globs: Vec<String>,
    pub(super) log_lines: Option<LogLines>,
    pub(super) progress: Arc<dyn Progress>,
    pub(super) work: Work,
    /// Most builds at once.
    pub(super) jobs: usize,
}

impl Runner {
    /// Most builds run at once: the user's `jobs`, else one per CPU.
    pub(super) fn jobs_for(asked: usize) -> usize {
        if asked > 0 {
            asked
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        }
    }

    pub(super) fn jobs(&self) -> usize {
        self.jobs.max(1)
    }

    pub(super) fn work(&self) -> &Path {
        self.work.0.path()
    }

    /// The directory of the run labelled `label`.
    fn run_dir(&self, label: &str) -> PathBuf {
        self.work().join(format!("run-{label}"))
    }

    /// Where the outputs of the run labelled `label` are unpacked once collected.
    pub(super) fn outputs_dir(&self, label: &str) -> PathBuf {
        outputs_dir(&self.run_dir(label))
    }

    /// Runs the given builds, up to `jobs` at once; each in `work/run-LABEL`.
    pub(crate) async fn run(&self, specs: &[RunSpec]) -> Result<Vec<FinishedRun>, CheckError> {
        let parallel = self.jobs().clamp(1, specs.len().max(1));
        let semaphore = Arc::new(tokio::sync::Semaphore::new(parallel));
        let mut tasks = Vec::new();
        for spec in specs {
            let run_dir = self.run_dir(&spec.label);
            std::fs::create_dir_all(&run_dir)
                .map_err(CheckError::io(format!("creating {}", run_dir.display())))?;
            let source_tar = run_dir.join("source.tar");
            {
                let f = std::fs::File::create(&source_tar)
                    .map_err(CheckError::io(format!("creating {}", source_tar.display())))?;
                source::write_source_tar(
                    &self.dir,
                    &self.entries,
                    spec.file_order,
                    std::io::BufWriter::new(f),
                )?;
            }
            let request = RunRequest {
                spec: spec.clone(),
                image: self.image_id.clone(),
                source_tar,
                output_globs: self.globs.clone(),
                mounts: self.mounts.clone(),
                check_id: self.check_id.clone(),
                work: run_dir.clone(),
                log_lines: self.log_lines.clone(),
                labels: Default::default(),
            };
            let (sem, progress) = (semaphore.clone(), self.progress.clone());
            let label = spec.label.clone();
            let run = self.backend.run(request);
            tasks.push(tokio::spawn(async move {
                let _permit = sem.acquire_owned().await;
                progress.message(&format!("run {label}: building"));
                let r = run.await;
                progress.message(&format!("run {label}: done"));
                (run_dir, r)
            }));
        }
        let mut finished = Vec::new();
        for (spec, t) in specs.iter().zip(tasks) {
            match t.await {
                Ok((dir, Ok(result))) => finished.push(FinishedRun {
                    spec: spec.clone(),
                    dir,
                    result,
                }),
                Ok((_, Err(e))) => return Err(e.into()),
                Err(e) => {
                    return Err(CheckError::Io {
                        context: "a run's task failed".into(),
                        source: std::io::Error::other(e),
                    });
                }
            }
        }
        Ok(finished)
    }
}
