//! The in-toto statements repro writes — SLSA v1 provenance (`repro build`), the rebuild
//! attestation (`repro rebuild`, predicate [`REBUILD_PREDICATE_TYPE`]) and the SLSA
//! Verification Summary — and their signing. Their fields are documented in
//! `docs/attestation.md`.

pub mod rebuild;
pub mod slsa;

use self::rebuild::{
    Backend, BuilderImageUse, Excluded, ExcludedOutput, ImageUsed, ProvenanceRef, RebuildPredicate, Run,
    SubjectResult, Verdicts,
};
use self::slsa::{
    BuildDefinition, BuildMetadata, Builder, ExternalParameters, InternalParameters, RunDetails,
    SlsaProvenance, SourceRef, VerificationSummary,
};
use super::{BuildRecord, RebuildReport};
use crate::attest::{self, AttestError, PrivateKey};
use crate::intoto::{Envelope, ResourceDescriptor, Statement, digest};
use crate::units::unix_time;

/// The predicate type of repro's rebuild attestation (versioned: a breaking change makes v2).
pub const REBUILD_PREDICATE_TYPE: &str = "https://github.com/repro/repro/attestation/rebuild/v1";
/// SLSA provenance v1.
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";
/// SLSA Verification Summary Attestation v1.
pub const VSA_PREDICATE_TYPE: &str = "https://slsa.dev/verification_summary/v1";
/// The builder id `repro build` records unless told otherwise.
pub const DEFAULT_BUILDER_ID: &str = "https://github.com/repro/repro/builder";
/// The rebuilder id `repro rebuild` records unless told otherwise.
pub const DEFAULT_REBUILDER_ID: &str = "https://github.com/repro/repro/rebuilder";
/// The policy a VSA says it applied.
pub const POLICY_URI: &str =
    "https://github.com/repro/repro/blob/main/docs/attestation.md#verification-policy";
/// The policy's text, as `docs/attestation.md` states it under "Verification policy"; a VSA
/// records its sha256, so a change of policy changes the digest.
pub const POLICY_TEXT: &str = "A VSA or attestation with `PASSED` says: the recorded source commit, \
built with the recorded command in the recorded builder image (or the recorded substitute), gave \
the same bytes in every run under the listed variations, and those bytes have the digests the \
provenance publishes. It says nothing about who built the published artifacts or whether the \
provenance's signer is trustworthy; check the provenance's signature with `--provenance-key` and \
the `signatureVerified` field for that.";

/// sha256 of [`POLICY_TEXT`], lowercase hex.
pub fn policy_sha256() -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(POLICY_TEXT.as_bytes()))
}

/// The verified "level" a passing VSA records (a custom value: SLSA has no reproducibility
/// track, and custom values must not start with `SLSA_`).
pub const VERIFIED_LEVEL: &str = "REPRO_REPRODUCIBLE";

/// SLSA v1 provenance for one `repro build`.
pub fn provenance(b: &BuildRecord) -> Statement<SlsaProvenance> {
    let subjects = b
        .subjects
        .iter()
        .map(|(name, sha256)| ResourceDescriptor::named(name, digest("sha256", sha256)))
        .collect();
    let image = || ResourceDescriptor::at(&b.image_uri, digest("sha256", &b.image_sha256));
    Statement::new(
        subjects,
        SlsaProvenance {
            build_definition: BuildDefinition {
                build_type: b.build.build_type.clone(),
                external_parameters: ExternalParameters {
                    source: SourceRef {
                        uri: b.source_uri.clone(),
                        digest: digest("sha1", &b.commit),
                        path: b.path.clone(),
                    },
                    builder_image: image(),
                    build: b.build.clone(),
                    source_date_epoch: b.source_date_epoch,
                    generated_lockfiles: b
                        .generated_lockfiles
                        .iter()
                        .map(|(ecosystem, lock)| slsa::GeneratedLockfile {
                            ecosystem: *ecosystem,
                            path: lock.path.clone(),
                            sha256: lock.sha256.clone(),
                            content: lock.content.clone(),
                        })
                        .collect(),
                    uncommitted_changes: b.uncommitted_changes.clone(),
                },
                internal_parameters: InternalParameters {
                    backend: "docker",
                    run: b.run.clone(),
                },
                resolved_dependencies: [
                    ResourceDescriptor::at(&b.source_uri, digest("gitCommit", &b.commit)),
                    image(),
                ]
                .into_iter()
                .chain(b.dependencies.iter().map(|d| ResourceDescriptor {
                    name: Some(d.name.clone()),
                    uri: Some(d.uri.clone()),
                    digest: digest("sha256", &d.digest.sha256),
                }))
                .collect(),
            },
            run_details: RunDetails {
                builder: Builder::repro(&b.builder_id),
                metadata: BuildMetadata {
                    invocation_id: b.invocation_id.clone(),
                    started_on: unix_time(b.started),
                    finished_on: unix_time(b.finished),
                },
            },
        },
    )
}

