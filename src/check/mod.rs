//! A reproducibility check: plans N runs of a project's build, runs them through a backend,
//! collects their outputs and compares them by bytes (structurally where they differ). The
//! verdict is decided by the bytes of the outputs; their filesystem metadata after copying out
//! is recorded, not judged.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

mod collect;
mod isolate;
use collect::{CollectInput, collect};

use crate::artifacts::{self, Artifact};
use crate::compare::{self, Engine, Node, Registry};
use crate::image::{self, ImageRef, PinnedImage, Progress};
use crate::plan::source::{self, EpochOrigin};
use crate::plan::{Plan, RunSpec, Variation};
use crate::recipe::{self, BuildDef};
use crate::runner::RunResult;
use crate::runner::docker::{self, DockerError, RunRequest};
use crate::runner::local;

/// What the user asked for.
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
    /// Keep each run's outputs and logs here.
    pub keep: Option<PathBuf>,
    /// Read recipes from this directory instead of the built-in ones.
    pub recipes: Option<PathBuf>,
    /// Budgets and exclusions for comparing differing outputs.
    pub compare: compare::Options,
    /// Most extra builds culprit isolation may use (0: no isolation).
    pub isolate_budget: usize,
    /// Run the builds as plain processes here instead of in containers (unisolated).
    pub local: bool,
    /// Receives every build log line as (run label, line), for `-v`.
    pub log_lines: Option<tokio::sync::mpsc::UnboundedSender<(String, String)>>,
    /// Build this instead of the project's `repro.toml` or recipe (a recorded build, for
    /// `repro rebuild`).
    pub build: Option<BuildDef>,
    /// Run only the control build (for `repro build`): nothing is compared or isolated.
    pub control_only: bool,
    /// Copy the control run's outputs into this directory (created if missing).
    pub control_outputs: Option<PathBuf>,
    /// Give the build the repository's history as `.git` (as if `git = true` in repro.toml).
    pub with_git: bool,
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
            keep: None,
            recipes: None,
            compare: compare::Options::default(),
            isolate_budget: 24,
            local: false,
            log_lines: None,
            build: None,
            control_only: false,
            control_outputs: None,
            with_git: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Reproducible,
    NotReproducible,
}

/// The builder image a check used.
#[derive(Debug, Clone, Serialize)]
pub struct ImageInfo {
    /// As given: a builder name or a reference.
    pub reference: String,
    /// The engine's image ID containers were created from.
    pub image_id: String,
    pub layer_digest: Option<String>,
    pub tarball_sha256: Option<String>,
    /// False only for a tag accepted with `--allow-unpinned`.
    pub pinned: bool,
}

/// One run as the report shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub spec: RunSpec,
    pub exit_code: i64,
    pub timed_out: bool,
    pub duration_ms: u64,
    /// Time outside the build command (container create, upload, download, remove).
    pub overhead_ms: u64,
    pub outputs: usize,
    /// The last lines of the build log (all of it is under `--keep`).
    pub log_tail: Vec<String>,
}

/// What culprit isolation did.
#[derive(Debug, Clone, Serialize)]
pub struct IsolationSummary {
    /// Builds made for isolation (probes; the control and run B are reused).
    pub builds: usize,
    /// The budget it was given.
    pub budget: usize,
    /// Whether it stopped because the budget ran out (the sets may then not be minimal).
    pub exhausted: bool,
}

