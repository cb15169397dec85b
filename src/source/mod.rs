//! The source a build is made from: the snapshot (which files a build gets — a clean
//! checkout's —, the order the run creates them in, the `SOURCE_DATE_EPOCH` they imply, and a
//! standalone `.git` for builds that read their history), and the git checkout (`git`) a
//! recorded build names.

pub mod changes;
pub mod commit;
pub mod git;

pub use changes::{ChangeKind, SourceChange};
pub use commit::{CommitTree, read_commit_tree};
pub use git::{Checkout, CheckoutError};

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::plan::FileOrder;

/// One entry of the source tree, relative to its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceEntry {
    pub path: PathBuf,
    pub kind: EntryKind,
    /// Where the entry's content is when it is not `root/path` (the standalone `.git`).
    pub origin: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Dir,
    File,
    Symlink,
}

impl EntryKind {
    /// The kind of a file by its (not followed) metadata; `None` for what a snapshot leaves
    /// out (sockets, devices, fifos).
    fn of(meta: &std::fs::Metadata) -> Option<EntryKind> {
        if meta.file_type().is_symlink() {
            Some(EntryKind::Symlink)
        } else if meta.is_dir() {
            Some(EntryKind::Dir)
        } else if meta.is_file() {
            Some(EntryKind::File)
        } else {
            None
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot read the source tree {path}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write the source archive")]
    Write(#[from] io::Error),
    #[error("{0}")]
    Git(String),
    #[error("cannot build the recorded folder `{folder}`: {why}")]
    Folder { folder: String, why: String },
}

pub(crate) fn read_err(path: &Path) -> impl FnOnce(io::Error) -> SourceError + '_ {
    move |source| SourceError::Read {
        path: path.to_path_buf(),
        source,
    }
}

/// The files of a source tree as a clean checkout has them: in a git work tree, the tracked
/// and untracked-but-not-ignored files (so `target/` or `node_modules/` stay out); elsewhere
/// everything but `.git`. Directories are listed too. Sorted by path.
pub fn list_source(root: &Path) -> Result<Vec<SourceEntry>, SourceError> {
    let mut files: Vec<PathBuf> = match git_files(root) {
        Some(files) => files,
        None => walk(root)?,
    };
    files.retain(|p| !p.components().any(|c| c.as_os_str() == ".git"));
    let mut entries = BTreeMap::new();
    for f in files {
        let meta = match std::fs::symlink_metadata(root.join(&f)) {
            Ok(m) => m,
            // Tracked but deleted in the work tree: not part of the snapshot.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(read_err(&root.join(&f))(e)),
        };
        let Some(kind) = EntryKind::of(&meta) else {
            continue;
        };
        for parent in f.ancestors().skip(1) {
            if !parent.as_os_str().is_empty() {
                entries.insert(parent.to_path_buf(), EntryKind::Dir);
            }
        }
        entries.insert(f, kind);
    }
    Ok(entries
        .into_iter()
        .map(|(path, kind)| SourceEntry {
            path,
            kind,
            origin: None,
        })
        .collect())
}

/// `git` as repro runs it to read a source tree: `safe.directory=*`, since it is repro
/// reading (an unpacked archive or a copied checkout often belongs to another user, which
/// git otherwise refuses as "dubious ownership"), never prompting, stdin closed. Callers
/// capture stdout and stderr (`output()`): git's messages never reach the terminal.
pub(crate) fn git_command() -> Command {
    let mut c = Command::new("git");
    c.args(["-c", "safe.directory=*"])
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(std::process::Stdio::null());
    c
}

/// Runs a git command made with [`git_command`] with `args` (and `input` on its stdin): its
/// stdout on success, else what went wrong in a sentence (git's own message included).
pub(crate) fn git_output(
    mut command: Command,
    args: &[&str],
    input: Option<Vec<u8>>,
) -> Result<Vec<u8>, String> {
    use std::process::Stdio;
    command.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    if input.is_some() {
        command.stdin(Stdio::piped());
    }
    let mut child = command.spawn().map_err(|e| format!("cannot run git: {e}"))?;
    // Fed from a thread: git may answer before it has read everything.
    let writer = child.stdin.take().zip(input).map(|(mut stdin, bytes)| {
        std::thread::spawn(move || {
            let _ = stdin.write_all(&bytes);
        })
    });
    let out = child
        .wait_with_output()
        .map_err(|e| format!("cannot run git: {e}"));
    if let Some(w) = writer {
        let _ = w.join();
    }
    let out = out?;
    if !out.status.success() {
        return Err(format!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(out.stdout)
}

/// Why git could not give the last commit time of `root`, in a few words (for the note that
/// says `SOURCE_DATE_EPOCH` fell back to the newest mtime).
pub fn why_no_commit_time(root: &Path) -> String {
    let out = git_command()
        .arg("-C")
        .arg(root)
        .args(["log", "-1", "--format=%ct", "--", "."])
        .output();
    match out {
        Err(e) => format!("git could not run: {e}"),
        Ok(out) if out.status.success() && out.stdout.iter().all(u8::is_ascii_whitespace) => {
            "the folder has no commit".into()
        }
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let first = stderr
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("");
            if first.contains("not a git repository") {
                "not in a git repository".into()
            } else if first.is_empty() {
                format!("git exited with {}", out.status)
            } else {
                format!("git said: {first}")
            }
        }
    }
}

/// Whether `root` is inside a git work tree (its own, or a repository it is a folder of).
fn in_git_work_tree(root: &Path) -> bool {
    git_command()
        .arg("-C")
        .arg(root)
        .args(["rev-parse", "--is-inside-work-tree"])
        .output()
        .is_ok_and(|o| o.status.success() && o.stdout.starts_with(b"true"))
}

fn git_files(root: &Path) -> Option<Vec<PathBuf>> {
    if !in_git_work_tree(root) {
        return None;
    }
    let out = git_command()
        .arg("-C")
        .arg(root)
        .args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    use std::os::unix::ffi::OsStrExt;
    Some(
        out.stdout
            .split(|&b| b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| PathBuf::from(std::ffi::OsStr::from_bytes(s)))
            .collect(),
    )
}

fn walk(root: &Path) -> Result<Vec<PathBuf>, SourceError> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        for entry in std::fs::read_dir(&dir).map_err(read_err(&dir))? {
            let entry = entry.map_err(read_err(&dir))?;
            let path = rel.join(entry.file_name());
            let is_dir = entry.file_type().map_err(read_err(&dir))?.is_dir();
            if is_dir {
                if entry.file_name() == ".git" {
                    continue;
                }
                stack.push(path.clone());
            }
            out.push(path);
        }
    }
    Ok(out)
}

/// Orders entries for creation: a pre-order walk (parents before children) whose siblings are
/// sorted, reversed, or shuffled with a fixed seed.
pub fn order_entries(entries: &[SourceEntry], order: FileOrder) -> Vec<SourceEntry> {
    let mut children: BTreeMap<PathBuf, Vec<&SourceEntry>> = BTreeMap::new();
    for e in entries {
        let parent = e.path.parent().map(Path::to_path_buf).unwrap_or_default();
        children.entry(parent).or_default().push(e);
    }
    let mut rng = SplitMix64(match order {
        FileOrder::Shuffled { seed } => seed,
        _ => 0,
    });
    let mut out = Vec::with_capacity(entries.len());
    let mut stack: Vec<&SourceEntry> = Vec::new();
    fn push_children<'a>(
        children: &BTreeMap<PathBuf, Vec<&'a SourceEntry>>,
        parent: &Path,
        order: FileOrder,
        stack: &mut Vec<&'a SourceEntry>,
        rng: &mut SplitMix64,
    ) {
        let mut kids: Vec<&'a SourceEntry> = children.get(parent).cloned().unwrap_or_default();
        kids.sort_by(|a, b| a.path.cmp(&b.path));
        match order {
            FileOrder::Sorted => {}
            FileOrder::Reverse => kids.reverse(),
            FileOrder::Shuffled { .. } => rng.shuffle(&mut kids),
        }
        // The stack pops the last first: push in reverse to visit in `kids` order.
        stack.extend(kids.into_iter().rev());
    }
    push_children(&children, Path::new(""), order, &mut stack, &mut rng);
    while let Some(e) = stack.pop() {
        out.push(e.clone());
        if e.kind == EntryKind::Dir {
            push_children(&children, &e.path, order, &mut stack, &mut rng);
        }
    }
    out
}

