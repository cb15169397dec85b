use super::*;
use crate::attest::{PrivateKey, sign_statement};

fn signed(statement: &Value) -> (String, PublicKey) {
    let key = PrivateKey::generate(Algorithm::EcdsaP256).unwrap();
    let envelope = sign_statement(statement.to_string().as_bytes(), &key).unwrap();
    (envelope.to_json(), key.public_key())
}

#[test]
fn expectations_parse_at_the_first_equals_sign() {
    let e: Expectation = "a.b=c=d".parse().unwrap();
    assert_eq!((e.key.as_str(), e.value.as_str()), ("a.b", "c=d"));
    assert_eq!(
        "nothing".parse::<Expectation>().unwrap_err(),
        "--expect \"nothing\": use KEY=VALUE"
    );
}

#[test]
fn lookup_follows_objects_and_array_indices() {
    let v = serde_json::json!({ "a": { "b": [ "x", { "c": true } ] }, "n": null });
    assert_eq!(lookup(&v, "a.b.0").as_deref(), Some("x"));
    assert_eq!(lookup(&v, "a.b.1.c").as_deref(), Some("true"));
    assert_eq!(lookup(&v, "n").as_deref(), Some("null"));
    assert_eq!(lookup(&v, "a.b.2"), None);
    assert_eq!(lookup(&v, "a.b.x"), None);
    assert_eq!(lookup(&v, "a.missing"), None);
}

#[test]
fn the_verdict_says_what_was_checked_and_what_not() {
    let dir = tempfile::tempdir().unwrap();
    let (art, other) = (dir.path().join("art"), dir.path().join("other"));
    std::fs::write(&art, b"artifact").unwrap();
    std::fs::write(&other, b"other").unwrap();
    let digest = crate::compare::source::sha256_hex(b"artifact");
    let statement = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{ "name": "art", "digest": { "sha256": digest } }],
        "predicateType": "https://example.com/p/v1",
        "predicate": { "verdict": "PASSED", "n": 2 },
    });
    let (text, key) = signed(&statement);
    let any = Policy {
        any_predicate: true,
        ..Policy::default()
    };

    let bare = verify(text.as_bytes(), &key, &any).unwrap();
    assert!(bare.holds(), "{:?}", bare.problems());
    assert_eq!(
        bare.signature,
        SignatureCheck::Key {
            algorithm: Algorithm::EcdsaP256,
            keyid: key.keyid().unwrap(),
            raw_payload: false,
        }
    );
    assert_eq!(bare.statement_type, StatementType::V1);
    assert_eq!(bare.predicate_type.as_deref(), Some("https://example.com/p/v1"));
    assert_eq!(bare.verdict.as_deref(), Some("PASSED"));
    assert_eq!(bare.subjects, 1);
    // The statement's own verdict was checked, so the predicate was looked at.
    assert_eq!(bare.not_checked, [NotChecked::Artifacts]);
    assert_eq!(bare.expectations[0].origin, Origin::SignedVerdict);

    // By default, only repro's rebuild attestation is valid.
    let default = verify(text.as_bytes(), &key, &Policy::default()).unwrap();
    let problems: Vec<String> = default.problems().iter().map(ToString::to_string).collect();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with(&format!(
            "predicateType is \"https://example.com/p/v1\", expected \"{DEFAULT_PREDICATE_TYPE}\" (by default"
        )),
        "{problems:?}"
    );

    let policy = Policy {
        artifacts: vec![art.clone(), other.clone()],
        expectations: vec!["predicate.n=2".parse().unwrap(), "predicate.x=1".parse().unwrap()],
        ..Policy::default()
    };
    let checked = verify(text.as_bytes(), &key, &policy).unwrap();
    assert!(checked.not_checked.is_empty());
    assert_eq!(checked.artifacts[0].subject.as_deref(), Some("art"));
    let problems: Vec<String> = checked.problems().iter().map(ToString::to_string).collect();
    assert_eq!(
        problems,
        [
            format!(
                "{} (sha256 {}) is not a subject",
                other.display(),
                crate::compare::source::sha256_hex(b"other")
            ),
            "predicate.x is absent, expected \"1\"".to_string(),
        ]
    );
    assert!(!checked.holds());

    // An artifact that cannot be read is an error, not a verdict.
    let missing = Policy {
        artifacts: vec![dir.path().join("missing")],
        ..Policy::default()
    };
    let err = verify(text.as_bytes(), &key, &missing).unwrap_err();
    assert!(
        matches!(err, AttestError::Artifact { .. }) && !err.is_invalid(),
        "{err}"
    );
}

