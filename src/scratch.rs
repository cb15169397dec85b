//! repro's scratch folders under the system's temporary folder: named after the process that
//! made them (`repro-KIND-PID-XXXXXX`), so that a later repro removes the ones whose process is
//! gone. A repro killed with SIGKILL runs no cleanup; its containers stop by their own deadline
//! and are removed as leftovers, and this does the same for its files.

use std::io;
use std::path::Path;

/// A fresh scratch folder for `kind` (`check`, `commit`), removed when dropped; first removes
/// the `kind` folders of processes that are gone.
pub(crate) fn tempdir(kind: &str) -> io::Result<tempfile::TempDir> {
    let parent = std::env::temp_dir();
    remove_dead(&parent, kind, |pid| {
        Path::new("/proc").join(pid.to_string()).exists()
    });
    tempfile::Builder::new()
        .prefix(&format!("repro-{kind}-{}-", std::process::id()))
        .tempdir_in(parent)
}

/// Removes `parent/repro-KIND-PID-*` folders whose PID `alive` says is gone. Folders of other
/// names (and older repros', which carry no PID) are left alone; errors are ignored: another
/// repro may be removing the same folder, and a folder that stays is only disk.
fn remove_dead(parent: &Path, kind: &str, alive: impl Fn(u32) -> bool) {
    let prefix = format!("repro-{kind}-");
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        // Only folders (never a symlink) this user owns.
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
            continue;
        };
        use std::os::unix::fs::MetadataExt;
        if !meta.is_dir() || meta.uid() != current_uid() || alive(pid) {
            continue;
        }
        let _ = std::fs::remove_dir_all(entry.path());
    }
}

fn current_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    // The owner of a file this process just made is its effective uid, without libc.
    std::fs::symlink_metadata("/proc/self").map_or(u32::MAX, |m| m.uid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_of_dead_processes_go_and_the_rest_stay() {
        let d = tempfile::tempdir().unwrap();
        let make = |name: &str| {
            let p = d.path().join(name);
            std::fs::create_dir_all(p.join("run-A")).unwrap();
            std::fs::write(p.join("run-A/log"), "x").unwrap();
            p
        };
        let dead = make("repro-check-4000000-abc");
        let live = make("repro-check-4000001-abc");
        let other_kind = make("repro-commit-4000000-abc");
        let old_style = make("repro-check-Y6lweh");
        let unrelated = make("something-4000000");
        // A symlink named like a dead folder is never followed nor removed.
        let target = make("target");
        std::os::unix::fs::symlink(&target, d.path().join("repro-check-4000002-x")).unwrap();
        remove_dead(d.path(), "check", |pid| pid == 4_000_001);
        assert!(!dead.exists());
        for kept in [&live, &other_kind, &old_style, &unrelated, &target] {
            assert!(kept.exists(), "{}", kept.display());
        }
        assert!(target.join("run-A/log").exists());
    }

    #[test]
    fn a_scratch_folder_is_named_after_this_process_and_survives_a_sweep() {
        let t = tempdir("selftest").unwrap();
        let name = t.path().file_name().unwrap().to_str().unwrap().to_owned();
        assert!(
            name.starts_with(&format!("repro-selftest-{}-", std::process::id())),
            "{name}"
        );
        remove_dead(&std::env::temp_dir(), "selftest", |pid| {
            Path::new("/proc").join(pid.to_string()).exists()
        });
        assert!(t.path().exists());
    }
}
