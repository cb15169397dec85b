//! Which image the runs are created from: one of our builder images (loaded from repro's cache,
//! or built), an image pinned by digest (our cache first, then the engine), or — when the user
//! allows it — a tag.

use std::sync::Arc;

use bollard::Docker;
use serde::Serialize;

use super::RunError;
use crate::image::{self, ImageRef, Progress};

/// The image a check's runs were created from.
#[derive(Debug, Clone, Serialize)]
pub struct ImageInfo {
    /// As given: a builder name or a reference.
    pub reference: String,
    /// The engine's image ID containers were created from.
    pub image_id: String,
    pub layer_digest: Option<String>,
    pub tarball_sha256: Option<String>,
    /// False only for a tag accepted with `--allow-unpinned`.
    pub pinned: bool,
}

impl ImageInfo {
    /// What the local backend reports: it has no image.
    pub fn this_machine() -> ImageInfo {
        ImageInfo {
            reference: "(this machine)".into(),
            image_id: "none: local backend".into(),
            layer_digest: None,
            tarball_sha256: None,
            pinned: false,
        }
    }

    fn from_pinned(reference: String, p: image::PinnedImage) -> ImageInfo {
        ImageInfo {
            reference,
            image_id: p.image_id,
            layer_digest: Some(p.record.layer_digest),
            tarball_sha256: Some(p.record.tarball_sha256),
            pinned: true,
        }
    }
}

/// Makes sure the engine has the image `r` names, and says which it is.
pub(super) async fn resolve(
    docker: &Docker,
    r: &ImageRef,
    registry: Option<&str>,
    progress: Arc<dyn Progress>,
) -> Result<ImageInfo, RunError> {
    let store = image::ImageStore::with_docker(image::Cache::from_env()?, docker.clone())
        .with_registry(registry.map(str::to_owned));
    match r {
        ImageRef::Builder(name) => {
            let p = store.ensure(name, progress).await?;
            Ok(ImageInfo::from_pinned(name.clone(), p))
        }
        ImageRef::Digest { digest, .. } => {
            // Our own cache first (an image shared with `repro image export|import`), then the
            // engine (pulled or loaded by other means).
            if let Ok(record) = store.resolve(digest) {
                let p = store.load(&record, progress).await?;
                return Ok(ImageInfo::from_pinned(r.to_string(), p));
            }
            engine_image(docker, r).await
        }
        ImageRef::Unpinned(_) => engine_image(docker, r).await,
    }
}

async fn engine_image(docker: &Docker, r: &ImageRef) -> Result<ImageInfo, RunError> {
    let reference = r.to_string();
    let mut found = image::inspect(docker, &reference).await?;
    if found.is_none()
        && let Some(digest) = r.digest()
    {
        // `name@sha256:ID` of an image loaded without that name: the engine knows it by ID.
        found = image::inspect(docker, digest).await?.filter(|f| f.id == digest);
    }
    let Some(found) = found else {
        return Err(RunError::ImageMissing { reference });
    };
    if let Some(digest) = r.digest() {
        // A digest reference must name this content: the image ID or a layer.
        let matches = found.id == digest || found.layers.iter().any(|l| l == digest);
        if !matches && !reference.contains('@') {
            return Err(RunError::ImageMissing { reference });
        }
    }
    Ok(ImageInfo {
        reference,
        image_id: found.id,
        layer_digest: found.layers.last().cloned(),
        tarball_sha256: None,
        pinned: r.is_pinned(),
    })
}
