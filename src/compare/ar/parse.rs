//! Reading one `ar` archive from bytes in memory: the 60-byte member headers, GNU long names
//! (`//` table, `/N` references), BSD long names (`#1/N`, the name at the start of the data),
//! thin archives (`!<thin>`, members stored outside), and the symbol tables of both families.
//!
//! Every size and offset is checked against the input before use; members are ranges into the
//! input, so nothing is allocated in proportion to a size field. Written by hand rather than
//! with the `ar` crate because the comparison wants each header field as stored (a blank or
//! unparsable field is a finding, not an error), thin archives, and zero-copy member ranges.

use std::ops::Range;

use super::super::CompareError;
use crate::units::timestamp;

pub(super) const MAGIC: &[u8; 8] = b"!<arch>\n";
pub(super) const THIN_MAGIC: &[u8; 8] = b"!<thin>\n";
const HEADER_LEN: usize = 60;
const TERMINATOR: &[u8; 2] = b"`\n";

fn malformed(detail: impl ToString) -> CompareError {
    CompareError::malformed("ar", detail)
}

/// A numeric header field: blank (GNU leaves them blank in its long-name table), a value, or
/// the raw text when it does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Num {
    Blank,
    Value(u64),
    Invalid(String),
}

impl Num {
    fn parse(raw: &[u8], radix: u32) -> Num {
        let text = String::from_utf8_lossy(raw);
        let t = text.trim_end_matches([' ', '\0']);
        if t.is_empty() {
            return Num::Blank;
        }
        match u64::from_str_radix(t, radix) {
            Ok(v) => Num::Value(v),
            Err(_) => Num::Invalid(format!("invalid {:?}", text.as_ref())),
        }
    }

    fn show(&self, f: impl Fn(u64) -> String) -> String {
        match self {
            Num::Blank => "(blank)".into(),
            Num::Value(v) => f(*v),
            Num::Invalid(s) => s.clone(),
        }
    }
}

/// What a member is, beyond its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A stored file (or, in a thin archive, a reference to one).
    File,
    /// GNU `/` (32-bit) symbol table.
    GnuSymbols,
    /// GNU `/SYM64/` symbol table.
    GnuSymbols64,
    /// BSD `__.SYMDEF` / `__.SYMDEF SORTED` symbol table.
    BsdSymbols,
    /// BSD `__.SYMDEF_64` (and sorted) symbol table.
    BsdSymbols64,
}

/// One member, in archive order. The GNU long-name table is not a member: its content is the
/// members' names.
#[derive(Debug, Clone)]
pub(super) struct Member {
    /// The resolved name (long names looked up, GNU's trailing `/` and padding removed).
    pub name: String,
    pub kind: Kind,
    pub mtime: Num,
    pub uid: Num,
    pub gid: Num,
    pub mode: Num,
    /// The member's size (for BSD long names, without the name stored in the data).
    pub size: u64,
    /// Offset of the member's header in the archive (what symbol tables point at).
    pub header_offset: usize,
    /// The content, or `None` for a member of a thin archive stored outside it.
    pub data: Option<Range<usize>>,
}

impl Member {
    /// Header fields, named and displayable, in header order (the name is the match key).
    pub(super) fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("mtime", self.mtime.show(show_time)),
            ("uid", self.uid.show(|v| v.to_string())),
            ("gid", self.gid.show(|v| v.to_string())),
            ("mode", self.mode.show(|v| format!("{v:04o}"))),
            ("size", self.size.to_string()),
        ]
    }
}

fn show_time(v: u64) -> String {
    i64::try_from(v).map_or_else(|_| v.to_string(), timestamp)
}

/// One parsed archive.
#[derive(Debug)]
pub(super) struct Archive {
    pub thin: bool,
    pub members: Vec<Member>,
    /// Name conventions seen (`bsd`, `gnu`, `thin`), sorted; empty for plain short names.
    pub styles: Vec<&'static str>,
}

impl Archive {
    /// The archive's variant as shown in reports: its name styles joined, or `common`.
    pub(super) fn variant(&self) -> String {
        if self.styles.is_empty() {
            "common".into()
        } else {
            self.styles.join("+")
        }
    }
}

