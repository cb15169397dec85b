//! Section tables of any object format: which sections were added, removed, reordered or
//! changed, and for a changed one its header fields, digests and differing strings or bytes.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;

use super::strings::{self, StringStyle};
use super::{Change, CompareError, Context, Fields, Node, Source};
use crate::compare::binary;
use crate::compare::source::{compare_slices, sha256_hex};
use crate::compare::tree::Sides;

/// Most names listed in a section-order change.
const MAX_ORDER_NAMES: usize = 200;
/// Largest section whose strings are extracted and counted (each string costs a table entry).
const MAX_STRING_SECTION: usize = 64 << 20;
/// Bytes after the first difference copied for the hexdump window (which is smaller).
const HEXDUMP_SPAN: usize = 256;

/// One section (or section-like region) of one side, as the format module sees it.
pub(super) struct SectionView<'a, K> {
    /// Unique name within its side; sections are matched across sides by it.
    pub key: String,
    /// Name of the child node reported when it differs (`section .rodata`).
    pub label: String,
    /// Header values compared as they are (type, flags, address, …).
    pub fields: Fields,
    /// Declared size in bytes.
    pub size: u64,
    /// The bytes in the file; `None` when the section occupies none (`.bss`).
    pub data: Option<&'a [u8]>,
    /// Format-specific content kind, for the describer.
    pub kind: K,
}

/// Explains how the contents of a section pair differ (their bytes are known to differ).
pub(super) type Describe<'d, 'a, K> =
    dyn Fn(&SectionView<'a, K>, &SectionView<'a, K>, &mut Node) -> Result<(), CompareError> + Sync + 'd;

/// Makes names unique by numbering repeats in order: `.text`, `.text (2)`, `.text (3)`.
pub(super) fn unique_keys(names: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut seen: HashMap<String, u32> = HashMap::new();
    names
        .into_iter()
        .map(|name| {
            let n = seen.entry(name.clone()).or_default();
            *n += 1;
            if *n == 1 { name } else { format!("{name} ({n})") }
        })
        .collect()
}

/// Compares two section tables into `node`: added/removed names (`field`), a changed order,
/// one child per changed section; identical sections are counted in `identical_members`.
pub(super) fn compare<'a, K: Sync>(
    cx: &Context<'_>,
    node: &mut Node,
    field: &str,
    a: &[SectionView<'a, K>],
    b: &[SectionView<'a, K>],
    describe: &Describe<'_, 'a, K>,
) -> Result<(), CompareError> {
    let keys_a: HashSet<&str> = a.iter().map(|s| s.key.as_str()).collect();
    let index_b: HashMap<&str, &SectionView<'a, K>> = b.iter().map(|s| (s.key.as_str(), s)).collect();
    let removed: Vec<&str> = a
        .iter()
        .map(|s| s.key.as_str())
        .filter(|k| !index_b.contains_key(k))
        .collect();
    let added: Vec<&str> = b
        .iter()
        .map(|s| s.key.as_str())
        .filter(|k| !keys_a.contains(k))
        .collect();
    if let Some(c) = strings::change(field, &removed, &added, |s| strings::show(s.as_bytes())) {
        node.changes.push(c);
    }
    let common_a: Vec<&str> = a
        .iter()
        .map(|s| s.key.as_str())
        .filter(|k| index_b.contains_key(k))
        .collect();
    let common_b: Vec<&str> = b
        .iter()
        .map(|s| s.key.as_str())
        .filter(|k| keys_a.contains(k))
        .collect();
    if let Some(first) = common_a.iter().zip(&common_b).position(|(x, y)| x != y) {
        let list = |v: &[&str]| v.iter().take(MAX_ORDER_NAMES).map(|s| s.to_string()).collect();
        node.changes.push(Change::Order {
            field: format!("{field} order"),
            first_difference: first as u64,
            a: list(&common_a),
            b: list(&common_b),
        });
    }
    let pairs: Vec<(&SectionView<'a, K>, &SectionView<'a, K>)> = a
        .iter()
        .filter_map(|x| index_b.get(x.key.as_str()).map(|y| (x, *y)))
        .collect();
    let results: Vec<Result<Option<Node>, CompareError>> = pairs
        .par_iter()
        .map(|(x, y)| section_node(cx, x, y, describe))
        .collect();
    for r in results {
        match r? {
            Some(child) => node.children.push(child),
            None => node.identical_members += 1,
        }
    }
    Ok(())
}

/// The child node of a section pair, `None` when nothing about it differs.
fn section_node<'a, K>(
    cx: &Context<'_>,
    x: &SectionView<'a, K>,
    y: &SectionView<'a, K>,
    describe: &Describe<'_, 'a, K>,
) -> Result<Option<Node>, CompareError> {
    cx.check_time()?;
    // Equal bytes are skipped before any digest or string extraction.
    let same_data = x.data == y.data;
    if same_data && x.fields == y.fields && x.size == y.size {
        return Ok(None);
    }
    let mut n = Node::new(x.label.clone());
    super::compare_fields(&mut n, &x.fields, &y.fields);
    if x.size != y.size {
        n.changes.push(Change::field("size", x.size, y.size));
    }
    n.size = Some(Sides::new(x.size, y.size));
    match (x.data, y.data) {
        (Some(da), Some(db)) if !same_data => {
            let (ha, hb) = rayon::join(|| sha256_hex(da), || sha256_hex(db));
            n.sha256 = Some(Sides::new(ha, hb));
            let before = n.changes.len();
            describe(x, y, &mut n)?;
            if n.changes.len() == before {
                bytes(da, db, &mut n)?;
            }
        }
        (Some(_), None) | (None, Some(_)) => {
            n.changes
                .push(Change::note("only one side has contents in the file"));
        }
        _ => {}
    }
    Ok(Some(n))
}

