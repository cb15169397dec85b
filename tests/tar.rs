//! Tar and compressed-stream comparison, on archives made at test time by GNU tar, gzip, xz,
//! zstd, bzip2, zip and python3's tarfile (no committed blobs).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use repro::compare::{Change, Comparison, Engine, Node, Options, Registry, Status};

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn sh(dir: &Path, script: &str) {
    run(Command::new("sh").arg("-ec").arg(script).current_dir(dir));
}

fn python(dir: &Path, script: &str) {
    run(Command::new("python3").arg("-c").arg(script).current_dir(dir));
}

fn compare_with(opts: Options, a: &Path, b: &Path) -> Comparison {
    Engine::new(opts, Registry::default())
        .expect("engine")
        .compare_paths(a, b)
        .expect("comparison")
}

fn compare(a: &Path, b: &Path) -> Comparison {
    compare_with(Options::default(), a, b)
}

fn root(c: &Comparison) -> &Node {
    c.root.as_ref().expect("the inputs should differ")
}

/// The first node (depth-first) with this name.
fn find<'a>(n: &'a Node, name: &str) -> Option<&'a Node> {
    if n.name == name {
        return Some(n);
    }
    n.children.iter().find_map(|c| find(c, name))
}

fn node<'a>(n: &'a Node, name: &str) -> &'a Node {
    find(n, name).unwrap_or_else(|| panic!("no node {name:?} in {n:#?}"))
}

/// The values of a field change on a node.
fn field(n: &Node, name: &str) -> Option<(Option<String>, Option<String>)> {
    n.changes.iter().find_map(|c| match c {
        Change::Field { field, a, b } if field == name => Some((a.clone(), b.clone())),
        _ => None,
    })
}

/// Asserts that `n` has a field change `name` from `a` to `b`.
#[track_caller]
fn assert_field(n: &Node, name: &str, a: &str, b: &str) {
    assert_eq!(
        field(n, name),
        Some((Some(a.to_string()), Some(b.to_string()))),
        "{n:#?}"
    );
}

fn fields(n: &Node) -> Vec<&str> {
    n.changes
        .iter()
        .filter_map(|c| match c {
            Change::Field { field, .. } => Some(field.as_str()),
            _ => None,
        })
        .collect()
}

fn has_text_diff(n: &Node, needle: &str) -> bool {
    n.changes
        .iter()
        .any(|c| matches!(c, Change::Text { unified, .. } if unified.contains(needle)))
}

fn fallback_reason(n: &Node) -> Option<String> {
    if let Some(f) = &n.fallback {
        return Some(f.reason.clone());
    }
    n.children.iter().find_map(fallback_reason)
}

/// A tree of small files under `dir/src`, the same on every call.
fn make_tree(dir: &Path) {
    sh(
        dir,
        "mkdir -p src/docs src/bin
         printf 'line 1\\nline 2\\nline 3\\n' > src/docs/readme.txt
         printf 'hello\\n' > src/hello.txt
         printf '#!/bin/sh\\necho hi\\n' > src/bin/run.sh
         chmod 0644 src/docs/readme.txt src/hello.txt
         chmod 0755 src/bin/run.sh
         ln -sf hello.txt src/link",
    );
}

/// A temporary directory with `make_tree`'s files, after `script` ran in it.
fn tree_and(script: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    make_tree(d.path());
    sh(d.path(), script);
    d
}

/// Compares two files of a directory.
fn pair(d: &tempfile::TempDir, a: &str, b: &str) -> Comparison {
    compare(&d.path().join(a), &d.path().join(b))
}

const TAR: &str = "tar --sort=name --owner=0 --group=0 --numeric-owner";

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

