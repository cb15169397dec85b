//! `repro keygen` and `repro verify` through the binary: exit 0 valid, 1 invalid, 2 malformed.

use crate::common;

use std::os::unix::fs::PermissionsExt;

use repro::attest::{self, PrivateKey};

#[test]
fn keygen_then_verify_every_verdict() {
    let d = tempfile::tempdir().unwrap();
    let p = |s: &str| d.path().join(s).display().to_string();
    let (code, out, err) = common::run(&["keygen", "--out", &p("k")]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("keyid:"), "{out}");
    let mode = std::fs::metadata(p("k.key.pem")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let (code, _, err) = common::run(&["keygen", "--out", &p("k")]);
    assert_eq!(code, 2, "never overwrites a private key: {err}");
    assert_eq!(common::run(&["keygen", "--ed25519", "--out", &p("e")]).0, 0);

    std::fs::write(p("art"), b"artifact bytes").unwrap();
    std::fs::write(p("other"), b"other bytes").unwrap();
    let digest = repro::compare::source::sha256_hex(b"artifact bytes");
    let stmt = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "art", "digest": {"sha256": digest}}],
        "predicateType": "https://example.com/test/v1",
        "predicate": {"verdicts": {"reproducible": true}},
    });
    let key = PrivateKey::from_file(&d.path().join("k.key.pem")).unwrap();
    let env = attest::sign_statement(serde_json::to_string(&stmt).unwrap().as_bytes(), &key).unwrap();
    std::fs::write(p("att.json"), env.to_json()).unwrap();

    let verify = |extra: &[&str], key: &str| {
        let mut args = vec!["verify".to_string(), p("att.json"), "--key".into(), p(key)];
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        common::run(&args)
    };
    let (code, out, err) = verify(
        &[
            "--artifact",
            &p("art"),
            "--expect",
            "predicate.verdicts.reproducible=true",
        ],
        "k.pub.pem",
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("VALID"), "{out}");
    let (code, out, _) = verify(&["--artifact", &p("other")], "k.pub.pem");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("is not a subject"), "{out}");
    let (code, out, _) = verify(&["--expect", "predicateType=https://other/v1"], "k.pub.pem");
    assert_eq!(code, 1, "{out}");
    let (code, out, _) = verify(&[], "e.pub.pem");
    assert_eq!(code, 1, "another key: {out}");
    assert!(out.starts_with("INVALID"), "{out}");
    // A tampered payload is invalid; garbage is malformed.
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("att.json")).unwrap()).unwrap();
    v["payload"] = serde_json::Value::String(base64_of(br#"{"_type":"x"}"#));
    std::fs::write(p("att.json"), v.to_string()).unwrap();
    assert_eq!(verify(&[], "k.pub.pem").0, 1);
    std::fs::write(p("att.json"), "not json").unwrap();
    assert_eq!(verify(&[], "k.pub.pem").0, 2);
}

fn base64_of(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[test]
fn verify_names_the_reason_for_each_rejection() {
    let d = tempfile::tempdir().unwrap();
    let p = |s: &str| d.path().join(s).display().to_string();
    assert_eq!(common::run(&["keygen", "--out", &p("k")]).0, 0);
    let key = PrivateKey::from_file(&d.path().join("k.key.pem")).unwrap();
    let stmt = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"00"}}],"predicateType":"https://example.com/p","predicate":{}}"#;
    let verify = |env: &str| {
        std::fs::write(p("att.json"), env).unwrap();
        common::run(&[
            "verify",
            &p("att.json"),
            "--key",
            &p("k.pub.pem"),
            "--any-predicate",
        ])
    };
    let good = attest::sign_statement(stmt, &key).unwrap();
    assert_eq!(verify(&good.to_json()).0, 0);
    // Without --any-predicate, verify requires repro's rebuild attestation and says so.
    let (code, out, _) = common::run(&["verify", &p("att.json"), "--key", &p("k.pub.pem")]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("by default verify requires repro's rebuild attestation"),
        "{out}"
    );
    assert!(out.contains("not checked: artifacts"), "{out}");

    let mut bad = good.clone();
    bad.signatures[0].sig[10] ^= 1;
    let (code, out, _) = verify(&bad.to_json());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no signature verifies"), "tampered signature: {out}");

    let mut bad = good.clone();
    bad.payload = stmt[..stmt.len() - 1].to_vec();
    let (code, out, _) = verify(&bad.to_json());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no signature verifies"), "tampered payload: {out}");

    // Validly signed, but not an in-toto payload.
    let other = attest::Envelope::sign("text/plain", stmt.to_vec(), &key, true).unwrap();
    let (code, out, _) = verify(&other.to_json());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("payloadType"), "wrong payload type: {out}");

    // Truncated base64 is malformed input.
    let mut v: serde_json::Value = serde_json::from_str(&good.to_json()).unwrap();
    let sig = v["signatures"][0]["sig"].as_str().unwrap().to_string();
    v["signatures"][0]["sig"] = serde_json::Value::String(sig[..sig.len() - 3].to_string());
    let (code, _, err) = verify(&v.to_string());
    assert_eq!(code, 2, "{err}");
}

