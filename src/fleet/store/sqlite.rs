//! The SQLite store: one file, created on first use; WAL and a busy timeout so that several
//! coordinators on one host can share it; claims in `BEGIN IMMEDIATE` transactions.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, TransactionBehavior, params};

use super::{Claimed, Coordinator, SCHEMA_VERSION, Store, StoreError};
use crate::fleet::job::{JobKind, JobRecord, JobState, Outcome};

/// Migrations by version: each runs once, in order, in one transaction with its version row.
const MIGRATIONS: [(i64, &str); 1] = [(
    1,
    "CREATE TABLE coordinators (
        id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        heartbeat INTEGER NOT NULL
    );
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        job TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        claimed_by TEXT,
        claimed_at INTEGER,
        finished_at INTEGER,
        outcome TEXT
    );
    CREATE INDEX jobs_state ON jobs (state);",
)];

pub(super) struct SqliteStore {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl SqliteStore {
    pub(super) fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        super::ensure_folder(path)?;
        let err = |source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let mut conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(err)?;
        // WAL lets readers (status, report) go on while a coordinator writes.
        conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        migrate(&mut conn).map_err(|e| match e {
            Migrate::Sqlite(source) => err(source),
            Migrate::Newer(found) => StoreError::NewerSchema {
                location: format!("sqlite://{}", path.display()),
                found,
                known: SCHEMA_VERSION,
            },
        })?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

enum Migrate {
    Sqlite(rusqlite::Error),
    Newer(i64),
}

impl From<rusqlite::Error> for Migrate {
    fn from(e: rusqlite::Error) -> Self {
        Migrate::Sqlite(e)
    }
}

fn migrate(conn: &mut Connection) -> Result<(), Migrate> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch("CREATE TABLE IF NOT EXISTS repro_schema (version INTEGER NOT NULL)")?;
    let current: i64 = tx.query_row("SELECT COALESCE(MAX(version), 0) FROM repro_schema", [], |r| {
        r.get(0)
    })?;
    if current > SCHEMA_VERSION {
        return Err(Migrate::Newer(current));
    }
    for (version, sql) in MIGRATIONS {
        if version > current {
            tx.execute_batch(sql)?;
            tx.execute("INSERT INTO repro_schema (version) VALUES (?1)", params![version])?;
        }
    }
    tx.commit()?;
    Ok(())
}

impl Store for SqliteStore {
    fn location(&self) -> String {
        format!("sqlite://{}", self.path.display())
    }

