//! RPM packages: the lead, the signature header (digests, sizes, signatures), the main header
//! (name, version, build time and host, per-file modes, times, digests and owners, …) and the
//! payload, a compressed cpio archive handed back to the engine, so a package compares down to
//! the files it installs. Header tags are fields named as in rpm (`BUILDTIME`, `BUILDHOST`,
//! `FILEMTIMES`), unknown ones as `tag N`; per-file tags list `path: value` so a difference
//! names its file. BUILDTIME and BUILDHOST are the classic reasons two builds of one package
//! differ.

mod parse;
mod tags;

use std::collections::HashMap;

use super::binary::BinaryComparator;
use super::members::shown_name;
use super::object::strings;
use super::{Change, Comparator, CompareError, Context, Format, Node, Source};
use crate::compare::tar::diff_fields;
use crate::units::timestamp;
use parse::{Entry, Value};

/// Lists of at most this many values are shown whole as one field; longer ones as the values
/// on one side only.
const WHOLE_LIST: usize = 8;
/// Most bytes of a BIN value shown in hex.
const BIN_SHOWN: usize = 64;

pub struct RpmComparator;

impl Comparator for RpmComparator {
    fn name(&self) -> &'static str {
        "rpm"
    }

    fn formats(&self) -> &'static [Format] {
        &[Format::Rpm]
    }

    fn compare(&self, cx: &Context<'_>, a: &Source, b: &Source, node: &mut Node) -> Result<(), CompareError> {
        let (limit, max_values) = (cx.options().max_member_bytes, cx.options().max_entries);
        let (ba, bb) = rayon::join(|| a.blob(limit), || b.blob(limit));
        let (ba, bb) = (ba?, bb?);
        let (pa, pb) = (parse::parse(&ba, max_values)?, parse::parse(&bb, max_values)?);
        let mut lead = Node::new("lead");
        diff_fields(&pa.lead.fields(), &pb.lead.fields(), &mut lead.changes);
        let mut signature = Node::new("signature");
        signature.changes = diff_header(&pa.signature, &pb.signature, Kind::Signature);
        let mut header = Node::new("header");
        header.changes = diff_header(&pa.header, &pb.header, Kind::Main);
        for n in [lead, signature, header] {
            if !n.is_empty() {
                node.children.push(n);
            }
        }
        let (x, y) = (
            ba.get(pa.payload.clone()).unwrap_or_default(),
            bb.get(pb.payload.clone()).unwrap_or_default(),
        );
        if x == y {
            node.identical_members += 1;
        } else {
            cx.check_time()?;
            let n = cx.compare(
                "payload",
                &Source::memory(x.to_vec()),
                &Source::memory(y.to_vec()),
            );
            if n.is_empty() {
                node.identical_members += 1;
            } else {
                node.children.push(n);
            }
        }
        if node.children.is_empty() {
            node.changes.push(Change::note(
                "the lead, headers and payload compare equal: the packages differ only in how \
                 the headers are laid out",
            ));
            BinaryComparator.compare(cx, a, b, node)?;
        }
        Ok(())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Signature,
    Main,
}

impl Kind {
    fn tag_name(self, tag: u32) -> String {
        let known = match self {
            Kind::Signature => tags::signature_name(tag),
            Kind::Main => tags::header_name(tag),
        };
        known.map_or_else(|| format!("tag {tag}"), str::to_string)
    }
}

/// The first value of each tag, in header order.
fn by_tag(entries: &[Entry]) -> (Vec<u32>, HashMap<u32, &Value>) {
    let mut order = Vec::new();
    let mut map = HashMap::new();
    for e in entries {
        if !tags::is_region(e.tag) && !map.contains_key(&e.tag) {
            map.insert(e.tag, &e.value);
            order.push(e.tag);
        }
    }
    (order, map)
}

/// The package's file paths, from BASENAMES, DIRNAMES and DIRINDEXES.
fn file_names(map: &HashMap<u32, &Value>) -> Option<Vec<String>> {
    let (Value::Strings(base), Value::Strings(dirs), Value::Ints(idx)) =
        (map.get(&1117)?, map.get(&1118)?, map.get(&1116)?)
    else {
        return None;
    };
    if base.len() != idx.len() {
        return None;
    }
    base.iter()
        .zip(idx)
        .map(|(b, &i)| {
            let dir = dirs.get(usize::try_from(i).ok()?)?;
            Some(shown_name(&format!("{dir}{b}")))
        })
        .collect()
}

/// One value as shown: numbers (times as timestamps, modes in octal), strings, hex.
fn show(kind: Kind, tag: u32, v: &Value) -> Vec<String> {
    match v {
        Value::Ints(ns) => ns
            .iter()
            .map(|&n| {
                if kind == Kind::Main && tags::is_time(tag) {
                    i64::try_from(n).map_or_else(|_| n.to_string(), timestamp)
                } else if kind == Kind::Main && tag == 1030 {
                    format!("{n:06o}")
                } else {
                    n.to_string()
                }
            })
            .collect(),
        Value::Strings(s) => s.iter().map(|s| shown_name(s)).collect(),
        Value::Bin(b) => {
            let hex: String = b.iter().take(BIN_SHOWN).map(|x| format!("{x:02x}")).collect();
            vec![if b.len() > BIN_SHOWN {
                format!("{hex}… ({} bytes)", b.len())
            } else {
                hex
            }]
        }
    }
}

