//! `repro build`, `repro rebuild` and `repro verify` end to end, as a new user runs them: a key
//! pair, signed provenance from a pinned build, a rebuild from it that is signed and accepted by
//! repro and by securesystemslib, and every refusal (wrong commit, local changes, mismatching
//! subjects, missing image, bad input) with its exit code.

use crate::common;

use std::path::{Path, PathBuf};

use base64::Engine as _;
use common::{repro, run};
use serde_json::{Value, json};

const REBUILD_TYPE: &str = "https://github.com/repro/repro/attestation/rebuild/v1";

/// A git repository holding a copy of a test-project in `proj/`, committed at a fixed date.
pub(crate) fn repository(dir: &Path, project: &str) -> PathBuf {
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    common::sh(
        &repo,
        &format!(
            "cp -r {}/test-projects/{project} proj && rm -f proj/expected.toml && \
             git init -q -b main . && git add -A && \
             GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.org GIT_COMMITTER_NAME=t \
             GIT_COMMITTER_EMAIL=t@example.org GIT_AUTHOR_DATE=@1700000000 \
             GIT_COMMITTER_DATE=@1700000000 git commit -qm import",
            common::repo_root().display()
        ),
    );
    repo
}

fn commit_of(repo: &Path) -> String {
    let out = std::process::Command::new("git")
        .args(["-C", &repo.display().to_string(), "rev-parse", "HEAD"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

pub(crate) fn keygen(dir: &Path, name: &str, extra: &[&str]) -> (String, String) {
    let prefix = dir.join(name).display().to_string();
    let mut args = vec!["keygen", "--out", &prefix];
    args.extend_from_slice(extra);
    let (code, _, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    (format!("{prefix}.key.pem"), format!("{prefix}.pub.pem"))
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// The statement inside a DSSE envelope file.
pub(crate) fn statement_of(envelope: &Path) -> Value {
    let env: Value = serde_json::from_slice(&std::fs::read(envelope).unwrap()).unwrap();
    let payload = base64::engine::general_purpose::STANDARD
        .decode(env["payload"].as_str().unwrap())
        .unwrap();
    serde_json::from_slice(&payload).unwrap()
}

#[test]
fn build_then_rebuild_is_signed_verified_and_a_mismatch_signs_nothing() {
    if common::skip_engine_test() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let repo = repository(d.path(), "shell-tar-ok");
    let proj = repo.join("proj");
    let (key, public) = keygen(d.path(), "signer", &[]);
    let prov = d.path().join("prov.json");
    let out_dir = d.path().join("built");

    // repro build: signed SLSA v1 provenance, and the outputs.
    let (code, stdout, err) = run(&[
        "build",
        &path(&proj),
        "--key",
        &key,
        "-o",
        &path(&prov),
        "--out-dir",
        &path(&out_dir),
    ]);
    assert_eq!(code, 0, "{stdout}{err}");
    let tarball = out_dir.join("out/release.tar.gz");
    assert!(tarball.is_file(), "{err}");
    let (code, stdout, _) = run(&[
        "verify",
        &path(&prov),
        "--key",
        &public,
        "--artifact",
        &path(&tarball),
        "--expect",
        "predicateType=https://slsa.dev/provenance/v1",
        "--expect",
        "predicate.buildDefinition.buildType=https://github.com/repro/repro/buildtypes/shell/v1",
        "--expect",
        &format!(
            "predicate.buildDefinition.externalParameters.source.digest.sha1={}",
            commit_of(&repo)
        ),
        "--expect",
        "predicate.buildDefinition.externalParameters.source.path=proj",
    ]);
    assert_eq!(code, 0, "{stdout}");
    let provenance = statement_of(&prov);
    assert_eq!(
        provenance["predicate"]["buildDefinition"]["externalParameters"]["sourceDateEpoch"],
        json!(1_700_000_000)
    );

    // repro rebuild: both verdicts hold; attestation, bundle and VSA are written and verify.
    let att = d.path().join("att.json");
    let bundle = d.path().join("att.bundle.json");
    let vsa = d.path().join("vsa.json");
    let report = d.path().join("report.json");
    let (code, stdout, err) = run(&[
        "rebuild",
        &path(&prov),
        "--provenance-key",
        &public,
        "--source",
        &path(&proj),
        "--key",
        &key,
        "-o",
        &path(&att),
        "--bundle",
        &path(&bundle),
        "--vsa",
        &path(&vsa),
        "--json",
        &path(&report),
        "--markdown",
        &path(&d.path().join("summary.md")),
    ]);
    assert_eq!(code, 0, "{stdout}{err}");
    assert!(stdout.contains("PASSED"), "{stdout}");
    let summary = std::fs::read_to_string(d.path().join("summary.md")).unwrap();
    assert!(
        summary.contains("✅ PASSED") && summary.contains("| `out/release.tar.gz` |"),
        "{summary}"
    );
    let report: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    common::assert_valid("rebuild-report.v2.json", &report);
    assert_eq!(report["reproducible_across_runs"], json!(true));
    assert_eq!(report["matches_subjects"], json!(true));
    assert_eq!(report["image_substituted"], json!(false));
    assert_eq!(report["check"]["runs"].as_array().unwrap().len(), 2);
    for (file, expect) in [
        (
            &att,
            vec![
                format!("predicateType={REBUILD_TYPE}"),
                "predicate.verdict=PASSED".to_string(),
                "predicate.verdicts.matchesSubjects=true".to_string(),
                "predicate.provenance.signatureVerified=true".to_string(),
                format!("predicate.source.digest.sha1={}", commit_of(&repo)),
            ],
        ),
        (&bundle, vec![format!("predicateType={REBUILD_TYPE}")]),
        (
            &vsa,
            vec![
                "predicateType=https://slsa.dev/verification_summary/v1".to_string(),
                "predicate.verificationResult=PASSED".to_string(),
                "predicate.verifiedLevels.0=REPRO_REPRODUCIBLE".to_string(),
            ],
        ),
    ] {
        let mut args = vec![
            "verify".to_string(),
            path(file),
            "--key".into(),
            public.clone(),
            "--artifact".into(),
            path(&tarball),
        ];
        for e in expect {
            args.push("--expect".into());
            args.push(e);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, stdout, err) = run(&args);
        assert_eq!(code, 0, "{}: {stdout}{err}", file.display());
    }
    let (ok, out) = common::sslib_verify(&att, Path::new(&public));
    assert!(ok, "securesystemslib rejected the rebuild attestation: {out}");
    let predicate = &statement_of(&att)["predicate"];
    assert_eq!(predicate["runs"].as_array().unwrap().len(), 2);
    assert_eq!(predicate["backend"]["isolated"], json!(true));
    assert_eq!(
        predicate["provenance"]["payloadDigest"]["sha256"]
            .as_str()
            .map(str::len),
        Some(64)
    );

    // Overriding with the recorded image itself is no substitution; `--json -` is JSON only.
    let (code, stdout, err) = run(&[
        "rebuild",
        &path(&prov),
        "--source",
        &path(&repo),
        "--image-override",
        "default",
        "--json",
        "-",
    ]);
    assert_eq!(code, 0, "{stdout}{err}");
    let again: Value = serde_json::from_str(&stdout).expect("stdout is only the JSON report");
    assert_eq!(again["image_substituted"], json!(false), "{again}");
    assert!(
        again["notes"].to_string().contains("no substitution"),
        "{}",
        again["notes"]
    );

    // A subject whose digest the source does not build: exit 1, nothing signed as reproducible.
    let mut tampered = provenance.clone();
    tampered["subject"][0]["digest"]["sha256"] = json!("0".repeat(64));
    let bad = d.path().join("bad.json");
    std::fs::write(&bad, serde_json::to_vec(&tampered).unwrap()).unwrap();
    let att2 = d.path().join("att2.json");
    let (code, stdout, err) = run(&[
        "rebuild",
        &path(&bad),
        "--source",
        &path(&proj),
        "--key",
        &key,
        "-o",
        &path(&att2),
        "--html",
        &path(&d.path().join("mismatch.html")),
        "--no-vary",
        "time,build-path,file-order,hostname,user,umask,locale,timezone,home,num-cpus",
    ]);
    assert_eq!(code, 1, "{stdout}{err}");
    assert!(stdout.contains("MISMATCH"), "{stdout}");
    let html = std::fs::read_to_string(d.path().join("mismatch.html")).unwrap();
    for needle in [
        "default-src 'none'",
        ">FAILED<",
        "MISMATCH",
        "matches the published subjects",
        &"0".repeat(64),
        "The runs:",
    ] {
        assert!(html.contains(needle), "`{needle}` is not in the HTML report");
    }
    assert!(!html.contains("<script"), "the HTML report has a script");
    assert!(stdout.contains("matches published subjects: NO"), "{stdout}");
    assert!(err.contains("nothing was signed"), "{err}");
    assert!(!att2.exists(), "a failed rebuild wrote an attestation");

    // --attest-failure signs an explicit FAILED verdict instead.
    let (code, stdout, err) = run(&[
        "rebuild",
        &path(&bad),
        "--source",
        &path(&proj),
        "--key",
        &key,
        "-o",
        &path(&att2),
        "--attest-failure",
        "--no-vary",
        "time,build-path,file-order,hostname,user,umask,locale,timezone,home,num-cpus",
    ]);
    assert_eq!(code, 1, "{stdout}{err}");
    let (code, stdout, _) = run(&[
        "verify",
        &path(&att2),
        "--key",
        &public,
        "--expect",
        "predicate.verdict=FAILED",
        "--expect",
        "predicate.verdicts.matchesSubjects=false",
    ]);
    assert_eq!(code, 0, "{stdout}");
}

#[test]
fn container_based_provenance_reruns_with_a_substituted_image() {
    if common::skip_engine_test() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let repo = repository(d.path(), "shell-tar-ok");
    let (key, public) = keygen(d.path(), "signer", &["--ed25519"]);
    // The digest the source builds to, from one pinned build of the same command.
    let out_dir = d.path().join("built");
    let (code, _, err) = run(&[
        "build",
        &path(&repo.join("proj")),
        "--key",
        &key,
        "-o",
        &path(&d.path().join("p.json")),
        "--out-dir",
        &path(&out_dir),
    ]);
    assert_eq!(code, 0, "{err}");
    let digest = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(
            std::fs::read(out_dir.join("out/release.tar.gz")).unwrap(),
        ))
    };
    let commit = commit_of(&repo);
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{ "name": "release.tar.gz", "digest": { "sha256": digest } }],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {
                "buildType": "https://slsa.dev/container-based-build/v0.1?draft",
                "externalParameters": {
                    "source": {
                        "uri": "git+https://github.com/example/proj@refs/heads/main",
                        "digest": { "sha1": commit }
                    },
                    "builderImage": {
                        "uri": format!("ghcr.io/example/builder@sha256:{}", "ab".repeat(32)),
                        "digest": { "sha256": "ab".repeat(32) }
                    },
                    "configPath": ".github/configs-docker/app-config.toml",
                    "buildConfig": {
                        "ArtifactPath": "proj/out/release.tar.gz",
                        "Command": ["sh", "-ec", "cd proj && sh build.sh"]
                    }
                }
            },
            "runDetails": {
                "builder": { "id": "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/builder_container-based_slsa3.yml@refs/tags/v1.9.0" }
            }
        }
    });
    let prov = d.path().join("container.intoto.json");
    std::fs::write(&prov, serde_json::to_vec(&statement).unwrap()).unwrap();

    // The recorded image is not here: exit 2, with the way out.
    let (code, _, err) = run(&["rebuild", &path(&prov), "--source", &path(&repo)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("ghcr.io/example/builder@sha256:"), "{err}");
    assert!(err.contains("--image-override"), "{err}");

    let att = d.path().join("att.json");
    let (code, stdout, err) = run(&[
        "rebuild",
        &path(&prov),
        "--source",
        &path(&repo),
        "--image-override",
        "default",
        "--key",
        &key,
        "-o",
        &path(&att),
    ]);
    assert_eq!(code, 0, "{stdout}{err}");
    assert!(stdout.contains("image substituted"), "{stdout}");
    assert!(stdout.contains("configPath"), "{stdout}");
    let (code, stdout, _) = run(&[
        "verify",
        &path(&att),
        "--key",
        &public,
        "--artifact",
        &path(&out_dir.join("out/release.tar.gz")),
        "--expect",
        "predicate.builderImage.substituted=true",
        "--expect",
        "predicate.builderImage.used.reference=default",
        "--expect",
        &format!(
            "predicate.builderImage.recorded.uri=ghcr.io/example/builder@sha256:{}",
            "ab".repeat(32)
        ),
        "--expect",
        "predicate.subjects.0.matchedBy=file-name",
    ]);
    assert_eq!(code, 0, "{stdout}");
    let (ok, out) = common::sslib_verify(&att, Path::new(&public));
    assert!(
        ok,
        "securesystemslib rejected an Ed25519 rebuild attestation: {out}"
    );

    // The control run is where and who the generator's `docker run` was: /workspace, root,
    // in a clone with its history.
    let mut who = statement.clone();
    let expected = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(format!("root\n/workspace\n{commit}\n")))
    };
    who["subject"] = json!([{ "name": "who.txt", "digest": { "sha256": expected } }]);
    who["predicate"]["buildDefinition"]["externalParameters"]["buildConfig"] = json!({
        "artifactPath": "who.txt",
        "command": ["sh", "-ec", "{ id -un; pwd; git rev-parse HEAD; } > who.txt"]
    });
    let who_path = d.path().join("who.json");
    std::fs::write(&who_path, serde_json::to_vec(&who).unwrap()).unwrap();
    let (code, stdout, err) = run(&[
        "rebuild",
        &path(&who_path),
        "--source",
        &path(&repo),
        "--image-override",
        "default",
        "--no-vary",
        "user,build-path",
        "--json",
        &path(&d.path().join("who-report.json")),
    ]);
    assert_eq!(code, 0, "{stdout}{err}");
    assert!(stdout.contains("match who.txt"), "{stdout}");
    let report: Value =
        serde_json::from_slice(&std::fs::read(d.path().join("who-report.json")).unwrap()).unwrap();
    common::assert_valid("rebuild-report.v2.json", &report);
    assert_eq!(report["check"]["build"]["control_path"], json!("/workspace"));
}

