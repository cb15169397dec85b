//! Verification, offline: the signature of an envelope or bundle, then what its statement says
//! against what the user expects (artifacts that must be subjects, `KEY=VALUE` expectations).
//! The result is data — how the signature was checked, what held, what was not checked — that
//! the CLI only prints.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde_json::Value;

use super::AttestError;
use super::keys::{Algorithm, PublicKey};
use crate::compare::source::Source;
use crate::intoto::{Bundle, Envelope, FormatError, PAYLOAD_TYPE, StatementType, VerificationMaterial};

/// How a signature was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureCheck {
    /// With a public key the user gave, identified by its securesystemslib keyid (computed from
    /// the key, never taken from the envelope).
    Key { algorithm: Algorithm, keyid: String },
}

/// A signed statement whose signature verified: the envelope (with the exact payload bytes),
/// the statement parsed from them, and how it was checked.
#[derive(Debug, Clone)]
pub struct Verified {
    pub envelope: Envelope,
    pub statement: Value,
    pub statement_type: StatementType,
    pub signature: SignatureCheck,
    /// A bundle's verification material (hint, certificates, log entries); `None` for a bare
    /// envelope.
    pub verification_material: Option<VerificationMaterial>,
}

/// `KEY=VALUE`: the value at a dotted path from the statement's root
/// (`predicate.verdicts.reproducible=true`), compared as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    pub key: String,
    pub value: String,
}

impl FromStr for Expectation {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (key, value) = text
            .split_once('=')
            .ok_or_else(|| format!("--expect {text:?}: use KEY=VALUE"))?;
        Ok(Expectation {
            key: key.to_string(),
            value: value.to_string(),
        })
    }
}

/// What the statement must hold beyond a valid signature.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Files that must be subjects (matched by sha256).
    pub artifacts: Vec<PathBuf>,
    pub expectations: Vec<Expectation>,
}

/// One artifact and the subject whose sha256 it has, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactCheck {
    pub path: PathBuf,
    pub sha256: String,
    /// The name of the first subject with that digest (`""` for a subject without a name).
    pub subject: Option<String>,
}

/// One expectation and what the statement holds at its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectationCheck {
    pub expectation: Expectation,
    pub found: Option<String>,
}

impl ExpectationCheck {
    pub fn holds(&self) -> bool {
        self.found.as_deref() == Some(self.expectation.value.as_str())
    }
}

/// What a verification did not look at, so that a reader does not assume it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotChecked {
    /// No artifact was given: nothing ties the statement to files.
    Artifacts,
    /// No expectation was given: the predicate was not looked at.
    Predicate,
    /// The bundle's transparency-log entries (a keyed verification is offline).
    TransparencyLog,
}

/// Why a verified statement still does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    NotASubject { path: PathBuf, sha256: String },
    Expectation(ExpectationCheck),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::NotASubject { path, sha256 } => {
                write!(f, "{} (sha256 {sha256}) is not a subject", path.display())
            }
            Problem::Expectation(ExpectationCheck {
                expectation,
                found: Some(found),
            }) => write!(
                f,
                "{} is {found:?}, expected {:?}",
                expectation.key, expectation.value
            ),
            Problem::Expectation(ExpectationCheck {
                expectation,
                found: None,
            }) => write!(
                f,
                "{} is absent, expected {:?}",
                expectation.key, expectation.value
            ),
        }
    }
}

/// The outcome of [`verify`] on a statement whose signature holds.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub signature: SignatureCheck,
    pub statement_type: StatementType,
    /// `predicateType`, when the statement has one.
    pub predicate_type: Option<String>,
    /// The predicate's own verdict (`verdict` in repro's rebuild attestation,
    /// `verificationResult` in a VSA), when it has one.
    pub verdict: Option<String>,
    /// How many subjects the statement names.
    pub subjects: usize,
    pub artifacts: Vec<ArtifactCheck>,
    pub expectations: Vec<ExpectationCheck>,
    pub not_checked: Vec<NotChecked>,
    pub verified: Verified,
}

impl Verdict {
    /// Everything that does not hold, artifacts first; empty when the verdict is VALID.
    pub fn problems(&self) -> Vec<Problem> {
        let artifacts = self
            .artifacts
            .iter()
            .filter(|a| a.subject.is_none())
            .map(|a| Problem::NotASubject {
                path: a.path.clone(),
                sha256: a.sha256.clone(),
            });
        let expectations = self
            .expectations
            .iter()
            .filter(|e| !e.holds())
            .cloned()
            .map(Problem::Expectation);
        artifacts.chain(expectations).collect()
    }

