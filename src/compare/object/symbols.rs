//! Symbol tables: names only one side has, and symbols whose value or size moved.

use std::borrow::Cow;
use std::collections::HashMap;

use super::{Change, Node, strings};

/// Symbols with a changed value or size shown as examples.
const MAX_EXAMPLES: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Symbol<'a> {
    pub name: Cow<'a, str>,
    pub value: u64,
    /// `None` where the format records no size (Mach-O).
    pub size: Option<u64>,
}

impl Symbol<'_> {
    fn describe(&self) -> String {
        match self.size {
            Some(size) => format!("{:#x} ({size} bytes)", self.value),
            None => format!("{:#x}", self.value),
        }
    }
}

/// Adds to `node` the symbol names present on one side only (`symbols`), how many symbols
/// present on both sides changed value or size, and a few examples of them.
pub(super) fn diff(node: &mut Node, a: &[Symbol<'_>], b: &[Symbol<'_>]) {
    let (na, nb) = (names(a), names(b));
    let (removed, added) = strings::multiset_diff(&na, &nb);
    if let Some(c) = strings::change("symbols", &removed, &added, |s| strings::show(s.as_bytes())) {
        node.changes.push(c);
    }
    // Same-named symbols (local statics of different files) are paired in table order.
    let mut by_name: HashMap<&str, Vec<&Symbol<'_>>> = HashMap::with_capacity(b.len());
    for s in b {
        by_name.entry(s.name.as_ref()).or_default().push(s);
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut changed = 0u64;
    let mut examples = Vec::new();
    for s in a {
        let k = seen.entry(s.name.as_ref()).or_default();
        let other = by_name.get(s.name.as_ref()).and_then(|v| v.get(*k));
        *k += 1;
        let Some(other) = other else { continue };
        if other.value != s.value || other.size != s.size {
            changed += 1;
            if examples.len() < MAX_EXAMPLES {
                examples.push(Change::field(
                    format!("symbol {}", strings::show(s.name.as_bytes())),
                    s.describe(),
                    other.describe(),
                ));
            }
        }
    }
    if changed > 0 {
        node.changes.push(Change::note(format!(
            "{changed} symbol(s) present on both sides changed value or size{}",
            if changed as usize > examples.len() {
                format!("; the first {} are listed", examples.len())
            } else {
                String::new()
            }
        )));
        node.changes.extend(examples);
    }
}

fn names<'s>(v: &'s [Symbol<'_>]) -> Vec<&'s str> {
    v.iter().map(|s| s.name.as_ref()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym(name: &str, value: u64, size: u64) -> Symbol<'static> {
        Symbol {
            name: Cow::Owned(name.to_string()),
            value,
            size: Some(size),
        }
    }

    #[test]
    fn reports_names_and_moved_symbols() {
        let a = vec![
            sym("main", 0x1000, 20),
            sym("old", 0x2000, 4),
            sym("s.0", 1, 1),
            sym("s.0", 2, 1),
        ];
        let b = vec![
            sym("main", 0x1010, 20),
            sym("new", 0x2000, 4),
            sym("s.0", 1, 1),
            sym("s.0", 2, 1),
        ];
        let mut n = Node::new("x");
        diff(&mut n, &a, &b);
        assert_eq!(
            n.changes,
            vec![
                Change::Strings {
                    field: "symbols".into(),
                    removed: vec!["old".into()],
                    added: vec!["new".into()],
                    omitted: 0
                },
                Change::note("1 symbol(s) present on both sides changed value or size"),
                Change::field("symbol main", "0x1000 (20 bytes)", "0x1010 (20 bytes)"),
            ]
        );
        let mut n = Node::new("x");
        diff(&mut n, &a, &a);
        assert!(n.changes.is_empty());
    }
}
