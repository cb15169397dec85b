//! Signing keys: ECDSA P-256 (the default, cosign-compatible) and Ed25519 behind one
//! interface, PEM loading/writing and securesystemslib keyids.

use std::fs;
use std::io::Write as _;
use std::os::unix::ffi::OsStringExt as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use ed25519_dalek::pkcs8::{
    DecodePrivateKey as _, DecodePublicKey as _, EncodePrivateKey as _, EncodePublicKey as _,
};
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::pkcs8::LineEnding;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use super::AttestError;
use super::encrypted_key;

/// The signature algorithms repro signs and verifies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Algorithm {
    /// ECDSA over NIST P-256 with SHA-256, ASN.1 DER signatures.
    #[default]
    EcdsaP256,
    /// Ed25519 (pure, not the pre-hashed variant), raw 64-byte signatures.
    Ed25519,
}

impl Algorithm {
    /// securesystemslib's `(keytype, scheme)` for this algorithm.
    pub fn sslib_names(self) -> (&'static str, &'static str) {
        match self {
            Algorithm::EcdsaP256 => ("ecdsa", "ecdsa-sha2-nistp256"),
            Algorithm::Ed25519 => ("ed25519", "ed25519"),
        }
    }
}

/// A private signing key. The underlying key types zeroise their secret bytes on drop.
pub enum PrivateKey {
    EcdsaP256(p256::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
}

/// A public verification key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    EcdsaP256(p256::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

fn key_err(e: impl std::fmt::Display) -> AttestError {
    AttestError::Key(e.to_string())
}

impl PrivateKey {
    /// Generates a fresh key from the operating system's random source.
    pub fn generate(algorithm: Algorithm) -> Result<PrivateKey, AttestError> {
        // Draw 32 bytes and retry in the (astronomically unlikely) case they are not a valid
        // P-256 scalar; Ed25519 accepts any 32 bytes.
        for _ in 0..16 {
            let mut seed = Zeroizing::new([0u8; 32]);
            getrandom::fill(seed.as_mut()).map_err(key_err)?;
            match algorithm {
                Algorithm::Ed25519 => {
                    return Ok(PrivateKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed)));
                }
                Algorithm::EcdsaP256 => {
                    if let Ok(k) = p256::ecdsa::SigningKey::from_slice(seed.as_ref()) {
                        return Ok(PrivateKey::EcdsaP256(k));
                    }
                }
            }
        }
        Err(AttestError::Key("the random source gave no valid key".into()))
    }

    /// Loads a PKCS#8 PEM private key (P-256 or Ed25519, detected from the key), or a SEC1
    /// `EC PRIVATE KEY` PEM for P-256. An encrypted cosign key fails with
    /// [`encrypted_key::EncryptedKeyError::NoPassword`]: use [`PrivateKey::from_pem_with_password`].
    pub fn from_pem(pem: &str) -> Result<PrivateKey, AttestError> {
        PrivateKey::from_pem_with_password(pem, None)
    }

    /// As [`PrivateKey::from_pem`], and also reads cosign's encrypted private keys
    /// (`ENCRYPTED SIGSTORE PRIVATE KEY`, older `ENCRYPTED COSIGN PRIVATE KEY`) with
    /// `password` (`Some(b"")` is the empty password). Plain keys ignore the password.
    pub fn from_pem_with_password(pem: &str, password: Option<&[u8]>) -> Result<PrivateKey, AttestError> {
        if encrypted_key::is_encrypted(pem) {
            let der = encrypted_key::decrypt_pem(pem, password)?;
            return PrivateKey::from_pkcs8_der(&der).map_err(|_| {
                AttestError::Key(
                    "the decrypted cosign key is not a PKCS#8 P-256 or Ed25519 key (RSA and other \
                     curves are not supported)"
                        .into(),
                )
            });
        }
        if let Ok(k) = p256::ecdsa::SigningKey::from_pkcs8_pem(pem) {
            return Ok(PrivateKey::EcdsaP256(k));
        }
        if let Ok(k) = ed25519_dalek::SigningKey::from_pkcs8_pem(pem) {
            return Ok(PrivateKey::Ed25519(k));
        }
        if let Ok(k) = p256::SecretKey::from_sec1_pem(pem) {
            return Ok(PrivateKey::EcdsaP256(k.into()));
        }
        Err(AttestError::Key(
            "not a PKCS#8 P-256/Ed25519 or SEC1 P-256 private key PEM, nor a cosign encrypted key".into(),
        ))
    }

    /// A PKCS#8 DER private key, P-256 or Ed25519.
    fn from_pkcs8_der(der: &[u8]) -> Result<PrivateKey, AttestError> {
        if let Ok(k) = p256::ecdsa::SigningKey::from_pkcs8_der(der) {
            return Ok(PrivateKey::EcdsaP256(k));
        }
        ed25519_dalek::SigningKey::from_pkcs8_der(der)
            .map(PrivateKey::Ed25519)
            .map_err(key_err)
    }

    /// Reads and parses a private key file; the file's text is zeroised after parsing. A cosign
    /// encrypted key is decrypted with the password in `COSIGN_PASSWORD`, as cosign does; the
    /// password is zeroised after use and never printed.
    pub fn from_file(path: &Path) -> Result<PrivateKey, AttestError> {
        let text = Zeroizing::new(
            fs::read_to_string(path).map_err(|e| key_err(format!("{}: {e}", path.display())))?,
        );
        if !encrypted_key::is_encrypted(&text) {
            return PrivateKey::from_pem(&text);
        }
        let password = std::env::var_os(encrypted_key::PASSWORD_ENV).map(|v| Zeroizing::new(v.into_vec()));
        PrivateKey::from_pem_with_password(&text, password.as_ref().map(|p| p.as_slice()))
    }

    pub fn algorithm(&self) -> Algorithm {
        match self {
            PrivateKey::EcdsaP256(_) => Algorithm::EcdsaP256,
            PrivateKey::Ed25519(_) => Algorithm::Ed25519,
        }
    }

    pub fn public_key(&self) -> PublicKey {
        match self {
            PrivateKey::EcdsaP256(k) => PublicKey::EcdsaP256(*k.verifying_key()),
            PrivateKey::Ed25519(k) => PublicKey::Ed25519(k.verifying_key()),
        }
    }

    /// Signs `message`: ECDSA gives an ASN.1 DER signature (deterministic, RFC 6979),
    /// Ed25519 the raw 64 bytes.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, AttestError> {
        match self {
            PrivateKey::EcdsaP256(k) => {
                let sig: p256::ecdsa::DerSignature = k.try_sign(message).map_err(key_err)?;
                Ok(sig.as_bytes().to_vec())
            }
            PrivateKey::Ed25519(k) => Ok(k.try_sign(message).map_err(key_err)?.to_vec()),
        }
    }

    /// PKCS#8 PEM (LF line endings), zeroised on drop.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, AttestError> {
        match self {
            PrivateKey::EcdsaP256(k) => k.to_pkcs8_pem(LineEnding::LF),
            PrivateKey::Ed25519(k) => k.to_pkcs8_pem(LineEnding::LF),
        }
        .map_err(key_err)
    }
}

