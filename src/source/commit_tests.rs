use std::os::unix::fs::{MetadataExt, PermissionsExt};

use super::*;

/// Runs a shell script in `dir` with a fixed identity and clock.
pub(crate) fn sh(dir: &Path, script: &str) {
    let out = std::process::Command::new("sh")
        .arg("-ec")
        .arg(script)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.org")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.org")
        .env("GIT_AUTHOR_DATE", "@1600000000 +0000")
        .env("GIT_COMMITTER_DATE", "@1600000000 +0000")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A repository with a project folder `p`: files, an executable, links inside and out, a name
/// that is not UTF-8, a git-lfs pointer and a submodule.
fn repo() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    sh(
        d.path(),
        "git init -q -b main . && mkdir -p p/src && echo main > p/src/main.c && echo top > top \
         && printf '#!/bin/sh\\n' > p/run.sh && chmod 755 p/run.sh && ln -s src/main.c p/link \
         && ln -s /etc p/etc-link && printf 'version https://git-lfs.github.com/spec/v1\\noid sha256:ab\\nsize 3\\n' > p/big.bin \
         && printf x > \"p/$(printf 'n\\377')\" \
         && git add -A \
         && git update-index --add --cacheinfo 160000,1111111111111111111111111111111111111111,p/sub \
         && git commit -qm one",
    );
    d
}

fn names(t: &CommitTree) -> Vec<String> {
    t.entries
        .iter()
        .map(|e| crate::escape::os_name(e.path.as_os_str()))
        .collect()
}

#[test]
fn reads_the_commit_not_the_work_tree() {
    let d = repo();
    // Every working-tree trick at once: a modified file, skip-worktree and assume-unchanged
    // files changed behind git's back, an untracked file, a deleted file.
    sh(
        d.path(),
        "echo evil > p/src/main.c && git update-index --skip-worktree p/run.sh && echo evil > p/run.sh \
         && git update-index --assume-unchanged p/big.bin && echo evil > p/big.bin \
         && echo evil > p/untracked && rm p/link",
    );
    let t = read_commit_tree(d.path(), "HEAD", "p", None).unwrap();
    let dir = t.dir();
    assert_eq!(
        names(&t),
        [
            "big.bin",
            "etc-link",
            "link",
            "n\\xff",
            "run.sh",
            "src",
            "src/main.c",
            "sub"
        ]
    );
    assert_eq!(std::fs::read_to_string(dir.join("src/main.c")).unwrap(), "main\n");
    assert_eq!(
        std::fs::read_to_string(dir.join("run.sh")).unwrap(),
        "#!/bin/sh\n"
    );
    assert!(!dir.join("untracked").exists());
    assert_eq!(
        std::fs::read_link(dir.join("link")).unwrap(),
        Path::new("src/main.c")
    );
    // A link out of the tree stays a link; nothing of /etc is read.
    assert_eq!(
        std::fs::read_link(dir.join("etc-link")).unwrap(),
        Path::new("/etc")
    );
    let mode = |p: &str| {
        std::fs::symlink_metadata(dir.join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!((mode("run.sh"), mode("src/main.c")), (0o755, 0o644));
    for e in &t.entries {
        let m = std::fs::symlink_metadata(dir.join(&e.path)).unwrap();
        assert_eq!(m.mtime(), 1_600_000_000, "{}", e.path.display());
    }
    assert_eq!(t.commit_time, 1_600_000_000);
    assert_eq!(t.submodules, [PathBuf::from("sub")]);
    assert!(std::fs::read_dir(dir.join("sub")).unwrap().next().is_none());
    assert_eq!(t.lfs_pointers, [PathBuf::from("big.bin")]);
    let notes = t.notes().join("\n");
    assert!(
        notes.contains("submodules") && notes.contains("git-lfs"),
        "{notes}"
    );
    // The whole repository, too.
    let all = read_commit_tree(d.path(), "HEAD", "", None).unwrap();
    assert!(names(&all).contains(&"p/src/main.c".to_string()));
    assert!(names(&all).contains(&"top".to_string()));
}

#[test]
fn refuses_folders_that_are_not_folders_of_the_commit() {
    let d = repo();
    // A committed symlink named as the folder, pointing at a host folder.
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("secret.txt"), "TOP-SECRET").unwrap();
    sh(
        d.path(),
        &format!(
            "ln -s {} proj && ln -s p plink && git add proj plink && git commit -qm links",
            host.path().display()
        ),
    );
    for (folder, why) in [
        ("proj", "symlink"),
        ("plink", "symlink"),
        ("plink/src", "symlink"),
        ("..", "`..`"),
        ("p/../..", "`..`"),
        ("/etc", "absolute"),
        ("p/./src", "`.`"),
        ("p//src", "empty"),
        (".git", ".git"),
        ("missing", "not in commit"),
        ("top", "a file"),
        ("p/sub", "submodule"),
    ] {
        let e = read_commit_tree(d.path(), "HEAD", folder, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains(why) && e.contains(folder), "{folder}: {e}");
    }
    // A symlink named as the folder on disk only (the commit has a real folder) changes nothing.
    sh(d.path(), "mv p p.real && ln -s /etc p");
    let t = read_commit_tree(d.path(), "HEAD", "p", None).unwrap();
    assert_eq!(
        std::fs::read_to_string(t.dir().join("src/main.c")).unwrap(),
        "main\n"
    );
}

#[test]
fn reads_an_older_commit_and_refuses_an_unknown_one() {
    let d = repo();
    let first = String::from_utf8(
        std::process::Command::new("git")
            .arg("-C")
            .arg(d.path())
            .args(["rev-parse", "HEAD"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    sh(d.path(), "echo two > p/src/main.c && git commit -qam two");
    let t = read_commit_tree(d.path(), first.trim(), "p", None).unwrap();
    assert_eq!(t.commit, first.trim());
    assert_eq!(
        std::fs::read_to_string(t.dir().join("src/main.c")).unwrap(),
        "main\n"
    );
    let e = read_commit_tree(d.path(), &"e".repeat(40), "p", None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("rev-parse"), "{e}");
}

#[test]
fn hostile_listings_are_refused() {
    for raw in [
        &b""[..],
        b".",
        b"..",
        b"a/../b",
        b".git",
        b".GIT/config",
        b"a//b",
        b"/abs",
    ] {
        assert!(checked_path(raw).is_err(), "{}", String::from_utf8_lossy(raw));
    }
    assert!(checked_path(b"a/b\xff").is_ok());
    for bad in [&b"100644 blob abc"[..], b"100644 blob xyz\tname", b"1 2 3 4\tn"] {
        assert!(parse_ls_tree(bad).is_err(), "{}", String::from_utf8_lossy(bad));
    }
    assert_eq!(Mode::parse(b"100755"), Some(Mode::File { executable: true }));
    assert_eq!(Mode::parse(b"777777"), None);
}