/// A policy of one stated expectation.
fn expecting(expectation: &str) -> Policy {
    Policy {
        expectations: vec![expectation.parse().unwrap()],
        ..Policy::default()
    }
}

fn rebuild_statement(verdict: &str, subjects: Value) -> Value {
    serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": subjects,
        "predicateType": DEFAULT_PREDICATE_TYPE,
        "predicate": { "verdict": verdict },
    })
}

fn problems(text: &str, key: &PublicKey, policy: &Policy) -> Vec<String> {
    let verdict = verify(text.as_bytes(), key, policy).unwrap();
    verdict.problems().iter().map(ToString::to_string).collect()
}

#[test]
fn a_signed_failed_verdict_is_invalid_unless_expected() {
    let subjects = serde_json::json!([{ "name": "a", "digest": { "sha256": "00" } }]);
    let (text, key) = signed(&rebuild_statement("FAILED", subjects));
    let found = problems(&text, &key, &Policy::default());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("predicate.verdict is \"FAILED\", expected \"PASSED\""));
    let any = Policy {
        any_predicate: true,
        ..Policy::default()
    };
    let found = problems(&text, &key, &any);
    assert!(
        found[0].contains("a signed negative verdict is not valid evidence"),
        "{found:?}"
    );
    let expected = Policy {
        expectations: vec!["predicate.verdict=FAILED".parse().unwrap()],
        ..Policy::default()
    };
    assert!(problems(&text, &key, &expected).is_empty());
    // A VSA's verificationResult too.
    let vsa = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{ "name": "a", "digest": { "sha256": "00" } }],
        "predicateType": "https://slsa.dev/verification_summary/v1",
        "predicate": { "verificationResult": "FAILED" },
    });
    let (text, key) = signed(&vsa);
    let stated = expecting("predicateType=https://slsa.dev/verification_summary/v1");
    let found = problems(&text, &key, &stated);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("predicate.verificationResult is \"FAILED\""));
}

#[test]
fn a_statement_must_have_subjects_with_digests() {
    let (text, key) = signed(&rebuild_statement("PASSED", serde_json::json!([])));
    assert_eq!(
        problems(&text, &key, &Policy::default()),
        ["the statement has no subjects: it is about nothing"]
    );
    let (text, key) = signed(&rebuild_statement("PASSED", serde_json::json!([{ "name": "a" }])));
    assert_eq!(
        problems(&text, &key, &Policy::default()),
        ["subject[0] has no digest: subjects match by digest only"]
    );
    let (text, key) = signed(&serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "predicateType": DEFAULT_PREDICATE_TYPE,
        "predicate": { "verdict": "PASSED" },
    }));
    assert_eq!(
        problems(&text, &key, &Policy::default()),
        ["the statement has no subjects: it is about nothing"]
    );
}

#[test]
fn artifacts_match_sha512_subjects() {
    let dir = tempfile::tempdir().unwrap();
    let art = dir.path().join("pkg.tgz");
    std::fs::write(&art, b"package").unwrap();
    let sha512 = hex::encode(sha2::Sha512::digest(b"package"));
    let (text, key) = signed(&rebuild_statement(
        "PASSED",
        serde_json::json!([{ "name": "pkg:npm/x@1", "digest": { "sha512": sha512.to_uppercase() } }]),
    ));
    let policy = Policy {
        artifacts: vec![art],
        ..Policy::default()
    };
    let verdict = verify(text.as_bytes(), &key, &policy).unwrap();
    assert!(verdict.holds(), "{:?}", verdict.problems());
    assert_eq!(verdict.artifacts[0].algorithm, "sha512");
    assert_eq!(verdict.artifacts[0].subject.as_deref(), Some("pkg:npm/x@1"));
}

