//! The provenance reader against hand-written fixtures in every shape we accept, wrapped in
//! DSSE envelopes, Sigstore bundles and `.intoto.jsonl` at test time, and malformed cases.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use repro::provenance::{
    BuildDefinition, PredicateType, ProvenanceError, StatementType, Wrapper, read, read_path,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::PathBuf;

/// No input panics the reader: arbitrary bytes, arbitrary JSON, mutated fixtures.
#[path = "provenance/props.rs"]
mod props;

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/provenance")
        .join(name)
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).unwrap()
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).unwrap()
}

fn dsse(payload: &[u8]) -> Value {
    json!({
        "payloadType": "application/vnd.in-toto+json",
        "payload": STANDARD.encode(payload),
        "signatures": [{ "keyid": "key-1", "sig": STANDARD.encode([0x30, 0x45, 0x02, 0x21]) }]
    })
}

fn bundle(media_type: &str, payload: &[u8]) -> Value {
    json!({
        "mediaType": media_type,
        "verificationMaterial": { "publicKey": { "hint": "aGludA==" }, "tlogEntries": [] },
        "dsseEnvelope": dsse(payload)
    })
}

/// A statement like the v1 fixture, about one named subject.
fn statement_about(name: &str, sha256: &str) -> Vec<u8> {
    let mut s = fixture_json("v1-github.json");
    s["subject"] = json!([{ "name": name, "digest": { "sha256": sha256 } }]);
    serde_json::to_vec(&s).unwrap()
}

fn jsonl(lines: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in lines {
        out.extend(serde_json::to_vec(line).unwrap());
        out.push(b'\n');
    }
    out
}

fn read_err(bytes: &[u8]) -> ProvenanceError {
    read(bytes, None).unwrap_err()
}

/// A fixture with one edit applied, serialised again.
fn edited(name: &str, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut v = fixture_json(name);
    edit(&mut v);
    serde_json::to_vec(&v).unwrap()
}

/// One edit of a fixture, in a table of malformed cases.
type Edit = Box<dyn FnOnce(&mut Value)>;

const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const C: &str = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

#[test]
fn reads_v0_1_statement_with_v0_2_provenance_as_the_generator_writes_it() {
    let bytes = fixture("v0.2-generator.json");
    let p = read(&bytes, None).unwrap();
    assert_eq!(p.statement_type, StatementType::V0_1);
    assert_eq!(p.predicate_type, PredicateType::SlsaProvenanceV0_2);
    assert_eq!(
        p.build_type,
        "https://github.com/slsa-framework/slsa-github-generator/generic@v1"
    );
    assert!(
        p.builder_id
            .as_deref()
            .unwrap()
            .ends_with("generator_generic_slsa3.yml@refs/tags/v1.9.0")
    );
    // buildInvocationID (capital D) as real files spell it.
    assert_eq!(p.invocation_id.as_deref(), Some("6372112345-1"));
    assert_eq!(p.started_on.as_deref(), Some("2023-09-28T10:01:02Z"));
    assert_eq!(p.finished_on.as_deref(), Some("2023-09-28T10:04:05Z"));
    // Uppercase hex is lowercased so subjects match by digest.
    assert_eq!(
        p.subjects[0].sha256(),
        Some("1d52b7ce7b4a1a0c3d0d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b")
    );
    let BuildDefinition::V0_2 {
        invocation,
        materials,
        build_config,
    } = &p.build
    else {
        panic!()
    };
    assert_eq!(
        invocation.as_ref().unwrap()["configSource"]["entryPoint"],
        ".github/workflows/release.yml"
    );
    assert_eq!(materials.as_ref().unwrap().as_array().unwrap().len(), 1);
    assert!(build_config.is_none());
    assert_eq!(p.wrapper, Wrapper::Statement);
    assert!(p.envelope.is_none());
    assert_eq!(p.payload, bytes.trim_ascii());
    assert_eq!(p.payload_sha256, hex::encode(Sha256::digest(bytes.trim_ascii())));
}

