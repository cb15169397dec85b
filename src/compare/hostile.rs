//! Regression tests for hostile inputs to the engine (issue 12: names as bytes, one budget per
//! input, linear depth, pseudo-files). Every input is generated here.

use std::io::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

use super::{Change, Comparison, Engine, Node, Options, Registry};

fn compare_with(opts: Options, a: &Path, b: &Path) -> Comparison {
    Engine::new(opts, Registry::default())
        .unwrap()
        .compare_paths(a, b)
        .unwrap()
}

fn compare(a: &Path, b: &Path) -> Comparison {
    compare_with(Options::default(), a, b)
}

fn write(path: impl AsRef<Path>, data: &[u8]) {
    let path = path.as_ref();
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, data).unwrap();
}

fn raw(p: &Path, name: &[u8]) -> std::path::PathBuf {
    p.join(std::ffi::OsStr::from_bytes(name))
}

/// Every node with its path from the root (names joined by `/`), depth first.
fn paths(root: &Node) -> Vec<String> {
    let mut out = Vec::new();
    root.walk(&mut Vec::new(), &mut |path, _| out.push(path[1..].join("/")));
    out
}

fn fallbacks(root: &Node) -> Vec<String> {
    let mut out = Vec::new();
    root.walk(&mut Vec::new(), &mut |_, n| {
        if let Some(f) = &n.fallback {
            out.push(f.reason.clone());
        }
    });
    out
}

#[test]
fn a_differing_file_under_a_non_utf8_name_is_reported() {
    let d = tempfile::tempdir().unwrap();
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    write(raw(&a, b"\xff").join("f"), b"1\n");
    write(raw(&b, b"\xff").join("f"), b"2\n");
    let c = compare(&a, &b);
    assert!(!c.identical(), "a differing file under \\xff was dropped");
    assert!(paths(c.root.as_ref().unwrap()).contains(&"\\xff/f".to_string()));
}

#[test]
fn names_that_differ_in_undecodable_bytes_never_merge() {
    let d = tempfile::tempdir().unwrap();
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    // `\xfe` differs, `\xff` is constant: lossy names would make them one entry.
    write(raw(&a, b"\xfe"), b"random 1");
    write(raw(&b, b"\xfe"), b"random 2");
    write(raw(&a, b"\xff"), b"constant");
    write(raw(&b, b"\xff"), b"constant");
    // Only on one side, under a name a lossy decoding would also give `\u{fffd}`.
    write(raw(&b, b"\xfd"), b"new");
    let c = compare(&a, &b);
    let root = c.root.as_ref().expect("the inputs differ");
    let names: Vec<&str> = root.children.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["\\xfd", "\\xfe"]);
    assert_eq!(root.identical_members, 1);
}

#[test]
fn tar_members_are_keyed_by_their_bytes() {
    let d = tempfile::tempdir().unwrap();
    let tar_of = |members: &[(&[u8], &[u8])]| {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in members {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.as_old_mut().name[..name.len()].copy_from_slice(name);
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        b.into_inner().unwrap()
    };
    write(
        d.path().join("a.tar"),
        &tar_of(&[(b"out/\xfe", b"random 1"), (b"out/\xff", b"constant")]),
    );
    write(
        d.path().join("b.tar"),
        &tar_of(&[(b"out/\xfe", b"random 2"), (b"out/\xff", b"constant")]),
    );
    let c = compare(&d.path().join("a.tar"), &d.path().join("b.tar"));
    let root = c.root.as_ref().expect("the member out/\\xfe differs");
    let names: Vec<&str> = root.children.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["out/\\xfe"]);
    assert_eq!(root.identical_members, 1);
}

/// A GNU tar with one sparse member whose header claims `real` bytes: one stored block of
/// `fill` at the end, the rest a hole (base-256 numbers, as GNU tar writes large ones).
fn sparse_tar(real: u64, fill: u8) -> Vec<u8> {
    fn num(field: &mut [u8], v: u64) {
        field.fill(0);
        field[0] = 0x80;
        let bytes = v.to_be_bytes();
        let n = field.len();
        field[n - 8..].copy_from_slice(&bytes);
    }
    let mut h = tar::Header::new_gnu();
    h.set_path("big").unwrap();
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::GNUSparse);
    h.set_size(512);
    let gnu = h.as_gnu_mut().unwrap();
    num(&mut gnu.sparse[0].offset, real - 512);
    num(&mut gnu.sparse[0].numbytes, 512);
    num(&mut gnu.realsize, real);
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.extend(std::iter::repeat_n(fill, 512));
    out.extend([0u8; 1024]);
    out
}

#[test]
fn a_sparse_member_claiming_a_petabyte_stops_at_the_expansion_budget() {
    let d = tempfile::tempdir().unwrap();
    let (a, b) = (d.path().join("a.tar"), d.path().join("b.tar"));
    write(&a, &sparse_tar(1 << 50, b'a'));
    write(&b, &sparse_tar(1 << 50, b'b'));
    // Holes count as decoded bytes: the budget stops them, not the end of the petabyte.
    let start = Instant::now();
    let opts = Options {
        max_expanded_bytes: 64 << 20,
        ..Options::default()
    };
    let c = compare_with(opts, &a, &b);
    assert!(start.elapsed() < Duration::from_secs(20), "{:?}", start.elapsed());
    let reasons = fallbacks(c.root.as_ref().unwrap());
    assert!(
        reasons.iter().any(|r| r.contains("expansion limit")),
        "{reasons:?}"
    );
    // The time budget applies to the holes too (with the default expansion budget).
    let start = Instant::now();
    let opts = Options {
        time_budget: Some(Duration::from_secs(1)),
        ..Options::default()
    };
    let c = compare_with(opts, &a, &b);
    assert!(start.elapsed() < Duration::from_secs(10), "{:?}", start.elapsed());
    let reasons = fallbacks(c.root.as_ref().unwrap());
    assert!(reasons.iter().any(|r| r.contains("time budget")), "{reasons:?}");
}

