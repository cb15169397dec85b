//! The wrappers around a statement: DSSE envelopes, Sigstore bundles and `.intoto.jsonl` lines.

use serde_json::Value;

use super::{Provenance, ProvenanceError, Wrapper, slsa};
use crate::intoto::fields::{Obj, invalid};
use crate::intoto::{self, Bundle, Envelope, VerificationMaterial};

/// One JSON document of the input: its 1-based line, its value and its exact bytes.
pub(super) type Document<'a> = (usize, Value, &'a [u8]);

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

/// Reads one document, whichever wrapper it is in, down to its statement.
pub(super) fn unwrap(value: Value, raw: &[u8], line: usize) -> Result<Provenance, ProvenanceError> {
    let top = Obj::new(&value, "")?;
    if top.has("_type") {
        let statement = slsa::Statement::read(raw.to_vec(), value)?;
        return Ok(statement.into_provenance(Wrapper::Statement, None, None, line));
    }
    if Bundle::is_bundle(&value) {
        let bundle = Bundle::from_value(&value)?;
        let wrapper = Wrapper::SigstoreBundle {
            media_type: bundle.media_type,
        };
        return read_dsse(
            bundle.dsse_envelope,
            "dsseEnvelope.",
            wrapper,
            Some(bundle.verification_material),
            line,
        );
    }
    if top.has("payloadType") || top.has("payload") {
        let envelope = Envelope::from_value(&value, "")?;
        return read_dsse(envelope, "", Wrapper::Dsse, None, line);
    }
    Err(intoto::FormatError::Missing {
        field: "_type".to_string(),
    }
    .into())
}

/// The statement inside an envelope; `path` is where the envelope sits (`dsseEnvelope.`).
fn read_dsse(
    envelope: Envelope,
    path: &str,
    wrapper: Wrapper,
    verification_material: Option<VerificationMaterial>,
    line: usize,
) -> Result<Provenance, ProvenanceError> {
    if envelope.payload_type != intoto::PAYLOAD_TYPE {
        return Err(ProvenanceError::PayloadType(envelope.payload_type));
    }
    let payload_field = format!("{path}payload");
    if envelope.payload.is_empty() {
        return Err(invalid(&payload_field, "empty payload").into());
    }
    let value: Value = serde_json::from_slice(&envelope.payload).map_err(|e| not_json(&payload_field, &e))?;
    let statement = slsa::Statement::read(envelope.payload.clone(), value)?;
    Ok(statement.into_provenance(wrapper, Some(envelope), verification_material, line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_know_their_lines() {
        let docs = split_documents(b"\n{\"a\":1}\r\n\n  {\"b\":2}\n").unwrap();
        let lines: Vec<_> = docs.iter().map(|(line, _, raw)| (*line, *raw)).collect();
        assert_eq!(lines, [(2, &b"{\"a\":1}"[..]), (4, &b"{\"b\":2}"[..])]);
    }
}
