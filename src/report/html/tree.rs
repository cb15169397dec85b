//! The difference tree as nested `<details>`: each node's field changes as a table, text
//! diffs and hexdumps side by side, strings and member order in two columns.

use std::fmt::Write as _;

use super::{Budget, clipped, escape, push_escaped};
use crate::compare::{Change, Node, Sides, Status};
use crate::report::text::human_size;

/// Nodes at most this deep are open by default (the root is depth 0)…
const OPEN_DEPTH: usize = 4;
/// …when fewer nodes than this were rendered before them: the top of the tree is open, later
/// and deeper nodes closed (a large subtree opens only its first nodes).
const OPEN_FIRST: usize = 60;
/// Descendants a node's summary line counts before it says "N+".
const GIST_COUNT: usize = 10_000;
/// Metadata-only siblings differing in the same fields are folded into one entry from this many.
const FOLD_AT: usize = 8;
/// Entries of a string or member list shown per change.
const LIST_ROWS: usize = 300;

/// Renders `root` and everything below it, within the budget. `labels` name the two sides
/// (`a`/`b`, or run labels).
pub(crate) fn render(out: &mut String, root: &Node, labels: Sides<&str>, budget: &mut Budget) {
    let mut path = Vec::new();
    if budget.take_node(out) {
        node(out, &mut path, root, 0, &labels, budget);
    } else {
        budget.nodes_skipped += root.count();
        skipped(out, root.count());
    }
}

fn skipped(out: &mut String, n: usize) {
    let _ = writeln!(
        out,
        "<p class=\"cut\">… {n} more differing nodes not shown (page limit; the JSON report has them all)</p>"
    );
}

/// A node with content differences, not only scalar fields.
fn telling(n: &Node) -> bool {
    n.status != Status::Changed
        || !n.children.is_empty()
        || n.fallback.is_some()
        || n.changes.iter().any(|c| !matches!(c, Change::Field { .. }))
}

/// One node, already counted against the budget.
fn node<'a>(
    out: &mut String,
    path: &mut Vec<&'a str>,
    n: &'a Node,
    depth: usize,
    labels: &Sides<&str>,
    budget: &mut Budget,
) {
    path.push(&n.name);
    let open = depth == 0 || (depth <= OPEN_DEPTH && budget.nodes_rendered <= OPEN_FIRST);
    let full_path = path.join(" ▸ ");
    let _ = write!(
        out,
        "<details class=\"node\"{}><summary title=\"{}\">",
        if open { " open" } else { "" },
        escape(&full_path)
    );
    let (class, word) = match n.status {
        Status::Changed => ("changed", "changed".to_string()),
        Status::Added => ("added", format!("only in {}", labels.b)),
        Status::Removed => ("removed", format!("only in {}", labels.a)),
    };
    let _ = write!(
        out,
        "<span class=\"st {class}\">{}</span><span class=\"name\">{}</span>",
        escape(&word),
        clipped(&n.name, budget.limits().cell_chars)
    );
    if let Some(f) = &n.format {
        let _ = write!(out, " <span class=\"fmt\">[{}]</span>", escape(f));
    }
    let gist = gist(n);
    if !gist.is_empty() {
        let _ = write!(out, " <span class=\"meta\">{}</span>", escape(&gist));
    }
    out.push_str("</summary>\n<div class=\"body\">\n");
    if depth > 0 {
        let _ = writeln!(
            out,
            "<div class=\"path\">{}</div>",
            clipped(&full_path, budget.limits().cell_chars)
        );
    }
    sizes_and_digests(out, n, labels);
    if let Some(f) = &n.fallback {
        let _ = writeln!(
            out,
            "<div class=\"fallback\"><b>fallback:</b> compared as {} instead of {}: {}</div>",
            escape(&f.to),
            escape(&f.from),
            clipped(&f.reason, budget.limits().cell_chars)
        );
    }
    changes(out, &n.changes, labels, budget);
    // Most telling first: children with content differences, then metadata-only ones, many
    // siblings that differ in the same fields folded into one entry.
    let (first, rest): (Vec<&Node>, Vec<&Node>) = n.children.iter().partition(|c| telling(c));
    let mut entries: Vec<Entry<'a>> = first.into_iter().map(Entry::Node).collect();
    entries.extend(fold(rest));
    let mut left_out = 0usize;
    for entry in entries {
        if left_out == 0 && budget.take_node(out) {
            match entry {
                Entry::Node(child) => node(out, path, child, depth + 1, labels, budget),
                Entry::Fold(fields, nodes) => folded(out, &fields, &nodes, labels, budget),
            }
        } else {
            left_out += match entry {
                Entry::Node(child) => child.count(),
                Entry::Fold(_, nodes) => nodes.len(),
            };
        }
    }
    if left_out > 0 {
        budget.nodes_skipped += left_out;
        skipped(out, left_out);
    }
    out.push_str("</div></details>\n");
    path.pop();
}

