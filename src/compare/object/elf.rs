//! ELF: header fields, the GNU build-id, program headers, and sections by name — with strings
//! of string-bearing sections (also compressed debug sections), symbols, dynamic entries and
//! notes for the sections that hold them.

use std::borrow::Cow;
use std::io::Read;

use goblin::container::{Container, Ctx};
use goblin::elf::compression_header::CompressionHeader;
use goblin::elf::dynamic::{self, DT_NEEDED, DT_NULL, DT_RPATH, DT_RUNPATH, DT_SONAME};
use goblin::elf::header::{self, EI_CLASS, EI_DATA, EI_OSABI};
use goblin::elf::note::{NT_GNU_BUILD_ID, NoteDataIterator};
use goblin::elf::program_header::{self, PF_R, PF_W, PF_X, PT_NOTE};
use goblin::elf::section_header::{self as sh, SectionHeader};
use goblin::elf::sym::{Sym, Symtab};
use goblin::elf::{Elf, ProgramHeader};

use super::sections::{self, SectionView};
use super::strings::{self, StringStyle};
use super::symbols::{self, Symbol};
use super::{Change, CompareError, Context, Fields, Node, Reader, Source, hex, hex_bytes, range};
use crate::compare::source::read_limited;
use crate::compare::{Comparator, Format};

const FORMAT: &str = "ELF";
/// Byte offset of the ABI version in `e_ident` (goblin has no constant for it).
const EI_ABIVERSION: usize = 8;

pub struct ElfComparator;

impl Comparator for ElfComparator {
    fn name(&self) -> &'static str {
        "elf"
    }

    fn formats(&self) -> &'static [Format] {
        &[Format::Elf]
    }

    fn compare(&self, cx: &Context<'_>, a: &Source, b: &Source, node: &mut Node) -> Result<(), CompareError> {
        super::compare_with(FORMAT, cx, a, b, node, compare)
    }
}

/// How the contents of a changed section are explained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bytes,
    Strings(StringStyle),
    Symbols,
    Dynamic,
    Notes,
    /// SHF_COMPRESSED or `.zdebug*`: compared after decompression, as strings where the
    /// uncompressed section is string-bearing.
    Compressed(Option<StringStyle>),
}

/// A section's content kind and its index in the section header table.
#[derive(Debug, Clone, Copy)]
struct Sect {
    kind: Kind,
    index: usize,
}

struct Parsed<'a> {
    elf: Elf<'a>,
    bytes: &'a [u8],
    ctx: Ctx,
}

fn compare(cx: &Context<'_>, a: &[u8], b: &[u8], node: &mut Node) -> Result<(), CompareError> {
    let max = cx.options().max_entries;
    let (pa, pb) = rayon::join(|| parse(a, max), || parse(b, max));
    let (pa, pb) = (pa?, pb?);
    super::compare_fields(node, &header_fields(&pa), &header_fields(&pb));
    let (ia, ib) = (build_id(&pa), build_id(&pb));
    if ia != ib {
        node.changes.push(Change::optional_field("build-id", ia, ib));
    }
    super::compare_by_index(node, "segment", &segment_lines(&pa), &segment_lines(&pb));
    let (mut sa, mut sb) = (section_views(&pa)?, section_views(&pb)?);
    if sa.is_empty() && sb.is_empty() {
        // No section headers (stripped with sstrip, some firmware): compare segment contents.
        sa = segment_views(&pa)?;
        sb = segment_views(&pb)?;
    }
    let describe =
        |x: &SectionView<'_, Sect>, y: &SectionView<'_, Sect>, n: &mut Node| describe(cx, &pa, &pb, x, y, n);
    sections::compare(cx, node, "sections", &sa, &sb, &describe)
}

