//! The last-resort comparator: sizes, the first differing offset, how many bytes differ, and a
//! hexdump window around the first difference.

use std::io::Read;

use super::source::{self, ByteComparison};
use super::{Change, Comparator, CompareError, Context, Format, Node, Sides, Source};

pub struct BinaryComparator;

/// Bytes shown on each side of the first difference (rounded to whole hexdump lines).
const WINDOW_BEFORE: u64 = 32;
const WINDOW_LEN: usize = 96;

impl Comparator for BinaryComparator {
    fn name(&self) -> &'static str {
        "binary"
    }

    fn formats(&self) -> &'static [Format] {
        &[Format::Binary]
    }

    fn compare(&self, cx: &Context<'_>, a: &Source, b: &Source, node: &mut Node) -> Result<(), CompareError> {
        let decoded = |s: &Source| matches!(s, Source::Decoded { .. });
        let cmp = if decoded(a) || decoded(b) {
            // Decoded streams can be unbounded (compression bombs): compare a bounded prefix.
            let limit = cx.options().max_expanded_bytes;
            let c = source::compare_streams(a.open()?.take(limit), b.open()?.take(limit), true)?;
            if c.len_a >= limit || c.len_b >= limit {
                node.changes.push(Change::note(format!(
                    "compared the first {limit} decoded bytes only (expansion limit)"
                )));
            }
            c
        } else {
            source::compare_bytes(a, b, true)?
        };
        describe(&cmp, a, b, node)?;
        Ok(())
    }
}

/// Adds the size and byte-level changes of `cmp` to `node`.
pub fn describe(cmp: &ByteComparison, a: &Source, b: &Source, node: &mut Node) -> Result<(), CompareError> {
    let Some(first) = cmp.first_offset else {
        return Ok(());
    };
    if cmp.len_a != cmp.len_b {
        node.changes.push(Change::field("size", cmp.len_a, cmp.len_b));
    }
    node.size.get_or_insert(Sides::new(cmp.len_a, cmp.len_b));
    let start = (first & !15).saturating_sub(WINDOW_BEFORE);
    let (wa, wb) = (
        source::read_window(a, start, WINDOW_LEN)?,
        source::read_window(b, start, WINDOW_LEN)?,
    );
    node.changes.push(Change::Bytes {
        first_offset: first,
        differing_bytes: cmp.differing_bytes,
        hexdump: Sides::new(hexdump(start, &wa), hexdump(start, &wb)),
    });
    Ok(())
}

/// `xxd`-style lines: offset, 16 hex bytes, printable ASCII.
pub fn hexdump(start: u64, bytes: &[u8]) -> String {
    let mut out = String::new();
    for (i, line) in bytes.chunks(16).enumerate() {
        let hex: Vec<String> = line.iter().map(|b| format!("{b:02x}")).collect();
        let ascii: String = line
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    b as char
                } else {
                    '.'
                }
            })
            .collect();
        out.push_str(&format!(
            "{:08x}: {:<47}  {}\n",
            start + 16 * i as u64,
            hex.join(" "),
            ascii
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hexdump_lines() {
        let h = hexdump(16, b"ABC\x00");
        assert!(h.starts_with("00000010: 41 42 43 00"), "{h}");
        assert!(h.trim_end().ends_with("ABC."), "{h}");
    }
}