/// Describer for formats whose section kind is just an optional string style (PE, Mach-O).
pub(super) fn describe_by_style(
    x: &SectionView<'_, Option<StringStyle>>,
    y: &SectionView<'_, Option<StringStyle>>,
    node: &mut Node,
) -> Result<(), CompareError> {
    match (x.data, y.data) {
        (Some(a), Some(b)) => describe_content(x.kind.or(y.kind), a, b, node),
        _ => Ok(()),
    }
}

/// Strings of string-bearing contents (field `strings`), else a byte-level change.
pub(super) fn describe_content(
    style: Option<StringStyle>,
    a: &[u8],
    b: &[u8],
    node: &mut Node,
) -> Result<(), CompareError> {
    let largest = a.len().max(b.len());
    if style.is_some() && largest > MAX_STRING_SECTION {
        node.changes.push(Change::note(format!(
            "{largest} bytes are too many to compare as strings (limit {MAX_STRING_SECTION}); compared as bytes"
        )));
        return bytes(a, b, node);
    }
    if let Some(style) = style {
        if let Some(c) = strings::diff("strings", a, b, style) {
            node.changes.push(c);
            return Ok(());
        }
        node.changes
            .push(Change::note("the same strings, in a different order or layout"));
    }
    bytes(a, b, node)
}

/// A byte-level change (first differing offset, count, hexdump) of two differing buffers.
pub(super) fn bytes(a: &[u8], b: &[u8], node: &mut Node) -> Result<(), CompareError> {
    let cmp = compare_slices(a, b, true);
    let Some(first) = cmp.first_offset else {
        return Ok(());
    };
    // The hexdump window sits around the first difference: copy only what it can show.
    let end = usize::try_from(first)
        .unwrap_or(usize::MAX)
        .saturating_add(HEXDUMP_SPAN);
    let head = |s: &[u8]| Source::memory(s[..end.min(s.len())].to_vec());
    let mut scratch = Node::new("");
    binary::describe(&cmp, &head(a), &head(b), &mut scratch)?;
    // `describe` also reports the size, which the section node already shows.
    node.changes.extend(
        scratch
            .changes
            .into_iter()
            .filter(|c| matches!(c, Change::Bytes { .. })),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_repeated_names() {
        let names = [".text", ".group", ".group", ".text", ".group"].map(String::from);
        assert_eq!(
            unique_keys(names),
            vec![".text", ".group", ".group (2)", ".text (2)", ".group (3)"]
        );
    }

    #[test]
    fn bytes_reports_offset_and_count_only() {
        let a = vec![0u8; 10_000];
        let mut b = a.clone();
        b[5000] = 1;
        b[9999] = 2;
        let mut n = Node::new("s");
        bytes(&a, &b, &mut n).unwrap();
        match n.changes.as_slice() {
            [
                Change::Bytes {
                    first_offset,
                    differing_bytes,
                    hexdump,
                },
            ] => {
                assert_eq!((*first_offset, *differing_bytes), (5000, 2));
                assert!(hexdump.b.contains("01"), "{}", hexdump.b);
            }
            other => panic!("{other:?}"),
        }
    }
}
