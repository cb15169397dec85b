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

    /// `git+URL@REF`, the form SLSA provenance records sources in: the remote as others can
    /// fetch it ([`fetchable_remote`]), or the local path (`git+file:///…`) without one.
    pub fn uri(&self) -> String {
        let url = match &self.origin {
            Some(url) => fetchable_remote(url),
            None => format!("file://{}", self.root.display()),
        };
        format!("git+{url}@{}", self.git_ref)
    }

    /// What the report should say about [`Checkout::uri`]: a source only this machine can fetch.
    pub fn uri_note(&self) -> Option<String> {
        self.uri().starts_with("git+file://").then(|| {
            "the checkout has no remote others can fetch (no `origin`, or a local path): the \
             source is recorded as a local path (git+file://), so rebuilders need a copy of the \
             repository"
                .to_string()
        })
    }

    /// Refuses a checkout whose files under `subdir` are not exactly its commit's.
    pub fn require_clean(&self, subdir: &str) -> Result<(), CheckoutError> {
        let changes = self.modifications(subdir)?;
        if changes.is_empty() {
            return Ok(());
        }
        let shown: Vec<String> = changes.iter().take(10).map(ToString::to_string).collect();
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

/// Hosts known to serve the same repositories over HTTPS as over SSH.
const HTTPS_FORGES: &[&str] = &["github.com", "gitlab.com", "codeberg.org", "bitbucket.org"];

/// A remote URL as others can fetch it: credentials (`user:password@`, a token as the user)
/// and query strings (`?private_token=…`) removed; scp-like `git@host:o/r.git` written as a URL
/// (`https://` for the forges known to serve it, else `ssh://`); a local path as `file://`.
pub fn fetchable_remote(url: &str) -> String {
    let url = url.trim();
    let is_scheme = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+.-".contains(&b))
    };
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) if is_scheme(scheme) => (scheme.to_ascii_lowercase(), rest.to_string()),
        // scp-like when a `:` comes before any `/` (git's rule); else a local path.
        _ => match url.split_once(':') {
            Some((host, path)) if !host.is_empty() && !host.contains('/') => (
                "ssh".to_string(),
                format!("{host}/{}", path.trim_start_matches('/')),
            ),
            _ => return format!("file://{url}"),
        },
    };
    if scheme == "file" {
        return format!("file://{rest}");
    }
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let forge = HTTPS_FORGES.contains(&host.to_ascii_lowercase().as_str());
    let scheme = if scheme == "ssh" && forge {
        "https"
    } else {
        scheme.as_str()
    };
    format!("{scheme}://{host}/{}", path.trim_start_matches('/'))
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

    /// Files flagged skip-worktree or assume-unchanged are invisible to `git status`; their
    /// content is compared with the commit's all the same.
    #[test]
    fn sees_changes_git_status_hides() {
        let d = tempfile::tempdir().unwrap();
        sh(
            d.path(),
            "git init -q -b main . && mkdir p && echo a > p/a && echo b > p/b && echo c > p/c && ln -s a p/l \
             && git add -A && git commit -qm one \
             && git update-index --skip-worktree p/a p/c && git update-index --assume-unchanged p/b p/l",
        );
        let c = Checkout::open(d.path()).unwrap();
        assert!(c.changes("p").unwrap().is_empty(), "flagged but unchanged");
        sh(
            d.path(),
            "echo evil > p/a && chmod +x p/b && rm p/c && ln -sf /etc p/l",
        );
        let changes = c.changes("p").unwrap();
        assert_eq!(changes.len(), 4, "{changes:?}");
        let all = changes
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        for expect in [
            "S p/a (skip-worktree, hidden from git status: its content differs",
            "h p/b (assume-unchanged, hidden from git status: its mode differs",
            "S p/c (skip-worktree, hidden from git status: missing on disk",
            "h p/l (assume-unchanged, hidden from git status: its content differs",
        ] {
            assert!(all.contains(expect), "{expect}\n{all}");
        }
        let e = c.require_clean("p").unwrap_err().to_string();
        assert!(e.contains("p/a"), "{e}");
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
        assert_eq!(c.uri(), "git+https://github.com/o/r.git@refs/heads/main");
        assert_eq!(c.uri_note(), None);
        c.origin = None;
        assert_eq!(c.uri(), "git+file:///src@refs/heads/main");
        assert!(c.uri_note().unwrap().contains("git+file://"));
        for (origin, fetchable) in [
            (
                "https://user:s3cret@github.com/o/r.git",
                "https://github.com/o/r.git",
            ),
            ("https://ghp_TOKEN@github.com/o/r", "https://github.com/o/r"),
            (
                "https://oauth2:glpat-x@gitlab.example/g/r.git?private_token=x#frag",
                "https://gitlab.example/g/r.git",
            ),
            ("HTTPS://example.org:8443/r.git", "https://example.org:8443/r.git"),
            (
                "ssh://git@git.example.org:2222/o/r.git",
                "ssh://git.example.org:2222/o/r.git",
            ),
            ("ssh://git@GitHub.com/o/r.git", "https://GitHub.com/o/r.git"),
            ("deploy@git.example.org:o/r.git", "ssh://git.example.org/o/r.git"),
            ("git.example.org:/srv/r.git", "ssh://git.example.org/srv/r.git"),
            ("git://example.org/r.git", "git://example.org/r.git"),
            ("/srv/git/r.git", "file:///srv/git/r.git"),
            ("file:///srv/git/r.git", "file:///srv/git/r.git"),
            ("./r:x", "file://./r:x"),
        ] {
            assert_eq!(fetchable_remote(origin), fetchable, "{origin}");
            assert!(!fetchable_remote(origin).contains("s3cret"));
        }
    }

    #[test]
    fn refuses_a_folder_outside_git() {
        let d = tempfile::tempdir().unwrap();
        let e = Checkout::open(d.path()).unwrap_err();
        assert!(e.to_string().contains("not in a git work tree"), "{e}");
    }
}