#[test]
fn reads_the_spec_spelling_build_invocation_id() {
    let bytes = edited("v0.2-generator.json", |v| {
        let meta = v["predicate"]["metadata"].as_object_mut().unwrap();
        let id = meta.remove("buildInvocationID").unwrap();
        meta.insert("buildInvocationId".into(), id);
    });
    assert_eq!(
        read(&bytes, None).unwrap().invocation_id.as_deref(),
        Some("6372112345-1")
    );
}

#[test]
fn reads_v1_with_run_details_and_keeps_unknown_fields() {
    let p = read_path(&fixture_path("v1-github.json"), None).unwrap();
    assert_eq!(p.statement_type, StatementType::V1);
    assert_eq!(p.predicate_type, PredicateType::SlsaProvenanceV1);
    assert_eq!(p.predicate_type_uri, "https://slsa.dev/provenance/v1");
    assert_eq!(p.build_type, "https://actions.github.io/buildtypes/workflow/v1");
    assert_eq!(
        p.builder_id.as_deref(),
        Some("https://github.com/actions/runner/github-hosted")
    );
    assert_eq!(
        p.invocation_id.as_deref(),
        Some("https://github.com/example/hello/actions/runs/42/attempts/1")
    );
    assert_eq!(p.started_on.as_deref(), Some("2024-05-01T12:00:00Z"));
    assert_eq!(p.subjects.len(), 2);
    // Digest names are lowercased.
    assert!(p.subjects[1].digest.contains_key("sha512"));
    let BuildDefinition::V1 {
        external_parameters,
        internal_parameters,
        resolved_dependencies,
    } = &p.build
    else {
        panic!()
    };
    assert_eq!(
        external_parameters["workflow"]["path"],
        ".github/workflows/build.yml"
    );
    assert_eq!(
        internal_parameters.as_ref().unwrap()["github"]["event_name"],
        "push"
    );
    assert_eq!(
        resolved_dependencies.as_ref().unwrap()[0]["digest"]["gitCommit"]
            .as_str()
            .unwrap()
            .len(),
        40
    );
    assert_eq!(
        p.statement["predicate"]["buildDefinition"]["x-vendor-extra"]["kept"],
        true
    );
    assert!(p.has_subject("hello.zip"));
    assert!(p.has_subject(&format!(
        "sha256:{}",
        "A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F90"
    )));
    assert!(!p.has_subject("other"));
}

#[test]
fn reads_v1_0_without_run_details() {
    let p = read(&fixture("v1.0-no-run-details.json"), None).unwrap();
    assert_eq!(p.predicate_type, PredicateType::SlsaProvenanceV1);
    assert_eq!(p.predicate_type_uri, "https://slsa.dev/provenance/v1.0");
    assert_eq!(p.predicate_type.uri(), "https://slsa.dev/provenance/v1");
    assert_eq!(p.build_type, "https://example.com/make/v1");
    assert_eq!(p.builder_id, None);
    assert_eq!(p.invocation_id, None);
    let BuildDefinition::V1 {
        internal_parameters,
        resolved_dependencies,
        ..
    } = &p.build
    else {
        panic!()
    };
    assert!(internal_parameters.is_none() && resolved_dependencies.is_none());
}

#[test]
fn predicate_and_statement_types_map_to_and_from_uris() {
    for t in [PredicateType::SlsaProvenanceV1, PredicateType::SlsaProvenanceV0_2] {
        assert_eq!(PredicateType::from_uri(t.uri()), Some(t));
    }
    assert_eq!(
        PredicateType::from_uri("https://slsa.dev/provenance/v1.0?draft"),
        Some(PredicateType::SlsaProvenanceV1)
    );
    assert_eq!(
        PredicateType::from_uri("https://slsa.dev/provenance/v0.1"),
        Some(PredicateType::SlsaProvenanceV0_1)
    );
    assert_eq!(PredicateType::from_uri("https://slsa.dev/provenance/v0.9"), None);
    for t in [StatementType::V0_1, StatementType::V1] {
        assert_eq!(StatementType::from_uri(t.uri()), Some(t));
    }
}

