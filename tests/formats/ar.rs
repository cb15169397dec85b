//! `ar` archive comparison, on archives made at test time by binutils `ar`, `llvm-ar` (BSD
//! variant), gcc and `dpkg-deb` (no committed blobs): static libraries recurse into their ELF
//! objects, `.deb` packages into `data.tar.xz`, and header fields, order, one-sided members,
//! duplicates, thin archives and corrupt inputs are reported.

use crate::{common, corrupt};

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;
use repro::compare::{Change, Comparison, Engine, Options, Registry, Status};

use common::{assert_field, compare, field, find, has_note, node, root, sh};

/// Two C files and one text file under `dir`, compiled to objects.
fn sources(dir: &Path) {
    sh(
        dir,
        "printf 'int f(void) { return 1; }\\n' > f.c
         printf 'int g(void) { return 2; }\\n' > g.c
         printf 'notes\\n' > notes.txt
         gcc -O1 -c f.c g.c",
    );
}

#[test]
fn static_library_recurses_into_objects_and_symbols() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    sources(p);
    sh(
        p,
        "ar rcsD liba.a f.o g.o notes.txt
         printf 'int f_renamed(void) { return 7; }\\n' > f.c && gcc -O1 -c f.c
         ar rcsD libb.a f.o g.o notes.txt",
    );
    let c = compare(&p.join("liba.a"), &p.join("libb.a"));
    let r = root(&c);
    assert_eq!(c.a.format.name(), "ar");
    assert_eq!(r.format.as_deref(), Some("ar"));
    let f = node(r, "f.o");
    assert_eq!(f.format.as_deref(), Some("elf"), "{f:#?}");
    assert!(find(r, "g.o").is_none(), "g.o is identical: {r:#?}");
    assert!(r.identical_members >= 2, "{r:#?}");
    // The GNU symbol table lists symbols with the member defining them.
    let symtab = node(r, "/");
    let strings = symtab.changes.iter().find_map(|c| match c {
        Change::Strings {
            field,
            removed,
            added,
            ..
        } if field == "symbols" => Some((removed, added)),
        _ => None,
    });
    let (removed, added) = strings.unwrap_or_else(|| panic!("{symtab:#?}"));
    assert_eq!(removed, &["f (f.o)".to_string()]);
    assert_eq!(added, &["f_renamed (f.o)".to_string()]);
}

#[test]
fn deterministic_and_real_headers_differ_in_mtime_uid_only() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    sources(p);
    sh(
        p,
        "touch -d @1700000000 f.o g.o notes.txt
         ar rcD det.a f.o g.o notes.txt
         ar rcU real.a f.o g.o notes.txt
         chown 1234:5678 notes.txt && chmod 0600 notes.txt
         ar rcU real2.a f.o g.o notes.txt",
    );
    let c = compare(&p.join("det.a"), &p.join("real.a"));
    let r = root(&c);
    for name in ["f.o", "g.o", "notes.txt"] {
        let n = node(r, name);
        assert_field(
            n,
            "mtime",
            "1970-01-01T00:00:00Z (0)",
            "2023-11-14T22:13:20Z (1700000000)",
        );
        assert!(n.children.is_empty(), "content is identical: {n:#?}");
    }
    // GNU ar writes a symbol table (`/`) by default, stamped with the time of writing.
    let symtab = field(node(r, "/"), "mtime").expect("the symbol table's mtime differs");
    assert_eq!(symtab.0.as_deref(), Some("1970-01-01T00:00:00Z (0)"));
    assert_eq!(r.children.len(), 4, "{r:#?}");

    let c = compare(&p.join("real.a"), &p.join("real2.a"));
    let n = node(root(&c), "notes.txt");
    let uid = field(n, "uid").expect("uid differs");
    assert_eq!(uid.1.as_deref(), Some("1234"));
    assert_field(n, "gid", uid.0.as_deref().unwrap_or_default(), "5678");
    let mode = field(n, "mode").expect("mode differs");
    assert_eq!(mode.1.as_deref(), Some("100600"));
    assert_eq!(field(n, "mtime"), None);
}

