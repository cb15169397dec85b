//! The human text report: a flat list of differing nodes by full path, most telling first,
//! with metadata-only differences of many siblings folded into one line unless verbose. On a
//! terminal it is brief (the summary and the first differences); `-v` shows everything.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};

use super::{DiffVerdict, Summary};
use crate::compare::{Change, Comparison, Node, Status};
use crate::escape::{shown, text as line};

/// How much of the tree to show.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextOptions {
    /// Show everything: every node, every line kept in the tree.
    pub verbose: bool,
    /// Show a terminal's short report: the summary and the first few differences (ignored
    /// with `verbose`).
    pub brief: bool,
}

impl TextOptions {
    /// Everything with `-v`; otherwise brief on a terminal and the usual report elsewhere (pipes,
    /// files and scripts keep their output).
    pub fn new(verbose: bool, terminal: bool) -> Self {
        TextOptions {
            verbose,
            brief: terminal && !verbose,
        }
    }

    /// The limit that applies: everything when verbose, `brief` on a terminal, else `normal`.
    pub(crate) fn limit(self, normal: usize, brief: usize) -> usize {
        if self.verbose {
            usize::MAX
        } else if self.brief {
            brief
        } else {
            normal
        }
    }
}

const FOLD_AT: usize = 4;
const NODES_PER_PARENT: usize = 40;
const DIFF_LINES: usize = 60;
const STRINGS_SHOWN: usize = 20;
/// Nodes of one tree a brief report shows.
const BRIEF_NODES: usize = 12;
const BRIEF_DIFF_LINES: usize = 12;
const BRIEF_STRINGS: usize = 5;
const BRIEF_HEX_LINES: usize = 4;
const BRIEF_ORDER: usize = 12;

/// The last line of a brief report.
pub(crate) const BRIEF_FOOTER: &str =
    "(short report for a terminal: -v shows everything; --json and --html keep it all)";

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
        let mut s = format!("{} {}  ({}", paint(style, mark), shown(&i.path), i.format);
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
        let _ = writeln!(out, "{} {}", paint(RED, "error:"), shown(e));
    }
    if !c.excluded.is_empty() {
        let _ = writeln!(out, "excluded ({}):", c.excluded.len());
        let shown = opts.limit(10, 3).min(c.excluded.len());
        for e in c.excluded.iter().take(shown) {
            let _ = writeln!(out, "  {}", self::shown(e));
        }
        if c.excluded.len() > shown {
            let _ = writeln!(out, "  … {} more (-v shows all)", c.excluded.len() - shown);
        }
    }
    if let Some(root) = &c.root {
        out.push('\n');
        render_node(&mut out, &[], root, opts);
        if opts.brief && !opts.verbose {
            let _ = writeln!(out, "{}", paint(DIM, BRIEF_FOOTER));
        }
    }
    out
}

/// A byte count in binary units (`41.2 MiB`).
pub(crate) fn human_size(n: u64) -> String {
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

/// Renders a difference tree (every differing node by its path below `parent`; in a brief
/// report only the first ones, then how many were left out).
pub fn render_node(out: &mut String, parent: &[&str], node: &Node, opts: TextOptions) {
    let mut budget = NodeBudget {
        left: opts.limit(usize::MAX, BRIEF_NODES),
        skipped: 0,
    };
    render_node_within(out, parent, node, opts, &mut budget);
    if budget.skipped > 0 {
        let _ = writeln!(
            out,
            "{}",
            paint(
                DIM,
                &format!("… {} more differing nodes (-v shows all)", budget.skipped)
            )
        );
    }
}

/// Nodes a report may still show, and how many it left out.
struct NodeBudget {
    left: usize,
    skipped: usize,
}

impl NodeBudget {
    /// Takes `n` nodes' worth (shown as one entry), or counts them as left out.
    fn take(&mut self, n: usize) -> bool {
        if self.left == 0 {
            self.skipped += n;
            return false;
        }
        self.left -= 1;
        true
    }
}

fn render_node_within(
    out: &mut String,
    parent: &[&str],
    node: &Node,
    opts: TextOptions,
    budget: &mut NodeBudget,
) {
    if !budget.take(1) {
        budget.skipped += node.count() - 1;
        return;
    }
    let mut path: Vec<&str> = parent.to_vec();
    path.push(&node.name);
    let mut head = paint(BOLD, &shown(&path.join(" ▸ ")));
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
            shown(&f.reason)
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
        render_node_within(out, &path, child, opts, budget);
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
                    shown(&node.name)
                )
            )
        );
    }
    if opts.verbose || meta.len() < FOLD_AT {
        for child in meta {
            render_node_within(out, &path, child, opts, budget);
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
                render_node_within(out, &path, n, opts, budget);
            }
            continue;
        }
        if !budget.take(nodes.len()) {
            continue;
        }
        let example = nodes[0];
        let _ = writeln!(
            out,
            "{} {} members differ only in {} (-v lists them), e.g. {}:",
            paint(BOLD, &shown(&path.join(" ▸ "))),
            nodes.len(),
            shown(&fields.join(", ")),
            shown(&example.name)
        );
        for change in &example.changes {
            render_change(out, change, opts);
        }
    }
}

fn or_absent(v: &Option<String>) -> std::borrow::Cow<'_, str> {
    v.as_deref().map_or("(absent)".into(), shown)
}

