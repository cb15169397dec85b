//! A commit's tree at a folder, read from the repository's objects (`git ls-tree`, `git
//! cat-file --batch`) into a scratch folder: what `repro build` and `repro rebuild` build, so
//! that nothing in the work tree (a modified, untracked, skip-worktree or assume-unchanged
//! file, a symlink named as the folder) changes it.
//!
//! Blobs are written as they are stored: no smudge filter, no end-of-line conversion, no
//! `export-subst`. Symlinks stay symlinks and are never followed on the host. Submodules
//! (gitlinks) become empty folders, as in `git archive`; git-lfs pointers stay pointers. Both are
//! listed so the report can say so.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use super::{EntryKind, SourceEntry, SourceError, git_command, read_err};

/// The first bytes of a git-lfs pointer file.
const LFS_POINTER: &[u8] = b"version https://git-lfs.github.com/spec/v1";
/// git-lfs pointers are small; a larger blob is content, whatever it starts with.
const LFS_POINTER_MAX: u64 = 1024;

/// The tree of a commit at a folder, written out under a scratch directory removed on drop.
#[derive(Debug)]
pub struct CommitTree {
    scratch: tempfile::TempDir,
    /// The repository the objects were read from (its work tree's root).
    pub repo: PathBuf,
    /// The commit, lowercase hex.
    pub commit: String,
    /// The folder of the repository, `/`-separated (`""`: its root).
    pub folder: String,
    /// Every entry of the folder's tree, parents first, sorted by path.
    pub entries: Vec<SourceEntry>,
    /// Submodules (gitlinks), built as empty folders.
    pub submodules: Vec<PathBuf>,
    /// Files that are git-lfs pointers, built as the pointers.
    pub lfs_pointers: Vec<PathBuf>,
    /// The time of the last commit up to `commit` that touched the folder (`SOURCE_DATE_EPOCH`).
    pub commit_time: i64,
}

impl CommitTree {
    /// Where the folder's tree was written.
    pub fn dir(&self) -> PathBuf {
        self.scratch.path().join("tree")
    }

    /// The repository's history as `.git` entries at this commit, for builds that read it
    /// (made under `work`); the folder must be the repository's root.
    pub fn standalone_git(&self, work: &Path) -> Result<Vec<SourceEntry>, SourceError> {
        if !self.folder.is_empty() {
            return Err(SourceError::Git(format!(
                "the build asks for the repository's history (.git), but `{}` is a folder of the \
                 repository, not its root",
                self.folder
            )));
        }
        super::standalone_git(&self.repo, Some(&self.commit), work)
    }

    /// What the report should say about the tree (submodules and git-lfs pointers).
    pub fn notes(&self) -> Vec<String> {
        let list = |paths: &[PathBuf]| {
            let shown: Vec<String> = paths
                .iter()
                .take(5)
                .map(|p| crate::escape::os_name(p.as_os_str()))
                .collect();
            let more = paths.len().saturating_sub(shown.len());
            if more > 0 {
                format!("{} and {more} more", shown.join(", "))
            } else {
                shown.join(", ")
            }
        };
        let mut notes = Vec::new();
        if !self.submodules.is_empty() {
            notes.push(format!(
                "submodules are not part of the commit's tree and were built as empty folders: {}",
                list(&self.submodules)
            ));
        }
        if !self.lfs_pointers.is_empty() {
            notes.push(format!(
                "git-lfs pointers were built as the pointer files the commit holds, not the \
                 content they point to: {}",
                list(&self.lfs_pointers)
            ));
        }
        notes
    }
}

/// Why a recorded folder cannot be built.
fn folder_error(folder: &str, why: impl std::fmt::Display) -> SourceError {
    SourceError::Folder {
        folder: folder.to_string(),
        why: why.to_string(),
    }
}

/// Checks a recorded folder lexically: relative, `/`-separated, no `.`, `..` or empty
/// components, no `.git`. Returns its components.
pub fn folder_components(folder: &str) -> Result<Vec<&str>, SourceError> {
    if folder.is_empty() {
        return Ok(Vec::new());
    }
    if folder.starts_with('/') {
        return Err(folder_error(
            folder,
            "it is absolute: it would leave the repository",
        ));
    }
    let parts: Vec<&str> = folder.split('/').collect();
    for p in &parts {
        match *p {
            ".." => return Err(folder_error(folder, "it has `..`: it would leave the repository")),
            "." | "" => return Err(folder_error(folder, "it has an empty or `.` component")),
            p if p.eq_ignore_ascii_case(".git") => {
                return Err(folder_error(folder, "it names the repository's .git"));
            }
            p if p.contains('\0') || p.contains('\\') => {
                return Err(folder_error(folder, "it has a NUL or a backslash"));
            }
            _ => {}
        }
    }
    Ok(parts)
}

