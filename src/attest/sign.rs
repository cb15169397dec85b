//! Signing: a payload into a DSSE envelope, over the PAE of its exact bytes.

use super::AttestError;
use super::keys::{PrivateKey, PublicKey};
use crate::intoto::{Envelope, PAYLOAD_TYPE, Signature};

/// Signs an in-toto statement (its exact JSON bytes) into a plain DSSE envelope with a keyid.
pub fn sign_statement(statement: &[u8], key: &PrivateKey) -> Result<Envelope, AttestError> {
    Envelope::sign(PAYLOAD_TYPE, statement.to_vec(), key, true)
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
        let mut envelope = Envelope {
            payload,
            payload_type: payload_type.to_owned(),
            signatures: Vec::new(),
        };
        let sig = key.sign(&envelope.signed_message())?;
        let keyid = if with_keyid {
            Some(key.public_key().keyid()?)
        } else {
            None
        };
        envelope.signatures.push(Signature { keyid, sig });
        Ok(envelope)
    }

    /// Succeeds when at least one signature verifies with `key` over the PAE of the exact
    /// payload bytes. Keyids are ignored: trying every signature costs little and a keyid
    /// must never decide the outcome.
    pub fn verify(&self, key: &PublicKey) -> Result<(), AttestError> {
        if self.signatures.is_empty() {
            return Err(AttestError::NoSignatures);
        }
        let message = self.signed_message();
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
