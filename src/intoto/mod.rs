//! The in-toto model every reader and writer of it shares: DSSE envelopes and their signatures,
//! Sigstore bundles, statements and resource descriptors. It is a module of its own, not part of
//! `attest`, because `provenance` (the first stage) reads what `attest` (the last) writes; the
//! cryptography (keys, signing, verifying) stays in `attest`.

mod bundle;
mod document;
mod dsse;
pub(crate) mod fields;
mod statement;

pub use bundle::{
    BUNDLE_MEDIA_TYPE, Bundle, CertificateChain, PublicKeyHint, RawBytes, VerificationMaterial,
};
pub use document::{Found, Signed, SignedOver, Summary, Wrapper, statements_in, subjects_of};
pub use dsse::{Envelope, Signature, decode_base64, pae};
pub use statement::{DigestSet, Predicate, ResourceDescriptor, Statement, StatementType, digest};

/// The DSSE payload type of in-toto statements, the only one repro writes or accepts.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// Why a document does not have the model's shape. Each names the field, as a path from the
/// document's root (`dsseEnvelope.signatures[0].sig`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("`{field}` is missing")]
    Missing { field: String },
    #[error("`{field}` has the wrong type: expected {expected}")]
    WrongType { field: String, expected: &'static str },
    #[error("`{field}` is invalid: {problem}")]
    Invalid { field: String, problem: String },
    #[error("`{field}` is not valid base64: {message}")]
    Base64 { field: String, message: String },
    #[error("unknown Sigstore bundle media type `{0}`")]
    UnknownBundleMediaType(String),
}

/// Compact JSON with every object's keys sorted (serde_json's `Value` keeps them sorted), the
/// form of everything repro has written: statements and bundles.
fn sorted_json<T: serde::Serialize>(value: &T) -> Result<String, serde_json::Error> {
    serde_json::to_value(value).map(|v| v.to_string())
}
