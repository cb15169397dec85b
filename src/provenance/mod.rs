//! Reads recorded build provenance (in-toto statements, SLSA v1/v0.2, DSSE envelopes, Sigstore
//! bundles, `.intoto.jsonl`) and normalises it to one [`Provenance`]. It reads; it never runs.

mod container;
mod envelope;
mod repro;
pub mod rerun;
mod slsa;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::intoto::{Envelope, FormatError, VerificationMaterial};
pub use crate::intoto::{SignedOver, StatementType, Wrapper};
pub use container::{BuilderImage, CONTAINER_BUILD_TYPE, ContainerBuild, GitSource};
pub use envelope::Document;
pub use repro::{REPRO_BUILD_TYPE_PREFIX, ReproBuild};

/// Everything that can be wrong with a provenance input. Each variant names the field or line.
#[derive(Debug, thiserror::Error)]
pub enum ProvenanceError {
    #[error("cannot read {path}: {message}")]
    Io { path: String, message: String },
    // serde_json's message already ends with "at line L column C".
    #[error("{what} is not valid JSON: {message}")]
    NotJson {
        what: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("the input is empty: no statement or envelope found")]
    Empty,
    /// A field is missing, of the wrong type or invalid (also in the envelope or bundle).
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error("unknown statement type `{0}` in `_type` (expected https://in-toto.io/Statement/v1 or v0.1)")]
    UnknownStatementType(String),
    #[error("unknown predicate type `{0}` (expected SLSA provenance v1, v0.2 or v0.1)")]
    UnknownPredicateType(String),
    #[error("`{field}` has no digest: every subject needs at least one")]
    SubjectWithoutDigest { field: String },
    #[error("`payloadType` is `{0}`, expected `application/vnd.in-toto+json`")]
    PayloadType(String),
    #[error("the input has {count} statements: select one by subject name or sha256 digest")]
    SelectionRequired { count: usize },
    #[error("no statement has a subject named `{0}` or with that sha256 digest")]
    NoMatch(String),
    #[error("`{select}` matches the statements at lines {lines:?}: select by digest or name to pick one")]
    Ambiguous { select: String, lines: Vec<usize> },
    #[error("build type is `{found}`, expected `{expected}`")]
    WrongBuildType { found: String, expected: &'static str },
    #[error("line {line}: {source}")]
    Line {
        line: usize,
        source: Box<ProvenanceError>,
    },
}

/// The SLSA provenance version named by `predicateType`. The exact URI read is kept in
/// [`Provenance::predicate_type_uri`] because v1 is seen under three spellings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PredicateType {
    SlsaProvenanceV1,
    SlsaProvenanceV0_2,
    /// What Cloud Build still writes.
    SlsaProvenanceV0_1,
}

impl PredicateType {
    pub fn from_uri(uri: &str) -> Option<Self> {
        match uri {
            "https://slsa.dev/provenance/v1"
            | "https://slsa.dev/provenance/v1.0"
            | "https://slsa.dev/provenance/v1.0?draft" => Some(Self::SlsaProvenanceV1),
            "https://slsa.dev/provenance/v0.2" => Some(Self::SlsaProvenanceV0_2),
            "https://slsa.dev/provenance/v0.1" => Some(Self::SlsaProvenanceV0_1),
            _ => None,
        }
    }

    /// The canonical URI, the one we write.
    pub fn uri(self) -> &'static str {
        match self {
            Self::SlsaProvenanceV1 => "https://slsa.dev/provenance/v1",
            Self::SlsaProvenanceV0_2 => "https://slsa.dev/provenance/v0.2",
            Self::SlsaProvenanceV0_1 => "https://slsa.dev/provenance/v0.1",
        }
    }
}

/// One artifact the provenance is about. Digest names are lowercased; hex values too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub name: String,
    pub digest: BTreeMap<String, String>,
}

impl Subject {
    pub fn sha256(&self) -> Option<&str> {
        self.digest.get("sha256").map(String::as_str)
    }
}

/// The version-specific part of the build's recorded definition, as raw JSON so that nothing we
/// re-run is dropped.
#[derive(Debug, Clone, PartialEq)]
pub enum BuildDefinition {
    V1 {
        external_parameters: Value,
        internal_parameters: Option<Value>,
        resolved_dependencies: Option<Value>,
    },
    V0_2 {
        invocation: Option<Value>,
        build_config: Option<Value>,
        materials: Option<Value>,
    },
    /// `recipe{type, definedInMaterial, entryPoint, arguments, environment}`.
    V0_1 {
        recipe: Option<Value>,
        materials: Option<Value>,
    },
}

