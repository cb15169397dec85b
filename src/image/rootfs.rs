//! Reads a root filesystem tarball once: its sha256 and size, that it is a well-formed tar,
//! and the installed packages from its dpkg status file.

use std::io::{self, BufReader, Read};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The dpkg status file is ~1 MB for a build image; anything far larger is not one we made.
const MAX_STATUS_BYTES: u64 = 64 << 20;
/// Keeps a hostile status file from making a million-entry package list.
const MAX_PACKAGES: usize = 100_000;

/// One installed Debian package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub architecture: String,
}

/// What one pass over a tarball found.
#[derive(Debug)]
pub struct Scan {
    pub sha256: String,
    pub size: u64,
    pub packages: Vec<Package>,
}

/// A reader that hashes and counts everything read through it.
pub struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
    on_read: Option<Box<dyn FnMut(u64) + Send>>,
}

impl<R: Read> Hashing<R> {
    pub fn new(inner: R) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            count: 0,
            on_read: None,
        }
    }

    /// Calls `f` with the running byte count after each read (for progress bars).
    pub fn on_read(mut self, f: impl FnMut(u64) + Send + 'static) -> Self {
        self.on_read = Some(Box::new(f));
        self
    }

    /// The hex digest and byte count of everything read so far.
    pub fn finish(self) -> (String, u64) {
        (hex::encode(self.hasher.finalize()), self.count)
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let read = buf.get(..n).unwrap_or_default();
        self.hasher.update(read);
        self.count = self.count.saturating_add(n as u64);
        if let Some(f) = self.on_read.as_mut() {
            f(self.count);
        }
        Ok(n)
    }
}

/// Reads the whole tarball through `reader`. `Err(reason)` when it is not a well-formed tar
/// with a dpkg status file; I/O errors become reasons too, since the caller names the file.
pub fn scan<R: Read>(reader: Hashing<R>) -> Result<Scan, String> {
    // Buffer above the hasher: tar reads in 512-byte blocks, the hasher sees large reads.
    let mut archive = tar::Archive::new(BufReader::with_capacity(1 << 20, reader));
    let mut status = None;
    let mut entries = 0u64;
    for entry in archive.entries().map_err(|e| e.to_string())? {
        let entry = entry.map_err(|e| format!("bad tar entry after {entries} entries: {e}"))?;
        entries += 1;
        let path = entry.path_bytes();
        let path = path.strip_prefix(b"./").unwrap_or(&path);
        if path == b"var/lib/dpkg/status" && entry.header().entry_type().is_file() {
            let mut text = Vec::new();
            entry
                .take(MAX_STATUS_BYTES + 1)
                .read_to_end(&mut text)
                .map_err(|e| e.to_string())?;
            if text.len() as u64 > MAX_STATUS_BYTES {
                return Err("var/lib/dpkg/status is implausibly large".to_owned());
            }
            status = Some(parse_status(&String::from_utf8_lossy(&text))?);
        }
    }
    // Hash the end-of-archive blocks and record padding too: the digest is of the whole file.
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(|e| e.to_string())?;
    let (sha256, size) = rest.into_inner().finish();
    if entries == 0 {
        return Err("the tar archive is empty".to_owned());
    }
    let packages = status.ok_or("it has no var/lib/dpkg/status, so it is not a Debian root filesystem")?;
    Ok(Scan {
        sha256,
        size,
        packages,
    })
}

/// Installed packages from a dpkg status file (RFC 822-style paragraphs).
pub fn parse_status(text: &str) -> Result<Vec<Package>, String> {
    let mut out = Vec::new();
    for paragraph in text.split("\n\n") {
        let field = |name: &str| {
            paragraph.lines().find_map(|line| {
                let (key, value) = line.split_once(':')?;
                (key.eq_ignore_ascii_case(name)).then(|| value.trim().to_owned())
            })
        };
        let installed = field("Status").is_some_and(|s| s.ends_with(" installed"));
        if let (true, Some(name), Some(version)) = (installed, field("Package"), field("Version")) {
            if out.len() >= MAX_PACKAGES {
                return Err(format!(
                    "more than {MAX_PACKAGES} packages in var/lib/dpkg/status"
                ));
            }
            let architecture = field("Architecture").unwrap_or_default();
            out.push(Package {
                name,
                version,
                architecture,
            });
        }
    }
    out.sort_by(|a, b| (&a.name, &a.architecture).cmp(&(&b.name, &b.architecture)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\n\
        Version: 1:1.3.dfsg-3\nDescription: compression\n multi-line\n\n\
        Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n\n\
        Package: base-files\nStatus: install ok installed\nArchitecture: amd64\nVersion: 13.8\n";

    #[test]
    fn parses_installed_packages_only() {
        let pkgs = parse_status(STATUS).unwrap();
        let names: Vec<_> = pkgs
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(names, [("base-files", "13.8"), ("zlib1g", "1:1.3.dfsg-3")]);
        assert!(parse_status("").unwrap().is_empty());
        assert!(
            parse_status("garbage without colons\n\n\n::::")
                .unwrap()
                .is_empty()
        );
    }

    fn tar_with(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, path, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn scan_hashes_the_whole_file() {
        let bytes = tar_with(&[
            ("./etc/hostname", b"localhost\n"),
            ("./var/lib/dpkg/status", STATUS.as_bytes()),
        ]);
        let scan = scan(Hashing::new(&bytes[..])).unwrap();
        assert_eq!(scan.size, bytes.len() as u64);
        assert_eq!(scan.sha256, hex::encode(Sha256::digest(&bytes)));
        assert_eq!(scan.packages.len(), 2);
    }

    #[test]
    fn rejects_non_rootfs_and_broken_tars() {
        let no_status = tar_with(&[("hello", b"hi")]);
        assert!(
            scan(Hashing::new(&no_status[..]))
                .unwrap_err()
                .contains("not a Debian root filesystem")
        );
        assert!(scan(Hashing::new(&[][..])).unwrap_err().contains("empty"));
        let good = tar_with(&[("./var/lib/dpkg/status", STATUS.as_bytes())]);
        // Truncated in the middle of the status file's data.
        let cut = good.get(..700).unwrap();
        assert!(scan(Hashing::new(cut)).is_err());
        // A corrupted header checksum.
        let mut bad = good.clone();
        if let Some(b) = bad.get_mut(150) {
            *b ^= 0x55;
        }
        assert!(scan(Hashing::new(&bad[..])).is_err());
        assert!(scan(Hashing::new(&b"not a tar archive at all"[..])).is_err());
    }
}
