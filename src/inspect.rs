//! `repro inspect`: what a provenance or attestation records — its wrapper, signatures (key id,
//! or the identity and issuer its certificate names), predicate and build type, builder, source,
//! image, command, resolved dependencies and subjects — and whether repro can re-run it. It reads
//! and verifies nothing: a signature shown here is only what the file claims.

use serde::Serialize;
use serde_json::Value;

use crate::attest::certificate;
use crate::intoto::{self, DigestSet, FormatError, Found, VerificationMaterial};
use crate::provenance::{self, ProvenanceError, rerun};

/// The inspect report's schema version (`docs/schema/inspect-report.v1.json`).
pub const INSPECT_SCHEMA_VERSION: u32 = 1;

/// Everything a file records, statement by statement.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Inspection {
    pub report: &'static str,
    pub schema_version: u32,
    /// Always false: inspect checks no signature.
    pub verified: bool,
    pub statements: Vec<StatementInfo>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatementInfo {
    /// Where in the file (`attestations[1].bundle`; empty for the whole document).
    pub location: String,
    /// The 1-based line of its document (a `.intoto.jsonl` has one per line).
    pub line: usize,
    pub wrapper: WrapperInfo,
    pub statement_type: Option<String>,
    pub predicate_type: Option<String>,
    /// The build type, for build provenance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_type: Option<String>,
    pub builder_id: Option<String>,
    pub source: Option<SourceInfo>,
    /// The builder image, as recorded.
    pub image: Option<String>,
    /// The commands recorded, each an argv (several for multi-step builds).
    pub commands: Vec<Vec<String>>,
    pub resolved_dependencies: Vec<Dependency>,
    pub subjects: Vec<Dependency>,
    pub signatures: Vec<SignatureInfo>,
    pub transparency_log_entries: usize,
    pub rerun: RerunInfo,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WrapperInfo {
    pub kind: &'static str,
    pub description: String,
}

/// Where the build's source came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceInfo {
    /// The repository, as recorded (`git+https://github.com/o/r@refs/heads/main`).
    pub repository: Option<String>,
    pub commit: Option<String>,
    /// The project's folder in the repository, or the workflow / entry point file.
    pub path: Option<String>,
}

/// A subject or resolved dependency: a name or URI, and its digests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dependency {
    pub name: String,
    pub digest: DigestSet,
}

/// One signature, as claimed (never verified here).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignatureInfo {
    /// The envelope's keyid (a hint only).
    pub keyid: Option<String>,
    /// A bundle's public key hint.
    pub public_key_hint: Option<String>,
    /// The identities the certificate's subject alternative name holds.
    pub identities: Vec<String>,
    /// The OIDC issuer in the certificate's Fulcio extension.
    pub issuer: Option<String>,
    /// The signing key's algorithm, read from the certificate.
    pub key_algorithm: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RerunInfo {
    pub possible: bool,
    pub why: String,
}

/// Why a file cannot be inspected at all (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error(transparent)]
    Provenance(#[from] ProvenanceError),
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error("{location}: the payload is not JSON: {message}")]
    Payload { location: String, message: String },
}

/// Reads every statement of the input; `subject` and `predicate_type` keep only the statements
/// that have that subject (name, `ALG:HEX` or hex) or predicate type.
pub fn inspect(
    bytes: &[u8],
    subject: Option<&str>,
    predicate_type: Option<&str>,
) -> Result<Inspection, InspectError> {
    let mut statements = Vec::new();
    for (line, value, raw) in provenance::documents(bytes)? {
        for found in intoto::statements_in(&value, raw)? {
            let summary = found.summary();
            if subject.is_some_and(|s| !summary.has_subject(s))
                || predicate_type.is_some_and(|t| summary.predicate_type.as_deref() != Some(t))
            {
                continue;
            }
            statements.push(describe(found, line)?);
        }
    }
    Ok(Inspection {
        report: "repro-inspect",
        schema_version: INSPECT_SCHEMA_VERSION,
        verified: false,
        statements,
    })
}

