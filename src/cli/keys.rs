//! `repro keygen` and `repro verify`: key pairs for signing, and checking an attestation's
//! signature, subjects and stated expectations.

use std::path::PathBuf;

use clap::Args;
use sha2::{Digest, Sha256};

use super::{Output, UserError};
use crate::attest::{self, Algorithm, PublicKey};

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Write PREFIX.key.pem (PKCS#8, mode 0600) and PREFIX.pub.pem.
    #[arg(long, value_name = "PREFIX")]
    pub out: PathBuf,
    /// An Ed25519 key instead of ECDSA P-256 (cosign signs Ed25519 keys with Ed25519ph, so
    /// keep P-256 for cosign compatibility).
    #[arg(long)]
    pub ed25519: bool,
}

pub fn keygen(args: KeygenArgs, out: &Output) -> anyhow::Result<i32> {
    let alg = if args.ed25519 {
        Algorithm::Ed25519
    } else {
        Algorithm::EcdsaP256
    };
    let (private, public) = attest::generate_key_pair(alg, &args.out).map_err(|e| {
        UserError::new(
            e.to_string(),
            Some("choose another --out PREFIX: repro never overwrites a private key"),
        )
    })?;
    let key = PublicKey::from_file(&public)?;
    out.stdout(&format!(
        "private key: {}\npublic key:  {}\nkeyid:       {}\n",
        private.display(),
        public.display(),
        key.keyid()?
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

/// The value at a dotted path, as text (strings unquoted, other JSON as written).
fn lookup(v: &serde_json::Value, path: &str) -> Option<String> {
    let mut cur = v;
    for part in path.split('.') {
        cur = match cur {
            serde_json::Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            other => other.get(part)?,
        };
    }
    Some(match cur {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

pub fn verify(args: VerifyArgs, out: &Output) -> anyhow::Result<i32> {
    let malformed = |what: String| -> anyhow::Error { UserError::new(what, None).into() };
    let bytes = fs_err::read(&args.attestation)?;
    let key = PublicKey::from_file(&args.key)
        .map_err(|e| malformed(format!("cannot use the key {}: {e}", args.key.display())))?;
    let mut problems = Vec::new();
    let verified = match attest::verify_attestation(&bytes, &key) {
        Ok(v) => v,
        Err(e) if e.is_invalid() => {
            out.stdout(&format!("INVALID: {e}\n"))?;
            return Ok(1);
        }
        Err(e) => return Err(malformed(format!("{}: {e}", args.attestation.display()))),
    };
    let subjects = verified
        .statement
        .get("subject")
        .and_then(|s| s.as_array())
        .cloned()
        .unwrap_or_default();
    for file in &args.artifact {
        let digest = hex::encode(Sha256::digest(fs_err::read(file)?));
        let listed = subjects
            .iter()
            .any(|s| s.pointer("/digest/sha256").and_then(|d| d.as_str()) == Some(&digest));
        if !listed {
            problems.push(format!("{} (sha256 {digest}) is not a subject", file.display()));
        }
    }
    for e in &args.expect {
        let Some((k, want)) = e.split_once('=') else {
            return Err(malformed(format!("--expect {e:?}: use KEY=VALUE")));
        };
        match lookup(&verified.statement, k) {
            Some(got) if got == want => {}
            Some(got) => problems.push(format!("{k} is {got:?}, expected {want:?}")),
            None => problems.push(format!("{k} is absent, expected {want:?}")),
        }
    }
    if problems.is_empty() {
        out.stdout(&format!(
            "VALID: signed by {} (keyid {}), {} subjects, {} artifacts and {} expectations hold\n",
            args.key.display(),
            key.keyid()?,
            subjects.len(),
            args.artifact.len(),
            args.expect.len()
        ))?;
        Ok(0)
    } else {
        out.stdout(&format!(
            "INVALID: the signature holds, but:\n  {}\n",
            problems.join("\n  ")
        ))?;
        Ok(1)
    }
}
