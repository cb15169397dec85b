//! Keyless verification of real third-party bundles from `../shared/fixtures` (see its
//! README for where each file comes from). Where that folder is absent the tests skip and say
//! so; `REPRO_SHARED_FIXTURES` points them at another copy.

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;
use serde_json::Value;

use super::*;

const GITHUB: &str = "https://token.actions.githubusercontent.com";
const GITHUB_LOGIN: &str = "https://github.com/login/oauth";
const GENERATOR: &str = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/";
const VERIFIER_DATA: &str = "provenance/slsa-framework+slsa-verifier/cli/slsa-verifier/testdata/";
const PUBLIC_GOOD: &str = "sigstore/trusted_root.public-good.json";
const STAGING: &str = "sigstore/trusted_root.staging.json";

/// A real keyless bundle and who signed it.
struct Case {
    path: &'static str,
    identity: &'static str,
    issuer: &'static str,
    /// The kind of its transparency-log entry.
    log_entry: &'static str,
    /// The repository the GitHub workflow claims name, for workflow certificates.
    source_repository: Option<&'static str>,
    /// The trusted root of the Sigstore instance that signed it.
    root: &'static str,
}

fn generator(workflow: &str, version: &str) -> String {
    format!("{GENERATOR}{workflow}@refs/tags/{version}")
}

/// Every keyless Sigstore bundle in the fixtures (npm's document holds one, beside a keyed
/// one; `.intoto.jsonl` files that are bare DSSE envelopes are not bundles, see below).
fn cases() -> Vec<Case> {
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let example = Some("https://github.com/slsa-framework/example-package");
    let container = "builder_container-based_slsa3.yml";
    let mut cases = vec![];
    for (path, version, entry) in [
        (
            "gha_container-based/v1.7.0/gha_container-based-binary-linux-amd64-v14.intoto.sigstore",
            "v1.7.0",
            "intoto 0.0.2",
        ),
        (
            "gha_container-based/v1.8.0/binary-linux-amd64-push-v13.0.30.intoto.jsonl",
            "v1.8.0",
            "intoto 0.0.2",
        ),
        (
            "gha_container-based/v1.10.0/binary-linux-amd64-workflow_dispatch.intoto.build.slsa",
            "v1.10.0",
            "intoto 0.0.2",
        ),
        (
            "gha_container-based/v2.1.0/binary-linux-amd64-push-v14.2.intoto.build.slsa",
            "v2.1.0",
            "intoto 0.0.2",
        ),
    ] {
        cases.push(Case {
            path: leak(format!("{VERIFIER_DATA}{path}")),
            identity: leak(generator(container, version)),
            issuer: GITHUB,
            log_entry: entry,
            source_repository: example,
            root: PUBLIC_GOOD,
        });
    }
    for (path, workflow, entry) in [
        (
            "gha_delegator/v2.1.0/binary-linux-amd64-push-v14.build.slsa",
            "delegator_generic_slsa3.yml",
            "intoto 0.0.2",
        ),
        (
            "gha_generic/v2.1.0/binary-linux-amd64-push-v14.intoto.jsonl",
            "generator_generic_slsa3.yml",
            "dsse 0.0.1",
        ),
        (
            "gha_go/v2.1.0/binary-linux-amd64-workflow_dispatch.intoto.jsonl",
            "builder_go_slsa3.yml",
            "dsse 0.0.1",
        ),
        (
            "gha_gradle/v2.1.0/binary-linux-amd64-workflow_dispatch.build.slsa",
            "delegator_lowperms-generic_slsa3.yml",
            "intoto 0.0.2",
        ),
        (
            "gha_maven/v2.1.0/binary-linux-amd64-push-v14.build.slsa",
            "delegator_lowperms-generic_slsa3.yml",
            "intoto 0.0.2",
        ),
    ] {
        cases.push(Case {
            path: leak(format!("{VERIFIER_DATA}{path}")),
            identity: leak(generator(workflow, "v2.1.0")),
            issuer: GITHUB,
            log_entry: entry,
            source_repository: example,
            root: PUBLIC_GOOD,
        });
    }
    for (path, entry) in [
        ("bundleV01-dsse-with-proof.sigstore", "dsse 0.0.1"),
        ("bundleV02-dsse.sigstore", "dsse 0.0.1"),
        ("bundleV03-intoto.sigstore", "intoto 0.0.2"),
    ] {
        cases.push(Case {
            path: leak(format!("provenance/sigstore+sigstore-js/tests/bundles/{path}")),
            identity: "brian@dehamer.com",
            issuer: GITHUB_LOGIN,
            log_entry: entry,
            source_repository: None,
            root: PUBLIC_GOOD,
        });
    }
    // pypi-attestations' test bundle was signed on Sigstore's staging instance.
    cases.push(Case {
        path: "provenance/trailofbits+pypi-attestations/test/assets/rfc8785-0.1.2-py3-none-any.whl.sigstore",
        identity: "william@yossarian.net",
        issuer: GITHUB_LOGIN,
        log_entry: "dsse 0.0.1",
        source_repository: None,
        root: STAGING,
    });
    cases
}

