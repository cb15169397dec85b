//! Verification, offline: find the statement in whatever wraps it, check its signature, then
//! what it says against what is required — by default repro's rebuild attestation with verdict
//! PASSED, else the expectations the user states — and the artifacts that must be its
//! subjects. The result is data — how the signature was checked, what held, what was not
//! checked — that the CLI only prints.
//!
//! The steps are apart so that another way of checking a signature fits beside the key: a
//! keyless check (certificate chain, transparency log, identity policy) produces its own
//! [`SignatureCheck`] variant from the same [`Candidate`] and [`check_statement`] then does the rest.

use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde_json::Value;
use sha2::Digest as _;

use super::AttestError;
use super::keys::{Algorithm, PublicKey};
use crate::compare::source::Source;
use crate::intoto::{
    self, DigestSet, Envelope, FormatError, PAYLOAD_TYPE, SignedOver, StatementType, Summary,
    VerificationMaterial, Wrapper,
};

/// The predicate `repro verify` requires unless told otherwise: repro's rebuild attestation.
pub const DEFAULT_PREDICATE_TYPE: &str = "https://github.com/repro/repro/attestation/rebuild/v1";

/// How a signature was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureCheck {
    /// With a public key the user gave, identified by its securesystemslib keyid (computed from
    /// the key, never taken from the envelope). `raw_payload`: the signature covers the payload
    /// bytes themselves rather than their DSSE PAE (Cloud Build signs so).
    Key {
        algorithm: Algorithm,
        keyid: String,
        raw_payload: bool,
    },
}

impl SignatureCheck {
    /// `key` (with keyid), for reports: how the signature was checked.
    pub fn method(&self) -> &'static str {
        match self {
            SignatureCheck::Key { .. } => "key",
        }
    }
}

/// How a signature was checked, as attestations and reports record it:
/// `{"method": "key", "keyid": "…"}` (a keyless check records its identity and issuer).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "method", rename_all = "camelCase")]
#[non_exhaustive]
pub enum SignatureRecord {
    Key { keyid: String },
}

impl From<&SignatureCheck> for SignatureRecord {
    fn from(check: &SignatureCheck) -> Self {
        match check {
            SignatureCheck::Key { keyid, .. } => SignatureRecord::Key { keyid: keyid.clone() },
        }
    }
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
    pub wrapper: Wrapper,
    /// Where in the file the statement sits (empty for the whole file).
    pub location: String,
}

/// `KEY=VALUE`: the value at a dotted path from the statement's root
/// (`predicate.verdicts.reproducible=true`), compared as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    pub key: String,
    pub value: String,
}

impl Expectation {
    fn new(key: &str, value: &str) -> Self {
        Expectation {
            key: key.to_string(),
            value: value.to_string(),
        }
    }
}

impl FromStr for Expectation {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (key, value) = text
            .split_once('=')
            .ok_or_else(|| format!("--expect {text:?}: use KEY=VALUE"))?;
        Ok(Expectation::new(key, value))
    }
}

/// What the statement must hold beyond a valid signature.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Files that must be subjects (matched by sha256, or sha512 where that is all a subject has).
    pub artifacts: Vec<PathBuf>,
    /// Stated expectations; when there are none (and not `any_predicate`), the statement must
    /// be repro's rebuild attestation with verdict PASSED.
    pub expectations: Vec<Expectation>,
    /// Accept any predicate type without stating expectations.
    pub any_predicate: bool,
    /// In a file with several statements, the one with this subject (name, `ALG:HEX` or hex).
    pub subject: Option<String>,
}

impl Policy {
    /// The predicate type the policy names, if it names one.
    fn predicate_type(&self) -> Option<&str> {
        match self.expectations.iter().find(|e| e.key == "predicateType") {
            Some(e) => Some(&e.value),
            None if self.expectations.is_empty() && !self.any_predicate => Some(DEFAULT_PREDICATE_TYPE),
            None => None,
        }
    }
}

