//! Tar comparison, streaming and in two passes: pass 1 reads both sides once (in parallel) and
//! keeps only member metadata and content digests; pass 2 re-reads them for the few members
//! whose contents differ and sends those back through the engine, so a jar or an ELF inside a
//! tar is compared all the way down. Nothing is ever extracted to disk.

mod scan;

use std::collections::HashMap;

use super::binary::BinaryComparator;
use super::{Change, Comparator, CompareError, Context, Format, Node, Pair, Side, Sides, Source, Status};
use scan::{Member, Scan};

pub struct TarComparator;

impl Comparator for TarComparator {
    fn name(&self) -> &'static str {
        "tar"
    }

    fn formats(&self) -> &'static [Format] {
        &[Format::Tar]
    }

    fn compare(&self, cx: &Context<'_>, a: &Source, b: &Source, node: &mut Node) -> Result<(), CompareError> {
        let (sa, sb) = rayon::join(|| scan::scan(cx, a, Side::A), || scan::scan(cx, b, Side::B));
        let (sa, sb) = (sa?, sb?);
        // The engine would otherwise read both streams again to fill these.
        node.sha256 = Some(Sides::new(sa.sha256.clone(), sb.sha256.clone()));
        node.size = Some(Sides::new(sa.len, sb.len));
        if sa.sha256 == sb.sha256 {
            return Ok(());
        }
        node.field_if_differs("tar-format", sa.formats.join("+"), sb.formats.join("+"));
        let m = Matched::new(cx, &sa, &sb);
        if let Some(c) = m.order_change(&sa, cx.options().max_diff_lines) {
            node.changes.push(c);
        }
        report_members(cx, a, b, &sa, &sb, &m, node)?;
        if node.changes.is_empty() && node.children.is_empty() {
            node.changes.push(Change::note(
                "every member is identical: the archives differ only in how headers are encoded, \
                 in padding, or after the end-of-archive marker",
            ));
            BinaryComparator.compare(cx, a, b, node)?;
        }
        Ok(())
    }
}

/// Members matched by key (the path); a key that occurs several times is matched by occurrence.
struct Matched {
    /// (index in a, index in b) of the members on both sides, in a's order.
    common: Vec<(usize, usize)>,
    removed: Vec<usize>,
    added: Vec<usize>,
    occ_a: Vec<u32>,
    occ_b: Vec<u32>,
}

/// The node name of a member: its key, marked when the key occurs more than once.
fn label(m: &Member, occ: u32) -> String {
    if occ == 0 {
        m.key().to_string()
    } else {
        format!("{} (occurrence {})", m.key(), occ + 1)
    }
}

impl Matched {
    fn new(cx: &Context<'_>, sa: &Scan, sb: &Scan) -> Self {
        // Ask once per path, so each excluded path is recorded once.
        let mut excluded: HashMap<&str, bool> = HashMap::new();
        for m in sa.members.iter().chain(&sb.members) {
            excluded
                .entry(m.path.as_str())
                .or_insert_with(|| cx.excluded(&m.path));
        }
        let is_excluded =
            |m: Option<&Member>| m.is_some_and(|m| excluded.get(m.path.as_str()).copied().unwrap_or(false));
        let keys_a: Vec<&str> = sa.members.iter().map(Member::key).collect();
        let keys_b: Vec<&str> = sb.members.iter().map(Member::key).collect();
        let p = super::members::pair(
            &keys_a,
            &keys_b,
            |i| is_excluded(sa.members.get(i)),
            |j| is_excluded(sb.members.get(j)),
        );
        Matched {
            common: p.common,
            removed: p.removed,
            added: p.added,
            occ_a: p.occ_a,
            occ_b: p.occ_b,
        }
    }

    fn label_a(&self, sa: &Scan, i: usize) -> String {
        match (sa.members.get(i), self.occ_a.get(i)) {
            (Some(m), Some(&o)) => label(m, o),
            _ => String::new(),
        }
    }