/// The npm attestations document: its SLSA provenance bundle is keyless.
const NPM: &str = "npm/gha/provenance-npm-test-cli-v1-prega.tgz.json";
const NPM_IDENTITY: &str =
    "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main";

/// slsa-github-generator's Go builder v2.1.0: a v0.3 bundle with a `dsse` entry.
fn go_builder(dir: &std::path::Path) -> (Vec<u8>, String) {
    let path = format!("{VERIFIER_DATA}gha_go/v2.1.0/binary-linux-amd64-workflow_dispatch.intoto.jsonl");
    (read(dir, &path), generator("builder_go_slsa3.yml", "v2.1.0"))
}

fn verified_go_builder(dir: &std::path::Path) -> (KeylessVerified, String) {
    let (bytes, identity) = go_builder(dir);
    let root = root(dir, PUBLIC_GOOD);
    let verified = verify_bundle_json(&bytes, &root, &policy(&identity, GITHUB), None).unwrap();
    (verified, identity)
}

/// The shared fixtures folder, when it holds the trusted roots (else the tests skip, saying so).
fn fixtures() -> Option<PathBuf> {
    crate::shared_fixtures::path(PUBLIC_GOOD)?;
    Some(crate::shared_fixtures::root())
}

fn read(dir: &std::path::Path, path: &str) -> Vec<u8> {
    let path = dir.join(path);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn root(dir: &std::path::Path, path: &str) -> TrustedRoot {
    TrustedRoot::from_file(&dir.join(path)).unwrap()
}

fn policy(identity: &str, issuer: &str) -> IdentityPolicy {
    IdentityPolicy::new(IdentityMatcher::Exact(identity.to_owned()), issuer).unwrap()
}

fn npm_bundle(dir: &std::path::Path) -> (Value, Value) {
    let document: Value = serde_json::from_slice(&read(dir, &format!("{VERIFIER_DATA}{NPM}"))).unwrap();
    let bundles: Vec<Value> = document["attestations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["bundle"].clone())
        .collect();
    let [keyed, keyless] = <[Value; 2]>::try_from(bundles).unwrap();
    (keyed, keyless)
}

fn payload_of(bundle: &Value) -> Vec<u8> {
    STANDARD
        .decode(bundle["dsseEnvelope"]["payload"].as_str().unwrap())
        .unwrap()
}

#[test]
fn real_keyless_bundles_verify_with_their_identity_and_issuer() {
    let Some(dir) = fixtures() else { return };
    for case in cases() {
        let root = root(&dir, case.root);
        let bytes = read(&dir, case.path);
        let verified = verify_bundle_json(&bytes, &root, &policy(case.identity, case.issuer), None)
            .unwrap_or_else(|e| panic!("{}: {e:?}", case.path));
        let bundle: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(verified.certificate.identity, case.identity, "{}", case.path);
        assert_eq!(verified.certificate.issuer, case.issuer, "{}", case.path);
        assert_eq!(verified.log_entries, [case.log_entry], "{}", case.path);
        let VerifiedContent::Dsse {
            payload_type,
            payload,
        } = &verified.content
        else {
            panic!("{}: not DSSE", case.path)
        };
        assert_eq!(payload_type, "application/vnd.in-toto+json");
        assert_eq!(
            *payload,
            payload_of(&bundle),
            "{}: not the exact payload bytes",
            case.path
        );
        assert_eq!(
            verified.certificate.workflow.source_repository.as_deref(),
            case.source_repository,
            "{}",
            case.path
        );
        let logged = verified.signing_time().unwrap();
        assert_eq!(logged.source, TimeSource::TransparencyLog, "{}", case.path);
        assert!(logged.time.ends_with('Z') && logged.unix_seconds > 1_600_000_000);
        for check in [
            Check::CertificateChain,
            Check::CertificateTransparency,
            Check::Identity,
        ] {
            assert!(verified.checks.contains(&check), "{}: {check:?}", case.path);
        }
        assert!(!verified.checks.contains(&Check::ArtifactDigest));
    }
}

#[test]
fn workflow_claims_are_read_from_the_certificate() {
    let Some(dir) = fixtures() else { return };
    let (verified, identity) = verified_go_builder(&dir);
    let certificate = &verified.certificate;
    assert_eq!(certificate.identity_kind, IdentityKind::Uri);
    let statement: Value = match &verified.content {
        VerifiedContent::Dsse { payload, .. } => serde_json::from_slice(payload).unwrap(),
        other => panic!("{other:?}"),
    };
    // The certificate's claims agree with what the provenance itself records.
    let invocation = &statement["predicate"]["invocation"]["environment"];
    assert_eq!(certificate.field("commit"), invocation["github_sha1"].as_str());
    assert_eq!(certificate.field("ref"), invocation["github_ref"].as_str());
    assert_eq!(
        certificate.field("sourceRepository"),
        Some("https://github.com/slsa-framework/example-package")
    );
    assert_eq!(certificate.field("runnerEnvironment"), Some("github-hosted"));
    assert_eq!(certificate.field("identity"), Some(identity.as_str()));
    assert_eq!(certificate.field("issuer"), Some(GITHUB));
    assert_eq!(certificate.field("noSuchClaim"), None);
    for name in CERTIFICATE_FIELDS {
        // Every listed name is known to `field` (absent claims are `None`, not unknown).
        let _ = certificate.field(name);
    }
    let json = serde_json::to_value(certificate).unwrap();
    assert_eq!(
        json["workflow"]["sourceRepository"],
        "https://github.com/slsa-framework/example-package"
    );

    // A person's certificate carries no workflow claims.
    let js = "provenance/sigstore+sigstore-js/tests/bundles/bundleV03-intoto.sigstore";
    let person = verify_bundle_json(
        &read(&dir, js),
        &root(&dir, PUBLIC_GOOD),
        &policy("brian@dehamer.com", GITHUB_LOGIN),
        None,
    )
    .unwrap();
    assert_eq!(person.certificate.identity_kind, IdentityKind::Email);
    assert!(person.certificate.workflow.is_empty());
}

#[test]
fn a_wrong_identity_is_rejected() {
    let Some(dir) = fixtures() else { return };
    for case in cases() {
        let root = root(&dir, case.root);
        // Same issuer, another workflow of the same generator, or another person.
        let wrong = case
            .identity
            .replace("v2.1.0", "v2.0.0")
            .replace("brian@", "mallory@");
        let wrong = if wrong == case.identity {
            format!("{}x", case.identity)
        } else {
            wrong
        };
        let err = verify_bundle_json(&read(&dir, case.path), &root, &policy(&wrong, case.issuer), None)
            .unwrap_err();
        assert!(
            matches!(&err, KeylessError::IdentityMismatch { actual: Some(actual), .. } if actual == case.identity),
            "{}: {err:?}",
            case.path
        );
        assert!(err.is_invalid());
        assert!(err.to_string().contains(case.identity), "{err}");
    }
}

#[test]
fn a_wrong_issuer_is_rejected() {
    let Some(dir) = fixtures() else { return };
    for case in cases() {
        let root = root(&dir, case.root);
        let wrong = if case.issuer == GITHUB {
            GITHUB_LOGIN
        } else {
            GITHUB
        };
        let err = verify_bundle_json(&read(&dir, case.path), &root, &policy(case.identity, wrong), None)
            .unwrap_err();
        assert!(
            matches!(&err, KeylessError::IssuerMismatch { actual: Some(actual), .. } if actual == case.issuer),
            "{}: {err:?}",
            case.path
        );
        assert!(err.is_invalid());
    }
}

#[test]
fn an_identity_regexp_must_match_the_whole_identity() {
    let Some(dir) = fixtures() else { return };
    let root = root(&dir, PUBLIC_GOOD);
    let (bytes, _) = go_builder(&dir);
    let regexp = |pattern: &str| IdentityPolicy::from_options(None, Some(pattern), Some(GITHUB)).unwrap();
    let anchored = regexp(
        r"https://github\.com/slsa-framework/slsa-github-generator/\.github/workflows/builder_go_slsa3\.yml@refs/tags/v\d+\.\d+\.\d+",
    );
    let verified = verify_bundle_json(&bytes, &root, &anchored, None).unwrap();
    assert!(verified.checks.contains(&Check::Identity));
    // Unanchored (as cosign would accept), a substring is not enough here.
    let err = verify_bundle_json(
        &bytes,
        &root,
        &regexp("slsa-framework/slsa-github-generator"),
        None,
    )
    .unwrap_err();
    assert!(matches!(err, KeylessError::IdentityMismatch { .. }), "{err:?}");
    // The issuer is still pinned with a regexp identity.
    let wrong_issuer = IdentityPolicy::from_options(None, Some(".*"), Some(GITHUB_LOGIN)).unwrap();
    let err = verify_bundle_json(&bytes, &root, &wrong_issuer, None).unwrap_err();
    assert!(matches!(err, KeylessError::IssuerMismatch { .. }), "{err:?}");
}

/// Changes one byte of the DSSE payload (re-encoded, so the bundle still parses).
fn with_payload_byte_changed(bundle: &mut Value, at: usize) {
    let mut payload = payload_of(bundle);
    let at = at % payload.len();
    payload[at] ^= 0x01;
    bundle["dsseEnvelope"]["payload"] = Value::String(STANDARD.encode(payload));
}

#[test]
fn a_changed_payload_byte_is_rejected() {
    let Some(dir) = fixtures() else { return };
    for case in cases() {
        let root = root(&dir, case.root);
        let policy = policy(case.identity, case.issuer);
        let length = payload_of(&serde_json::from_slice(&read(&dir, case.path)).unwrap()).len();
        // In the predicate, where the statement still parses; at its start, where it no longer
        // parses; and the last byte. Each is tampering (exit 1), never unreadable input.
        for at in [length / 2, 0, length - 1] {
            let mut bundle: Value = serde_json::from_slice(&read(&dir, case.path)).unwrap();
            with_payload_byte_changed(&mut bundle, at);
            let err = verify_bundle_value(&bundle, &root, &policy, None).unwrap_err();
            assert!(
                matches!(err, KeylessError::SignatureInvalid(_)),
                "{} byte {at}: {err:?}",
                case.path
            );
            assert!(err.is_invalid());
        }
    }
}

#[test]
fn a_certificate_from_another_root_is_rejected() {
    let Some(dir) = fixtures() else { return };
    let json = |path| -> Value { serde_json::from_slice(&read(&dir, path)).unwrap() };
    for case in cases() {
        let other = if case.root == PUBLIC_GOOD {
            STAGING
        } else {
            PUBLIC_GOOD
        };
        // The bundle's own logs, the other instance's Fulcio: only the chain can fail.
        let mut mixed = json(case.root);
        mixed["certificateAuthorities"] = json(other)["certificateAuthorities"].clone();
        let mixed = TrustedRoot::from_json(mixed.to_string().as_bytes()).unwrap();
        let bytes = read(&dir, case.path);
        let policy = policy(case.identity, case.issuer);
        let err = verify_bundle_json(&bytes, &mixed, &policy, None).unwrap_err();
        assert!(
            matches!(err, KeylessError::CertificateChain(_)),
            "{}: {err:?}",
            case.path
        );
        assert!(err.is_invalid());
        // The other instance as a whole: its log does not know the entry either.
        let err = verify_bundle_json(&bytes, &root(&dir, other), &policy, None).unwrap_err();
        assert!(
            matches!(err, KeylessError::TransparencyLog(_)),
            "{}: {err:?}",
            case.path
        );
        assert!(err.is_invalid());
    }
}

#[test]
fn an_artifact_digest_must_be_a_subject() {
    let Some(dir) = fixtures() else { return };
    let root = root(&dir, PUBLIC_GOOD);
    let (bytes, identity) = go_builder(&dir);
    let bundle: Value = serde_json::from_slice(&bytes).unwrap();
    let statement: Value = serde_json::from_slice(&payload_of(&bundle)).unwrap();
    let subject = statement["subject"][0]["digest"]["sha256"].as_str().unwrap();
    let digest = ArtifactDigest::parse(&format!("sha256:{subject}")).unwrap();
    let verified = verify_bundle_json(&bytes, &root, &policy(&identity, GITHUB), Some(&digest)).unwrap();
    assert!(verified.checks.contains(&Check::ArtifactDigest));
    let other = ArtifactDigest::Sha256([7; 32]);
    let err = verify_bundle_json(&bytes, &root, &policy(&identity, GITHUB), Some(&other)).unwrap_err();
    assert!(matches!(err, KeylessError::ArtifactMismatch(_)), "{err:?}");
    assert!(err.is_invalid());
}

#[test]
fn npm_provenance_verifies_keyless_and_its_keyed_bundle_is_refused() {
    let Some(dir) = fixtures() else { return };
    let root = root(&dir, PUBLIC_GOOD);
    let (keyed, keyless) = npm_bundle(&dir);
    let verified = verify_bundle_value(&keyless, &root, &policy(NPM_IDENTITY, GITHUB), None).unwrap();
    assert_eq!(
        verified.certificate.field("sourceRepository"),
        Some("https://github.com/sigstore/sigstore-js")
    );
    assert_eq!(verified.certificate.field("ref"), Some("refs/heads/main"));
    assert!(
        verified
            .signing_times
            .iter()
            .any(|t| t.source == TimeSource::TransparencyLog)
    );
    let err = verify_bundle_value(&keyed, &root, &policy(NPM_IDENTITY, GITHUB), None).unwrap_err();
    assert!(matches!(err, KeylessError::NotKeyless { .. }), "{err:?}");
    assert!(!err.is_invalid());
    assert!(err.to_string().contains("--key"));
}

#[test]
fn a_pep740_attestation_verifies_as_the_bundle_it_stands_for() {
    let Some(dir) = fixtures() else { return };
    let assets = "provenance/trailofbits+pypi-attestations/test/assets/rfc8785-0.1.2-py3-none-any.whl";
    let attestation: Value = serde_json::from_slice(&read(&dir, &format!("{assets}.attestation"))).unwrap();
    assert!(is_pep740_attestation(&attestation));
    let bundle = pep740_to_bundle(&attestation).unwrap();
    let root = root(&dir, STAGING);
    let verified = verify_bundle_value(
        &bundle,
        &root,
        &policy("william@yossarian.net", GITHUB_LOGIN),
        None,
    )
    .unwrap();
    let sigstore: Value = serde_json::from_slice(&read(&dir, &format!("{assets}.sigstore"))).unwrap();
    let VerifiedContent::Dsse { payload, .. } = &verified.content else {
        panic!("not DSSE")
    };
    assert_eq!(*payload, payload_of(&sigstore));
    let statement: Value = serde_json::from_slice(payload).unwrap();
    assert_eq!(statement["subject"][0]["name"], "rfc8785-0.1.2-py3-none-any.whl");
    // The wheel's digest, as PyPI serves it, is the subject.
    let wheel = ArtifactDigest::parse(statement["subject"][0]["digest"]["sha256"].as_str().unwrap()).unwrap();
    verify_bundle_value(
        &bundle,
        &root,
        &policy("william@yossarian.net", GITHUB_LOGIN),
        Some(&wheel),
    )
    .unwrap();
    let err =
        verify_bundle_value(&bundle, &root, &policy("mallory@example.com", GITHUB_LOGIN), None).unwrap_err();
    assert!(matches!(err, KeylessError::IdentityMismatch { .. }), "{err:?}");
    let mut tampered = attestation.clone();
    let mut statement_bytes = payload.clone();
    let middle = statement_bytes.len() / 2;
    statement_bytes[middle] ^= 1;
    tampered["envelope"]["statement"] = Value::String(STANDARD.encode(statement_bytes));
    let err = verify_bundle_value(
        &pep740_to_bundle(&tampered).unwrap(),
        &root,
        &policy("william@yossarian.net", GITHUB_LOGIN),
        None,
    )
    .unwrap_err();
    assert!(matches!(err, KeylessError::SignatureInvalid(_)), "{err:?}");
}

#[test]
fn the_result_serialises_without_the_payload() {
    let Some(dir) = fixtures() else { return };
    let (verified, identity) = verified_go_builder(&dir);
    let json = serde_json::to_value(&verified).unwrap();
    assert_eq!(json["mediaType"], "application/vnd.dev.sigstore.bundle.v0.3+json");
    assert_eq!(
        json["content"]["dsse"],
        serde_json::json!({"payloadType": "application/vnd.in-toto+json"})
    );
    assert_eq!(json["certificate"]["identity"], identity.as_str());
    assert_eq!(json["signingTimes"][0]["source"], "transparency-log");
    assert_eq!(json["logEntries"], serde_json::json!(["dsse 0.0.1"]));
    let checks: Vec<&str> = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let names: Vec<&str> = verified.checks.iter().map(Check::name).collect();
    assert_eq!(checks, names);
    assert!(checks.contains(&"certificate-chain") && checks.contains(&"log-entry-matches-bundle"));
}

#[test]
fn what_is_not_a_keyless_bundle_is_refused_as_unreadable() {
    let Some(dir) = fixtures() else { return };
    let root = root(&dir, PUBLIC_GOOD);
    let any = policy("x", GITHUB);
    // slsa-github-generator's older `.intoto.jsonl`: a bare DSSE envelope whose signature
    // carries the certificate, without the Rekor entry; it cannot be verified offline.
    for path in [
        "gha_go/v0.0.2/binary-linux-amd64-push-v13.0.30.intoto.jsonl",
        "gha_generic/v1.10.0/binary-linux-amd64-workflow_dispatch.intoto.jsonl",
        "vsa/gce/v1/gke-gce-pre.bcid-vsa.jsonl",
        "gcb_container/v0.3/gcloud-container-github.json",
    ] {
        let err = verify_bundle_json(&read(&dir, &format!("{VERIFIER_DATA}{path}")), &root, &any, None)
            .unwrap_err();
        assert!(matches!(err, KeylessError::Malformed(_)), "{path}: {err:?}");
        assert!(!err.is_invalid());
    }
}

#[test]
fn a_root_without_a_certificate_authority_is_refused() {
    let Some(dir) = fixtures() else { return };
    let empty = TrustedRoot::from_json(
        br#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1","tlogs":[],"certificateAuthorities":[],"ctlogs":[],"timestampAuthorities":[]}"#,
    )
    .unwrap();
    let case = &cases()[0];
    let err = verify_bundle_json(
        &read(&dir, case.path),
        &empty,
        &policy(case.identity, case.issuer),
        None,
    )
    .unwrap_err();
    assert!(matches!(err, KeylessError::NoCertificateAuthority), "{err:?}");
    assert!(!err.is_invalid());
}

#[test]
fn a_message_signature_needs_the_artifact_digest() {
    let Some(dir) = fixtures() else { return };
    let root = root(&dir, PUBLIC_GOOD);
    let case = &cases()[0];
    let mut bundle: Value = serde_json::from_slice(&read(&dir, case.path)).unwrap();
    let object = bundle.as_object_mut().unwrap();
    object.remove("dsseEnvelope");
    object.insert(
        "messageSignature".into(),
        serde_json::json!({
            "messageDigest": {"algorithm": "SHA2_256", "digest": STANDARD.encode([1u8; 32])},
            "signature": STANDARD.encode([2u8; 64]),
        }),
    );
    let policy = policy(case.identity, case.issuer);
    let err = verify_bundle_value(&bundle, &root, &policy, None).unwrap_err();
    assert!(matches!(err, KeylessError::DigestRequired), "{err:?}");
    // With a digest, the made-up signature is checked and fails.
    let err =
        verify_bundle_value(&bundle, &root, &policy, Some(&ArtifactDigest::Sha256([1; 32]))).unwrap_err();
    assert!(
        err.is_invalid() || matches!(err, KeylessError::Malformed(_)),
        "{err:?}"
    );
}

#[test]
fn artifact_digests_parse_in_their_usual_spellings() {
    let hex64 = "ab".repeat(32);
    assert_eq!(
        ArtifactDigest::parse(&hex64),
        Some(ArtifactDigest::Sha256([0xab; 32]))
    );
    assert_eq!(
        ArtifactDigest::parse(&format!("sha256:{hex64}")),
        Some(ArtifactDigest::Sha256([0xab; 32]))
    );
    let hex128 = "cd".repeat(64);
    assert_eq!(
        ArtifactDigest::parse(&format!("sha512:{hex128}")),
        Some(ArtifactDigest::Sha512([0xcd; 64]))
    );
    for bad in [
        "",
        "sha256:",
        "sha256:zz",
        &format!("sha512:{hex64}"),
        &format!("md5:{hex64}"),
        "ab",
    ] {
        assert_eq!(ArtifactDigest::parse(bad), None, "{bad}");
    }
    assert_eq!(
        ArtifactDigest::Sha256([0xab; 32]).to_string(),
        format!("sha256:{hex64}")
    );
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        ".{0,40}".prop_map(Value::String),
        prop_oneof![
            Just("application/vnd.dev.sigstore.bundle.v0.3+json"),
            Just("application/vnd.dev.sigstore.bundle+json;version=0.1"),
            Just("MIIB"),
            Just("AAAA"),
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let keys = prop_oneof![
            Just("mediaType".to_owned()),
            Just("verificationMaterial".to_owned()),
            Just("certificate".to_owned()),
            Just("rawBytes".to_owned()),
            Just("tlogEntries".to_owned()),
            Just("dsseEnvelope".to_owned()),
            Just("messageSignature".to_owned()),
            Just("payload".to_owned()),
            Just("signatures".to_owned()),
            "[a-zA-Z]{1,8}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(keys, inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Whatever JSON comes in, verification answers with an error, never a panic or a pass.
    #[test]
    fn arbitrary_json_is_refused_without_panicking(value in arbitrary_json()) {
        let root = TrustedRoot::from_json(
            br#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}"#,
        ).unwrap();
        let policy = policy("a@example.com", GITHUB);
        prop_assert!(verify_bundle_value(&value, &root, &policy, None).is_err());
        prop_assert!(verify_bundle_json(value.to_string().as_bytes(), &root, &policy, None).is_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// A real bundle with bytes changed anywhere never panics the verifier, and whenever it
    /// still verifies, it reports exactly the signed payload and signer.
    #[test]
    fn mutated_real_bundles_never_pass_with_other_content(
        which in 0usize..16,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let Some(dir) = fixtures() else { return Ok(()) };
        let cases = cases();
        let case = &cases[which % cases.len()];
        let original = read(&dir, case.path);
        let signed = payload_of(&serde_json::from_slice(&original).unwrap());
        let mut bytes = original.clone();
        for (at, byte) in edits {
            let at = at.index(bytes.len());
            bytes[at] = byte;
        }
        let root = root(&dir, case.root);
        if let Ok(verified) = verify_bundle_json(&bytes, &root, &policy(case.identity, case.issuer), None) {
            let VerifiedContent::Dsse { payload, .. } = verified.content else {
                return Err(TestCaseError::fail("a DSSE bundle verified as something else"));
            };
            prop_assert_eq!(payload, signed);
            prop_assert_eq!(verified.certificate.identity, case.identity);
        }
    }

    /// One changed byte of the payload is always caught.
    #[test]
    fn any_changed_payload_byte_is_rejected(which in 0usize..16, at in any::<usize>()) {
        let Some(dir) = fixtures() else { return Ok(()) };
        let cases = cases();
        let case = &cases[which % cases.len()];
        let mut bundle: Value = serde_json::from_slice(&read(&dir, case.path)).unwrap();
        with_payload_byte_changed(&mut bundle, at);
        let root = root(&dir, case.root);
        let err = verify_bundle_value(&bundle, &root, &policy(case.identity, case.issuer), None);
        prop_assert!(matches!(err, Err(KeylessError::SignatureInvalid(_))), "{:?}", err);
    }
}
