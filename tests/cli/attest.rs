//! Integration tests of the attest stage: the DSSE spec's test vector, round trips,
//! tampering, key files, keyids and cross-verification with securesystemslib.

use crate::common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use proptest::prelude::*;
use repro::attest::{self, Algorithm, AttestError, Envelope, PrivateKey, PublicKey, bundle, pae};

const ALGORITHMS: [Algorithm; 2] = [Algorithm::EcdsaP256, Algorithm::Ed25519];

fn statement() -> Vec<u8> {
    br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"00"}}],"predicateType":"https://example.com/p","predicate":{"x":1}}"#.to_vec()
}

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

// From secure-systems-lab/dsse protocol.md, "Test Vectors" (X, Y and d converted from the
// decimal values given there).
const VECTOR_X: &str = "67cd390f77aa359cb08c2235f652270493a9ed832b0abcc01f70954c0390d238";
const VECTOR_Y: &str = "0c782bd54e269125a44f4433aff1432ce94e12bca73aa67ac80cea12608ddf74";
const VECTOR_D: &str = "d73ec437fd6346e3619c5ebfdfff0f6916804955ad32ac9ac492b0ede1f6ffb7";
const VECTOR_ENVELOPE: &str = r#"{"payload": "aGVsbG8gd29ybGQ=",
 "payloadType": "http://example.com/HelloWorld",
 "signatures": [{"sig": "A3JqsQGtVsJ2O2xqrI5IcnXip5GToJ3F+FnZ+O88SjtR6rDAajabZKciJTfUiHqJPcIAriEGAHTVeCUjW2JIZA=="}]}"#;

fn vector_key() -> PublicKey {
    let mut point = vec![0x04];
    point.extend(hex(VECTOR_X));
    point.extend(hex(VECTOR_Y));
    PublicKey::EcdsaP256(p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).unwrap())
}

#[test]
fn dsse_spec_vector_pae_and_raw_signature_verify() {
    let env = Envelope::from_json(VECTOR_ENVELOPE.as_bytes()).unwrap();
    assert_eq!(env.payload, b"hello world");
    assert_eq!(env.signatures.len(), 1);
    assert_eq!(env.signatures[0].keyid, None);
    let message = pae(&env.payload_type, &env.payload);
    assert_eq!(message, b"DSSEv1 29 http://example.com/HelloWorld 11 hello world");
    let key = vector_key();
    key.verify_p256_raw(&message, &env.signatures[0].sig).unwrap();
    // The vector is raw r||s (IEEE P1363), which verification accepts beside DER.
    env.verify(&key).unwrap();
    // A changed body or type breaks it.
    assert!(
        key.verify_p256_raw(&pae(&env.payload_type, b"hello world!"), &env.signatures[0].sig)
            .is_err()
    );
    assert!(
        key.verify_p256_raw(
            &pae("http://example.com/HelloWorlD", b"hello world"),
            &env.signatures[0].sig
        )
        .is_err()
    );

    // RFC 6979 is deterministic: the spec's private key reproduces the published signature,
    // and its DER form verifies through the normal path.
    let signing = p256::ecdsa::SigningKey::from_slice(&hex(VECTOR_D)).unwrap();
    assert_eq!(PublicKey::EcdsaP256(*signing.verifying_key()), key);
    let sig: p256::ecdsa::Signature = p256::ecdsa::signature::Signer::sign(&signing, &message);
    assert_eq!(sig.to_bytes().as_slice(), env.signatures[0].sig.as_slice());
    let der = PrivateKey::EcdsaP256(signing).sign(&message).unwrap();
    assert_eq!(der, sig.to_der().as_bytes());
    key.verify(&message, &der).unwrap();
}

