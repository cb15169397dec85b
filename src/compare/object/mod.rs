//! Executables and object files — ELF, PE and Mach-O (goblin): headers, sections with digests and
//! their differing strings or bytes, segments, symbols, dynamic entries, notes and the build
//! identifiers (build-id, CodeView GUID, LC_UUID) that so often break reproducibility.

mod elf;
mod macho;
mod pe;
mod sections;
pub(crate) mod strings;
mod symbols;

pub use elf::ElfComparator;
pub use macho::MachOComparator;
pub use pe::PeComparator;

use super::{Blob, Change, CompareError, Context, Node, Registry, Source};

/// Registers the ELF, PE and Mach-O comparators.
pub fn register(r: &mut Registry) {
    r.register(Box::new(ElfComparator));
    r.register(Box::new(PeComparator));
    r.register(Box::new(MachOComparator));
}

/// Most field-level changes of one list (segments, load commands) kept before summarising.
const MAX_LIST_CHANGES: usize = 64;

/// A format's comparison of two whole files held in memory.
type CompareBytes = fn(&Context<'_>, &[u8], &[u8], &mut Node) -> Result<(), CompareError>;

/// Runs a format's comparison over both inputs held in memory once (files are mapped, within
/// the member budget), with goblin's panics contained.
fn compare_with(
    format: &'static str,
    cx: &Context<'_>,
    a: &Source,
    b: &Source,
    node: &mut Node,
    compare: CompareBytes,
) -> Result<(), CompareError> {
    let limit = cx.options().max_member_bytes;
    let (x, y) = rayon::join(|| a.blob(limit), || b.blob(limit));
    let (x, y): (Blob, Blob) = (x?, y?);
    guarded(format, || compare(cx, &x, &y, node))
}

/// Runs `f`, turning a panic in the parser into a malformed-input error (see `contain`).
fn guarded<T>(format: &'static str, f: impl FnOnce() -> Result<T, CompareError>) -> Result<T, CompareError> {
    super::contain(f)
        .unwrap_or_else(|msg| Err(CompareError::malformed(format, format!("parser panicked: {msg}"))))
}

/// Named scalar values of one side (header fields, load commands), in display order.
type Fields = Vec<(String, String)>;

/// Adds a `Change::Field` for every field whose value differs or that one side lacks, in the
/// order of `a` followed by fields only `b` has.
fn compare_fields(node: &mut Node, a: &Fields, b: &Fields) {
    let find = |fields: &Fields, name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    for (name, va) in a {
        let vb = find(b, name);
        if vb.as_ref() != Some(va) {
            node.changes
                .push(Change::optional_field(name.clone(), Some(va.clone()), vb));
        }
    }
    for (name, vb) in b {
        if !a.iter().any(|(n, _)| n == name) {
            node.changes
                .push(Change::optional_field(name.clone(), None, Some(vb.clone())));
        }
    }
}

/// Compares two lists position by position (segments, load commands): one field per differing
/// position, named `"{what} {index}"`, summarised past `MAX_LIST_CHANGES`.
fn compare_by_index(node: &mut Node, what: &str, a: &[String], b: &[String]) {
    let mut shown = 0usize;
    let mut more = 0u64;
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (a.get(i), b.get(i));
        if x == y {
            continue;
        }
        if shown >= MAX_LIST_CHANGES {
            more += 1;
            continue;
        }
        shown += 1;
        node.changes.push(Change::optional_field(
            format!("{what} {i}"),
            x.cloned(),
            y.cloned(),
        ));
    }
    if more > 0 {
        node.changes
            .push(Change::note(format!("{more} more {what} entries differ")));
    }
}

fn hex(v: u64) -> String {
    format!("{v:#x}")
}

/// Names of the set bits of `value` (from `table`) with the raw value: `READ | WRITE (0xc0000000)`.
fn flag_names(value: u64, table: &[(u64, &str)]) -> String {
    let names: Vec<&str> = table
        .iter()
        .filter(|(bit, _)| value & bit != 0)
        .map(|(_, name)| *name)
        .collect();
    if names.is_empty() {
        hex(value)
    } else {
        format!("{} ({value:#x})", names.join(" | "))
    }
}

/// Lowercase hex of a short identifier; long blobs are cut with their length noted.
fn hex_bytes(bytes: &[u8]) -> String {
    const MAX: usize = 64;
    match bytes.get(..MAX) {
        Some(head) if bytes.len() > MAX => format!("{}… ({} bytes)", hex::encode(head), bytes.len()),
        _ => hex::encode(bytes),
    }
}