/// One artifact, its digest, and the subject that has it, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactCheck {
    pub path: PathBuf,
    /// `sha256`, or `sha512` when the subjects have only that.
    pub algorithm: &'static str,
    pub digest: String,
    /// The name of the first subject with that digest (`""` for a subject without a name).
    pub subject: Option<String>,
}

/// Where an expectation came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `--expect` on the command line.
    Stated,
    /// The default policy: repro's rebuild attestation with verdict PASSED.
    Default,
    /// The statement carries a verdict of its own: it must be PASSED unless an expectation is
    /// stated for it (a signed FAILED is not a valid attestation of anything).
    SignedVerdict,
}

/// One expectation and what the statement holds at its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectationCheck {
    pub expectation: Expectation,
    pub found: Option<String>,
    pub origin: Origin,
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
    /// No expectation applied: the predicate was not looked at.
    Predicate,
    /// The bundle's transparency-log entries (a keyed verification is offline).
    TransparencyLog,
    /// The bundle's certificate: only the key was checked, not the certificate's chain nor
    /// whose it is.
    Certificate,
}

impl fmt::Display for NotChecked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NotChecked::Artifacts => {
                "artifacts: none given (--artifact FILE), so nothing ties the statement to files"
            }
            NotChecked::Predicate => "the predicate: no expectation applied (--expect KEY=VALUE)",
            NotChecked::TransparencyLog => {
                "the transparency-log entries it carries: a keyed check is offline"
            }
            NotChecked::Certificate => {
                "the certificate it carries (chain, identity, issuer): only the key was checked"
            }
        })
    }
}

/// Why a verified statement still does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    NotASubject {
        path: PathBuf,
        algorithm: &'static str,
        digest: String,
    },
    Expectation(ExpectationCheck),
    /// A statement must be about at least one artifact.
    NoSubjects,
    /// Every subject needs a digest: subjects match by digest only.
    SubjectWithoutDigest {
        index: usize,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::NotASubject {
                path,
                algorithm,
                digest,
            } => write!(f, "{} ({algorithm} {digest}) is not a subject", path.display()),
            Problem::Expectation(check) => {
                let ExpectationCheck {
                    expectation, found, ..
                } = check;
                match found {
                    Some(found) => write!(
                        f,
                        "{} is {found:?}, expected {:?}",
                        expectation.key, expectation.value
                    )?,
                    None => write!(
                        f,
                        "{} is absent, expected {:?}",
                        expectation.key, expectation.value
                    )?,
                }
                match check.origin {
                    Origin::Stated => Ok(()),
                    Origin::Default => write!(
                        f,
                        " (by default verify requires repro's rebuild attestation with verdict PASSED: \
                         state what you require with --expect KEY=VALUE, or --any-predicate)"
                    ),
                    Origin::SignedVerdict => write!(
                        f,
                        " (a signed negative verdict is not valid evidence; --expect {}={} accepts it)",
                        expectation.key,
                        found.as_deref().unwrap_or("…")
                    ),
                }
            }
            Problem::NoSubjects => write!(f, "the statement has no subjects: it is about nothing"),
            Problem::SubjectWithoutDigest { index } => {
                write!(f, "subject[{index}] has no digest: subjects match by digest only")
            }
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
    /// The subjects: names (empty when unnamed) and digests.
    pub subject_list: Vec<(String, DigestSet)>,
    pub artifacts: Vec<ArtifactCheck>,
    pub expectations: Vec<ExpectationCheck>,
    pub not_checked: Vec<NotChecked>,
    /// Statements of the file other than this one, which were not verified.
    pub others: Vec<Summary>,
    pub verified: Verified,
}