/// A child as the page shows it: a node, or many metadata-only siblings that differ in the
/// same fields.
enum Entry<'a> {
    Node(&'a Node),
    Fold(Vec<&'a str>, Vec<&'a Node>),
}

/// Groups metadata-only siblings by the fields that differ; groups of at least `FOLD_AT` become
/// one entry, the rest stay nodes (in their order).
fn fold(meta: Vec<&Node>) -> Vec<Entry<'_>> {
    if meta.len() < FOLD_AT {
        return meta.into_iter().map(Entry::Node).collect();
    }
    let mut groups: Vec<(Vec<&str>, Vec<&Node>)> = Vec::new();
    for n in meta {
        let names = n.field_names();
        match groups.iter_mut().find(|(k, _)| *k == names) {
            Some((_, v)) => v.push(n),
            None => groups.push((names, vec![n])),
        }
    }
    let mut out = Vec::new();
    for (fields, nodes) in groups {
        if nodes.len() >= FOLD_AT {
            out.push(Entry::Fold(fields, nodes));
        } else {
            out.extend(nodes.into_iter().map(Entry::Node));
        }
    }
    out
}

/// Many siblings that differ only in the same fields: one closed entry with an example and
/// their names.
fn folded(out: &mut String, fields: &[&str], nodes: &[&Node], labels: &Sides<&str>, budget: &mut Budget) {
    let Some(example) = nodes.first() else {
        return;
    };
    let max = budget.limits().cell_chars;
    let _ = writeln!(
        out,
        "<details class=\"node fold\"><summary><span class=\"st changed\">×{}</span><span class=\"name\">{} members differ only in {}</span></summary>\n<div class=\"body\">",
        nodes.len(),
        nodes.len(),
        escape(&fields.join(", "))
    );
    let _ = writeln!(
        out,
        "<div class=\"meta\">for example <span class=\"mono\">{}</span>:</div>",
        clipped(&example.name, max)
    );
    changes(out, &example.changes, labels, budget);
    let shown = budget.take_rows(nodes.len(), LIST_ROWS * 10);
    let _ = writeln!(
        out,
        "<details class=\"list\"><summary>all {} of them</summary><ul class=\"mono\">",
        nodes.len()
    );
    for n in nodes.iter().take(shown) {
        let _ = writeln!(out, "<li>{}</li>", clipped(&n.name, max));
    }
    if shown < nodes.len() {
        let _ = writeln!(
            out,
            "<li class=\"cut\">… {} more not shown (page limit)</li>",
            nodes.len() - shown
        );
    }
    out.push_str("</ul></details>\n</div></details>\n");
}

/// Nodes in `n`'s subtree (itself included), counting no further than `max`.
fn count_up_to(n: &Node, max: usize) -> usize {
    let mut seen = 1;
    let mut stack: Vec<&Node> = n.children.iter().collect();
    while let Some(c) = stack.pop() {
        if seen >= max {
            break;
        }
        seen += 1;
        stack.extend(c.children.iter());
    }
    seen
}

/// A one-line gist of what differs at a node, for its (possibly closed) summary line.
fn gist(n: &Node) -> String {
    let mut parts: Vec<String> = Vec::new();
    let fields = n.field_names();
    if !fields.is_empty() {
        let mut f: Vec<&str> = fields.iter().take(4).copied().collect();
        if fields.len() > 4 {
            f.push("…");
        }
        parts.push(f.join(", "));
    }
    for c in &n.changes {
        match c {
            Change::Text {
                lines_removed,
                lines_added,
                ..
            } => parts.push(format!("text −{lines_removed} +{lines_added}")),
            Change::Bytes { differing_bytes, .. } => parts.push(format!("{differing_bytes} bytes differ")),
            Change::Strings { field, .. } => parts.push(format!("{field} strings")),
            Change::Order { field, .. } => parts.push(if field.contains("order") {
                field.clone()
            } else {
                format!("{field} order")
            }),
            Change::Field { .. } | Change::Note { .. } => {}
        }
    }
    if n.fallback.is_some() {
        parts.push("fallback".into());
    }
    if !n.children.is_empty() {
        // Counting is bounded: every rendered node's summary counts its subtree.
        let inside = count_up_to(n, GIST_COUNT + 1) - 1;
        parts.push(if inside >= GIST_COUNT {
            format!("{GIST_COUNT}+ differing inside")
        } else {
            format!("{inside} differing inside")
        });
    }
    if n.identical_members > 0 {
        parts.push(format!("{} identical", n.identical_members));
    }
    parts.join(" · ")
}

