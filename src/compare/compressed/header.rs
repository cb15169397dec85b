//! Header fields of gzip, xz, zstd and bzip2 streams, parsed from the raw bytes with bounds
//! checks (the headers are a few bytes; the crates' decoders do not expose all of them).

use std::io::{self, BufReader, Read};

use super::super::Codec;
use crate::units::timestamp;

/// Leading bytes read for header parsing (a gzip name or comment longer than this is cut).
pub(super) const HEAD_LEN: usize = 64 << 10;
/// Extra-field bytes shown in hex.
const EXTRA_SHOWN: usize = 64;
/// Longest gzip name or comment kept, in characters.
const MAX_TEXT_CHARS: usize = 1024;

/// Named header values of one stream, in a fixed order.
pub(super) type Fields = Vec<(&'static str, String)>;

pub(super) fn fields(codec: Codec, head: &[u8]) -> Fields {
    match codec {
        Codec::Gzip => gzip(head),
        Codec::Xz => xz(head),
        Codec::Zstd => zstd(head),
        Codec::Bzip2 => bzip2(head),
    }
}

fn u16_le(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn u32_le(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn u64_le(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

const FTEXT: u8 = 1;
const FHCRC: u8 = 2;
const FEXTRA: u8 = 4;
const FNAME: u8 = 8;
const FCOMMENT: u8 = 16;

fn gzip(h: &[u8]) -> Fields {
    let mut f = Fields::new();
    let (Some(&cm), Some(&flg), Some(mtime), Some(&xfl), Some(&os)) =
        (h.get(2), h.get(3), u32_le(h, 4), h.get(8), h.get(9))
    else {
        f.push(("gzip.header", "truncated".into()));
        return f;
    };
    if cm != 8 {
        f.push(("gzip.method", cm.to_string()));
    }
    let mtime = if mtime == 0 {
        "0 (not set)".to_string()
    } else {
        timestamp(i64::from(mtime))
    };
    f.push(("gzip.mtime", mtime));
    f.push(("gzip.flags", gzip_flags(flg)));
    f.push(("gzip.xfl", xfl_name(xfl)));
    f.push(("gzip.os", os_name(os)));
    let mut pos = 10usize;
    if flg & FEXTRA != 0 {
        let extra = u16_le(h, pos).and_then(|len| {
            let start = pos.checked_add(2)?;
            let end = start.checked_add(usize::from(len))?;
            pos = end;
            h.get(start..end)
        });
        f.push(("gzip.extra", extra.map_or_else(|| "truncated".into(), show_extra)));
    }
    for (flag, name) in [(FNAME, "gzip.name"), (FCOMMENT, "gzip.comment")] {
        if flg & flag == 0 {
            continue;
        }
        let text = h.get(pos..).and_then(|rest| {
            let end = rest.iter().position(|&c| c == 0)?;
            pos = pos.checked_add(end)?.checked_add(1)?;
            rest.get(..end)
        });
        f.push((name, text.map_or_else(|| "truncated".into(), show_text)));
    }
    if flg & FHCRC != 0 {
        let crc = u16_le(h, pos).map_or_else(|| "truncated".into(), |c| format!("{c:04x}"));
        f.push(("gzip.header-crc", crc));
    }
    f
}

/// The original file name stored in a gzip header, if any.
pub(super) fn gzip_name(fields: &Fields) -> Option<&str> {
    fields
        .iter()
        .find(|(k, v)| *k == "gzip.name" && v != "truncated")
        .map(|(_, v)| v.as_str())
}

fn gzip_flags(flg: u8) -> String {
    let names = [
        (FTEXT, "FTEXT"),
        (FHCRC, "FHCRC"),
        (FEXTRA, "FEXTRA"),
        (FNAME, "FNAME"),
        (FCOMMENT, "FCOMMENT"),
    ];
    let mut set: Vec<String> = names
        .iter()
        .filter(|(bit, _)| flg & bit != 0)
        .map(|(_, n)| n.to_string())
        .collect();
    if flg & 0xe0 != 0 {
        set.push(format!("reserved {:#04x}", flg & 0xe0));
    }
    if set.is_empty() {
        "none".into()
    } else {
        set.join("|")
    }
}

fn xfl_name(xfl: u8) -> String {
    match xfl {
        2 => "2 (maximum compression)".into(),
        4 => "4 (fastest compression)".into(),
        other => other.to_string(),
    }
}

fn os_name(os: u8) -> String {
    let name = match os {
        0 => "FAT",
        1 => "Amiga",
        2 => "VMS",
        3 => "Unix",
        4 => "VM/CMS",
        5 => "Atari TOS",
        6 => "HPFS",
        7 => "Macintosh",
        8 => "Z-System",
        9 => "CP/M",
        10 => "TOPS-20",
        11 => "NTFS",
        12 => "QDOS",
        13 => "Acorn RISCOS",
        255 => "unknown",
        _ => "undefined",
    };
    format!("{os} ({name})")
}

fn show_extra(b: &[u8]) -> String {
    let shown = hex::encode(b.get(..EXTRA_SHOWN.min(b.len())).unwrap_or_default());
    if b.len() > EXTRA_SHOWN {
        format!("{shown}… ({} bytes)", b.len())
    } else {
        shown
    }
}

fn show_text(b: &[u8]) -> String {
    // gzip names and comments are ISO 8859-1 by the spec; UTF-8 in practice.
    let s = String::from_utf8_lossy(b);
    if s.chars().count() > MAX_TEXT_CHARS {
        let cut: String = s.chars().take(MAX_TEXT_CHARS).collect();
        format!("{cut}… ({} bytes)", b.len())
    } else {
        s.into_owned()
    }
}

const XZ_MAGIC: [u8; 6] = [0xfd, b'7', b'z', b'X', b'Z', 0];

fn xz(h: &[u8]) -> Fields {
    let check = match (h.get(6), h.get(7)) {
        (Some(0), Some(&flags)) => match flags & 0x0f {
            0 => "none".to_string(),
            1 => "CRC32".to_string(),
            4 => "CRC64".to_string(),
            10 => "SHA-256".to_string(),
            other => format!("check id {other}"),
        },
        (Some(_), Some(_)) => "reserved stream flags".to_string(),
        _ => "truncated".to_string(),
    };
    vec![("xz.check", check)]
}

/// Streams and blocks of a whole xz file, from the indexes at its end (no decoding). `None`
/// when the file does not end in a well-formed stream footer and index.
pub(super) fn xz_index(data: &[u8]) -> Option<(u64, u64)> {
    let (mut streams, mut blocks) = (0u64, 0u64);
    let mut end = data.len();
    while end > 0 {
        // Stream padding: zero bytes in multiples of four.
        while end >= 4 && data.get(end - 4..end) == Some(&[0u8; 4][..]) {
            end -= 4;
        }
        if end == 0 {
            break;
        }
        let footer = data.get(end.checked_sub(12)?..end)?;
        if footer.get(10..12)? != b"YZ" {
            return None;
        }
        let backward = (u64::from(u32_le(footer, 4)?) + 1) * 4;
        let index_end = end - 12;
        let index_start = index_end.checked_sub(usize::try_from(backward).ok()?)?;
        let index = data.get(index_start..index_end)?;
        if index.first() != Some(&0) {
            return None;
        }
        let mut pos = 1usize;
        let count = varint(index, &mut pos)?;
        let mut stored = 0u64;
        for _ in 0..count {
            let unpadded = varint(index, &mut pos)?;
            varint(index, &mut pos)?;
            stored = stored.checked_add(unpadded.checked_add(3)? & !3)?;
        }
        let start = index_start
            .checked_sub(usize::try_from(stored).ok()?)?
            .checked_sub(12)?;
        if data.get(start..start + 6)? != XZ_MAGIC {
            return None;
        }
        streams += 1;
        blocks = blocks.checked_add(count)?;
        end = start;
    }
    Some((streams, blocks))
}

/// An xz multibyte integer (at most 9 bytes).
fn varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for i in 0..9 {
        let byte = *b.get(*pos)?;
        *pos += 1;
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

const ZSTD_MAGIC: u32 = 0xfd2f_b528;

/// Bytes of the dictionary id, from a zstd frame header descriptor.
fn dict_id_len(fhd: u8) -> usize {
    match fhd & 3 {
        0 => 0,
        1 => 1,
        2 => 2,
        _ => 4,
    }
}

/// Fields of the first zstd frame header.
fn zstd(h: &[u8]) -> Fields {
    let Some(fhd) = h.get(4).copied() else {
        return vec![("zstd.header", "truncated".into())];
    };
    let single = fhd & 0x20 != 0;
    let checksum = fhd & 0x04 != 0;
    let mut pos = 5usize;
    let window = if single {
        None
    } else {
        let wd = h.get(pos).copied();
        pos += 1;
        wd
    };
    let dict_len = dict_id_len(fhd);
    let dict = match dict_len {
        0 => Some(0),
        1 => h.get(pos).map(|&b| u64::from(b)),
        2 => u16_le(h, pos).map(u64::from),
        _ => u32_le(h, pos).map(u64::from),
    };
    pos += dict_len;
    let fcs = match (fhd >> 6, single) {
        (0, false) => Ok(None),
        (0, true) => h.get(pos).map(|&b| Some(u64::from(b))).ok_or(()),
        (1, _) => u16_le(h, pos).map(|v| Some(u64::from(v) + 256)).ok_or(()),
        (2, _) => u32_le(h, pos).map(|v| Some(u64::from(v))).ok_or(()),
        _ => u64_le(h, pos).map(Some).ok_or(()),
    };
    let truncated = || "truncated".to_string();
    let content = match fcs {
        Ok(Some(v)) => v.to_string(),
        Ok(None) => "not stored".into(),
        Err(()) => truncated(),
    };
    let window = match (single, window) {
        (true, _) => "single segment (the content size)".into(),
        (false, Some(wd)) => {
            let log = 10 + u32::from(wd >> 3);
            let base = 1u64 << log;
            (base + base / 8 * u64::from(wd & 7)).to_string()
        }
        (false, None) => truncated(),
    };
    vec![
        ("zstd.content-size", content),
        ("zstd.checksum", if checksum { "yes" } else { "no" }.into()),
        (
            "zstd.dictionary-id",
            dict.map_or_else(truncated, |d| d.to_string()),
        ),
        ("zstd.window-size", window),
    ]
}

/// Counts the frames of a zstd stream (data and skippable) by walking frame and block
/// headers, without decoding.
pub(super) fn zstd_frames(r: impl Read) -> io::Result<(u64, u64)> {
    let mut r = BufReader::with_capacity(256 << 10, r);
    let (mut frames, mut skippable) = (0u64, 0u64);
    loop {
        let mut magic = [0u8; 4];
        match read_some(&mut r, &mut magic)? {
            0 => return Ok((frames, skippable)),
            4 => {}
            _ => return Err(truncated_frame()),
        }
        let magic = u32::from_le_bytes(magic);
        if magic & 0xffff_fff0 == 0x184d_2a50 {
            let mut len = [0u8; 4];
            read_exact(&mut r, &mut len)?;
            skip(&mut r, u64::from(u32::from_le_bytes(len)))?;
            skippable += 1;
            continue;
        }
        if magic != ZSTD_MAGIC {
            return Err(io::Error::other("data after the last frame is not a zstd frame"));
        }
        let mut fhd = [0u8; 1];
        read_exact(&mut r, &mut fhd)?;
        let [fhd] = fhd;
        let single = fhd & 0x20 != 0;
        let window = u64::from(!single);
        let dict = dict_id_len(fhd) as u64;
        let fcs = match fhd >> 6 {
            0 => u64::from(single),
            1 => 2,
            2 => 4,
            _ => 8,
        };
        skip(&mut r, window + dict + fcs)?;
        loop {
            let mut bh = [0u8; 3];
            read_exact(&mut r, &mut bh)?;
            let [b0, b1, b2] = bh;
            let v = u32::from(b0) | u32::from(b1) << 8 | u32::from(b2) << 16;
            let size = match (v >> 1) & 3 {
                1 => 1,
                3 => return Err(io::Error::other("reserved zstd block type")),
                _ => u64::from(v >> 3),
            };
            skip(&mut r, size)?;
            if v & 1 != 0 {
                break;
            }
        }
        if fhd & 0x04 != 0 {
            skip(&mut r, 4)?;
        }
        frames += 1;
    }
}

fn truncated_frame() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "truncated zstd frame")
}

fn read_some(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    super::super::source::read_full(r, buf)
}

fn read_exact(r: &mut impl Read, buf: &mut [u8]) -> io::Result<()> {
    if read_some(r, buf)? == buf.len() {
        Ok(())
    } else {
        Err(truncated_frame())
    }
}

fn skip(r: &mut impl Read, n: u64) -> io::Result<()> {
    if io::copy(&mut r.take(n), &mut io::sink())? == n {
        Ok(())
    } else {
        Err(truncated_frame())
    }
}

fn bzip2(h: &[u8]) -> Fields {
    let level = match h.get(3) {
        Some(&c @ b'1'..=b'9') => {
            let l = c - b'0';
            format!("{}k (level {l})", u32::from(l) * 100)
        }
        Some(&c) => format!("invalid {c:#04x}"),
        None => "truncated".into(),
    };
    vec![("bzip2.block-size", level)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_header_fields() {
        // FNAME and FCOMMENT, mtime 1700000000, XFL 2, OS 3.
        let mut h = vec![0x1f, 0x8b, 8, FNAME | FCOMMENT];
        h.extend_from_slice(&1_700_000_000u32.to_le_bytes());
        h.extend_from_slice(&[2, 3]);
        h.extend_from_slice(b"app.tar\0built by ci\0");
        let f = gzip(&h);
        assert!(f.contains(&("gzip.mtime", "2023-11-14T22:13:20Z (1700000000)".into())));
        assert!(f.contains(&("gzip.name", "app.tar".into())));
        assert!(f.contains(&("gzip.comment", "built by ci".into())));
        assert!(f.contains(&("gzip.flags", "FNAME|FCOMMENT".into())));
        assert!(f.contains(&("gzip.os", "3 (Unix)".into())));
        assert_eq!(gzip_name(&f), Some("app.tar"));
    }

    #[test]
    fn gzip_header_cut_anywhere_does_not_panic() {
        let mut h = vec![0x1f, 0x8b, 8, 0xff, 1, 2, 3, 4, 0, 3, 0xff, 0xff, 1, 2];
        h.extend_from_slice(b"name");
        for n in 0..=h.len() {
            let f = gzip(&h[..n]);
            assert!(!f.is_empty());
        }
        assert!(gzip(&h).contains(&("gzip.extra", "truncated".into())));
    }

    #[test]
    fn zstd_and_bzip2_headers() {
        // Single segment, checksum, 1-byte dictionary id 7, 1-byte content size 5.
        let h = [0x28, 0xb5, 0x2f, 0xfd, 0x25, 7, 5];
        let f = zstd(&h);
        assert!(f.contains(&("zstd.content-size", "5".into())));
        assert!(f.contains(&("zstd.checksum", "yes".into())));
        assert!(f.contains(&("zstd.dictionary-id", "7".into())));
        for n in 0..h.len() {
            let _ = zstd(&h[..n]);
        }
        assert_eq!(
            bzip2(b"BZh9"),
            vec![("bzip2.block-size", "900k (level 9)".into())]
        );
        assert_eq!(bzip2(b"BZ")[0].1, "truncated");
    }

    #[test]
    fn xz_index_rejects_garbage() {
        assert_eq!(xz_index(&[]), Some((0, 0)));
        assert_eq!(xz_index(b"not an xz file at all"), None);
        assert_eq!(xz_index(&[0xff; 64]), None);
        let mut p = 0;
        assert_eq!(varint(&[0x80; 12], &mut p), None);
    }
}
