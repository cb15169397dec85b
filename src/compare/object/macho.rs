//! Mach-O: header, load commands (LC_UUID as `uuid`, build and minimum OS versions, dylibs,
//! rpaths), segments, sections with digests and the strings of cstring sections, and symbols.
//! Universal (fat) binaries are compared slice by slice, each slice as a member.

use goblin::mach::MachO;
use goblin::mach::constants::cputype::{CPU_SUBTYPE_MASK, get_arch_name_from_types};
use goblin::mach::constants::{
    S_CSTRING_LITERALS, S_GB_ZEROFILL, S_THREAD_LOCAL_ZEROFILL, S_ZEROFILL, SECTION_TYPE,
};
use goblin::mach::header::{filetype_to_str, flag_to_str};
use goblin::mach::load_command::{CommandVariant, cmd_to_str};
use goblin::mach::segment::Segment;

use super::sections::{self, SectionView};
use super::strings::{self, StringStyle};
use super::symbols::{self, Symbol};
use super::{Change, CompareError, Context, Fields, Node, Reader, Source, flag_names, hex, range};
use crate::compare::{Comparator, Format, Pair};

const FORMAT: &str = "Mach-O";
const FAT_MAGIC: u32 = 0xcafe_babe;
const FAT_MAGIC_64: u32 = 0xcafe_babf;
/// More architectures than any real universal binary carries (the sniffer accepts up to 30).
const MAX_ARCHES: u32 = 64;
const LC_SEGMENT: u32 = 0x1;
const LC_SEGMENT_64: u32 = 0x19;
const LC_MAIN: u32 = 0x8000_0028;

pub struct MachOComparator;

impl Comparator for MachOComparator {
    fn name(&self) -> &'static str {
        "mach-o"
    }

    fn formats(&self) -> &'static [Format] {
        &[Format::MachO]
    }

    fn compare(&self, cx: &Context<'_>, a: &Source, b: &Source, node: &mut Node) -> Result<(), CompareError> {
        super::compare_with(FORMAT, cx, a, b, node, compare)
    }
}

fn compare(cx: &Context<'_>, a: &[u8], b: &[u8], node: &mut Node) -> Result<(), CompareError> {
    match (fat_arches(a)?, fat_arches(b)?) {
        (Some(fa), Some(fb)) => compare_fat(cx, a, b, &fa, &fb, node),
        (None, None) => compare_thin(cx, a, b, node),
        (fa, fb) => {
            let kind = |f: &Option<Vec<Arch>>| match f {
                Some(v) => format!("universal ({} architectures)", v.len()),
                None => "thin".to_string(),
            };
            node.changes
                .push(Change::field("container", kind(&fa), kind(&fb)));
            Ok(())
        }
    }
}

/// One slice of a universal binary.
#[derive(Debug, Clone, PartialEq)]
struct Arch {
    name: String,
    wide: bool,
    offset: u64,
    size: u64,
    align: u32,
}

/// The slices of a universal binary, `None` for a thin one; every slice must lie in the file.
fn fat_arches(bytes: &[u8]) -> Result<Option<Vec<Arch>>, CompareError> {
    let r = Reader::new(bytes, true);
    let wide = match r.u32(0) {
        Some(FAT_MAGIC) => false,
        Some(FAT_MAGIC_64) => true,
        _ => return Ok(None),
    };
    let count = r
        .u32(4)
        .ok_or_else(|| CompareError::malformed(FORMAT, "the fat header is truncated"))?;
    if count > MAX_ARCHES {
        return Err(CompareError::malformed(
            FORMAT,
            format!("the fat header claims {count} architectures (at most {MAX_ARCHES} are plausible)"),
        ));
    }
    let entry: u64 = if wide { 32 } else { 20 };
    super::check_table(
        FORMAT,
        "fat architectures",
        8,
        count.into(),
        entry,
        bytes.len() as u64,
    )?;
    let mut arches = Vec::new();
    for i in 0..u64::from(count) {
        let at = 8 + i * entry;
        let field = |off: u64| r.u32(at + off).unwrap_or_default();
        let (cputype, subtype) = (field(0), field(4));
        let (offset, size, align) = if wide {
            (
                r.u64(at + 8).unwrap_or_default(),
                r.u64(at + 16).unwrap_or_default(),
                field(24),
            )
        } else {
            (field(8).into(), field(12).into(), field(16))
        };
        let name = get_arch_name_from_types(cputype, subtype & !CPU_SUBTYPE_MASK)
            .map_or_else(|| format!("cpu {cputype:#x}/{subtype:#x}"), str::to_string);
        if range(bytes, offset, size).is_none() {
            return Err(CompareError::malformed(
                FORMAT,
                format!("architecture {i} ({name}): {size} bytes at offset {offset:#x} lie outside the file"),
            ));
        }
        arches.push(Arch {
            name,
            wide,
            offset,
            size,
            align,
        });
    }
    let keys = sections::unique_keys(arches.iter().map(|a| a.name.clone()));
    for (arch, key) in arches.iter_mut().zip(keys) {
        arch.name = key;
    }
    Ok(Some(arches))
}