/// A stored zip of `outer` copies of a deflated zip of `leaves` leaves of `leaf` bytes of `fill`.
fn zip_of_zips(outer: usize, leaves: usize, leaf: usize, fill: u8) -> Vec<u8> {
    let zip = |entries: Vec<(String, Vec<u8>)>, method: zip::CompressionMethod| {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(method)
            .last_modified_time(zip::DateTime::default());
        for (name, data) in entries {
            w.start_file(name, o).unwrap();
            w.write_all(&data).unwrap();
        }
        w.finish().unwrap().into_inner()
    };
    let inner = zip(
        (0..leaves)
            .map(|i| (format!("leaf{i}.bin"), vec![fill; leaf]))
            .collect(),
        zip::CompressionMethod::Deflated,
    );
    zip(
        (0..outer)
            .map(|i| (format!("inner{i}.zip"), inner.clone()))
            .collect(),
        zip::CompressionMethod::Stored,
    )
}

#[test]
fn nested_archives_share_one_expansion_budget_per_input() {
    let d = tempfile::tempdir().unwrap();
    let (a, b) = (d.path().join("a.zip"), d.path().join("b.zip"));
    // 4 inner zips of 4 MiB each: 16 MiB decoded per input.
    write(&a, &zip_of_zips(4, 4, 1 << 20, 0));
    write(&b, &zip_of_zips(4, 4, 1 << 20, 1));
    // Each inner archive fits the budget on its own; together they do not.
    let opts = Options {
        max_expanded_bytes: 6 << 20,
        ..Options::default()
    };
    let c = compare_with(opts, &a, &b);
    let root = c.root.as_ref().unwrap();
    let reasons = fallbacks(root);
    assert!(
        reasons.iter().any(|r| r.contains("expansion limit")),
        "{reasons:?}"
    );
    // Every differing leaf is still reported, compared or fallen back, never identical; the
    // budget ran out part of the way through.
    let leaves: Vec<&Node> = root.children.iter().flat_map(|n| &n.children).collect();
    assert_eq!(leaves.len(), 16, "{:?}", paths(root));
    let fell_back = leaves.iter().filter(|n| n.fallback.is_some()).count();
    assert!(fell_back > 0 && fell_back < 16, "{fell_back}");
    // With room for everything, nothing falls back.
    let c = compare(&a, &b);
    assert!(fallbacks(c.root.as_ref().unwrap()).is_empty());
}

#[test]
fn a_zip_past_the_time_budget_keeps_what_it_compared_and_falls_back_per_entry() {
    let d = tempfile::tempdir().unwrap();
    let (a, b) = (d.path().join("a.zip"), d.path().join("b.zip"));
    write(&a, &zip_of_zips(3, 2, 1 << 10, 0));
    write(&b, &zip_of_zips(3, 2, 1 << 10, 1));
    let opts = Options {
        time_budget: Some(Duration::ZERO),
        ..Options::default()
    };
    let c = compare_with(opts, &a, &b);
    let root = c.root.as_ref().unwrap();
    let reasons = fallbacks(root);
    assert!(
        !reasons.is_empty() && reasons.iter().all(|r| r.contains("time budget")),
        "{reasons:?}"
    );
}

/// `text` gzipped `levels` times, in stored blocks (each level adds a few bytes; compressing
/// compressed data would grow it by a fraction per level).
fn nested_gzip(levels: usize, text: &[u8]) -> Vec<u8> {
    let mut data = text.to_vec();
    for _ in 0..levels {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
        e.write_all(&data).unwrap();
        data = e.finish().unwrap();
    }
    data
}

#[test]
fn depth_costs_linear_time_and_stops_at_the_ceiling() {
    let d = tempfile::tempdir().unwrap();
    let (a, b) = (d.path().join("a.gz"), d.path().join("b.gz"));
    write(&a, &nested_gzip(200, b"xa\n"));
    write(&b, &nested_gzip(200, b"xb\n"));
    let opts = Options {
        max_depth: 5000,
        ..Options::default()
    };
    let start = Instant::now();
    let c = compare_with(opts.clone(), &a, &b);
    // Decoding every level again from the outermost took seconds at this depth.
    assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
    let root = c.root.as_ref().unwrap();
    assert_eq!(root.count(), 201);
    assert!(fallbacks(root).is_empty());
    // Deeper than the ceiling: a fallback that says so, not a stack overflow.
    write(&a, &nested_gzip(super::DEPTH_CEILING + 20, b"xa\n"));
    write(&b, &nested_gzip(super::DEPTH_CEILING + 20, b"xb\n"));
    let c = compare_with(opts, &a, &b);
    let reasons = fallbacks(c.root.as_ref().unwrap());
    assert!(
        reasons.len() == 1 && reasons[0].contains("the most repro follows"),
        "{reasons:?}"
    );
}

#[test]
fn pseudo_files_of_size_zero_are_read() {
    let (a, b) = (Path::new("/proc/self/status"), Path::new("/proc/version"));
    if !a.exists() || !b.exists() {
        eprintln!("skipped: no /proc here");
        return;
    }
    let c = compare(a, b);
    assert!(!c.identical(), "two different /proc files compared as identical");
    let root = c.root.as_ref().unwrap();
    assert!(
        root.changes
            .iter()
            .any(|c| matches!(c, Change::Text { .. } | Change::Bytes { .. })),
        "{root:?}"
    );
}