#[test]
fn verify_threshold_counts_distinct_signers_of_the_same_digest() {
    let d = tempfile::tempdir().unwrap();
    let p = |s: &str| d.path().join(s).display().to_string();
    for k in ["k1", "k2", "k3"] {
        assert_eq!(common::run(&["keygen", "--out", &p(k)]).0, 0);
    }
    std::fs::write(p("art"), b"artifact bytes").unwrap();
    let digest = repro::compare::source::sha256_hex(b"artifact bytes");
    let stmt = |verdict: &str| {
        serde_json::json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "art", "digest": {"sha256": digest}}],
            "predicateType": "https://github.com/repro/repro/attestation/rebuild/v1",
            "predicate": {"verdict": verdict},
        })
        .to_string()
    };
    let sign = |key: &str, file: &str, verdict: &str| {
        let key = PrivateKey::from_file(&d.path().join(format!("{key}.key.pem"))).unwrap();
        let env = attest::sign_statement(stmt(verdict).as_bytes(), &key).unwrap();
        std::fs::write(p(file), env.to_json()).unwrap();
    };
    sign("k1", "a1.json", "PASSED");
    sign("k2", "a2.json", "PASSED");
    sign("k1", "a3.json", "PASSED");
    sign("k3", "a4.json", "FAILED");
    let verify = |files: &[&str], threshold: &str| {
        let mut args = vec!["verify".to_string()];
        args.extend(files.iter().map(|f| p(f)));
        for k in ["k1", "k2", "k3"] {
            args.extend(["--key".to_string(), p(&format!("{k}.pub.pem"))]);
        }
        args.extend([
            "--threshold".into(),
            threshold.into(),
            "--artifact".into(),
            p("art"),
        ]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        common::run(&args)
    };
    let (code, out, err) = verify(&["a1.json", "a2.json"], "2");
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("2 signer(s)"), "{out}");
    // The same signer twice, or a signed FAILED, does not count.
    assert_eq!(verify(&["a1.json", "a3.json"], "2").0, 1);
    let (code, out, _) = verify(&["a1.json", "a2.json", "a4.json"], "3");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("INVALID: ") && out.contains("FAILED"), "{out}");
    assert_eq!(verify(&["a1.json"], "0").0, 2);
}

#[test]
fn keygen_force_replaces_and_inspect_describes_without_verifying() {
    let d = tempfile::tempdir().unwrap();
    let p = |s: &str| d.path().join(s).display().to_string();
    assert_eq!(common::run(&["keygen", "--out", &p("k")]).0, 0);
    std::os::unix::fs::symlink(p("elsewhere"), p("j.pub.pem")).unwrap();
    let (code, _, err) = common::run(&["keygen", "--out", &p("j")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--force"), "{err}");
    assert!(!d.path().join("elsewhere").exists());
    let (code, _, err) = common::run(&["keygen", "--out", &p("k"), "--force"]);
    assert_eq!(code, 0, "{err}");

    let key = PrivateKey::from_file(&d.path().join("k.key.pem")).unwrap();
    let stmt = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"00"}}],"predicateType":"https://example.com/p","predicate":{}}"#;
    std::fs::write(
        p("att.json"),
        attest::sign_statement(stmt, &key).unwrap().to_json(),
    )
    .unwrap();
    let (code, out, err) = common::run(&["inspect", &p("att.json")]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("keyid ") && out.contains("nothing was verified"),
        "{out}"
    );
    let (code, json, _) = common::run(&["inspect", &p("att.json"), "--json", "-"]);
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    common::assert_valid("inspect-report.v1.json", &report);
    assert_eq!(report["statements"][0]["rerun"]["possible"], false);
    std::fs::write(p("bad.json"), "{").unwrap();
    assert_eq!(common::run(&["inspect", &p("bad.json")]).0, 2);
}
