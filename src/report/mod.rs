//! The report model and its renderers (text, JSON, Markdown, HTML). Only this module and `cli`
//! print; everything before them returns data.
// The two places that print (house rule, enforced by the clippy lints in Cargo.toml).
#![allow(clippy::print_stdout, clippy::print_stderr)]

pub mod check;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod fleet;
pub mod html;
pub mod inspect;
pub mod json;
pub mod markdown;
pub mod rebuild;
#[cfg(test)]
mod snapshot_tests;
pub mod text;

use serde::Serialize;

use crate::compare::{Comparison, InputInfo, Node};

/// Version of the JSON report schema (`docs/schema/diff-report.v1.json`).
pub const DIFF_SCHEMA_VERSION: u32 = 1;

/// Verdict of a comparison, as the exit code and every report state it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DiffVerdict {
    Identical,
    Different,
    /// Something could not be read: the comparison is incomplete.
    Error,
}

impl DiffVerdict {
    pub fn of(c: &Comparison) -> Self {
        if !c.errors.is_empty() {
            DiffVerdict::Error
        } else if c.identical() {
            DiffVerdict::Identical
        } else {
            DiffVerdict::Different
        }
    }

    pub fn exit_code(self) -> i32 {
        match self {
            DiffVerdict::Identical => 0,
            DiffVerdict::Different => 1,
            DiffVerdict::Error => 2,
        }
    }
}

/// Counts over a difference tree, for summaries.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    /// Nodes in the tree that differ (the inputs themselves included).
    pub differing_nodes: u64,
    /// Members found identical, summed over all containers.
    pub identical_members: u64,
    /// Nodes where a simpler comparator was used than the format called for.
    pub fallbacks: u64,
}

impl Summary {
    pub fn of(root: Option<&Node>) -> Self {
        let mut s = Summary::default();
        if let Some(root) = root {
            root.walk(&mut Vec::new(), &mut |_, n| {
                s.differing_nodes += 1;
                s.identical_members += n.identical_members;
                s.fallbacks += u64::from(n.fallback.is_some());
            });
        }
        s
    }
}

/// One input as reports show it.
#[derive(Debug, Clone, Serialize)]
pub struct Input {
    pub path: String,
    pub format: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl From<&InputInfo> for Input {
    fn from(i: &InputInfo) -> Self {
        Input {
            path: i.path.clone(),
            format: i.format.name().to_string(),
            size: i.size,
            sha256: i.sha256.clone(),
        }
    }
}

/// Nodes whose comparator fell back, with their path, for summaries.
pub fn fallbacks(root: Option<&Node>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(root) = root {
        root.walk(&mut Vec::new(), &mut |path, n| {
            if let Some(f) = &n.fallback {
                out.push((path.join(" ▸ "), format!("{} → {}: {}", f.from, f.to, f.reason)));
            }
        });
    }
    out
}
