//! The SLSA predicates repro writes: provenance v1 (`repro build`) and the Verification
//! Summary v1 (`repro rebuild --vsa`), with the fields repro fills.

use serde::Serialize;

use super::{SLSA_PROVENANCE_V1, VSA_PREDICATE_TYPE};
use crate::intoto::{DigestSet, Predicate, ResourceDescriptor};
use crate::plan::RunSpec;
use crate::recipe::BuildDef;

/// Who made a statement: `{id, version: {repro: …}}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Builder {
    pub id: String,
    pub version: ReproVersion,
}

/// `{"repro": "<version>"}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReproVersion {
    pub repro: &'static str,
}

impl Builder {
    /// `id`, with this repro's version.
    pub fn repro(id: &str) -> Self {
        Self {
            id: id.to_string(),
            version: ReproVersion {
                repro: env!("CARGO_PKG_VERSION"),
            },
        }
    }
}

/// A folder of a git repository at a commit: `{uri, digest: {sha1}, path}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceRef {
    pub uri: String,
    pub digest: DigestSet,
    pub path: String,
}

/// SLSA provenance v1, as `repro build` records it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SlsaProvenance {
    pub build_definition: BuildDefinition,
    pub run_details: RunDetails,
}

impl Predicate for SlsaProvenance {
    const TYPE: &'static str = SLSA_PROVENANCE_V1;
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildDefinition {
    pub build_type: String,
    pub external_parameters: ExternalParameters,
    pub internal_parameters: InternalParameters,
    pub resolved_dependencies: Vec<ResourceDescriptor>,
}

/// What `repro rebuild` needs to run the build again.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalParameters {
    pub source: SourceRef,
    pub builder_image: ResourceDescriptor,
    pub build: BuildDef,
    pub source_date_epoch: i64,
    /// Lockfiles repro generated because the project has none: a rebuild uses exactly these.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub generated_lockfiles: Vec<GeneratedLockfile>,
    /// `repro build --allow-dirty` of a checkout that differs from its commit: the outputs come
    /// from the working tree, and these files differ (as `git status --porcelain` shows them,
    /// plus skip-worktree/assume-unchanged files). A rebuild refuses such provenance.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub uncommitted_changes: Vec<String>,
}

/// A lockfile repro resolved in the fetch phase, recorded whole.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GeneratedLockfile {
    pub ecosystem: crate::deps::Ecosystem,
    pub path: String,
    pub sha256: String,
    pub content: String,
}

/// How this build ran, for the record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InternalParameters {
    pub backend: &'static str,
    pub run: Option<RunSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunDetails {
    pub builder: Builder,
    pub metadata: BuildMetadata,
}

/// Timestamps are RFC 3339 UTC with `Z`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildMetadata {
    pub invocation_id: String,
    pub started_on: String,
    pub finished_on: String,
}

/// SLSA Verification Summary v1.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationSummary {
    pub verifier: Builder,
    pub time_verified: String,
    pub resource_uri: String,
    pub policy: ResourceDescriptor,
    pub input_attestations: Vec<ResourceDescriptor>,
    /// `PASSED` or `FAILED`.
    pub verification_result: &'static str,
    pub verified_levels: Vec<&'static str>,
    pub slsa_version: &'static str,
}

impl Predicate for VerificationSummary {
    const TYPE: &'static str = VSA_PREDICATE_TYPE;
}
