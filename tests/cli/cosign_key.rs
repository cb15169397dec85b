//! cosign's encrypted private keys, read from fixtures written by an independent generator
//! (`tests/fixtures/cosign/make_encrypted_key.py`: Python `hashlib.scrypt` and PyNaCl), through
//! the library and through `repro rebuild --key`, which takes the password from
//! `COSIGN_PASSWORD`.

use crate::common;

use std::path::PathBuf;

use repro::attest::encrypted_key::EncryptedKeyError;
use repro::attest::{self, Algorithm, AttestError, PrivateKey, PublicKey};

const PASSWORD: &[u8] = b"repro-test-password";

fn fixture(name: &str) -> PathBuf {
    common::repo_root().join("tests/fixtures/cosign").join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

#[test]
fn fixtures_decrypt_to_the_committed_public_keys_and_sign() {
    for (name, password, algorithm) in [
        ("cosign", PASSWORD, Algorithm::EcdsaP256),
        ("cosign-ed25519", PASSWORD, Algorithm::Ed25519),
        ("cosign-legacy-empty", &b""[..], Algorithm::EcdsaP256),
    ] {
        let pem = read(&format!("{name}.key"));
        let key = PrivateKey::from_pem_with_password(&pem, Some(password)).unwrap();
        assert_eq!(key.algorithm(), algorithm, "{name}");
        let public = PublicKey::from_file(&fixture(&format!("{name}.pub"))).unwrap();
        assert_eq!(key.public_key(), public, "{name}");
        // Byte-identical to the committed cosign.pub (pyca/cryptography's SPKI PEM).
        assert_eq!(key.public_key().to_pem().unwrap(), read(&format!("{name}.pub")));

        let sig = key.sign(b"message").unwrap();
        public.verify(b"message", &sig).unwrap();
        assert!(public.verify(b"messagE", &sig).is_err());
        let statement = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"00"}}],"predicateType":"https://example.com/p","predicate":{"x":1}}"#;
        let envelope = attest::sign_statement(statement, &key).unwrap();
        attest::verify_attestation(envelope.to_json().as_bytes(), &public).unwrap();
    }
}

#[test]
fn wrong_or_missing_passwords_are_named_errors() {
    let pem = read("cosign.key");
    let err = PrivateKey::from_pem_with_password(&pem, Some(b"repro-test-passwore"))
        .err()
        .unwrap();
    assert!(
        matches!(err, AttestError::EncryptedKey(EncryptedKeyError::WrongPassword)),
        "{err}"
    );
    assert_eq!(err.to_string(), "cannot decrypt the key: wrong COSIGN_PASSWORD?");
    assert!(!err.is_invalid(), "an unusable key is exit 2, not a verdict");

    for err in [
        PrivateKey::from_pem_with_password(&pem, None).err().unwrap(),
        PrivateKey::from_pem(&pem).err().unwrap(),
    ] {
        assert!(
            matches!(err, AttestError::EncryptedKey(EncryptedKeyError::NoPassword)),
            "{err}"
        );
        assert!(err.to_string().contains("COSIGN_PASSWORD"), "{err}");
    }

    // The empty password is a password: set-and-empty works, unset does not, others fail.
    let empty = read("cosign-legacy-empty.key");
    assert!(empty.starts_with("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----"));
    assert!(PrivateKey::from_pem_with_password(&empty, Some(b"")).is_ok());
    assert!(matches!(
        PrivateKey::from_pem_with_password(&empty, None),
        Err(AttestError::EncryptedKey(EncryptedKeyError::NoPassword))
    ));
    assert!(matches!(
        PrivateKey::from_pem_with_password(&empty, Some(PASSWORD)),
        Err(AttestError::EncryptedKey(EncryptedKeyError::WrongPassword))
    ));
}

