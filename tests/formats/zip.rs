//! The zip comparator end to end: archives made at test time by Info-ZIP `zip` and Python's
//! `zipfile` (tests/fixtures/zipgen.py), compared through the engine, asserting exact nodes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use repro::compare::{Change, Comparison, Engine, Node, Options, Registry, Status};
use tempfile::TempDir;

fn generator() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/zipgen.py")
}

/// Runs one case of the generator into a fresh directory holding a.zip and b.zip.
fn gen_case(case: &str, arg: Option<&str>) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("python3");
    cmd.arg(generator()).arg(case).arg(dir.path());
    if let Some(arg) = arg {
        cmd.arg(arg);
    }
    let out = cmd.output().expect("python3 runs");
    assert!(
        out.status.success(),
        "zipgen {case}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

fn compare_with(dir: &Path, options: Options) -> Comparison {
    Engine::new(options, Registry::default())
        .unwrap()
        .compare_paths(&dir.join("a.zip"), &dir.join("b.zip"))
        .unwrap()
}

fn compare(dir: &Path) -> Comparison {
    compare_with(dir, Options::default())
}

fn root(c: &Comparison) -> &Node {
    c.root.as_ref().expect("the archives differ")
}

fn child<'a>(n: &'a Node, name: &str) -> &'a Node {
    n.children
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no child {name:?} in {:#?}", names(n)))
}

fn names(n: &Node) -> Vec<&str> {
    n.children.iter().map(|c| c.name.as_str()).collect()
}

