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
use super::{certificate, encrypted_key, key_file};

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
    /// The name people know it by.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::EcdsaP256 => "ECDSA P-256",
            Algorithm::Ed25519 => "Ed25519",
        }
    }

    /// securesystemslib's `(keytype, scheme)` for this algorithm.
    pub fn sslib_names(self) -> (&'static str, &'static str) {
        match self {
            Algorithm::EcdsaP256 => ("ecdsa", "ecdsa-sha2-nistp256"),
            Algorithm::Ed25519 => ("ed25519", "ed25519"),
        }
    }
}

/// PKCS#8 v1 `PrivateKeyInfo` of an Ed25519 key up to its 32-byte seed: SEQUENCE { INTEGER 0,
/// SEQUENCE { OID 1.3.101.112 }, OCTET STRING { OCTET STRING (32 bytes) } }.
const ED25519_PKCS8_V1_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

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
        let pem = key_file::parse(pem).map_err(|e| AttestError::Key(e.to_string()))?;
        match pem.label.as_str() {
            "PRIVATE KEY" | "" => PrivateKey::from_pkcs8_der(&pem.der),
            "EC PRIVATE KEY" => p256::SecretKey::from_sec1_der(&pem.der)
                .map(|k| PrivateKey::EcdsaP256(k.into()))
                .map_err(|_| {
                    let found = key_file::sec1_algorithm(&pem.der)
                        .unwrap_or_else(|| "not a readable SEC1 key".to_string());
                    AttestError::Key(format!(
                        "the EC private key is {found}: repro signs with ECDSA P-256 or Ed25519"
                    ))
                }),
            label => Err(AttestError::Key(describe_other_pem(label, "a private key"))),
        }
    }

    /// A PKCS#8 DER private key (v1 or v2), P-256 or Ed25519; any other names its algorithm.
    fn from_pkcs8_der(der: &[u8]) -> Result<PrivateKey, AttestError> {
        if let Ok(k) = p256::ecdsa::SigningKey::from_pkcs8_der(der) {
            return Ok(PrivateKey::EcdsaP256(k));
        }
        if let Ok(k) = ed25519_dalek::SigningKey::from_pkcs8_der(der) {
            return Ok(PrivateKey::Ed25519(k));
        }
        Err(AttestError::Key(match key_file::pkcs8_algorithm(der) {
            Some(found) => format!("the private key is {found}: repro signs with ECDSA P-256 or Ed25519"),
            None => "not a PKCS#8 private key".to_string(),
        }))
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

    /// PKCS#8 PEM (LF line endings), zeroised on drop. Ed25519 keys are written in the v1 form
    /// (RFC 8410 without the public key), the one OpenSSL 3.0 and pyca/cryptography read.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, AttestError> {
        match self {
            PrivateKey::EcdsaP256(k) => k.to_pkcs8_pem(LineEnding::LF).map_err(key_err),
            PrivateKey::Ed25519(k) => {
                let mut der = Zeroizing::new(ED25519_PKCS8_V1_PREFIX.to_vec());
                der.extend_from_slice(k.as_bytes());
                let body = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(der.as_slice()));
                Ok(Zeroizing::new(format!(
                    "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
                    body.as_str()
                )))
            }
        }
    }
}

impl PublicKey {
    /// Loads an SPKI (`PUBLIC KEY`) PEM, detecting the algorithm from the key. The PEM is read
    /// leniently (see [`key_file::parse`]); a certificate, a private key or a key of another
    /// algorithm is refused with a message saying what it is.
    pub fn from_pem(pem: &str) -> Result<PublicKey, AttestError> {
        let pem = key_file::parse(pem).map_err(|e| AttestError::Key(e.to_string()))?;
        match pem.label.as_str() {
            "PUBLIC KEY" | "" => PublicKey::from_spki_der(&pem.der),
            "CERTIFICATE" => Err(AttestError::Key(certificate_as_key(&pem.der))),
            label => Err(AttestError::Key(describe_other_pem(label, "a public key"))),
        }
    }