fn sizes_and_digests(out: &mut String, n: &Node, labels: &Sides<&str>) {
    let mut parts = Vec::new();
    if let Some(s) = &n.size {
        parts.push(if s.a == s.b {
            format!("size {}", human_size(s.a))
        } else {
            format!(
                "size {} {} → {} {}",
                escape(labels.a),
                human_size(s.a),
                escape(labels.b),
                human_size(s.b)
            )
        });
    }
    if let Some(d) = &n.sha256 {
        let short = |s: &str| escape(&s.chars().take(16).collect::<String>());
        parts.push(format!(
            "sha256 <span class=\"mono\" title=\"{}\">{}…</span> → <span class=\"mono\" title=\"{}\">{}…</span>",
            escape(&d.a),
            short(&d.a),
            escape(&d.b),
            short(&d.b)
        ));
    }
    if !parts.is_empty() {
        let _ = writeln!(out, "<div class=\"meta\">{}</div>", parts.join(" · "));
    }
}

fn changes(out: &mut String, changes: &[Change], labels: &Sides<&str>, budget: &mut Budget) {
    let mut i = 0;
    while let Some(change) = changes.get(i) {
        if let Change::Field { .. } = change {
            // Consecutive fields share one table.
            let run: Vec<&Change> = changes[i..]
                .iter()
                .take_while(|c| matches!(c, Change::Field { .. }))
                .collect();
            i += run.len();
            fields(out, &run, labels, budget);
            continue;
        }
        i += 1;
        match change {
            Change::Field { .. } => {}
            Change::Text {
                unified,
                lines_removed,
                lines_added,
                truncated,
            } => {
                let _ = writeln!(
                    out,
                    "<div class=\"meta\">text: {lines_removed} lines removed, {lines_added} added{}</div>",
                    if *truncated {
                        " (the diff was cut at --max-diff-lines)"
                    } else {
                        ""
                    }
                );
                text_diff(out, unified, labels, budget);
            }
            Change::Bytes {
                first_offset,
                differing_bytes,
                hexdump,
            } => {
                let _ = writeln!(
                    out,
                    "<div class=\"meta\">bytes: {differing_bytes} differ, first at offset {first_offset} (0x{first_offset:x})</div>"
                );
                hex(out, hexdump, labels, budget);
            }
            Change::Strings {
                field,
                removed,
                added,
                omitted,
            } => {
                let _ = writeln!(
                    out,
                    "<div class=\"meta\">{}: {} strings only in {}, {} only in {}{}</div>",
                    escape(field),
                    removed.len(),
                    escape(labels.a),
                    added.len(),
                    escape(labels.b),
                    if *omitted > 0 {
                        format!(" (+{omitted} more not listed)")
                    } else {
                        String::new()
                    }
                );
                two_lists(
                    out,
                    &format!("only in {}", labels.a),
                    removed,
                    &format!("only in {}", labels.b),
                    added,
                    None,
                    budget,
                );
            }
            Change::Order {
                field,
                first_difference,
                a,
                b,
            } => {
                let _ = writeln!(
                    out,
                    "<div class=\"meta\">{}: the same members in another order, first difference at #{first_difference}</div>",
                    escape(field)
                );
                two_lists(out, labels.a, a, labels.b, b, Some(*first_difference), budget);
            }
            Change::Note { text } => {
                let _ = writeln!(
                    out,
                    "<div class=\"note\">note: {}</div>",
                    clipped(text, budget.limits().cell_chars)
                );
            }
        }
    }
}