    pub fn holds(&self) -> bool {
        self.problems().is_empty()
    }
}

/// Reads a bare DSSE envelope or a Sigstore bundle (by its `dsseEnvelope` member).
fn read_signed(bytes: &[u8]) -> Result<(Envelope, Option<VerificationMaterial>), AttestError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| FormatError::NotJson(e.to_string()))?;
    if Bundle::is_bundle(&value) {
        let bundle = Bundle::from_value(&value)?;
        Ok((bundle.dsse_envelope, Some(bundle.verification_material)))
    } else {
        Ok((Envelope::from_value(&value, "")?, None))
    }
}

/// Checks the envelope's signature with `key` (keyids are ignored) and says how.
pub fn verify_envelope(envelope: &Envelope, key: &PublicKey) -> Result<SignatureCheck, AttestError> {
    envelope.verify(key)?;
    Ok(SignatureCheck::Key {
        algorithm: key.algorithm(),
        keyid: key.keyid()?,
    })
}

/// Verifies an envelope or bundle with `key`: the signature first, then the payload type, then
/// that the payload is an in-toto Statement (v1, or v0.1).
pub fn verify_attestation(bytes: &[u8], key: &PublicKey) -> Result<Verified, AttestError> {
    let (envelope, verification_material) = read_signed(bytes)?;
    let signature = verify_envelope(&envelope, key)?;
    if envelope.payload_type != PAYLOAD_TYPE {
        return Err(AttestError::PayloadType {
            found: envelope.payload_type,
        });
    }
    let statement: Value = serde_json::from_slice(&envelope.payload)
        .map_err(|e| AttestError::StatementMalformed(e.to_string()))?;
    let found = statement.get("_type").and_then(Value::as_str).unwrap_or("");
    let statement_type = StatementType::from_uri(found).ok_or_else(|| AttestError::StatementType {
        found: found.to_owned(),
    })?;
    Ok(Verified {
        envelope,
        statement,
        statement_type,
        signature,
        verification_material,
    })
}