#[test]
fn member_order_and_one_sided_members() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    sources(p);
    sh(
        p,
        "ar rcD order1.a f.o g.o notes.txt
         ar rcD order2.a notes.txt f.o g.o
         printf 'extra\\n' > extra.txt
         ar rcD sides.a f.o extra.txt",
    );
    let c = compare(&p.join("order1.a"), &p.join("order2.a"));
    let r = root(&c);
    let order = r.changes.iter().find_map(|c| match c {
        Change::Order {
            field,
            first_difference,
            a,
            b,
        } => Some((field, *first_difference, a, b)),
        _ => None,
    });
    let (field_name, first, a, b) = order.unwrap_or_else(|| panic!("{r:#?}"));
    assert_eq!(field_name, "member order");
    // The symbol table comes first on both sides.
    assert_eq!(first, 1);
    assert_eq!(a[0], "f.o");
    assert_eq!(b[0], "notes.txt");

    let c = compare(&p.join("order1.a"), &p.join("sides.a"));
    let r = root(&c);
    let g = node(r, "g.o");
    assert_eq!(g.status, Status::Removed);
    assert!(matches!(&field(g, "size"), Some((Some(_), None))), "{g:#?}");
    let extra = node(r, "extra.txt");
    assert_eq!(extra.status, Status::Added);
    assert_eq!(field(extra, "size"), Some((None, Some("6".into()))));
    assert_eq!(node(r, "notes.txt").status, Status::Removed);
}

#[test]
fn duplicate_names_pair_by_occurrence_and_long_names_resolve() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    sh(
        p,
        "mkdir one two
         printf 'first\\n' > one/x.txt && printf 'second\\n' > two/x.txt
         ar qD a.a one/x.txt two/x.txt
         printf 'changed\\n' > two/x.txt
         ar qD b.a one/x.txt two/x.txt
         printf 'v1\\n' > a_member_name_longer_than_sixteen.txt
         ar rcD long1.a a_member_name_longer_than_sixteen.txt
         printf 'v2\\n' > a_member_name_longer_than_sixteen.txt
         ar rcD long2.a a_member_name_longer_than_sixteen.txt",
    );
    let c = compare(&p.join("a.a"), &p.join("b.a"));
    let r = root(&c);
    assert_eq!(r.children.len(), 1, "{r:#?}");
    let n = node(r, "x.txt (occurrence 2)");
    assert!(
        n.changes
            .iter()
            .any(|c| matches!(c, Change::Text { unified, .. } if unified.contains("+changed"))),
        "{n:#?}"
    );
    let c = compare(&p.join("long1.a"), &p.join("long2.a"));
    node(root(&c), "a_member_name_longer_than_sixteen.txt");
}

/// Builds a package from `dir/pkg` with `dpkg-deb` (xz-compressed members).
fn deb(dir: &Path, out: &str, content: &str) -> PathBuf {
    sh(
        dir,
        &format!(
            "rm -rf pkg && mkdir -p pkg/DEBIAN pkg/usr/share/doc/hello
             printf 'Package: hello\\nVersion: 1.0\\nArchitecture: all\\nMaintainer: A <a@example.org>\\nDescription: test\\n' > pkg/DEBIAN/control
             printf '{content}' > pkg/usr/share/doc/hello/README
             printf 'same\\n' > pkg/usr/share/doc/hello/other
             SOURCE_DATE_EPOCH=1700000000 dpkg-deb -Zxz --root-owner-group --build pkg {out} >/dev/null"
        ),
    );
    dir.join(out)
}

