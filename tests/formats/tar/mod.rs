//! Tar and compressed-stream comparison, on archives made at test time by GNU tar, gzip, xz,
//! zstd, bzip2, zip and python3's tarfile (no committed blobs). Helpers here, tests in the
//! modules.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common;
use common::{assert_field, compare, compare_with, field, find, node, root};
use repro::compare::{Change, Comparison, Node, Options, Status};

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn sh(dir: &Path, script: &str) {
    run(Command::new("sh").arg("-ec").arg(script).current_dir(dir));
}

fn python(dir: &Path, script: &str) {
    run(Command::new("python3").arg("-c").arg(script).current_dir(dir));
}

fn has_text_diff(n: &Node, needle: &str) -> bool {
    n.changes
        .iter()
        .any(|c| matches!(c, Change::Text { unified, .. } if unified.contains(needle)))
}

fn fallback_reason(n: &Node) -> Option<String> {
    if let Some(f) = &n.fallback {
        return Some(f.reason.clone());
    }
    n.children.iter().find_map(fallback_reason)
}

/// A tree of small files under `dir/src`, the same on every call.
fn make_tree(dir: &Path) {
    sh(
        dir,
        "mkdir -p src/docs src/bin
         printf 'line 1\\nline 2\\nline 3\\n' > src/docs/readme.txt
         printf 'hello\\n' > src/hello.txt
         printf '#!/bin/sh\\necho hi\\n' > src/bin/run.sh
         chmod 0644 src/docs/readme.txt src/hello.txt
         chmod 0755 src/bin/run.sh
         ln -sf hello.txt src/link",
    );
}

/// A temporary directory with `make_tree`'s files, after `script` ran in it.
fn tree_and(script: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    make_tree(d.path());
    sh(d.path(), script);
    d
}

/// Compares two files of a directory.
fn pair(d: &tempfile::TempDir, a: &str, b: &str) -> Comparison {
    compare(&d.path().join(a), &d.path().join(b))
}

const TAR: &str = "tar --sort=name --owner=0 --group=0 --numeric-owner";

fn sha256_of(p: &Path) -> String {
    let out = Command::new("sha256sum").arg(p).output().unwrap();
    String::from_utf8_lossy(&out.stdout)[..64].to_string()
}

/// Writes `data` gzip-compressed with flate2 (for inputs the CLI cannot make quickly).
fn gzip_bytes(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn tar_gz_pair(d: &Path) -> (PathBuf, PathBuf) {
    make_tree(d);
    sh(
        d,
        &format!(
            "head -c 200000 /dev/urandom | base64 > src/big.txt
             {TAR} --mtime=@1 -czf a.tar.gz src
             {TAR} --mtime=@2 -czf b.tar.gz src"
        ),
    );
    (d.join("a.tar.gz"), d.join("b.tar.gz"))
}

/// A one-member tar with a hand-made header whose size field is `size` (12 bytes).
fn tar_with_size(size: &[u8; 12], checksum_ok: bool) -> Vec<u8> {
    let mut h = [0u8; 512];
    h[..5].copy_from_slice(b"f.txt");
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(size);
    h[136..148].copy_from_slice(b"00000000000\0");
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum::<u32>() + u32::from(!checksum_ok);
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut out = h.to_vec();
    let mut data = [0u8; 512];
    data[..5].copy_from_slice(b"xxxxx");
    out.extend_from_slice(&data);
    out.extend_from_slice(&[0u8; 1024]);
    out
}

mod archive;
mod bench;
mod compressed;
mod hostile;
