//! What a run's container is given: the source snapshot as a tar in the run's file order, and
//! the upload archive around it (passwd/group entries for the run's user, home and output
//! directories owned by that user, the entry script and its configuration).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::plan::{FileOrder, RunSpec};

/// The entry script every build container runs.
pub const ENTRY_SCRIPT: &str = include_str!("entry.sh");
/// Where the runner puts its files inside the container.
pub const REPRO_DIR: &str = "/repro";
/// Plain (non-tmpfs) directory the entry script copies outputs to.
pub const OUT_DIR: &str = "/out";
/// The tmpfs mount holding every run's build path.
pub const BUILD_MOUNT: &str = "/build";

/// One entry of the source tree, relative to its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceEntry {
    pub path: PathBuf,
    pub kind: EntryKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Dir,
    File,
    Symlink,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("cannot read the source tree {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write the build archive: {0}")]
    Write(#[from] io::Error),
}

fn read_err(path: &Path) -> impl FnOnce(io::Error) -> WorkspaceError + '_ {
    move |source| WorkspaceError::Read {
        path: path.to_path_buf(),
        source,
    }
}

/// The files of a source tree as a clean checkout has them: in a git work tree, the tracked
/// and untracked-but-not-ignored files (so `target/` or `node_modules/` stay out); elsewhere
/// everything but `.git`. Directories are listed too. Sorted by path.
pub fn list_source(root: &Path) -> Result<Vec<SourceEntry>, WorkspaceError> {
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
        let kind = if meta.file_type().is_symlink() {
            EntryKind::Symlink
        } else if meta.is_dir() {
            EntryKind::Dir
        } else if meta.is_file() {
            EntryKind::File
        } else {
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
        .map(|(path, kind)| SourceEntry { path, kind })
        .collect())
}