#[test]
fn reads_a_container_based_build() {
    let p = read(&fixture("container-based.json"), None).unwrap();
    assert_eq!(p.predicate_type_uri, "https://slsa.dev/provenance/v1.0?draft");
    let c = p.container_build().unwrap();
    assert_eq!(
        c.source.uri,
        "git+https://github.com/example/hello@refs/heads/main"
    );
    assert_eq!(c.source.repository, "https://github.com/example/hello");
    assert_eq!(c.source.git_ref, "refs/heads/main");
    assert_eq!(c.source.sha1, "cf5804b5c6f1a4b2ee6a3a5ac6a8ba8c4b9d1e2f");
    assert_eq!(c.builder_image.name, "bash");
    assert_eq!(
        c.builder_image.sha256,
        "9e2ba52487d945504d250de186cb4fe2e3ba023ed2921dd6ac8b97ed43e76af9"
    );
    assert_eq!(c.config_path, ".github/configs-docker/config.toml");
    assert_eq!(c.artifact_path, "build/**");
    assert_eq!(
        c.command,
        ["bash", "-c", "mkdir -p build && echo hello > build/hello"]
    );
}

#[test]
fn reads_container_build_config_with_lower_case_keys() {
    let text = String::from_utf8(fixture("container-based.json")).unwrap();
    let lower = text
        .replace("\"ArtifactPath\"", "\"artifactPath\"")
        .replace("\"Command\"", "\"command\"");
    let c = read(lower.as_bytes(), None).unwrap().container_build().unwrap();
    assert_eq!(c.artifact_path, "build/**");
    assert_eq!(c.command.len(), 3);
}

fn container_err(edit: impl FnOnce(&mut Value)) -> String {
    let bytes = edited("container-based.json", |v| {
        edit(&mut v["predicate"]["buildDefinition"]["externalParameters"])
    });
    read(&bytes, None)
        .unwrap()
        .container_build()
        .unwrap_err()
        .to_string()
}

#[test]
fn container_build_errors_name_the_field() {
    const P: &str = "predicate.buildDefinition.externalParameters";
    let cases: Vec<(Edit, String)> = vec![
        (
            Box::new(|e| e["source"].as_object_mut().unwrap().clear()),
            format!("`{P}.source.uri` is missing"),
        ),
        (
            Box::new(|e| e["source"]["uri"] = json!("https://x/y@main")),
            format!("`{P}.source.uri` is invalid"),
        ),
        (
            Box::new(|e| e["source"]["uri"] = json!("git+https://x/y")),
            format!("`{P}.source.uri` is invalid"),
        ),
        (
            Box::new(|e| e["source"]["digest"]["sha1"] = json!("abc")),
            format!("`{P}.source.digest.sha1` is invalid"),
        ),
        (
            Box::new(|e| e["builderImage"]["uri"] = json!("bash:5")),
            format!("`{P}.builderImage.uri` is invalid"),
        ),
        (
            Box::new(|e| e["builderImage"]["digest"]["sha256"] = json!(A)),
            format!("`{P}.builderImage.uri` is invalid: its digest differs"),
        ),
        (
            Box::new(|e| e["configPath"] = json!(7)),
            format!("`{P}.configPath` has the wrong type"),
        ),
        (
            Box::new(|e| {
                e["buildConfig"].as_object_mut().unwrap().remove("ArtifactPath");
            }),
            format!("`{P}.buildConfig.ArtifactPath` is missing"),
        ),
        (
            Box::new(|e| e["buildConfig"]["Command"] = json!("make")),
            format!("`{P}.buildConfig.Command` has the wrong type"),
        ),
        (
            Box::new(|e| e["buildConfig"]["Command"] = json!(["make", 1])),
            format!("`{P}.buildConfig.Command[1]` has the wrong type"),
        ),
        (
            Box::new(|e| e["buildConfig"]["Command"] = json!([])),
            format!("`{P}.buildConfig.Command` is invalid"),
        ),
        (
            Box::new(|e| e["buildConfig"] = json!([])),
            format!("`{P}.buildConfig` has the wrong type"),
        ),
    ];
    for (edit, expected) in cases {
        let message = container_err(edit);
        assert!(
            message.starts_with(&expected),
            "{message:?} should start with {expected:?}"
        );
    }
}

