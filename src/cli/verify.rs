//! `repro verify`: check an attestation's signature, then what its statement says — by default
//! that it is repro's rebuild attestation with verdict PASSED — and print what was checked and
//! what was not.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Args;

use super::{Output, UserError};
use crate::attest::{self, Expectation, Origin, Policy, PublicKey, SignatureCheck, Verdict};
use crate::compare::members::shown_name;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The attestation: a DSSE envelope, a Sigstore bundle, an `.intoto.jsonl`, npm's
    /// attestations document, a PEP 740 attestation or PyPI provenance object, or gcloud
    /// --show-provenance output. Several with --threshold.
    #[arg(required = true, num_args = 1..)]
    pub attestation: Vec<PathBuf>,
    /// The signer's public key (PEM); several with --threshold, one per signer.
    #[arg(long, value_name = "PUB", required = true)]
    pub key: Vec<PathBuf>,
    /// Valid when at least N distinct signers (among --key) attest, each valid under the
    /// policy, the same artifact digest (each --artifact's, if given).
    #[arg(long, value_name = "N")]
    pub threshold: Option<usize>,
    /// Files that must be subjects of the statement (matched by sha256, or sha512).
    #[arg(long, value_name = "FILE")]
    pub artifact: Vec<PathBuf>,
    /// KEY=VALUE the statement must hold; KEY is a dotted path from the statement's root
    /// (`predicateType=…`, `predicate.verdicts.reproducible=true`). Stated expectations replace
    /// the default (repro's rebuild attestation with verdict PASSED).
    #[arg(long, value_name = "KEY=VALUE")]
    pub expect: Vec<String>,
    /// Accept any predicate type without stating expectations (a signed verdict of its own
    /// must still be PASSED).
    #[arg(long)]
    pub any_predicate: bool,
    /// In a file with several statements, the one with this subject (name, ALG:HEX or hex).
    #[arg(long, value_name = "NAME|DIGEST")]
    pub subject: Option<String>,
}

