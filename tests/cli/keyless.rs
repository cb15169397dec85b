//! `repro verify` and `repro rebuild` keylessly, through the binary, on real third-party
//! bundles from `../shared/fixtures` (`REPRO_SHARED_FIXTURES` points at another copy; the tests
//! skip, saying why, where it is absent): the right identity verifies; a wrong identity, a
//! wrong issuer, a changed payload or another Sigstore instance's root is INVALID (exit 1); no
//! identity policy is refused (exit 2).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::common;
use crate::shared_fixtures;

const GITHUB: &str = "https://token.actions.githubusercontent.com";
const GITHUB_LOGIN: &str = "https://github.com/login/oauth";
const PUBLIC_GOOD: &str = "sigstore/trusted_root.public-good.json";
const STAGING: &str = "sigstore/trusted_root.staging.json";
const GO_BUILDER: &str = "provenance/slsa-framework+slsa-verifier/cli/slsa-verifier/testdata/gha_go/v2.1.0/binary-linux-amd64-workflow_dispatch.intoto.jsonl";
const GO_IDENTITY: &str = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/builder_go_slsa3.yml@refs/tags/v2.1.0";
const CONTAINER_BASED: &str = "provenance/slsa-framework+slsa-verifier/cli/slsa-verifier/testdata/gha_container-based/v2.1.0/binary-linux-amd64-push-v14.2.intoto.build.slsa";
const CONTAINER_IDENTITY: &str = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/builder_container-based_slsa3.yml@refs/tags/v2.1.0";
const NPM: &str = "provenance/slsa-framework+slsa-verifier/cli/slsa-verifier/testdata/npm/gha/provenance-npm-test-cli-v1-prega.tgz.json";
const NPM_IDENTITY: &str =
    "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main";
/// Signed on Sigstore's staging instance.
const PEP740: &str =
    "provenance/trailofbits+pypi-attestations/test/assets/rfc8785-0.1.2-py3-none-any.whl.attestation";
const SLSA_V02: &str = "https://slsa.dev/provenance/v0.2";

/// The fixture paths, or `None` (with the reason printed) when the shared fixtures are absent.
fn fixtures<const N: usize>(relative: [&str; N]) -> Option<[PathBuf; N]> {
    let mut paths = Vec::with_capacity(N);
    for r in relative {
        paths.push(shared_fixtures::path(r)?);
    }
    paths.try_into().ok()
}

/// `repro verify FILE --trusted-root ROOT --certificate-identity ID --certificate-oidc-issuer
/// ISS EXTRA…`.
fn verify(file: &Path, root: &Path, identity: &str, issuer: &str, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        "verify".to_string(),
        file.display().to_string(),
        "--trusted-root".into(),
        root.display().to_string(),
        "--certificate-identity".into(),
        identity.into(),
        "--certificate-oidc-issuer".into(),
        issuer.into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    common::run(&args)
}

