//! Reading one cpio archive from bytes in memory: the ASCII formats initramfs images and RPM
//! payloads use — "newc" (`070701`), "crc" (`070702`), both hexadecimal with 4-byte alignment —
//! and the old portable "odc" (`070707`, octal, unaligned). The old binary format (`070707` as
//! a 16-bit word) is not read: nothing current writes it.
//!
//! Every size is checked against the input before use; members are ranges into the input, so
//! nothing is allocated in proportion to a size field. Parsing stops at `TRAILER!!!`; what
//! follows it (zero padding, or another archive, as in initramfs images with early microcode)
//! is reported by offset.

use std::ops::Range;

use super::super::CompareError;
use crate::units::timestamp;

const NEWC_LEN: usize = 110;
const ODC_LEN: usize = 76;
const TRAILER: &str = "TRAILER!!!";

fn malformed(detail: impl ToString) -> CompareError {
    CompareError::malformed("cpio", detail)
}

/// The header encoding of one archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Newc,
    Crc,
    Odc,
}

impl Variant {
    /// The variant whose magic `data` starts with.
    pub fn of(data: &[u8]) -> Option<Variant> {
        match data.get(..6)? {
            b"070701" => Some(Variant::Newc),
            b"070702" => Some(Variant::Crc),
            b"070707" => Some(Variant::Odc),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Variant::Newc => "newc",
            Variant::Crc => "crc",
            Variant::Odc => "odc",
        }
    }
}

/// What a member is, from the type bits of its mode.
pub(super) fn type_name(mode: u64) -> &'static str {
    match mode & 0o170000 {
        0o100000 => "regular file",
        0o040000 => "directory",
        0o120000 => "symlink",
        0o020000 => "character device",
        0o060000 => "block device",
        0o010000 => "fifo",
        0o140000 => "socket",
        _ => "unknown",
    }
}

/// One member, in archive order.
#[derive(Debug, Clone)]
pub(super) struct Member {
    pub name: String,
    pub ino: u64,
    pub mode: u64,
    pub uid: u64,
    pub gid: u64,
    pub nlink: u64,
    pub mtime: u64,
    pub size: u64,
    /// (major, minor) of the device holding the file; odc stores one number, as major.
    pub dev: (u64, u64),
    /// (major, minor) of a device file.
    pub rdev: (u64, u64),
    /// The crc format's checksum of the data (zero in the others).
    pub check: u64,
    pub data: Range<usize>,
}

impl Member {
    pub(super) fn is_symlink(&self) -> bool {
        self.mode & 0o170000 == 0o120000
    }

    /// Header fields, named and displayable, in header order (the name is the match key).
    pub(super) fn fields(&self, variant: Variant) -> Vec<(&'static str, String)> {
        let mut f = vec![
            ("type", type_name(self.mode).to_string()),
            ("mode", format!("{:04o}", self.mode & 0o7777)),
            ("uid", self.uid.to_string()),
            ("gid", self.gid.to_string()),
            ("nlink", self.nlink.to_string()),
            ("mtime", show_time(self.mtime)),
            ("size", self.size.to_string()),
        ];
        if variant == Variant::Odc {
            f.push(("dev", self.dev.0.to_string()));
            f.push(("rdev", self.rdev.0.to_string()));
        } else {
            f.push(("devmajor", self.dev.0.to_string()));
            f.push(("devminor", self.dev.1.to_string()));
            f.push(("rdevmajor", self.rdev.0.to_string()));
            f.push(("rdevminor", self.rdev.1.to_string()));
        }
        // Inode numbers come from the build machine's file system: a reproducibility leak.
        f.push(("ino", self.ino.to_string()));
        if variant == Variant::Crc {
            f.push(("check", format!("{:08x}", self.check)));
        }
        f
    }
}

fn show_time(v: u64) -> String {
    i64::try_from(v).map_or_else(|_| v.to_string(), timestamp)
}

