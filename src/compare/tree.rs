//! The difference tree: what every comparator returns and all the report layer sees.

use serde::Serialize;

/// One node of the difference tree: a thing that differs (the inputs, an archive member, a
/// section, a header) with what differs about it and the differing things inside it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Node {
    /// Name of this node within its parent: a member path, a section name, `(gzip)`.
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
    pub fn new(name: impl Into<String>) -> Self {
        Node {
            name: name.into(),
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

/// Seconds since the epoch as RFC 3339 UTC (`2023-11-14T22:13:20Z`), for any i64.
pub fn unix_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A timestamp shown with its raw value: `2023-11-14T22:13:20Z (1700000000)`.
pub fn timestamp(secs: i64) -> String {
    format!("{} ({secs})", unix_time(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_unix_times() {
        assert_eq!(unix_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(unix_time(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(unix_time(-1), "1969-12-31T23:59:59Z");
        assert_eq!(unix_time(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(timestamp(315_532_800), "1980-01-01T00:00:00Z (315532800)");
        // Extremes must not panic.
        let _ = unix_time(i64::MAX / 2);
        let _ = unix_time(i64::MIN / 2);
    }
}
