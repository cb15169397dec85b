//! Compressed streams (gzip, xz, zstd, bzip2): header fields, then the decompressed content,
//! compared through the engine while streaming (a tar inside a gzip is compared as tar).
//!
//! Both sides are first decoded once, in parallel, to a digest: that finds corrupt or
//! truncated streams and compression bombs before any structural comparator sees them, counts
//! gzip members, and settles the common case of identical content with different headers.
//! Every decoded byte counts against its input's expansion budget (shared with everything
//! else inside that input). Content of moderate size is kept from that first decoding, so a
//! stream nested in a stream is decoded once per level: depth costs linear time.

mod header;

use std::io::{self, BufRead, BufReader, Read};

use sha2::{Digest, Sha256};

use super::binary::BinaryComparator;
use super::tar::diff_fields;
use super::{Change, Codec, Comparator, CompareError, Context, Fallback, Format, Node, Side, Sides, Source};
use header::Fields;

pub struct CompressedComparator;

const BUF: usize = 256 << 10;
/// Decoded bytes between two checks of the time budget.
const TIME_CHECK_BYTES: u64 = 64 << 20;
/// Decoded content up to this size (and `max_member_bytes`) is kept from the first decoding
/// for the comparison of the content, instead of being decoded again from the stream (and
/// every stream around it) by each reader. Small, so that a large stream, which is streamed
/// anyway, costs little for having been kept at first.
const KEEP_DECODED: u64 = 8 << 20;

fn codec(format: Format) -> Option<Codec> {
    match format {
        Format::Gzip => Some(Codec::Gzip),
        Format::Xz => Some(Codec::Xz),
        Format::Zstd => Some(Codec::Zstd),
        Format::Bzip2 => Some(Codec::Bzip2),
        _ => None,
    }
}

impl Comparator for CompressedComparator {
    fn name(&self) -> &'static str {
        "compressed"
    }

    fn formats(&self) -> &'static [Format] {
        &[Format::Gzip, Format::Xz, Format::Zstd, Format::Bzip2]
    }

    fn compare(&self, cx: &Context<'_>, a: &Source, b: &Source, node: &mut Node) -> Result<(), CompareError> {
        let (ha, hb) = (a.head(header::HEAD_LEN)?, b.head(header::HEAD_LEN)?);
        let Some(codec) = codec(super::sniff(&ha)) else {
            return Err(CompareError::malformed("compressed stream", "unknown format"));
        };
        let (mut fa, mut fb) = (header::fields(codec, &ha), header::fields(codec, &hb));
        let (da, db) = rayon::join(|| decode(cx, codec, a, Side::A), || decode(cx, codec, b, Side::B));
        // Counts from a stream that failed to decode would be partial: leave them out.
        if let (Ok(x), Ok(y)) = (&da, &db) {
            add_stream_fields(codec, x, a, &mut fa);
            add_stream_fields(codec, y, b, &mut fb);
        }
        diff_fields(&fa, &fb, &mut node.changes);
        let (da, db) = match (da, db) {
            (Ok(x), Ok(y)) => (x, y),
            (x, y) => {
                // Keep the header fields, say why the content was not compared, and show where
                // the compressed bytes differ.
                let reasons: Vec<String> = [("a", x), ("b", y)]
                    .into_iter()
                    .filter_map(|(side, r)| r.err().map(|e| format!("{side}: {e}")))
                    .collect();
                node.fallback = Some(Fallback {
                    from: codec.name().into(),
                    to: "binary".into(),
                    reason: reasons.join("; "),
                });
                return BinaryComparator.compare(cx, a, b, node);
            }
        };
        node.sha256 = Some(Sides::new(da.raw_sha256, db.raw_sha256));
        node.size = Some(Sides::new(da.raw_len, db.raw_len));
        if da.sha256 == db.sha256 {
            if node.changes.is_empty() && node.sha256.as_ref().is_some_and(|s| s.a != s.b) {
                node.changes.push(Change::note(format!(
                    "the decompressed contents are identical; only the {} encoding differs \
                     (compression level, settings or implementation)",
                    codec.name()
                )));
            }
            return Ok(());
        }
        let name = inner_name(&node.name, header::gzip_name(&fa).or(header::gzip_name(&fb)));
        let limit = cx.options().max_member_bytes;
        let inner = |kept: Option<Vec<u8>>, trailing: u64, src: &Source| match kept {
            Some(bytes) => Source::memory(bytes),
            None => content(codec, src, trailing, limit),
        };
        let child = cx.compare(
            &name,
            &inner(da.kept, da.trailing, a),
            &inner(db.kept, db.trailing, b),
        );
        node.push_child(child);
        Ok(())
    }
}

