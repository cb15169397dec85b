//! Keyless verification of the statements `repro verify` and `rebuild` read: the wrapper a
//! statement came in is verified as the Sigstore bundle it is (a PEP 740 object is rewritten as
//! one) by [`crate::sigstore`], against a trusted root and an identity policy; the statement is
//! then checked as a keyed one is ([`super::check_statement`]).

use crate::intoto::{self, Signed, Wrapper};
use crate::sigstore::{self, IdentityPolicy, KeylessError, TrustedRoot, VerifiedContent};

use super::AttestError;
use super::verify::{Policy, SignatureCheck, Verdict, candidates, check_statement, into_verified, select};

/// What a keyless verification trusts: the Sigstore instance's root, and who must have signed.
#[derive(Debug, Clone, Copy)]
pub struct KeylessTrust<'a> {
    pub root: &'a TrustedRoot,
    pub identity: &'a IdentityPolicy,
}

/// Whether a signed statement carries a certificate, which a keyless verification needs.
pub fn has_certificate(signed: &Signed) -> bool {
    signed.verification_material.as_ref().is_some_and(|m| {
        m.certificate.is_some()
            || m.x509_certificate_chain
                .as_ref()
                .is_some_and(|c| !c.certificates.is_empty())
    })
}

/// Verifies a signed statement keylessly and says how. A statement signed without a
/// certificate (a bare envelope, a bundle with a key hint) is refused as unusable input, not
/// as an invalid signature: it needs `--key`.
pub fn check_keyless(
    wrapper: &Wrapper,
    signed: &Signed,
    trust: KeylessTrust<'_>,
) -> Result<SignatureCheck, AttestError> {
    let as_read = match &signed.as_read {
        Some(as_read) if has_certificate(signed) => as_read,
        _ => return Err(AttestError::NoCertificate),
    };
    let bundle = match wrapper {
        Wrapper::Pep740 | Wrapper::PypiProvenance { .. } => sigstore::pep740_to_bundle(as_read)?,
        _ => as_read.clone(),
    };
    let verified = sigstore::verify_bundle_value(&bundle, trust.root, trust.identity, None)?;
    // The verifier read the same JSON as the model did; the statement checked next must be
    // the very payload whose signature verified.
    match &verified.content {
        VerifiedContent::Dsse { payload, .. } if *payload == signed.envelope.payload => {}
        _ => {
            return Err(AttestError::Keyless(KeylessError::Malformed(
                "the verified payload is not the statement read".into(),
            )));
        }
    }
    Ok(SignatureCheck::Keyless {
        certificate: Box::new(verified.certificate),
        signing_times: verified.signing_times,
        log_entries: verified.log_entries,
    })
}

/// Verifies the statement in `bytes` (any wrapper with a certificate) keylessly, then checks it
/// against `policy`. Among several statements, those that carry a certificate are preferred.
pub fn verify_keyless(
    bytes: &[u8],
    trust: KeylessTrust<'_>,
    policy: &Policy,
) -> Result<Verdict, AttestError> {
    let (candidate, others) = select(candidates(bytes)?, policy, |found: &intoto::Found| {
        found.signed.as_ref().is_some_and(has_certificate)
    })?;
    let signed = candidate.found.signed.as_ref().ok_or(AttestError::Unsigned)?;
    let signature = check_keyless(&candidate.found.wrapper, signed, trust)?;
    let mut verdict = check_statement(into_verified(candidate, signature)?, policy)?;
    verdict.others = others;
    Ok(verdict)
}
