//! The image archive we hand to the engine's load endpoint (what `docker load` reads): an OCI
//! image layout (`oci-layout`, `index.json`, `blobs/sha256/…`) plus the legacy `manifest.json`
//! that Docker 20.10's loader reads instead of `index.json`.
//!
//! Every byte is a function of the layer digest, the recipe's `SOURCE_DATE_EPOCH` and the
//! architecture, so the config digest (the classic store's image ID) and the manifest digest
//! (the containerd store's image ID) are the same on every machine. Names and tags live only in
//! `index.json` and `manifest.json`, which the IDs do not cover.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, BufReader, Read, Write};
use std::path::Path;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::cache::is_sha256_hex;
use super::rootfs::Hashing;
use crate::units::unix_time;

/// Debian's default PATH for root; the only environment the image sets.
pub const IMAGE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const MEDIA_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const MEDIA_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const MEDIA_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const MEDIA_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";

/// Annotations in `index.json` that let `repro image import` file an archive under its recipe.
pub const ANNOTATION_NAME: &str = "dev.repro.image.name";
pub const ANNOTATION_RECIPE: &str = "dev.repro.image.recipe-sha256";
pub const ANNOTATION_EPOCH: &str = "dev.repro.image.source-date-epoch";

/// Small members read into memory when importing; the layer is streamed.
const MAX_SMALL_MEMBER: u64 = 1 << 20;
const MAX_SMALL_MEMBERS: usize = 64;

/// An image archive for one layer, ready to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageArchive {
    pub name: String,
    pub recipe_sha256: String,
    pub source_date_epoch: i64,
    pub architecture: String,
    /// hex sha256 of the layer (the root filesystem tarball).
    pub layer_sha256: String,
    pub layer_size: u64,
    /// `repro/NAME:<first 12 hex of the layer digest>`.
    pub tag: String,
    pub config: Vec<u8>,
    pub config_digest: String,
    pub manifest: Vec<u8>,
    pub manifest_digest: String,
}

/// The image config: fixed contents, `created` = SOURCE_DATE_EPOCH, one uncompressed layer.
pub fn config_json(layer_digest: &str, source_date_epoch: i64, architecture: &str) -> Vec<u8> {
    #[derive(Serialize)]
    struct Config<'a> {
        architecture: &'a str,
        config: RunConfig<'a>,
        created: &'a str,
        history: [History<'a>; 1],
        os: &'a str,
        rootfs: RootFs<'a>,
    }
    #[derive(Serialize)]
    struct RunConfig<'a> {
        #[serde(rename = "Env")]
        env: [String; 1],
        #[serde(rename = "Cmd")]
        cmd: [&'a str; 1],
        #[serde(rename = "WorkingDir")]
        working_dir: &'a str,
    }
    #[derive(Serialize)]
    struct History<'a> {
        created: &'a str,
        created_by: &'a str,
    }
    #[derive(Serialize)]
    struct RootFs<'a> {
        #[serde(rename = "type")]
        kind: &'a str,
        diff_ids: [&'a str; 1],
    }
    let created = unix_time(source_date_epoch);
    let config = Config {
        architecture,
        config: RunConfig {
            env: [format!("PATH={IMAGE_PATH}")],
            cmd: ["/bin/bash"],
            working_dir: "/",
        },
        created: &created,
        history: [History {
            created: &created,
            created_by: "mmdebstrap root filesystem (repro image build)",
        }],
        os: "linux",
        rootfs: RootFs {
            kind: "layers",
            diff_ids: [layer_digest],
        },
    };
    to_json(&config)
}

// The archive's JSON documents are structs, not maps: their bytes (and so the manifest digest)
// must not depend on a map type or on serde_json's `preserve_order` feature.

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor<'a> {
    media_type: &'a str,
    digest: &'a str,
    size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<BTreeMap<&'static str, String>>,
}