/// Parses `data` as an ar archive, failing on anything that does not hold together and past
/// `max_entries` members.
pub(super) fn parse(data: &[u8], max_entries: u64) -> Result<Archive, CompareError> {
    let thin = match data.get(..MAGIC.len()) {
        Some(m) if m == MAGIC => false,
        Some(m) if m == THIN_MAGIC => true,
        _ => return Err(malformed("no ar magic")),
    };
    let mut styles = Vec::new();
    if thin {
        push_unique(&mut styles, "thin");
    }
    let mut members = Vec::new();
    let mut long_names: Option<Range<usize>> = None;
    let mut pos = MAGIC.len();
    while pos < data.len() {
        // A lone newline: padding after an odd-sized last member that has no successor.
        if data.len() - pos == 1 && data.get(pos) == Some(&b'\n') {
            break;
        }
        let header = data
            .get(pos..pos + HEADER_LEN)
            .ok_or_else(|| malformed(format!("truncated member header at offset {pos}")))?;
        if header.get(58..60) != Some(TERMINATOR) {
            return Err(malformed(format!(
                "member header at offset {pos} does not end with \"`\\n\""
            )));
        }
        if members.len() as u64 >= max_entries {
            return Err(CompareError::Budget(format!(
                "more than {max_entries} ar members"
            )));
        }
        let field = |r: Range<usize>| header.get(r).unwrap_or_default();
        let raw_name = field(0..16);
        let size = match Num::parse(field(48..58), 10) {
            Num::Value(v) => v,
            other => {
                return Err(malformed(format!(
                    "member header at offset {pos}: size is {}",
                    other.show(|v| v.to_string())
                )));
            }
        };
        let start = pos + HEADER_LEN;
        // Names are kept in shown form (`crate::escape`), which tells apart names that differ
        // only in bytes that are not UTF-8; the special names are plain ASCII either way.
        let name_field = crate::escape::name(raw_name);
        let name_field = name_field.trim_end_matches(' ');
        // GNU's symbol and long-name tables keep their data inside even a thin archive.
        let special = matches!(name_field, "/" | "//" | "/SYM64/");
        let stored = !thin || special;
        let end = if stored {
            usize::try_from(size)
                .ok()
                .and_then(|s| start.checked_add(s))
                .filter(|&e| e <= data.len())
                .ok_or_else(|| {
                    malformed(format!(
                        "truncated archive: member at offset {pos} claims {size} bytes, {} remain",
                        data.len().saturating_sub(start)
                    ))
                })?
        } else {
            start
        };
        let mut content = start..end;
        let (name, kind) = match name_field {
            "/" => {
                push_unique(&mut styles, "gnu");
                ("/".to_string(), Kind::GnuSymbols)
            }
            "/SYM64/" => {
                push_unique(&mut styles, "gnu");
                ("/SYM64/".to_string(), Kind::GnuSymbols64)
            }
            "//" => {
                push_unique(&mut styles, "gnu");
                if long_names.is_some() {
                    return Err(malformed("two GNU long-name tables"));
                }
                long_names = Some(content);
                pos = next_header(end);
                continue;
            }
            n if n.starts_with("#1/") => {
                push_unique(&mut styles, "bsd");
                let len = n
                    .get(3..)
                    .and_then(|s| s.parse::<usize>().ok())
                    .ok_or_else(|| malformed(format!("bad BSD long name {n:?} at offset {pos}")))?;
                if !stored {
                    return Err(malformed("BSD long name in a thin archive"));
                }
                let name_end = start.checked_add(len).filter(|&e| e <= end).ok_or_else(|| {
                    malformed(format!(
                        "BSD long name of {len} bytes is longer than its member at offset {pos}"
                    ))
                })?;
                let name_bytes = data.get(start..name_end).unwrap_or_default();
                let mut name_bytes = name_bytes;
                while let Some(rest) = name_bytes.strip_suffix(&[0]) {
                    name_bytes = rest;
                }
                let name = crate::escape::name(name_bytes);
                content = name_end..end;
                let kind = bsd_kind(&name);
                (name, kind)
            }
            n if n.len() > 1 && n.starts_with('/') => {
                push_unique(&mut styles, "gnu");
                let offset = n
                    .get(1..)
                    .and_then(|s| s.parse::<usize>().ok())
                    .ok_or_else(|| malformed(format!("bad GNU long-name reference {n:?} at offset {pos}")))?;
                let table = long_names.clone().ok_or_else(|| {
                    malformed(format!(
                        "long-name reference {n:?} at offset {pos} before any long-name table"
                    ))
                })?;
                (long_name(data, table, offset)?, Kind::File)
            }
            n => {
                let kind = bsd_kind(n);
                if kind != Kind::File {
                    push_unique(&mut styles, "bsd");
                }
                match n.strip_suffix('/') {
                    Some(short) => {
                        push_unique(&mut styles, "gnu");
                        (short.to_string(), Kind::File)
                    }
                    None => (n.to_string(), kind),
                }
            }
        };
        let content_len = (content.end - content.start) as u64;
        members.push(Member {
            name,
            kind,
            mtime: Num::parse(field(16..28), 10),
            uid: Num::parse(field(28..34), 10),
            gid: Num::parse(field(34..40), 10),
            mode: Num::parse(field(40..48), 8),
            size: if stored { content_len } else { size },
            header_offset: pos,
            data: stored.then_some(content),
        });
        pos = next_header(end);
    }
    styles.sort_unstable();
    Ok(Archive {
        thin,
        members,
        styles,
    })
}

