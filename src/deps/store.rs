//! The dependency store: what fetch phases downloaded, content-addressed, shared by every check.
//!
//! ```text
//! <root>/entries/<sha256>/manifest.json  every file (path, size, sha256) and the Dependency list
//! <root>/entries/<sha256>/data/…         the files, mounted read-only into builds
//! <root>/keys/<key>                      the entry (manifest sha256) fetched for a StoreKey
//! <root>/tmp/                            fetch work areas and entries being written
//! ```
//!
//! `<root>` is `deps/` in repro's cache folder (the one builder images use), or the folder given
//! with `--deps-store`. An entry is named by the sha256 of its manifest, which names every file
//! by its sha256: the name identifies the content. Entries and keys appear by rename, so a crash
//! or Ctrl-C never leaves a half-written one.

use std::io::Write;
use std::path::{Path, PathBuf};

use fs_err as fs;
use serde::{Deserialize, Serialize};

use super::{Dependency, DepsError, Ecosystem, sha256_file, sha256_hex};

const MANIFEST: &str = "manifest.json";
const DATA: &str = "data";
/// Bumped when the manifest's meaning changes; older entries are then fetched again.
const MANIFEST_SCHEMA: u32 = 1;
/// A fetch that produces more files than this is refused rather than hashed for minutes.
const MAX_FILES: usize = 2_000_000;

/// What a fetch was keyed by: the ecosystem, the builder image (by ID) and the inputs that
/// determine what is downloaded ([`super::key_inputs`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StoreKey(String);