#[test]
fn debian_package_difference_reaches_the_changed_file() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let a = deb(p, "a.deb", "hello\\n");
    let b = deb(p, "b.deb", "hello, world\\n");
    let c = compare(&a, &b);
    let r = root(&c);
    assert_eq!(r.format.as_deref(), Some("ar"));
    let data = node(r, "data.tar.xz");
    assert_eq!(data.format.as_deref(), Some("xz"));
    let readme = node(data, "./usr/share/doc/hello/README");
    assert!(
        readme
            .changes
            .iter()
            .any(|c| matches!(c, Change::Text { unified, .. } if unified.contains("+hello, world"))),
        "{readme:#?}"
    );
    assert!(find(r, "./usr/share/doc/hello/other").is_none());
    assert!(find(r, "debian-binary").is_none());
    // Through the CLI: the JSON report names the format and matches the schema.
    let (code, out, err) = common::run(&["diff", "--json", "-", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    common::assert_valid("diff-report.v1.json", &v);
    assert_eq!(v["inputs"]["a"]["format"], "ar");
    let mut names = Vec::new();
    common::node_names(&v["root"], &mut names);
    assert!(
        names.iter().any(|n| n == "./usr/share/doc/hello/README"),
        "{names:?}"
    );
}

#[test]
fn thin_archives_compare_headers_and_say_so() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    sources(p);
    sh(
        p,
        "ar rcT thin1.a f.o notes.txt
         printf 'longer notes\\n' > notes.txt
         ar rcT thin2.a f.o notes.txt
         ar rc full.a f.o notes.txt",
    );
    let c = compare(&p.join("thin1.a"), &p.join("thin2.a"));
    let r = root(&c);
    assert!(has_note(r, "thin archive (a and b)"), "{r:#?}");
    assert_field(node(r, "notes.txt"), "size", "6", "13");
    assert!(find(r, "f.o").is_none());

    let c = compare(&p.join("thin2.a"), &p.join("full.a"));
    let r = root(&c);
    assert_field(r, "ar-format", "gnu+thin", "gnu");
    assert!(has_note(node(r, "f.o"), "a is a thin archive"), "{r:#?}");
}

#[test]
fn bsd_archives_from_llvm_ar() {
    assert!(
        std::process::Command::new("llvm-ar")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success()),
        "this test makes BSD archives with llvm-ar: apt-get install llvm (.ci/run does)"
    );
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    sh(
        p,
        "printf 'one\\n' > a_long_name_for_a_bsd_member.txt && printf 'x\\n' > s.txt
         llvm-ar rcD --format=bsd bsd1.a a_long_name_for_a_bsd_member.txt s.txt
         printf 'two\\n' > a_long_name_for_a_bsd_member.txt
         llvm-ar rcD --format=bsd bsd2.a a_long_name_for_a_bsd_member.txt s.txt
         llvm-ar rcD --format=gnu gnu.a a_long_name_for_a_bsd_member.txt s.txt",
    );
    let c = compare(&p.join("bsd1.a"), &p.join("bsd2.a"));
    let r = root(&c);
    let n = node(r, "a_long_name_for_a_bsd_member.txt");
    assert!(
        n.changes
            .iter()
            .any(|c| matches!(c, Change::Text { unified, .. } if unified.contains("+two"))),
        "{n:#?}"
    );
    assert_eq!(r.children.len(), 1, "{r:#?}");
    let c = compare(&p.join("bsd2.a"), &p.join("gnu.a"));
    let r = root(&c);
    assert_field(r, "ar-format", "bsd", "gnu");
    // Same members, same contents: only the name style differs.
    assert_eq!(r.changes.len(), 1, "{r:#?}");
    assert!(r.children.is_empty(), "{r:#?}");
    assert_eq!(r.identical_members, 2);
}

fn fallback_reason(c: &Comparison) -> String {
    corrupt::fallback_reason(c, "ar")
}