#[test]
fn container_build_refuses_another_build_type() {
    let p = read(&fixture("v1-github.json"), None).unwrap();
    assert!(matches!(
        p.container_build(),
        Err(ProvenanceError::WrongBuildType { .. })
    ));
}

#[test]
fn reads_a_dsse_envelope_and_keeps_payload_bytes_and_signatures() {
    // Pretty-printed payload: its exact bytes are kept, not a re-serialisation.
    let payload = fixture("v1-github.json");
    let p = read(&serde_json::to_vec(&dsse(&payload)).unwrap(), None).unwrap();
    assert_eq!(p.wrapper, Wrapper::Dsse);
    assert_eq!(p.payload, payload);
    assert_eq!(p.payload_sha256, hex::encode(Sha256::digest(&payload)));
    let envelope = p.envelope.unwrap();
    assert_eq!(envelope.payload_type, "application/vnd.in-toto+json");
    assert_eq!(envelope.signatures.len(), 1);
    assert_eq!(envelope.signatures[0].keyid.as_deref(), Some("key-1"));
    assert_eq!(envelope.signatures[0].sig, [0x30, 0x45, 0x02, 0x21]);
}

#[test]
fn reads_url_safe_unpadded_base64() {
    // A payload whose base64 has `-`/`_` and needs padding.
    let payload = [fixture("v1.0-no-run-details.json"), b"\n\xff\xfe ".to_vec()].concat();
    let payload = &payload[..payload.len() - 3];
    let mut envelope = dsse(payload);
    envelope["payload"] = json!(URL_SAFE_NO_PAD.encode(payload));
    envelope["signatures"][0]["sig"] = json!(URL_SAFE_NO_PAD.encode([0xfb, 0xff]));
    envelope["signatures"][0].as_object_mut().unwrap().remove("keyid");
    let p = read(&serde_json::to_vec(&envelope).unwrap(), None).unwrap();
    assert_eq!(p.payload, payload);
    let sig = &p.envelope.unwrap().signatures[0];
    assert_eq!(sig.sig, [0xfb, 0xff]);
    assert_eq!(sig.keyid, None);
}

#[test]
fn reads_sigstore_bundles_v0_3_and_older_media_types() {
    let payload = fixture("container-based.json");
    for media_type in [
        "application/vnd.dev.sigstore.bundle.v0.3+json",
        "application/vnd.dev.sigstore.bundle+json;version=0.2",
        "application/vnd.dev.sigstore.bundle+json;version=0.1",
    ] {
        let p = read(&serde_json::to_vec(&bundle(media_type, &payload)).unwrap(), None).unwrap();
        assert_eq!(
            p.wrapper,
            Wrapper::SigstoreBundle {
                media_type: media_type.into()
            }
        );
        assert_eq!(p.payload, payload);
        assert!(p.container_build().is_ok());
    }
}