impl StoreKey {
    pub fn new(ecosystem: Ecosystem, image_id: &str, inputs: &[(String, Vec<u8>)]) -> StoreKey {
        // Length-prefixed fields: no two different input lists encode the same.
        let mut bytes = Vec::new();
        let mut field = |b: &[u8]| {
            bytes.extend_from_slice(&(b.len() as u64).to_le_bytes());
            bytes.extend_from_slice(b);
        };
        field(b"repro-deps-key-v1");
        field(ecosystem.name().as_bytes());
        field(image_id.as_bytes());
        let mut sorted: Vec<&(String, Vec<u8>)> = inputs.iter().collect();
        sorted.sort();
        for (name, content) in sorted {
            field(name.as_bytes());
            field(content);
        }
        StoreKey(sha256_hex(&bytes))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One file of an entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFile {
    /// Relative to the entry's `data/`, `/`-separated.
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// The manifest of an entry: everything in it, identified by sha256.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub schema: u32,
    pub ecosystem: Ecosystem,
    /// The builder image the fetch ran in.
    pub image: String,
    /// The lockfile the fetch used, relative to `data/`, when it is part of what is recorded
    /// (a `Cargo.lock` the fetch generated).
    pub lockfile: Option<String>,
    pub dependencies: Vec<Dependency>,
    pub files: Vec<StoredFile>,
}

/// A finished entry.
#[derive(Clone, Debug)]
pub struct Entry {
    /// sha256 of `manifest.json`: the store digest the report shows.
    pub digest: String,
    pub manifest: Manifest,
    dir: PathBuf,
}

impl Entry {
    /// The folder builds mount read-only at [`super::STORE_MOUNT`].
    pub fn data(&self) -> PathBuf {
        self.dir.join(DATA)
    }

    /// The content of the recorded lockfile, if the entry has one.
    pub fn lockfile(&self) -> Result<Option<Vec<u8>>, DepsError> {
        match &self.manifest.lockfile {
            Some(rel) => super::read_bounded(&self.data().join(rel)).map(Some),
            None => Ok(None),
        }
    }

    /// Re-hashes every file (the cheap check at lookup only compares sizes).
    pub fn verify_deep(&self) -> Result<(), DepsError> {
        let data = self.data();
        for file in &self.manifest.files {
            let path = data.join(&file.path);
            let actual = sha256_file(&path)?;
            if actual != file.sha256 {
                return Err(DepsError::DigestMismatch {
                    dependency: format!("stored file {}", path.display()),
                    expected: file.sha256.clone(),
                    actual,
                });
            }
        }
        Ok(())
    }
}

/// A dependency store rooted at one folder.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// The store inside repro's cache folder (`<cache root>/deps`).
    pub fn in_cache(cache_root: &Path) -> Store {
        Store::at(cache_root.join("deps"))
    }

    /// A store at `root` (`--deps-store DIR`, tests).
    pub fn at(root: impl Into<PathBuf>) -> Store {
        Store { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn dir(&self, sub: &str) -> Result<PathBuf, DepsError> {
        let dir = self.root.join(sub);
        fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    /// A work area for one fetch, on the store's file system so its `out/` can be renamed into
    /// an entry. Removed when dropped, on error paths too.
    pub fn work_area(&self) -> Result<tempfile::TempDir, DepsError> {
        let parent = self.dir("tmp")?;
        tempfile::Builder::new()
            .prefix("fetch-")
            .tempdir_in(&parent)
            .map_err(|e| in_dir(e, &parent).into())
    }

    /// The entry fetched for `key` before, if it is still whole: its manifest has the digest it
    /// is named by and every file has the recorded size. `Ok(None)` for a miss or a damaged
    /// entry (which is then fetched again).
    pub fn lookup(&self, key: &StoreKey) -> Result<Option<Entry>, DepsError> {
        let pointer = self.root.join("keys").join(key.as_str());
        let digest = match fs::read_to_string(&pointer) {
            Ok(text) => text.trim().to_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if !super::is_sha256_hex(&digest) {
            return Ok(None);
        }
        self.open(&digest)
    }

    /// The entry with this digest, if it is whole (see [`Store::lookup`]).
    pub fn open(&self, digest: &str) -> Result<Option<Entry>, DepsError> {
        let dir = self.root.join("entries").join(digest);
        let bytes = match fs::read(dir.join(MANIFEST)) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if sha256_hex(&bytes) != digest {
            return Ok(None);
        }
        let Ok(manifest) = serde_json::from_slice::<Manifest>(&bytes) else {
            return Ok(None);
        };
        if manifest.schema != MANIFEST_SCHEMA {
            return Ok(None);
        }
        let data = dir.join(DATA);
        for file in &manifest.files {
            match fs::symlink_metadata(data.join(&file.path)) {
                Ok(meta) if meta.is_file() && meta.len() == file.size => {}
                _ => return Ok(None),
            }
        }
        Ok(Some(Entry {
            digest: digest.to_owned(),
            manifest,
            dir,
        }))
    }

    /// Moves a verified fetch output (`out`, inside a [`Store::work_area`]) into the store and
    /// points `key` at it. Every file is hashed; links and special files are refused.
    pub fn insert(
        &self,
        key: &StoreKey,
        out: &Path,
        ecosystem: Ecosystem,
        image: &str,
        lockfile: Option<&str>,
        mut dependencies: Vec<Dependency>,
    ) -> Result<Entry, DepsError> {
        dependencies.sort();
        dependencies.dedup();
        let manifest = Manifest {
            schema: MANIFEST_SCHEMA,
            ecosystem,
            image: image.to_owned(),
            lockfile: lockfile.map(str::to_owned),
            dependencies,
            files: hash_tree(out)?,
        };
        let json = serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;
        let digest = sha256_hex(&json);

        let entries = self.dir("entries")?;
        let target = entries.join(&digest);
        if self.open(&digest)?.is_none() {
            let tmp = self.dir("tmp")?;
            let staging = tempfile::Builder::new()
                .prefix("entry-")
                .tempdir_in(&tmp)
                .map_err(|e| in_dir(e, &tmp))?;
            fs::rename(out, staging.path().join(DATA))?;
            let mut file = fs::File::create(staging.path().join(MANIFEST))?;
            file.write_all(&json)?;
            file.sync_all()?;
            if target.exists() {
                // A damaged entry of the same name: replaced, not trusted.
                fs::remove_dir_all(&target)?;
            }
            let staged = staging.keep();
            if let Err(e) = fs::rename(&staged, &target) {
                // Another repro inserted the same content first: theirs is as good as ours.
                let _ = fs::remove_dir_all(&staged);
                if self.open(&digest)?.is_none() {
                    return Err(e.into());
                }
            }
        }
        crate::image::write_atomic(&self.dir("keys")?, key.as_str(), format!("{digest}\n").as_bytes())?;
        self.open(&digest)?.ok_or_else(|| DepsError::Store {
            path: target,
            reason: "the entry just written does not verify".to_owned(),
        })
    }
}

/// Every regular file below `root`, sorted by path, with size and sha256.
fn hash_tree(root: &Path) -> Result<Vec<StoredFile>, DepsError> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(path);
                continue;
            }
            let rel = path.strip_prefix(root).unwrap_or(&path);
            let (Some(rel_text), true) = (rel.to_str(), kind.is_file()) else {
                return Err(DepsError::Store {
                    path,
                    reason: "not a regular file with a UTF-8 name; the store keeps only those".to_owned(),
                });
            };
            if files.len() >= MAX_FILES {
                return Err(DepsError::Store {
                    path: root.to_owned(),
                    reason: format!("more than {MAX_FILES} files"),
                });
            }
            files.push(StoredFile {
                path: rel_text.to_owned(),
                size: entry.metadata()?.len(),
                sha256: sha256_file(&path)?,
            });
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

fn in_dir(e: std::io::Error, dir: &Path) -> std::io::Error {
    std::io::Error::new(
        e.kind(),
        format!("creating a temporary directory in {}: {e}", dir.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetched(store: &Store, files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
        let work = store.work_area().unwrap();
        let out = work.path().join("out");
        for (path, content) in files {
            let path = out.join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, content).unwrap();
        }
        (work, out)
    }

    fn key(lock: &str) -> StoreKey {
        StoreKey::new(
            Ecosystem::Cargo,
            "sha256:img",
            &[("Cargo.lock".to_owned(), lock.as_bytes().to_vec())],
        )
    }

    fn dep() -> Dependency {
        Dependency::new(Ecosystem::Cargo, "itoa", "1.0.19", &"a".repeat(64))
    }

    #[test]
    fn keys_depend_on_every_input_and_not_on_their_order() {
        let a = ("a".to_owned(), b"1".to_vec());
        let b = ("b".to_owned(), b"2".to_vec());
        let k = |inputs: &[(String, Vec<u8>)]| StoreKey::new(Ecosystem::Go, "img", inputs);
        assert_eq!(k(&[a.clone(), b.clone()]), k(&[b.clone(), a.clone()]));
        assert_ne!(k(std::slice::from_ref(&a)), k(&[a.clone(), b.clone()]));
        // Field boundaries count: ("ab", "") is not ("a", "b").
        assert_ne!(
            k(&[("ab".to_owned(), vec![])]),
            k(&[("a".to_owned(), b"b".to_vec())])
        );
        assert_ne!(
            k(std::slice::from_ref(&a)),
            StoreKey::new(Ecosystem::Go, "other", std::slice::from_ref(&a))
        );
        assert_ne!(
            k(std::slice::from_ref(&a)),
            StoreKey::new(Ecosystem::Cargo, "img", &[a])
        );
    }

    #[test]
    fn an_inserted_fetch_is_found_again_with_every_file_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path());
        assert!(store.lookup(&key("x")).unwrap().is_none());
        let (_work, out) = fetched(
            &store,
            &[
                ("Cargo.lock", "lock"),
                ("vendor/itoa-1.0.19/src/lib.rs", "fn x() {}"),
            ],
        );
        let entry = store
            .insert(
                &key("x"),
                &out,
                Ecosystem::Cargo,
                "sha256:img",
                Some("Cargo.lock"),
                vec![dep()],
            )
            .unwrap();
        assert!(!out.exists(), "the output was moved, not copied");
        assert_eq!(entry.manifest.files.len(), 2);
        let lib = entry
            .manifest
            .files
            .iter()
            .find(|f| f.path == "vendor/itoa-1.0.19/src/lib.rs")
            .unwrap();
        assert_eq!(lib.sha256, sha256_hex(b"fn x() {}"));
        assert_eq!(entry.lockfile().unwrap().as_deref(), Some(&b"lock"[..]));

        let again = store.lookup(&key("x")).unwrap().unwrap();
        assert_eq!(again.digest, entry.digest);
        assert_eq!(again.manifest.dependencies, vec![dep()]);
        again.verify_deep().unwrap();
        assert!(store.lookup(&key("y")).unwrap().is_none());
        // Nothing is left behind in tmp/ but the work area, which goes when dropped.
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 1);
    }

    #[test]
    fn the_same_content_under_two_keys_is_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path());
        let (_w1, out1) = fetched(&store, &[("f", "same")]);
        let (_w2, out2) = fetched(&store, &[("f", "same")]);
        let e1 = store
            .insert(&key("1"), &out1, Ecosystem::Cargo, "img", None, vec![])
            .unwrap();
        let e2 = store
            .insert(&key("2"), &out2, Ecosystem::Cargo, "img", None, vec![])
            .unwrap();
        assert_eq!(e1.digest, e2.digest);
        assert_eq!(fs::read_dir(dir.path().join("entries")).unwrap().count(), 1);
    }