#[test]
fn damaged_fixtures_are_errors() {
    let pem = read("cosign.key");
    let lines: Vec<&str> = pem.lines().collect();
    let truncated = format!("{}\n{}\n", lines[..3].join("\n"), lines[lines.len() - 1]);
    let without_end = lines[..lines.len() - 1].join("\n");
    let bad_base64 = pem.replacen("eyJ", "e*J", 1);
    for (what, text) in [
        ("truncated body", truncated),
        ("no END line", without_end),
        ("bad base64", bad_base64),
    ] {
        let err = PrivateKey::from_pem_with_password(&text, Some(PASSWORD))
            .err()
            .unwrap();
        assert!(
            matches!(err, AttestError::EncryptedKey(EncryptedKeyError::Malformed(_))),
            "{what}: {err}"
        );
    }
    // Plain keys still load, and ignore a password.
    let plain = PrivateKey::generate(Algorithm::EcdsaP256).unwrap();
    let again = PrivateKey::from_pem_with_password(&plain.to_pkcs8_pem().unwrap(), Some(b"x")).unwrap();
    assert_eq!(again.public_key(), plain.public_key());
}

/// `repro rebuild PROV --key K -o OUT` loads the key before it reads the provenance, so a
/// missing provenance shows that the key loaded, and a bad password stops at the key.
fn rebuild_with_key(key: &str, password: Option<&str>) -> (i32, String) {
    let out_dir = tempfile::tempdir().unwrap();
    let mut command = common::repro();
    command.args([
        "rebuild",
        "/nonexistent/provenance.json",
        "--key",
        &fixture(key).display().to_string(),
        "-o",
        &out_dir.path().join("att.json").display().to_string(),
    ]);
    match password {
        Some(p) => command.env("COSIGN_PASSWORD", p),
        None => command.env_remove("COSIGN_PASSWORD"),
    };
    let out = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap_or(-1), stderr)
}

#[test]
fn rebuild_reads_the_password_from_cosign_password() {
    let password = std::str::from_utf8(PASSWORD).unwrap();
    let (code, err) = rebuild_with_key("cosign.key", Some(password));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("/nonexistent/provenance.json"),
        "past the key: {err}"
    );
    assert!(!err.contains("cosign.key"), "{err}");

    let (code, err) = rebuild_with_key("cosign-legacy-empty.key", Some(""));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("/nonexistent/provenance.json"),
        "empty password: {err}"
    );

    let (code, err) = rebuild_with_key("cosign.key", Some("not-the-password"));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("cosign.key") && err.contains("wrong COSIGN_PASSWORD?"),
        "{err}"
    );
    assert!(
        !err.contains("not-the-password"),
        "the password is never printed: {err}"
    );
    assert!(!err.contains("/nonexistent"), "stops at the key: {err}");

    let (code, err) = rebuild_with_key("cosign-ed25519.key", None);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("cosign-ed25519.key") && err.contains("set COSIGN_PASSWORD"),
        "{err}"
    );
}

#[test]
fn a_decrypted_payload_that_is_no_p256_or_ed25519_key_is_refused() {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use crypto_secretbox::aead::{Aead as _, KeyInit as _};

    // Encrypted correctly (cheap scrypt cost), but the plaintext is not a PKCS#8 key.
    let (salt, nonce) = ([5u8; 32], [6u8; 24]);
    let mut key = [0u8; 32];
    scrypt::scrypt(PASSWORD, &salt, &scrypt::Params::new(4, 1, 1).unwrap(), &mut key).unwrap();
    let ciphertext = crypto_secretbox::XSalsa20Poly1305::new(&key.into())
        .encrypt(&nonce.into(), &b"not a PKCS#8 key"[..])
        .unwrap();
    let doc = serde_json::json!({
        "kdf": {"name": "scrypt", "params": {"N": 16, "r": 1, "p": 1}, "salt": STANDARD.encode(salt)},
        "cipher": {"name": "nacl/secretbox", "nonce": STANDARD.encode(nonce)},
        "ciphertext": STANDARD.encode(ciphertext),
    });
    let pem = format!(
        "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n{}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
        STANDARD.encode(doc.to_string())
    );
    let err = PrivateKey::from_pem_with_password(&pem, Some(PASSWORD))
        .err()
        .unwrap();
    assert!(matches!(err, AttestError::Key(_)), "{err}");
    assert!(
        err.to_string().contains("not a PKCS#8 P-256 or Ed25519 key"),
        "{err}"
    );
}
