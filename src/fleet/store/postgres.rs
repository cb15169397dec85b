//! The PostgreSQL store, shared by coordinators on several machines: jobs are claimed with
//! `FOR UPDATE SKIP LOCKED`, so two coordinators never take the same one, and migrations run
//! under an advisory lock.

use std::sync::Mutex;

use postgres::{Client, NoTls};

use super::{Claimed, Coordinator, SCHEMA_VERSION, Store, StoreError};
use crate::fleet::job::{JobKind, JobRecord, JobState, Outcome};

/// Migrations by version: each runs once, in order, in one transaction with its version row.
const MIGRATIONS: [(i64, &str); 1] = [(
    1,
    "CREATE TABLE coordinators (
        id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        pid BIGINT NOT NULL,
        heartbeat BIGINT NOT NULL
    );
    CREATE TABLE jobs (
        id BIGSERIAL PRIMARY KEY,
        job TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts BIGINT NOT NULL DEFAULT 0,
        claimed_by TEXT,
        claimed_at BIGINT,
        finished_at BIGINT,
        outcome TEXT
    );
    CREATE INDEX jobs_state ON jobs (state);",
)];

/// Any number, the same in every repro: serialises migrations between coordinators.
const MIGRATION_LOCK: i64 = 0x7265_7072_6f66;

pub(super) struct PostgresStore {
    url: String,
    client: Mutex<Client>,
}

