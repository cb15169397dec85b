//! `repro fleet` on two real engines: the machine's and a second one this test starts (its own
//! bridge, config, data and exec folders, vfs; stopped by pid and removed on every path). One
//! batch covers several bars at once: run A and run B of every job on different engines, the
//! coordinator killed with SIGKILL mid-batch and the same command resuming (every job once,
//! final, nothing left on either engine), verdicts as expected.

use crate::common;

use std::collections::HashMap;
use std::io::{BufRead, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{repo_root, repro};

/// A second Docker engine beside the machine's, removed when dropped.
pub(crate) struct SecondEngine {
    pub(crate) dir: tempfile::TempDir,
    bridge: String,
    child: Option<Child>,
}

impl SecondEngine {
    pub(crate) fn start() -> SecondEngine {
        SecondEngine::start_with(&[])
    }

    /// Started with `extra` arguments for dockerd besides its own socket (more `-H`, TLS).
    pub(crate) fn start_with(extra: &[String]) -> SecondEngine {
        SecondEngine::start_on_bridge(|_| extra.to_vec())
    }

    /// Started with the arguments `extra` gives for the address of the engine's own bridge (a
    /// non-loopback address of this host: `-H tcp://ADDRESS:PORT`).
    pub(crate) fn start_on_bridge(extra: impl Fn(&str) -> Vec<String>) -> SecondEngine {
        let dir = tempfile::Builder::new().prefix("repro-eng2-").tempdir().unwrap();
        let ip = |args: &[&str]| Command::new("ip").args(args).output().expect("running ip");
        // A bridge name no other test (in another process) holds: the first free one from a
        // start that depends on the pid.
        let first = std::process::id() % 200;
        let n = (0..200)
            .map(|i| (first + i) % 200 + 20)
            .find(|n| {
                ip(&["link", "add", &format!("reprofl{n}"), "type", "bridge"])
                    .status
                    .success()
            })
            .expect("no free bridge name reprofl20..reprofl219");
        let bridge = format!("reprofl{n}");
        let address = format!("10.213.{n}.1");
        let mut engine = SecondEngine {
            dir,
            bridge: bridge.clone(),
            child: None,
        };
        for args in [
            ["addr", "add", &format!("{address}/24"), "dev", &bridge].as_slice(),
            ["link", "set", &bridge, "up"].as_slice(),
        ] {
            let out = ip(args);
            assert!(
                out.status.success(),
                "ip {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let extra = extra(&address);
        let d = engine.dir.path().to_path_buf();
        // Its own key file: otherwise it reports the machine's engine ID.
        std::fs::write(
            d.join("config.json"),
            format!(
                "{{\"deprecated-key-path\": \"{}\"}}",
                d.join("key.json").display()
            ),
        )
        .unwrap();
        let child = Command::new("dockerd")
            .arg("--config-file")
            .arg(d.join("config.json"))
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("docker.pid"))
            .arg("-H")
            .arg(format!("unix://{}", d.join("sock").display()))
            .args([
                "--bridge",
                &bridge,
                "--iptables=false",
                "--ip-masq=false",
                "--storage-driver",
                "vfs",
                // Containers run `sleep` as PID 1, which ignores SIGTERM: stopping waits this long.
                "--shutdown-timeout",
                "2",
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("dockerd.log")).unwrap())
            .spawn()
            .expect("starting dockerd");
        engine.child = Some(child);
        let started = Instant::now();
        while !engine.answers() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the second engine did not start; its log:\n{}",
                std::fs::read_to_string(d.join("dockerd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
        engine
    }

    /// Stops dockerd (SIGTERM to its pid) and waits until it has exited; its containers stop
    /// with it.
    pub(crate) fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let started = Instant::now();
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            if started.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("unix://{}", self.dir.path().join("sock").display())
    }

    fn answers(&self) -> bool {
        let Ok(mut s) = std::os::unix::net::UnixStream::connect(self.dir.path().join("sock")) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        if s.write_all(b"GET /_ping HTTP/1.0\r\n\r\n").is_err() {
            return false;
        }
        let mut reply = String::new();
        let _ = s.read_to_string(&mut reply);
        reply.ends_with("OK")
    }
}

impl Drop for SecondEngine {
    fn drop(&mut self) {
        self.stop();
        let _ = Command::new("ip").args(["link", "del", &self.bridge]).status();
        // vfs layers can hold read-only folders; the exec root may hold mounts.
        let _ = Command::new("umount")
            .arg("-R")
            .arg(self.dir.path().join("exec"))
            .stderr(Stdio::null())
            .status();
        let _ = Command::new("chmod")
            .arg("-R")
            .arg("u+w")
            .arg(self.dir.path())
            .status();
    }
}

/// The containers carrying the fleet's coordinator label on the engine at `url`.
pub(crate) fn fleet_containers(url: &str) -> usize {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let address = repro::engine::EngineAddress {
            url: url.to_string(),
            tls: None,
        };
        let engine = repro::engine::Engine::connect_to(&address).await.unwrap();
        let filters = HashMap::from([(
            "label".to_string(),
            vec![repro::fleet::engines::LABEL_COORDINATOR.to_string()],
        )]);
        engine
            .docker()
            .list_containers(Some(bollard::query_parameters::ListContainersOptions {
                all: true,
                filters: Some(filters),
                ..Default::default()
            }))
            .await
            .unwrap()
            .len()
    })
}

pub(crate) fn project(name: &str) -> String {
    repo_root().join("test-projects").join(name).display().to_string()
}

/// The expected verdict of a test project, from its expected.toml.
pub(crate) fn expected(name: &str) -> String {
    let text =
        std::fs::read_to_string(repo_root().join("test-projects").join(name).join("expected.toml")).unwrap();
    let v: toml::Value = toml::from_str(&text).unwrap();
    v["verdict"].as_str().unwrap().to_string()
}

/// The batch of the bar: 8 bundled test-projects, all on the default builder image.
pub(crate) const PROJECTS: [&str; 8] = [
    "c-make-ok",
    "archive-mtime",
    "shell-tar-ok",
    "hostname",
    "user",
    "umask",
    "timezone",
    "file-order",
];

pub(crate) fn fleet_run(db: &str, engines: &[String], jobs: &[String]) -> Command {
    let mut c = repro();
    c.args([
        "fleet",
        "run",
        "--db",
        db,
        "--no-isolate",
        "--json",
        "--jobs-at-once",
        "2",
    ]);
    for e in engines {
        c.args(["--engine", e]);
    }
    c.args(jobs);
    c
}

/// `fleet status --json` as one value per job.
pub(crate) fn status(db: &str) -> Vec<serde_json::Value> {
    let (code, out, err) = common::run(&["fleet", "status", "--db", db, "--json"]);
    assert_eq!(code, 0, "{err}");
    out.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn a_batch_on_two_engines_survives_sigkill_and_spreads_runs() {
    if common::skip_engine_test() {
        return;
    }
    let second = SecondEngine::start();
    let work = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", work.path().join("fleet.sqlite").display());
    let engines = vec![repro::engine::DEFAULT_DOCKER_HOST.to_string(), second.url()];
    let jobs: Vec<String> = PROJECTS.iter().map(|p| project(p)).collect();

    // The first coordinator is killed with SIGKILL once a job has finished.
    let mut child = fleet_run(&db, &engines, &jobs)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(work.path().join("first.err")).unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut first_line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut first_line)
        .unwrap();
    let _ = Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status();
    let _ = child.wait();
    assert!(
        first_line.contains("\"state\""),
        "the first coordinator finished no job: {}",
        std::fs::read_to_string(work.path().join("first.err")).unwrap_or_default()
    );
    let before = status(&db);
    assert_eq!(before.len(), PROJECTS.len());

    // The same command again resumes: interrupted jobs redone, finished ones not.
    let out = fleet_run(&db, &engines, &jobs).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{err}");
    assert!(err.contains("already finished in the store"), "{err}");
    let after = status(&db);
    assert_eq!(after.len(), PROJECTS.len(), "every job once in the store");
    for (name, job) in PROJECTS.iter().zip(&after) {
        assert_eq!(job["job"], project(name));
        assert_eq!(job["state"], expected(name), "{name}: {job:#}");
        let was = before.iter().find(|b| b["job"] == job["job"]).unwrap();
        if was["state"] == expected(name) {
            assert_eq!(
                job["attempts"], was["attempts"],
                "{name} was redone after it finished"
            );
        }
        assert!(job["attempts"].as_u64().unwrap() <= 2, "{name}: {job:#}");
        let runs = job["runs"].as_array().unwrap();
        let engine = |label: &str| {
            let r = runs
                .iter()
                .find(|r| r["run"] == label)
                .unwrap_or_else(|| panic!("{name}: no run {label}"));
            (r["engine"]["id"].clone(), r["engine"]["url"].clone())
        };
        let (a, b) = (engine("A"), engine("B"));
        assert_ne!(a.0, b.0, "{name}: runs A and B on engines with the same ID");
        assert_ne!(a.1, b.1, "{name}");
        // The report records them too.
        let report_runs = job["report"]["runs"].as_array().unwrap();
        assert!(
            report_runs
                .iter()
                .all(|r| r["placement"]["engine"]["kernel"].is_string())
        );
        common::assert_valid("check-report.v2.json", &job["report"]);
    }
    for e in &engines {
        assert_eq!(fleet_containers(e), 0, "containers of ours left on {e}");
    }
    drop(second);
}

#[test]
fn the_same_batch_in_postgres_gives_the_same_states() {
    if common::skip_engine_test() {
        return;
    }
    let pg = common::postgres::PgServer::start();
    let mut jobs: Vec<String> = PROJECTS.iter().map(|p| project(p)).collect();
    // And a rebuild job: provenance from `repro build`, its checkout, signed by the coordinator.
    let d = tempfile::tempdir().unwrap();
    let repo = crate::rebuild::repository(d.path(), "shell-tar-ok");
    let (key, _) = crate::rebuild::keygen(d.path(), "signer", &[]);
    let prov = d.path().join("prov.json");
    let (code, out, err) = common::run(&[
        "build",
        &repo.join("proj").display().to_string(),
        "--key",
        &key,
        "-o",
        &prov.display().to_string(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let rebuild_job = format!("{}={}", prov.display(), repo.display());
    jobs.push(rebuild_job.clone());
    // An engine that cannot be reached is left out; the batch goes on with the other.
    let engines = [
        "unix:///nonexistent/docker.sock".to_string(),
        repro::engine::DEFAULT_DOCKER_HOST.to_string(),
    ];
    let out = fleet_run(&pg.url(), &engines, &jobs)
        .args(["--key", &key])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{err}");
    assert!(
        err.contains("engine unreachable, left out of the batch: unix:///nonexistent"),
        "{err}"
    );
    assert!(
        err.contains("postgres://postgres@127.0.0.1"),
        "the store is named: {err}"
    );
    let jobs = status(&pg.url());
    assert_eq!(jobs.len(), PROJECTS.len() + 1);
    let rebuilt = jobs.iter().find(|j| j["job"] == rebuild_job.as_str()).unwrap();
    assert_eq!(rebuilt["state"], "reproducible", "{rebuilt:#}");
    assert_eq!(rebuilt["kind"], "rebuild");
    common::assert_valid("rebuild-report.v2.json", &rebuilt["report"]);
    // The attestation is signed by the coordinator and names each run's engine.
    let envelope = d.path().join("att.json");
    std::fs::write(&envelope, rebuilt["attestation"].to_string()).unwrap();
    let statement = crate::rebuild::statement_of(&envelope);
    let runs = statement["predicate"]["runs"].as_array().unwrap();
    assert!(
        runs.iter()
            .all(|r| r["engine"]["engine"]["url"] == repro::engine::DEFAULT_DOCKER_HOST),
        "{runs:#?}"
    );
    for (name, job) in PROJECTS.iter().zip(&jobs) {
        assert_eq!(job["state"], expected(name), "{name}: {job:#}");
        assert_eq!(job["attempts"], 1);
    }
}
