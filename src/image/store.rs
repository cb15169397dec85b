//! `ImageStore`: the cache and the engine together — build, load, import, export, list.

use std::io::{self, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::Docker;

use super::cache::{Cache, is_sha256_hex};
use super::engine::{self, EngineImage};
use super::oci::{self, ImageArchive};
use super::recipe::Recipe;
use super::rootfs::{self, Hashing, Scan};
use super::{ImageError, ImageRecord, PinnedImage, Progress, build, registry};

/// What `repro image export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// The image archive (`docker load` reads it; `repro image import` checks and files it).
    Archive,
    /// The exact mmdebstrap tarball.
    Rootfs,
}

/// The outcome of [`ImageStore::build`].
#[derive(Debug, Clone)]
pub struct Built {
    pub record: ImageRecord,
    /// How long mmdebstrap ran; `None` when the tarball came from the cache.
    pub mmdebstrap_time: Option<Duration>,
    /// The tarball digest pinned for this recipe before a rebuild, if there was one.
    pub previous_sha256: Option<String>,
}

/// One line of `repro image ls`: a cached tarball, an image in the engine, or both.
#[derive(Debug, Clone)]
pub struct ListedImage {
    pub record: Option<ImageRecord>,
    /// Whether this tarball is the one pinned for its recipe.
    pub pinned: bool,
    pub engine: Option<EngineImage>,
}

/// The builder-image cache together with a lazily connected engine.
pub struct ImageStore {
    cache: Cache,
    docker: tokio::sync::OnceCell<Docker>,
    /// Where an engine lacking an image pulls it from, by digest, instead of having it loaded.
    registry: Option<String>,
}

impl ImageStore {
    pub fn new(cache: Cache) -> ImageStore {
        ImageStore {
            cache,
            docker: tokio::sync::OnceCell::new(),
            registry: None,
        }
    }

    /// A store using an engine connection the caller already has.
    pub fn with_docker(cache: Cache, docker: Docker) -> ImageStore {
        ImageStore {
            cache,
            docker: tokio::sync::OnceCell::new_with(Some(docker)),
            registry: None,
        }
    }

    /// Images missing from the engine are pulled by digest from `registry` (where `repro image
    /// push` put them) rather than loaded from the cache.
    pub fn with_registry(mut self, registry: Option<String>) -> ImageStore {
        self.registry = registry;
        self
    }

    /// Pushes the record's image (loaded first if the engine lacks it) to `registry`, records
    /// the digest it got there, and returns the reference engines pull: `REGISTRY/repro/NAME@sha256:…`.
    pub async fn push(
        &self,
        record: &ImageRecord,
        registry: &str,
        progress: Arc<dyn Progress>,
    ) -> Result<String, ImageError> {
        let pinned = self.load(record, progress.clone()).await?;
        let docker = self.docker().await?;
        let (repo, _) = registry::repository(registry, &pinned.record.tag);
        progress.begin(&format!("pushing {} to {registry}", pinned.record.tag), None);
        let digest = registry::push(docker, &pinned.image_id, registry, &pinned.record.tag).await?;
        progress.end(&format!("pushed {repo}@{digest}"));
        let mut updated = pinned.record.clone();
        updated.pushed.insert(registry.to_owned(), digest.clone());
        self.cache.save(&updated)?;
        Ok(format!("{repo}@{digest}"))
    }

    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// The engine, connected on first use.
    pub async fn docker(&self) -> Result<&Docker, ImageError> {
        self.docker.get_or_try_init(engine::connect).await
    }

    /// The builder image for `name` (recipe name or recipe file) in the engine: from the
    /// cache when its tarball is there, else built with mmdebstrap first.
    pub async fn ensure(&self, name: &str, progress: Arc<dyn Progress>) -> Result<PinnedImage, ImageError> {
        let recipe = Recipe::load(name)?;
        let record = match self.cache.pinned(&recipe.hash())? {
            Some(record) => record,
            None => self.build(&recipe, false, progress.clone()).await?.record,
        };
        self.load(&record, progress).await
    }

