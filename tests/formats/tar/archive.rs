//! Tar members: metadata, order, contents, PAX records, formats.

use super::*;

#[test]
fn tar_metadata_differences_are_fields_of_each_member() {
    let d = tree_and(&format!(
        "{TAR} --format=gnu --mtime=@1700000000 -cf a.tar src
         chmod 0600 src/hello.txt
         tar --sort=name --owner=builder:1000 --group=0 --format=gnu --mtime=@1700000500 -cf b.tar src"
    ));
    let c = pair(&d, "a.tar", "b.tar");
    let r = root(&c);
    assert_eq!(r.format.as_deref(), Some("tar"));
    let hello = node(r, "src/hello.txt");
    assert_field(hello, "mode", "0644", "0600");
    assert_field(
        hello,
        "mtime",
        "2023-11-14T22:13:20Z (1700000000)",
        "2023-11-14T22:21:40Z (1700000500)",
    );
    assert_field(hello, "uid", "0", "1000");
    assert_field(hello, "uname", "", "builder");
    // Same contents: no content children, and no order change.
    assert!(hello.children.is_empty() && !hello.changes.iter().any(|c| matches!(c, Change::Text { .. })));
    assert!(!r.changes.iter().any(|c| matches!(c, Change::Order { .. })));
    // Every member differs in mtime, so none is identical.
    assert_eq!(r.identical_members, 0);
    // The tar node's digests are those of the two streams.
    let digest = |p: &str| sha256_of(&d.path().join(p));
    let s = r.sha256.as_ref().unwrap();
    assert_eq!((s.a.clone(), s.b.clone()), (digest("a.tar"), digest("b.tar")));
}

#[test]
fn member_order_changed_content_and_symlink_target() {
    let d = tree_and(&format!(
        "{TAR} --mtime=@1700000000 -cf a.tar src
         printf 'line 1\\nline two\\nline 3\\n' > src/docs/readme.txt
         ln -sf bin/run.sh src/link
         find src | sort -r > list
         tar --owner=0 --group=0 --numeric-owner --mtime=@1700000000 --no-recursion -T list -cf b.tar"
    ));
    let c = pair(&d, "a.tar", "b.tar");
    let r = root(&c);
    let Some(Change::Order {
        a,
        b,
        first_difference,
        ..
    }) = r.changes.iter().find(|c| matches!(c, Change::Order { .. }))
    else {
        panic!("no order change in {r:#?}")
    };
    assert_eq!(*first_difference, 0);
    assert_eq!(a.first().map(String::as_str), Some("src/"));
    assert_eq!(b.first().map(String::as_str), Some("src/link"));
    let readme = node(r, "src/docs/readme.txt");
    assert!(has_text_diff(readme, "-line 2\n+line two"), "{readme:#?}");
    let link = node(r, "src/link");
    assert_field(link, "symlink-target", "hello.txt", "bin/run.sh");
    // hello.txt, run.sh and the three directories are identical.
    assert!(find(r, "src/hello.txt").is_none());
    assert_eq!(r.identical_members, 5);
}

#[test]
fn added_removed_and_duplicate_members() {
    let d = tempfile::tempdir().unwrap();
    python(
        d.path(),
        r#"
import tarfile, io
def add(t, name, data, mtime=0):
    ti = tarfile.TarInfo(name); ti.size = len(data); ti.mtime = mtime
    t.addfile(ti, io.BytesIO(data))
with tarfile.open("a.tar", "w", format=tarfile.GNU_FORMAT) as t:
    add(t, "dup.txt", b"first\n"); add(t, "gone.txt", b"x\n"); add(t, "dup.txt", b"second\n")
    add(t, "../../etc/passwd", b"root:x:0:0\n"); add(t, "/abs/path", b"abs\n")
with tarfile.open("b.tar", "w", format=tarfile.GNU_FORMAT) as t:
    add(t, "dup.txt", b"first\n"); add(t, "dup.txt", b"SECOND\n"); add(t, "new.txt", b"y\n")
    add(t, "../../etc/passwd", b"root:x:0:1\n"); add(t, "/abs/path", b"abs\n", 5)
"#,
    );
    let c = pair(&d, "a.tar", "b.tar");
    let r = root(&c);
    assert_eq!(node(r, "gone.txt").status, Status::Removed);
    assert_eq!(node(r, "new.txt").status, Status::Added);
    let dup = node(r, "dup.txt (occurrence 2)");
    assert!(has_text_diff(dup, "+SECOND"), "{dup:#?}");
    assert!(
        find(r, "dup.txt").is_none(),
        "the first occurrences are identical"
    );
    // Hostile names are just names.
    assert!(has_text_diff(node(r, "../../etc/passwd"), "+root:x:0:1"));
    assert!(field(node(r, "/abs/path"), "mtime").is_some());
    assert!(!Path::new("/abs/path").exists());
}

