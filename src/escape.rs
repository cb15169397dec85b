//! Showing names and text safely: bytes from the inputs (file and member names, symbol names,
//! text lines) reach a report as visible, unambiguous strings. Undecodable bytes, control
//! characters and the invisible characters that reorder or hide text are escaped, so a name can
//! neither rewrite a terminal line nor pass for another name, and two different byte strings
//! are never shown alike.
//!
//! The escapes: an undecodable byte is `\xNN` (always 80 to ff), an ASCII control or DEL is
//! `\xNN` (00 to 1f, 7f), any other hidden character is `\u{N}`. A backslash is doubled when
//! what follows it would read as an escape (another backslash, `x` and two hex digits, `u{`,
//! or an escaped character), and shown as is otherwise, so `C:\Users\x.pdb` and
//! `printf("\n")` stay readable and every shown string still maps back to exactly one
//! original.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` is shown escaped: C0 and C1 controls, DEL, and the invisible formatting
/// characters — bidirectional embeddings, overrides, isolates and marks, zero-width
/// characters, line and paragraph separators, the byte-order mark, tag characters.
pub fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00ad}'
                | '\u{061c}'
                | '\u{180e}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206f}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
                | '\u{e0000}'..='\u{e007f}'
        )
}

/// One piece of the input: a character, or a byte that is not part of valid UTF-8.
#[derive(Clone, Copy)]
enum Unit {
    Char(char),
    Byte(u8),
}

/// What is kept raw.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Keep {
    /// Names: nothing hidden is kept.
    Nothing,
    /// Text lines: tabs are kept (indentation in source and Makefiles).
    Tab,
}

impl Unit {
    fn escaped(self, keep: Keep) -> bool {
        match self {
            Unit::Byte(_) => true,
            Unit::Char('\t') => keep == Keep::Nothing,
            Unit::Char(c) => hidden(c),
        }
    }

    fn is(self, pred: impl Fn(char) -> bool) -> bool {
        matches!(self, Unit::Char(c) if pred(c))
    }
}

/// Whether a backslash followed by `next` must be doubled: when what follows would otherwise
/// read as an escape (`\\`, `\xHH`, `\u{`) or is one.
fn doubled_before(next: &[Unit], keep: Keep) -> bool {
    match next {
        [] => false,
        [u, ..] if u.escaped(keep) || u.is(|c| c == '\\') => true,
        [x, h, l, ..] if x.is(|c| c == 'x') => {
            h.is(|c| c.is_ascii_hexdigit()) && l.is(|c| c.is_ascii_hexdigit())
        }
        [u, b, ..] if u.is(|c| c == 'u') => b.is(|c| c == '{'),
        _ => false,
    }
}

fn units(bytes: &[u8]) -> Vec<Unit> {
    bytes
        .utf8_chunks()
        .flat_map(|chunk| {
            chunk
                .valid()
                .chars()
                .map(Unit::Char)
                .chain(chunk.invalid().iter().map(|&b| Unit::Byte(b)))
        })
        .collect()
}

fn write_escaped(out: &mut String, units: &[Unit], keep: Keep) {
    for (i, &u) in units.iter().enumerate() {
        match u {
            Unit::Byte(b) => {
                let _ = write!(out, "\\x{b:02x}");
            }
            Unit::Char(c) if u.escaped(keep) => {
                if c.is_ascii() {
                    let _ = write!(out, "\\x{:02x}", c as u32);
                } else {
                    let _ = write!(out, "\\u{{{:x}}}", c as u32);
                }
            }
            Unit::Char('\\') => {
                out.push('\\');
                if doubled_before(units.get(i + 1..).unwrap_or_default(), keep) {
                    out.push('\\');
                }
            }
            Unit::Char(c) => out.push(c),
        }
    }
}

/// `s` escaped, keeping `keep` raw; borrowed when there is nothing to escape (no backslash,
/// nothing hidden).
fn escape_str(s: &str, keep: Keep) -> Cow<'_, str> {
    if !s.chars().any(|c| c == '\\' || Unit::Char(c).escaped(keep)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    write_escaped(&mut out, &s.chars().map(Unit::Char).collect::<Vec<_>>(), keep);
    Cow::Owned(out)
}