impl Verdict {
    /// Everything that does not hold, subjects first; empty when the verdict is VALID.
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        if self.subject_list.is_empty() {
            problems.push(Problem::NoSubjects);
        }
        problems.extend(
            self.subject_list
                .iter()
                .enumerate()
                .filter(|(_, (_, digest))| digest.is_empty())
                .map(|(index, _)| Problem::SubjectWithoutDigest { index }),
        );
        problems.extend(self.artifacts.iter().filter(|a| a.subject.is_none()).map(|a| {
            Problem::NotASubject {
                path: a.path.clone(),
                algorithm: a.algorithm,
                digest: a.digest.clone(),
            }
        }));
        problems.extend(
            self.expectations
                .iter()
                .filter(|e| !e.holds())
                .cloned()
                .map(Problem::Expectation),
        );
        problems
    }

    pub fn holds(&self) -> bool {
        self.problems().is_empty()
    }
}

/// A statement found in the input, with the line of its document (`.intoto.jsonl`).
#[derive(Debug, Clone)]
pub struct Candidate {
    pub line: usize,
    pub found: intoto::Found,
}

/// Every statement of the input: one JSON document or several (`.intoto.jsonl`), each in any
/// wrapper [`intoto::statements_in`] reads.
pub fn candidates(bytes: &[u8]) -> Result<Vec<Candidate>, AttestError> {
    let documents = crate::provenance::documents(bytes).map_err(|e| FormatError::NotJson(e.to_string()))?;
    let mut all = Vec::new();
    for (line, value, raw) in documents {
        for found in intoto::statements_in(&value, raw)? {
            all.push(Candidate { line, found });
        }
    }
    Ok(all)
}

/// Picks the statement to verify: the one with the policy's subject, then (among several) the
/// one of the predicate type the policy names, then the one `key` signed. Several left is an
/// error listing them; none with the subject is an invalid verdict.
pub fn select(
    all: Vec<Candidate>,
    policy: &Policy,
    key: &PublicKey,
) -> Result<(Candidate, Vec<Summary>), AttestError> {
    let summaries: Vec<Summary> = all.iter().map(|c| c.found.summary()).collect();
    let mut left: Vec<(Candidate, Summary)> = all.into_iter().zip(summaries.iter().cloned()).collect();
    if let Some(subject) = &policy.subject {
        left.retain(|(_, s)| s.has_subject(subject));
        if left.is_empty() {
            return Err(AttestError::NoSuchStatement {
                wanted: format!("with subject `{subject}`"),
                available: summaries,
            });
        }
    }
    let narrow = |left: &mut Vec<(Candidate, Summary)>, keep: &dyn Fn(&(Candidate, Summary)) -> bool| {
        if left.len() > 1 && left.iter().any(keep) {
            left.retain(keep);
        }
    };
    if let Some(wanted) = policy.predicate_type() {
        narrow(&mut left, &|(_, s)| s.predicate_type.as_deref() == Some(wanted));
    }
    narrow(&mut left, &|(c, _)| check_signature(&c.found, key).is_ok());
    if left.len() > 1 {
        return Err(AttestError::SeveralStatements {
            available: left.into_iter().map(|(_, s)| s).collect(),
        });
    }
    let (chosen, summary) = left.pop().ok_or(AttestError::Malformed(FormatError::Missing {
        field: "_type".to_string(),
    }))?;
    let others = summaries.into_iter().filter(|s| *s != summary).collect();
    Ok((chosen, others))
}

/// Checks the signature of a found statement with `key` (keyids are ignored) and says how.
pub fn check_signature(found: &intoto::Found, key: &PublicKey) -> Result<SignatureCheck, AttestError> {
    let signed = found.signed.as_ref().ok_or(AttestError::Unsigned)?;
    verify_signed(&signed.envelope, signed.signed_over, key)
}

/// Checks an envelope's signature with `key`, over what `signed_over` says it covers.
pub fn verify_signed(
    envelope: &Envelope,
    signed_over: SignedOver,
    key: &PublicKey,
) -> Result<SignatureCheck, AttestError> {
    let check = |raw_payload| -> Result<SignatureCheck, AttestError> {
        Ok(SignatureCheck::Key {
            algorithm: key.algorithm(),
            keyid: key.keyid()?,
            raw_payload,
        })
    };
    match envelope.verify(key) {
        Ok(()) => check(false),
        Err(AttestError::SignatureInvalid) if signed_over == SignedOver::PaeOrPayload => {
            let raw = envelope
                .signatures
                .iter()
                .any(|s| key.verify(&envelope.payload, &s.sig).is_ok());
            if raw {
                check(true)
            } else {
                Err(AttestError::SignatureInvalid)
            }
        }
        Err(e) => Err(e),
    }
}

