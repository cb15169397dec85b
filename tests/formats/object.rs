//! Executable comparison end to end: ELF files built by gcc at test time, PE and Mach-O files
//! written by `tests/fixtures/gen_objects.py`, malformed variants of them, and a property test
//! that mutated files never make the engine panic.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use proptest::prelude::*;
use repro::compare::{Change, Comparison, Engine, Node, Options, Registry};
use tempfile::TempDir;

fn compare(a: &Path, b: &Path) -> Comparison {
    Engine::new(Options::default(), Registry::default())
        .unwrap()
        .compare_paths(a, b)
        .unwrap()
}

fn root(a: &Path, b: &Path) -> Node {
    compare(a, b).root.expect("the inputs differ")
}

fn child<'n>(node: &'n Node, name: &str) -> &'n Node {
    node.children
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no child {name:?} in {:?}", names(node)))
}

fn names(node: &Node) -> Vec<&str> {
    node.children.iter().map(|c| c.name.as_str()).collect()
}

/// The one-sided strings of a `Change::Strings`, each side sorted.
fn strings(node: &Node, field: &str) -> (Vec<String>, Vec<String>) {
    node.changes
        .iter()
        .find_map(|c| match c {
            Change::Strings {
                field: f,
                removed,
                added,
                ..
            } if f == field => {
                let (mut r, mut a) = (removed.clone(), added.clone());
                r.sort();
                a.sort();
                Some((r, a))
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no strings {field:?} in {:#?}", node.changes))
}

fn field(node: &Node, name: &str) -> (Option<String>, Option<String>) {
    node.changes
        .iter()
        .find_map(|c| match c {
            Change::Field { field, a, b } if field == name => Some((a.clone(), b.clone())),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no field {name:?} in {:#?}", node.changes))
}

fn pair(a: &str, b: &str) -> (Option<String>, Option<String>) {
    (Some(a.to_string()), Some(b.to_string()))
}

fn has_note(node: &Node, text: &str) -> bool {
    node.changes
        .iter()
        .any(|c| matches!(c, Change::Note { text: t } if t.contains(text)))
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?} (gcc and python3 are required): {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const PROGRAM: &str = r#"#include <stdio.h>
static const char stamp[] = "built " __DATE__ " " __TIME__;
int helper(int x) { return x * 3 + 1; }
#ifdef EXTRA
int extra(int x) { return x - 1; }
#endif
int main(int argc, char **argv) {
    printf("%s from %s: %d\n", stamp, __FILE__, helper(argc));
    return 0;
}
"#;

/// Compiles `PROGRAM` in `dir` (by absolute path, as cmake does) at the given
/// SOURCE_DATE_EPOCH, with extra gcc arguments; returns the output path.
fn gcc(dir: &Path, epoch: u64, out: &str, args: &[&str]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let src = dir.join("main.c");
    std::fs::write(&src, PROGRAM).unwrap();
    let out = dir.join(out);
    run(Command::new("gcc")
        .current_dir(dir)
        .env("SOURCE_DATE_EPOCH", epoch.to_string())
        .args(["-O1", "-o"])
        .arg(&out)
        .args(args)
        .arg(&src));
    out
}

/// A small ELF executable shared by the malformed-input and property tests.
fn small_elf() -> &'static Path {
    static ELF: OnceLock<(TempDir, PathBuf)> = OnceLock::new();
    let (_, p) = ELF.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let p = gcc(dir.path(), 1_700_000_000, "prog", &["-g"]);
        (dir, p)
    });
    p
}

/// The PE and Mach-O files written by the generator script, once per test run.
fn generated() -> &'static Path {
    static DIR: OnceLock<TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gen_objects.py");
        run(Command::new("python3").arg(script).arg(dir.path()));
        dir
    })
    .path()
}

#[test]
fn elf_builds_in_two_directories_show_the_paths_and_dates() {
    let tmp = tempfile::tempdir().unwrap();
    let (da, db) = (tmp.path().join("build-a"), tmp.path().join("build-b"));
    // The random temporary prefix is mapped to /build so that the linker's string merging (whose
    // order follows the strings' hashes) lays both sides out the same on every run; the build
    // directories themselves still differ.
    let map = format!("-ffile-prefix-map={}=/build", tmp.path().display());
    let args = ["-g", "-gdwarf-5", "-Wl,--build-id", map.as_str()];
    let a = gcc(&da, 1_700_000_000, "prog", &args);
    let b = gcc(&db, 1_700_090_000, "prog", &args);
    let r = root(&a, &b);
    assert_eq!(r.format.as_deref(), Some("elf"));
    assert_eq!(r.fallback, None);
    // Equal-length paths and dates keep the layout, so exactly these sections differ.
    assert_eq!(
        names(&r),
        [
            "section .note.gnu.build-id",
            "section .rodata",
            "section .debug_line_str"
        ]
    );
    let (ia, ib) = field(&r, "build-id");
    assert!(ia.is_some_and(|x| x.len() == 40) && ib.is_some_and(|x| x.len() == 40));
    assert_eq!(
        strings(child(&r, "section .rodata"), "strings"),
        (
            vec![
                "/build/build-a/main.c".to_string(),
                "built Nov 14 2023 22:13:20".into()
            ],
            vec![
                "/build/build-b/main.c".to_string(),
                "built Nov 15 2023 23:13:20".into()
            ]
        )
    );
    assert_eq!(
        strings(child(&r, "section .debug_line_str"), "strings"),
        (
            vec!["/build/build-a".to_string(), "/build/build-a/main.c".into()],
            vec!["/build/build-b".to_string(), "/build/build-b/main.c".into()]
        )
    );
    let rodata = child(&r, "section .rodata");
    let digests = rodata.sha256.as_ref().unwrap();
    assert_ne!(digests.a, digests.b);
    assert!(r.identical_members > 20, "{}", r.identical_members);
}

#[test]
fn elf_build_id_alone_is_called_out() {
    let tmp = tempfile::tempdir().unwrap();
    let a = gcc(
        tmp.path(),
        1_700_000_000,
        "one",
        &["-Wl,--build-id=0x0123456789abcdef"],
    );
    let b = gcc(
        tmp.path(),
        1_700_000_000,
        "two",
        &["-Wl,--build-id=0xfedcba9876543210"],
    );
    let r = root(&a, &b);
    assert_eq!(
        r.changes,
        vec![Change::field("build-id", "0123456789abcdef", "fedcba9876543210")]
    );
    assert_eq!(names(&r), ["section .note.gnu.build-id"]);
}

#[test]
fn compressed_dwarf4_strings_are_diffed_after_decompression() {
    let tmp = tempfile::tempdir().unwrap();
    let (da, db) = (tmp.path().join("build-a"), tmp.path().join("build-b"));
    let args = ["-g", "-gdwarf-4", "-gz=zlib"];
    let a = gcc(&da, 1_700_000_000, "prog", &args);
    let b = gcc(&db, 1_700_000_000, "prog", &args);
    let r = root(&a, &b);
    let s = child(&r, "section .debug_str");
    assert!(
        has_note(s, "compared after decompression (zlib)"),
        "{:#?}",
        s.changes
    );
    let (da, db) = (da.display().to_string(), db.display().to_string());
    assert_eq!(
        strings(s, "strings"),
        (
            vec![da.clone(), format!("{da}/main.c")],
            vec![db.clone(), format!("{db}/main.c")]
        )
    );
}

#[test]
fn shared_library_dynamic_entries_and_symbols() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = |name: &str, soname: &str, rpath: &str, extra: &[&str]| {
        let mut args = vec!["-shared", "-fPIC", "-Wl,--enable-new-dtags"];
        let (so, rp) = (format!("-Wl,-soname,{soname}"), format!("-Wl,-rpath,{rpath}"));
        args.extend([so.as_str(), rp.as_str()]);
        args.extend(extra);
        gcc(tmp.path(), 1_700_000_000, name, &args)
    };
    let a = lib("a.so", "libdemo.so.1", "/opt/aaa/lib", &[]);
    let b = lib(
        "b.so",
        "libdemo.so.2",
        "/opt/bbb/lib",
        &["-DEXTRA", "-Wl,--no-as-needed", "-lm"],
    );
    let r = root(&a, &b);
    let dynamic = child(&r, "section .dynamic");
    assert_eq!(field(dynamic, "DT_SONAME"), pair("libdemo.so.1", "libdemo.so.2"));
    assert_eq!(field(dynamic, "DT_RUNPATH"), pair("/opt/aaa/lib", "/opt/bbb/lib"));
    assert_eq!(
        strings(dynamic, "needed"),
        (vec![], vec!["libm.so.6".to_string()])
    );
    assert_eq!(
        strings(child(&r, "section .dynsym"), "symbols"),
        (vec![], vec!["extra".to_string()])
    );
    let (_, added) = strings(child(&r, "section .symtab"), "symbols");
    assert!(added.contains(&"extra".to_string()), "{added:?}");
    let (removed, added) = strings(child(&r, "section .dynstr"), "strings");
    assert!(removed.contains(&"libdemo.so.1".to_string()) && added.contains(&"libm.so.6".to_string()));
}

#[test]
fn pe_timestamps_codeview_imports_exports_and_rdata() {
    let dir = generated().join("pe");
    let r = root(&dir.join("a.exe"), &dir.join("b.exe"));
    assert_eq!(r.format.as_deref(), Some("pe"));
    assert_eq!(r.fallback, None);
    assert_eq!(
        field(&r, "time-date-stamp"),
        pair(
            "2023-11-14T22:13:20Z (1700000000)",
            "2023-11-14T23:15:23Z (1700003723)"
        )
    );
    assert_eq!(
        field(&r, "debug codeview time-date-stamp"),
        pair(
            "2023-11-14T22:13:20Z (1700000000)",
            "2023-11-14T23:15:23Z (1700003723)"
        )
    );
    assert_eq!(
        field(&r, "codeview guid"),
        pair(
            "{03020100-0504-0706-0809-0A0B0C0D0E0F}",
            "{13121110-1514-1716-1819-1A1B1C1D1E1F}"
        )
    );
    assert_eq!(field(&r, "codeview age"), pair("1", "2"));
    assert_eq!(
        field(&r, "pdb path"),
        pair("C:\\build\\a\\app.pdb", "C:\\build\\b\\app.pdb")
    );
    let (ca, cb) = field(&r, "checksum");
    assert_ne!(ca, cb);
    assert_eq!(
        strings(&r, "imports"),
        (vec![], vec!["KERNEL32.dll!WriteFile".to_string()])
    );
    assert_eq!(strings(&r, "exports"), (vec![], vec!["helper".to_string()]));
    assert_eq!(names(&r), ["section .rdata"]);
    let (removed, added) = strings(child(&r, "section .rdata"), "strings");
    assert_eq!(removed, ["C:\\build\\a\\app.pdb", "built Nov 14 2023 22:13:20"]);
    assert_eq!(
        added,
        [
            "C:\\build\\b\\app.pdb",
            "WriteFile",
            "built Nov 14 2023 23:15:23",
            "helper"
        ]
    );
    assert_eq!(r.identical_members, 2, ".text and .data are identical");
}

#[test]
fn macho_uuid_versions_dylibs_rpaths_symbols_and_cstrings() {
    let dir = generated().join("macho");
    let r = root(&dir.join("a"), &dir.join("b"));
    assert_eq!(r.format.as_deref(), Some("mach-o"));
    assert_eq!(r.fallback, None);
    assert_eq!(
        field(&r, "uuid"),
        pair(
            "00010203-0405-0607-0809-0A0B0C0D0E0F",
            "10111213-1415-1617-1819-1A1B1C1D1E1F"
        )
    );
    assert_eq!(
        field(&r, "build version"),
        pair("macos minos 11.0.0 sdk 14.0.0", "macos minos 12.0.0 sdk 14.0.0")
    );
    let (removed, added) = strings(&r, "dylibs");
    assert!(removed.is_empty() && added.len() == 1 && added[0].starts_with("/usr/lib/libz.1.dylib "));
    assert_eq!(
        strings(&r, "rpaths"),
        (
            vec!["/tmp/build-a/lib".to_string()],
            vec!["/tmp/build-b/lib".to_string()]
        )
    );
    let symbols = child(&r, "symbols");
    assert_eq!(strings(symbols, "symbols"), (vec![], vec!["_extra".to_string()]));
    assert_eq!(
        field(symbols, "symbol _helper"),
        pair("0x100000808", "0x10000080c")
    );
    assert_eq!(
        strings(child(&r, "section __TEXT,__cstring"), "strings"),
        (
            vec![
                "/tmp/build-a/src/main.c".to_string(),
                "built Nov 14 2023 22:13:20".into()
            ],
            vec![
                "/tmp/build-b/src/main.c".to_string(),
                "built Nov 14 2023 23:15:23".into()
            ]
        )
    );
    assert_eq!(
        names(&r),
        ["symbols", "section __TEXT,__cstring", "segment __LINKEDIT"]
    );
}

#[test]
fn fat_binaries_compare_each_architecture_as_a_member() {
    for kind in ["fat", "fat64"] {
        let dir = generated().join(kind);
        let r = root(&dir.join("a"), &dir.join("b"));
        assert_eq!(r.fallback, None, "{kind}");
        assert_eq!(r.identical_members, 1, "{kind}: the x86_64 slices are identical");
        assert_eq!(names(&r), ["arm64"], "{kind}");
        let arm = child(&r, "arm64");
        assert_eq!(arm.format.as_deref(), Some("mach-o"));
        assert_eq!(
            arm.changes,
            vec![Change::field(
                "uuid",
                "20212223-2425-2627-2829-2A2B2C2D2E2F",
                "30313233-3435-3637-3839-3A3B3C3D3E3F"
            )]
        );
    }
}

/// Writes `bytes` as `name` in a fresh directory kept alive by the returned guard.
fn write(name: &str, bytes: &[u8]) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    (dir, p)
}