fn fields(out: &mut String, run: &[&Change], labels: &Sides<&str>, budget: &mut Budget) {
    let max = budget.limits().cell_chars;
    let _ = writeln!(
        out,
        "<table class=\"fields\"><tr><th>field</th><th>{}</th><th>{}</th></tr>",
        escape(labels.a),
        escape(labels.b)
    );
    for c in run {
        if let Change::Field { field, a, b } = c {
            let cell = |v: &Option<String>, other: &Option<String>| match (v, other) {
                (None, _) => "<em class=\"muted\">(absent)</em>".to_string(),
                (Some(v), Some(o)) => marked(v, o, max),
                (Some(v), None) => clipped(v, max),
            };
            let _ = writeln!(
                out,
                "<tr><th class=\"mono\">{}</th><td class=\"del\">{}</td><td class=\"ins\">{}</td></tr>",
                escape(field),
                cell(a, b),
                cell(b, a)
            );
        }
    }
    out.push_str("</table>\n");
}

/// `s` escaped, with what differs from `other` marked: position by position when both have
/// the same length (timestamps, digests), else the part between their common prefix and suffix.
pub(crate) fn marked(s: &str, other: &str, max: usize) -> String {
    let (len, other_len) = (s.chars().count(), other.chars().count());
    if len > max || other_len > max {
        return clipped(s, max);
    }
    if len == other_len && s != other {
        let mut out = String::with_capacity(s.len() + 32);
        let mut in_mark = false;
        for (x, y) in s.chars().zip(other.chars()) {
            if (x != y) != in_mark {
                out.push_str(if in_mark { "</mark>" } else { "<mark>" });
                in_mark = !in_mark;
            }
            let mut buf = [0u8; 4];
            push_escaped(&mut out, x.encode_utf8(&mut buf));
        }
        if in_mark {
            out.push_str("</mark>");
        }
        return out;
    }
    let prefix: usize = s
        .chars()
        .zip(other.chars())
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x.len_utf8())
        .sum();
    let (s_rest, o_rest) = (&s[prefix..], &other[prefix..]);
    let suffix: usize = s_rest
        .chars()
        .rev()
        .zip(o_rest.chars().rev())
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x.len_utf8())
        .sum();
    let middle = &s_rest[..s_rest.len() - suffix];
    if middle.is_empty() {
        return escape(s);
    }
    format!(
        "{}<mark>{}</mark>{}",
        escape(&s[..prefix]),
        escape(middle),
        escape(&s_rest[s_rest.len() - suffix..])
    )
}