/// The decoded content of `src`. The shared gzip decoder fails on data after the last member,
/// where `gzip -d` ignores it (tools pad archives with zeros): such trailing bytes are cut off
/// first, from a copy in memory.
fn content(codec: Codec, src: &Source, trailing: u64, limit: u64) -> Source {
    if trailing > 0
        && let Ok(blob) = src.blob(limit)
        && let Some(keep) = (blob.len() as u64).checked_sub(trailing)
        && let Some(body) = usize::try_from(keep).ok().and_then(|k| blob.get(..k))
    {
        return Source::decoded(codec, Source::memory(body.to_vec()));
    }
    Source::decoded(codec, src.clone())
}

/// What decoding one side found.
struct Decoded {
    sha256: String,
    raw_sha256: String,
    raw_len: u64,
    /// gzip members.
    members: Option<u64>,
    /// Bytes after the last gzip member that are not another member.
    trailing: u64,
    /// The decoded content, when it was small enough to keep.
    kept: Option<Vec<u8>>,
}

/// Fields that need the whole stream: member/frame/block counts, trailing data.
fn add_stream_fields(codec: Codec, d: &Decoded, src: &Source, f: &mut Fields) {
    match codec {
        Codec::Gzip => {
            f.extend(d.members.map(|m| ("gzip.members", m.to_string())));
            if d.trailing > 0 {
                f.push(("gzip.trailing-bytes", d.trailing.to_string()));
            }
        }
        Codec::Xz => {
            // Random access to the index at the end is only cheap for files and memory.
            if matches!(src, Source::File(_) | Source::Memory(_))
                && let Ok(blob) = src.blob(u64::MAX)
                && let Some((streams, blocks)) = header::xz_index(&blob)
            {
                f.push(("xz.streams", streams.to_string()));
                f.push(("xz.blocks", blocks.to_string()));
            }
        }
        Codec::Zstd => {
            if let Ok(r) = src.open() {
                let frames = header::zstd_frames(r);
                if let Ok((frames, skippable)) = frames {
                    f.push(("zstd.frames", frames.to_string()));
                    if skippable > 0 {
                        f.push(("zstd.skippable-frames", skippable.to_string()));
                    }
                }
            }
        }
        Codec::Bzip2 => {}
    }
}

/// Hashes what is read through it (the compressed bytes).
struct RawHash<R> {
    inner: R,
    hasher: Sha256,
    len: u64,
}

impl<R: Read> Read for RawHash<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(buf.get(..n).unwrap_or_default());
        self.len += n as u64;
        Ok(n)
    }
}

/// Hashes decoded bytes (keeping them while they are few), charging them to the input's
/// expansion budget and checking the time budget.
struct Sink<'c, 'e> {
    cx: &'c Context<'e>,
    side: Side,
    codec: Codec,
    hasher: Sha256,
    len: u64,
    next_time_check: u64,
    kept: Option<Vec<u8>>,
    keep_limit: u64,
}

impl Sink<'_, '_> {
    /// Reads `r` to its end into the digest.
    fn pump(&mut self, mut r: impl Read, buf: &mut [u8]) -> Result<(), CompareError> {
        loop {
            let n = match r.read(buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.corrupt(e)),
            };
            self.cx.charge(self.side, n as u64)?;
            self.len = self.len.saturating_add(n as u64);
            if self.len >= self.next_time_check {
                self.cx.check_time()?;
                self.next_time_check = self.len.saturating_add(TIME_CHECK_BYTES);
            }
            let chunk = buf.get(..n).unwrap_or_default();
            self.hasher.update(chunk);
            if self.len > self.keep_limit {
                self.kept = None;
            } else if let Some(k) = self.kept.as_mut() {
                k.extend_from_slice(chunk);
            }
        }
    }

    fn corrupt(&self, e: io::Error) -> CompareError {
        CompareError::malformed(self.codec.name(), format!("the stream could not be decoded: {e}"))
    }
}

