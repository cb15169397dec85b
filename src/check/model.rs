//! What a check found, as every report format reads it.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::compare::Node;
use crate::plan::{RunSpec, Variation};
use crate::recipe::BuildDef;
use crate::runner::ImageInfo;
use crate::source::EpochOrigin;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Reproducible,
    NotReproducible,
}

/// The checkout a working-tree build was made from, and how its files differ from the commit.
#[derive(Debug, Clone, Serialize)]
pub struct SourceStatus {
    /// `HEAD`'s commit.
    pub commit: String,
    /// Every file that is not as the commit has it (empty: the builds got exactly the commit).
    pub uncommitted: Vec<crate::source::SourceChange>,
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
    /// The engine that ran it, when runs are spread over several (`repro fleet`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement: Option<crate::engine::Placement>,
}

/// What culprit isolation did.
#[derive(Debug, Clone, Serialize)]
pub struct IsolationSummary {
    /// Builds made for isolation (probes; the control and run B are reused).
    pub builds: usize,
    /// The same count, by its name in isolation's terms.
    pub probes: usize,
    /// Most probes built at once.
    pub jobs: usize,
    /// Rounds of probes (each waits for the one before).
    pub rounds: usize,
    /// Wall-clock time isolation took, probes included.
    pub duration_ms: u64,
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
    /// The git checkout the builds were made from, when they were made from a working tree
    /// in one (absent otherwise, and when the commit's own tree was built).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceStatus>,
    /// What the dependency step did, per ecosystem (absent when the project uses none).
    pub dependency_phase: Option<super::DependencyPhase>,
    /// Every dependency the builds got, each identified by its sha256.
    pub dependencies: Vec<crate::deps::Dependency>,
    pub elapsed_ms: u64,
}
