//! Sources: the bytes a comparator works on — a file, a member held in memory, or a stream
//! decoded on the fly — with cheap identity checks, digests and size-limited materialisation.

use std::io::{self, Read};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

/// Bytes held by a comparator: a read-only file mapping or a shared buffer.
#[derive(Clone)]
pub enum Blob {
    Mapped(Arc<Mmap>),
    Shared(Arc<Vec<u8>>),
}

impl Blob {
    pub fn from_vec(v: Vec<u8>) -> Self {
        Blob::Shared(Arc::new(v))
    }
}

impl Deref for Blob {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Blob::Mapped(m) => m,
            Blob::Shared(v) => v,
        }
    }
}

impl AsRef<[u8]> for Blob {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Blob({} bytes)", self.len())
    }
}

/// A compression codec whose stream can be decoded on the fly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Gzip,
    Xz,
    Zstd,
    Bzip2,
}

impl Codec {
    pub fn name(self) -> &'static str {
        match self {
            Codec::Gzip => "gzip",
            Codec::Xz => "xz",
            Codec::Zstd => "zstd",
            Codec::Bzip2 => "bzip2",
        }
    }

    /// Wraps `r` in a decoder for this codec (multi-member streams decode like the CLI tools do).
    pub fn decoder<'a>(self, r: Box<dyn Read + Send + 'a>) -> io::Result<Box<dyn Read + Send + 'a>> {
        let r = io::BufReader::with_capacity(256 * 1024, r);
        Ok(match self {
            Codec::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(r)),
            Codec::Xz => Box::new(liblzma::bufread::XzDecoder::new_multi_decoder(r)),
            Codec::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(r)?),
            Codec::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(r)),
        })
    }
}

/// Where a comparator's bytes come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A regular file on disk (read, or mapped when a comparator needs random access).
    File(PathBuf),
    /// Bytes already in memory (an extracted archive member, a mapped file).
    Memory(Blob),
    /// The decoded content of another source.
    Decoded { codec: Codec, inner: Arc<Source> },
    /// A directory on disk (only the directory comparator reads it).
    Directory(PathBuf),
}

/// A source could not be read, or is larger than the budget allows.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
}

const CHUNK: usize = 4 << 20;

impl Source {
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Source::File(path.into())
    }

    pub fn memory(bytes: Vec<u8>) -> Self {
        Source::Memory(Blob::from_vec(bytes))
    }

    pub fn decoded(codec: Codec, inner: Source) -> Self {
        Source::Decoded {
            codec,
            inner: Arc::new(inner),
        }
    }

    pub fn path(&self) -> Option<&Path> {
        match self {
            Source::File(p) | Source::Directory(p) => Some(p),
            _ => None,
        }
    }

    /// Opens a fresh stream over the whole content.
    pub fn open(&self) -> io::Result<Box<dyn Read + Send + '_>> {
        match self {
            Source::File(p) => Ok(Box::new(fs_err::File::open(p)?)),
            Source::Memory(b) => Ok(Box::new(io::Cursor::new(b.clone()))),
            Source::Decoded { codec, inner } => codec.decoder(inner.open()?),
            Source::Directory(p) => Err(io::Error::other(format!("{} is a directory", p.display()))),
        }
    }

    /// Size in bytes, when known without reading.
    pub fn size(&self) -> Option<u64> {
        match self {
            Source::File(p) => fs_err::metadata(p).ok().map(|m| m.len()),
            Source::Memory(b) => Some(b.len() as u64),
            Source::Decoded { .. } | Source::Directory(_) => None,
        }
    }

    /// Up to `n` leading bytes (fewer when the content is shorter).
    pub fn head(&self, n: usize) -> io::Result<Vec<u8>> {
        if let Source::Memory(b) = self {
            return Ok(b[..n.min(b.len())].to_vec());
        }
        let mut buf = Vec::with_capacity(n);
        self.open()?.take(n as u64).read_to_end(&mut buf)?;
        Ok(buf)
    }

    /// The whole content in memory (files are mapped), refusing more than `limit` bytes.
    pub fn blob(&self, limit: u64) -> Result<Blob, SourceError> {
        match self {
            Source::Memory(b) => {
                if b.len() as u64 > limit {
                    return Err(SourceError::TooLarge { limit });
                }
                Ok(b.clone())
            }
            Source::File(p) => {
                let f = fs_err::File::open(p)?;
                let len = f.metadata()?.len();
                if len > limit {
                    return Err(SourceError::TooLarge { limit });
                }
                if len == 0 {
                    // Empty, or a pseudo-file (`/proc`) whose size says nothing: read it.
                    return read_limited(f, limit).map(Blob::from_vec);
                }
                // SAFETY: the mapping is read-only; a file truncated underneath us can raise
                // SIGBUS, which is the accepted trade-off of mapping inputs (as ripgrep does).
                let map = unsafe { Mmap::map(f.file()) }?;
                Ok(Blob::Mapped(Arc::new(map)))
            }
            Source::Decoded { .. } | Source::Directory(_) => {
                read_limited(self.open()?, limit).map(Blob::from_vec)
            }
        }
    }

    /// sha256 of the content, lowercase hex, streaming.
    pub fn sha256(&self) -> io::Result<String> {
        self.sha256_limited(u64::MAX)
    }

    /// sha256 of the content, failing (as `InvalidData`) past `limit` bytes: decoded streams
    /// can expand without bound.
    pub fn sha256_limited(&self, limit: u64) -> io::Result<String> {
        if let Source::Memory(b) = self {
            return Ok(sha256_hex(b));
        }
        let mut r = self.open()?.take(limit.saturating_add(1));
        let mut total = 0u64;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = match r.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            total += n as u64;
            if total > limit {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("larger than the limit of {limit} bytes"),
                ));
            }
            h.update(&buf[..n]);
        }
        Ok(hex::encode(h.finalize()))
    }
}

