//! Pairing the members of two archives by name: the key-and-occurrence core (`pair`) every
//! archive comparator uses (tar too), and `Matched` for those whose members are a flat list
//! (`ar`, `cpio`): a name that occurs several times is paired by occurrence, excluded names are
//! left out (and recorded once), and a change of order among the common members is one `Order`
//! change.

use std::collections::HashMap;

use super::{Change, Context, Node};

/// How many names of each side an order change shows, from the first difference on.
const ORDER_WINDOW: usize = 20;

/// Members matched by name; a name that occurs several times (common in static libraries) is
/// matched by occurrence.
pub(crate) struct Matched {
    /// (index in a, index in b) of the members on both sides, in a's order.
    pub common: Vec<(usize, usize)>,
    pub removed: Vec<usize>,
    pub added: Vec<usize>,
    pub labels_a: Vec<String>,
    pub labels_b: Vec<String>,
}

/// Each member's node name: its name (already in shown form, `crate::escape`), marked when the
/// name occurs more than once.
fn labels(names: &[&str], occ: &[u32]) -> Vec<String> {
    names
        .iter()
        .zip(occ)
        .map(|(&name, &o)| {
            if o == 0 {
                name.to_string()
            } else {
                format!("{name} (occurrence {})", o + 1)
            }
        })
        .collect()
}

/// A name taken from an input as text, shown (`crate::escape`).
pub(crate) fn shown_name(name: &str) -> String {
    crate::escape::name_str(name).into_owned()
}

/// Members of two archives paired by key and occurrence (the core every archive comparator
/// shares): indexes of the common pairs in a's order, of a's unpaired members and b's, and each
/// member's occurrence of its key. Members for which `excluded_a(i)` / `excluded_b(j)` holds
/// are left out.
pub(crate) struct Pairing {
    pub common: Vec<(usize, usize)>,
    pub removed: Vec<usize>,
    pub added: Vec<usize>,
    pub occ_a: Vec<u32>,
    pub occ_b: Vec<u32>,
}

/// Each key's occurrence number (0 for its first appearance).
fn occurrences(keys: &[&str]) -> Vec<u32> {
    let mut seen: HashMap<&str, u32> = HashMap::with_capacity(keys.len());
    keys.iter()
        .map(|&k| {
            let n = seen.entry(k).or_insert(0);
            *n += 1;
            *n - 1
        })
        .collect()
}

pub(crate) fn pair(
    a: &[&str],
    b: &[&str],
    excluded_a: impl Fn(usize) -> bool,
    excluded_b: impl Fn(usize) -> bool,
) -> Pairing {
    let (occ_a, occ_b) = (occurrences(a), occurrences(b));
    let index_b: HashMap<(&str, u32), usize> = b
        .iter()
        .zip(&occ_b)
        .enumerate()
        .map(|(j, (&key, &o))| ((key, o), j))
        .collect();
    let mut matched_b = vec![false; b.len()];
    let (mut common, mut removed) = (Vec::new(), Vec::new());
    for (i, (&key, &o)) in a.iter().zip(&occ_a).enumerate() {
        if excluded_a(i) {
            continue;
        }
        match index_b.get(&(key, o)) {
            Some(&j) => {
                common.push((i, j));
                if let Some(x) = matched_b.get_mut(j) {
                    *x = true;
                }
            }
            None => removed.push(i),
        }
    }
    let added = matched_b
        .iter()
        .enumerate()
        .filter(|&(j, done)| !*done && !excluded_b(j))
        .map(|(j, _)| j)
        .collect();
    Pairing {
        common,
        removed,
        added,
        occ_a,
        occ_b,
    }
}

impl Matched {
    /// Pairs the members named `a` with those named `b` (both in archive order).
    pub(crate) fn new(cx: &Context<'_>, a: &[&str], b: &[&str]) -> Self {
        // Ask once per name, so each excluded name is recorded once.
        let mut excluded: HashMap<&str, bool> = HashMap::new();
        for &name in a.iter().chain(b) {
            excluded.entry(name).or_insert_with(|| cx.excluded(name));
        }
        let is_excluded = |name: &str| excluded.get(name).copied().unwrap_or(false);
        let p = pair(
            a,
            b,
            |i| a.get(i).is_some_and(|n| is_excluded(n)),
            |j| b.get(j).is_some_and(|n| is_excluded(n)),
        );
        Matched {
            labels_a: labels(a, &p.occ_a),
            labels_b: labels(b, &p.occ_b),
            common: p.common,
            removed: p.removed,
            added: p.added,
        }
    }

    pub(crate) fn label_a(&self, i: usize) -> String {
        self.labels_a.get(i).cloned().unwrap_or_default()
    }

    pub(crate) fn label_b(&self, j: usize) -> String {
        self.labels_b.get(j).cloned().unwrap_or_default()
    }

    /// Puts the member nodes under `node` in archive order: the common members that differ
    /// (`results`, one per `common` pair, `None` when identical, which is counted) and the
    /// removed ones at their place in a, then the added ones in b's order. `removed(i)` and
    /// `added(j)` make the one-sided nodes.
    pub(crate) fn place(
        &self,
        node: &mut Node,
        results: Vec<Option<Node>>,
        removed: impl Fn(usize) -> Option<Node>,
        added: impl Fn(usize) -> Option<Node>,
    ) {
        let mut nodes: Vec<(usize, Node)> = Vec::new();
        for (&(i, _), r) in self.common.iter().zip(results) {
            match r {
                Some(n) => nodes.push((i, n)),
                None => node.identical_members += 1,
            }
        }
        nodes.extend(self.removed.iter().filter_map(|&i| Some((i, removed(i)?))));
        nodes.sort_by_key(|(i, _)| *i);
        node.children.extend(nodes.into_iter().map(|(_, n)| n));
        node.children.extend(self.added.iter().filter_map(|&j| added(j)));
    }

    /// The order of the common members, when it differs: from the first difference on, at
    /// most `ORDER_WINDOW` names per side.
    pub(crate) fn order_change(&self) -> Option<Change> {
        let mut by_b = self.common.clone();
        by_b.sort_unstable_by_key(|&(_, j)| j);
        let first = self.common.iter().zip(&by_b).position(|(x, y)| x != y)?;
        let names = |v: &[(usize, usize)]| -> Vec<String> {
            v.iter()
                .skip(first)
                .take(ORDER_WINDOW)
                .map(|&(i, _)| self.label_a(i))
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
