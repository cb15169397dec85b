//! Artifacts: a run's collected outputs, unpacked safely from the tar stream the runner brings
//! back, with their sha256 (computed while writing) and the metadata they had in the build.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use globset::GlobSet;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// One output file of one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Artifact {
    /// Path relative to the source root, `/`-separated, in shown form (`crate::escape`): bytes
    /// that are not UTF-8 and hidden characters are escaped, so two different paths never get
    /// one name (in reports, or as subjects of a statement).
    pub path: String,
    /// The path as it is on disk, relative to the run's output directory.
    #[serde(skip)]
    pub file: PathBuf,
    pub sha256: String,
    pub size: u64,
    /// Metadata after copying out: recorded, not judged.
    pub mode: u32,
    pub mtime: i64,
}

/// The outputs of one run, unpacked under `dir`.
#[derive(Debug, Clone)]
pub struct RunOutputs {
    pub dir: PathBuf,
    pub artifacts: BTreeMap<String, Artifact>,
    /// Paths left out by the recipe's or the user's exclusions.
    pub excluded: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("reading the outputs archive")]
    Read(#[source] io::Error),
    #[error("writing {path}")]
    Write { path: PathBuf, source: io::Error },
    #[error("refusing output path {0:?}: it is absolute or leaves the output directory")]
    UnsafePath(String),
    #[error(transparent)]
    Outputs(#[from] crate::runner::OutputsError),
}

/// Output globs (a recipe's `exclude_outputs`, `repro rebuild --exclude`) as one set that
/// matches output paths; a glob that does not parse matches nothing.
pub fn glob_set(patterns: &[String]) -> GlobSet {
    let mut b = globset::GlobSetBuilder::new();
    for p in patterns {
        if let Ok(g) = globset::Glob::new(p) {
            b.add(g);
        }
    }
    b.build().unwrap_or_else(|_| GlobSet::empty())
}

/// A relative path with only normal components, or `None`.
fn safe_relative(p: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// Unpacks the regular files of an outputs tar into `dest` (which must be new and empty),
/// skipping paths matched by `exclude`. Nothing is ever written outside `dest`: absolute
/// paths and `..` are refused, and links are not created.
pub fn unpack(archive: impl Read, dest: &Path, exclude: &GlobSet) -> Result<RunOutputs, ArtifactError> {
    let mut artifacts = BTreeMap::new();
    let mut excluded = Vec::new();
    let mut a = tar::Archive::new(archive);
    for entry in a.entries().map_err(ArtifactError::Read)? {
        let mut entry = entry.map_err(ArtifactError::Read)?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let raw = entry.path().map_err(ArtifactError::Read)?.into_owned();
        let rel = safe_relative(&raw).ok_or_else(|| ArtifactError::UnsafePath(raw.display().to_string()))?;
        let name = crate::escape::os_name(rel.as_os_str());
        if exclude.is_match(&name) {
            excluded.push(name);
            continue;
        }
        let target = dest.join(&rel);
        let write_err = |source| ArtifactError::Write {
            path: target.clone(),
            source,
        };
        if let Some(parent) = target.parent() {
            // Only directories we create ourselves are traversed: refuse anything else there.
            std::fs::create_dir_all(parent).map_err(write_err)?;
            if std::fs::symlink_metadata(parent)
                .map_err(write_err)?
                .file_type()
                .is_symlink()
            {
                return Err(ArtifactError::UnsafePath(name));
            }
        }
        let mut f = std::fs::File::options()
            .write(true)
            .create_new(true)
            .open(&target)
            .map_err(write_err)?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut size = 0u64;
        loop {
            let n = entry.read(&mut buf).map_err(ArtifactError::Read)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            f.write_all(&buf[..n]).map_err(write_err)?;
            size += n as u64;
        }
        let header = entry.header();
        artifacts.insert(
            name.clone(),
            Artifact {
                path: name,
                file: rel,
                sha256: hex::encode(h.finalize()),
                size,
                mode: header.mode().unwrap_or(0),
                mtime: header.mtime().map_or(0, |t| i64::try_from(t).unwrap_or(i64::MAX)),
            },
        );
    }
    excluded.sort();
    Ok(RunOutputs {
        dir: dest.to_path_buf(),
        artifacts,
        excluded,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(files: &[(&str, &[u8], tar::EntryType)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data, kind) in files {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_size(data.len() as u64);
            h.set_mode(0o640);
            h.set_mtime(1234);
            // Write the name raw: the builder refuses `..`, a hostile archive does not.
            let bytes = name.as_bytes();
            h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn unpacks_files_with_digests_and_excludes() {
        let d = tempfile::tempdir().unwrap();
        let t = tar_of(&[
            ("out/a.bin", b"hello", tar::EntryType::Regular),
            ("out/sub/b.log", b"x", tar::EntryType::Regular),
            ("link", b"", tar::EntryType::Symlink),
        ]);
        let mut ex = globset::GlobSetBuilder::new();
        ex.add(globset::Glob::new("**/*.log").unwrap());
        let r = unpack(&t[..], &d.path().join("run"), &ex.build().unwrap()).unwrap();
        let a = &r.artifacts["out/a.bin"];
        assert_eq!(
            a.sha256,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!((a.size, a.mode, a.mtime), (5, 0o640, 1234));
        assert_eq!(r.excluded, ["out/sub/b.log"]);
        assert_eq!(std::fs::read(d.path().join("run/out/a.bin")).unwrap(), b"hello");
    }

    #[test]
    fn glob_sets_match_output_paths_and_skip_bad_globs() {
        let set = glob_set(&["**/*.log".into(), "[".into(), "dist/*.whl".into()]);
        assert!(set.is_match("out/sub/b.log"));
        assert!(set.is_match("dist/x-1.whl"));
        assert!(!set.is_match("out/a.bin"));
        assert!(!set.is_match("["));
        assert!(glob_set(&[]).is_empty());
    }

    #[test]
    fn names_that_differ_in_undecodable_bytes_stay_two_artifacts() {
        use std::os::unix::ffi::OsStrExt;
        let d = tempfile::tempdir().unwrap();
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in [(&b"out/\xfe"[..], &b"random"[..]), (b"out/\xff", b"constant")] {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.as_old_mut().name[..name.len()].copy_from_slice(name);
            h.set_cksum();
            b.append(&h, data).unwrap();
        }
        let t = b.into_inner().unwrap();
        let r = unpack(&t[..], &d.path().join("run"), &GlobSet::empty()).unwrap();
        let names: Vec<&str> = r.artifacts.keys().map(String::as_str).collect();
        assert_eq!(names, ["out/\\xfe", "out/\\xff"]);
        let a = &r.artifacts["out/\\xfe"];
        assert_eq!(a.file.as_os_str().as_bytes(), b"out/\xfe");
        assert_eq!(std::fs::read(r.dir.join(&a.file)).unwrap(), b"random");
        // A backslash is a file name character, not a separator.
        let t = tar_of(&[("out/a\\b", b"x", tar::EntryType::Regular)]);
        let r = unpack(&t[..], &d.path().join("run2"), &GlobSet::empty()).unwrap();
        assert_eq!(r.artifacts.keys().collect::<Vec<_>>(), ["out/a\\b"]);
    }

    #[test]
    fn refuses_paths_that_leave_the_directory() {
        let d = tempfile::tempdir().unwrap();
        for bad in ["../evil", "/etc/evil", "a/../../evil"] {
            let t = tar_of(&[(bad, b"x", tar::EntryType::Regular)]);
            let e = unpack(&t[..], &d.path().join("run"), &GlobSet::empty());
            assert!(matches!(e, Err(ArtifactError::UnsafePath(_))), "{bad}: {e:?}");
        }
        assert!(!d.path().join("evil").exists());
        assert!(unpack(&b"garbage"[..], &d.path().join("x"), &GlobSet::empty()).is_err());
    }
}
