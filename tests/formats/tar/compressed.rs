//! Compressed streams: header fields, counts, and contents compared through the engine.

use super::*;

#[test]
fn text_in_tar_in_gzip_in_tar() {
    let d = tempfile::tempdir().unwrap();
    sh(
        d.path(),
        &format!(
            "mkdir -p a/in b/in outa outb
             printf 'one\\ntwo\\nthree\\n' > a/in/file.txt
             printf 'one\\n2\\nthree\\n' > b/in/file.txt
             for s in a b; do
               (cd $s && {TAR} --mtime=@0 -cf - in | gzip -n > ../out$s/inner.tar.gz)
               (cd out$s && printf 'same\\n' > other.txt && {TAR} --mtime=@0 -cf ../$s.tar inner.tar.gz other.txt)
             done"
        ),
    );
    let c = pair(&d, "a.tar", "b.tar");
    let r = root(&c);
    let gz = node(r, "inner.tar.gz");
    assert_eq!(gz.format.as_deref(), Some("gzip"));
    let inner = node(gz, "inner.tar");
    assert_eq!(inner.format.as_deref(), Some("tar"));
    let file = node(inner, "in/file.txt");
    assert!(has_text_diff(file, "-two\n+2"), "{file:#?}");
    assert_eq!(r.identical_members, 1);
}

#[test]
fn zip_member_of_tar_gz_is_reached() {
    let d = tempfile::tempdir().unwrap();
    sh(
        d.path(),
        &format!(
            "for s in a b; do
               mkdir -p $s/jar/META-INF $s/pkg
               printf 'Manifest-Version: 1.0\\nBuilt-By: %s\\n' $s > $s/jar/META-INF/MANIFEST.MF
               (cd $s/jar && TZ=UTC touch -t 202001010000 META-INF/MANIFEST.MF META-INF && zip -X -q ../pkg/app.jar META-INF/MANIFEST.MF)
               (cd $s && {TAR} --mtime=@0 -czf ../$s.tar.gz pkg)
             done"
        ),
    );
    let c = pair(&d, "a.tar.gz", "b.tar.gz");
    let r = root(&c);
    let jar = node(r, "pkg/app.jar");
    // With a zip comparator the jar has a child for the manifest; without, a byte diff.
    assert!(
        !jar.children.is_empty() || jar.changes.iter().any(|c| matches!(c, Change::Bytes { .. })),
        "{jar:#?}"
    );
}

#[test]
fn same_content_with_different_gzip_headers_reports_only_headers() {
    let d = tree_and(&format!(
        "{TAR} --mtime=@1700000000 -cf x.tar src
         cp x.tar y.tar
         touch -d @1600000000 x.tar
         gzip -n -c x.tar > a.tar.gz
         gzip -9 -c y.tar > b.tar.gz"
    ));
    let c = pair(&d, "a.tar.gz", "b.tar.gz");
    let r = root(&c);
    assert_eq!(r.format.as_deref(), Some("gzip"));
    assert!(r.children.is_empty(), "{r:#?}");
    assert_eq!(field(r, "gzip.mtime").unwrap().0.as_deref(), Some("0 (not set)"));
    assert_eq!(field(r, "gzip.name"), Some((None, Some("y.tar".into()))));
    assert_field(r, "gzip.flags", "none", "FNAME");
    assert_field(r, "gzip.xfl", "0", "2 (maximum compression)");
    assert!(r.field_names().iter().all(|f| f.starts_with("gzip.")), "{r:#?}");

    // Identical headers and content, different compression level: a note, no byte noise.
    sh(
        d.path(),
        "gzip -n -5 -c x.tar > c.tar.gz; gzip -n -6 -c x.tar > d.tar.gz",
    );
    let c = pair(&d, "c.tar.gz", "d.tar.gz");
    let r = root(&c);
    assert!(
        r.changes.iter().any(
            |c| matches!(c, Change::Note { text } if text.contains("decompressed contents are identical"))
        ),
        "{r:#?}"
    );
}

#[test]
fn inner_name_comes_from_the_gzip_header() {
    let d = tempfile::tempdir().unwrap();
    sh(
        d.path(),
        "printf 'a\\n' > orig.txt && gzip -c orig.txt > one.gz
         printf 'b\\n' > orig.txt && gzip -c orig.txt > two.gz
         gzip -n -c orig.txt > three.gz",
    );
    let c = pair(&d, "one.gz", "two.gz");
    assert!(has_text_diff(node(root(&c), "orig.txt"), "+b"));
    let c = pair(&d, "one.gz", "three.gz");
    // a's header name is used when only a has one.
    assert!(find(root(&c), "orig.txt").is_some());
}

