//! Builds bounded inside the engine: writes outside the build directory stop at the disk
//! limit and say so, a container stops by its deadline when repro is killed, and leftovers of
//! another host's live run are not removed.

use crate::common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{CreateContainerOptions, RemoveContainerOptions};
use repro::runner::Backend;
use repro::runner::docker::{self, DockerBackend};
use repro::runner::leftovers;

/// A committed project whose build runs `script` (sh) with these extra repro.toml lines.
fn project(script: &str, toml: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("build.sh"), script).unwrap();
    std::fs::write(
        d.path().join("repro.toml"),
        format!("[build]\ncommand = [\"sh\", \"build.sh\"]\noutputs = [\"out/**\"]\n{toml}"),
    )
    .unwrap();
    d
}

fn check(dir: &Path, extra: &[&str]) -> (i32, String, String) {
    let d = dir.display().to_string();
    let mut args = vec!["check", "--color", "never", "--no-isolate"];
    args.extend_from_slice(extra);
    args.push(&d);
    common::run(&args)
}

/// 4 GiB at full speed: far past the limit, and quick to refuse.
const FILL: &str = "dd if=/dev/zero of=\"$1\" bs=1M count=4096";

#[test]
fn writes_of_4_gib_outside_the_build_directory_are_stopped_and_say_why() {
    if common::skip_engine_test() {
        return;
    }
    let cases = [
        ("/tmp", format!("set -e; f() {{ {FILL}; }}; f /tmp/fill\n")),
        ("$HOME", format!("set -e; f() {{ {FILL}; }}; f \"$HOME/fill\"\n")),
        // The output folder the entry script lists outputs in, written by the build itself.
        ("/out", format!("set -e; f() {{ {FILL}; }}; f /out/fill\n")),
        // Space a write only asks for counts as well.
        ("/var/tmp", "set -e; fallocate -l 4G /var/tmp/fill\n".to_string()),
    ];
    let handles: Vec<_> = cases
        .into_iter()
        .map(|(place, script)| {
            std::thread::spawn(move || {
                let d = project(&script, "memory = \"1G\"\n");
                let started = Instant::now();
                let (code, _, err) = check(d.path(), &["--disk", "64MiB"]);
                (place, code, err, started.elapsed())
            })
        })
        .collect();
    for h in handles {
        let (place, code, err, took) = h.join().unwrap();
        assert_eq!(code, 2, "{place}: {err}");
        assert!(
            err.contains("reached its disk limit of 64 MiB") && err.contains("--disk SIZE"),
            "{place}: {err}"
        );
        assert!(took < Duration::from_secs(60), "{place} took {took:?}");
    }
}

