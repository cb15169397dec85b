//! `repro verify`: check an attestation's signature, then what its statement says — by default
//! that it is repro's rebuild attestation with verdict PASSED — and print what was checked and
//! what was not.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Args;

use super::keyless::{Keyless, KeylessArgs, needs_policy};
use super::{Output, UserError};
use crate::attest::{self, Expectation, Origin, Policy, PublicKey, SignatureCheck, Verdict};
use crate::compare::members::shown_name;
use crate::sigstore::CERTIFICATE_FIELDS;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The attestation: a DSSE envelope, a Sigstore bundle, an `.intoto.jsonl`, npm's
    /// attestations document, a PEP 740 attestation or PyPI provenance object, or gcloud
    /// --show-provenance output. Several with --threshold.
    #[arg(required = true, num_args = 1..)]
    pub attestation: Vec<PathBuf>,
    /// The signer's public key (PEM); several with --threshold, one per signer. Without it,
    /// verify keylessly (--trusted-root and an identity policy).
    #[arg(long, value_name = "PUB")]
    pub key: Vec<PathBuf>,
    #[command(flatten)]
    pub keyless: KeylessArgs,
    /// Valid when at least N distinct signers (among --key) attest, each valid under the
    /// policy, the same artifact digest (each --artifact's, if given).
    #[arg(long, value_name = "N")]
    pub threshold: Option<usize>,
    /// Files that must be subjects of the statement (matched by sha256, or sha512).
    #[arg(long, value_name = "FILE")]
    pub artifact: Vec<PathBuf>,
    /// KEY=VALUE the statement must hold; KEY is a dotted path from the statement's root
    /// (`predicateType=…`, `predicate.verdicts.reproducible=true`), or, keyless, a claim of the
    /// signing certificate (`certificate.sourceRepository=…`, `certificate.ref=…`,
    /// `certificate.commit=…`). Stated expectations on the statement replace the default
    /// (repro's rebuild attestation with verdict PASSED).
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
    let keyless = args.keyless.load()?;
    if keyless.is_some() && !args.key.is_empty() {
        return Err(UserError::new(
            "give --key (a keyed verification) or the keyless options, not both",
            None,
        )
        .into());
    }
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
    check_certificate_expectations(&policy, keyless.is_some())?;
    let threshold = args.threshold.unwrap_or(1);
    if threshold == 0 {
        return Err(malformed("--threshold must be at least 1".into()));
    }
    if let Some(keyless) = &keyless {
        return run_keyless(&args, keyless, &policy, out);
    }
    if keys.is_empty() {
        return Err(no_key(&args.attestation));
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

/// One attestation, keylessly.
fn run_keyless(args: &VerifyArgs, keyless: &Keyless, policy: &Policy, out: &Output) -> anyhow::Result<i32> {
    let [path] = args.attestation.as_slice() else {
        return Err(UserError::new(
            "a keyless verification takes one attestation",
            Some("run repro verify once per file (--threshold counts keys)"),
        )
        .into());
    };
    if args.threshold.is_some() {
        return Err(UserError::new("--threshold counts distinct keys: give them with --key", None).into());
    }
    let bytes = fs_err::read(path)?;
    match sorted(path, attest::verify_keyless(&bytes, keyless.trust(), policy))? {
        Err(invalid) => {
            out.stdout(&format!("INVALID: {invalid}\n"))?;
            Ok(1)
        }
        Ok(verdict) => {
            out.stdout(&render(&verdict, ""))?;
            Ok(if verdict.holds() { 0 } else { 1 })
        }
    }
}

/// `certificate.NAME` expectations: NAME must be a known claim, and only a keyless
/// verification has a verified certificate to hold them.
fn check_certificate_expectations(policy: &Policy, keyless: bool) -> anyhow::Result<()> {
    for e in &policy.expectations {
        let Some(name) = e.certificate_field() else {
            continue;
        };
        if !CERTIFICATE_FIELDS.contains(&name) {
            return Err(UserError::new(
                format!("--expect {}: the certificate has no claim {name:?}", e.key),
                Some(&format!(
                    "certificate.NAME takes one of {}",
                    CERTIFICATE_FIELDS.join(", ")
                )),
            )
            .into());
        }
        if !keyless {
            return Err(UserError::new(
                format!(
                    "--expect {}: only a keyless verification checks a certificate",
                    e.key
                ),
                Some("verify keylessly (--trusted-root and an identity policy), or drop it"),
            )
            .into());
        }
    }
    Ok(())
}

/// Neither a key nor the keyless options: say which the file needs.
fn no_key(attestations: &[PathBuf]) -> anyhow::Error {
    let with_certificate = attestations.iter().find(|path| {
        fs_err::read(path)
            .ok()
            .and_then(|bytes| attest::candidates(&bytes).ok())
            .is_some_and(|all| {
                all.iter()
                    .any(|c| c.found.signed.as_ref().is_some_and(attest::has_certificate))
            })
    });
    match with_certificate {
        Some(path) => needs_policy(&path.display().to_string()).into(),
        None => UserError::new(
            "give the signer's public key with --key PUB",
            Some(
                "or, for a statement signed with a Sigstore certificate, verify keylessly: \
                 --trusted-root FILE --certificate-identity ID --certificate-oidc-issuer URL",
            ),
        )
        .into(),
    }
}

/// One attestation with one key: `Ok(Err(why))` for an invalid one (exit 1), `Err` for input
/// that cannot be read or an ambiguous choice (exit 2).
fn verify_one(
    path: &std::path::Path,
    key: &PublicKey,
    policy: &Policy,
) -> anyhow::Result<Result<Verdict, attest::AttestError>> {
    let bytes = fs_err::read(path)?;
    sorted(path, attest::verify(&bytes, key, policy))
}

/// A verification's outcome sorted: `Ok(Err(why))` for an invalid one (exit 1), `Err` for
/// input that cannot be read or an ambiguous choice (exit 2).
fn sorted(
    path: &std::path::Path,
    result: Result<Verdict, attest::AttestError>,
) -> anyhow::Result<Result<Verdict, attest::AttestError>> {
    match result {
        Ok(v) => Ok(Ok(v)),
        Err(e) if e.is_invalid() => Ok(Err(e)),
        Err(e @ attest::AttestError::Artifact { .. }) => Err(UserError::new(e.to_string(), None).into()),
        Err(e @ attest::AttestError::SeveralStatements { .. }) => Err(UserError::new(
            format!("{}: {e}", path.display()),
            Some("pick one with --subject NAME|DIGEST or --expect predicateType=URI"),
        )
        .into()),
        Err(e) => {
            // The message names the file; the causes below it stay.
            let mut error = UserError::from_error(e, None);
            error.message = format!("{}: {}", path.display(), error.message);
            Err(error.into())
        }
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
        SignatureCheck::Keyless {
            certificate,
            signing_times,
            log_entries,
        } => {
            let _ = writeln!(
                s,
                "  signature:  verified keylessly: the certificate chains to the trusted root, its \
                 SCT and the transparency log verify"
            );
            let _ = writeln!(s, "  identity:   {}", shown_name(&certificate.identity));
            let _ = writeln!(s, "  issuer:     {}", shown_name(&certificate.issuer));
            for name in CERTIFICATE_FIELDS.iter().skip(2) {
                if let Some(value) = certificate.field(name) {
                    let _ = writeln!(s, "  certificate.{name}: {}", shown_name(value));
                }
            }
            if let Some(time) = signing_times.first() {
                let source = match time.source {
                    crate::sigstore::TimeSource::TransparencyLog => "transparency log",
                    crate::sigstore::TimeSource::SignedTimestamp => "signed timestamp",
                };
                let _ = writeln!(s, "  signed at:  {} ({source})", time.time);
            }
            if !log_entries.is_empty() {
                let _ = writeln!(s, "  log entry:  {}", log_entries.join(", "));
            }
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
