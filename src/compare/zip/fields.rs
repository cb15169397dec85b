//! Field-level differences between the headers of two entries of the same name: times,
//! attributes, versions, method, sizes, CRC, flags, comment and extra fields.

use super::super::Change;
use super::archive::{Archive, Entry};
use super::extra;

/// A scalar header field: its name, how to read it from an entry, how to show a value.
type Scalar = (&'static str, fn(&Entry) -> u64, fn(u64) -> String);

/// The scalar fields, in report order (times first: they are the most common cause of
/// non-reproducible archives). The header offset is left out: it moves whenever an earlier
/// entry changes size.
const SCALARS: &[Scalar] = &[
    (
        "dos-mtime",
        |e| u64::from(e.central.dos_date) << 16 | u64::from(e.central.dos_time),
        |t| dos_datetime((t >> 16) as u16, t as u16),
    ),
    (
        "create-system",
        |e| u64::from(e.central.version_made_by >> 8),
        system_name,
    ),
    (
        "version-made-by",
        |e| u64::from(e.central.version_made_by & 0xff),
        spec_version,
    ),
    (
        "version-needed",
        |e| u64::from(e.central.version_needed),
        spec_version,
    ),
    ("flags", |e| u64::from(e.central.flags), flags),
    ("compression-method", |e| u64::from(e.central.method), method_name),
    ("crc32", |e| u64::from(e.central.crc32), |v| format!("0x{v:08x}")),
    ("compressed-size", |e| e.compressed_size, |v| v.to_string()),
    ("size", |e| e.size, |v| v.to_string()),
    (
        "disk-number-start",
        |e| u64::from(e.central.disk_start),
        |v| v.to_string(),
    ),
    (
        "internal-attributes",
        |e| u64::from(e.central.internal_attributes),
        internal_attributes,
    ),
    (
        "unix-mode",
        |e| u64::from(e.central.external_attributes >> 16),
        unix_mode,
    ),
    (
        "dos-attributes",
        |e| u64::from(e.central.external_attributes & 0xffff),
        dos_attributes,
    ),
];

/// The header differences of two entries: scalar fields, comment, extra fields.
pub(super) fn header_changes(a: &Archive, ea: &Entry, b: &Archive, eb: &Entry) -> Vec<Change> {
    let (ca, cb) = (&ea.central, &eb.central);
    let mut out = Vec::new();
    // Values are compared raw and only formatted when they differ: most entries of most
    // archives agree on most fields.
    for (name, get, show) in SCALARS {
        let (x, y) = (get(ea), get(eb));
        if x != y {
            out.push(Change::field(*name, show(x), show(y)));
        }
    }
    let (ma, mb) = (a.bytes(&ca.comment), b.bytes(&cb.comment));
    if ma != mb {
        out.push(Change::field(
            "comment",
            crate::escape::name(ma),
            crate::escape::name(mb),
        ));
    }
    let central = extra_changes("extra", a.bytes(&ca.extra), b.bytes(&cb.extra));
    out.extend(central.iter().cloned());
    if let (Ok((ha, xa)), Ok((hb, xb))) = (&ea.local, &eb.local) {
        // The local copies usually repeat the central ones (plus atime/ctime in UT): report
        // only what the central directory did not already show.
        let local = extra_changes("extra", a.bytes(xa), b.bytes(xb));
        out.extend(
            local
                .into_iter()
                .filter(|c| !central.contains(c))
                .map(|c| match c {
                    Change::Field { field, a, b } => Change::Field {
                        field: format!("local-{field}"),
                        a,
                        b,
                    },
                    other => other,
                }),
        );
        if out.is_empty() && local_fixed(a.bytes(ha)) != local_fixed(b.bytes(hb)) {
            out.push(Change::note(
                "the local headers differ although the central directory records agree",
            ));
        }
    }
    out
}

/// The parts of a local header that carry information: all but the signature and, since the
/// central record already compares them, the name and extra lengths.
fn local_fixed(h: &[u8]) -> (&[u8], &[u8]) {
    (h.get(4..26).unwrap_or_default(), h.get(30..).unwrap_or_default())
}

/// Changes between two extra-field blocks, one `Field` per decoded value that differs.
fn extra_changes(prefix: &str, a: &[u8], b: &[u8]) -> Vec<Change> {
    if a == b {
        return Vec::new();
    }
    let (fa, fb) = (extra::decode(a), extra::decode(b));
    let mut out = Vec::new();
    for (k, va) in &fa {
        let vb = fb.iter().find(|(kb, _)| kb == k).map(|(_, v)| v);
        if vb != Some(va) {
            out.push(Change::optional_field(
                format!("{prefix}.{k}"),
                Some(va.clone()),
                vb.cloned(),
            ));
        }
    }
    for (k, vb) in &fb {
        if !fa.iter().any(|(ka, _)| ka == k) {
            out.push(Change::optional_field(
                format!("{prefix}.{k}"),
                None,
                Some(vb.clone()),
            ));
        }
    }
    if out.is_empty() {
        out.push(Change::note(format!(
            "the {prefix} fields are the same but stored in a different order"
        )));
    }
    out
}

/// A DOS date and time as written: local time of the writer (no zone), 2-second resolution,
/// nothing before 1980-01-01.
pub(super) fn dos_datetime(date: u16, time: u16) -> String {
    let (year, month, day) = (1980 + (date >> 9), (date >> 5) & 0xf, date & 0x1f);
    let (hour, minute, second) = (time >> 11, (time >> 5) & 0x3f, (time & 0x1f) * 2);
    if !(1..=12).contains(&month) || day == 0 || hour > 23 || minute > 59 || second > 59 {
        return format!("invalid (date 0x{date:04x}, time 0x{time:04x})");
    }
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02} (local time)")
}

