//! The in-toto statement and its SLSA provenance predicate (v1 and v0.2).

use std::collections::BTreeMap;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{BuildDefinition, PredicateType, Provenance, ProvenanceError, StatementType, Subject, Wrapper};
use crate::intoto::fields::{Obj, invalid, normalise_digest, wrong_type};
use crate::intoto::{Signed, SignedOver};

/// A statement read and checked, before we know what wrapped it.
pub(super) struct Statement {
    provenance: Provenance,
}

impl Statement {
    pub(super) fn read(payload: Vec<u8>, statement: Value) -> Result<Self, ProvenanceError> {
        let top = Obj::new(&statement, "")?;
        let type_uri = top.str("_type")?;
        let statement_type = StatementType::from_uri(type_uri)
            .ok_or_else(|| ProvenanceError::UnknownStatementType(type_uri.to_string()))?;
        let subjects = read_subjects(&top)?;
        let predicate_type_uri = top.str("predicateType")?;
        let predicate_type = PredicateType::from_uri(predicate_type_uri)
            .ok_or_else(|| ProvenanceError::UnknownPredicateType(predicate_type_uri.to_string()))?;
        let predicate = top.obj("predicate")?;
        let fields = match predicate_type {
            PredicateType::SlsaProvenanceV1 => read_v1(&predicate)?,
            PredicateType::SlsaProvenanceV0_2 => read_v0_2(&predicate)?,
            PredicateType::SlsaProvenanceV0_1 => read_v0_1(&predicate)?,
        };
        let predicate_type_uri = predicate_type_uri.to_string();
        let payload_sha256 = hex::encode(Sha256::digest(&payload));
        Ok(Self {
            provenance: Provenance {
                statement_type,
                subjects,
                predicate_type,
                predicate_type_uri,
                build_type: fields.build_type,
                builder_id: fields.builder_id,
                invocation_id: fields.invocation_id,
                started_on: fields.started_on,
                finished_on: fields.finished_on,
                build: fields.build,
                statement,
                payload,
                payload_sha256,
                wrapper: Wrapper::Statement,
                envelope: None,
                signed_over: SignedOver::Pae,
                verification_material: None,
                line: 1,
                location: String::new(),
            },
        })
    }

    pub(super) fn into_provenance(
        self,
        wrapper: Wrapper,
        signed: Option<Signed>,
        location: String,
    ) -> Provenance {
        let (envelope, signed_over, verification_material) = match signed {
            Some(s) => (Some(s.envelope), s.signed_over, s.verification_material),
            None => (None, SignedOver::Pae, None),
        };
        Provenance {
            wrapper,
            envelope,
            signed_over,
            verification_material,
            location,
            ..self.provenance
        }
    }
}

struct PredicateFields {
    build_type: String,
    builder_id: Option<String>,
    invocation_id: Option<String>,
    started_on: Option<String>,
    finished_on: Option<String>,
    build: BuildDefinition,
}

fn read_subjects(top: &Obj<'_>) -> Result<Vec<Subject>, ProvenanceError> {
    let list = top.array("subject")?;
    if list.is_empty() {
        return Err(invalid(
            "subject",
            "no subjects: a statement must be about at least one artifact",
        )
        .into());
    }
    let mut subjects = Vec::with_capacity(list.len());
    for (i, value) in list.iter().enumerate() {
        let subject = Obj::new(value, &format!("subject[{i}]"))?;
        let name = subject.opt_str("name")?.unwrap_or_default().to_string();
        let Some(digests) = subject.opt_obj("digest")? else {
            return Err(ProvenanceError::SubjectWithoutDigest {
                field: subject.path_of("digest"),
            });
        };
        let mut digest = BTreeMap::new();
        for (algorithm, value) in digests.iter() {
            let field = digests.path_of(algorithm);
            let value = value.as_str().ok_or_else(|| wrong_type(&field, "a string"))?;
            let algorithm = algorithm.to_ascii_lowercase();
            digest.insert(algorithm.clone(), normalise_digest(&algorithm, value, &field)?);
        }
        if digest.is_empty() {
            return Err(ProvenanceError::SubjectWithoutDigest {
                field: subject.path_of("digest"),
            });
        }
        subjects.push(Subject { name, digest });
    }
    Ok(subjects)
}

/// A metadata timestamp, checked to be RFC 3339 (`2024-05-01T12:00:00Z`, fraction and offset
/// allowed) because it may end up in our own attestation; kept as written.
fn timestamp(metadata: Option<&Obj<'_>>, key: &str) -> Result<Option<String>, ProvenanceError> {
    let Some(metadata) = metadata else { return Ok(None) };
    let Some(text) = metadata.opt_str(key)? else {
        return Ok(None);
    };
    if !is_rfc3339(text) {
        return Err(invalid(
            &metadata.path_of(key),
            format!("`{text}` is not an RFC 3339 timestamp"),
        )
        .into());
    }
    Ok(Some(text.to_string()))
}