#[test]
fn selects_from_a_jsonl_by_name_and_by_digest() {
    let lines = [
        dsse(&statement_about("a.tar", A)),
        dsse(&statement_about("b.tar", B)),
        dsse(&statement_about("c.tar", C)),
    ];
    let file = jsonl(&lines);
    let p = read(&file, Some("b.tar")).unwrap();
    assert_eq!((p.line, p.subjects[0].name.as_str()), (2, "b.tar"));
    let p = read(&file, Some(&format!("sha256:{C}"))).unwrap();
    assert_eq!((p.line, p.subjects[0].name.as_str()), (3, "c.tar"));
    let p = read(&file, Some(&A.to_uppercase())).unwrap();
    assert_eq!(p.line, 1);
    assert_eq!(p.payload, statement_about("a.tar", A));

    assert!(matches!(
        read(&file, None),
        Err(ProvenanceError::SelectionRequired { count: 3 })
    ));
    assert!(matches!(
        read(&file, Some("d.tar")),
        Err(ProvenanceError::NoMatch(_))
    ));
    let twice = jsonl(&[
        dsse(&statement_about("a.tar", A)),
        dsse(&statement_about("a.tar", B)),
    ]);
    match read(&twice, Some("a.tar")) {
        Err(ProvenanceError::Ambiguous { lines, .. }) => assert_eq!(lines, [1, 2]),
        other => panic!("{other:?}"),
    }
    // A selection that a single statement doesn't have is an error too.
    assert!(matches!(
        read(&fixture("v1-github.json"), Some("nope")),
        Err(ProvenanceError::NoMatch(_))
    ));
}

