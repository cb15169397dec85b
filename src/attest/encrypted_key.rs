//! cosign's password-encrypted private keys (`cosign generate-key-pair`): a PEM block of type
//! `ENCRYPTED SIGSTORE PRIVATE KEY` (older cosign: `ENCRYPTED COSIGN PRIVATE KEY`) whose body
//! is go-securesystemslib's `encrypted` JSON — an scrypt-derived key and NaCl secretbox
//! (XSalsa20-Poly1305) over the PKCS#8 DER of the key.
//!
//! Only decryption lives here; turning the DER into a signing key is [`super::keys`]'s job.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use crypto_secretbox::aead::{Aead as _, KeyInit as _};
use serde::Deserialize;
use zeroize::Zeroizing;

/// The PEM block type cosign writes today.
pub const SIGSTORE_PEM_TYPE: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// The PEM block type older cosign releases wrote; cosign still reads it.
pub const COSIGN_PEM_TYPE: &str = "ENCRYPTED COSIGN PRIVATE KEY";
/// The environment variable holding the password, as in cosign. Set and empty means the
/// empty password, which cosign accepts.
pub const PASSWORD_ENV: &str = "COSIGN_PASSWORD";

/// The largest scrypt cost accepted. cosign writes N = 2^15, 2^16 or 2^17; the bound keeps a
/// hostile file from asking for gigabytes of memory.
const MAX_LOG_N: u32 = 20;
const MAX_R: u32 = 16;
const MAX_P: u32 = 16;
/// scrypt needs 128·N·r bytes.
const MAX_SCRYPT_MEMORY: u64 = 1 << 30;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// Why an encrypted key could not be read. None of these ever carries the password.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EncryptedKeyError {
    /// The key is encrypted and no password was given.
    #[error("the key is encrypted: set {PASSWORD_ENV} to its password (set and empty for an empty password)")]
    NoPassword,
    /// The secretbox did not authenticate: the password (or the ciphertext) is wrong.
    #[error("cannot decrypt the key: wrong {PASSWORD_ENV}?")]
    WrongPassword,
    /// The PEM, base64 or JSON is unreadable.
    #[error("malformed encrypted key: {0}")]
    Malformed(String),
    /// Readable, but a key derivation, cipher or parameter we do not accept.
    #[error("unsupported encrypted key: {0}")]
    Unsupported(String),
}

#[derive(Deserialize)]
struct Document {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(Deserialize)]
struct Kdf {
    name: String,
    params: ScryptParams,
    salt: String,
}

/// Wide integer types so that out-of-range values are refused by us, with a clear message,
/// rather than by the JSON reader.
#[derive(Deserialize)]
struct ScryptParams {
    #[serde(rename = "N")]
    n: u64,
    r: u64,
    p: u64,
}

#[derive(Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

/// True if `pem` holds a cosign encrypted private key block (of either type).
pub fn is_encrypted(pem: &str) -> bool {
    [SIGSTORE_PEM_TYPE, COSIGN_PEM_TYPE]
        .iter()
        .any(|label| pem.contains(&format!("-----BEGIN {label}-----")))
}

/// Decrypts a cosign encrypted private key PEM into the PKCS#8 DER it protects (zeroised on
/// drop). `password` is the raw password bytes; `None` means none was given.
pub fn decrypt_pem(pem: &str, password: Option<&[u8]>) -> Result<Zeroizing<Vec<u8>>, EncryptedKeyError> {
    let body = pem_body(pem)?;
    decrypt_document(&body, password)
}