/// One parsed archive.
#[derive(Debug)]
pub(super) struct Archive {
    pub variant: Variant,
    pub members: Vec<Member>,
    /// The bytes after the trailer and its zero padding, if there are any.
    pub after_trailer: Option<Range<usize>>,
}

fn number(field: &[u8], radix: u32, what: &str, pos: usize) -> Result<u64, CompareError> {
    std::str::from_utf8(field)
        .ok()
        .and_then(|t| u64::from_str_radix(t, radix).ok())
        .ok_or_else(|| {
            malformed(format!(
                "header at offset {pos}: {what} is {:?}, not a number",
                String::from_utf8_lossy(field)
            ))
        })
}

fn align4(n: usize) -> Option<usize> {
    n.checked_add(3).map(|x| x & !3)
}

/// Parses `data` as a cpio archive, failing on anything that does not hold together and past
/// `max_entries` members.
pub(super) fn parse(data: &[u8], max_entries: u64) -> Result<Archive, CompareError> {
    let variant = Variant::of(data).ok_or_else(|| malformed("no cpio magic"))?;
    let mut members = Vec::new();
    let mut pos = 0usize;
    loop {
        if Variant::of(data.get(pos..).unwrap_or_default()) != Some(variant) {
            return Err(malformed(if pos >= data.len() {
                format!(
                    "truncated archive: no {TRAILER} before the end ({} bytes)",
                    data.len()
                )
            } else {
                format!("no {} header magic at offset {pos}", variant.name())
            }));
        }
        let (header_len, radix, widths): (usize, u32, &[usize]) = match variant {
            Variant::Odc => (ODC_LEN, 8, &[6, 6, 6, 6, 6, 6, 6, 6, 11, 6, 11]),
            _ => (NEWC_LEN, 16, &[6, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8]),
        };
        let header = data
            .get(pos..pos + header_len)
            .ok_or_else(|| malformed(format!("truncated header at offset {pos}")))?;
        let mut vals = Vec::with_capacity(widths.len());
        let mut off = 0;
        for (k, &w) in widths.iter().enumerate() {
            let field = header.get(off..off + w).unwrap_or_default();
            if k > 0 {
                vals.push(number(
                    field,
                    radix,
                    FIELD_NAMES[variant_index(variant)][k - 1],
                    pos,
                )?);
            }
            off += w;
        }
        let v = |k: usize| vals.get(k).copied().unwrap_or(0);
        let mut m = match variant {
            // dev ino mode uid gid nlink rdev mtime namesize filesize
            Variant::Odc => Member {
                name: String::new(),
                ino: v(1),
                mode: v(2),
                uid: v(3),
                gid: v(4),
                nlink: v(5),
                mtime: v(7),
                size: v(9),
                dev: (v(0), 0),
                rdev: (v(6), 0),
                check: 0,
                data: 0..0,
            },
            // ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor
            // namesize check
            _ => Member {
                name: String::new(),
                ino: v(0),
                mode: v(1),
                uid: v(2),
                gid: v(3),
                nlink: v(4),
                mtime: v(5),
                size: v(6),
                dev: (v(7), v(8)),
                rdev: (v(9), v(10)),
                check: v(12),
                data: 0..0,
            },
        };
        let namesize = if variant == Variant::Odc { v(8) } else { v(11) };
        let name_start = pos + header_len;
        let name_end = usize::try_from(namesize)
            .ok()
            .filter(|&n| n > 0)
            .and_then(|n| name_start.checked_add(n))
            .filter(|&e| e <= data.len())
            .ok_or_else(|| {
                malformed(format!(
                    "header at offset {pos}: name size {namesize} does not fit in the {} bytes left",
                    data.len().saturating_sub(name_start)
                ))
            })?;
        let raw_name = data.get(name_start..name_end).unwrap_or_default();
        // The name size counts the terminating NUL.
        let raw_name = raw_name.strip_suffix(&[0]).unwrap_or(raw_name);
        m.name = crate::escape::name(raw_name);
        let data_start = if variant == Variant::Odc {
            name_end
        } else {
            align4(name_end).ok_or_else(|| malformed("offset overflow"))?
        };
        let data_end = usize::try_from(m.size)
            .ok()
            .and_then(|s| data_start.checked_add(s))
            .filter(|&e| e <= data.len())
            .ok_or_else(|| {
                malformed(format!(
                    "truncated archive: member {:?} at offset {pos} claims {} bytes, {} remain",
                    m.name,
                    m.size,
                    data.len().saturating_sub(data_start)
                ))
            })?;
        m.data = data_start..data_end;
        let next = if variant == Variant::Odc {
            data_end
        } else {
            align4(data_end).ok_or_else(|| malformed("offset overflow"))?
        };
        if m.name == TRAILER {
            // Zero padding (to 512 bytes, typically) is skipped: what follows may be another
            // archive, found by its magic.
            let rest = next.min(data.len());
            let after_trailer = data
                .get(rest..)
                .and_then(|r| r.iter().position(|&b| b != 0))
                .map(|skip| rest + skip..data.len());
            return Ok(Archive {
                variant,
                members,
                after_trailer,
            });
        }
        if members.len() as u64 >= max_entries {
            return Err(CompareError::Budget(format!(
                "more than {max_entries} cpio members"
            )));
        }
        members.push(m);
        pos = next;
    }
}

