//! Text comparison: a unified diff (similar), cut to a line limit.

use std::time::Duration;

use similar::{Algorithm, DiffTag, TextDiff};

use super::{Change, Comparator, CompareError, Context, Format, Node, Source};

pub struct TextComparator;

impl Comparator for TextComparator {
    fn name(&self) -> &'static str {
        "text"
    }

    fn formats(&self) -> &'static [Format] {
        &[Format::Text]
    }

    fn compare(&self, cx: &Context<'_>, a: &Source, b: &Source, node: &mut Node) -> Result<(), CompareError> {
        let limit = cx.options().max_text_bytes;
        let (x, y) = rayon::join(|| a.blob(limit), || b.blob(limit));
        let (x, y) = (x?, y?);
        let (x, y) = (String::from_utf8_lossy(&x), String::from_utf8_lossy(&y));
        if let Some(c) = unified(&x, &y, cx.options().max_diff_lines) {
            node.changes.push(c);
        }
        Ok(())
    }
}

/// A `Change::Text` for two texts, or `None` when they are equal.
pub fn unified(a: &str, b: &str, max_lines: usize) -> Option<Change> {
    if a == b {
        return None;
    }
    let diff = TextDiff::configure()
        .algorithm(Algorithm::Myers)
        .timeout(Duration::from_secs(5))
        .diff_lines(a, b);
    let (mut removed, mut added) = (0u64, 0u64);
    for op in diff.ops() {
        match op.tag() {
            DiffTag::Delete => removed += op.old_range().len() as u64,
            DiffTag::Insert => added += op.new_range().len() as u64,
            DiffTag::Replace => {
                removed += op.old_range().len() as u64;
                added += op.new_range().len() as u64;
            }
            DiffTag::Equal => {}
        }
    }
    let mut text = String::new();
    let mut lines = 0usize;
    let mut truncated = false;
    for hunk in diff.unified_diff().context_radius(3).iter_hunks() {
        let hunk = hunk.to_string();
        for line in hunk.lines() {
            if lines >= max_lines {
                truncated = true;
                break;
            }
            text.push_str(line);
            text.push('\n');
            lines += 1;
        }
        if truncated {
            break;
        }
    }
    if text.is_empty() {
        // Only a missing final newline, or line endings, differ.
        text = "(the texts differ only in line endings or a final newline)\n".into();
    }
    Some(Change::Text {
        unified: text,
        lines_removed: removed,
        lines_added: added,
        truncated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unified_diff_counts_and_truncates() {
        let a: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let b = a.replace("line 50\n", "line fifty\n").replace("line 10\n", "");
        let Some(Change::Text {
            unified,
            lines_removed,
            lines_added,
            truncated,
        }) = unified(&a, &b, 1000)
        else {
            panic!("expected a text change");
        };
        assert_eq!((lines_removed, lines_added, truncated), (2, 1, false));
        assert!(unified.contains("-line 50\n+line fifty\n"), "{unified}");
        let Some(Change::Text {
            truncated, unified, ..
        }) = super::unified(&a, &b, 3)
        else {
            panic!()
        };
        assert!(truncated);
        assert_eq!(unified.lines().count(), 3);
        assert!(super::unified("x", "x", 10).is_none());
    }
}
