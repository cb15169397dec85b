//! Zip-family archives (zip, jar, wheel, apk, …): the entry list and its order, the archive
//! comment and what surrounds the entries, each entry's header fields (DOS time, extra fields,
//! attributes, versions, method, sizes, CRC, flags, comment) and, where the decompressed
//! contents differ, the contents sent back through the engine.
//!
//! Each side is read once (mapped for files); entries whose stored bytes are equal are known
//! identical without decompressing. The rest are decompressed in parallel, each worker with its
//! own cheap handle, within `max_member_bytes` per entry and `max_expanded_bytes` per archive.
//! Entry names are only names: nothing here touches the filesystem.

mod archive;
mod content;
mod extra;
mod fields;

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;

use super::{
    Change, Comparator, CompareError, Context, Format, Node, Options, Side as Input, Source, Status,
};
use archive::{Archive, Entry};
use content::{Budget, Side};

/// How many names of each side an order change shows, from the first difference on.
const ORDER_WINDOW: usize = 20;
/// How many duplicated names a note lists.
const DUPLICATES_SHOWN: usize = 10;

pub struct ZipComparator;

impl Comparator for ZipComparator {
    fn name(&self) -> &'static str {
        "zip"
    }

    fn formats(&self) -> &'static [Format] {
        &[Format::Zip]
    }

    fn compare(&self, cx: &Context<'_>, a: &Source, b: &Source, node: &mut Node) -> Result<(), CompareError> {
        let options = cx.options();
        let (za, zb) = rayon::join(|| open(a, options), || open(b, options));
        let (za, zb) = (za?, zb?);
        archive_changes(&za, &zb, node);
        if let Some(child) = surrounding(cx, "(data before the first entry)", za.prefix(), zb.prefix()) {
            node.children.push(child);
        }
        entries(cx, &za, &zb, node)?;
        match (za.apk_signing_block(), zb.apk_signing_block()) {
            (Some(x), Some(y)) => {
                if let Some(child) = surrounding(cx, "(APK signing block)", x, y) {
                    node.children.push(child);
                }
            }
            (None, None) => {}
            (x, y) => {
                let shown = |s: Option<&[u8]>| s.map(|s| format!("{} bytes", s.len()));
                node.changes
                    .push(Change::optional_field("apk-signing-block", shown(x), shown(y)));
            }
        }
        Ok(())
    }
}

fn open(s: &Source, options: &Options) -> Result<Archive, CompareError> {
    Archive::open(s.blob(options.max_member_bytes)?, options.max_entries)
}

/// Archive-wide differences: entry count, comment, duplicated names.
fn archive_changes(za: &Archive, zb: &Archive, node: &mut Node) {
    node.field_if_differs("entries", za.entries.len(), zb.entries.len());
    node.field_if_differs(
        "comment",
        crate::escape::name(&za.comment),
        crate::escape::name(&zb.comment),
    );
    for (side, z) in [("a", za), ("b", zb)] {
        if z.duplicates.is_empty() {
            continue;
        }
        let shown: Vec<String> = z
            .duplicates
            .iter()
            .take(DUPLICATES_SHOWN)
            .map(|(name, n)| format!("{name} ×{n}"))
            .collect();
        let more = z.duplicates.len().saturating_sub(DUPLICATES_SHOWN);
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        node.changes.push(Change::note(format!(
            "{side} lists names more than once ({}{more}); only the last entry of each is compared",
            shown.join(", ")
        )));
    }
}

/// Compares bytes around the entries (a prefix, a signing block) through the engine.
fn surrounding(cx: &Context<'_>, name: &str, a: &[u8], b: &[u8]) -> Option<Node> {
    if a == b {
        return None;
    }
    let n = cx.compare(name, &Source::memory(a.to_vec()), &Source::memory(b.to_vec()));
    (!n.is_empty()).then_some(n)
}

