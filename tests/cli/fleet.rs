//! `repro fleet` without an engine: bad input refused with exit 2 and a message naming what to
//! fix, and the dashboard of a store filled here, rendered by headless Chromium.

use crate::common;

use std::path::Path;

use common::{repo_root, run};
use repro::engine::EngineIdentity;
use repro::fleet::job::{Outcome, RunEngine, Timings};
use repro::fleet::{DbUrl, JobKind, JobState};

fn project(name: &str) -> String {
    repo_root().join("test-projects").join(name).display().to_string()
}

#[test]
fn bad_input_names_what_to_fix() {
    let d = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", d.path().join("f.sqlite").display());
    let missing = d.path().join("no-such-project").display().to_string();
    let not_project = d.path().display().to_string();
    let ok = project("c-make-ok");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["fleet", "run", "--db", &db, &missing], "does not exist"),
        (
            vec!["fleet", "run", "--db", &db, &not_project],
            "is not a project",
        ),
        (vec!["fleet", "run", "--db", &db], "no jobs"),
        (
            vec!["fleet", "run", "--db", "mysql://x/y", &ok],
            "sqlite:// or postgres://",
        ),
        (
            vec!["fleet", "status", "--db", "postgres://u@127.0.0.1:1/db"],
            "PostgreSQL store",
        ),
        (
            vec!["fleet", "run", "--db", &db, "--engine", "ftp://x", &ok],
            "--engine ftp://x",
        ),
        (
            vec![
                "fleet",
                "run",
                "--db",
                &db,
                "--engine",
                "unix:///nonexistent/docker.sock",
                &ok,
            ],
            "no engine could be reached",
        ),
        (vec!["fleet", "report", "--db", &db], "nothing to write"),
    ];
    for (args, expected) in cases {
        let (code, out, err) = run(&args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(
            err.contains("hint:") || expected == "PostgreSQL store",
            "{args:?}: {err}"
        );
    }
    // A registry is checked as clap reads it.
    for (args, expected) in [
        (
            vec![
                "fleet",
                "run",
                "--db",
                &db,
                "--registry",
                "http://127.0.0.1:5000",
                &ok,
            ],
            "without a scheme",
        ),
        (
            vec!["image", "push", "reg.example/some/path"],
            "only the host and port",
        ),
    ] {
        let (code, out, err) = run(&args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    // The unreachable engine's batch left its job queued for later.
    let (code, out, _) = run(&["fleet", "status", "--db", &db, "--json"]);
    assert_eq!(code, 0);
    assert!(out.is_empty() || out.contains("\"queued\""), "{out}");
}

#[test]
fn a_store_from_a_newer_repro_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("f.sqlite");
    drop(DbUrl::Sqlite(path.clone()).open().unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("INSERT INTO repro_schema (version) VALUES (99)", [])
        .unwrap();
    drop(conn);
    let db = format!("sqlite://{}", path.display());
    let (code, _, err) = run(&["fleet", "status", "--db", &db]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("schema version 99"), "{err}");
    assert!(err.contains(&path.display().to_string()), "{err}");
}

fn outcome(state: JobState, html: Option<&str>) -> Outcome {
    Outcome {
        state,
        reason: (state == JobState::Unchecked).then(|| "the engine went away".to_string()),
        duration_ms: 2500,
        timings: Timings::default(),
        runs: ["A", "B"]
            .iter()
            .enumerate()
            .map(|(i, r)| RunEngine {
                run: r.to_string(),
                engine: EngineIdentity {
                    id: format!("ENGINE{i}"),
                    url: format!("unix:///e{i}.sock"),
                    os: "Debian".into(),
                    kernel: "6.1".into(),
                },
                lost: Vec::new(),
            })
            .collect(),
        culprits: if state == JobState::NotReproducible {
            vec!["time".into()]
        } else {
            Vec::new()
        },
        report: Some("{\"verdict\":\"x\"}".into()),
        report_html: html.map(str::to_string),
        attestation: None,
    }
}

/// A store with jobs in several states.
fn filled(path: &Path) -> Vec<String> {
    let store = DbUrl::Sqlite(path.to_path_buf()).open().unwrap();
    let jobs: Vec<(String, JobState)> = vec![
        ("projects/ok".into(), JobState::Reproducible),
        ("projects/stamp <b>".into(), JobState::NotReproducible),
        ("projects/lost".into(), JobState::Unchecked),
        ("projects/waiting".into(), JobState::Queued),
    ];
    let given: Vec<(String, JobKind)> = jobs.iter().map(|(j, _)| (j.clone(), JobKind::Check)).collect();
    store.enqueue(&given).unwrap();
    let among: Vec<String> = jobs.iter().map(|(j, _)| j.clone()).collect();
    for (job, state) in &jobs {
        if *state == JobState::Queued {
            continue;
        }
        let claimed = store.claim("test", &among, 1).unwrap().unwrap();
        assert_eq!(&claimed.job, job);
        let html = "<!DOCTYPE html><title>job report</title><p>the job's own report</p>";
        assert!(
            store
                .finish(job, "test", &outcome(*state, Some(html)), 2)
                .unwrap()
        );
    }
    among
}

#[test]
fn the_dashboard_renders_in_a_browser_with_counts_and_every_job() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("f.sqlite");
    let jobs = filled(&path);
    let db = format!("sqlite://{}", path.display());
    let site = d.path().join("site");
    std::fs::create_dir(&site).unwrap();
    let html = site.join("index.html");
    let md = d.path().join("summary.md");
    let json = d.path().join("all.json");
    let (code, out, err) = run(&[
        "fleet",
        "report",
        "--db",
        &db,
        "--html",
        html.to_str().unwrap(),
        "--markdown",
        md.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(site.join("jobs/1.html").is_file());
    let dom = crate::html_report::chromium(d.path(), &["--dump-dom"], &format!("file://{}", html.display()));
    assert!(dom.contains("repro fleet: 4 jobs"), "{dom}");
    assert!(
        dom.contains("<td class=\"state\">reproducible</td><td>1</td><td>25.0%</td>"),
        "{dom}"
    );
    assert!(
        dom.contains("<td class=\"state\">queued</td><td>1</td><td>25.0%</td>"),
        "{dom}"
    );
    for job in &jobs {
        let shown = job.replace('<', "&lt;").replace('>', "&gt;");
        assert!(dom.contains(&shown), "{job} missing from the dashboard");
    }
    assert!(!dom.contains("<b>"), "markup from a job name was rendered");
    assert!(dom.contains("href=\"jobs/1.html\""));
    assert!(dom.contains("repro check projects/ok"));
    assert!(dom.contains("the engine went away"));
    // The linked report opens too.
    let job_dom = crate::html_report::chromium(
        d.path(),
        &["--dump-dom"],
        &format!("file://{}", site.join("jobs/1.html").display()),
    );
    assert!(job_dom.contains("the job's own report"));
    let md = std::fs::read_to_string(md).unwrap();
    assert!(md.contains("| not-reproducible | 1 | 25.0% |"), "{md}");
    let all: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    assert_eq!(all["counts"]["unchecked"], 1);
    assert_eq!(all["jobs"].as_array().unwrap().len(), 4);
    assert_eq!(all["jobs"][0]["runs"][1]["engine"]["id"], "ENGINE1");
}

#[test]
fn coordinators_sharing_a_postgres_store_never_claim_the_same_job() {
    let pg = common::postgres::PgServer::start();
    let url = DbUrl::parse(&pg.url()).unwrap();
    // Two coordinators open (and migrate) the store at once.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| url.open().unwrap());
        let b = s.spawn(|| url.open().unwrap());
        (a.join().unwrap(), b.join().unwrap())
    });
    let jobs: Vec<String> = (0..40).map(|i| format!("project-{i}")).collect();
    let given: Vec<(String, JobKind)> = jobs.iter().map(|j| (j.clone(), JobKind::Check)).collect();
    assert_eq!(a.enqueue(&given).unwrap(), 40);
    assert_eq!(b.enqueue(&given).unwrap(), 0);
    let claimed: Vec<Vec<String>> = std::thread::scope(|s| {
        let jobs = &jobs;
        let work = move |store: &dyn repro::fleet::Store, me: &str| {
            let mut mine = Vec::new();
            while let Some(c) = store.claim(me, jobs, 1).unwrap() {
                assert!(
                    store
                        .finish(&c.job, me, &outcome(JobState::Reproducible, None), 2)
                        .unwrap()
                );
                mine.push(c.job);
            }
            mine
        };
        let (a, b) = (&a, &b);
        let ta = s.spawn(move || work(a.as_ref(), "coordinator-a"));
        let tb = s.spawn(move || work(b.as_ref(), "coordinator-b"));
        vec![ta.join().unwrap(), tb.join().unwrap()]
    });
    let mut all: Vec<String> = claimed.concat();
    all.sort();
    let mut expected = jobs.clone();
    expected.sort();
    assert_eq!(all, expected, "every job claimed exactly once");
    let (code, out, err) = run(&["fleet", "status", "--db", &pg.url(), "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().filter(|l| l.contains("\"reproducible\"")).count(), 40);
    // A column whose type was changed by hand is an error naming the store, not a panic.
    let mut client = postgres::Client::connect(&pg.url(), postgres::NoTls).unwrap();
    client
        .batch_execute("ALTER TABLE jobs ALTER COLUMN attempts TYPE TEXT")
        .unwrap();
    let (code, _, err) = run(&["fleet", "status", "--db", &pg.url()]);
    assert_eq!(code, 2, "{err}");
    assert!(!err.contains("panicked"), "{err}");
    client
        .batch_execute("ALTER TABLE jobs ALTER COLUMN attempts TYPE BIGINT USING attempts::bigint")
        .unwrap();
    // A store a newer repro wrote is refused.
    client
        .execute("INSERT INTO repro_schema (version) VALUES (99)", &[])
        .unwrap();
    let (code, _, err) = run(&["fleet", "status", "--db", &pg.url()]);
    assert_eq!(code, 2);
    assert!(err.contains("schema version 99"), "{err}");
}