fn sha256_of(p: &Path) -> String {
    let out = Command::new("sha256sum").arg(p).output().unwrap();
    String::from_utf8_lossy(&out.stdout)[..64].to_string()
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

/// Writes `data` gzip-compressed with flate2 (for inputs the CLI cannot make quickly).
fn gzip_bytes(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

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
    assert!(fields(r).iter().all(|f| f.starts_with("gzip.")), "{r:#?}");

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

fn tar_gz_pair(d: &Path) -> (PathBuf, PathBuf) {
    make_tree(d);
    sh(
        d,
        &format!(
            "head -c 200000 /dev/urandom | base64 > src/big.txt
             {TAR} --mtime=@1 -czf a.tar.gz src
             {TAR} --mtime=@2 -czf b.tar.gz src"
        ),
    );
    (d.join("a.tar.gz"), d.join("b.tar.gz"))
}

#[test]
fn truncated_and_corrupt_gzip_give_a_clean_fallback() {
    let d = tempfile::tempdir().unwrap();
    let (a, b) = tar_gz_pair(d.path());
    let bytes = std::fs::read(&b).unwrap();
    let cut = d.path().join("cut.tar.gz");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let c = compare(&a, &cut);
    let reason = fallback_reason(root(&c)).unwrap_or_else(|| panic!("{:#?}", c.root));
    assert!(
        reason.contains("b: ") && reason.contains("could not be decoded"),
        "{reason}"
    );

    let mut bad = bytes.clone();
    for x in bad.iter_mut().skip(200).take(64) {
        *x ^= 0x55;
    }
    let corrupt = d.path().join("corrupt.tar.gz");
    std::fs::write(&corrupt, &bad).unwrap();
    let c = compare(&a, &corrupt);
    let r = root(&c);
    assert!(
        fallback_reason(r).unwrap().contains("could not be decoded"),
        "{r:#?}"
    );
    assert!(r.changes.iter().any(|c| matches!(c, Change::Bytes { .. })));
}

#[test]
fn gzip_bomb_stops_at_the_expansion_limit() {
    let d = tempfile::tempdir().unwrap();
    // 1280 members of 8 MiB of zeros: 10 GiB decompressed from ~10 MB, written as a stream.
    let member = gzip_bytes(&vec![0u8; 8 << 20]);
    for (name, tail) in [("a.gz", b"a".as_slice()), ("b.gz", b"b".as_slice())] {
        let mut f = std::io::BufWriter::new(std::fs::File::create(d.path().join(name)).unwrap());
        for _ in 0..1280 {
            f.write_all(&member).unwrap();
        }
        f.write_all(&gzip_bytes(tail)).unwrap();
        f.flush().unwrap();
    }
    let opts = Options {
        max_expanded_bytes: 16 << 20,
        ..Options::default()
    };
    let start = std::time::Instant::now();
    let c = compare_with(opts, &d.path().join("a.gz"), &d.path().join("b.gz"));
    assert!(start.elapsed().as_secs() < 20);
    let reason = fallback_reason(root(&c)).unwrap();
    assert!(reason.contains("expansion limit"), "{reason}");
}

#[test]
fn tar_expansion_and_entry_budgets() {
    let d = tempfile::tempdir().unwrap();
    let (a, b) = tar_gz_pair(d.path());
    sh(d.path(), "gzip -dc a.tar.gz > a.tar; gzip -dc b.tar.gz > b.tar");
    let opts = Options {
        max_expanded_bytes: 100_000,
        ..Options::default()
    };
    let c = compare_with(opts, &d.path().join("a.tar"), &d.path().join("b.tar"));
    let reason = fallback_reason(root(&c)).unwrap();
    assert!(reason.contains("expansion limit"), "{reason}");
    let opts = Options {
        max_entries: 3,
        ..Options::default()
    };
    let c = compare_with(opts, &a, &b);
    let reason = fallback_reason(root(&c)).unwrap();
    assert!(reason.contains("more than 3 tar members"), "{reason}");
    // Excluded members are left out and recorded.
    let opts = Options {
        exclude: vec!["src/docs/*".into()],
        ..Options::default()
    };
    let c = compare_with(opts, &a, &b);
    assert!(find(root(&c), "src/docs/readme.txt").is_none());
    assert!(
        c.excluded.iter().any(|e| e.ends_with("src/docs/readme.txt")),
        "{:?}",
        c.excluded
    );
}

#[test]
fn thousand_level_gzip_nesting_stops_at_max_depth() {
    let d = tempfile::tempdir().unwrap();
    for (name, text) in [("a.gz", b"hello\n".as_slice()), ("b.gz", b"world\n".as_slice())] {
        // Stored blocks: each level adds a few bytes (compressing compressed data would grow
        // it by a fraction per level).
        let mut data = text.to_vec();
        for _ in 0..1000 {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
            e.write_all(&data).unwrap();
            data = e.finish().unwrap();
        }
        assert!(data.len() < 100_000);
        std::fs::write(d.path().join(name), data).unwrap();
    }
    let c = pair(&d, "a.gz", "b.gz");
    let mut n = root(&c);
    let mut depth = 0;
    while let Some(child) = n.children.first() {
        n = child;
        depth += 1;
    }
    let f = n
        .fallback
        .as_ref()
        .unwrap_or_else(|| panic!("no fallback at depth {depth}"));
    assert!(f.reason.contains("nested deeper than 32"), "{f:?}");
    assert_eq!(depth, 33);
}

/// A one-member tar with a hand-made header whose size field is `size` (12 bytes).
fn tar_with_size(size: &[u8; 12], checksum_ok: bool) -> Vec<u8> {
    let mut h = [0u8; 512];
    h[..5].copy_from_slice(b"f.txt");
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(size);
    h[136..148].copy_from_slice(b"00000000000\0");
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum::<u32>() + u32::from(!checksum_ok);
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut out = h.to_vec();
    let mut data = [0u8; 512];
    data[..5].copy_from_slice(b"xxxxx");
    out.extend_from_slice(&data);
    out.extend_from_slice(&[0u8; 1024]);
    out
}

#[test]
fn absurd_sizes_and_bad_checksums_are_malformed() {
    let d = tempfile::tempdir().unwrap();
    let good = tar_with_size(b"00000000005\0", true);
    let cases: [(&str, Vec<u8>, &str); 3] = [
        ("huge", tar_with_size(b"77777777777\0", true), "truncated archive"),
        (
            "base256",
            tar_with_size(
                &[
                    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                ],
                true,
            ),
            "malformed tar",
        ),
        (
            "checksum",
            tar_with_size(b"00000000005\0", false),
            "checksum mismatch",
        ),
    ];
    std::fs::write(d.path().join("good.tar"), &good).unwrap();
    for (name, bytes, expect) in cases {
        let p = d.path().join(format!("{name}.tar"));
        std::fs::write(&p, &bytes).unwrap();
        let c = compare(&d.path().join("good.tar"), &p);
        let r = root(&c);
        let reason = fallback_reason(r).unwrap_or_else(|| panic!("{name}: {r:#?}"));
        assert!(reason.contains(expect), "{name}: {reason}");
        // Also inside gzip, where the stream is not seekable.
        let gz = d.path().join(format!("{name}.tar.gz"));
        std::fs::write(&gz, gzip_bytes(&bytes)).unwrap();
        let good_gz = d.path().join("good.tar.gz");
        std::fs::write(&good_gz, gzip_bytes(&good)).unwrap();
        let c = compare(&good_gz, &gz);
        assert!(fallback_reason(root(&c)).is_some(), "{name}");
    }
}

#[test]
fn huge_extension_header_is_refused_without_allocating() {
    // A GNU long-name member claiming 8 GiB, inside gzip so it costs little disk.
    let mut h = [0u8; 512];
    h[..13].copy_from_slice(b"././@LongLink");
    h[100..108].copy_from_slice(b"0000644\0");
    h[124..136].copy_from_slice(b"77777777777\0");
    h[156] = b'L';
    h[257..265].copy_from_slice(b"ustar  \0");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let d = tempfile::tempdir().unwrap();
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(&h).unwrap();
    // More than the 4 MiB allowed for extension headers, far less than the claimed size.
    e.write_all(&vec![b'a'; 6 << 20]).unwrap();
    std::fs::write(d.path().join("b.tar.gz"), e.finish().unwrap()).unwrap();
    std::fs::write(
        d.path().join("a.tar.gz"),
        gzip_bytes(&tar_with_size(b"00000000005\0", true)),
    )
    .unwrap();
    let c = pair(&d, "a.tar.gz", "b.tar.gz");
    let reason = fallback_reason(root(&c)).unwrap();
    assert!(reason.contains("extension header"), "{reason}");
}

mod arbitrary_bytes {
    use super::*;
    use proptest::prelude::*;

    fn seed_tar_gz() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in [("a.txt", b"hello\n".as_slice()), ("dir/b.bin", &[0u8, 1, 2, 3])] {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, data).unwrap();
        }
        gzip_bytes(&b.into_inner().unwrap())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

        #[test]
        fn mutated_archives_never_panic(
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<prop::sample::Index>(),
            plain in any::<bool>(),
        ) {
            let seed = seed_tar_gz();
            let seed = if plain {
                let mut out = Vec::new();
                std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&seed[..]), &mut out).unwrap();
                out
            } else {
                seed
            };
            let mut m = seed.clone();
            for (i, v) in flips {
                let i = i.index(m.len());
                m[i] ^= v;
            }
            m.truncate(cut.index(m.len() + 1).max(1));
            let d = tempfile::tempdir().unwrap();
            std::fs::write(d.path().join("a"), &seed).unwrap();
            std::fs::write(d.path().join("b"), &m).unwrap();
            let opts = Options { max_expanded_bytes: 1 << 20, ..Options::default() };
            let _ = compare_with(opts, &d.path().join("a"), &d.path().join("b"));
        }

        #[test]
        fn arbitrary_bytes_after_magic_never_panic(
            magic in prop::sample::select(vec![
                vec![0x1f, 0x8b, 8], vec![0xfd, b'7', b'z', b'X', b'Z', 0],
                vec![0x28, 0xb5, 0x2f, 0xfd], b"BZh9\x31\x41\x59\x26\x53\x59".to_vec(),
            ]),
            rest in proptest::collection::vec(any::<u8>(), 0..2048),
        ) {
            let d = tempfile::tempdir().unwrap();
            let mut b = magic.clone();
            b.extend_from_slice(&rest);
            let mut a = magic;
            a.push(0);
            std::fs::write(d.path().join("a"), &a).unwrap();
            std::fs::write(d.path().join("b"), &b).unwrap();
            let _ = pair(&d, "a", "b");
        }
    }
}

