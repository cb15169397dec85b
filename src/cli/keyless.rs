//! The keyless-verification options `repro verify` and `repro rebuild` share (cosign's names),
//! and what they build: a trusted root and an identity policy, or the reason they cannot.

use std::path::PathBuf;

use clap::Args;

use super::UserError;
use crate::sigstore::{IdentityPolicy, TrustedRoot};

#[derive(Debug, Args, Default)]
pub struct KeylessArgs {
    /// Verify keylessly: the Sigstore trusted root (`trusted_root.json`) the certificate must
    /// chain to and whose logs must have recorded it. Read from this file only; never fetched.
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// Keyless: the exact identity the certificate must name (a workflow URI or an email).
    #[arg(long, value_name = "ID")]
    pub certificate_identity: Option<String>,
    /// Keyless: a regular expression the whole certificate identity must match.
    #[arg(long, value_name = "RE")]
    pub certificate_identity_regexp: Option<String>,
    /// Keyless: the OIDC issuer that must have vouched for the identity (GitHub Actions:
    /// https://token.actions.githubusercontent.com).
    #[arg(long, value_name = "URL")]
    pub certificate_oidc_issuer: Option<String>,
}

/// A trusted root and an identity policy, ready to verify.
pub struct Keyless {
    pub root: TrustedRoot,
    pub identity: IdentityPolicy,
}

impl Keyless {
    pub fn trust(&self) -> crate::attest::KeylessTrust<'_> {
        crate::attest::KeylessTrust {
            root: &self.root,
            identity: &self.identity,
        }
    }
}

const KEYLESS_HINT: &str = "a keyless verification needs --trusted-root FILE, \
--certificate-identity ID (or --certificate-identity-regexp RE) and --certificate-oidc-issuer URL";

impl KeylessArgs {
    /// Whether any keyless option is given.
    pub fn any(&self) -> bool {
        self.trusted_root.is_some()
            || self.certificate_identity.is_some()
            || self.certificate_identity_regexp.is_some()
            || self.certificate_oidc_issuer.is_some()
    }

    /// The trusted root and identity policy; `None` when no keyless option is given. Some
    /// but not all is a usage error that says what is missing.
    pub fn load(&self) -> anyhow::Result<Option<Keyless>> {
        if !self.any() {
            return Ok(None);
        }
        let identity = IdentityPolicy::from_options(
            self.certificate_identity.as_deref(),
            self.certificate_identity_regexp.as_deref(),
            self.certificate_oidc_issuer.as_deref(),
        )
        .map_err(|e| UserError::from_error(e, Some(KEYLESS_HINT.into())))?;
        let Some(path) = &self.trusted_root else {
            return Err(UserError::new(
                "a keyless verification needs the trusted root of the Sigstore instance that \
                 issued the certificate: give --trusted-root FILE",
                Some(
                    "`cosign trusted-root create`, or the trusted_root.json a Sigstore client \
                     caches (~/.sigstore/root/…); repro never fetches it",
                ),
            )
            .into());
        };
        let root = TrustedRoot::from_file(path).map_err(|e| UserError::from_error(e, None))?;
        Ok(Some(Keyless { root, identity }))
    }
}

/// The refusal for a statement signed with a certificate when no keyless option is given.
pub fn needs_policy(what: &str) -> UserError {
    UserError::new(
        format!(
            "{what} is signed keylessly (a Fulcio certificate): a keyless verification needs an \
             identity policy and a trusted root, since a certificate only proves that someone \
             the issuer vouched for signed"
        ),
        Some(KEYLESS_HINT),
    )
}