/// Members start on even offsets; one `\n` pads an odd-sized member.
fn next_header(end: usize) -> usize {
    end.saturating_add(end & 1)
}

fn push_unique(v: &mut Vec<&'static str>, s: &'static str) {
    if !v.contains(&s) {
        v.push(s);
    }
}

fn bsd_kind(name: &str) -> Kind {
    match name {
        "__.SYMDEF" | "__.SYMDEF SORTED" => Kind::BsdSymbols,
        "__.SYMDEF_64" | "__.SYMDEF_64 SORTED" => Kind::BsdSymbols64,
        _ => Kind::File,
    }
}

/// The name at `offset` in the GNU long-name table: up to `/\n` (or `\n`, or the table's end).
fn long_name(data: &[u8], table: Range<usize>, offset: usize) -> Result<String, CompareError> {
    let t = data.get(table).unwrap_or_default();
    let rest = t.get(offset..).filter(|r| !r.is_empty()).ok_or_else(|| {
        malformed(format!(
            "long-name reference /{offset} is outside the {}-byte long-name table",
            t.len()
        ))
    })?;
    let line = rest.split(|&c| c == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"/").unwrap_or(line);
    Ok(crate::escape::name(line))
}

/// One symbol of a symbol table and the header offset of the member defining it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Symbol {
    pub name: String,
    pub member_offset: u64,
}

/// Reads a symbol table member's content; `None` when it does not hold together (it is then
/// compared as bytes).
pub(super) fn symbols(kind: Kind, data: &[u8]) -> Option<Vec<Symbol>> {
    match kind {
        Kind::GnuSymbols => gnu_symbols(data, 4),
        Kind::GnuSymbols64 => gnu_symbols(data, 8),
        Kind::BsdSymbols => bsd_symbols(data, 4),
        Kind::BsdSymbols64 => bsd_symbols(data, 8),
        Kind::File => None,
    }
}

fn uint(data: &[u8], at: usize, width: usize, big: bool) -> Option<u64> {
    let b = data.get(at..at.checked_add(width)?)?;
    let mut v = 0u64;
    for i in 0..width {
        let byte = if big { b.get(i) } else { b.get(width - 1 - i) };
        v = (v << 8) | u64::from(*byte?);
    }
    Some(v)
}

/// GNU: a big-endian count, that many member offsets, then that many NUL-terminated names.
fn gnu_symbols(data: &[u8], width: usize) -> Option<Vec<Symbol>> {
    let count = usize::try_from(uint(data, 0, width, true)?).ok()?;
    let names_at = count.checked_add(1)?.checked_mul(width)?;
    if names_at > data.len() {
        return None;
    }
    let mut names = data.get(names_at..)?.split(|&c| c == 0);
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let offset = uint(data, (i + 1) * width, width, true)?;
        let name = names.next()?;
        out.push(Symbol {
            name: String::from_utf8_lossy(name).into_owned(),
            member_offset: offset,
        });
    }
    Some(out)
}