impl PublicKey {
    /// Loads an SPKI (`PUBLIC KEY`) PEM, detecting the algorithm from the key.
    pub fn from_pem(pem: &str) -> Result<PublicKey, AttestError> {
        if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_pem(pem) {
            return Ok(PublicKey::EcdsaP256(k));
        }
        if let Ok(k) = ed25519_dalek::VerifyingKey::from_public_key_pem(pem) {
            return Ok(PublicKey::Ed25519(k));
        }
        Err(AttestError::Key(
            "not a P-256 or Ed25519 SubjectPublicKeyInfo PEM".into(),
        ))
    }

    pub fn from_file(path: &Path) -> Result<PublicKey, AttestError> {
        let text = fs::read_to_string(path).map_err(|e| key_err(format!("{}: {e}", path.display())))?;
        PublicKey::from_pem(&text)
    }

    pub fn algorithm(&self) -> Algorithm {
        match self {
            PublicKey::EcdsaP256(_) => Algorithm::EcdsaP256,
            PublicKey::Ed25519(_) => Algorithm::Ed25519,
        }
    }

    /// SPKI PEM with LF line endings and a trailing newline — byte-identical to what
    /// pyca/cryptography (and so securesystemslib) writes, which matters for the keyid.
    pub fn to_pem(&self) -> Result<String, AttestError> {
        match self {
            PublicKey::EcdsaP256(k) => k.to_public_key_pem(LineEnding::LF),
            PublicKey::Ed25519(k) => k.to_public_key_pem(LineEnding::LF),
        }
        .map_err(key_err)
    }

