//! cpio archive comparison, on archives made at test time by GNU `cpio` from real files (no
//! committed blobs): the newc, crc and odc formats, header fields, content recursing, symlink
//! targets, order, one-sided members, an initramfs-style archive followed by a compressed one,
//! and corrupt inputs falling back with a reason.

use crate::{common, corrupt};

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;
use repro::compare::{Change, Comparison, Options, Status};

use common::{assert_field, compare, compare_with, field, find, has_note, node, root, sh};

/// A tree under `dir/t`: a text file, a symlink to it, a directory with a file, all dated
/// 2023-11-14.
fn tree(dir: &Path) {
    sh(
        dir,
        "mkdir -p t/sub && cd t
         printf 'hello\\n' > a.txt
         printf 'inner\\n' > sub/b
         ln -s a.txt l
         touch -h -d @1700000000 a.txt sub/b l sub",
    );
}

/// Archives the listed members of `dir/t` into `dir/out` with `cpio -o -H format`.
fn archive(dir: &Path, format: &str, members: &str, out: &str) -> PathBuf {
    sh(
        &dir.join("t"),
        &format!("printf '%s\\n' {members} | cpio -o --quiet --reproducible -H {format} > ../{out}"),
    );
    dir.join(out)
}

const ALL: &str = "a.txt l sub sub/b";

#[test]
fn mtime_only_difference_is_a_field_and_nothing_else() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    tree(p);
    let a = archive(p, "newc", ALL, "a.cpio");
    sh(&p.join("t"), "touch -d @1700000500 sub/b");
    let b = archive(p, "newc", ALL, "b.cpio");
    let c = compare(&a, &b);
    assert_eq!(c.a.format.name(), "cpio");
    let r = root(&c);
    assert_eq!(r.format.as_deref(), Some("cpio"));
    let m = node(r, "sub/b");
    assert_field(
        m,
        "mtime",
        "2023-11-14T22:13:20Z (1700000000)",
        "2023-11-14T22:21:40Z (1700000500)",
    );
    assert_eq!(m.changes.len(), 1, "{m:#?}");
    assert!(m.children.is_empty(), "{m:#?}");
    assert_eq!(r.children.len(), 1, "{r:#?}");
    assert_eq!(r.identical_members, 3, "{r:#?}");
}

#[test]
fn crc_content_recurses_and_symlink_targets_and_checksums_are_fields() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    tree(p);
    let a = archive(p, "crc", ALL, "a.cpio");
    sh(
        &p.join("t"),
        "printf 'changed\\n' > a.txt && touch -d @1700000000 a.txt
         ln -sfn sub/b l && touch -h -d @1700000000 l",
    );
    let b = archive(p, "crc", ALL, "b.cpio");
    let c = compare(&a, &b);
    let r = root(&c);
    let f = node(r, "a.txt");
    assert_eq!(f.format.as_deref(), Some("text"), "{f:#?}");
    assert!(
        f.changes.iter().any(|c| matches!(c, Change::Text { .. })),
        "{f:#?}"
    );
    assert_field(f, "size", "6", "8");
    assert!(field(f, "check").is_some(), "the crc format's checksum: {f:#?}");
    let l = node(r, "l");
    assert_field(l, "symlink target", "a.txt", "sub/b");
    assert!(find(r, "sub/b").is_none(), "{r:#?}");
}

#[test]
fn odc_fields_and_a_format_change() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    tree(p);
    let a = archive(p, "odc", ALL, "a.cpio");
    sh(&p.join("t"), "chmod 0600 a.txt");
    let b = archive(p, "odc", ALL, "b.cpio");
    let c = compare(&a, &b);
    let r = root(&c);
    assert_field(node(r, "a.txt"), "mode", "0644", "0600");

    let newc = archive(p, "newc", ALL, "newc.cpio");
    let c = compare(&b, &newc);
    let r = root(&c);
    assert_field(r, "cpio-format", "odc", "newc");
    // odc stores one device number, newc a major and a minor: each side's own fields show.
    let s = node(r, "sub/b");
    assert_eq!(field(s, "devmajor").map(|f| f.0), Some(None), "{s:#?}");
}

#[test]
fn inode_numbers_are_reported() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    tree(p);
    let a = archive(p, "newc", ALL, "a.cpio");
    // Without --reproducible, cpio stores the file system's inode numbers.
    sh(
        &p.join("t"),
        &format!("printf '%s\\n' {ALL} | cpio -o --quiet -H newc > ../b.cpio"),
    );
    let c = compare(&a, &p.join("b.cpio"));
    let r = root(&c);
    let f = node(r, "a.txt");
    assert!(field(f, "ino").is_some(), "{f:#?}");
}

#[test]
fn member_order_and_one_sided_members() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    tree(p);
    let a = archive(p, "newc", ALL, "a.cpio");
    sh(&p.join("t"), "printf 'new\\n' > extra.txt");
    let b = archive(p, "newc", "sub/b a.txt sub extra.txt", "b.cpio");
    let c = compare(&a, &b);
    let r = root(&c);
    let order = r.changes.iter().find_map(|c| match c {
        Change::Order { a, b, .. } => Some((a.clone(), b.clone())),
        _ => None,
    });
    let (oa, ob) = order.unwrap_or_else(|| panic!("{r:#?}"));
    assert_eq!(oa, ["a.txt", "sub", "sub/b"]);
    assert_eq!(ob, ["sub/b", "a.txt", "sub"]);
    assert_eq!(node(r, "l").status, Status::Removed);
    let extra = node(r, "extra.txt");
    assert_eq!(extra.status, Status::Added);
    assert_eq!(field(extra, "type"), Some((None, Some("regular file".into()))));
}