/// Parses with goblin after checking that the header's tables fit in the file.
fn parse(bytes: &[u8], max_entries: u64) -> Result<Parsed<'_>, CompareError> {
    let malformed = |e: goblin::error::Error| CompareError::malformed(FORMAT, e);
    let h = Elf::parse_header(bytes).map_err(malformed)?;
    let ctx = Ctx::new(
        h.container().map_err(malformed)?,
        h.endianness().map_err(malformed)?,
    );
    let len = bytes.len() as u64;
    if h.e_phnum > 0 {
        check_entsize("e_phentsize", h.e_phentsize, ProgramHeader::size(ctx))?;
        super::check_table(
            FORMAT,
            "program headers",
            h.e_phoff,
            h.e_phnum.into(),
            h.e_phentsize.into(),
            len,
        )?;
    }
    if h.e_shoff != 0 {
        check_entsize("e_shentsize", h.e_shentsize, SectionHeader::size(ctx))?;
        let count = match h.e_shnum {
            // More than 0xff00 sections: the count is in the null section's sh_size.
            0 => {
                let r = Reader::new(bytes, !ctx.le.is_little());
                let field = h
                    .e_shoff
                    .checked_add(if ctx.container.is_big() { 32 } else { 20 });
                let size = field.and_then(|f| {
                    if ctx.container.is_big() {
                        r.u64(f)
                    } else {
                        r.u32(f).map(u64::from)
                    }
                });
                size.ok_or_else(|| CompareError::malformed(FORMAT, "section header table is truncated"))?
            }
            n => n.into(),
        };
        if count > max_entries {
            return Err(CompareError::Budget(format!(
                "{count} sections, more than the limit of {max_entries} entries"
            )));
        }
        super::check_table(
            FORMAT,
            "section headers",
            h.e_shoff,
            count,
            h.e_shentsize.into(),
            len,
        )?;
    }
    let elf = Elf::parse(bytes).map_err(malformed)?;
    Ok(Parsed { elf, bytes, ctx })
}

fn check_entsize(field: &str, actual: u16, expected: usize) -> Result<(), CompareError> {
    if usize::from(actual) == expected {
        Ok(())
    } else {
        Err(CompareError::malformed(
            FORMAT,
            format!("{field} is {actual}, expected {expected}"),
        ))
    }
}

fn header_fields(p: &Parsed<'_>) -> Fields {
    let h = &p.elf.header;
    let mut f: Fields = vec![
        ("class".into(), header::class_to_str(h.e_ident[EI_CLASS]).into()),
        (
            "data".into(),
            match h.e_ident[EI_DATA] {
                1 => "little-endian".into(),
                2 => "big-endian".into(),
                other => format!("unknown ({other})"),
            },
        ),
        ("os-abi".into(), os_abi(h.e_ident[EI_OSABI])),
        ("abi-version".into(), h.e_ident[EI_ABIVERSION].to_string()),
        ("type".into(), known(header::et_to_str(h.e_type), h.e_type.into())),
        ("machine".into(), header::machine_to_str(h.e_machine).into()),
        ("entry".into(), hex(h.e_entry)),
        ("flags".into(), hex(h.e_flags.into())),
    ];
    if let Some(interp) = p.elf.interpreter {
        f.push(("interpreter".into(), interp.into()));
    }
    f
}

fn os_abi(v: u8) -> String {
    let name = match v {
        0 => "SYSV",
        1 => "HP-UX",
        2 => "NetBSD",
        3 => "GNU",
        6 => "Solaris",
        9 => "FreeBSD",
        12 => "OpenBSD",
        64 => "ARM EABI",
        97 => "ARM",
        255 => "standalone",
        _ => "unknown",
    };
    format!("{name} ({v})")
}

/// goblin's name for a constant, or the number when goblin does not know it.
fn known(name: &str, value: u64) -> String {
    if name.starts_with("UNKNOWN") || name.ends_with("UNKNOWN") {
        hex(value)
    } else {
        name.to_string()
    }
}

fn segment_lines(p: &Parsed<'_>) -> Vec<String> {
    p.elf
        .program_headers
        .iter()
        .map(|ph| {
            let flag = |bit: u32, c: char| if ph.p_flags & bit != 0 { c } else { '-' };
            format!(
                "{} offset={:#x} vaddr={:#x} paddr={:#x} filesz={:#x} memsz={:#x} flags={}{}{} align={:#x}",
                known(program_header::pt_to_str(ph.p_type), ph.p_type.into()),
                ph.p_offset,
                ph.p_vaddr,
                ph.p_paddr,
                ph.p_filesz,
                ph.p_memsz,
                flag(PF_R, 'R'),
                flag(PF_W, 'W'),
                flag(PF_X, 'X'),
                ph.p_align
            )
        })
        .collect()
}

