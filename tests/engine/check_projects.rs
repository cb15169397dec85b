//! `repro check` on every test-project through the real Docker backend: the verdict must be
//! the one its `expected.toml` gives. (Culprits and cause codes are asserted once diagnosis
//! lands.)

use crate::common;

use std::path::Path;

#[derive(serde::Deserialize)]
struct Expected {
    verdict: String,
    culprits: Vec<String>,
    #[serde(default)]
    culprit_sets: Option<Vec<Vec<String>>>,
    codes: Vec<String>,
}

fn check(project: &str) {
    let dir = common::repo_root().join("test-projects").join(project);
    let expected: Expected =
        toml::from_str(&std::fs::read_to_string(dir.join("expected.toml")).expect("expected.toml"))
            .expect("valid");
    let (code, out, err) = common::run(&["check", "--json", "-", &dir.display().to_string()]);
    assert!(code == 0 || code == 1, "{project}: exit {code}\n{err}");
    let report: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{project}: {e}\n{out}"));
    common::assert_valid("check-report.v2.json", &report);
    assert_eq!(report["verdict"], expected.verdict, "{project}: {out}");
    assert_eq!(code, if expected.verdict == "reproducible" { 0 } else { 1 });
    let runs = report["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 2);
    assert!(
        runs[1]["spec"]["variations"]
            .as_array()
            .is_some_and(|v| v.len() == 12)
    );
    let artifacts = report["artifacts"].as_array().expect("artifacts");
    assert!(!artifacts.is_empty(), "{project}: no outputs");
    // Culprits from isolation; cause codes from the evidence and from isolation.
    let mut culprits: Vec<String> = report["culprits"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    culprits.sort();
    let mut want = expected.culprits.clone();
    want.sort();
    assert_eq!(culprits, want, "{project}: culprits");
    if let Some(sets) = &expected.culprit_sets {
        let found: Vec<Vec<String>> = artifacts
            .iter()
            .flat_map(|a| a["culprit_sets"].as_array().cloned().unwrap_or_default())
            .map(|s| {
                let mut v: Vec<String> = s
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect();
                v.sort();
                v
            })
            .collect();
        for set in sets {
            let mut set = set.clone();
            set.sort();
            assert!(
                found.contains(&set),
                "{project}: culprit set {set:?} not in {found:?}"
            );
        }
    }
    let codes: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    for code in &expected.codes {
        assert!(
            codes.contains(&code.as_str()),
            "{project}: expected code {code}, found {codes:?}"
        );
    }
    if expected.verdict == "reproducible" {
        assert!(
            codes.is_empty(),
            "{project}: a reproducible project has no finding: {codes:?}"
        );
    } else {
        assert!(
            codes.iter().all(|c| expected.codes.iter().any(|e| e == c)),
            "{project}: stray codes {codes:?}"
        );
    }
    if expected.verdict == "not-reproducible" {
        let differing: Vec<&serde_json::Value> =
            artifacts.iter().filter(|a| a["reproducible"] == false).collect();
        assert!(!differing.is_empty(), "{project}");
        for a in differing {
            let d = &a["differences"][0];
            assert!(
                d["tree"].is_object(),
                "{project}: a differing artifact has its difference tree: {a}"
            );
        }
    }
}

macro_rules! projects {
    ($($test:ident => $dir:literal,)*) => {
        $(
            #[test]
            fn $test() {
                if common::skip_engine_test() {
                    return;
                }
                check($dir);
            }
        )*

        #[test]
        fn every_project_has_a_test() {
            let listed = [$($dir),*];
            let root = common::repo_root().join("test-projects");
            for entry in std::fs::read_dir(&root).unwrap() {
                let entry = entry.unwrap();
                if Path::new(&entry.path()).join("expected.toml").exists() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    assert!(listed.contains(&name.as_str()), "test-projects/{name} has no test");
                }
            }
        }
    };
}

projects! {
    c_make_ok => "c-make-ok",
    rust_cargo_ok => "rust-cargo-ok",
    go_ok => "go-ok",
    python_wheel_ok => "python-wheel-ok",
    shell_tar_ok => "shell-tar-ok",
    embedded_date => "embedded-date",
    archive_mtime => "archive-mtime",
    c_build_path => "c-build-path",
    file_order => "file-order",
    hostname => "hostname",
    user => "user",
    umask => "umask",
    locale => "locale",
    timezone => "timezone",
    num_cpus => "num-cpus",
    random => "random",
    locale_and_timezone => "locale-and-timezone",
    cpus_and_umask => "cpus-and-umask",
}
