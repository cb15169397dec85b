//! PE/COFF (Windows executables and DLLs): the COFF header with its TimeDateStamp, the optional
//! header, data directories, the debug directory (CodeView GUID, age and PDB path, repro hash),
//! imports, exports and sections with digests and strings.

use goblin::pe::PE;
use goblin::pe::debug::DebugData;
use goblin::pe::header::machine_to_str;
use goblin::pe::options::ParseOptions;
use goblin::pe::section_table::SectionTable;

use super::sections::{self, SectionView};
use super::strings::{self, StringStyle};
use super::{CompareError, Context, Fields, Node, Reader, Source, flag_names, hex, hex_bytes, range};
use crate::compare::{Comparator, Format};
use crate::units::timestamp;

const FORMAT: &str = "PE";
const SECTION_HEADER_SIZE: u64 = 40;
const COFF_SYMBOL_SIZE: u64 = 18;

const DATA_DIRECTORIES: [&str; 16] = [
    "export table",
    "import table",
    "resource table",
    "exception table",
    "certificate table",
    "base relocation table",
    "debug directory",
    "architecture",
    "global pointer",
    "TLS table",
    "load config table",
    "bound import table",
    "import address table",
    "delay import descriptor",
    "CLR runtime header",
    "reserved",
];

const FILE_CHARACTERISTICS: [(u64, &str); 12] = [
    (0x0001, "RELOCS_STRIPPED"),
    (0x0002, "EXECUTABLE_IMAGE"),
    (0x0004, "LINE_NUMS_STRIPPED"),
    (0x0008, "LOCAL_SYMS_STRIPPED"),
    (0x0020, "LARGE_ADDRESS_AWARE"),
    (0x0100, "32BIT_MACHINE"),
    (0x0200, "DEBUG_STRIPPED"),
    (0x0400, "REMOVABLE_RUN_FROM_SWAP"),
    (0x0800, "NET_RUN_FROM_SWAP"),
    (0x1000, "SYSTEM"),
    (0x2000, "DLL"),
    (0x4000, "UP_SYSTEM_ONLY"),
];

const SECTION_CHARACTERISTICS: [(u64, &str); 9] = [
    (0x0000_0020, "CODE"),
    (0x0000_0040, "INITIALIZED_DATA"),
    (0x0000_0080, "UNINITIALIZED_DATA"),
    (0x0000_1000, "COMDAT"),
    (0x0200_0000, "DISCARDABLE"),
    (0x1000_0000, "SHARED"),
    (0x2000_0000, "EXECUTE"),
    (0x4000_0000, "READ"),
    (0x8000_0000, "WRITE"),
];

pub struct PeComparator;

impl Comparator for PeComparator {
    fn name(&self) -> &'static str {
        "pe"
    }

    fn formats(&self) -> &'static [Format] {
        &[Format::Pe]
    }

    fn compare(&self, cx: &Context<'_>, a: &Source, b: &Source, node: &mut Node) -> Result<(), CompareError> {
        super::compare_with(FORMAT, cx, a, b, node, compare)
    }
}

fn compare(cx: &Context<'_>, a: &[u8], b: &[u8], node: &mut Node) -> Result<(), CompareError> {
    let (pa, pb) = rayon::join(|| parse(a), || parse(b));
    let (pa, pb) = (pa?, pb?);
    super::compare_fields(node, &fields(&pa), &fields(&pb));
    let imports = |pe: &PE<'_>| -> Vec<String> {
        pe.imports
            .iter()
            .map(|i| format!("{}!{}", i.dll, i.name))
            .collect()
    };
    if let Some(c) = strings::diff_lists("imports", &imports(&pa), &imports(&pb)) {
        node.changes.push(c);
    }
    if let Some(c) = strings::diff_lists("exports", &exports(&pa), &exports(&pb)) {
        node.changes.push(c);
    }
    let (sa, sb) = (section_views(&pa, a)?, section_views(&pb, b)?);
    sections::compare(cx, node, "sections", &sa, &sb, &sections::describe_by_style)
}

