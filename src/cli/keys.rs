//! `repro keygen` and `repro verify`: key pairs for signing, and checking an attestation's
//! signature, subjects and stated expectations.

use std::path::PathBuf;

use clap::Args;

use super::{Output, UserError};
use crate::attest::{self, Algorithm, Expectation, Policy, PublicKey, SignatureCheck};

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Write PREFIX.key.pem (PKCS#8, mode 0600) and PREFIX.pub.pem.
    #[arg(long, value_name = "PREFIX")]
    pub out: PathBuf,
    /// An Ed25519 key instead of ECDSA P-256 (cosign signs Ed25519 keys with Ed25519ph, so
    /// keep P-256 for cosign compatibility).
    #[arg(long)]
    pub ed25519: bool,
    /// Replace an existing key pair at PREFIX (symlinks there are removed, never followed).
    #[arg(long)]
    pub force: bool,
}

pub fn keygen(args: KeygenArgs, out: &Output) -> anyhow::Result<i32> {
    let alg = if args.ed25519 {
        Algorithm::Ed25519
    } else {
        Algorithm::EcdsaP256
    };
    let overwrite = if args.force {
        attest::Overwrite::Replace
    } else {
        attest::Overwrite::Never
    };
    let key = attest::PrivateKey::generate(alg)?;
    let (private, public) = attest::write_key_pair_to(&key, &args.out, overwrite).map_err(|e| {
        UserError::new(
            e.to_string(),
            Some("choose another --out PREFIX, or replace the pair with --force"),
        )
    })?;
    out.stdout(&format!(
        "private key: {}\npublic key:  {}\nkeyid:       {}\n",
        private.display(),
        public.display(),
        key.public_key().keyid()?
    ))?;
    Ok(0)
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The attestation: a DSSE envelope or a Sigstore bundle.
    pub attestation: PathBuf,
    /// The signer's public key (PEM).
    #[arg(long, value_name = "PUB")]
    pub key: PathBuf,
    /// Files that must be subjects of the statement (matched by sha256).
    #[arg(long, value_name = "FILE")]
    pub artifact: Vec<PathBuf>,
    /// KEY=VALUE the statement must hold; KEY is a dotted path from the statement's root
    /// (`predicateType=…`, `predicate.verdicts.reproducible=true`).
    #[arg(long, value_name = "KEY=VALUE")]
    pub expect: Vec<String>,
}

pub fn verify(args: VerifyArgs, out: &Output) -> anyhow::Result<i32> {
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
    };
    let verdict = match attest::verify(&bytes, &key, &policy) {
        Ok(v) => v,
        Err(e) if e.is_invalid() => {
            out.stdout(&format!("INVALID: {e}\n"))?;
            return Ok(1);
        }
        Err(e @ attest::AttestError::Artifact { .. }) => return Err(malformed(e.to_string())),
        Err(e) => return Err(malformed(format!("{}: {e}", args.attestation.display()))),
    };
    let problems = verdict.problems();
    if problems.is_empty() {
        let SignatureCheck::Key { keyid, .. } = &verdict.signature;
        out.stdout(&format!(
            "VALID: signed by {} (keyid {keyid}), {} subjects, {} artifacts and {} expectations hold\n",
            args.key.display(),
            verdict.subjects,
            verdict.artifacts.len(),
            verdict.expectations.len()
        ))?;
        Ok(0)
    } else {
        let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
        out.stdout(&format!(
            "INVALID: the signature holds, but:\n  {}\n",
            problems.join("\n  ")
        ))?;
        Ok(1)
    }
}
