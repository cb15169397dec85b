//! The difference tree: what every comparator returns and all the report layer sees.

use serde::Serialize;

/// One node of the difference tree: a thing that differs (the inputs, an archive member, a
/// section, a header) with what differs about it and the differing things inside it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Node {
    /// Name of this node within its parent: a member path, a section name, `(gzip)`. Always
    /// in shown form (`crate::escape::name`): undecodable bytes and hidden characters escaped,
    /// so two different names never look alike and a name cannot act on a terminal.
    pub name: String,
    /// Whether the thing exists on both sides.
    pub status: Status,
    /// The format it was compared as (the more specific comparator, not the fallback).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// sha256 of each side's bytes, where both sides are byte streams.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<Sides<String>>,
    /// Sizes in bytes of each side, where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<Sides<u64>>,
    /// Field-level differences of this node.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    /// Differing things inside this node (members, sections, decompressed content).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Node>,
    /// Members inside this node that were compared and found byte-identical.
    #[serde(skip_serializing_if = "is_zero")]
    pub identical_members: u64,
    /// Set when the structural comparator could not be used and a simpler one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Fallback>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A pair of values, one per side (`a` is the left/first input, `b` the right/second).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Sides<T> {
    pub a: T,
    pub b: T,
}

impl<T> Sides<T> {
    pub fn new(a: T, b: T) -> Self {
        Self { a, b }
    }
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Present on both sides, and differs.
    Changed,
    /// Only in the second input.
    Added,
    /// Only in the first input.
    Removed,
}

/// Why a simpler comparator was used than the format called for.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Fallback {
    /// The comparator that was tried, or the format that was detected.
    pub from: String,
    /// The comparator that was used instead.
    pub to: String,
    pub reason: String,
}

/// One field-level difference.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Change {
    /// A named scalar differs (`mtime`, `mode`, `e_entry`, `gzip.os`, …). Absent on one side is `None`.
    Field {
        field: String,
        a: Option<String>,
        b: Option<String>,
    },
    /// Text content differs: a unified diff, possibly cut to a limit.
    Text {
        unified: String,
        lines_removed: u64,
        lines_added: u64,
        truncated: bool,
    },
    /// Raw bytes differ: where, how much, and a hexdump window of each side.
    Bytes {
        first_offset: u64,
        differing_bytes: u64,
        hexdump: Sides<String>,
    },
    /// Strings (of a string-bearing section, a string list) present on one side only.
    Strings {
        field: String,
        removed: Vec<String>,
        added: Vec<String>,
        /// How many more were left out of the lists above.
        omitted: u64,
    },
    /// The same members, in a different order.
    Order {
        field: String,
        /// Index (among common members) of the first position that differs.
        first_difference: u64,
        a: Vec<String>,
        b: Vec<String>,
    },
    /// Something noteworthy that is not a pair of values (e.g. "only the compressed bytes differ").
    Note { text: String },
}

impl Change {
    pub fn field(name: impl Into<String>, a: impl ToString, b: impl ToString) -> Self {
        Change::Field {
            field: name.into(),
            a: Some(a.to_string()),
            b: Some(b.to_string()),
        }
    }

    pub fn optional_field(name: impl Into<String>, a: Option<String>, b: Option<String>) -> Self {
        Change::Field {
            field: name.into(),
            a,
            b,
        }
    }

    pub fn note(text: impl Into<String>) -> Self {
        Change::Note { text: text.into() }
    }
}

impl Node {
    /// A node named `name`, which should be in shown form already (`crate::escape::name`);
    /// anything hidden left in it is escaped here.
    pub fn new(name: impl Into<String>) -> Self {
        Node {
            name: crate::escape::ensure_shown(name.into()),
            status: Status::Changed,
            format: None,
            sha256: None,
            size: None,
            changes: Vec::new(),
            children: Vec::new(),
            identical_members: 0,
            fallback: None,
        }
    }

    pub fn with_format(mut self, format: impl Into<String>) -> Self {
        self.format = Some(format.into());
        self
    }

    /// Pushes `Change::Field` when the two values differ.
    pub fn field_if_differs<T: PartialEq + ToString>(&mut self, name: &str, a: T, b: T) {
        if a != b {
            self.changes.push(Change::field(name, a, b));
        }
    }

    /// True when nothing differs at or below this node.
    pub fn is_empty(&self) -> bool {
        self.status == Status::Changed
            && self.changes.is_empty()
            && self.children.is_empty()
            && self.fallback.is_none()
    }

    /// Adds a child node unless it is empty.
    pub fn push_child(&mut self, child: Node) {
        if !child.is_empty() {
            self.children.push(child);
        }
    }

    /// Names of the fields that differ at this node, in order.
    pub fn field_names(&self) -> Vec<&str> {
        self.changes
            .iter()
            .filter_map(|c| match c {
                Change::Field { field, .. } => Some(field.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Number of nodes in this subtree, this one included.
    pub fn count(&self) -> usize {
        1 + self.children.iter().map(Node::count).sum::<usize>()
    }

    /// Visits every node depth-first with its path from this node (names joined by the caller).
    pub fn walk<'a>(&'a self, path: &mut Vec<&'a str>, f: &mut dyn FnMut(&[&'a str], &'a Node)) {
        path.push(&self.name);
        f(path, self);
        for child in &self.children {
            child.walk(path, f);
        }
        path.pop();
    }
}