/// Verifies the signature with `key`, then checks the statement against `policy`. An error is
/// an invalid signature or statement (see [`AttestError::is_invalid`]) or unreadable input; a
/// [`Verdict`] says whether the policy holds.
pub fn verify(bytes: &[u8], key: &PublicKey, policy: &Policy) -> Result<Verdict, AttestError> {
    let verified = verify_attestation(bytes, key)?;
    let statement = &verified.statement;
    let subjects = statement
        .get("subject")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut artifacts = Vec::with_capacity(policy.artifacts.len());
    for path in &policy.artifacts {
        let sha256 = sha256_file(path)?;
        let subject = subjects
            .iter()
            .find(|s| s.pointer("/digest/sha256").and_then(Value::as_str) == Some(sha256.as_str()))
            .map(|s| {
                s.get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            });
        artifacts.push(ArtifactCheck {
            path: path.clone(),
            sha256,
            subject,
        });
    }
    let expectations = policy
        .expectations
        .iter()
        .map(|e| ExpectationCheck {
            expectation: e.clone(),
            found: lookup(statement, &e.key),
        })
        .collect();
    let mut not_checked = Vec::new();
    if policy.artifacts.is_empty() {
        not_checked.push(NotChecked::Artifacts);
    }
    if policy.expectations.is_empty() {
        not_checked.push(NotChecked::Predicate);
    }
    if verified
        .verification_material
        .as_ref()
        .is_some_and(|m| !m.tlog_entries.is_empty())
    {
        not_checked.push(NotChecked::TransparencyLog);
    }
    let text = |pointer: &str| {
        statement
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    Ok(Verdict {
        signature: verified.signature.clone(),
        statement_type: verified.statement_type,
        predicate_type: text("/predicateType"),
        verdict: text("/predicate/verdict").or_else(|| text("/predicate/verificationResult")),
        subjects: subjects.len(),
        artifacts,
        expectations,
        not_checked,
        verified,
    })
}

/// sha256 of a file, streaming.
fn sha256_file(path: &Path) -> Result<String, AttestError> {
    Source::file(path)
        .sha256()
        .map_err(|source| AttestError::Artifact {
            path: path.to_path_buf(),
            source,
        })
}

/// The value at a dotted path, as text (strings unquoted, other JSON as written); array
/// elements by index.
fn lookup(v: &Value, path: &str) -> Option<String> {
    let mut cur = v;
    for part in path.split('.') {
        cur = match cur {
            Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            other => other.get(part)?,
        };
    }
    Some(match cur {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attest::{PrivateKey, sign_statement};

    fn signed(statement: &Value) -> (String, PublicKey) {
        let key = PrivateKey::generate(Algorithm::EcdsaP256).unwrap();
        let envelope = sign_statement(statement.to_string().as_bytes(), &key).unwrap();
        (envelope.to_json(), key.public_key())
    }

    #[test]
    fn expectations_parse_at_the_first_equals_sign() {
        let e: Expectation = "a.b=c=d".parse().unwrap();
        assert_eq!((e.key.as_str(), e.value.as_str()), ("a.b", "c=d"));
        assert_eq!(
            "nothing".parse::<Expectation>().unwrap_err(),
            "--expect \"nothing\": use KEY=VALUE"
        );
    }

    #[test]
    fn lookup_follows_objects_and_array_indices() {
        let v = serde_json::json!({ "a": { "b": [ "x", { "c": true } ] }, "n": null });
        assert_eq!(lookup(&v, "a.b.0").as_deref(), Some("x"));
        assert_eq!(lookup(&v, "a.b.1.c").as_deref(), Some("true"));
        assert_eq!(lookup(&v, "n").as_deref(), Some("null"));
        assert_eq!(lookup(&v, "a.b.2"), None);
        assert_eq!(lookup(&v, "a.b.x"), None);
        assert_eq!(lookup(&v, "a.missing"), None);
    }

    #[test]
    fn the_verdict_says_what_was_checked_and_what_not() {
        let dir = tempfile::tempdir().unwrap();
        let (art, other) = (dir.path().join("art"), dir.path().join("other"));
        std::fs::write(&art, b"artifact").unwrap();
        std::fs::write(&other, b"other").unwrap();
        let digest = crate::compare::source::sha256_hex(b"artifact");
        let statement = serde_json::json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{ "name": "art", "digest": { "sha256": digest } }],
            "predicateType": "https://example.com/p/v1",
            "predicate": { "verdict": "PASSED", "n": 2 },
        });
        let (text, key) = signed(&statement);

        let bare = verify(text.as_bytes(), &key, &Policy::default()).unwrap();
        assert!(bare.holds());
        assert_eq!(
            bare.signature,
            SignatureCheck::Key {
                algorithm: Algorithm::EcdsaP256,
                keyid: key.keyid().unwrap()
            }
        );
        assert_eq!(bare.statement_type, StatementType::V1);
        assert_eq!(bare.predicate_type.as_deref(), Some("https://example.com/p/v1"));
        assert_eq!(bare.verdict.as_deref(), Some("PASSED"));
        assert_eq!(bare.subjects, 1);
        assert_eq!(bare.not_checked, [NotChecked::Artifacts, NotChecked::Predicate]);

        let policy = Policy {
            artifacts: vec![art.clone(), other.clone()],
            expectations: vec!["predicate.n=2".parse().unwrap(), "predicate.x=1".parse().unwrap()],
        };
        let checked = verify(text.as_bytes(), &key, &policy).unwrap();
        assert!(checked.not_checked.is_empty());
        assert_eq!(checked.artifacts[0].subject.as_deref(), Some("art"));
        let problems: Vec<String> = checked.problems().iter().map(ToString::to_string).collect();
        assert_eq!(
            problems,
            [
                format!(
                    "{} (sha256 {}) is not a subject",
                    other.display(),
                    crate::compare::source::sha256_hex(b"other")
                ),
                "predicate.x is absent, expected \"1\"".to_string(),
            ]
        );
        assert!(!checked.holds());

        // An artifact that cannot be read is an error, not a verdict.
        let missing = Policy {
            artifacts: vec![dir.path().join("missing")],
            ..Policy::default()
        };
        let err = verify(text.as_bytes(), &key, &missing).unwrap_err();
        assert!(
            matches!(err, AttestError::Artifact { .. }) && !err.is_invalid(),
            "{err}"
        );
    }
}
