//! One side of a zip comparison: the archive opened once by the `zip` crate (which finds the
//! end record, handles zip64 and decompresses), plus each entry's raw central and local
//! headers read straight from the mapped bytes for the fields the crate does not expose.

use std::collections::HashMap;
use std::io::{Cursor, Read};
use std::ops::Range;

use super::super::{Blob, CompareError};

/// The `zip` crate's archive over the shared bytes: cloning it is cheap (an `Arc` and a cursor),
/// which is how each rayon worker gets its own handle.
pub(super) type Handle = ::zip::ZipArchive<Cursor<Blob>>;

const CENTRAL_SIG: u32 = 0x0201_4b50;
const LOCAL_SIG: u32 = 0x0403_4b50;
const CENTRAL_LEN: usize = 46;
const LOCAL_LEN: usize = 30;

/// The fixed fields of a central directory record (APPNOTE 4.3.12), without the header offset,
/// which moves whenever an earlier entry changes size and so says nothing of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Central {
    pub version_made_by: u16,
    pub version_needed: u16,
    pub flags: u16,
    pub method: u16,
    pub dos_time: u16,
    pub dos_date: u16,
    pub crc32: u32,
    pub disk_start: u16,
    pub internal_attributes: u16,
    pub external_attributes: u32,
    /// Where the extra-field block and the comment lie in the archive bytes.
    pub extra: Range<usize>,
    pub comment: Range<usize>,
}

/// One entry, as listed by the central directory.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    /// Index in the crate's archive (for decompression).
    pub index: usize,
    /// The decoded name, used to match entries across the two sides.
    pub name: String,
    pub central: Central,
    /// Sizes as the crate reads them (zip64-aware).
    pub compressed_size: u64,
    pub size: u64,
    pub encrypted: bool,
    pub header_start: u64,
    /// The whole local header (fixed part, name, extra) and its extra block, or why it could
    /// not be read.
    pub local: Result<(Range<usize>, Range<usize>), String>,
    /// The stored (compressed, possibly encrypted) bytes, when they lie inside the archive.
    pub data: Option<Range<usize>>,
}

/// One opened archive.
pub(super) struct Archive {
    pub blob: Blob,
    pub handle: Handle,
    pub entries: Vec<Entry>,
    pub comment: Vec<u8>,
    /// Offset of the central directory.
    pub cd_start: u64,
    /// Names listed more than once (shown), with how many times (the crate keeps only the last).
    pub duplicates: Vec<(String, usize)>,
}

impl Archive {
    /// Opens `blob` as a zip archive; fails (for a fallback) when the crate cannot read its
    /// central directory, when it lists more than `max_entries` entries, or when entries
    /// overlap each other (the construction of overlapping-entry zip bombs).
    pub(super) fn open(blob: Blob, max_entries: u64) -> Result<Archive, CompareError> {
        let handle = contained(|| Handle::new(Cursor::new(blob.clone())).map_err(|e| e.to_string()))
            .map_err(|e| CompareError::malformed("zip", e))?;
        if handle.len() as u64 > max_entries {
            return Err(CompareError::Budget(format!(
                "more than {max_entries} entries in one archive"
            )));
        }
        let mut entries = Vec::with_capacity(handle.len());
        let mut names: HashMap<String, usize> = HashMap::with_capacity(handle.len());
        for index in 0..handle.len() {
            let e = handle
                .by_index_data(index)
                .map_err(|e| CompareError::malformed("zip", e))?;
            let central_start = usize::try_from(e.central_header_start()).unwrap_or(usize::MAX);
            let central = parse_central(&blob, central_start).ok_or_else(|| {
                CompareError::malformed(
                    "zip",
                    format!("unreadable central directory record at offset {central_start}"),
                )
            })?;
            let decoded = e
                .name()
                .map(|n| n.into_owned())
                .unwrap_or_else(|_| crate::escape::name(e.name_raw()));
            // Two raw names can decode alike (UTF-8 and CP437); keep keys unique per side.
            let name = match names.get(&decoded) {
                None => decoded,
                Some(_) => format!("{decoded} [raw {}]", hex::encode(e.name_raw())),
            };
            names.insert(name.clone(), index);
            let header_start = e.header_start();
            let local = usize::try_from(header_start)
                .ok()
                .and_then(|s| parse_local(&blob, s))
                .ok_or_else(|| format!("no local header at offset {header_start}"));
            let data = local.as_ref().ok().and_then(|(header, _)| {
                let end = header
                    .end
                    .checked_add(usize::try_from(e.compressed_size()).ok()?)?;
                (end <= blob.len()).then_some(header.end..end)
            });
            entries.push(Entry {
                index,
                name,
                central,
                compressed_size: e.compressed_size(),
                size: e.size(),
                encrypted: e.encrypted(),
                header_start,
                local,
                data,
            });
        }
        check_overlap(&entries, handle.central_directory_start())?;
        let duplicates = if handle.has_duplicate_names() {
            duplicate_names(&blob, handle.central_directory_start(), max_entries)
        } else {
            Vec::new()
        };
        Ok(Archive {
            comment: handle.comment().to_vec(),
            cd_start: handle.central_directory_start(),
            blob,
            handle,
            entries,
            duplicates,
        })
    }