impl PostgresStore {
    pub(super) fn open(url: &str) -> Result<PostgresStore, StoreError> {
        let shown = super::redact(url);
        let err = |source| StoreError::Postgres {
            url: shown.clone(),
            source,
        };
        let mut client = Client::connect(url, NoTls).map_err(err)?;
        let mut tx = client.transaction().map_err(err)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .map_err(err)?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS repro_schema (version BIGINT NOT NULL)")
            .map_err(err)?;
        let current: i64 = tx
            .query_one("SELECT COALESCE(MAX(version), 0) FROM repro_schema", &[])
            .map_err(err)?
            .try_get(0)
            .map_err(err)?;
        if current > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                location: shown,
                found: current,
                known: SCHEMA_VERSION,
            });
        }
        for (version, sql) in MIGRATIONS {
            if version > current {
                tx.batch_execute(sql).map_err(err)?;
                tx.execute("INSERT INTO repro_schema (version) VALUES ($1)", &[&version])
                    .map_err(err)?;
            }
        }
        tx.commit().map_err(err)?;
        Ok(PostgresStore {
            url: shown,
            client: Mutex::new(client),
        })
    }

    fn err(&self) -> impl Fn(postgres::Error) -> StoreError + '_ {
        move |source| StoreError::Postgres {
            url: self.url.clone(),
            source,
        }
    }

    fn client(&self) -> std::sync::MutexGuard<'_, Client> {
        self.client.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Store for PostgresStore {
    fn location(&self) -> String {
        self.url.clone()
    }

    fn heartbeat(&self, c: &Coordinator) -> Result<(), StoreError> {
        self.client()
            .execute(
                "INSERT INTO coordinators (id, host, pid, heartbeat) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (id) DO UPDATE SET heartbeat = excluded.heartbeat",
                &[&c.id, &c.host, &i64::from(c.pid), &c.heartbeat],
            )
            .map(drop)
            .map_err(self.err())
    }

    fn coordinators(&self) -> Result<Vec<Coordinator>, StoreError> {
        let rows = self
            .client()
            .query(
                "SELECT id, host, pid, heartbeat FROM coordinators ORDER BY id",
                &[],
            )
            .map_err(self.err())?;
        // try_get throughout: a column changed by hand is an error, not a panic.
        rows.iter()
            .map(|r| {
                Ok(Coordinator {
                    id: r.try_get(0)?,
                    host: r.try_get(1)?,
                    pid: u32::try_from(r.try_get::<_, i64>(2)?).unwrap_or(0),
                    heartbeat: r.try_get(3)?,
                })
            })
            .collect::<Result<_, postgres::Error>>()
            .map_err(self.err())
    }

    fn forget(&self, coordinator: &str) -> Result<(), StoreError> {
        self.client()
            .execute("DELETE FROM coordinators WHERE id = $1", &[&coordinator])
            .map(drop)
            .map_err(self.err())
    }

    fn enqueue(&self, jobs: &[(String, JobKind)]) -> Result<usize, StoreError> {
        let mut client = self.client();
        let mut tx = client.transaction().map_err(self.err())?;
        let mut new = 0;
        for (job, kind) in jobs {
            new += tx
                .execute(
                    "INSERT INTO jobs (job, kind, state) VALUES ($1, $2, $3) ON CONFLICT (job) DO NOTHING",
                    &[job, &kind.as_str(), &JobState::Queued.as_str()],
                )
                .map_err(self.err())?;
        }
        tx.commit().map_err(self.err())?;
        Ok(usize::try_from(new).unwrap_or(usize::MAX))
    }

    fn requeue(&self, dead: &[String]) -> Result<Vec<String>, StoreError> {
        let rows = self
            .client()
            .query(
                "UPDATE jobs SET state = $1, claimed_by = NULL, claimed_at = NULL
                 WHERE state = $2 AND claimed_by = ANY($3) RETURNING job",
                &[&JobState::Queued.as_str(), &JobState::Running.as_str(), &dead],
            )
            .map_err(self.err())?;
        rows.iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()
            .map_err(self.err())
    }

    fn claim(&self, coordinator: &str, among: &[String], now: i64) -> Result<Option<Claimed>, StoreError> {
        let row = self
            .client()
            .query_opt(
                "UPDATE jobs SET state = $1, claimed_by = $2, claimed_at = $3, attempts = attempts + 1
                 WHERE id = (
                     SELECT id FROM jobs WHERE state = $4 AND job = ANY($5)
                     ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED
                 )
                 RETURNING id, job, kind, attempts",
                &[
                    &JobState::Running.as_str(),
                    &coordinator,
                    &now,
                    &JobState::Queued.as_str(),
                    &among,
                ],
            )
            .map_err(self.err())?;
        let Some(row) = row else { return Ok(None) };
        let job: String = row.try_get(1).map_err(self.err())?;
        let kind: String = row.try_get(2).map_err(self.err())?;
        let kind = JobKind::parse(&kind).ok_or_else(|| StoreError::Corrupt {
            location: self.location(),
            job: job.clone(),
            what: format!("unknown kind `{kind}`"),
        })?;
        Ok(Some(Claimed {
            id: row.try_get(0).map_err(self.err())?,
            job,
            kind,
            attempts: u32::try_from(row.try_get::<_, i64>(3).map_err(self.err())?).unwrap_or(u32::MAX),
        }))
    }

    fn finish(&self, job: &str, coordinator: &str, outcome: &Outcome, now: i64) -> Result<bool, StoreError> {
        let text = serde_json::to_string(outcome).unwrap_or_default();
        let n = self
            .client()
            .execute(
                "UPDATE jobs SET state = $1, finished_at = $2, outcome = $3, claimed_by = NULL
                 WHERE job = $4 AND claimed_by = $5 AND state = $6",
                &[
                    &outcome.state.as_str(),
                    &now,
                    &text,
                    &job,
                    &coordinator,
                    &JobState::Running.as_str(),
                ],
            )
            .map_err(self.err())?;
        Ok(n == 1)
    }

    fn jobs(&self) -> Result<Vec<JobRecord>, StoreError> {
        let rows = self
            .client()
            .query(
                "SELECT id, job, kind, state, attempts, claimed_by, finished_at, outcome FROM jobs ORDER BY id",
                &[],
            )
            .map_err(self.err())?;
        let location = self.location();
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get(2).map_err(self.err())?;
                let state: String = r.try_get(3).map_err(self.err())?;
                super::record(
                    &location,
                    r.try_get(0).map_err(self.err())?,
                    r.try_get(1).map_err(self.err())?,
                    &kind,
                    &state,
                    r.try_get(4).map_err(self.err())?,
                    r.try_get(5).map_err(self.err())?,
                    r.try_get(6).map_err(self.err())?,
                    r.try_get(7).map_err(self.err())?,
                )
            })
            .collect()
    }
}
