//! The wrappers statements are published in, read down to each statement and what signs it:
//! a bare statement, a DSSE envelope, a Sigstore bundle, npm's attestations document, a PEP 740
//! attestation object, a PyPI provenance object (PEP 740 attestations grouped by publisher) and
//! `gcloud … --show-provenance` output. One JSON document may hold several statements; each is
//! found with where it sits, so that a reader can list them and a user pick one.

use serde_json::Value;

use super::fields::{Obj, invalid};
use super::{
    Bundle, DigestSet, Envelope, FormatError, PAYLOAD_TYPE, RawBytes, Signature, VerificationMaterial,
    decode_base64,
};

/// What wrapped a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wrapper {
    /// A bare statement, unsigned.
    Statement,
    /// A DSSE envelope.
    Dsse,
    /// A Sigstore bundle's `dsseEnvelope`, with the bundle's media type.
    SigstoreBundle { media_type: String },
    /// A Sigstore bundle in npm's attestations document (`attestations[].bundle`).
    NpmAttestations { media_type: String },
    /// A PEP 740 attestation object: the statement and a signature over its DSSE PAE.
    Pep740,
    /// A PEP 740 attestation in a PyPI provenance object, with its publisher's `kind`.
    PypiProvenance { publisher: Option<String> },
    /// `gcloud artifacts docker images describe --show-provenance` output: Cloud Build's DSSE
    /// envelope, whose keys sign the raw payload rather than its PAE.
    Gcloud,
}

impl Wrapper {
    /// A short name for people.
    pub fn describe(&self) -> String {
        match self {
            Wrapper::Statement => "a bare in-toto statement (unsigned)".to_string(),
            Wrapper::Dsse => "a DSSE envelope".to_string(),
            Wrapper::SigstoreBundle { media_type } => format!("a Sigstore bundle ({media_type})"),
            Wrapper::NpmAttestations { media_type } => {
                format!("npm's attestations document, a Sigstore bundle ({media_type})")
            }
            Wrapper::Pep740 => "a PEP 740 attestation object".to_string(),
            Wrapper::PypiProvenance {
                publisher: Some(kind),
            } => {
                format!("a PyPI provenance object, a PEP 740 attestation published by {kind}")
            }
            Wrapper::PypiProvenance { publisher: None } => {
                "a PyPI provenance object, a PEP 740 attestation".to_string()
            }
            Wrapper::Gcloud => "gcloud --show-provenance output (Cloud Build)".to_string(),
        }
    }

    /// A stable kebab-case name for JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            Wrapper::Statement => "statement",
            Wrapper::Dsse => "dsse",
            Wrapper::SigstoreBundle { .. } => "sigstore-bundle",
            Wrapper::NpmAttestations { .. } => "npm-attestations",
            Wrapper::Pep740 => "pep740",
            Wrapper::PypiProvenance { .. } => "pypi-provenance",
            Wrapper::Gcloud => "gcloud",
        }
    }
}

/// What a signature covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedOver {
    /// The DSSE pre-authentication encoding of the payload type and payload (DSSE, Sigstore,
    /// PEP 740).
    Pae,
    /// The PAE, or the raw payload bytes: Cloud Build's regional keys sign the payload itself.
    PaeOrPayload,
}

/// A signed statement: the envelope (exact payload bytes, signatures), what its signatures
/// cover, and the material that came with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Signed {
    pub envelope: Envelope,
    pub signed_over: SignedOver,
    /// A bundle's or PEP 740 object's verification material; `None` for a bare envelope.
    pub verification_material: Option<VerificationMaterial>,
}

/// One statement found in a document, not yet parsed: its exact bytes, and what signs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub wrapper: Wrapper,
    /// Where in the document (`attestations[1].bundle`; empty for the whole document).
    pub location: String,
    /// The exact statement bytes (a DSSE payload, or the statement's own text).
    pub payload: Vec<u8>,
    /// `None` for a bare statement.
    pub signed: Option<Signed>,
}

