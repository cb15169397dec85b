//! The dependency phase end to end: a crate with a crates.io dependency and no Cargo.lock is
//! fetched once (the lockfile resolved and recorded), built offline, found in the store by a
//! second check, recorded by `repro build`, and a rebuild from provenance whose digest was
//! changed is refused, naming the dependency.

use crate::common;

use std::path::Path;

use base64::Engine as _;
use common::run;
use serde_json::Value;

const ITOA_SHA256: &str = "49f1f14873335454500d59611f1cf4a4b0f786f9ac11f4312a78e4cf2566695b";

/// A git repository with a one-dependency binary crate in `proj/`, without a Cargo.lock.
fn crate_repository(dir: &Path) -> std::path::PathBuf {
    let proj = dir.join("repo/proj");
    std::fs::create_dir_all(proj.join("src")).unwrap();
    std::fs::write(
        proj.join("Cargo.toml"),
        "[package]\nname = \"dep-user\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [dependencies]\nitoa = \"=1.0.11\"\n",
    )
    .unwrap();
    std::fs::write(
        proj.join("src/main.rs"),
        "fn main() {\n    println!(\"{}\", itoa::Buffer::new().format(42));\n}\n",
    )
    .unwrap();
    common::sh(
        &dir.join("repo"),
        "git init -q -b main . && git add -A && GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.org \
         GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.org GIT_AUTHOR_DATE=@1700000000 \
         GIT_COMMITTER_DATE=@1700000000 git commit -qm import",
    );
    proj
}

fn json_check(proj: &Path, store: &Path) -> Value {
    let (code, stdout, err) = run(&[
        "check",
        &proj.display().to_string(),
        "--no-isolate",
        "--vary",
        "build-path,time",
        "--deps-store",
        &store.display().to_string(),
        "--json",
        "-",
    ]);
    assert_eq!(code, 0, "{stdout}{err}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    common::assert_valid("check-report.v2.json", &report);
    report
}

#[test]
fn a_crate_is_fetched_once_built_offline_recorded_and_a_changed_digest_is_refused() {
    if common::skip_engine_test() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let proj = crate_repository(d.path());
    let store = d.path().join("store");

    let first = json_check(&proj, &store);
    let deps = first["dependencies"].as_array().unwrap();
    let itoa = deps
        .iter()
        .find(|d| d["uri"] == "pkg:cargo/itoa@1.0.11")
        .unwrap_or_else(|| panic!("{deps:?}"));
    assert_eq!(itoa["digest"]["sha256"], ITOA_SHA256);
    let cargo = &first["dependency_phase"]["ecosystems"][0];
    assert_eq!(cargo["source"], "fetched", "{cargo}");
    let lock = cargo["generated_lockfile"]["content"].as_str().unwrap();
    assert!(
        lock.contains("name = \"itoa\"") && lock.contains(ITOA_SHA256),
        "{lock}"
    );
    // Every run got the entry read-only and ran with the network off.
    for run in first["runs"].as_array().unwrap() {
        assert_eq!(run["spec"]["network"], false);
        let command: Vec<&str> = run["spec"]["command"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            command.contains(&"--offline") && command.contains(&"--locked"),
            "{command:?}"
        );
    }

    // A second check finds the entry: nothing is fetched.
    let second = json_check(&proj, &store);
    let cargo = &second["dependency_phase"]["ecosystems"][0];
    assert_eq!(cargo["source"], "store", "{cargo}");
    assert_eq!(second["dependencies"], first["dependencies"]);

    // repro build records them, and the generated lockfile.
    let key_prefix = d.path().join("k").display().to_string();
    let (code, _, err) = run(&["keygen", "--out", &key_prefix]);
    assert_eq!(code, 0, "{err}");
    let prov = d.path().join("prov.json");
    let (code, stdout, err) = run(&[
        "build",
        &proj.display().to_string(),
        "--key",
        &format!("{key_prefix}.key.pem"),
        "-o",
        &prov.display().to_string(),
        "--deps-store",
        &store.display().to_string(),
    ]);
    assert_eq!(code, 0, "{stdout}{err}");
    let envelope: Value = serde_json::from_slice(&std::fs::read(&prov).unwrap()).unwrap();
    let payload = base64::engine::general_purpose::STANDARD
        .decode(envelope["payload"].as_str().unwrap())
        .unwrap();
    let statement: Value = serde_json::from_slice(&payload).unwrap();
    let definition = &statement["predicate"]["buildDefinition"];
    let resolved = definition["resolvedDependencies"].as_array().unwrap();
    assert!(
        resolved.iter().any(|r| r["uri"] == "pkg:cargo/itoa@1.0.11"
            && r["name"] == "itoa"
            && r["digest"]["sha256"] == ITOA_SHA256),
        "{resolved:?}"
    );
    assert_eq!(
        definition["externalParameters"]["generatedLockfiles"][0]["content"],
        lock
    );

    // A rebuild fetches exactly what was recorded (with the recorded lockfile) and matches.
    let rebuild = |provenance: &Path| {
        run(&[
            "rebuild",
            &provenance.display().to_string(),
            "--source",
            &proj.display().to_string(),
            "--deps-store",
            &store.display().to_string(),
            "--isolate-budget",
            "0",
            "--json",
            "-",
        ])
    };
    let (code, stdout, err) = rebuild(&prov);
    assert_eq!(code, 0, "{stdout}{err}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    common::assert_valid("rebuild-report.v2.json", &report);
    assert_eq!(report["recorded"]["generated_lockfile"], lock);
    assert_eq!(report["check"]["dependencies"], first["dependencies"]);

    // A rebuild from provenance whose digest was changed fetches, compares and refuses.
    let changed = "0".repeat(64);
    let tampered = payload_with(&statement, ITOA_SHA256, &changed);
    let tampered_path = d.path().join("tampered.json");
    std::fs::write(&tampered_path, tampered).unwrap();
    let (code, stdout, err) = rebuild(&tampered_path);
    assert_eq!(code, 2, "{stdout}{err}");
    assert!(
        err.contains("itoa@1.0.11") && err.contains(&changed) && err.contains(ITOA_SHA256),
        "{err}"
    );
}

/// The statement as JSON with one resolved dependency's digest replaced (a bare statement:
/// rebuild reads it unsigned unless --provenance-key is given).
fn payload_with(statement: &Value, from: &str, to: &str) -> String {
    let mut statement = statement.clone();
    let resolved = statement["predicate"]["buildDefinition"]["resolvedDependencies"]
        .as_array_mut()
        .unwrap();
    for entry in resolved {
        if entry["digest"]["sha256"] == from {
            entry["digest"]["sha256"] = Value::from(to);
        }
    }
    statement.to_string()
}