/// Recorded provenance, normalised from any of the shapes we read.
#[derive(Debug, Clone, PartialEq)]
pub struct Provenance {
    pub statement_type: StatementType,
    pub subjects: Vec<Subject>,
    pub predicate_type: PredicateType,
    /// The `predicateType` exactly as read.
    pub predicate_type_uri: String,
    pub build_type: String,
    /// Absent only in SLSA v1 provenance without `runDetails`.
    pub builder_id: Option<String>,
    pub invocation_id: Option<String>,
    /// RFC 3339 text as recorded.
    pub started_on: Option<String>,
    pub finished_on: Option<String>,
    pub build: BuildDefinition,
    /// The whole statement, unknown fields included.
    pub statement: Value,
    /// The exact statement bytes (the decoded DSSE payload, or the statement's own line/file).
    pub payload: Vec<u8>,
    /// Lowercase hex sha256 of [`Self::payload`].
    pub payload_sha256: String,
    pub wrapper: Wrapper,
    /// The DSSE envelope the statement came in, when it came in one; its payload is
    /// [`Self::payload`].
    pub envelope: Option<Envelope>,
    /// What the envelope's signatures cover (the PAE, or for Cloud Build the payload too).
    pub signed_over: SignedOver,
    /// What verifies a Sigstore bundle's signature (key hint, certificates, log entries).
    pub verification_material: Option<VerificationMaterial>,
    /// 1-based line where the statement's document starts (its line in a `.intoto.jsonl`).
    pub line: usize,
    /// Where in its document the statement sits (`attestations[1].bundle`; empty for the
    /// whole document).
    pub location: String,
}

impl Provenance {
    /// The container-based build parameters; errors if this is another build type.
    pub fn container_build(&self) -> Result<ContainerBuild, ProvenanceError> {
        container::extract(self)
    }

    /// The parameters of one of repro's own build types (what `repro build` records).
    pub fn repro_build(&self) -> Result<ReproBuild, ProvenanceError> {
        repro::extract(self)
    }

    /// Whether a subject has this name, or this sha256 digest (`sha256:` prefix optional).
    pub fn has_subject(&self, select: &str) -> bool {
        let wanted = select
            .strip_prefix("sha256:")
            .unwrap_or(select)
            .to_ascii_lowercase();
        self.subjects
            .iter()
            .any(|s| s.name == select || s.sha256() == Some(wanted.as_str()))
    }
}

/// The JSON documents of an input — one for a plain file, one per line of a `.intoto.jsonl` —
/// with their 1-based lines, values and exact bytes.
pub fn documents(bytes: &[u8]) -> Result<Vec<Document<'_>>, ProvenanceError> {
    envelope::split_documents(bytes)
}

/// Reads provenance from a file's content (or stdin). With several statements (a
/// `.intoto.jsonl`), `select` — a subject name or sha256 digest — picks the one that has it;
/// given for a single statement, it must match too, so a caller never rebuilds the wrong artifact.
pub fn read(bytes: &[u8], select: Option<&str>) -> Result<Provenance, ProvenanceError> {
    choose(read_all(bytes)?, select)
}

/// Every provenance statement of the input. Statements of other predicate types (npm's
/// publish attestation beside its SLSA provenance) are left out when provenance is there too;
/// an input with none is an error naming the first predicate type found.
pub fn read_all(bytes: &[u8]) -> Result<Vec<Provenance>, ProvenanceError> {
    let documents = envelope::split_documents(bytes)?;
    let several = documents.len() > 1;
    let mut all = Vec::with_capacity(documents.len());
    let mut other_predicate = None;
    for (line, value, raw) in documents {
        // In a multi-statement file, say which line is wrong.
        let at_line = |e: ProvenanceError| {
            if several {
                ProvenanceError::Line {
                    line,
                    source: Box::new(e),
                }
            } else {
                e
            }
        };
        for found in envelope::unwrap(&value, raw).map_err(at_line)? {
            match found {
                Err(ProvenanceError::UnknownPredicateType(uri)) => {
                    other_predicate.get_or_insert(ProvenanceError::UnknownPredicateType(uri));
                }
                found => all.push(found.map(|p| Provenance { line, ..p }).map_err(at_line)?),
            }
        }
    }
    match other_predicate {
        Some(e) if all.is_empty() => Err(e),
        _ => Ok(all),
    }
}

/// Reads provenance from a file; errors name the path.
pub fn read_path(path: &Path, select: Option<&str>) -> Result<Provenance, ProvenanceError> {
    let bytes = std::fs::read(path).map_err(|e| ProvenanceError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    read(&bytes, select)
}

fn choose(all: Vec<Provenance>, select: Option<&str>) -> Result<Provenance, ProvenanceError> {
    let Some(select) = select else {
        return match all.len() {
            0 => Err(ProvenanceError::Empty),
            1 => all.into_iter().next().ok_or(ProvenanceError::Empty),
            count => Err(ProvenanceError::SelectionRequired { count }),
        };
    };
    let mut matching: Vec<Provenance> = all.into_iter().filter(|p| p.has_subject(select)).collect();
    match matching.len() {
        0 => Err(ProvenanceError::NoMatch(select.to_string())),
        1 => matching.pop().ok_or(ProvenanceError::Empty),
        _ => Err(ProvenanceError::Ambiguous {
            select: select.to_string(),
            lines: matching.iter().map(|p| p.line).collect(),
        }),
    }
}