/// A repro-build-type statement for `repo`'s `proj/` at `commit`, unsigned.
fn recorded_statement(commit: &str) -> Value {
    json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{ "name": "out/release.tar.gz", "digest": { "sha256": "1".repeat(64) } }],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {
                "buildType": "https://github.com/repro/repro/buildtypes/shell/v1",
                "externalParameters": {
                    "source": {
                        "uri": "git+file:///x@refs/heads/main",
                        "digest": { "sha1": commit },
                        "path": "proj"
                    },
                    "builderImage": {
                        "uri": format!("repro/default@sha256:{}", "cd".repeat(32)),
                        "digest": { "sha256": "cd".repeat(32) }
                    },
                    "build": {
                        "command": ["sh", "build.sh"], "outputs": [], "exclude_outputs": [],
                        "env": {}, "image": "default", "remap": true, "network": false,
                        "timeout_secs": 600, "memory_bytes": 1_073_741_824_u64,
                        "origin": "recipe shell",
                        "build_type": "https://github.com/repro/repro/buildtypes/shell/v1"
                    },
                    "sourceDateEpoch": 1_700_000_000
                }
            }
        }
    })
}

#[test]
fn refusals_come_before_any_build_with_exit_2() {
    let d = tempfile::tempdir().unwrap();
    let repo = repository(d.path(), "shell-tar-ok");
    let proj = path(&repo.join("proj"));
    let (key, public) = keygen(d.path(), "k", &[]);
    let write = |name: &str, v: &Value| {
        let p = d.path().join(name);
        std::fs::write(&p, serde_json::to_vec(v).unwrap()).unwrap();
        path(&p)
    };
    let good = write("good.json", &recorded_statement(&commit_of(&repo)));
    let cases: Vec<(Vec<String>, &str)> = vec![
        // A commit the repository does not have.
        (
            vec![
                write("other.json", &recorded_statement(&"1".repeat(40))),
                "--source".into(),
                proj.clone(),
            ],
            "which is not in the repository",
        ),
        // The recorded folder, from a checkout's root or any folder of it, then a missing key use.
        (
            vec![
                good.clone(),
                "--source".into(),
                proj.clone(),
                "--key".into(),
                key.clone(),
            ],
            "nothing to sign into",
        ),
        (
            vec![
                good.clone(),
                "--source".into(),
                proj.clone(),
                "-o".into(),
                "x.json".into(),
            ],
            "give the signing key with --key",
        ),
        (
            vec![
                good.clone(),
                "--source".into(),
                proj.clone(),
                "--local".into(),
                "--key".into(),
                key.clone(),
                "-o".into(),
                "x.json".into(),
            ],
            "refusing to sign a rebuild on the local backend",
        ),
        (
            vec![
                good.clone(),
                "--source".into(),
                proj.clone(),
                "--key".into(),
                key.clone(),
                "-o".into(),
                "/nonexistent/dir/att.json".into(),
            ],
            "the folder /nonexistent/dir does not exist",
        ),
        (
            vec![
                good.clone(),
                "--source".into(),
                proj.clone(),
                "--provenance-key".into(),
                public.clone(),
            ],
            "unsigned statement",
        ),
        (
            vec![
                write("notjson.json", &json!("x"))[..].to_string(),
                "--source".into(),
                proj.clone(),
            ],
            "wrong type",
        ),
        (
            vec![
                write("type.json", &{
                    let mut v = recorded_statement(&commit_of(&repo));
                    v["predicate"]["buildDefinition"]["buildType"] = json!("https://example.org/other/v1");
                    v
                }),
                "--source".into(),
                proj.clone(),
            ],
            "no rebuilder for build type `https://example.org/other/v1`",
        ),
        (
            vec![
                write("nosde.json", &{
                    let mut v = recorded_statement(&commit_of(&repo));
                    v["predicate"]["buildDefinition"]["externalParameters"]["sourceDateEpoch"] =
                        json!("soon");
                    v
                }),
                "--source".into(),
                proj.clone(),
            ],
            "externalParameters.sourceDateEpoch",
        ),
    ];
    // A provenance is a request: what no build may have, and what this rebuilder does not
    // allow, are refused naming the field, before any build.
    let tampered = |name: &str, field: &str, value: Value| {
        let mut v = recorded_statement(&commit_of(&repo));
        v["predicate"]["buildDefinition"]["externalParameters"]["build"][field] = value;
        write(name, &v)
    };
    let hostile: Vec<(String, &str)> = vec![
        (tampered("net.json", "network", json!(true)), "build.network"),
        (
            tampered(
                "globs.json",
                "outputs",
                json!(["out/**", "../../../../etc/passwd"]),
            ),
            "build.outputs[1]",
        ),
        (
            tampered("abs.json", "exclude_outputs", json!(["/etc/hostname"])),
            "build.exclude_outputs[0]",
        ),
        (
            tampered("env.json", "env", json!({"X=1; cat /etc/shadow; Y": "1"})),
            "build.env",
        ),
        (
            tampered("preload.json", "env", json!({"LD_PRELOAD": "/tmp/x.so"})),
            "build.env",
        ),
        (
            tampered("path.json", "control_path", json!("/../../../../../tmp/escape")),
            "build.control_path",
        ),
    ];
    let mut cases = cases;
    for (file, field) in hostile {
        cases.push((vec![file, "--source".into(), proj.clone()], field));
    }
    // The recorded folder is a symlink in the commit (to a host folder), or leaves the repository.
    let host = d.path().join("hostsecret");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("secret.txt"), "TOP-SECRET").unwrap();
    std::os::unix::fs::symlink(&host, repo.join("hostlink")).unwrap();
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .arg("-C")
            .arg(&repo)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
            .args(args)
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["add", "hostlink"]);
    git(&["commit", "-qm", "a link to a host folder"]);
    for (folder, expect) in [("hostlink", "is a symlink in commit"), ("proj/../..", "`..`")] {
        let mut v = recorded_statement(&commit_of(&repo));
        v["predicate"]["buildDefinition"]["externalParameters"]["source"]["path"] = json!(folder);
        let file = write(&format!("folder-{}.json", cases.len()), &v);
        cases.push((vec![file, "--source".into(), proj.clone()], expect));
    }
    for (args, expect) in cases {
        let mut all = vec!["rebuild".to_string()];
        all.extend(args);
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let (code, stdout, err) = run(&all);
        assert_eq!(code, 2, "{all:?}: {stdout}{err}");
        assert!(err.contains(expect), "{all:?}: expected `{expect}` in:\n{err}");
    }

    // Local changes in the project's folder: `repro build` refuses them unless --allow-dirty.
    std::fs::write(repo.join("proj/extra.txt"), "x").unwrap();
    let (code, _, err) = run(&["build", &proj, "--key", &key]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("uncommitted changes"), "{err}");

    // No git at all.
    let plain = d.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    let (code, _, err) = run(&["build", &path(&plain), "--key", &key]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not in a git work tree"), "{err}");

    // A provenance signed by someone else.
    let (other_key, _) = keygen(d.path(), "other", &[]);
    let signed = d.path().join("signed.json");
    let out = repro()
        .args(["rebuild", "-", "--source", &proj])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let envelope = repro::attest::sign_statement(
        &std::fs::read(d.path().join("good.json")).unwrap(),
        &repro::attest::PrivateKey::from_file(Path::new(&other_key)).unwrap(),
    )
    .unwrap();
    std::fs::write(&signed, envelope.to_json()).unwrap();
    std::fs::remove_file(repo.join("proj/extra.txt")).unwrap();
    let (code, _, err) = run(&[
        "rebuild",
        &path(&signed),
        "--source",
        &proj,
        "--provenance-key",
        &public,
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("does not verify"), "{err}");
}