/// How the provenance's signature was verified, if it was: with `--provenance-key`, or
/// keylessly (identity, issuer, workflow claims).
pub fn provenance_signature(r: &RebuildReport) -> Option<crate::attest::SignatureRecord> {
    r.provenance.signature.clone()
}

/// The published subjects a rebuild is about, with the digests the provenance records.
fn subjects(r: &RebuildReport) -> Vec<ResourceDescriptor> {
    r.subjects
        .iter()
        .map(|s| ResourceDescriptor::named(&s.name, s.recorded.clone()))
        .collect()
}

/// The rebuild attestation: PASSED when both verdicts hold, else FAILED.
pub fn rebuild_attestation(
    r: &RebuildReport,
    rebuilder_id: &str,
    finished: i64,
) -> Statement<RebuildPredicate> {
    let runs = r
        .check
        .runs
        .iter()
        .map(|run| Run {
            label: run.spec.label.clone(),
            variations: run.spec.variations.clone(),
            exit_code: run.exit_code,
            engine: run.placement.clone(),
            outputs: r
                .check
                .artifacts
                .iter()
                .filter_map(|a| {
                    let d = a.sha256.get(&run.spec.label)?.as_ref()?;
                    Some((a.path.clone(), digest("sha256", d)))
                })
                .collect(),
        })
        .collect();
    let subject_results = r
        .subjects
        .iter()
        .map(|s| SubjectResult {
            name: s.name.clone(),
            recorded: s.recorded.clone(),
            rebuilt: s.rebuilt.clone(),
            artifact: s.artifact.clone(),
            matched_by: s.matched_by,
            matches: s.matches,
        })
        .collect();
    let excluded = r
        .excluded
        .iter()
        .map(|a| ExcludedOutput {
            path: a.path.clone(),
            sha256: a.sha256.clone(),
            reproducible: a.reproducible,
        })
        .collect();
    Statement::new(
        subjects(r),
        RebuildPredicate {
            rebuilder: Builder::repro(rebuilder_id),
            verdict: r.result(),
            verdicts: Verdicts {
                reproducible_across_runs: r.reproducible_across_runs,
                matches_subjects: r.matches_subjects,
            },
            provenance: ProvenanceRef {
                digest: digest("sha256", &r.provenance.file_sha256),
                payload_digest: digest("sha256", &r.provenance.payload_sha256),
                predicate_type: r.provenance.predicate_type.clone(),
                build_type: r.provenance.build_type.clone(),
                builder_id: r.provenance.builder_id.clone(),
                signature_verified: r.provenance.signature.is_some(),
                signature: provenance_signature(r),
            },
            source: SourceRef {
                uri: r.recorded.source.uri.clone(),
                digest: digest("sha1", &r.recorded.source.sha1),
                path: r.recorded.path.clone(),
            },
            builder_image: BuilderImageUse {
                recorded: ResourceDescriptor::at(
                    &r.recorded.builder_image.uri,
                    digest("sha256", &r.recorded.builder_image.sha256),
                ),
                used: ImageUsed {
                    reference: r.check.image.reference.clone(),
                    image_id: r.check.image.image_id.clone(),
                },
                substituted: r.image_substituted,
            },
            source_date_epoch: r.check.source_date_epoch,
            variations: r.check.variations.clone(),
            backend: Backend {
                name: r.check.backend.clone(),
                isolated: r.check.isolated,
                allow_unisolated: r.allow_unisolated,
                allow_non_hermetic: r.allow_non_hermetic,
            },
            granted: r.granted.clone(),
            runs,
            subjects: subject_results,
            excluded: Excluded {
                globs: r.exclude_globs.clone(),
                outputs: excluded,
            },
            time_finished: unix_time(finished),
        },
    )
}

