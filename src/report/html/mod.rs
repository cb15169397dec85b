//! The HTML report: one self-contained page with no scripts and nothing fetched (a
//! `default-src 'none'` content security policy; inline styles only). The summary comes first,
//! then the difference tree as nested `<details>` (collapsible without scripts) with
//! side-by-side text diffs and hexdumps. Every name and value is escaped: file names and
//! contents come from the inputs. The page is bounded: past its limits it says what it left out.

mod check;
mod rebuild;
mod tree;

pub use check::{check, check_with};
pub use rebuild::rebuild;

use std::fmt::Write as _;

use super::text::human_size;
use super::{DiffVerdict, Summary, fallbacks};
use crate::compare::{Comparison, InputInfo, Sides};

/// The page's content security policy: nothing may be fetched or run; inline styles and
/// `data:` images only.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

/// How much one page may hold before it says what it left out.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Differing nodes rendered across all trees of the page.
    pub nodes: usize,
    /// Table rows (diff lines, hexdump lines, strings, list entries) across the page.
    pub rows: usize,
    /// Rows of one text diff.
    pub rows_per_diff: usize,
    /// Characters of one cell (a diff line, a value) before it is cut.
    pub cell_chars: usize,
    /// Bytes of rendered trees; past it no further node is rendered.
    pub tree_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            nodes: 2_000,
            rows: 20_000,
            rows_per_diff: 500,
            cell_chars: 2_000,
            tree_bytes: 16 << 20,
        }
    }
}

/// What is left of the page's limits, and what was left out.
pub(crate) struct Budget {
    limits: Limits,
    nodes_left: usize,
    rows_left: usize,
    /// Nodes rendered so far (for opening only the first ones).
    pub(crate) nodes_rendered: usize,
    pub(crate) nodes_skipped: usize,
    pub(crate) rows_skipped: usize,
}

impl Budget {
    pub(crate) fn new(limits: Limits) -> Self {
        Budget {
            limits,
            nodes_left: limits.nodes,
            rows_left: limits.rows,
            nodes_rendered: 0,
            nodes_skipped: 0,
            rows_skipped: 0,
        }
    }

    /// Takes one node from the budget, unless it or the byte budget (measured on `out`) is spent.
    pub(crate) fn take_node(&mut self, out: &str) -> bool {
        if self.nodes_left == 0 || out.len() >= self.limits.tree_bytes {
            return false;
        }
        self.nodes_left -= 1;
        self.nodes_rendered += 1;
        true
    }

    /// How many of `wanted` rows one table may render (`cap` is its own limit).
    pub(crate) fn take_rows(&mut self, wanted: usize, cap: usize) -> usize {
        let n = wanted.min(cap).min(self.rows_left);
        self.rows_left -= n;
        self.rows_skipped += wanted - n;
        n
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    pub(crate) fn capped(&self) -> bool {
        self.nodes_skipped > 0 || self.rows_skipped > 0
    }
}

/// Escapes text for element content and quoted attribute values. Control characters are shown
/// as their visible symbols (`␀`, `␍`) rather than passed to the parser.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    push_escaped(&mut out, s);
    out
}

pub(crate) fn push_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(c),
            '\u{0}'..='\u{1f}' => out.push(char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}')),
            '\u{7f}' => out.push('\u{2421}'),
            c if c.is_control() => out.push('\u{fffd}'),
            // The characters that reorder or hide text (bidi overrides), shown by code point.
            c if crate::escape::hidden(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// Escapes `s`, cut to `max` characters with a note of how many were left out.
pub(crate) fn clipped(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => escape(s),
        Some((at, _)) => {
            let rest = s[at..].chars().count();
            let mut out = escape(&s[..at]);
            let _ = write!(out, "<span class=\"cut\">… {rest} more characters</span>");
            out
        }
    }
}

/// The note a page shows at the top when something was left out.
fn capped_note(b: &Budget) -> String {
    if !b.capped() {
        return String::new();
    }
    format!(
        "<p class=\"capped\">This page is cut to stay readable: {} differing nodes and {} lines \
         were left out. The JSON report (<code>--json</code>) has everything.</p>\n",
        b.nodes_skipped, b.rows_skipped
    )
}