/// BSD (little-endian, as written on every platform still using it): the size in bytes of the
/// ranlib array, the array of (name offset, member offset) pairs, the string table size, the
/// string table.
fn bsd_symbols(data: &[u8], width: usize) -> Option<Vec<Symbol>> {
    let array_len = usize::try_from(uint(data, 0, width, false)?).ok()?;
    let array_at = width;
    let strings_len_at = array_at.checked_add(array_len)?;
    let strings_len = usize::try_from(uint(data, strings_len_at, width, false)?).ok()?;
    let strings_at = strings_len_at + width;
    let strings = data.get(strings_at..strings_at.checked_add(strings_len)?)?;
    let pair = width * 2;
    if !array_len.is_multiple_of(pair) {
        return None;
    }
    let mut out = Vec::with_capacity(array_len / pair);
    for i in 0..array_len / pair {
        let at = array_at + i * pair;
        let name_at = usize::try_from(uint(data, at, width, false)?).ok()?;
        let offset = uint(data, at + width, width, false)?;
        let name = strings.get(name_at..)?.split(|&c| c == 0).next()?;
        out.push(Symbol {
            name: String::from_utf8_lossy(name).into_owned(),
            member_offset: offset,
        });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str, size: usize) -> Vec<u8> {
        let h = format!(
            "{name:<16}{:<12}{:<6}{:<6}{:<8}{size:<10}`\n",
            1_700_000_000, 0, 0, 644
        );
        assert_eq!(h.len(), HEADER_LEN);
        h.into_bytes()
    }

    fn archive(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        for (name, data) in members {
            out.extend(header(name, data.len()));
            out.extend_from_slice(data);
            if data.len() % 2 == 1 {
                out.push(b'\n');
            }
        }
        out
    }

    #[test]
    fn reads_gnu_and_bsd_names() {
        let table = b"a_long_member_name.o/\nb.o/\n";
        let mut bsd = b"long_bsd_name.txt\0\0\0".to_vec();
        bsd.extend_from_slice(b"xyz");
        let data = archive(&[
            ("//", table),
            ("/0", b"A"),
            ("short.o/", b"BB"),
            ("#1/20", &bsd),
            ("plain", b"C"),
        ]);
        let a = parse(&data, 100).unwrap();
        let names: Vec<&str> = a.members.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            ["a_long_member_name.o", "short.o", "long_bsd_name.txt", "plain"]
        );
        let bsd_member = &a.members[2];
        assert_eq!(bsd_member.size, 3);
        assert_eq!(&data[bsd_member.data.clone().unwrap()], b"xyz");
        assert_eq!(a.variant(), "bsd+gnu");
        assert_eq!(a.members[0].mode, Num::Value(0o644));
        assert_eq!(a.members[0].fields()[3].1, "0644");
    }

    #[test]
    fn rejects_what_does_not_hold_together() {
        let good = archive(&[("a.txt", b"hello")]);
        for cut in [10, 30, 68, good.len() - 2] {
            assert!(parse(&good[..cut], 100).is_err(), "cut at {cut}");
        }
        let absurd = archive(&[("a.txt", b"hello")]);
        let mut absurd = absurd.clone();
        absurd[8 + 48..8 + 58].copy_from_slice(b"9999999999");
        let err = parse(&absurd, 100).unwrap_err().to_string();
        assert!(err.contains("claims 9999999999 bytes"), "{err}");
        assert!(parse(&archive(&[("/5", b"x")]), 100).is_err());
        assert!(parse(&archive(&[("//", b"a/\n"), ("/99", b"x")]), 100).is_err());
        assert!(parse(&archive(&[("#1/50", b"short")]), 100).is_err());
        let many = archive(&[("a", b"1"), ("b", b"2"), ("c", b"3")]);
        assert!(matches!(parse(&many, 2), Err(CompareError::Budget(_))));
        assert!(parse(b"!<arch>\n", 10).unwrap().members.is_empty());
    }

    #[test]
    fn blank_and_invalid_fields_are_kept() {
        assert_eq!(Num::parse(b"      ", 10), Num::Blank);
        assert_eq!(
            Num::parse(b"12x   ", 10),
            Num::Invalid("invalid \"12x   \"".into())
        );
        assert_eq!(Num::parse(b"100644  ", 8), Num::Value(0o100644));
    }

    #[test]
    fn reads_symbol_tables() {
        let mut gnu = 2u32.to_be_bytes().to_vec();
        gnu.extend(100u32.to_be_bytes());
        gnu.extend(200u32.to_be_bytes());
        gnu.extend(b"f\0g\0");
        let s = symbols(Kind::GnuSymbols, &gnu).unwrap();
        assert_eq!(s[1].name, "g");
        assert_eq!(s[1].member_offset, 200);
        assert!(symbols(Kind::GnuSymbols, &gnu[..9]).is_none());
        let mut huge = u32::MAX.to_be_bytes().to_vec();
        huge.extend(b"abcd");
        assert!(symbols(Kind::GnuSymbols, &huge).is_none());

        let mut bsd = 8u32.to_le_bytes().to_vec();
        bsd.extend(0u32.to_le_bytes());
        bsd.extend(68u32.to_le_bytes());
        bsd.extend(4u32.to_le_bytes());
        bsd.extend(b"_f\0\0");
        let s = symbols(Kind::BsdSymbols, &bsd).unwrap();
        assert_eq!(
            s,
            vec![Symbol {
                name: "_f".into(),
                member_offset: 68
            }]
        );
        assert!(symbols(Kind::BsdSymbols, &bsd[..10]).is_none());
    }

    #[test]
    fn thin_members_have_no_data() {
        let mut data = THIN_MAGIC.to_vec();
        data.extend(header("//", 4));
        data.extend(b"x.o/");
        data.extend(header("/0", 1096));
        let a = parse(&data, 10).unwrap();
        assert!(a.thin);
        assert_eq!(a.members.len(), 1);
        assert_eq!(a.members[0].name, "x.o");
        assert_eq!(a.members[0].size, 1096);
        assert!(a.members[0].data.is_none());
    }
}