#[test]
fn a_keyed_check_of_a_bundle_with_a_certificate_says_only_the_key_was_checked() {
    let key = PrivateKey::generate(Algorithm::EcdsaP256).unwrap();
    let statement = rebuild_statement(
        "PASSED",
        serde_json::json!([{ "name": "a", "digest": { "sha256": "00" } }]),
    );
    let envelope =
        crate::intoto::Envelope::sign(PAYLOAD_TYPE, statement.to_string().into_bytes(), &key, false).unwrap();
    let bundle = serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "certificate": { "rawBytes": "MIIB" },
            "tlogEntries": [{ "logIndex": "1" }],
        },
        "dsseEnvelope": serde_json::to_value(&envelope).unwrap(),
    });
    let verdict = verify(
        bundle.to_string().as_bytes(),
        &key.public_key(),
        &Policy::default(),
    )
    .unwrap();
    assert!(verdict.holds());
    assert_eq!(
        verdict.not_checked,
        [
            NotChecked::Artifacts,
            NotChecked::Certificate,
            NotChecked::TransparencyLog
        ]
    );
    assert_eq!(verdict.verified.wrapper.kind(), "sigstore-bundle");
}

#[test]
fn unsigned_statements_are_invalid() {
    let statement = rebuild_statement(
        "PASSED",
        serde_json::json!([{ "name": "a", "digest": { "sha256": "00" } }]),
    );
    let key = PrivateKey::generate(Algorithm::EcdsaP256).unwrap().public_key();
    let err = verify(statement.to_string().as_bytes(), &key, &Policy::default()).unwrap_err();
    assert!(matches!(err, AttestError::Unsigned) && err.is_invalid(), "{err}");
}

#[test]
fn several_statements_are_picked_by_subject_predicate_type_or_key() {
    let key = PrivateKey::generate(Algorithm::EcdsaP256).unwrap();
    let other_key = PrivateKey::generate(Algorithm::EcdsaP256).unwrap();
    let line = |statement: &Value, k: &PrivateKey| {
        sign_statement(statement.to_string().as_bytes(), k)
            .unwrap()
            .to_json()
    };
    let a = rebuild_statement(
        "PASSED",
        serde_json::json!([{ "name": "a", "digest": { "sha256": "aa" } }]),
    );
    let b = rebuild_statement(
        "PASSED",
        serde_json::json!([{ "name": "b", "digest": { "sha256": "bb" } }]),
    );
    let mut c = b.clone();
    c["predicateType"] = "https://example.com/other".into();
    let jsonl = format!(
        "{}\n{}\n{}\n",
        line(&a, &key),
        line(&b, &key),
        line(&c, &other_key)
    );
    let public = key.public_key();
    // Two rebuild attestations signed by the key: ambiguous without --subject.
    let err = verify(jsonl.as_bytes(), &public, &Policy::default()).unwrap_err();
    assert!(
        matches!(err, AttestError::SeveralStatements { .. }) && !err.is_invalid(),
        "{err}"
    );
    assert!(err.to_string().contains("the document: "), "{err}");
    let pick = |subject: &str, policy: Policy| {
        verify(
            jsonl.as_bytes(),
            &public,
            &Policy {
                subject: Some(subject.into()),
                ..policy
            },
        )
    };
    let verdict = pick("a", Policy::default()).unwrap();
    assert_eq!(verdict.subject_list[0].0, "a");
    assert_eq!(verdict.others.len(), 2);
    // b has two statements; the predicate type, then the key, tells them apart.
    let verdict = pick("sha256:bb", Policy::default()).unwrap();
    assert_eq!(verdict.predicate_type.as_deref(), Some(DEFAULT_PREDICATE_TYPE));
    let any = Policy {
        any_predicate: true,
        ..Policy::default()
    };
    assert_eq!(
        pick("bb", any.clone()).unwrap().predicate_type.as_deref(),
        Some(DEFAULT_PREDICATE_TYPE)
    );
    let err = pick("nothing", any).unwrap_err();
    assert!(
        matches!(err, AttestError::NoSuchStatement { .. }) && err.is_invalid(),
        "{err}"
    );
}

