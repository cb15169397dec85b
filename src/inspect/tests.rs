use super::*;
use crate::shared_fixtures::{SLSA_VERIFIER, read};

fn one(path: &str) -> Option<StatementInfo> {
    let bytes = read(path)?;
    let mut all = inspect(&bytes, None, None).unwrap().statements;
    Some(all.remove(0))
}

#[test]
fn a_container_based_build_is_described_and_can_be_rerun() {
    let Some(info) = one(&format!(
        "{SLSA_VERIFIER}/gha_container-based/v2.1.0/binary-linux-amd64-push-v14.2.intoto.build.slsa"
    )) else {
        return;
    };
    assert_eq!(
        info.predicate_type.as_deref(),
        Some("https://slsa.dev/provenance/v1")
    );
    assert_eq!(
        info.build_type.as_deref(),
        Some("https://slsa.dev/container-based-build/v0.1?draft")
    );
    assert!(info.rerun.possible, "{:?}", info.rerun);
    let source = info.source.unwrap();
    assert!(
        source
            .repository
            .unwrap()
            .starts_with("git+https://github.com/slsa-framework/example-package")
    );
    assert_eq!(source.commit.unwrap().len(), 40);
    assert!(info.image.unwrap().contains("@sha256:"));
    assert!(!info.commands.is_empty());
    // Keyless: the certificate names the builder's workflow and GitHub's issuer.
    let signature = &info.signatures[0];
    assert!(
        signature.identities[0].starts_with("https://github.com/slsa-framework/slsa-github-generator/"),
        "{signature:?}"
    );
    assert_eq!(
        signature.issuer.as_deref(),
        Some("https://token.actions.githubusercontent.com")
    );
    assert!(info.transparency_log_entries > 0);
}

#[test]
fn the_go_builder_records_commands_but_not_its_dependency_phase() {
    let Some(info) = one(&format!(
        "{SLSA_VERIFIER}/gha_go/v2.1.0/binary-linux-amd64-workflow_dispatch.intoto.jsonl"
    )) else {
        return;
    };
    assert_eq!(
        info.build_type.as_deref(),
        Some("https://github.com/slsa-framework/slsa-github-generator/go@v1")
    );
    assert!(
        info.commands
            .iter()
            .any(|c| c.get(1).map(String::as_str) == Some("build")),
        "{:?}",
        info.commands
    );
    assert!(!info.rerun.possible);
    assert!(
        info.rerun.why.contains("Go dependency phase"),
        "{}",
        info.rerun.why
    );
    // The certificate's workflow claims, read (not verified) and shown.
    let claims = &info.signatures[0].claims;
    assert_eq!(
        claims.source_repository.as_deref(),
        Some("https://github.com/slsa-framework/example-package")
    );
    assert_eq!(claims.r#ref.as_deref(), Some("refs/heads/main"));
    assert_eq!(
        claims.commit.as_deref(),
        Some("4d329c75e7ec1725f7c9ce917a8799d408d06be3")
    );
    let bytes = read(&format!(
        "{SLSA_VERIFIER}/gha_go/v2.1.0/binary-linux-amd64-workflow_dispatch.intoto.jsonl"
    ))
    .unwrap();
    let text = crate::report::inspect::text(&inspect(&bytes, None, None).unwrap(), "f");
    assert!(text.contains("claim         ref refs/heads/main"), "{text}");
}

#[test]
fn npm_documents_list_both_statements() {
    let Some(bytes) = read(&format!(
        "{SLSA_VERIFIER}/npm/gha/provenance-npm-test-cli-v1-prega.tgz.json"
    )) else {
        return;
    };
    let all = inspect(&bytes, None, None).unwrap().statements;
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].wrapper.kind, "npm-attestations");
    assert!(
        all[0].rerun.why.contains("npm's publish attestation"),
        "{:?}",
        all[0].rerun
    );
    assert!(all[0].signatures[0].public_key_hint.is_some());
    assert_eq!(
        all[1].source.as_ref().unwrap().path.as_deref(),
        Some(".github/workflows/release.yml")
    );
    assert_eq!(
        all[1].source.as_ref().unwrap().commit.as_deref(),
        Some("46e7056ff9912ebfee5298d94024895a9fea76c0")
    );
    assert_eq!(
        all[1].signatures[0].issuer.as_deref(),
        Some("https://token.actions.githubusercontent.com")
    );
    // Picking by predicate type.
    let picked = inspect(&bytes, None, Some("https://slsa.dev/provenance/v1"))
        .unwrap()
        .statements;
    assert_eq!(picked.len(), 1);
    assert_eq!(picked[0].location, "attestations[1].bundle");
    assert!(
        inspect(&bytes, Some("nothing"), None)
            .unwrap()
            .statements
            .is_empty()
    );
}

