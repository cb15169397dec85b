//! `repro check` of a checkout that differs from its commit: the differences are data in the
//! JSON report (`source.uncommitted`, schema check-report.v2) and a line in the text report.
//! The local backend needs no engine.

use crate::common::{assert_valid, run, sh};

#[test]
fn check_reports_how_the_working_tree_differs_from_its_commit() {
    let d = tempfile::tempdir().unwrap();
    let p = &d.path().join("proj");
    std::fs::create_dir(p).unwrap();
    sh(
        p,
        "git init -q -b main . && printf '[build]\\ncommand = [\"sh\", \"build.sh\"]\\noutputs = [\"out/**\"]\\n' > repro.toml \
         && echo 'mkdir -p out; cat data > out/data' > build.sh && echo one > data && echo keep > flagged \
         && git add -A && git -c user.name=t -c user.email=t@e commit -qm one \
         && echo two > data && printf x > \"$(printf 'new\\377')\" \
         && git update-index --skip-worktree flagged && echo evil > flagged",
    );
    let json = d.path().join("r.json");
    let (code, out, err) = run(&[
        "check",
        "--local",
        "--no-isolate",
        "--color",
        "never",
        "--json",
        &json.display().to_string(),
        &p.display().to_string(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_valid("check-report.v2.json", &report);
    let source = &report["source"];
    assert_eq!(source["commit"].as_str().unwrap().len(), 40, "{source}");
    let mut got: Vec<(String, String)> = source["uncommitted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["path"].as_str().unwrap().into(),
                c["change"].as_str().unwrap().into(),
            )
        })
        .collect();
    got.sort();
    let want = [
        ("data", "modified"),
        ("flagged", "hidden-skip-worktree"),
        ("new\\xff", "untracked"),
    ];
    assert_eq!(got, want.map(|(a, b)| (a.to_string(), b.to_string())), "{source}");
    assert!(
        out.contains("source: the builds got the working tree as it is: 3 file(s) differ from commit"),
        "{out}"
    );
    assert!(out.contains("untracked               new\\xff"), "{out}");

    // A clean checkout: the field says so with an empty list, and the text says nothing.
    sh(
        p,
        "git update-index --no-skip-worktree flagged && git checkout -q -- . && git clean -qfdx",
    );
    let (code, out, err) = run(&[
        "check",
        "--local",
        "--no-isolate",
        "--json",
        "-",
        &p.display().to_string(),
    ]);
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["source"]["uncommitted"], serde_json::json!([]), "{out}");
}