/// A whole page around `body`.
pub(crate) fn page(title: &str, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + STYLE.len() + 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    let _ = writeln!(
        out,
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">"
    );
    out.push_str("<meta name=\"referrer\" content=\"no-referrer\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(
        out,
        "<meta name=\"generator\" content=\"repro {}\">",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(out, "<title>{}</title>", escape(title));
    let _ = writeln!(out, "<style>{STYLE}</style>\n</head>\n<body>");
    out.push_str(body);
    let _ = writeln!(
        out,
        "<footer>repro {} · a self-contained page: nothing here is fetched or run</footer>\n</body>\n</html>",
        env!("CARGO_PKG_VERSION")
    );
    out
}

/// The HTML report of a `repro diff`, with the default limits.
pub fn diff(c: &Comparison) -> String {
    diff_with(c, &Limits::default())
}

/// The HTML report of a `repro diff`: verdict, inputs, counts, errors, fallbacks, exclusions,
/// then the difference tree.
pub fn diff_with(c: &Comparison, limits: &Limits) -> String {
    let mut budget = Budget::new(*limits);
    let mut tree_html = String::new();
    if let Some(root) = &c.root {
        tree::render(&mut tree_html, root, Sides::new("a", "b"), &mut budget);
    }
    let verdict = DiffVerdict::of(c);
    let (class, word) = match verdict {
        DiffVerdict::Identical => ("good", "identical"),
        DiffVerdict::Different => ("bad", "different"),
        DiffVerdict::Error => ("warn", "incomplete (errors)"),
    };
    let s = Summary::of(c.root.as_ref());
    let mut body = String::new();
    let _ = writeln!(
        body,
        "<header><h1>repro diff <span class=\"verdict {class}\" id=\"verdict\">{word}</span></h1></header>\n<main>\n<section id=\"summary\">\n<h2>Summary</h2>"
    );
    // The lists count against the budget too: render them before saying what was left out.
    let mut lists = String::new();
    fallback_list(&mut lists, &fallbacks(c.root.as_ref()), &mut budget);
    excluded_list(&mut lists, &c.excluded, &mut budget);
    body.push_str(&capped_note(&budget));
    body.push_str("<table class=\"kv inputs\"><tr><th></th><th>path</th><th>format</th><th>size</th><th>sha256</th></tr>\n");
    for (side, i) in [("a", &c.a), ("b", &c.b)] {
        input_row(&mut body, side, i);
    }
    body.push_str("</table>\n");
    let _ = writeln!(
        body,
        "<p class=\"counts\"><b>{}</b> differing nodes · <b>{}</b> identical members · <b>{}</b> fallbacks · <b>{}</b> excluded · {:.2}s</p>",
        s.differing_nodes,
        s.identical_members,
        s.fallbacks,
        c.excluded.len(),
        c.elapsed.as_secs_f64()
    );
    if !c.errors.is_empty() {
        body.push_str("<ul class=\"errors\">\n");
        for e in &c.errors {
            let _ = writeln!(body, "<li><b>error:</b> {}</li>", clipped(e, limits.cell_chars));
        }
        body.push_str("</ul>\n");
    }
    body.push_str(&lists);
    body.push_str("</section>\n");
    if c.root.is_some() {
        body.push_str("<section id=\"differences\">\n<h2>Differences</h2>\n");
        body.push_str(&tree_html);
        body.push_str("</section>\n");
    }
    body.push_str("</main>\n");
    page(&format!("repro diff: {word}"), &body)
}

fn input_row(out: &mut String, side: &str, i: &InputInfo) {
    let _ = writeln!(
        out,
        "<tr><th>{side}</th><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td class=\"mono digest\">{}</td></tr>",
        escape(&i.path),
        escape(i.format.name()),
        i.size.map_or_else(|| "–".into(), human_size),
        i.sha256.as_deref().map_or_else(|| "–".into(), escape)
    );
}

/// The nodes whose comparator fell back, with their reasons.
pub(crate) fn fallback_list(out: &mut String, list: &[(String, String)], budget: &mut Budget) {
    if list.is_empty() {
        return;
    }
    let shown = budget.take_rows(list.len(), 200);
    let _ = writeln!(
        out,
        "<details class=\"list\"><summary>{} fallbacks (compared more simply than the format called for)</summary><ul>",
        list.len()
    );
    for (path, why) in list.iter().take(shown) {
        let _ = writeln!(
            out,
            "<li><span class=\"mono\">{}</span>: {}</li>",
            clipped(path, 500),
            clipped(why, 500)
        );
    }
    more_items(out, list.len() - shown);
    out.push_str("</ul></details>\n");
}

/// The paths `--exclude` left out.
pub(crate) fn excluded_list(out: &mut String, list: &[String], budget: &mut Budget) {
    if list.is_empty() {
        return;
    }
    let shown = budget.take_rows(list.len(), 500);
    let _ = writeln!(
        out,
        "<details class=\"list\"><summary>{} excluded paths</summary><ul class=\"mono\">",
        list.len()
    );
    for e in list.iter().take(shown) {
        let _ = writeln!(out, "<li>{}</li>", clipped(e, 500));
    }
    more_items(out, list.len() - shown);
    out.push_str("</ul></details>\n");
}

fn more_items(out: &mut String, n: usize) {
    if n > 0 {
        let _ = writeln!(out, "<li class=\"cut\">… {n} more not shown</li>");
    }
}

/// The page's only styling: light, system fonts, monospace for data, printable.
const STYLE: &str = r#"
:root { color-scheme: light; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg2: #f6f8fa;
  --del: #ffebe9; --del-strong: #ffb8b0; --ins: #dafbe1; --ins-strong: #8ee6a1;
  --good: #1a7f37; --bad: #cf222e; --warn: #9a6700; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1400px; padding: 1.5rem 2rem; color: var(--fg); background: #fff;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif; }
h1 { font-size: 1.7rem; margin: 0 0 1rem; display: flex; align-items: center; gap: .8rem; flex-wrap: wrap; }
h2 { font-size: 1.3rem; border-bottom: 1px solid var(--line); padding-bottom: .3rem; margin-top: 2rem; }
h3 { font-size: 1.1rem; margin: 1.2rem 0 .5rem; }
code, .mono, .name, table.sbs td, table.hex td, pre { font-family: ui-monospace, "SFMono-Regular",
  "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 13px; }
h1 .mono { font-size: inherit; font-weight: 600; }
td code { background: var(--bg2); padding: 0 .2rem; border-radius: 3px; }
td.hint code { background: #fff; }
.verdict { display: inline-block; padding: .15rem .8rem; border-radius: .4rem; color: #fff; font-size: 1.5rem; }
.verdict.good { background: var(--good); } .verdict.bad { background: var(--bad); }
.verdict.warn { background: var(--warn); }
.badge { display: inline-block; padding: 0 .45rem; border-radius: 1rem; border: 1px solid var(--line);
  background: var(--bg2); font-size: .85em; margin: 0 .15rem; }
.badge.bad { background: var(--del); border-color: var(--del-strong); color: #82071e; font-weight: 600; }
.badge.good { background: var(--ins); border-color: var(--ins-strong); color: #116329; }
.badge.warn, .warn-text { color: var(--warn); font-weight: 600; }
table { border-collapse: collapse; margin: .4rem 0 .8rem; }
th, td { border: 1px solid var(--line); padding: .2rem .5rem; vertical-align: top; text-align: left; }
th { background: var(--bg2); font-weight: 600; }
table.kv th { white-space: nowrap; }
.digest { word-break: break-all; }
.counts { font-size: 1.05rem; }
.capped, .errors li { background: #fff8c5; border: 1px solid #d4a72c; padding: .4rem .7rem; border-radius: .3rem; }
.errors { list-style: none; padding: 0; }
.cut { color: var(--muted); font-style: italic; }
.muted, .meta { color: var(--muted); }
ul.notes li { margin: .2rem 0; }
table.findings { width: 100%; }
table.findings td.hint { background: #ddf4ff; width: 32%; } table.findings td.evidence { width: 30%; }
table.findings td, table.runs td { max-width: 40rem; }
details.node { margin: .25rem 0 .25rem 0; border-left: 2px solid var(--line); padding-left: .6rem; }
details.node > summary { cursor: pointer; padding: .1rem 0; }
details.node > summary:hover { background: var(--bg2); }
details.node > .body { margin-left: .4rem; }
.name { font-weight: 600; word-break: break-all; }
.st { font-size: .8em; padding: 0 .35rem; border-radius: .3rem; margin-right: .3rem; }
.st.added { background: var(--ins); color: #116329; } .st.removed { background: var(--del); color: #82071e; }
.st.changed { background: #ddf4ff; color: #0550ae; }
.fmt { color: #8250df; font-size: .85em; }
.path { color: var(--muted); font-size: .85em; word-break: break-all; }
.fallback { background: #fff8c5; padding: .2rem .5rem; border-radius: .3rem; display: inline-block; margin: .2rem 0; }
.note { color: var(--warn); margin: .2rem 0; }
table.sbs, table.fields, table.strings { width: 100%; table-layout: fixed; }
table.hex { width: auto; margin: 0; } table.hex td, table.hex th { padding: .1rem .4rem; font-size: 12px; }
.scroll { overflow-x: auto; margin: .4rem 0 .8rem; }
table.sbs td, table.fields td, table.strings td { white-space: pre-wrap; word-break: break-all; }
table.sbs td.ln { width: 4.2em; text-align: right; color: var(--muted); background: var(--bg2); user-select: none; }
table.sbs tr.hunk td { background: #ddf4ff; color: #0550ae; }
table.sbs th.ln { width: 4.2em; }
td.del { background: var(--del); } td.ins { background: var(--ins); }
td.del mark { background: var(--del-strong); } td.ins mark { background: var(--ins-strong); }
mark { color: inherit; border-radius: 2px; }
table.hex td { white-space: pre; } table.hex td.off { color: var(--muted); width: 7em; }
table.hex td mark.a { background: var(--del-strong); } table.hex td mark.b { background: var(--ins-strong); }
table.fields th:first-child { width: 14em; }
details.list summary { cursor: pointer; }
footer { margin-top: 3rem; color: var(--muted); font-size: .85em; border-top: 1px solid var(--line); padding-top: .5rem; }
@media print {
  body { max-width: none; padding: 0; font-size: 11px; }
  details::details-content { content-visibility: visible; display: block; }
  details > summary { list-style: none; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  table.sbs, table.hex { page-break-inside: auto; } tr { page-break-inside: avoid; }
}
"#;

#[cfg(test)]
mod tests;