#[test]
fn truncated_corrupt_and_absurd_archives_fall_back_with_a_reason() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    sources(p);
    sh(p, "ar rcD good.a f.o notes.txt");
    let good = std::fs::read(p.join("good.a")).unwrap();
    let write = |name: &str, bytes: &[u8]| corrupt::write(p, name, bytes);
    let truncated = write("truncated.a", &good[..good.len() - 100]);
    let reason = fallback_reason(&compare(&p.join("good.a"), &truncated));
    assert!(reason.contains("truncated archive"), "{reason}");

    let mut bad_terminator = good.clone();
    bad_terminator[8 + 58] = b'X';
    let reason = fallback_reason(&compare(&p.join("good.a"), &write("term.a", &bad_terminator)));
    assert!(reason.contains("does not end with"), "{reason}");

    let mut absurd = good.clone();
    absurd[8 + 48..8 + 58].copy_from_slice(b"9999999999");
    let reason = fallback_reason(&compare(&p.join("good.a"), &write("absurd.a", &absurd)));
    assert!(reason.contains("claims 9999999999 bytes"), "{reason}");

    let mut bad_size = good.clone();
    bad_size[8 + 48..8 + 58].copy_from_slice(b"12abc     ");
    let reason = fallback_reason(&compare(&p.join("good.a"), &write("badsize.a", &bad_size)));
    assert!(reason.contains("size is invalid"), "{reason}");
}

#[test]
fn member_budget_falls_back() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    sources(p);
    sh(p, "ar rcD a.a f.o g.o notes.txt && ar rcD b.a g.o f.o notes.txt");
    let opts = Options {
        max_entries: 2,
        ..Options::default()
    };
    let c = Engine::new(opts, Registry::default())
        .unwrap()
        .compare_paths(&p.join("a.a"), &p.join("b.a"))
        .unwrap();
    let reason = fallback_reason(&c);
    assert!(reason.contains("more than 2 ar members"), "{reason}");
}

/// A real static library with a symbol table, long names and an odd-sized member.
fn sample() -> &'static [u8] {
    static SAMPLE: OnceLock<Vec<u8>> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        sources(d.path());
        sh(
            d.path(),
            "printf 'odd\\n' > a_member_name_longer_than_sixteen.txt
             ar rcsD lib.a f.o a_member_name_longer_than_sixteen.txt notes.txt g.o",
        );
        std::fs::read(d.path().join("lib.a")).unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Mutated headers, sizes and names never panic, and differing bytes are never identical.
    #[test]
    fn mutated_archives_never_panic(
        mutation in corrupt::mutation(),
        digits in proptest::collection::vec((0usize..4, any::<prop::sample::Index>(), b'0'..=b'9'), 0..4),
    ) {
        let original = sample();
        let m = mutation.apply(original, |m| {
            // Digits written into the size fields of the first headers reach the size checks.
            for (header, at, v) in &digits {
                let start = 8 + header * 60 + 48;
                if let Some(b) = m.get_mut(start + at.index(10)) {
                    *b = *v;
                }
            }
        });
        corrupt::identical_only_when_equal(original, &m)?;
    }
}

#[test]
fn excluded_members_are_left_out_and_listed() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    sources(p);
    sh(
        p,
        "ar rcD a.a f.o notes.txt
         printf 'other notes\\n' > notes.txt
         ar rcD b.a f.o notes.txt",
    );
    let opts = Options {
        exclude: vec!["notes.txt".into()],
        ..Options::default()
    };
    let c = Engine::new(opts, Registry::default())
        .unwrap()
        .compare_paths(&p.join("a.a"), &p.join("b.a"))
        .unwrap();
    assert_eq!(c.excluded.len(), 1, "{:?}", c.excluded);
    assert!(c.excluded[0].ends_with("▸ notes.txt"), "{:?}", c.excluded);
    // Only the excluded member differs: nothing structural is left, and the bytes still differ.
    let r = root(&c);
    assert!(find(r, "notes.txt").is_none(), "{r:#?}");
    assert!(has_note(r, "every member compared is identical"), "{r:#?}");
}