    fn label_b(&self, sb: &Scan, j: usize) -> String {
        match (sb.members.get(j), self.occ_b.get(j)) {
            (Some(m), Some(&o)) => label(m, o),
            _ => String::new(),
        }
    }

    /// The order of the common members, when it differs: from the first difference on, at
    /// most `max` names per side.
    fn order_change(&self, sa: &Scan, max: usize) -> Option<Change> {
        let mut by_b = self.common.clone();
        by_b.sort_unstable_by_key(|&(_, j)| j);
        let first = self.common.iter().zip(&by_b).position(|(x, y)| x != y)?;
        let names = |v: &[(usize, usize)]| -> Vec<String> {
            v.iter()
                .skip(first)
                .take(max.max(1))
                .map(|&(i, _)| self.label_a(sa, i))
                .collect()
        };
        Some(Change::Order {
            field: "member order".into(),
            first_difference: first as u64,
            a: names(&self.common),
            b: names(&by_b),
        })
    }
}

/// A common member whose contents are to be compared in pass 2.
struct Want {
    ia: usize,
    ib: usize,
    label: String,
    size_a: u64,
    size_b: u64,
}

fn report_members(
    cx: &Context<'_>,
    a: &Source,
    b: &Source,
    sa: &Scan,
    sb: &Scan,
    m: &Matched,
    node: &mut Node,
) -> Result<(), CompareError> {
    let cap = cx.options().max_member_bytes;
    // Nodes of common members, keyed by their index in a.
    let mut nodes: HashMap<usize, Node> = HashMap::new();
    let mut wants = Vec::new();
    for &(i, j) in &m.common {
        let (Some(ma), Some(mb)) = (sa.members.get(i), sb.members.get(j)) else {
            continue;
        };
        let name = m.label_a(sa, i);
        let mut n = Node::new(name.clone());
        if ma.meta != mb.meta {
            diff_fields(&ma.meta.fields(), &mb.meta.fields(), &mut n.changes);
        }
        if ma.digest != mb.digest && !ma.records_only && !mb.records_only {
            let (size_a, size_b) = (ma.meta.size, mb.meta.size);
            if size_a <= cap && size_b <= cap {
                wants.push(Want {
                    ia: i,
                    ib: j,
                    label: name,
                    size_a,
                    size_b,
                });
            } else {
                n.sha256 = Some(Sides::new(hex::encode(ma.digest), hex::encode(mb.digest)));
                n.size = Some(Sides::new(size_a, size_b));
                n.changes.push(Change::note(format!(
                    "contents differ; larger than the in-memory limit of {cap} bytes, so compared by digest only"
                )));
            }
        }
        if !n.is_empty() {
            nodes.insert(i, n);
        }
    }
    let by_label: HashMap<&str, usize> = wants.iter().map(|w| (w.label.as_str(), w.ia)).collect();
    for content in compare_contents(cx, a, b, &wants)? {
        let Some(&ia) = by_label.get(content.name.as_str()) else {
            continue;
        };
        let merged = match nodes.remove(&ia) {
            Some(meta) => {
                let mut n = content;
                n.changes.splice(0..0, meta.changes);
                n
            }
            None => content,
        };
        nodes.insert(ia, merged);
    }
    let changed = nodes.len() as u64;
    node.identical_members += (m.common.len() as u64).saturating_sub(changed);
    for &i in &m.removed {
        if let Some(mem) = sa.members.get(i) {
            nodes.insert(i, one_side(m.label_a(sa, i), mem, Status::Removed));
        }
    }
    // Members in a's order (removed ones in place), then added ones in b's order.
    let mut ordered: Vec<(usize, Node)> = nodes.into_iter().collect();
    ordered.sort_unstable_by_key(|(i, _)| *i);
    node.children.extend(ordered.into_iter().map(|(_, n)| n));
    for &j in &m.added {
        if let Some(mem) = sb.members.get(j) {
            node.children.push(one_side(m.label_b(sb, j), mem, Status::Added));
        }
    }
    Ok(())
}

