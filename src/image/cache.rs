//! The builder-image cache, keyed by content:
//!
//! ```text
//! <root>/images/rootfs/<sha256>.tar   the mmdebstrap tarball, named by its digest (the pin)
//! <root>/images/meta/<sha256>.json    its ImageRecord
//! <root>/images/recipes/<recipe-sha>  the tarball digest currently pinned for that recipe
//! ```
//!
//! `<root>` is `$REPRO_CACHE_DIR`, else `$XDG_CACHE_HOME/repro`, else `~/.cache/repro`.
//! Files appear by rename, so a crash or Ctrl-C never leaves a half-written entry.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use fs_err as fs;

use super::{ImageError, ImageRecord};

pub struct Cache {
    root: PathBuf,
}

/// An exclusive lock on one cache key, released on drop (also when the process dies).
pub struct CacheLock {
    _file: File,
}

impl Cache {
    /// The cache named by the environment.
    pub fn from_env() -> Result<Cache, ImageError> {
        let var = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        if let Some(dir) = var("REPRO_CACHE_DIR") {
            return Ok(Cache::at(dir));
        }
        // The XDG spec says relative values are invalid and must be ignored.
        if let Some(dir) = var("XDG_CACHE_HOME").filter(|d| d.is_absolute()) {
            return Ok(Cache::at(dir.join("repro")));
        }
        let home = var("HOME").ok_or(ImageError::NoCacheDir)?;
        Ok(Cache::at(home.join(".cache").join("repro")))
    }

    /// A cache rooted at `root` (tests use a temporary directory).
    pub fn at(root: impl Into<PathBuf>) -> Cache {
        Cache { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn dir(&self, sub: &str) -> Result<PathBuf, ImageError> {
        let dir = self.root.join("images").join(sub);
        fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    /// Where the tarball with this sha256 (hex) lives, whether or not it exists yet.
    pub fn tarball_path(&self, sha256: &str) -> PathBuf {
        self.root
            .join("images")
            .join("rootfs")
            .join(format!("{sha256}.tar"))
    }

    /// A scratch directory on the cache's file system, so finished files can be renamed in.
    /// Removed when dropped, on error paths too.
    pub fn temp_dir(&self) -> Result<tempfile::TempDir, ImageError> {
        let parent = self.dir("tmp")?;
        Ok(tempfile::Builder::new()
            .prefix("build-")
            .tempdir_in(&parent)
            .map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("creating a temporary directory in {}: {e}", parent.display()),
                )
            })?)
    }

    /// Serialises work on one key across processes (two `repro` runs building the same image).
    /// Waiting happens on a blocking thread, not on the async workers.
    pub async fn lock(&self, key: &str) -> Result<CacheLock, ImageError> {
        let path = self.dir("locks")?.join(format!("{key}.lock"));
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        let file = file.into_parts().0;
        let locked = tokio::task::spawn_blocking(move || {
            file.lock()
                .map(|()| file)
                .map_err(|e| std::io::Error::new(e.kind(), format!("locking {}: {e}", path.display())))
        });
        Ok(CacheLock {
            _file: locked.await.map_err(std::io::Error::other)??,
        })
    }

    /// Moves a finished tarball into the cache under its digest.
    pub fn add_tarball(&self, from: &Path, sha256: &str) -> Result<PathBuf, ImageError> {
        self.dir("rootfs")?;
        let to = self.tarball_path(sha256);
        fs::rename(from, &to)?;
        Ok(to)
    }

    /// Writes (or replaces) a tarball's record.
    pub fn save(&self, record: &ImageRecord) -> Result<(), ImageError> {
        let json = serde_json::to_vec_pretty(record).map_err(std::io::Error::other)?;
        let dir = self.dir("meta")?;
        Ok(write_atomic(
            &dir,
            &format!("{}.json", record.tarball_sha256),
            &json,
        )?)
    }

    /// Makes `sha256` the tarball pinned for `recipe_sha256`.
    pub fn pin(&self, recipe_sha256: &str, sha256: &str) -> Result<(), ImageError> {
        let dir = self.dir("recipes")?;
        Ok(write_atomic(
            &dir,
            recipe_sha256,
            format!("{sha256}\n").as_bytes(),
        )?)
    }

    /// The record pinned for a recipe, if its tarball is still there.
    pub fn pinned(&self, recipe_sha256: &str) -> Result<Option<ImageRecord>, ImageError> {
        let path = self.root.join("images").join("recipes").join(recipe_sha256);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let sha = text.trim();
        if !is_sha256_hex(sha) {
            return Err(ImageError::Rootfs {
                path,
                reason: "cache pointer is not a sha256".to_owned(),
            });
        }
        self.record(sha)
    }