    /// SPKI DER.
    pub fn to_der(&self) -> Result<Vec<u8>, AttestError> {
        match self {
            PublicKey::EcdsaP256(k) => k.to_public_key_der(),
            PublicKey::Ed25519(k) => k.to_public_key_der(),
        }
        .map(|d| d.as_bytes().to_vec())
        .map_err(key_err)
    }

    /// securesystemslib's default keyid: sha256 hex of the canonical JSON
    /// `{"keytype","keyval":{"public"},"scheme"}`.
    pub fn keyid(&self) -> Result<String, AttestError> {
        let (keytype, scheme) = self.algorithm().sslib_names();
        let public = match self {
            PublicKey::EcdsaP256(_) => self.to_pem()?,
            PublicKey::Ed25519(k) => hex::encode(k.as_bytes()),
        };
        let canonical = format!(
            "{{\"keytype\":{},\"keyval\":{{\"public\":{}}},\"scheme\":{}}}",
            canonical_string(keytype),
            canonical_string(&public),
            canonical_string(scheme)
        );
        Ok(hex::encode(Sha256::digest(canonical.as_bytes())))
    }

    /// Sigstore's public key hint: standard base64 of the sha256 of the SPKI DER.
    pub fn hint(&self) -> Result<String, AttestError> {
        Ok(base64::engine::general_purpose::STANDARD.encode(Sha256::digest(self.to_der()?)))
    }

    /// Verifies `sig` over `message`. ECDSA signatures must be ASN.1 DER here; raw r‖s is
    /// only accepted by [`PublicKey::verify_p256_raw`], the explicit test-vector path.
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> Result<(), AttestError> {
        let ok = match self {
            PublicKey::EcdsaP256(k) => {
                p256::ecdsa::DerSignature::from_bytes(sig).is_ok_and(|s| k.verify(message, &s).is_ok())
            }
            // Strict: refuses malleable signatures and small-order keys.
            PublicKey::Ed25519(k) => {
                ed25519_dalek::Signature::from_slice(sig).is_ok_and(|s| k.verify_strict(message, &s).is_ok())
            }
        };
        if ok {
            Ok(())
        } else {
            Err(AttestError::SignatureInvalid)
        }
    }

    /// Verifies a raw 64-byte r‖s P-256 signature, as published in the DSSE spec's test
    /// vector. Not used for real attestations, which carry DER.
    pub fn verify_p256_raw(&self, message: &[u8], sig: &[u8]) -> Result<(), AttestError> {
        match self {
            PublicKey::EcdsaP256(k) => p256::ecdsa::Signature::from_slice(sig)
                .ok()
                .filter(|s| k.verify(message, s).is_ok())
                .map(|_| ())
                .ok_or(AttestError::SignatureInvalid),
            PublicKey::Ed25519(_) => Err(AttestError::SignatureInvalid),
        }
    }
}