fn compare_fat(
    cx: &Context<'_>,
    a: &[u8],
    b: &[u8],
    fa: &[Arch],
    fb: &[Arch],
    node: &mut Node,
) -> Result<(), CompareError> {
    let magic = |f: &[Arch]| {
        if f.first().is_some_and(|x| x.wide) {
            "FAT_MAGIC_64"
        } else {
            "FAT_MAGIC"
        }
    };
    node.field_if_differs("fat magic", magic(fa), magic(fb));
    let names = |f: &[Arch]| f.iter().map(|x| x.name.clone()).collect::<Vec<_>>();
    let (na, nb) = (names(fa), names(fb));
    let removed: Vec<&String> = na.iter().filter(|n| !nb.contains(n)).collect();
    let added: Vec<&String> = nb.iter().filter(|n| !na.contains(n)).collect();
    if let Some(c) = strings::change("architectures", &removed, &added, |s| s.to_string()) {
        node.changes.push(c);
    }
    let slice = |bytes: &[u8], x: &Arch| range(bytes, x.offset, x.size).map(|s| Source::memory(s.to_vec()));
    let mut pairs = Vec::new();
    for x in fa {
        let Some(y) = fb.iter().find(|y| y.name == x.name) else {
            continue;
        };
        node.field_if_differs(
            &format!("{} alignment", x.name),
            1u64 << x.align.min(63),
            1u64 << y.align.min(63),
        );
        if let (Some(sa), Some(sb)) = (slice(a, x), slice(b, y)) {
            pairs.push(Pair {
                name: x.name.clone(),
                a: sa,
                b: sb,
            });
        }
    }
    cx.compare_many(pairs, node);
    Ok(())
}

fn compare_thin(cx: &Context<'_>, a: &[u8], b: &[u8], node: &mut Node) -> Result<(), CompareError> {
    let max = cx.options().max_entries;
    let (ma, mb) = rayon::join(|| parse(a, max), || parse(b, max));
    let (ma, mb) = (ma?, mb?);
    super::compare_fields(node, &fields(&ma, a), &fields(&mb, b));
    for (what, la, lb) in [
        ("dylibs", dylibs(&ma, a), dylibs(&mb, b)),
        ("rpaths", rpaths(&ma), rpaths(&mb)),
        ("load commands", commands(&ma), commands(&mb)),
    ] {
        if let Some(c) = strings::diff_lists(what, &la, &lb) {
            node.changes.push(c);
        }
    }
    super::compare_by_index(node, "segment", &segment_lines(&ma), &segment_lines(&mb));
    let mut symbols_node = Node::new("symbols");
    match (macho_symbols(&ma), macho_symbols(&mb)) {
        (Ok(sa), Ok(sb)) => symbols::diff(&mut symbols_node, &sa, &sb),
        (Err(e), _) | (_, Err(e)) => symbols_node
            .changes
            .push(Change::note(format!("symbols could not be read: {e}"))),
    }
    node.push_child(symbols_node);
    let (sa, sb) = (section_views(&ma, a)?, section_views(&mb, b)?);
    sections::compare(cx, node, "sections", &sa, &sb, &sections::describe_by_style)
}