/// The decoded body of the first cosign encrypted key block in `pem`. Lenient like Go's
/// `pem.Decode`: text around the block, CRLF and any line width are accepted.
fn pem_body(pem: &str) -> Result<Vec<u8>, EncryptedKeyError> {
    let malformed = |m: &str| EncryptedKeyError::Malformed(m.to_string());
    let (label, after_begin) = [SIGSTORE_PEM_TYPE, COSIGN_PEM_TYPE]
        .iter()
        .find_map(|label| {
            let begin = format!("-----BEGIN {label}-----");
            pem.find(&begin).map(|at| (*label, &pem[at + begin.len()..]))
        })
        .ok_or_else(|| malformed("no ENCRYPTED SIGSTORE/COSIGN PRIVATE KEY block"))?;
    let end = format!("-----END {label}-----");
    let body = after_begin
        .find(&end)
        .map(|at| &after_begin[..at])
        .ok_or_else(|| malformed(&format!("no {end} line")))?;
    if body.contains(':') {
        // Encapsulated headers (RFC 1421 `Proc-Type:` …) are never written by cosign.
        return Err(malformed("PEM headers are not supported"));
    }
    let text: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD
        .decode(text)
        .map_err(|e| EncryptedKeyError::Malformed(format!("PEM body: {e}")))
}

/// Decrypts go-securesystemslib's `encrypted` JSON document.
fn decrypt_document(json: &[u8], password: Option<&[u8]>) -> Result<Zeroizing<Vec<u8>>, EncryptedKeyError> {
    let doc: Document =
        serde_json::from_slice(json).map_err(|e| EncryptedKeyError::Malformed(format!("JSON: {e}")))?;
    if doc.kdf.name != "scrypt" {
        return Err(EncryptedKeyError::Unsupported(format!(
            "key derivation {:?} (only scrypt)",
            doc.kdf.name
        )));
    }
    if doc.cipher.name != "nacl/secretbox" {
        return Err(EncryptedKeyError::Unsupported(format!(
            "cipher {:?} (only nacl/secretbox)",
            doc.cipher.name
        )));
    }
    let params = scrypt_params(&doc.kdf.params)?;
    let field = |name: &str, value: &str| {
        STANDARD
            .decode(value)
            .map_err(|e| EncryptedKeyError::Malformed(format!("{name}: {e}")))
    };
    let salt = field("kdf.salt", &doc.kdf.salt)?;
    let nonce = field("cipher.nonce", &doc.cipher.nonce)?;
    let ciphertext = field("ciphertext", &doc.ciphertext)?;
    if nonce.len() != NONCE_LEN {
        return Err(EncryptedKeyError::Malformed(format!(
            "cipher.nonce is {} bytes, not {NONCE_LEN}",
            nonce.len()
        )));
    }
    if ciphertext.len() < TAG_LEN {
        return Err(EncryptedKeyError::Malformed(
            "ciphertext is shorter than its authentication tag".into(),
        ));
    }
    // Checked only now, so that a malformed file is reported as such whatever the password.
    let password = password.ok_or(EncryptedKeyError::NoPassword)?;

    let mut key = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password, &salt, &params, key.as_mut())
        .map_err(|e| EncryptedKeyError::Unsupported(format!("scrypt: {e}")))?;
    let cipher = crypto_secretbox::XSalsa20Poly1305::new(crypto_secretbox::Key::from_slice(key.as_ref()));
    cipher
        .decrypt(crypto_secretbox::Nonce::from_slice(&nonce), ciphertext.as_slice())
        .map(Zeroizing::new)
        .map_err(|_| EncryptedKeyError::WrongPassword)
}

