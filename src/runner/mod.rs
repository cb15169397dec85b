//! Runners: where builds execute. The Docker backend (`docker`, through bollard), the local
//! backend (`local`: plain processes, unisolated) and what a run is given (`workspace`).

pub mod docker;
pub mod local;
pub mod workspace;

use std::path::PathBuf;
use std::time::Duration;

/// What a run did, whichever backend ran it.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub exit_code: i64,
    pub timed_out: bool,
    pub duration: Duration,
    pub log_path: PathBuf,
    pub log_tail: Vec<String>,
    /// The outputs archive, when the build succeeded.
    pub outputs_archive: Option<PathBuf>,
    /// Whether `outputs_archive` wraps `out/outputs.tar` (the engine's archive of `/out`) or
    /// is `outputs.tar` itself.
    pub outputs_wrapped: bool,
    /// Environment and mounts the engine reports for the container (evidence of isolation);
    /// empty for the local backend.
    pub container_env: Vec<String>,
    pub container_mounts: Vec<String>,
    /// Time spent outside the build command: create, upload, download, remove.
    pub overhead: Duration,
}

/// Keeps the last lines of a build log.
#[derive(Debug, Default)]
pub struct LogTail {
    lines: std::collections::VecDeque<String>,
}

impl LogTail {
    pub fn push(&mut self, line: String) {
        self.lines.push_back(line);
        if self.lines.len() > docker::LOG_TAIL_LINES {
            self.lines.pop_front();
        }
    }

    pub fn into_vec(self) -> Vec<String> {
        self.lines.into()
    }
}
