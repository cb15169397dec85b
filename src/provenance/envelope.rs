//! The documents of an input (one, or one per `.intoto.jsonl` line) and the provenance
//! statements in them, whatever wraps them (see [`crate::intoto::statements_in`]).

use serde_json::Value;

use super::{Provenance, ProvenanceError, Wrapper, slsa};
use crate::intoto::fields::invalid;
use crate::intoto::{self, Found};

/// One JSON document of the input: its 1-based line, its value and its exact bytes.
pub type Document<'a> = (usize, Value, &'a [u8]);

/// Splits the input into its JSON documents: one for a plain file, one per line for
/// `.intoto.jsonl` (any whitespace between values is accepted).
pub(super) fn split_documents(bytes: &[u8]) -> Result<Vec<Document<'_>>, ProvenanceError> {
    // Files saved by some Windows tools start with a UTF-8 byte-order mark, which JSON forbids.
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut documents = Vec::new();
    let mut stream = serde_json::Deserializer::from_slice(bytes).into_iter::<Value>();
    let mut line = 1;
    let mut counted = 0;
    loop {
        let before = stream.byte_offset();
        let start = before
            + bytes
                .get(before..)
                .unwrap_or_default()
                .iter()
                .take_while(|b| b.is_ascii_whitespace())
                .count();
        let Some(next) = stream.next() else { break };
        let value = next.map_err(|e| not_json("the input", &e))?;
        let end = stream.byte_offset();
        line += bytes
            .get(counted..start)
            .unwrap_or_default()
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        counted = start;
        documents.push((line, value, bytes.get(start..end).unwrap_or_default()));
    }
    if documents.is_empty() {
        return Err(ProvenanceError::Empty);
    }
    Ok(documents)
}

pub(super) fn not_json(what: &str, e: &serde_json::Error) -> ProvenanceError {
    ProvenanceError::NotJson {
        what: what.to_string(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    }
}

/// Reads one document, whichever wrapper it is in, down to its statements: each is provenance,
/// or the error that keeps it from being read as provenance.
pub(super) fn unwrap(
    value: &Value,
    raw: &[u8],
) -> Result<Vec<Result<Provenance, ProvenanceError>>, ProvenanceError> {
    Ok(intoto::statements_in(value, raw)?
        .into_iter()
        .map(read_found)
        .collect())
}

/// The statement of one [`Found`], checked as provenance.
fn read_found(found: Found) -> Result<Provenance, ProvenanceError> {
    let Found {
        wrapper,
        location,
        payload,
        signed,
    } = found;
    let Some(signed) = signed else {
        let value: Value = serde_json::from_slice(&payload).map_err(|e| not_json("the input", &e))?;
        let statement = slsa::Statement::read(payload, value)?;
        return Ok(statement.into_provenance(wrapper, None, location));
    };
    if signed.envelope.payload_type != intoto::PAYLOAD_TYPE {
        return Err(ProvenanceError::PayloadType(signed.envelope.payload_type));
    }
    // Where the payload sits, for errors: `dsseEnvelope.payload` in a bundle.
    let payload_field = match (&wrapper, location.as_str()) {
        (Wrapper::SigstoreBundle { .. }, _) => "dsseEnvelope.payload".to_string(),
        (_, "") => "payload".to_string(),
        (Wrapper::Pep740 | Wrapper::PypiProvenance { .. }, at) => format!("{at}.envelope.statement"),
        (Wrapper::NpmAttestations { .. }, at) => format!("{at}.dsseEnvelope.payload"),
        (_, at) => format!("{at}.payload"),
    };
    if payload.is_empty() {
        return Err(invalid(&payload_field, "empty payload").into());
    }
    let value: Value = serde_json::from_slice(&payload).map_err(|e| not_json(&payload_field, &e))?;
    let statement = slsa::Statement::read(payload, value)?;
    Ok(statement.into_provenance(wrapper, Some(signed), location))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::shared_fixtures::{SLSA_VERIFIER, read};

    #[test]
    fn npm_attestations_give_their_slsa_provenance() {
        let Some(bytes) = read(&format!(
            "{SLSA_VERIFIER}/npm/gha/provenance-npm-test-cli-v1-prega.tgz.json"
        )) else {
            return;
        };
        // The publish attestation beside it is not provenance and is left out.
        let p = super::super::read(&bytes, None).unwrap();
        assert_eq!(p.location, "attestations[1].bundle");
        assert_eq!(
            p.build_type,
            "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1"
        );
        assert_eq!(p.subjects[0].name, "pkg:npm/sigstore@2.3.1");
        assert!(p.has_subject("pkg:npm/sigstore@2.3.1"));
    }

    #[test]
    fn gcloud_output_gives_slsa_v0_1_provenance() {
        for version in ["v0.2", "v0.3"] {
            let Some(bytes) = read(&format!(
                "{SLSA_VERIFIER}/gcb_container/{version}/gcloud-container-github.json"
            )) else {
                return;
            };
            let p = super::super::read(&bytes, None).unwrap();
            assert_eq!(p.wrapper, Wrapper::Gcloud);
            assert_eq!(p.predicate_type, super::super::PredicateType::SlsaProvenanceV0_1);
            assert!(
                p.build_type.starts_with("https://cloudbuild.googleapis.com/"),
                "{}",
                p.build_type
            );
            assert!(
                p.builder_id
                    .as_deref()
                    .unwrap()
                    .starts_with("https://cloudbuild.googleapis.com/GoogleHostedWorker@")
            );
            assert_eq!(p.signed_over, intoto::SignedOver::PaeOrPayload);
        }
    }

    #[test]
    fn a_pep740_attestation_is_not_provenance() {
        let Some(bytes) = read(
            "provenance/trailofbits+pypi-attestations/test/assets/rfc8785-0.1.2-py3-none-any.whl.attestation",
        ) else {
            return;
        };
        let err = super::super::read(&bytes, None).unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown predicate type `https://docs.pypi.org/attestations/publish/v1` (expected SLSA provenance v1, v0.2 or v0.1)"
        );
    }

    #[test]
    fn documents_know_their_lines() {
        let docs = split_documents(b"\n{\"a\":1}\r\n\n  {\"b\":2}\n").unwrap();
        let lines: Vec<_> = docs.iter().map(|(line, _, raw)| (*line, *raw)).collect();
        assert_eq!(lines, [(2, &b"{\"a\":1}"[..]), (4, &b"{\"b\":2}"[..])]);
    }
}