    /// A SubjectPublicKeyInfo DER, P-256 or Ed25519; any other names its algorithm.
    pub fn from_spki_der(der: &[u8]) -> Result<PublicKey, AttestError> {
        if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_der(der) {
            return Ok(PublicKey::EcdsaP256(k));
        }
        if let Ok(k) = ed25519_dalek::VerifyingKey::from_public_key_der(der) {
            return Ok(PublicKey::Ed25519(k));
        }
        Err(AttestError::Key(match key_file::spki_algorithm(der) {
            Some(found) => {
                format!("the public key is {found}: repro verifies ECDSA P-256 and Ed25519 signatures")
            }
            None => "not a SubjectPublicKeyInfo (`PUBLIC KEY`) key".to_string(),
        }))
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

    /// Verifies `sig` over `message`. An ECDSA signature may be ASN.1 DER (what cosign,
    /// securesystemslib and repro write) or raw r‖s (IEEE P1363, 64 bytes: what Google's VSAs
    /// and the DSSE spec's test vector carry); both encode the same two numbers, so accepting
    /// either opens nothing. Ed25519 signatures are the raw 64 bytes.
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> Result<(), AttestError> {
        let ok = match self {
            PublicKey::EcdsaP256(k) => {
                let der =
                    p256::ecdsa::DerSignature::from_bytes(sig).is_ok_and(|s| k.verify(message, &s).is_ok());
                der || (sig.len() == 64 && self.verify_p256_raw(message, sig).is_ok())
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

    /// Verifies a raw 64-byte r‖s P-256 signature only (DER refused): the form of the DSSE
    /// spec's test vector.
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

/// What a PEM block of another kind than the one wanted is, for the error message.
fn describe_other_pem(label: &str, wanted: &str) -> String {
    let what = match label {
        "PUBLIC KEY" => "a public key".to_string(),
        "PRIVATE KEY" | "EC PRIVATE KEY" => "a private key".to_string(),
        "RSA PRIVATE KEY" | "RSA PUBLIC KEY" => format!("an RSA key (`{label}`)"),
        "OPENSSH PRIVATE KEY" => "an OpenSSH private key".to_string(),
        "ENCRYPTED PRIVATE KEY" => {
            "an OpenSSL-encrypted PKCS#8 key, which repro does not read (decrypt it with \
             `openssl pkey`, or use a cosign key with COSIGN_PASSWORD)"
                .to_string()
        }
        "CERTIFICATE" => "a certificate".to_string(),
        other => format!("a PEM block of type `{other}`"),
    };
    format!("the file holds {what}, not {wanted}: repro uses ECDSA P-256 and Ed25519 keys in PEM")
}

/// The message for a certificate given where a public key is wanted: it is never used as a
/// key, since a certificate is only worth what the check of its chain and identity is worth.
fn certificate_as_key(der: &[u8]) -> String {
    let usable = certificate::public_key_der(der).map(|spki| {
        (
            PublicKey::from_spki_der(&spki).is_ok(),
            key_file::spki_algorithm(&spki),
        )
    });
    match usable {
        Some((true, _)) => "the file is an X.509 certificate, not a public key. It carries a key \
             repro could use, but a certificate is checked by keyless verification (its chain to \
             a trusted root and an identity policy, see docs/verification.md), not by taking the \
             key out of it; to trust the key itself, give it as a `PUBLIC KEY` PEM \
             (`openssl x509 -pubkey -noout -in CERT`)"
            .to_string(),
        Some((false, Some(found))) => format!(
            "the file is an X.509 certificate, not a public key, and the key it carries is \
             {found}: repro verifies ECDSA P-256 and Ed25519 signatures"
        ),
        _ => "the file is an X.509 certificate (unreadable), not a public key".to_string(),
    }
}

/// Writes `PREFIX.key.pem` (PKCS#8, mode 0600 from creation) and `PREFIX.pub.pem` (SPKI).
/// Never follows a symlink at either path. Without `force`, refuses when either file exists
/// (a public key beside someone's private key would mislead as much as a lost private key);
/// with it, replaces them. Either both files are written or neither is left behind.
pub fn write_key_pair(key: &PrivateKey, prefix: &Path) -> Result<(PathBuf, PathBuf), AttestError> {
    write_key_pair_to(key, prefix, Overwrite::Never)
}

/// Whether writing a key pair may replace existing files (`repro keygen --force`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwrite {
    Never,
    Replace,
}

/// [`write_key_pair`], replacing existing files (never through a symlink) with
/// [`Overwrite::Replace`].
pub fn write_key_pair_to(
    key: &PrivateKey,
    prefix: &Path,
    overwrite: Overwrite,
) -> Result<(PathBuf, PathBuf), AttestError> {
    let force = overwrite == Overwrite::Replace;
    let with_suffix = |suffix: &str| {
        let mut name = prefix.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    let (private, public) = (with_suffix(".key.pem"), with_suffix(".pub.pem"));
    let io = |path: &Path, e: std::io::Error| key_err(format!("{}: {e}", path.display()));
    for path in [&private, &public] {
        // symlink_metadata: a dangling symlink exists too.
        match fs::symlink_metadata(path) {
            Ok(meta) if !force => {
                let what = if meta.file_type().is_symlink() {
                    "a symlink"
                } else {
                    "a file"
                };
                return Err(key_err(format!(
                    "{} exists ({what}): repro never overwrites a key without --force",
                    path.display()
                )));
            }
            Ok(meta) if meta.is_dir() => {
                return Err(key_err(format!("{} is a folder", path.display())));
            }
            // Removing unlinks a symlink itself, never its target.
            Ok(_) => fs::remove_file(path).map_err(|e| io(path, e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(path, e)),
        }
    }
    let pem = key.to_pkcs8_pem()?;
    create_new(&private, pem.as_bytes(), 0o600).map_err(|e| io(&private, e))?;
    let public_pem = key.public_key().to_pem()?;
    if let Err(e) = create_new(&public, public_pem.as_bytes(), 0o644) {
        let _ = fs::remove_file(&private);
        return Err(io(&public, e));
    }
    Ok((private, public))
}

/// Creates `path` with `mode` given to open(2) itself (so the file never exists with wider
/// permissions), failing if anything — a symlink included — is already there.
fn create_new(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .mode(mode)
        .open(path)?;
    file.write_all(bytes).and_then(|()| file.sync_all())
}

/// Generates a key pair of `algorithm` and writes it as [`write_key_pair`] does.
pub fn generate_key_pair(algorithm: Algorithm, prefix: &Path) -> Result<(PathBuf, PathBuf), AttestError> {
    write_key_pair(&PrivateKey::generate(algorithm)?, prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecdsa_signatures_are_written_der_and_read_der_or_raw() {
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
        // Raw r‖s (IEEE P1363) verifies too; the raw-only path refuses DER.
        public.verify(b"msg", &raw).unwrap();
        public.verify_p256_raw(b"msg", &raw).unwrap();
        assert!(public.verify_p256_raw(b"msg", &sig).is_err());
        assert!(public.verify(b"other", &raw).is_err());
        assert!(public.verify(b"msg", &raw[..63]).is_err());
        let mut longer = raw.to_vec();
        longer.push(0);
        assert!(public.verify(b"msg", &longer).is_err());
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
    fn a_real_vsa_signed_raw_r_s_verifies_with_its_key() {
        let dir = crate::shared_fixtures::SLSA_VERIFIER;
        let (Some(vsa), Some(pem)) = (
            crate::shared_fixtures::read(&format!("{dir}/vsa/gce/v1/gke-gce-pre.bcid-vsa.jsonl")),
            crate::shared_fixtures::read(&format!("{dir}/vsa/gce/v1/vsa_signing_public_key.pem")),
        ) else {
            return;
        };
        // The key file has no final newline.
        let key = PublicKey::from_pem(std::str::from_utf8(&pem).unwrap()).unwrap();
        let envelope = crate::intoto::Envelope::from_json(&vsa).unwrap();
        assert_eq!(envelope.signatures[0].sig.len(), 64);
        envelope.verify(&key).unwrap();
        let mut tampered = envelope.clone();
        tampered.payload.push(b' ');
        assert!(tampered.verify(&key).is_err());
    }

    #[test]
    fn public_keys_of_other_algorithms_name_the_algorithm() {
        // SPKI DER of an RSA-2048 key, a P-384 key and a secp256k1 key (generated by OpenSSL).
        let cases = [
            (
                "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEArOqtIejaVmlKpRMD7C92cTvyY0EkN+sKw87Bi1+20wvjFOz8H+eptMFtI0TmX0WgWAbHigrWqGBxC71M4tLQ+n9P1RApElZ8jL8YaZJnbO++zs8B4z0L8sQ/qjGhQrdvzh3tiU9hjAz0SC57MAh71D53AD6p7f0+YQvxQONvBwVw4c5/ZBV97GBdDno2wWWT3IwcEdW0y7tqbOGI6qT3vBsFbKt8E7bp3gVjAW8OnvNbX0VIY+dquhO2/eatH7iGEwy90jgEy6m+odtF4ZaPuIwb8h6vQ6n7BhuiatVFLb8sUQJcPcS2MjF/oe+aqnmoY/DxV+TUT1gKCQXJiicvtQIDAQAB",
                "RSA",
            ),
            (
                "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEAHcOrU9nfiUtQ3RwiQzzpQOVZyZdeoxIPcP9Szp3XYPaHnL8ahlqgo7XqiCSzR195uHX/D2E1wSqufk1V7cs79mKGtaTykQpl60juofBQZDwuiyT8VlV1pU1rhBsRhoK",
                "ECDSA P-384",
            ),
        ];
        for (b64, name) in cases {
            let err = PublicKey::from_pem(b64).unwrap_err().to_string();
            assert!(err.contains(&format!("the public key is {name}")), "{err}");
        }
        let err = PublicKey::from_pem(
            "-----BEGIN PUBLIC KEY-----\nMBowEwYHKoZIzj0CAQYIKoZIzj0DAQcDAwAEAQ==\n-----END PUBLIC KEY-----",
        )
        .unwrap_err();
        assert!(err.to_string().contains("ECDSA P-256"), "{err}");
        assert!(
            PublicKey::from_pem("AAAA")
                .unwrap_err()
                .to_string()
                .contains("not a SubjectPublicKeyInfo")
        );
    }

    #[test]
    fn a_private_key_or_other_pem_given_as_public_key_says_what_it_is() {
        let key = PrivateKey::generate(Algorithm::EcdsaP256).unwrap();
        let err = PublicKey::from_pem(&key.to_pkcs8_pem().unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("holds a private key, not a public key"), "{err}");
        let err = PrivateKey::from_pem(&key.public_key().to_pem().unwrap())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("holds a public key, not a private key"), "{err}");
        let err = PublicKey::from_pem("-----BEGIN RSA PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----")
            .unwrap_err()
            .to_string();
        assert!(err.contains("an RSA key"), "{err}");
    }

    #[test]
    fn private_keys_of_other_algorithms_name_the_algorithm() {
        // PKCS#8 of a P-384 key and SEC1 of a secp256k1 key (generated by OpenSSL).
        let p384 = "-----BEGIN PRIVATE KEY-----\nMIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDB89d4uXJSAYEQrWgj9\n2IRAIigAs0dvJUNm26uMsTUvx5wu/iE/fYqilEDlG1C8UM2hZANiAAQAdw6tT2d+\nJS1DdHCJDPOlA5VnJl16jEg9w/1LOnddg9oecvxqGWqCjteqIJLNHX3m4df8PYTX\nBKq5+TVXtyzv2Yoa1pPKRCmXrSO6h8FBkPC6LJPxWVXWlTWuEGxGGgo=\n-----END PRIVATE KEY-----\n";
        let err = PrivateKey::from_pem(p384).err().unwrap().to_string();
        assert!(err.contains("the private key is ECDSA P-384"), "{err}");
        let k1 = "-----BEGIN EC PRIVATE KEY-----\nMHQCAQEEIGMrlAUe9vqErUpNCW9sGXP4tVmL0J1FAPGqjxl9FbGvoAcGBSuBBAAK\noUQDQgAEBS6zhBeyCGF1FBAHGoItMwc6Uh+30qztd9CB8eChY7lQwJnG8823cTBO\nWaXr4ly/4EjQNt8qPCJDcag8boGt0g==\n-----END EC PRIVATE KEY-----\n";
        let err = PrivateKey::from_pem(k1).err().unwrap().to_string();
        assert!(err.contains("ECDSA secp256k1"), "{err}");
        let one_line = key_one_line(&PrivateKey::generate(Algorithm::Ed25519).unwrap());
        assert_eq!(
            PrivateKey::from_pem(&one_line).unwrap().algorithm(),
            Algorithm::Ed25519
        );
    }

    /// A PKCS#8 PEM with its body on one line and CRLF line ends.
    fn key_one_line(key: &PrivateKey) -> String {
        let pem = key.to_pkcs8_pem().unwrap();
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        format!("-----BEGIN PRIVATE KEY-----\r\n{body}\r\n-----END PRIVATE KEY-----\r\n")
    }

    #[test]
    fn ed25519_private_keys_are_pkcs8_v1() {
        let key = PrivateKey::generate(Algorithm::Ed25519).unwrap();
        let pem = key.to_pkcs8_pem().unwrap();
        let der = key_file::parse(&pem).unwrap().der;
        assert_eq!(der.len(), 48);
        assert_eq!(der[..16], ED25519_PKCS8_V1_PREFIX);
        assert_eq!(PrivateKey::from_pem(&pem).unwrap().public_key(), key.public_key());
    }

    /// Loads a key repro wrote with OpenSSL and pyca/cryptography, where they are installed.
    #[test]
    fn openssl_and_pyca_read_the_private_keys_repro_writes() {
        let dir = tempfile::tempdir().unwrap();
        for alg in [Algorithm::EcdsaP256, Algorithm::Ed25519] {
            let key = PrivateKey::generate(alg).unwrap();
            let (private, public) = write_key_pair(&key, &dir.path().join(format!("{alg:?}"))).unwrap();
            let expected = std::fs::read_to_string(&public).unwrap();
            match std::process::Command::new("openssl")
                .args(["pkey", "-pubout", "-in"])
                .arg(&private)
                .output()
            {
                Ok(out) => {
                    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
                }
                Err(e) => eprintln!("skipped openssl: {e}"),
            }
            let script = "import sys\n\
from cryptography.hazmat.primitives import serialization as s\n\
k = s.load_pem_private_key(open(sys.argv[1], 'rb').read(), None)\n\
sys.stdout.write(k.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo).decode())\n";
            match std::process::Command::new("python3")
                .args(["-c", script])
                .arg(&private)
                .output()
            {
                Ok(out) if out.status.success() => assert_eq!(String::from_utf8_lossy(&out.stdout), expected),
                Ok(out) => {
                    let err = String::from_utf8_lossy(&out.stderr);
                    assert!(err.contains("No module named"), "pyca refused the key: {err}");
                    eprintln!("skipped pyca/cryptography: not installed");
                }
                Err(e) => eprintln!("skipped pyca/cryptography: {e}"),
            }
        }
    }

    #[test]
    fn key_pairs_never_overwrite_nor_follow_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let prefix = dir.path().join("k");
        let key = PrivateKey::generate(Algorithm::EcdsaP256).unwrap();
        let (private, public) = write_key_pair(&key, &prefix).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            fs::metadata(&private).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // Either half existing refuses, and writes nothing.
        fs::remove_file(&private).unwrap();
        let err = write_key_pair(&key, &prefix).unwrap_err().to_string();
        assert!(err.contains("k.pub.pem exists"), "{err}");
        assert!(!private.exists());
        // A symlink (dangling, or to a file elsewhere) is neither followed nor replaced...
        fs::remove_file(&public).unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, &public).unwrap();
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &private).unwrap();
        let err = write_key_pair(&key, &prefix).unwrap_err().to_string();
        assert!(err.contains("(a symlink)"), "{err}");
        // ...and --force replaces the links themselves, never their targets.
        write_key_pair_to(&key, &prefix, Overwrite::Replace).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
        assert!(!dir.path().join("nowhere").exists());
        assert!(!fs::symlink_metadata(&public).unwrap().file_type().is_symlink());
        assert_eq!(PublicKey::from_file(&public).unwrap(), key.public_key());
        assert_eq!(
            PrivateKey::from_file(&private).unwrap().public_key(),
            key.public_key()
        );
        // A folder in the way is an error even with --force.
        fs::remove_file(&public).unwrap();
        fs::create_dir(&public).unwrap();
        assert!(write_key_pair_to(&key, &prefix, Overwrite::Replace).is_err());
    }

    #[test]
    fn key_files_are_read_to_the_end_whatever_their_size_says() {
        // A pipe reports size 0; the key must still be read whole.
        let key = PrivateKey::generate(Algorithm::EcdsaP256).unwrap();
        let pem = key.public_key().to_pem().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let status = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !status.is_ok_and(|s| s.success()) {
            eprintln!("skipped: no mkfifo");
            return;
        }
        let writer = {
            let fifo = fifo.clone();
            std::thread::spawn(move || fs::write(fifo, pem))
        };
        assert_eq!(PublicKey::from_file(&fifo).unwrap(), key.public_key());
        writer.join().unwrap().unwrap();
    }

    #[test]
    fn canonical_strings_escape_only_quote_and_backslash() {
        assert_eq!(canonical_string("a\"b\\c\nd"), "\"a\\\"b\\\\c\nd\"");
    }
}
