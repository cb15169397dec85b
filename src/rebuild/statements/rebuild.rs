//! repro's rebuild attestation predicate ([`super::REBUILD_PREDICATE_TYPE`]); its fields are
//! documented in `docs/attestation.md`.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::REBUILD_PREDICATE_TYPE;
use super::slsa::{Builder, SourceRef};
use crate::intoto::{DigestSet, Predicate, ResourceDescriptor};
use crate::plan::Variation;
pub use crate::rebuild::policy::Grants;
use crate::rebuild::subjects::MatchedBy;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RebuildPredicate {
    pub rebuilder: Builder,
    /// `PASSED` when both verdicts hold, else `FAILED`.
    pub verdict: &'static str,
    pub verdicts: Verdicts,
    pub provenance: ProvenanceRef,
    pub source: SourceRef,
    pub builder_image: BuilderImageUse,
    pub source_date_epoch: i64,
    pub variations: BTreeSet<Variation>,
    pub backend: Backend,
    /// What the rebuilder granted the recorded build: network, limits after clamping, user and
    /// build path.
    pub granted: Grants,
    pub runs: Vec<Run>,
    pub subjects: Vec<SubjectResult>,
    pub excluded: Excluded,
    pub time_finished: String,
}

impl Predicate for RebuildPredicate {
    const TYPE: &'static str = REBUILD_PREDICATE_TYPE;
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdicts {
    pub reproducible_across_runs: bool,
    pub matches_subjects: bool,
}

/// The provenance that was rebuilt: the file, its statement, and whether its signature was
/// checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvenanceRef {
    pub digest: DigestSet,
    pub payload_digest: DigestSet,
    pub predicate_type: String,
    pub build_type: String,
    pub builder_id: Option<String>,
    pub signature_verified: bool,
    /// How the signature was verified (`{method: key, keyid}`); absent when it was not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<crate::attest::SignatureRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BuilderImageUse {
    pub recorded: ResourceDescriptor,
    pub used: ImageUsed,
    pub substituted: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageUsed {
    pub reference: String,
    pub image_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Backend {
    pub name: String,
    pub isolated: bool,
    pub allow_unisolated: bool,
    /// A PASSED verdict was signed although the builds had the network.
    pub allow_non_hermetic: bool,
}

/// One run and the digests of its outputs (path → `{sha256}`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    pub label: String,
    pub variations: BTreeSet<Variation>,
    pub exit_code: i64,
    pub outputs: BTreeMap<String, DigestSet>,
    /// The engine that ran it (ID, URL, OS, kernel) when runs went to several engines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine: Option<crate::engine::Placement>,
}

/// One published subject and the rebuilt artifact it was compared with.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubjectResult {
    pub name: String,
    pub recorded: DigestSet,
    pub rebuilt: DigestSet,
    pub artifact: Option<String>,
    pub matched_by: MatchedBy,
    pub matches: bool,
}

/// Outputs left out of the across-runs verdict with `--exclude`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Excluded {
    pub globs: Vec<String>,
    pub outputs: Vec<ExcludedOutput>,
}

/// An excluded output: its sha256 in each run (`null` where a run did not make it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExcludedOutput {
    pub path: String,
    pub sha256: BTreeMap<String, Option<String>>,
    pub reproducible: bool,
}