/// `readelf`-style flag letters with the raw value: `AMS (0x32)`.
fn section_flags(flags: u64) -> String {
    const LETTERS: [(u32, char); 12] = [
        (sh::SHF_WRITE, 'W'),
        (sh::SHF_ALLOC, 'A'),
        (sh::SHF_EXECINSTR, 'X'),
        (sh::SHF_MERGE, 'M'),
        (sh::SHF_STRINGS, 'S'),
        (sh::SHF_INFO_LINK, 'I'),
        (sh::SHF_LINK_ORDER, 'L'),
        (sh::SHF_OS_NONCONFORMING, 'O'),
        (sh::SHF_GROUP, 'G'),
        (sh::SHF_TLS, 'T'),
        (sh::SHF_COMPRESSED, 'C'),
        (sh::SHF_EXCLUDE, 'E'),
    ];
    let letters: String = LETTERS
        .iter()
        .filter(|(bit, _)| flags & u64::from(*bit) != 0)
        .map(|(_, c)| c)
        .collect();
    format!("{letters} ({flags:#x})")
}

fn section_name<'a>(p: &Parsed<'a>, s: &SectionHeader) -> &'a str {
    p.elf.shdr_strtab.get_at(s.sh_name).unwrap_or("")
}

/// The file bytes of section `index`, `None` when it has none or is out of range.
fn section_data<'a>(p: &Parsed<'a>, index: usize) -> Option<&'a [u8]> {
    let s = p.elf.section_headers.get(index)?;
    if matches!(s.sh_type, sh::SHT_NOBITS | sh::SHT_NULL) {
        return None;
    }
    range(p.bytes, s.sh_offset, s.sh_size)
}

fn string_style(name: &str, sh_type: u32, flags: u64) -> Option<StringStyle> {
    const TABLES: [&str; 6] = [
        ".comment",
        ".debug_str",
        ".debug_line_str",
        ".strtab",
        ".dynstr",
        ".shstrtab",
    ];
    const DATA: [&str; 3] = [".rodata", ".gnu_debuglink", ".gnu_debugaltlink"];
    if sh_type == sh::SHT_STRTAB || flags & u64::from(sh::SHF_STRINGS) != 0 || TABLES.contains(&name) {
        Some(StringStyle::Table)
    } else if DATA.contains(&name) || name.starts_with(".rodata.") {
        Some(StringStyle::Printable)
    } else {
        None
    }
}

fn kind(name: &str, s: &SectionHeader) -> Kind {
    let compressed = s.sh_flags & u64::from(sh::SHF_COMPRESSED) != 0 || name.starts_with(".zdebug");
    match s.sh_type {
        sh::SHT_SYMTAB | sh::SHT_DYNSYM => Kind::Symbols,
        sh::SHT_DYNAMIC => Kind::Dynamic,
        sh::SHT_NOTE => Kind::Notes,
        _ if compressed => {
            // `.zdebug_str` holds what `.debug_str` would.
            let plain = name.strip_prefix(".z").map(|n| format!(".{n}"));
            Kind::Compressed(string_style(
                plain.as_deref().unwrap_or(name),
                s.sh_type,
                s.sh_flags,
            ))
        }
        t => string_style(name, t, s.sh_flags).map_or(Kind::Bytes, Kind::Strings),
    }
}