/// A tiny seeded PRNG: the shuffle must be the same on every machine, for every version.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

/// Where `SOURCE_DATE_EPOCH` came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EpochOrigin {
    /// Given by the user or the provenance.
    Given,
    /// The source's last commit time.
    GitCommit,
    /// The newest mtime in the source tree (a fallback: mtimes are not reliable).
    NewestMtime,
}

impl std::fmt::Display for EpochOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EpochOrigin::Given => "given",
            EpochOrigin::GitCommit => "from the last commit",
            EpochOrigin::NewestMtime => "from the newest file mtime",
        })
    }
}

/// `SOURCE_DATE_EPOCH`: the given value wins, else the last commit time, else the newest
/// source mtime.
pub fn source_date_epoch(root: &Path, given: Option<i64>) -> Result<(i64, EpochOrigin), SourceError> {
    if let Some(v) = given {
        return Ok((v, EpochOrigin::Given));
    }
    if in_git_work_tree(root) {
        // The last commit that touched this folder (a project may be a folder of a repository).
        let out = git_command()
            .arg("-C")
            .arg(root)
            .args(["log", "-1", "--format=%ct", "--", "."])
            .output();
        if let Ok(out) = out
            && out.status.success()
            && let Ok(t) = String::from_utf8_lossy(&out.stdout).trim().parse::<i64>()
        {
            return Ok((t, EpochOrigin::GitCommit));
        }
    }
    let mut newest = 0i64;
    for e in list_source(root)? {
        let full = root.join(&e.path);
        let meta = std::fs::symlink_metadata(&full).map_err(read_err(&full))?;
        use std::os::unix::fs::MetadataExt;
        newest = newest.max(meta.mtime());
    }
    Ok((newest, EpochOrigin::NewestMtime))
}

