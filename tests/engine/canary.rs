//! The signing key stays out of the build. `repro build --key K` runs a build that scans its
//! whole container (every file, every line, every process's environment and command line) for
//! the key, knowing it only by sha256 digests, so this test cannot plant it; while the build
//! runs, the test inspects the container's mounts and environment through the engine. A
//! positive control plants a decoy key (file and environment) and the scanner must find it.

use crate::common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::run;
use sha2::Digest as _;

/// A git repository with the scanner in `proj/`, and `canary.sha256` holding the digests of
/// `canary` (the file, and each of its PEM body lines). `extra` files are added before commit.
fn scanner_repo(dir: &Path, canary: &Path, extra: &[(&str, String)]) -> PathBuf {
    let repo = dir.join("repo");
    let proj = repo.join("proj");
    std::fs::create_dir_all(&proj).unwrap();
    let fixture = common::repo_root().join("tests/fixtures/canary-scanner");
    for f in ["build.sh", "scan.py"] {
        std::fs::copy(fixture.join(f), proj.join(f)).unwrap();
    }
    std::fs::write(proj.join("canary.sha256"), digests(canary).join("\n")).unwrap();
    for (name, text) in extra {
        std::fs::write(proj.join(name), text).unwrap();
    }
    common::sh(
        &repo,
        "git init -q -b main . && git add -A && GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.org \
         GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.org git commit -qm scanner",
    );
    repo
}

/// The PEM body lines (the header and footer are the same for every key).
fn body_lines(pem: &Path) -> Vec<String> {
    std::fs::read_to_string(pem)
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .map(str::to_string)
        .collect()
}

fn digests(pem: &Path) -> Vec<String> {
    let mut out = vec![hex::encode(sha2::Sha256::digest(std::fs::read(pem).unwrap()))];
    out.extend(
        body_lines(pem)
            .iter()
            .map(|l| hex::encode(sha2::Sha256::digest(l.as_bytes()))),
    );
    out
}

fn keygen(dir: &Path, name: &str) -> PathBuf {
    let prefix = dir.join(name);
    let (code, _, err) = run(&["keygen", "--out", &prefix.display().to_string()]);
    assert_eq!(code, 0, "{err}");
    dir.join(format!("{name}.key.pem"))
}

/// Every repro build container seen while `done` is false: its full inspection, as JSON.
/// The build containers of the repro with process id `pid` (other tests' builds run beside it).
async fn watch_containers(done: Arc<AtomicBool>, pid: u32) -> Vec<serde_json::Value> {
    use bollard::query_parameters::ListContainersOptions;
    let docker = repro::runner::docker::connect().await.expect("the engine");
    let mut seen: HashMap<String, serde_json::Value> = HashMap::new();
    while !done.load(Ordering::SeqCst) {
        let filters = HashMap::from([(
            "label".to_string(),
            vec![
                "dev.repro.managed".to_string(),
                format!("{}={pid}", repro::runner::docker::LABEL_PID),
            ],
        )]);
        let list = docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(filters),
                ..Default::default()
            }))
            .await
            .unwrap_or_default();
        for c in list {
            let Some(id) = c.id else { continue };
            if seen.contains_key(&id) {
                continue;
            }
            if let Ok(inspect) = docker.inspect_container(&id, None).await {
                seen.insert(id, serde_json::to_value(&inspect).unwrap());
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    seen.into_values().collect()
}

#[test]
fn the_signing_key_never_enters_the_build_container() {
    if common::skip_engine_test() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let key = keygen(d.path(), "canary");
    let repo = scanner_repo(d.path(), &key, &[]);
    let built = d.path().join("built");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let child = common::repro()
        .args(["build", &repo.join("proj").display().to_string(), "--key"])
        .arg(&key)
        .arg("-o")
        .arg(d.path().join("prov.json"))
        .arg("--out-dir")
        .arg(&built)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let watcher = runtime.spawn(watch_containers(done.clone(), child.id()));
    let out = child.wait_with_output().unwrap();
    done.store(true, Ordering::SeqCst);
    let inspected = runtime.block_on(watcher).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "the build failed:\n{stderr}");

    // The scanner ran over the whole container and found nothing.
    let summary = std::fs::read_to_string(built.join("out/scan.txt")).unwrap();
    let count = |what: &str| -> u64 {
        summary
            .lines()
            .find_map(|l| l.strip_prefix(what)?.trim().parse().ok())
            .unwrap_or(0)
    };
    assert!(count("files ") > 5_000, "the scan saw too little:\n{summary}");
    assert!(
        count("env-entries ") > 5,
        "the scan saw no environment:\n{summary}"
    );
    assert_eq!(count("hits "), 0, "the key is in the build container:\n{summary}");

    // The engine's view: the container, its mounts and environment hold no trace of the key.
    assert!(
        !inspected.is_empty(),
        "no build container was seen while the build ran"
    );
    let key_path = std::fs::canonicalize(&key).unwrap().display().to_string();
    for c in &inspected {
        let text = c.to_string();
        assert!(
            !text.contains(&key_path),
            "the key's path is in the container: {text}"
        );
        assert!(
            !text.contains("canary.key.pem"),
            "the key's name is in the container: {text}"
        );
        for line in body_lines(&key) {
            assert!(!text.contains(&line), "a line of the key is in the container");
        }
        let mounts = c["Mounts"].as_array().cloned().unwrap_or_default();
        assert!(
            mounts
                .iter()
                .all(|m| m["Type"] != "bind" && m["Type"] != "volume"),
            "the build container has host mounts: {mounts:?}"
        );
        let binds = &c["HostConfig"]["Binds"];
        assert!(
            binds.is_null() || binds.as_array().is_some_and(Vec::is_empty),
            "binds: {binds}"
        );
        let env = c["Config"]["Env"].as_array().cloned().unwrap_or_default();
        assert!(!env.is_empty(), "the inspection has no environment: {c}");
    }
    // And the provenance it signed verifies with the canary's public key.
    let public = d.path().join("canary.pub.pem");
    let (code, stdout, _) = run(&[
        "verify",
        &d.path().join("prov.json").display().to_string(),
        "--key",
        &public.display().to_string(),
        "--artifact",
        &built.join("out/scan.txt").display().to_string(),
        "--expect",
        "predicateType=https://slsa.dev/provenance/v1",
    ]);
    assert_eq!(code, 0, "{stdout}");
}

#[test]
fn the_scanner_finds_a_key_planted_in_the_source_and_the_environment() {
    if common::skip_engine_test() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let decoy = keygen(d.path(), "decoy");
    let signer = keygen(d.path(), "signer");
    let line = body_lines(&decoy)[1].clone();
    let toml = format!(
        "[build]\ncommand = [\"sh\", \"build.sh\"]\nimage = \"default\"\nenv = {{ DECOY = \"{line}\" }}\n"
    );
    let repo = scanner_repo(
        d.path(),
        &decoy,
        &[
            ("decoy.pem", std::fs::read_to_string(&decoy).unwrap()),
            ("repro.toml", toml),
        ],
    );
    let (code, _, err) = run(&[
        "build",
        &repo.join("proj").display().to_string(),
        "--key",
        &signer.display().to_string(),
    ]);
    assert_eq!(code, 2, "the planted key was not found:\n{err}");
    assert!(err.contains("FOUND the canary in /build/a/decoy.pem"), "{err}");
    assert!(
        err.contains("/environ"),
        "the planted variable was not found:\n{err}"
    );
}