/// Parses with goblin after checking that the section table fits in the file. Resources,
/// TLS data and certificates are not parsed: they are compared as section bytes or, for the
/// certificate table, through its data directory entry.
fn parse(bytes: &[u8]) -> Result<PE<'_>, CompareError> {
    let r = Reader::new(bytes, false);
    let truncated = || CompareError::malformed(FORMAT, "the headers are truncated");
    let pe_offset = u64::from(r.u32(0x3c).ok_or_else(truncated)?);
    let sections = r.u16(pe_offset.saturating_add(6)).ok_or_else(truncated)?;
    let optional = r.u16(pe_offset.saturating_add(20)).ok_or_else(truncated)?;
    let table = pe_offset.saturating_add(24).saturating_add(optional.into());
    super::check_table(
        FORMAT,
        "section table",
        table,
        sections.into(),
        SECTION_HEADER_SIZE,
        bytes.len() as u64,
    )?;
    let mut opts = ParseOptions::default();
    opts.parse_attribute_certificates = false;
    opts.parse_tls_data = false;
    opts.parse_resources = false;
    PE::parse_with_opts(bytes, &opts).map_err(|e| CompareError::malformed(FORMAT, e))
}

fn fields(pe: &PE<'_>) -> Fields {
    let c = &pe.header.coff_header;
    let mut f: Fields = vec![
        (
            "machine".into(),
            format!("{} ({:#x})", machine_to_str(c.machine), c.machine),
        ),
        ("time-date-stamp".into(), timestamp(c.time_date_stamp.into())),
        (
            "characteristics".into(),
            flag_names(c.characteristics.into(), &FILE_CHARACTERISTICS),
        ),
        (
            "symbol table".into(),
            format!(
                "{} symbols at {:#x}",
                c.number_of_symbol_table, c.pointer_to_symbol_table
            ),
        ),
    ];
    if let Some(oh) = &pe.header.optional_header {
        let (s, w) = (&oh.standard_fields, &oh.windows_fields);
        let version = |major: u16, minor: u16| format!("{major}.{minor}");
        let magic = match s.magic {
            0x10b => "PE32".to_string(),
            0x20b => "PE32+".to_string(),
            m => hex(m.into()),
        };
        f.extend([
            ("magic".into(), magic),
            (
                "linker version".into(),
                version(s.major_linker_version.into(), s.minor_linker_version.into()),
            ),
            ("entry".into(), hex(s.address_of_entry_point.into())),
            ("image base".into(), hex(w.image_base)),
            ("subsystem".into(), subsystem(w.subsystem)),
            (
                "subsystem version".into(),
                version(w.major_subsystem_version, w.minor_subsystem_version),
            ),
            (
                "os version".into(),
                version(w.major_operating_system_version, w.minor_operating_system_version),
            ),
            (
                "image version".into(),
                version(w.major_image_version, w.minor_image_version),
            ),
            ("dll characteristics".into(), hex(w.dll_characteristics.into())),
            ("checksum".into(), hex(w.check_sum.into())),
            ("size of image".into(), w.size_of_image.to_string()),
            ("size of headers".into(), w.size_of_headers.to_string()),
            ("size of code".into(), s.size_of_code.to_string()),
            (
                "size of initialized data".into(),
                s.size_of_initialized_data.to_string(),
            ),
            (
                "size of uninitialized data".into(),
                s.size_of_uninitialized_data.to_string(),
            ),
            ("section alignment".into(), hex(w.section_alignment.into())),
            ("file alignment".into(), hex(w.file_alignment.into())),
            (
                "stack reserve/commit".into(),
                format!("{:#x}/{:#x}", w.size_of_stack_reserve, w.size_of_stack_commit),
            ),
            (
                "heap reserve/commit".into(),
                format!("{:#x}/{:#x}", w.size_of_heap_reserve, w.size_of_heap_commit),
            ),
            ("loader flags".into(), hex(w.loader_flags.into())),
        ]);
        for (name, dd) in DATA_DIRECTORIES
            .iter()
            .zip(oh.data_directories.data_directories.iter())
        {
            if let Some((_, dd)) = dd {
                f.push((
                    format!("data directory {name}"),
                    format!("{:#x} ({} bytes)", dd.virtual_address, dd.size),
                ));
            }
        }
    }
    if let Some(debug) = &pe.debug_data {
        debug_fields(debug, &mut f);
    }
    f
}