impl<'a> Descriptor<'a> {
    fn new(media_type: &'a str, digest: &'a str, size: u64) -> Self {
        Descriptor {
            media_type,
            digest,
            size,
            annotations: None,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Manifest<'a> {
    schema_version: u32,
    media_type: &'a str,
    config: Descriptor<'a>,
    layers: [Descriptor<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Index<'a> {
    schema_version: u32,
    media_type: &'a str,
    manifests: [Descriptor<'a>; 1],
}

/// An entry of the legacy `manifest.json` (Docker's `docker save` format).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct LegacyManifest<'a> {
    config: String,
    repo_tags: [&'a str; 1],
    layers: [String; 1],
}

/// Structs of strings and numbers always serialise.
fn to_json(value: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn blob_path(digest: &str) -> String {
    format!(
        "blobs/sha256/{}",
        digest.strip_prefix("sha256:").unwrap_or(digest)
    )
}

impl ImageArchive {
    pub fn new(
        name: &str,
        recipe_sha256: &str,
        layer_sha256: &str,
        layer_size: u64,
        source_date_epoch: i64,
        architecture: &str,
    ) -> ImageArchive {
        let layer_digest = format!("sha256:{layer_sha256}");
        let config = config_json(&layer_digest, source_date_epoch, architecture);
        let config_digest = digest_of(&config);
        let manifest = to_json(&Manifest {
            schema_version: 2,
            media_type: MEDIA_MANIFEST,
            config: Descriptor::new(MEDIA_CONFIG, &config_digest, config.len() as u64),
            layers: [Descriptor::new(MEDIA_LAYER, &layer_digest, layer_size)],
        });
        let manifest_digest = digest_of(&manifest);
        let short = layer_sha256.get(..12).unwrap_or(layer_sha256);
        ImageArchive {
            name: name.to_owned(),
            recipe_sha256: recipe_sha256.to_owned(),
            source_date_epoch,
            architecture: architecture.to_owned(),
            layer_sha256: layer_sha256.to_owned(),
            layer_size,
            tag: format!("repro/{name}:{short}"),
            config,
            config_digest,
            manifest,
            manifest_digest,
        }
    }

    pub fn layer_digest(&self) -> String {
        format!("sha256:{}", self.layer_sha256)
    }

    fn index_json(&self) -> Vec<u8> {
        let short = self.tag.rsplit(':').next().unwrap_or_default();
        let annotations = BTreeMap::from([
            (ANNOTATION_EPOCH, self.source_date_epoch.to_string()),
            (ANNOTATION_NAME, self.name.clone()),
            (ANNOTATION_RECIPE, self.recipe_sha256.clone()),
            // containerd names the image after this one; Docker's containerd store does too.
            ("io.containerd.image.name", format!("docker.io/{}", self.tag)),
            ("org.opencontainers.image.ref.name", short.to_owned()),
        ]);
        let mut descriptor =
            Descriptor::new(MEDIA_MANIFEST, &self.manifest_digest, self.manifest.len() as u64);
        descriptor.annotations = Some(annotations);
        to_json(&Index {
            schema_version: 2,
            media_type: MEDIA_INDEX,
            manifests: [descriptor],
        })
    }

    fn legacy_manifest_json(&self) -> Vec<u8> {
        to_json(&[LegacyManifest {
            config: blob_path(&self.config_digest),
            repo_tags: [&self.tag],
            layers: [blob_path(&self.layer_digest())],
        }])
    }

    /// The small members, in the order they are written (directories first).
    fn small_members(&self) -> Vec<(String, Vec<u8>)> {
        vec![
            (
                "oci-layout".to_owned(),
                br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
            ),
            ("index.json".to_owned(), self.index_json()),
            ("manifest.json".to_owned(), self.legacy_manifest_json()),
            (blob_path(&self.config_digest), self.config.clone()),
            (blob_path(&self.manifest_digest), self.manifest.clone()),
        ]
    }

    /// The exact number of bytes [`write`](Self::write) produces.
    pub fn size(&self) -> u64 {
        let entry = |len: u64| 512 + len.div_ceil(512) * 512;
        let small: u64 = self
            .small_members()
            .iter()
            .map(|(_, data)| entry(data.len() as u64))
            .sum();
        2 * entry(0) + small + entry(self.layer_size) + 1024
    }

    /// Copies the layer from `layer` to `out`, failing when its size or digest is not the one
    /// this archive was made for (the cached tarball changed on disk).
    pub fn copy_layer<R: Read, W: Write>(&self, layer: R, out: &mut W) -> io::Result<()> {
        let mut hashing = Hashing::new(layer.take(self.layer_size.saturating_add(1)));
        io::copy(&mut hashing, out)?;
        let (sha, count) = hashing.finish();
        if count != self.layer_size || sha != self.layer_sha256 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the root filesystem tarball changed: expected sha256 {} ({} bytes), read sha256 {sha} ({count} bytes)",
                    self.layer_sha256, self.layer_size
                ),
            ));
        }
        Ok(())
    }

    /// Streams the archive to `out`, reading the layer from `layer`. Fails (before the archive
    /// is complete, so a reader sees a truncated archive) when the layer's size or digest is
    /// not the one this archive was made for.
    pub fn write<R: Read, W: Write>(&self, layer: R, mut out: W) -> io::Result<()> {
        let epoch = u64::try_from(self.source_date_epoch).unwrap_or(0);
        for dir in ["blobs/", "blobs/sha256/"] {
            write_header(&mut out, dir, 0, tar::EntryType::Directory, epoch)?;
        }
        for (path, data) in self.small_members() {
            write_header(&mut out, &path, data.len() as u64, tar::EntryType::Regular, epoch)?;
            out.write_all(&data)?;
            pad(&mut out, data.len() as u64)?;
        }
        write_header(
            &mut out,
            &blob_path(&self.layer_digest()),
            self.layer_size,
            tar::EntryType::Regular,
            epoch,
        )?;
        self.copy_layer(layer, &mut out)?;
        pad(&mut out, self.layer_size)?;
        out.write_all(&[0; 1024])?;
        out.flush()
    }
}

fn write_header(
    out: &mut impl Write,
    path: &str,
    size: u64,
    kind: tar::EntryType,
    mtime: u64,
) -> io::Result<()> {
    let mut header = tar::Header::new_ustar();
    header.set_path(path)?;
    header.set_size(size);
    header.set_entry_type(kind);
    header.set_mode(if kind.is_dir() { 0o755 } else { 0o644 });
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(mtime);
    header.set_cksum();
    out.write_all(header.as_bytes())
}

fn pad(out: &mut impl Write, len: u64) -> io::Result<()> {
    let rem = (len % 512) as usize;
    out.write_all([0; 512].get(rem..).filter(|_| rem != 0).unwrap_or_default())
}

/// What an archive written by `repro image export` says about itself, after checking that its
/// config and manifest are exactly the ones repro would write for its layer.
#[derive(Debug, Clone)]
pub struct ArchiveInfo {
    pub archive: ImageArchive,
    /// Member path of the layer blob.
    pub layer_member: String,
}

/// Whether `path` is an image archive (has `index.json` or `manifest.json` at its top) rather
/// than a root filesystem tarball.
pub fn is_image_archive(path: &Path) -> io::Result<bool> {
    let mut found = false;
    each_member(path, |name, _size, _entry| {
        found |= name == "oci-layout" || name == "index.json" || name == "manifest.json";
        Ok(!found)
    })?;
    Ok(found)
}

/// Reads and checks the archive's small members. `Err(reason)` for anything unexpected.
pub fn read_archive(path: &Path) -> Result<ArchiveInfo, String> {
    let mut small: HashMap<String, Vec<u8>> = HashMap::new();
    let mut sizes: HashMap<String, u64> = HashMap::new();
    each_member(path, |name, size, entry| {
        if sizes.len() >= 4 * MAX_SMALL_MEMBERS {
            return Err(io::Error::other("too many members"));
        }
        sizes.insert(name.to_owned(), size);
        if size <= MAX_SMALL_MEMBER && small.len() < MAX_SMALL_MEMBERS {
            let mut data = Vec::new();
            entry.take(MAX_SMALL_MEMBER).read_to_end(&mut data)?;
            small.insert(name.to_owned(), data);
        }
        Ok(true)
    })
    .map_err(|e| e.to_string())?;
    let get = |name: &str| {
        small
            .get(name)
            .ok_or_else(|| format!("no {name} (or it is too large)"))
    };
    // Indexing a `Value` yields `Null` for a missing key or a wrong type; it never panics.
    let index: Value = serde_json::from_slice(get("index.json")?).map_err(|e| format!("index.json: {e}"))?;
    let [descriptor] = index["manifests"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    else {
        return Err("index.json must list exactly one image".to_owned());
    };
    let note = |key: &str| {
        descriptor["annotations"][key]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| {
                format!("index.json lacks the `{key}` annotation that `repro image export` writes")
            })
    };
    let name = note(ANNOTATION_NAME)?;
    let recipe = note(ANNOTATION_RECIPE)?;
    let epoch: i64 = note(ANNOTATION_EPOCH)?
        .parse()
        .map_err(|_| format!("bad `{ANNOTATION_EPOCH}`"))?;
    let manifest_digest = descriptor["digest"]
        .as_str()
        .ok_or("index.json: manifest without digest")?;
    let manifest_bytes = get(&blob_path(manifest_digest))?;
    let manifest: Value = serde_json::from_slice(manifest_bytes).map_err(|e| format!("manifest: {e}"))?;
    let [layer] = manifest["layers"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    else {
        return Err("the image must have exactly one layer".to_owned());
    };
    let layer_digest = layer["digest"].as_str().ok_or("layer without digest")?;
    let layer_size = layer["size"].as_u64().ok_or("layer without size")?;
    let layer_sha = layer_digest
        .strip_prefix("sha256:")
        .filter(|h| is_sha256_hex(h))
        .ok_or("bad layer digest")?;
    let config_digest = manifest["config"]["digest"]
        .as_str()
        .ok_or("manifest: config without digest")?;
    let config: Value =
        serde_json::from_slice(get(&blob_path(config_digest))?).map_err(|e| format!("config: {e}"))?;
    let architecture = config["architecture"]
        .as_str()
        .ok_or("config without architecture")?;
    if super::recipe::check_name(&name).is_err() || !is_sha256_hex(&recipe) {
        return Err("bad image name or recipe digest annotation".to_owned());
    }
    let expected = ImageArchive::new(&name, &recipe, layer_sha, layer_size, epoch, architecture);
    if get(&blob_path(config_digest))? != &expected.config {
        return Err("its image config is not the one repro writes for its layer".to_owned());
    }
    if manifest_bytes != &expected.manifest || manifest_digest != expected.manifest_digest {
        return Err("its manifest is not the one repro writes for its layer".to_owned());
    }
    let layer_member = blob_path(&expected.layer_digest());
    if sizes.get(&layer_member) != Some(&layer_size) {
        return Err(format!("no layer blob {layer_member} of {layer_size} bytes"));
    }
    Ok(ArchiveInfo {
        archive: expected,
        layer_member,
    })
}

/// Streams one member of a tar file into `out`; returns whether it was found.
pub fn copy_member(path: &Path, member: &str, out: &mut impl Write) -> io::Result<bool> {
    let mut found = false;
    each_member(path, |name, _size, entry| {
        if name == member {
            io::copy(entry, out)?;
            found = true;
        }
        Ok(!found)
    })?;
    Ok(found)
}

/// Calls `f(name, size, entry)` for each member (name without a leading `./`) until it returns
/// `false`. Skips member data by seeking, so scanning headers of a large file is cheap.
fn each_member(
    path: &Path,
    mut f: impl FnMut(&str, u64, &mut dyn Read) -> io::Result<bool>,
) -> io::Result<()> {
    let file = fs_err::File::open(path)?;
    let mut archive = tar::Archive::new(BufReader::new(file));
    for entry in archive.entries_with_seek()? {
        let mut entry = entry?;
        let raw = entry.path_bytes();
        let name = String::from_utf8_lossy(raw.strip_prefix(b"./").unwrap_or(&raw)).into_owned();
        let size = entry.header().size()?;
        if !f(&name, size, &mut entry)? {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(layer: &[u8]) -> ImageArchive {
        let sha = hex::encode(Sha256::digest(layer));
        ImageArchive::new(
            "default",
            &"ab".repeat(32),
            &sha,
            layer.len() as u64,
            1_761_955_200,
            "amd64",
        )
    }

    #[test]
    fn config_is_fixed() {
        let config = config_json(&format!("sha256:{}", "0".repeat(64)), 1_761_955_200, "amd64");
        let text = String::from_utf8(config).unwrap();
        assert_eq!(
            text,
            format!(
                r#"{{"architecture":"amd64","config":{{"Env":["PATH={IMAGE_PATH}"],"Cmd":["/bin/bash"],"WorkingDir":"/"}},"created":"2025-11-01T00:00:00Z","history":[{{"created":"2025-11-01T00:00:00Z","created_by":"mmdebstrap root filesystem (repro image build)"}}],"os":"linux","rootfs":{{"type":"layers","diff_ids":["sha256:{}"]}}}}"#,
                "0".repeat(64)
            )
        );
    }

    #[test]
    fn identity_ignores_name_and_tag() {
        let a = sample(b"layer");
        let b = ImageArchive::new(
            "other",
            &"cd".repeat(32),
            &a.layer_sha256,
            5,
            1_761_955_200,
            "amd64",
        );
        assert_eq!(
            (a.config_digest.clone(), a.manifest_digest.clone()),
            (b.config_digest, b.manifest_digest)
        );
        assert_ne!(a.tag, b.tag);
        let c = ImageArchive::new("default", &a.recipe_sha256, &a.layer_sha256, 5, 1, "amd64");
        assert_ne!(
            a.config_digest, c.config_digest,
            "created is part of the identity"
        );
    }

    #[test]
    fn writes_a_readable_archive_of_the_announced_size() {
        let layer = vec![7u8; 1300];
        let archive = sample(&layer);
        let mut out = Vec::new();
        archive.write(&layer[..], &mut out).unwrap();
        assert_eq!(out.len() as u64, archive.size());
        let mut tar = tar::Archive::new(&out[..]);
        let mut names = Vec::new();
        for entry in tar.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().display().to_string();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            assert_eq!(entry.header().mtime().unwrap(), 1_761_955_200);
            if name.starts_with("blobs/sha256/") && !data.is_empty() {
                assert_eq!(
                    digest_of(&data),
                    format!("sha256:{}", name.trim_start_matches("blobs/sha256/"))
                );
            }
            if name == "manifest.json" {
                let v: Value = serde_json::from_slice(&data).unwrap();
                assert_eq!(v[0]["RepoTags"][0], archive.tag.as_str());
            }
            names.push(name);
        }
        assert_eq!(names.len(), 8);
        assert_eq!(names.last(), Some(&blob_path(&archive.layer_digest())));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.tar");
        std::fs::write(&path, &out).unwrap();
        assert!(is_image_archive(&path).unwrap());
        let info = read_archive(&path).unwrap();
        assert_eq!(info.archive, archive);
        let mut copied = Vec::new();
        assert!(copy_member(&path, &info.layer_member, &mut copied).unwrap());
        assert_eq!(copied, layer);
    }

    #[test]
    fn refuses_a_layer_that_changed() {
        let archive = sample(b"original");
        let mut out = Vec::new();
        let err = archive.write(&b"tampered"[..], &mut out).unwrap_err();
        assert!(err.to_string().contains("changed"));
        assert!(!out.ends_with(&[0; 1024]), "no end-of-archive after a bad layer");
        assert!(archive.write(&b"origin"[..], Vec::new()).is_err(), "short layer");
    }

    #[test]
    fn rejects_archives_repro_did_not_write() {
        let layer = b"layer".to_vec();
        let archive = sample(&layer);
        let mut good = Vec::new();
        archive.write(&layer[..], &mut good).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.tar");
        // Change `created` inside the config blob: same size, different bytes.
        let text = String::from_utf8_lossy(&good).replace("2025-11-01T00:00:00Z", "2025-11-02T00:00:00Z");
        std::fs::write(&path, text.as_bytes()).unwrap();
        assert!(read_archive(&path).is_err());
        // Truncated, not a tar, empty.
        for bytes in [
            good.get(..2000).unwrap_or_default(),
            b"junk".as_slice(),
            b"".as_slice(),
        ] {
            std::fs::write(&path, bytes).unwrap();
            assert!(read_archive(&path).is_err());
        }
        // A plain tarball without index.json.
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_cksum();
        b.append_data(&mut h, "etc/hostname", &b"x\n"[..]).unwrap();
        std::fs::write(&path, b.into_inner().unwrap()).unwrap();
        assert!(!is_image_archive(&path).unwrap());
        assert!(read_archive(&path).unwrap_err().contains("index.json"));
    }
}
