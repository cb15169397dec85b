//! Real projects as their registries publish them, through the real engine and the dependency
//! phase: two crates from crates.io and two sdists from PyPI (a flit_core one and a hatchling
//! one), each with its expected verdict. The downloads are made by `scripts/real-projects.sh
//! --fetch` and cached under `~/.cache/repro/real-projects/<kind>-<name>-<version>/` (a git
//! repository, one commit at a fixed time); the fetched dependencies stay in repro's store, so a
//! rerun downloads nothing.

use crate::common;

use std::path::PathBuf;
use std::process::Command;

use common::run;
use serde_json::Value;

/// The project's folder, downloaded on first use.
fn real_project(kind: &str, name: &str, version: &str) -> PathBuf {
    let script = common::repo_root().join("scripts/real-projects.sh");
    let out = Command::new(&script)
        .args(["--fetch", kind, name, version])
        .output()
        .expect("running scripts/real-projects.sh");
    assert!(
        out.status.success(),
        "downloading {kind} {name} {version}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// `repro check` on the project (no culprit isolation: the verdict is what is tested), its exit
/// code matching the verdict, and the report. Every dependency is recorded with a purl of the
/// ecosystem and a sha256; `needs` (a purl prefix) is among them.
fn check(kind: &str, name: &str, version: &str, verdict: &str, needs: &str) -> Value {
    let dir = real_project(kind, name, version);
    let (code, stdout, err) = run(&["check", &dir.display().to_string(), "--no-isolate", "--json", "-"]);
    let expected_code = if verdict == "reproducible" { 0 } else { 1 };
    assert_eq!(code, expected_code, "{name} {version}: {err}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    common::assert_valid("check-report.v2.json", &report);
    assert_eq!(report["verdict"], verdict, "{name} {version}: {err}");
    let deps = report["dependencies"].as_array().unwrap();
    let purl = if kind == "crate" {
        "pkg:cargo/"
    } else {
        "pkg:pypi/"
    };
    for dep in deps {
        let uri = dep["uri"].as_str().unwrap_or_default();
        let sha = dep["digest"]["sha256"].as_str().unwrap_or_default();
        assert!(uri.starts_with(purl), "{dep}");
        assert!(
            sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
            "{dep}"
        );
    }
    assert!(
        deps.iter()
            .any(|d| d["uri"].as_str().is_some_and(|u| u.starts_with(needs))),
        "{name} {version}: no {needs} in {deps:?}"
    );
    for run in report["runs"].as_array().unwrap() {
        assert_eq!(run["spec"]["network"], false, "{name}: {run}");
    }
    report
}

#[test]
fn itoa_as_published_is_reproducible_with_its_resolved_lockfile() {
    if common::skip_engine_test() {
        return;
    }
    let report = check("crate", "itoa", "1.0.11", "reproducible", "pkg:cargo/");
    // The .crate ships no Cargo.lock: the fetch resolved one, and the report carries it.
    let cargo = &report["dependency_phase"]["ecosystems"][0];
    let lock = cargo["generated_lockfile"]["content"]
        .as_str()
        .unwrap_or_default();
    assert!(lock.contains("[[package]]"), "{cargo}");
}

#[test]
fn semver_as_published_is_reproducible() {
    if common::skip_engine_test() {
        return;
    }
    check("crate", "semver", "1.0.23", "reproducible", "pkg:cargo/serde@");
}

#[test]
fn a_flit_core_sdist_is_built_isolated_from_the_fetched_backend() {
    if common::skip_engine_test() {
        return;
    }
    check("pypi", "idna", "3.7", "reproducible", "pkg:pypi/flit-core@");
}

#[test]
fn a_hatchling_sdist_is_built_isolated_from_the_fetched_backend() {
    if common::skip_engine_test() {
        return;
    }
    check(
        "pypi",
        "iniconfig",
        "2.0.0",
        "reproducible",
        "pkg:pypi/hatchling@",
    );
}