#[test]
fn xz_zstd_and_bzip2_streams() {
    let d = tree_and(&format!(
        "{TAR} --mtime=@1700000000 -cf a.tar src
         printf 'hello, world\\n' > src/hello.txt
         {TAR} --mtime=@1700000000 -cf b.tar src
         xz -k -c a.tar > a.tar.xz; xz -k -c b.tar > b.tar.xz
         xz -0 -C crc32 -c a.tar > a0.tar.xz
         zstd -q -c a.tar > a.tar.zst; zstd -q -c b.tar > b.tar.zst
         zstd -q --no-check -c a.tar > an.tar.zst
         bzip2 -c a.tar > a.tar.bz2; bzip2 -c b.tar > b.tar.bz2
         bzip2 -1 -c a.tar > a1.tar.bz2"
    ));
    for (x, y, format) in [
        ("a.tar.xz", "b.tar.xz", "xz"),
        ("a.tar.zst", "b.tar.zst", "zstd"),
        ("a.tar.bz2", "b.tar.bz2", "bzip2"),
    ] {
        let c = compare(&d.path().join(x), &d.path().join(y));
        let r = root(&c);
        assert_eq!(r.format.as_deref(), Some(format));
        let tar = node(r, "a.tar vs b.tar");
        assert_eq!(tar.format.as_deref(), Some("tar"));
        assert!(
            has_text_diff(node(tar, "src/hello.txt"), "+hello, world"),
            "{r:#?}"
        );
    }
    let c = pair(&d, "a.tar.xz", "a0.tar.xz");
    let r = root(&c);
    assert_field(r, "xz.check", "CRC64", "CRC32");
    assert!(r.children.is_empty());
    let c = pair(&d, "a.tar.zst", "an.tar.zst");
    let r = root(&c);
    assert_field(r, "zstd.checksum", "yes", "no");
    let c = pair(&d, "a.tar.bz2", "a1.tar.bz2");
    let r = root(&c);
    assert_field(r, "bzip2.block-size", "900k (level 9)", "100k (level 1)");
}

#[test]
fn multi_member_gzip_and_multi_frame_zstd_are_counted() {
    let d = tempfile::tempdir().unwrap();
    sh(
        d.path(),
        "printf 'one\\n' > p1; printf 'two\\n' > p2; cat p1 p2 > whole
         gzip -n -c whole > a.gz; (gzip -n -c p1; gzip -n -c p2) > b.gz
         zstd -q -c whole > a.zst; (zstd -q -c p1; zstd -q -c p2) > b.zst
         xz -c whole > a.xz; (xz -c p1; xz -c p2) > b.xz
         xz --block-size=2 -c whole > c.xz",
    );
    let c = pair(&d, "a.gz", "b.gz");
    let r = root(&c);
    assert_field(r, "gzip.members", "1", "2");
    assert!(r.children.is_empty(), "same decompressed content: {r:#?}");
    let c = pair(&d, "a.zst", "b.zst");
    assert_field(root(&c), "zstd.frames", "1", "2");
    let c = pair(&d, "a.xz", "b.xz");
    assert_field(root(&c), "xz.streams", "1", "2");
    let c = pair(&d, "a.xz", "c.xz");
    assert_field(root(&c), "xz.blocks", "1", "4");
}

#[test]
fn trailing_data_after_the_last_gzip_member_is_counted() {
    let d = tempfile::tempdir().unwrap();
    sh(
        d.path(),
        "printf 'same\\n' > f; gzip -n -c f > a.gz
         (gzip -n -c f; head -c 512 /dev/zero) > b.gz
         printf 'other\\n' > f; (gzip -n -c f; head -c 512 /dev/zero) > c.gz",
    );
    let c = pair(&d, "a.gz", "b.gz");
    let r = root(&c);
    assert_eq!(field(r, "gzip.trailing-bytes"), Some((None, Some("512".into()))));
    assert!(r.children.is_empty(), "{r:#?}");
    // gzip -d ignores the padding, and so does the comparison of the contents.
    let c = pair(&d, "a.gz", "c.gz");
    assert!(has_text_diff(node(root(&c), "a vs c"), "+other"), "{:#?}", c.root);
}
