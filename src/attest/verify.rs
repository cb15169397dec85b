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
use crate::sigstore::{CertificateIdentity, SigningTime, WorkflowClaims};

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
    /// Keylessly ([`crate::sigstore`]): the certificate chains to the trusted root, was valid
    /// at the verified signing time, its SCT and transparency-log entries verify, and its
    /// identity and issuer satisfy the identity policy. `certificate` is the signer (identity,
    /// issuer, workflow claims) as the verified certificate names it.
    Keyless {
        certificate: Box<CertificateIdentity>,
        /// The verified signing times, earliest first.
        signing_times: Vec<SigningTime>,
        /// The verified transparency-log entries' kinds (`dsse 0.0.1`, …).
        log_entries: Vec<String>,
    },
}

impl SignatureCheck {
    /// `key` or `keyless`, for reports: how the signature was checked.
    pub fn method(&self) -> &'static str {
        match self {
            SignatureCheck::Key { .. } => "key",
            SignatureCheck::Keyless { .. } => "keyless",
        }
    }

    /// Who signed, for counting distinct signers: the keyid, or the certificate's identity
    /// and issuer.
    pub fn signer(&self) -> String {
        match self {
            SignatureCheck::Key { keyid, .. } => keyid.clone(),
            SignatureCheck::Keyless { certificate, .. } => {
                format!("{} ({})", certificate.identity, certificate.issuer)
            }
        }
    }
}

/// How a signature was checked, as attestations and reports record it:
/// `{"method": "key", "keyid": "…"}`, or `{"method": "keyless", "identity": "…", "issuer":
/// "…", "claims": {…}, "signingTime": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "method", rename_all = "camelCase", rename_all_fields = "camelCase")]
#[non_exhaustive]
pub enum SignatureRecord {
    Key {
        keyid: String,
    },
    Keyless {
        identity: String,
        issuer: String,
        /// The certificate's workflow claims (source repository, ref, commit, …), when it
        /// carries any.
        #[serde(skip_serializing_if = "no_claims")]
        claims: Box<WorkflowClaims>,
        /// The earliest verified signing time, RFC 3339.
        #[serde(skip_serializing_if = "Option::is_none")]
        signing_time: Option<String>,
    },
}

fn no_claims(claims: &WorkflowClaims) -> bool {
    claims.is_empty()
}

impl From<&SignatureCheck> for SignatureRecord {
    fn from(check: &SignatureCheck) -> Self {
        match check {
            SignatureCheck::Key { keyid, .. } => SignatureRecord::Key { keyid: keyid.clone() },
            SignatureCheck::Keyless {
                certificate,
                signing_times,
                ..
            } => SignatureRecord::Keyless {
                identity: certificate.identity.clone(),
                issuer: certificate.issuer.clone(),
                claims: Box::new(certificate.workflow.clone()),
                signing_time: signing_times.first().map(|t| t.time.clone()),
            },
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

    /// `certificate.NAME`: a claim of the verified signing certificate (see
    /// [`crate::sigstore::CERTIFICATE_FIELDS`]), not a field of the statement.
    pub fn certificate_field(&self) -> Option<&str> {
        self.key.strip_prefix("certificate.")
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
            None if self.requires_default() => Some(DEFAULT_PREDICATE_TYPE),
            None => None,
        }
    }

    /// Whether the default (repro's rebuild attestation with verdict PASSED) applies: no
    /// expectation about the statement is stated and not `any_predicate`. Expectations on the
    /// certificate say *who* signed, not *what*, so they do not replace it.
    fn requires_default(&self) -> bool {
        !self.any_predicate && self.expectations.iter().all(|e| e.certificate_field().is_some())
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
/// one of the predicate type the policy names, then one `verifiable` accepts (signed by the
/// key; carrying a certificate). Several left is an error listing them; none with the subject
/// is an invalid verdict.
pub fn select(
    all: Vec<Candidate>,
    policy: &Policy,
    verifiable: impl Fn(&intoto::Found) -> bool,
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
    narrow(&mut left, &|(c, _)| verifiable(&c.found));
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
    let (candidate, _) = select(candidates(bytes)?, &policy, signed_by(key))?;
    let signature = check_signature(&candidate.found, key)?;
    into_verified(candidate, signature)
}

/// For [`select`]: whether `key` signed a found statement.
fn signed_by(key: &PublicKey) -> impl Fn(&intoto::Found) -> bool + '_ {
    move |found| check_signature(found, key).is_ok()
}

/// A candidate whose signature verified (as `signature` says), once its payload type and
/// statement type are checked.
pub(super) fn into_verified(
    candidate: Candidate,
    signature: SignatureCheck,
) -> Result<Verified, AttestError> {
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
    let (candidate, others) = select(candidates(bytes)?, policy, signed_by(key))?;
    let signature = check_signature(&candidate.found, key)?;
    let verified = into_verified(candidate, signature)?;
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
    if policy.requires_default() {
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
            found: match (expectation.certificate_field(), &verified.signature) {
                (Some(name), SignatureCheck::Keyless { certificate, .. }) => {
                    certificate.field(name).map(str::to_string)
                }
                // A key vouches for no certificate claim.
                (Some(_), SignatureCheck::Key { .. }) => None,
                (None, _) => lookup(statement, &expectation.key),
            },
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
    if let (Some(material), SignatureCheck::Key { .. }) =
        (&verified.verification_material, &verified.signature)
    {
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
/// distinct signers (keyids, or keyless identities) that attest it. Verdicts that do not hold count for nothing.
pub fn signers_by_digest<'a>(
    verdicts: impl IntoIterator<Item = &'a Verdict>,
) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut signers = std::collections::BTreeMap::<String, std::collections::BTreeSet<String>>::new();
    for verdict in verdicts.into_iter().filter(|v| v.holds()) {
        let signer = verdict.signature.signer();
        for (_, digest) in &verdict.subject_list {
            if let Some(sha256) = digest.get("sha256") {
                signers
                    .entry(sha256.to_ascii_lowercase())
                    .or_default()
                    .insert(signer.clone());
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
mod tests;
