//! Why a check could not give a verdict, and what the user can do about it.

use crate::plan::CONTROL;
use crate::runner::RunError;
use crate::{artifacts, recipe, source};

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Recipe(#[from] recipe::RecipeError),
    #[error(transparent)]
    Source(#[from] source::SourceError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(
        "the control build (run {control}) failed with exit status {code}; its log ends with:\n{tail}",
        control = CONTROL
    )]
    ControlFailed { code: i64, tail: String },
    #[error(
        "the control build (run {control}) ran past its timeout of {secs}s and was stopped",
        control = CONTROL
    )]
    ControlTimedOut { secs: u64 },
    #[error("the build produced no outputs{what}")]
    NoOutputs { what: String },
    #[error("collecting the outputs of run {run}")]
    Artifacts {
        run: String,
        #[source]
        source: artifacts::ArtifactError,
    },
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl CheckError {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> CheckError {
        let context = context.into();
        move |source| CheckError::Io { context, source }
    }
}

impl CheckError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            CheckError::Recipe(recipe::RecipeError::NoneApplies { .. }) => {
                "add a repro.toml with [build] command and outputs (see docs/check.md)".into()
            }
            CheckError::Run(e) => return e.hint(),
            CheckError::ControlFailed { tail, .. } if reads_git_history(tail) => {
                "the build reads the repository's history, which it does not get by default: \
                 --with-git (or `git = true` in repro.toml) gives it a .git at the checkout's commit"
                    .into()
            }
            CheckError::ControlFailed { .. } => {
                "the build must succeed in the control run; -v shows the whole log, --keep DIR keeps it. \
                 Builds run offline: vendor dependencies (docs/vendoring.md) or allow --network"
                    .into()
            }
            CheckError::ControlTimedOut { .. } => {
                "raise the limit with --timeout or `timeout` in repro.toml".into()
            }
            CheckError::NoOutputs { .. } => {
                "set [build] outputs in repro.toml to the files the build produces (globs)".into()
            }
            _ => return None,
        })
    }
}

/// Whether a failed build's log says it looked for the repository's history.
fn reads_git_history(tail: &str) -> bool {
    let t = tail.to_ascii_lowercase();
    [
        "not a git repository",
        "setuptools-scm",
        "setuptools_scm",
        "unable to detect version",
    ]
    .iter()
    .any(|s| t.contains(s))
}