/// Parses a thin Mach-O with goblin after walking the load commands to check that each one,
/// and each segment's section headers, fit where the header says.
fn parse(bytes: &[u8], max_entries: u64) -> Result<MachO<'_>, CompareError> {
    let malformed = |m: String| CompareError::malformed(FORMAT, m);
    let (big, wide) = match Reader::new(bytes, false).u32(0) {
        Some(0xfeed_face) => (false, false),
        Some(0xfeed_facf) => (false, true),
        Some(0xcefa_edfe) => (true, false),
        Some(0xcffa_edfe) => (true, true),
        _ => return Err(malformed("not a Mach-O header".into())),
    };
    let r = Reader::new(bytes, big);
    let header: u64 = if wide { 32 } else { 28 };
    let (Some(ncmds), Some(sizeofcmds)) = (r.u32(16), r.u32(20)) else {
        return Err(malformed("the header is truncated".into()));
    };
    if u64::from(ncmds) > max_entries {
        return Err(CompareError::Budget(format!(
            "{ncmds} load commands, more than the limit of {max_entries} entries"
        )));
    }
    let end = header + u64::from(sizeofcmds);
    if u64::from(ncmds) * 8 > u64::from(sizeofcmds) || end > bytes.len() as u64 {
        return Err(malformed(format!(
            "{ncmds} load commands in {sizeofcmds} bytes do not fit in the file ({} bytes)",
            bytes.len()
        )));
    }
    let (seg_size, sect_size, nsects_at) = if wide { (72, 80, 64) } else { (56, 68, 48) };
    let mut text_base = None;
    let mut has_main = false;
    let mut off = header;
    for i in 0..ncmds {
        let (Some(cmd), Some(size)) = (r.u32(off), r.u32(off + 4)) else {
            return Err(malformed(format!("load command {i} is truncated")));
        };
        let next = off + u64::from(size);
        if size < 8 || next > end {
            return Err(malformed(format!(
                "load command {i} has an impossible size of {size} bytes"
            )));
        }
        if cmd == LC_SEGMENT || cmd == LC_SEGMENT_64 {
            let nsects = r.u32(off + nsects_at).unwrap_or(u32::MAX);
            if seg_size + u64::from(nsects) * sect_size > u64::from(size) {
                return Err(malformed(format!("segment command {i} claims {nsects} sections")));
            }
            if range(bytes, off + 8, 7) == Some(b"__TEXT\0") && text_base.is_none() {
                let (vmaddr, fileoff) = if wide {
                    (r.u64(off + 24), r.u64(off + 40))
                } else {
                    (r.u32(off + 24).map(u64::from), r.u32(off + 32).map(u64::from))
                };
                text_base = Some(vmaddr.zip(fileoff));
            }
        }
        has_main |= cmd == LC_MAIN;
        off = next;
    }
    // goblin computes the entry point as __TEXT vmaddr - fileoff + entryoff unchecked.
    if has_main && !matches!(text_base, Some(Some((vmaddr, fileoff))) if vmaddr >= fileoff) {
        return Err(malformed("LC_MAIN without a consistent __TEXT segment".into()));
    }
    MachO::parse(bytes, 0).map_err(|e| CompareError::malformed(FORMAT, e))
}

fn version(v: u32) -> String {
    format!("{}.{}.{}", v >> 16, (v >> 8) & 0xff, v & 0xff)
}

fn platform(p: u32) -> String {
    let name = match p {
        1 => "macos",
        2 => "ios",
        3 => "tvos",
        4 => "watchos",
        5 => "bridgeos",
        6 => "maccatalyst",
        7 => "ios-simulator",
        8 => "tvos-simulator",
        9 => "watchos-simulator",
        10 => "driverkit",
        11 => "visionos",
        12 => "visionos-simulator",
        _ => return format!("platform {p}"),
    };
    name.to_string()
}

/// The string a load command points to (`lc_str` offsets are relative to the command).
fn lc_string(bytes: &[u8], command_offset: usize, at: u32) -> String {
    let s = command_offset
        .checked_add(at as usize)
        .and_then(|start| bytes.get(start..))
        .and_then(|rest| rest.split(|&c| c == 0).next())
        .unwrap_or_default();
    strings::show(s)
}

