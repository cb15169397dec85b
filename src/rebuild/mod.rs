//! `repro rebuild` and `repro build`: re-running a recorded build (from SLSA provenance) with
//! variations and comparing with what was published; and one pinned build that records its own
//! provenance. Signing is the caller's (`cli`), from the report and statements made here; the
//! private key never reaches this module, and so never reaches a build.

pub mod policy;
pub mod recorded;
pub mod statements;
pub mod subjects;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use crate::check::{self, ArtifactReport, CheckError, CheckOptions, CheckReport, Target, Verdict};
use crate::image::{ImageRef, Progress};
use crate::plan::CONTROL;
use crate::provenance::{Provenance, ProvenanceError};
use crate::recipe::{self, BuildDef};
use crate::runner::{Backend, RunError};
pub use crate::source::Checkout;
use crate::source::{CheckoutError, CommitTree};
pub use recorded::Recorded;
pub use subjects::{MatchedBy, SubjectMatch};

/// Version of the rebuild report's JSON schema (`docs/schema/rebuild-report.v2.json`).
pub const REBUILD_SCHEMA_VERSION: u32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error(transparent)]
    Provenance(#[from] ProvenanceError),
    #[error("no rebuilder for build type `{found}`; rebuilders/ re-runs:\n  {known}")]
    BuildType { found: String, known: String },
    #[error(transparent)]
    Recipe(#[from] recipe::RecipeError),
    #[error("{message}")]
    Source { message: String, hint: Option<String> },
    #[error("the provenance records commit {recorded} ({uri}), which is not in the repository {repository}")]
    MissingCommit {
        repository: PathBuf,
        recorded: String,
        uri: String,
    },
    #[error(transparent)]
    Tree(#[from] crate::source::SourceError),
    #[error(transparent)]
    Policy(#[from] policy::PolicyError),
    #[error(
        "the provenance says its outputs were built from a working tree that differs from commit \
         {commit} (externalParameters.uncommittedChanges: {count} file(s)), so a rebuild of the \
         commit cannot reproduce them"
    )]
    Uncommitted { commit: String, count: usize },
    #[error("the recorded builder image {uri} is neither in the engine nor in repro's cache")]
    ImageMissing { uri: String },
    #[error(transparent)]
    Check(#[from] CheckError),
}

impl From<CheckoutError> for RebuildError {
    fn from(e: CheckoutError) -> Self {
        RebuildError::Source {
            message: e.message,
            hint: e.hint,
        }
    }
}

impl RebuildError {
    pub fn hint(&self) -> Option<String> {
        match self {
            RebuildError::BuildType { .. } => Some(
                "a recipe in rebuilders/ names each build type it re-runs (see rebuilders/README.md)".into(),
            ),
            RebuildError::Source { hint, .. } => hint.clone(),
            RebuildError::MissingCommit { recorded, .. } => Some(format!(
                "fetch it into the checkout given with --source (`git fetch origin {recorded}`); \
                 the build reads the commit's objects, whatever is checked out"
            )),
            RebuildError::ImageMissing { .. } => Some(
                "load it (`docker load`, `repro image import FILE`), or substitute a local image \
                 with --image-override REF (recorded in the report and attestation)"
                    .into(),
            ),
            RebuildError::Check(e) => e.hint(),
            RebuildError::Policy(e) => e.hint.clone(),
            RebuildError::Uncommitted { .. } => Some(
                "--allow-uncommitted rebuilds the commit anyway (its subjects will likely not match)".into(),
            ),
            _ => None,
        }
    }
}

/// What the user asked `repro rebuild` for.
pub struct RebuildOptions {
    pub provenance: Provenance,
    /// sha256 of the provenance input as given (the file, or stdin).
    pub provenance_file_sha256: String,
    /// How the provenance's signature verified (`--provenance-key`, or keylessly); `None`
    /// when it was not checked.
    pub provenance_signature: Option<crate::attest::SignatureRecord>,
    /// A checkout of the recorded source (any folder of it).
    pub source: PathBuf,
    /// Use this image instead of the recorded one.
    pub image_override: Option<String>,
    /// Output globs left out of the across-runs verdict (never a subject).
    pub exclude: Vec<String>,
    pub allow_unisolated: bool,
    /// What the rebuilder grants the recorded build (network, limits).
    pub policy: policy::Policy,
    /// Sign a PASSED verdict even though the builds had the network.
    pub allow_non_hermetic: bool,
    /// Rebuild a provenance that records uncommitted changes (the commit is built).
    pub allow_uncommitted: bool,
    /// Runs, variations, budgets and logs, as for `repro check`. What to build, in which image
    /// and folder, comes from the provenance and `source` instead of `dir` and `image`.
    pub check: CheckOptions,
}

/// Facts about the provenance that was rebuilt.
#[derive(Debug, Clone, Serialize)]
pub struct ProvenanceInfo {
    pub file_sha256: String,
    pub payload_sha256: String,
    pub predicate_type: String,
    pub build_type: String,
    pub builder_id: Option<String>,
    pub invocation_id: Option<String>,
    /// The keyid of the signature verified with `--provenance-key`; absent when not checked
    /// or checked keylessly.
    pub signature_keyid: Option<String>,
    /// How the provenance's signature was verified (the JSON report's `provenance.signature`).
    #[serde(skip)]
    pub signature: Option<crate::attest::SignatureRecord>,
}

/// Everything a rebuild found.
#[derive(Debug, Clone, Serialize)]
pub struct RebuildReport {
    pub schema_version: u32,
    /// Every run made the same bytes (outputs left out with `--exclude` aside).
    pub reproducible_across_runs: bool,
    /// Every subject was rebuilt with its recorded digest (by the control run).
    pub matches_subjects: bool,
    pub provenance: ProvenanceInfo,
    pub recorded: Recorded,
    /// The checkout the source came from.
    pub checkout: PathBuf,
    pub image_substituted: bool,
    pub allow_unisolated: bool,
    /// What the rebuilder granted the recorded build.
    pub granted: policy::Grants,
    pub allow_non_hermetic: bool,
    pub subjects: Vec<SubjectMatch>,
    /// Outputs left out of the across-runs verdict by `--exclude`.
    pub exclude_globs: Vec<String>,
    pub excluded: Vec<ArtifactReport>,
    pub notes: Vec<String>,
    /// The runs and their comparison, as `repro check` reports them.
    pub check: CheckReport,
}

impl RebuildReport {
    pub fn passed(&self) -> bool {
        self.reproducible_across_runs && self.matches_subjects
    }

    /// Why a PASSED verdict may not be signed without an explicit flag: the builds had the
    /// network (`--allow-non-hermetic`) or ran unisolated (`--allow-unisolated`).
    pub fn unsigned_reason(&self) -> Option<String> {
        if self.granted.network && !self.allow_non_hermetic {
            return Some(
                "the builds had the network, so they are not hermetic (--allow-non-hermetic signs anyway, \
                 recorded in the attestation)"
                    .into(),
            );
        }
        if !self.check.isolated && !self.allow_unisolated {
            return Some(
                "the builds ran on the local backend, unisolated (--allow-unisolated signs anyway, \
                 recorded in the attestation)"
                    .into(),
            );
        }
        None
    }

    /// `PASSED` or `FAILED`, as attestations spell it.
    pub fn result(&self) -> &'static str {
        if self.passed() { "PASSED" } else { "FAILED" }
    }
}

/// The recorded commit's tree at the recorded folder, read from the objects of the repository
/// `source` is a folder of: what is checked out, and any change to it, does not matter.
fn tree_for(recorded: &Recorded, source: &std::path::Path) -> Result<(Checkout, CommitTree), RebuildError> {
    let checkout = Checkout::open(source)?;
    if !checkout.has_commit(&recorded.source.sha1) {
        return Err(RebuildError::MissingCommit {
            repository: checkout.root,
            recorded: recorded.source.sha1.clone(),
            uri: recorded.source.uri.clone(),
        });
    }
    let tree = crate::source::read_commit_tree(&checkout.root, &recorded.source.sha1, &recorded.path, None)?;
    Ok((checkout, tree))
}

/// Re-runs the recorded build through `backend` and compares the runs with each other and
/// with the subjects.
pub async fn rebuild(
    opts: RebuildOptions,
    backend: Arc<dyn Backend>,
    progress: Arc<dyn Progress>,
) -> Result<RebuildReport, RebuildError> {
    let recipes = recipe::load(opts.check.recipes.as_deref())?;
    let recorded = recorded::recorded(&opts.provenance, &recipes)?;
    if !recorded.uncommitted_changes.is_empty() && !opts.allow_uncommitted {
        return Err(RebuildError::Uncommitted {
            commit: recorded.source.sha1.clone(),
            count: recorded.uncommitted_changes.len(),
        });
    }
    // The recorded build is a request: what is granted is built, and recorded.
    let mut build = recorded.build.clone();
    let granted = policy::apply(&mut build, &opts.policy)?;
    let (checkout, tree) = tree_for(&recorded, &opts.source)?;
    let mut notes = granted.notes();
    if !recorded.uncommitted_changes.is_empty() {
        notes.push(format!(
            "the provenance records {} uncommitted change(s) its outputs were built with \
             (--allow-uncommitted): the commit was rebuilt without them",
            recorded.uncommitted_changes.len()
        ));
    }
    if checkout.commit != tree.commit {
        notes.push(format!(
            "the checkout is at commit {}; the recorded commit {} was built from the repository's \
             objects",
            checkout.commit, tree.commit
        ));
    }
    // Looked up in the commit's tree (never on the host), and only as a plain relative path.
    if let Some(config) = &recorded.config_path
        && (recipe::checks::check_glob(config).is_err()
            || !std::fs::symlink_metadata(tree.dir().join(config)).is_ok_and(|m| m.is_file()))
    {
        notes.push(format!(
            "the recorded configPath `{config}` is not in the checkout (its parameters are taken \
             from the provenance)"
        ));
    }
    let image = opts
        .image_override
        .clone()
        .unwrap_or_else(|| recorded.builder_image.uri.clone());
    let override_given = opts.image_override.is_some();
    // The policy has decided the limits and the network: no check option overrides them.
    let check_opts = CheckOptions {
        timeout_secs: None,
        network: false,
        ..opts.check.clone()
    };
    let mut target = Target::recorded(
        &check_opts,
        &checkout.root.join(&recorded.path),
        tree,
        build,
        image,
        recorded.source_date_epoch,
    )?;
    target.recorded_dependencies = recorded.fetch_exactly();
    let prepared = match check::prepare(&check_opts, target, backend, progress).await {
        Ok(p) => p,
        Err(CheckError::Run(RunError::ImageMissing { .. })) if !override_given => {
            return Err(RebuildError::ImageMissing {
                uri: recorded.builder_image.uri.clone(),
            });
        }
        Err(e) => return Err(e.into()),
    };
    let report = prepared.check().await?;
    let control_dir = match prepared.plan.control() {
        Some(control) => prepared.outputs_dir(control),
        None => PathBuf::new(),
    };
    // An override that resolves to the recorded image is no substitution.
    let recorded_id = format!("sha256:{}", recorded.builder_image.sha256);
    let image_substituted = override_given && report.image.image_id != recorded_id;
    if image_substituted {
        notes.push(format!(
            "the recorded builder image {} was substituted with {} ({}) (--image-override)",
            recorded.builder_image.uri, report.image.reference, report.image.image_id
        ));
    } else if override_given {
        notes.push(format!(
            "--image-override {} is the recorded builder image (same ID): no substitution",
            report.image.reference
        ));
    }
    if recorded.source_date_epoch.is_none() {
        notes.push(format!(
            "the provenance records no SOURCE_DATE_EPOCH: {} ({}) was used",
            report.source_date_epoch, report.source_date_epoch_origin
        ));
    }
    let control: BTreeMap<String, String> = report
        .artifacts
        .iter()
        .filter_map(|a| Some((a.path.clone(), a.sha256.get(CONTROL)?.clone()?)))
        .collect();
    let subjects = subjects::match_subjects(&opts.provenance.subjects, &control, &control_dir);
    let matches_subjects = !subjects.is_empty() && subjects.iter().all(|s| s.matches);
    let exclude = crate::artifacts::glob_set(&opts.exclude);
    let subject_paths: Vec<&str> = subjects.iter().filter_map(|s| s.artifact.as_deref()).collect();
    let excluded: Vec<ArtifactReport> = report
        .artifacts
        .iter()
        .filter(|a| exclude.is_match(&a.path) && !subject_paths.contains(&a.path.as_str()))
        .cloned()
        .collect();
    let reproducible_across_runs = report.build_findings.is_empty()
        && report
            .artifacts
            .iter()
            .filter(|a| !excluded.iter().any(|e| e.path == a.path))
            .all(|a| a.reproducible);
    if report.verdict == Verdict::NotReproducible && reproducible_across_runs {
        notes.push(format!(
            "only outputs left out with --exclude differ between the runs: {}",
            excluded
                .iter()
                .filter(|a| !a.reproducible)
                .map(|a| a.path.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(RebuildReport {
        schema_version: REBUILD_SCHEMA_VERSION,
        reproducible_across_runs,
        matches_subjects,
        provenance: ProvenanceInfo {
            file_sha256: opts.provenance_file_sha256,
            payload_sha256: opts.provenance.payload_sha256.clone(),
            predicate_type: opts.provenance.predicate_type_uri.clone(),
            build_type: opts.provenance.build_type.clone(),
            builder_id: opts.provenance.builder_id.clone(),
            invocation_id: opts.provenance.invocation_id.clone(),
            signature_keyid: match &opts.provenance_signature {
                Some(crate::attest::SignatureRecord::Key { keyid }) => Some(keyid.clone()),
                _ => None,
            },
            signature: opts.provenance_signature,
        },
        recorded,
        checkout: checkout.root,
        image_substituted,
        allow_unisolated: opts.allow_unisolated,
        granted,
        allow_non_hermetic: opts.allow_non_hermetic,
        subjects,
        exclude_globs: opts.exclude,
        excluded,
        notes,
        check: report,
    })
}

/// What `repro build` made and records as provenance.
#[derive(Debug, Clone, Serialize)]
pub struct BuildRecord {
    pub build: BuildDef,
    pub source_uri: String,
    pub commit: String,
    pub path: String,
    pub image_uri: String,
    pub image_sha256: String,
    pub source_date_epoch: i64,
    /// Output path → sha256.
    pub subjects: Vec<(String, String)>,
    pub builder_id: String,
    pub invocation_id: String,
    pub started: i64,
    pub finished: i64,
    /// The control run as it ran (paths, user, environment).
    pub run: Option<crate::plan::RunSpec>,
    /// The package dependencies the build got from the store.
    pub dependencies: Vec<crate::deps::Dependency>,
    /// Lockfiles repro generated because the project has none (per ecosystem).
    pub generated_lockfiles: Vec<(crate::deps::Ecosystem, check::GeneratedLockfile)>,
    /// `--allow-dirty` with a checkout that differs from its commit: the working tree was built,
    /// and these are the files that differ (recorded in the provenance).
    pub uncommitted_changes: Vec<String>,
    /// The check report of the single run (logs, image, notes).
    pub report: CheckReport,
}

/// One build of a committed project in its pinned builder image, recorded for provenance:
/// a check's control run alone, its outputs copied to `out_dir` when given.
pub async fn build(
    opts: CheckOptions,
    out_dir: Option<PathBuf>,
    builder_id: String,
    allow_dirty: bool,
    backend: Arc<dyn Backend>,
    progress: Arc<dyn Progress>,
) -> Result<BuildRecord, RebuildError> {
    let checkout = Checkout::open(&opts.dir)?;
    let all_changes = checkout.changes(&checkout.subdir)?;
    let dirty = all_changes.iter().any(|c| c.change.is_modification());
    if !allow_dirty {
        checkout.require_clean(&checkout.subdir)?;
    }
    // Built as it is, the working tree lacks what a sparse checkout leaves out: recorded too.
    let changes: Vec<String> = if dirty {
        all_changes.iter().map(ToString::to_string).collect()
    } else {
        Vec::new()
    };
    let started = now();
    // A checkout that differs from its commit is built as it is only when asked, and the
    // provenance then says so; otherwise the commit's own tree is built (a sparse checkout's
    // absent files come from the commit's objects like the rest).
    let target = if !dirty {
        let tree = crate::source::read_commit_tree(&checkout.root, &checkout.commit, &checkout.subdir, None)?;
        Target::project_commit(&opts, &opts.dir, tree)?
    } else {
        Target::project_at(&opts, &checkout.dir())?
    };
    let prepared = check::prepare(&opts, target, backend, progress).await?;
    let control: Vec<_> = prepared.plan.control().cloned().into_iter().collect();
    let finished = prepared.run(&control).await?;
    let mut report = prepared.compare(prepared.collect(&finished)?);
    report.notes.extend(checkout.uri_note());
    let sparse = all_changes.len() - all_changes.iter().filter(|c| c.change.is_modification()).count();
    if !dirty && sparse > 0 {
        report.notes.push(format!(
            "the checkout is sparse: {sparse} file(s) of commit {} are not on disk, and the build \
             got them from the commit's objects",
            checkout.commit
        ));
    }
    if !changes.is_empty() {
        report.notes.push(format!(
            "--allow-dirty: the working tree was built, not commit {}; the provenance records the \
             {} file(s) that differ (externalParameters.uncommittedChanges), and a rebuild refuses it",
            checkout.commit,
            changes.len()
        ));
    }
    if let (Some(to), Some(run)) = (&out_dir, finished.first()) {
        check::copy_tree(&run.outputs_dir(), to).map_err(|source| CheckError::Io {
            context: format!("copying the outputs to {}", to.display()),
            source,
        })?;
    }
    let finished = now();
    let image_sha256 = report
        .image
        .image_id
        .strip_prefix("sha256:")
        .unwrap_or(&report.image.image_id)
        .to_string();
    let name = match ImageRef::parse(&report.image.reference, true) {
        Ok(ImageRef::Builder(n)) => format!("repro/{n}"),
        Ok(ImageRef::Digest { name: Some(n), .. }) | Ok(ImageRef::Unpinned(n)) => n,
        _ => "image".to_string(),
    };
    let subjects = report
        .artifacts
        .iter()
        .filter_map(|a| Some((a.path.clone(), a.sha256.get(CONTROL)?.clone()?)))
        .collect();
    let mut build = report.build.clone();
    build.image = format!("{name}@sha256:{image_sha256}");
    Ok(BuildRecord {
        source_uri: checkout.uri(),
        commit: checkout.commit.clone(),
        path: checkout.subdir.clone(),
        image_uri: build.image.clone(),
        image_sha256,
        source_date_epoch: report.source_date_epoch,
        subjects,
        builder_id,
        invocation_id: format!("{}-{}", std::process::id(), started),
        started,
        finished,
        run: report.runs.first().map(|r| r.spec.clone()),
        dependencies: report.dependencies.clone(),
        generated_lockfiles: report
            .dependency_phase
            .iter()
            .flat_map(|p| &p.ecosystems)
            .filter_map(|e| Some((e.ecosystem, e.generated_lockfile.clone()?)))
            .collect(),
        build,
        uncommitted_changes: changes,
        report,
    })
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}