/// The host system of "version made by" (APPNOTE 4.4.2.2).
fn system_name(s: u64) -> String {
    let name = match s {
        0 => "MS-DOS",
        1 => "Amiga",
        2 => "OpenVMS",
        3 => "Unix",
        4 => "VM/CMS",
        5 => "Atari ST",
        6 => "OS/2 HPFS",
        7 => "Macintosh",
        8 => "Z-System",
        9 => "CP/M",
        10 => "Windows NTFS",
        11 => "MVS",
        12 => "VSE",
        13 => "Acorn Risc",
        14 => "VFAT",
        15 => "alternate MVS",
        16 => "BeOS",
        17 => "Tandem",
        18 => "OS/400",
        19 => "OS X",
        _ => "unknown",
    };
    format!("{name} ({s})")
}

/// The spec version of "version made by" / "version needed" (low byte, e.g. 20 = 2.0).
fn spec_version(v: u64) -> String {
    let v = v & 0xff;
    format!("{}.{}", v / 10, v % 10)
}

/// General-purpose flags with the bits that matter named.
fn flags(f: u64) -> String {
    named_bits(
        f,
        &[
            (0, "encrypted"),
            (3, "data-descriptor"),
            (5, "patched"),
            (6, "strong-encryption"),
            (11, "utf-8"),
            (13, "masked-header"),
        ],
    )
}

/// A bit field as four hex digits, followed by the names of the set bits that have one.
fn named_bits(value: u64, names: &[(u32, &str)]) -> String {
    let set: Vec<&str> = names
        .iter()
        .filter(|(bit, _)| value & (1 << bit) != 0)
        .map(|(_, n)| *n)
        .collect();
    if set.is_empty() {
        format!("0x{value:04x}")
    } else {
        format!("0x{value:04x} ({})", set.join(", "))
    }
}