/// `bytes[offset .. offset + len]`, or `None` when that range is not inside `bytes`.
fn range(bytes: &[u8], offset: u64, len: u64) -> Option<&[u8]> {
    let start = usize::try_from(offset).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    bytes.get(start..end)
}

/// Fixed-width integers at file offsets, in the file's byte order, never past the end.
#[derive(Clone, Copy)]
struct Reader<'a> {
    bytes: &'a [u8],
    big_endian: bool,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], big_endian: bool) -> Self {
        Reader { bytes, big_endian }
    }

    fn array<const N: usize>(&self, offset: u64) -> Option<[u8; N]> {
        range(self.bytes, offset, N as u64)?.try_into().ok()
    }

    /// A fixed-width integer read with the file's byte order.
    fn int<const N: usize, T>(&self, offset: u64, be: fn([u8; N]) -> T, le: fn([u8; N]) -> T) -> Option<T> {
        let bytes = self.array::<N>(offset)?;
        Some(if self.big_endian { be(bytes) } else { le(bytes) })
    }

    fn u16(&self, offset: u64) -> Option<u16> {
        self.int(offset, u16::from_be_bytes, u16::from_le_bytes)
    }

    fn u32(&self, offset: u64) -> Option<u32> {
        self.int(offset, u32::from_be_bytes, u32::from_le_bytes)
    }

    fn u64(&self, offset: u64) -> Option<u64> {
        self.int(offset, u64::from_be_bytes, u64::from_le_bytes)
    }
}

/// Checks that a table of `count` entries of `entsize` bytes at `offset` lies inside a file of
/// `len` bytes, without overflowing.
fn check_table(
    format: &'static str,
    what: &str,
    offset: u64,
    count: u64,
    entsize: u64,
    len: u64,
) -> Result<(), CompareError> {
    let end = count
        .checked_mul(entsize)
        .and_then(|size| size.checked_add(offset));
    match end {
        Some(end) if end <= len => Ok(()),
        _ => Err(CompareError::malformed(
            format,
            format!(
                "{what}: {count} entries of {entsize} bytes at offset {offset:#x} do not fit in the file ({len} bytes)"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_never_overflow() {
        let b = [1u8, 2, 3, 4];
        assert_eq!(range(&b, 1, 2), Some(&b[1..3]));
        assert_eq!(range(&b, 3, 2), None);
        assert_eq!(range(&b, u64::MAX, 2), None);
        assert_eq!(range(&b, 2, u64::MAX), None);
        let r = Reader::new(&b, true);
        assert_eq!(r.u16(0), Some(0x0102));
        assert_eq!(r.u32(0), Some(0x0102_0304));
        assert_eq!(r.u32(1), None);
        assert_eq!(Reader::new(&b, false).u16(2), Some(0x0403));
        assert!(check_table("ELF", "t", u64::MAX, 2, 8, 100).is_err());
        assert!(check_table("ELF", "t", 0, u64::MAX, 8, 100).is_err());
        assert!(check_table("ELF", "t", 8, 2, 8, 24).is_ok());
    }

    #[test]
    fn guarded_turns_panics_into_errors() {
        let r: Result<(), _> = guarded("ELF", || panic!("boom"));
        let e = r.unwrap_err().to_string();
        assert!(e.contains("malformed ELF") && e.contains("boom"), "{e}");
    }

    #[test]
    fn compares_fields_and_lists() {
        let mut n = Node::new("x");
        let f = |v: &[(&str, &str)]| -> Fields {
            v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
        };
        compare_fields(
            &mut n,
            &f(&[("a", "1"), ("b", "2")]),
            &f(&[("a", "1"), ("b", "3"), ("c", "4")]),
        );
        assert_eq!(
            n.changes,
            vec![
                Change::field("b", "2", "3"),
                Change::optional_field("c", None, Some("4".into()))
            ]
        );
        let mut n = Node::new("x");
        compare_by_index(&mut n, "segment", &["x".into(), "y".into()], &["x".into()]);
        assert_eq!(
            n.changes,
            vec![Change::optional_field("segment 1", Some("y".into()), None)]
        );
        assert_eq!(hex_bytes(&[0xab; 2]), "abab");
        assert_eq!(flag_names(0x3, &[(1, "A"), (2, "B"), (4, "C")]), "A | B (0x3)");
        assert_eq!(flag_names(0x8, &[(1, "A")]), "0x8");
        assert!(hex_bytes(&[0; 100]).ends_with("(100 bytes)"));
    }
}