/// Pass 2: pulls the wanted members' bytes, in batches that keep at most `max_member_bytes`
/// per side in memory, and compares them through the engine.
fn compare_contents(
    cx: &Context<'_>,
    a: &Source,
    b: &Source,
    wants: &[Want],
) -> Result<Vec<Node>, CompareError> {
    let cap = cx.options().max_member_bytes;
    let mut out = Vec::new();
    let mut rest = wants;
    while !rest.is_empty() {
        let (mut ta, mut tb, mut len) = (0u64, 0u64, 0usize);
        for w in rest {
            let (na, nb) = (ta.saturating_add(w.size_a), tb.saturating_add(w.size_b));
            if len > 0 && (na > cap || nb > cap) {
                break;
            }
            (ta, tb, len) = (na, nb, len + 1);
        }
        let (batch, tail) = rest.split_at(len.min(rest.len()));
        rest = tail;
        cx.check_time()?;
        let ia: Vec<usize> = batch.iter().map(|w| w.ia).collect();
        let ib: Vec<usize> = batch.iter().map(|w| w.ib).collect();
        let (xa, xb) = rayon::join(
            || scan::extract(cx, a, &ia, cap),
            || scan::extract(cx, b, &ib, cap),
        );
        let (mut xa, mut xb) = (xa?, xb?);
        let mut pairs = Vec::with_capacity(batch.len());
        for w in batch {
            let (Some(ba), Some(bb)) = (xa.remove(&w.ia), xb.remove(&w.ib)) else {
                return Err(CompareError::malformed(
                    "tar",
                    format!("member {} was not found again on the second read", w.label),
                ));
            };
            pairs.push(Pair {
                name: w.label.clone(),
                a: Source::memory(ba),
                b: Source::memory(bb),
            });
        }
        let mut contents = Node::new(String::new());
        cx.compare_many(pairs, &mut contents);
        out.extend(contents.children);
    }
    Ok(out)
}

/// Field changes between two lists of named values (a field on one side only is shown as
/// absent on the other). Shared with the compressed-stream comparator's header fields.
pub(crate) fn diff_fields<K: AsRef<str>>(fa: &[(K, String)], fb: &[(K, String)], out: &mut Vec<Change>) {
    let find = |list: &'_ [(K, String)], k: &str| {
        list.iter()
            .find(|(key, _)| key.as_ref() == k)
            .map(|(_, v)| v.clone())
    };
    for (k, va) in fa {
        let k = k.as_ref();
        match find(fb, k) {
            Some(vb) if vb == *va => {}
            vb => out.push(Change::optional_field(k, Some(va.clone()), vb)),
        }
    }
    for (k, vb) in fb {
        let k = k.as_ref();
        if find(fa, k).is_none() {
            out.push(Change::optional_field(k, None, Some(vb.clone())));
        }
    }
}

fn one_side(name: String, m: &Member, status: Status) -> Node {
    let mut n = Node::new(name);
    n.status = status;
    let side = |v: String| match status {
        Status::Removed => (Some(v), None),
        _ => (None, Some(v)),
    };
    let (a, b) = side(scan::type_name(m.meta.kind).into_owned());
    n.changes.push(Change::optional_field("type", a, b));
    let (a, b) = side(m.meta.size.to_string());
    n.changes.push(Change::optional_field("size", a, b));
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_on_one_side_are_absent_on_the_other() {
        let fa = vec![("mode", "0644".to_string()), ("pax.atime", "1".to_string())];
        let fb = vec![("mode", "0755".to_string()), ("pax.ctime", "2".to_string())];
        let mut out = Vec::new();
        diff_fields(&fa, &fb, &mut out);
        assert_eq!(
            out,
            vec![
                Change::field("mode", "0644", "0755"),
                Change::optional_field("pax.atime", Some("1".into()), None),
                Change::optional_field("pax.ctime", None, Some("2".into())),
            ]
        );
    }
}
