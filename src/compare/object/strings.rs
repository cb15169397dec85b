//! The strings of string-bearing sections (string tables, `.rodata`, `__cstring`, DWARF string
//! sections) and their multiset difference: which strings one side has that the other lacks.

use std::collections::HashMap;
use std::hash::Hash;

use super::Change;

/// Most strings listed per side; the rest are counted in `omitted`.
pub(super) const MAX_SHOWN: usize = 50;
/// Longest string shown, in characters.
const MAX_CHARS: usize = 300;
/// Shortest printable run taken from arbitrary data (the `strings` default).
const MIN_RUN: usize = 4;

/// How strings are found in a section's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StringStyle {
    /// NUL-terminated entries (string tables, SHF_STRINGS, cstring sections): every entry counts.
    Table,
    /// Arbitrary data (`.rodata`, `.rdata`): printable ASCII runs of at least four characters.
    Printable,
}

/// The strings of `data`, in order of appearance.
pub(super) fn extract(data: &[u8], style: StringStyle) -> Vec<&[u8]> {
    match style {
        StringStyle::Table => data.split(|&c| c == 0).filter(|s| !s.is_empty()).collect(),
        StringStyle::Printable => data
            .split(|&c| !(c == b'\t' || (0x20..0x7f).contains(&c)))
            .filter(|s| s.len() >= MIN_RUN)
            .collect(),
    }
}

/// A `Change::Strings` listing the strings of `a` and `b` that the other side lacks (counted
/// with multiplicity), or `None` when both hold the same strings.
pub(super) fn diff(field: &str, a: &[u8], b: &[u8], style: StringStyle) -> Option<Change> {
    let (x, y) = rayon::join(|| extract(a, style), || extract(b, style));
    let (removed, added) = multiset_diff(&x, &y);
    change(field, &removed, &added, |s| show(s))
}

/// Items of `a` not matched in `b` and of `b` not matched in `a`, each in order of appearance.
pub(super) fn multiset_diff<'x, T: Hash + Eq>(a: &'x [T], b: &'x [T]) -> (Vec<&'x T>, Vec<&'x T>) {
    let mut net: HashMap<&T, i64> = HashMap::with_capacity(a.len());
    for x in a {
        *net.entry(x).or_default() += 1;
    }
    for y in b {
        *net.entry(y).or_default() -= 1;
    }
    let mut removed = Vec::new();
    for x in a {
        if let Some(n) = net.get_mut(x)
            && *n > 0
        {
            *n -= 1;
            removed.push(x);
        }
    }
    let mut added = Vec::new();
    for y in b {
        if let Some(n) = net.get_mut(y)
            && *n < 0
        {
            *n += 1;
            added.push(y);
        }
    }
    (removed, added)
}

/// A capped `Change::Strings` from the two one-sided lists, `None` when both are empty.
pub(super) fn change<T>(
    field: &str,
    removed: &[T],
    added: &[T],
    show: impl Fn(&T) -> String,
) -> Option<Change> {
    if removed.is_empty() && added.is_empty() {
        return None;
    }
    let cap = |v: &[T]| v.iter().take(MAX_SHOWN).map(&show).collect::<Vec<_>>();
    let omitted = removed.len().saturating_sub(MAX_SHOWN) + added.len().saturating_sub(MAX_SHOWN);
    Some(Change::Strings {
        field: field.to_string(),
        removed: cap(removed),
        added: cap(added),
        omitted: omitted as u64,
    })
}

/// Lists of names (imports, libraries, sections) that differ as multisets.
pub(crate) fn diff_lists(field: &str, a: &[String], b: &[String]) -> Option<Change> {
    let (removed, added) = multiset_diff(a, b);
    change(field, &removed, &added, |s| show(s.as_bytes()))
}

/// Bytes shown as text (`crate::escape`: undecodable bytes and hidden characters escaped),
/// long strings cut.
pub(crate) fn show(s: &[u8]) -> String {
    let shown = crate::escape::name(s);
    match shown.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}… ({} bytes)", &shown[..cut], s.len()),
        None => shown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_table_entries_and_printable_runs() {
        assert_eq!(
            extract(b"\0ab\0\0cde\0", StringStyle::Table),
            vec![&b"ab"[..], b"cde"]
        );
        let data = b"\x01\x02Nov 14 2023\0abc\0\xffpath/to\tx\x00";
        assert_eq!(
            extract(data, StringStyle::Printable),
            vec![&b"Nov 14 2023"[..], b"path/to\tx"]
        );
    }

    #[test]
    fn diff_is_a_multiset_difference_in_order() {
        let a = b"same\0/build/a/x.c\0dup\0dup\0";
        let b = b"dup\0same\0/build/b/x.c\0";
        let Some(Change::Strings {
            removed,
            added,
            omitted,
            ..
        }) = diff(".debug_str", a, b, StringStyle::Table)
        else {
            panic!("expected strings")
        };
        assert_eq!(removed, vec!["/build/a/x.c", "dup"]);
        assert_eq!(added, vec!["/build/b/x.c"]);
        assert_eq!(omitted, 0);
        assert_eq!(diff("s", b"x\0y\0", b"y\0x\0", StringStyle::Table), None);
    }

    #[test]
    fn caps_lists_and_long_strings() {
        let a: Vec<String> = (0..MAX_SHOWN + 7).map(|i| format!("s{i}")).collect();
        let Some(Change::Strings { removed, omitted, .. }) = diff_lists("imports", &a, &[]) else {
            panic!("expected strings")
        };
        assert_eq!(removed.len(), MAX_SHOWN);
        assert_eq!(omitted, 7);
        let long = vec![b'a'; MAX_CHARS + 10];
        assert!(show(&long).ends_with(&format!("… ({} bytes)", MAX_CHARS + 10)));
        assert_eq!(show(b"a\nb\x01\xff"), "a\\x0ab\\x01\\xff");
    }
}