fn describe(found: Found, line: usize) -> Result<StatementInfo, InspectError> {
    let statement: Value = serde_json::from_slice(&found.payload).map_err(|e| InspectError::Payload {
        location: if found.location.is_empty() {
            "the document".into()
        } else {
            found.location.clone()
        },
        message: e.to_string(),
    })?;
    let text = |pointer: &str| {
        statement
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let predicate_type = text("/predicateType");
    let predicate = statement.get("predicate").unwrap_or(&Value::Null);
    let recorded = match predicate_type
        .as_deref()
        .and_then(provenance::PredicateType::from_uri)
    {
        Some(version) => build_fields(version, predicate),
        None => Recorded::default(),
    };
    let rerun = rerun_of(&found, &predicate_type);
    let (signatures, transparency_log_entries) = signatures(&found);
    Ok(StatementInfo {
        location: found.location.clone(),
        line,
        wrapper: WrapperInfo {
            kind: found.wrapper.kind(),
            description: found.wrapper.describe(),
        },
        statement_type: text("/_type"),
        predicate_type,
        build_type: recorded.build_type,
        builder_id: recorded.builder_id,
        source: recorded.source,
        image: recorded.image,
        commands: recorded.commands,
        resolved_dependencies: recorded.dependencies,
        subjects: intoto::subjects_of(&statement)
            .into_iter()
            .map(|(name, digest)| Dependency { name, digest })
            .collect(),
        signatures,
        transparency_log_entries,
        rerun,
    })
}

/// Whether the statement can be re-run, in the words `repro rebuild` uses.
fn rerun_of(found: &Found, predicate_type: &Option<String>) -> RerunInfo {
    let answer = match predicate_type.as_deref() {
        Some(t) if provenance::PredicateType::from_uri(t).is_none() => {
            return RerunInfo {
                possible: false,
                why: rerun::not_provenance(t),
            };
        }
        _ => provenance::read(&found.payload, None),
    };
    match answer {
        Ok(p) => {
            let r = rerun::rerun(&p);
            RerunInfo {
                possible: r.possible(),
                why: r.why().to_string(),
            }
        }
        Err(e) => RerunInfo {
            possible: false,
            why: format!("the provenance cannot be read: {e}"),
        },
    }
}

/// The signatures a statement carries, with what its material claims about the signer.
fn signatures(found: &Found) -> (Vec<SignatureInfo>, usize) {
    let Some(signed) = &found.signed else {
        return (Vec::new(), 0);
    };
    let material = signed.verification_material.as_ref();
    let certificate = material
        .and_then(leaf_certificate)
        .and_then(|der| certificate::identity(&der));
    let hint = material
        .and_then(|m| m.public_key.as_ref())
        .map(|h| h.hint.clone());
    let infos = signed
        .envelope
        .signatures
        .iter()
        .map(|s| SignatureInfo {
            keyid: s.keyid.clone().filter(|k| !k.is_empty()),
            public_key_hint: hint.clone(),
            identities: certificate
                .as_ref()
                .map(|c| c.identities.clone())
                .unwrap_or_default(),
            issuer: certificate.as_ref().and_then(|c| c.issuer.clone()),
            key_algorithm: certificate.as_ref().and_then(|c| c.key_algorithm.clone()),
        })
        .collect();
    (infos, material.map_or(0, |m| m.tlog_entries.len()))
}

/// The signing certificate: v0.3's `certificate`, or the first of a v0.1/v0.2 chain.
fn leaf_certificate(material: &VerificationMaterial) -> Option<Vec<u8>> {
    material
        .certificate
        .as_ref()
        .or_else(|| material.x509_certificate_chain.as_ref()?.certificates.first())
        .map(|c| c.raw_bytes.clone())
}

/// What a build provenance records about the build, per SLSA version.
#[derive(Default)]
struct Recorded {
    build_type: Option<String>,
    builder_id: Option<String>,
    source: Option<SourceInfo>,
    image: Option<String>,
    commands: Vec<Vec<String>>,
    dependencies: Vec<Dependency>,
}

fn build_fields(version: provenance::PredicateType, predicate: &Value) -> Recorded {
    use provenance::PredicateType::*;
    let at = |pointer: &str| predicate.pointer(pointer);
    let text = |pointer: &str| at(pointer).and_then(Value::as_str).map(str::to_string);
    match version {
        SlsaProvenanceV1 => {
            let params = at("/buildDefinition/externalParameters").unwrap_or(&Value::Null);
            let dependencies = descriptors(at("/buildDefinition/resolvedDependencies"));
            // repro's and the container-based build types record `source`; GitHub workflows
            // record `workflow` and the commit as the first resolved dependency.
            let source = if let Some(source) = params.get("source") {
                Some(SourceInfo {
                    repository: source.get("uri").and_then(Value::as_str).map(str::to_string),
                    commit: source
                        .pointer("/digest/sha1")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    path: source
                        .get("path")
                        .or_else(|| params.get("configPath"))
                        .and_then(Value::as_str)
                        .map(str::to_string),
                })
            } else {
                params.get("workflow").map(|workflow| SourceInfo {
                    repository: workflow
                        .get("repository")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    commit: dependencies
                        .first()
                        .and_then(|d| d.digest.get("gitCommit").cloned()),
                    path: workflow.get("path").and_then(Value::as_str).map(str::to_string),
                })
            };
            let command = params
                .pointer("/buildConfig/Command")
                .or_else(|| params.pointer("/buildConfig/command"))
                .or_else(|| params.pointer("/build/command"));
            Recorded {
                build_type: text("/buildDefinition/buildType"),
                builder_id: text("/runDetails/builder/id"),
                source,
                image: params
                    .pointer("/builderImage/uri")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                commands: command.and_then(argv).into_iter().collect(),
                dependencies,
            }
        }
        SlsaProvenanceV0_2 => Recorded {
            build_type: text("/buildType"),
            builder_id: text("/builder/id"),
            source: at("/invocation/configSource").map(|c| SourceInfo {
                repository: c.get("uri").and_then(Value::as_str).map(str::to_string),
                commit: c
                    .pointer("/digest/sha1")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                path: c.get("entryPoint").and_then(Value::as_str).map(str::to_string),
            }),
            image: None,
            // The Go builder records its steps.
            commands: at("/buildConfig/steps")
                .and_then(Value::as_array)
                .map(|steps| steps.iter().filter_map(|s| argv(s.get("command")?)).collect())
                .unwrap_or_default(),
            dependencies: descriptors(at("/materials")),
        },
        SlsaProvenanceV0_1 => {
            let materials = descriptors(at("/materials"));
            Recorded {
                build_type: text("/recipe/type"),
                builder_id: text("/builder/id"),
                source: materials.first().map(|m| SourceInfo {
                    repository: Some(m.name.clone()),
                    commit: m.digest.get("sha1").cloned(),
                    path: text("/recipe/entryPoint"),
                }),
                image: None,
                // Cloud Build's steps: the builder image, then its arguments.
                commands: at("/recipe/arguments/steps")
                    .and_then(Value::as_array)
                    .map(|steps| {
                        steps
                            .iter()
                            .filter_map(|s| {
                                let mut argv = vec![s.get("name")?.as_str()?.to_string()];
                                argv.extend(self::argv(s.get("args")?)?);
                                Some(argv)
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                dependencies: materials,
            }
        }
    }
}

/// An argv: an array of strings (a string is one word).
fn argv(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(items) => items.iter().map(|i| i.as_str().map(str::to_string)).collect(),
        _ => None,
    }
}

/// Resource descriptors or materials: `uri` (or `name`) and digests.
fn descriptors(value: Option<&Value>) -> Vec<Dependency> {
    value
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|d| Dependency {
            name: d
                .get("uri")
                .or_else(|| d.get("name"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            digest: d
                .get("digest")
                .and_then(Value::as_object)
                .map(|o| {
                    o.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

#[cfg(test)]
mod tests;