/// Checks a DSSE envelope's signature (over its PAE) with `key` and says how.
pub fn verify_envelope(envelope: &Envelope, key: &PublicKey) -> Result<SignatureCheck, AttestError> {
    verify_signed(envelope, SignedOver::Pae, key)
}

/// Verifies the statement `key` signed in `bytes` (any wrapper): the signature first, then the
/// payload type, then that the payload is an in-toto Statement (v1, or v0.1).
pub fn verify_attestation(bytes: &[u8], key: &PublicKey) -> Result<Verified, AttestError> {
    let policy = Policy {
        any_predicate: true,
        ..Policy::default()
    };
    let (candidate, _) = select(candidates(bytes)?, &policy, key)?;
    verify_candidate(candidate, key)
}

/// The signature of one candidate, then its payload type and statement type.
fn verify_candidate(candidate: Candidate, key: &PublicKey) -> Result<Verified, AttestError> {
    let signature = check_signature(&candidate.found, key)?;
    let intoto::Found {
        wrapper,
        location,
        signed,
        ..
    } = candidate.found;
    let signed = signed.ok_or(AttestError::Unsigned)?;
    let envelope = signed.envelope;
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
        verification_material: signed.verification_material,
        wrapper,
        location,
    })
}

/// Verifies the signature with `key`, then checks the statement against `policy`. An error is
/// an invalid signature or statement (see [`AttestError::is_invalid`]) or unreadable input; a
/// [`Verdict`] says whether the policy holds.
pub fn verify(bytes: &[u8], key: &PublicKey, policy: &Policy) -> Result<Verdict, AttestError> {
    let (candidate, others) = select(candidates(bytes)?, policy, key)?;
    let verified = verify_candidate(candidate, key)?;
    let mut verdict = check_statement(verified, policy)?;
    verdict.others = others;
    Ok(verdict)
}

/// Checks a verified statement against `policy`: subjects, artifacts, expectations (stated, or
/// the default), the statement's own verdict; and lists what was not checked.
pub fn check_statement(verified: Verified, policy: &Policy) -> Result<Verdict, AttestError> {
    let statement = &verified.statement;
    let subject_list = intoto::subjects_of(statement);
    let mut artifacts = Vec::with_capacity(policy.artifacts.len());
    for path in &policy.artifacts {
        artifacts.push(check_artifact(path, &subject_list)?);
    }
    let mut wanted: Vec<(Expectation, Origin)> = policy
        .expectations
        .iter()
        .map(|e| (e.clone(), Origin::Stated))
        .collect();
    if policy.expectations.is_empty() && !policy.any_predicate {
        wanted.push((
            Expectation::new("predicateType", DEFAULT_PREDICATE_TYPE),
            Origin::Default,
        ));
        wanted.push((Expectation::new("predicate.verdict", "PASSED"), Origin::Default));
    }
    for key in ["predicate.verdict", "predicate.verificationResult"] {
        if lookup(statement, key).is_some() && !wanted.iter().any(|(e, _)| e.key == key) {
            wanted.push((Expectation::new(key, "PASSED"), Origin::SignedVerdict));
        }
    }
    let expectations: Vec<ExpectationCheck> = wanted
        .into_iter()
        .map(|(expectation, origin)| ExpectationCheck {
            found: lookup(statement, &expectation.key),
            expectation,
            origin,
        })
        .collect();
    let mut not_checked = Vec::new();
    if policy.artifacts.is_empty() {
        not_checked.push(NotChecked::Artifacts);
    }
    if expectations.is_empty() {
        not_checked.push(NotChecked::Predicate);
    }
    if let Some(material) = &verified.verification_material {
        if material.certificate.is_some() || material.x509_certificate_chain.is_some() {
            not_checked.push(NotChecked::Certificate);
        }
        if !material.tlog_entries.is_empty() {
            not_checked.push(NotChecked::TransparencyLog);
        }
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
        subjects: subject_list.len(),
        subject_list,
        artifacts,
        expectations,
        not_checked,
        others: Vec::new(),
        verified,
    })
}

