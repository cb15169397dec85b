//! Format detection by content, never by file name.

use serde::Serialize;

/// Formats repro compares structurally. Anything unrecognised is `Binary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    Directory,
    Elf,
    Pe,
    MachO,
    Zip,
    Tar,
    Ar,
    Cpio,
    Rpm,
    Gzip,
    Xz,
    Zstd,
    Bzip2,
    Text,
    Binary,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Directory => "directory",
            Format::Elf => "elf",
            Format::Pe => "pe",
            Format::MachO => "mach-o",
            Format::Zip => "zip",
            Format::Tar => "tar",
            Format::Ar => "ar",
            Format::Cpio => "cpio",
            Format::Rpm => "rpm",
            Format::Gzip => "gzip",
            Format::Xz => "xz",
            Format::Zstd => "zstd",
            Format::Bzip2 => "bzip2",
            Format::Text => "text",
            Format::Binary => "binary",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How many leading bytes `sniff` wants to see.
pub const SNIFF_LEN: usize = 8192;

/// Detects the format of a byte stream from its first bytes (`SNIFF_LEN` is plenty).
pub fn sniff(head: &[u8]) -> Format {
    let starts = |m: &[u8]| head.starts_with(m);
    // Before text: the magic and the headers of an archive of text files are all ASCII.
    if starts(b"!<arch>\n") || starts(b"!<thin>\n") {
        return Format::Ar;
    }
    // cpio's ASCII headers (newc, crc, odc): before text, for the same reason.
    if is_cpio(head) {
        return Format::Cpio;
    }
    // An RPM package's lead.
    if starts(&[0xed, 0xab, 0xee, 0xdb]) {
        return Format::Rpm;
    }
    if starts(b"\x7fELF") {
        return Format::Elf;
    }
    if starts(b"PK\x03\x04") || starts(b"PK\x05\x06") || starts(b"PK\x07\x08") {
        return Format::Zip;
    }
    if starts(&[0x1f, 0x8b]) {
        return Format::Gzip;
    }
    if starts(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        return Format::Xz;
    }
    if starts(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return Format::Zstd;
    }
    if head.len() >= 10
        && starts(b"BZh")
        && (b'1'..=b'9').contains(&head[3])
        && head[4..10] == [0x31, 0x41, 0x59, 0x26, 0x53, 0x59]
    {
        return Format::Bzip2;
    }
    if is_macho(head) {
        return Format::MachO;
    }
    if is_pe(head) {
        return Format::Pe;
    }
    if is_tar(head) {
        return Format::Tar;
    }
    if is_text(head) {
        return Format::Text;
    }
    Format::Binary
}

fn u32_at(b: &[u8], off: usize, big: bool) -> Option<u32> {
    let s: [u8; 4] = b.get(off..off + 4)?.try_into().ok()?;
    Some(if big {
        u32::from_be_bytes(s)
    } else {
        u32::from_le_bytes(s)
    })
}

/// A cpio magic followed by a header of digits (hex for newc/crc, octal for odc), so a text
/// that merely starts with `070701` is still text.
fn is_cpio(head: &[u8]) -> bool {
    let (len, digit): (usize, fn(&u8) -> bool) = match head.get(..6) {
        Some(b"070701" | b"070702") => (110, u8::is_ascii_hexdigit),
        Some(b"070707") => (76, |b| (b'0'..=b'7').contains(b)),
        _ => return false,
    };
    head.get(6..len).is_some_and(|h| h.iter().all(digit))
}

fn is_macho(head: &[u8]) -> bool {
    match u32_at(head, 0, true) {
        // Thin Mach-O, either byte order, 32 or 64 bit.
        Some(0xfeed_face | 0xfeed_facf | 0xcefa_edfe | 0xcffa_edfe) => true,
        // 0xcafebabe is shared with Java class files: a fat binary's next word is a small
        // architecture count, a class file's is its version (major >= 45).
        Some(0xcafe_babe | 0xcafe_babf) => matches!(u32_at(head, 4, true), Some(1..=30)),
        _ => false,
    }
}