/// Checks the scrypt parameters against the bounds above before anything is allocated.
fn scrypt_params(p: &ScryptParams) -> Result<scrypt::Params, EncryptedKeyError> {
    let unsupported = |m: String| EncryptedKeyError::Unsupported(m);
    if !p.n.is_power_of_two() || p.n < 2 || p.n > 1 << MAX_LOG_N {
        return Err(unsupported(format!(
            "scrypt N = {} (must be a power of two from 2 to 2^{MAX_LOG_N})",
            p.n
        )));
    }
    let r = u32::try_from(p.r)
        .ok()
        .filter(|r| (1..=MAX_R).contains(r))
        .ok_or_else(|| unsupported(format!("scrypt r = {} (must be 1 to {MAX_R})", p.r)))?;
    let pp = u32::try_from(p.p)
        .ok()
        .filter(|p| (1..=MAX_P).contains(p))
        .ok_or_else(|| unsupported(format!("scrypt p = {} (must be 1 to {MAX_P})", p.p)))?;
    if 128 * p.n * u64::from(r) > MAX_SCRYPT_MEMORY {
        return Err(unsupported(format!(
            "scrypt N = {} and r = {r} need more than {} MiB",
            p.n,
            MAX_SCRYPT_MEMORY >> 20
        )));
    }
    // N is a power of two no larger than 2^20, so its log fits a u8.
    let log_n = u8::try_from(p.n.trailing_zeros()).map_err(|_| unsupported(format!("scrypt N = {}", p.n)))?;
    scrypt::Params::new(log_n, r, pp).map_err(|e| unsupported(format!("scrypt parameters: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // go-securesystemslib's own vectors (encrypted/encrypted_test.go), written by the Go
    // implementation cosign uses, under the password "supersecret". GO_DECRYPT holds
    // "reallyimportant"; the three KDF-strength vectors went through its `Marshal`, so they
    // hold that string as JSON: base64 in quotes.
    const GO_DECRYPT: &str = r#"{"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":"N9a7x5JFGbrtB2uBR81jPwp0eiLR4A7FV3mjVAQrg1g="},"cipher":{"name":"nacl/secretbox","nonce":"2h8HxMmgRfuYdpswZBQaU3xJ1nkA/5Ik"},"ciphertext":"SEW6sUh0jf2wfdjJGPNS9+bkk2uB+Cxamf32zR8XkQ=="}"#;
    const GO_LEGACY: &str = r#"{"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":"WO3mVvyTwJ9vwT5/Tk5OW5WPIBUofMjcpEfrLnfY4uA="},"cipher":{"name":"nacl/secretbox","nonce":"tCy7HcTFr4uxv4Nrg/DWmncuZ148U1MX"},"ciphertext":"08n43p5G5yviPEZpO7tPPF4aZQkWiWjkv4taFdhDBA0tamKH4nw="}"#;
    const GO_STANDARD: &str = r#"{"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":"FhzPOt9/bJG4PTq6lQ6ecG6GzaOuOy/ynG5+yRiFlNs="},"cipher":{"name":"nacl/secretbox","nonce":"aw1ng1jHaDz/tQ7V2gR9O2+IGQ8xJEuE"},"ciphertext":"HycvuLZL4sYH0BrYTh4E/H20VtAW6u5zL5Pr+IBjYLYnCPzDkq8="}"#;
    const GO_OWASP: &str = r#"{"kdf":{"name":"scrypt","params":{"N":131072,"r":8,"p":1},"salt":"m38E3kouJTtiheLQN22NQ8DTito5hrjpUIskqcd375k="},"cipher":{"name":"nacl/secretbox","nonce":"Y6PM13yA+o44pE/W1ZBwczeGnTV/m9Zc"},"ciphertext":"6H8sqj1K6B6yDjtH5AQ6lbFigg/C2yDDJc4rYJ79w9aVPImFIPI="}"#;

    fn pem_of(label: &str, body: &[u8]) -> String {
        let text = STANDARD.encode(body);
        let lines: Vec<&str> = text
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }

    /// A cheap (N = 16) document with the given fields replaced.
    fn cheap(edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
        let mut v = serde_json::json!({
            "kdf": {"name": "scrypt", "params": {"N": 16, "r": 1, "p": 1}, "salt": STANDARD.encode([1u8; 32])},
            "cipher": {"name": "nacl/secretbox", "nonce": STANDARD.encode([2u8; 24])},
            "ciphertext": STANDARD.encode([3u8; 48]),
        });
        edit(&mut v);
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn go_securesystemslib_vectors_decrypt_at_every_cost_cosign_writes() {
        let plain = decrypt_document(GO_DECRYPT.as_bytes(), Some(b"supersecret")).unwrap();
        assert_eq!(plain.as_slice(), b"reallyimportant");
        for doc in [GO_LEGACY, GO_STANDARD, GO_OWASP] {
            let plain = decrypt_document(doc.as_bytes(), Some(b"supersecret")).unwrap();
            assert_eq!(plain.as_slice(), b"\"cmVhbGx5aW1wb3J0YW50\"");
        }
        assert_eq!(
            decrypt_document(GO_LEGACY.as_bytes(), Some(b"supersecreT")).unwrap_err(),
            EncryptedKeyError::WrongPassword
        );
        assert_eq!(
            decrypt_document(GO_LEGACY.as_bytes(), None).unwrap_err(),
            EncryptedKeyError::NoPassword
        );
    }

    #[test]
    fn a_flipped_ciphertext_bit_does_not_authenticate() {
        let mut v: serde_json::Value = serde_json::from_str(GO_LEGACY).unwrap();
        let mut ct = STANDARD.decode(v["ciphertext"].as_str().unwrap()).unwrap();
        ct[20] ^= 1;
        v["ciphertext"] = STANDARD.encode(ct).into();
        let doc = serde_json::to_vec(&v).unwrap();
        assert_eq!(
            decrypt_document(&doc, Some(b"supersecret")).unwrap_err(),
            EncryptedKeyError::WrongPassword
        );
    }

    #[test]
    fn both_pem_types_are_read_and_others_are_not() {
        for label in [SIGSTORE_PEM_TYPE, COSIGN_PEM_TYPE] {
            let pem = format!(
                "comment before\r\n{}",
                pem_of(label, GO_DECRYPT.as_bytes()).replace('\n', "\r\n")
            );
            assert!(is_encrypted(&pem));
            assert_eq!(
                decrypt_pem(&pem, Some(b"supersecret")).unwrap().as_slice(),
                b"reallyimportant"
            );
        }
        let other = pem_of("ENCRYPTED PRIVATE KEY", GO_DECRYPT.as_bytes());
        assert!(!is_encrypted(&other));
        assert!(matches!(
            decrypt_pem(&other, Some(b"supersecret")),
            Err(EncryptedKeyError::Malformed(_))
        ));
    }

    #[test]
    fn malformed_pem_and_fields_are_reported_as_such() {
        let cases: Vec<String> = vec![
            format!("-----BEGIN {SIGSTORE_PEM_TYPE}-----\neyJ\n"),
            format!("-----BEGIN {SIGSTORE_PEM_TYPE}-----\n!!!!\n-----END {SIGSTORE_PEM_TYPE}-----\n"),
            format!(
                "-----BEGIN {SIGSTORE_PEM_TYPE}-----\nProc-Type: 4,ENCRYPTED\n\nAAAA\n-----END {SIGSTORE_PEM_TYPE}-----\n"
            ),
            pem_of(SIGSTORE_PEM_TYPE, b"not json"),
            pem_of(SIGSTORE_PEM_TYPE, b"{}"),
            pem_of(SIGSTORE_PEM_TYPE, &cheap(|v| v["kdf"]["salt"] = "%%%".into())),
            pem_of(
                SIGSTORE_PEM_TYPE,
                &cheap(|v| v["cipher"]["nonce"] = "AAAA".into()),
            ),
            pem_of(
                SIGSTORE_PEM_TYPE,
                &cheap(|v| v["ciphertext"] = STANDARD.encode([0u8; 15]).into()),
            ),
            pem_of(SIGSTORE_PEM_TYPE, &cheap(|v| v["ciphertext"] = 7.into())),
            pem_of(
                SIGSTORE_PEM_TYPE,
                &cheap(|v| v["kdf"]["params"]["N"] = (-1).into()),
            ),
        ];
        for pem in cases {
            let err = decrypt_pem(&pem, Some(b"pw")).unwrap_err();
            assert!(matches!(err, EncryptedKeyError::Malformed(_)), "{pem}: {err}");
        }
        // Malformed beats a missing password, so the user fixes the file first.
        let pem = pem_of(SIGSTORE_PEM_TYPE, b"not json");
        assert!(matches!(
            decrypt_pem(&pem, None),
            Err(EncryptedKeyError::Malformed(_))
        ));
    }

    #[test]
    fn unknown_algorithms_and_costly_parameters_are_refused() {
        let edits: Vec<fn(&mut serde_json::Value)> = vec![
            |v| v["kdf"]["name"] = "pbkdf2".into(),
            |v| v["cipher"]["name"] = "aes-gcm".into(),
            |v| v["kdf"]["params"]["N"] = 0.into(),
            |v| v["kdf"]["params"]["N"] = 1.into(),
            |v| v["kdf"]["params"]["N"] = 32767.into(),
            |v| v["kdf"]["params"]["N"] = (1u64 << 21).into(),
            |v| v["kdf"]["params"]["N"] = u64::MAX.into(),
            |v| v["kdf"]["params"]["r"] = 0.into(),
            |v| v["kdf"]["params"]["r"] = (u64::from(u32::MAX) + 1).into(),
            |v| v["kdf"]["params"]["p"] = 0.into(),
            |v| v["kdf"]["params"]["p"] = 99.into(),
            // Each in bounds, together 2 GiB.
            |v| {
                v["kdf"]["params"]["N"] = (1u64 << 20).into();
                v["kdf"]["params"]["r"] = 16.into();
            },
        ];
        for edit in edits {
            let doc = cheap(edit);
            let err = decrypt_document(&doc, Some(b"pw")).unwrap_err();
            assert!(
                matches!(err, EncryptedKeyError::Unsupported(_)),
                "{}: {err}",
                String::from_utf8_lossy(&doc)
            );
        }
        // The cheap document itself is well-formed: only the tag fails.
        assert_eq!(
            decrypt_document(&cheap(|_| ()), Some(b"pw")).unwrap_err(),
            EncryptedKeyError::WrongPassword
        );
    }

    #[test]
    fn errors_never_contain_the_password() {
        let pw = b"hunter2-secret";
        for doc in [
            GO_LEGACY.as_bytes().to_vec(),
            cheap(|v| v["kdf"]["params"]["N"] = 3.into()),
        ] {
            let msg = decrypt_document(&doc, Some(pw)).unwrap_err().to_string();
            assert!(!msg.contains("hunter2"), "{msg}");
        }
    }

    fn small_n() -> impl Strategy<Value = u64> {
        prop_oneof![(0u32..=8).prop_map(|k| 1u64 << k), any::<u64>(), Just(1u64 << 21),]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_pem_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = decrypt_pem(&pem_of(SIGSTORE_PEM_TYPE, &body), Some(b"pw"));
            let _ = decrypt_pem(&pem_of(COSIGN_PEM_TYPE, &body), None);
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,300}") {
            let _ = decrypt_pem(&format!("-----BEGIN {SIGSTORE_PEM_TYPE}-----\n{text}\n-----END {SIGSTORE_PEM_TYPE}-----"), Some(b""));
            let _ = decrypt_pem(&text, Some(b""));
        }

        #[test]
        fn arbitrary_parameters_and_lengths_never_panic(
            n in small_n(),
            r in prop_oneof![0u64..=3, any::<u64>()],
            p in prop_oneof![0u64..=3, any::<u64>()],
            salt in proptest::collection::vec(any::<u8>(), 0..40),
            // Mostly well-sized, so that most cases reach scrypt and the secretbox.
            nonce in prop_oneof![3 => proptest::collection::vec(any::<u8>(), 24), 1 => proptest::collection::vec(any::<u8>(), 0..30)],
            ciphertext in proptest::collection::vec(any::<u8>(), 0..80),
            password in proptest::collection::vec(any::<u8>(), 0..20),
        ) {
            let doc = serde_json::to_vec(&serde_json::json!({
                "kdf": {"name": "scrypt", "params": {"N": n, "r": r, "p": p}, "salt": STANDARD.encode(&salt)},
                "cipher": {"name": "nacl/secretbox", "nonce": STANDARD.encode(&nonce)},
                "ciphertext": STANDARD.encode(&ciphertext),
            })).unwrap();
            // Random bytes never authenticate (2^-128).
            prop_assert!(decrypt_document(&doc, Some(&password)).is_err());
        }
    }
}
