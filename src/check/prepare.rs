//! The first step of a check: what to build ([`Target`], from the project or a recorded
//! build), and everything derived before any run ([`Prepared`]): the plan fitted to the
//! backend, the checked image, the source snapshot, and the notes for the report.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::deps::{DependencyPhase, FetchContext};
use super::run::Runner;
use super::{CheckError, CheckOptions};
use crate::plan::Plan;
use crate::recipe::{self, BuildDef};
use crate::runner::{Backend, ImageInfo, Progress};
use crate::source::{self, CommitTree, EpochOrigin};

/// What a check builds: the project's own build (its repro.toml, or a recipe chosen from what
/// it contains) or a recorded one, with the user's overrides applied.
#[derive(Debug, Clone)]
pub struct Target {
    /// The folder as given, for the report.
    pub project: String,
    /// The same folder, canonical.
    pub dir: PathBuf,
    pub build: BuildDef,
    /// The image reference the runs use (a builder name or a pinned reference).
    pub image: String,
    pub source_date_epoch: i64,
    pub source_date_epoch_origin: EpochOrigin,
    /// A rebuild's recorded dependencies: fetched exactly, every digest checked.
    pub recorded_dependencies: Option<crate::deps::Recorded>,
    /// The commit's tree the build is made from (`repro build`, `repro rebuild`), read from the
    /// repository's objects; `dir` is where it was written. `None`: the folder on disk as it is
    /// (`repro check`).
    pub commit_tree: Option<Arc<CommitTree>>,
}

impl Target {
    /// The project `opts.dir`: its repro.toml or recipe, and its image unless `--image` says
    /// otherwise.
    pub fn project(opts: &CheckOptions) -> Result<Target, CheckError> {
        Target::project_at(opts, &opts.dir)
    }

    /// The project in `dir` (a folder the command found, e.g. a checkout's), with `opts`.
    pub fn project_at(opts: &CheckOptions, dir: &Path) -> Result<Target, CheckError> {
        let canonical = canonical(dir)?;
        let build = recipe::resolve(&canonical, &recipe::load(opts.recipes.as_deref())?)?;
        let image = opts.image.clone().unwrap_or_else(|| build.image.clone());
        Target::new(opts, dir, canonical, build, image, opts.source_date_epoch, None)
    }

    /// The project `project` as its commit's tree `tree` has it (its repro.toml or recipe read
    /// from the tree), for `repro build`.
    pub fn project_commit(
        opts: &CheckOptions,
        project: &Path,
        tree: CommitTree,
    ) -> Result<Target, CheckError> {
        let dir = tree.dir();
        let build = recipe::resolve(&dir, &recipe::load(opts.recipes.as_deref())?)?;
        let image = opts.image.clone().unwrap_or_else(|| build.image.clone());
        Target::new(
            opts,
            project,
            dir,
            build,
            image,
            opts.source_date_epoch,
            Some(tree),
        )
    }

    /// A recorded build of the commit's tree `tree`, in the image `image`; its
    /// `SOURCE_DATE_EPOCH` when it records one, else the user's, else the commit's.
    pub fn recorded(
        opts: &CheckOptions,
        project: &Path,
        tree: CommitTree,
        build: BuildDef,
        image: String,
        source_date_epoch: Option<i64>,
    ) -> Result<Target, CheckError> {
        let given = source_date_epoch.or(opts.source_date_epoch);
        Target::new(opts, project, tree.dir(), build, image, given, Some(tree))
    }

