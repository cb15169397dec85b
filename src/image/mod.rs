//! Pinned builder images without a registry: recipes run by `mmdebstrap`, a content-keyed cache
//! of the root filesystem tarballs, and an image archive written by hand so that the engine
//! gives the image the same ID on every machine.
//!
//! The tarball is the pin. A recipe only says how to make one; Debian's archive moves, so the
//! same recipe gives newer packages next month. Everything else (layer digest, config digest,
//! image ID) follows from the tarball's bytes and the recipe's `SOURCE_DATE_EPOCH`.

mod build;
mod cache;
mod engine;
mod oci;
mod recipe;
mod reference;
mod registry;
mod rootfs;
mod store;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use cache::Cache;
pub(crate) use cache::write_atomic;
pub use engine::{EngineImage, connect, inspect};
pub use oci::{ImageArchive, config_json};
pub use recipe::{Recipe, builtin_names, is_builtin};
pub use reference::{ImageRef, ImageRefError};
pub use registry::check_registry;
pub use rootfs::Package;
pub use store::{ExportFormat, ImageStore, ListedImage};

/// What we know about one root filesystem tarball in the cache, stored as JSON beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// Recipe name (`default`, `rust`, …).
    pub name: String,
    /// The cache key: sha256 of the mmdebstrap invocation the recipe becomes.
    pub recipe_sha256: String,
    pub source_date_epoch: i64,
    pub architecture: String,
    /// sha256 (hex) of the tarball: the pin.
    pub tarball_sha256: String,
    pub tarball_size: u64,
    /// `sha256:…` of the single, uncompressed layer: the tarball's digest again, as the engine
    /// reports it in `RootFS.Layers`.
    pub layer_digest: String,
    /// `sha256:…` of the image config we write; the image ID on the classic image store.
    pub config_digest: String,
    /// `sha256:…` of the OCI manifest; the image ID on the containerd image store.
    pub manifest_digest: String,
    /// The ID the engine reported at the last load, if any.
    #[serde(default)]
    pub image_id: Option<String>,
    /// The tag we give the image in the engine, for people: `repro/NAME:<first 12 of sha256>`.
    pub tag: String,
    /// `mmdebstrap 1.3.5`, or `import` for a tarball added with `repro image import`.
    pub made_by: String,
    /// Installed packages from the tarball's dpkg status, sorted by name.
    #[serde(default)]
    pub packages: Vec<Package>,
    /// The manifest digest (`sha256:…`) each registry holds the image under, by registry, as
    /// `repro image push` recorded it.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub pushed: std::collections::BTreeMap<String, String>,
}

/// An image present in the engine with the identity its tarball implies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedImage {
    /// The ID the engine reports (`sha256:…`); create containers from this, never from a tag.
    pub image_id: String,
    pub record: ImageRecord,
    /// Where the tarball is in the cache.
    pub tarball: PathBuf,
}

/// Receives progress of long steps. The library never prints; the CLI draws these on a
/// terminal. Methods take `&self` and may be called from worker threads.
pub trait Progress: Send + Sync {
    /// A step begins; `total` bytes when its length is known (a bar), else a spinner.
    fn begin(&self, _message: &str, _total: Option<u64>) {}
    /// The current step says what it is doing now.
    fn message(&self, _message: &str) {}
    /// The current step has done `done` of its `total` bytes.
    fn position(&self, _done: u64) {}
    /// The current step is over.
    fn end(&self, _message: &str) {}
}

/// Progress that goes nowhere.
pub struct Silent;

impl Progress for Silent {}

/// Everything that can go wrong with builder images. Each names what to fix; [`hint`] says how.
///
/// [`hint`]: ImageError::hint
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("no builder image recipe named `{name}` (known: {known}; or give a path to a .toml recipe)")]
    UnknownRecipe { name: String, known: String },
    #[error("recipe `{name}`: {reason}")]
    Recipe { name: String, reason: String },
    #[error("mmdebstrap is not installed (not found on PATH)")]
    MmdebstrapMissing,
    #[error("building a builder image runs mmdebstrap as root, and this process is not root")]
    NotRoot { name: String },
    #[error("mmdebstrap failed ({status}); its last output:\n{log_tail}")]
    Mmdebstrap { status: String, log_tail: String },
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("{path}: not a usable root filesystem tarball: {reason}")]
    Rootfs { path: PathBuf, reason: String },
    #[error("{path}: not a repro image archive: {reason}")]
    Archive { path: PathBuf, reason: String },
    #[error("{what}: expected {expected}, found {actual}")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("cannot find a cache directory: neither REPRO_CACHE_DIR, XDG_CACHE_HOME nor HOME is set")]
    NoCacheDir,
    #[error("no cached image for `{what}`")]
    NotCached { what: String },
    #[error("cannot reach the container engine at {host}: {source}")]
    EngineUnreachable {
        host: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("the container engine could not {action}: {source}")]
    Engine {
        action: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error(
        "the engine loaded {tag} as {actual}, which is neither the config digest {config} nor the \
         manifest digest {manifest} (layers: {layers})"
    )]
    UnexpectedIdentity {
        tag: String,
        actual: String,
        config: String,
        manifest: String,
        layers: String,
    },
    #[error("the registry refused to {action}: {message}")]
    Registry { action: String, message: String },
    #[error(
        "`{name}` was never pushed to the registry {registry} (run `repro image push {registry} {name}`)"
    )]
    NotPushed { name: String, registry: String },
    #[error("interrupted")]
    Interrupted,
}

impl ImageError {
    /// The command or setting that fixes this, when there is one.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            ImageError::MmdebstrapMissing => {
                "install it with `apt-get install mmdebstrap` (Debian/Ubuntu), or import a tarball \
                 built elsewhere with `repro image import FILE`"
                    .to_owned()
            }
            ImageError::NotRoot { name } => format!(
                "run `sudo repro image build {name}`, or import a tarball built elsewhere with \
                 `repro image import FILE`"
            ),
            ImageError::Mmdebstrap { .. } => {
                "check that the recipe's mirror is reachable (http_proxy is honoured) and its \
                 packages exist in the suite"
                    .to_owned()
            }
            ImageError::NoCacheDir => "set REPRO_CACHE_DIR to a writable directory".to_owned(),
            ImageError::NotCached { what } => {
                format!("build it with `repro image build {what}` or add it with `repro image import FILE`")
            }
            ImageError::EngineUnreachable { .. } => format!(
                "start the Docker engine, or point DOCKER_HOST at one (e.g. {}, tcp://HOST:2376 with \
                 DOCKER_TLS_VERIFY=1, ssh://USER@HOST)",
                crate::engine::DEFAULT_DOCKER_HOST
            ),
            _ => return None,
        })
    }
}

/// Makes sure the builder image `name` (a recipe name or a path to a recipe file) is in the
/// engine with the identity its cached tarball implies: from the cache when present, else
/// built with mmdebstrap (root only). Connects to the engine named by `DOCKER_HOST`.
pub async fn ensure_image(
    name: &str,
    progress: std::sync::Arc<dyn Progress>,
) -> Result<PinnedImage, ImageError> {
    ImageStore::new(Cache::from_env()?).ensure(name, progress).await
}