fn git_files(root: &Path) -> Option<Vec<PathBuf>> {
    if !root.join(".git").exists() {
        return None;
    }
    let out = Command::new("git")
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

fn walk(root: &Path) -> Result<Vec<PathBuf>, WorkspaceError> {
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

/// Writes the source snapshot as a tar with entries in `order`, keeping modes and mtimes.
pub fn write_source_tar(
    root: &Path,
    entries: &[SourceEntry],
    order: FileOrder,
    out: impl Write,
) -> Result<(), WorkspaceError> {
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    for e in order_entries(entries, order) {
        let full = root.join(&e.path);
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

/// Quotes a string for POSIX sh (single quotes, `'\''` for embedded quotes).
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// `/etc/passwd` and `/etc/group` of the image, plus the run's user (with all capabilities
/// dropped, nothing can add users at run time).
pub fn user_files(spec: &RunSpec, image_passwd: &str, image_group: &str) -> (String, String) {
    let u = &spec.user;
    let keep = |text: &str, id: u32| {
        text.lines()
            .filter(|l| {
                let mut f = l.split(':');
                let name = f.next().unwrap_or("");
                let num = f.nth(1).and_then(|n| n.parse::<u32>().ok());
                name != u.name && num != Some(id)
            })
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    };
    let mut passwd = keep(image_passwd, u.uid);
    passwd.push_str(&format!(
        "{}:x:{}:{}:repro build user:{}:/bin/sh\n",
        u.name, u.uid, u.gid, spec.home
    ));
    let mut group = keep(image_group, u.gid);
    group.push_str(&format!("{}:x:{}:\n", u.name, u.gid));
    (passwd, group)
}

/// The configuration files the entry script reads.
pub fn run_files(spec: &RunSpec, output_globs: &[String]) -> Vec<(String, String)> {
    let conf = format!(
        "REPRO_BUILD_PATH={}\nREPRO_UMASK={}\n",
        sh_quote(&spec.build_path),
        sh_quote(&spec.umask)
    );
    let env: String = spec
        .env
        .iter()
        .map(|(k, v)| format!("export {k}={}\n", sh_quote(v)))
        .collect();
    let globs: String = output_globs.iter().map(|g| format!("{g}\n")).collect();
    vec![
        ("run.conf".into(), conf),
        ("build.env".into(), env),
        ("outputs.globs".into(), globs),
        ("entry.sh".into(), ENTRY_SCRIPT.into()),
    ]
}

/// Writes the archive uploaded to `/` of the container before it starts.
pub fn write_upload_tar(
    spec: &RunSpec,
    passwd_group: (&str, &str),
    output_globs: &[String],
    source_tar: &Path,
    out: impl Write,
) -> Result<(), WorkspaceError> {
    let mut b = tar::Builder::new(out);
    let (uid, gid) = (u64::from(spec.user.uid), u64::from(spec.user.gid));
    let mtime = u64::try_from(spec.source_date_epoch).unwrap_or(0);
    let dir = |b: &mut tar::Builder<_>, path: &str, owner: (u64, u64), mode: u32| -> io::Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(mode);
        h.set_uid(owner.0);
        h.set_gid(owner.1);
        h.set_mtime(mtime);
        h.set_size(0);
        b.append_data(&mut h, path.trim_start_matches('/'), io::empty())
    };
    let file = |b: &mut tar::Builder<_>, path: &str, data: &[u8], mode: u32| -> io::Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(mtime);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, path.trim_start_matches('/'), data)
    };
    let (passwd, group) = passwd_group;
    file(&mut b, "/etc/passwd", passwd.as_bytes(), 0o644)?;
    file(&mut b, "/etc/group", group.as_bytes(), 0o644)?;
    dir(&mut b, REPRO_DIR, (0, 0), 0o755)?;
    for (name, text) in run_files(spec, output_globs) {
        file(&mut b, &format!("{REPRO_DIR}/{name}"), text.as_bytes(), 0o644)?;
    }
    let mut h = tar::Header::new_gnu();
    h.set_metadata_in_mode(
        &std::fs::metadata(source_tar).map_err(read_err(source_tar))?,
        tar::HeaderMode::Deterministic,
    );
    h.set_mode(0o644);
    let f = std::fs::File::open(source_tar).map_err(read_err(source_tar))?;
    b.append_data(&mut h, "repro/source.tar", f)?;
    for d in parents_and_self(&spec.home) {
        let owned = d == spec.home;
        dir(&mut b, &d, if owned { (uid, gid) } else { (0, 0) }, 0o755)?;
    }
    dir(&mut b, OUT_DIR, (uid, gid), 0o755)?;
    for extra in &spec.extra_path_dirs {
        for d in parents_and_self(extra) {
            dir(&mut b, &d, (0, 0), 0o755)?;
        }
    }
    b.finish()?;
    Ok(())
}

/// `/a/b/c` → `/a`, `/a/b`, `/a/b/c` (without `/`).
fn parents_and_self(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        cur.push('/');
        cur.push_str(part);
        out.push(cur.clone());
    }
    out
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

    #[test]
    fn quoting_and_user_files() {
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
        let plan = crate::plan::Plan::new(
            crate::recipe::parse_project("t", "[build]\ncommand=[\"make\"]\n").unwrap(),
            1,
            2,
            crate::plan::select(&[], &[]),
            2,
        );
        let spec = &plan.runs[1];
        let (passwd, group) = user_files(
            spec,
            "root:x:0:0:root:/root:/bin/bash\nold:x:2000:2000::/x:/bin/sh\n",
            "root:x:0:\n",
        );
        assert!(passwd.starts_with("root:x:0:0"));
        assert!(!passwd.contains("old:"), "{passwd}");
        assert!(
            passwd.ends_with("rebuilder:x:2000:2000:repro build user:/var/tmp/home-b:/bin/sh\n"),
            "{passwd}"
        );
        assert!(group.ends_with("rebuilder:x:2000:\n"));
        let files = run_files(spec, &["out/*".into()]);
        let env = &files.iter().find(|(n, _)| n == "build.env").unwrap().1;
        assert!(env.contains("export TZ='Etc/GMT-14'\n"), "{env}");
    }

    #[test]
    fn entry_script_is_valid_sh() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("entry.sh"), ENTRY_SCRIPT).unwrap();
        let ok = Command::new("sh")
            .arg("-n")
            .arg(d.path().join("entry.sh"))
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }
}