/// Writes the source snapshot as a tar with entries in `order`, keeping modes and mtimes.
pub fn write_source_tar(
    root: &Path,
    entries: &[SourceEntry],
    order: FileOrder,
    out: impl Write,
) -> Result<(), SourceError> {
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    for e in order_entries(entries, order) {
        let full = e.origin.clone().unwrap_or_else(|| root.join(&e.path));
        let meta = std::fs::symlink_metadata(&full).map_err(read_err(&full))?;
        let mut h = tar::Header::new_gnu();
        h.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
        h.set_uid(0);
        h.set_gid(0);
        match e.kind {
            EntryKind::Dir => b.append_data(&mut h, &e.path, io::empty())?,
            EntryKind::File => {
                let f = std::fs::File::open(&full).map_err(read_err(&full))?;
                b.append_data(&mut h, &e.path, f)?
            }
            EntryKind::Symlink => {
                let target = std::fs::read_link(&full).map_err(read_err(&full))?;
                b.append_link(&mut h, &e.path, target)?
            }
        }
    }
    b.finish()?;
    Ok(())
}

/// Writes the source snapshot out as a folder `dest` (created; it must not exist), through the
/// same archive the builds get, so the folder holds exactly what they see: for the steps that
/// read the source on the host or mount it (the dependency phase).
pub fn write_out(root: &Path, entries: &[SourceEntry], dest: &Path) -> Result<(), SourceError> {
    let archive = dest.with_extension("tar");
    let file = std::fs::File::create(&archive).map_err(read_err(&archive))?;
    write_source_tar(root, entries, FileOrder::Sorted, io::BufWriter::new(file))?;
    std::fs::create_dir(dest).map_err(read_err(dest))?;
    let file = std::fs::File::open(&archive).map_err(read_err(&archive))?;
    let mut tar = tar::Archive::new(io::BufReader::new(file));
    tar.set_preserve_permissions(true);
    tar.set_preserve_mtime(true);
    tar.unpack(dest).map_err(read_err(dest))?;
    std::fs::remove_file(&archive).map_err(read_err(&archive))
}