fn render_change(out: &mut String, change: &Change, opts: TextOptions) {
    match change {
        Change::Field { field, a, b } => {
            let _ = writeln!(
                out,
                "  {}: {} → {}",
                shown(field),
                paint(RED, &or_absent(a)),
                paint(GREEN, &or_absent(b))
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
            let limit = opts.limit(DIFF_LINES, BRIEF_DIFF_LINES);
            let total = unified.lines().count();
            for raw in unified.lines().take(limit) {
                // Content lines are not names: escaped in full, so that a literal `\x1b` and
                // an ESC byte do not look alike.
                let text = line(raw);
                let styled = if raw.starts_with('+') {
                    paint(GREEN, &text)
                } else if raw.starts_with('-') {
                    paint(RED, &text)
                } else if raw.starts_with("@@") {
                    paint(CYAN, &text)
                } else {
                    text.into_owned()
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
                for l in dump.lines().take(opts.limit(usize::MAX, BRIEF_HEX_LINES)) {
                    let _ = writeln!(out, "    {} {}", paint(style, mark), line(l));
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
                "  {}: {} strings only in a, {} only in b{}",
                shown(field),
                removed.len(),
                added.len(),
                if *omitted > 0 {
                    format!(" (+{omitted} more not listed)")
                } else {
                    String::new()
                }
            );
            let limit = opts.limit(STRINGS_SHOWN, BRIEF_STRINGS);
            for (mark, style, list) in [("-", RED, removed), ("+", GREEN, added)] {
                for s in list.iter().take(limit) {
                    let _ = writeln!(out, "    {}", paint(style, &format!("{mark} {}", shown(s))));
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
                "  {}: same members in another order, first difference at #{first_difference}",
                shown(field)
            );
            let limit = opts.limit(usize::MAX, BRIEF_ORDER);
            for (mark, style, list) in [("a:", RED, a), ("b:", GREEN, b)] {
                let mut names =
                    shown(&list.iter().take(limit).cloned().collect::<Vec<_>>().join(", ")).into_owned();
                if list.len() > limit {
                    let _ = write!(names, ", … {} more (-v)", list.len() - limit);
                }
                let _ = writeln!(out, "    {} {names}", paint(style, mark));
            }
        }
        Change::Note { text } => {
            let _ = writeln!(out, "  {} {}", paint(YELLOW, "note:"), shown(text));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::{comparison, evil_tree};

    fn plain(s: &str) -> String {
        anstream::adapter::strip_str(s).to_string()
    }

    /// A tree with many members whose contents differ, each with a long text diff.
    fn wide_tree() -> Node {
        let mut root = evil_tree();
        for i in 0..30 {
            let a: String = (0..40).map(|l| format!("{i} line {l}\n")).collect();
            let b = a.replace(" line ", " LINE ");
            let mut n = Node::new(format!("file{i:02}.txt"));
            n.changes
                .push(crate::compare::text::unified(&a, &b, 1000).expect("differ"));
            root.children.push(n);
        }
        root
    }

    #[test]
    fn brief_report_is_short_and_says_how_to_see_everything() {
        let c = comparison(Some(wide_tree()));
        let normal = plain(&diff_report(&c, TextOptions::new(false, false)));
        let brief = plain(&diff_report(&c, TextOptions::new(false, true)));
        let full = plain(&diff_report(&c, TextOptions::new(true, true)));
        assert!(
            brief.lines().count() * 4 < normal.lines().count(),
            "brief:\n{brief}"
        );
        assert!(normal.lines().count() <= full.lines().count());
        // The summary is all there.
        for s in [&brief, &normal, &full] {
            assert!(s.starts_with("--- a/<b>.tar"), "{s}");
            assert!(s.contains("different: 34 differing nodes"), "{s}");
        }
        // The first differences, then how many more and how to see them.
        assert!(brief.contains("in.tar ▸ dir/<script>"), "{brief}");
        assert!(brief.contains("more differing nodes (-v shows all)"), "{brief}");
        assert!(brief.contains("-v shows everything"), "{brief}");
        assert!(!normal.contains("-v shows everything") && !full.contains("-v shows everything"));
        assert!(full.contains("file29.txt") && normal.contains("file29.txt"));
        assert!(!brief.contains("file29.txt"));
        // Diffs are cut shorter.
        assert!(brief.contains("more diff lines (-v)"), "{brief}");
        assert!(full.contains("29 LINE 39"));
    }

    #[test]
    fn hostile_names_are_shown_escaped_and_apart() {
        let c = crate::report::fixtures::hostile_names();
        let out = plain(&diff_report(&c, TextOptions::new(true, false)));
        for raw in ['\r', '\x1b', '\x07', '\u{9b}', '\u{202e}'] {
            assert!(!out.contains(raw), "raw {raw:?} in:\n{out}");
        }
        // No name adds a line of its own, and names that differed only in an escape sequence
        // still differ.
        assert!(!out.lines().any(|l| l.starts_with("# repro")), "{out}");
        for shown in [
            "cr\\x0dover",
            "c1\\u{9b}31m",
            "esc\\x1b[31mRED\\x1b[0m",
            "esc\\x1b[32mRED\\x1b[0m",
            "osc\\x1b]0;TITLE\\x07",
            "rlo\\u{202e}txt.exe",
            "nl\\x0a\\x0a# repro: identical ✅\\x0a\\x0ax",
        ] {
            assert!(out.contains(shown), "{shown} not in:\n{out}");
        }
    }

    #[test]
    fn options_follow_the_terminal_unless_verbose() {
        let o = TextOptions::new(false, true);
        assert!(o.brief && !o.verbose);
        assert!(
            !TextOptions::new(false, false).brief,
            "pipes keep the usual report"
        );
        assert!(
            !TextOptions::new(true, true).brief,
            "-v shows everything on a terminal"
        );
        assert_eq!(o.limit(60, 12), 12);
        assert_eq!(TextOptions::new(false, false).limit(60, 12), 60);
        assert_eq!(TextOptions::new(true, false).limit(60, 12), usize::MAX);
    }
}