/// Compares `original` with a damaged copy and checks for a visible fallback to bytes whose
/// reason mentions `reason`.
fn assert_fallback(original: &Path, damaged: &[u8], from: &str, reason: &str) {
    let (_guard, p) = write("damaged", damaged);
    let r = root(original, &p);
    let fb = r
        .fallback
        .as_ref()
        .unwrap_or_else(|| panic!("no fallback: {r:#?}"));
    assert_eq!((fb.from.as_str(), fb.to.as_str()), (from, "binary"));
    assert!(
        fb.reason.contains(reason),
        "reason {:?} lacks {reason:?}",
        fb.reason
    );
    assert!(
        r.changes.iter().any(|c| matches!(c, Change::Bytes { .. })),
        "{r:#?}"
    );
}

fn patched(bytes: &[u8], at: usize, with: &[u8]) -> Vec<u8> {
    let mut v = bytes.to_vec();
    v[at..at + with.len()].copy_from_slice(with);
    v
}

#[test]
fn malformed_elf_falls_back_with_a_reason() {
    let elf = small_elf();
    let bytes = std::fs::read(elf).unwrap();
    assert_fallback(elf, &bytes[..40], "elf", "malformed ELF");
    assert_fallback(elf, &bytes[..bytes.len() / 2], "elf", "section headers");
    // e_shoff far past the end, e_shnum absurd, e_phnum absurd (ELF64 offsets 0x28, 0x3c, 0x38).
    assert_fallback(
        elf,
        &patched(&bytes, 0x28, &u64::MAX.to_le_bytes()),
        "elf",
        "do not fit",
    );
    assert_fallback(
        elf,
        &patched(&bytes, 0x3c, &0xfff0u16.to_le_bytes()),
        "elf",
        "section headers",
    );
    assert_fallback(
        elf,
        &patched(&bytes, 0x38, &0xfff0u16.to_le_bytes()),
        "elf",
        "program headers",
    );
    // One section's sh_offset moved far outside the file.
    let shoff = u64::from_le_bytes(bytes[0x28..0x30].try_into().unwrap()) as usize;
    let interp = shoff + 64 + 0x18;
    assert_fallback(
        elf,
        &patched(&bytes, interp, &(1u64 << 40).to_le_bytes()),
        "elf",
        "outside the file",
    );
}