fn field<'a>(n: &'a Node, name: &str) -> (Option<&'a str>, Option<&'a str>) {
    n.changes
        .iter()
        .find_map(|c| match c {
            Change::Field { field, a, b } if field == name => Some((a.as_deref(), b.as_deref())),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no field {name:?} in {:#?}", n.changes))
}

fn notes(n: &Node) -> Vec<&str> {
    n.changes
        .iter()
        .filter_map(|c| match c {
            Change::Note { text } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

fn unified(n: &Node) -> &str {
    n.changes
        .iter()
        .find_map(|c| match c {
            Change::Text { unified, .. } => Some(unified.as_str()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no text change in {:#?}", n.changes))
}

/// Runs Info-ZIP `zip` in `dir` with a fixed time zone (DOS times are local time).
fn zip_cli(dir: &Path, args: &[&str]) {
    let out = Command::new("zip")
        .args(args)
        .current_dir(dir)
        .env("TZ", "UTC")
        .output()
        .expect("zip (Info-ZIP) is installed");
    assert!(
        out.status.success(),
        "zip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A small source tree with every file and directory stamped at `mtime`.
fn tree(dir: &Path, mtime: i64) {
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("a.txt"), "alpha\n".repeat(200)).unwrap();
    std::fs::write(dir.join("sub/b.txt"), "beta\n".repeat(300)).unwrap();
    for p in ["a.txt", "sub/b.txt", "sub"] {
        let st = Command::new("touch")
            .arg("-d")
            .arg(format!("@{mtime}"))
            .arg(dir.join(p))
            .status()
            .unwrap();
        assert!(st.success());
    }
}

#[test]
fn timestamps_only_differ_in_headers() {
    let dir = tempfile::tempdir().unwrap();
    for (side, t) in [("a", 1_700_000_000), ("b", 1_700_003_600)] {
        let src = dir.path().join(format!("src-{side}"));
        tree(&src, t);
        zip_cli(&src, &["-q", "-r", &format!("../{side}.zip"), "a.txt", "sub"]);
    }
    let c = compare(dir.path());
    let r = root(&c);
    assert_eq!(r.format.as_deref(), Some("zip"));
    assert!(r.changes.is_empty(), "{:#?}", r.changes);
    assert_eq!(names(r), ["a.txt", "sub/", "sub/b.txt"]);
    for n in &r.children {
        // Reading a directory can move its atime while zip runs, so the local atime of
        // `sub/` may or may not differ.
        let fields = n.field_names();
        assert_eq!(fields[..2], ["dos-mtime", "extra.UT.mtime"], "{}", n.name);
        assert!(
            fields[2..].iter().all(|f| *f == "local-extra.UT.atime"),
            "{fields:?}"
        );
        assert_eq!(
            field(n, "dos-mtime"),
            (
                Some("2023-11-14 22:13:20 (local time)"),
                Some("2023-11-14 23:13:20 (local time)")
            )
        );
        assert_eq!(
            field(n, "extra.UT.mtime"),
            (
                Some("2023-11-14T22:13:20Z (1700000000)"),
                Some("2023-11-14T23:13:20Z (1700003600)")
            )
        );
        assert!(n.children.is_empty(), "content must not be compared: {n:#?}");
    }
    assert_eq!(r.identical_members, 0);
}

#[test]
fn entry_order_is_an_order_change() {
    let dir = gen_case("order", None);
    let c = compare(dir.path());
    let r = root(&c);
    assert_eq!(
        r.changes,
        [Change::Order {
            field: "entries".into(),
            first_difference: 0,
            a: vec!["a.txt".into(), "b/c.txt".into(), "d.bin".into()],
            b: vec!["d.bin".into(), "a.txt".into(), "b/c.txt".into()],
        }]
    );
    assert!(r.children.is_empty());
    assert_eq!(r.identical_members, 3);
}

#[test]
fn permissions_are_a_unix_mode_change() {
    let dir = gen_case("perms", None);
    let c = compare(dir.path());
    let r = root(&c);
    assert_eq!(names(r), ["a.txt"]);
    let n = child(r, "a.txt");
    assert_eq!(
        n.changes,
        [Change::field(
            "unix-mode",
            "100644 (-rw-r--r--)",
            "100755 (-rwxr-xr-x)"
        )]
    );
    assert_eq!(r.identical_members, 2);
}

#[test]
fn an_extra_field_on_one_side_is_shown_once() {
    let dir = gen_case("extra", None);
    let c = compare(dir.path());
    let n = child(root(&c), "a.txt");
    // zipfile writes the record in both headers: the local copy repeats the central one.
    assert_eq!(
        n.changes,
        [Change::optional_field(
            "extra.0x1234",
            None,
            Some("78797a".into())
        )]
    );
}

#[test]
fn a_changed_member_is_diffed_as_text() {
    let dir = gen_case("changed", None);
    let c = compare(dir.path());
    let r = root(&c);
    assert_eq!(names(r), ["a.txt"]);
    let n = child(r, "a.txt");
    assert_eq!(n.format.as_deref(), Some("text"));
    assert_eq!(n.field_names(), ["crc32", "compressed-size", "size"]);
    assert!(unified(n).contains("+line 25 changed"), "{}", unified(n));
    assert_eq!(r.identical_members, 2);
}

#[test]
fn a_jar_in_a_zip_is_compared_all_the_way_down() {
    let dir = gen_case("nested", None);
    let c = compare(dir.path());
    let r = root(&c);
    assert_eq!(names(r), ["lib/inner.jar"]);
    let jar = child(r, "lib/inner.jar");
    assert_eq!(jar.format.as_deref(), Some("zip"));
    assert_eq!(jar.field_names(), ["crc32", "compressed-size", "size"]);
    assert_eq!(names(jar), ["com/example/config.txt"]);
    assert_eq!(jar.identical_members, 2);
    let deep = child(jar, "com/example/config.txt");
    assert!(unified(deep).contains("+line 10 deep"), "{}", unified(deep));
}

#[test]
fn compression_levels_change_metadata_not_content() {
    let dir = gen_case("levels", None);
    let c = compare(dir.path());
    let r = root(&c);
    assert_eq!(names(r), ["a.txt", "b/c.txt", "d.bin", "prose.txt"]);
    for n in &r.children {
        assert_eq!(n.field_names(), ["compressed-size"], "{n:#?}");
        assert!(notes(n).is_empty() && n.children.is_empty(), "{n:#?}");
    }
}

#[test]
fn same_size_different_deflate_is_a_note() {
    let dir = gen_case("same-size", None);
    let c = compare(dir.path());
    let n = child(root(&c), "same.txt");
    assert_eq!(
        n.changes,
        [Change::note(
            "the compressed bytes differ, the decompressed content is identical"
        )]
    );
    assert!(n.children.is_empty());
}

#[test]
fn info_zip_levels_change_flags_and_sizes_only() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    tree(&src, 1_700_000_000);
    zip_cli(&src, &["-q", "-X", "-1", "-r", "../a.zip", "a.txt", "sub"]);
    zip_cli(&src, &["-q", "-X", "-9", "-r", "../b.zip", "a.txt", "sub"]);
    let c = compare(dir.path());
    let r = root(&c);
    assert!(!r.children.is_empty());
    for n in &r.children {
        for f in n.field_names() {
            assert!(["flags", "compressed-size"].contains(&f), "{n:#?}");
        }
        assert!(n.children.is_empty(), "{n:#?}");
        assert!(!notes(n).iter().any(|t| t.contains("decompressed")), "{n:#?}");
    }
}

#[test]
fn a_prefix_is_compared_as_its_own_node() {
    let dir = gen_case("prefix", None);
    let c = compare(dir.path());
    let r = root(&c);
    assert!(r.fallback.is_none(), "{r:#?}");
    assert_eq!(names(r), ["(data before the first entry)"]);
    let stub = child(r, "(data before the first entry)");
    assert!(
        stub.changes
            .iter()
            .any(|c| matches!(c, Change::Bytes { first_offset: 9, .. })),
        "{stub:#?}"
    );
    assert_eq!(r.identical_members, 3);
}

#[test]
fn an_apk_signing_block_is_compared() {
    let dir = gen_case("apk", None);
    let c = compare(dir.path());
    let r = root(&c);
    assert_eq!(names(r), ["(APK signing block)"]);
    let block = child(r, "(APK signing block)");
    assert!(
        block.changes.iter().any(|c| matches!(c, Change::Bytes { .. })),
        "{block:#?}"
    );
    assert_eq!(r.identical_members, 3);
}

#[test]
fn excluded_entries_are_left_out() {
    let dir = gen_case("changed", None);
    let options = Options {
        exclude: vec!["a.txt".into()],
        ..Options::default()
    };
    let c = compare_with(dir.path(), options);
    assert_eq!(c.excluded, ["a.zip vs b.zip ▸ a.txt"]);
    assert!(root(&c).children.is_empty());
}

#[test]
fn streamed_and_seekable_archives_differ_in_headers_only() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    tree(&src, 1_700_000_000);
    zip_cli(&src, &["-q", "-X", "../a.zip", "a.txt"]);
    // Writing to a pipe makes zip use data descriptors.
    let out = Command::new("sh")
        .arg("-c")
        .arg("zip -q -X - a.txt | cat > ../b.zip")
        .current_dir(&src)
        .env("TZ", "UTC")
        .status()
        .unwrap();
    assert!(out.success());
    let c = compare(dir.path());
    let n = child(root(&c), "a.txt");
    assert_eq!(
        field(n, "flags"),
        (Some("0x0000"), Some("0x0008 (data-descriptor)"))
    );
    assert!(n.children.is_empty() && notes(n).is_empty(), "{n:#?}");
}

#[test]
fn archive_comment() {
    let dir = gen_case("comment", None);
    let c = compare(dir.path());
    let r = root(&c);
    assert_eq!(r.changes, [Change::field("comment", "", "built on host42")]);
    assert!(r.children.is_empty());
}

#[test]
fn added_and_removed_entries() {
    let dir = gen_case("added-removed", None);
    let c = compare(dir.path());
    let r = root(&c);
    assert_eq!(names(r), ["d.bin", "e/new.txt"]);
    let removed = child(r, "d.bin");
    assert_eq!(removed.status, Status::Removed);
    assert_eq!(
        removed.changes,
        [
            Change::optional_field("type", Some("file".into()), None),
            Change::optional_field("size", Some("2048".into()), None),
        ]
    );
    assert_eq!(child(r, "e/new.txt").status, Status::Added);
    assert_eq!(r.identical_members, 2);
}

#[test]
fn duplicate_names_are_noted() {
    let dir = gen_case("duplicates", None);
    let c = compare(dir.path());
    let r = root(&c);
    let n = notes(r);
    assert_eq!(n.len(), 2, "{n:?}");
    assert!(
        n[0].starts_with("a lists names more than once (a.txt ×2)"),
        "{}",
        n[0]
    );
    assert!(
        n[1].starts_with("b lists names more than once (a.txt ×2)"),
        "{}",
        n[1]
    );
    // The last entry of the name is the one compared.
    assert!(unified(child(r, "a.txt")).contains("+second, changed"));
}

#[test]
fn hostile_names_are_only_names() {
    let dir = gen_case("names", None);
    let c = compare(dir.path());
    let r = root(&c);
    assert_eq!(names(r), ["../x", "/etc/passwd", "ok/\\x1b[2Jname"]);
    for n in &r.children {
        assert!(unified(n).contains("+more"), "{n:#?}");
    }
    assert!(!dir.path().parent().unwrap().join("x").exists());
}

#[test]
fn a_bad_crc_is_reported_on_the_entry() {
    let dir = gen_case("badcrc", None);
    let c = compare(dir.path());
    let r = root(&c);
    assert_eq!(names(r), ["a.txt"]);
    let n = child(r, "a.txt");
    assert_eq!(notes(n), ["b: could not be decompressed: Invalid checksum"]);
    assert!(n.field_names().is_empty());
}

#[test]
fn an_unsupported_method_compares_the_stored_bytes() {
    let dir = gen_case("unsupported", None);
    let c = compare(dir.path());
    let r = root(&c);
    assert_eq!(names(r), ["a.txt"]);
    let n = child(r, "a.txt");
    let notes = notes(n);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].starts_with("could not be decompressed (")
            && notes[0].ends_with("): the stored bytes are compared"),
        "{}",
        notes[0]
    );
    assert!(unified(n).contains("+line 25 changed"));
}

#[test]
fn a_missing_local_header_is_noted() {
    let dir = gen_case("broken-local", None);
    let c = compare(dir.path());
    let r = root(&c);
    assert!(r.fallback.is_none(), "{r:#?}");
    // The orphaned local header and data of a.txt now lie before b's first readable entry.
    assert_eq!(names(r), ["(data before the first entry)", "a.txt"]);
    assert_eq!(
        notes(child(r, "a.txt")),
        ["content not compared: b: no local header at offset 1"]
    );
}

#[test]
fn encrypted_entries_compare_their_stored_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    tree(&src, 1_700_000_000);
    // ZipCrypto headers are random: the same input encrypts differently each time.
    zip_cli(&src, &["-q", "-X", "-P", "secret", "../a.zip", "a.txt"]);
    zip_cli(&src, &["-q", "-X", "-P", "secret", "../b.zip", "a.txt"]);
    let c = compare(dir.path());
    let r = root(&c);
    let n = child(r, "a.txt");
    assert_eq!(
        notes(n),
        ["encrypted: the stored (encrypted) bytes are compared, not the content"]
    );
    assert!(
        n.changes.iter().any(|c| matches!(c, Change::Bytes { .. })),
        "{n:#?}"
    );
}

#[test]
fn zip64_archives() {
    let dir = gen_case("zip64", None);
    let c = compare(dir.path());
    let r = root(&c);
    assert_eq!(names(r), ["a.txt"]);
    assert!(unified(child(r, "a.txt")).contains("+line 25 64"));
}

#[test]
fn a_member_over_the_size_limit_is_not_decompressed() {
    let dir = gen_case("zeros", Some("2"));
    let options = Options {
        max_member_bytes: 1 << 20,
        ..Options::default()
    };
    let c = compare_with(dir.path(), options);
    let n = child(root(&c), "zeros");
    assert_eq!(
        notes(n),
        [
            "content not compared: its declared size of 2097152 bytes is over the in-memory limit of 1048576 bytes"
        ]
    );
    assert_eq!(n.field_names(), ["crc32", "compressed-size"]);
}

#[test]
fn a_huge_declared_size_is_not_decompressed() {
    let dir = gen_case("huge-declared", None);
    let c = compare(dir.path());
    let r = root(&c);
    assert_eq!(names(r), ["a.txt"]);
    let n = child(r, "a.txt");
    assert_eq!(field(n, "size"), (Some("440"), Some("4294967280")));
    assert_eq!(
        notes(n),
        [
            "content not compared: its declared size of 4294967280 bytes is over the in-memory limit of 536870912 bytes"
        ]
    );
}

#[test]
fn a_lying_size_stops_decompression() {
    let dir = gen_case("lying-size", None);
    let c = compare(dir.path());
    let n = child(root(&c), "z.bin");
    assert_eq!(field(n, "size"), (Some("1048576"), Some("1")));
    assert_eq!(
        notes(n),
        ["b: could not be decompressed: File is larger than its declared uncompressed size"]
    );
}

#[test]
fn overlapping_entries_fall_back_to_bytes() {
    let dir = gen_case("overlap", None);
    let c = compare(dir.path());
    let r = root(&c);
    let fb = r.fallback.as_ref().expect("a fallback");
    assert_eq!((fb.from.as_str(), fb.to.as_str()), ("zip", "binary"));
    assert!(fb.reason.contains("overlap"), "{}", fb.reason);
    assert!(r.changes.iter().any(|c| matches!(c, Change::Bytes { .. })));
}

#[test]
fn the_expansion_budget_bounds_each_archive() {
    let dir = gen_case("budget", None);
    let options = Options {
        max_expanded_bytes: 1 << 20,
        ..Options::default()
    };
    let c = compare_with(dir.path(), options);
    let r = root(&c);
    assert_eq!(r.children.len(), 8);
    // Each side may expand 1 MiB: three members of 256 KiB + 1 byte fit, the rest do not.
    let compared = r.children.iter().filter(|n| n.format.is_some()).count();
    let refused = r
        .children
        .iter()
        .filter(|n| notes(n).iter().any(|t| t.contains("expansion budget")))
        .count();
    assert_eq!((compared, refused), (3, 5), "{r:#?}");
    assert!(notes(r)[0].starts_with("some entries were not decompressed"));
}

#[test]
fn truncated_and_corrupt_archives_fall_back() {
    let dir = gen_case("changed", None);
    let b = dir.path().join("b.zip");
    let bytes = std::fs::read(&b).unwrap();
    // Cut in the middle of the central directory: no end record is left.
    std::fs::write(&b, &bytes[..bytes.len() - 40]).unwrap();
    let c = compare(dir.path());
    let fb = root(&c).fallback.as_ref().expect("a fallback");
    assert!(fb.reason.starts_with("malformed zip"), "{}", fb.reason);

    // Break the signature of the second central record.
    let mut corrupt = bytes.clone();
    let cd = find_all(&corrupt, b"PK\x01\x02");
    corrupt[cd[1] + 2] = b'X';
    std::fs::write(&b, &corrupt).unwrap();
    let c = compare(dir.path());
    assert_eq!(root(&c).fallback.as_ref().map(|f| f.from.as_str()), Some("zip"));
}

fn find_all(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    hay.windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect()
}

#[test]
fn many_tiny_entries() {
    let dir = gen_case("many", Some("100000"));
    let start = Instant::now();
    let c = compare(dir.path());
    let elapsed = start.elapsed();
    eprintln!("100,000-entry archives compared in {elapsed:?}");
    let r = root(&c);
    assert_eq!(names(r), ["last"]);
    assert_eq!(r.identical_members, 99_999);
}

/// The benchmark jar's shape: 5,000 entries, every timestamp differs, one class differs. Speed
/// is measured by scripts/bench-diff.sh, not here; `--nocapture` shows the time.
#[test]
fn bench_jar_every_timestamp_differs() {
    let dir = gen_case("bench", Some("5000"));
    let start = Instant::now();
    let c = compare(dir.path());
    let elapsed = start.elapsed();
    eprintln!("5,000-entry jar compared in {elapsed:?}");
    let r = root(&c);
    assert_eq!(r.children.len(), 5000);
    assert!(
        r.children
            .iter()
            .all(|n| n.field_names().first() == Some(&"dos-mtime"))
    );
    let changed: Vec<&Node> = r.children.iter().filter(|n| n.format.is_some()).collect();
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].name, "com/example/p25/C2500.class");
    assert!(
        changed[0]
            .changes
            .iter()
            .any(|c| matches!(c, Change::Bytes { .. }))
    );
}

mod hostile_bytes {
    use super::*;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    /// A real archive to mutate: Info-ZIP entries with UT/ux extras, a directory, a stored
    /// and a deflated member, and a nested zip.
    fn base() -> &'static [u8] {
        static BASE: OnceLock<Vec<u8>> = OnceLock::new();
        BASE.get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let src = dir.path().join("src");
            tree(&src, 1_700_000_000);
            std::fs::write(src.join("tiny"), "x").unwrap();
            zip_cli(&src, &["-q", "inner.zip", "a.txt", "tiny"]);
            zip_cli(
                &src,
                &["-q", "-r", "../base.zip", "a.txt", "sub", "tiny", "inner.zip"],
            );
            std::fs::read(dir.path().join("base.zip")).unwrap()
        })
    }

    /// Compares `base()` with `other`: must not panic, and must not call differing bytes
    /// identical.
    fn check(other: &[u8]) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.zip"), base()).unwrap();
        std::fs::write(dir.path().join("b.zip"), other).unwrap();
        let options = Options {
            max_member_bytes: 16 << 20,
            max_expanded_bytes: 64 << 20,
            time_budget: Some(std::time::Duration::from_secs(20)),
            ..Options::default()
        };
        let c = compare_with(dir.path(), options);
        assert_eq!(c.identical(), base() == other);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn mutated_archives(
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            tail_only in any::<bool>(),
            cut in proptest::option::of(any::<prop::sample::Index>()),
        ) {
            let mut bytes = base().to_vec();
            // Half the cases aim at the central directory and end record (the last quarter).
            let from = if tail_only { bytes.len() * 3 / 4 } else { 0 };
            for (at, value) in flips {
                let i = from + at.index(bytes.len() - from);
                bytes[i] = value;
            }
            if let Some(cut) = cut {
                bytes.truncate(cut.index(bytes.len()));
            }
            check(&bytes);
        }

        #[test]
        fn arbitrary_bytes_that_sniff_as_zip(
            body in proptest::collection::vec(any::<u8>(), 0..2048),
            eocd in any::<bool>(),
        ) {
            let mut bytes = b"PK\x03\x04".to_vec();
            bytes.extend(body);
            if eocd {
                // An end record pointing anywhere, so the central directory parser runs.
                bytes.extend(b"PK\x05\x06\0\0\0\0\x05\0\x05\0\xff\0\0\0\x10\0\0\0\0\0");
            }
            check(&bytes);
        }
    }
}