#[test]
fn the_default_disk_limit_is_1_gib_and_disk_in_repro_toml_raises_it() {
    if common::skip_engine_test() {
        return;
    }
    let d = project(&format!("set -e; f() {{ {FILL}; }}; f /tmp/fill\n"), "");
    let (code, _, err) = check(d.path(), &["--runs", "2", "--vary", "time"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/tmp reached its disk limit of 1 GiB"), "{err}");
    // 80 MiB fits under a raised limit; the limit is recorded in the report.
    let d = project(
        "set -e; dd if=/dev/zero of=/tmp/f bs=1M count=80; mkdir -p out; echo ok > out/x\n",
        "disk = \"96MiB\"\n",
    );
    let (code, out, err) = check(d.path(), &["--json", "-"]);
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["build"]["disk_bytes"], 96 << 20, "{out}");
    let (code, _, err) = check(d.path(), &["--disk", "64M"]);
    assert_eq!(code, 2, "--disk overrides repro.toml: {err}");
}

fn running_containers_of(pid: u32) -> Vec<String> {
    let out = std::process::Command::new("docker")
        .args(["ps", "-q", "--filter", &format!("label=dev.repro.pid={pid}")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn remove_containers_of(pid: u32) {
    let out = std::process::Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("label=dev.repro.pid={pid}")])
        .output()
        .unwrap();
    for id in String::from_utf8_lossy(&out.stdout).lines() {
        let _ = std::process::Command::new("docker")
            .args(["rm", "-f", id])
            .stdout(Stdio::null())
            .status();
    }
}

/// The scratch folders of the check whose process id is `pid`.
fn scratch_of(pid: u32) -> Vec<std::path::PathBuf> {
    let prefix = format!("repro-check-{pid}-");
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect()
}

#[test]
fn a_sigkilled_repro_leaves_no_container_running_past_its_deadline() {
    if common::skip_engine_test() {
        return;
    }
    let d = project("sleep 100002\n", "timeout = \"4s\"\n");
    let mut child = common::repro()
        .args(["check", "--no-isolate", &d.path().display().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let wait = Instant::now() + Duration::from_secs(60);
    while running_containers_of(pid).len() < 2 {
        assert!(Instant::now() < wait, "the builds never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    let labels = std::process::Command::new("docker")
        .args(["inspect", "--format", "{{json .Config.Labels}}"])
        .arg(&running_containers_of(pid)[0])
        .output()
        .unwrap();
    let labels: HashMap<String, String> = serde_json::from_slice(&labels.stdout).unwrap();
    assert!(labels.contains_key(docker::LABEL_DEADLINE), "{labels:?}");
    // On a slow machine the 4 s timeout may have ended the check before the kill.
    let killed_running = child.try_wait().unwrap().is_none();
    // Its scratch folder, while it runs (after the kill, any other check may sweep it).
    let had_scratch = scratch_of(pid).len() == 1;
    child.kill().unwrap();
    child.wait().unwrap();
    let killed = Instant::now();
    // Its lifetime: the 4 s timeout and the time allowed to hand over outputs.
    let lifetime = Duration::from_secs(docker::lifetime_secs(4));
    while !running_containers_of(pid).is_empty() {
        if killed.elapsed() > lifetime + Duration::from_secs(10) {
            remove_containers_of(pid);
            panic!(
                "containers still running {:?} after repro was killed",
                killed.elapsed()
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    // Stopped, they are leftovers the next preflight removes.
    remove_containers_of(pid);
    // Its scratch folder stayed (nothing ran to remove it); the next check removes it.
    if !killed_running {
        return;
    }
    assert!(had_scratch, "the check's scratch folder while it ran");
    let quick = project("mkdir -p out && echo hi > out/a\n", "");
    let (code, _, err) = check(quick.path(), &[]);
    assert_eq!(code, 0, "{err}");
    assert!(scratch_of(pid).is_empty(), "{:?}", scratch_of(pid));
}

/// A container labelled as a repro build, sleeping.
async fn labelled(d: &bollard::Docker, name: &str, labels: HashMap<String, String>) -> String {
    let image = common::builder_image(d, "default").await;
    let id = d
        .create_container(
            Some(CreateContainerOptions {
                name: Some(name.to_string()),
                ..Default::default()
            }),
            ContainerCreateBody {
                image: Some(image),
                cmd: Some(vec!["sleep".into(), "300".into()]),
                labels: Some(labels),
                network_disabled: Some(true),
                host_config: Some(HostConfig {
                    network_mode: Some("none".into()),
                    cap_drop: Some(vec!["ALL".into()]),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id;
    d.start_container(&id, None).await.unwrap();
    id
}

async fn exists(d: &bollard::Docker, id: &str) -> bool {
    d.inspect_container(id, None).await.is_ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn leftovers_of_a_live_run_on_another_host_are_kept_and_this_hosts_dead_ones_removed() {
    if common::skip_engine_test() {
        return;
    }
    let d = docker::connect().await.expect("engine");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // A pid no process has here (above the kernel's pid_max).
    let dead_pid = "4194305";
    let label = |host: &str, deadline: u64| {
        HashMap::from([
            (docker::LABEL_MANAGED.to_string(), "1".to_string()),
            (docker::LABEL_PID.to_string(), dead_pid.to_string()),
            (
                docker::LABEL_CHECK.to_string(),
                format!("bounds-{}", std::process::id()),
            ),
            (docker::LABEL_HOST.to_string(), host.to_string()),
            (docker::LABEL_DEADLINE.to_string(), deadline.to_string()),
        ])
    };
    let here = leftovers::host_id().expect("a host id");
    let tag = std::process::id();
    let foreign = labelled(
        &d,
        &format!("repro-foreign-{tag}"),
        label("another-host", now + 600),
    )
    .await;
    let dead_here = labelled(&d, &format!("repro-dead-{tag}"), label(&here, now + 600)).await;
    let past = labelled(
        &d,
        &format!("repro-past-{tag}"),
        label("another-host", now - 3600),
    )
    .await;
    let removed = DockerBackend::with_engine(repro::engine::Engine::connect().await.unwrap())
        .remove_leftovers()
        .await;
    let kept = exists(&d, &foreign).await;
    let (dead_gone, past_gone) = (!exists(&d, &dead_here).await, !exists(&d, &past).await);
    for id in [&foreign, &dead_here, &past] {
        let _ = d
            .remove_container(
                id,
                Some(RemoveContainerOptions {
                    force: true,
                    ..Default::default()
                }),
            )
            .await;
    }
    assert!(removed.unwrap() >= 2);
    assert!(kept, "a live run of another host was removed");
    assert!(dead_gone, "this host's dead run was kept");
    assert!(past_gone, "a container past its deadline was kept");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_container_whose_repro_is_gone_stops_itself_by_its_deadline() {
    if common::skip_engine_test() {
        return;
    }
    let d = docker::connect().await.expect("engine");
    let image = common::builder_image(&d, "default").await;
    let plan = repro::plan::Plan::new(
        repro::recipe::parse_project(
            "repro.toml",
            "[build]\ncommand = [\"sleep\", \"100003\"]\ntimeout = \"3s\"\n",
        )
        .unwrap(),
        1,
        2,
        repro::plan::select(&[], &[]),
        2,
    );
    let work = tempfile::tempdir().unwrap();
    let tar = work.path().join("source.tar");
    tar::Builder::new(std::fs::File::create(&tar).unwrap())
        .finish()
        .unwrap();
    let check_id = format!("deadline{}", std::process::id());
    let run = DockerBackend::new().run(repro::runner::RunRequest {
        spec: plan.runs[0].clone(),
        image,
        source_tar: tar,
        output_globs: Vec::new(),
        mounts: Vec::new(),
        check_id: check_id.clone(),
        work: work.path().to_path_buf(),
        log_lines: None,
        labels: Default::default(),
    });
    // The run's future is dropped mid-build, as when repro dies: nothing removes the container.
    let task = tokio::spawn(run);
    let filter = format!("label={}={check_id}", docker::LABEL_CHECK);
    let list = |all: bool| {
        let mut args = vec!["ps", "-q", "--filter", &filter];
        if all {
            args.push("-a");
        }
        let out = std::process::Command::new("docker").args(&args).output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let wait = Instant::now() + Duration::from_secs(60);
    while list(false).is_empty() {
        assert!(Instant::now() < wait, "the build never started");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    task.abort();
    let aborted = Instant::now();
    let lifetime = Duration::from_secs(docker::lifetime_secs(3));
    while !list(false).is_empty() && aborted.elapsed() < lifetime + Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let still_running = !list(false).is_empty();
    let stopped = list(true);
    for id in &stopped {
        let _ = std::process::Command::new("docker")
            .args(["rm", "-f", id])
            .output();
    }
    assert!(
        !still_running,
        "running {:?} after its repro was gone",
        aborted.elapsed()
    );
    assert_eq!(
        stopped.len(),
        1,
        "the container stopped by itself and was left for cleanup"
    );
}
