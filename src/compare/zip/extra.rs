//! Extra fields of zip headers: split into (id, data) records and decoded into named values
//! where the layout is well known, so two entries' extras compare field by field.

use super::archive::{u16_at, u32_at, u64_at};
use crate::units::{timestamp, unix_time};

/// Longest extra-field payload shown in full as hex; longer ones are cut.
const HEX_SHOWN: usize = 64;

/// One record of an extra-field block; `id` is `None` for trailing bytes too short to form a
/// record (a malformed block).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Record<'a> {
    pub id: Option<u16>,
    pub data: &'a [u8],
}

/// Splits an extra-field block into records; never fails, never reads past `block`.
pub(super) fn records(block: &[u8]) -> Vec<Record<'_>> {
    let mut out = Vec::new();
    let mut rest = block;
    while !rest.is_empty() {
        let header = rest.get(..4).and_then(|h| {
            let id = u16::from_le_bytes([*h.first()?, *h.get(1)?]);
            let len = u16::from_le_bytes([*h.get(2)?, *h.get(3)?]) as usize;
            Some((id, len))
        });
        match header.and_then(|(id, len)| Some((id, rest.get(4..4 + len)?, len))) {
            Some((id, data, len)) => {
                out.push(Record { id: Some(id), data });
                rest = rest.get(4 + len..).unwrap_or_default();
            }
            None => {
                out.push(Record { id: None, data: rest });
                break;
            }
        }
    }
    out
}

/// The short name of a well-known extra-field id (APPNOTE 4.5.2 and 4.6, plus Android's).
fn id_name(id: u16) -> Option<&'static str> {
    Some(match id {
        0x0001 => "zip64",
        0x0007 => "av-info",
        0x000a => "NTFS",
        0x000d => "unix",
        0x0017 => "strong-encryption",
        0x5455 => "UT",
        0x5855 => "UX",
        0x7855 => "Ux",
        0x7875 => "ux",
        0x6375 => "unicode-comment",
        0x7075 => "unicode-path",
        0x9901 => "AES",
        0xcafe => "jar-marker",
        0xd935 => "android-alignment",
        _ => return None,
    })
}

/// Decoded values of an extra-field block, as (key, value) pairs in block order. Keys are unique:
/// a repeated record gets `#2`, `#3`, … appended.
pub(super) fn decode(block: &[u8]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut seen: Vec<(Option<u16>, usize)> = Vec::new();
    for r in records(block) {
        let n = match seen.iter_mut().find(|(id, _)| *id == r.id) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                seen.push((r.id, 1));
                1
            }
        };
        let base = match r.id {
            Some(id) => id_name(id).map_or_else(|| format!("0x{id:04x}"), str::to_string),
            None => "malformed".to_string(),
        };
        let base = if n > 1 { format!("{base}#{n}") } else { base };
        match r.id.and_then(|id| decode_known(id, r.data)) {
            Some(values) => {
                out.extend(values.into_iter().map(|(k, v)| (format!("{base}.{k}"), v)));
            }
            None => out.push((base, hex_value(r.data))),
        }
    }
    out
}

/// Decodes the payload of a well-known record; `None` when the id is not decoded or the payload
/// does not have the expected layout (it is then shown as hex).
fn decode_known(id: u16, d: &[u8]) -> Option<Vec<(&'static str, String)>> {
    match id {
        // The zip64 record repeats sizes (compared as sizes) and the header offset (which moves
        // whenever an earlier entry changes size): only its presence is worth reporting.
        0x0001 => Some(vec![("present", "yes".into())]),
        0x5455 => extended_timestamp(d),
        0x7875 => unix_ids(d),
        0x000a => ntfs_times(d),
        0x7855 => match d.len() {
            // The central copy of Info-ZIP's old unix record is empty.
            0 => Some(vec![("present", "yes".into())]),
            4 => Some(vec![
                ("uid", u16_at(d, 0)?.to_string()),
                ("gid", u16_at(d, 2)?.to_string()),
            ]),
            _ => None,
        },
        0x5855 | 0x000d if d.len() >= 8 => {
            let mut v = vec![
                ("atime", timestamp(i64::from(u32_at(d, 0)?))),
                ("mtime", timestamp(i64::from(u32_at(d, 4)?))),
            ];
            if d.len() >= 12 {
                v.push(("uid", u16_at(d, 8)?.to_string()));
                v.push(("gid", u16_at(d, 10)?.to_string()));
            }
            if d.len() > 12 {
                v.push(("data", hex_value(d.get(12..)?)));
            }
            Some(v)
        }
        _ => None,
    }
}