    fn new(
        opts: &CheckOptions,
        project: &Path,
        dir: PathBuf,
        mut build: BuildDef,
        image: String,
        source_date_epoch: Option<i64>,
        tree: Option<CommitTree>,
    ) -> Result<Target, CheckError> {
        if opts.network {
            build.network = true;
        }
        if opts.with_git {
            build.with_git = true;
        }
        if let Some(t) = opts.timeout_secs {
            build.timeout_secs = t;
        }
        if let Some(d) = opts.disk_bytes {
            build.disk_bytes = d;
        }
        build.check().map_err(|r| recipe::RecipeError::Invalid {
            file: crate::escape::text(&build.origin).into_owned(),
            message: r.to_string(),
        })?;
        let (sde, origin) = match (&tree, source_date_epoch) {
            (Some(tree), None) => (tree.commit_time, EpochOrigin::GitCommit),
            _ => source::source_date_epoch(&dir, source_date_epoch)?,
        };
        Ok(Target {
            project: project.display().to_string(),
            dir,
            build,
            image,
            source_date_epoch: sde,
            source_date_epoch_origin: origin,
            recorded_dependencies: None,
            commit_tree: tree.map(Arc::new),
        })
    }
}

fn canonical(dir: &Path) -> Result<PathBuf, CheckError> {
    std::fs::canonicalize(dir).map_err(CheckError::io(format!(
        "cannot open the project directory {}",
        dir.display()
    )))
}

/// A scratch directory removed on every path (also when the check future is dropped on Ctrl-C).
pub(super) struct Work(pub(super) tempfile::TempDir);

/// Everything a check derives before its first run. Its steps ([`Prepared::run`],
/// [`Prepared::collect`], [`Prepared::compare`], [`Prepared::isolate`]) can be called on
/// their own; [`Prepared::check`] makes them all.
pub struct Prepared {
    pub target: Target,
    pub plan: Plan,
    pub image: ImageInfo,
    /// What the dependency step did (absent for a project with no package ecosystem).
    pub dependency_phase: Option<DependencyPhase>,
    /// Every dependency the builds got from the store.
    pub dependencies: Vec<crate::deps::Dependency>,
    /// What the report should say about how the check was made.
    pub notes: Vec<String>,
    /// The checkout of a working-tree build and its differences from the commit.
    pub source: Option<super::SourceStatus>,
    pub(super) runner: Runner,
    pub(super) opts: CheckOptions,
    pub(super) started: std::time::Instant,
}

impl Prepared {
    /// Where the outputs of the run `spec` are unpacked once collected (removed with `self`).
    pub fn outputs_dir(&self, spec: &crate::plan::RunSpec) -> PathBuf {
        self.runner.outputs_dir(&spec.label)
    }
}