/// What a found statement says it is about, read without trusting it (nothing is verified
/// yet): for listing the statements of a file and picking one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub location: String,
    pub predicate_type: Option<String>,
    /// Each subject's name (empty when it has none) and digests.
    pub subjects: Vec<(String, DigestSet)>,
}

impl Found {
    /// The statement's predicate type and subjects, as far as they can be read.
    pub fn summary(&self) -> Summary {
        let statement: Value = serde_json::from_slice(&self.payload).unwrap_or(Value::Null);
        Summary {
            location: self.location.clone(),
            predicate_type: statement
                .get("predicateType")
                .and_then(Value::as_str)
                .map(str::to_string),
            subjects: subjects_of(&statement),
        }
    }
}

/// A statement's subjects as written: names and string-valued digests (algorithm names
/// lowercased, values as written).
pub fn subjects_of(statement: &Value) -> Vec<(String, DigestSet)> {
    let list = statement.get("subject").and_then(Value::as_array);
    list.map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|s| {
            let name = s.get("name").and_then(Value::as_str).unwrap_or_default();
            let digest = s
                .get("digest")
                .and_then(Value::as_object)
                .map(|d| {
                    d.iter()
                        .filter_map(|(alg, v)| Some((alg.to_ascii_lowercase(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default();
            (name.to_string(), digest)
        })
        .collect()
}

impl Summary {
    /// Whether a subject is named `select`, or has the digest `select`: `ALG:HEX`, or bare hex
    /// of any algorithm (case-insensitive).
    pub fn has_subject(&self, select: &str) -> bool {
        if select.is_empty() {
            return false;
        }
        let (algorithm, wanted) = match select.split_once(':') {
            Some((alg, hex)) if !hex.contains('/') => (Some(alg.to_ascii_lowercase()), hex),
            _ => (None, select),
        };
        self.subjects.iter().any(|(name, digest)| {
            name == select
                || digest.iter().any(|(alg, value)| {
                    algorithm.as_deref().is_none_or(|a| a == alg) && value.eq_ignore_ascii_case(wanted)
                })
        })
    }
}

impl std::fmt::Display for Summary {
    /// `attestations[1].bundle: https://slsa.dev/provenance/v1 about pkg:npm/x (sha512:f06f…)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = if self.location.is_empty() {
            "the document"
        } else {
            &self.location
        };
        let predicate = self.predicate_type.as_deref().unwrap_or("(no predicateType)");
        write!(f, "{at}: {predicate}")?;
        if self.subjects.is_empty() {
            return write!(f, ", no subjects");
        }
        let subjects: Vec<String> = self
            .subjects
            .iter()
            .map(|(name, digest)| {
                let digests: Vec<String> = digest.iter().map(|(alg, v)| format!("{alg}:{v}")).collect();
                let name = if name.is_empty() { "(unnamed)" } else { name };
                format!("{name} ({})", digests.join(", "))
            })
            .collect();
        write!(f, " about {}", subjects.join("; "))
    }
}

/// The statements one JSON document holds (`raw` is its exact text), whichever wrapper it is.
pub fn statements_in(value: &Value, raw: &[u8]) -> Result<Vec<Found>, FormatError> {
    let top = Obj::new(value, "")?;
    if top.has("_type") {
        return Ok(vec![Found {
            wrapper: Wrapper::Statement,
            location: String::new(),
            payload: raw.to_vec(),
            signed: None,
        }]);
    }
    if Bundle::is_bundle(value) {
        let bundle = Bundle::from_value(value)?;
        let wrapper = Wrapper::SigstoreBundle {
            media_type: bundle.media_type.clone(),
        };
        return Ok(vec![from_bundle(bundle, wrapper, String::new())]);
    }
    if top.has("payloadType") || top.has("payload") {
        let envelope = Envelope::from_value(value, "")?;
        return Ok(vec![from_envelope(
            envelope,
            SignedOver::Pae,
            None,
            Wrapper::Dsse,
            String::new(),
        )]);
    }
    if top.has("attestations") && !top.has("version") {
        return npm(&top);
    }
    if top.has("attestation_bundles") {
        return pypi_provenance(&top);
    }
    if top.has("verification_material") && top.has("envelope") {
        return Ok(vec![pep740(&top, Wrapper::Pep740)?]);
    }
    if top.has("provenance_summary") {
        return gcloud(&top);
    }
    Err(FormatError::Missing {
        field: "_type".to_string(),
    })
}

fn from_envelope(
    envelope: Envelope,
    signed_over: SignedOver,
    verification_material: Option<VerificationMaterial>,
    wrapper: Wrapper,
    location: String,
) -> Found {
    Found {
        wrapper,
        location,
        payload: envelope.payload.clone(),
        signed: Some(Signed {
            envelope,
            signed_over,
            verification_material,
        }),
    }
}

fn from_bundle(bundle: Bundle, wrapper: Wrapper, location: String) -> Found {
    from_envelope(
        bundle.dsse_envelope,
        SignedOver::Pae,
        Some(bundle.verification_material),
        wrapper,
        location,
    )
}

/// npm's `{attestations: [{predicateType, bundle}]}`.
fn npm(top: &Obj<'_>) -> Result<Vec<Found>, FormatError> {
    let mut found = Vec::new();
    for (i, item) in top.array("attestations")?.iter().enumerate() {
        let location = format!("attestations[{i}].bundle");
        let item = Obj::new(item, &format!("attestations[{i}]"))?;
        let bundle = Bundle::from_value(item.req("bundle")?).map_err(|e| within(&location, e))?;
        let wrapper = Wrapper::NpmAttestations {
            media_type: bundle.media_type.clone(),
        };
        found.push(from_bundle(bundle, wrapper, location));
    }
    if found.is_empty() {
        return Err(invalid("attestations", "no attestations"));
    }
    Ok(found)
}

/// A PyPI provenance object: `{version, attestation_bundles: [{publisher, attestations: [PEP 740]}]}`.
fn pypi_provenance(top: &Obj<'_>) -> Result<Vec<Found>, FormatError> {
    let mut found = Vec::new();
    for (i, group) in top.array("attestation_bundles")?.iter().enumerate() {
        let group = Obj::new(group, &format!("attestation_bundles[{i}]"))?;
        let publisher = group
            .opt_obj("publisher")?
            .map(|p| p.opt_str("kind").map(|k| k.map(str::to_string)))
            .transpose()?
            .flatten();
        for (j, attestation) in group.array("attestations")?.iter().enumerate() {
            let attestation = Obj::new(attestation, &group.path_of(&format!("attestations[{j}]")))?;
            found.push(pep740(
                &attestation,
                Wrapper::PypiProvenance {
                    publisher: publisher.clone(),
                },
            )?);
        }
    }
    if found.is_empty() {
        return Err(invalid("attestation_bundles", "no attestations"));
    }
    Ok(found)
}

/// A PEP 740 attestation object: `{version, verification_material: {certificate,
/// transparency_entries}, envelope: {statement, signature}}`. Its envelope is not DSSE JSON,
/// but its signature is DSSE's: over the PAE with the in-toto payload type.
fn pep740(object: &Obj<'_>, wrapper: Wrapper) -> Result<Found, FormatError> {
    let envelope = object.obj("envelope")?;
    let statement = decode_base64(envelope.str("statement")?, &envelope.path_of("statement"))?;
    let sig = decode_base64(envelope.str("signature")?, &envelope.path_of("signature"))?;
    let material = object.obj("verification_material")?;
    let certificate = decode_base64(material.str("certificate")?, &material.path_of("certificate"))?;
    let tlog_entries = match material.opt("transparency_entries") {
        None => Vec::new(),
        Some(entries) => entries.as_array().cloned().ok_or_else(|| {
            super::fields::wrong_type(&material.path_of("transparency_entries"), "an array")
        })?,
    };
    let location = object.path().to_string();
    Ok(from_envelope(
        Envelope {
            payload: statement,
            payload_type: PAYLOAD_TYPE.to_string(),
            signatures: vec![Signature { keyid: None, sig }],
        },
        SignedOver::Pae,
        Some(VerificationMaterial {
            certificate: Some(RawBytes {
                raw_bytes: certificate,
            }),
            tlog_entries,
            ..VerificationMaterial::default()
        }),
        wrapper,
        location,
    ))
}

/// `gcloud … --show-provenance`: `provenance_summary.provenance[].envelope`.
fn gcloud(top: &Obj<'_>) -> Result<Vec<Found>, FormatError> {
    let summary = top.obj("provenance_summary")?;
    let mut found = Vec::new();
    for (i, item) in summary.array("provenance")?.iter().enumerate() {
        let item = Obj::new(item, &summary.path_of(&format!("provenance[{i}]")))?;
        let field = item.path_of("envelope");
        let envelope = Envelope::from_value(item.req("envelope")?, &field)?;
        found.push(from_envelope(
            envelope,
            SignedOver::PaeOrPayload,
            None,
            Wrapper::Gcloud,
            field,
        ));
    }
    if found.is_empty() {
        return Err(invalid("provenance_summary.provenance", "no provenance"));
    }
    Ok(found)
}

/// Puts a nested document's error at its place in the outer document.
fn within(location: &str, e: FormatError) -> FormatError {
    let at = |field: String| {
        if field.is_empty() || field == "(top level)" {
            location.to_string()
        } else {
            format!("{location}.{field}")
        }
    };
    match e {
        FormatError::Missing { field } => FormatError::Missing { field: at(field) },
        FormatError::WrongType { field, expected } => FormatError::WrongType {
            field: at(field),
            expected,
        },
        FormatError::Invalid { field, problem } => FormatError::Invalid {
            field: at(field),
            problem,
        },
        FormatError::Base64 { field, message } => FormatError::Base64 {
            field: at(field),
            message,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared_fixtures::{SLSA_VERIFIER, read};

    fn found(bytes: &[u8]) -> Result<Vec<Found>, FormatError> {
        let value: Value = serde_json::from_slice(bytes).unwrap();
        statements_in(&value, bytes)
    }

    fn statement(found: &Found) -> Value {
        serde_json::from_slice(&found.payload).unwrap()
    }

    #[test]
    fn npm_attestations_hold_two_bundles() {
        let Some(bytes) = read(&format!(
            "{SLSA_VERIFIER}/npm/gha/provenance-npm-test-cli-v1-prega.tgz.json"
        )) else {
            return;
        };
        let all = found(&bytes).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].location, "attestations[1].bundle");
        assert_eq!(
            all[1].wrapper,
            Wrapper::NpmAttestations {
                media_type: "application/vnd.dev.sigstore.bundle+json;version=0.2".into()
            }
        );
        assert_eq!(
            statement(&all[0])["predicateType"],
            "https://github.com/npm/attestation/tree/main/specs/publish/v0.1"
        );
        assert_eq!(
            statement(&all[1])["predicateType"],
            "https://slsa.dev/provenance/v1"
        );
        let material = all[1]
            .signed
            .as_ref()
            .unwrap()
            .verification_material
            .as_ref()
            .unwrap();
        assert!(material.x509_certificate_chain.is_some());
    }

    #[test]
    fn pep740_and_pypi_provenance_objects() {
        let Some(bytes) = read(
            "provenance/trailofbits+pypi-attestations/test/assets/rfc8785-0.1.2-py3-none-any.whl.attestation",
        ) else {
            return;
        };
        let all = found(&bytes).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].wrapper, Wrapper::Pep740);
        assert_eq!(
            statement(&all[0])["predicateType"],
            "https://docs.pypi.org/attestations/publish/v1"
        );
        let signed = all[0].signed.as_ref().unwrap();
        assert_eq!(signed.envelope.payload_type, PAYLOAD_TYPE);
        let material = signed.verification_material.as_ref().unwrap();
        assert!(material.certificate.is_some());
        assert_eq!(material.tlog_entries.len(), 1);

        let attestation: Value = serde_json::from_slice(&bytes).unwrap();
        let provenance = serde_json::json!({
            "version": 1,
            "attestation_bundles": [{
                "publisher": { "kind": "GitHub", "repository": "trailofbits/rfc8785.py" },
                "attestations": [attestation.clone(), attestation],
            }],
        });
        let text = provenance.to_string();
        let all = found(text.as_bytes()).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].location, "attestation_bundles[0].attestations[1]");
        assert_eq!(
            all[1].wrapper,
            Wrapper::PypiProvenance {
                publisher: Some("GitHub".into())
            }
        );
        assert_eq!(all[1].payload, all[0].payload);
    }

    #[test]
    fn gcloud_output_is_signed_over_the_payload() {
        let Some(bytes) = read(&format!(
            "{SLSA_VERIFIER}/gcb_container/v0.3/gcloud-container-github.json"
        )) else {
            return;
        };
        let all = found(&bytes).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].wrapper, Wrapper::Gcloud);
        assert_eq!(all[0].location, "provenance_summary.provenance[0].envelope");
        assert_eq!(
            all[0].signed.as_ref().unwrap().signed_over,
            SignedOver::PaeOrPayload
        );
        assert_eq!(
            statement(&all[0])["predicateType"],
            "https://slsa.dev/provenance/v0.1"
        );
    }

    #[test]
    fn summaries_list_and_select_statements() {
        let statement = serde_json::json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{ "name": "a.tgz", "digest": { "SHA512": "AB12", "sha256": "cd34" } }, { "digest": {} }],
            "predicateType": "https://slsa.dev/provenance/v1",
        });
        let text = statement.to_string();
        let summary = found(text.as_bytes()).unwrap()[0].summary();
        assert_eq!(
            summary.to_string(),
            "the document: https://slsa.dev/provenance/v1 about a.tgz (sha256:cd34, sha512:AB12); (unnamed) ()"
        );
        for yes in ["a.tgz", "sha512:ab12", "AB12", "cd34", "SHA256:CD34"] {
            assert!(summary.has_subject(yes), "{yes}");
        }
        for no in ["a", "sha256:ab12", "ef", "sha512:cd34", ""] {
            assert!(!summary.has_subject(no), "{no}");
        }
        let bare = Found {
            wrapper: Wrapper::Statement,
            location: "x".into(),
            payload: b"[1, 2]".to_vec(),
            signed: None,
        };
        assert_eq!(bare.summary().to_string(), "x: (no predicateType), no subjects");
    }

    #[test]
    fn malformed_wrappers_name_the_field() {
        let err = |text: &str| found(text.as_bytes()).unwrap_err().to_string();
        assert_eq!(
            err(r#"{"attestations":[]}"#),
            "`attestations` is invalid: no attestations"
        );
        assert_eq!(
            err(r#"{"attestations":[{}]}"#),
            "`attestations[0].bundle` is missing"
        );
        assert_eq!(
            err(
                r#"{"attestations":[{"bundle":{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}}]}"#
            ),
            "`attestations[0].bundle.dsseEnvelope` is missing"
        );
        assert_eq!(
            err(
                r#"{"version":1,"verification_material":{"certificate":"AA=="},"envelope":{"statement":"%","signature":""}}"#
            ),
            "`envelope.statement` is not valid base64: Invalid symbol 37, offset 0."
        );
        assert_eq!(
            err(r#"{"version":1,"attestation_bundles":[{"attestations":[{"envelope":{}}]}]}"#),
            "`attestation_bundles[0].attestations[0].envelope.statement` is missing"
        );
        assert_eq!(
            err(r#"{"provenance_summary":{"provenance":[]}}"#),
            "`provenance_summary.provenance` is invalid: no provenance"
        );
        assert_eq!(err(r#"{"something":"else"}"#), "`_type` is missing");
    }
}
