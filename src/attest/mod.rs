//! The `attest` stage: the cryptography over the in-toto model of [`crate::intoto`]. Signs
//! statements into DSSE envelopes with ECDSA P-256 (DER) or Ed25519, optionally as a Sigstore
//! bundle v0.3, and verifies them, saying how the signature was checked and what was (not)
//! checked.

pub mod bundle;
pub mod certificate;
pub mod encrypted_key;
mod key_file;
pub mod keyless;
pub mod keys;
mod sign;
pub mod verify;

pub use crate::intoto::{BUNDLE_MEDIA_TYPE, Envelope, Signature, pae};
pub use bundle::to_bundle;
pub use keyless::{KeylessTrust, check_keyless, has_certificate, verify_keyless};
pub use keys::{
    Algorithm, Overwrite, PrivateKey, PublicKey, generate_key_pair, write_key_pair, write_key_pair_to,
};
pub use sign::sign_statement;
pub use verify::{
    ArtifactCheck, Candidate, DEFAULT_PREDICATE_TYPE, Expectation, ExpectationCheck, NotChecked, Origin,
    Policy, Problem, SignatureCheck, SignatureRecord, Verdict, Verified, candidates, check_signature,
    check_statement, select, signers_by_digest, verify, verify_attestation, verify_envelope, verify_signed,
};

use crate::intoto::{FormatError, PAYLOAD_TYPE, StatementType};

/// What went wrong. `Malformed` means the input could not be read at all (not JSON, bad
/// base64, missing fields); `SignatureInvalid` means it was readable but no signature
/// verified with the given key.
#[derive(Debug, thiserror::Error)]
pub enum AttestError {
    #[error("malformed envelope: {0}")]
    Malformed(#[from] FormatError),
    #[error("the envelope has no signatures")]
    NoSignatures,
    #[error("no signature verifies with the given key")]
    SignatureInvalid,
    #[error("payloadType is {found:?}, expected {PAYLOAD_TYPE:?}")]
    PayloadType { found: String },
    #[error("the payload is not an in-toto statement: {0}")]
    StatementMalformed(String),
    #[error("statement _type is {found:?}, expected {:?}", StatementType::V1.uri())]
    StatementType { found: String },
    #[error("a Sigstore bundle holds exactly one signature, the envelope has {0}")]
    BundleSignatures(usize),
    #[error("the statement is not signed")]
    Unsigned,
    #[error("refusing to sign: {0}")]
    Refused(String),
    #[error("no statement {wanted}; the file holds:\n  {}", list(available))]
    NoSuchStatement {
        wanted: String,
        available: Vec<crate::intoto::Summary>,
    },
    #[error("the file holds several statements:\n  {}", list(available))]
    SeveralStatements { available: Vec<crate::intoto::Summary> },
    #[error("cannot read the artifact {path}: {source}")]
    Artifact {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("key: {0}")]
    Key(String),
    #[error("cannot serialise the statement: {0}")]
    Serialize(#[source] serde_json::Error),
    #[error(transparent)]
    EncryptedKey(#[from] encrypted_key::EncryptedKeyError),
    #[error(
        "the statement is signed without a certificate (a bare DSSE envelope or a bundle with a \
         key hint), so it cannot be verified keylessly: verify it with --key"
    )]
    NoCertificate,
    #[error(transparent)]
    Keyless(#[from] crate::sigstore::KeylessError),
}

impl AttestError {
    /// True for a negative verdict on readable input (exit 1), false for unreadable input or
    /// unusable keys (exit 2).
    pub fn is_invalid(&self) -> bool {
        if let AttestError::Keyless(e) = self {
            return e.is_invalid();
        }
        !matches!(
            self,
            AttestError::Malformed(_)
                | AttestError::Key(_)
                | AttestError::EncryptedKey(_)
                | AttestError::BundleSignatures(_)
                | AttestError::Artifact { .. }
                | AttestError::Serialize(_)
                | AttestError::SeveralStatements { .. }
                | AttestError::NoCertificate
        )
    }
}

fn list(summaries: &[crate::intoto::Summary]) -> String {
    let lines: Vec<String> = summaries.iter().map(ToString::to_string).collect();
    lines.join("\n  ")
}