/// Plans the runs of `target` for `backend`, checks the engine and image, and snapshots the
/// source.
pub async fn prepare(
    opts: &CheckOptions,
    target: Target,
    backend: Arc<dyn Backend>,
    progress: Arc<dyn Progress>,
) -> Result<Prepared, CheckError> {
    let started = std::time::Instant::now();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
    let work =
        Work(crate::scratch::tempdir("check").map_err(CheckError::io("creating a scratch directory"))?);
    let image = backend
        .preflight(&target.image, opts.allow_unpinned, progress.clone())
        .await?;
    let check_id = format!("{}-{}", std::process::id(), now);
    let mut entries = match &target.commit_tree {
        Some(tree) => tree.entries.clone(),
        None => source::list_source(&target.dir)?,
    };
    if target.build.with_git {
        entries.extend(match &target.commit_tree {
            Some(tree) => tree.standalone_git(work.0.path())?,
            None => source::standalone_git(&target.dir, None, work.0.path())?,
        });
    }
    // The dependency step reads the snapshot, not the folder: see `deps::provide`.
    let deps_root = if entries
        .iter()
        .any(|e| crate::deps::MARKERS.iter().any(|m| e.path.as_os_str() == *m))
    {
        let dir = work.0.path().join("source");
        source::write_out(&target.dir, &entries, &dir)?;
        dir
    } else {
        target.dir.clone()
    };
    let provided = super::deps::provide(
        opts,
        &target,
        &deps_root,
        FetchContext {
            backend: &backend,
            image: &image,
            check_id: &check_id,
            work: work.0.path(),
            log_lines: opts.log_lines.clone(),
            progress: progress.clone(),
        },
    )
    .await?;
    let mut variations = opts.variations.clone();
    let mut notes = backend.fit_variations(&mut variations);
    let plan = Plan::new(
        target.build.clone(),
        target.source_date_epoch,
        now,
        variations,
        opts.runs,
    )
    .with_extras(provided.extras);
    let plan = backend.fit_plan(plan, work.0.path());
    notes.splice(0..0, plan.notes.clone());
    if let Some(file) = cargo_rustflags(&target.dir)
        && target.build.remap
    {
        notes.push(format!(
            "{file} sets rustflags, and the RUSTFLAGS repro sets for path remapping overrides them \
             (cargo uses one or the other): add --remap-path-prefix there and set remap = false"
        ));
    }
    if target.source_date_epoch_origin == EpochOrigin::NewestMtime {
        notes.push(format!(
            "SOURCE_DATE_EPOCH {} comes from the newest file mtime (no commit time: {}): pass \
             --source-date-epoch to make it explicit",
            target.source_date_epoch,
            source::why_no_commit_time(&target.dir)
        ));
    }
    if target.build.network {
        notes.push("the network was allowed: the build is not hermetic".into());
    }
    // The local backend uses no image: nothing to pin.
    if backend.isolated() && !image.pinned {
        notes.push(format!(
            "the image {} is not pinned by digest (--allow-unpinned)",
            target.image
        ));
    }
    notes.extend(provided.notes);
    let source = match &target.commit_tree {
        Some(tree) => {
            notes.extend(tree.notes());
            None
        }
        None => work_tree_status(&target.dir),
    };
    if target.build.with_git {
        notes.push(
            "the build got a standalone copy of the repository's history as .git (at the \
             checkout's commit)"
                .into(),
        );
    }
    let runner = Runner {
        backend,
        image_id: image.image_id.clone(),
        entries,
        dir: target.dir.clone(),
        mounts: provided.mounts,
        check_id,
        globs: plan.build.outputs.clone(),
        log_lines: opts.log_lines.clone(),
        progress,
        work,
        jobs: Runner::jobs_for(opts.jobs),
    };
    Ok(Prepared {
        target,
        plan,
        image,
        dependency_phase: (!provided.phase.ecosystems.is_empty()).then_some(provided.phase),
        dependencies: provided.dependencies,
        notes,
        source,
        runner,
        opts: opts.clone(),
        started,
    })
}

/// When the folder is in a git checkout: its commit and the files that differ from it
/// (modified, untracked and not ignored, flagged skip-worktree/assume-unchanged and changed,
/// or left out by a sparse checkout), since the builds get the working tree as it is.
fn work_tree_status(dir: &Path) -> Option<super::SourceStatus> {
    let checkout = source::Checkout::open(dir).ok()?;
    let uncommitted = checkout.changes(&checkout.subdir).ok()?;
    Some(super::SourceStatus {
        commit: checkout.commit,
        uncommitted,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_when_the_work_tree_is_not_its_commit() {
        let d = tempfile::tempdir().unwrap();
        assert!(work_tree_status(d.path()).is_none(), "not a checkout");
        crate::source::commit::tests::sh(
            d.path(),
            "git init -q . && echo a > a && echo b > b && echo 'ign*' > .gitignore && git add -A \
             && git commit -qm one && git update-index --skip-worktree a",
        );
        let clean = work_tree_status(d.path()).unwrap();
        assert!(clean.uncommitted.is_empty(), "clean: {clean:?}");
        assert_eq!(clean.commit.len(), 40);
        crate::source::commit::tests::sh(d.path(), "echo evil > a && echo x > ignored && echo y > new");
        let status = work_tree_status(d.path()).unwrap();
        let got: Vec<(&str, crate::source::ChangeKind)> = status
            .uncommitted
            .iter()
            .map(|c| (c.path.as_str(), c.change))
            .collect();
        assert_eq!(
            got,
            [
                ("new", crate::source::ChangeKind::Untracked),
                ("a", crate::source::ChangeKind::HiddenSkipWorktree)
            ]
        );
    }

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
