//! The wrappers around a statement: DSSE envelopes, Sigstore bundles and `.intoto.jsonl` lines.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_PAD_INDIFFERENT, URL_SAFE_PAD_INDIFFERENT};
use serde_json::Value;

use super::fields::{Obj, invalid};
use super::{Envelope, Provenance, ProvenanceError, Signature, Wrapper, slsa};

/// The only DSSE payload type that carries an in-toto statement.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

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
        return Ok(statement.into_provenance(Wrapper::Statement, None, line));
    }
    if top.has("dsseEnvelope") || top.has("mediaType") {
        let media_type = top.str("mediaType")?;
        if !is_bundle_media_type(media_type) {
            return Err(ProvenanceError::UnknownBundleMediaType(media_type.to_string()));
        }
        let wrapper = Wrapper::SigstoreBundle {
            media_type: media_type.to_string(),
        };
        return read_dsse(&top.obj("dsseEnvelope")?, wrapper, line);
    }
    if top.has("payloadType") || top.has("payload") {
        return read_dsse(&top, Wrapper::Dsse, line);
    }
    Err(ProvenanceError::Missing {
        field: "_type".to_string(),
    })
}

/// `application/vnd.dev.sigstore.bundle.v0.N+json`, or the older
/// `application/vnd.dev.sigstore.bundle+json;version=0.N`.
fn is_bundle_media_type(media_type: &str) -> bool {
    let minor = media_type
        .strip_prefix("application/vnd.dev.sigstore.bundle.v0.")
        .and_then(|rest| rest.strip_suffix("+json"))
        .or_else(|| media_type.strip_prefix("application/vnd.dev.sigstore.bundle+json;version=0."));
    minor.is_some_and(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()))
}

fn read_dsse(envelope: &Obj<'_>, wrapper: Wrapper, line: usize) -> Result<Provenance, ProvenanceError> {
    let payload_type = envelope.str("payloadType")?;
    if payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(ProvenanceError::PayloadType(payload_type.to_string()));
    }
    let payload = decode_base64(envelope.str("payload")?, &envelope.path_of("payload"))?;
    let mut signatures = Vec::new();
    let field = envelope.path_of("signatures");
    for (i, sig) in envelope.array("signatures")?.iter().enumerate() {
        let sig = Obj::new(sig, &format!("{field}[{i}]"))?;
        signatures.push(Signature {
            keyid: sig.opt_str("keyid")?.map(str::to_string),
            sig: decode_base64(sig.str("sig")?, &sig.path_of("sig"))?,
        });
    }
    let value: Value =
        serde_json::from_slice(&payload).map_err(|e| not_json(&envelope.path_of("payload"), &e))?;
    let statement = slsa::Statement::read(payload, value)?;
    let envelope = Envelope {
        payload_type: payload_type.to_string(),
        signatures,
    };
    Ok(statement.into_provenance(wrapper, Some(envelope), line))
}

/// Decodes DSSE base64: standard or URL-safe alphabet, padded or not.
pub fn decode_base64(text: &str, field: &str) -> Result<Vec<u8>, ProvenanceError> {
    let engine = if text.contains(['-', '_']) {
        &URL_SAFE_PAD_INDIFFERENT
    } else {
        &STANDARD_PAD_INDIFFERENT
    };
    let bytes = engine.decode(text).map_err(|e| ProvenanceError::Base64 {
        field: field.to_string(),
        message: e.to_string(),
    })?;
    if bytes.is_empty() && field.ends_with("payload") {
        return Err(invalid(field, "empty payload"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_media_types() {
        assert!(is_bundle_media_type(
            "application/vnd.dev.sigstore.bundle.v0.3+json"
        ));
        assert!(is_bundle_media_type(
            "application/vnd.dev.sigstore.bundle+json;version=0.1"
        ));
        assert!(!is_bundle_media_type(
            "application/vnd.dev.sigstore.bundle.v0.+json"
        ));
        assert!(!is_bundle_media_type(
            "application/vnd.dev.sigstore.bundle.v1.0+json"
        ));
        assert!(!is_bundle_media_type(
            "application/vnd.dev.sigstore.bundle+json;version=0.3x"
        ));
    }

    #[test]
    fn base64_in_both_alphabets_with_or_without_padding() {
        for text in ["+/8=", "+/8", "-_8=", "-_8"] {
            assert_eq!(decode_base64(text, "sig").unwrap(), [0xfb, 0xff], "{text}");
        }
        // Mixed alphabets and a dangling character are refused.
        for text in ["+_8=", "+/8=x", "a"] {
            assert!(decode_base64(text, "sig").is_err(), "{text}");
        }
    }

    #[test]
    fn documents_know_their_lines() {
        let docs = split_documents(b"\n{\"a\":1}\r\n\n  {\"b\":2}\n").unwrap();
        let lines: Vec<_> = docs.iter().map(|(line, _, raw)| (*line, *raw)).collect();
        assert_eq!(lines, [(2, &b"{\"a\":1}"[..]), (4, &b"{\"b\":2}"[..])]);
    }
}