/// Reads all of `r`, failing with `TooLarge` past `limit` bytes.
pub fn read_limited(r: impl Read, limit: u64) -> Result<Vec<u8>, SourceError> {
    let mut out = Vec::new();
    r.take(limit.saturating_add(1)).read_to_end(&mut out)?;
    if out.len() as u64 > limit {
        return Err(SourceError::TooLarge { limit });
    }
    Ok(out)
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// How two byte streams differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteComparison {
    pub len_a: u64,
    pub len_b: u64,
    /// Offset of the first differing byte (or of the end of the shorter side), `None` when equal.
    pub first_offset: Option<u64>,
    /// Differing bytes over the common length, plus the length difference.
    pub differing_bytes: u64,
}

impl ByteComparison {
    pub fn equal(&self) -> bool {
        self.first_offset.is_none()
    }
}

/// Quick identity: `Some(true/false)` when it can be decided without decoding, `None` for
/// decoded streams (which their comparators handle while parsing).
pub fn quick_identical(a: &Source, b: &Source) -> io::Result<Option<bool>> {
    match (a, b) {
        (Source::Memory(x), Source::Memory(y)) => Ok(Some(x[..] == y[..])),
        (Source::File(_), _) | (Source::Memory(_), _) if a.size() != b.size() && b.size().is_some() => {
            Ok(Some(false))
        }
        (Source::File(_) | Source::Memory(_), Source::File(_) | Source::Memory(_)) => {
            Ok(Some(compare_bytes(a, b, false)?.equal()))
        }
        _ => Ok(None),
    }
}

/// Compares two sources byte by byte. With `count` false it stops at the first difference
/// (`differing_bytes` is then a lower bound); files are compared in parallel chunks.
pub fn compare_bytes(a: &Source, b: &Source, count: bool) -> io::Result<ByteComparison> {
    match (a, b) {
        (Source::File(pa), Source::File(pb)) => compare_files(pa, pb, count),
        (Source::Memory(x), Source::Memory(y)) => Ok(compare_slices(x, y, count)),
        _ => compare_streams(a.open()?, b.open()?, count),
    }
}