fn section_views<'a>(p: &Parsed<'a>) -> Result<Vec<SectionView<'a, Sect>>, CompareError> {
    let headers: Vec<(usize, &SectionHeader)> = p
        .elf
        .section_headers
        .iter()
        .enumerate()
        .filter(|(i, s)| !(*i == 0 && s.sh_type == sh::SHT_NULL))
        .collect();
    let names: Vec<&str> = headers.iter().map(|(_, s)| section_name(p, s)).collect();
    let keys = sections::unique_keys(names.iter().map(|n| n.to_string()));
    let mut views = Vec::with_capacity(headers.len());
    for (((index, s), name), key) in headers.into_iter().zip(names).zip(keys) {
        let data = if matches!(s.sh_type, sh::SHT_NOBITS | sh::SHT_NULL) {
            None
        } else {
            Some(range(p.bytes, s.sh_offset, s.sh_size).ok_or_else(|| {
                CompareError::malformed(
                    FORMAT,
                    format!(
                        "section {key}: {} bytes at offset {:#x} lie outside the file ({} bytes)",
                        s.sh_size,
                        s.sh_offset,
                        p.bytes.len()
                    ),
                )
            })?)
        };
        views.push(SectionView {
            label: format!("section {key}"),
            fields: vec![
                ("type".into(), known(sh::sht_to_str(s.sh_type), s.sh_type.into())),
                ("flags".into(), section_flags(s.sh_flags)),
                ("address".into(), hex(s.sh_addr)),
                ("alignment".into(), s.sh_addralign.to_string()),
                ("entry size".into(), s.sh_entsize.to_string()),
            ],
            size: s.sh_size,
            data,
            kind: Sect {
                kind: kind(name, s),
                index,
            },
            key,
        });
    }
    Ok(views)
}

fn segment_views<'a>(p: &Parsed<'a>) -> Result<Vec<SectionView<'a, Sect>>, CompareError> {
    let mut views = Vec::new();
    for (i, ph) in p.elf.program_headers.iter().enumerate() {
        let name = known(program_header::pt_to_str(ph.p_type), ph.p_type.into());
        let data = range(p.bytes, ph.p_offset, ph.p_filesz).ok_or_else(|| {
            CompareError::malformed(FORMAT, format!("segment {i} ({name}) lies outside the file"))
        })?;
        let key = format!("segment {i} {name}");
        views.push(SectionView {
            label: key.clone(),
            key,
            fields: Vec::new(),
            size: ph.p_filesz,
            data: Some(data),
            kind: Sect {
                kind: Kind::Bytes,
                index: usize::MAX,
            },
        });
    }
    Ok(views)
}

/// Explains a changed section by its kind; when the specialised view cannot be read or finds
/// nothing, says so and shows the bytes.
fn describe(
    cx: &Context<'_>,
    pa: &Parsed<'_>,
    pb: &Parsed<'_>,
    x: &SectionView<'_, Sect>,
    y: &SectionView<'_, Sect>,
    n: &mut Node,
) -> Result<(), CompareError> {
    let (Some(da), Some(db)) = (x.data, y.data) else {
        return Ok(());
    };
    let (ia, ib) = (x.kind.index, y.kind.index);
    let fallback = |n: &mut Node, note: String| {
        n.changes.push(Change::note(note));
        sections::bytes(da, db, n)
    };
    match (x.kind.kind, y.kind.kind) {
        (Kind::Symbols, Kind::Symbols) => match (elf_symbols(pa, ia), elf_symbols(pb, ib)) {
            (Ok(sa), Ok(sb)) => {
                let before = n.changes.len();
                symbols::diff(n, &sa, &sb);
                if n.changes.len() == before {
                    return fallback(
                        n,
                        "symbol names, values and sizes are the same; other symbol fields or their order differ"
                            .into(),
                    );
                }
                Ok(())
            }
            (Err(e), _) | (_, Err(e)) => fallback(n, format!("symbols could not be read: {e}")),
        },
        (Kind::Dynamic, Kind::Dynamic) => {
            let (needed_a, fields_a) = dynamic_entries(pa, ia, da);
            let (needed_b, fields_b) = dynamic_entries(pb, ib, db);
            let before = n.changes.len();
            if let Some(c) = strings::diff_lists("needed", &needed_a, &needed_b) {
                n.changes.push(c);
            }
            super::compare_fields(n, &fields_a, &fields_b);
            if n.changes.len() == before {
                return fallback(
                    n,
                    "the dynamic entries are the same; their order or padding differs".into(),
                );
            }
            Ok(())
        }
        (Kind::Notes, Kind::Notes) => match (
            notes(da, section_align(pa, ia), pa.ctx),
            notes(db, section_align(pb, ib), pb.ctx),
        ) {
            (Ok(na), Ok(nb)) => {
                let before = n.changes.len();
                super::compare_fields(n, &na, &nb);
                if n.changes.len() == before {
                    return fallback(n, "the notes are the same; their layout differs".into());
                }
                Ok(())
            }
            (Err(e), _) | (_, Err(e)) => fallback(n, format!("notes could not be read: {e}")),
        },
        (Kind::Compressed(style), Kind::Compressed(_)) => {
            let limit = cx.options().max_expanded_bytes.min(cx.options().max_member_bytes);
            let flags = |p: &Parsed<'_>, i: usize| p.elf.section_headers.get(i).map_or(0, |s| s.sh_flags);
            let (ua, ub) = rayon::join(
                || decompress(flags(pa, ia), da, pa.ctx, limit),
                || decompress(flags(pb, ib), db, pb.ctx, limit),
            );
            match (ua, ub) {
                (Ok((ua, codec)), Ok((ub, _))) if ua == ub => {
                    n.changes.push(Change::note(format!(
                        "the decompressed contents ({codec}) are identical; only the compressed bytes differ"
                    )));
                    Ok(())
                }
                (Ok((ua, codec)), Ok((ub, _))) => {
                    n.changes
                        .push(Change::note(format!("compared after decompression ({codec})")));
                    sections::describe_content(style, &ua, &ub, n)
                }
                (Err(e), _) | (_, Err(e)) => fallback(n, format!("could not decompress: {e}")),
            }
        }
        (Kind::Strings(style), Kind::Strings(_)) => sections::describe_content(Some(style), da, db, n),
        _ => sections::bytes(da, db, n),
    }
}