/// Runs git in `root` with literal pathspecs, stdout on success.
fn git(root: &Path, args: &[&str]) -> Result<Vec<u8>, SourceError> {
    let mut command = git_command();
    command.arg("-C").arg(root).env("GIT_LITERAL_PATHSPECS", "1");
    super::git_output(command, args, None)
        .map_err(|e| SourceError::Git(format!("{e} (in {})", root.display())))
}

/// One line of `git ls-tree -z`.
struct TreeLine<'a> {
    mode: &'a [u8],
    oid: &'a str,
    path: &'a [u8],
}

fn parse_ls_tree(out: &[u8]) -> Result<Vec<TreeLine<'_>>, SourceError> {
    let bad = || SourceError::Git("git ls-tree printed a line repro cannot read".into());
    let mut lines = Vec::new();
    for record in out.split(|&b| b == 0).filter(|r| !r.is_empty()) {
        let tab = record.iter().position(|&b| b == b'\t').ok_or_else(bad)?;
        let (meta, path) = (&record[..tab], &record[tab + 1..]);
        let mut fields = meta.split(|&b| b == b' ');
        let (Some(mode), Some(_kind), Some(oid), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(bad());
        };
        let oid = std::str::from_utf8(oid)
            .ok()
            .filter(|o| !o.is_empty() && o.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(bad)?;
        lines.push(TreeLine { mode, oid, path });
    }
    Ok(lines)
}

/// The tree object of `folder` at `commit`: refuses a folder that is missing, a symlink, a
/// submodule or a file in the commit's tree.
fn folder_tree(root: &Path, commit: &str, folder: &str) -> Result<String, SourceError> {
    let parts = folder_components(folder)?;
    let mut tree = String::from_utf8_lossy(&git(
        root,
        &["rev-parse", "--verify", &format!("{commit}^{{tree}}")],
    )?)
    .trim()
    .to_string();
    for i in 0..parts.len() {
        let prefix = parts[..=i].join("/");
        let out = git(root, &["ls-tree", "-z", "--full-tree", commit, "--", &prefix])?;
        let lines = parse_ls_tree(&out)?;
        let Some(line) = lines.iter().find(|l| l.path == prefix.as_bytes()) else {
            return Err(folder_error(
                folder,
                format!("`{prefix}` is not in commit {commit}"),
            ));
        };
        match line.mode {
            b"040000" => tree = line.oid.to_string(),
            b"120000" => {
                return Err(folder_error(
                    folder,
                    format!(
                        "`{prefix}` is a symlink in commit {commit}: repro builds folders, never what a link points to"
                    ),
                ));
            }
            b"160000" => {
                return Err(folder_error(
                    folder,
                    format!("`{prefix}` is a submodule in commit {commit}"),
                ));
            }
            _ => {
                return Err(folder_error(
                    folder,
                    format!("`{prefix}` is a file in commit {commit}"),
                ));
            }
        }
    }
    Ok(tree)
}

/// The kind of a tree entry by its mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Tree,
    File { executable: bool },
    Symlink,
    Gitlink,
}

impl Mode {
    fn parse(mode: &[u8]) -> Option<Mode> {
        Some(match mode {
            b"040000" => Mode::Tree,
            b"100644" | b"100664" | b"100640" => Mode::File { executable: false },
            b"100755" => Mode::File { executable: true },
            b"120000" => Mode::Symlink,
            b"160000" => Mode::Gitlink,
            _ => return None,
        })
    }
}

/// Checks one path of the tree: components that are names (no `.`, `..`, empty, `.git`).
fn checked_path(raw: &[u8]) -> Result<PathBuf, SourceError> {
    let ok = !raw.is_empty()
        && raw.split(|&b| b == b'/').all(|c| {
            !c.is_empty() && c != b"." && c != b".." && !c.eq_ignore_ascii_case(b".git") && !c.contains(&0)
        });
    if !ok {
        return Err(SourceError::Git(format!(
            "the commit's tree has an entry repro refuses to write: `{}`",
            crate::escape::name(raw)
        )));
    }
    Ok(PathBuf::from(OsStr::from_bytes(raw)))
}