    /// Makes the recipe's tarball with mmdebstrap and files it in the cache, unless one is
    /// cached and `rebuild` is false. A rebuild pins the new tarball; the old one stays.
    pub async fn build(
        &self,
        recipe: &Recipe,
        rebuild: bool,
        progress: Arc<dyn Progress>,
    ) -> Result<Built, ImageError> {
        let hash = recipe.hash();
        let _lock = self.cache.lock(&hash).await?;
        let previous = self.cache.pinned(&hash)?;
        if let (Some(record), false) = (&previous, rebuild) {
            return Ok(Built {
                record: record.clone(),
                mmdebstrap_time: None,
                previous_sha256: None,
            });
        }
        let exe = build::preflight(&recipe.name)?;
        let made_by = build::version(&exe).await;
        let tmp = self.cache.temp_dir()?;
        let target = tmp.path().join("rootfs.tar");
        progress.begin(
            &format!(
                "mmdebstrap {} ({} {})",
                recipe.name, recipe.suite, recipe.architecture
            ),
            None,
        );
        let start = Instant::now();
        build::run(&exe, recipe, &target, progress.as_ref()).await?;
        let elapsed = start.elapsed();
        progress.end(&format!(
            "mmdebstrap {} finished in {:.0} s",
            recipe.name,
            elapsed.as_secs_f64()
        ));
        let scan = scan_file(&target, progress.clone()).await?;
        let mut record = new_record(
            &recipe.name,
            &hash,
            recipe.source_date_epoch,
            &recipe.architecture,
            scan,
            made_by,
        );
        if let Some(prev) = previous
            .as_ref()
            .filter(|p| p.tarball_sha256 == record.tarball_sha256)
        {
            record.image_id = prev.image_id.clone();
        }
        self.cache.add_tarball(&target, &record.tarball_sha256)?;
        self.cache.save(&record)?;
        self.cache.pin(&hash, &record.tarball_sha256)?;
        Ok(Built {
            record,
            mmdebstrap_time: Some(elapsed),
            previous_sha256: previous.map(|p| p.tarball_sha256),
        })
    }

    /// Makes sure the engine holds the record's image with the identity its tarball implies,
    /// loading it when it is missing, and records the ID the engine reports.
    pub async fn load(
        &self,
        record: &ImageRecord,
        progress: Arc<dyn Progress>,
    ) -> Result<PinnedImage, ImageError> {
        let archive = archive_for(record);
        let tarball = self.cache.tarball_path(&record.tarball_sha256);
        let docker = self.docker().await?;
        let present = engine::inspect(docker, &archive.tag).await?;
        let image = match present {
            Some(image) if engine::check_identity(&archive, &image).is_ok() => image,
            _ => {
                // Pulled by digest where a registry is named, loaded from the cache otherwise.
                let start = Instant::now();
                let done = match self.registry.as_deref() {
                    Some(registry) => {
                        let digest = record.pushed.get(registry).ok_or_else(|| ImageError::NotPushed {
                            name: record.name.clone(),
                            registry: registry.to_owned(),
                        })?;
                        progress.begin(&format!("pulling {} from {registry}", archive.tag), None);
                        registry::pull(docker, registry, &archive.tag, digest).await?;
                        "pulled"
                    }
                    None => {
                        progress.begin(
                            &format!("loading {} into the engine", archive.tag),
                            Some(archive.size()),
                        );
                        engine::load(docker, &archive, &tarball, progress.clone()).await?;
                        "loaded"
                    }
                };
                let image = engine::inspect(docker, &archive.tag).await?.ok_or_else(|| {
                    ImageError::UnexpectedIdentity {
                        tag: archive.tag.clone(),
                        actual: format!("nothing (the tag is missing after it was {done})"),
                        config: archive.config_digest.clone(),
                        manifest: archive.manifest_digest.clone(),
                        layers: String::new(),
                    }
                })?;
                progress.end(&format!(
                    "{done} {} in {:.1} s",
                    archive.tag,
                    start.elapsed().as_secs_f64()
                ));
                image
            }
        };
        engine::check_identity(&archive, &image)?;
        let mut updated = record.clone();
        updated.config_digest = archive.config_digest;
        updated.manifest_digest = archive.manifest_digest;
        updated.tag = archive.tag;
        updated.image_id = Some(image.id.clone());
        if updated != *record {
            self.cache.save(&updated)?;
        }
        Ok(PinnedImage {
            image_id: image.id,
            record: updated,
            tarball,
        })
    }

    /// Removes an image from the engine (not from the cache).
    pub async fn unload(&self, image_id: &str) -> Result<(), ImageError> {
        engine::remove(self.docker().await?, image_id).await
    }

    /// The cached record for `what`: a recipe name (its pinned tarball) or a digest of a
    /// tarball, config, manifest or image ID.
    pub fn resolve(&self, what: &str) -> Result<ImageRecord, ImageError> {
        let hex = what.strip_prefix("sha256:").unwrap_or(what);
        let found = if is_sha256_hex(hex) {
            self.cache.find_digest(hex)?
        } else {
            self.cache.pinned(&Recipe::load(what)?.hash())?
        };
        found.ok_or_else(|| ImageError::NotCached {
            what: what.to_owned(),
        })
    }

