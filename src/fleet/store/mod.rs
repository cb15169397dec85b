//! Where a fleet keeps its jobs: one [`Store`] seam, SQLite (one file, the default) and
//! PostgreSQL (shared by several coordinators). Each backend has its own versioned migrations;
//! a store written by a newer schema is refused, never rewritten.

mod postgres;
mod sqlite;

use std::path::{Path, PathBuf};

use super::job::{JobKind, JobRecord, JobState, Outcome};

/// The schema version this repro writes; a store at a higher version is refused.
pub const SCHEMA_VERSION: i64 = 1;

/// Which store, from `--db`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DbUrl {
    /// `sqlite://PATH` (`sqlite:///abs/path` or `sqlite://relative`), `postgres://…` or
    /// `postgresql://…`.
    pub fn parse(url: &str) -> Result<DbUrl, StoreError> {
        let bad = |why: &str| StoreError::BadUrl {
            url: redact(url),
            why: why.to_string(),
        };
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(bad("it names no file"));
            }
            return Ok(DbUrl::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            url.parse::<::postgres::Config>()
                .map_err(|e| bad(&format!("not a PostgreSQL connection URL ({e})")))?;
            return Ok(DbUrl::Postgres(url.to_string()));
        }
        Err(bad("the scheme must be sqlite:// or postgres://"))
    }

    /// The default store: `fleet.sqlite` in repro's data folder (`$XDG_DATA_HOME/repro`, else
    /// `~/.local/share/repro`).
    pub fn default_sqlite() -> DbUrl {
        let base = std::env::var_os("XDG_DATA_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
            .unwrap_or_else(|| PathBuf::from("."));
        DbUrl::Sqlite(base.join("repro").join("fleet.sqlite"))
    }

    /// How to show it (the password left out).
    pub fn shown(&self) -> String {
        match self {
            DbUrl::Sqlite(p) => format!("sqlite://{}", p.display()),
            DbUrl::Postgres(u) => redact(u),
        }
    }

    /// Opens the store, creating it (and, for SQLite, its file and folder) on first use, and
    /// brings its schema up to date.
    pub fn open(&self) -> Result<Box<dyn Store>, StoreError> {
        Ok(match self {
            DbUrl::Sqlite(path) => Box::new(sqlite::SqliteStore::open(path)?),
            DbUrl::Postgres(url) => Box::new(postgres::PostgresStore::open(url)?),
        })
    }
}

/// A URL with its password replaced, for messages.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("--db {url}: {why}")]
    BadUrl { url: String, why: String },
    #[error("cannot create the folder of the store {path}")]
    Folder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the SQLite store {path}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("the PostgreSQL store {url}")]
    Postgres {
        url: String,
        #[source]
        source: ::postgres::Error,
    },
    #[error(
        "the store {location} was written by a newer repro (schema version {found}; this repro knows up to {known})"
    )]
    NewerSchema {
        location: String,
        found: i64,
        known: i64,
    },
    #[error("the store {location} holds a job `{job}` this repro cannot read: {what}")]
    Corrupt {
        location: String,
        job: String,
        what: String,
    },
}

impl StoreError {
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            StoreError::BadUrl { .. } => {
                "write --db sqlite:///path/to/fleet.sqlite or --db postgres://user@host/dbname".into()
            }
            StoreError::NewerSchema { .. } => {
                "use the repro that wrote it (or a newer one), or another store with --db".into()
            }
            StoreError::Postgres { .. } => {
                "check that the server runs and the URL's host, port, user and database are right".into()
            }
            StoreError::Sqlite { path, .. } => format!(
                "check that {} is a SQLite file this user can write, or choose another with --db",
                path.display()
            ),
            _ => return None,
        })
    }
}

/// A coordinator, as the store knows it: how other coordinators tell whether it is alive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coordinator {
    /// `HOST-PID-STARTNANOS`: unique across hosts and restarts.
    pub id: String,
    pub host: String,
    pub pid: u32,
    /// Unix seconds of its last heartbeat.
    pub heartbeat: i64,
}

/// A job claimed by a coordinator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub id: i64,
    pub job: String,
    pub kind: JobKind,
    pub attempts: u32,
}

/// The results store. Every call is one transaction: a coordinator killed between two calls
/// leaves the store consistent, and its running jobs are requeued by the next coordinator.
pub trait Store: Send + Sync {
    /// Where it is, for messages (a password left out).
    fn location(&self) -> String;

    /// Records (or refreshes) a coordinator and its heartbeat.
    fn heartbeat(&self, coordinator: &Coordinator) -> Result<(), StoreError>;

    /// Every coordinator the store has seen.
    fn coordinators(&self) -> Result<Vec<Coordinator>, StoreError>;

    /// Forgets a coordinator (when it ends, or once found dead and cleaned up after).
    fn forget(&self, coordinator: &str) -> Result<(), StoreError>;

    /// Queues the jobs not yet in the store; returns how many were new.
    fn enqueue(&self, jobs: &[(String, JobKind)]) -> Result<usize, StoreError>;

    /// Puts the jobs running under these (dead) coordinators back in the queue; returns them.
    fn requeue(&self, dead: &[String]) -> Result<Vec<String>, StoreError>;

    /// Claims the first queued job among `among` for `coordinator`; none when all are claimed.
    /// Two coordinators never claim the same job.
    fn claim(&self, coordinator: &str, among: &[String], now: i64) -> Result<Option<Claimed>, StoreError>;

    /// Records a job's outcome, if `coordinator` still holds it; false when it does not (it
    /// was requeued and taken by another), so nothing is counted twice.
    fn finish(&self, job: &str, coordinator: &str, outcome: &Outcome, now: i64) -> Result<bool, StoreError>;

    /// Every job, first queued first.
    fn jobs(&self) -> Result<Vec<JobRecord>, StoreError>;
}

/// Builds a [`JobRecord`] from a row's columns (the same columns in both backends).
#[allow(clippy::too_many_arguments)]
fn record(
    location: &str,
    id: i64,
    job: String,
    kind: &str,
    state: &str,
    attempts: i64,
    claimed_by: Option<String>,
    finished_at: Option<i64>,
    outcome: Option<String>,
) -> Result<JobRecord, StoreError> {
    let corrupt = |what: String| StoreError::Corrupt {
        location: location.to_string(),
        job: job.clone(),
        what,
    };
    let kind = JobKind::parse(kind).ok_or_else(|| corrupt(format!("unknown kind `{kind}`")))?;
    let state = JobState::parse(state).ok_or_else(|| corrupt(format!("unknown state `{state}`")))?;
    let outcome = match outcome {
        Some(text) => {
            Some(serde_json::from_str::<Outcome>(&text).map_err(|e| corrupt(format!("its outcome: {e}")))?)
        }
        None => None,
    };
    Ok(JobRecord {
        id,
        job,
        kind,
        state,
        attempts: u32::try_from(attempts).unwrap_or(0),
        claimed_by,
        finished_at,
        outcome,
    })
}

/// A store file's folder, created on first use.
fn ensure_folder(path: &Path) -> Result<(), StoreError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Folder {
                path: dir.to_path_buf(),
                source,
            })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