fn subsystem(v: u16) -> String {
    let name = match v {
        1 => "native",
        2 => "windows GUI",
        3 => "windows console",
        5 => "OS/2 console",
        7 => "POSIX console",
        9 => "windows CE GUI",
        10 => "EFI application",
        11 => "EFI boot service driver",
        12 => "EFI runtime driver",
        13 => "EFI ROM",
        14 => "Xbox",
        16 => "windows boot application",
        _ => "unknown",
    };
    format!("{name} ({v})")
}

/// The debug directory: each entry's timestamp, the CodeView record (GUID, age, PDB path) and
/// the repro hash — the usual places a Windows build records when and where it ran.
fn debug_fields(debug: &DebugData<'_>, f: &mut Fields) {
    let mut seen = Vec::new();
    for entry in debug.entries().flatten() {
        let kind = debug_type(entry.data_type);
        // Entries of one type are numbered so repeated ones stay distinct.
        let n = seen.iter().filter(|&&t| t == entry.data_type).count();
        seen.push(entry.data_type);
        let name = if n == 0 {
            format!("debug {kind}")
        } else {
            format!("debug {kind} ({})", n + 1)
        };
        f.push((
            format!("{name} time-date-stamp"),
            timestamp(entry.time_date_stamp.into()),
        ));
    }
    if let Some(cv) = &debug.codeview_pdb70_debug_info {
        f.push(("codeview guid".into(), guid(&cv.signature)));
        f.push(("codeview age".into(), cv.age.to_string()));
        f.push(("pdb path".into(), pdb_path(cv.filename)));
    }
    if let Some(cv) = &debug.codeview_pdb20_debug_info {
        f.push(("codeview signature".into(), hex(cv.signature.into())));
        f.push(("codeview age".into(), cv.age.to_string()));
        f.push(("pdb path".into(), pdb_path(cv.filename)));
    }
    if let Some(repro) = &debug.repro_info {
        let hash = match repro {
            goblin::pe::debug::ReproInfo::TimeDateStamp(t) => format!("{t:08x}"),
            goblin::pe::debug::ReproInfo::Buffer { buffer, .. } => hex_bytes(buffer),
        };
        f.push(("repro hash".into(), hash));
    }
}

fn debug_type(t: u32) -> String {
    match t {
        1 => "coff".into(),
        2 => "codeview".into(),
        3 => "fpo".into(),
        4 => "misc".into(),
        5 => "exception".into(),
        6 => "fixup".into(),
        9 => "borland".into(),
        12 => "vc-feature".into(),
        13 => "pogo".into(),
        14 => "iltcg".into(),
        16 => "repro".into(),
        20 => "ex-dllcharacteristics".into(),
        t => format!("type {t}"),
    }
}

/// A CodeView GUID as Windows prints it: the first three groups are little-endian.
fn guid(b: &[u8; 16]) -> String {
    format!(
        "{{{:02X}{:02X}{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}}}",
        b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]
    )
}

fn pdb_path(name: &[u8]) -> String {
    strings::show(name.split(|&c| c == 0).next().unwrap_or_default())
}

fn exports(pe: &PE<'_>) -> Vec<String> {
    pe.exports
        .iter()
        .map(|e| match e.name {
            Some(name) => name.to_string(),
            None => format!("(unnamed, rva {:#x})", e.rva),
        })
        .collect()
}