    /// Writes the record's tarball or image archive to `out` (via a temporary file beside it,
    /// so a failure leaves no partial file), checking the tarball's digest on the way.
    pub async fn export(
        &self,
        record: &ImageRecord,
        format: ExportFormat,
        out: &Path,
        progress: Arc<dyn Progress>,
    ) -> Result<(), ImageError> {
        let archive = archive_for(record);
        let tarball = self.cache.tarball_path(&record.tarball_sha256);
        let out = out.to_owned();
        let total = match format {
            ExportFormat::Archive => archive.size(),
            ExportFormat::Rootfs => record.tarball_size,
        };
        progress.begin(&format!("writing {}", out.display()), Some(total));
        let p = progress.clone();
        blocking(move || {
            let dir = out
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let context = |e: io::Error| io::Error::new(e.kind(), format!("writing {}: {e}", out.display()));
            // Readable by others, like any file a command writes on request (umask applies).
            let mut tmp = tempfile::Builder::new()
                .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
                .tempfile_in(dir)
                .map_err(context)?;
            let layer = BufReader::with_capacity(1 << 20, fs_err::File::open(&tarball)?);
            let mut writer = Counting {
                inner: io::BufWriter::new(tmp.as_file_mut()),
                count: 0,
                progress: p,
            };
            match format {
                ExportFormat::Archive => archive.write(layer, &mut writer).map_err(context)?,
                ExportFormat::Rootfs => archive.copy_layer(layer, &mut writer).map_err(context)?,
            }
            writer.flush().map_err(context)?;
            drop(writer);
            tmp.persist(&out).map_err(|e| context(e.error))?;
            Ok(())
        })
        .await?;
        progress.end(&format!("wrote {total} bytes"));
        Ok(())
    }

    /// Adds an image archive (from `repro image export`) or a root filesystem tarball (then
    /// `name` says which recipe it stands for) to the cache after checking it, pins it, and
    /// loads it. `expect`, when given, is a digest the tarball, config or manifest must have.
    pub async fn import(
        &self,
        file: &Path,
        name: Option<&str>,
        expect: Option<&str>,
        progress: Arc<dyn Progress>,
    ) -> Result<PinnedImage, ImageError> {
        let tmp = self.cache.temp_dir()?;
        let copy = tmp.path().join("rootfs.tar");
        let source = file.to_owned();
        let is_archive = oci::is_image_archive(file).map_err(|e| rootfs_error(file, e.to_string()))?;
        let (name, recipe_sha256, epoch, architecture, from_archive) = if is_archive {
            let info = oci::read_archive(file).map_err(|reason| ImageError::Archive {
                path: file.to_owned(),
                reason,
            })?;
            progress.begin(
                &format!("copying the layer out of {}", file.display()),
                Some(info.archive.layer_size),
            );
            let (dst, member, p) = (copy.clone(), info.layer_member.clone(), progress.clone());
            let found = blocking(move || {
                let mut out = Counting {
                    inner: io::BufWriter::new(fs_err::File::create(&dst)?),
                    count: 0,
                    progress: p,
                };
                let found = oci::copy_member(&source, &member, &mut out)?;
                out.flush()?;
                Ok(found)
            })
            .await?;
            if !found {
                return Err(ImageError::Archive {
                    path: file.to_owned(),
                    reason: "the layer blob vanished".to_owned(),
                });
            }
            let a = info.archive;
            (
                a.name.clone(),
                a.recipe_sha256.clone(),
                a.source_date_epoch,
                a.architecture.clone(),
                Some(a),
            )
        } else {
            let name = name.ok_or_else(|| {
                rootfs_error(
                    file,
                    "a plain root filesystem tarball needs --name RECIPE to say which image it is".to_owned(),
                )
            })?;
            let recipe = Recipe::load(name)?;
            let dst = copy.clone();
            blocking(move || fs_err::copy(&source, &dst).map(drop)).await?;
            (
                recipe.name.clone(),
                recipe.hash(),
                recipe.source_date_epoch,
                recipe.architecture.clone(),
                None,
            )
        };
        let scan = scan_file(&copy, progress.clone()).await.map_err(|e| match e {
            ImageError::Rootfs { reason, .. } => rootfs_error(file, reason),
            other => other,
        })?;
        let record = new_record(
            &name,
            &recipe_sha256,
            epoch,
            &architecture,
            scan,
            "import".to_owned(),
        );
        if let Some(archive) = from_archive.filter(|a| a.layer_sha256 != record.tarball_sha256) {
            return Err(ImageError::DigestMismatch {
                what: format!("{}: layer", file.display()),
                expected: archive.layer_digest(),
                actual: record.layer_digest,
            });
        }
        if let Some(expect) = expect {
            let hex = expect.strip_prefix("sha256:").unwrap_or(expect);
            let full = format!("sha256:{hex}");
            if ![
                &record.layer_digest,
                &record.config_digest,
                &record.manifest_digest,
            ]
            .contains(&&full)
            {
                return Err(ImageError::DigestMismatch {
                    what: format!("{} (--expect)", file.display()),
                    expected: full,
                    actual: format!("tarball {}, config {}", record.layer_digest, record.config_digest),
                });
            }
        }
        let _lock = self.cache.lock(&recipe_sha256).await?;
        self.cache.add_tarball(&copy, &record.tarball_sha256)?;
        self.cache.save(&record)?;
        self.cache.pin(&recipe_sha256, &record.tarball_sha256)?;
        drop(tmp);
        self.load(&record, progress).await
    }

