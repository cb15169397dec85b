//! `repro keygen`: key pairs for signing.

use std::path::PathBuf;

use clap::Args;

use super::{Output, UserError};
use crate::attest::{self, Algorithm};

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