/// One output path across the runs.
#[derive(Debug, Clone, Serialize)]
pub struct ArtifactReport {
    pub path: String,
    /// sha256 per run label (`null` where the run did not produce it).
    pub sha256: BTreeMap<String, Option<String>>,
    /// Metadata per run after copying out: recorded, not judged.
    pub metadata: BTreeMap<String, ArtifactMeta>,
    pub reproducible: bool,
    /// Difference trees against the control, per varied run that differs.
    pub differences: Vec<RunDifference>,
    /// Minimal sets of variations that still produce this artifact's difference
    /// (`[["time"], ["locale", "timezone"]]`); empty when random or not isolated.
    pub culprit_sets: Vec<BTreeSet<Variation>>,
    /// The artifact differs even with every variation off.
    pub random: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ArtifactMeta {
    pub size: u64,
    pub mode: String,
    pub mtime: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunDifference {
    pub run: String,
    pub tree: Option<Node>,
    pub excluded: Vec<String>,
}

/// A difference between the runs that is not about an output's bytes.
#[derive(Debug, Clone, Serialize)]
pub struct BuildFinding {
    pub code: String,
    pub run: String,
    pub message: String,
}

/// Everything a check found, for every report format.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub verdict: Verdict,
    pub project: String,
    pub build: BuildDef,
    pub backend: String,
    pub isolated: bool,
    pub hermetic: bool,
    pub image: ImageInfo,
    pub source_date_epoch: i64,
    pub source_date_epoch_origin: EpochOrigin,
    pub variations: BTreeSet<Variation>,
    pub runs: Vec<RunRecord>,
    pub artifacts: Vec<ArtifactReport>,
    pub build_findings: Vec<BuildFinding>,
    /// Causes of the differences, from the evidence in the difference trees.
    pub findings: Vec<crate::diagnose::Finding>,
    /// Every variation in any artifact's culprit sets; empty when the cause is `random` or
    /// isolation did not run.
    pub culprits: BTreeSet<Variation>,
    /// How culprit isolation went (absent when it did not run).
    pub isolation: Option<IsolationSummary>,
    pub notes: Vec<String>,
    pub elapsed_ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("{0}")]
    Recipe(#[from] recipe::RecipeError),
    #[error("{0}")]
    Source(#[from] source::SourceError),
    #[error("{0}")]
    Image(#[from] image::ImageError),
    #[error("{0}")]
    ImageRef(#[from] image::ImageRefError),
    #[error("{0}")]
    Docker(#[from] DockerError),
    #[error("{0}")]
    Local(#[from] local::LocalError),
    #[error("the engine has no image {reference}, and repro's cache has none with that digest")]
    ImageMissing { reference: String },
    #[error("the control build (run A) failed with exit status {code}; its log ends with:\n{tail}")]
    ControlFailed { code: i64, tail: String },
    #[error("the control build (run A) ran past its timeout of {secs}s and was stopped")]
    ControlTimedOut { secs: u64 },
    #[error("the build produced no outputs{what}")]
    NoOutputs { what: String },
    #[error("collecting the outputs of run {run}: {source}")]
    Artifacts {
        run: String,
        source: artifacts::ArtifactError,
    },
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
}

impl CheckError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            CheckError::Recipe(recipe::RecipeError::NoneApplies { .. }) => {
                "add a repro.toml with [build] command and outputs (see docs/check.md)".into()
            }
            CheckError::Image(e) => return e.hint(),
            CheckError::Docker(DockerError::Unreachable { .. }) => format!(
                "start the Docker engine, or set DOCKER_HOST (now {}); the local backend (--local) runs \
                 without isolation",
                docker::endpoint()
            ),
            CheckError::ImageMissing { .. } => {
                "import the image's tarball with `repro image import FILE`, or use one of ours \
                 (--image default)"
                    .into()
            }
            CheckError::ControlFailed { tail, .. } if reads_git_history(tail) => {
                "the build reads the repository's history, which it does not get by default: \
                 --with-git (or `git = true` in repro.toml) gives it a .git at the checkout's commit"
                    .into()
            }
            CheckError::ControlFailed { .. } => {
                "the build must succeed in the control run; -v shows the whole log, --keep DIR keeps it. \
                 Builds run offline: vendor dependencies (docs/vendoring.md) or allow --network"
                    .into()
            }
            CheckError::ControlTimedOut { .. } => {
                "raise the limit with --timeout or `timeout` in repro.toml".into()
            }
            CheckError::NoOutputs { .. } => {
                "set [build] outputs in repro.toml to the files the build produces (globs)".into()
            }
            _ => return None,
        })
    }
}

/// Whether a failed build's log says it looked for the repository's history.
fn reads_git_history(tail: &str) -> bool {
    let t = tail.to_ascii_lowercase();
    [
        "not a git repository",
        "setuptools-scm",
        "setuptools_scm",
        "unable to detect version",
    ]
    .iter()
    .any(|s| t.contains(s))
}

/// A scratch directory removed on every path (also when the check future is dropped on Ctrl-C).
struct Work(tempfile::TempDir);

/// Runs a check through the Docker backend (or, with `opts.local`, the local one).
pub async fn check(opts: CheckOptions, progress: Arc<dyn Progress>) -> Result<CheckReport, CheckError> {
    let started = std::time::Instant::now();
    let dir = std::fs::canonicalize(&opts.dir).map_err(|source| CheckError::Io {
        context: format!("cannot open the project directory {}", opts.dir.display()),
        source,
    })?;
    let mut build = match &opts.build {
        Some(build) => build.clone(),
        None => recipe::resolve(&dir, &recipe::load(opts.recipes.as_deref())?)?,
    };
    if opts.network {
        build.network = true;
    }
    if opts.with_git {
        build.with_git = true;
    }
    if let Some(t) = opts.timeout_secs {
        build.timeout_secs = t;
    }
    let (sde, sde_origin) = source::source_date_epoch(&dir, opts.source_date_epoch)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
    let work = Work(
        tempfile::Builder::new()
            .prefix("repro-check-")
            .tempdir()
            .map_err(|source| CheckError::Io {
                context: "creating a scratch directory".into(),
                source,
            })?,
    );
    let mut notes = Vec::new();
    let mut variations = opts.variations.clone();
    if opts.control_only {
        variations.clear();
    }
    if opts.local {
        notes.push(
            "local backend: the builds ran as plain processes on this machine, UNISOLATED (host \
             filesystem, network and tools)"
                .to_string(),
        );
        let dropped: Vec<&str> = local::UNSUPPORTED
            .iter()
            .filter(|v| variations.remove(v))
            .map(|v| v.name())
            .collect();
        if !dropped.is_empty() {
            notes.push(format!(
                "the local backend cannot vary {}: left out",
                dropped.join(", ")
            ));
        }
        if !local::has_faketime() && variations.remove(&Variation::Time) {
            notes.push(format!(
                "libfaketime is not installed ({}): the time variation was left out",
                crate::plan::FAKETIME_LIB
            ));
        }
    }
    let mut plan = Plan::new(build.clone(), sde, now, variations, opts.runs);
    if opts.local {
        let root = local::scratch_root(work.0.path());
        plan = plan.with_prefix(&root.display().to_string());
        if !local::has_faketime() {
            for run in &mut plan.runs {
                for var in ["LD_PRELOAD", "FAKETIME", "FAKETIME_DONT_FAKE_MONOTONIC"] {
                    run.env.remove(var);
                }
            }
        }
    }
    notes.splice(0..0, plan.notes.clone());
    if let Some(file) = cargo_rustflags(&dir)
        && build.remap
    {
        notes.push(format!(
            "{file} sets rustflags, and the RUSTFLAGS repro sets for path remapping overrides them \
             (cargo uses one or the other): add --remap-path-prefix there and set remap = false"
        ));
    }
    if sde_origin == EpochOrigin::NewestMtime {
        notes.push(format!(
            "SOURCE_DATE_EPOCH {sde} comes from the newest file mtime (no git history): pass \
             --source-date-epoch to make it explicit"
        ));
    }
    if build.network {
        notes.push("the network was allowed: the build is not hermetic".into());
    }

    let backend = if opts.local {
        Backend::Local
    } else {
        let reference = opts.image.clone().unwrap_or_else(|| build.image.clone());
        let image_ref = ImageRef::parse(&reference, opts.allow_unpinned)?;
        let docker = docker::connect().await?;
        docker::remove_leftovers(&docker).await?;
        let image = resolve_image(&docker, &image_ref, progress.clone()).await?;
        if !image.pinned {
            notes.push(format!(
                "the image {reference} is not pinned by digest (--allow-unpinned)"
            ));
        }
        Backend::Docker { docker, image }
    };
    let mut entries = source::list_source(&dir)?;
    if build.with_git {
        entries.extend(source::standalone_git(&dir, work.0.path())?);
        notes.push(
            "the build got a standalone copy of the repository's history as .git (at the \
             checkout's commit)"
                .into(),
        );
    }
    let check_id = format!("{}-{}", std::process::id(), now);
    let runner = Runner {
        backend: &backend,
        entries: &entries,
        dir: &dir,
        work: work.0.path(),
        check_id: &check_id,
        globs: &plan.build.outputs,
        log_lines: opts.log_lines.clone(),
        progress,
    };
    let specs = if opts.control_only {
        &plan.runs[..1]
    } else {
        &plan.runs[..]
    };
    let results = runner.run(specs).await?;
    let image = match &backend {
        Backend::Docker { image, .. } => image.clone(),
        Backend::Local => ImageInfo {
            reference: "(this machine)".into(),
            image_id: "none: local backend".into(),
            layer_digest: None,
            tarball_sha256: None,
            pinned: false,
        },
    };
    let control_outputs = results
        .iter()
        .find(|(s, _, _)| s.label == "A")
        .map(|(_, d, _)| d.join("outputs"));
    let mut report = collect(CollectInput {
        opts: &opts,
        build,
        plan: plan.clone(),
        image,
        sde,
        sde_origin,
        notes,
        results,
        started,
    })?;
    if let (Some(to), Some(from)) = (&opts.control_outputs, &control_outputs) {
        collect::copy_tree(from, to).map_err(|source| CheckError::Io {
            context: format!("copying the outputs to {}", to.display()),
            source,
        })?;
    }
    if report.verdict == Verdict::NotReproducible && opts.isolate_budget > 0 && control_outputs.is_some() {
        let iso = isolate::isolate(&runner, &plan, &report, opts.isolate_budget).await?;
        isolate::apply(&mut report, iso);
    }
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// The recipe's or repro.toml's `exclude_outputs` as one glob set (invalid globs never match).
fn output_excludes(build: &BuildDef) -> globset::GlobSet {
    let mut b = globset::GlobSetBuilder::new();
    for g in &build.exclude_outputs {
        if let Ok(g) = globset::Glob::new(g) {
            b.add(g);
        }
    }
    b.build().unwrap_or_else(|_| globset::GlobSet::empty())
}

/// Unpacks a finished run's outputs archive (wrapped by the engine or not) into `dest`.
fn unpack_outputs(
    r: &RunResult,
    archive: &Path,
    dest: &Path,
    exclude: &globset::GlobSet,
) -> Result<artifacts::RunOutputs, artifacts::ArtifactError> {
    let reader =
        std::io::BufReader::new(std::fs::File::open(archive).map_err(artifacts::ArtifactError::Read)?);
    if r.outputs_wrapped {
        artifacts::with_member(reader, "outputs.tar", |inner| {
            artifacts::unpack(inner, dest, exclude)
        })
    } else {
        artifacts::unpack(reader, dest, exclude)
    }
}

/// The project's cargo config file that sets rustflags, if any.
fn cargo_rustflags(dir: &Path) -> Option<String> {
    ["config.toml", "config"].iter().find_map(|name| {
        let path = dir.join(".cargo").join(name);
        let text = std::fs::read_to_string(&path).ok()?;
        let sets = text.lines().any(|l| {
            let l = l.trim_start();
            l.starts_with("rustflags") || l.starts_with("build.rustflags")
        });
        sets.then(|| format!(".cargo/{name}"))
    })
}

/// Where the runs execute.
enum Backend {
    Docker {
        docker: bollard::Docker,
        image: ImageInfo,
    },
    Local,
}

/// Runs builds through the chosen backend.
pub(crate) struct Runner<'a> {
    backend: &'a Backend,
    entries: &'a [source::SourceEntry],
    dir: &'a Path,
    work: &'a Path,
    check_id: &'a str,
    globs: &'a [String],
    log_lines: Option<tokio::sync::mpsc::UnboundedSender<(String, String)>>,
    progress: Arc<dyn Progress>,
}

impl Runner<'_> {
    /// Runs the given builds, in parallel as far as the CPUs allow; each in `work/run-LABEL`.
    pub(crate) async fn run(
        &self,
        specs: &[RunSpec],
    ) -> Result<Vec<(RunSpec, PathBuf, RunResult)>, CheckError> {
        let parallel = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, specs.len().max(1));
        let semaphore = Arc::new(tokio::sync::Semaphore::new(parallel));
        let mut tasks = Vec::new();
        for spec in specs {
            let run_dir = self.work.join(format!("run-{}", spec.label));
            std::fs::create_dir_all(&run_dir).map_err(|source| CheckError::Io {
                context: format!("creating {}", run_dir.display()),
                source,
            })?;
            let source_tar = run_dir.join("source.tar");
            {
                let f = std::fs::File::create(&source_tar).map_err(|source| CheckError::Io {
                    context: format!("creating {}", source_tar.display()),
                    source,
                })?;
                source::write_source_tar(
                    self.dir,
                    self.entries,
                    spec.file_order,
                    std::io::BufWriter::new(f),
                )?;
            }
            let (spec, globs, check_id, sem) = (
                spec.clone(),
                self.globs.to_vec(),
                self.check_id.to_string(),
                semaphore.clone(),
            );
            let progress = self.progress.clone();
            let log_lines = self.log_lines.clone();
            let target = match self.backend {
                Backend::Docker { docker, image } => Some((docker.clone(), image.image_id.clone())),
                Backend::Local => None,
            };
            tasks.push(tokio::spawn(async move {
                let _permit = sem.acquire_owned().await;
                progress.message(&format!("run {}: building", spec.label));
                let r = match target {
                    Some((docker, image_id)) => docker::run(
                        &docker,
                        RunRequest {
                            spec: &spec,
                            image: &image_id,
                            source_tar: &source_tar,
                            output_globs: &globs,
                            check_id: &check_id,
                            work: &run_dir,
                            log_lines,
                        },
                    )
                    .await
                    .map_err(CheckError::Docker),
                    None => local::run(local::LocalRequest {
                        spec: &spec,
                        source_tar: &source_tar,
                        output_globs: &globs,
                        work: &run_dir,
                        log_lines,
                    })
                    .await
                    .map_err(CheckError::Local),
                };
                progress.message(&format!("run {}: done", spec.label));
                (spec, run_dir, r)
            }));
        }
        let mut results = Vec::new();
        for t in tasks {
            match t.await {
                Ok((spec, dir, Ok(r))) => results.push((spec, dir, r)),
                Ok((_, _, Err(e))) => return Err(e),
                Err(e) => {
                    return Err(CheckError::Io {
                        context: "a run's task failed".into(),
                        source: std::io::Error::other(e),
                    });
                }
            }
        }
        Ok(results)
    }
}