    /// Bytes of the archive in `r` (empty when out of range, which `open` rules out).
    pub(super) fn bytes(&self, r: &Range<usize>) -> &[u8] {
        self.blob.get(r.clone()).unwrap_or_default()
    }

    /// The stored bytes of an entry.
    pub(super) fn data(&self, e: &Entry) -> Option<&[u8]> {
        e.data.as_ref().and_then(|r| self.blob.get(r.clone()))
    }

    /// Bytes before the first readable entry (a self-extractor stub, a spanning marker, or
    /// entries the central directory no longer points at).
    pub(super) fn prefix(&self) -> &[u8] {
        let first = self
            .entries
            .iter()
            .filter(|e| e.local.is_ok())
            .map(|e| e.header_start)
            .min()
            .unwrap_or(self.cd_start);
        let end = usize::try_from(first.min(self.cd_start)).unwrap_or(0);
        self.blob.get(..end).unwrap_or_default()
    }

    /// The APK signing block (v2+ signatures), which sits right before the central directory
    /// and ends with the magic `APK Sig Block 42`.
    pub(super) fn apk_signing_block(&self) -> Option<&[u8]> {
        let cd = usize::try_from(self.cd_start).ok()?;
        if self.blob.get(cd.checked_sub(16)?..cd)? != b"APK Sig Block 42" {
            return None;
        }
        let size = u64_at(&self.blob, cd.checked_sub(24)?)?;
        let start = cd.checked_sub(usize::try_from(size).ok()?.checked_add(8)?)?;
        self.blob.get(start..cd)
    }

    /// Decompresses entry `e` with handle `h`, failing past `limit` bytes (the crate also fails
    /// past the declared size and on a CRC mismatch).
    /// Decompresses entry `e`, up to `limit` bytes; gives up between chunks once `stop` says
    /// so (the time budget is spent), so a large entry in flight does not outlive the budget.
    pub(super) fn decompress(
        h: &mut Handle,
        e: &Entry,
        limit: u64,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> Result<Vec<u8>, String> {
        contained(|| {
            let file = h.by_index(e.index).map_err(|err| err.to_string())?;
            // The declared size is only a hint: never let it reserve much memory up front.
            let mut out = Vec::with_capacity(e.size.min(limit).min(1 << 24) as usize);
            let mut reader = file.take(limit.saturating_add(1));
            loop {
                if stop() {
                    return Err(DECOMPRESSION_STOPPED.into());
                }
                let got = (&mut reader)
                    .take(DECOMPRESS_CHUNK)
                    .read_to_end(&mut out)
                    .map_err(|err| err.to_string())?;
                if got == 0 {
                    break;
                }
            }
            if out.len() as u64 > limit {
                return Err(format!("expands past the limit of {limit} bytes"));
            }
            Ok(out)
        })
    }
}

/// How much one entry's decompression produces between looks at the time budget.
const DECOMPRESS_CHUNK: u64 = 4 << 20;

/// Why [`Archive::decompress`] gave up when told to stop.
pub(super) const DECOMPRESSION_STOPPED: &str = "stopped: the time budget is spent";

/// Runs a call into the `zip` crate or its decompressors, turning a panic there (a bug
/// triggered by hostile input) into an error (see `compare::contain`).
fn contained<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    crate::compare::contain(f)
        .unwrap_or_else(|msg| Err(format!("the zip reader panicked on this input: {msg}")))
}

/// Fails when two entries' local headers and data overlap, or run into the central directory:
/// legitimate writers never do this, overlapping-entry zip bombs do, to multiply one stream.
fn check_overlap(entries: &[Entry], cd_start: u64) -> Result<(), CompareError> {
    let mut spans: Vec<(u64, u64)> = entries
        .iter()
        .filter_map(|e| {
            let (header, _) = e.local.as_ref().ok()?;
            let end = (header.end as u64).checked_add(e.compressed_size)?;
            Some((e.header_start, end))
        })
        .collect();
    spans.sort_unstable();
    let overlap = spans.windows(2).any(|w| matches!(w, [x, y] if y.0 < x.1));
    if overlap || spans.iter().any(|&(_, end)| end > cd_start) {
        return Err(CompareError::malformed(
            "zip",
            "entries overlap each other or the central directory (a zip-bomb construction)",
        ));
    }
    Ok(())
}