/// First differing index and the number of differing bytes of two equal-length slices.
fn diff_counts(x: &[u8], y: &[u8], count: bool) -> Option<(usize, u64)> {
    if x == y {
        return None;
    }
    let first = x.iter().zip(y).position(|(p, q)| p != q)?;
    let n = if count {
        x[first..].iter().zip(&y[first..]).filter(|(p, q)| p != q).count() as u64
    } else {
        1
    };
    Some((first, n))
}

pub fn compare_slices(x: &[u8], y: &[u8], count: bool) -> ByteComparison {
    let common = x.len().min(y.len());
    let tail = (x.len().max(y.len()) - common) as u64;
    let chunks: Vec<Option<(usize, u64)>> = x[..common]
        .par_chunks(CHUNK)
        .zip(y[..common].par_chunks(CHUNK))
        .enumerate()
        .map(|(i, (p, q))| diff_counts(p, q, count).map(|(f, n)| (i * CHUNK + f, n)))
        .collect();
    finish(x.len() as u64, y.len() as u64, tail, chunks.into_iter().flatten())
}

fn finish(len_a: u64, len_b: u64, tail: u64, diffs: impl Iterator<Item = (usize, u64)>) -> ByteComparison {
    let mut first = None;
    let mut total = tail;
    for (f, n) in diffs {
        first = Some(first.map_or(f as u64, |x: u64| x.min(f as u64)));
        total += n;
    }
    if first.is_none() && tail > 0 {
        first = Some(len_a.min(len_b));
    }
    ByteComparison {
        len_a,
        len_b,
        first_offset: first,
        differing_bytes: total,
    }
}