#[test]
fn cloud_build_pep740_and_a_vsa() {
    if let Some(info) = one(&format!(
        "{SLSA_VERIFIER}/gcb_container/v0.3/gcloud-container-github.json"
    )) {
        assert_eq!(
            info.predicate_type.as_deref(),
            Some("https://slsa.dev/provenance/v0.1")
        );
        assert_eq!(
            info.build_type.as_deref(),
            Some("https://cloudbuild.googleapis.com/CloudBuildYaml@v0.1")
        );
        assert_eq!(info.commands[0][0], "gcr.io/cloud-builders/docker");
        assert_eq!(
            info.source.as_ref().unwrap().commit.as_deref(),
            Some("01ce393d04eb6df2a7b2b3e95d4126e687afb7ae")
        );
        assert!(info.signatures[0].keyid.as_deref().unwrap().contains("us-west2"));
        assert!(!info.rerun.possible);
    }
    if let Some(info) =
        one("provenance/trailofbits+pypi-attestations/test/assets/rfc8785-0.1.2-py3-none-any.whl.attestation")
    {
        assert_eq!(info.wrapper.kind, "pep740");
        assert_eq!(info.signatures[0].identities, ["william@yossarian.net"]);
        // A person's certificate carries no workflow claims.
        assert!(info.signatures[0].claims.is_empty());
        assert_eq!(
            info.signatures[0].issuer.as_deref(),
            Some("https://github.com/login/oauth")
        );
        assert!(info.build_type.is_none());
        assert!(info.rerun.why.contains("PyPI publish attestation"));
    }
    if let Some(info) = one(&format!("{SLSA_VERIFIER}/vsa/gce/v1/gke-gce-pre.bcid-vsa.jsonl")) {
        assert_eq!(
            info.predicate_type.as_deref(),
            Some("https://slsa.dev/verification_summary/v1")
        );
        assert_eq!(
            info.subjects[0].digest.get("gce_image_id").map(String::as_str),
            Some("8970095005306000053")
        );
        assert!(info.rerun.why.contains("verification summary"));
    }
}

#[test]
fn malformed_input_is_an_error_and_odd_statements_are_described() {
    assert!(inspect(b"not json", None, None).is_err());
    assert!(
        inspect(
            br#"{"payloadType":"x","payload":"%%","signatures":[]}"#,
            None,
            None
        )
        .is_err()
    );
    // A readable envelope whose payload is not JSON is not readable either.
    let envelope =
        br#"{"payloadType":"application/vnd.in-toto+json","payload":"bm90IGpzb24=","signatures":[]}"#;
    let err = inspect(envelope, None, None).unwrap_err().to_string();
    assert!(err.starts_with("the document: the payload is not JSON"), "{err}");
    // A statement with odd shapes is described as far as it goes, never a panic.
    let odd = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": "nope",
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": { "buildDefinition": { "buildType": 7, "externalParameters": { "source": [] } } },
    });
    let info = inspect(odd.to_string().as_bytes(), None, None)
        .unwrap()
        .statements
        .remove(0);
    assert!(info.subjects.is_empty() && info.build_type.is_none());
    assert!(!info.rerun.possible);
    assert!(
        info.rerun.why.starts_with("the provenance cannot be read"),
        "{}",
        info.rerun.why
    );
    assert!(info.signatures.is_empty());
}