/// A name (file, member, section, symbol) as bytes, shown.
pub fn name(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => name_str(s).into_owned(),
        Err(_) => {
            let mut out = String::with_capacity(bytes.len() + 8);
            write_escaped(&mut out, &units(bytes), Keep::Nothing);
            out
        }
    }
}

/// A name that is already text, shown (the same escapes as [`name`]).
pub fn name_str(s: &str) -> Cow<'_, str> {
    escape_str(s, Keep::Nothing)
}

/// A name from the file system, shown.
pub fn os_name(s: &std::ffi::OsStr) -> String {
    use std::os::unix::ffi::OsStrExt;
    name(s.as_bytes())
}

/// A string that should already be in shown form (a node name, a field value, a note naming
/// members), escaped only if something hidden is left in it: the safety net every renderer
/// and `Node::new` apply, for text a comparator took from an input without [`name`].
pub fn shown(s: &str) -> Cow<'_, str> {
    if s.chars().any(hidden) {
        name_str(s)
    } else {
        Cow::Borrowed(s)
    }
}

/// [`shown`] for an owned string.
pub fn ensure_shown(s: String) -> String {
    match shown(&s) {
        Cow::Borrowed(_) => s,
        Cow::Owned(o) => o,
    }
}

/// One line of content (a text diff) for a report: like [`name_str`], but tabs are kept.
pub fn text(s: &str) -> Cow<'_, str> {
    escape_str(s, Keep::Tab)
}

/// A string of the tree (shown form) inside a Markdown code span: anything hidden left in it
/// escaped ([`shown`]), the span's fence one backtick longer than the longest run of backticks
/// inside, padded with spaces where the content starts or ends with one. `in_table` also
/// escapes `|`, which would otherwise end a table cell even inside a code span.
pub fn markdown_code(s: &str, in_table: bool) -> String {
    let shown = shown(s);
    let mut longest = 0;
    let mut run = 0;
    for c in shown.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = if shown.starts_with('`') || shown.ends_with('`') || shown.is_empty() {
        " "
    } else {
        ""
    };
    let body = if in_table {
        shown.replace('|', "\\|")
    } else {
        shown.into_owned()
    };
    format!("{fence}{pad}{body}{pad}{fence}")
}

