//! `repro diff` through the real binary: exit codes, report formats, the schema, errors.

use crate::common;

use common::{assert_valid, run, sh};

fn fixture() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    sh(
        d.path(),
        "mkdir -p a/sub b/sub
         printf 'one\\ntwo\\nthree\\n' > a/t.txt; printf 'one\\nTWO\\nthree\\n' > b/t.txt
         head -c 3000 /dev/zero > a/z.bin; head -c 3001 /dev/zero > b/z.bin
         echo same > a/sub/s; echo same > b/sub/s
         echo gone > a/only-a; echo new > b/only-b
         ln -s t.txt a/link; ln -s other b/link
         ln -s loop a/loop; ln -s loop b/loop
         mkfifo a/fifo b/fifo",
    );
    d
}

#[test]
fn identical_files_exit_0_and_different_exit_1() {
    let d = fixture();
    let p = |s: &str| d.path().join(s).display().to_string();
    let (code, out, _) = run(&["diff", &p("a/t.txt"), &p("a/t.txt")]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("identical"), "{out}");
    let (code, out, _) = run(&["diff", &p("a/t.txt"), &p("b/t.txt")]);
    assert_eq!(code, 1);
    assert!(out.contains("-two") && out.contains("+TWO"), "{out}");
}

#[test]
fn directories_report_every_kind_of_difference() {
    let d = fixture();
    let p = |s: &str| d.path().join(s).display().to_string();
    let (code, out, err) = run(&["diff", "--json", "-", &p("a"), &p("b")]);
    assert_eq!(code, 1, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("stdout is only JSON");
    assert_valid("diff-report.v1.json", &v);
    assert_eq!(v["verdict"], "different");
    let mut names = Vec::new();
    common::node_names(&v["root"], &mut names);
    for expected in ["t.txt", "z.bin", "only-a", "only-b", "link"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
    for unexpected in ["sub/s", "loop", "fifo"] {
        assert!(
            !names.iter().any(|n| n == unexpected),
            "{unexpected} should be identical: {names:?}"
        );
    }
    assert!(v["summary"]["identical_members"].as_u64().unwrap() >= 3);
}

#[test]
fn json_and_markdown_files_alongside_text() {
    let d = fixture();
    let p = |s: &str| d.path().join(s).display().to_string();
    let (code, out, _) = run(&[
        "diff",
        "--json",
        &p("r.json"),
        "--markdown",
        &p("r.md"),
        &p("a"),
        &p("b"),
    ]);
    assert_eq!(code, 1);
    assert!(out.starts_with("--- "), "text report on stdout: {out}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p("r.json")).unwrap()).unwrap();
    assert_valid("diff-report.v1.json", &v);
    assert!(
        v["inputs"]["a"].get("sha256").is_none(),
        "directories have no digest"
    );
    let md = std::fs::read_to_string(p("r.md")).unwrap();
    assert!(md.starts_with("## repro diff: ❌ different"), "{md}");
    assert!(md.contains("`t.txt`") || md.contains("t.txt"), "{md}");
}

#[test]
fn identical_inputs_carry_their_digest_in_json() {
    let d = fixture();
    let p = |s: &str| d.path().join(s).display().to_string();
    let (code, out, _) = run(&["diff", "--json", "-", &p("a/t.txt"), &p("a/t.txt")]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_valid("diff-report.v1.json", &v);
    assert_eq!(v["root"], serde_json::Value::Null);
    let digest = v["inputs"]["a"]["sha256"].as_str().unwrap();
    assert_eq!(digest.len(), 64);
    assert_eq!(v["inputs"]["b"]["sha256"].as_str().unwrap(), digest);
}

#[test]
fn exclude_leaves_paths_out_and_lists_them() {
    let d = fixture();
    let p = |s: &str| d.path().join(s).display().to_string();
    let (code, out, _) = run(&[
        "diff",
        "--json",
        "-",
        "--exclude",
        "*.bin",
        "--exclude",
        "only-*",
        "--exclude",
        "link",
        &p("a"),
        &p("b"),
    ]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut names = Vec::new();
    common::node_names(&v["root"], &mut names);
    assert!(names.contains(&"t.txt".to_string()));
    assert!(
        !names
            .iter()
            .any(|n| n.ends_with(".bin") || n.starts_with("only-") || n == "link"),
        "{names:?}"
    );
    let excluded: Vec<&str> = v["excluded"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e.as_str())
        .collect();
    assert_eq!(excluded.len(), 4, "{excluded:?}");
    // Excluding everything that differs makes the inputs compare identical.
    let (code, _, _) = run(&["diff", "--exclude", "*", &p("a"), &p("b")]);
    assert_eq!(code, 0);
}

#[test]
fn errors_exit_2_with_a_hint() {
    let d = fixture();
    let p = |s: &str| d.path().join(s).display().to_string();
    let (code, out, err) = run(&["diff", &p("a/t.txt"), &p("missing")]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(
        err.contains("error: cannot read") && err.contains("missing") && err.contains("hint:"),
        "{err}"
    );
    let (code, _, err) = run(&["diff", "--exclude", "a[", &p("a"), &p("b")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--exclude"), "{err}");
    let (code, _, _) = run(&["diff", &p("a/t.txt")]);
    assert_eq!(code, 2);
}

#[test]
fn file_against_directory_is_a_difference() {
    let d = fixture();
    let p = |s: &str| d.path().join(s).display().to_string();
    let (code, out, _) = run(&["diff", &p("a/t.txt"), &p("b")]);
    assert_eq!(code, 1);
    assert!(out.contains("format: text → directory"), "{out}");
}

#[test]
fn help_lists_the_commands() {
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("diff"), "{out}");
    let (code, out, _) = run(&["diff", "--help"]);
    assert_eq!(code, 0);
    for flag in [
        "--json",
        "--markdown",
        "--html",
        "--exclude",
        "--max-depth",
        "--time-budget",
    ] {
        assert!(out.contains(flag), "{flag} missing from help");
    }
}