/// The JSON of every real fixture and of a hostile one matches docs/schema/inspect-report.v1.json.
#[test]
fn json_reports_match_the_schema() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schema/inspect-report.v1.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let check = |inspection: &Inspection| {
        let value: Value = serde_json::from_str(&crate::report::inspect::json(inspection)).unwrap();
        let errors: Vec<String> = validator.iter_errors(&value).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?}");
    };
    let odd = serde_json::json!({
        "_type": 1, "subject": [{ "digest": { "sha256": 5 } }], "predicateType": "https://slsa.dev/provenance/v0.2",
        "predicate": { "buildType": "x", "builder": { "id": "b" }, "buildConfig": { "steps": [{ "command": "go" }] } },
    });
    check(&inspect(odd.to_string().as_bytes(), None, None).unwrap());
    for path in [
        format!("{SLSA_VERIFIER}/npm/gha/provenance-npm-test-cli-v1-prega.tgz.json"),
        format!("{SLSA_VERIFIER}/gcb_container/v0.2/gcloud-container-github.json"),
        format!("{SLSA_VERIFIER}/gha_container-based/v1.8.0/binary-linux-amd64-push-v13.0.30.intoto.jsonl"),
        format!("{SLSA_VERIFIER}/gha_delegator/v2.1.0/binary-linux-amd64-push-v14.build.slsa"),
        "provenance/trailofbits+pypi-attestations/test/assets/rfc8785-0.1.2-py3-none-any.whl.attestation"
            .into(),
        "provenance/sigstore+sigstore-js/tests/bundles/bundleV03-intoto.sigstore".into(),
    ] {
        let Some(bytes) = read(&path) else { return };
        check(&inspect(&bytes, None, None).unwrap());
    }
}

#[test]
fn text_reports_escape_what_the_file_says_and_say_nothing_was_verified() {
    let statement = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{ "name": "evil\u{1b}[2Jname", "digest": { "sha256": "00" } }],
        "predicateType": "https://example.com/\u{7}",
    });
    let inspection = inspect(statement.to_string().as_bytes(), None, None).unwrap();
    let text = crate::report::inspect::text(&inspection, "f.json");
    assert!(!text.contains('\u{1b}') && !text.contains('\u{7}'), "{text}");
    assert!(text.contains("evil\\x1b[2Jname"), "{text}");
    assert!(text.contains("nothing was verified"), "{text}");
    assert!(
        text.contains("re-runnable   no: the statement is not SLSA build provenance"),
        "{text}"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
    /// Hostile documents — any JSON built from the wrappers' member names — are read or refused,
    /// never a panic.
    #[test]
    fn hostile_documents_never_panic(doc in hostile_json()) {
        let text = doc.to_string();
        if let Ok(inspection) = inspect(text.as_bytes(), None, None) {
            let _ = crate::report::inspect::text(&inspection, "f");
        }
        let key = crate::attest::PrivateKey::generate(crate::attest::Algorithm::EcdsaP256).unwrap().public_key();
        let _ = crate::attest::verify(text.as_bytes(), &key, &crate::attest::Policy::default());
        let _ = crate::provenance::read(text.as_bytes(), None);
    }
}

fn hostile_json() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let keys = prop::sample::select(vec![
        "_type",
        "attestations",
        "bundle",
        "attestation_bundles",
        "attestations",
        "verification_material",
        "certificate",
        "transparency_entries",
        "envelope",
        "statement",
        "signature",
        "provenance_summary",
        "provenance",
        "payload",
        "payloadType",
        "signatures",
        "sig",
        "mediaType",
        "dsseEnvelope",
        "version",
        "publisher",
        "kind",
        "subject",
        "predicateType",
        "predicate",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        prop::sample::select(vec![
            "",
            "e30=",
            "AA==",
            "%%",
            "application/vnd.in-toto+json",
            "application/vnd.dev.sigstore.bundle.v0.3+json",
            "https://in-toto.io/Statement/v1",
            "eyJfdHlwZSI6Imh0dHBzOi8vaW4tdG90by5pby9TdGF0ZW1lbnQvdjEifQ==",
        ])
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}