/// The benchmark pair: a tar.gz of 5,000 files (~50 MB) where every mtime differs, the order
/// within each directory is shuffled and one line of one file changed.
/// `cargo test --release --test tar -- --ignored --nocapture benchmark`
#[test]
#[ignore]
fn benchmark_5000_member_tar_gz() {
    let d = tempfile::tempdir().unwrap();
    python(
        d.path(),
        r#"
import tarfile, io, random
rnd = random.Random(7)
words = [''.join(rnd.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(rnd.randint(2, 9))) for _ in range(3000)]
pool = [' '.join(rnd.choice(words) for _ in range(12)) for _ in range(4000)]
files = {}
for d in range(50):
    for f in range(100):
        lines = [f'file {d} {f}'] + rnd.sample(pool, 130)
        files[f'pkg/dir{d:02}/file{f:03}.txt'] = ('\n'.join(lines) + '\n').encode()
changed = 'pkg/dir17/file042.txt'
def write(path, seed, base, change):
    r = random.Random(seed)
    with tarfile.open(path, 'w:gz', compresslevel=6, format=tarfile.GNU_FORMAT) as t:
        for d in range(50):
            names = [n for n in files if n.startswith(f'pkg/dir{d:02}/')]
            r.shuffle(names)
            for i, n in enumerate(names):
                data = files[n]
                if change and n == changed:
                    data = data.replace(b'\n', b' CHANGED\n', 2).replace(b' CHANGED\n', b'\n', 1)
                ti = tarfile.TarInfo(n); ti.size = len(data); ti.mtime = base + d * 100 + i
                t.addfile(ti, io.BytesIO(data))
write('a.tar.gz', 1, 1700000000, False)
write('b.tar.gz', 2, 1700500000, True)
"#,
    );
    let (a, b) = (d.path().join("a.tar.gz"), d.path().join("b.tar.gz"));
    let size = |p: &Path| std::fs::metadata(p).unwrap().len();
    let mut best = f64::MAX;
    let mut last = None;
    for _ in 0..5 {
        let t = std::time::Instant::now();
        let c = compare(&a, &b);
        best = best.min(t.elapsed().as_secs_f64());
        last = Some(c);
    }
    let c = last.unwrap();
    let r = root(&c);
    // python's tarfile stores the name in the gzip header.
    let tar = node(r, "a.tar");
    assert_eq!(tar.format.as_deref(), Some("tar"));
    let changed = node(tar, "pkg/dir17/file042.txt");
    assert!(has_text_diff(changed, "CHANGED"), "{changed:#?}");
    assert!(tar.changes.iter().any(|c| matches!(c, Change::Order { .. })));
    assert_eq!(tar.children.len(), 5000);
    println!(
        "benchmark: {} + {} bytes compressed, {} nodes, best of 5: {best:.3} s",
        size(&a),
        size(&b),
        r.count()
    );
}
