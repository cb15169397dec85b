//! `--with-git` (`git = true`): builds that read their own history (`git describe`,
//! setuptools-scm) get a standalone `.git` at the checkout's commit, the same in every run; a
//! folder of a repository is refused; container-based rebuilds get it as the generator's full
//! clone had it.

use crate::common;

use common::run;

const COMMIT_ENV: &str = "GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.org GIT_COMMITTER_NAME=t \
     GIT_COMMITTER_EMAIL=t@example.org GIT_AUTHOR_DATE=@1700000000 GIT_COMMITTER_DATE=@1700000000";

#[test]
fn a_build_that_describes_its_commit_is_reproducible_with_git() {
    if common::skip_engine_test() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let repo = d.path().join("proj");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::write(
        repo.join("build.sh"),
        "set -eu\nmkdir -p out\ngit describe --tags --long --dirty > out/version.txt\n\
         git log -1 --format=%H%n%ct > out/head.txt\n",
    )
    .unwrap();
    common::sh(
        &repo,
        &format!(
            "git init -q -b main . && git add -A && {COMMIT_ENV} git commit -qm one && \
             git tag -a v1.2.3 -m release && git remote add origin https://example.org/proj.git"
        ),
    );
    let commit = {
        let out = std::process::Command::new("git")
            .args(["-C", &repo.display().to_string(), "rev-parse", "HEAD"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    // Without the history the build fails in the control run: exit 2.
    let (code, _, err) = run(&["check", &repo.display().to_string(), "--no-isolate"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--with-git"), "the hint names the way out: {err}");
    let keep = d.path().join("keep");
    let (code, stdout, err) = run(&[
        "check",
        &repo.display().to_string(),
        "--with-git",
        "--no-isolate",
        "--keep",
        &keep.display().to_string(),
    ]);
    assert_eq!(code, 0, "{stdout}{err}");
    assert!(stdout.contains("history as .git"), "{stdout}");
    for run in ["A", "B"] {
        let version = std::fs::read_to_string(keep.join(run).join("outputs/out/version.txt")).unwrap();
        assert_eq!(
            version,
            format!("v1.2.3-0-g{}\n", &commit[..7]),
            "run {run}: {version}"
        );
        let head = std::fs::read_to_string(keep.join(run).join("outputs/out/head.txt")).unwrap();
        assert_eq!(head, format!("{commit}\n1700000000\n"), "run {run}");
    }

    // A folder of a repository cannot have its own .git.
    let outer = d.path().join("outer");
    std::fs::create_dir_all(outer.join("sub")).unwrap();
    std::fs::write(outer.join("sub/build.sh"), "mkdir -p out; echo x > out/x\n").unwrap();
    common::sh(
        &outer,
        &format!("git init -q -b main . && git add -A && {COMMIT_ENV} git commit -qm x"),
    );
    let (code, _, err) = run(&["check", &outer.join("sub").display().to_string(), "--with-git"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not its root"), "{err}");
}