fn variant_index(v: Variant) -> usize {
    usize::from(v == Variant::Odc)
}

/// The numeric header fields after the magic, per variant (newc/crc, odc), for error messages.
const FIELD_NAMES: [&[&str]; 2] = [
    &[
        "ino",
        "mode",
        "uid",
        "gid",
        "nlink",
        "mtime",
        "filesize",
        "devmajor",
        "devminor",
        "rdevmajor",
        "rdevminor",
        "namesize",
        "check",
    ],
    &[
        "dev", "ino", "mode", "uid", "gid", "nlink", "rdev", "mtime", "namesize", "filesize",
    ],
];

#[cfg(test)]
mod tests {
    use super::*;

    fn newc(name: &str, mode: u32, body: &[u8]) -> Vec<u8> {
        let mut h = format!(
            "070701{:08x}{mode:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            1,
            0,
            0,
            1,
            0,
            body.len(),
            0,
            0,
            0,
            0,
            name.len() + 1,
            0
        )
        .into_bytes();
        h.extend_from_slice(name.as_bytes());
        h.push(0);
        while !h.len().is_multiple_of(4) {
            h.push(0);
        }
        h.extend_from_slice(body);
        while !h.len().is_multiple_of(4) {
            h.push(0);
        }
        h
    }

    #[test]
    fn parses_newc_members_and_stops_at_the_trailer() {
        let mut a = newc("hello.txt", 0o100644, b"hi\n");
        a.extend(newc("link", 0o120777, b"hello.txt"));
        a.extend(newc(TRAILER, 0, b""));
        a.extend([0u8; 20]);
        let p = parse(&a, 10).unwrap();
        assert_eq!(p.variant, Variant::Newc);
        assert_eq!(p.members.len(), 2);
        assert_eq!(&a[p.members[0].data.clone()], b"hi\n");
        assert!(p.members[1].is_symlink());
        assert!(p.after_trailer.is_none());
    }

    #[test]
    fn rejects_truncation_bad_numbers_and_too_many_members() {
        let mut a = newc("f", 0o100644, b"body");
        a.extend(newc(TRAILER, 0, b""));
        assert!(parse(&a[..a.len() - 20], 10).is_err());
        assert!(parse(&a[..NEWC_LEN + 3], 10).is_err());
        let mut bad = a.clone();
        bad[10] = b'g';
        assert!(parse(&bad, 10).is_err());
        assert!(matches!(parse(&a, 0), Err(CompareError::Budget(_))));
    }
}