/// 0x5455: a flags byte, then the times its bits announce (mtime, atime, ctime), unsigned UTC
/// seconds. The central copy holds only the mtime even when the flags announce more.
fn extended_timestamp(d: &[u8]) -> Option<Vec<(&'static str, String)>> {
    let (&flags, mut rest) = d.split_first()?;
    let mut v = vec![("flags", format!("0x{flags:02x}"))];
    for (bit, name) in [(1u8, "mtime"), (2, "atime"), (4, "ctime")] {
        if flags & bit != 0 && rest.len() >= 4 {
            v.push((name, timestamp(i64::from(u32_at(rest, 0)?))));
            rest = rest.get(4..)?;
        }
    }
    if !rest.is_empty() {
        v.push(("trailing", hex_value(rest)));
    }
    Some(v)
}

/// 0x7875: version, then uid and gid each as a length-prefixed little-endian number.
fn unix_ids(d: &[u8]) -> Option<Vec<(&'static str, String)>> {
    let version = *d.first()?;
    let uid_len = *d.get(1)? as usize;
    let uid = d.get(2..2 + uid_len)?;
    let gid_len = *d.get(2 + uid_len)? as usize;
    let gid = d.get(3 + uid_len..3 + uid_len + gid_len)?;
    if d.len() != 3 + uid_len + gid_len {
        return None;
    }
    let mut v = Vec::new();
    if version != 1 {
        v.push(("version", version.to_string()));
    }
    v.push(("uid", le_number(uid)));
    v.push(("gid", le_number(gid)));
    Some(v)
}

/// A little-endian unsigned number of any width, in decimal when it fits in 64 bits.
fn le_number(b: &[u8]) -> String {
    if b.len() > 8 {
        return hex_value(b);
    }
    let n = b.iter().rev().fold(0u64, |acc, &x| (acc << 8) | u64::from(x));
    n.to_string()
}

/// 0x000a: four reserved bytes, then tagged attributes; tag 1 holds mtime, atime and ctime as
/// Windows FILETIMEs (100 ns units since 1601-01-01 UTC).
fn ntfs_times(d: &[u8]) -> Option<Vec<(&'static str, String)>> {
    let mut rest = d.get(4..)?;
    let mut v = Vec::new();
    if let Some(reserved) = u32_at(d, 0).filter(|&r| r != 0) {
        v.push(("reserved", format!("0x{reserved:08x}")));
    }
    while !rest.is_empty() {
        let tag = u16_at(rest, 0)?;
        let len = u16_at(rest, 2)? as usize;
        let body = rest.get(4..4 + len)?;
        if tag == 1 && len == 24 {
            v.push(("mtime", filetime(u64_at(body, 0)?)));
            v.push(("atime", filetime(u64_at(body, 8)?)));
            v.push(("ctime", filetime(u64_at(body, 16)?)));
        } else {
            v.push(("other-tag", format!("{tag}: {}", hex_value(body))));
        }
        rest = rest.get(4 + len..)?;
    }
    Some(v)
}

