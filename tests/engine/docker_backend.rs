//! The Docker backend against the real engine: one run's isolation, variations and outputs,
//! and cleanup on every path.

use crate::common;

use repro::plan::{Plan, select};
use repro::recipe::parse_project;
use repro::runner::docker::{self, DockerBackend};
use repro::runner::{Backend, RunRequest};
use repro::source;

async fn image_id(d: &bollard::Docker) -> String {
    common::builder_image(d, "default").await
}

fn plan(toml: &str) -> Plan {
    Plan::new(
        parse_project("repro.toml", toml).unwrap(),
        1_700_000_000,
        1_800_000_000,
        select(&[], &[]),
        2,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_applies_its_spec_and_returns_outputs() {
    if common::skip_engine_test() {
        return;
    }
    let d = docker::connect().await.expect("engine");
    let image = image_id(&d).await;
    let src = tempfile::tempdir().unwrap();
    std::fs::write(
        src.path().join("build.sh"),
        "set -eu\nmkdir -p out\n{ id -u; id -un; hostname; umask; nproc; pwd; echo \"$HOME\"; echo \"$TZ\"; date +%Y; \
         echo \"$SOURCE_DATE_EPOCH\"; ls -a \"$HOME\" >/dev/null; touch \"$HOME/w\"; } > out/facts\n\
         cat /proc/self/status | grep -i capeff >> out/facts\n",
    )
    .unwrap();
    let p = plan(
        "[build]\ncommand = [\"sh\", \"build.sh\"]\noutputs = [\"out/*\"]\ntimeout = \"2m\"\nmemory = \"1G\"\n",
    );
    let entries = source::list_source(src.path()).unwrap();
    for spec in &p.runs {
        let work = tempfile::tempdir().unwrap();
        let tar = work.path().join("source.tar");
        source::write_source_tar(
            src.path(),
            &entries,
            spec.file_order,
            std::fs::File::create(&tar).unwrap(),
        )
        .unwrap();
        let r = DockerBackend::new()
            .run(RunRequest {
                spec: spec.clone(),
                image: image.clone(),
                source_tar: tar.clone(),
                output_globs: p.build.outputs.clone(),
                mounts: Vec::new(),
                check_id: format!("t{}", std::process::id()),
                work: work.path().to_path_buf(),
                log_lines: None,
                labels: Default::default(),
            })
            .await
            .expect("run");
        assert_eq!(r.exit_code, 0, "{:?}", r.log_tail);
        let outs = r
            .with_outputs(|inner| {
                repro::artifacts::unpack(inner, &work.path().join("o"), &globset::GlobSet::empty())
            })
            .unwrap()
            .unwrap();
        let facts = std::fs::read_to_string(work.path().join("o/out/facts")).unwrap();
        let lines: Vec<&str> = facts.lines().collect();
        assert_eq!(lines[0], spec.user.uid.to_string(), "{facts}");
        assert_eq!(lines[1], spec.user.name);
        assert_eq!(lines[2], spec.hostname);
        assert_eq!(lines[3], spec.umask);
        if spec.cpuset.is_some() {
            assert_eq!(lines[4], "1");
        }
        assert_eq!(lines[5], spec.build_path);
        assert_eq!(lines[6], spec.home);
        assert_eq!(lines[7], spec.env["TZ"]);
        let year: i32 = lines[8].parse().unwrap();
        assert_eq!(
            year,
            if spec.label == "A" { 2027 } else { 2028 },
            "faked clock: {facts}"
        );
        assert_eq!(lines[9], "1700000000");
        assert!(
            lines[10].ends_with("0000000000000000"),
            "no capabilities: {facts}"
        );
        assert!(outs.artifacts.contains_key("out/facts"));
        // The engine's view: the build's environment is not in the container config (only
        // PATH), and the only mounts are tmpfs: the build dir, and every place it can write
        // outside it.
        assert_eq!(r.container_env.len(), 1, "{:?}", r.container_env);
        let mut mounts = r.container_mounts.clone();
        mounts.sort();
        let mut expected = vec![
            "/build".to_string(),
            spec.home.clone(),
            "/out".into(),
            "/run/lock".into(),
            "/tmp".into(),
            "/var/tmp".into(),
        ];
        expected.sort();
        assert_eq!(mounts, expected);
    }
    assert_eq!(leftovers(&d, &format!("t{}", std::process::id())).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_and_timeouts_leave_no_container() {
    if common::skip_engine_test() {
        return;
    }
    let d = docker::connect().await.expect("engine");
    let image = image_id(&d).await;
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("fail.sh"), "echo about to fail; exit 3\n").unwrap();
    std::fs::write(src.path().join("slow.sh"), "sleep 30\n").unwrap();
    for (script, timeout) in [("fail.sh", "1m"), ("slow.sh", "2s")] {
        let p = plan(&format!(
            "[build]\ncommand = [\"sh\", \"{script}\"]\ntimeout = \"{timeout}\"\n"
        ));
        let work = tempfile::tempdir().unwrap();
        let tar = work.path().join("source.tar");
        let entries = source::list_source(src.path()).unwrap();
        source::write_source_tar(
            src.path(),
            &entries,
            p.runs[0].file_order,
            std::fs::File::create(&tar).unwrap(),
        )
        .unwrap();
        let started = std::time::Instant::now();
        let r = DockerBackend::new()
            .run(RunRequest {
                spec: p.runs[0].clone(),
                image: image.clone(),
                source_tar: tar.clone(),
                output_globs: Vec::new(),
                mounts: Vec::new(),
                check_id: format!("f{}", std::process::id()),
                work: work.path().to_path_buf(),
                log_lines: None,
                labels: Default::default(),
            })
            .await
            .expect("run");
        if script == "fail.sh" {
            assert_eq!(r.exit_code, 3);
            assert!(
                r.log_tail.iter().any(|l| l.contains("about to fail")),
                "{:?}",
                r.log_tail
            );
        } else {
            assert!(r.timed_out);
            assert!(started.elapsed() < std::time::Duration::from_secs(20));
        }
        assert!(r.outputs_archive.is_none());
    }
    assert_eq!(leftovers(&d, &format!("f{}", std::process::id())).await, 0);
}

async fn leftovers(d: &bollard::Docker, check_id: &str) -> usize {
    let filters = std::collections::HashMap::from([(
        "label".to_string(),
        vec![format!("{}={check_id}", docker::LABEL_CHECK)],
    )]);
    d.list_containers(Some(bollard::query_parameters::ListContainersOptions {
        all: true,
        filters: Some(filters),
        ..Default::default()
    }))
    .await
    .unwrap()
    .len()
}