pub fn run(args: VerifyArgs, out: &Output) -> anyhow::Result<i32> {
    let malformed = |what: String| -> anyhow::Error { UserError::new(what, None).into() };
    let keys = args
        .key
        .iter()
        .map(|path| {
            PublicKey::from_file(path)
                .map(|key| (path.display().to_string(), key))
                .map_err(|e| malformed(format!("cannot use the key {}: {e}", path.display())))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let policy = Policy {
        artifacts: args.artifact.clone(),
        expectations: args
            .expect
            .iter()
            .map(|e| e.parse::<Expectation>())
            .collect::<Result<_, _>>()
            .map_err(malformed)?,
        any_predicate: args.any_predicate,
        subject: args.subject.clone(),
    };
    let threshold = args.threshold.unwrap_or(1);
    if threshold == 0 {
        return Err(malformed("--threshold must be at least 1".into()));
    }
    if let ([path], [(key_path, key)], None) = (args.attestation.as_slice(), keys.as_slice(), args.threshold)
    {
        return match verify_one(path, key, &policy)? {
            Err(invalid) => {
                out.stdout(&format!("INVALID: {invalid}\n"))?;
                Ok(1)
            }
            Ok(verdict) => {
                out.stdout(&render(&verdict, key_path))?;
                Ok(if verdict.holds() { 0 } else { 1 })
            }
        };
    }
    let mut text = String::new();
    let mut verdicts = Vec::new();
    for path in &args.attestation {
        let mut outcome = Err("no signature verifies with any of the keys given".to_string());
        for (key_path, key) in &keys {
            match verify_one(path, key, &policy)? {
                Err(attest::AttestError::SignatureInvalid) => continue,
                Err(invalid) => outcome = Err(invalid.to_string()),
                Ok(verdict) => outcome = Ok((key_path, verdict)),
            }
            break;
        }
        match outcome {
            Ok((key_path, verdict)) => {
                let head = if verdict.holds() { "VALID" } else { "INVALID" };
                let _ = writeln!(text, "{head}: {}", path.display());
                for line in render(&verdict, key_path).lines().skip(1) {
                    let _ = writeln!(text, "  {line}");
                }
                verdicts.push(verdict);
            }
            Err(invalid) => {
                let _ = writeln!(text, "INVALID: {}: {invalid}", path.display());
            }
        }
    }
    let signers = attest::signers_by_digest(&verdicts);
    let wanted: Vec<String> = {
        let mut digests: Vec<String> = verdicts
            .iter()
            .flat_map(|v| {
                v.artifacts
                    .iter()
                    .filter(|a| a.algorithm == "sha256")
                    .map(|a| a.digest.clone())
            })
            .collect();
        digests.sort();
        digests.dedup();
        digests
    };
    let count = |digest: &str| signers.get(digest).map_or(0, |s| s.len());
    let holds = if args.artifact.is_empty() {
        signers.values().any(|s| s.len() >= threshold)
    } else {
        !wanted.is_empty() && wanted.iter().all(|d| count(d) >= threshold)
    };
    let head = if holds { "VALID" } else { "INVALID" };
    let _ = writeln!(
        text,
        "{head}: threshold {threshold} of distinct signers attesting the same artifact digest"
    );
    for (digest, keyids) in &signers {
        let _ = writeln!(text, "  sha256:{digest}: {} signer(s)", keyids.len());
    }
    if signers.is_empty() {
        let _ = writeln!(text, "  no attestation holds");
    }
    out.stdout(&text)?;
    Ok(if holds { 0 } else { 1 })
}

/// One attestation with one key: `Ok(Err(why))` for an invalid one (exit 1), `Err` for input
/// that cannot be read or an ambiguous choice (exit 2).
fn verify_one(
    path: &std::path::Path,
    key: &PublicKey,
    policy: &Policy,
) -> anyhow::Result<Result<Verdict, attest::AttestError>> {
    let bytes = fs_err::read(path)?;
    match attest::verify(&bytes, key, policy) {
        Ok(v) => Ok(Ok(v)),
        Err(e) if e.is_invalid() => Ok(Err(e)),
        Err(e @ attest::AttestError::Artifact { .. }) => Err(UserError::new(e.to_string(), None).into()),
        Err(e @ attest::AttestError::SeveralStatements { .. }) => Err(UserError::new(
            format!("{}: {e}", path.display()),
            Some("pick one with --subject NAME|DIGEST or --expect predicateType=URI"),
        )
        .into()),
        Err(e) => Err(UserError::new(format!("{}: {e}", path.display()), None).into()),
    }
}

/// The verdict for people: VALID or INVALID first, then what was checked, what held, and what
/// was not checked.
pub fn render(verdict: &Verdict, key_path: &str) -> String {
    let problems = verdict.problems();
    let mut s = String::new();
    if problems.is_empty() {
        s.push_str("VALID\n");
    } else {
        s.push_str("INVALID: the signature holds, but:\n");
        for p in &problems {
            let _ = writeln!(s, "  {p}");
        }
    }
    let v = &verdict.verified;
    let at = if v.location.is_empty() {
        String::new()
    } else {
        format!(", at {}", v.location)
    };
    let _ = writeln!(s, "  read:       {}{at}", v.wrapper.describe());
    match &verdict.signature {
        SignatureCheck::Key {
            algorithm,
            keyid,
            raw_payload,
        } => {
            let over = if *raw_payload {
                " over the raw payload (as Cloud Build signs), not its DSSE PAE"
            } else {
                ""
            };
            let _ = writeln!(
                s,
                "  signature:  verified with the key {key_path} ({}, keyid {keyid}){over}",
                algorithm.name()
            );
        }
    }
    let _ = writeln!(
        s,
        "  predicate:  {}",
        shown_name(verdict.predicate_type.as_deref().unwrap_or("(none)"))
    );
    if let Some(result) = &verdict.verdict {
        let _ = writeln!(s, "  verdict:    {result}");
    }
    let _ = writeln!(s, "  subjects:   {}", verdict.subjects);
    for (name, digest) in &verdict.subject_list {
        let digests: Vec<String> = digest.iter().map(|(a, v)| format!("{a}:{v}")).collect();
        let name = if name.is_empty() { "(unnamed)" } else { name };
        let _ = writeln!(s, "    {}", shown_name(&format!("{name} {}", digests.join(" "))));
    }
    for a in &verdict.artifacts {
        match &a.subject {
            Some(subject) => {
                let _ = writeln!(
                    s,
                    "  artifact:   {} is the subject {}",
                    a.path.display(),
                    shown_name(subject)
                );
            }
            None => {
                let _ = writeln!(s, "  artifact:   {} is NOT a subject", a.path.display());
            }
        }
    }
    for e in &verdict.expectations {
        let mark = if e.holds() { "holds" } else { "FAILS" };
        let origin = match e.origin {
            Origin::Stated => "",
            Origin::Default => " (default)",
            Origin::SignedVerdict => " (the statement's own verdict)",
        };
        let _ = writeln!(
            s,
            "  expect:     {}={} {mark}{origin}",
            e.expectation.key, e.expectation.value
        );
    }
    for n in &verdict.not_checked {
        let _ = writeln!(s, "  not checked: {n}");
    }
    if !verdict.others.is_empty() {
        let _ = writeln!(s, "  not verified: the file's other statements:");
        for o in &verdict.others {
            let _ = writeln!(s, "    {}", shown_name(&o.to_string()));
        }
    }
    s
}
