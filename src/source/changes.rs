//! How a checkout's files differ from its commit: what `git status` lists, the files flagged
//! skip-worktree or assume-unchanged whose content on disk is not the commit's (which
//! `git status` does not look at), and the files a sparse checkout leaves off the disk (which
//! are not changes to what a build of the commit gets).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;

use serde::Serialize;

use super::git::{Checkout, CheckoutError};

/// What happened to one file, as the reports name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    Modified,
    Added,
    Deleted,
    Renamed,
    Copied,
    TypeChanged,
    /// A merge conflict.
    Unmerged,
    /// Not tracked and not ignored: a working-tree build gets it, the commit has no such file.
    Untracked,
    /// Flagged skip-worktree, and not the commit's on disk (`git status` does not say).
    HiddenSkipWorktree,
    /// Flagged assume-unchanged, and not the commit's on disk (`git status` does not say).
    HiddenAssumeUnchanged,
    /// Left off the disk by a sparse checkout: a build of the commit (read from git objects)
    /// gets it all the same, a build of the working tree does not.
    Sparse,
}

impl ChangeKind {
    /// Whether the files a build of the working tree gets differ from the commit's in a way
    /// its author made: everything but a sparse checkout's absent files.
    pub fn is_modification(self) -> bool {
        self != ChangeKind::Sparse
    }

    pub fn name(self) -> &'static str {
        match self {
            ChangeKind::Modified => "modified",
            ChangeKind::Added => "added",
            ChangeKind::Deleted => "deleted",
            ChangeKind::Renamed => "renamed",
            ChangeKind::Copied => "copied",
            ChangeKind::TypeChanged => "type-changed",
            ChangeKind::Unmerged => "unmerged",
            ChangeKind::Untracked => "untracked",
            ChangeKind::HiddenSkipWorktree => "hidden-skip-worktree",
            ChangeKind::HiddenAssumeUnchanged => "hidden-assume-unchanged",
            ChangeKind::Sparse => "sparse",
        }
    }

    /// The kind of a `git status --porcelain` entry by its two status letters.
    fn of_status(xy: &[u8]) -> ChangeKind {
        let has = |c: u8| xy.contains(&c);
        if xy == b"??" {
            ChangeKind::Untracked
        } else if has(b'U') || xy == b"AA" || xy == b"DD" {
            ChangeKind::Unmerged
        } else if has(b'D') {
            ChangeKind::Deleted
        } else if has(b'R') {
            ChangeKind::Renamed
        } else if has(b'C') {
            ChangeKind::Copied
        } else if has(b'T') {
            ChangeKind::TypeChanged
        } else if has(b'A') {
            ChangeKind::Added
        } else {
            ChangeKind::Modified
        }
    }
}

/// One file of the checkout that is not as the commit has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceChange {
    /// Relative to the repository root, `/`-separated, escaped for showing
    /// ([`crate::escape::name`]): undecodable bytes as `\xNN`.
    pub path: String,
    pub change: ChangeKind,
    /// Why, when git's status letters do not say (`its content differs from the commit's`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// git's status letters (`" M"`, `"??"`, `"R "`), or the index flag (`S`, `h`).
    #[serde(skip)]
    code: String,
}

/// The form provenance records (`externalParameters.uncommittedChanges`) and messages show:
/// git's porcelain line, or the flag, the path and why for what git status hides.
impl std::fmt::Display for SourceChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.change, &self.detail) {
            (ChangeKind::HiddenSkipWorktree, Some(why)) => write!(
                f,
                "{} {} (skip-worktree, hidden from git status: {why})",
                self.code, self.path
            ),
            (ChangeKind::HiddenAssumeUnchanged, Some(why)) => write!(
                f,
                "{} {} (assume-unchanged, hidden from git status: {why})",
                self.code, self.path
            ),
            (ChangeKind::Sparse, _) => write!(
                f,
                "{} {} (skip-worktree, left out by the sparse checkout)",
                self.code, self.path
            ),
            _ => write!(f, "{} {}", self.code, self.path),
        }
    }
}

impl Checkout {
    /// Files under `subdir` that differ from the commit: modified, staged, deleted or untracked
    /// (not ignored) as `git status` lists them, flagged files changed behind git status's back,
    /// and files a sparse checkout leaves out ([`ChangeKind::Sparse`], not modifications).
    pub fn changes(&self, subdir: &str) -> Result<Vec<SourceChange>, CheckoutError> {
        let pathspec = if subdir.is_empty() { "." } else { subdir };
        let status = self.run_git(
            &[
                "status",
                "--porcelain=v1",
                "-z",
                "--untracked-files=all",
                "--",
                pathspec,
            ],
            None,
        )?;
        let mut changes = parse_status(&status);
        changes.extend(self.hidden_changes(pathspec)?);
        Ok(changes)
    }