/// securesystemslib's canonical JSON string: only `\` and `"` are escaped; everything else,
/// including the newlines of a PEM, is written as is.
fn canonical_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Writes `PREFIX.key.pem` (PKCS#8, mode 0600 from creation) and `PREFIX.pub.pem` (SPKI).
/// Refuses to overwrite an existing private key.
pub fn write_key_pair(key: &PrivateKey, prefix: &Path) -> Result<(PathBuf, PathBuf), AttestError> {
    let with_suffix = |suffix: &str| {
        let mut name = prefix.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    let (private, public) = (with_suffix(".key.pem"), with_suffix(".pub.pem"));
    let io = |path: &Path, e: std::io::Error| key_err(format!("{}: {e}", path.display()));
    let pem = key.to_pkcs8_pem()?;
    // The mode is given to open(2) itself, so the file never exists with wider permissions.
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&private)
        .map_err(|e| io(&private, e))?;
    file.write_all(pem.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| io(&private, e))?;
    fs::write(&public, key.public_key().to_pem()?).map_err(|e| io(&public, e))?;
    Ok((private, public))
}

/// Generates a key pair of `algorithm` and writes it as [`write_key_pair`] does.
pub fn generate_key_pair(algorithm: Algorithm, prefix: &Path) -> Result<(PathBuf, PathBuf), AttestError> {
    write_key_pair(&PrivateKey::generate(algorithm)?, prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecdsa_signatures_are_der_and_raw_is_refused_on_the_der_path() {
        let key = PrivateKey::generate(Algorithm::EcdsaP256).unwrap();
        let public = key.public_key();
        let sig = key.sign(b"msg").unwrap();
        // DER: SEQUENCE { INTEGER r, INTEGER s }, 8..=72 bytes.
        assert_eq!(sig.first(), Some(&0x30));
        let parsed = p256::ecdsa::DerSignature::from_bytes(&sig).unwrap();
        assert_eq!(parsed.as_bytes(), sig.as_slice());
        let raw = p256::ecdsa::Signature::from_der(&sig).unwrap().to_bytes();
        assert_eq!(raw.len(), 64);
        assert_eq!(
            p256::ecdsa::Signature::from_slice(&raw)
                .unwrap()
                .to_der()
                .as_bytes(),
            sig.as_slice()
        );
        public.verify(b"msg", &sig).unwrap();
        assert!(public.verify(b"msg", &raw).is_err());
        public.verify_p256_raw(b"msg", &raw).unwrap();
        assert!(public.verify(b"other", &sig).is_err());
    }

    #[test]
    fn high_s_ecdsa_signatures_verify_like_in_openssl_and_go() {
        // Go and OpenSSL signers do not normalise s; refusing high s would reject half of
        // the attestations they produce.
        let key = PrivateKey::generate(Algorithm::EcdsaP256).unwrap();
        let sig = p256::ecdsa::Signature::from_der(&key.sign(b"msg").unwrap()).unwrap();
        let (r, s) = sig.split_scalars();
        let flipped = p256::ecdsa::Signature::from_scalars(r.to_bytes(), (-*s).to_bytes()).unwrap();
        assert_ne!(flipped, sig);
        key.public_key()
            .verify(b"msg", flipped.to_der().as_bytes())
            .unwrap();
    }

    #[test]
    fn ed25519_signatures_are_raw_64_bytes() {
        let key = PrivateKey::generate(Algorithm::Ed25519).unwrap();
        let sig = key.sign(b"msg").unwrap();
        assert_eq!(sig.len(), 64);
        key.public_key().verify(b"msg", &sig).unwrap();
        assert!(key.public_key().verify(b"msh", &sig).is_err());
        assert!(key.public_key().verify(b"msg", &sig[..63]).is_err());
    }

    #[test]
    fn pem_round_trips_and_detects_the_algorithm() {
        for alg in [Algorithm::EcdsaP256, Algorithm::Ed25519] {
            let key = PrivateKey::generate(alg).unwrap();
            let again = PrivateKey::from_pem(&key.to_pkcs8_pem().unwrap()).unwrap();
            assert_eq!(again.algorithm(), alg);
            assert_eq!(again.public_key(), key.public_key());
            let pem = key.public_key().to_pem().unwrap();
            assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
            assert!(pem.ends_with("-----END PUBLIC KEY-----\n"));
            assert_eq!(PublicKey::from_pem(&pem).unwrap(), key.public_key());
        }
        assert!(PrivateKey::from_pem("junk").is_err());
        assert!(PublicKey::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n").is_err());
    }

    #[test]
    fn sec1_ec_private_key_loads() {
        let secret = p256::SecretKey::from_slice(&[7u8; 32]).unwrap();
        let pem = secret.to_sec1_pem(LineEnding::LF).unwrap();
        assert!(pem.starts_with("-----BEGIN EC PRIVATE KEY-----"));
        let key = PrivateKey::from_pem(&pem).unwrap();
        assert_eq!(key.algorithm(), Algorithm::EcdsaP256);
        assert_eq!(
            key.public_key(),
            PublicKey::EcdsaP256(p256::ecdsa::VerifyingKey::from(secret.public_key()))
        );
    }

    #[test]
    fn canonical_strings_escape_only_quote_and_backslash() {
        assert_eq!(canonical_string("a\"b\\c\nd"), "\"a\\\"b\\\\c\nd\"");
    }
}
