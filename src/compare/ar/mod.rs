//! `ar` archives: Debian packages (`.deb`), static libraries (`.a`), thin archives. Reports the
//! archive variant, member order, members on one side only, each member's header fields
//! (mtime, uid, gid, mode, size) and, where contents differ, sends them back through the engine,
//! so a `.deb`'s `data.tar.xz` and a library's ELF objects are compared all the way down. Symbol
//! tables are compared as the symbols they list and the members defining them.
//!
//! Each side is held in memory whole (files are mapped), within `max_member_bytes`; members are
//! ranges of it. Nothing expands, so the archive's own size bounds every member, and at most
//! one pair of members per worker is copied out for the engine at a time.

mod parse;

use std::collections::HashMap;

use rayon::prelude::*;

use super::binary::BinaryComparator;
use super::members::Matched;
use super::object::strings;
use super::source::sha256_hex;
use super::tar::diff_fields;
use super::{Blob, Change, Comparator, CompareError, Context, Format, Node, Sides, Source, Status};
use parse::{Archive, Kind, Member};

pub struct ArComparator;

impl Comparator for ArComparator {
    fn name(&self) -> &'static str {
        "ar"
    }

    fn formats(&self) -> &'static [Format] {
        &[Format::Ar]
    }

    fn compare(&self, cx: &Context<'_>, a: &Source, b: &Source, node: &mut Node) -> Result<(), CompareError> {
        let options = cx.options();
        let (limit, max_entries) = (options.max_member_bytes, options.max_entries);
        let (ba, bb) = rayon::join(|| a.blob(limit), || b.blob(limit));
        let (ba, bb) = (ba?, bb?);
        let (pa, pb) = rayon::join(
            || parse::parse(&ba, max_entries),
            || parse::parse(&bb, max_entries),
        );
        let (pa, pb) = (pa?, pb?);
        node.field_if_differs("ar-format", pa.variant(), pb.variant());
        let thin: Vec<&str> = [("a", &pa), ("b", &pb)]
            .iter()
            .filter(|(_, p)| p.thin)
            .map(|(s, _)| *s)
            .collect();
        if !thin.is_empty() {
            node.changes.push(Change::note(format!(
                "thin archive ({}): its members are stored outside the archive, so only their \
                 headers are compared",
                thin.join(" and ")
            )));
        }
        let sides = (
            Side {
                blob: &ba,
                archive: &pa,
            },
            Side {
                blob: &bb,
                archive: &pb,
            },
        );
        let m = Matched::new(cx, &names(&pa), &names(&pb));
        if let Some(c) = m.order_change() {
            node.changes.push(c);
        }
        members(cx, &sides.0, &sides.1, &m, node)?;
        let only_notes = node.changes.iter().all(|c| matches!(c, Change::Note { .. }));
        if only_notes && node.children.is_empty() {
            node.changes.push(Change::note(
                "every member compared is identical: the archives differ only in how headers are \
                 encoded (padding, name style, the long-name table), after the last member, or in \
                 excluded members",
            ));
            BinaryComparator.compare(cx, a, b, node)?;
        }
        Ok(())
    }
}

/// One side: the archive's bytes and what was parsed from them.
struct Side<'s> {
    blob: &'s Blob,
    archive: &'s Archive,
}

impl Side<'_> {
    fn data(&self, m: &Member) -> Option<&[u8]> {
        self.blob.get(m.data.clone()?)
    }

    /// Member labels by header offset, for naming the members a symbol table points at.
    fn labels_by_offset(&self, labels: &[String]) -> HashMap<u64, String> {
        self.archive
            .members
            .iter()
            .zip(labels)
            .map(|(m, l)| (m.header_offset as u64, l.clone()))
            .collect()
    }
}

/// Compares the common members in parallel (headers, then contents through the engine) and
/// lists the members on one side only: a's order first, removed ones in place, then added ones
/// in b's order.
fn members(
    cx: &Context<'_>,
    sa: &Side<'_>,
    sb: &Side<'_>,
    m: &Matched,
    node: &mut Node,
) -> Result<(), CompareError> {
    let results: Vec<Option<Node>> = m
        .common
        .par_iter()
        .map(|&(i, j)| {
            cx.check_time()?;
            let (Some(ma), Some(mb)) = (sa.archive.members.get(i), sb.archive.members.get(j)) else {
                return Ok(None);
            };
            Ok(member_node(cx, m, (sa, ma), (sb, mb), m.label_a(i)))
        })
        .collect::<Result<_, CompareError>>()?;
    m.place(
        node,
        results,
        |i| {
            let mem = sa.archive.members.get(i)?;
            Some(one_side(m.label_a(i), mem, Status::Removed))
        },
        |j| {
            let mem = sb.archive.members.get(j)?;
            Some(one_side(m.label_b(j), mem, Status::Added))
        },
    );
    Ok(())
}