#[test]
fn signers_are_counted_per_digest_once_each() {
    let subjects = |d: &str| serde_json::json!([{ "name": "a", "digest": { "sha256": d } }]);
    let k1 = PrivateKey::generate(Algorithm::EcdsaP256).unwrap();
    let k2 = PrivateKey::generate(Algorithm::Ed25519).unwrap();
    let verdict = |statement: &Value, key: &PrivateKey| {
        let text = sign_statement(statement.to_string().as_bytes(), key)
            .unwrap()
            .to_json();
        verify(text.as_bytes(), &key.public_key(), &Policy::default()).unwrap()
    };
    let all = [
        verdict(&rebuild_statement("PASSED", subjects("AA")), &k1),
        verdict(&rebuild_statement("PASSED", subjects("aa")), &k1),
        verdict(&rebuild_statement("PASSED", subjects("aa")), &k2),
        verdict(&rebuild_statement("FAILED", subjects("bb")), &k2),
    ];
    let signers = signers_by_digest(&all);
    assert_eq!(signers.len(), 1, "{signers:?}");
    assert_eq!(signers["aa"].len(), 2);
}

#[test]
fn real_wrappers_verify_with_their_keys() {
    use crate::shared_fixtures::{SLSA_VERIFIER, read};
    // Google's VSA, signed raw r‖s over the PAE.
    let dir = format!("{SLSA_VERIFIER}/vsa/gce/v1");
    let (Some(vsa), Some(pem)) = (
        read(&format!("{dir}/gke-gce-pre.bcid-vsa.jsonl")),
        read(&format!("{dir}/vsa_signing_public_key.pem")),
    ) else {
        return;
    };
    let key = PublicKey::from_pem(std::str::from_utf8(&pem).unwrap()).unwrap();
    let stated = expecting("predicateType=https://slsa.dev/verification_summary/v1");
    let verdict = verify(&vsa, &key, &stated).unwrap();
    assert!(verdict.holds(), "{:?}", verdict.problems());
    assert_eq!(verdict.verdict.as_deref(), Some("PASSED"));
    // Its subject's only digest is a GCE image id.
    assert_eq!(
        verdict.subject_list[0].1.get("gce_image_id").map(String::as_str),
        Some("8970095005306000053")
    );
    // Cloud Build: its regional key signs the raw payload.
    let keys = "provenance/slsa-framework+slsa-verifier/verifiers/internal/gcb/keys/materials";
    for (version, region) in [("v0.2", "global"), ("v0.3", "us-west2")] {
        let (Some(doc), Some(pem)) = (
            read(&format!(
                "{SLSA_VERIFIER}/gcb_container/{version}/gcloud-container-github.json"
            )),
            read(&format!("{keys}/{region}.key")),
        ) else {
            return;
        };
        let key = PublicKey::from_pem(std::str::from_utf8(&pem).unwrap()).unwrap();
        let policy = Policy {
            expectations: vec!["predicateType=https://slsa.dev/provenance/v0.1".parse().unwrap()],
            ..Policy::default()
        };
        let verdict = verify(&doc, &key, &policy).unwrap();
        assert!(verdict.holds(), "{:?}", verdict.problems());
        assert!(matches!(
            verdict.signature,
            SignatureCheck::Key {
                raw_payload: true,
                ..
            }
        ));
        // The PAE key is not the one that signed.
        let pae = read(&format!("{keys}/global-pae.key")).unwrap();
        let pae = PublicKey::from_pem(std::str::from_utf8(&pae).unwrap()).unwrap();
        assert!(matches!(
            verify(&doc, &pae, &policy),
            Err(AttestError::SignatureInvalid)
        ));
    }
}