    #[test]
    fn damaged_entries_are_misses_and_deep_verification_catches_edits() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path());
        let (_work, out) = fetched(&store, &[("a.whl", "wheel")]);
        let entry = store
            .insert(&key("x"), &out, Ecosystem::Python, "img", None, vec![])
            .unwrap();
        let file = entry.data().join("a.whl");

        // Same size, other bytes: only the deep check sees it.
        fs::write(&file, "WHEEL").unwrap();
        let cheap = store.lookup(&key("x")).unwrap().unwrap();
        assert!(matches!(
            cheap.verify_deep(),
            Err(DepsError::DigestMismatch { .. })
        ));
        // Another size: a miss.
        fs::write(&file, "wheel!").unwrap();
        assert!(store.lookup(&key("x")).unwrap().is_none());
        fs::remove_file(&file).unwrap();
        assert!(store.lookup(&key("x")).unwrap().is_none());

        // An edited manifest no longer has its name's digest.
        let manifest = dir.path().join("entries").join(&entry.digest).join(MANIFEST);
        fs::write(&manifest, "{}").unwrap();
        assert!(store.open(&entry.digest).unwrap().is_none());
        // A pointer that is not a digest.
        fs::write(dir.path().join("keys").join(key("x").as_str()), "../../etc").unwrap();
        assert!(store.lookup(&key("x")).unwrap().is_none());

        // Fetching again repairs the entry.
        let (_work, out) = fetched(&store, &[("a.whl", "wheel")]);
        let repaired = store
            .insert(&key("x"), &out, Ecosystem::Python, "img", None, vec![])
            .unwrap();
        assert_eq!(repaired.digest, entry.digest);
        repaired.verify_deep().unwrap();
    }

    #[test]
    fn links_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path());
        let (_work, out) = fetched(&store, &[("a", "x")]);
        std::os::unix::fs::symlink("/etc/passwd", out.join("link")).unwrap();
        let err = store
            .insert(&key("x"), &out, Ecosystem::Go, "img", None, vec![])
            .unwrap_err();
        assert!(matches!(err, DepsError::Store { .. }), "{err}");
        assert!(store.lookup(&key("x")).unwrap().is_none());
    }
}