#[test]
fn a_bad_jsonl_line_is_named() {
    let mut lines = vec![
        dsse(&statement_about("a.tar", A)),
        dsse(&statement_about("b.tar", B)),
    ];
    lines[1]["payloadType"] = json!("text/plain");
    let err = read(&jsonl(&lines), Some("a.tar")).unwrap_err();
    assert!(matches!(&err, ProvenanceError::Line { line: 2, .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("line 2: `payloadType` is `text/plain`")
    );

    let mut file = jsonl(&lines[..1]);
    file.extend(b"{\"payloadType\": \n");
    match read(&file, None) {
        Err(ProvenanceError::NotJson { line: 3, .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn empty_inputs_are_errors() {
    for input in [&b""[..], b"\n\n  \n", b"\t"] {
        assert!(matches!(read_err(input), ProvenanceError::Empty));
    }
}

#[test]
fn not_json_gives_line_and_column() {
    match read_err(b"{\n  \"_type\": oops\n}") {
        ProvenanceError::NotJson { line: 2, column, .. } => assert!(column > 0),
        other => panic!("{other:?}"),
    }
    let truncated = fixture("v1-github.json");
    assert!(matches!(
        read_err(&truncated[..truncated.len() / 2]),
        ProvenanceError::NotJson { .. }
    ));
    // A payload that decodes but is not JSON.
    let err = read_err(&serde_json::to_vec(&dsse(b"not json")).unwrap());
    assert!(err.to_string().starts_with("payload is not valid JSON"), "{err}");
    // 1000-deep nesting is refused by serde_json's recursion limit, not a stack overflow.
    let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
    assert!(matches!(
        read_err(deep.as_bytes()),
        ProvenanceError::NotJson { .. }
    ));
}

#[test]
fn statement_errors_name_the_field() {
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "v1-github.json",
            Box::new(|v| *v = json!([1])),
            "`(top level)` has the wrong type",
        ),
        (
            "v1-github.json",
            Box::new(|v| *v = json!({"subject": []})),
            "`_type` is missing",
        ),
        (
            "v1-github.json",
            Box::new(|v| v["_type"] = json!(1)),
            "`_type` has the wrong type",
        ),
        (
            "v1-github.json",
            Box::new(|v| v["_type"] = json!("https://in-toto.io/Statement/v2")),
            "unknown statement type `https://in-toto.io/Statement/v2`",
        ),
        (
            "v1-github.json",
            Box::new(|v| v["predicateType"] = json!("https://slsa.dev/provenance/v0.9")),
            "unknown predicate type `https://slsa.dev/provenance/v0.9`",
        ),
        (
            "v1-github.json",
            Box::new(|v| v["subject"] = json!([])),
            "`subject` is invalid",
        ),
        (
            "v1-github.json",
            Box::new(|v| v["subject"] = json!({})),
            "`subject` has the wrong type",
        ),
        (
            "v1-github.json",
            Box::new(|v| v["subject"][1]["digest"] = json!({})),
            "`subject[1].digest` has no digest",
        ),
        (
            "v1-github.json",
            Box::new(|v| {
                v["subject"][0].as_object_mut().unwrap().remove("digest");
            }),
            "`subject[0].digest` has no digest",
        ),
        (
            "v1-github.json",
            Box::new(|v| v["subject"][0]["digest"]["sha256"] = json!("abc")),
            "`subject[0].digest.sha256` is invalid",
        ),
        (
            "v1-github.json",
            Box::new(|v| v["subject"][0]["digest"]["sha256"] = json!(5)),
            "`subject[0].digest.sha256` has the wrong type",
        ),
        (
            "v1-github.json",
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("predicate");
            }),
            "`predicate` is missing",
        ),
        (
            "v1-github.json",
            Box::new(|v| v["predicate"]["buildDefinition"]["buildType"] = json!(null)),
            "`predicate.buildDefinition.buildType` is missing",
        ),
        (
            "v1-github.json",
            Box::new(|v| v["predicate"]["buildDefinition"]["externalParameters"] = json!("x")),
            "`predicate.buildDefinition.externalParameters` has the wrong type",
        ),
        (
            "v1-github.json",
            Box::new(|v| v["predicate"]["buildDefinition"]["resolvedDependencies"] = json!({})),
            "`predicate.buildDefinition.resolvedDependencies` has the wrong type",
        ),
        (
            "v1-github.json",
            Box::new(|v| v["predicate"]["runDetails"]["builder"] = json!({})),
            "`predicate.runDetails.builder.id` is missing",
        ),
        (
            "v1-github.json",
            Box::new(|v| v["predicate"]["runDetails"]["metadata"]["startedOn"] = json!(3)),
            "`predicate.runDetails.metadata.startedOn` has the wrong type",
        ),
        (
            "v0.2-generator.json",
            Box::new(|v| v["predicate"]["builder"] = json!("me")),
            "`predicate.builder` has the wrong type",
        ),
        (
            "v0.2-generator.json",
            Box::new(|v| {
                v["predicate"].as_object_mut().unwrap().remove("buildType");
            }),
            "`predicate.buildType` is missing",
        ),
        (
            "v1-github.json",
            Box::new(|v| v["predicate"]["runDetails"]["metadata"]["finishedOn"] = json!("2024-05-01 noon")),
            "`predicate.runDetails.metadata.finishedOn` is invalid",
        ),
        (
            "v0.2-generator.json",
            Box::new(|v| v["predicate"]["metadata"]["buildStartedOn"] = json!("2023-09-28T10:01:02")),
            "`predicate.metadata.buildStartedOn` is invalid",
        ),
        (
            "v0.2-generator.json",
            Box::new(|v| v["predicate"]["materials"] = json!("none")),
            "`predicate.materials` has the wrong type",
        ),
        (
            "v0.2-generator.json",
            Box::new(|v| v["predicate"]["metadata"]["buildInvocationID"] = json!(1)),
            "`predicate.metadata.buildInvocationID` has the wrong type",
        ),
    ];
    for (name, edit, expected) in cases {
        let message = read_err(&edited(name, edit)).to_string();
        assert!(
            message.starts_with(expected),
            "{message:?} should start with {expected:?}"
        );
    }
}

#[test]
fn envelope_errors_name_the_field() {
    let payload = fixture("v1-github.json");
    let cases: Vec<(Value, &str)> = vec![
        (
            {
                let mut e = dsse(&payload);
                e["payloadType"] = json!("application/json");
                e
            },
            "`payloadType` is `application/json`",
        ),
        (
            {
                let mut e = dsse(&payload);
                e.as_object_mut().unwrap().remove("payloadType");
                e
            },
            "`payloadType` is missing",
        ),
        (
            {
                let mut e = dsse(&payload);
                e["payload"] = json!("eyJfdHlwZSI6!!");
                e
            },
            "`payload` is not valid base64",
        ),
        (
            {
                let mut e = dsse(&payload);
                e["payload"] = json!("eyJfdHlwZSI6I");
                e
            },
            "`payload` is not valid base64",
        ),
        (
            {
                let mut e = dsse(&payload);
                e["payload"] = json!("");
                e
            },
            "`payload` is invalid: empty payload",
        ),
        (
            {
                let mut e = dsse(&payload);
                e["signatures"] = json!({});
                e
            },
            "`signatures` has the wrong type",
        ),
        (
            {
                let mut e = dsse(&payload);
                e.as_object_mut().unwrap().remove("signatures");
                e
            },
            "`signatures` is missing",
        ),
        (
            {
                let mut e = dsse(&payload);
                e["signatures"][0]["sig"] = json!("a");
                e
            },
            "`signatures[0].sig` is not valid base64",
        ),
        (
            {
                let mut e = dsse(&payload);
                e["signatures"][0]["keyid"] = json!(1);
                e
            },
            "`signatures[0].keyid` has the wrong type",
        ),
        (
            bundle("application/vnd.dev.sigstore.bundle.v1+json", &payload),
            "unknown Sigstore bundle media type",
        ),
        (
            bundle("application/json", &payload),
            "unknown Sigstore bundle media type `application/json`",
        ),
        (
            {
                let mut b = bundle("application/vnd.dev.sigstore.bundle.v0.3+json", &payload);
                b.as_object_mut().unwrap().remove("dsseEnvelope");
                b
            },
            "`dsseEnvelope` is missing",
        ),
        (
            {
                let mut b = bundle("application/vnd.dev.sigstore.bundle.v0.3+json", &payload);
                b["dsseEnvelope"]["payload"] = json!(7);
                b
            },
            "`dsseEnvelope.payload` has the wrong type",
        ),
        (
            {
                let mut b = bundle("application/vnd.dev.sigstore.bundle.v0.3+json", &payload);
                b.as_object_mut().unwrap().remove("mediaType");
                b
            },
            "`mediaType` is missing",
        ),
        (
            dsse(&edited("v1-github.json", |v| v["subject"] = json!([]))),
            "`subject` is invalid",
        ),
    ];
    for (input, expected) in cases {
        let message = read_err(&serde_json::to_vec(&input).unwrap()).to_string();
        assert!(
            message.starts_with(expected),
            "{message:?} should start with {expected:?}"
        );
    }
}

#[test]
fn read_path_names_a_missing_file() {
    let err = read_path(&fixture_path("missing.json"), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing.json"), "{err}");
}

#[test]
fn accepts_a_byte_order_mark_and_keeps_unknown_digest_names() {
    let bytes = [&b"\xef\xbb\xbf"[..], &fixture("v1.0-no-run-details.json")].concat();
    assert!(read(&bytes, None).is_ok());
    let bytes = edited("v1.0-no-run-details.json", |v| {
        // A SHA-256 git repository's commit, and a digest name we don't know.
        v["subject"][0]["digest"] = json!({ "gitCommit": A, "dirHash": "h1:abc=" });
    });
    let p = read(&bytes, None).unwrap();
    assert_eq!(p.subjects[0].digest["gitcommit"], A);
    assert_eq!(p.subjects[0].digest["dirhash"], "h1:abc=");
    assert_eq!(p.subjects[0].sha256(), None);
}

/// Committed wrappers, encoded by Python's `base64` from the statement fixtures beside them
/// (standard and URL-safe unpadded), as an encoder independent of ours.
#[test]
fn reads_the_committed_envelope_bundle_and_jsonl_fixtures() {
    let cases = [
        ("v1-github.dsse.json", "v1-github.json", Wrapper::Dsse),
        (
            "container-based.sigstore.json",
            "container-based.json",
            Wrapper::SigstoreBundle {
                media_type: "application/vnd.dev.sigstore.bundle.v0.3+json".into(),
            },
        ),
        (
            "v1-github.bundle-v0.2.json",
            "v1-github.json",
            Wrapper::SigstoreBundle {
                media_type: "application/vnd.dev.sigstore.bundle+json;version=0.2".into(),
            },
        ),
    ];
    for (wrapped, statement, wrapper) in cases {
        let p = read_path(&fixture_path(wrapped), None).unwrap();
        assert_eq!(p.payload, fixture(statement), "{wrapped}");
        assert_eq!(p.wrapper, wrapper);
        let envelope = p.envelope.unwrap();
        assert_eq!(envelope.signatures[0].sig, [0x30, 0x45, 0x02, 0x21]);
        assert_eq!(envelope.signatures[0].keyid.as_deref(), Some(""));
    }

    let path = fixture_path("three.intoto.jsonl");
    assert!(matches!(
        read_path(&path, None),
        Err(ProvenanceError::SelectionRequired { count: 3 })
    ));
    let p = read_path(&path, Some("hello-linux-amd64")).unwrap();
    assert_eq!((p.line, p.predicate_type), (1, PredicateType::SlsaProvenanceV0_2));
    let p = read_path(&path, Some("hello.zip")).unwrap();
    assert_eq!((p.line, p.payload), (2, fixture("v1-github.json")));
    let p = read_path(
        &path,
        Some("9e2bbca079387d7965c3a9cee6d0c53f4f4e63ff7637877a83c4c05f2a666112"),
    )
    .unwrap();
    assert_eq!(p.line, 3);
    assert!(p.container_build().is_ok());
}

#[test]
fn reads_what_repro_build_records() {
    let p = read(&fixture("repro-build.json"), None).unwrap();
    let r = p.repro_build().unwrap();
    assert_eq!(r.path, "proj");
    assert_eq!(r.source.sha1.len(), 40);
    assert!(r.builder_image.uri.starts_with("repro/default@sha256:"));
    assert_eq!(r.build.build_type, p.build_type);
    assert!(!r.build.command.is_empty());
    assert!(p.container_build().is_err(), "not the container-based type");
}

#[test]
fn repro_build_errors_name_the_field() {
    let base = fixture_json("repro-build.json");
    let params = "/predicate/buildDefinition/externalParameters";
    let cases: [(&str, Value, &str); 6] = [
        ("/source/path", json!("../etc"), "externalParameters.source.path"),
        ("/source/path", json!("/abs"), "externalParameters.source.path"),
        (
            "/sourceDateEpoch",
            json!("yesterday"),
            "externalParameters.sourceDateEpoch",
        ),
        ("/build/command", json!([]), "externalParameters.build.command"),
        (
            "/build/build_type",
            json!("https://example.org/x"),
            "externalParameters.build.build_type",
        ),
        ("/build/remap", json!("yes"), "externalParameters.build"),
    ];
    for (at, value, field) in cases {
        let mut v = base.clone();
        *v.pointer_mut(&format!("{params}{at}")).unwrap() = value;
        let e = read(&serde_json::to_vec(&v).unwrap(), None)
            .unwrap()
            .repro_build()
            .unwrap_err()
            .to_string();
        assert!(e.contains(field), "{at}: {e}");
    }
    let mut v = base.clone();
    v.pointer_mut(params)
        .unwrap()
        .as_object_mut()
        .unwrap()
        .remove("builderImage");
    let e = read(&serde_json::to_vec(&v).unwrap(), None)
        .unwrap()
        .repro_build()
        .unwrap_err();
    assert!(e.to_string().contains("externalParameters.builderImage"), "{e}");
}