/// The SLSA Verification Summary of a rebuild.
pub fn vsa(
    r: &RebuildReport,
    verifier_id: &str,
    finished: i64,
    provenance_uri: &str,
) -> Statement<VerificationSummary> {
    Statement::new(
        subjects(r),
        VerificationSummary {
            verifier: Builder::repro(verifier_id),
            time_verified: unix_time(finished),
            resource_uri: r.recorded.source.uri.clone(),
            policy: ResourceDescriptor::at(POLICY_URI, digest("sha256", policy_sha256())),
            input_attestations: vec![ResourceDescriptor::at(
                provenance_uri,
                digest("sha256", &r.provenance.file_sha256),
            )],
            verification_result: r.result(),
            verified_levels: vec![if r.passed() { VERIFIED_LEVEL } else { "FAILED" }],
            slsa_version: "1.2",
        },
    )
}

/// Signs the provenance of a `repro build` into a DSSE envelope.
pub fn sign_provenance(b: &BuildRecord, key: &PrivateKey) -> Result<Envelope, AttestError> {
    attest::sign_statement(&provenance(b).to_json().map_err(AttestError::Serialize)?, key)
}

/// What to sign after a rebuild, and with what.
pub struct RebuildSigning<'a> {
    pub key: &'a PrivateKey,
    /// The id (a URI) the attestation and the VSA give the rebuilder.
    pub rebuilder_id: &'a str,
    /// The attestation as a DSSE envelope.
    pub attestation: bool,
    /// The attestation as a Sigstore bundle v0.3.
    pub bundle: bool,
    /// A VSA, naming the provenance it verified by this URI.
    pub vsa_provenance_uri: Option<String>,
    /// Sign a FAILED verdict too; without it a failed rebuild signs nothing.
    pub attest_failure: bool,
}

/// The signed documents of a rebuild, as JSON text, each one asked for.
#[derive(Debug, Default)]
pub struct SignedRebuild {
    pub attestation: Option<String>,
    pub bundle: Option<String>,
    pub vsa: Option<String>,
}