    /// The changes that make a working tree not its commit ([`ChangeKind::is_modification`]).
    pub fn modifications(&self, subdir: &str) -> Result<Vec<SourceChange>, CheckoutError> {
        let mut changes = self.changes(subdir)?;
        changes.retain(|c| c.change.is_modification());
        Ok(changes)
    }

    /// `git -C root ARGS` (literal pathspecs), its stdout; an error naming the checkout.
    fn run_git(&self, args: &[&str], input: Option<Vec<u8>>) -> Result<Vec<u8>, CheckoutError> {
        let mut c = super::git_command();
        c.arg("-C").arg(&self.root).env("GIT_LITERAL_PATHSPECS", "1");
        super::git_output(c, args, input).map_err(|what| CheckoutError {
            message: format!("{what} in {}", self.root.display()),
            hint: None,
        })
    }

    /// Whether the checkout is sparse (`core.sparseCheckout`): then skip-worktree files
    /// missing on disk are what the sparse patterns leave out, not deletions.
    fn is_sparse(&self) -> bool {
        self.run_git(&["config", "--type=bool", "core.sparseCheckout"], None)
            .is_ok_and(|out| out.trim_ascii() == b"true")
    }

    /// Files flagged skip-worktree or assume-unchanged (which `git status` does not look at)
    /// whose content, link target or mode on disk is not the index's; in a sparse checkout, a
    /// skip-worktree file absent from the disk is [`ChangeKind::Sparse`].
    fn hidden_changes(&self, pathspec: &str) -> Result<Vec<SourceChange>, CheckoutError> {
        let listing = self.run_git(&["ls-files", "-v", "-s", "-z", "--", pathspec], None)?;
        let sparse = self.is_sparse();
        let mut changes = Vec::new();
        for record in listing.split(|&b| b == 0).filter(|r| !r.is_empty()) {
            let Some(tab) = record.iter().position(|&b| b == b'\t') else {
                continue;
            };
            let meta = String::from_utf8_lossy(&record[..tab]).into_owned();
            let path = &record[tab + 1..];
            let mut fields = meta.split(' ');
            let (Some(tag), Some(mode), Some(oid)) = (fields.next(), fields.next(), fields.next()) else {
                continue;
            };
            let skip_worktree = tag == "S";
            let hidden = skip_worktree || tag.chars().all(|c| c.is_ascii_lowercase());
            // Submodules (160000) and a sparse index's folders (040000) have no file to read.
            if !hidden || mode == "160000" || mode == "040000" {
                continue;
            }
            let full = self.root.join(OsStr::from_bytes(path));
            let kind = if skip_worktree {
                ChangeKind::HiddenSkipWorktree
            } else {
                ChangeKind::HiddenAssumeUnchanged
            };
            let (kind, why) = match std::fs::symlink_metadata(&full) {
                Err(_) if skip_worktree && sparse => (ChangeKind::Sparse, None),
                Err(_) => (kind, Some("missing on disk")),
                Ok(m) => (kind, self.differs(&full, &m, path, mode, oid)?),
            };
            if kind == ChangeKind::Sparse || why.is_some() {
                changes.push(SourceChange {
                    path: crate::escape::name(path),
                    change: kind,
                    detail: why.map(str::to_string),
                    code: tag.to_string(),
                });
            }
        }
        Ok(changes)
    }

    /// Why the file at `full` is not the index's blob `oid` with `mode`, if it is not.
    fn differs(
        &self,
        full: &std::path::Path,
        meta: &std::fs::Metadata,
        path: &[u8],
        mode: &str,
        oid: &str,
    ) -> Result<Option<&'static str>, CheckoutError> {
        let link = meta.file_type().is_symlink();
        let disk_mode = if link {
            "120000"
        } else if meta.permissions().mode() & 0o111 != 0 {
            "100755"
        } else {
            "100644"
        };
        if disk_mode != mode {
            return Ok(Some("its mode differs from the commit's"));
        }
        let content = if link {
            std::fs::read_link(full).map(|t| t.as_os_str().as_bytes().to_vec())
        } else {
            std::fs::read(full)
        }
        .map_err(|e| CheckoutError {
            message: format!("cannot read {}: {e}", full.display()),
            hint: None,
        })?;
        let path_arg = format!("--path={}", String::from_utf8_lossy(path));
        let hashed = self.run_git(&["hash-object", &path_arg, "--stdin"], Some(content))?;
        Ok((String::from_utf8_lossy(&hashed).trim() != oid)
            .then_some("its content differs from the commit's"))
    }
}

