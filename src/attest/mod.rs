//! The `attest` stage: in-toto Statements in DSSE envelopes signed with ECDSA P-256 (DER) or
//! Ed25519, optional Sigstore bundle v0.3 output, and verification for `repro verify`.

pub mod bundle;
pub mod dsse;
pub mod encrypted_key;
pub mod keys;

pub use bundle::{BUNDLE_MEDIA_TYPE, to_bundle};
pub use dsse::{Envelope, Signature, pae};
pub use keys::{Algorithm, PrivateKey, PublicKey, generate_key_pair, write_key_pair};

/// The DSSE payload type of in-toto statements.
pub const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The in-toto Statement `_type` repro writes.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// The older Statement type still written by slsa-github-generator; accepted when reading.
pub const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";

/// What went wrong. `Malformed` means the input could not be read at all (not JSON, bad
/// base64, missing fields); `SignatureInvalid` means it was readable but no signature
/// verified with the given key.
#[derive(Debug, thiserror::Error)]
pub enum AttestError {
    #[error("malformed envelope: {0}")]
    Malformed(String),
    #[error("the envelope has no signatures")]
    NoSignatures,
    #[error("no signature verifies with the given key")]
    SignatureInvalid,
    #[error("payloadType is {found:?}, expected {INTOTO_PAYLOAD_TYPE:?}")]
    PayloadType { found: String },
    #[error("the payload is not an in-toto statement: {0}")]
    StatementMalformed(String),
    #[error("statement _type is {found:?}, expected {STATEMENT_V1:?}")]
    StatementType { found: String },
    #[error("key: {0}")]
    Key(String),
    #[error(transparent)]
    EncryptedKey(#[from] encrypted_key::EncryptedKeyError),
}

impl AttestError {
    /// True for a negative verdict on readable input (exit 1), false for unreadable input or
    /// unusable keys (exit 2).
    pub fn is_invalid(&self) -> bool {
        !matches!(
            self,
            AttestError::Malformed(_) | AttestError::Key(_) | AttestError::EncryptedKey(_)
        )
    }
}

/// A verified attestation: the exact payload bytes and the statement parsed from them.
#[derive(Debug, Clone)]
pub struct Verified {
    pub envelope: Envelope,
    pub statement: serde_json::Value,
}

/// Signs an in-toto statement (its exact JSON bytes) into a plain DSSE envelope with a keyid.
pub fn sign_statement(statement: &[u8], key: &PrivateKey) -> Result<Envelope, AttestError> {
    Envelope::sign(INTOTO_PAYLOAD_TYPE, statement.to_vec(), key, true)
}

/// Reads a bare DSSE envelope or a Sigstore bundle (by its `dsseEnvelope` member).
pub fn read_envelope(bytes: &[u8]) -> Result<Envelope, AttestError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| AttestError::Malformed(e.to_string()))?;
    if value.get("mediaType").is_some() || value.get("dsseEnvelope").is_some() {
        bundle::envelope_from_bundle(&value)
    } else {
        serde_json::from_value(value).map_err(|e| AttestError::Malformed(e.to_string()))
    }
}

/// Verifies an envelope or bundle with `key`: the signature first (keyids are ignored), then
/// the payload type, then that the payload is an in-toto Statement (v1, or v0.1).
pub fn verify_attestation(bytes: &[u8], key: &PublicKey) -> Result<Verified, AttestError> {
    let envelope = read_envelope(bytes)?;
    envelope.verify(key)?;
    if envelope.payload_type != INTOTO_PAYLOAD_TYPE {
        return Err(AttestError::PayloadType {
            found: envelope.payload_type,
        });
    }
    let statement: serde_json::Value = serde_json::from_slice(&envelope.payload)
        .map_err(|e| AttestError::StatementMalformed(e.to_string()))?;
    let found = statement.get("_type").and_then(|t| t.as_str()).unwrap_or("");
    if found != STATEMENT_V1 && found != STATEMENT_V01 {
        return Err(AttestError::StatementType {
            found: found.to_owned(),
        });
    }
    Ok(Verified { envelope, statement })
}