/// Walks the raw central directory to name the entries listed more than once (the crate keeps
/// one per name). Stops at the first record that does not parse, or past `max_entries`.
fn duplicate_names(blob: &[u8], cd_start: u64, max_entries: u64) -> Vec<(String, usize)> {
    let mut counts: HashMap<&[u8], usize> = HashMap::new();
    let mut order: Vec<&[u8]> = Vec::new();
    let mut pos = usize::try_from(cd_start).unwrap_or(usize::MAX);
    for _ in 0..=max_entries {
        let Some((name, next)) = raw_central_name(blob, pos) else {
            break;
        };
        let n = counts.entry(name).or_insert(0);
        if *n == 0 {
            order.push(name);
        }
        *n += 1;
        pos = next;
    }
    order
        .into_iter()
        .filter_map(|name| {
            let n = *counts.get(name)?;
            (n > 1).then(|| (crate::escape::name(name), n))
        })
        .collect()
}

/// The raw name of the central record at `pos` and where the next record starts.
fn raw_central_name(blob: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    if u32_at(blob, pos)? != CENTRAL_SIG {
        return None;
    }
    let name_len = u16_at(blob, pos + 28)? as usize;
    let extra_len = u16_at(blob, pos + 30)? as usize;
    let comment_len = u16_at(blob, pos + 32)? as usize;
    let name_start = pos.checked_add(CENTRAL_LEN)?;
    let name = blob.get(name_start..name_start + name_len)?;
    Some((name, name_start + name_len + extra_len + comment_len))
}

fn parse_central(blob: &[u8], pos: usize) -> Option<Central> {
    if u32_at(blob, pos)? != CENTRAL_SIG {
        return None;
    }
    let at16 = |off: usize| u16_at(blob, pos.checked_add(off)?);
    let name_len = at16(28)? as usize;
    let extra_len = at16(30)? as usize;
    let comment_len = at16(32)? as usize;
    let extra_start = pos.checked_add(CENTRAL_LEN + name_len)?;
    let comment_start = extra_start + extra_len;
    let end = comment_start + comment_len;
    if end > blob.len() {
        return None;
    }
    Some(Central {
        version_made_by: at16(4)?,
        version_needed: at16(6)?,
        flags: at16(8)?,
        method: at16(10)?,
        dos_time: at16(12)?,
        dos_date: at16(14)?,
        crc32: u32_at(blob, pos + 16)?,
        disk_start: at16(34)?,
        internal_attributes: at16(36)?,
        external_attributes: u32_at(blob, pos + 38)?,
        extra: extra_start..comment_start,
        comment: comment_start..end,
    })
}

/// The local header at `pos`: its whole extent and its extra block.
fn parse_local(blob: &[u8], pos: usize) -> Option<(Range<usize>, Range<usize>)> {
    if u32_at(blob, pos)? != LOCAL_SIG {
        return None;
    }
    let name_len = u16_at(blob, pos.checked_add(26)?)? as usize;
    let extra_len = u16_at(blob, pos + 28)? as usize;
    let extra_start = pos.checked_add(LOCAL_LEN + name_len)?;
    let end = extra_start + extra_len;
    (end <= blob.len()).then_some((pos..end, extra_start..end))
}

pub(super) fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(off..off.checked_add(2)?)?.try_into().ok()?,
    ))
}

pub(super) fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(off..off.checked_add(4)?)?.try_into().ok()?,
    ))
}

pub(super) fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(off..off.checked_add(8)?)?.try_into().ok()?,
    ))
}

#[cfg(test)]
mod decompress_tests {
    use std::io::Write;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A large entry in flight stops between chunks once the time budget is spent, rather than
    /// decoding to the end (the red team's nested zips overran a 3 s budget threefold).
    #[test]
    fn decompression_stops_between_chunks_when_told() {
        let mut w = ::zip::ZipWriter::new(Cursor::new(Vec::new()));
        let o = ::zip::write::SimpleFileOptions::default()
            .compression_method(::zip::CompressionMethod::Deflated)
            .last_modified_time(::zip::DateTime::default());
        w.start_file("big.bin", o).unwrap();
        w.write_all(&vec![7u8; 5 * DECOMPRESS_CHUNK as usize]).unwrap();
        let mut archive = Archive::open(Blob::from_vec(w.finish().unwrap().into_inner()), 10).unwrap();
        let entry = archive.entries[0].clone();
        let whole = Archive::decompress(&mut archive.handle, &entry, u64::MAX, &|| false).unwrap();
        assert_eq!(whole.len() as u64, 5 * DECOMPRESS_CHUNK);
        let err = Archive::decompress(&mut archive.handle, &entry, u64::MAX, &|| true).unwrap_err();
        assert_eq!(err, DECOMPRESSION_STOPPED);
        // Told to stop after two chunks: it looked between chunks, not only before the first.
        let looks = AtomicUsize::new(0);
        let stop = || looks.fetch_add(1, Ordering::Relaxed) >= 2;
        let err = Archive::decompress(&mut archive.handle, &entry, u64::MAX, &stop).unwrap_err();
        assert_eq!(err, DECOMPRESSION_STOPPED);
        assert_eq!(looks.load(Ordering::Relaxed), 3);
    }
}