    fn heartbeat(&self, c: &Coordinator) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO coordinators (id, host, pid, heartbeat) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET heartbeat = excluded.heartbeat",
                params![c.id, c.host, c.pid, c.heartbeat],
            )
            .map(drop)
            .map_err(self.err())
    }

    fn coordinators(&self) -> Result<Vec<Coordinator>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT id, host, pid, heartbeat FROM coordinators ORDER BY id")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Coordinator {
                    id: r.get(0)?,
                    host: r.get(1)?,
                    pid: r.get(2)?,
                    heartbeat: r.get(3)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    fn forget(&self, coordinator: &str) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM coordinators WHERE id = ?1", params![coordinator])
            .map(drop)
            .map_err(self.err())
    }

    fn enqueue(&self, jobs: &[(String, JobKind)]) -> Result<usize, StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.err())?;
        let mut new = 0;
        for (job, kind) in jobs {
            new += tx
                .execute(
                    "INSERT INTO jobs (job, kind, state) VALUES (?1, ?2, ?3) ON CONFLICT (job) DO NOTHING",
                    params![job, kind.as_str(), JobState::Queued.as_str()],
                )
                .map_err(self.err())?;
        }
        tx.commit().map_err(self.err())?;
        Ok(new)
    }

    fn requeue(&self, dead: &[String]) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.err())?;
        let mut requeued = Vec::new();
        for c in dead {
            let mut stmt = tx
                .prepare(
                    "UPDATE jobs SET state = ?1, claimed_by = NULL, claimed_at = NULL
                     WHERE state = ?2 AND claimed_by = ?3 RETURNING job",
                )
                .map_err(self.err())?;
            let jobs = stmt
                .query_map(
                    params![JobState::Queued.as_str(), JobState::Running.as_str(), c],
                    |r| r.get::<_, String>(0),
                )
                .map_err(self.err())?
                .collect::<Result<Vec<_>, _>>()
                .map_err(self.err())?;
            requeued.extend(jobs);
        }
        tx.commit().map_err(self.err())?;
        Ok(requeued)
    }

    fn claim(&self, coordinator: &str, among: &[String], now: i64) -> Result<Option<Claimed>, StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.err())?;
        let claimed = {
            let mut stmt = tx
                .prepare("SELECT id, job, kind, attempts FROM jobs WHERE state = ?1 ORDER BY id")
                .map_err(self.err())?;
            let mut rows = stmt
                .query(params![JobState::Queued.as_str()])
                .map_err(self.err())?;
            let mut found = None;
            while let Some(r) = rows.next().map_err(self.err())? {
                let job: String = r.get(1).map_err(self.err())?;
                if among.contains(&job) {
                    let kind: String = r.get(2).map_err(self.err())?;
                    found = Some((
                        r.get::<_, i64>(0).map_err(self.err())?,
                        job,
                        kind,
                        r.get::<_, i64>(3).map_err(self.err())?,
                    ));
                    break;
                }
            }
            found
        };
        let Some((id, job, kind, attempts)) = claimed else {
            return Ok(None);
        };
        tx.execute(
            "UPDATE jobs SET state = ?1, claimed_by = ?2, claimed_at = ?3, attempts = attempts + 1 WHERE id = ?4",
            params![JobState::Running.as_str(), coordinator, now, id],
        )
        .map_err(self.err())?;
        tx.commit().map_err(self.err())?;
        let kind = JobKind::parse(&kind).ok_or_else(|| StoreError::Corrupt {
            location: self.location(),
            job: job.clone(),
            what: format!("unknown kind `{kind}`"),
        })?;
        Ok(Some(Claimed {
            id,
            job,
            kind,
            attempts: u32::try_from(attempts + 1).unwrap_or(u32::MAX),
        }))
    }

    fn finish(&self, job: &str, coordinator: &str, outcome: &Outcome, now: i64) -> Result<bool, StoreError> {
        let text = serde_json::to_string(outcome).unwrap_or_default();
        let n = self
            .conn()
            .execute(
                "UPDATE jobs SET state = ?1, finished_at = ?2, outcome = ?3, claimed_by = NULL
                 WHERE job = ?4 AND claimed_by = ?5 AND state = ?6",
                params![
                    outcome.state.as_str(),
                    now,
                    text,
                    job,
                    coordinator,
                    JobState::Running.as_str()
                ],
            )
            .map_err(self.err())?;
        Ok(n == 1)
    }

    fn jobs(&self) -> Result<Vec<JobRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT id, job, kind, state, attempts, claimed_by, finished_at, outcome FROM jobs ORDER BY id",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, Option<i64>>(6)?,
                    r.get::<_, Option<String>>(7)?,
                ))
            })
            .map_err(self.err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err())?;
        let location = self.location();
        rows.into_iter()
            .map(
                |(id, job, kind, state, attempts, claimed_by, finished_at, outcome)| {
                    super::record(
                        &location,
                        id,
                        job,
                        &kind,
                        &state,
                        attempts,
                        claimed_by,
                        finished_at,
                        outcome,
                    )
                },
            )
            .collect()
    }
}

/// For tests: marks the store as written by a newer schema.
#[cfg(test)]
pub(super) fn bump_version(path: &Path, version: i64) {
    let conn = Connection::open(path).unwrap();
    conn.execute("INSERT INTO repro_schema (version) VALUES (?1)", params![version])
        .unwrap();
}