/// A string of the tree (shown form) outside code spans in Markdown: anything hidden left in
/// it escaped ([`shown`]), then the ASCII punctuation that Markdown or inline HTML could act on
/// inline backslash-escaped. The text can neither start a block (there is no newline left, and
/// it never starts a line), nor open a link, an emphasis, a code span, a table cell, an HTML
/// tag or an entity.
pub fn markdown_text(s: &str) -> String {
    let shown = shown(s);
    let mut out = String::with_capacity(shown.len() + 8);
    for c in shown.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '!' | '~' | '&'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The lines of a fenced code block (content, such as a text diff): a fence longer than any
/// run of backticks in `lines` (so no line can close the block early), and each line escaped
/// in full ([`text`]).
pub fn markdown_fence<'a>(lines: impl Iterator<Item = &'a str> + Clone) -> (String, Vec<String>) {
    let longest = lines
        .clone()
        .map(|l| {
            let mut run = 0;
            let mut longest = 0;
            for c in l.chars() {
                run = if c == '`' { run + 1 } else { 0 };
                longest = longest.max(run);
            }
            longest
        })
        .max()
        .unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    (fence, lines.map(|l| text(l).into_owned()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The inverse of the escapes, to prove they lose nothing.
    fn unescape(s: &str) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = s;
        while let Some(c) = rest.chars().next() {
            if let Some(r) = rest.strip_prefix("\\\\") {
                out.push(b'\\');
                rest = r;
            } else if let Some(r) = rest.strip_prefix("\\x")
                && let Some(hex) = r.get(..2)
                && let Ok(b) = u8::from_str_radix(hex, 16)
                && hex.chars().all(|c| c.is_ascii_hexdigit())
            {
                out.push(b);
                rest = &r[2..];
            } else if let Some(r) = rest.strip_prefix("\\u{") {
                let end = r.find('}').unwrap();
                let c = char::from_u32(u32::from_str_radix(&r[..end], 16).unwrap()).unwrap();
                out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                rest = &r[end + 1..];
            } else {
                out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                rest = &rest[c.len_utf8()..];
            }
        }
        out
    }

    #[test]
    fn undecodable_bytes_and_controls_are_visible() {
        assert_eq!(name(b"out/\xfe"), "out/\\xfe");
        assert_eq!(name(b"out/\xff"), "out/\\xff");
        assert_eq!(name("cr\rover".as_bytes()), "cr\\x0dover");
        assert_eq!(name("esc\x1b[31mRED".as_bytes()), "esc\\x1b[31mRED");
        assert_eq!(name("c1\u{9b}31m".as_bytes()), "c1\\u{9b}31m");
        assert_eq!(name("rlo\u{202e}txt.exe".as_bytes()), "rlo\\u{202e}txt.exe");
        assert_eq!(name("tab\there".as_bytes()), "tab\\x09here");
        assert_eq!(text("tab\there"), "tab\there");
        assert_eq!(name("plain/é.txt".as_bytes()), "plain/é.txt");
    }

    #[test]
    fn backslashes_stay_readable_unless_they_could_start_an_escape() {
        assert_eq!(name(br"C:\dir\file"), r"C:\dir\file");
        assert_eq!(name(br"C:\Users\x.pdb"), r"C:\Users\x.pdb");
        assert_eq!(name(br"C:\x64\u{"), r"C:\\x64\\u{");
        assert_eq!(text(r#"printf("\n")"#), r#"printf("\n")"#);
        // A literal `\xff` is not the byte 0xff, and a literal `\x1b` is not ESC.
        assert_eq!(name(br"\xff"), r"\\xff");
        assert_ne!(name(br"\xff"), name(b"\xff"));
        assert_ne!(name(br"a\x1b"), name(b"a\x1b"));
        assert_eq!(name(b"\\\\"), r"\\\");
        assert_eq!(name(b"\\\x1b"), r"\\\x1b");
    }

    #[test]
    fn every_byte_string_maps_back_exactly() {
        // A deterministic walk over short strings of the interesting bytes and characters.
        let alphabet: Vec<&[u8]> = vec![
            b"\\",
            b"x",
            b"u",
            b"{",
            b"}",
            b"1",
            b"b",
            b"f",
            b"\x1b",
            b"\t",
            b"\n",
            b"\x7f",
            b"\xff",
            b"\xfe",
            b"\xc3",
            "\u{202e}".as_bytes(),
            "\u{9b}".as_bytes(),
            "é".as_bytes(),
        ];
        let n = alphabet.len();
        let mut seen = std::collections::HashMap::new();
        for len in 0..=4u32 {
            for mut k in 0..n.pow(len) {
                let mut s = Vec::new();
                for _ in 0..len {
                    s.extend_from_slice(alphabet[k % n]);
                    k /= n;
                }
                let shown = name(&s);
                assert!(!shown.chars().any(hidden), "{shown:?}");
                assert_eq!(unescape(&shown), s, "{shown:?}");
                if let Some(other) = seen.insert(shown.clone(), s.clone()) {
                    assert_eq!(other, s, "two names shown as {shown:?}");
                }
                if let Ok(t) = std::str::from_utf8(&s) {
                    let shown = text(t);
                    assert!(!shown.chars().any(|c| c != '\t' && hidden(c)), "{shown:?}");
                    assert_eq!(unescape(&shown), s, "{shown:?}");
                }
            }
        }
    }

    #[test]
    fn markdown_cannot_be_broken_out_of() {
        let evil = "tick` **[CLICK ME](mailto:evil@example.com)** `end";
        let code = markdown_code(evil, false);
        assert_eq!(code, "``tick` **[CLICK ME](mailto:evil@example.com)** `end``");
        assert_eq!(markdown_code("`x`", false), "`` `x` ``");
        assert_eq!(markdown_code("a|b", true), "`a\\|b`");
        let heading = "nl\n\n# repro: identical ✅\n\nx";
        let code = markdown_code(heading, false);
        assert!(!code.contains('\n'), "{code}");
        let t = markdown_text(heading);
        assert!(!t.contains('\n') && t.contains("\\#"), "{t}");
        let t = markdown_text("[CLICK](mailto:x) <b>&amp; *y* _z_");
        assert_eq!(t, r"\[CLICK\](mailto:x) \<b\>\&amp; \*y\* \_z\_");
        let (fence, lines) = markdown_fence(["+a ``` b", "-c\x1b[2J"].into_iter());
        assert_eq!(fence, "````");
        assert_eq!(lines[1], "-c\\x1b[2J");
    }
}
