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
        "the control build (run {control}) ran past its timeout of {secs}s and was stopped; its log ends with:\n{tail}",
        control = CONTROL
    )]
    ControlTimedOut { secs: u64, tail: String },
    #[error(
        "the control build (run {control}) failed: {} reached its {} limit of {}; its log ends with:\n{tail}",
        filled.path, filled.limit.name(), crate::runner::limits::size(filled.limit_bytes),
        control = CONTROL
    )]
    ControlFilled {
        filled: crate::runner::limits::Filled,
        tail: String,
    },
    #[error("the build produced no outputs{what}")]
    NoOutputs { what: String },
    #[error("collecting the outputs of run {run}")]
    Artifacts {
        run: String,
        #[source]
        source: artifacts::ArtifactError,
    },
    #[error(transparent)]
    Deps(#[from] crate::deps::DepsError),
    #[error(
        "fetching the {ecosystem} dependencies ({step}) {}; its log ends with:\n{tail}",
        if *timed_out { format!("ran past {}s and was stopped", super::deps::FETCH_TIMEOUT_SECS) } else { format!("failed with exit status {code}") }
    )]
    FetchFailed {
        ecosystem: crate::deps::Ecosystem,
        step: String,
        code: i64,
        timed_out: bool,
        tail: String,
    },
    #[error(
        "the {backend} backend cannot fetch the {ecosystem} dependencies: the fetch runs in the builder image"
    )]
    FetchUnavailable {
        ecosystem: crate::deps::Ecosystem,
        backend: &'static str,
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
            CheckError::ControlFailed { tail, .. } => match missing_dependency(tail) {
                Some(missing) => format!(
                    "the build looked for {missing}, which is not among the dependencies repro fetched \
                     (builds run offline): declare it in the project's lockfile (Cargo.lock, go.sum, \
                     [build-system] requires, a hashed requirements file) so the fetch phase gets it, \
                     vendor it, or allow --network (see docs/dependencies.md)"
                ),
                None => "the build must succeed in the control run; -v shows the whole log, --keep DIR \
                         keeps it. Builds run offline with the dependencies the fetch phase got (see \
                         docs/dependencies.md); --network allows the network"
                    .into(),
            },
            CheckError::FetchFailed { .. } => "the fetch downloads from the registries with the network \
                 on, the host's CA bundle and the proxy variables of your environment; -v shows the whole \
                 log. Vendor the dependencies (see docs/dependencies.md), or let the build download them \
                 itself with --network (then unrecorded)"
                .into(),
            CheckError::FetchUnavailable { .. } => "use the Docker backend (leave out --local), vendor the \
                 dependencies (see docs/dependencies.md), or let the build download them itself with \
                 --network (then unrecorded)"
                .into(),
            CheckError::ControlTimedOut { .. } => {
                "raise the limit with --timeout or `timeout` in repro.toml; -v shows the whole log, --keep \
                 DIR keeps it"
                    .into()
            }
            CheckError::ControlFilled { filled, .. } => {
                format!("{} (see docs/check.md, \"Limits\")", filled.limit.how_to_raise())
            }
            CheckError::NoOutputs { .. } => {
                "set [build] outputs in repro.toml to the files the build produces (globs)".into()
            }
            _ => return None,
        })
    }
}

/// What a failed build's log says it could not find among its dependencies, quoted as the
/// package manager named it (cargo, pip, go).
fn missing_dependency(tail: &str) -> Option<String> {
    const PATTERNS: [(&str, &str); 6] = [
        ("no matching package named `", "`"),
        ("failed to get `", "`"),
        ("No matching distribution found for ", "\n"),
        ("Could not find a version that satisfies the requirement ", " "),
        ("cannot find module providing package ", ":"),
        ("module lookup disabled by GOPROXY=off", ""),
    ];
    for line in tail.lines() {
        for (start, end) in PATTERNS {
            let Some(pos) = line.find(start) else { continue };
            if end.is_empty() {
                return Some("a Go module (module lookup disabled by GOPROXY=off)".into());
            }
            let rest = line.get(pos + start.len()..).unwrap_or("");
            let name = rest.split(end).next().unwrap_or(rest).trim();
            if !name.is_empty() {
                return Some(format!("`{name}`"));
            }
        }
    }
    if tail.contains("attempting to make an HTTP request, but --offline was specified") {
        return Some("a crate that is not in Cargo.lock's fetched set".into());
    }
    None
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_build_names_the_dependency_it_could_not_find() {
        let cargo = "error: no matching package named `itoa` found\nlocation searched: registry `crates-io`";
        assert_eq!(missing_dependency(cargo).as_deref(), Some("`itoa`"));
        let pip = "ERROR: Could not find a version that satisfies the requirement hatchling (from versions: none)\n\
                   ERROR: No matching distribution found for hatchling";
        assert_eq!(missing_dependency(pip).as_deref(), Some("`hatchling`"));
        let go = "main.go:3:8: cannot find module providing package github.com/x/y: import lookup disabled";
        assert_eq!(missing_dependency(go).as_deref(), Some("`github.com/x/y`"));
        assert_eq!(missing_dependency("make: *** [all] Error 1"), None);
        let e = CheckError::ControlFailed {
            code: 101,
            tail: cargo.into(),
        };
        let hint = e.hint().unwrap();
        assert!(hint.contains("`itoa`") && hint.contains("--network"), "{hint}");
    }
}