/// A standalone copy of the repository whose root is `root`, for builds that read their own
/// history (`git describe`, setuptools-scm): a bare clone made non-bare, `HEAD` at the
/// checkout's commit (on its branch when it is on one), an index of that commit, and the
/// checkout's `origin` URL. Made under `work`; returned as `.git/…` entries of the source.
/// `commit` is the commit to put `HEAD` at (`None`: the checkout's). Errors when `root` is not
/// the root of a git work tree: a folder of a repository would see the whole commit's other
/// files as deleted.
pub fn standalone_git(
    root: &Path,
    commit: Option<&str>,
    work: &Path,
) -> Result<Vec<SourceEntry>, SourceError> {
    let fail = |what: String| SourceError::Git(what);
    let git = |args: &[&str], dir: Option<&Path>| -> Result<String, SourceError> {
        let mut c = git_command();
        if let Some(d) = dir {
            c.arg("--git-dir").arg(d);
        } else {
            c.arg("-C").arg(root);
        }
        let out = git_output(c, args, None).map_err(fail)?;
        Ok(String::from_utf8_lossy(&out).trim().to_string())
    };
    let top = git(&["rev-parse", "--show-toplevel"], None)?;
    let same = |a: &Path, b: &Path| std::fs::canonicalize(a).ok() == std::fs::canonicalize(b).ok();
    if !same(Path::new(&top), root) {
        return Err(fail(format!(
            "the build asks for the repository's history (.git), but {} is a folder of the \
             repository {top}, not its root",
            root.display()
        )));
    }
    let head = git(&["rev-parse", "--verify", "HEAD^{commit}"], None)?;
    let commit = match commit {
        Some(c) => git(&["rev-parse", "--verify", &format!("{c}^{{commit}}")], None)?,
        None => head.clone(),
    };
    // On the checkout's branch only when that branch is at the commit built.
    let branch = git(&["symbolic-ref", "-q", "HEAD"], None)
        .ok()
        .filter(|_| head == commit);
    let origin = git(&["config", "--get", "remote.origin.url"], None).ok();
    let dest = work.join("standalone-git");
    let gitdir = dest.join(".git");
    std::fs::create_dir_all(&dest).map_err(read_err(&dest))?;
    let out = git_command()
        .args(["clone", "--bare", "--quiet", "--no-hardlinks"])
        .arg(root)
        .arg(&gitdir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(|e| fail(format!("cannot run git: {e}")))?;
    if !out.status.success() {
        return Err(fail(format!(
            "cloning {} failed: {}",
            root.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let g = Some(gitdir.as_path());
    git(&["config", "core.bare", "false"], g)?;
    match &branch {
        Some(b) if b.starts_with("refs/heads/") => {
            git(&["update-ref", b, &commit], g)?;
            git(&["symbolic-ref", "HEAD", b], g)?;
        }
        _ => {
            git(&["update-ref", "--no-deref", "HEAD", &commit], g)?;
        }
    }
    // The build sees the remote as the provenance records it: never with credentials.
    match origin
        .filter(|o| !o.is_empty())
        .map(|o| git::fetchable_remote(&o))
    {
        Some(url) => {
            git(&["remote", "set-url", "origin", &url], g)
                .or_else(|_| git(&["remote", "add", "origin", &url], g))?;
        }
        None => {
            let _ = git(&["remote", "remove", "origin"], g);
        }
    }
    let out = git_command()
        .arg("--git-dir")
        .arg(&gitdir)
        .args(["read-tree", "HEAD"])
        .env("GIT_INDEX_FILE", gitdir.join("index"))
        .output()
        .map_err(|e| fail(format!("cannot run git: {e}")))?;
    if !out.status.success() {
        return Err(fail(format!(
            "writing the index failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let mut entries = Vec::new();
    for rel in walk(&gitdir)? {
        let full = gitdir.join(&rel);
        let meta = std::fs::symlink_metadata(&full).map_err(read_err(&full))?;
        let Some(kind) = EntryKind::of(&meta) else {
            continue;
        };
        entries.push(SourceEntry {
            path: Path::new(".git").join(&rel),
            kind,
            origin: Some(full),
        });
    }
    entries.push(SourceEntry {
        path: PathBuf::from(".git"),
        kind: EntryKind::Dir,
        origin: Some(gitdir.clone()),
    });
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for f in ["b/x", "b/y", "a/z", "c", "d/e/f"] {
            let p = d.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, f).unwrap();
        }
        std::os::unix::fs::symlink("c", d.path().join("link")).unwrap();
        d
    }

    fn paths(v: &[SourceEntry]) -> Vec<String> {
        v.iter().map(|e| e.path.display().to_string()).collect()
    }

    #[test]
    fn orders_keep_parents_first_and_differ() {
        let d = tree();
        let entries = list_source(d.path()).unwrap();
        assert_eq!(
            paths(&entries),
            ["a", "a/z", "b", "b/x", "b/y", "c", "d", "d/e", "d/e/f", "link"]
        );
        let sorted = order_entries(&entries, FileOrder::Sorted);
        assert_eq!(paths(&sorted), paths(&entries));
        let rev = order_entries(&entries, FileOrder::Reverse);
        assert_eq!(
            paths(&rev),
            ["link", "d", "d/e", "d/e/f", "c", "b", "b/y", "b/x", "a", "a/z"]
        );
        let s1 = order_entries(&entries, FileOrder::Shuffled { seed: 2 });
        let s2 = order_entries(&entries, FileOrder::Shuffled { seed: 2 });
        assert_eq!(s1, s2, "shuffles are deterministic");
        for order in [&rev, &s1] {
            for (i, e) in order.iter().enumerate() {
                if let Some(p) = e.path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    assert!(
                        order[..i].iter().any(|x| x.path == p),
                        "{} before its parent",
                        e.path.display()
                    );
                }
            }
        }
    }

    #[test]
    fn epoch_prefers_given_then_git_then_mtime() {
        let d = tree();
        assert_eq!(
            source_date_epoch(d.path(), Some(42)).unwrap(),
            (42, EpochOrigin::Given)
        );
        let f = std::fs::File::options()
            .write(true)
            .open(d.path().join("c"))
            .unwrap();
        f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(4_000_000_000))
            .unwrap();
        assert_eq!(
            source_date_epoch(d.path(), None).unwrap(),
            (4_000_000_000, EpochOrigin::NewestMtime)
        );
        assert_eq!(why_no_commit_time(d.path()), "not in a git repository");
        let git = |args: &[&str]| {
            let out = Command::new("git")
                .arg("-C")
                .arg(d.path())
                .args(args)
                .env("GIT_COMMITTER_DATE", "@1600000000 +0000")
                .env("GIT_AUTHOR_DATE", "@1600000000 +0000")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "git {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        git(&["init", "-q"]);
        git(&["add", "."]);
        git(&["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"]);
        assert_eq!(
            source_date_epoch(d.path(), None).unwrap(),
            (1_600_000_000, EpochOrigin::GitCommit)
        );
    }

    /// A checkout owned by another user (an unpacked archive, a copied tree): git refuses it
    /// as "dubious ownership" unless told otherwise; repro reads it all the same. Changing the
    /// owner needs root: elsewhere there is nothing to check.
    #[test]
    fn a_checkout_of_another_user_still_gives_its_commit_time() {
        if !rustix::process::getuid().is_root() {
            eprintln!("skipped: changing a tree's owner needs root");
            return;
        }
        let d = tree();
        let sh = |script: &str| {
            let ok = Command::new("sh")
                .arg("-ec")
                .arg(script)
                .current_dir(d.path())
                .env("GIT_COMMITTER_DATE", "@1600000000 +0000")
                .env("GIT_AUTHOR_DATE", "@1600000000 +0000")
                .status()
                .unwrap()
                .success();
            assert!(ok, "{script}");
        };
        sh(
            "git init -q && git add . && git -c user.name=t -c user.email=t@t commit -qm x && chown -R 4321:4321 .",
        );
        // Plain git refuses it here, which is what repro must not do.
        let plain = Command::new("git")
            .arg("-C")
            .arg(d.path())
            .args(["log", "-1", "--format=%ct"])
            .env("HOME", d.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .unwrap();
        assert!(!plain.status.success(), "git accepted a foreign-owned repository");
        assert_eq!(
            source_date_epoch(d.path(), None).unwrap(),
            (1_600_000_000, EpochOrigin::GitCommit)
        );
        assert!(git_files(d.path()).is_some_and(|f| !f.is_empty()));
    }

    #[test]
    fn git_trees_leave_ignored_files_out() {
        let d = tree();
        let git = |args: &[&str]| {
            let ok = Command::new("git")
                .arg("-C")
                .arg(d.path())
                .args(args)
                .output()
                .unwrap()
                .status
                .success();
            assert!(ok, "git {args:?}");
        };
        git(&["init", "-q"]);
        std::fs::write(d.path().join(".gitignore"), "target/\n").unwrap();
        std::fs::create_dir_all(d.path().join("target")).unwrap();
        std::fs::write(d.path().join("target/big"), "x").unwrap();
        let names = paths(&list_source(d.path()).unwrap());
        assert!(
            !names
                .iter()
                .any(|n| n.starts_with("target") || n.starts_with(".git/")),
            "{names:?}"
        );
        assert!(names.contains(&".gitignore".to_string()));
    }

    #[test]
    fn source_tar_keeps_order_mtimes_and_links() {
        let d = tree();
        let entries = list_source(d.path()).unwrap();
        let mut buf = Vec::new();
        write_source_tar(d.path(), &entries, FileOrder::Reverse, &mut buf).unwrap();
        let mut a = tar::Archive::new(&buf[..]);
        let mut names = Vec::new();
        for e in a.entries().unwrap() {
            let e = e.unwrap();
            let p = e.path().unwrap().display().to_string();
            if p == "link" {
                assert_eq!(e.link_name().unwrap().unwrap().display().to_string(), "c");
            }
            let m = std::fs::symlink_metadata(d.path().join(&p)).unwrap();
            use std::os::unix::fs::MetadataExt;
            assert_eq!(e.header().mtime().unwrap() as i64, m.mtime(), "{p}");
            names.push(p.trim_end_matches('/').to_string());
        }
        assert_eq!(names[0], "link");
    }
}