#[test]
fn an_archive_after_the_trailer_is_compared_too() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    tree(p);
    // An initramfs with an uncompressed early part and a compressed main part.
    archive(p, "newc", "sub sub/b", "early.cpio");
    archive(p, "newc", "a.txt l", "main-a.cpio");
    sh(
        &p.join("t"),
        "printf 'changed\\n' > a.txt && touch -d @1700000000 a.txt",
    );
    archive(p, "newc", "a.txt l", "main-b.cpio");
    sh(
        p,
        "gzip -n -k main-a.cpio main-b.cpio
         cat early.cpio main-a.cpio.gz > initrd-a
         cat early.cpio main-b.cpio.gz > initrd-b",
    );
    let c = compare(&p.join("initrd-a"), &p.join("initrd-b"));
    let r = root(&c);
    let after = node(r, "(after the trailer)");
    assert_eq!(after.format.as_deref(), Some("gzip"), "{after:#?}");
    assert_eq!(node(after, "a.txt").format.as_deref(), Some("text"), "{after:#?}");
}

fn fallback_reason(c: &Comparison) -> String {
    corrupt::fallback_reason(c, "cpio")
}

#[test]
fn truncated_corrupt_and_absurd_archives_fall_back_with_a_reason() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    tree(p);
    let good_path = archive(p, "newc", ALL, "good.cpio");
    let good = std::fs::read(&good_path).unwrap();
    let write = |name: &str, bytes: &[u8]| corrupt::write(p, name, bytes);
    // Cut inside the first member's data (a.txt, whose name and data follow the header).
    let reason = fallback_reason(&compare(&good_path, &write("truncated.cpio", &good[..118])));
    assert!(reason.contains("truncated archive"), "{reason}");

    // In the second header (the first one's digits are what sniffing recognises): a.txt's
    // 110-byte header, 6-byte name and 6 bytes of data, padded to 124.
    let mut bad_hex = good.clone();
    bad_hex[124 + 6 + 8] = b'z';
    let reason = fallback_reason(&compare(&good_path, &write("hex.cpio", &bad_hex)));
    assert!(
        reason.contains("header at offset 124: mode is") && reason.contains("not a number"),
        "{reason}"
    );

    // The file size field (the 7th after the magic) set to 4 GiB - 1.
    let mut absurd = good.clone();
    absurd[6 + 6 * 8..6 + 7 * 8].copy_from_slice(b"ffffffff");
    let reason = fallback_reason(&compare(&good_path, &write("absurd.cpio", &absurd)));
    assert!(reason.contains("claims 4294967295 bytes"), "{reason}");

    let no_trailer = &good[..good.iter().rposition(|&b| b != 0).unwrap() - 130];
    let reason = fallback_reason(&compare(&good_path, &write("notrailer.cpio", no_trailer)));
    assert!(reason.contains("malformed cpio"), "{reason}");
}

#[test]
fn member_budget_falls_back() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    tree(p);
    let a = archive(p, "newc", ALL, "a.cpio");
    let b = archive(p, "newc", "sub/b a.txt l sub", "b.cpio");
    let opts = Options {
        max_entries: 2,
        ..Options::default()
    };
    let reason = fallback_reason(&compare_with(opts, &a, &b));
    assert!(reason.contains("more than 2 cpio members"), "{reason}");
}

#[test]
fn excluded_members_are_left_out_and_listed() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    tree(p);
    let a = archive(p, "newc", ALL, "a.cpio");
    sh(
        &p.join("t"),
        "printf 'other\\n' > a.txt && touch -d @1700000000 a.txt",
    );
    let b = archive(p, "newc", ALL, "b.cpio");
    let opts = Options {
        exclude: vec!["a.txt".into()],
        ..Options::default()
    };
    let c = compare_with(opts, &a, &b);
    assert_eq!(c.excluded.len(), 1, "{:?}", c.excluded);
    assert!(c.excluded[0].ends_with("▸ a.txt"), "{:?}", c.excluded);
    let r = root(&c);
    assert!(find(r, "a.txt").is_none(), "{r:#?}");
    assert!(has_note(r, "every member compared is identical"), "{r:#?}");
}

/// A real newc archive with a symlink, a directory and text files.
fn sample() -> &'static [u8] {
    static SAMPLE: OnceLock<Vec<u8>> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        tree(d.path());
        std::fs::read(archive(d.path(), "newc", ALL, "s.cpio")).unwrap()
    })
}

const HEX: &[u8] = b"0123456789abcdef";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Mutated headers, sizes and names never panic, and differing bytes are never identical.
    #[test]
    fn mutated_archives_never_panic(
        mutation in corrupt::mutation(),
        digits in proptest::collection::vec((0usize..13, any::<prop::sample::Index>(), any::<prop::sample::Index>()), 0..4),
    ) {
        let original = sample();
        let m = mutation.apply(original, |m| {
            // Hex digits written into the first header's fields reach the size checks.
            for (f, at, digit) in &digits {
                if let Some(b) = m.get_mut(6 + f * 8 + at.index(8)) {
                    *b = HEX[digit.index(HEX.len())];
                }
            }
        });
        corrupt::identical_only_when_equal(original, &m)?;
    }
}