#[test]
fn the_right_identity_verifies_and_is_shown_with_the_workflow_claims() {
    let Some([bundle, root]) = fixtures([GO_BUILDER, PUBLIC_GOOD]) else {
        return;
    };
    let (code, out, err) = verify(&bundle, &root, GO_IDENTITY, GITHUB, &["--any-predicate"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("VALID\n"), "{out}");
    for line in [
        "signature:  verified keylessly",
        &format!("identity:   {GO_IDENTITY}"),
        &format!("issuer:     {GITHUB}"),
        "certificate.sourceRepository: https://github.com/slsa-framework/example-package",
        "certificate.ref: refs/heads/main",
        "certificate.commit: 4d329c75e7ec1725f7c9ce917a8799d408d06be3",
        "signed at:  2025-02-25T21:58:28Z (transparency log)",
        "log entry:  dsse 0.0.1",
    ] {
        assert!(out.contains(line), "{line:?} missing in:\n{out}");
    }
    // A keyless check checked the certificate and the log: it does not say it did not.
    assert!(!out.contains("not checked: the certificate"), "{out}");
    assert!(!out.contains("not checked: the transparency-log"), "{out}");

    // The same identity as a regular expression over the whole identity.
    let regexp = "https://github\\.com/slsa-framework/slsa-github-generator/\\.github/workflows/.*@refs/tags/v2\\.1\\.0";
    let args = [
        "verify",
        bundle.to_str().unwrap(),
        "--trusted-root",
        root.to_str().unwrap(),
        "--certificate-identity-regexp",
        regexp,
        "--certificate-oidc-issuer",
        GITHUB,
        "--any-predicate",
    ];
    let (code, out, err) = common::run(&args);
    assert_eq!(code, 0, "{out}{err}");
    // Anchored: a pattern matching only part of the identity does not.
    let partial = args.map(|a| if a == regexp { "slsa-framework" } else { a });
    let (code, out, _) = common::run(&partial);
    assert_eq!(code, 1, "{out}");
}

#[test]
fn a_wrong_identity_issuer_or_root_is_invalid() {
    let Some([bundle, public_good, staging, pep740]) = fixtures([GO_BUILDER, PUBLIC_GOOD, STAGING, PEP740])
    else {
        return;
    };
    let wrong_identity = GO_IDENTITY.replace("v2.1.0", "v2.0.0");
    let (code, out, err) = verify(
        &bundle,
        &public_good,
        &wrong_identity,
        GITHUB,
        &["--any-predicate"],
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.starts_with(&format!("INVALID: certificate identity is \"{GO_IDENTITY}\"")),
        "{out}"
    );

    let (code, out, err) = verify(
        &bundle,
        &public_good,
        GO_IDENTITY,
        GITHUB_LOGIN,
        &["--any-predicate"],
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.starts_with("INVALID: certificate issuer is"), "{out}");

    // Signed on staging: the public-good root does not vouch for it, and staging's does.
    let (code, out, err) = verify(
        &pep740,
        &public_good,
        "william@yossarian.net",
        GITHUB_LOGIN,
        &["--any-predicate"],
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.starts_with("INVALID: "), "{out}");
    let (code, out, err) = verify(
        &pep740,
        &staging,
        "william@yossarian.net",
        GITHUB_LOGIN,
        &["--any-predicate"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("read:       a PEP 740 attestation object"), "{out}");
    // And a public-good bundle does not verify with staging's root.
    let (code, out, err) = verify(&bundle, &staging, GO_IDENTITY, GITHUB, &["--any-predicate"]);
    assert_eq!(code, 1, "{out}{err}");
}

#[test]
fn a_changed_payload_is_invalid() {
    let Some([bundle, root]) = fixtures([GO_BUILDER, PUBLIC_GOOD]) else {
        return;
    };
    let mut value: Value = serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    let payload = STANDARD
        .decode(value["dsseEnvelope"]["payload"].as_str().unwrap())
        .unwrap();
    let mut statement: Value = serde_json::from_slice(&payload).unwrap();
    statement["subject"][0]["digest"]["sha256"] = "00".repeat(32).into();
    value["dsseEnvelope"]["payload"] = STANDARD.encode(statement.to_string()).into();
    let dir = tempfile::tempdir().unwrap();
    let tampered = dir.path().join("tampered.json");
    std::fs::write(&tampered, value.to_string()).unwrap();
    let (code, out, err) = verify(&tampered, &root, GO_IDENTITY, GITHUB, &["--any-predicate"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.starts_with("INVALID: "), "{out}");
    assert!(!out.contains("VALID\n"), "{out}");
}

#[test]
fn without_an_identity_policy_a_keyless_verification_is_refused() {
    let Some([bundle, root]) = fixtures([GO_BUILDER, PUBLIC_GOOD]) else {
        return;
    };
    let file = bundle.to_str().unwrap();
    let root = root.to_str().unwrap();
    // Nothing at all: the file is keyless, so say what a keyless verification needs.
    let (code, out, err) = common::run(&["verify", file, "--any-predicate"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("is signed keylessly"), "{err}");
    assert!(
        err.contains("needs an identity policy and a trusted root"),
        "{err}"
    );
    for (args, says) in [
        (vec!["--trusted-root", root], "needs an identity policy"),
        (
            vec!["--trusted-root", root, "--certificate-oidc-issuer", GITHUB],
            "--certificate-oidc-issuer alone admits every identity",
        ),
        (
            vec!["--trusted-root", root, "--certificate-identity", GO_IDENTITY],
            "give --certificate-oidc-issuer too",
        ),
        (
            vec![
                "--certificate-identity",
                GO_IDENTITY,
                "--certificate-oidc-issuer",
                GITHUB,
            ],
            "give --trusted-root FILE",
        ),
    ] {
        let mut all = vec!["verify", file, "--any-predicate"];
        all.extend(args);
        let (code, out, err) = common::run(&all);
        assert_eq!(code, 2, "{all:?}: {out}{err}");
        assert!(!out.contains("VALID"), "{all:?}: {out}");
        assert!(err.contains(says), "{all:?}: {err}");
    }
}

#[test]
fn third_party_predicates_need_any_predicate_or_a_stated_type() {
    let Some([bundle, root]) = fixtures([GO_BUILDER, PUBLIC_GOOD]) else {
        return;
    };
    let (code, out, _) = verify(&bundle, &root, GO_IDENTITY, GITHUB, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("INVALID: the signature holds, but:"), "{out}");
    assert!(
        out.contains("by default verify requires repro's rebuild attestation"),
        "{out}"
    );
    // An expectation on the certificate says who signed, not what: the default still applies.
    let (code, out, _) = verify(
        &bundle,
        &root,
        GO_IDENTITY,
        GITHUB,
        &["--expect", "certificate.ref=refs/heads/main"],
    );
    assert_eq!(code, 1, "{out}");
    let stated = format!("predicateType={SLSA_V02}");
    let (code, out, err) = verify(&bundle, &root, GO_IDENTITY, GITHUB, &["--expect", &stated]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn certificate_claims_are_expectations() {
    let Some([bundle, root]) = fixtures([GO_BUILDER, PUBLIC_GOOD]) else {
        return;
    };
    let expect = |claims: &[&str]| {
        let mut args = vec!["--any-predicate"];
        for claim in claims {
            args.extend(["--expect", claim]);
        }
        verify(&bundle, &root, GO_IDENTITY, GITHUB, &args)
    };
    let (code, out, err) = expect(&[
        "certificate.sourceRepository=https://github.com/slsa-framework/example-package",
        "certificate.ref=refs/heads/main",
        "certificate.commit=4d329c75e7ec1725f7c9ce917a8799d408d06be3",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("expect:     certificate.ref=refs/heads/main holds"),
        "{out}"
    );
    let (code, out, _) = expect(&["certificate.ref=refs/tags/v1"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("certificate.ref is \"refs/heads/main\", expected \"refs/tags/v1\""),
        "{out}"
    );
    let (code, _, err) = expect(&["certificate.colour=blue"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("the certificate has no claim \"colour\""), "{err}");
}

#[test]
fn npm_and_pypi_wrappers_verify_keylessly() {
    let Some([npm, public_good, pep740, staging]) = fixtures([NPM, PUBLIC_GOOD, PEP740, STAGING]) else {
        return;
    };
    // npm's document holds a keyed publish attestation and keyless SLSA provenance.
    let (code, out, err) = verify(&npm, &public_good, NPM_IDENTITY, GITHUB, &["--any-predicate"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("at attestations[1].bundle"), "{out}");
    assert!(out.contains("not verified: the file's other statements"), "{out}");

    // A PyPI provenance object around the PEP 740 attestation.
    let attestation: Value = serde_json::from_slice(&std::fs::read(&pep740).unwrap()).unwrap();
    let provenance = serde_json::json!({
        "version": 1,
        "attestation_bundles": [{
            "publisher": { "kind": "GitHub", "repository": "woodruffw/rfc8785.py", "workflow": "release.yml" },
            "attestations": [attestation],
        }],
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("provenance.json");
    std::fs::write(&file, provenance.to_string()).unwrap();
    let (code, out, err) = verify(
        &file,
        &staging,
        "william@yossarian.net",
        GITHUB_LOGIN,
        &[
            "--expect",
            "predicateType=https://docs.pypi.org/attestations/publish/v1",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("a PyPI provenance object"), "{out}");
    let (code, out, _) = verify(
        &file,
        &staging,
        "someone@example.com",
        GITHUB_LOGIN,
        &["--any-predicate"],
    );
    assert_eq!(code, 1, "{out}");
}

#[test]
fn keyed_and_keyless_options_do_not_mix() {
    let Some([bundle, root]) = fixtures([GO_BUILDER, PUBLIC_GOOD]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("k");
    let (code, _, err) = common::run(&["keygen", "--out", prefix.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let public = dir.path().join("k.pub.pem");
    let (code, _, err) = verify(
        &bundle,
        &root,
        GO_IDENTITY,
        GITHUB,
        &["--key", public.to_str().unwrap()],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not both"), "{err}");
    // A key vouches for no certificate claim.
    let (code, _, err) = common::run(&[
        "verify",
        bundle.to_str().unwrap(),
        "--key",
        public.to_str().unwrap(),
        "--expect",
        "certificate.ref=refs/heads/main",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("only a keyless verification checks a certificate"),
        "{err}"
    );
}

#[test]
fn rebuild_verifies_the_provenance_keylessly_before_building() {
    let Some([provenance, root]) = fixtures([CONTAINER_BASED, PUBLIC_GOOD]) else {
        return;
    };
    let empty = tempfile::tempdir().unwrap();
    let rebuild = |identity: &str| {
        common::run(&[
            "rebuild",
            provenance.to_str().unwrap(),
            "--source",
            empty.path().to_str().unwrap(),
            "--trusted-root",
            root.to_str().unwrap(),
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            GITHUB,
        ])
    };
    let (code, _, err) = rebuild(&CONTAINER_IDENTITY.replace("container-based", "go"));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("the provenance's keyless signature does not verify: certificate identity is"),
        "{err}"
    );
    assert!(err.contains("nothing was rebuilt"), "{err}");
    // With the right identity the signature passes, and the rebuild goes on to the source,
    // which this empty folder is not.
    let (code, _, err) = rebuild(CONTAINER_IDENTITY);
    assert_eq!(code, 2, "{err}");
    assert!(!err.contains("keyless signature"), "{err}");
}
