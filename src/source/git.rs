//! The source checkout a build is made from: its repository root, commit, ref and remote, and
//! whether the files a build would get are exactly that commit's.

use std::path::{Path, PathBuf};

/// The checkout cannot be the recorded source: what is wrong, and what to do about it.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CheckoutError {
    pub message: String,
    pub hint: Option<String>,
}

/// A folder of a git work tree, at a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    /// The work tree's root.
    pub root: PathBuf,
    /// The folder, relative to `root` (`""` for the root itself), with `/` separators.
    pub subdir: String,
    /// `HEAD`'s commit, lowercase hex.
    pub commit: String,
    /// `refs/heads/<branch>`, or the commit when `HEAD` is detached.
    pub git_ref: String,
    /// `remote.origin.url`, when there is one.
    pub origin: Option<String>,
}

impl Checkout {
    /// The checkout holding `dir`. Errors when `dir` is not in a git work tree or has no commit.
    pub fn open(dir: &Path) -> Result<Checkout, CheckoutError> {
        let dir = std::fs::canonicalize(dir).map_err(|e| CheckoutError {
            message: format!("cannot open {}: {e}", dir.display()),
            hint: None,
        })?;
        let not_git = || CheckoutError {
            message: format!("{} is not in a git work tree with a commit", dir.display()),
            hint: Some(
                "the recorded source is a git commit: use a checkout of it (`git clone`, `git \
                 checkout COMMIT`), or commit the project first (`git init && git add -A && git \
                 commit`)"
                    .into(),
            ),
        };
        let root = git(&dir, &["rev-parse", "--show-toplevel"]).ok_or_else(not_git)?;
        let root = std::fs::canonicalize(&root).map_err(|_| not_git())?;
        let commit = git(&dir, &["rev-parse", "--verify", "HEAD^{commit}"]).ok_or_else(not_git)?;
        let git_ref = git(&dir, &["symbolic-ref", "-q", "HEAD"]).unwrap_or_else(|| commit.clone());
        let origin = git(&dir, &["config", "--get", "remote.origin.url"]).filter(|u| !u.is_empty());
        let subdir = dir
            .strip_prefix(&root)
            .map(|p| {
                p.components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .unwrap_or_default();
        Ok(Checkout {
            root,
            subdir,
            commit: commit.to_ascii_lowercase(),
            git_ref,
            origin,
        })
    }

    /// Whether the repository has the commit `commit` (hex) in its objects.
    pub fn has_commit(&self, commit: &str) -> bool {
        commit.bytes().all(|b| b.is_ascii_hexdigit())
            && git(&self.root, &["cat-file", "-e", &format!("{commit}^{{commit}}")]).is_some()
    }

    /// The folder the build runs in.
    pub fn dir(&self) -> PathBuf {
        if self.subdir.is_empty() {
            self.root.clone()
        } else {
            self.root.join(&self.subdir)
        }
    }

    /// `git+URL@REF`, the form SLSA provenance records sources in. Without a remote the URL is
    /// the local path (`git+file:///…`), which says honestly where the build came from.
    pub fn uri(&self) -> String {
        let url = match &self.origin {
            Some(url) if url.contains("://") => url.clone(),
            // scp-like `git@host:org/repo.git`.
            Some(url) if url.contains(':') && !url.starts_with('/') => {
                let (host, path) = url.split_once(':').unwrap_or((url, ""));
                let host = host.rsplit('@').next().unwrap_or(host);
                format!("ssh://{host}/{path}")
            }
            Some(path) => format!("file://{path}"),
            None => format!("file://{}", self.root.display()),
        };
        format!("git+{url}@{}", self.git_ref)
    }

    /// Files under `subdir` that differ from the commit: modified, staged, deleted or untracked
    /// (not ignored), as `git status --porcelain` lists them. A build of a checkout with any of
    /// these is not a build of the commit.
    pub fn changes(&self, subdir: &str) -> Result<Vec<String>, CheckoutError> {
        let pathspec = if subdir.is_empty() { "." } else { subdir };
        let out = super::git_command()
            .arg("-C")
            .arg(&self.root)
            .args(["status", "--porcelain", "--untracked-files=all", "--", pathspec])
            .output()
            .map_err(|e| CheckoutError {
                message: format!("cannot run git in {}: {e}", self.root.display()),
                hint: None,
            })?;
        if !out.status.success() {
            return Err(CheckoutError {
                message: format!(
                    "git status failed in {}: {}",
                    self.root.display(),
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
                hint: None,
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect())
    }

    /// Refuses a checkout whose files under `subdir` are not exactly its commit's.
    pub fn require_clean(&self, subdir: &str) -> Result<(), CheckoutError> {
        let changes = self.changes(subdir)?;
        if changes.is_empty() {
            return Ok(());
        }
        let shown: Vec<&str> = changes.iter().take(10).map(String::as_str).collect();
        let more = changes.len().saturating_sub(shown.len());
        Err(CheckoutError {
            message: format!(
                "the checkout {} has uncommitted changes, so it is not commit {}:\n  {}{}",
                self.root.join(subdir).display(),
                self.commit,
                shown.join("\n  "),
                if more > 0 {
                    format!("\n  … and {more} more")
                } else {
                    String::new()
                }
            ),
            hint: Some("commit or stash them (`git stash -u`), or build from a clean clone".into()),
        })
    }
}

/// `git -C dir ARGS`, trimmed stdout on success.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = super::git_command().arg("-C").arg(dir).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::source::commit::tests::sh;

    #[test]
    fn reads_a_checkout_and_its_changes() {
        let d = tempfile::tempdir().unwrap();
        sh(
            d.path(),
            "git init -q -b main . && mkdir -p p && echo x > p/f && echo y > top && git add -A && git commit -qm one",
        );
        let c = Checkout::open(&d.path().join("p")).unwrap();
        assert_eq!(c.subdir, "p");
        assert_eq!(c.commit.len(), 40);
        assert_eq!(c.git_ref, "refs/heads/main");
        assert!(c.uri().starts_with("git+file:///"), "{}", c.uri());
        assert!(c.uri().ends_with("@refs/heads/main"));
        assert!(c.changes("p").unwrap().is_empty());
        c.require_clean("p").unwrap();
        // A change outside the folder does not matter; inside it does, untracked files too.
        sh(d.path(), "echo z > top");
        c.require_clean("p").unwrap();
        sh(d.path(), "echo new > p/g");
        let e = c.require_clean("p").unwrap_err().to_string();
        assert!(e.contains("p/g") && e.contains("uncommitted"), "{e}");
    }

    #[test]
    fn remote_urls_become_git_uris() {
        let mut c = Checkout {
            root: "/src".into(),
            subdir: String::new(),
            commit: "a".repeat(40),
            git_ref: "refs/heads/main".into(),
            origin: Some("https://github.com/o/r.git".into()),
        };
        assert_eq!(c.uri(), "git+https://github.com/o/r.git@refs/heads/main");
        c.origin = Some("git@github.com:o/r.git".into());
        assert_eq!(c.uri(), "git+ssh://github.com/o/r.git@refs/heads/main");
        c.origin = None;
        assert_eq!(c.uri(), "git+file:///src@refs/heads/main");
    }

    #[test]
    fn refuses_a_folder_outside_git() {
        let d = tempfile::tempdir().unwrap();
        let e = Checkout::open(d.path()).unwrap_err();
        assert!(e.to_string().contains("not in a git work tree"), "{e}");
    }
}