fn method_name(m: u64) -> String {
    let name = match m {
        0 => "stored",
        1 => "shrunk",
        6 => "imploded",
        8 => "deflate",
        9 => "deflate64",
        12 => "bzip2",
        14 => "lzma",
        20 | 93 => "zstd",
        95 => "xz",
        96 => "jpeg",
        97 => "wavpack",
        98 => "ppmd",
        99 => "aes",
        _ => "unknown",
    };
    format!("{name} ({m})")
}

fn internal_attributes(a: u64) -> String {
    named_bits(a, &[(0, "text")])
}

/// The unix mode in the high half of the external attributes, octal with an `ls`-style
/// rendering; `none` when the writer left it zero (non-unix hosts, Python's defaults).
fn unix_mode(m: u64) -> String {
    if m == 0 {
        return "none".into();
    }
    let kind = match m & 0o170000 {
        0o040000 => 'd',
        0o120000 => 'l',
        0o100000 => '-',
        0o010000 => 'p',
        0o020000 => 'c',
        0o060000 => 'b',
        0o140000 => 's',
        _ => '?',
    };
    let mut s = String::with_capacity(10);
    s.push(kind);
    for shift in [6u32, 3, 0] {
        let bits = (m >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    format!("{m:o} ({s})")
}

/// MS-DOS attribute bits in the low half of the external attributes.
fn dos_attributes(a: u64) -> String {
    named_bits(
        a,
        &[
            (0, "read-only"),
            (1, "hidden"),
            (2, "system"),
            (4, "directory"),
            (5, "archive"),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_dos_times() {
        // 2024-01-02 03:04:06: date = (44 << 9) | (1 << 5) | 2, time = (3 << 11) | (4 << 5) | 3.
        assert_eq!(
            dos_datetime((44 << 9) | (1 << 5) | 2, (3 << 11) | (4 << 5) | 3),
            "2024-01-02 03:04:06 (local time)"
        );
        // The DOS epoch is the floor: 1980-01-01 00:00:00.
        assert_eq!(dos_datetime((1 << 5) | 1, 0), "1980-01-01 00:00:00 (local time)");
        assert_eq!(dos_datetime(0, 0), "invalid (date 0x0000, time 0x0000)");
        assert!(dos_datetime(u16::MAX, u16::MAX).starts_with("invalid"));
    }

    #[test]
    fn names_attributes_and_methods() {
        assert_eq!(unix_mode(0o100644), "100644 (-rw-r--r--)");
        assert_eq!(unix_mode(0o40755), "40755 (drwxr-xr-x)");
        assert_eq!(unix_mode(0), "none");
        assert_eq!(dos_attributes(0x21), "0x0021 (read-only, archive)");
        assert_eq!(flags(0x0808), "0x0808 (data-descriptor, utf-8)");
        assert_eq!(method_name(8), "deflate (8)");
        assert_eq!(system_name(3), "Unix (3)");
        assert_eq!(spec_version(0x031e), "3.0");
    }

    #[test]
    fn extra_changes_name_the_decoded_values() {
        let ut = |t: u32| {
            let mut v = vec![0x55, 0x54, 5, 0, 1];
            v.extend(t.to_le_bytes());
            v
        };
        let c = extra_changes("extra", &ut(1), &ut(2));
        assert_eq!(
            c,
            vec![Change::field(
                "extra.UT.mtime",
                "1970-01-01T00:00:01Z (1)",
                "1970-01-01T00:00:02Z (2)"
            )]
        );
        let c = extra_changes("extra", &[], &[0xfe, 0xca, 0, 0]);
        assert_eq!(
            c,
            vec![Change::optional_field(
                "extra.jar-marker",
                None,
                Some("(empty)".into())
            )]
        );
        let mut ab = ut(1);
        ab.extend([0xfe, 0xca, 0, 0]);
        let mut ba = vec![0xfe, 0xca, 0, 0];
        ba.extend(ut(1));
        assert!(matches!(
            &extra_changes("extra", &ab, &ba)[..],
            [Change::Note { .. }]
        ));
    }
}