/// One row of a side-by-side text diff.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Row<'a> {
    /// A hunk header (`@@ -1,3 +1,3 @@`).
    Hunk(&'a str),
    /// A line of each side (`None` where that side has no line): a context line when both are
    /// the same unchanged line, else removed on the left and added on the right.
    Pair {
        a: Option<(Option<u64>, &'a str)>,
        b: Option<(Option<u64>, &'a str)>,
        context: bool,
    },
    /// Any other line (`\ No newline at end of file`, a remark).
    Note(&'a str),
}

/// Pairs the removed and added lines of a unified diff into side-by-side rows.
pub(crate) fn side_by_side(unified: &str) -> Vec<Row<'_>> {
    let mut rows = Vec::new();
    let (mut la, mut lb): (Option<u64>, Option<u64>) = (None, None);
    let (mut dels, mut adds): (Vec<&str>, Vec<&str>) = (Vec::new(), Vec::new());
    for line in unified.lines() {
        if let Some(rest) = line.strip_prefix('-') {
            dels.push(rest);
        } else if let Some(rest) = line.strip_prefix('+') {
            adds.push(rest);
        } else {
            flush(&mut rows, &mut dels, &mut adds, &mut la, &mut lb);
            if line.starts_with("@@") {
                (la, lb) = hunk_starts(line);
                rows.push(Row::Hunk(line));
            } else if let Some(rest) = line.strip_prefix(' ') {
                let a = Some((next(&mut la), rest));
                let b = Some((next(&mut lb), rest));
                rows.push(Row::Pair { a, b, context: true });
            } else {
                rows.push(Row::Note(line));
            }
        }
    }
    flush(&mut rows, &mut dels, &mut adds, &mut la, &mut lb);
    rows
}

/// The current line number, advanced.
fn next(l: &mut Option<u64>) -> Option<u64> {
    let v = *l;
    *l = l.map(|n| n + 1);
    v
}

/// Pairs the pending removed and added lines into rows.
fn flush<'a>(
    rows: &mut Vec<Row<'a>>,
    dels: &mut Vec<&'a str>,
    adds: &mut Vec<&'a str>,
    la: &mut Option<u64>,
    lb: &mut Option<u64>,
) {
    for i in 0..dels.len().max(adds.len()) {
        let a = dels.get(i).map(|t| (next(la), *t));
        let b = adds.get(i).map(|t| (next(lb), *t));
        rows.push(Row::Pair { a, b, context: false });
    }
    dels.clear();
    adds.clear();
}

/// The first line numbers of a hunk header `@@ -A[,N] +B[,M] @@`.
fn hunk_starts(header: &str) -> (Option<u64>, Option<u64>) {
    let mut words = header.split_whitespace().skip(1);
    let start = |w: Option<&str>, sign: char| {
        w.and_then(|w| w.strip_prefix(sign))
            .and_then(|w| w.split(',').next())
            .and_then(|n| n.parse::<u64>().ok())
    };
    (start(words.next(), '-'), start(words.next(), '+'))
}

fn text_diff(out: &mut String, unified: &str, labels: &Sides<&str>, budget: &mut Budget) {
    let rows = side_by_side(unified);
    let cap = budget.limits().rows_per_diff;
    let shown = budget.take_rows(rows.len(), cap);
    let max = budget.limits().cell_chars;
    let _ = writeln!(
        out,
        "<table class=\"sbs\"><tr><th class=\"ln\"></th><th>{}</th><th class=\"ln\"></th><th>{}</th></tr>",
        escape(labels.a),
        escape(labels.b)
    );
    let num = |n: Option<u64>| n.map_or_else(String::new, |n| n.to_string());
    for row in rows.iter().take(shown) {
        match row {
            Row::Hunk(h) => {
                let _ = writeln!(
                    out,
                    "<tr class=\"hunk\"><td colspan=\"4\">{}</td></tr>",
                    clipped(h, max)
                );
            }
            Row::Note(t) => {
                let _ = writeln!(
                    out,
                    "<tr><td colspan=\"4\" class=\"cut\">{}</td></tr>",
                    clipped(t, max)
                );
            }
            Row::Pair { a, b, context } => {
                let (ca, cb) = if *context {
                    ("", "")
                } else {
                    (" class=\"del\"", " class=\"ins\"")
                };
                let (ta, tb) = match (a, b) {
                    (Some((_, x)), Some((_, y))) if !context => (marked(x, y, max), marked(y, x, max)),
                    _ => (
                        a.map_or_else(String::new, |(_, t)| clipped(t, max)),
                        b.map_or_else(String::new, |(_, t)| clipped(t, max)),
                    ),
                };
                let _ = writeln!(
                    out,
                    "<tr><td class=\"ln\">{}</td><td{}>{ta}</td><td class=\"ln\">{}</td><td{}>{tb}</td></tr>",
                    a.map_or_else(String::new, |(n, _)| num(n)),
                    if a.is_some() { ca } else { "" },
                    b.map_or_else(String::new, |(n, _)| num(n)),
                    if b.is_some() { cb } else { "" },
                );
            }
        }
    }
    if shown < rows.len() {
        let _ = writeln!(
            out,
            "<tr><td colspan=\"4\" class=\"cut\">… {} more lines of this diff not shown (page limit)</td></tr>",
            rows.len() - shown
        );
    }
    out.push_str("</table>\n");
}

/// One parsed hexdump line (`00000010: 41 42 …  AB…`).
struct HexLine<'a> {
    offset: &'a str,
    bytes: Vec<&'a str>,
    ascii: Vec<char>,
}

fn parse_hex_line(line: &str) -> Option<HexLine<'_>> {
    let (offset, rest) = line.split_once(": ")?;
    if offset.is_empty() || !offset.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let hex = rest.get(..47).unwrap_or(rest);
    let bytes: Vec<&str> = hex.split_whitespace().collect();
    if bytes.is_empty()
        || bytes
            .iter()
            .any(|b| b.len() != 2 || !b.chars().all(|c| c.is_ascii_hexdigit()))
    {
        return None;
    }
    let ascii = rest.get(49..).unwrap_or("").chars().collect();
    Some(HexLine { offset, bytes, ascii })
}

fn parse_hexdump(dump: &str) -> Option<Vec<HexLine<'_>>> {
    dump.lines().map(parse_hex_line).collect()
}

