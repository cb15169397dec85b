use super::*;
use crate::fleet::job::{Outcome, Timings};

fn outcome(state: JobState) -> Outcome {
    Outcome {
        state,
        reason: None,
        duration_ms: 5,
        timings: Timings::default(),
        runs: Vec::new(),
        culprits: vec!["time".into()],
        report: Some("{}".into()),
        report_html: None,
        attestation: None,
    }
}

/// What every store must do; run against each backend.
pub(crate) fn exercise(store: &dyn Store) {
    let jobs = vec![
        ("a".to_string(), JobKind::Check),
        ("b".to_string(), JobKind::Rebuild),
    ];
    assert_eq!(store.enqueue(&jobs).unwrap(), 2);
    // The same batch again adds nothing.
    assert_eq!(store.enqueue(&jobs).unwrap(), 0);
    let among: Vec<String> = jobs.iter().map(|(j, _)| j.clone()).collect();
    let first = store.claim("c1", &among, 10).unwrap().unwrap();
    assert_eq!(
        (first.job.as_str(), first.kind, first.attempts),
        ("a", JobKind::Check, 1)
    );
    let second = store.claim("c2", &among, 10).unwrap().unwrap();
    assert_eq!(second.job, "b");
    assert_eq!(store.claim("c1", &among, 10).unwrap(), None);
    assert!(
        store
            .finish("a", "c1", &outcome(JobState::Reproducible), 11)
            .unwrap()
    );
    // Finished once: a second finish (or one by a coordinator that lost it) counts nothing.
    assert!(
        !store
            .finish("a", "c1", &outcome(JobState::NotReproducible), 12)
            .unwrap()
    );
    // c2 dies: its job goes back to the queue and is claimed again, once.
    assert_eq!(store.requeue(&["c2".to_string()]).unwrap(), ["b"]);
    assert!(
        !store
            .finish("b", "c2", &outcome(JobState::Unchecked), 12)
            .unwrap()
    );
    let again = store.claim("c3", &among, 13).unwrap().unwrap();
    assert_eq!((again.job.as_str(), again.attempts), ("b", 2));
    assert!(
        store
            .finish("b", "c3", &outcome(JobState::Unchecked), 14)
            .unwrap()
    );
    let all = store.jobs().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].state, JobState::Reproducible);
    assert_eq!(all[0].outcome.as_ref().unwrap().culprits, ["time"]);
    assert_eq!((all[1].state, all[1].attempts), (JobState::Unchecked, 2));
    let c = Coordinator {
        id: "h-1-2".into(),
        host: "h".into(),
        pid: 1,
        heartbeat: 5,
    };
    store.heartbeat(&c).unwrap();
    store
        .heartbeat(&Coordinator {
            heartbeat: 9,
            ..c.clone()
        })
        .unwrap();
    assert_eq!(store.coordinators().unwrap(), [Coordinator { heartbeat: 9, ..c }]);
    store.forget("h-1-2").unwrap();
    assert!(store.coordinators().unwrap().is_empty());
}

#[test]
fn sqlite_store_keeps_jobs_and_claims_each_once() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("sub/fleet.sqlite");
    let url = DbUrl::parse(&format!("sqlite://{}", path.display())).unwrap();
    exercise(url.open().unwrap().as_ref());
    assert!(path.is_file());
    // Reopening finds the jobs and migrates nothing twice.
    assert_eq!(url.open().unwrap().jobs().unwrap().len(), 2);
}

#[test]
fn a_store_from_a_newer_schema_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("fleet.sqlite");
    let url = DbUrl::Sqlite(path.clone());
    drop(url.open().unwrap());
    sqlite::bump_version(&path, SCHEMA_VERSION + 1);
    let e = url.open().err().unwrap();
    assert!(matches!(e, StoreError::NewerSchema { found: 2, .. }), "{e}");
    assert!(e.to_string().contains("newer repro"), "{e}");
}

#[test]
fn a_file_that_is_not_sqlite_is_an_error_naming_it() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("fleet.sqlite");
    std::fs::write(&path, vec![b'x'; 4096]).unwrap();
    let e = DbUrl::Sqlite(path.clone()).open().err().unwrap();
    assert!(e.to_string().contains(&path.display().to_string()), "{e}");
    assert!(e.hint().is_some());
}

#[test]
fn db_urls_are_checked() {
    assert_eq!(
        DbUrl::parse("sqlite:///tmp/x.db").unwrap(),
        DbUrl::Sqlite("/tmp/x.db".into())
    );
    assert!(matches!(
        DbUrl::parse("postgres://u:secret@localhost:5/db").unwrap(),
        DbUrl::Postgres(_)
    ));
    for bad in [
        "mysql://x",
        "sqlite://",
        "fleet.db",
        "postgres://u:secret@host:notaport/db",
    ] {
        let e = DbUrl::parse(bad).unwrap_err();
        assert!(matches!(e, StoreError::BadUrl { .. }), "{bad}: {e}");
        assert!(!e.to_string().contains("secret"), "{e}");
    }
    assert_eq!(
        DbUrl::Postgres("postgres://u:secret@h/db".into()).shown(),
        "postgres://u:***@h/db"
    );
}