/// A Windows FILETIME as an RFC 3339 UTC time with its 100 ns fraction.
fn filetime(ticks: u64) -> String {
    const UNIX_EPOCH_SECS: i64 = 11_644_473_600;
    let secs = (ticks / 10_000_000) as i64 - UNIX_EPOCH_SECS;
    let frac = ticks % 10_000_000;
    let t = unix_time(secs);
    let t = t.strip_suffix('Z').unwrap_or(&t);
    format!("{t}.{frac:07}Z")
}

/// Bytes as lowercase hex, cut after `HEX_SHOWN` bytes; empty data is shown as `(empty)`.
pub(super) fn hex_value(d: &[u8]) -> String {
    if d.is_empty() {
        return "(empty)".into();
    }
    match d.get(..HEX_SHOWN) {
        Some(head) if d.len() > HEX_SHOWN => format!("{}… ({} bytes)", hex::encode(head), d.len()),
        _ => hex::encode(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: u16, data: &[u8]) -> Vec<u8> {
        let mut v = id.to_le_bytes().to_vec();
        v.extend((data.len() as u16).to_le_bytes());
        v.extend(data);
        v
    }

    fn value<'a>(fields: &'a [(String, String)], key: &str) -> Option<&'a str> {
        fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    #[test]
    fn decodes_well_known_records() {
        let mut ut = vec![3u8];
        ut.extend(1_700_000_000u32.to_le_bytes());
        ut.extend(315_532_800u32.to_le_bytes());
        let mut block = record(0x5455, &ut);
        block.extend(record(0x7875, &[1, 4, 0xe8, 3, 0, 0, 2, 0x64, 0]));
        let mut ntfs = vec![0u8; 4];
        ntfs.extend(1u16.to_le_bytes());
        ntfs.extend(24u16.to_le_bytes());
        // 2023-11-14T22:13:20Z plus 5 ticks, then two zero times.
        ntfs.extend(((1_700_000_000u64 + 11_644_473_600) * 10_000_000 + 5).to_le_bytes());
        ntfs.extend([0u8; 16]);
        block.extend(record(0x000a, &ntfs));
        block.extend(record(0xcafe, &[]));
        block.extend(record(0x1234, &[0xab; 70]));
        block.extend(record(0x1234, &[1]));
        let f = decode(&block);
        assert_eq!(value(&f, "UT.flags"), Some("0x03"));
        assert_eq!(value(&f, "UT.mtime"), Some("2023-11-14T22:13:20Z (1700000000)"));
        assert_eq!(value(&f, "UT.atime"), Some("1980-01-01T00:00:00Z (315532800)"));
        assert_eq!(value(&f, "ux.uid"), Some("1000"));
        assert_eq!(value(&f, "ux.gid"), Some("100"));
        assert_eq!(value(&f, "NTFS.mtime"), Some("2023-11-14T22:13:20.0000005Z"));
        assert_eq!(value(&f, "NTFS.atime"), Some("1601-01-01T00:00:00.0000000Z"));
        assert_eq!(value(&f, "jar-marker"), Some("(empty)"));
        let long = value(&f, "0x1234").unwrap();
        assert!(
            long.ends_with("… (70 bytes)") && long.starts_with("abab"),
            "{long}"
        );
        assert_eq!(value(&f, "0x1234#2"), Some("01"));
    }

    #[test]
    fn malformed_blocks_are_shown_not_trusted() {
        // A record announcing more bytes than there are, and a truncated UT payload.
        let mut block = record(0x5455, &[1, 2]);
        block.extend([0x75, 0x78, 0xff, 0xff, 1]);
        let f = decode(&block);
        assert_eq!(value(&f, "UT.flags"), Some("0x01"));
        assert_eq!(value(&f, "UT.trailing"), Some("02"));
        assert_eq!(value(&f, "malformed"), Some("7578ffff01"));
        assert_eq!(decode(&[0x01]), vec![("malformed".into(), "01".into())]);
        assert!(decode(&[]).is_empty());
        // A ux record with inconsistent lengths falls back to hex.
        assert_eq!(value(&decode(&record(0x7875, &[1, 9, 0])), "ux"), Some("010900"));
    }
}
