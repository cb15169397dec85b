//! cpio archives: initramfs images and RPM payloads. Reports the header variant, member order,
//! members on one side only, each member's header fields (type, mode, uid, gid, nlink, mtime,
//! size, device numbers, inode number, crc checksum), symlink targets, and, where a regular
//! file's contents differ, sends them back through the engine. Bytes after the trailer (an
//! initramfs often concatenates a compressed archive after an uncompressed one) are compared as
//! a member of their own.
//!
//! Each side is held in memory whole (files are mapped), within `max_member_bytes`; members are
//! ranges of it.

mod parse;

use rayon::prelude::*;

use super::binary::BinaryComparator;
use super::members::Matched;
use super::tar::diff_fields;
use super::{Blob, Change, Comparator, CompareError, Context, Format, Node, Sides, Source, Status};
use parse::{Archive, Member};

pub use parse::Variant;

/// The node name of what follows an archive's trailer.
const AFTER_TRAILER: &str = "(after the trailer)";

pub struct CpioComparator;

impl Comparator for CpioComparator {
    fn name(&self) -> &'static str {
        "cpio"
    }

    fn formats(&self) -> &'static [Format] {
        &[Format::Cpio]
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
        node.field_if_differs("cpio-format", pa.variant.name(), pb.variant.name());
        let m = Matched::new(cx, &names(&pa), &names(&pb));
        if let Some(c) = m.order_change() {
            node.changes.push(c);
        }
        let (sa, sb) = (
            Side {
                blob: &ba,
                archive: &pa,
            },
            Side {
                blob: &bb,
                archive: &pb,
            },
        );
        members(cx, &sa, &sb, &m, node)?;
        after_trailer(cx, &sa, &sb, node);
        let only_notes = node.changes.iter().all(|c| matches!(c, Change::Note { .. }));
        if only_notes && node.children.is_empty() {
            node.changes.push(Change::note(
                "every member compared is identical: the archives differ only in padding, \
                 or in excluded members",
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
    fn data(&self, m: &Member) -> &[u8] {
        self.blob.get(m.data.clone()).unwrap_or_default()
    }

    fn after_trailer(&self) -> Option<&[u8]> {
        self.blob.get(self.archive.after_trailer.clone()?)
    }
}

/// Compares what follows the trailers: another archive, compressed or not, as a member.
fn after_trailer(cx: &Context<'_>, sa: &Side<'_>, sb: &Side<'_>, node: &mut Node) {
    let (x, y) = (sa.after_trailer(), sb.after_trailer());
    if x.is_none() && y.is_none() {
        return;
    }
    let (x, y) = (x.unwrap_or_default(), y.unwrap_or_default());
    if x == y {
        return;
    }
    let n = cx.compare(
        AFTER_TRAILER,
        &Source::memory(x.to_vec()),
        &Source::memory(y.to_vec()),
    );
    if !n.is_empty() {
        node.children.push(n);
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
            Ok(member_node(cx, (sa, ma), (sb, mb), m.label_a(i)))
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

/// The difference node of one common member: header changes first (a symlink's target is one
/// of them), then the content's own node when a file's contents differ; `None` when nothing
/// differs.
fn member_node(
    cx: &Context<'_>,
    (sa, ma): (&Side<'_>, &Member),
    (sb, mb): (&Side<'_>, &Member),
    label: String,
) -> Option<Node> {
    let mut changes = Vec::new();
    let (fa, fb) = (ma.fields(sa.archive.variant), mb.fields(sb.archive.variant));
    diff_fields(&fa, &fb, &mut changes);
    let (x, y) = (sa.data(ma), sb.data(mb));
    let content = if x == y {
        None
    } else if ma.is_symlink() && mb.is_symlink() {
        changes.push(Change::field(
            "symlink target",
            crate::escape::name(x),
            crate::escape::name(y),
        ));
        None
    } else if x.is_empty() && y.is_empty() {
        None
    } else {
        Some(cx.compare(&label, &Source::memory(x.to_vec()), &Source::memory(y.to_vec())))
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

/// The node of a member present on one side only.
fn one_side(name: String, m: &Member, status: Status) -> Node {
    let mut n = Node::new(name);
    n.status = status;
    let side = |v: String| match status {
        Status::Removed => (Some(v), None),
        _ => (None, Some(v)),
    };
    let (a, b) = side(parse::type_name(m.mode).to_string());
    n.changes.push(Change::optional_field("type", a, b));
    let (a, b) = side(m.size.to_string());
    n.changes.push(Change::optional_field("size", a, b));
    n
}

/// The members' names, in archive order.
fn names(p: &Archive) -> Vec<&str> {
    p.members.iter().map(|m| m.name.as_str()).collect()
}
