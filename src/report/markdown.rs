//! The Markdown report, sized for a CI job summary. Every name and text from the inputs goes
//! through `crate::escape`: inside code spans with a fence no backtick can close, outside them
//! with Markdown's punctuation escaped, so a name can neither add links nor start a heading.

use std::fmt::Write as _;

use super::{DiffVerdict, Summary, fallbacks};
use crate::compare::{Change, Comparison, Node, Status};
use crate::escape::{markdown_code as code, markdown_fence, markdown_text as md};

/// Most differing nodes listed before the rest is summarised.
const MAX_NODES: usize = 200;
const MAX_LINES: usize = 80;

pub fn diff_report(c: &Comparison) -> String {
    let mut out = String::new();
    let verdict = match DiffVerdict::of(c) {
        DiffVerdict::Identical => "✅ identical",
        DiffVerdict::Different => "❌ different",
        DiffVerdict::Error => "⚠️ incomplete (errors)",
    };
    let s = Summary::of(c.root.as_ref());
    let _ = writeln!(out, "## repro diff: {verdict}\n");
    let _ = writeln!(out, "| | path | format | size | sha256 |\n|---|---|---|---|---|");
    for (side, i) in [("a", &c.a), ("b", &c.b)] {
        let _ = writeln!(
            out,
            "| {side} | {} | {} | {} | `{}` |",
            code(&i.path, true),
            i.format,
            i.size.map_or("-".into(), |n| n.to_string()),
            i.sha256.as_deref().unwrap_or("-")
        );
    }
    let _ = writeln!(
        out,
        "\n{} differing nodes · {} identical members · {} fallbacks · {} excluded\n",
        s.differing_nodes,
        s.identical_members,
        s.fallbacks,
        c.excluded.len()
    );
    for e in &c.errors {
        let _ = writeln!(out, "- ⚠️ error: {}", md(e));
    }
    let fb = fallbacks(c.root.as_ref());
    if !fb.is_empty() {
        let _ = writeln!(out, "### Fallbacks\n");
        for (path, why) in fb.iter().take(MAX_NODES) {
            let _ = writeln!(out, "- {}: {}", code(path, false), md(why));
        }
        out.push('\n');
    }
    if let Some(root) = &c.root {
        let _ = writeln!(out, "### Differences\n");
        let mut n = 0usize;
        let mut more = 0usize;
        root.walk(&mut Vec::new(), &mut |path, node| {
            if node.changes.is_empty() && node.status == Status::Changed && node.fallback.is_none() {
                return;
            }
            if n >= MAX_NODES {
                more += 1;
                return;
            }
            n += 1;
            render(&mut out, &path.join(" ▸ "), node);
        });
        if more > 0 {
            let _ = writeln!(out, "\n… and {more} more differing nodes (see the JSON report).");
        }
    }
    out
}

fn render(out: &mut String, path: &str, node: &Node) {
    let status = match node.status {
        Status::Added => " (only in b)",
        Status::Removed => " (only in a)",
        Status::Changed => "",
    };
    let _ = writeln!(out, "- **{}**{status}", code(path, false));
    for change in &node.changes {
        match change {
            Change::Field { field, a, b } => {
                let _ = writeln!(
                    out,
                    "  - {}: {} → {}",
                    md(field),
                    code(a.as_deref().unwrap_or("(absent)"), false),
                    code(b.as_deref().unwrap_or("(absent)"), false)
                );
            }
            Change::Text {
                unified,
                lines_removed,
                lines_added,
                ..
            } => {
                let (fence, lines) = markdown_fence(unified.lines().take(MAX_LINES));
                let _ = writeln!(
                    out,
                    "  <details><summary>text: {lines_removed} removed, {lines_added} added</summary>\n\n  {fence}diff"
                );
                for line in lines {
                    let _ = writeln!(out, "  {line}");
                }
                let _ = writeln!(out, "  {fence}\n  </details>");
            }
            Change::Bytes {
                first_offset,
                differing_bytes,
                ..
            } => {
                let _ = writeln!(
                    out,
                    "  - bytes: {differing_bytes} differ, first at offset {first_offset}"
                );
            }
            Change::Strings {
                field,
                removed,
                added,
                omitted,
            } => {
                let _ = writeln!(
                    out,
                    "  - {}: {} only in a, {} only in b{}",
                    md(field),
                    removed.len(),
                    added.len(),
                    if *omitted > 0 {
                        format!(", {omitted} more")
                    } else {
                        String::new()
                    }
                );
                for s in removed.iter().take(5) {
                    let _ = writeln!(out, "    - `-` {}", code(s, false));
                }
                for s in added.iter().take(5) {
                    let _ = writeln!(out, "    - `+` {}", code(s, false));
                }
            }
            Change::Order {
                field,
                first_difference,
                ..
            } => {
                let _ = writeln!(
                    out,
                    "  - {}: another order, first difference at #{first_difference}",
                    md(field)
                );
            }
            Change::Note { text } => {
                let _ = writeln!(out, "  - note: {}", md(text));
            }
        }
    }
    if let Some(f) = &node.fallback {
        let _ = writeln!(out, "  - fallback to {}: {}", f.to, md(&f.reason));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::hostile_names;

    #[test]
    fn names_cannot_inject_markdown_or_terminal_sequences() {
        let md = diff_report(&hostile_names());
        for raw in ['\r', '\x1b', '\x07', '\u{9b}', '\u{202e}'] {
            assert!(!md.contains(raw), "raw {raw:?} in:\n{md}");
        }
        // Only our own headings start a line with `#`.
        let headings: Vec<&str> = md.lines().filter(|l| l.trim_start().starts_with('#')).collect();
        assert_eq!(
            headings,
            ["## repro diff: ❌ different", "### Differences"],
            "{md}"
        );
        // The backtick name stays inside one code span: a fence of two backticks around it.
        assert!(
            md.contains("- **``a vs b ▸ tick` **[CLICK ME](mailto:evil@example.com)** `end``**"),
            "{md}"
        );
        for line in md.lines().filter(|l| l.contains("CLICK")) {
            assert_eq!(line.matches("``").count(), 2, "{line}");
        }
    }
}