fn is_rfc3339(text: &str) -> bool {
    let b = text.as_bytes();
    let digits =
        |range: std::ops::Range<usize>| b.get(range).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let at = |i: usize, chars: &[u8]| b.get(i).is_some_and(|c| chars.contains(c));
    let shape = digits(0..4)
        && at(4, b"-")
        && digits(5..7)
        && at(7, b"-")
        && digits(8..10)
        && at(10, b"Tt ")
        && digits(11..13)
        && at(13, b":")
        && digits(14..16)
        && at(16, b":")
        && digits(17..19);
    if !shape {
        return false;
    }
    let mut rest = b.get(19..).unwrap_or_default();
    if let Some(fraction) = rest.strip_prefix(b".") {
        let n = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return false;
        }
        rest = fraction.get(n..).unwrap_or_default();
    }
    match rest {
        b"Z" | b"z" => true,
        [sign, h1, h2, b':', m1, m2] => {
            b"+-".contains(sign) && [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit())
        }
        _ => false,
    }
}

fn owned(value: Option<&str>) -> Option<String> {
    value.map(str::to_string)
}

fn read_v1(predicate: &Obj<'_>) -> Result<PredicateFields, ProvenanceError> {
    let definition = predicate.obj("buildDefinition")?;
    let build_type = definition.str("buildType")?.to_string();
    let external_parameters = definition.req("externalParameters")?;
    if !external_parameters.is_object() {
        return Err(wrong_type(&definition.path_of("externalParameters"), "an object").into());
    }
    let resolved_dependencies = definition.opt("resolvedDependencies").cloned();
    if resolved_dependencies.as_ref().is_some_and(|d| !d.is_array()) {
        return Err(wrong_type(&definition.path_of("resolvedDependencies"), "an array").into());
    }
    let build = BuildDefinition::V1 {
        external_parameters: external_parameters.clone(),
        internal_parameters: definition.opt("internalParameters").cloned(),
        resolved_dependencies,
    };
    // Some producers (drafts, in-toto's own tooling) leave runDetails out.
    let Some(run) = predicate.opt_obj("runDetails")? else {
        return Ok(PredicateFields {
            build_type,
            builder_id: None,
            invocation_id: None,
            started_on: None,
            finished_on: None,
            build,
        });
    };
    let builder_id = Some(run.obj("builder")?.str("id")?.to_string());
    let metadata = run.opt_obj("metadata")?;
    let meta = |key: &str| metadata.as_ref().map_or(Ok(None), |m| m.opt_str(key).map(owned));
    Ok(PredicateFields {
        build_type,
        builder_id,
        invocation_id: meta("invocationId")?,
        started_on: timestamp(metadata.as_ref(), "startedOn")?,
        finished_on: timestamp(metadata.as_ref(), "finishedOn")?,
        build,
    })
}

fn read_v0_2(predicate: &Obj<'_>) -> Result<PredicateFields, ProvenanceError> {
    let build_type = predicate.str("buildType")?.to_string();
    read_v0(predicate, build_type, |materials| BuildDefinition::V0_2 {
        invocation: predicate.opt("invocation").cloned(),
        build_config: predicate.opt("buildConfig").cloned(),
        materials,
    })
}

/// SLSA provenance v0.1, as Cloud Build writes it: the build type is `recipe.type`.
fn read_v0_1(predicate: &Obj<'_>) -> Result<PredicateFields, ProvenanceError> {
    let build_type = predicate.obj("recipe")?.str("type")?.to_string();
    read_v0(predicate, build_type, |materials| BuildDefinition::V0_1 {
        recipe: predicate.opt("recipe").cloned(),
        materials,
    })
}

/// What v0.1 and v0.2 share: `builder.id`, `metadata` and `materials`.
fn read_v0(
    predicate: &Obj<'_>,
    build_type: String,
    build: impl FnOnce(Option<Value>) -> BuildDefinition,
) -> Result<PredicateFields, ProvenanceError> {
    let builder_id = Some(predicate.obj("builder")?.str("id")?.to_string());
    let metadata = predicate.opt_obj("metadata")?;
    let meta = |key: &str| metadata.as_ref().map_or(Ok(None), |m| m.opt_str(key).map(owned));
    // The spec says buildInvocationId; slsa-github-generator writes buildInvocationID.
    let invocation_id = match meta("buildInvocationId")? {
        Some(id) => Some(id),
        None => meta("buildInvocationID")?,
    };
    let materials = predicate.opt("materials").cloned();
    if materials.as_ref().is_some_and(|m| !m.is_array()) {
        return Err(wrong_type(&predicate.path_of("materials"), "an array").into());
    }
    Ok(PredicateFields {
        build_type,
        builder_id,
        invocation_id,
        started_on: timestamp(metadata.as_ref(), "buildStartedOn")?,
        finished_on: timestamp(metadata.as_ref(), "buildFinishedOn")?,
        build: build(materials),
    })
}

#[cfg(test)]
mod tests {
    use super::is_rfc3339;

    #[test]
    fn rfc3339_shapes() {
        for ok in [
            "2024-05-01T12:00:00Z",
            "2024-05-01T12:00:00.123456789Z",
            "2024-05-01t12:00:00+02:00",
        ] {
            assert!(is_rfc3339(ok), "{ok}");
        }
        for bad in [
            "",
            "2024-05-01",
            "2024-05-01T12:00:00",
            "2024-05-01T12:00:00.Z",
            "2024-05-01T12:00:00+2",
            "２０２４",
        ] {
            assert!(!is_rfc3339(bad), "{bad}");
        }
    }
}