/// Matches entries by name; reports order, added and removed entries, and compares the
/// common ones in parallel.
fn entries(cx: &Context<'_>, za: &Archive, zb: &Archive, node: &mut Node) -> Result<(), CompareError> {
    let in_b: HashMap<&str, &Entry> = zb.entries.iter().map(|e| (e.name.as_str(), e)).collect();
    let in_a: HashSet<&str> = za.entries.iter().map(|e| e.name.as_str()).collect();
    // A's entries in order, each either common (with its partner) or removed.
    let mut layout: Vec<(&Entry, Option<&Entry>)> = Vec::with_capacity(za.entries.len());
    for e in &za.entries {
        if !cx.excluded(&e.name) {
            layout.push((e, in_b.get(e.name.as_str()).copied()));
        }
    }
    let added: Vec<&Entry> = zb
        .entries
        .iter()
        .filter(|e| !in_a.contains(e.name.as_str()) && !cx.excluded(&e.name))
        .collect();
    let common: Vec<(&Entry, &Entry)> = layout.iter().filter_map(|&(ea, eb)| Some((ea, eb?))).collect();
    if let Some(change) = order_change(&common) {
        node.changes.push(change);
    }

    // Each worker decompresses a pair and hands it to `Context::compare` at once (rather than
    // collecting pairs for `compare_many`), so at most one decompressed pair per worker is
    // held in memory, however many entries differ. Past the time budget, entries are no
    // longer decompressed (each says so), and what was compared before is kept.
    let options = cx.options();
    let budgets = (Budget::new(Input::A), Budget::new(Input::B));
    let results: Vec<Option<Node>> = common
        .par_iter()
        .map_init(
            || (za.handle.clone(), zb.handle.clone()),
            |(ha, hb), &(ea, eb)| {
                let a = Side {
                    archive: za,
                    entry: ea,
                    handle: ha,
                    budget: &budgets.0,
                };
                let b = Side {
                    archive: zb,
                    entry: eb,
                    handle: hb,
                    budget: &budgets.1,
                };
                entry_node(cx, a, b)
            },
        )
        .collect();

    let mut results = results.into_iter();
    for (ea, eb) in layout {
        match eb {
            Some(_) => match results.next().flatten() {
                Some(n) => node.children.push(n),
                None => node.identical_members += 1,
            },
            None => node.children.push(one_side(ea, Status::Removed)),
        }
    }
    node.children
        .extend(added.into_iter().map(|e| one_side(e, Status::Added)));
    if budgets.0.spent() || budgets.1.spent() {
        node.changes.push(Change::note(format!(
            "some entries were not decompressed: the expansion budget of {} bytes per input \
             (everything inside it, nested archives included) is spent",
            options.max_expanded_bytes
        )));
    }
    Ok(())
}

/// A `Change::Order` when the common entries are listed in a different order.
fn order_change(common: &[(&Entry, &Entry)]) -> Option<Change> {
    let mut by_b: Vec<&(&Entry, &Entry)> = common.iter().collect();
    by_b.sort_by_key(|(_, eb)| eb.index);
    let first = common
        .iter()
        .zip(&by_b)
        .position(|((x, _), (y, _))| x.name != y.name)?;
    let window = |names: Vec<&str>| -> Vec<String> {
        names
            .into_iter()
            .skip(first)
            .take(ORDER_WINDOW)
            .map(shown_name)
            .collect()
    };
    Some(Change::Order {
        field: "entries".into(),
        first_difference: first as u64,
        a: window(common.iter().map(|(e, _)| e.name.as_str()).collect()),
        b: window(by_b.iter().map(|(e, _)| e.name.as_str()).collect()),
    })
}

/// The difference node of one common entry: header changes first, then content notes, merged
/// into the content's own node when the contents differ; `None` when nothing differs.
fn entry_node(cx: &Context<'_>, a: Side<'_>, b: Side<'_>) -> Option<Node> {
    let (ea, eb) = (a.entry, b.entry);
    let mut changes = fields::header_changes(a.archive, ea, b.archive, eb);
    let name = shown_name(&ea.name);
    let outcome = content::compare(cx, &name, a, b);
    changes.extend(outcome.notes);
    match outcome.node {
        Some(mut n) => {
            n.changes.splice(0..0, changes);
            Some(n)
        }
        None if changes.is_empty() => None,
        None => {
            let mut n = Node::new(name);
            n.changes = changes;
            n.size = Some(super::Sides::new(ea.size, eb.size));
            Some(n)
        }
    }
}

/// The node of an entry present on one side only.
fn one_side(e: &Entry, status: Status) -> Node {
    let mut n = Node::new(shown_name(&e.name));
    n.status = status;
    let mode = e.central.external_attributes >> 16;
    let kind = if e.name.ends_with('/') || mode & 0o170000 == 0o040000 {
        "directory"
    } else if mode & 0o170000 == 0o120000 {
        "symlink"
    } else {
        "file"
    };
    let put = |v: String| match status {
        Status::Removed => (Some(v), None),
        _ => (None, Some(v)),
    };
    let (a, b) = put(kind.to_string());
    n.changes.push(Change::optional_field("type", a, b));
    if kind == "file" {
        let (a, b) = put(e.size.to_string());
        n.changes.push(Change::optional_field("size", a, b));
    }
    n
}

/// An entry name as shown in the tree (`crate::escape`): a hostile name can neither rewrite a
/// terminal line nor pass for another entry.
fn shown_name(name: &str) -> String {
    crate::escape::name_str(name).into_owned()
}