/// For `verify --threshold`: each sha256 subject digest of the verdicts that hold, with the
/// distinct signers (keyids) that attest it. Verdicts that do not hold count for nothing.
pub fn signers_by_digest<'a>(
    verdicts: impl IntoIterator<Item = &'a Verdict>,
) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut signers = std::collections::BTreeMap::<String, std::collections::BTreeSet<String>>::new();
    for verdict in verdicts.into_iter().filter(|v| v.holds()) {
        let SignatureRecord::Key { keyid } = SignatureRecord::from(&verdict.signature);
        for (_, digest) in &verdict.subject_list {
            if let Some(sha256) = digest.get("sha256") {
                signers
                    .entry(sha256.to_ascii_lowercase())
                    .or_default()
                    .insert(keyid.clone());
            }
        }
    }
    signers
}

/// An artifact's digest, by sha256 unless the subjects carry only sha512, streaming, and the
/// subject that has it.
fn check_artifact(path: &Path, subjects: &[(String, DigestSet)]) -> Result<ArtifactCheck, AttestError> {
    let has = |alg: &str| subjects.iter().any(|(_, d)| d.contains_key(alg));
    let algorithm = if !has("sha256") && has("sha512") {
        "sha512"
    } else {
        "sha256"
    };
    let artifact_error = |source| AttestError::Artifact {
        path: path.to_path_buf(),
        source,
    };
    let digest = if algorithm == "sha256" {
        Source::file(path).sha256().map_err(artifact_error)?
    } else {
        sha512_file(path).map_err(artifact_error)?
    };
    let subject = subjects
        .iter()
        .find(|(_, d)| d.get(algorithm).is_some_and(|v| v.eq_ignore_ascii_case(&digest)))
        .map(|(name, _)| name.clone());
    Ok(ArtifactCheck {
        path: path.to_path_buf(),
        algorithm,
        digest,
        subject,
    })
}

