//! DSSE envelopes: the one envelope and signature type, their base64, and the
//! pre-authentication encoding a signature covers.
//!
//! A payload is kept as the exact decoded bytes, never re-serialised, and a signature's keyid
//! is kept as a hint only: it is unauthenticated and decides nothing.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_PAD_INDIFFERENT, URL_SAFE_PAD_INDIFFERENT};
use serde::{Serialize, Serializer};
use serde_json::Value;

use super::FormatError;
use super::fields::Obj;

/// DSSE v1 pre-authentication encoding:
/// `DSSEv1 SP len(type) SP type SP len(body) SP body`, lengths in decimal bytes.
pub fn pae(payload_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload_type.len() + body.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(body.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(body);
    out
}

/// Decodes standard or URL-safe base64, padded or not; `field` names it in the error.
pub fn decode_base64(text: &str, field: &str) -> Result<Vec<u8>, FormatError> {
    // The two alphabets differ only in `+/` versus `-_`, so a character from either pair
    // tells which one the writer used.
    let engine = if text.contains(['-', '_']) {
        &URL_SAFE_PAD_INDIFFERENT
    } else {
        &STANDARD_PAD_INDIFFERENT
    };
    engine.decode(text).map_err(|e| FormatError::Base64 {
        field: field.to_string(),
        message: e.to_string(),
    })
}

/// Writes bytes as standard padded base64, the only form repro emits.
pub(super) fn serialize_base64<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&STANDARD.encode(bytes))
}

/// One signature of an envelope. `keyid` is a hint only and is unauthenticated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signature {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyid: Option<String>,
    #[serde(serialize_with = "serialize_base64")]
    pub sig: Vec<u8>,
}

/// A DSSE envelope: `{payload, payloadType, signatures[{keyid, sig}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Envelope {
    #[serde(serialize_with = "serialize_base64")]
    pub payload: Vec<u8>,
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    pub signatures: Vec<Signature>,
}

impl Envelope {
    /// Reads an envelope from JSON text.
    pub fn from_json(bytes: &[u8]) -> Result<Envelope, FormatError> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| FormatError::NotJson(e.to_string()))?;
        Envelope::from_value(&value, "")
    }

    /// Reads an envelope found at `path` in a document (`""` at its root, `dsseEnvelope` in a
    /// bundle); errors name the field. Unknown members are ignored, as DSSE asks.
    pub fn from_value(value: &Value, path: &str) -> Result<Envelope, FormatError> {
        let envelope = Obj::new(value, path)?;
        let payload_type = envelope.str("payloadType")?.to_string();
        let payload = decode_base64(envelope.str("payload")?, &envelope.path_of("payload"))?;
        let field = envelope.path_of("signatures");
        let mut signatures = Vec::new();
        for (i, sig) in envelope.array("signatures")?.iter().enumerate() {
            let sig = Obj::new(sig, &format!("{field}[{i}]"))?;
            signatures.push(Signature {
                keyid: sig.opt_str("keyid")?.map(str::to_string),
                sig: decode_base64(sig.str("sig")?, &sig.path_of("sig"))?,
            });
        }
        Ok(Envelope {
            payload,
            payload_type,
            signatures,
        })
    }

    /// The envelope as JSON, base64 standard and padded.
    pub fn to_json(&self) -> String {
        // Plain strings and byte vectors always serialise.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// What a signature covers: the PAE of the payload type and the exact payload bytes.
    pub fn signed_message(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_spec_vector() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ");
        // Lengths count bytes, not characters.
        assert_eq!(pae("é", b"\xff"), b"DSSEv1 2 \xc3\xa9 1 \xff".to_vec());
    }

    #[test]
    fn base64_accepts_both_alphabets_with_or_without_padding() {
        let data = [0xfbu8, 0xff, 0xfe, 0x00];
        for text in ["+//+AA==", "+//+AA", "-__-AA==", "-__-AA"] {
            assert_eq!(decode_base64(text, "sig").unwrap(), data, "{text}");
        }
        // Mixed alphabets, a dangling character and foreign characters are refused.
        for text in ["+_8=", "+/8=x", "a", "!!!!"] {
            assert!(
                matches!(decode_base64(text, "sig"), Err(FormatError::Base64 { field, .. }) if field == "sig"),
                "{text}"
            );
        }
    }

    #[test]
    fn envelope_json_uses_standard_padded_base64_and_keeps_keyid_optional() {
        let env = Envelope {
            payload: vec![0xfb, 0xff],
            payload_type: "t".into(),
            signatures: vec![Signature {
                keyid: None,
                sig: vec![1],
            }],
        };
        assert_eq!(
            env.to_json(),
            r#"{"payload":"+/8=","payloadType":"t","signatures":[{"sig":"AQ=="}]}"#
        );
        let back = Envelope::from_json(br#"{"payload":"-_8","payloadType":"t","signatures":[{"sig":"AQ"}]}"#)
            .unwrap();
        assert_eq!(back, env);
        let with_keyid = Envelope {
            signatures: vec![Signature {
                keyid: Some(String::new()),
                sig: vec![1],
            }],
            ..env
        };
        assert_eq!(
            with_keyid.to_json(),
            r#"{"payload":"+/8=","payloadType":"t","signatures":[{"keyid":"","sig":"AQ=="}]}"#
        );
    }

    #[test]
    fn malformed_envelopes_name_the_field() {
        let err = |text: &str| Envelope::from_json(text.as_bytes()).unwrap_err().to_string();
        assert!(err("not json").starts_with("not JSON"));
        assert_eq!(err("[]"), "`(top level)` has the wrong type: expected an object");
        assert!(
            err(r#"{"payload":"%%","payloadType":"t","signatures":[]}"#)
                .starts_with("`payload` is not valid base64")
        );
        assert_eq!(
            err(r#"{"payload":"","signatures":[]}"#),
            "`payloadType` is missing"
        );
        assert_eq!(
            err(r#"{"payload":"","payloadType":"t","signatures":[{"keyid":1,"sig":""}]}"#),
            "`signatures[0].keyid` has the wrong type: expected a string"
        );
        let value = serde_json::json!({ "payload": "", "payloadType": "t", "signatures": [{}] });
        assert_eq!(
            Envelope::from_value(&value, "dsseEnvelope")
                .unwrap_err()
                .to_string(),
            "`dsseEnvelope.signatures[0].sig` is missing"
        );
    }
}