fn is_pe(head: &[u8]) -> bool {
    if !head.starts_with(b"MZ") {
        return false;
    }
    match u32_at(head, 0x3c, false) {
        Some(off) => head.get(off as usize..off as usize + 4) == Some(b"PE\0\0"),
        None => false,
    }
}

/// A tar header block: the ustar magic, or (old v7/GNU) a valid header checksum.
fn is_tar(head: &[u8]) -> bool {
    let Some(block) = head.get(..512) else {
        return false;
    };
    if &block[257..262] == b"ustar" {
        return true;
    }
    // v7 tar: no magic; accept when the checksum field matches and the name is printable.
    if block[0] == 0
        || !block[..100]
            .iter()
            .take_while(|&&c| c != 0)
            .all(|c| c.is_ascii_graphic() || *c == b' ')
    {
        return false;
    }
    let field = &block[148..156];
    let text: String = field
        .iter()
        .take_while(|&&c| c != 0 && c != b' ')
        .map(|&c| c as char)
        .collect();
    let Ok(stored) = u32::from_str_radix(text.trim(), 8) else {
        return false;
    };
    let sum: u32 = block
        .iter()
        .enumerate()
        .map(|(i, &c)| if (148..156).contains(&i) { 32 } else { c as u32 })
        .sum();
    stored == sum
}

/// The format of a source: by its first bytes, and for what looks like text or plain binary, by
/// its end too — a zip with data before its first entry (a shell-script stub, a self-extracting
/// launcher) ends with a well-formed end-of-central-directory record.
pub fn sniff_source(s: &super::Source) -> Format {
    if let super::Source::Directory(_) = s {
        return Format::Directory;
    }
    let Ok(head) = s.head(SNIFF_LEN) else {
        return Format::Binary;
    };
    let format = sniff(&head);
    if matches!(format, Format::Text | Format::Binary) && zip_tail(s) {
        return Format::Zip;
    }
    format
}

/// The end-of-central-directory record is 22 bytes plus a comment of up to 65535.
const EOCD_MIN: usize = 22;
const EOCD_MAX: usize = EOCD_MIN + 0xffff;

/// Whether the source (a file or bytes in memory: decoded streams are not read twice) ends with
/// a zip end-of-central-directory record whose comment reaches exactly the end and whose
/// central directory fits before it.
fn zip_tail(s: &super::Source) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let tail: Vec<u8> = match s {
        super::Source::Memory(b) => b[b.len().saturating_sub(EOCD_MAX)..].to_vec(),
        super::Source::File(p) => {
            let read = || -> std::io::Result<Vec<u8>> {
                let mut f = std::fs::File::open(p)?;
                let len = f.metadata()?.len();
                let start = len.saturating_sub(EOCD_MAX as u64);
                f.seek(SeekFrom::Start(start))?;
                let mut buf = Vec::with_capacity((len - start) as usize);
                f.take(EOCD_MAX as u64).read_to_end(&mut buf)?;
                Ok(buf)
            };
            match read() {
                Ok(b) => b,
                Err(_) => return false,
            }
        }
        _ => return false,
    };
    let total = s.size().unwrap_or(tail.len() as u64);
    if tail.len() < EOCD_MIN {
        return false;
    }
    (0..=tail.len() - EOCD_MIN).rev().any(|i| {
        let r = &tail[i..];
        let u16_at = |o: usize| u16::from_le_bytes([r[o], r[o + 1]]) as usize;
        let u32_at = |o: usize| u32::from_le_bytes([r[o], r[o + 1], r[o + 2], r[o + 3]]) as u64;
        if &r[..4] != b"PK\x05\x06" || u16_at(20) != r.len() - EOCD_MIN {
            return false;
        }
        // Central directory size and offset (relative to the archive's start, which a stub
        // pushes later): the directory must end where this record begins or before.
        let eocd_at = total - r.len() as u64;
        let (cd_size, cd_offset) = (u32_at(12), u32_at(16));
        u16_at(10) > 0 && cd_size > 0 && cd_size.saturating_add(cd_offset) <= eocd_at
    })
}