fn compare_files(pa: &Path, pb: &Path, count: bool) -> io::Result<ByteComparison> {
    use std::os::unix::fs::FileExt;
    let fa = fs_err::File::open(pa)?;
    let fb = fs_err::File::open(pb)?;
    let (len_a, len_b) = (fa.metadata()?.len(), fb.metadata()?.len());
    if len_a == 0 || len_b == 0 {
        // Pseudo-files (`/proc`, some of `/sys`) say they are empty and are not: an empty
        // size is not trusted, the content is read (cheap when it really is empty).
        return compare_streams(fa, fb, count);
    }
    let common = len_a.min(len_b);
    let tail = len_a.max(len_b) - common;
    if tail > 0 && !count {
        return Ok(finish(len_a, len_b, tail, std::iter::empty()));
    }
    let nchunks = common.div_ceil(CHUNK as u64);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let results: io::Result<Vec<Option<(usize, u64)>>> = (0..nchunks)
        .into_par_iter()
        .map_init(
            || (vec![0u8; CHUNK], vec![0u8; CHUNK]),
            |(ba, bb), i| {
                if !count && stop.load(std::sync::atomic::Ordering::Relaxed) {
                    return Ok(None);
                }
                let off = i * CHUNK as u64;
                let n = (common - off).min(CHUNK as u64) as usize;
                fa.file().read_exact_at(&mut ba[..n], off)?;
                fb.file().read_exact_at(&mut bb[..n], off)?;
                let d = diff_counts(&ba[..n], &bb[..n], count).map(|(f, c)| (off as usize + f, c));
                if d.is_some() {
                    stop.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                Ok(d)
            },
        )
        .collect();
    let results =
        results.map_err(|e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", pa.display())))?;
    Ok(finish(len_a, len_b, tail, results.into_iter().flatten()))
}

pub fn compare_streams(mut ra: impl Read, mut rb: impl Read, count: bool) -> io::Result<ByteComparison> {
    let mut ba = vec![0u8; 1 << 20];
    let mut bb = vec![0u8; 1 << 20];
    let (mut len_a, mut len_b) = (0u64, 0u64);
    let mut first: Option<u64> = None;
    let mut total = 0u64;
    loop {
        let na = read_full(&mut ra, &mut ba)?;
        let nb = read_full(&mut rb, &mut bb)?;
        let n = na.min(nb);
        if let Some((f, c)) = diff_counts(&ba[..n], &bb[..n], count) {
            first.get_or_insert(len_a + f as u64);
            total += c;
            if !count {
                return Ok(ByteComparison {
                    len_a: len_a + na as u64,
                    len_b: len_b + nb as u64,
                    first_offset: first,
                    differing_bytes: total,
                });
            }
        }
        len_a += na as u64;
        len_b += nb as u64;
        if na != nb {
            // One side ended; count the rest of the longer side.
            if first.is_none() {
                first = Some(len_a.min(len_b));
            }
            let rest_a = if na > nb {
                io::copy(&mut ra, &mut io::sink())?
            } else {
                0
            };
            let rest_b = if nb > na {
                io::copy(&mut rb, &mut io::sink())?
            } else {
                0
            };
            len_a += rest_a;
            len_b += rest_b;
            total += len_a.abs_diff(len_b);
            break;
        }
        if na == 0 {
            break;
        }
    }
    Ok(ByteComparison {
        len_a,
        len_b,
        first_offset: first,
        differing_bytes: total,
    })
}

/// Fills `buf` as far as the stream allows; returns how many bytes were read.
pub fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Reads `len` bytes at `offset` of a source (fewer at the end), for hexdump windows.
pub fn read_window(src: &Source, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    match src {
        Source::Memory(b) => {
            let start = (offset as usize).min(b.len());
            let end = start.saturating_add(len).min(b.len());
            Ok(b[start..end].to_vec())
        }
        Source::File(p) => {
            use std::os::unix::fs::FileExt;
            let f = fs_err::File::open(p)?;
            let mut buf = vec![0u8; len];
            let mut n = 0;
            while n < len {
                match f.file().read_at(&mut buf[n..], offset + n as u64)? {
                    0 => break,
                    k => n += k,
                }
            }
            buf.truncate(n);
            Ok(buf)
        }
        Source::Decoded { .. } | Source::Directory(_) => {
            let mut r = src.open()?;
            io::copy(&mut (&mut r).take(offset), &mut io::sink())?;
            let mut buf = Vec::with_capacity(len);
            r.take(len as u64).read_to_end(&mut buf)?;
            Ok(buf)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_memory_and_counts() {
        let a = Source::memory(b"hello world".to_vec());
        let b = Source::memory(b"hellO world!".to_vec());
        let c = compare_bytes(&a, &b, true).unwrap();
        assert_eq!(c.first_offset, Some(4));
        assert_eq!(c.differing_bytes, 2);
        assert_eq!(quick_identical(&a, &a.clone()).unwrap(), Some(true));
        assert_eq!(quick_identical(&a, &b).unwrap(), Some(false));
    }

    #[test]
    fn compares_files_and_streams_alike() {
        let dir = tempfile::tempdir().unwrap();
        let mut x = vec![7u8; CHUNK * 2 + 100];
        let mut y = x.clone();
        y[CHUNK + 5] = 1;
        y[CHUNK * 2 + 99] = 2;
        x.push(9);
        std::fs::write(dir.path().join("a"), &x).unwrap();
        std::fs::write(dir.path().join("b"), &y).unwrap();
        let fa = Source::file(dir.path().join("a"));
        let fb = Source::file(dir.path().join("b"));
        let files = compare_bytes(&fa, &fb, true).unwrap();
        let mem = compare_bytes(&Source::memory(x.clone()), &Source::memory(y.clone()), true).unwrap();
        let streams = compare_streams(&x[..], &y[..], true).unwrap();
        assert_eq!(files, mem);
        assert_eq!(files, streams);
        assert_eq!(files.first_offset, Some(CHUNK as u64 + 5));
        assert_eq!(files.differing_bytes, 3);
        assert_eq!(read_window(&fb, CHUNK as u64 + 4, 3).unwrap(), vec![7, 1, 7]);
    }

    #[test]
    fn blob_limit_is_enforced() {
        let s = Source::decoded(Codec::Gzip, Source::memory(gz(&[0u8; 1000])));
        assert!(matches!(s.blob(10), Err(SourceError::TooLarge { .. })));
        assert_eq!(s.blob(1000).unwrap().len(), 1000);
        assert_eq!(s.head(4).unwrap(), vec![0; 4]);
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }
}
