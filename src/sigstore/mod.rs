//! Keyless Sigstore verification, offline: a bundle (v0.1–v0.3, DSSE or message signature)
//! whose verification material is a Fulcio certificate is checked against a Sigstore trusted
//! root and an identity policy, and the result says what was verified and how.
//!
//! The certificate chain, the SCT, the Rekor entry (inclusion proof and checkpoint, signed
//! entry timestamp), RFC 3161 timestamps and the signature itself are checked by the
//! maintained `sigstore-verify` crate (sigstore-rust); this module chooses its policy, refuses
//! what it must not accept (no identity policy, key-signed bundles), adds the anchored identity
//! regexp, and turns its answer into [`KeylessVerified`] and [`KeylessError`].

mod claims;
mod pep740;
mod policy;
mod trust;

#[cfg(test)]
mod tests;

use serde::{Deserialize as _, Serialize};
use sigstore_verify::crypto::{parse_certificate_info, verify_signature};
use sigstore_verify::types::DsseEnvelope;
use sigstore_verify::types::bundle::VerificationMaterialContent;
use sigstore_verify::types::{
    Artifact, ArtifactDigest as SigstoreDigest, Bundle, DigestBytes, HashAlgorithm, Sha256Hash,
    SignatureContent, Statement,
};
use sigstore_verify::{CertificateError, Error as SigstoreError, VerificationPolicy};

/// The DSSE payload type of in-toto statements, the only one sigstore-verify binds.
const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

pub use claims::{CertificateIdentity, FIELDS as CERTIFICATE_FIELDS, IdentityKind, WorkflowClaims};
pub use pep740::{is_pep740_attestation, pep740_to_bundle};
pub use policy::{IdentityMatcher, IdentityPolicy, PolicyError};
pub use trust::{TrustError, TrustedRoot};

/// The digest of the artifact a bundle must be about: required for a message-signature bundle
/// (the signature is over the artifact), optional for a DSSE bundle (then it must be one of the
/// statement's subjects).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactDigest {
    Sha256([u8; 32]),
    Sha512([u8; 64]),
}

impl ArtifactDigest {
    /// Reads `sha256:HEX`, `sha512:HEX`, or bare hex (64 digits: SHA-256, 128: SHA-512).
    pub fn parse(text: &str) -> Option<Self> {
        let (algorithm, hex_text) = match text.split_once(':') {
            Some((algorithm, hex_text)) => (Some(algorithm), hex_text),
            None => (None, text),
        };
        let bytes = hex::decode(hex_text).ok()?;
        match (algorithm, bytes.len()) {
            (Some("sha256") | None, 32) => bytes.try_into().ok().map(ArtifactDigest::Sha256),
            (Some("sha512") | None, 64) => bytes.try_into().ok().map(ArtifactDigest::Sha512),
            _ => None,
        }
    }

    fn to_sigstore(&self) -> Result<SigstoreDigest, KeylessError> {
        match self {
            ArtifactDigest::Sha256(bytes) => Ok(SigstoreDigest::sha256(Sha256Hash::new(*bytes))),
            ArtifactDigest::Sha512(bytes) => sha512_digest(bytes),
        }
    }
}

impl std::fmt::Display for ArtifactDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArtifactDigest::Sha256(bytes) => write!(f, "sha256:{}", hex::encode(bytes)),
            ArtifactDigest::Sha512(bytes) => write!(f, "sha512:{}", hex::encode(bytes)),
        }
    }
}

impl Serialize for ArtifactDigest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

fn sha512_digest(bytes: &[u8; 64]) -> Result<SigstoreDigest, KeylessError> {
    SigstoreDigest::new(HashAlgorithm::Sha2512, DigestBytes::new(bytes.to_vec()))
        .map_err(|e| KeylessError::Malformed(e.to_string()))
}

/// What the verified signature covers. In JSON, the payload itself is left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum VerifiedContent {
    /// A DSSE envelope: its exact payload bytes and payload type, signed over the PAE.
    Dsse {
        payload_type: String,
        #[serde(skip)]
        payload: Vec<u8>,
    },
    /// A message signature over the artifact with this digest.
    Message { digest: ArtifactDigest },
}