    /// Cached tarballs and `repro/…` images in the engine, matched by tag. The engine's error,
    /// if it could not be asked, comes back beside the cache's list.
    pub async fn list(&self) -> Result<(Vec<ListedImage>, Option<ImageError>), ImageError> {
        let mut out: Vec<ListedImage> = self
            .cache
            .records()?
            .into_iter()
            .map(|(record, pinned)| ListedImage {
                record: Some(record),
                pinned,
                engine: None,
            })
            .collect();
        let engine_images = match self.docker().await {
            Ok(docker) => engine::list(docker).await,
            Err(e) => Err(e),
        };
        let engine_images = match engine_images {
            Ok(images) => images,
            Err(e) => return Ok((out, Some(e))),
        };
        for image in engine_images {
            let row = out
                .iter_mut()
                .find(|row| row.record.as_ref().is_some_and(|r| image.tags.contains(&r.tag)));
            match row {
                Some(row) => row.engine = Some(image),
                None => out.push(ListedImage {
                    record: None,
                    pinned: false,
                    engine: Some(image),
                }),
            }
        }
        Ok((out, None))
    }
}

/// The archive (and so the identity) a record's tarball implies.
pub(super) fn archive_for(record: &ImageRecord) -> ImageArchive {
    ImageArchive::new(
        &record.name,
        &record.recipe_sha256,
        &record.tarball_sha256,
        record.tarball_size,
        record.source_date_epoch,
        &record.architecture,
    )
}

fn new_record(
    name: &str,
    recipe_sha256: &str,
    epoch: i64,
    architecture: &str,
    scan: Scan,
    made_by: String,
) -> ImageRecord {
    let archive = ImageArchive::new(name, recipe_sha256, &scan.sha256, scan.size, epoch, architecture);
    ImageRecord {
        name: name.to_owned(),
        recipe_sha256: recipe_sha256.to_owned(),
        source_date_epoch: epoch,
        architecture: architecture.to_owned(),
        layer_digest: archive.layer_digest(),
        tarball_sha256: scan.sha256,
        tarball_size: scan.size,
        config_digest: archive.config_digest,
        manifest_digest: archive.manifest_digest,
        image_id: None,
        tag: archive.tag,
        made_by,
        packages: scan.packages,
        pushed: Default::default(),
    }
}

fn rootfs_error(path: &Path, reason: String) -> ImageError {
    ImageError::Rootfs {
        path: path.to_owned(),
        reason,
    }
}

/// Hashes a tarball and reads its package list in one pass, off the async threads.
async fn scan_file(path: &Path, progress: Arc<dyn Progress>) -> Result<Scan, ImageError> {
    let path: PathBuf = path.to_owned();
    let size = fs_err::metadata(&path)?.len();
    progress.begin(&format!("hashing {}", path.display()), Some(size));
    let p = progress.clone();
    let scan = blocking(move || {
        let file = fs_err::File::open(&path)?;
        let reader = Hashing::new(file).on_read(move |n| p.position(n));
        Ok(rootfs::scan(reader).map_err(|reason| rootfs_error(&path, reason)))
    })
    .await??;
    progress.end(&format!("sha256 {}", scan.sha256));
    Ok(scan)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> Result<T, ImageError> {
    Ok(tokio::task::spawn_blocking(f).await.map_err(io::Error::other)??)
}

/// A `Write` that reports how much went through it.
struct Counting<W> {
    inner: W,
    count: u64,
    progress: Arc<dyn Progress>,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(data)?;
        self.count = self.count.saturating_add(n as u64);
        self.progress.position(self.count);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
