//! `repro build` and `repro rebuild` build the recorded commit, whatever the work tree holds:
//! hidden changes are found, `--allow-dirty` is recorded and refused by rebuilds, the remote is
//! recorded without its credentials, and a provenance's requests (memory 0) are clamped and
//! recorded in the signed attestation.

use crate::common;

use std::path::Path;

use base64::Engine as _;
use common::run;
use serde_json::{Value, json};

fn payload(envelope: &Path) -> Value {
    let env: Value = serde_json::from_slice(&std::fs::read(envelope).unwrap()).unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(env["payload"].as_str().unwrap())
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn builds_and_rebuilds_take_the_commit_and_record_what_they_did() {
    if common::skip_engine_test() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let repo = d.path().join("repo");
    std::fs::create_dir_all(repo.join("proj")).unwrap();
    std::fs::write(
        repo.join("proj/repro.toml"),
        "[build]\ncommand = [\"sh\", \"-c\", \"mkdir -p out && cat data.txt > out/data.txt\"]\n\
         outputs = [\"out/**\"]\nmemory = \"1G\"\ntimeout = \"5m\"\n",
    )
    .unwrap();
    std::fs::write(repo.join("proj/data.txt"), "committed\n").unwrap();
    let sh = |script: &str| common::sh(&repo, script);
    sh(
        "git init -q -b main . && git remote add origin 'https://ci:s3cret-token@example.org/o/r.git?private_token=s3cret-q' \
        && git add -A && git -c user.name=t -c user.email=t@example.org commit -qm one",
    );
    let proj = repo.join("proj").display().to_string();
    let file = |name: &str| d.path().join(name).display().to_string();
    let prefix = file("k");
    assert_eq!(run(&["keygen", "--out", &prefix]).0, 0);
    let key = format!("{prefix}.key.pem");

    // A change git status does not show is found, and refused.
    sh("git update-index --skip-worktree proj/data.txt && echo TAMPERED > proj/data.txt");
    let status = std::process::Command::new("git")
        .arg("-C")
        .arg(&repo)
        .args(["status", "--porcelain"])
        .output()
        .unwrap();
    assert!(
        status.stdout.is_empty(),
        "git status sees the change: the test proves nothing"
    );
    let (code, _, err) = run(&["build", &proj, "--key", &key, "-o", &file("p.json")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("data.txt") && err.contains("skip-worktree"), "{err}");

    // --allow-dirty builds the working tree and says so in the provenance; rebuilds refuse it.
    let dirty = file("dirty.json");
    let out_dir = file("dirty-out");
    let (code, _, err) = run(&[
        "build",
        &proj,
        "--key",
        &key,
        "--allow-dirty",
        "-o",
        &dirty,
        "--out-dir",
        &out_dir,
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::read_to_string(Path::new(&out_dir).join("out/data.txt")).unwrap(),
        "TAMPERED\n"
    );
    let statement = payload(Path::new(&dirty));
    let changes = &statement["predicate"]["buildDefinition"]["externalParameters"]["uncommittedChanges"];
    assert!(changes.to_string().contains("S proj/data.txt"), "{changes}");
    let (code, _, err) = run(&["rebuild", &dirty, "--source", &proj]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("uncommittedChanges") && err.contains("--allow-uncommitted"),
        "{err}"
    );

    // A clean build records the commit, and the remote without its credentials.
    sh("git update-index --no-skip-worktree proj/data.txt && git checkout -q proj/data.txt");
    let prov = file("prov.json");
    let (code, _, err) = run(&["build", &proj, "--key", &key, "-o", &prov]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&prov).unwrap();
    let statement = payload(Path::new(&prov));
    assert!(!text.contains("s3cret") && !statement.to_string().contains("s3cret"));
    assert_eq!(
        statement["predicate"]["buildDefinition"]["externalParameters"]["source"]["uri"],
        "git+https://example.org/o/r.git@refs/heads/main"
    );

    // The rebuild reads the commit's objects: a changed work tree does not matter. The
    // provenance asks for no memory limit at all; the rebuilder's limit is granted and signed.
    sh("echo TAMPERED > proj/data.txt && echo x > proj/untracked");
    let mut asked = statement.clone();
    asked["predicate"]["buildDefinition"]["externalParameters"]["build"]["memory_bytes"] = json!(0);
    let asked_file = file("asked.json");
    std::fs::write(&asked_file, serde_json::to_vec(&asked).unwrap()).unwrap();
    let att = file("att.json");
    let (code, stdout, err) = run(&[
        "rebuild",
        &asked_file,
        "--source",
        &proj,
        "--memory",
        "2G",
        "--key",
        &key,
        "-o",
        &att,
    ]);
    assert_eq!(code, 0, "{stdout}{err}");
    let predicate = &payload(Path::new(&att))["predicate"];
    assert_eq!(predicate["verdict"], "PASSED");
    assert_eq!(predicate["granted"]["memoryBytes"], 2u64 << 30);
    assert_eq!(predicate["granted"]["requestedMemoryBytes"], 0);
    assert_eq!(predicate["granted"]["network"], false);
    assert_eq!(predicate["backend"]["isolated"], true);

    // Network is refused unless granted, and a granted one is not signed without saying so.
    let mut networked = statement;
    networked["predicate"]["buildDefinition"]["externalParameters"]["build"]["network"] = json!(true);
    let net_file = file("net.json");
    std::fs::write(&net_file, serde_json::to_vec(&networked).unwrap()).unwrap();
    let (code, _, err) = run(&["rebuild", &net_file, "--source", &proj]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("externalParameters.build.network") && err.contains("--network"),
        "{err}"
    );
    let (code, _, err) = run(&[
        "rebuild",
        &net_file,
        "--source",
        &proj,
        "--network",
        "--key",
        &key,
        "-o",
        &att,
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--allow-non-hermetic"), "{err}");
}