/// Decodes `src` (from input `side`) to its end, keeping the content only when it is small.
fn decode(cx: &Context<'_>, codec: Codec, src: &Source, side: Side) -> Result<Decoded, CompareError> {
    let mut raw = RawHash {
        inner: src.open()?,
        hasher: Sha256::new(),
        len: 0,
    };
    let mut sink = Sink {
        cx,
        side,
        codec,
        hasher: Sha256::new(),
        len: 0,
        next_time_check: TIME_CHECK_BYTES,
        kept: Some(Vec::new()),
        keep_limit: KEEP_DECODED.min(cx.options().max_member_bytes),
    };
    let mut buf = vec![0u8; BUF];
    let (mut members, mut trailing) = (None, 0);
    match codec {
        Codec::Gzip => {
            let (m, t) = gzip_members(&mut raw, &mut sink, &mut buf)?;
            (members, trailing) = (Some(m), t);
        }
        _ => {
            let r = codec.decoder(Box::new(&mut raw)).map_err(|e| sink.corrupt(e))?;
            sink.pump(r, &mut buf)?;
        }
    }
    // A decoder may stop at the end of its data: the digest covers the whole input.
    io::copy(&mut raw, &mut io::sink())?;
    Ok(Decoded {
        sha256: hex::encode(sink.hasher.finalize()),
        raw_sha256: hex::encode(raw.hasher.finalize()),
        raw_len: raw.len,
        members,
        trailing,
        kept: sink.kept,
    })
}

/// Decodes gzip member by member (as `gzip -d` does), counting members and the bytes after
/// the last one that do not start another member.
fn gzip_members(r: impl Read, sink: &mut Sink<'_, '_>, buf: &mut [u8]) -> Result<(u64, u64), CompareError> {
    let mut br = BufReader::with_capacity(BUF, r);
    let mut members = 0u64;
    loop {
        // Peek at two bytes; at a read-ahead boundary the first may have to be held back.
        let head = br.fill_buf().map_err(|e| sink.corrupt(e))?;
        let (is_member, prefix): (bool, Vec<u8>) = match head {
            [] => return Ok((members, 0)),
            [0x1f, 0x8b, ..] => (true, Vec::new()),
            [b0] => {
                let b0 = *b0;
                br.consume(1);
                let next = br.fill_buf().map_err(|e| sink.corrupt(e))?;
                (b0 == 0x1f && next.first() == Some(&0x8b), vec![b0])
            }
            _ => (false, Vec::new()),
        };
        if !is_member {
            if members == 0 {
                return Err(sink.corrupt(io::Error::other("not a gzip member")));
            }
            let rest = io::copy(&mut br, &mut io::sink()).map_err(|e| sink.corrupt(e))?;
            return Ok((members, rest + prefix.len() as u64));
        }
        let dec = flate2::bufread::GzDecoder::new((&prefix[..]).chain(&mut br));
        sink.pump(dec, buf)?;
        members += 1;
    }
}

/// Name of the decompressed content: the gzip header's name, else this node's name without
/// its compression suffix (`.tgz` → `.tar`), else `content`.
fn inner_name(node_name: &str, stored: Option<&str>) -> String {
    if let Some(n) = stored
        && let Some(base) = n.rsplit(['/', '\\']).next()
        && !base.is_empty()
    {
        return base.to_string();
    }
    let parts: Vec<Option<String>> = node_name.split(" vs ").map(strip_suffix).collect();
    if parts.iter().all(Option::is_some) {
        return parts.into_iter().flatten().collect::<Vec<_>>().join(" vs ");
    }
    "content".into()
}

fn strip_suffix(name: &str) -> Option<String> {
    let base = name.rsplit('/').next().unwrap_or(name);
    let rules = [
        (".tgz", ".tar"),
        (".taz", ".tar"),
        (".txz", ".tar"),
        (".tzst", ".tar"),
        (".tbz2", ".tar"),
        (".tbz", ".tar"),
        (".gz", ""),
        (".xz", ""),
        (".zst", ""),
        (".bz2", ""),
    ];
    rules.iter().find_map(|(ext, with)| {
        base.strip_suffix(ext)
            .filter(|stem| !stem.is_empty())
            .map(|stem| format!("{stem}{with}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_decompressed_content() {
        assert_eq!(inner_name("x.tar.gz", None), "x.tar");
        assert_eq!(inner_name("dir/x.tgz", None), "x.tar");
        assert_eq!(inner_name("a.tzst vs b.tzst", None), "a.tar vs b.tar");
        assert_eq!(inner_name("x.tar.gz", Some("orig.tar")), "orig.tar");
        assert_eq!(inner_name("x.tar.gz", Some("../../etc/passwd")), "passwd");
        assert_eq!(inner_name("blob", None), "content");
        assert_eq!(inner_name(".gz", None), "content");
    }
}
