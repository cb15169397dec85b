//! How a fleet meets its engines: one stopped in the middle of a run (the run is lost, not the
//! batch), one reached over `tcp://` with TLS, and builder images that reach an engine by digest
//! through a local registry.

use crate::common;
use crate::fleet::{SecondEngine, expected, fleet_containers, fleet_run, project, status};

use std::process::Stdio;
use std::time::{Duration, Instant};

#[test]
fn an_engine_stopped_mid_run_loses_that_run_not_the_batch() {
    if common::skip_engine_test() {
        return;
    }
    let mut second = SecondEngine::start();
    let work = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", work.path().join("fleet.sqlite").display());
    let machine = repro::engine::DEFAULT_DOCKER_HOST.to_string();
    let engines = vec![machine.clone(), second.url()];
    let names = ["c-make-ok", "shell-tar-ok"];
    let jobs: Vec<String> = names.iter().map(|p| project(p)).collect();
    let child = fleet_run(&db, &engines, &jobs)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Stop the second engine as soon as a run of ours is on it.
    let started = Instant::now();
    while fleet_containers(&second.url()) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no run reached the second engine"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    second.stop();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // Both jobs are reproducible: the batch went on, on the engine left.
    assert_eq!(out.status.code(), Some(0), "{err}");

    let after = status(&db);
    assert_eq!(after.len(), names.len());
    let mut lost = Vec::new();
    for (name, job) in names.iter().zip(&after) {
        assert_eq!(job["state"], expected(name), "{name}: {job:#}");
        assert_eq!(job["attempts"], 1, "{name} was not put back: {job:#}");
        for run in job["runs"].as_array().unwrap() {
            // Every run ended on the machine's engine or before the second one went away.
            if let Some(l) = run["lost"].as_array() {
                lost.extend(l.iter().map(|l| l.as_str().unwrap().to_string()));
                assert_eq!(run["engine"]["url"], machine.as_str(), "{run:#}");
            }
        }
    }
    assert!(
        !lost.is_empty() && lost.iter().all(|l| l.starts_with(&second.url())),
        "the lost run is recorded with its engine: {lost:?}\n{err}"
    );
    assert_eq!(fleet_containers(&machine), 0, "containers of ours left");
    drop(second);
}
