//! The container engine side of builder images, through bollard: load an image archive as a
//! stream, inspect, list and remove.

use std::collections::HashMap;
use std::io::{self, BufReader, Write};
use std::path::Path;
use std::sync::Arc;

use bollard::Docker;
use bollard::errors::Error as EngineError;
use bollard::query_parameters::{ImportImageOptions, ListImagesOptions, RemoveImageOptions};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use super::oci::ImageArchive;
use super::{ImageError, Progress};

/// Size of the pieces the archive is streamed in, and how many may wait in the channel:
/// at most ~5 MB of the archive is in memory at once.
const CHUNK: usize = 1 << 20;
const CHUNKS_IN_FLIGHT: usize = 4;

/// Connects to the engine named by `DOCKER_HOST` (see [`crate::engine::Engine::connect`]).
pub async fn connect() -> Result<Docker, ImageError> {
    match crate::engine::Engine::connect().await {
        Ok(engine) => Ok(engine.docker().clone()),
        Err(e) => Err(ImageError::EngineUnreachable {
            host: e.endpoint,
            source: e.source,
        }),
    }
}

pub(super) fn failed(action: impl Into<String>) -> impl FnOnce(EngineError) -> ImageError {
    let action = action.into();
    move |source| ImageError::Engine { action, source }
}

/// An image as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineImage {
    pub id: String,
    pub tags: Vec<String>,
    pub size: u64,
    /// Layer digests (`RootFS.Layers`); empty when listed rather than inspected.
    pub layers: Vec<String>,
}

/// The image named `reference`, or `None` when the engine has none.
pub async fn inspect(docker: &Docker, reference: &str) -> Result<Option<EngineImage>, ImageError> {
    match docker.inspect_image(reference).await {
        Ok(image) => Ok(Some(EngineImage {
            id: image.id.unwrap_or_default(),
            tags: image.repo_tags.unwrap_or_default(),
            size: image.size.and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
            layers: image.root_fs.and_then(|r| r.layers).unwrap_or_default(),
        })),
        Err(EngineError::DockerResponseServerError { status_code: 404, .. }) => Ok(None),
        Err(e) => Err(failed(format!("inspect image {reference}"))(e)),
    }
}

/// Images tagged `repro/…`.
pub(super) async fn list(docker: &Docker) -> Result<Vec<EngineImage>, ImageError> {
    let options = ListImagesOptions {
        filters: Some(HashMap::from([(
            "reference".to_owned(),
            vec!["repro/*".to_owned()],
        )])),
        ..Default::default()
    };
    let images = docker
        .list_images(Some(options))
        .await
        .map_err(failed("list images"))?;
    Ok(images
        .into_iter()
        .map(|i| EngineImage {
            id: i.id,
            tags: i.repo_tags,
            size: u64::try_from(i.size).unwrap_or(0),
            layers: Vec::new(),
        })
        .collect())
}

/// Removes an image (all its tags); stopped containers using it go too.
pub(super) async fn remove(docker: &Docker, id: &str) -> Result<(), ImageError> {
    let options = RemoveImageOptions {
        force: true,
        ..Default::default()
    };
    docker
        .remove_image(id, Some(options), None)
        .await
        .map_err(failed(format!("remove image {id}")))?;
    Ok(())
}

/// Checks that the engine holds exactly the image the archive describes: the one layer, and
/// an ID that is the config digest (classic image store) or the manifest digest (containerd
/// image store).
pub(super) fn check_identity(archive: &ImageArchive, image: &EngineImage) -> Result<(), ImageError> {
    let layers_ok = image.layers == [archive.layer_digest()];
    if layers_ok && (image.id == archive.config_digest || image.id == archive.manifest_digest) {
        return Ok(());
    }
    Err(ImageError::UnexpectedIdentity {
        tag: archive.tag.clone(),
        actual: image.id.clone(),
        config: archive.config_digest.clone(),
        manifest: archive.manifest_digest.clone(),
        layers: image.layers.join(", "),
    })
}

/// Streams the image archive for `tarball` to the engine's load endpoint (`docker load`).
/// The archive is written by a blocking task into a small channel, so memory stays bounded
/// whatever the tarball's size.
pub(super) async fn load(
    docker: &Docker,
    archive: &ImageArchive,
    tarball: &Path,
    progress: Arc<dyn Progress>,
) -> Result<(), ImageError> {
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(CHUNKS_IN_FLIGHT);
    let writer = {
        let archive = archive.clone();
        let tarball = tarball.to_owned();
        tokio::task::spawn_blocking(move || -> io::Result<()> {
            let file = fs_err::File::open(&tarball)?;
            let mut sink = ChannelWriter {
                tx: tx.clone(),
                buf: BytesMut::with_capacity(CHUNK),
                sent: 0,
                progress,
            };
            let result = archive.write(BufReader::with_capacity(CHUNK, file), &mut sink);
            if let Err(e) = &result {
                // Fail the request body too, so the engine does not wait for more.
                let _ = tx.blocking_send(Err(io::Error::new(e.kind(), e.to_string())));
            }
            result
        })
    };
    let body =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    let options = ImportImageOptions {
        quiet: true,
        ..Default::default()
    };
    let mut responses = docker.import_image_stream(options, body, None);
    let mut engine_result = Ok(());
    while let Some(item) = responses.next().await {
        if let Err(e) = item {
            engine_result = Err(e);
            break;
        }
    }
    drop(responses);
    let writer_result = writer.await.unwrap_or_else(|e| Err(io::Error::other(e)));
    match (writer_result, engine_result) {
        // The engine hung up first: its reason is the one that matters.
        (Err(e), Err(engine)) if e.kind() == io::ErrorKind::BrokenPipe => {
            Err(failed(format!("load {}", archive.tag))(engine))
        }
        (Err(e), _) => Err(ImageError::Io(io::Error::new(
            e.kind(),
            format!("{}: {e}", tarball.display()),
        ))),
        (Ok(()), Err(engine)) => Err(failed(format!("load {}", archive.tag))(engine)),
        (Ok(()), Ok(())) => Ok(()),
    }
}

/// A `Write` that hands the archive to the request body in chunks.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<io::Result<Bytes>>,
    buf: BytesMut,
    sent: u64,
    progress: Arc<dyn Progress>,
}

impl ChannelWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = self.buf.split().freeze();
        self.sent = self.sent.saturating_add(chunk.len() as u64);
        self.tx.blocking_send(Ok(chunk)).map_err(|_| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the engine stopped reading the image archive",
            )
        })?;
        self.progress.position(self.sent);
        Ok(())
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}
