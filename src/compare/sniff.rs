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
        assert_eq!(sniff(b"!<arch>"), Format::Text);
    }

    #[test]
    fn text_cut_mid_character_is_still_text() {
        let mut s = "é".repeat(SNIFF_LEN / 2).into_bytes();
        s.truncate(SNIFF_LEN - 1);
        assert!(is_text(&s));
        assert!(!is_text(b"\xff\xfeabc"));
    }
}