#[test]
fn pax_records_and_formats_are_compared() {
    let d = tempfile::tempdir().unwrap();
    python(
        d.path(),
        r#"
import tarfile, io
for name, frac, xattr, comment in (("a.tar", 0.25, "1", "built on a"), ("b.tar", 0.75, "2", "built on b")):
    with tarfile.open(name, "w", format=tarfile.PAX_FORMAT, pax_headers={"comment": comment}) as t:
        ti = tarfile.TarInfo("f.txt"); data = b"same\n"; ti.size = len(data)
        ti.mtime = 1700000000 + frac
        ti.pax_headers = {"SCHILY.xattr.user.build": xattr}
        t.addfile(ti, io.BytesIO(data))
"#,
    );
    let c = pair(&d, "a.tar", "b.tar");
    let r = root(&c);
    let f = node(r, "f.txt");
    assert_field(f, "pax.mtime", "1700000000.25", "1700000000.75");
    assert_field(f, "pax.SCHILY.xattr.user.build", "1", "2");
    // The global header is a member whose records are fields (not a content diff).
    let g = r
        .children
        .iter()
        .find(|n| field(n, "pax.comment").is_some())
        .unwrap_or_else(|| panic!("no global header node in {r:#?}"));
    assert!(g.children.is_empty() && !g.changes.iter().any(|c| matches!(c, Change::Text { .. })));

    // The same members written as GNU and as ustar: only the header encoding differs.
    make_tree(d.path());
    sh(
        d.path(),
        &format!(
            "{TAR} --mtime=@1700000000 --format=gnu -cf gnu.tar src
             {TAR} --mtime=@1700000000 --format=ustar -cf ustar.tar src"
        ),
    );
    let c = pair(&d, "gnu.tar", "ustar.tar");
    let r = root(&c);
    assert_field(r, "tar-format", "gnu", "ustar");
    assert!(r.children.is_empty(), "{r:#?}");
}

#[test]
fn gnu_pax_format_records_atime_and_global_headers() {
    let d = tree_and(&format!(
        "{TAR} --format=pax --mtime=@1700000000 --pax-option=comment=one -cf a.tar src
         touch -a -d @1600000000 src/hello.txt
         {TAR} --format=pax --mtime=@1700000000 --pax-option=comment=two -cf b.tar src"
    ));
    let c = pair(&d, "a.tar", "b.tar");
    let r = root(&c);
    let g = node(r, "(PAX global header)");
    assert_field(g, "pax.comment", "one", "two");
    // GNU tar records each file's access time, which differs between the two runs.
    let hello = node(r, "src/hello.txt");
    assert!(field(hello, "pax.atime").is_some(), "{hello:#?}");
}

#[test]
fn changed_members_are_read_in_batches_and_large_ones_by_digest() {
    let d = tempfile::tempdir().unwrap();
    python(
        d.path(),
        r#"
import tarfile, io
for name, tag in (("a.tar", b"a"), ("b.tar", b"b")):
    with tarfile.open(name, "w", format=tarfile.GNU_FORMAT) as t:
        for i, size in enumerate((2000, 2000, 2000, 9000)):
            data = (b"x" * 99 + b"\n") * (size // 100 - 1) + tag * 99 + b"\n"
            ti = tarfile.TarInfo(f"m{i}.txt"); ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
"#,
    );
    let opts = Options {
        max_member_bytes: 5000,
        ..Options::default()
    };
    let c = compare_with(opts, &d.path().join("a.tar"), &d.path().join("b.tar"));
    let r = root(&c);
    for m in ["m0.txt", "m1.txt", "m2.txt"] {
        assert!(has_text_diff(node(r, m), "+bbbb"), "{m}: {r:#?}");
    }
    let big = node(r, "m3.txt");
    assert!(
        big.changes
            .iter()
            .any(|c| matches!(c, Change::Note { text } if text.contains("by digest only"))),
        "{big:#?}"
    );
    let s = big.sha256.as_ref().unwrap();
    assert_ne!(s.a, s.b);
}