#[test]
fn round_trip_both_algorithms_and_reject_tampering() {
    for alg in ALGORITHMS {
        let key = PrivateKey::generate(alg).unwrap();
        let public = key.public_key();
        let env = attest::sign_statement(&statement(), &key).unwrap();
        assert_eq!(
            env.signatures[0].keyid.as_deref(),
            Some(public.keyid().unwrap().as_str())
        );
        let json = env.to_json();
        let verified = attest::verify_attestation(json.as_bytes(), &public).unwrap();
        assert_eq!(verified.envelope.payload, statement());
        assert_eq!(verified.statement["predicate"]["x"], 1);

        let mut bad = env.clone();
        bad.payload.push(b' ');
        assert!(
            matches!(bad.verify(&public), Err(AttestError::SignatureInvalid)),
            "{alg:?}"
        );
        let mut bad = env.clone();
        bad.payload_type.push('x');
        assert!(matches!(bad.verify(&public), Err(AttestError::SignatureInvalid)));
        let mut bad = env.clone();
        let last = bad.signatures[0].sig.len() - 1;
        bad.signatures[0].sig[last] ^= 1;
        assert!(matches!(bad.verify(&public), Err(AttestError::SignatureInvalid)));
        let mut bad = env.clone();
        bad.signatures.clear();
        assert!(matches!(bad.verify(&public), Err(AttestError::NoSignatures)));

        // Wrong key, same and other algorithm.
        for other in ALGORITHMS {
            let wrong = PrivateKey::generate(other).unwrap().public_key();
            assert!(matches!(
                attest::verify_attestation(json.as_bytes(), &wrong),
                Err(AttestError::SignatureInvalid)
            ));
        }

        // A lying keyid changes nothing: keyids decide nothing.
        let mut lying = env.clone();
        lying.signatures[0].keyid = Some("not-the-key".into());
        lying.verify(&public).unwrap();
    }
}

#[test]
fn url_safe_unpadded_base64_is_accepted() {
    let key = PrivateKey::generate(Algorithm::EcdsaP256).unwrap();
    let env = attest::sign_statement(&statement(), &key).unwrap();
    let json = format!(
        r#"{{"payload":"{}","payloadType":"{}","signatures":[{{"keyid":"","sig":"{}"}}]}}"#,
        URL_SAFE_NO_PAD.encode(&env.payload),
        env.payload_type,
        URL_SAFE_NO_PAD.encode(&env.signatures[0].sig)
    );
    attest::verify_attestation(json.as_bytes(), &key.public_key()).unwrap();
    // Emitted standard and padded.
    let out: serde_json::Value = serde_json::from_str(&env.to_json()).unwrap();
    assert_eq!(out["payload"], STANDARD.encode(&env.payload));
}