/// Where a signing time came from. The certificate (valid ten minutes) must be valid at every
/// one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimeSource {
    /// The transparency log's integrated time, signed by the log (signed entry timestamp).
    TransparencyLog,
    /// An RFC 3161 signed timestamp from a timestamp authority in the trusted root.
    SignedTimestamp,
}

/// A verified time at which the signature existed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SigningTime {
    /// Seconds since the Unix epoch.
    pub unix_seconds: i64,
    /// The same instant, RFC 3339 UTC.
    pub time: String,
    pub source: TimeSource,
}

/// One check that passed, in the order they were made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    /// The bundle parsed, is of a known version, and carries a certificate.
    BundleStructure,
    /// Every signing time comes from a verified signed entry timestamp or RFC 3161 timestamp.
    SigningTime,
    /// The certificate chains to a Fulcio CA in the trusted root, valid at every signing time,
    /// with the code-signing usage.
    CertificateChain,
    /// The certificate's signed certificate timestamp verifies with a CT log key of the root.
    CertificateTransparency,
    /// The certificate's identity satisfies the policy.
    Identity,
    /// The certificate's OIDC issuer is the policy's.
    Issuer,
    /// Every transparency-log entry verifies with a Rekor key of the root: its inclusion
    /// proof against a signed checkpoint, and its signed entry timestamp where present; each
    /// integrated time lies within the certificate's validity.
    TransparencyLog,
    /// The signature verifies with the certificate's key (over the DSSE PAE of the exact
    /// payload bytes, or over the artifact digest).
    Signature,
    /// The statement names the given artifact digest as a subject, or the message signature
    /// is over it.
    ArtifactDigest,
    /// Each transparency-log entry describes this very signature and content.
    LogEntryMatchesBundle,
}

impl Check {
    /// A stable kebab-case name, as in JSON.
    pub fn name(&self) -> &'static str {
        match self {
            Check::BundleStructure => "bundle-structure",
            Check::SigningTime => "signing-time",
            Check::CertificateChain => "certificate-chain",
            Check::CertificateTransparency => "certificate-transparency",
            Check::Identity => "identity",
            Check::Issuer => "issuer",
            Check::TransparencyLog => "transparency-log",
            Check::Signature => "signature",
            Check::ArtifactDigest => "artifact-digest",
            Check::LogEntryMatchesBundle => "log-entry-matches-bundle",
        }
    }
}

/// A keyless bundle that verified: what was signed, by whom, when, and what was checked. Its
/// JSON form (for reports and `signatureVerified`) leaves the payload out.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeylessVerified {
    /// The bundle's media type, e.g. `application/vnd.dev.sigstore.bundle.v0.3+json`.
    pub media_type: String,
    pub content: VerifiedContent,
    /// The signer, from the verified certificate.
    pub certificate: CertificateIdentity,
    /// The verified signing times (at least one), earliest first.
    pub signing_times: Vec<SigningTime>,
    /// How many transparency-log entries were verified, and of which kinds (`dsse 0.0.1`,
    /// `intoto 0.0.2`, `hashedrekord 0.0.1`, …).
    pub log_entries: Vec<String>,
    pub checks: Vec<Check>,
}

impl KeylessVerified {
    /// The earliest verified signing time.
    pub fn signing_time(&self) -> Option<&SigningTime> {
        self.signing_times.first()
    }
}

