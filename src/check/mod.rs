//! A reproducibility check: plans N runs of a project's build, runs them through a backend,
//! collects their outputs and compares them by bytes (structurally where they differ). The
//! verdict is decided by the bytes of the outputs; their filesystem metadata after copying out
//! is recorded, not judged.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::artifacts::{self, Artifact};
use crate::compare::{self, Engine, Node, Registry};
use crate::plan::source::{self, EpochOrigin};
use crate::plan::{Plan, RunSpec, Variation};
use crate::recipe::{self, BuildDef};
use crate::runner::RunResult;
use crate::runner::docker::{self, DockerError, RunRequest};
use crate::runner::image::{self, ImageRef, PinnedImage, Progress};
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
    /// Run the builds as plain processes here instead of in containers (unisolated).
    pub local: bool,
    /// Receives every build log line as (run label, line), for `-v`.
    pub log_lines: Option<tokio::sync::mpsc::UnboundedSender<(String, String)>>,
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

/// A scratch directory removed on every path (also when the check future is dropped on Ctrl-C).
struct Work(tempfile::TempDir);

/// Runs a check through the Docker backend (or, with `opts.local`, the local one).
pub async fn check(opts: CheckOptions, progress: Arc<dyn Progress>) -> Result<CheckReport, CheckError> {
    let started = std::time::Instant::now();
    let dir = std::fs::canonicalize(&opts.dir).map_err(|source| CheckError::Io {
        context: format!("cannot open the project directory {}", opts.dir.display()),
        source,
    })?;
    let recipes = recipe::load(opts.recipes.as_deref())?;
    let mut build = recipe::resolve(&dir, &recipes)?;
    if opts.network {
        build.network = true;
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
    let entries = source::list_source(&dir)?;
    let check_id = format!("{}-{}", std::process::id(), now);
    let results = run_all(
        &opts,
        &plan,
        &backend,
        &entries,
        &dir,
        work.0.path(),
        &check_id,
        progress,
    )
    .await?;
    let image = match backend {
        Backend::Docker { image, .. } => image,
        Backend::Local => ImageInfo {
            reference: "(this machine)".into(),
            image_id: "none: local backend".into(),
            layer_digest: None,
            tarball_sha256: None,
            pinned: false,
        },
    };
    collect(CollectInput {
        opts: &opts,
        build,
        plan,
        image,
        sde,
        sde_origin,
        notes,
        results,
        started,
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

/// Runs every planned build, in parallel as far as the CPUs allow.
#[allow(clippy::too_many_arguments)]
async fn run_all(
    opts: &CheckOptions,
    plan: &Plan,
    backend: &Backend,
    entries: &[source::SourceEntry],
    dir: &Path,
    work: &Path,
    check_id: &str,
    progress: Arc<dyn Progress>,
) -> Result<Vec<(RunSpec, PathBuf, RunResult)>, CheckError> {
    let parallel = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, plan.runs.len());
    let semaphore = Arc::new(tokio::sync::Semaphore::new(parallel));
    let mut tasks = Vec::new();
    for spec in &plan.runs {
        let run_dir = work.join(format!("run-{}", spec.label));
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
            source::write_source_tar(dir, entries, spec.file_order, std::io::BufWriter::new(f))?;
        }
        let (spec, globs, check_id, sem) = (
            spec.clone(),
            plan.build.outputs.clone(),
            check_id.to_string(),
            semaphore.clone(),
        );
        let progress = progress.clone();
        let log_lines = opts.log_lines.clone();
        let target = match backend {
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
    let found = image::inspect(docker, &reference).await?;
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

struct CollectInput<'a> {
    opts: &'a CheckOptions,
    build: BuildDef,
    plan: Plan,
    image: ImageInfo,
    sde: i64,
    sde_origin: EpochOrigin,
    notes: Vec<String>,
    results: Vec<(RunSpec, PathBuf, RunResult)>,
    started: std::time::Instant,
}

fn collect(input: CollectInput<'_>) -> Result<CheckReport, CheckError> {
    let CollectInput {
        opts,
        build,
        plan,
        image,
        sde,
        sde_origin,
        notes,
        results,
        started,
    } = input;
    let exclude = {
        let mut b = globset::GlobSetBuilder::new();
        for g in &build.exclude_outputs {
            if let Ok(g) = globset::Glob::new(g) {
                b.add(g);
            }
        }
        b.build().unwrap_or_else(|_| globset::GlobSet::empty())
    };
    let mut runs = Vec::new();
    let mut outputs: BTreeMap<String, (PathBuf, BTreeMap<String, Artifact>)> = BTreeMap::new();
    let mut build_findings = Vec::new();
    for (spec, run_dir, r) in &results {
        if spec.label == "A" {
            if r.timed_out {
                return Err(CheckError::ControlTimedOut {
                    secs: spec.timeout_secs,
                });
            }
            if r.exit_code != 0 {
                return Err(CheckError::ControlFailed {
                    code: r.exit_code,
                    tail: r.log_tail.join("\n"),
                });
            }
        } else if r.timed_out || r.exit_code != 0 {
            let what = if r.timed_out {
                format!("ran past its timeout of {}s", spec.timeout_secs)
            } else {
                format!("failed with exit status {}", r.exit_code)
            };
            build_findings.push(BuildFinding {
                code: "build-failure".into(),
                run: spec.label.clone(),
                message: format!(
                    "run {} {what} while run A succeeded; its log ends with: {}",
                    spec.label,
                    r.log_tail
                        .iter()
                        .rev()
                        .take(3)
                        .rev()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(" | ")
                ),
            });
        }
        let mut count = 0;
        if let Some(archive) = &r.outputs_archive {
            let f = std::fs::File::open(archive).map_err(|source| CheckError::Io {
                context: format!("opening {}", archive.display()),
                source,
            })?;
            let dest = run_dir.join("outputs");
            let reader = std::io::BufReader::new(f);
            let unpacked = if r.outputs_wrapped {
                artifacts::with_member(reader, "outputs.tar", |inner| {
                    artifacts::unpack(inner, &dest, &exclude)
                })
            } else {
                artifacts::unpack(reader, &dest, &exclude)
            }
            .map_err(|source| CheckError::Artifacts {
                run: spec.label.clone(),
                source,
            })?;
            count = unpacked.artifacts.len();
            outputs.insert(spec.label.clone(), (dest, unpacked.artifacts));
        }
        runs.push(RunRecord {
            spec: spec.clone(),
            exit_code: r.exit_code,
            timed_out: r.timed_out,
            duration_ms: r.duration.as_millis() as u64,
            overhead_ms: r.overhead.as_millis() as u64,
            outputs: count,
            log_tail: r.log_tail.clone(),
        });
    }
    if let Some(keep) = &opts.keep {
        keep_runs(keep, &results)?;
    }
    let control = outputs.get("A").map(|(d, a)| (d.clone(), a.clone()));
    let Some((control_dir, control_artifacts)) = control else {
        return Err(CheckError::NoOutputs { what: String::new() });
    };
    if control_artifacts.is_empty() {
        let what = if build.outputs.is_empty() {
            " (no file was created or changed)".to_string()
        } else {
            format!(" matching {}", build.outputs.join(", "))
        };
        return Err(CheckError::NoOutputs { what });
    }
    let artifacts = compare_artifacts(opts, &control_dir, &control_artifacts, &outputs, &runs);
    let reproducible = artifacts.iter().all(|a| a.reproducible) && build_findings.is_empty();
    Ok(CheckReport {
        verdict: if reproducible {
            Verdict::Reproducible
        } else {
            Verdict::NotReproducible
        },
        project: opts.dir.display().to_string(),
        hermetic: !build.network && !opts.local,
        build,
        backend: if opts.local { "local" } else { "docker" }.into(),
        isolated: !opts.local,
        image,
        source_date_epoch: sde,
        source_date_epoch_origin: sde_origin,
        variations: plan.variations.clone(),
        runs,
        artifacts,
        build_findings,
        notes,
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

type RunOutputs = BTreeMap<String, (PathBuf, BTreeMap<String, Artifact>)>;

fn compare_artifacts(
    opts: &CheckOptions,
    control_dir: &Path,
    control: &BTreeMap<String, Artifact>,
    outputs: &RunOutputs,
    runs: &[RunRecord],
) -> Vec<ArtifactReport> {
    let labels: Vec<String> = runs
        .iter()
        .filter(|r| r.outputs > 0 || r.exit_code == 0)
        .map(|r| r.spec.label.clone())
        .collect();
    let mut paths: BTreeSet<String> = control.keys().cloned().collect();
    for (_, arts) in outputs.values() {
        paths.extend(arts.keys().cloned());
    }
    paths
        .into_iter()
        .map(|path| {
            let mut sha256 = BTreeMap::new();
            let mut metadata = BTreeMap::new();
            for label in &labels {
                let a = outputs.get(label).and_then(|(_, arts)| arts.get(&path));
                sha256.insert(label.clone(), a.map(|a| a.sha256.clone()));
                if let Some(a) = a {
                    metadata.insert(
                        label.clone(),
                        ArtifactMeta {
                            size: a.size,
                            mode: format!("{:04o}", a.mode & 0o7777),
                            mtime: a.mtime,
                        },
                    );
                }
            }
            let reference = sha256.get("A").cloned().flatten();
            let mut differences = Vec::new();
            for (label, digest) in &sha256 {
                if label == "A" || *digest == reference {
                    continue;
                }
                let other = outputs.get(label).map(|(d, _)| d.join(&path));
                let tree = match (&reference, digest, other) {
                    (Some(_), Some(_), Some(other)) => {
                        let engine = Engine::new(opts.compare.clone(), Registry::default());
                        engine
                            .ok()
                            .and_then(|e| e.compare_paths(&control_dir.join(&path), &other).ok())
                            .map(|c| (c.root, c.excluded))
                    }
                    _ => None,
                };
                let (tree, excluded) = tree.unwrap_or_default();
                differences.push(RunDifference {
                    run: label.clone(),
                    tree,
                    excluded,
                });
            }
            let reproducible = differences.is_empty() && reference.is_some();
            ArtifactReport {
                path,
                sha256,
                metadata,
                reproducible,
                differences,
            }
        })
        .collect()
}

fn keep_runs(keep: &Path, results: &[(RunSpec, PathBuf, RunResult)]) -> Result<(), CheckError> {
    for (spec, run_dir, r) in results {
        let dest = keep.join(&spec.label);
        let io = |context: String| move |source| CheckError::Io { context, source };
        std::fs::create_dir_all(&dest).map_err(io(format!("creating {}", dest.display())))?;
        if r.log_path.exists() {
            std::fs::copy(&r.log_path, dest.join("build.log"))
                .map_err(io(format!("keeping {}", r.log_path.display())))?;
        }
        let outputs = run_dir.join("outputs");
        if outputs.exists() {
            copy_tree(&outputs, &dest.join("outputs"))
                .map_err(io(format!("keeping outputs in {}", dest.display())))?;
        }
        let spec_json = serde_json::to_string_pretty(spec).unwrap_or_default();
        std::fs::write(dest.join("run.json"), spec_json)
            .map_err(io(format!("writing {}", dest.display())))?;
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// How long a check may take at most, for callers that want a guard.
pub fn worst_case(plan: &Plan) -> Duration {
    Duration::from_secs(plan.build.timeout_secs.saturating_mul(plan.runs.len() as u64))
}
