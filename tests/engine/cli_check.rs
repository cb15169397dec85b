//! `repro check` through the binary: every error gives a clear message and exit 2; a build
//! failing only under variation is a finding (exit 1); Ctrl-C leaves no container behind.

use crate::common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn project(script: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("build.sh"), script).unwrap();
    d
}

fn check(dir: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["check", "--color", "never"];
    args.extend_from_slice(extra);
    let d = dir.display().to_string();
    args.push(&d);
    common::run(&args)
}

#[test]
fn an_unpinned_image_is_refused() {
    let d = project("mkdir -p out; echo x > out/x\n");
    let (code, _, err) = check(d.path(), &["--image", "debian:trixie"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("tag only") && err.contains("--allow-unpinned"),
        "{err}"
    );
}

#[test]
fn a_missing_engine_names_docker_host() {
    let d = project("mkdir -p out; echo x > out/x\n");
    let out = common::repro()
        .args(["check", &d.path().display().to_string()])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cannot reach the Docker engine") && err.contains("/nonexistent/docker.sock"),
        "{err}"
    );
    assert!(err.contains("hint:") && err.contains("DOCKER_HOST"), "{err}");
}

#[test]
fn a_failing_control_build_is_an_error_with_its_log() {
    if common::skip_engine_test() {
        return;
    }
    let d = project("echo compiling; echo 'error: no such file' >&2; exit 4\n");
    let (code, out, err) = check(d.path(), &[]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("control build (run A) failed with exit status 4"),
        "{err}"
    );
    assert!(
        err.contains("error: no such file"),
        "the log tail is shown: {err}"
    );
}

#[test]
fn a_build_past_its_timeout_is_an_error() {
    if common::skip_engine_test() {
        return;
    }
    let d = project("echo still-compiling-part-1; sleep 60\n");
    let keep = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let (code, _, err) = check(
        d.path(),
        &["--timeout", "3s", "--keep", &keep.path().display().to_string()],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("ran past its timeout of 3s"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(40));
    // What the build was doing, in the message and kept.
    assert!(err.contains("still-compiling-part-1"), "{err}");
    let log = std::fs::read_to_string(keep.path().join("A/build.log")).unwrap();
    assert!(log.contains("still-compiling-part-1"), "{log}");
}

#[test]
fn a_build_failing_only_under_variation_is_a_finding() {
    if common::skip_engine_test() {
        return;
    }
    // Fails only with the varied umask.
    let d = project("mkdir -p out; [ \"$(umask)\" = 0022 ] || exit 7; echo ok > out/x\n");
    let (code, out, err) = check(d.path(), &["--json", "-"]);
    assert_eq!(code, 1, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    common::assert_valid("check-report.v2.json", &v);
    assert_eq!(v["verdict"], "not-reproducible");
    assert_eq!(v["build_findings"][0]["code"], "build-failure");
    assert_eq!(v["build_findings"][0]["run"], "B");
}

#[test]
fn no_outputs_is_an_error() {
    if common::skip_engine_test() {
        return;
    }
    let d = project("true\n");
    let (code, _, err) = check(d.path(), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no outputs") && err.contains("hint:"), "{err}");
}

#[test]
fn markdown_summary_leads_with_culprits_and_findings() {
    if common::skip_engine_test() {
        return;
    }
    let d = project("mkdir -p out; hostname > out/h\n");
    let md = d.path().join("summary.md");
    let (code, _, err) = check(d.path(), &["--markdown", &md.display().to_string()]);
    assert_eq!(code, 1, "{err}");
    let text = std::fs::read_to_string(md).unwrap();
    assert!(text.starts_with("## repro check"), "{text}");
    assert!(
        text.contains("❌ not reproducible") && text.contains("**Culprits:** hostname"),
        "{text}"
    );
    assert!(text.contains("| `hostname` |"), "{text}");
}

#[test]
fn keep_keeps_outputs_logs_and_specs() {
    if common::skip_engine_test() {
        return;
    }
    let d = project("mkdir -p out; hostname > out/h; echo built\n");
    let keep = tempfile::tempdir().unwrap();
    let (code, _, err) = check(d.path(), &["--keep", &keep.path().display().to_string()]);
    assert_eq!(code, 1, "{err}");
    for run in ["A", "B"] {
        let dir = keep.path().join(run);
        assert!(dir.join("outputs/out/h").exists(), "{run}");
        assert!(
            std::fs::read_to_string(dir.join("build.log"))
                .unwrap()
                .contains("built")
        );
        let spec: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap();
        assert_eq!(spec["label"], run);
    }
}

fn containers_of(pid: u32) -> usize {
    let out = std::process::Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("label=dev.repro.pid={pid}")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count()
}

#[test]
fn ctrl_c_removes_the_containers_and_exits_quickly() {
    if common::skip_engine_test() {
        return;
    }
    let d = project("sleep 120\n");
    let mut child = common::repro()
        .args(["check", &d.path().display().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(60);
    while containers_of(pid) < 2 {
        assert!(Instant::now() < deadline, "the builds never started");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(500));
    let sent = Instant::now();
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "exited after {:?}",
        sent.elapsed()
    );
    assert_eq!(status.code(), Some(130));
    assert_eq!(containers_of(pid), 0, "containers left behind");
}

#[test]
fn verbose_streams_every_runs_log() {
    if common::skip_engine_test() {
        return;
    }
    let d = project("mkdir -p out; echo log-line-from-the-build; echo x > out/x\n");
    let (code, _, err) = check(d.path(), &["-v"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("[A] log-line-from-the-build") && err.contains("[B] log-line-from-the-build"),
        "{err}"
    );
}

#[test]
fn the_local_backend_runs_unisolated_and_says_so() {
    let d = project(
        "mkdir -p out gen; echo generated > gen/f; tar --sort=name --mtime=@0 --owner=0 --group=0 -cf out/g.tar gen; pwd > out/where\n",
    );
    let (code, out, err) = check(d.path(), &["--local", "--json", "-"]);
    assert_eq!(code, 1, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    common::assert_valid("check-report.v2.json", &v);
    assert_eq!(
        (
            v["backend"].as_str(),
            v["isolated"].as_bool(),
            v["hermetic"].as_bool()
        ),
        (Some("local"), Some(false), Some(false))
    );
    let varied: Vec<&str> = v["variations"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x.as_str())
        .collect();
    assert!(
        !varied.contains(&"hostname") && !varied.contains(&"user"),
        "{varied:?}"
    );
    assert!(
        v["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("UNISOLATED"))
    );
    // The umask and the build path reach the build: the tar's modes and `pwd` differ.
    let differing: Vec<&str> = v["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["reproducible"] == false)
        .filter_map(|a| a["path"].as_str())
        .collect();
    assert_eq!(differing, ["out/g.tar", "out/where"]);
    let (code, text, _) = check(d.path(), &["--local"]);
    assert_eq!(code, 1);
    assert!(text.contains("UNISOLATED"), "{text}");
}