/// Reads the tree of `folder` at `commit` of the repository `root` from its objects and writes it
/// under a new scratch directory in `scratch_parent` (the system's temporary folder when
/// `None`).
pub fn read_commit_tree(
    root: &Path,
    commit: &str,
    folder: &str,
    scratch_parent: Option<&Path>,
) -> Result<CommitTree, SourceError> {
    // A name git could read as an option or a revision expression is never passed on.
    if commit != "HEAD" && (commit.is_empty() || !commit.bytes().all(|b| b.is_ascii_hexdigit())) {
        return Err(SourceError::Git(format!(
            "`{}` is not a commit id",
            crate::escape::text(commit)
        )));
    }
    let commit = String::from_utf8_lossy(&git(
        root,
        &["rev-parse", "--verify", &format!("{commit}^{{commit}}")],
    )?)
    .trim()
    .to_ascii_lowercase();
    let tree = folder_tree(root, &commit, folder)?;
    let pathspec: &[&str] = if folder.is_empty() { &[] } else { &["--", folder] };
    let time = git(
        root,
        &[["log", "-1", "--format=%ct", &commit].as_slice(), pathspec].concat(),
    )?;
    let commit_time = String::from_utf8_lossy(&time)
        .trim()
        .parse::<i64>()
        .map_err(|_| SourceError::Git(format!("no commit time for {commit}")))?;
    let listing = git(root, &["ls-tree", "-r", "-t", "-z", "--full-tree", &tree])?;
    let lines = parse_ls_tree(&listing)?;
    let scratch = match scratch_parent {
        Some(p) => tempfile::Builder::new().prefix("repro-commit-").tempdir_in(p),
        None => crate::scratch::tempdir("commit"),
    }
    .map_err(|e| SourceError::Read {
        path: scratch_parent.map_or_else(std::env::temp_dir, Path::to_path_buf),
        source: e,
    })?;
    let mut out = CommitTree {
        scratch,
        repo: root.to_path_buf(),
        commit,
        folder: folder.to_string(),
        entries: Vec::new(),
        submodules: Vec::new(),
        lfs_pointers: Vec::new(),
        commit_time,
    };
    let dest = out.dir();
    std::fs::create_dir(&dest).map_err(read_err(&dest))?;
    let mut dirs: BTreeSet<PathBuf> = BTreeSet::new();
    let mut blobs: Vec<(PathBuf, Mode, &str)> = Vec::new();
    for line in &lines {
        let path = checked_path(line.path)?;
        let mode = Mode::parse(line.mode).ok_or_else(|| {
            SourceError::Git(format!(
                "the commit's tree has an entry of unknown mode {}: `{}`",
                String::from_utf8_lossy(line.mode),
                crate::escape::name(line.path)
            ))
        })?;
        // Every parent must be a folder this reader made: never write through a link.
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
            && !dirs.contains(parent)
        {
            return Err(SourceError::Git(format!(
                "the commit's tree lists `{}` before its folder",
                crate::escape::name(line.path)
            )));
        }
        match mode {
            Mode::Tree | Mode::Gitlink => {
                let full = dest.join(&path);
                std::fs::create_dir(&full).map_err(read_err(&full))?;
                if mode == Mode::Tree {
                    dirs.insert(path.clone());
                } else {
                    set_mtime(&full, commit_time)?;
                    out.submodules.push(path.clone());
                }
                out.entries.push(SourceEntry {
                    path,
                    kind: EntryKind::Dir,
                    origin: None,
                });
            }
            Mode::File { .. } | Mode::Symlink => blobs.push((path, mode, line.oid)),
        }
    }
    write_blobs(root, &dest, &blobs, &mut out)?;
    // Folders last, deepest first: writing into a folder changes its mtime.
    for d in dirs.iter().rev().map(|d| dest.join(d)).chain([dest.clone()]) {
        set_mtime(&d, commit_time)?;
    }
    out.entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// Writes every blob with `git cat-file --batch`, as files (mode 0644 or 0755) or symlinks,
/// each stamped with the commit time.
fn write_blobs(
    root: &Path,
    dest: &Path,
    blobs: &[(PathBuf, Mode, &str)],
    out: &mut CommitTree,
) -> Result<(), SourceError> {
    if blobs.is_empty() {
        return Ok(());
    }
    let fail = |what: String| SourceError::Git(what);
    let cat_err = |e: std::io::Error| SourceError::Git(format!("reading git cat-file's output: {e}"));
    let mut child = git_command()
        .arg("-C")
        .arg(root)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| fail(format!("cannot run git cat-file in {}: {e}", root.display())))?;
    let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(fail("git cat-file has no pipes".into()));
    };
    let oids: Vec<String> = blobs.iter().map(|(_, _, oid)| format!("{oid}\n")).collect();
    // Fed from a thread: git answers while it reads, and both pipes have limited room.
    let feeder = std::thread::spawn(move || -> std::io::Result<()> {
        for oid in oids {
            stdin.write_all(oid.as_bytes())?;
        }
        Ok(())
    });
    let mut reader = BufReader::new(stdout);
    let result = (|| {
        for (path, mode, oid) in blobs {
            let mut header = Vec::new();
            reader.read_until(b'\n', &mut header).map_err(cat_err)?;
            let text = String::from_utf8_lossy(&header);
            let mut fields = text.split_whitespace();
            let (Some(got), Some("blob"), Some(size)) = (fields.next(), fields.next(), fields.next()) else {
                return Err(fail(format!(
                    "git cat-file could not read blob {oid}: {}",
                    text.trim()
                )));
            };
            let size: u64 = size
                .parse()
                .map_err(|_| fail(format!("git cat-file gave a bad size for {oid}")))?;
            if got != *oid {
                return Err(fail(format!("git cat-file answered {got} for {oid}")));
            }
            let full = dest.join(path);
            let mut body = (&mut reader).take(size);
            match mode {
                Mode::Symlink => {
                    let mut target = Vec::new();
                    body.read_to_end(&mut target).map_err(cat_err)?;
                    if target.is_empty() || target.contains(&0) {
                        return Err(fail(format!(
                            "the symlink `{}` has an empty target or a NUL",
                            crate::escape::os_name(path.as_os_str())
                        )));
                    }
                    std::os::unix::fs::symlink(OsStr::from_bytes(&target), &full).map_err(read_err(&full))?;
                    set_mtime(&full, out.commit_time)?;
                    out.entries.push(SourceEntry {
                        path: path.clone(),
                        kind: EntryKind::Symlink,
                        origin: None,
                    });
                }
                Mode::File { executable } => {
                    use std::os::unix::fs::OpenOptionsExt;
                    let mut file = std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .mode(if *executable { 0o755 } else { 0o644 })
                        .open(&full)
                        .map_err(read_err(&full))?;
                    let mut head = [0u8; LFS_POINTER.len()];
                    let mut got = 0;
                    while got < head.len() {
                        let n = body.read(&mut head[got..]).map_err(cat_err)?;
                        if n == 0 {
                            break;
                        }
                        got += n;
                    }
                    file.write_all(&head[..got]).map_err(read_err(&full))?;
                    std::io::copy(&mut body, &mut file).map_err(read_err(&full))?;
                    if size <= LFS_POINTER_MAX && head[..got] == *LFS_POINTER {
                        out.lfs_pointers.push(path.clone());
                    }
                    // The mode is the tree's, whatever the umask.
                    use std::os::unix::fs::PermissionsExt;
                    let perm = std::fs::Permissions::from_mode(if *executable { 0o755 } else { 0o644 });
                    file.set_permissions(perm).map_err(read_err(&full))?;
                    drop(file);
                    set_mtime(&full, out.commit_time)?;
                    out.entries.push(SourceEntry {
                        path: path.clone(),
                        kind: EntryKind::File,
                        origin: None,
                    });
                }
                Mode::Tree | Mode::Gitlink => {}
            }
            if body.limit() != 0 {
                return Err(fail(format!("git cat-file ended blob {oid} early")));
            }
            let mut newline = [0u8; 1];
            reader.read_exact(&mut newline).map_err(cat_err)?;
        }
        Ok(())
    })();
    drop(reader);
    let _ = child.kill();
    let _ = child.wait();
    let _ = feeder.join();
    result
}

/// Sets the modification time of `path` itself (a link is not followed).
fn set_mtime(path: &Path, secs: i64) -> Result<(), SourceError> {
    use rustix::fs::{AtFlags, CWD, Timespec, Timestamps, utimensat};
    let t = Timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    utimensat(
        CWD,
        path,
        &Timestamps {
            last_access: t,
            last_modification: t,
        },
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(|e| read_err(path)(e.into()))
}

#[cfg(test)]
#[path = "commit_tests.rs"]
pub(crate) mod tests;
