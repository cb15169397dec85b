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
    /// --show-provenance output.
    pub attestation: PathBuf,
    /// The signer's public key (PEM).
    #[arg(long, value_name = "PUB")]
    pub key: PathBuf,
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
    let bytes = fs_err::read(&args.attestation)?;
    let key = PublicKey::from_file(&args.key)
        .map_err(|e| malformed(format!("cannot use the key {}: {e}", args.key.display())))?;
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
    let verdict = match attest::verify(&bytes, &key, &policy) {
        Ok(v) => v,
        Err(e) if e.is_invalid() => {
            out.stdout(&format!("INVALID: {e}\n"))?;
            return Ok(1);
        }
        Err(e @ attest::AttestError::Artifact { .. }) => return Err(malformed(e.to_string())),
        Err(e @ attest::AttestError::SeveralStatements { .. }) => {
            return Err(UserError::new(
                format!("{}: {e}", args.attestation.display()),
                Some("pick one with --subject NAME|DIGEST or --expect predicateType=URI"),
            )
            .into());
        }
        Err(e) => return Err(malformed(format!("{}: {e}", args.attestation.display()))),
    };
    out.stdout(&render(&verdict, &args.key.display().to_string()))?;
    Ok(if verdict.holds() { 0 } else { 1 })
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
                "  signature:  verified with the key {key_path} ({algorithm:?}, keyid {keyid}){over}"
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
