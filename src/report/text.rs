//! The human text report: a flat list of differing nodes by full path, most telling first,
//! with metadata-only differences of many siblings folded into one line unless verbose.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};

use super::{DiffVerdict, Summary};
use crate::compare::{Change, Comparison, Node, Status};

/// How much of the tree to show.
#[derive(Debug, Clone, Copy)]
pub struct TextOptions {
    /// Show everything: every node, every line kept in the tree.
    pub verbose: bool,
}

const FOLD_AT: usize = 4;
const NODES_PER_PARENT: usize = 40;
const DIFF_LINES: usize = 60;
const STRINGS_SHOWN: usize = 20;

pub(crate) const RED: Style = AnsiColor::Red.on_default();
pub(crate) const GREEN: Style = AnsiColor::Green.on_default();
pub(crate) const BOLD: Style = Style::new().bold();
pub(crate) const DIM: Style = Style::new().dimmed();
pub(crate) const CYAN: Style = AnsiColor::Cyan.on_default();
pub(crate) const YELLOW: Style = AnsiColor::Yellow.on_default();

pub(crate) fn paint(style: Style, text: &str) -> String {
    format!("{style}{text}{style:#}")
}

/// Renders the text report of a `repro diff` (with ANSI colour; the CLI strips it when the
/// output is not a terminal or `NO_COLOR` is set).
pub fn diff_report(c: &Comparison, opts: TextOptions) -> String {
    let mut out = String::new();
    let side = |mark: &str, style: Style, i: &crate::compare::InputInfo| {
        let mut s = format!("{} {}  ({}", paint(style, mark), i.path, i.format);
        if let Some(n) = i.size {
            let _ = write!(s, ", {}", human_size(n));
        }
        if let Some(d) = &i.sha256 {
            let _ = write!(s, ", sha256 {d}");
        }
        s.push_str(")\n");
        s
    };
    out.push_str(&side("---", RED, &c.a));
    out.push_str(&side("+++", GREEN, &c.b));
    let summary = Summary::of(c.root.as_ref());
    let verdict = match DiffVerdict::of(c) {
        DiffVerdict::Identical => paint(GREEN, "identical"),
        DiffVerdict::Different => paint(RED, "different"),
        DiffVerdict::Error => paint(RED, "incomplete (errors)"),
    };
    let _ = writeln!(
        out,
        "{verdict}: {} differing nodes, {} identical members, {} fallbacks ({:.2}s)",
        summary.differing_nodes,
        summary.identical_members,
        summary.fallbacks,
        c.elapsed.as_secs_f64()
    );
    for e in &c.errors {
        let _ = writeln!(out, "{} {e}", paint(RED, "error:"));
    }
    if !c.excluded.is_empty() {
        let _ = writeln!(out, "excluded ({}):", c.excluded.len());
        let shown = if opts.verbose { c.excluded.len() } else { 10 };
        for e in c.excluded.iter().take(shown) {
            let _ = writeln!(out, "  {e}");
        }
        if c.excluded.len() > shown {
            let _ = writeln!(out, "  … {} more (-v shows all)", c.excluded.len() - shown);
        }
    }
    if let Some(root) = &c.root {
        out.push('\n');
        render_node(&mut out, &[], root, opts);
    }
    out
}

fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// A node that differs only in scalar fields (no content, no children).
fn metadata_only(n: &Node) -> bool {
    n.status == Status::Changed
        && n.children.is_empty()
        && n.fallback.is_none()
        && !n.changes.is_empty()
        && n.changes.iter().all(|c| matches!(c, Change::Field { .. }))
}