fn uuid(u: &[u8; 16]) -> String {
    let h = hex::encode_upper(u);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn fields(m: &MachO<'_>, bytes: &[u8]) -> Fields {
    let h = &m.header;
    let flags: Vec<(u64, &str)> = (0..32)
        .map(|bit| 1u32 << bit)
        .filter(|f| h.flags & f != 0)
        .map(|f| (u64::from(f), flag_to_str(f)))
        .collect();
    let mut f: Fields = vec![
        ("magic".into(), hex(h.magic.into())),
        (
            "cpu".into(),
            get_arch_name_from_types(h.cputype, h.cpusubtype & !CPU_SUBTYPE_MASK)
                .map_or_else(|| hex(h.cputype.into()), str::to_string),
        ),
        ("cpu subtype".into(), hex(h.cpusubtype.into())),
        ("filetype".into(), filetype_to_str(h.filetype).to_string()),
        ("flags".into(), flag_names(h.flags.into(), &flags)),
        ("entry".into(), hex(m.entry)),
    ];
    if let Some(name) = m.name {
        f.push(("id dylib".into(), name.to_string()));
    }
    for lc in &m.load_commands {
        let entry = match &lc.command {
            CommandVariant::Uuid(u) => ("uuid".to_string(), uuid(&u.uuid)),
            CommandVariant::BuildVersion(b) => (
                "build version".to_string(),
                format!(
                    "{} minos {} sdk {}",
                    platform(b.platform),
                    version(b.minos),
                    version(b.sdk)
                ),
            ),
            CommandVariant::VersionMinMacosx(v)
            | CommandVariant::VersionMinIphoneos(v)
            | CommandVariant::VersionMinTvos(v)
            | CommandVariant::VersionMinWatchos(v) => (
                format!("min version ({})", cmd_to_str(v.cmd)),
                format!("{} sdk {}", version(v.version), version(v.sdk)),
            ),
            CommandVariant::SourceVersion(s) => {
                let v = s.version;
                (
                    "source version".to_string(),
                    format!(
                        "{}.{}.{}.{}.{}",
                        v >> 40,
                        (v >> 30) & 0x3ff,
                        (v >> 20) & 0x3ff,
                        (v >> 10) & 0x3ff,
                        v & 0x3ff
                    ),
                )
            }
            CommandVariant::LoadDylinker(d) => ("dylinker".to_string(), lc_string(bytes, lc.offset, d.name)),
            CommandVariant::CodeSignature(c) => (
                "code signature".to_string(),
                format!("{} bytes at {:#x}", c.datasize, c.dataoff),
            ),
            _ => continue,
        };
        f.push(entry);
    }
    f
}

/// Every dylib load command with its versions and timestamp (old linkers stamped real times).
fn dylibs(m: &MachO<'_>, bytes: &[u8]) -> Vec<String> {
    m.load_commands
        .iter()
        .filter_map(|lc| match &lc.command {
            CommandVariant::LoadDylib(d)
            | CommandVariant::LoadWeakDylib(d)
            | CommandVariant::ReexportDylib(d)
            | CommandVariant::LazyLoadDylib(d)
            | CommandVariant::LoadUpwardDylib(d) => Some(format!(
                "{} ({}, current {}, compatibility {}, timestamp {})",
                lc_string(bytes, lc.offset, d.dylib.name),
                cmd_to_str(d.cmd),
                version(d.dylib.current_version),
                version(d.dylib.compatibility_version),
                d.dylib.timestamp
            )),
            _ => None,
        })
        .collect()
}

fn rpaths(m: &MachO<'_>) -> Vec<String> {
    m.rpaths.iter().map(|s| s.to_string()).collect()
}

fn commands(m: &MachO<'_>) -> Vec<String> {
    m.load_commands
        .iter()
        .map(|lc| cmd_to_str(lc.command.cmd()).to_string())
        .collect()
}

fn segment_name(s: &Segment<'_>) -> String {
    strings::show(s.segname.split(|&c| c == 0).next().unwrap_or_default())
}

fn segment_lines(m: &MachO<'_>) -> Vec<String> {
    m.segments
        .iter()
        .map(|s| {
            format!(
                "{} vmaddr={:#x} vmsize={:#x} fileoff={:#x} filesize={:#x} maxprot={:#x} initprot={:#x} flags={:#x} nsects={}",
                segment_name(s),
                s.vmaddr,
                s.vmsize,
                s.fileoff,
                s.filesize,
                s.maxprot,
                s.initprot,
                s.flags,
                s.nsects
            )
        })
        .collect()
}

/// Symbols including debug-map stabs, whose N_OSO entries name object files and their mtimes.
fn macho_symbols<'a>(m: &MachO<'a>) -> Result<Vec<Symbol<'a>>, String> {
    let mut out = Vec::new();
    for s in m.symbols() {
        let (name, nlist) = s.map_err(|e| e.to_string())?;
        if !name.is_empty() {
            out.push(Symbol {
                name: name.into(),
                value: nlist.n_value,
                size: None,
            });
        }
    }
    Ok(out)
}

fn string_style(sectname: &str, flags: u32) -> Option<StringStyle> {
    let table = flags & SECTION_TYPE == S_CSTRING_LITERALS
        || matches!(
            sectname,
            "__cstring" | "__debug_str" | "__debug_line_str" | "__oslogstring"
        );
    table.then_some(StringStyle::Table)
}