/// Hexdumps side by side, the bytes that differ from the other side marked.
fn hex(out: &mut String, dump: &Sides<String>, labels: &Sides<&str>, budget: &mut Budget) {
    let (Some(a), Some(b)) = (parse_hexdump(&dump.a), parse_hexdump(&dump.b)) else {
        // Not in the form we write: show both as they are.
        let rows = budget.take_rows(2, 2);
        if rows == 2 {
            let max = budget.limits().cell_chars * 8;
            let _ = writeln!(
                out,
                "<table class=\"hex\"><tr><th>{}</th><th>{}</th></tr><tr><td>{}</td><td>{}</td></tr></table>",
                escape(labels.a),
                escape(labels.b),
                clipped(&dump.a, max),
                clipped(&dump.b, max)
            );
        }
        return;
    };
    let n = a.len().max(b.len());
    let shown = budget.take_rows(n, n);
    let _ = writeln!(
        out,
        "<div class=\"scroll\"><table class=\"hex\"><tr><th>offset</th><th colspan=\"2\">{}</th><th colspan=\"2\">{}</th></tr>",
        escape(labels.a),
        escape(labels.b)
    );
    for i in 0..shown {
        let (la, lb) = (a.get(i), b.get(i));
        let offset = la.or(lb).map_or("", |l| l.offset);
        let _ = write!(out, "<tr><td class=\"off\">{}</td>", escape(offset));
        for (this, other, class) in [(la, lb, "a"), (lb, la, "b")] {
            match this {
                Some(l) => {
                    let mut hex = String::new();
                    let mut ascii = String::new();
                    for (j, byte) in l.bytes.iter().enumerate() {
                        let differs = other.and_then(|o| o.bytes.get(j)) != Some(byte);
                        if j > 0 {
                            hex.push(' ');
                        }
                        let ch = l
                            .ascii
                            .get(j)
                            .map_or_else(String::new, |c| escape(&c.to_string()));
                        if differs {
                            let _ = write!(hex, "<mark class=\"{class}\">{}</mark>", escape(byte));
                            let _ = write!(ascii, "<mark class=\"{class}\">{ch}</mark>");
                        } else {
                            hex.push_str(&escape(byte));
                            ascii.push_str(&ch);
                        }
                    }
                    let _ = write!(out, "<td>{hex}</td><td>{ascii}</td>");
                }
                None => out.push_str("<td></td><td></td>"),
            }
        }
        out.push_str("</tr>\n");
    }
    if shown < n {
        let _ = writeln!(
            out,
            "<tr><td colspan=\"5\" class=\"cut\">… {} more lines not shown (page limit)</td></tr>",
            n - shown
        );
    }
    out.push_str("</table></div>\n");
}

/// Two lists in two columns; with `from`, entries at or after that index that differ are marked.
fn two_lists(
    out: &mut String,
    head_a: &str,
    a: &[String],
    head_b: &str,
    b: &[String],
    from: Option<u64>,
    budget: &mut Budget,
) {
    let n = a.len().max(b.len());
    let shown = budget.take_rows(n, LIST_ROWS);
    let max = budget.limits().cell_chars;
    let _ = writeln!(
        out,
        "<table class=\"strings\"><tr>{}<th>{}</th><th>{}</th></tr>",
        if from.is_some() {
            "<th class=\"ln\">#</th>"
        } else {
            ""
        },
        escape(head_a),
        escape(head_b)
    );
    for i in 0..shown {
        let (x, y) = (a.get(i), b.get(i));
        let _ = write!(out, "<tr>");
        let (cx, cy) = match from {
            Some(f) => {
                let _ = write!(out, "<td class=\"ln mono\">{i}</td>");
                if (i as u64) >= f && x != y {
                    ("del", "ins")
                } else {
                    ("", "")
                }
            }
            None => ("del", "ins"),
        };
        let cell = |v: Option<&String>, class: &str| match v {
            Some(v) => format!("<td class=\"{class}\">{}</td>", clipped(v, max)),
            None => "<td></td>".to_string(),
        };
        let _ = writeln!(out, "{}{}</tr>", cell(x, cx), cell(y, cy));
    }
    if shown < n {
        let _ = writeln!(
            out,
            "<tr><td colspan=\"3\" class=\"cut\">… {} more not shown (page limit)</td></tr>",
            n - shown
        );
    }
    out.push_str("</table></div>\n");
}