#[test]
fn malformed_pe_and_macho_fall_back_with_a_reason() {
    let g = generated();
    let pe = g.join("pe/a.exe");
    let bytes = std::fs::read(&pe).unwrap();
    assert_fallback(&pe, &bytes[..0x90], "pe", "malformed PE");
    assert_fallback(
        &pe,
        &patched(&bytes, 0x86, &0xffffu16.to_le_bytes()),
        "pe",
        "section table",
    );
    // .rdata's PointerToRawData (third field after name, virtual size/address, raw size).
    let rdata = 0x80 + 24 + 240 + 40 + 20;
    assert_fallback(
        &pe,
        &patched(&bytes, rdata, &0x7fff_0000u32.to_le_bytes()),
        "pe",
        "malformed PE",
    );

    let macho = g.join("macho/a");
    let bytes = std::fs::read(&macho).unwrap();
    assert_fallback(&macho, &bytes[..100], "mach-o", "malformed Mach-O");
    assert_fallback(
        &macho,
        &patched(&bytes, 16, &0x00ff_ffffu32.to_le_bytes()),
        "mach-o",
        "load commands",
    );
    // The __TEXT segment claims a million sections.
    let nsects = 32 + 72 + 64;
    assert_fallback(
        &macho,
        &patched(&bytes, nsects, &1_000_000u32.to_le_bytes()),
        "mach-o",
        "claims 1000000 sections",
    );

    let fat = g.join("fat/a");
    let bytes = std::fs::read(&fat).unwrap();
    // 25 architectures (plausible enough for the sniffer) in a 28 KiB file whose slices end early.
    let mut many = patched(&bytes, 4, &25u32.to_be_bytes());
    many.truncate(8 + 20 * 10);
    assert_fallback(&fat, &many, "mach-o", "fat architectures");
    assert_fallback(&fat, &bytes[..bytes.len() - 4096], "mach-o", "outside the file");
}