fn section_align(p: &Parsed<'_>, index: usize) -> u64 {
    p.elf.section_headers.get(index).map_or(4, |s| s.sh_addralign)
}

/// The NUL-terminated string at `offset` of a string table.
fn cstr(table: &[u8], offset: u64) -> Option<Cow<'_, str>> {
    let rest = table.get(usize::try_from(offset).ok()?..)?;
    let s = rest.split(|&c| c == 0).next()?;
    Some(String::from_utf8_lossy(s))
}

fn elf_symbols<'a>(p: &Parsed<'a>, index: usize) -> Result<Vec<Symbol<'a>>, String> {
    let s = p.elf.section_headers.get(index).ok_or("no such section")?;
    let entsize = Sym::size(p.ctx.container) as u64;
    if s.sh_entsize != entsize {
        return Err(format!("entry size {} instead of {entsize}", s.sh_entsize));
    }
    let offset = usize::try_from(s.sh_offset).map_err(|e| e.to_string())?;
    let count = usize::try_from(s.sh_size / entsize).map_err(|e| e.to_string())?;
    let table = Symtab::parse(p.bytes, offset, count, p.ctx).map_err(|e| e.to_string())?;
    let names = section_data(p, s.sh_link as usize).unwrap_or_default();
    Ok(table
        .iter()
        .filter_map(|sym| {
            let name = cstr(names, sym.st_name as u64)?;
            (!name.is_empty()).then_some(Symbol {
                name,
                value: sym.st_value,
                size: Some(sym.st_size),
            })
        })
        .collect())
}

/// DT_NEEDED libraries, and every other entry by tag (repeated tags joined), strings resolved.
fn dynamic_entries(p: &Parsed<'_>, index: usize, data: &[u8]) -> (Vec<String>, Fields) {
    let big = p.ctx.container == Container::Big;
    let word: u64 = if big { 8 } else { 4 };
    let r = Reader::new(data, !p.ctx.le.is_little());
    let strtab = p
        .elf
        .section_headers
        .get(index)
        .and_then(|s| section_data(p, s.sh_link as usize))
        .unwrap_or_default();
    let read = |off: u64| {
        if big {
            r.u64(off)
        } else {
            r.u32(off).map(u64::from)
        }
    };
    let mut needed = Vec::new();
    let mut fields: Fields = Vec::new();
    let mut off = 0u64;
    while let (Some(tag), Some(val)) = (read(off), off.checked_add(word).and_then(read)) {
        off = off.saturating_add(2 * word);
        if tag == DT_NULL {
            break;
        }
        let text = |v: u64| cstr(strtab, v).map_or_else(|| hex(v), |s| s.into_owned());
        let value = match tag {
            DT_NEEDED => {
                needed.push(text(val));
                continue;
            }
            DT_SONAME | DT_RPATH | DT_RUNPATH => text(val),
            _ => hex(val),
        };
        let name = known(dynamic::tag_to_str(tag), tag);
        match fields.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => {
                v.push_str(", ");
                v.push_str(&value);
            }
            None => fields.push((name, value)),
        }
    }
    (needed, fields)
}