impl SourceChange {
    /// A `git status` entry: its two status letters and its path (bytes, as git gives it).
    pub fn from_status(xy: &[u8], path: &[u8]) -> SourceChange {
        SourceChange {
            path: crate::escape::name(path),
            change: ChangeKind::of_status(xy),
            detail: None,
            code: String::from_utf8_lossy(xy).into_owned(),
        }
    }
}

/// The entries of `git status --porcelain=v1 -z`: `XY path`, and for a rename or copy the
/// original path as the next record (left out: the new path is what a build sees).
fn parse_status(out: &[u8]) -> Vec<SourceChange> {
    let mut records = out.split(|&b| b == 0).filter(|r| !r.is_empty());
    let mut changes = Vec::new();
    while let Some(record) = records.next() {
        let (Some(xy), Some(path)) = (record.get(..2), record.get(3..)) else {
            continue;
        };
        if xy.iter().any(|&b| b == b'R' || b == b'C') {
            records.next();
        }
        changes.push(SourceChange::from_status(xy, path));
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_records_become_kinds() {
        let out = b" M src/a.c\0?? new\xff\0R  b\0a\0D  gone\0UU conflict\0 T link\0A  added\0";
        let got: Vec<(String, ChangeKind, String)> = parse_status(out)
            .into_iter()
            .map(|c| (c.path.clone(), c.change, c.to_string()))
            .collect();
        let want = [
            ("src/a.c", ChangeKind::Modified, " M src/a.c"),
            ("new\\xff", ChangeKind::Untracked, "?? new\\xff"),
            ("b", ChangeKind::Renamed, "R  b"),
            ("gone", ChangeKind::Deleted, "D  gone"),
            ("conflict", ChangeKind::Unmerged, "UU conflict"),
            ("link", ChangeKind::TypeChanged, " T link"),
            ("added", ChangeKind::Added, "A  added"),
        ];
        assert_eq!(got.len(), want.len(), "{got:?}");
        for (g, w) in got.iter().zip(want) {
            assert_eq!((g.0.as_str(), g.1, g.2.as_str()), w);
        }
        // Truncated and empty records are skipped, never a panic.
        assert!(parse_status(b"M\0\0??").is_empty());
        assert_eq!(parse_status(b"R  only-new\0").len(), 1);
    }
}

#[cfg(test)]
mod sparse_tests {
    use super::*;
    use crate::source::commit::tests::sh;

    /// A sparse checkout's absent files are not changes to the commit; a file outside the
    /// sparse set written to the disk anyway, or a flagged file changed inside it, is.
    #[test]
    fn tells_sparse_entries_from_hidden_modifications() {
        let d = tempfile::tempdir().unwrap();
        sh(
            d.path(),
            "git init -q -b main . && mkdir -p p q/deep && echo a > p/a && echo b > q/b \
             && echo c > q/deep/c && echo top > top && git add -A && git commit -qm one \
             && git sparse-checkout set p",
        );
        assert!(!d.path().join("q/b").exists(), "the sparse checkout left q out");
        let c = Checkout::open(d.path()).unwrap();
        let changes = c.changes("").unwrap();
        let kinds: Vec<(&str, ChangeKind)> = changes.iter().map(|c| (c.path.as_str(), c.change)).collect();
        assert_eq!(
            kinds,
            [("q/b", ChangeKind::Sparse), ("q/deep/c", ChangeKind::Sparse)]
        );
        assert!(c.modifications("").unwrap().is_empty());
        c.require_clean("").unwrap();
        assert!(changes[0].to_string().contains("left out by the sparse checkout"));

        sh(
            d.path(),
            "mkdir -p q && echo evil > q/b && git update-index --skip-worktree p/a && echo evil > p/a",
        );
        // (git ≥ 2.37 clears the flag of a file present outside the sparse set, so its status
        // shows it as modified; older git leaves it flagged and it is a hidden change.)
        let mods = c.modifications("").unwrap();
        let mut paths: Vec<&str> = mods.iter().map(|c| c.path.as_str()).collect();
        paths.sort();
        assert_eq!(paths, ["p/a", "q/b"], "{mods:?}");
        assert!(mods.iter().all(|m| m.change.is_modification()), "{mods:?}");
        assert!(c.require_clean("").unwrap_err().to_string().contains("q/b"));
        // Without sparse checkout, a missing skip-worktree file is a hidden deletion.
        sh(
            d.path(),
            "rm q/b && git config --worktree core.sparseCheckout false && git update-index --skip-worktree q/b",
        );
        let mods = c.modifications("").unwrap();
        assert!(
            mods.iter()
                .any(|m| m.path == "q/b" && m.detail.as_deref() == Some("missing on disk")),
            "{mods:?}"
        );
    }
}