/// Text: no NUL bytes, and valid UTF-8 (a character cut by the end of `head` is allowed).
pub fn is_text(head: &[u8]) -> bool {
    if head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_content() {
        assert_eq!(sniff(b"\x7fELF\x02\x01"), Format::Elf);
        assert_eq!(sniff(b"PK\x03\x04rest"), Format::Zip);
        assert_eq!(sniff(&[0x1f, 0x8b, 8, 0]), Format::Gzip);
        assert_eq!(sniff(b"hello\nworld\n"), Format::Text);
        assert_eq!(sniff(b"caf\xc3\xa9"), Format::Text);
        assert_eq!(sniff(b"\x00\x01\x02"), Format::Binary);
        assert_eq!(sniff(b""), Format::Text);
        // Java class file (version 52) is not a fat Mach-O.
        assert_eq!(sniff(&[0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 52]), Format::Binary);
        assert_eq!(sniff(&[0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2]), Format::MachO);
        let mut tar = vec![0u8; 512];
        tar[..5].copy_from_slice(b"a.txt");
        tar[257..262].copy_from_slice(b"ustar");
        assert_eq!(sniff(&tar), Format::Tar);
        assert_eq!(sniff(b"MZ\x90\x00"), Format::Binary);
        assert_eq!(sniff(b"!<arch>\ndebian-binary   "), Format::Ar);
        assert_eq!(sniff(b"!<thin>\n/ "), Format::Ar);
        let newc = format!("070701{}name", "0000000a".repeat(13));
        assert_eq!(sniff(newc.as_bytes()), Format::Cpio);
        let odc = format!("070707{}name", "0".repeat(70));
        assert_eq!(sniff(odc.as_bytes()), Format::Cpio);
        assert_eq!(sniff(b"070701 is a number, not an archive\n"), Format::Text);
        assert_eq!(sniff(&[0xed, 0xab, 0xee, 0xdb, 3, 0, 0, 0]), Format::Rpm);
        assert_eq!(sniff(b"!<arch>"), Format::Text);
    }

    #[test]
    fn a_zip_behind_a_stub_is_sniffed_by_its_end() {
        use crate::compare::Source;
        let mut zip = Vec::new();
        {
            let mut w = ::zip::ZipWriter::new(std::io::Cursor::new(&mut zip));
            w.start_file("a.txt", ::zip::write::SimpleFileOptions::default())
                .unwrap();
            std::io::Write::write_all(&mut w, b"hello").unwrap();
            w.finish().unwrap();
        }
        let mut stubbed = b"#!/bin/sh\nexec java -jar \"$0\" \"$@\"\n".to_vec();
        stubbed.extend_from_slice(&zip);
        assert_eq!(sniff(&stubbed), Format::Binary);
        assert_eq!(sniff_source(&Source::memory(stubbed.clone())), Format::Zip);
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("app"), &stubbed).unwrap();
        assert_eq!(sniff_source(&Source::file(d.path().join("app"))), Format::Zip);
        // Text or binary that merely contains the signature is not a zip.
        let mut fake = b"notes: PK\x05\x06".to_vec();
        fake.extend_from_slice(&[0; 18]);
        assert_eq!(sniff_source(&Source::memory(fake)), Format::Binary);
        assert_eq!(
            sniff_source(&Source::memory(b"plain text\n".to_vec())),
            Format::Text
        );
        // A truncated tail is not a zip.
        let cut = stubbed[..stubbed.len() - 3].to_vec();
        assert_ne!(sniff_source(&Source::memory(cut)), Format::Zip);
    }

    #[test]
    fn text_cut_mid_character_is_still_text() {
        let mut s = "é".repeat(SNIFF_LEN / 2).into_bytes();
        s.truncate(SNIFF_LEN - 1);
        assert!(is_text(&s));
        assert!(!is_text(b"\xff\xfeabc"));
    }
}