/// sha512 of a file, read to its end in blocks (never trusting a size the file reports).
fn sha512_file(path: &Path) -> std::io::Result<String> {
    let mut file = fs_err::File::open(path)?;
    let mut hasher = sha2::Sha512::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(buf.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(hex::encode(hasher.finalize()))
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
        let any = Policy {
            any_predicate: true,
            ..Policy::default()
        };

        let bare = verify(text.as_bytes(), &key, &any).unwrap();
        assert!(bare.holds(), "{:?}", bare.problems());
        assert_eq!(
            bare.signature,
            SignatureCheck::Key {
                algorithm: Algorithm::EcdsaP256,
                keyid: key.keyid().unwrap(),
                raw_payload: false,
            }
        );
        assert_eq!(bare.statement_type, StatementType::V1);
        assert_eq!(bare.predicate_type.as_deref(), Some("https://example.com/p/v1"));
        assert_eq!(bare.verdict.as_deref(), Some("PASSED"));
        assert_eq!(bare.subjects, 1);
        // The statement's own verdict was checked, so the predicate was looked at.
        assert_eq!(bare.not_checked, [NotChecked::Artifacts]);
        assert_eq!(bare.expectations[0].origin, Origin::SignedVerdict);

        // By default, only repro's rebuild attestation is valid.
        let default = verify(text.as_bytes(), &key, &Policy::default()).unwrap();
        let problems: Vec<String> = default.problems().iter().map(ToString::to_string).collect();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with(&format!(
                "predicateType is \"https://example.com/p/v1\", expected \"{DEFAULT_PREDICATE_TYPE}\" (by default"
            )),
            "{problems:?}"
        );

        let policy = Policy {
            artifacts: vec![art.clone(), other.clone()],
            expectations: vec!["predicate.n=2".parse().unwrap(), "predicate.x=1".parse().unwrap()],
            ..Policy::default()
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

    /// A policy of one stated expectation.
    fn expecting(expectation: &str) -> Policy {
        Policy {
            expectations: vec![expectation.parse().unwrap()],
            ..Policy::default()
        }
    }

    fn rebuild_statement(verdict: &str, subjects: Value) -> Value {
        serde_json::json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": subjects,
            "predicateType": DEFAULT_PREDICATE_TYPE,
            "predicate": { "verdict": verdict },
        })
    }

    fn problems(text: &str, key: &PublicKey, policy: &Policy) -> Vec<String> {
        let verdict = verify(text.as_bytes(), key, policy).unwrap();
        verdict.problems().iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_signed_failed_verdict_is_invalid_unless_expected() {
        let subjects = serde_json::json!([{ "name": "a", "digest": { "sha256": "00" } }]);
        let (text, key) = signed(&rebuild_statement("FAILED", subjects));
        let found = problems(&text, &key, &Policy::default());
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("predicate.verdict is \"FAILED\", expected \"PASSED\""));
        let any = Policy {
            any_predicate: true,
            ..Policy::default()
        };
        let found = problems(&text, &key, &any);
        assert!(
            found[0].contains("a signed negative verdict is not valid evidence"),
            "{found:?}"
        );
        let expected = Policy {
            expectations: vec!["predicate.verdict=FAILED".parse().unwrap()],
            ..Policy::default()
        };
        assert!(problems(&text, &key, &expected).is_empty());
        // A VSA's verificationResult too.
        let vsa = serde_json::json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{ "name": "a", "digest": { "sha256": "00" } }],
            "predicateType": "https://slsa.dev/verification_summary/v1",
            "predicate": { "verificationResult": "FAILED" },
        });
        let (text, key) = signed(&vsa);
        let stated = expecting("predicateType=https://slsa.dev/verification_summary/v1");
        let found = problems(&text, &key, &stated);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("predicate.verificationResult is \"FAILED\""));
    }

    #[test]
    fn a_statement_must_have_subjects_with_digests() {
        let (text, key) = signed(&rebuild_statement("PASSED", serde_json::json!([])));
        assert_eq!(
            problems(&text, &key, &Policy::default()),
            ["the statement has no subjects: it is about nothing"]
        );
        let (text, key) = signed(&rebuild_statement("PASSED", serde_json::json!([{ "name": "a" }])));
        assert_eq!(
            problems(&text, &key, &Policy::default()),
            ["subject[0] has no digest: subjects match by digest only"]
        );
        let (text, key) = signed(&serde_json::json!({
            "_type": "https://in-toto.io/Statement/v1",
            "predicateType": DEFAULT_PREDICATE_TYPE,
            "predicate": { "verdict": "PASSED" },
        }));
        assert_eq!(
            problems(&text, &key, &Policy::default()),
            ["the statement has no subjects: it is about nothing"]
        );
    }

    #[test]
    fn artifacts_match_sha512_subjects() {
        let dir = tempfile::tempdir().unwrap();
        let art = dir.path().join("pkg.tgz");
        std::fs::write(&art, b"package").unwrap();
        let sha512 = hex::encode(sha2::Sha512::digest(b"package"));
        let (text, key) = signed(&rebuild_statement(
            "PASSED",
            serde_json::json!([{ "name": "pkg:npm/x@1", "digest": { "sha512": sha512.to_uppercase() } }]),
        ));
        let policy = Policy {
            artifacts: vec![art],
            ..Policy::default()
        };
        let verdict = verify(text.as_bytes(), &key, &policy).unwrap();
        assert!(verdict.holds(), "{:?}", verdict.problems());
        assert_eq!(verdict.artifacts[0].algorithm, "sha512");
        assert_eq!(verdict.artifacts[0].subject.as_deref(), Some("pkg:npm/x@1"));
    }

    #[test]
    fn a_keyed_check_of_a_bundle_with_a_certificate_says_only_the_key_was_checked() {
        let key = PrivateKey::generate(Algorithm::EcdsaP256).unwrap();
        let statement = rebuild_statement(
            "PASSED",
            serde_json::json!([{ "name": "a", "digest": { "sha256": "00" } }]),
        );
        let envelope =
            crate::intoto::Envelope::sign(PAYLOAD_TYPE, statement.to_string().into_bytes(), &key, false)
                .unwrap();
        let bundle = serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {
                "certificate": { "rawBytes": "MIIB" },
                "tlogEntries": [{ "logIndex": "1" }],
            },
            "dsseEnvelope": serde_json::to_value(&envelope).unwrap(),
        });
        let verdict = verify(
            bundle.to_string().as_bytes(),
            &key.public_key(),
            &Policy::default(),
        )
        .unwrap();
        assert!(verdict.holds());
        assert_eq!(
            verdict.not_checked,
            [
                NotChecked::Artifacts,
                NotChecked::Certificate,
                NotChecked::TransparencyLog
            ]
        );
        assert_eq!(verdict.verified.wrapper.kind(), "sigstore-bundle");
    }

    #[test]
    fn unsigned_statements_are_invalid() {
        let statement = rebuild_statement(
            "PASSED",
            serde_json::json!([{ "name": "a", "digest": { "sha256": "00" } }]),
        );
        let key = PrivateKey::generate(Algorithm::EcdsaP256).unwrap().public_key();
        let err = verify(statement.to_string().as_bytes(), &key, &Policy::default()).unwrap_err();
        assert!(matches!(err, AttestError::Unsigned) && err.is_invalid(), "{err}");
    }

    #[test]
    fn several_statements_are_picked_by_subject_predicate_type_or_key() {
        let key = PrivateKey::generate(Algorithm::EcdsaP256).unwrap();
        let other_key = PrivateKey::generate(Algorithm::EcdsaP256).unwrap();
        let line = |statement: &Value, k: &PrivateKey| {
            sign_statement(statement.to_string().as_bytes(), k)
                .unwrap()
                .to_json()
        };
        let a = rebuild_statement(
            "PASSED",
            serde_json::json!([{ "name": "a", "digest": { "sha256": "aa" } }]),
        );
        let b = rebuild_statement(
            "PASSED",
            serde_json::json!([{ "name": "b", "digest": { "sha256": "bb" } }]),
        );
        let mut c = b.clone();
        c["predicateType"] = "https://example.com/other".into();
        let jsonl = format!(
            "{}\n{}\n{}\n",
            line(&a, &key),
            line(&b, &key),
            line(&c, &other_key)
        );
        let public = key.public_key();
        // Two rebuild attestations signed by the key: ambiguous without --subject.
        let err = verify(jsonl.as_bytes(), &public, &Policy::default()).unwrap_err();
        assert!(
            matches!(err, AttestError::SeveralStatements { .. }) && !err.is_invalid(),
            "{err}"
        );
        assert!(err.to_string().contains("the document: "), "{err}");
        let pick = |subject: &str, policy: Policy| {
            verify(
                jsonl.as_bytes(),
                &public,
                &Policy {
                    subject: Some(subject.into()),
                    ..policy
                },
            )
        };
        let verdict = pick("a", Policy::default()).unwrap();
        assert_eq!(verdict.subject_list[0].0, "a");
        assert_eq!(verdict.others.len(), 2);
        // b has two statements; the predicate type, then the key, tells them apart.
        let verdict = pick("sha256:bb", Policy::default()).unwrap();
        assert_eq!(verdict.predicate_type.as_deref(), Some(DEFAULT_PREDICATE_TYPE));
        let any = Policy {
            any_predicate: true,
            ..Policy::default()
        };
        assert_eq!(
            pick("bb", any.clone()).unwrap().predicate_type.as_deref(),
            Some(DEFAULT_PREDICATE_TYPE)
        );
        let err = pick("nothing", any).unwrap_err();
        assert!(
            matches!(err, AttestError::NoSuchStatement { .. }) && err.is_invalid(),
            "{err}"
        );
    }

    #[test]
    fn signers_are_counted_per_digest_once_each() {
        let subjects = |d: &str| serde_json::json!([{ "name": "a", "digest": { "sha256": d } }]);
        let k1 = PrivateKey::generate(Algorithm::EcdsaP256).unwrap();
        let k2 = PrivateKey::generate(Algorithm::Ed25519).unwrap();
        let verdict = |statement: &Value, key: &PrivateKey| {
            let text = sign_statement(statement.to_string().as_bytes(), key)
                .unwrap()
                .to_json();
            verify(text.as_bytes(), &key.public_key(), &Policy::default()).unwrap()
        };
        let all = [
            verdict(&rebuild_statement("PASSED", subjects("AA")), &k1),
            verdict(&rebuild_statement("PASSED", subjects("aa")), &k1),
            verdict(&rebuild_statement("PASSED", subjects("aa")), &k2),
            verdict(&rebuild_statement("FAILED", subjects("bb")), &k2),
        ];
        let signers = signers_by_digest(&all);
        assert_eq!(signers.len(), 1, "{signers:?}");
        assert_eq!(signers["aa"].len(), 2);
    }

    #[test]
    fn real_wrappers_verify_with_their_keys() {
        use crate::shared_fixtures::{SLSA_VERIFIER, read};
        // Google's VSA, signed raw r‖s over the PAE.
        let dir = format!("{SLSA_VERIFIER}/vsa/gce/v1");
        let (Some(vsa), Some(pem)) = (
            read(&format!("{dir}/gke-gce-pre.bcid-vsa.jsonl")),
            read(&format!("{dir}/vsa_signing_public_key.pem")),
        ) else {
            return;
        };
        let key = PublicKey::from_pem(std::str::from_utf8(&pem).unwrap()).unwrap();
        let stated = expecting("predicateType=https://slsa.dev/verification_summary/v1");
        let verdict = verify(&vsa, &key, &stated).unwrap();
        assert!(verdict.holds(), "{:?}", verdict.problems());
        assert_eq!(verdict.verdict.as_deref(), Some("PASSED"));
        // Its subject's only digest is a GCE image id.
        assert_eq!(
            verdict.subject_list[0].1.get("gce_image_id").map(String::as_str),
            Some("8970095005306000053")
        );
        // Cloud Build: its regional key signs the raw payload.
        let keys = "provenance/slsa-framework+slsa-verifier/verifiers/internal/gcb/keys/materials";
        for (version, region) in [("v0.2", "global"), ("v0.3", "us-west2")] {
            let (Some(doc), Some(pem)) = (
                read(&format!(
                    "{SLSA_VERIFIER}/gcb_container/{version}/gcloud-container-github.json"
                )),
                read(&format!("{keys}/{region}.key")),
            ) else {
                return;
            };
            let key = PublicKey::from_pem(std::str::from_utf8(&pem).unwrap()).unwrap();
            let policy = Policy {
                expectations: vec!["predicateType=https://slsa.dev/provenance/v0.1".parse().unwrap()],
                ..Policy::default()
            };
            let verdict = verify(&doc, &key, &policy).unwrap();
            assert!(verdict.holds(), "{:?}", verdict.problems());
            assert!(matches!(
                verdict.signature,
                SignatureCheck::Key {
                    raw_payload: true,
                    ..
                }
            ));
            // The PAE key is not the one that signed.
            let pae = read(&format!("{keys}/global-pae.key")).unwrap();
            let pae = PublicKey::from_pem(std::str::from_utf8(&pae).unwrap()).unwrap();
            assert!(matches!(
                verify(&doc, &pae, &policy),
                Err(AttestError::SignatureInvalid)
            ));
        }
    }
}
