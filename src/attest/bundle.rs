//! Sigstore bundle v0.3 with a plain public key (no certificate, no transparency log).

use serde_json::{Value, json};

use super::AttestError;
use super::dsse::Envelope;
use super::keys::{PrivateKey, PublicKey};

pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// Older bundles spell it `application/vnd.dev.sigstore.bundle+json;version=0.x`.
const MEDIA_TYPE_PREFIX: &str = "application/vnd.dev.sigstore.bundle";

/// Wraps `envelope` into a bundle. Sigstore wants exactly one signature and Go verifiers skip
/// signatures whose keyid is not their own fingerprint form, so the keyid is dropped.
pub fn to_bundle(envelope: &Envelope, key: &PublicKey) -> Result<String, AttestError> {
    let [signature] = envelope.signatures.as_slice() else {
        return Err(AttestError::Malformed(format!(
            "a Sigstore bundle holds exactly one signature, the envelope has {}",
            envelope.signatures.len()
        )));
    };
    let mut inner = envelope.clone();
    inner.signatures = vec![super::dsse::Signature {
        keyid: None,
        sig: signature.sig.clone(),
    }];
    let bundle = json!({
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {
            "publicKey": { "hint": key.hint()? },
            "tlogEntries": [],
        },
        "dsseEnvelope": inner,
    });
    Ok(bundle.to_string())
}

/// Signs an in-toto statement straight into a bundle.
pub fn sign_bundle(statement: &[u8], key: &PrivateKey) -> Result<String, AttestError> {
    let envelope = Envelope::sign(super::INTOTO_PAYLOAD_TYPE, statement.to_vec(), key, false)?;
    to_bundle(&envelope, &key.public_key())
}

/// Takes the DSSE envelope out of a parsed bundle.
pub fn envelope_from_bundle(bundle: &Value) -> Result<Envelope, AttestError> {
    let media_type = bundle
        .get("mediaType")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !media_type.starts_with(MEDIA_TYPE_PREFIX) {
        return Err(AttestError::Malformed(format!(
            "not a Sigstore bundle media type: {media_type:?}"
        )));
    }
    let inner = bundle
        .get("dsseEnvelope")
        .ok_or_else(|| AttestError::Malformed("the bundle has no dsseEnvelope".into()))?;
    Envelope::deserialize_value(inner)
}

impl Envelope {
    fn deserialize_value(value: &Value) -> Result<Envelope, AttestError> {
        serde::Deserialize::deserialize(value).map_err(|e| AttestError::Malformed(e.to_string()))
    }
}