#[test]
fn verification_errors_are_typed() {
    let key = PrivateKey::generate(Algorithm::EcdsaP256).unwrap();
    let public = key.public_key();
    let check = |bytes: &[u8]| attest::verify_attestation(bytes, &public).unwrap_err();

    assert!(matches!(check(b"not json"), AttestError::Malformed(_)));
    assert!(matches!(
        check(br#"{"payload":"@@","payloadType":"x","signatures":[]}"#),
        AttestError::Malformed(_)
    ));
    assert!(matches!(
        check(br#"{"payloadType":"x","signatures":[]}"#),
        AttestError::Malformed(_)
    ));
    assert!(!check(b"not json").is_invalid());

    let env = Envelope::sign("text/plain", statement(), &key, true).unwrap();
    let err = check(env.to_json().as_bytes());
    assert!(matches!(&err, AttestError::PayloadType { found } if found == "text/plain"));
    assert!(err.is_invalid());

    let env = attest::sign_statement(b"{not json", &key).unwrap();
    assert!(matches!(
        check(env.to_json().as_bytes()),
        AttestError::StatementMalformed(_)
    ));

    let env = attest::sign_statement(br#"{"_type":"https://example.com/Other"}"#, &key).unwrap();
    assert!(matches!(
        check(env.to_json().as_bytes()),
        AttestError::StatementType { .. }
    ));

    let v01 = br#"{"_type":"https://in-toto.io/Statement/v0.1","subject":[]}"#;
    let env = attest::sign_statement(v01, &key).unwrap();
    attest::verify_attestation(env.to_json().as_bytes(), &public).unwrap();
}

#[test]
fn sigstore_bundle_has_one_signature_without_keyid_and_verifies() {
    use sha2::Digest as _;
    for alg in ALGORITHMS {
        let key = PrivateKey::generate(alg).unwrap();
        let public = key.public_key();
        let text = bundle::sign_bundle(&statement(), &key).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["mediaType"], attest::BUNDLE_MEDIA_TYPE);
        assert_eq!(
            value["verificationMaterial"]["publicKey"]["hint"],
            STANDARD.encode(sha2::Sha256::digest(public.to_der().unwrap()))
        );
        assert_eq!(
            value["verificationMaterial"]["tlogEntries"],
            serde_json::json!([])
        );
        let sigs = value["dsseEnvelope"]["signatures"].as_array().unwrap();
        assert_eq!(sigs.len(), 1);
        assert!(sigs[0].get("keyid").is_none());
        attest::verify_attestation(text.as_bytes(), &public).unwrap();

        // A plain envelope with a keyid loses it in the bundle.
        let env = attest::sign_statement(&statement(), &key).unwrap();
        let text = attest::to_bundle(&env, &public).unwrap();
        assert!(!text.contains("keyid"));
        let mut two = env.clone();
        two.signatures.push(env.signatures[0].clone());
        assert!(attest::to_bundle(&two, &public).is_err());

        let tampered = text.replacen(
            "dsseEnvelope\":{\"payload\":\"",
            "dsseEnvelope\":{\"payload\":\"AA",
            1,
        );
        assert!(attest::verify_attestation(tampered.as_bytes(), &public).is_err());
    }
    // Older media types are accepted, foreign ones refused.
    let key = PrivateKey::generate(Algorithm::EcdsaP256).unwrap();
    let text = bundle::sign_bundle(&statement(), &key).unwrap();
    let old = text.replace(
        attest::BUNDLE_MEDIA_TYPE,
        "application/vnd.dev.sigstore.bundle+json;version=0.2",
    );
    attest::verify_attestation(old.as_bytes(), &key.public_key()).unwrap();
    let foreign = text.replace(attest::BUNDLE_MEDIA_TYPE, "application/json");
    assert!(matches!(
        attest::verify_attestation(foreign.as_bytes(), &key.public_key()),
        Err(AttestError::Malformed(_))
    ));
}

#[test]
fn key_files_are_private_and_load_back() {
    let dir = tempfile::tempdir().unwrap();
    for (alg, name) in [(Algorithm::EcdsaP256, "ec"), (Algorithm::Ed25519, "ed")] {
        let prefix = dir.path().join(name);
        let (private, public) = attest::generate_key_pair(alg, &prefix).unwrap();
        assert_eq!(private, dir.path().join(format!("{name}.key.pem")));
        assert_eq!(public, dir.path().join(format!("{name}.pub.pem")));
        let mode = std::fs::metadata(&private).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{alg:?}");
        assert!(
            std::fs::read_to_string(&private)
                .unwrap()
                .starts_with("-----BEGIN PRIVATE KEY-----")
        );
        let key = PrivateKey::from_file(&private).unwrap();
        assert_eq!(key.algorithm(), alg);
        assert_eq!(key.public_key(), PublicKey::from_file(&public).unwrap());
        // Never overwrite an existing private key.
        assert!(attest::generate_key_pair(alg, &prefix).is_err());
    }
}

#[test]
fn keyid_is_stable_and_matches_the_securesystemslib_formula() {
    use sha2::Digest as _;
    let secret = p256::ecdsa::SigningKey::from_slice(&hex(VECTOR_D)).unwrap();
    let public = PrivateKey::EcdsaP256(secret).public_key();
    let pem = public.to_pem().unwrap();
    // Canonical JSON keeps the PEM's newlines raw (only `"` and `\` are escaped).
    let canonical = format!(
        "{{\"keytype\":\"ecdsa\",\"keyval\":{{\"public\":\"{pem}\"}},\"scheme\":\"ecdsa-sha2-nistp256\"}}"
    );
    let expected = hex::encode(sha2::Sha256::digest(canonical.as_bytes()));
    assert_eq!(public.keyid().unwrap(), expected);
    assert_eq!(public.keyid().unwrap(), public.keyid().unwrap());

    let ed = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    let public = PrivateKey::Ed25519(ed.clone()).public_key();
    let canonical = format!(
        "{{\"keytype\":\"ed25519\",\"keyval\":{{\"public\":\"{}\"}},\"scheme\":\"ed25519\"}}",
        hex::encode(ed.verifying_key().as_bytes())
    );
    assert_eq!(
        public.keyid().unwrap(),
        hex::encode(sha2::Sha256::digest(canonical.as_bytes()))
    );
}

fn securesystemslib_verify(dir: &Path, envelope: &str, public: &PublicKey) -> (bool, String) {
    let env_path = dir.join("env.json");
    let pem_path = dir.join("key.pub.pem");
    std::fs::write(&env_path, envelope).unwrap();
    std::fs::write(&pem_path, public.to_pem().unwrap()).unwrap();
    common::sslib_verify(&env_path, &pem_path)
}

#[test]
fn securesystemslib_verifies_repro_envelopes_and_computes_the_same_keyid() {
    let dir = tempfile::tempdir().unwrap();
    for alg in ALGORITHMS {
        let key = PrivateKey::generate(alg).unwrap();
        let public = key.public_key();
        let env = attest::sign_statement(&statement(), &key).unwrap();
        let (ok, stdout) = securesystemslib_verify(dir.path(), &env.to_json(), &public);
        assert!(ok, "{alg:?}: securesystemslib rejected a good envelope: {stdout}");
        assert_eq!(stdout.lines().next(), Some(public.keyid().unwrap().as_str()));

        let mut bad = env.clone();
        bad.payload.push(b' ');
        let (ok, _) = securesystemslib_verify(dir.path(), &bad.to_json(), &public);
        assert!(!ok, "{alg:?}: securesystemslib accepted a tampered payload");
        let mut bad = env.clone();
        bad.signatures[0].sig[5] ^= 0x40;
        let (ok, _) = securesystemslib_verify(dir.path(), &bad.to_json(), &public);
        assert!(!ok, "{alg:?}: securesystemslib accepted a tampered signature");
    }
}

const SSLIB_SIGN_SCRIPT: &str = r#"
import json, sys
from cryptography.hazmat.primitives import serialization
from securesystemslib.dsse import Envelope
from securesystemslib.signer import CryptoSigner
alg, out_dir, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
signer = CryptoSigner.generate_ecdsa() if alg == "ecdsa" else CryptoSigner.generate_ed25519()
pem = signer._private_key.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
open(f"{out_dir}/sslib.pub.pem", "wb").write(pem)
print(signer.public_key.keyid)
payload = sys.stdin.buffer.read()
for i in range(count):
    env = Envelope(payload, "application/vnd.in-toto+json", {})
    env.sign(signer)
    open(f"{out_dir}/sslib{i}.json", "w").write(json.dumps(env.to_dict()))
"#;

#[test]
fn repro_verifies_envelopes_signed_by_securesystemslib() {
    use std::io::Write as _;
    let python = common::sslib_python();
    let dir = tempfile::tempdir().unwrap();
    // pyca/cryptography's ECDSA is randomised and does not normalise s, so 16 signatures
    // almost surely include high-s ones, which repro must accept as securesystemslib does.
    for (alg, count) in [("ecdsa", 16), ("ed25519", 2)] {
        let mut child = Command::new(&python)
            .arg("-c")
            .arg(SSLIB_SIGN_SCRIPT)
            .args([alg, dir.path().to_str().unwrap(), &count.to_string()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&statement()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{alg}: signing with securesystemslib failed"
        );
        let public = PublicKey::from_file(&dir.path().join("sslib.pub.pem")).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            public.keyid().unwrap()
        );
        for i in 0..count {
            let text = std::fs::read(dir.path().join(format!("sslib{i}.json"))).unwrap();
            let verified = attest::verify_attestation(&text, &public).unwrap();
            assert_eq!(verified.envelope.payload, statement());
            let other = PrivateKey::generate(Algorithm::EcdsaP256).unwrap().public_key();
            assert!(attest::verify_attestation(&text, &other).is_err());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parsing_and_verifying_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let key = vector_key();
        let _ = attest::verify_attestation(&bytes, &key);
        let _ = Envelope::from_json(&bytes);
    }

    #[test]
    fn arbitrary_envelope_fields_never_panic(
        payload in "[A-Za-z0-9+/=_-]{0,64}",
        payload_type in ".{0,40}",
        sig in "[A-Za-z0-9+/=_-]{0,120}",
        keyid in proptest::option::of(".{0,20}"),
        in_bundle in any::<bool>(),
    ) {
        let mut signature = serde_json::json!({ "sig": sig });
        if let Some(k) = keyid {
            signature["keyid"] = serde_json::json!(k);
        }
        let mut doc = serde_json::json!({
            "payload": payload, "payloadType": payload_type, "signatures": [signature],
        });
        if in_bundle {
            doc = serde_json::json!({ "mediaType": attest::BUNDLE_MEDIA_TYPE, "dsseEnvelope": doc });
        }
        let text = doc.to_string();
        for key in [vector_key(), PrivateKey::generate(Algorithm::Ed25519).unwrap().public_key()] {
            let result = attest::verify_attestation(text.as_bytes(), &key);
            prop_assert!(result.is_err());
        }
    }
}