/// Notes as fields: the GNU build-id as `build-id`, others as `note NAME TYPE`, desc in hex.
fn notes(data: &[u8], align: u64, ctx: Ctx) -> Result<Fields, String> {
    let iter = NoteDataIterator {
        data,
        size: data.len(),
        offset: 0,
        ctx: (usize::try_from(align).unwrap_or(usize::MAX), ctx),
    };
    let mut out = Vec::new();
    for note in iter {
        let note = note.map_err(|e| e.to_string())?;
        let name = if note.name == "GNU" && note.n_type == NT_GNU_BUILD_ID {
            "build-id".to_string()
        } else {
            format!(
                "note {} {}",
                strings::show(note.name.as_bytes()),
                known(note.type_to_str(), note.n_type.into())
            )
        };
        out.push((name, hex_bytes(note.desc)));
    }
    let keys = sections::unique_keys(out.iter().map(|(k, _)| k.clone()));
    Ok(keys.into_iter().zip(out).map(|(k, (_, v))| (k, v)).collect())
}

/// The GNU build-id in hex, from the note sections or, without sections, the PT_NOTE segments.
fn build_id(p: &Parsed<'_>) -> Option<String> {
    let from_sections = p
        .elf
        .section_headers
        .iter()
        .enumerate()
        .filter(|(_, s)| s.sh_type == sh::SHT_NOTE)
        .filter_map(|(i, s)| Some((section_data(p, i)?, s.sh_addralign)));
    let from_segments = p
        .elf
        .program_headers
        .iter()
        .filter(|ph| ph.p_type == PT_NOTE && p.elf.section_headers.is_empty())
        .filter_map(|ph| Some((range(p.bytes, ph.p_offset, ph.p_filesz)?, ph.p_align)));
    from_sections
        .chain(from_segments)
        .filter_map(|(data, align)| notes(data, align, p.ctx).ok())
        .flatten()
        .find(|(k, _)| k == "build-id")
        .map(|(_, v)| v)
}