/// A jar behind a shell launcher (`cat stub.sh app.jar > app`), made with Info-ZIP `zip`: sniffed
/// by its end, compared as a zip, the stub reported as data before the first entry.
#[test]
fn a_zip_behind_a_launcher_stub_is_compared_as_a_zip() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sh = |script: &str| {
        let out = Command::new("sh")
            .arg("-ec")
            .arg(script)
            .current_dir(d)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    sh("mkdir -p a b
        printf 'one\\n' > a/app.properties; printf 'two\\n' > b/app.properties
        touch -d @1700000000 a/app.properties b/app.properties
        (cd a && zip -qX ../a.jar app.properties) && (cd b && zip -qX ../b.jar app.properties)
        printf '#!/bin/sh\\nexec java -jar \"$0\" \"$@\"\\n' > stub-a
        printf '#!/bin/sh\\nexec java -Xmx1g -jar \"$0\" \"$@\"\\n' > stub-b
        cat stub-a a.jar > app-a; cat stub-b b.jar > app-b");
    let c = Engine::new(Options::default(), Registry::default())
        .unwrap()
        .compare_paths(&d.join("app-a"), &d.join("app-b"))
        .unwrap();
    assert_eq!(c.a.format, repro::compare::Format::Zip);
    let r = root(&c);
    assert!(unified(child(r, "app.properties")).contains("+two"));
    assert!(
        names(r).iter().any(|n| n.contains("before the first entry")),
        "the stub difference is reported: {:?}",
        names(r)
    );
}