/// Renders a difference tree (every differing node by its path below `parent`).
pub fn render_node(out: &mut String, parent: &[&str], node: &Node, opts: TextOptions) {
    let mut path: Vec<&str> = parent.to_vec();
    path.push(&node.name);
    let mut head = paint(BOLD, &path.join(" ▸ "));
    match node.status {
        Status::Added => head = format!("{} {head} (only in b)", paint(GREEN, "+")),
        Status::Removed => head = format!("{} {head} (only in a)", paint(RED, "-")),
        Status::Changed => {}
    }
    if let Some(f) = &node.format {
        let _ = write!(head, "  {}", paint(CYAN, &format!("[{f}]")));
    }
    if node.identical_members > 0 {
        let _ = write!(
            head,
            "  {}",
            paint(DIM, &format!("{} identical members", node.identical_members))
        );
    }
    let _ = writeln!(out, "{head}");
    if let Some(f) = &node.fallback {
        let _ = writeln!(
            out,
            "  {} compared as {} instead of {}: {}",
            paint(YELLOW, "fallback:"),
            f.to,
            f.from,
            f.reason
        );
    }
    for change in &node.changes {
        render_change(out, change, opts);
    }
    // Most telling first: children with content differences, then metadata-only ones.
    let (meta, telling): (Vec<&Node>, Vec<&Node>) = node.children.iter().partition(|n| metadata_only(n));
    let limit = if opts.verbose {
        usize::MAX
    } else {
        NODES_PER_PARENT
    };
    for child in telling.iter().take(limit) {
        render_node(out, &path, child, opts);
    }
    if telling.len() > limit {
        let _ = writeln!(
            out,
            "{}",
            paint(
                DIM,
                &format!(
                    "… {} more differing members of {} (-v shows all)",
                    telling.len() - limit,
                    node.name
                )
            )
        );
    }
    if opts.verbose || meta.len() < FOLD_AT {
        for child in meta {
            render_node(out, &path, child, opts);
        }
        return;
    }
    // Fold metadata-only siblings by the set of fields that differ.
    let mut groups: Vec<(Vec<&str>, Vec<&Node>)> = Vec::new();
    for n in meta {
        let names = n.field_names();
        match groups.iter_mut().find(|(k, _)| *k == names) {
            Some((_, v)) => v.push(n),
            None => groups.push((names, vec![n])),
        }
    }
    for (fields, nodes) in groups {
        if nodes.len() < FOLD_AT {
            for n in nodes {
                render_node(out, &path, n, opts);
            }
            continue;
        }
        let example = nodes[0];
        let _ = writeln!(
            out,
            "{} {} members differ only in {} (-v lists them), e.g. {}:",
            paint(BOLD, &path.join(" ▸ ")),
            nodes.len(),
            fields.join(", "),
            example.name
        );
        for change in &example.changes {
            render_change(out, change, opts);
        }
    }
}

fn or_absent(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("(absent)")
}

fn render_change(out: &mut String, change: &Change, opts: TextOptions) {
    match change {
        Change::Field { field, a, b } => {
            let _ = writeln!(
                out,
                "  {field}: {} → {}",
                paint(RED, or_absent(a)),
                paint(GREEN, or_absent(b))
            );
        }
        Change::Text {
            unified,
            lines_removed,
            lines_added,
            truncated,
        } => {
            let _ = writeln!(
                out,
                "  text: {lines_removed} lines removed, {lines_added} added{}",
                if *truncated {
                    " (diff cut to the limit)"
                } else {
                    ""
                }
            );
            let limit = if opts.verbose { usize::MAX } else { DIFF_LINES };
            let total = unified.lines().count();
            for line in unified.lines().take(limit) {
                let styled = if line.starts_with('+') {
                    paint(GREEN, line)
                } else if line.starts_with('-') {
                    paint(RED, line)
                } else if line.starts_with("@@") {
                    paint(CYAN, line)
                } else {
                    line.to_string()
                };
                let _ = writeln!(out, "    {styled}");
            }
            if total > limit {
                let _ = writeln!(
                    out,
                    "    {}",
                    paint(DIM, &format!("… {} more diff lines (-v)", total - limit))
                );
            }
        }
        Change::Bytes {
            first_offset,
            differing_bytes,
            hexdump,
        } => {
            let _ = writeln!(
                out,
                "  bytes: {differing_bytes} differ, first at offset {first_offset} (0x{first_offset:x})"
            );
            for (mark, style, dump) in [("a", RED, &hexdump.a), ("b", GREEN, &hexdump.b)] {
                for line in dump.lines() {
                    let _ = writeln!(out, "    {} {line}", paint(style, mark));
                }
            }
        }
        Change::Strings {
            field,
            removed,
            added,
            omitted,
        } => {
            let _ = writeln!(
                out,
                "  {field}: {} strings only in a, {} only in b{}",
                removed.len(),
                added.len(),
                if *omitted > 0 {
                    format!(" (+{omitted} more not listed)")
                } else {
                    String::new()
                }
            );
            let limit = if opts.verbose { usize::MAX } else { STRINGS_SHOWN };
            for (mark, style, list) in [("-", RED, removed), ("+", GREEN, added)] {
                for s in list.iter().take(limit) {
                    let _ = writeln!(out, "    {}", paint(style, &format!("{mark} {s}")));
                }
                if list.len() > limit {
                    let _ = writeln!(
                        out,
                        "    {}",
                        paint(DIM, &format!("… {} more (-v)", list.len() - limit))
                    );
                }
            }
        }
        Change::Order {
            field,
            first_difference,
            a,
            b,
        } => {
            let _ = writeln!(
                out,
                "  {field}: same members in another order, first difference at #{first_difference}"
            );
            let _ = writeln!(out, "    {} {}", paint(RED, "a:"), a.join(", "));
            let _ = writeln!(out, "    {} {}", paint(GREEN, "b:"), b.join(", "));
        }
        Change::Note { text } => {
            let _ = writeln!(out, "  {} {text}", paint(YELLOW, "note:"));
        }
    }
}