/// The uncompressed contents of a section, SHF_COMPRESSED when `flags` say so and GNU
/// `.zdebug` otherwise, within `limit` bytes.
fn decompress(flags: u64, data: &[u8], ctx: Ctx, limit: u64) -> Result<(Vec<u8>, &'static str), String> {
    let (codec, size, body) = if flags & u64::from(sh::SHF_COMPRESSED) != 0 {
        let ch = CompressionHeader::parse(data, 0, ctx).map_err(|e| e.to_string())?;
        let body = data
            .get(CompressionHeader::size(ctx)..)
            .ok_or("truncated compression header")?;
        let codec = match ch.ch_type {
            1 => "zlib",
            2 => "zstd",
            t => return Err(format!("unknown compression type {t}")),
        };
        (codec, ch.ch_size, body)
    } else {
        // GNU `.zdebug`: "ZLIB", the size as a big-endian u64, then a zlib stream.
        let r = Reader::new(data, true);
        if data.get(..4) != Some(b"ZLIB") {
            return Err("missing ZLIB header".into());
        }
        let size = r.u64(4).ok_or("truncated ZLIB header")?;
        ("zlib", size, data.get(12..).unwrap_or_default())
    };
    if size > limit {
        return Err(format!(
            "{size} bytes uncompressed, more than the limit of {limit}"
        ));
    }
    let reader: Box<dyn Read> = match codec {
        "zstd" => Box::new(zstd::stream::read::Decoder::with_buffer(body).map_err(|e| e.to_string())?),
        _ => Box::new(flate2::read::ZlibDecoder::new(body)),
    };
    let out = read_limited(reader, size).map_err(|e| e.to_string())?;
    if out.len() as u64 != size {
        return Err(format!(
            "{} bytes uncompressed, the header says {size}",
            out.len()
        ));
    }
    Ok((out, codec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_string_styles() {
        let s = |name, t, f| string_style(name, t, f);
        assert_eq!(s(".rodata", sh::SHT_PROGBITS, 2), Some(StringStyle::Printable));
        assert_eq!(s(".debug_str", sh::SHT_PROGBITS, 0x30), Some(StringStyle::Table));
        assert_eq!(s(".strtab", sh::SHT_STRTAB, 0), Some(StringStyle::Table));
        assert_eq!(s(".my_strings", sh::SHT_PROGBITS, 0x20), Some(StringStyle::Table));
        assert_eq!(s(".text", sh::SHT_PROGBITS, 6), None);
        assert_eq!(section_flags(0x32), "AMS (0x32)");
        assert_eq!(known("UNKNOWN_PT", 0x6474e553), "0x6474e553");
    }

    #[test]
    fn reads_notes_and_strings_safely() {
        // namesz 4, descsz 4, type 3 (build-id), "GNU\0", desc.
        let note = [
            4, 0, 0, 0, 4, 0, 0, 0, 3, 0, 0, 0, b'G', b'N', b'U', 0, 0xde, 0xad, 0xbe, 0xef,
        ];
        let ctx = Ctx::new(Container::Big, goblin::container::Endian::Little);
        assert_eq!(
            notes(&note, 4, ctx).unwrap(),
            vec![("build-id".to_string(), "deadbeef".to_string())]
        );
        assert!(notes(&note[..18], 4, ctx).is_err());
        assert!(notes(&note, 16, ctx).is_err());
        assert_eq!(cstr(b"ab\0cd", 3).as_deref(), Some("cd"));
        assert_eq!(cstr(b"ab\0cd", 9), None);
        assert_eq!(cstr(b"ab", u64::MAX), None);
    }

    /// An ELF64 little-endian compression header followed by `body`.
    fn chdr(ch_type: u32, size: u64, body: &[u8]) -> Vec<u8> {
        let mut v = ch_type.to_le_bytes().to_vec();
        v.extend([0; 4]);
        v.extend(size.to_le_bytes());
        v.extend(1u64.to_le_bytes());
        v.extend(body);
        v
    }

    #[test]
    fn decompresses_within_limits() {
        use std::io::Write;
        let ctx = Ctx::new(Container::Big, goblin::container::Endian::Little);
        let text = b"/build/a/src\0/build/a/src/main.c\0".repeat(20);
        let compressed = u64::from(sh::SHF_COMPRESSED);
        let z = zstd::encode_all(&text[..], 3).unwrap();
        assert_eq!(
            decompress(compressed, &chdr(2, text.len() as u64, &z), ctx, 1 << 20).unwrap(),
            (text.clone(), "zstd")
        );
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&text).unwrap();
        let zl = e.finish().unwrap();
        assert_eq!(
            decompress(compressed, &chdr(1, text.len() as u64, &zl), ctx, 1 << 20)
                .unwrap()
                .0,
            text
        );
        let mut gnu = b"ZLIB".to_vec();
        gnu.extend((text.len() as u64).to_be_bytes());
        gnu.extend(&zl);
        assert_eq!(decompress(0, &gnu, ctx, 1 << 20).unwrap().0, text);
        // Budget, lying sizes, unknown codecs and truncation are errors, not panics.
        assert!(
            decompress(compressed, &chdr(1, 1 << 40, &zl), ctx, 1 << 20)
                .unwrap_err()
                .contains("limit")
        );
        assert!(decompress(compressed, &chdr(1, 10, &zl), ctx, 1 << 20).is_err());
        assert!(decompress(compressed, &chdr(1, 1000, &zl), ctx, 1 << 20).is_err());
        assert!(
            decompress(compressed, &chdr(9, 10, &zl), ctx, 1 << 20)
                .unwrap_err()
                .contains("type 9")
        );
        assert!(decompress(compressed, &[1, 0], ctx, 1 << 20).is_err());
        assert!(decompress(0, b"ZLIB\0", ctx, 1 << 20).is_err());
    }
}