/// The changes between two headers, tag by tag: a's order, then tags only in b.
fn diff_header(a: &[Entry], b: &[Entry], kind: Kind) -> Vec<Change> {
    let ((order_a, map_a), (order_b, map_b)) = (by_tag(a), by_tag(b));
    let (files_a, files_b) = match kind {
        Kind::Main => (file_names(&map_a), file_names(&map_b)),
        Kind::Signature => (None, None),
    };
    let mut out = Vec::new();
    let files_known = files_a.is_some() && files_b.is_some();
    if let (Some(fa), Some(fb)) = (&files_a, &files_b)
        && let Some(c) = strings::diff_lists("FILENAMES", fa, fb)
    {
        out.push(c);
    }
    let tags_b_only = order_b.iter().filter(|t| !map_a.contains_key(t));
    for &tag in order_a.iter().chain(tags_b_only) {
        let (va, vb) = (map_a.get(&tag).copied(), map_b.get(&tag).copied());
        if va == vb || (files_known && matches!(tag, 1116..=1118)) {
            continue;
        }
        let name = kind.tag_name(tag);
        let (sa, sb) = (va.map(|v| show(kind, tag, v)), vb.map(|v| show(kind, tag, v)));
        let per_file = kind == Kind::Main && tags::is_per_file(tag);
        let labelled = |s: &Option<Vec<String>>, files: &Option<Vec<String>>| -> Option<Vec<String>> {
            let (s, files) = (s.as_ref()?, files.as_ref()?);
            (per_file && s.len() == files.len())
                .then(|| files.iter().zip(s).map(|(f, v)| format!("{f}: {v}")).collect())
        };
        let (la, lb) = (labelled(&sa, &files_a), labelled(&sb, &files_b));
        let (sa, sb) = match (la, lb) {
            (Some(la), Some(lb)) => (Some(la), Some(lb)),
            _ => (sa, sb),
        };
        let short = |s: &Option<Vec<String>>| s.as_ref().is_none_or(|s| s.len() <= WHOLE_LIST);
        let single = |s: &Option<Vec<String>>| s.as_ref().is_none_or(|s| s.len() <= 1);
        let whole = |s: Option<Vec<String>>| s.map(|s| s.join(", "));
        if (single(&sa) && single(&sb)) || (short(&sa) && short(&sb) && !per_file) {
            out.push(Change::optional_field(name, whole(sa), whole(sb)));
            continue;
        }
        let (la, lb) = (sa.unwrap_or_default(), sb.unwrap_or_default());
        match strings::diff_lists(&name, &la, &lb) {
            Some(c) => out.push(c),
            None => out.push(Change::note(format!(
                "{name}: the same {} values, in a different order",
                la.len()
            ))),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(tag: u32, value: Value) -> Entry {
        Entry { tag, value }
    }

    fn strs(v: &[&str]) -> Value {
        Value::Strings(v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn names_tags_renders_values_and_labels_per_file_values() {
        let files = |mtime: u64| {
            vec![
                e(1117, strs(&["a", "b"])),
                e(1118, strs(&["/usr/", "/etc/"])),
                e(1116, Value::Ints(vec![0, 1])),
                e(1034, Value::Ints(vec![1_700_000_000, mtime])),
                e(1030, Value::Ints(vec![0o100644, 0o100644])),
            ]
        };
        let mut a = files(1_700_000_000);
        a.push(e(1006, Value::Ints(vec![1_700_000_000])));
        a.push(e(4242, Value::Bin(vec![1, 2])));
        let mut b = files(1_700_000_001);
        b.push(e(1006, Value::Ints(vec![1_700_000_001])));
        let changes = diff_header(&a, &b, Kind::Main);
        assert!(changes.contains(&Change::field(
            "BUILDTIME",
            "2023-11-14T22:13:20Z (1700000000)",
            "2023-11-14T22:13:21Z (1700000001)"
        )));
        assert!(changes.contains(&Change::optional_field("tag 4242", Some("0102".into()), None)));
        let mtimes = changes.iter().find_map(|c| match c {
            Change::Strings {
                field,
                removed,
                added,
                ..
            } if field == "FILEMTIMES" => Some((removed.clone(), added.clone())),
            _ => None,
        });
        assert_eq!(
            mtimes,
            Some((
                vec!["/etc/b: 2023-11-14T22:13:20Z (1700000000)".to_string()],
                vec!["/etc/b: 2023-11-14T22:13:21Z (1700000001)".to_string()]
            )),
            "{changes:#?}"
        );
        // The same file list: neither FILENAMES nor its parts differ.
        assert!(
            changes
                .iter()
                .all(|c| !matches!(c, Change::Strings { field, .. } if field == "FILENAMES"))
        );
        assert_eq!(changes.len(), 3, "{changes:#?}");
    }

    #[test]
    fn signature_tags_have_their_own_names() {
        let a = [e(1000, Value::Ints(vec![10])), e(273, strs(&["aa"]))];
        let b = [e(1000, Value::Ints(vec![11])), e(273, strs(&["bb"]))];
        let changes = diff_header(&a, &b, Kind::Signature);
        assert_eq!(
            changes,
            [
                Change::field("SIZE", "10", "11"),
                Change::field("SHA256", "aa", "bb")
            ]
        );
    }
}