/// Valid files of every format, as mutation bases.
fn bases() -> Vec<(PathBuf, Vec<u8>)> {
    let g = generated();
    [
        small_elf().to_path_buf(),
        g.join("pe/a.exe"),
        g.join("macho/a"),
        g.join("fat/a"),
    ]
    .into_iter()
    .map(|p| {
        let b = std::fs::read(&p).unwrap();
        (p, b)
    })
    .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn mutated_objects_never_panic(
        which in 0usize..4,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..24),
        words in proptest::collection::vec((any::<prop::sample::Index>(), any::<u32>()), 0..4),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let (original, base) = &bases()[which];
        let mut bytes = base.clone();
        // Header fields live near the start: aim half of the edits at the first 256 bytes.
        for (i, (at, v)) in edits.into_iter().enumerate() {
            let span = if i % 2 == 0 { bytes.len().min(256) } else { bytes.len() };
            let at = at.index(span);
            bytes[at] = v;
        }
        for (at, v) in words {
            let at = at.index(bytes.len().min(512) - 4);
            bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len()) + 1);
        }
        let (_guard, p) = write("mutated", &bytes);
        let c = compare(original, &p);
        prop_assert!(c.errors.is_empty(), "{:?}", c.errors);
    }

    #[test]
    fn arbitrary_bytes_behind_a_magic_never_panic(
        magic in prop::sample::select(vec![
            &b"\x7fELF\x02\x01\x01\0"[..],
            &b"\x7fELF\x01\x02\x01\0"[..],
            &b"\xcf\xfa\xed\xfe"[..],
            &b"\xfe\xed\xfa\xce"[..],
            &b"\xca\xfe\xba\xbe\0\0\0\x02"[..],
            &b"\xca\xfe\xba\xbf\0\0\0\x01"[..],
            &b"MZ"[..],
        ]),
        rest in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        let mut a = magic.to_vec();
        a.extend(&rest);
        if a.starts_with(b"MZ") && a.len() >= 0x44 {
            // Point e_lfanew at a PE signature so the PE comparator is chosen.
            a[0x3c..0x40].copy_from_slice(&0x40u32.to_le_bytes());
            a[0x40..0x44].copy_from_slice(b"PE\0\0");
        }
        let mut b = a.clone();
        let last = b.len() - 1;
        b[last] ^= 0xff;
        let (_ga, pa) = write("a", &a);
        let (_gb, pb) = write("b", &b);
        let c = compare(&pa, &pb);
        prop_assert!(c.root.is_some());
    }
}