/// Why a keyless verification failed. [`KeylessError::is_invalid`] tells a negative verdict on
/// readable input (exit 1) from input or options that could not be used (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum KeylessError {
    #[error("not a Sigstore bundle: {0}")]
    Malformed(String),
    #[error("the verifier did not make every check repro requires ({0})")]
    Incomplete(&'static str),
    #[error(
        "the bundle is signed with a public key (hint {hint:?}), not a Fulcio certificate: \
         verify it with --key"
    )]
    NotKeyless { hint: String },
    #[error(
        "the trusted root has no Fulcio certificate authority, so no certificate can chain to \
         it: use the trusted_root.json of the Sigstore instance that issued the certificate"
    )]
    NoCertificateAuthority,
    #[error(
        "a message-signature bundle signs the artifact itself: give the artifact (or its \
         digest) to verify it"
    )]
    DigestRequired,
    #[error("cannot verify this bundle")]
    Unsupported(#[source] SigstoreError),
    #[error("certificate identity is {}, not {expected}", shown(actual))]
    IdentityMismatch {
        expected: String,
        actual: Option<String>,
    },
    #[error("certificate issuer is {}, not {expected:?}", shown(actual))]
    IssuerMismatch {
        expected: String,
        actual: Option<String>,
    },
    #[error("the certificate does not chain to a certificate authority of the trusted root")]
    CertificateChain(#[source] SigstoreError),
    #[error("the certificate was not valid when the signature was made")]
    CertificateTime(#[source] SigstoreError),
    #[error("the certificate's signed certificate timestamp does not verify")]
    CertificateTransparency(#[source] SigstoreError),
    #[error("the transparency-log entry does not verify")]
    TransparencyLog(#[source] SigstoreError),
    #[error("no verified signing time")]
    SigningTime(#[source] SigstoreError),
    #[error("the signature does not verify with the certificate's key (tampered?)")]
    SignatureInvalid(#[source] SigstoreError),
    #[error("the bundle is not about the given artifact")]
    ArtifactMismatch(#[source] SigstoreError),
}

fn shown(value: &Option<String>) -> String {
    value
        .as_deref()
        .map_or_else(|| "absent".to_owned(), |v| format!("{v:?}"))
}

impl KeylessError {
    /// True for a negative verdict on a readable bundle (exit 1); false when the bundle, the
    /// trusted root or the request could not be used (exit 2).
    pub fn is_invalid(&self) -> bool {
        !matches!(
            self,
            KeylessError::Malformed(_)
                | KeylessError::NotKeyless { .. }
                | KeylessError::NoCertificateAuthority
                | KeylessError::DigestRequired
                | KeylessError::Unsupported(_)
                | KeylessError::Incomplete(_)
        )
    }

    fn from_sigstore(error: SigstoreError) -> Self {
        use sigstore_verify::{TimestampError, TransparencyLogError};
        match &error {
            SigstoreError::IdentityMismatch { expected, actual } => KeylessError::IdentityMismatch {
                expected: format!("{:?}", expected.to_string()),
                actual: actual.as_ref().map(ToString::to_string),
            },
            SigstoreError::IssuerMismatch { expected, actual } => KeylessError::IssuerMismatch {
                expected: expected.clone(),
                actual: actual.clone(),
            },
            SigstoreError::Certificate(CertificateError::NotYetValid { .. })
            | SigstoreError::Certificate(CertificateError::Expired { .. })
            | SigstoreError::TransparencyLog(TransparencyLogError::IntegratedTime(_)) => {
                KeylessError::CertificateTime(error)
            }
            SigstoreError::Certificate(CertificateError::Sct(_)) => {
                KeylessError::CertificateTransparency(error)
            }
            SigstoreError::Certificate(_) => KeylessError::CertificateChain(error),
            SigstoreError::TransparencyLog(_) => KeylessError::TransparencyLog(error),
            SigstoreError::Timestamp(TimestampError::NoVerifiedTimestamp(_))
            | SigstoreError::Timestamp(_) => KeylessError::SigningTime(error),
            SigstoreError::SignatureInvalid(_) => KeylessError::SignatureInvalid(error),
            SigstoreError::ArtifactMismatch(_) => KeylessError::ArtifactMismatch(error),
            SigstoreError::InvalidBundle(_) | SigstoreError::Bundle(_) => {
                KeylessError::Malformed(error.to_string())
            }
            _ => KeylessError::Unsupported(error),
        }
    }
}

/// Verifies a keyless Sigstore bundle given as JSON bytes. See [`verify_bundle`].
pub fn verify_bundle_json(
    bundle: &[u8],
    root: &TrustedRoot,
    policy: &IdentityPolicy,
    artifact: Option<&ArtifactDigest>,
) -> Result<KeylessVerified, KeylessError> {
    let bundle: Bundle =
        serde_json::from_slice(bundle).map_err(|e| KeylessError::Malformed(e.to_string()))?;
    verify_bundle(&bundle, root, policy, artifact)
}

/// Verifies a keyless Sigstore bundle given as parsed JSON. See [`verify_bundle`].
pub fn verify_bundle_value(
    bundle: &serde_json::Value,
    root: &TrustedRoot,
    policy: &IdentityPolicy,
    artifact: Option<&ArtifactDigest>,
) -> Result<KeylessVerified, KeylessError> {
    let bundle = Bundle::deserialize(bundle).map_err(|e| KeylessError::Malformed(e.to_string()))?;
    verify_bundle(&bundle, root, policy, artifact)
}

/// Verifies a keyless bundle offline against `root`, requiring `policy`'s identity and issuer.
///
/// For a DSSE bundle, `artifact` is optional: given, it must be a subject of the statement;
/// not given, the signature is still fully verified, and the caller matches the statement's
/// subjects against its artifacts (as `repro verify` and `rebuild` do). For a message-signature
/// bundle it is required.
pub fn verify_bundle(
    bundle: &Bundle,
    root: &TrustedRoot,
    policy: &IdentityPolicy,
    artifact: Option<&ArtifactDigest>,
) -> Result<KeylessVerified, KeylessError> {
    if let VerificationMaterialContent::PublicKey(key) = &bundle.verification_material.content {
        return Err(KeylessError::NotKeyless {
            hint: key.hint.clone(),
        });
    }
    if root.certificate_authorities() == 0 {
        return Err(KeylessError::NoCertificateAuthority);
    }
    let bound = match (&bundle.content, artifact) {
        (SignatureContent::DsseEnvelope(envelope), given) => {
            let statement = read_statement(bundle, envelope)?;
            match given {
                Some(digest) => digest.to_sigstore()?,
                // A changed byte can leave no readable subject digest: tampering, not input.
                None => subject_digest(&statement).map_err(|e| match e {
                    KeylessError::Malformed(reason) => unreadable_payload(bundle, envelope, reason),
                    other => other,
                })?,
            }
        }
        (SignatureContent::MessageSignature(_), Some(digest)) => digest.to_sigstore()?,
        (SignatureContent::MessageSignature(_), None) => return Err(KeylessError::DigestRequired),
        _ => return Err(unknown_content()),
    };

    // The exact identity is matched by sigstore-verify; a regexp after it verified everything
    // else with the issuer pinned, so both forms are checked before anything is returned.
    let mut sigstore_policy = VerificationPolicy::any_identity().require_issuer(policy.issuer());
    if let IdentityMatcher::Exact(identity) = policy.identity() {
        sigstore_policy = sigstore_policy.require_identity(identity.as_str());
    }
    let result = root
        .verifier()
        .verify(Artifact::from_digest(bound), bundle, &sigstore_policy)
        .map_err(KeylessError::from_sigstore)?;

    // Defence in depth: never report success unless every check we name really ran.
    for (ran, check) in [
        (result.certificate_verified(), "certificate chain"),
        (result.sct_verified(), "certificate transparency"),
        (result.tlog_verified(), "transparency log"),
        (result.identity_policy_checked(), "issuer"),
        (!result.verified_timestamps().is_empty(), "signing time"),
    ] {
        if !ran {
            return Err(KeylessError::Incomplete(check));
        }
    }
    let certificate = result
        .certificate()
        .and_then(CertificateIdentity::from_certificate)
        .ok_or_else(|| KeylessError::IdentityMismatch {
            expected: policy.identity().to_string(),
            actual: None,
        })?;
    if !policy.identity().matches(&certificate.identity) {
        return Err(KeylessError::IdentityMismatch {
            expected: policy.identity().to_string(),
            actual: Some(certificate.identity),
        });
    }
    if certificate.issuer != policy.issuer() {
        return Err(KeylessError::IssuerMismatch {
            expected: policy.issuer().to_owned(),
            actual: Some(certificate.issuer),
        });
    }

    let content = match &bundle.content {
        SignatureContent::DsseEnvelope(envelope) => VerifiedContent::Dsse {
            payload_type: envelope.payload_type.clone(),
            payload: envelope.payload.as_bytes().to_vec(),
        },
        SignatureContent::MessageSignature(_) => match artifact {
            Some(digest) => VerifiedContent::Message {
                digest: digest.clone(),
            },
            None => return Err(KeylessError::DigestRequired),
        },
        _ => return Err(unknown_content()),
    };
    let signing_times = signing_times(bundle, result.verified_timestamps());
    let mut checks = vec![
        Check::BundleStructure,
        Check::SigningTime,
        Check::CertificateChain,
        Check::CertificateTransparency,
        Check::Identity,
        Check::Issuer,
        Check::TransparencyLog,
        Check::Signature,
    ];
    if artifact.is_some() {
        checks.push(Check::ArtifactDigest);
    }
    checks.push(Check::LogEntryMatchesBundle);
    let log_entries = bundle
        .verification_material
        .tlog_entries
        .iter()
        .map(|entry| {
            let kind = entry.kind_version;
            format!("{} {}", kind.kind(), kind.version())
        })
        .collect();
    Ok(KeylessVerified {
        media_type: bundle.media_type().as_str().to_owned(),
        content,
        certificate,
        signing_times,
        log_entries,
        checks,
    })
}

fn unknown_content() -> KeylessError {
    KeylessError::Malformed("the bundle has neither a dsseEnvelope nor a messageSignature".into())
}

/// A digest the statement itself names, so that sigstore-verify's subject binding (which it
/// always makes for DSSE) holds without an artifact: the caller checks the subjects.
fn subject_digest(statement: &Statement) -> Result<SigstoreDigest, KeylessError> {
    let first_sha256 = statement.subject.iter().find_map(|s| s.digest.sha256);
    if let Some(hash) = first_sha256 {
        return Ok(SigstoreDigest::sha256(hash));
    }
    let first_sha512 = statement.subject.iter().find_map(|s| s.digest.sha512);
    match first_sha512 {
        Some(hash) => sha512_digest(hash.as_bytes()),
        None => Err(KeylessError::Malformed(
            "the statement has no subject with a sha256 or sha512 digest".into(),
        )),
    }
}

/// The in-toto statement of a DSSE bundle, which sigstore-verify needs to bind the envelope to
/// an artifact.
fn read_statement(bundle: &Bundle, envelope: &DsseEnvelope) -> Result<Statement, KeylessError> {
    if envelope.payload_type != INTOTO_PAYLOAD_TYPE {
        let reason = format!(
            "payloadType is {:?}, not an in-toto statement ({INTOTO_PAYLOAD_TYPE})",
            envelope.payload_type
        );
        return Err(unreadable_payload(bundle, envelope, reason));
    }
    serde_json::from_slice(envelope.payload.as_bytes()).map_err(|e| {
        let reason = format!("the payload is not an in-toto statement: {e}");
        unreadable_payload(bundle, envelope, reason)
    })
}

/// The error for a payload that cannot be read as a statement. A changed byte can make any
/// payload unreadable, and a tampered bundle must be a negative verdict (exit 1) rather than
/// unusable input (exit 2), so the certificate key's signature over it decides which it is.
/// This only classifies a failure; nothing passes on it.
fn unreadable_payload(bundle: &Bundle, envelope: &DsseEnvelope, reason: String) -> KeylessError {
    let signed = bundle
        .signing_certificate()
        .and_then(|certificate| parse_certificate_info(certificate).ok())
        .is_some_and(|info| {
            let scheme = info.key_algorithm.default_signing_scheme();
            verify_signature(&info.public_key, &envelope.pae(), &envelope.signature.sig, scheme).is_ok()
        });
    if signed {
        KeylessError::Malformed(reason)
    } else {
        KeylessError::SignatureInvalid(SigstoreError::SignatureInvalid(reason))
    }
}

/// Labels each verified time with its source: the integrated time of a log entry with a
/// signed entry timestamp, else an RFC 3161 timestamp (the only other kind sigstore-verify
/// accepts). Earliest first.
fn signing_times(bundle: &Bundle, verified: &[jiff::Timestamp]) -> Vec<SigningTime> {
    let logged: Vec<jiff::Timestamp> = bundle
        .verification_material
        .tlog_entries
        .iter()
        .filter(|entry| entry.inclusion_promise.is_some())
        .filter_map(|entry| entry.integrated_time)
        .collect();
    let mut times: Vec<SigningTime> = verified
        .iter()
        .map(|time| SigningTime {
            unix_seconds: time.as_second(),
            time: time.to_string(),
            source: if logged.contains(time) {
                TimeSource::TransparencyLog
            } else {
                TimeSource::SignedTimestamp
            },
        })
        .collect();
    times.sort_by_key(|time| time.unix_seconds);
    times.dedup();
    times
}