/// The difference node of one common member: header changes first, then the content's own
/// node (or notes) when the contents differ; `None` when nothing differs.
fn member_node(
    cx: &Context<'_>,
    m: &Matched,
    (sa, ma): (&Side<'_>, &Member),
    (sb, mb): (&Side<'_>, &Member),
    label: String,
) -> Option<Node> {
    let mut changes = Vec::new();
    diff_fields(&ma.fields(), &mb.fields(), &mut changes);
    let content = match (sa.data(ma), sb.data(mb)) {
        (Some(x), Some(y)) if x == y => None,
        (Some(x), Some(y)) if ma.kind != Kind::File && ma.kind == mb.kind => {
            Some(symbol_table(cx, m, &label, (sa, ma.kind, x), (sb, y)))
        }
        (Some(x), Some(y)) => {
            Some(cx.compare(&label, &Source::memory(x.to_vec()), &Source::memory(y.to_vec())))
        }
        (None, None) => None,
        (x, _) => {
            let side = if x.is_none() { "a" } else { "b" };
            changes.push(Change::note(format!(
                "content not compared: {side} is a thin archive, which stores this member outside it"
            )));
            None
        }
    };
    match content {
        Some(mut n) if !n.is_empty() => {
            n.changes.splice(0..0, changes);
            Some(n)
        }
        _ if changes.is_empty() => None,
        _ => {
            let mut n = Node::new(label);
            n.changes = changes;
            n.size = Some(Sides::new(ma.size, mb.size));
            Some(n)
        }
    }
}

/// A symbol table that differs: the symbols (each with the member defining it) present on one
/// side only; when there are none, why the bytes still differ. A table that does not parse is
/// compared as bytes.
fn symbol_table(
    cx: &Context<'_>,
    m: &Matched,
    label: &str,
    (sa, kind, x): (&Side<'_>, Kind, &[u8]),
    (sb, y): (&Side<'_>, &[u8]),
) -> Node {
    let (Some(syms_a), Some(syms_b)) = (parse::symbols(kind, x), parse::symbols(kind, y)) else {
        return cx.compare(label, &Source::memory(x.to_vec()), &Source::memory(y.to_vec()));
    };
    let (by_off_a, by_off_b) = (sa.labels_by_offset(&m.labels_a), sb.labels_by_offset(&m.labels_b));
    let listed = |syms: &[parse::Symbol], by_off: &HashMap<u64, String>| -> Vec<String> {
        syms.iter()
            .map(|s| {
                let member = by_off
                    .get(&s.member_offset)
                    .cloned()
                    .unwrap_or_else(|| format!("no member at offset {}", s.member_offset));
                format!("{} ({member})", strings::show(s.name.as_bytes()))
            })
            .collect()
    };
    let (la, lb) = (listed(&syms_a, &by_off_a), listed(&syms_b, &by_off_b));
    let mut n = Node::new(label);
    n.sha256 = Some(Sides::new(sha256_hex(x), sha256_hex(y)));
    n.size = Some(Sides::new(x.len() as u64, y.len() as u64));
    n.field_if_differs("symbol count", syms_a.len(), syms_b.len());
    match strings::diff_lists("symbols", &la, &lb) {
        Some(c) => n.changes.push(c),
        None if la != lb => n
            .changes
            .push(Change::note("the same symbols, listed in a different order")),
        None => n.changes.push(Change::note(
            "the same symbols in the same members; only the members' offsets differ (an earlier \
             member changed size)",
        )),
    }
    n
}

/// The node of a member present on one side only.
fn one_side(name: String, m: &Member, status: Status) -> Node {
    let mut n = Node::new(name);
    n.status = status;
    let v = Some(m.size.to_string());
    let (a, b) = match status {
        Status::Removed => (v, None),
        _ => (None, v),
    };
    n.changes.push(Change::optional_field("size", a, b));
    n
}

/// The members' names, in archive order.
fn names(p: &Archive) -> Vec<&str> {
    p.members.iter().map(|m| m.name.as_str()).collect()
}