fn section_views<'a>(
    m: &MachO<'a>,
    bytes: &'a [u8],
) -> Result<Vec<SectionView<'a, Option<StringStyle>>>, CompareError> {
    let mut raw = Vec::new();
    for seg in m.segments.iter() {
        let segname = segment_name(seg);
        if seg.nsects == 0 {
            // A segment without sections (__LINKEDIT: symbols, signatures) is compared whole.
            if seg.filesize > 0 {
                let data = range(bytes, seg.fileoff, seg.filesize).ok_or_else(|| {
                    CompareError::malformed(FORMAT, format!("segment {segname} lies outside the file"))
                })?;
                raw.push((
                    format!("segment {segname}"),
                    Vec::new(),
                    seg.filesize,
                    Some(data),
                    None,
                ));
            }
            continue;
        }
        for section in seg {
            let (s, _) = section.map_err(|e| CompareError::malformed(FORMAT, e))?;
            let sectname = strings::show(s.sectname.split(|&c| c == 0).next().unwrap_or_default());
            let key = format!("{segname},{sectname}");
            let kind = s.flags & SECTION_TYPE;
            let zerofill = matches!(kind, S_ZEROFILL | S_GB_ZEROFILL | S_THREAD_LOCAL_ZEROFILL);
            // Offset 0 means no file data (dSYM companions keep only the headers).
            let data = if zerofill || s.offset == 0 || s.size == 0 {
                None
            } else {
                Some(range(bytes, s.offset.into(), s.size).ok_or_else(|| {
                    CompareError::malformed(
                        FORMAT,
                        format!(
                            "section {key}: {} bytes at offset {:#x} lie outside the file",
                            s.size, s.offset
                        ),
                    )
                })?)
            };
            let fields = vec![
                ("address".to_string(), hex(s.addr)),
                ("alignment".to_string(), (1u64 << s.align.min(63)).to_string()),
                ("flags".to_string(), hex(s.flags.into())),
                ("relocations".to_string(), s.nreloc.to_string()),
            ];
            raw.push((key, fields, s.size, data, string_style(&sectname, s.flags)));
        }
    }
    let keys = sections::unique_keys(raw.iter().map(|r| r.0.clone()));
    Ok(raw
        .into_iter()
        .zip(keys)
        .map(|((name, fields, size, data, kind), key)| SectionView {
            label: if name.starts_with("segment ") {
                key.clone()
            } else {
                format!("section {key}")
            },
            key,
            fields,
            size,
            data,
            kind,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fat_header(magic: u32, count: u32) -> Vec<u8> {
        let mut v = magic.to_be_bytes().to_vec();
        v.extend(count.to_be_bytes());
        v
    }

    #[test]
    fn rejects_absurd_fat_headers() {
        let err = |b: &[u8]| fat_arches(b).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err(&fat_header(FAT_MAGIC, u32::MAX)).contains("claims 4294967295 architectures"));
        assert!(err(&fat_header(FAT_MAGIC_64, 20)).contains("do not fit"));
        let mut one = fat_header(FAT_MAGIC, 1);
        one.extend([
            0, 0, 0, 7, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xf0, 0, 0, 0x10, 0, 0, 0, 0, 12,
        ]);
        assert!(err(&one).contains("lie outside the file"), "{}", err(&one));
        assert_eq!(fat_arches(b"\xfe\xed\xfa\xcf").unwrap(), None);
    }

    #[test]
    fn rejects_impossible_load_commands() {
        let err = |b: &[u8]| parse(b, 1000).err().map(|e| e.to_string()).unwrap_or_default();
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(&0xfeed_facfu32.to_le_bytes());
        h[16..20].copy_from_slice(&5u32.to_le_bytes());
        h[20..24].copy_from_slice(&16u32.to_le_bytes());
        assert!(err(&h).contains("5 load commands in 16 bytes"), "{}", err(&h));
        h[16..20].copy_from_slice(&1u32.to_le_bytes());
        h[32..36].copy_from_slice(&0x19u32.to_le_bytes());
        h[36..40].copy_from_slice(&4u32.to_le_bytes());
        assert!(err(&h).contains("impossible size"), "{}", err(&h));
        assert_eq!(uuid(&[0xab; 16]), "ABABABAB-ABAB-ABAB-ABAB-ABABABABABAB");
        assert_eq!(version(0x000b_0100), "11.1.0");
    }
}
