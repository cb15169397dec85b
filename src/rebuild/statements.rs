//! The in-toto statements repro writes: SLSA v1 provenance (`repro build`), the rebuild
//! attestation (`repro rebuild`, predicate [`REBUILD_PREDICATE_TYPE`]) and the SLSA
//! Verification Summary. Their fields are documented in `docs/attestation.md`.

use serde_json::{Value, json};

use super::{BuildRecord, RebuildReport};
use crate::attest::STATEMENT_V1;
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

pub fn version() -> Value {
    json!({ "repro": env!("CARGO_PKG_VERSION") })
}

/// SLSA v1 provenance for one `repro build`.
pub fn provenance(b: &BuildRecord) -> Value {
    let subjects: Vec<Value> = b
        .subjects
        .iter()
        .map(|(name, sha256)| json!({ "name": name, "digest": { "sha256": sha256 } }))
        .collect();
    json!({
        "_type": STATEMENT_V1,
        "subject": subjects,
        "predicateType": SLSA_PROVENANCE_V1,
        "predicate": {
            "buildDefinition": {
                "buildType": b.build.build_type,
                "externalParameters": {
                    "source": {
                        "uri": b.source_uri,
                        "digest": { "sha1": b.commit },
                        "path": b.path,
                    },
                    "builderImage": {
                        "uri": b.image_uri,
                        "digest": { "sha256": b.image_sha256 },
                    },
                    "build": b.build,
                    "sourceDateEpoch": b.source_date_epoch,
                },
                "internalParameters": {
                    "backend": "docker",
                    "run": b.run,
                },
                "resolvedDependencies": [
                    { "uri": b.source_uri, "digest": { "gitCommit": b.commit } },
                    { "uri": b.image_uri, "digest": { "sha256": b.image_sha256 } },
                ],
            },
            "runDetails": {
                "builder": { "id": b.builder_id, "version": version() },
                "metadata": {
                    "invocationId": b.invocation_id,
                    "startedOn": unix_time(b.started),
                    "finishedOn": unix_time(b.finished),
                },
            },
        },
    })
}

fn subjects(r: &RebuildReport) -> Vec<Value> {
    r.subjects
        .iter()
        .map(|s| json!({ "name": s.name, "digest": s.recorded }))
        .collect()
}

/// The rebuild attestation: PASSED when both verdicts hold, else FAILED.
pub fn rebuild_attestation(r: &RebuildReport, rebuilder_id: &str, finished: i64) -> Value {
    let runs: Vec<Value> = r
        .check
        .runs
        .iter()
        .map(|run| {
            let digests: serde_json::Map<String, Value> = r
                .check
                .artifacts
                .iter()
                .filter_map(|a| {
                    let d = a.sha256.get(&run.spec.label)?.as_ref()?;
                    Some((a.path.clone(), json!({ "sha256": d })))
                })
                .collect();
            json!({
                "label": run.spec.label,
                "variations": run.spec.variations,
                "exitCode": run.exit_code,
                "outputs": digests,
            })
        })
        .collect();
    let subject_results: Vec<Value> = r
        .subjects
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "recorded": s.recorded,
                "rebuilt": s.rebuilt,
                "artifact": s.artifact,
                "matchedBy": s.matched_by,
                "matches": s.matches,
            })
        })
        .collect();
    let excluded: Vec<Value> = r
        .excluded
        .iter()
        .map(|a| json!({ "path": a.path, "sha256": a.sha256, "reproducible": a.reproducible }))
        .collect();
    json!({
        "_type": STATEMENT_V1,
        "subject": subjects(r),
        "predicateType": REBUILD_PREDICATE_TYPE,
        "predicate": {
            "rebuilder": { "id": rebuilder_id, "version": version() },
            "verdict": r.result(),
            "verdicts": {
                "reproducibleAcrossRuns": r.reproducible_across_runs,
                "matchesSubjects": r.matches_subjects,
            },
            "provenance": {
                "digest": { "sha256": r.provenance.file_sha256 },
                "payloadDigest": { "sha256": r.provenance.payload_sha256 },
                "predicateType": r.provenance.predicate_type,
                "buildType": r.provenance.build_type,
                "builderId": r.provenance.builder_id,
                "signatureVerified": r.provenance.signature_keyid.is_some(),
            },
            "source": {
                "uri": r.recorded.source.uri,
                "digest": { "sha1": r.recorded.source.sha1 },
                "path": r.recorded.path,
            },
            "builderImage": {
                "recorded": {
                    "uri": r.recorded.builder_image.uri,
                    "digest": { "sha256": r.recorded.builder_image.sha256 },
                },
                "used": {
                    "reference": r.check.image.reference,
                    "imageId": r.check.image.image_id,
                },
                "substituted": r.image_substituted,
            },
            "sourceDateEpoch": r.check.source_date_epoch,
            "variations": r.check.variations,
            "backend": {
                "name": r.check.backend,
                "isolated": r.check.isolated,
                "allowUnisolated": r.allow_unisolated,
            },
            "runs": runs,
            "subjects": subject_results,
            "excluded": { "globs": r.exclude_globs, "outputs": excluded },
            "timeFinished": unix_time(finished),
        },
    })
}

/// The SLSA Verification Summary of a rebuild.
pub fn vsa(r: &RebuildReport, verifier_id: &str, finished: i64, provenance_uri: &str) -> Value {
    let passed = r.passed();
    json!({
        "_type": STATEMENT_V1,
        "subject": subjects(r),
        "predicateType": VSA_PREDICATE_TYPE,
        "predicate": {
            "verifier": { "id": verifier_id, "version": version() },
            "timeVerified": unix_time(finished),
            "resourceUri": r.recorded.source.uri,
            "policy": { "uri": POLICY_URI, "digest": { "sha256": policy_sha256() } },
            "inputAttestations": [{
                "uri": provenance_uri,
                "digest": { "sha256": r.provenance.file_sha256 },
            }],
            "verificationResult": r.result(),
            "verifiedLevels": [if passed { VERIFIED_LEVEL } else { "FAILED" }],
            "slsaVersion": "1.0",
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
