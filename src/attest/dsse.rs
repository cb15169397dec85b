//! DSSE envelopes: the pre-authentication encoding, signing and verification.
//!
//! Signatures are always checked over the exact decoded payload bytes, never over a
//! re-serialisation, and a signature's keyid is never used to decide anything.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_PAD_INDIFFERENT, URL_SAFE_PAD_INDIFFERENT};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::AttestError;
use super::keys::{PrivateKey, PublicKey};

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

/// Decodes standard or URL-safe base64, padded or not.
pub fn decode_b64(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    // The two alphabets differ only in `+/` versus `-_`, so a character from either pair
    // tells which one the writer used.
    if text.contains(['-', '_']) {
        URL_SAFE_PAD_INDIFFERENT.decode(text)
    } else {
        STANDARD_PAD_INDIFFERENT.decode(text)
    }
}

mod b64 {
    use super::*;

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        decode_b64(&text).map_err(serde::de::Error::custom)
    }
}

/// One signature of an envelope. `keyid` is a hint only and is unauthenticated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyid: Option<String>,
    #[serde(with = "b64")]
    pub sig: Vec<u8>,
}

/// A DSSE envelope: `{payload, payloadType, signatures[{keyid, sig}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    #[serde(with = "b64")]
    pub payload: Vec<u8>,
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    pub signatures: Vec<Signature>,
}

impl Envelope {
    /// Signs `payload` with one signature. `with_keyid` writes the securesystemslib keyid
    /// (plain envelopes must carry it: securesystemslib throws without one); Sigstore bundles
    /// leave it out because Go verifiers skip signatures with a keyid they do not recognise.
    pub fn sign(
        payload_type: &str,
        payload: Vec<u8>,
        key: &PrivateKey,
        with_keyid: bool,
    ) -> Result<Envelope, AttestError> {
        let sig = key.sign(&pae(payload_type, &payload))?;
        let keyid = if with_keyid {
            Some(key.public_key().keyid()?)
        } else {
            None
        };
        Ok(Envelope {
            payload,
            payload_type: payload_type.to_owned(),
            signatures: vec![Signature { keyid, sig }],
        })
    }

    /// Parses an envelope; any syntax or base64 problem is `Malformed`.
    pub fn from_json(bytes: &[u8]) -> Result<Envelope, AttestError> {
        serde_json::from_slice(bytes).map_err(|e| AttestError::Malformed(e.to_string()))
    }

    /// Serialises with standard padded base64.
    pub fn to_json(&self) -> String {
        // Serialising plain strings and byte vectors cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Succeeds when at least one signature verifies with `key` over the PAE of the exact
    /// payload bytes. Keyids are ignored: trying every signature costs little and a keyid
    /// must never decide the outcome.
    pub fn verify(&self, key: &PublicKey) -> Result<(), AttestError> {
        if self.signatures.is_empty() {
            return Err(AttestError::NoSignatures);
        }
        let message = pae(&self.payload_type, &self.payload);
        if self
            .signatures
            .iter()
            .any(|s| key.verify(&message, &s.sig).is_ok())
        {
            Ok(())
        } else {
            Err(AttestError::SignatureInvalid)
        }
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
            assert_eq!(decode_b64(text).unwrap(), data, "{text}");
        }
        assert!(decode_b64("a").is_err());
        assert!(decode_b64("!!!!").is_err());
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
        assert!(matches!(
            Envelope::from_json(b"{\"payload\":\"%%\",\"payloadType\":\"t\",\"signatures\":[]}"),
            Err(AttestError::Malformed(_))
        ));
    }
}