    /// The record of one tarball, if both it and the tarball (with the recorded size) exist.
    pub fn record(&self, sha256: &str) -> Result<Option<ImageRecord>, ImageError> {
        let path = self
            .root
            .join("images")
            .join("meta")
            .join(format!("{sha256}.json"));
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let record: ImageRecord = serde_json::from_slice(&bytes).map_err(|e| ImageError::Rootfs {
            path: path.clone(),
            reason: format!("bad cache record: {e}"),
        })?;
        if record.tarball_sha256 != sha256 {
            return Err(ImageError::Rootfs {
                path,
                reason: "cache record names another tarball".to_owned(),
            });
        }
        match fs::metadata(self.tarball_path(sha256)) {
            Ok(meta) if meta.len() == record.tarball_size => Ok(Some(record)),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Every record whose tarball is present, with whether it is the one pinned for its recipe,
    /// sorted by name and then digest.
    pub fn records(&self) -> Result<Vec<(ImageRecord, bool)>, ImageError> {
        let dir = self.root.join("images").join("meta");
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for entry in entries {
            let name = entry?.file_name();
            let Some(sha) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            if !is_sha256_hex(sha) {
                continue;
            }
            if let Some(record) = self.record(sha)? {
                let current = self
                    .pinned(&record.recipe_sha256)?
                    .is_some_and(|p| p.tarball_sha256 == sha);
                out.push((record, current));
            }
        }
        out.sort_by(|a, b| (&a.0.name, &a.0.tarball_sha256).cmp(&(&b.0.name, &b.0.tarball_sha256)));
        Ok(out)
    }

    /// The record whose tarball, layer, config, manifest or image ID has this digest
    /// (`sha256:…` or bare hex).
    pub fn find_digest(&self, digest: &str) -> Result<Option<ImageRecord>, ImageError> {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        let full = format!("sha256:{hex}");
        Ok(self.records()?.into_iter().map(|(r, _)| r).find(|r| {
            r.tarball_sha256 == hex
                || r.config_digest == full
                || r.manifest_digest == full
                || r.image_id.as_deref() == Some(full.as_str())
        }))
    }
}

/// Writes `dir/name` whole or not at all (a temporary file renamed over it): readers of repro's
/// cache never see half a file, whichever repro wrote it. The error names the file.
pub(crate) fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let target = dir.join(name);
    let context =
        |e: std::io::Error| std::io::Error::new(e.kind(), format!("writing {}: {e}", target.display()));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(context)?;
    tmp.write_all(bytes).map_err(context)?;
    tmp.persist(&target).map_err(|e| context(e.error))?;
    Ok(())
}

pub(super) fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str, sha: &str) -> ImageRecord {
        ImageRecord {
            name: name.to_owned(),
            recipe_sha256: "r".repeat(64),
            source_date_epoch: 1,
            architecture: "amd64".to_owned(),
            tarball_sha256: sha.to_owned(),
            tarball_size: 3,
            layer_digest: format!("sha256:{sha}"),
            config_digest: format!("sha256:{}", "c".repeat(64)),
            manifest_digest: format!("sha256:{}", "d".repeat(64)),
            image_id: None,
            tag: "repro/x:1".to_owned(),
            made_by: "test".to_owned(),
            packages: Vec::new(),
            pushed: Default::default(),
        }
    }

    #[test]
    fn records_need_their_tarball() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::at(dir.path());
        let sha = "a".repeat(64);
        let rec = record("x", &sha);
        cache.save(&rec).unwrap();
        cache.pin(&rec.recipe_sha256, &sha).unwrap();
        assert_eq!(cache.pinned(&rec.recipe_sha256).unwrap(), None, "no tarball yet");
        let tmp = cache.temp_dir().unwrap();
        std::fs::write(tmp.path().join("t"), b"abc").unwrap();
        cache.add_tarball(&tmp.path().join("t"), &sha).unwrap();
        assert_eq!(cache.pinned(&rec.recipe_sha256).unwrap(), Some(rec.clone()));
        assert_eq!(cache.records().unwrap(), vec![(rec.clone(), true)]);
        assert_eq!(cache.find_digest(&"c".repeat(64)).unwrap(), Some(rec.clone()));
        assert_eq!(
            cache.find_digest(&format!("sha256:{sha}")).unwrap(),
            Some(rec.clone())
        );
        assert_eq!(cache.find_digest(&"e".repeat(64)).unwrap(), None);
        // A truncated tarball is not a cache hit.
        std::fs::write(cache.tarball_path(&sha), b"ab").unwrap();
        assert_eq!(cache.pinned(&rec.recipe_sha256).unwrap(), None);
    }

    #[test]
    fn corrupt_entries_are_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::at(dir.path());
        let sha = "b".repeat(64);
        std::fs::create_dir_all(dir.path().join("images/meta")).unwrap();
        std::fs::write(dir.path().join(format!("images/meta/{sha}.json")), b"{not json").unwrap();
        assert!(
            cache
                .record(&sha)
                .unwrap_err()
                .to_string()
                .contains("bad cache record")
        );
        cache.pin("k", "../../etc/passwd").unwrap();
        assert!(cache.pinned("k").is_err());
        // Stray files in meta/ are ignored.
        std::fs::write(dir.path().join("images/meta/README"), b"hi").unwrap();
        assert!(cache.records().is_err(), "the corrupt record still surfaces");
    }

    #[test]
    fn sha256_hex_is_strict() {
        assert!(is_sha256_hex(&"0".repeat(64)));
        assert!(!is_sha256_hex(&"A".repeat(64)));
        assert!(!is_sha256_hex(&"0".repeat(63)));
        assert!(!is_sha256_hex("../x"));
    }
}
