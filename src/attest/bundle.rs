//! Signing into a Sigstore bundle v0.3 with a plain public key (no certificate, no
//! transparency log).

use super::AttestError;
use super::keys::{PrivateKey, PublicKey};
use crate::intoto::{Bundle, Envelope, PAYLOAD_TYPE, Signature};

/// Wraps `envelope` into a bundle. Sigstore wants exactly one signature and Go verifiers skip
/// signatures whose keyid is not their own fingerprint form, so the keyid is dropped.
pub fn to_bundle(envelope: &Envelope, key: &PublicKey) -> Result<String, AttestError> {
    let [signature] = envelope.signatures.as_slice() else {
        return Err(AttestError::BundleSignatures(envelope.signatures.len()));
    };
    let inner = Envelope {
        signatures: vec![Signature {
            keyid: None,
            sig: signature.sig.clone(),
        }],
        ..envelope.clone()
    };
    Ok(Bundle::with_public_key(inner, key.hint()?).to_json())
}

/// Signs an in-toto statement straight into a bundle.
pub fn sign_bundle(statement: &[u8], key: &PrivateKey) -> Result<String, AttestError> {
    let envelope = Envelope::sign(PAYLOAD_TYPE, statement.to_vec(), key, false)?;
    to_bundle(&envelope, &key.public_key())
}
