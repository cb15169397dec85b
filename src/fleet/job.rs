//! A fleet's jobs: what each one rebuilds (a project folder to check, or a provenance with its
//! source), the states it goes through, and what a finished one keeps.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::EngineIdentity;

/// One job as the user gave it, resolved: a project folder (`repro check`) or a provenance file
/// with the folder of its source (`repro rebuild`, spelt `PROVENANCE=SOURCE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    Check { dir: PathBuf },
    Rebuild { provenance: PathBuf, source: PathBuf },
}

/// What kind of job, as the store records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobKind {
    Check,
    Rebuild,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Check => "check",
            JobKind::Rebuild => "rebuild",
        }
    }

    pub fn parse(s: &str) -> Option<JobKind> {
        [JobKind::Check, JobKind::Rebuild]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// Why a job cannot be queued.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("job `{job}`: {path} does not exist")]
    Missing { job: String, path: PathBuf },
    #[error("job `{job}`: {path} is a file, not a project folder")]
    NotAFolder { job: String, path: PathBuf },
    #[error("job `{job}`: {path} is not a folder (a rebuild's source is the checkout's folder)")]
    SourceNotAFolder { job: String, path: PathBuf },
    #[error("job `{job}`: {path} is not a project repro can build")]
    NotAProject {
        job: String,
        path: PathBuf,
        #[source]
        source: crate::recipe::RecipeError,
    },
    #[error("job file {path}")]
    JobFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no jobs: give project folders or PROVENANCE=SOURCE as arguments, or --job-file FILE")]
    None,
}

impl JobError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            JobError::Missing { .. } => {
                "check the path (relative paths are taken from the current folder)".into()
            }
            JobError::NotAFolder { .. } => {
                "a provenance file is rebuilt from its source: write PROVENANCE=SOURCE_FOLDER".into()
            }
            JobError::SourceNotAFolder { .. } => "write PROVENANCE=SOURCE_FOLDER".into(),
            JobError::NotAProject { .. } => {
                "add a repro.toml with [build] command and outputs (see docs/check.md), or leave the \
                 folder out of the batch"
                    .into()
            }
            JobError::JobFile { .. } => "--job-file takes a file with one job per line".into(),
            JobError::None => "for example: repro fleet run test-projects/*".into(),
        })
    }
}

impl Job {
    /// Reads one job as given: `DIR` is a check, `PROVENANCE=SOURCE` a rebuild. The paths
    /// must exist, and a check's folder must be a project a recipe can build.
    pub fn parse(given: &str, recipes: &[crate::recipe::Recipe]) -> Result<Job, JobError> {
        let missing = |path: &Path| JobError::Missing {
            job: given.to_string(),
            path: path.to_path_buf(),
        };
        if let Some((provenance, source)) = given.split_once('=')
            && !Path::new(given).exists()
        {
            let (provenance, source) = (PathBuf::from(provenance), PathBuf::from(source));
            if !provenance.is_file() {
                return Err(missing(&provenance));
            }
            if !source.exists() {
                return Err(missing(&source));
            }
            if !source.is_dir() {
                return Err(JobError::SourceNotAFolder {
                    job: given.to_string(),
                    path: source,
                });
            }
            return Ok(Job::Rebuild { provenance, source });
        }
        let dir = PathBuf::from(given);
        if !dir.exists() {
            return Err(missing(&dir));
        }
        if !dir.is_dir() {
            return Err(JobError::NotAFolder {
                job: given.to_string(),
                path: dir,
            });
        }
        let canonical = std::fs::canonicalize(&dir).map_err(|_| missing(&dir))?;
        crate::recipe::resolve(&canonical, recipes).map_err(|source| JobError::NotAProject {
            job: given.to_string(),
            path: dir.clone(),
            source,
        })?;
        Ok(Job::Check { dir })
    }

    pub fn kind(&self) -> JobKind {
        match self {
            Job::Check { .. } => JobKind::Check,
            Job::Rebuild { .. } => JobKind::Rebuild,
        }
    }
}

/// Jobs from a file: one a line, blank lines and `#` comments left out.
pub fn read_job_file(path: &Path) -> Result<Vec<String>, JobError> {
    let text = std::fs::read_to_string(path).map_err(|source| JobError::JobFile {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect())
}

/// Where a job is. `unchecked` is an infrastructure failure (timeout, out of memory, engine
/// lost): never folded into `not-reproducible`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobState {
    Queued,
    Running,
    Reproducible,
    NotReproducible,
    FailedToBuild,
    DependenciesUnavailable,
    Unchecked,
}