async fn resolve_image(
    docker: &bollard::Docker,
    r: &ImageRef,
    progress: Arc<dyn Progress>,
) -> Result<ImageInfo, CheckError> {
    match r {
        ImageRef::Builder(name) => {
            let p: PinnedImage = image::ensure_image(name, progress).await?;
            Ok(ImageInfo {
                reference: name.clone(),
                image_id: p.image_id,
                layer_digest: Some(p.record.layer_digest),
                tarball_sha256: Some(p.record.tarball_sha256),
                pinned: true,
            })
        }
        ImageRef::Digest { digest, .. } => {
            // Our own cache first (an image shared with `repro image export|import`), then the
            // engine (pulled or loaded by other means).
            let store = image::ImageStore::with_docker(image::Cache::from_env()?, docker.clone());
            if let Ok(record) = store.resolve(digest) {
                let p = store.load(&record, progress).await?;
                return Ok(ImageInfo {
                    reference: r.to_string(),
                    image_id: p.image_id,
                    layer_digest: Some(p.record.layer_digest),
                    tarball_sha256: Some(p.record.tarball_sha256),
                    pinned: true,
                });
            }
            engine_image(docker, r).await
        }
        ImageRef::Unpinned(_) => engine_image(docker, r).await,
    }
}

async fn engine_image(docker: &bollard::Docker, r: &ImageRef) -> Result<ImageInfo, CheckError> {
    let reference = r.to_string();
    let mut found = image::inspect(docker, &reference).await?;
    if found.is_none()
        && let Some(digest) = r.digest()
    {
        // `name@sha256:ID` of an image loaded without that name: the engine knows it by ID.
        found = image::inspect(docker, digest).await?.filter(|f| f.id == digest);
    }
    let Some(found) = found else {
        return Err(CheckError::ImageMissing { reference });
    };
    if let Some(digest) = r.digest() {
        // A digest reference must name this content: the image ID or a layer.
        let matches = found.id == digest || found.layers.iter().any(|l| l == digest);
        if !matches && !reference.contains('@') {
            return Err(CheckError::ImageMissing { reference });
        }
    }
    Ok(ImageInfo {
        reference,
        image_id: found.id,
        layer_digest: found.layers.last().cloned(),
        tarball_sha256: None,
        pinned: r.is_pinned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sees_a_projects_own_rustflags() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(cargo_rustflags(d.path()), None);
        std::fs::create_dir_all(d.path().join(".cargo")).unwrap();
        std::fs::write(
            d.path().join(".cargo/config.toml"),
            "[build]\nrustflags = [\"-Ctarget-cpu=native\"]\n",
        )
        .unwrap();
        assert_eq!(cargo_rustflags(d.path()).as_deref(), Some(".cargo/config.toml"));
    }
}