/// Signs what `signing` asks for, timestamped now; `None` when the rebuild FAILED and
/// `attest_failure` is off.
pub fn sign_rebuild(
    r: &RebuildReport,
    signing: &RebuildSigning<'_>,
) -> Result<Option<SignedRebuild>, AttestError> {
    if !r.passed() && !signing.attest_failure {
        return Ok(None);
    }
    if r.passed()
        && let Some(why) = r.unsigned_reason()
    {
        return Err(AttestError::Refused(why));
    }
    let finished = super::now();
    let statement = rebuild_attestation(r, signing.rebuilder_id, finished)
        .to_json()
        .map_err(AttestError::Serialize)?;
    let mut signed = SignedRebuild::default();
    if signing.attestation {
        signed.attestation = Some(attest::sign_statement(&statement, signing.key)?.to_json());
    }
    if signing.bundle {
        signed.bundle = Some(attest::bundle::sign_bundle(&statement, signing.key)?);
    }
    if let Some(uri) = &signing.vsa_provenance_uri {
        let vsa = vsa(r, signing.rebuilder_id, finished, uri)
            .to_json()
            .map_err(AttestError::Serialize)?;
        signed.vsa = Some(attest::sign_statement(&vsa, signing.key)?.to_json());
    }
    Ok(Some(signed))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use serde_json::Value;

    use super::*;
    use crate::check::GeneratedLockfile;
    use crate::deps::{Dependency, Ecosystem};
    use crate::provenance::{BuilderImage, GitSource};
    use crate::rebuild::ProvenanceInfo;
    use crate::rebuild::recorded::Recorded;
    use crate::rebuild::subjects::{MatchedBy, SubjectMatch};
    use crate::report::fixtures::{build_def, check_report};

    fn rebuild_report(passed: bool) -> RebuildReport {
        let mut check = check_report();
        // A passing rebuild as it is signed: in containers.
        check.isolated = passed;
        if passed {
            check.backend = "docker".into();
        }
        let digests = |d: &str| BTreeMap::from([("sha256".to_string(), d.repeat(64))]);
        RebuildReport {
            schema_version: crate::rebuild::REBUILD_SCHEMA_VERSION,
            reproducible_across_runs: passed,
            matches_subjects: true,
            provenance: ProvenanceInfo {
                file_sha256: "1".repeat(64),
                payload_sha256: "2".repeat(64),
                predicate_type: "https://slsa.dev/provenance/v1".into(),
                build_type: "https://slsa.dev/container-based-build/v0.1?draft".into(),
                builder_id: None,
                invocation_id: Some("inv-\"1\"".into()),
                signature_keyid: passed.then(|| "k".repeat(64)),
                signature: passed.then(|| crate::attest::SignatureRecord::Key {
                    keyid: "k".repeat(64),
                }),
            },
            recorded: Recorded {
                rebuilder: "container-based".into(),
                build_type: "https://slsa.dev/container-based-build/v0.1?draft".into(),
                source: GitSource {
                    uri: "git+https://example.com/r@refs/heads/main".into(),
                    repository: "https://example.com/r".into(),
                    git_ref: "refs/heads/main".into(),
                    sha1: "3".repeat(40),
                },
                path: "sub dir".into(),
                builder_image: BuilderImage {
                    uri: format!("img@sha256:{}", "4".repeat(64)),
                    name: "img".into(),
                    sha256: "4".repeat(64),
                },
                build: build_def(),
                source_date_epoch: None,
                config_path: Some(".github/config.yml".into()),
                dependencies: Vec::new(),
                generated_lockfile: None,
                uncommitted_changes: Vec::new(),
            },
            checkout: PathBuf::from("/src"),
            image_substituted: passed,
            allow_unisolated: !passed,
            granted: crate::rebuild::policy::Grants {
                network: !passed,
                timeout_secs: 600,
                memory_bytes: 1 << 30,
                disk_bytes: 1 << 30,
                requested_timeout_secs: 0,
                requested_memory_bytes: 1 << 30,
                requested_disk_bytes: 1 << 30,
                control_user: crate::rebuild::policy::ControlUser::Root,
                control_path: Some("/workspace".into()),
            },
            allow_non_hermetic: !passed,
            subjects: vec![
                SubjectMatch {
                    name: "out/same.bin".into(),
                    recorded: digests("f"),
                    artifact: Some("out/same.bin".into()),
                    rebuilt: digests("f"),
                    matched_by: MatchedBy::Path,
                    matches: true,
                    problem: None,
                },
                SubjectMatch {
                    name: "gone".into(),
                    recorded: BTreeMap::from([
                        ("sha512".to_string(), "5".repeat(128)),
                        ("gitCommit".to_string(), "x".into()),
                    ]),
                    artifact: None,
                    rebuilt: BTreeMap::new(),
                    matched_by: MatchedBy::Unmatched,
                    matches: false,
                    problem: Some("no output".into()),
                },
            ],
            exclude_globs: vec!["*.log".into()],
            excluded: check.artifacts.iter().take(1).cloned().collect(),
            notes: vec!["a note".into()],
            check,
        }
    }

    fn build_record() -> BuildRecord {
        let report = check_report();
        BuildRecord {
            build: build_def(),
            source_uri: "git+https://example.com/r@refs/heads/main".into(),
            commit: "3".repeat(40),
            path: String::new(),
            image_uri: format!("img@sha256:{}", "4".repeat(64)),
            image_sha256: "4".repeat(64),
            source_date_epoch: 1_700_000_000,
            subjects: vec![
                ("out/a".into(), "6".repeat(64)),
                ("out/<b>".into(), "7".repeat(64)),
            ],
            builder_id: DEFAULT_BUILDER_ID.into(),
            invocation_id: "inv".into(),
            started: 1_700_000_001,
            finished: 1_700_000_002,
            run: report.runs.first().map(|r| r.spec.clone()),
            dependencies: vec![
                Dependency::new(Ecosystem::Cargo, "itoa", "1.0.11", &"8".repeat(64)),
                Dependency::new(Ecosystem::Python, "Flit_Core", "3.9.0+local", &"9".repeat(64)),
            ],
            generated_lockfiles: vec![(
                Ecosystem::Cargo,
                GeneratedLockfile {
                    path: "Cargo.lock".into(),
                    sha256: crate::deps::sha256_hex(b"version = 4\n"),
                    content: "version = 4\n".into(),
                },
            )],
            uncommitted_changes: vec![" M src/main.c".into(), "S hidden.txt (skip-worktree)".into()],
            report,
        }
    }

    /// A provenance of a dirty working tree says so, and a rebuild reads it back (and refuses it
    /// unless told otherwise: see `rebuild`).
    #[test]
    fn uncommitted_changes_are_recorded_and_read_back() {
        let record = build_record();
        let statement = provenance(&record).to_json().unwrap();
        let provenance = crate::provenance::read(&statement, None).unwrap();
        assert_eq!(
            provenance.repro_build().unwrap().uncommitted_changes,
            record.uncommitted_changes
        );
        let text = String::from_utf8(statement).unwrap().replace(
            "\"uncommittedChanges\":[\" M src/main.c\",",
            "\"uncommittedChanges\":[1,",
        );
        let provenance = crate::provenance::read(text.as_bytes(), None).unwrap();
        let e = provenance.repro_build().unwrap_err().to_string();
        assert!(e.contains("uncommittedChanges"), "{e}");
    }

    #[test]
    fn a_rebuild_reads_back_the_dependencies_and_lockfile_a_build_recorded() {
        let record = build_record();
        let mut statement = provenance(&record).to_json().unwrap();
        let provenance = crate::provenance::read(&statement, None).unwrap();
        let (deps, lock) = crate::rebuild::recorded::dependencies(&provenance).unwrap();
        assert_eq!(deps, record.dependencies);
        assert_eq!(lock.as_deref(), Some("version = 4\n"));
        // A purl that does not name the recorded package is refused, naming the field.
        let text = String::from_utf8(statement.clone())
            .unwrap()
            .replace("pkg:cargo/itoa@1.0.11", "pkg:cargo/itoz@1.0.11");
        statement = text.into_bytes();
        let provenance = crate::provenance::read(&statement, None).unwrap();
        let e = crate::rebuild::recorded::dependencies(&provenance)
            .unwrap_err()
            .to_string();
        assert!(e.contains("resolvedDependencies[2].uri"), "{e}");
    }

    /// What repro signs, byte for byte.
    fn written() -> Vec<(&'static str, Vec<u8>)> {
        vec![
            ("provenance.json", provenance(&build_record()).to_json().unwrap()),
            (
                "rebuild-passed.json",
                rebuild_attestation(&rebuild_report(true), DEFAULT_REBUILDER_ID, 1_700_000_003)
                    .to_json()
                    .unwrap(),
            ),
            (
                "rebuild-failed.json",
                rebuild_attestation(&rebuild_report(false), "https://me.example", 0)
                    .to_json()
                    .unwrap(),
            ),
            (
                "vsa-passed.json",
                vsa(
                    &rebuild_report(true),
                    DEFAULT_REBUILDER_ID,
                    1_700_000_003,
                    "p.json",
                )
                .to_json()
                .unwrap(),
            ),
            (
                "vsa-failed.json",
                vsa(&rebuild_report(false), "https://me.example", 0, "(stdin)")
                    .to_json()
                    .unwrap(),
            ),
        ]
    }

    /// The statements are compact JSON with sorted keys; the golden files hold the same
    /// documents pretty-printed (keys sorted too) so that a change shows in review. A change
    /// here changes every statement repro signs: update `docs/attestation.md` with it.
    #[test]
    fn statements_are_written_as_the_golden_files_say() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/rebuild/statements/golden");
        for (name, bytes) in written() {
            if std::env::var_os("REPRO_UPDATE_GOLDEN").is_some() {
                let value: Value = serde_json::from_slice(&bytes).unwrap();
                let pretty = serde_json::to_string_pretty(&value).unwrap() + "\n";
                std::fs::write(dir.join(name), pretty).unwrap();
            }
            let golden = std::fs::read_to_string(dir.join(name)).unwrap();
            let golden: Value = serde_json::from_str(&golden).unwrap();
            assert_eq!(String::from_utf8(bytes).unwrap(), golden.to_string(), "{name}");
        }
    }

    /// What repro emits: a v0.3 bundle with a key hint and exactly one signature without keyid,
    /// a plain DSSE envelope of the VSA with keyid, and a VSA that claims no SLSA level a single
    /// rebuild cannot back.
    #[test]
    fn emitted_bundles_and_vsas_have_the_documented_shape() {
        let key = PrivateKey::generate(crate::attest::Algorithm::EcdsaP256).unwrap();
        let public = key.public_key();
        let signing = RebuildSigning {
            key: &key,
            rebuilder_id: DEFAULT_REBUILDER_ID,
            attestation: false,
            bundle: true,
            vsa_provenance_uri: Some("p.json".into()),
            attest_failure: false,
        };
        let signed = sign_rebuild(&rebuild_report(true), &signing).unwrap().unwrap();
        let bundle: Value = serde_json::from_str(signed.bundle.as_deref().unwrap()).unwrap();
        assert_eq!(bundle["mediaType"], crate::attest::BUNDLE_MEDIA_TYPE);
        assert_eq!(
            bundle["verificationMaterial"]["publicKey"]["hint"],
            public.hint().unwrap()
        );
        let signatures = bundle["dsseEnvelope"]["signatures"].as_array().unwrap();
        assert_eq!(signatures.len(), 1);
        assert!(signatures[0].get("keyid").is_none(), "{bundle}");
        let vsa: Value = serde_json::from_str(signed.vsa.as_deref().unwrap()).unwrap();
        assert!(vsa.get("mediaType").is_none());
        assert_eq!(vsa["signatures"][0]["keyid"], public.keyid().unwrap());
        let verified =
            attest::verify_attestation(signed.vsa.as_deref().unwrap().as_bytes(), &public).unwrap();
        let predicate = &verified.statement["predicate"];
        assert_eq!(predicate["slsaVersion"], "1.2");
        let levels = predicate["verifiedLevels"].as_array().unwrap();
        assert!(levels.iter().all(|l| l != "SLSA_BUILD_REPRODUCED"), "{levels:?}");
    }

    #[test]
    fn signing_follows_the_verdict_and_signs_what_is_asked() {
        let key = PrivateKey::generate(crate::attest::Algorithm::EcdsaP256).unwrap();
        let public = key.public_key();
        let mut signing = RebuildSigning {
            key: &key,
            rebuilder_id: DEFAULT_REBUILDER_ID,
            attestation: true,
            bundle: true,
            vsa_provenance_uri: Some("p.json".into()),
            attest_failure: false,
        };
        assert!(sign_rebuild(&rebuild_report(false), &signing).unwrap().is_none());
        signing.attest_failure = true;
        let failed = sign_rebuild(&rebuild_report(false), &signing).unwrap().unwrap();
        for text in [&failed.attestation, &failed.bundle, &failed.vsa] {
            let verified = attest::verify_attestation(text.as_deref().unwrap().as_bytes(), &public).unwrap();
            let result = &verified.statement["predicate"];
            assert!(result["verdict"] == "FAILED" || result["verificationResult"] == "FAILED");
        }
        signing.bundle = false;
        signing.vsa_provenance_uri = None;
        let passed = sign_rebuild(&rebuild_report(true), &signing).unwrap().unwrap();
        assert!(passed.bundle.is_none() && passed.vsa.is_none());
        let verified = attest::verify_attestation(passed.attestation.unwrap().as_bytes(), &public).unwrap();
        assert_eq!(verified.statement["predicate"]["verdict"], "PASSED");
        assert_eq!(
            verified.envelope.signatures[0].keyid,
            Some(public.keyid().unwrap())
        );

        let envelope = sign_provenance(&build_record(), &key).unwrap();
        assert_eq!(envelope.payload, provenance(&build_record()).to_json().unwrap());
        envelope.verify(&public).unwrap();
    }

    /// PASSED is signed for a rebuild with the network, or on the local backend, only when the
    /// rebuilder says so explicitly; the attestation then records it.
    #[test]
    fn non_hermetic_or_unisolated_passes_are_signed_only_when_allowed() {
        let key = PrivateKey::generate(crate::attest::Algorithm::EcdsaP256).unwrap();
        let signing = RebuildSigning {
            key: &key,
            rebuilder_id: DEFAULT_REBUILDER_ID,
            attestation: true,
            bundle: false,
            vsa_provenance_uri: None,
            attest_failure: false,
        };
        let mut networked = rebuild_report(true);
        networked.granted.network = true;
        let e = sign_rebuild(&networked, &signing).unwrap_err().to_string();
        assert!(e.contains("--allow-non-hermetic"), "{e}");
        networked.allow_non_hermetic = true;
        let signed = sign_rebuild(&networked, &signing).unwrap().unwrap();
        let payload = Envelope::from_json(signed.attestation.as_deref().unwrap().as_bytes())
            .unwrap()
            .payload;
        let predicate = &serde_json::from_slice::<Value>(&payload).unwrap()["predicate"];
        assert_eq!(predicate["granted"]["network"], true);
        assert_eq!(predicate["backend"]["allowNonHermetic"], true);
        let mut local = rebuild_report(true);
        local.check.isolated = false;
        let e = sign_rebuild(&local, &signing).unwrap_err().to_string();
        assert!(e.contains("--allow-unisolated"), "{e}");
    }

    #[test]
    fn a_keyless_provenance_signature_is_recorded_with_who_signed() {
        use crate::attest::SignatureRecord;
        use crate::sigstore::WorkflowClaims;
        let mut report = rebuild_report(true);
        report.provenance.signature_keyid = None;
        report.provenance.signature = Some(SignatureRecord::Keyless {
            identity: "https://github.com/o/r/.github/workflows/release.yml@refs/tags/v1".into(),
            issuer: "https://token.actions.githubusercontent.com".into(),
            claims: Box::new(WorkflowClaims {
                source_repository: Some("https://github.com/o/r".into()),
                r#ref: Some("refs/tags/v1".into()),
                commit: Some("a".repeat(40)),
                ..WorkflowClaims::default()
            }),
            signing_time: Some("2025-02-25T21:58:28Z".into()),
        });
        let statement = rebuild_attestation(&report, DEFAULT_REBUILDER_ID, 1);
        let value = serde_json::to_value(&statement).unwrap();
        let provenance = &value["predicate"]["provenance"];
        assert_eq!(provenance["signatureVerified"], true);
        assert_eq!(
            provenance["signature"],
            serde_json::json!({
                "method": "keyless",
                "identity": "https://github.com/o/r/.github/workflows/release.yml@refs/tags/v1",
                "issuer": "https://token.actions.githubusercontent.com",
                "claims": {
                    "sourceRepository": "https://github.com/o/r",
                    "ref": "refs/tags/v1",
                    "commit": "a".repeat(40),
                },
                "signingTime": "2025-02-25T21:58:28Z",
            })
        );

        // The JSON report says the same, and its `provenance` stays valid under the schema
        // (the whole report refers to the check report's schema; the engine tests check it).
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schema/rebuild-report.v2.json");
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut provenance_schema = schema["properties"]["provenance"].clone();
        provenance_schema["$defs"] = schema["$defs"].clone();
        let validator = jsonschema::validator_for(&provenance_schema).unwrap();
        for report in [report, rebuild_report(true), rebuild_report(false)] {
            let json: Value = serde_json::from_str(&crate::report::rebuild::json(&report, &[])).unwrap();
            let errors: Vec<String> = validator
                .iter_errors(&json["provenance"])
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{errors:?}");
            assert_eq!(
                json["provenance"]["signature"],
                serde_json::to_value(&report.provenance.signature).unwrap()
            );
        }
    }

    #[test]
    fn the_documented_policy_is_the_one_whose_digest_vsas_record() {
        let doc = include_str!("../../docs/attestation.md");
        let section = doc
            .split("### Verification policy")
            .nth(1)
            .and_then(|s| s.split("\n\n").nth(1))
            .expect("docs/attestation.md has a Verification policy paragraph");
        let flat = section.split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(flat, POLICY_TEXT);
        assert_eq!(policy_sha256().len(), 64);
    }
}