impl JobState {
    pub const ALL: [JobState; 7] = [
        JobState::Queued,
        JobState::Running,
        JobState::Reproducible,
        JobState::NotReproducible,
        JobState::FailedToBuild,
        JobState::DependenciesUnavailable,
        JobState::Unchecked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Reproducible => "reproducible",
            JobState::NotReproducible => "not-reproducible",
            JobState::FailedToBuild => "failed-to-build",
            JobState::DependenciesUnavailable => "dependencies-unavailable",
            JobState::Unchecked => "unchecked",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether the job is done (a verdict, or a reason there is none).
    pub fn is_final(self) -> bool {
        !matches!(self, JobState::Queued | JobState::Running)
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Milliseconds per phase of a job (absent where the job did not reach it or, for rebuilds,
/// where the phases are not timed apart).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timings {
    /// Preflight (engines, image) and the dependency fetch.
    pub fetch_ms: Option<u64>,
    pub runs_ms: Option<u64>,
    pub compare_ms: Option<u64>,
    pub isolation_ms: Option<u64>,
}

/// Which engine ran one run of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunEngine {
    pub run: String,
    pub engine: EngineIdentity,
    /// Engines this run was lost on before, with what happened.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lost: Vec<String>,
}

/// What a finished job keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub state: JobState,
    /// Why there is no verdict (failed, unchecked), in a line.
    pub reason: Option<String>,
    pub duration_ms: u64,
    pub timings: Timings,
    pub runs: Vec<RunEngine>,
    pub culprits: Vec<String>,
    /// The JSON report (check or rebuild schema).
    pub report: Option<String>,
    /// The self-contained HTML report.
    pub report_html: Option<String>,
    /// The signed attestation (a DSSE envelope), when one was signed.
    pub attestation: Option<String>,
}

/// A job as the store has it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    /// Its position in the store (first queued first).
    pub id: i64,
    /// The job as given.
    pub job: String,
    pub kind: JobKind,
    pub state: JobState,
    /// How many times it was claimed (an interrupted job is claimed again).
    pub attempts: u32,
    pub claimed_by: Option<String>,
    pub finished_at: Option<i64>,
    pub outcome: Option<Outcome>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_only_verdicts_and_reasons_are_final() {
        for s in JobState::ALL {
            assert_eq!(JobState::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(JobState::parse("unreproducible"), None);
        assert!(!JobState::Running.is_final() && JobState::Unchecked.is_final());
    }

    #[test]
    fn jobs_are_checked_before_they_are_queued() {
        let recipes = crate::recipe::load(None).unwrap();
        let d = tempfile::tempdir().unwrap();
        let missing = d.path().join("nope");
        let e = Job::parse(missing.to_str().unwrap(), &recipes).unwrap_err();
        assert!(matches!(e, JobError::Missing { .. }), "{e}");
        let empty = d.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let e = Job::parse(empty.to_str().unwrap(), &recipes).unwrap_err();
        assert!(matches!(e, JobError::NotAProject { .. }), "{e}");
        assert!(e.hint().unwrap().contains("repro.toml"));
        let file = d.path().join("prov.json");
        std::fs::write(&file, "{}").unwrap();
        let e = Job::parse(file.to_str().unwrap(), &recipes).unwrap_err();
        assert!(matches!(e, JobError::NotAFolder { .. }), "{e}");
        let given = format!("{}={}", file.display(), empty.display());
        assert_eq!(
            Job::parse(&given, &recipes).unwrap(),
            Job::Rebuild {
                provenance: file.clone(),
                source: empty.clone()
            }
        );
        let given = format!("{}={}", file.display(), file.display());
        assert!(matches!(
            Job::parse(&given, &recipes).unwrap_err(),
            JobError::SourceNotAFolder { .. }
        ));
        let project = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test-projects/c-make-ok");
        assert!(matches!(
            Job::parse(project.to_str().unwrap(), &recipes).unwrap(),
            Job::Check { .. }
        ));
    }

    #[test]
    fn a_job_file_has_one_job_a_line() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("jobs");
        std::fs::write(&f, "# batch\n a \n\nb=c\n").unwrap();
        assert_eq!(read_job_file(&f).unwrap(), ["a", "b=c"]);
        let e = read_job_file(&d.path().join("none")).unwrap_err();
        assert!(e.to_string().contains("none"));
    }
}