fn section_name(s: &SectionTable) -> String {
    match s.name() {
        Ok(name) => name.to_string(),
        Err(_) => strings::show(s.name.split(|&c| c == 0).next().unwrap_or_default()),
    }
}

fn string_style(name: &str) -> Option<StringStyle> {
    match name {
        ".rdata" => Some(StringStyle::Printable),
        ".debug_str" | ".debug_line_str" => Some(StringStyle::Table),
        _ => None,
    }
}

fn section_views<'a>(
    pe: &PE<'a>,
    bytes: &'a [u8],
) -> Result<Vec<SectionView<'a, Option<StringStyle>>>, CompareError> {
    let names: Vec<String> = pe.sections.iter().map(section_name).collect();
    let keys = sections::unique_keys(names.iter().cloned());
    let mut views = Vec::with_capacity(pe.sections.len() + 1);
    for ((s, name), key) in pe.sections.iter().zip(&names).zip(keys) {
        let size = u64::from(s.size_of_raw_data);
        let data = if size == 0 {
            None
        } else {
            Some(range(bytes, s.pointer_to_raw_data.into(), size).ok_or_else(|| {
                CompareError::malformed(
                    FORMAT,
                    format!(
                        "section {key}: {size} bytes at offset {:#x} lie outside the file ({} bytes)",
                        s.pointer_to_raw_data,
                        bytes.len()
                    ),
                )
            })?)
        };
        views.push(SectionView {
            label: format!("section {key}"),
            fields: vec![
                ("virtual address".into(), hex(s.virtual_address.into())),
                ("virtual size".into(), hex(s.virtual_size.into())),
                (
                    "characteristics".into(),
                    flag_names(s.characteristics.into(), &SECTION_CHARACTERISTICS),
                ),
            ],
            size,
            data,
            kind: string_style(name),
            key,
        });
    }
    if let Some(symbols) = coff_symbols(pe, bytes) {
        views.push(SectionView {
            key: "(COFF symbol table)".into(),
            label: "COFF symbol table".into(),
            fields: Vec::new(),
            size: symbols.len() as u64,
            data: Some(symbols),
            kind: Some(StringStyle::Printable),
        });
    }
    Ok(views)
}

/// The COFF symbol and string tables (MinGW images keep them), when they lie inside the file.
fn coff_symbols<'a>(pe: &PE<'a>, bytes: &'a [u8]) -> Option<&'a [u8]> {
    let c = &pe.header.coff_header;
    if c.pointer_to_symbol_table == 0 {
        return None;
    }
    let start = u64::from(c.pointer_to_symbol_table);
    let symbols = u64::from(c.number_of_symbol_table).checked_mul(COFF_SYMBOL_SIZE)?;
    let strings = Reader::new(bytes, false)
        .u32(start.checked_add(symbols)?)
        .map_or(0, u64::from);
    range(bytes, start, symbols.checked_add(strings)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_guids_like_windows() {
        let b = [
            0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
        ];
        assert_eq!(guid(&b), "{00112233-4455-6677-8899-AABBCCDDEEFF}");
        assert_eq!(pdb_path(b"C:\\b\\x.pdb\0junk"), "C:\\b\\x.pdb");
        assert_eq!(subsystem(3), "windows console (3)");
    }

    #[test]
    fn rejects_truncated_and_absurd_headers() {
        let err = |b: &[u8]| parse(b).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err(b"MZ").contains("truncated"));
        let mut h = vec![0u8; 0x100];
        h[..2].copy_from_slice(b"MZ");
        h[0x3c] = 0x40;
        h[0x40..0x44].copy_from_slice(b"PE\0\0");
        h[0x46..0x48].copy_from_slice(&0xffffu16.to_le_bytes());
        assert!(err(&h).contains("section table"), "{}", err(&h));
    }
}
